//! Actions as JSON lines, exactly in the shape RUNTIME.md §4 pins:
//! `{"at":…,"contact":…,"journey":…,"step":…,"action":…, …}`.

use crate::engine::{Action, ActionKind, Reason, Trigger};
use crate::value::{push_json_escaped, push_json_string, write_instant};
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

/// Appends `,"key":` to `out`.
fn key(name: &str, out: &mut String) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
}

fn body(program: &Program, kind: &ActionKind, out: &mut String) {
    // Written piece by piece, without `format!`: this runs for every action of a batch run.
    match kind {
        ActionKind::Send { message, fields } => {
            let m = program.messages.get(*message as usize);
            key("channel", out);
            push_json_string(m.map(|m| m.channel.as_str()).unwrap_or(""), out);
            key("message", out);
            push_json_string(m.map(|m| m.name.as_str()).unwrap_or(""), out);
            out.push_str(",\"fields\":{");
            for (i, value) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(m.and_then(|m| m.field_names.get(i)).map(String::as_str).unwrap_or(""), out);
                out.push(':');
                push_json_string(value, out);
            }
            out.push('}');
        }
        ActionKind::Suppressed { message } => {
            let m = program.messages.get(*message as usize);
            let channel = m.map(|m| m.channel.as_str()).unwrap_or("");
            key("channel", out);
            push_json_string(channel, out);
            key("message", out);
            push_json_string(m.map(|m| m.name.as_str()).unwrap_or(""), out);
            key("reason", out);
            push_json_parts(&["cap:", channel], out);
        }
        ActionKind::Assign { experiment: Some(e), arm } => {
            key("experiment", out);
            push_json_string(e, out);
            key("arm", out);
            push_json_string(arm, out);
        }
        // A split is named by its step id.
        ActionKind::Assign { experiment: None, .. } => {}
        ActionKind::Set { attribute, value_json } => {
            key("attribute", out);
            push_json_string(program.attributes.get(*attribute as usize).map(|a| a.name.as_str()).unwrap_or(""), out);
            key("value", out);
            out.push_str(value_json);
        }
        ActionKind::Sync { audience, add } => {
            key("audience", out);
            push_json_string(program.audiences.get(*audience as usize).map(String::as_str).unwrap_or(""), out);
            out.push_str(if *add { ",\"op\":\"add\"" } else { ",\"op\":\"remove\"" });
        }
        ActionKind::Webhook { webhook } => {
            key("webhook", out);
            push_json_string(program.webhooks.get(*webhook as usize).map(String::as_str).unwrap_or(""), out);
        }
        ActionKind::Error { reason } => {
            key("reason", out);
            push_json_string(reason, out);
        }
        ActionKind::Enter { .. } | ActionKind::Exit { .. } | ActionKind::HeldOut(_) => {}
    }
}

/// Appends the concatenation of `parts` as one JSON string literal.
fn push_json_parts(parts: &[&str], out: &mut String) {
    out.push('"');
    parts.iter().for_each(|p| push_json_escaped(p, out));
    out.push('"');
}

/// Appends the `trigger` of an enter action as a JSON string.
fn push_trigger(program: &Program, trigger: &Trigger, out: &mut String) {
    match trigger {
        Trigger::Event(e) => push_json_string(program.events.get(*e as usize).map(|e| e.name.as_str()).unwrap_or(""), out),
        Trigger::When => out.push_str("\"when\""),
        Trigger::At => out.push_str("\"at\""),
        Trigger::Every => out.push_str("\"every\""),
        Trigger::Enroll(_) => push_json_string(&trigger_text(program, trigger), out),
    }
}

/// Appends the `reason` of an exit action as a JSON string.
fn push_reason(program: &Program, journey: u32, reason: &Reason, out: &mut String) {
    let j = program.journeys.get(journey as usize);
    match reason {
        Reason::Goal(g) => push_json_parts(&["goal:", j.and_then(|j| j.goals.get(*g as usize)).map(|g| g.name.as_str()).unwrap_or("?")], out),
        Reason::ExitOn(e) => push_json_parts(&["exit_on:", program.events.get(*e as usize).map(|e| e.name.as_str()).unwrap_or("?")], out),
        Reason::Exit(r) => push_json_string(r, out),
        other => push_json_string(&reason_text(program, journey, other), out),
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
            push_trigger(program, trigger, out);
            if *holdout {
                out.push_str(",\"holdout\":true");
            }
        }
        ActionKind::Exit { reason } => {
            out.push_str(",\"reason\":");
            push_reason(program, action.journey, reason, out);
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
