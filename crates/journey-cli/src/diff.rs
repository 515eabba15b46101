//! `journey diff OLD NEW`: what changed between two versions of a project, in the terms a
//! resumed run uses — journeys by name, steps by id — and what happens to contacts waiting
//! at a step that is gone (migrated by a `migrate` rule, or exited as `migrated:removed_step`).

use crate::exit;
use journey_bytecode::{EntryKind, GoalKind, Journey, Program, Reentry, StepOp, TemplateOp};
use journey_runtime::report::duration;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The old version: a project directory, a `.journey` file, or a `.jbc`.
    #[arg(value_name = "OLD")]
    old: PathBuf,
    /// The new version: a project directory, a `.journey` file, or a `.jbc`.
    #[arg(value_name = "NEW")]
    new: PathBuf,
    /// Exit 1 when contacts waiting at a removed step would leave their journey
    /// (`migrated:removed_step`) for want of a `migrate` rule: for CI.
    #[arg(long)]
    deny_orphans: bool,
    /// `text` (for people and pull-request comments) or `json` (one object, for tools).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> u8 {
    let old = match crate::project::load_with_text(std::slice::from_ref(&args.old)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let new = match crate::project::load_with_text(std::slice::from_ref(&args.new)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // A `.jbc` keeps no source text: then both sides' expressions are compared as bytecode.
    let (mut old, mut new) = (old, new);
    if old.expr_text.is_empty() != new.expr_text.is_empty() {
        old.expr_text.clear();
        new.expr_text.clear();
        eprintln!("note: a .jbc keeps no source text: expressions are compared, and shown, as bytecode (⟨…⟩)");
    }
    let diff = diff(&old, &new);
    match args.format {
        Format::Text => print!("{}", diff.text),
        Format::Json => println!("{}", diff.json),
    }
    if args.deny_orphans && diff.orphaned > 0 {
        eprintln!(
            "error: {} waiting step{} removed without a `migrate` rule: contacts there would exit with `migrated:removed_step`",
            diff.orphaned,
            if diff.orphaned == 1 { " is" } else { "s are" }
        );
        return exit::FAILED;
    }
    exit::OK
}

/// The difference, as text, with the count of in-flight steps that would be orphaned.
pub struct Diff {
    pub text: String,
    /// The same as one JSON object (`--format json`).
    pub json: serde_json::Value,
    pub orphaned: usize,
}

/// A section's lines without their indentation (for the JSON form).
fn lines_of(body: &str) -> Vec<String> {
    body.lines().map(|l| l.trim_start().to_string()).collect()
}

/// Expression source text (kept when the project was compiled from source); for a `.jbc`,
/// which keeps none, its instructions in a form that does not depend on where they are.
fn expr(program: &Program, at: u32) -> String {
    match program.expr_text.iter().find(|(start, _)| *start == at) {
        Some((_, text)) => text.clone(),
        None => format!("⟨{}⟩", code(program, at, 0)),
    }
}

/// A constant by value (strings and enum variants by name, not index).
fn constant(program: &Program, c: Option<&journey_bytecode::Const>) -> String {
    use journey_bytecode::Const;
    let text = |i: u32| format!("{:?}", name(&program.strings, i));
    match c {
        None => "?".into(),
        Some(Const::Str(i)) => text(*i),
        Some(Const::List(items)) => format!("[{}]", items.iter().map(|i| text(*i)).collect::<Vec<_>>().join(", ")),
        Some(Const::Enum(e, v)) => program
            .enums
            .get(*e as usize)
            .map_or("?".into(), |en| format!("{}.{}", en.name, en.variants.get(*v as usize).map_or("?", String::as_str))),
        Some(Const::Duration(ms)) => duration(*ms),
        Some(other) => format!("{other:?}").to_lowercase(),
    }
}

/// An expression's instructions: names instead of indexes, jumps relative to the start.
fn code(program: &Program, at: u32, depth: u32) -> String {
    use journey_bytecode::Instr;
    let predicate = |p: u32| match program.predicates.get(p as usize) {
        Some(pr) if depth < 4 => format!(
            "{}{}{}",
            event(program, pr.event),
            pr.filter.map(|f| format!(" where ⟨{}⟩", code(program, f, depth + 1))).unwrap_or_default(),
            if pr.since_entry_of.is_some() { " since entry" } else { "" }
        ),
        _ => "?".into(),
    };
    let relative = |t: u32| i64::from(t) - i64::from(at);
    let mut parts = Vec::new();
    for instr in program.code.iter().skip(at as usize).take(10_000) {
        parts.push(match instr {
            Instr::Ret => break,
            Instr::Const(c) => constant(program, program.constants.get(*c as usize)),
            Instr::Attr(a) => format!("contact.{}", program.attributes.get(*a as usize).map_or("?", |f| f.name.as_str())),
            Instr::Has { predicate: p, within_ms } if *within_ms >= 0 => format!("has {} within {}", predicate(*p), duration(*within_ms)),
            Instr::Has { predicate: p, .. } => format!("has {}", predicate(*p)),
            Instr::Count(p) => format!("count {}", predicate(*p)),
            Instr::Last(p) => format!("last {}", predicate(*p)),
            Instr::InJourney(j) => format!("in {}", program.journeys.get(*j as usize).map_or("?", |j| j.name.as_str())),
            Instr::JumpIfSome(t) => format!("jump_if_some {:+}", relative(*t)),
            Instr::JumpIfFalseKeep(t) => format!("jump_if_false_keep {:+}", relative(*t)),
            Instr::JumpIfTrueKeep(t) => format!("jump_if_true_keep {:+}", relative(*t)),
            other => format!("{other:?}").to_lowercase(),
        });
    }
    parts.join(", ")
}

fn clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

fn name(list: &[String], i: u32) -> &str {
    list.get(i as usize).map_or("?", String::as_str)
}

fn event(program: &Program, e: u32) -> &str {
    program.events.get(e as usize).map_or("?", |e| e.name.as_str())
}

fn filter(program: &Program, f: Option<u32>) -> String {
    f.map(|f| format!(" where {}", expr(program, f))).unwrap_or_default()
}

fn entry(program: &Program, e: &journey_bytecode::Entry) -> String {
    let kind = match &e.kind {
        EntryKind::On(ev) => format!("entry on {}", event(program, *ev)),
        EntryKind::When(c) => format!("entry when {}", expr(program, *c)),
        EntryKind::At(t) => format!("entry at {}", expr(program, *t)),
        EntryKind::Daily { minutes } => format!("entry every day at {}", clock(*minutes)),
        EntryKind::Weekly { weekday, minutes } => format!("entry every {} at {}", WEEKDAYS.get(*weekday as usize).unwrap_or(&"?"), clock(*minutes)),
        EntryKind::Interval { ms } => format!("entry every {}", duration(*ms)),
        EntryKind::Yearly { date, minutes } => format!("entry every year on {} at {}", expr(program, *date), clock(*minutes)),
    };
    format!("{kind}{}", filter(program, e.filter))
}

/// A journey's settings other than its steps, one line each (compared line by line).
fn settings(program: &Program, j: &Journey) -> Vec<String> {
    let mut lines: Vec<String> = j.entries.iter().map(|e| entry(program, e)).collect();
    lines.push(match j.reentry {
        Reentry::Never => "reentry never".into(),
        Reentry::Always => "reentry always".into(),
        Reentry::AfterMs(ms) => format!("reentry after {}", duration(ms)),
    });
    lines.extend(j.exits.iter().map(|x| format!("exit on {}{}", event(program, x.event), filter(program, x.filter))));
    lines.extend(j.goals.iter().map(|g| match &g.kind {
        GoalKind::On { event: e, filter: f } => format!("goal {} on {}{}", g.name, event(program, *e), filter(program, *f)),
        GoalKind::When(c) => format!("goal {} when {}", g.name, expr(program, *c)),
    }));
    if let Some(ms) = j.limit_ms {
        lines.push(format!("limit {}", duration(ms)));
    }
    if j.holdout > 0 {
        lines.push(format!("holdout {}", journey_bytecode::percent_text(j.holdout)));
    }
    if j.priority != 0 {
        lines.push(format!("priority {}", j.priority));
    }
    if j.version != 0 {
        lines.push(format!("version {}", j.version));
    }
    lines.extend(j.migrate.iter().map(|m| match &m.to {
        Some(to) => format!("migrate {} -> {to}", m.from),
        None => format!("migrate {} -> exit {:?}", m.from, m.exit_reason),
    }));
    lines
}

fn arms(arms: &[journey_bytecode::ArmOp]) -> String {
    let parts: Vec<String> =
        journey_bytecode::ArmOp::shares(arms).map(|(name, share)| format!("{name} {}", journey_bytecode::percent_text(share))).collect();
    parts.join(", ")
}

/// What one step operation does, with its expressions' source text.
fn op(program: &Program, op: &StepOp) -> String {
    match op {
        StepOp::Send { message, .. } => {
            let m = program.messages.get(*message as usize);
            format!("send {} ({})", m.map_or("?", |m| m.name.as_str()), m.map_or("?", |m| m.channel.as_str()))
        }
        StepOp::Sync { audience, add, .. } => format!("{} {}", if *add { "add to" } else { "remove from" }, name(&program.audiences, *audience)),
        StepOp::Webhook { webhook, .. } => format!("webhook {}", name(&program.webhooks, *webhook)),
        StepOp::Set { attribute, value, .. } => {
            format!("set contact.{} = {}", program.attributes.get(*attribute as usize).map_or("?", |a| a.name.as_str()), expr(program, *value))
        }
        StepOp::Enroll { journey, .. } => format!("enroll {}", program.journeys.get(*journey as usize).map_or("?", |j| j.name.as_str())),
        StepOp::WaitDuration { ms, .. } => format!("wait {}", duration(*ms)),
        StepOp::WaitUntil { at, .. } => format!("wait until {}", expr(program, *at)),
        StepOp::WaitClock { weekday, minutes, .. } => match WEEKDAYS.get(*weekday as usize) {
            Some(day) => format!("wait until {day} {}", clock(*minutes)),
            None => format!("wait until {}", clock(*minutes)),
        },
        StepOp::WaitEvent { event: e, filter: f, within_ms, .. } => {
            format!("wait for {}{} within {}", event(program, *e), filter(program, *f), duration(*within_ms))
        }
        StepOp::WaitCondition { condition, within_ms, .. } => format!("wait until {} within {}", expr(program, *condition), duration(*within_ms)),
        StepOp::Branch { condition, .. } => format!("if {}", expr(program, *condition)),
        StepOp::Match { scrutinee, .. } => format!("match {}", expr(program, *scrutinee)),
        StepOp::Split { arms: a, .. } => format!("split {}", arms(a)),
        StepOp::Experiment { name, arms: a, .. } => format!("experiment {name}: {}", arms(a)),
        StepOp::Exit { reason, .. } => journey_bytecode::program::exit_text(reason),
        StepOp::Jump { .. } | StepOp::Complete => String::new(),
    }
}

/// Per step id: what it does (all its operations: an `if … else if` chain is one step), whether
/// a contact can be waiting there between records, and where control comes from.
struct Step {
    what: String,
    waits: bool,
    after: BTreeSet<String>,
}

fn steps(program: &Program, j: &Journey) -> Vec<(String, Step)> {
    let node = |n: u32| match j.step_ids.get(n as usize) {
        Some(id) => id.clone(),
        None if n == j.flow_entry() => "(entry)".into(),
        None => "(end)".into(),
    };
    let edges = j.flow_edges();
    j.step_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let ops: Vec<&StepOp> = j.code.iter().filter(|o| o.step() == Some(i as u32)).collect();
            let what = ops.iter().map(|o| op(program, o)).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" / ");
            // Waits hold contacts; so does a send held by quiet hours.
            let held =
                |message: u32| program.policy.quiet_hours.is_some() && program.messages.get(message as usize).is_some_and(|m| !m.transactional);
            let waits = ops.iter().any(|o| match o {
                StepOp::WaitDuration { .. }
                | StepOp::WaitUntil { .. }
                | StepOp::WaitClock { .. }
                | StepOp::WaitEvent { .. }
                | StepOp::WaitCondition { .. } => true,
                StepOp::Send { message, .. } => held(*message),
                _ => false,
            });
            let after = edges.iter().filter(|(_, to)| *to == i as u32).map(|(from, _)| node(*from)).collect();
            (id.clone(), Step { what, waits, after })
        })
        .collect()
}

