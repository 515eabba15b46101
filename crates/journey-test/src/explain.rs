//! `journey explain`: one contact's timeline — every record and timer, every condition tested
//! (with the source text, the result and the attribute values it read), every action — the
//! answer to "why did this contact get that email?".

use journey_bytecode::{EntryKind, GoalKind, Program, StepOp};
use journey_vm::{ContactInput, ContactState, RecordKind, Trace, Vm, output};
use serde_json::json;
use std::collections::HashMap;

/// One line of the explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub at: i64,
    /// `record`, `timer`, `condition` or `action`.
    pub kind: &'static str,
    pub journey: Option<String>,
    pub text: String,
}

impl Line {
    pub fn to_json(&self) -> String {
        json!({ "at": journey_vm::value::format_instant(self.at), "kind": self.kind, "journey": self.journey, "text": self.text }).to_string()
    }

    pub fn to_text(&self) -> String {
        self.to_text_padded(0)
    }

    /// The line with its instant padded to `width` characters, so that the columns after it
    /// line up with lines whose instants carry milliseconds (the timeline's `to_text`).
    fn to_text_padded(&self, width: usize) -> String {
        let indent = if self.kind == "record" || self.kind == "timer" { "" } else { "  " };
        format!(
            "{:<width$}  {indent}{:<9} {}{}",
            journey_vm::value::format_instant(self.at),
            self.kind,
            self.journey.as_ref().map(|j| format!("{j}: ")).unwrap_or_default(),
            self.text
        )
    }
}

/// The timeline as text, one line each (newline-terminated), the instants padded to the widest
/// so the kinds and texts stay in columns when some instants have milliseconds and others not.
pub fn to_text(lines: &[Line]) -> String {
    let width = lines.iter().map(|l| journey_vm::value::format_instant(l.at).len()).max().unwrap_or(0);
    lines.iter().map(|l| l.to_text_padded(width) + "\n").collect()
}

/// What each top-level expression is for, by its start.
fn roles(program: &Program) -> HashMap<u32, String> {
    let mut roles = HashMap::new();
    for j in &program.journeys {
        for e in &j.entries {
            match &e.kind {
                EntryKind::When(x) => drop(roles.insert(*x, "entry when".to_string())),
                EntryKind::At(x) => drop(roles.insert(*x, "entry at".to_string())),
                EntryKind::Yearly { date, .. } => drop(roles.insert(*date, "anniversary date".to_string())),
                _ => {}
            }
            if let Some(f) = e.filter {
                roles.insert(f, "entry where".into());
            }
        }
        for x in &j.exits {
            if let Some(f) = x.filter {
                roles.insert(f, "exit on … where".into());
            }
        }
        for g in &j.goals {
            match &g.kind {
                GoalKind::On { filter: Some(f), .. } => drop(roles.insert(*f, format!("goal {}", g.name))),
                GoalKind::When(c) => drop(roles.insert(*c, format!("goal {}", g.name))),
                _ => {}
            }
        }
        for op in &j.code {
            let id = op.step().and_then(|s| j.step_ids.get(s as usize)).cloned().unwrap_or_default();
            match op {
                StepOp::Branch { condition, .. } => drop(roles.insert(*condition, format!("if [{id}]"))),
                StepOp::WaitCondition { condition, .. } => drop(roles.insert(*condition, format!("wait until [{id}]"))),
                StepOp::WaitEvent { filter: Some(f), .. } => drop(roles.insert(*f, format!("wait for … where [{id}]"))),
                _ => {}
            }
        }
    }
    for p in &program.predicates {
        if let Some(f) = p.filter {
            roles.insert(f, format!("behaviour filter on {}", program.events.get(p.event as usize).map(|e| e.name.as_str()).unwrap_or("?")));
        }
    }
    roles
}

fn describe_record(program: &Program, input: &ContactInput, index: usize) -> String {
    let Some(record) = input.records.get(index) else { return String::new() };
    let strings = journey_vm::value::Strings::new(program, &input.heap);
    // As a template shows it, except that a list keeps its brackets (an empty one shows).
    let value = |v: journey_vm::Value| {
        let mut s = String::new();
        strings.render(v, &mut s);
        if matches!(v, journey_vm::Value::List(_)) { format!("[{s}]") } else { s }
    };
    match &record.kind {
        RecordKind::Identify(traits) => {
            let parts: Vec<String> = input
                .traits(*traits)
                .iter()
                .map(|(a, v)| format!("{}={}", program.attributes.get(*a as usize).map(|x| x.name.as_str()).unwrap_or("?"), value(*v)))
                .collect();
            format!("identify {}", parts.join(", "))
        }
        RecordKind::Track { event, fields } => {
            let decl = program.events.get(*event as usize);
            let parts: Vec<String> = decl
                .map(|d| d.fields.iter().zip(input.fields(*fields)).map(|(f, v)| format!("{}={}", f.name, value(*v))).collect())
                .unwrap_or_default();
            format!("track {} {{{}}}", decl.map(|d| d.name.as_str()).unwrap_or("?"), parts.join(", "))
        }
        RecordKind::Exit { journey } => format!("exit {}", program.journeys.get(*journey as usize).map(|j| j.name.as_str()).unwrap_or("?")),
    }
}

