//! The content inventory (`journey inventory`): every message with its channel and where it is
//! sent, the messages sent but never declared (content gaps) and those declared but never sent.

use crate::Checked;
use crate::ir::{Step, StepKind};
use journey_diagnostics::SourceMap;
use serde_json::json;

/// Visits every step of a body, nested blocks included, in pre-order.
pub fn walk_steps(steps: &[Step], f: &mut dyn FnMut(&Step)) {
    for step in steps {
        f(step);
        match &step.kind {
            StepKind::WaitEvent { on_event, on_timeout, .. } => {
                walk_steps(on_event, f);
                walk_steps(on_timeout, f);
            }
            StepKind::WaitCondition { on_met, on_timeout, .. } => {
                walk_steps(on_met, f);
                walk_steps(on_timeout, f);
            }
            StepKind::If { branches, otherwise } => {
                for (_, b) in branches {
                    walk_steps(b, f);
                }
                walk_steps(otherwise, f);
            }
            StepKind::Match { arms, .. } => arms.iter().for_each(|(_, b)| walk_steps(b, f)),
            StepKind::Split { arms } | StepKind::Experiment { arms, .. } => arms.iter().for_each(|a| walk_steps(&a.body, f)),
            _ => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InventoryEntry {
    pub message: String,
    pub channel: String,
    pub transactional: bool,
    /// `journey/step` for every send.
    pub sent_by: Vec<String>,
    pub declared_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub messages: Vec<InventoryEntry>,
    /// Sends of messages that are not declared: (message, `journey/step`, `file:line`).
    pub missing: Vec<(String, String, String)>,
    pub unused: Vec<String>,
}

pub fn inventory(checked: &Checked, sources: &SourceMap) -> Inventory {
    let location = |span: journey_diagnostics::Span| {
        let p = journey_diagnostics::Position::of(sources, span.file, span.start as usize);
        format!("{}:{}", sources.get(span.file).map(|f| f.name.as_str()).unwrap_or("?"), p.line)
    };
    let mut messages = Vec::new();
    let mut unused = Vec::new();
    for m in &checked.program.messages {
        let sent_by: Vec<String> =
            checked.sends.iter().filter(|s| s.declared && s.message == m.name).map(|s| format!("{}/{}", s.journey, s.step)).collect();
        if sent_by.is_empty() {
            unused.push(m.name.to_string());
        }
        messages.push(InventoryEntry {
            message: m.name.to_string(),
            channel: m.channel.as_str().to_string(),
            transactional: m.transactional,
            sent_by,
            declared_at: location(m.span),
        });
    }
    let missing = checked
        .sends
        .iter()
        .filter(|s| !s.declared)
        .map(|s| (s.message.to_string(), format!("{}/{}", s.journey, s.step), location(s.span)))
        .collect();
    Inventory { messages, missing, unused }
}

impl Inventory {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let width = self.messages.iter().map(|m| m.message.len()).max().unwrap_or(7).max(7);
        out.push_str(&format!("{:<width$}  {:<7}  {}\n", "message", "channel", "sent by"));
        for m in &self.messages {
            let channel = if m.transactional { format!("{}*", m.channel) } else { m.channel.clone() };
            let sent = if m.sent_by.is_empty() { "(never sent)".to_string() } else { m.sent_by.join(", ") };
            out.push_str(&format!("{:<width$}  {:<7}  {}\n", m.message, channel, sent));
        }
        let count = self.messages.len();
        out.push_str(&format!(
            "\n{count} message{} ({} transactional, marked *)",
            if count == 1 { "" } else { "s" },
            self.messages.iter().filter(|m| m.transactional).count()
        ));
        out.push('\n');
        if self.missing.is_empty() {
            out.push_str("content gaps: none\n");
        } else {
            out.push_str(&format!("content gaps: {} sends of undeclared messages\n", self.missing.len()));
            for (message, site, at) in &self.missing {
                out.push_str(&format!("  {message}  sent by {site}  ({at})\n"));
            }
        }
        if self.unused.is_empty() {
            out.push_str("unused messages: none\n");
        } else {
            out.push_str(&format!("unused messages: {}\n", self.unused.join(", ")));
        }
        out
    }

    pub fn to_json(&self) -> String {
        let value = json!({
            "messages": self.messages.iter().map(|m| json!({
                "message": m.message, "channel": m.channel, "transactional": m.transactional,
                "sent_by": m.sent_by, "declared_at": m.declared_at,
            })).collect::<Vec<_>>(),
            "missing": self.missing.iter().map(|(m, site, at)| json!({"message": m, "sent_by": site, "at": at})).collect::<Vec<_>>(),
            "unused": self.unused,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}