/// A send's fields as canonical text (for telling whether a message's content changed), in
/// the template syntax: `{if c}…{else}…{end}` is compiled to jumps, which are read back here.
fn template(program: &Program, start: u32) -> String {
    let mut out = String::new();
    // Where an `{if}` block ends: its `{end}` is written on reaching it.
    let mut ends: Vec<usize> = Vec::new();
    for (at, op) in program.templates.iter().enumerate().skip(start as usize) {
        while let Some(i) = ends.iter().position(|&e| e == at) {
            ends.swap_remove(i);
            out.push_str("{end}");
        }
        match op {
            TemplateOp::End => break,
            TemplateOp::Text(s) => out.push_str(name(&program.strings, *s)),
            TemplateOp::Value(e) => {
                let _ = write!(out, "{{{}}}", expr(program, *e));
            }
            TemplateOp::JumpIfFalse(c, t) => {
                let _ = write!(out, "{{if {}}}", expr(program, *c));
                // With an `{else}`, the `then` part ends with a jump over it.
                let t = *t as usize;
                match program.templates.get(t.wrapping_sub(1)) {
                    Some(TemplateOp::Jump(end)) if t - 1 > at && *end as usize > t => ends.push(*end as usize),
                    _ => ends.push(t),
                }
            }
            // The jump that ends a `then` part without `{else}` goes to the very next op.
            TemplateOp::Jump(end) if *end as usize == at + 1 => {}
            TemplateOp::Jump(_) => out.push_str("{else}"),
            TemplateOp::ForStart { slot, list, end } => {
                // The loop variable's name, from a use of it in the body (the bytecode keeps slots).
                let body = program.templates.get(at + 1..*end as usize).unwrap_or_default();
                let var = body.iter().find_map(|op| match op {
                    TemplateOp::Value(e) if program.code.get(*e as usize) == Some(&journey_bytecode::Instr::LoopVar(*slot)) => {
                        Some(expr(program, *e))
                    }
                    _ => None,
                });
                let _ = write!(out, "{{for {} in {}}}", var.as_deref().unwrap_or("item"), expr(program, *list));
            }
            TemplateOp::ForNext { .. } => out.push_str("{end}"),
        }
    }
    out
}

