//! Actions as JSON lines, exactly in the shape RUNTIME.md §4 pins:
//! `{"at":…,"contact":…,"journey":…,"step":…,"action":…, …}`.

use crate::engine::{Action, ActionKind, Reason, Rendered, Trigger};
use crate::value::{json_string, push_json_escaped, push_json_string, write_instant};
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
        Reason::ExitStep(pc) => exit_step_reason(program, journey, *pc).to_string(),
        Reason::Migration(m) => migration_reason(program, journey, *m).to_string(),
    }
}

/// The reason a migration to `exit "reason"` gives: migration `m` of `journey` (`""` out of
/// range).
fn migration_reason(program: &Program, journey: u32, m: u32) -> &str {
    program.journeys.get(journey as usize).and_then(|j| j.migrate.get(m as usize)).map_or("", |m| m.exit_reason.as_str())
}

/// The reason an `exit` step gives: the operation at `pc` of `journey` (`""` out of range).
fn exit_step_reason(program: &Program, journey: u32, pc: u32) -> &str {
    match program.journeys.get(journey as usize).and_then(|j| j.code.get(pc as usize)) {
        Some(journey_bytecode::StepOp::Exit { reason, .. }) => reason,
        _ => "",
    }
}

/// The names of an assignment (see [`ActionKind::Assign`]): the experiment's (none for a
/// split, which its step names) and the arm's; empty out of range.
pub fn assignment(program: &Program, journey: u32, pc: u32, arm: u32) -> (Option<&str>, &str) {
    use journey_bytecode::StepOp;
    fn arm_name(arms: &[journey_bytecode::ArmOp], arm: u32) -> &str {
        arms.get(arm as usize).map_or("", |a| a.name.as_str())
    }
    match program.journeys.get(journey as usize).and_then(|j| j.code.get(pc as usize)) {
        Some(StepOp::Experiment { name, arms, .. }) => (Some(name), arm_name(arms, arm)),
        Some(StepOp::Split { arms, .. }) => (None, arm_name(arms, arm)),
        _ => (None, ""),
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

fn body(program: &Program, rendered: &Rendered, journey: u32, kind: &ActionKind, out: &mut String) {
    // Written piece by piece, without `format!`: this runs for every action of a batch run.
    match kind {
        ActionKind::Send { message, fields } => {
            let m = program.messages.get(*message as usize);
            key("channel", out);
            push_json_string(m.map(|m| m.channel.as_str()).unwrap_or(""), out);
            key("message", out);
            push_json_string(m.map(|m| m.name.as_str()).unwrap_or(""), out);
            out.push_str(",\"fields\":{");
            for (i, text) in rendered.texts(program, *fields).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(m.and_then(|m| m.field_names.get(i)).map(String::as_str).unwrap_or(""), out);
                out.push(':');
                push_json_string(text, out);
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
        ActionKind::Assign { pc, arm } => {
            // A split is named by its step id (see `write_rest`).
            if let (Some(e), arm) = assignment(program, journey, *pc, *arm) {
                key("experiment", out);
                push_json_string(e, out);
                key("arm", out);
                push_json_string(arm, out);
            }
        }
        ActionKind::Set { attribute, value } => {
            key("attribute", out);
            push_json_string(program.attributes.get(*attribute as usize).map(|a| a.name.as_str()).unwrap_or(""), out);
            key("value", out);
            // Written by the run as JSON; a span out of range (never made by a run) is `null`.
            match rendered.text(program, value) {
                "" => out.push_str("null"),
                json => out.push_str(json),
            }
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
            push_json_string(rendered.text(program, reason), out);
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
        Reason::ExitStep(pc) => push_json_string(exit_step_reason(program, journey, *pc), out),
        Reason::Migration(m) => push_json_string(migration_reason(program, journey, *m), out),
        Reason::Limit => out.push_str("\"limit\""),
        Reason::Manual => out.push_str("\"manual\""),
        Reason::Completed => out.push_str("\"completed\""),
        Reason::Error => out.push_str("\"error\""),
        Reason::Migrated => out.push_str("\"migrated:removed_step\""),
    }
}

/// One action as a JSON object (no trailing newline); `rendered` holds its fields (the
/// [`crate::Actions`] it is one of).
pub fn action_json(program: &Program, contact: &str, rendered: &Rendered, action: &Action) -> String {
    let mut out = String::with_capacity(160);
    write_action_json(program, contact, rendered, action, &mut out);
    out
}

/// Appends one action as a JSON object (no trailing newline) to `out`.
pub fn write_action_json(program: &Program, contact: &str, rendered: &Rendered, action: &Action, out: &mut String) {
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
    let split = action.step.and_then(|s| journey.and_then(|j| j.step_ids.get(s as usize))).map(String::as_str).unwrap_or("");
    write_rest(program, rendered, action, &json_string(split), out);
    out.push('}');
}

/// Everything after `"action":"…"` but the closing brace; `split` is the step id, quoted.
fn write_rest(program: &Program, rendered: &Rendered, action: &Action, split: &str, out: &mut String) {
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
        &ActionKind::Assign { pc, arm } if assignment(program, action.journey, pc, arm).0.is_none() => {
            out.push_str(",\"split\":");
            out.push_str(split);
            out.push_str(",\"arm\":");
            push_json_string(assignment(program, action.journey, pc, arm).1, out);
        }
        ActionKind::HeldOut(held) => {
            let inner = held.kind();
            out.push_str(",\"of\":\"");
            out.push_str(action_word(&inner));
            out.push('"');
            body(program, rendered, action.journey, &inner, out);
        }
        other => body(program, rendered, action.journey, other, out),
    }
}

/// A JSON string literal, escaped once.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(s, &mut out);
    out
}

/// The program's names as JSON string literals, escaped once, so formatting millions of actions
/// (`journey run`) only copies them. Writes exactly what [`write_action_json`] writes.
pub struct ActionFormat<'p> {
    program: &'p Program,
    journeys: Vec<String>,
    steps: Vec<Vec<String>>,
    /// Per message: `,"channel":…,"message":…` and its field names.
    messages: Vec<(String, Vec<String>)>,
    /// Per journey, per goal: the exit reason `"goal:<name>"`.
    goals: Vec<Vec<String>>,
    /// Per event: the trigger name and the exit reason `"exit_on:<name>"`.
    events: Vec<(String, String)>,
    /// Per journey: the trigger `"enroll:<name>"` of a contact it enrolls elsewhere.
    enrolls: Vec<String>,
    /// Per journey: `,"journey":…,"action":"`, and per step `,"journey":…,"step":…,"action":"`
    /// (what every line has between the contact and the action word, in one piece).
    heads: Vec<(String, Vec<String>)>,
}

impl<'p> ActionFormat<'p> {
    pub fn new(program: &'p Program) -> Self {
        ActionFormat {
            program,
            journeys: program.journeys.iter().map(|j| quoted(&j.name)).collect(),
            steps: program.journeys.iter().map(|j| j.step_ids.iter().map(|s| quoted(s)).collect()).collect(),
            messages: program
                .messages
                .iter()
                .map(|m| {
                    let mut head = String::new();
                    key("channel", &mut head);
                    push_json_string(m.channel.as_str(), &mut head);
                    key("message", &mut head);
                    push_json_string(&m.name, &mut head);
                    (head, m.field_names.iter().map(|f| quoted(f)).collect())
                })
                .collect(),
            goals: program.journeys.iter().map(|j| j.goals.iter().map(|g| quoted(&format!("goal:{}", g.name))).collect()).collect(),
            events: program.events.iter().map(|e| (quoted(&e.name), quoted(&format!("exit_on:{}", e.name)))).collect(),
            enrolls: program.journeys.iter().map(|j| quoted(&format!("enroll:{}", j.name))).collect(),
            heads: program
                .journeys
                .iter()
                .map(|j| {
                    let name = quoted(&j.name);
                    let steps = j.step_ids.iter().map(|s| format!(",\"journey\":{name},\"step\":{},\"action\":\"", quoted(s))).collect();
                    (format!(",\"journey\":{name},\"action\":\""), steps)
                })
                .collect(),
        }
    }

    /// Appends one action (no trailing newline); `contact` is the contact id already quoted.
    /// `instant` keeps the last instant written (a contact's actions come in runs of one instant).
    pub fn write(&self, contact: &str, rendered: &Rendered, action: &Action, instant: &mut (i64, String), out: &mut String) {
        let j = action.journey as usize;
        if instant.0 != action.at || instant.1.is_empty() {
            crate::value::rewrite_instant(instant.0, action.at, &mut instant.1);
            instant.0 = action.at;
        }
        out.push_str("{\"at\":\"");
        out.push_str(&instant.1);
        out.push_str("\",\"contact\":");
        out.push_str(contact);
        let step = |s: Option<u32>| s.and_then(|s| self.steps.get(j).and_then(|steps| steps.get(s as usize))).map_or("\"\"", String::as_str);
        let shows_step = !matches!(action.kind, ActionKind::Enter { .. } | ActionKind::Exit { .. });
        let head = self.heads.get(j).and_then(|(journey, steps)| match action.step {
            Some(s) if shows_step => steps.get(s as usize),
            _ => Some(journey),
        });
        match head {
            Some(head) => out.push_str(head),
            // Out of range (not in a verified program): what `write_action_json` writes.
            None => {
                out.push_str(",\"journey\":");
                out.push_str(self.journeys.get(j).map_or("\"\"", String::as_str));
                if shows_step && action.step.is_some() {
                    out.push_str(",\"step\":");
                    out.push_str(step(action.step));
                }
                out.push_str(",\"action\":\"");
            }
        }
        out.push_str(action_word(&action.kind));
        out.push('"');
        match &action.kind {
            // An event's or a journey's trigger, quoted once (the others as `write_action_json`).
            ActionKind::Enter { trigger: trigger @ (Trigger::Event(_) | Trigger::Enroll(_)), holdout } => {
                let quoted = match trigger {
                    Trigger::Event(e) => self.events.get(*e as usize).map(|(name, _)| name),
                    Trigger::Enroll(from) => self.enrolls.get(*from as usize),
                    _ => None,
                };
                out.push_str(",\"trigger\":");
                match quoted {
                    Some(q) => out.push_str(q),
                    None => push_trigger(self.program, trigger, out),
                }
                if *holdout {
                    out.push_str(",\"holdout\":true");
                }
            }
            ActionKind::Exit { reason: Reason::Goal(g) } => {
                out.push_str(",\"reason\":");
                match self.goals.get(j).and_then(|g2| g2.get(*g as usize)) {
                    Some(r) => out.push_str(r),
                    None => push_reason(self.program, action.journey, &Reason::Goal(*g), out),
                }
            }
            ActionKind::Exit { reason: Reason::ExitOn(e) } => {
                out.push_str(",\"reason\":");
                match self.events.get(*e as usize) {
                    Some((_, r)) => out.push_str(r),
                    None => push_reason(self.program, action.journey, &Reason::ExitOn(*e), out),
                }
            }
            ActionKind::Send { message, fields } => match self.messages.get(*message as usize) {
                Some((head, names)) => {
                    out.push_str(head);
                    out.push_str(",\"fields\":{");
                    for (i, text) in rendered.texts(self.program, *fields).enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(names.get(i).map_or("\"\"", String::as_str));
                        out.push(':');
                        push_json_string(text, out);
                    }
                    out.push('}');
                }
                None => body(self.program, rendered, action.journey, &action.kind, out),
            },
            // The rest, as `write_action_json` writes it.
            _ => write_rest(self.program, rendered, action, step(action.step), out),
        }
        out.push('}');
    }
}
