//! Actions as JSON lines, exactly in the shape RUNTIME.md §4 pins:
//! `{"at":…,"contact":…,"journey":…,"step":…,"action":…, …}`.

use crate::engine::{Action, ActionKind, Reason, Trigger};
use crate::value::{json_string, push_json_string, write_instant};
use journey_bytecode::Program;

/// The `reason` of an exit action.
pub fn reason_text(program: &Program, journey: u32, reason: &Reason) -> String {
    let j = program.journeys.get(journey as usize);
    match reason {
        Reason::Goal(g) => format!("goal:{}", j.and_then(|j| j.goals.get(*g as usize)).map(|g| g.name.as_str()).unwrap_or("?")),
        Reason::ExitOn(e) => format!("exit_on:{}", program.events.get(*e as usize).map(|e| e.name.as_str()).unwrap_or("?")),
        Reason::Limit => "limit".into(),
        Reason::Manual => "manual".into(),
        Reason::Completed => "completed".into(),
        Reason::Error => "error".into(),
        Reason::Migrated => "migrated:removed_step".into(),
        Reason::Exit(r) => r.clone(),
    }
}

pub fn trigger_text(program: &Program, trigger: &Trigger) -> String {
    match trigger {
        Trigger::Event(e) => program.events.get(*e as usize).map(|e| e.name.clone()).unwrap_or_default(),
        Trigger::When => "when".into(),
        Trigger::At => "at".into(),
        Trigger::Every => "every".into(),
        Trigger::Enroll(j) => format!("enroll:{}", program.journeys.get(*j as usize).map(|j| j.name.as_str()).unwrap_or("?")),
    }
}

/// The `action` word of an action.
pub fn action_word(kind: &ActionKind) -> &'static str {
    match kind {
        ActionKind::Enter { .. } => "enter",
        ActionKind::Send { .. } => "send",
        ActionKind::HeldOut(_) => "held_out",
        ActionKind::Suppressed { .. } => "suppressed",
        ActionKind::Assign { .. } => "assign",
        ActionKind::Set { .. } => "set",
        ActionKind::Sync { .. } => "sync",
        ActionKind::Webhook { .. } => "webhook",
        ActionKind::Error { .. } => "error",
        ActionKind::Exit { .. } => "exit",
    }
}

fn body(program: &Program, kind: &ActionKind, out: &mut String) {
    match kind {
        ActionKind::Send { message, fields } => {
            let m = program.messages.get(*message as usize);
            out.push_str(&format!(
                ",\"channel\":\"{}\",\"message\":{},\"fields\":{{",
                m.map(|m| m.channel.as_str()).unwrap_or(""),
                json_string(m.map(|m| m.name.as_str()).unwrap_or(""))
            ));
            for (i, value) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let name = m.and_then(|m| m.field_names.get(i)).map(String::as_str).unwrap_or("");
                out.push_str(&format!("{}:{}", json_string(name), json_string(value)));
            }
            out.push('}');
        }
        ActionKind::Suppressed { message } => {
            let m = program.messages.get(*message as usize);
            let channel = m.map(|m| m.channel.as_str()).unwrap_or("");
            out.push_str(&format!(
                ",\"channel\":\"{channel}\",\"message\":{},\"reason\":\"cap:{channel}\"",
                json_string(m.map(|m| m.name.as_str()).unwrap_or(""))
            ));
        }
        ActionKind::Assign { experiment: Some(e), arm } => out.push_str(&format!(",\"experiment\":{},\"arm\":{}", json_string(e), json_string(arm))),
        // A split is named by its step id.
        ActionKind::Assign { experiment: None, .. } => {}
        ActionKind::Set { attribute, value_json } => out.push_str(&format!(
            ",\"attribute\":{},\"value\":{value_json}",
            json_string(program.attributes.get(*attribute as usize).map(|a| a.name.as_str()).unwrap_or(""))
        )),
        ActionKind::Sync { audience, add } => out.push_str(&format!(
            ",\"audience\":{},\"op\":\"{}\"",
            json_string(program.audiences.get(*audience as usize).map(String::as_str).unwrap_or("")),
            if *add { "add" } else { "remove" }
        )),
        ActionKind::Webhook { webhook } => {
            out.push_str(&format!(",\"webhook\":{}", json_string(program.webhooks.get(*webhook as usize).map(String::as_str).unwrap_or(""))))
        }
        ActionKind::Error { reason } => out.push_str(&format!(",\"reason\":{}", json_string(reason))),
        ActionKind::Enter { .. } | ActionKind::Exit { .. } | ActionKind::HeldOut(_) => {}
    }
}

/// One action as a JSON object (no trailing newline).
pub fn action_json(program: &Program, contact: &str, action: &Action) -> String {
    let mut out = String::with_capacity(160);
    write_action_json(program, contact, action, &mut out);
    out
}

/// Appends one action as a JSON object (no trailing newline) to `out`.
pub fn write_action_json(program: &Program, contact: &str, action: &Action, out: &mut String) {
    let journey = program.journeys.get(action.journey as usize);
    out.push_str("{\"at\":\"");
    write_instant(action.at, out);
    out.push_str("\",\"contact\":");
    push_json_string(contact, out);
    out.push_str(",\"journey\":");
    push_json_string(journey.map(|j| j.name.as_str()).unwrap_or(""), out);
    let shows_step = !matches!(action.kind, ActionKind::Enter { .. } | ActionKind::Exit { .. });
    if let (true, Some(step)) = (shows_step, action.step) {
        let id = journey.and_then(|j| j.step_ids.get(step as usize)).map(String::as_str).unwrap_or("");
        out.push_str(",\"step\":");
        push_json_string(id, out);
    }
    out.push_str(",\"action\":\"");
    out.push_str(action_word(&action.kind));
    out.push('"');
    match &action.kind {
        ActionKind::Enter { trigger, holdout } => {
            out.push_str(",\"trigger\":");
            push_json_string(&trigger_text(program, trigger), out);
            if *holdout {
                out.push_str(",\"holdout\":true");
            }
        }
        ActionKind::Exit { reason } => {
            out.push_str(",\"reason\":");
            push_json_string(&reason_text(program, action.journey, reason), out);
        }
        ActionKind::Assign { experiment: None, arm } => {
            let id = action.step.and_then(|s| journey.and_then(|j| j.step_ids.get(s as usize))).map(String::as_str).unwrap_or("");
            out.push_str(",\"split\":");
            push_json_string(id, out);
            out.push_str(",\"arm\":");
            push_json_string(arm, out);
        }
        ActionKind::HeldOut(inner) => {
            out.push_str(",\"of\":\"");
            out.push_str(action_word(inner));
            out.push('"');
            body(program, inner, out);
        }
        other => body(program, other, out),
    }
    out.push('}');
}