/// A message as the program knows it: channel and whether transactional, and each field's
/// template — known only from a send of it (a message no journey sends keeps no content).
struct MessageText {
    name: String,
    header: String,
    fields: Option<Vec<String>>,
}

fn messages(program: &Program) -> Vec<MessageText> {
    program
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let header = format!("{}{}", m.channel.as_str(), if m.transactional { ", transactional" } else { "" });
            let sent = program.journeys.iter().flat_map(|j| &j.code).find_map(|o| match o {
                StepOp::Send { message, fields, .. } if *message as usize == i => Some(fields),
                _ => None,
            });
            let fields = sent.map(|sent| {
                let text = |k: usize| sent.get(k).map(|&t| template(program, t)).unwrap_or_default();
                m.field_names.iter().enumerate().map(|(k, field)| format!("{field} {:?}", text(k))).collect()
            });
            MessageText { name: m.name.clone(), header, fields }
        })
        .collect()
}

/// Lines only in `old` (`-`) and only in `new` (`+`).
fn changed_lines(out: &mut String, indent: &str, old: &[String], new: &[String]) -> bool {
    let mut any = false;
    for line in old.iter().filter(|l| !new.contains(l)) {
        let _ = writeln!(out, "{indent}- {line}");
        any = true;
    }
    for line in new.iter().filter(|l| !old.contains(l)) {
        let _ = writeln!(out, "{indent}+ {line}");
        any = true;
    }
    any
}