/// Runs one contact with tracing and explains it. `journey` keeps only that journey's lines
/// (records stay).
pub fn explain(program: &Program, contact: &str, input: ContactInput, until: i64, journey: Option<&str>) -> Vec<Line> {
    let described: Vec<String> = (0..input.records.len()).map(|i| describe_record(program, &input, i)).collect();
    let mut vm = Vm::new(program);
    vm.trace = Some(Vec::new());
    let mut state = ContactState::new(program);
    let mut actions = journey_vm::Actions::new();
    vm.run(contact, &mut state, &input, until, &mut actions);
    let roles = roles(program);
    let text_of = |expr: u32| program.expr_text.iter().find(|(s, _)| *s == expr).map(|(_, t)| t.clone()).unwrap_or_else(|| format!("@{expr}"));
    let name = |j: u32| program.journeys.get(j as usize).map(|x| x.name.clone());
    let mut lines = Vec::new();
    for event in vm.trace.take().unwrap_or_default() {
        let line = match event {
            Trace::Record { at, index } => Line { at, kind: "record", journey: None, text: described.get(index).cloned().unwrap_or_default() },
            Trace::Timer { at, journey, what } => Line {
                at,
                kind: "timer",
                journey: name(journey),
                text: match what {
                    "limit" => "limit reached".to_string(),
                    "schedule" => "scheduled entry is due".to_string(),
                    "timeout" => "the wait's window closed: timeout".to_string(),
                    "quiet" => "quiet hours are over: the held send goes out".to_string(),
                    _ => "wait is over".to_string(),
                },
            },
            Trace::Held { at, journey, message, until } => Line {
                at,
                kind: "held",
                journey: name(journey),
                text: format!(
                    "send {}: quiet hours, held until {}",
                    program.messages.get(message as usize).map_or("?", |m| m.name.as_str()),
                    journey_vm::value::format_instant(until)
                ),
            },
            Trace::Condition { at, journey, expr, result, reads } => {
                let role = roles.get(&expr).cloned().unwrap_or_else(|| "condition".into());
                let result = match result {
                    Ok(b) => b.to_string(),
                    Err(e) => format!("cannot be evaluated ({e})"),
                };
                let reads: Vec<String> = reads
                    .iter()
                    .map(|(a, v)| format!("contact.{} = {v}", program.attributes.get(*a as usize).map(|x| x.name.as_str()).unwrap_or("?")))
                    .collect();
                Line {
                    at,
                    kind: "condition",
                    journey: journey.and_then(name),
                    text: format!(
                        "{role}: {} → {result}{}",
                        text_of(expr),
                        if reads.is_empty() { String::new() } else { format!("  ({})", reads.join(", ")) }
                    ),
                }
            }
            Trace::Action(i) => {
                let Some(a) = actions.get(i) else { continue };
                let json = output::action_json(program, contact, &actions.rendered, a);
                let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
                let mut text = crate::timeline_line(program, &actions.rendered, a);
                // Drop the instant and journey the line already shows.
                if let Some(rest) = text.splitn(3, "  ").nth(2) {
                    text = rest.to_string();
                }
                if let Some(fields) = v.get("fields").and_then(|f| f.as_object()) {
                    let shown: Vec<String> = fields.iter().map(|(k, x)| format!("{k}: {}", x.as_str().unwrap_or(""))).collect();
                    text.push_str(&format!("  {{{}}}", shown.join("; ")));
                }
                Line { at: a.at, kind: "action", journey: name(a.journey), text }
            }
        };
        if journey.is_some_and(|wanted| line.journey.as_deref().is_some_and(|j| j != wanted)) {
            continue;
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_with_and_without_milliseconds_keep_the_columns() {
        let line = |at: i64, kind: &'static str, text: &str| Line { at, kind, journey: None, text: text.to_string() };
        // 2026-01-20T16:35:28Z and the same instant plus 484 ms.
        let at = 1_768_926_928_000;
        let text = to_text(&[line(at, "record", "track a {}"), line(at + 484, "timer", "wait is over")]);
        assert_eq!(text, "2026-01-20T16:35:28Z      record    track a {}\n2026-01-20T16:35:28.484Z  timer     wait is over\n");
    }
}
