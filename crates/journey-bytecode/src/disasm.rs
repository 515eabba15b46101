//! `journey disasm`: a readable listing of a program — tables, journeys with their steps and
//! operations, expression code and templates. Golden tests keep the encoding honest.

use crate::program::*;
use std::fmt::Write;

fn constant(p: &Program, c: &Const) -> String {
    let s = |i: u32| p.strings.get(i as usize).map(|s| format!("{s:?}")).unwrap_or_else(|| format!("<bad string {i}>"));
    match c {
        Const::None => "none".into(),
        Const::Bool(b) => b.to_string(),
        Const::Int(i) => i.to_string(),
        Const::Float(f) => format!("{f:?}"),
        Const::Str(i) => s(*i),
        Const::Time(ms) => format!("@{ms}ms"),
        Const::Date(d) => format!("date({d})"),
        Const::Duration(ms) => format!("{ms}ms"),
        Const::Enum(e, v) => p
            .enums
            .get(*e as usize)
            .and_then(|en| en.variants.get(*v as usize).map(|var| format!("{}.{var}", en.name)))
            .unwrap_or_else(|| "<bad enum>".into()),
        Const::List(items) => format!("[{}]", items.iter().map(|i| s(*i)).collect::<Vec<_>>().join(", ")),
    }
}

fn instr(p: &Program, i: &Instr) -> String {
    match i {
        Instr::Const(c) => format!("const {}", p.constants.get(*c as usize).map(|k| constant(p, k)).unwrap_or_default()),
        Instr::Attr(a) => format!("attr {}", p.attributes.get(*a as usize).map(|f| f.name.as_str()).unwrap_or("?")),
        Instr::EventField(f) => format!("event.field {f}"),
        Instr::TriggerField(f) => format!("trigger.field {f}"),
        Instr::LoopVar(s) => format!("loopvar {s}"),
        Instr::Has { predicate, within_ms } if *within_ms >= 0 => format!("has p{predicate} within {within_ms}ms"),
        Instr::Has { predicate, .. } => format!("has p{predicate}"),
        Instr::Count(pr) => format!("count p{pr}"),
        Instr::Last(pr) => format!("last p{pr}"),
        Instr::InJourney(j) => format!("in_journey {}", p.journeys.get(*j as usize).map(|j| j.name.as_str()).unwrap_or("?")),
        Instr::Bin(op) => format!("{op:?}").to_lowercase(),
        Instr::Call(b) => format!("call {}", format!("{b:?}").to_lowercase()),
        Instr::JumpIfSome(t) => format!("jump_if_some {t}"),
        Instr::JumpIfFalseKeep(t) => format!("jump_if_false_keep {t}"),
        Instr::JumpIfTrueKeep(t) => format!("jump_if_true_keep {t}"),
        Instr::MakeList(n) => format!("make_list {n}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Renders the whole program.
pub fn disassemble(p: &Program) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "; journey bytecode, format version {}, fingerprint {:016x}", crate::FORMAT_VERSION, p.fingerprint);
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        out,
        "; {}, {}, {}, {}",
        count(p.journeys.len(), "journey", "journeys"),
        count(p.code.len(), "expression instruction", "expression instructions"),
        count(p.templates.len(), "template op", "template ops"),
        count(p.constants.len(), "constant", "constants")
    );
    let _ = writeln!(out, "\n.attributes");
    for (i, a) in p.attributes.iter().enumerate() {
        let _ = writeln!(out, "  {i:>3} {}: {:?}{}", a.name, a.ty, if a.optional { "?" } else { "" });
    }
    let _ = writeln!(out, "\n.events");
    for (i, e) in p.events.iter().enumerate() {
        let fields: Vec<String> = e.fields.iter().map(|f| format!("{}: {:?}{}", f.name, f.ty, if f.optional { "?" } else { "" })).collect();
        let _ = writeln!(out, "  {i:>3} {} {:?} {{ {} }}", e.name, e.input_name, fields.join(", "));
    }
    let _ = writeln!(out, "\n.messages");
    for (i, m) in p.messages.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {i:>3} {} {}{} ({})",
            m.name,
            m.channel.as_str(),
            if m.transactional { " transactional" } else { "" },
            m.field_names.join(", ")
        );
    }
    let _ = writeln!(out, "\n.predicates");
    for (i, pr) in p.predicates.iter().enumerate() {
        let event = p.events.get(pr.event as usize).map(|e| e.name.as_str()).unwrap_or("?");
        let _ = writeln!(
            out,
            "  p{i} {event}{}{}",
            pr.filter.map(|f| format!(" where @{f}")).unwrap_or_default(),
            pr.since_entry_of.map(|j| format!(" since entry of j{j}")).unwrap_or_default()
        );
    }
    if let Some((a, b)) = p.policy.quiet_hours {
        let _ = writeln!(out, "\n.policy\n  quiet_hours {:02}:{:02} to {:02}:{:02}", a / 60, a % 60, b / 60, b % 60);
    } else {
        let _ = writeln!(out, "\n.policy");
    }
    if let Some(tz) = p.policy.timezone {
        let _ = writeln!(out, "  timezone @{tz}");
    }
    for cap in &p.policy.caps {
        let _ = writeln!(out, "  cap {} {} per {}ms", cap.channel.as_str(), cap.count, cap.window_ms);
    }
    for (ji, j) in p.journeys.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n.journey j{ji} {} (priority {}, holdout {}bp, reentry {:?}, limit {:?})",
            j.name, j.priority, j.holdout, j.reentry, j.limit_ms
        );
        for e in &j.entries {
            let _ = writeln!(out, "  entry {:?}{}", e.kind, e.filter.map(|f| format!(" where @{f}")).unwrap_or_default());
        }
        for e in &j.exits {
            let _ = writeln!(out, "  exit on e{}{}", e.event, e.filter.map(|f| format!(" where @{f}")).unwrap_or_default());
        }
        for g in &j.goals {
            let _ = writeln!(out, "  goal {} {:?}", g.name, g.kind);
        }
        for (pc, op) in j.code.iter().enumerate() {
            let id = op.step().and_then(|s| j.step_ids.get(s as usize)).map(|s| s.as_str()).unwrap_or("");
            let text = match op {
                StepOp::Send { message, fields, .. } => {
                    format!("send {} fields {:?}", p.messages.get(*message as usize).map(|m| m.name.as_str()).unwrap_or("?"), fields)
                }
                other => {
                    let mut t = format!("{other:?}");
                    if let Some(i) = t.find(" {") {
                        t = format!("{}{}", t[..i].to_lowercase(), &t[i..]);
                    } else {
                        t = t.to_lowercase();
                    }
                    t
                }
            };
            let _ = writeln!(out, "  {pc:>4} {id:<12} {text}");
        }
    }
    let _ = writeln!(out, "\n.code");
    for (at, i) in p.code.iter().enumerate() {
        let _ = writeln!(out, "  @{at:<5} {}", instr(p, i));
    }
    let _ = writeln!(out, "\n.templates");
    for (at, t) in p.templates.iter().enumerate() {
        let text = match t {
            TemplateOp::Text(s) => format!("text {:?}", p.strings.get(*s as usize).map(String::as_str).unwrap_or("?")),
            other => format!("{other:?}").to_lowercase(),
        };
        let _ = writeln!(out, "  #{at:<5} {text}");
    }
    out
}