pub fn diff(old: &Program, new: &Program) -> Diff {
    let mut out = String::new();
    let (mut orphaned, mut migrated, mut changed_journeys, mut same_journeys) = (0, 0, 0, 0);
    // A removed waiting step with a positional id (`s3`) may only have been renamed by an
    // insertion above it.
    let mut positional = false;
    let (mut changed_json, mut in_flight) = (serde_json::Map::new(), Vec::new());
    for j in &old.journeys {
        if !new.journeys.iter().any(|n| n.name == j.name) {
            let _ = writeln!(out, "- journey {}: removed; contacts in it are dropped from it", j.name);
        }
    }
    for j in &new.journeys {
        if !old.journeys.iter().any(|o| o.name == j.name) {
            let _ = writeln!(out, "+ journey {}: new ({} step{})", j.name, j.step_ids.len(), if j.step_ids.len() == 1 { "" } else { "s" });
        }
    }
    for nj in &new.journeys {
        let Some(oj) = old.journeys.iter().find(|o| o.name == nj.name) else { continue };
        let mut body = String::new();
        changed_lines(&mut body, "    ", &settings(old, oj), &settings(new, nj));
        let (os, ns) = (steps(old, oj), steps(new, nj));
        for (id, step) in &os {
            if ns.iter().any(|(n, _)| n == id) {
                continue;
            }
            let _ = write!(body, "    - step {id}: {}", step.what);
            if step.waits {
                match nj.migrate.iter().find(|m| &m.from == id) {
                    Some(m) => {
                        migrated += 1;
                        in_flight.push(match &m.to {
                            Some(to) => serde_json::json!({ "journey": nj.name, "step": id, "outcome": "moved", "to": to }),
                            None => serde_json::json!({ "journey": nj.name, "step": id, "outcome": "exit", "reason": m.exit_reason }),
                        });
                        match &m.to {
                            Some(to) => {
                                let _ = write!(body, " — contacts waiting here move to `{to}` (migrate)");
                            }
                            None => {
                                let _ = write!(body, " — contacts waiting here exit with \"{}\" (migrate)", m.exit_reason);
                            }
                        }
                    }
                    None => {
                        orphaned += 1;
                        in_flight
                            .push(serde_json::json!({ "journey": nj.name, "step": id, "outcome": "orphaned", "reason": "migrated:removed_step" }));
                        positional |= id.strip_prefix('s').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                        let _ = write!(
                            body,
                            " — contacts waiting here exit with `migrated:removed_step` (add `migrate {{ {id} -> <step> }}` to keep them)"
                        );
                    }
                }
            }
            body.push('\n');
        }
        for (id, step) in &ns {
            match os.iter().find(|(o, _)| o == id) {
                None => {
                    let _ = writeln!(body, "    + step {id}: {}", step.what);
                }
                Some((_, before)) => {
                    if before.what != step.what {
                        let _ = writeln!(body, "    ~ step {id}: {} → {}", before.what, step.what);
                    }
                    if before.after != step.after {
                        let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
                        let _ = writeln!(body, "    ~ step {id}: moved: now after {} (was after {})", list(&step.after), list(&before.after));
                    }
                }
            }
        }
        if body.is_empty() {
            same_journeys += 1;
        } else {
            changed_journeys += 1;
            changed_json.insert(nj.name.clone(), lines_of(&body).into());
            let _ = write!(out, "~ journey {}\n{body}", nj.name);
        }
    }
    let (om, nm) = (messages(old), messages(new));
    let mut body = String::new();
    let (mut added_messages, mut removed_messages, mut changed_messages) = (serde_json::Map::new(), Vec::new(), serde_json::Map::new());
    for m in om.iter().filter(|m| !nm.iter().any(|n| n.name == m.name)) {
        let _ = writeln!(body, "    - message {}", m.name);
        removed_messages.push(m.name.clone());
    }
    for m in &nm {
        let Some(before) = om.iter().find(|o| o.name == m.name) else {
            let _ = writeln!(body, "    + message {}: {}", m.name, m.header);
            added_messages.insert(m.name.clone(), m.header.clone().into());
            continue;
        };
        let mut lines = String::new();
        changed_lines(&mut lines, "        ", std::slice::from_ref(&before.header), std::slice::from_ref(&m.header));
        // Content is compared where both sides send the message; otherwise the change is that
        // it is (no longer) sent, whatever its declaration says.
        match (&before.fields, &m.fields) {
            (Some(a), Some(b)) => {
                changed_lines(&mut lines, "        ", a, b);
            }
            (Some(_), None) => lines.push_str("        no longer sent by any journey\n"),
            (None, Some(b)) => {
                lines.push_str("        now sent by a journey\n");
                changed_lines(&mut lines, "        ", &[], b);
            }
            (None, None) => {}
        }
        if !lines.is_empty() {
            let _ = write!(body, "    ~ message {}\n{lines}", m.name);
            changed_messages.insert(m.name.clone(), lines_of(&lines).into());
        }
    }
    if !body.is_empty() {
        let _ = write!(out, "messages\n{body}");
    }
    // What input must look like: contact attributes, enums, events and their properties.
    let schema = |p: &Program| {
        let ty = |t: &journey_bytecode::ValueType| match t {
            journey_bytecode::ValueType::Enum(e) => p.enums.get(*e as usize).map_or("?", |x| x.name.as_str()).to_string(),
            journey_bytecode::ValueType::ListOfString => "[string]".into(),
            other => format!("{other:?}").to_lowercase(),
        };
        let field = |f: &journey_bytecode::FieldDecl| format!("{}: {}{}", f.name, ty(&f.ty), if f.optional { "?" } else { "" });
        let mut lines: Vec<String> = p.attributes.iter().map(|a| format!("contact.{}", field(a))).collect();
        lines.extend(p.enums.iter().map(|e| format!("enum {} {{ {} }}", e.name, e.variants.join(", "))));
        lines.extend(p.events.iter().map(|e| {
            let fields: Vec<String> = e.fields.iter().map(field).collect();
            format!("event {} {:?} {{ {} }}", e.name, e.input_name, fields.join(", "))
        }));
        lines
    };
    let mut body = String::new();
    if changed_lines(&mut body, "    ", &schema(old), &schema(new)) {
        let _ = write!(out, "schema\n{body}");
    }
    let schema_json = lines_of(&body);
    let policy = |p: &Program| {
        let mut lines = Vec::new();
        if let Some(tz) = p.policy.timezone {
            lines.push(format!("timezone {}", expr(p, tz)));
        }
        if let Some((start, end)) = p.policy.quiet_hours {
            lines.push(format!("quiet hours {}-{}", clock(start), clock(end)));
        }
        lines.extend(p.policy.caps.iter().map(|c| format!("cap {} {} per {}", c.channel.as_str(), c.count, duration(c.window_ms))));
        lines
    };
    let mut body = String::new();
    if changed_lines(&mut body, "    ", &policy(old), &policy(new)) {
        let _ = write!(out, "policy\n{body}");
    }
    let policy_json = lines_of(&body);
    let added = new.journeys.iter().filter(|j| !old.journeys.iter().any(|o| o.name == j.name)).count();
    let removed = old.journeys.iter().filter(|j| !new.journeys.iter().any(|n| n.name == j.name)).count();
    let _ = writeln!(
        out,
        "{added} journey{} added, {removed} removed, {changed_journeys} changed, {same_journeys} unchanged; in flight: {migrated} removed waiting step{} migrated, {orphaned} orphaned",
        if added == 1 { "" } else { "s" },
        if migrated == 1 { "" } else { "s" },
    );
    if positional {
        out.push_str(
            "note: steps without a name are named by position (s1, s2, …): a step inserted or removed renames those after it. \
             Name the steps contacts wait at (`pause: wait 2d`) to keep them in place across edits.\n",
        );
    }
    let names = |a: &Program, b: &Program| -> Vec<String> {
        a.journeys.iter().filter(|j| !b.journeys.iter().any(|o| o.name == j.name)).map(|j| j.name.clone()).collect()
    };
    let json = serde_json::json!({
        "journeys": { "added": names(new, old), "removed": names(old, new), "changed": changed_json, "unchanged": same_journeys },
        "messages": { "added": added_messages, "removed": removed_messages, "changed": changed_messages },
        "schema": schema_json,
        "policy": policy_json,
        "in_flight": in_flight,
        "migrated": migrated,
        "orphaned": orphaned,
    });
    Diff { text: out, json, orphaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every template of the examples reads back from its bytecode as it is written in the
    /// source (`{if}…{else}…{end}`, `{for x in …}…{end}`): the text `journey diff` shows.
    #[test]
    fn templates_read_back_as_written() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let program = crate::project::load_with_text(std::slice::from_ref(&dir)).unwrap_or_else(|code| panic!("examples do not compile ({code})"));
        let source: String = ["welcome.journey", "cart_abandonment.journey", "spring_sale.journey", "dates.journey"]
            .iter()
            .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
            .collect();
        let mut seen = 0;
        for m in messages(&program) {
            for line in m.fields.unwrap_or_default() {
                let Some((_, text)) = line.split_once(' ') else { continue };
                // The source writes the template as a string literal, the diff as its Debug form.
                let literal: String = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                if ["{if ", "{else}", "{for "].iter().any(|k| literal.contains(k)) {
                    let written = format!("{:?}", literal).replace("\\\"", "\"");
                    assert!(source.contains(&written[1..written.len() - 1]), "{} reads back as {literal:?}", m.name);
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, 5, "the examples' templates with `{{if}}` or `{{for}}`");
    }
}
