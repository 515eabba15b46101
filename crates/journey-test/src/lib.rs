//! `journey test`: runs a project's `test` blocks (LANGUAGE.md §5) against the compiled program.
//!
//! Each test becomes ordinary input: its contacts' attributes are an `identify` at the test's
//! start (its earliest record, or one year before `run until` when it has none), its records are
//! `identify`/`track`/`exit` records — turned into the same JSON the runtime reads, so tests go
//! through exactly the decoding and evaluation real runs do. Holdouts are off unless the test says
//! `holdout on`; experiment arms come from the hash unless forced with `assign`.

pub mod explain;

use journey_bytecode::Program;
use journey_diagnostics::SourceMap;
use journey_syntax::ast::{self, ExitBy, ExpectKind, ExprKind, ItemKind, TestItem, TestRecord};
use journey_vm::{Action, ActionKind, ContactState, Options, Vm, output};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

const YEAR_MS: i64 = 366 * 86_400_000;

/// The outcome of one test.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    /// `file:line` of the test.
    pub location: String,
    /// Empty when the test passed; otherwise one readable report per failed expectation.
    pub failures: Vec<String>,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

fn literal(e: &ast::Expr) -> Result<Json, String> {
    Ok(match &e.kind {
        ExprKind::Int(i) => json!(i),
        ExprKind::Float(f) => json!(f),
        ExprKind::Bool(b) => json!(b),
        ExprKind::None => Json::Null,
        ExprKind::Str(t) => json!(t.as_plain().ok_or("test values must be plain strings")?),
        ExprKind::Instant(ms) => json!(journey_vm::value::format_instant(*ms)),
        ExprKind::Date(d) => json!(journey_vm::value::format_date(*d)),
        ExprKind::Duration(s) => json!(s),
        ExprKind::Name(n) => json!(n.as_str()),
        ExprKind::List(items) => Json::Array(items.iter().map(literal).collect::<Result<_, _>>()?),
        ExprKind::Unary(ast::UnOp::Neg, inner) => match literal(inner)? {
            Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => json!(-i),
                (_, Some(f)) => json!(-f),
                _ => return Err("not a number".into()),
            },
            _ => return Err("`-` needs a number".into()),
        },
        _ => return Err("test values must be literals".into()),
    })
}

fn fields(record: &[ast::RecordField]) -> Result<Json, String> {
    let mut map = serde_json::Map::new();
    for f in record {
        map.insert(f.name.as_str().to_string(), literal(&f.value).map_err(|e| format!("`{}`: {e}", f.name.as_str()))?);
    }
    Ok(Json::Object(map))
}

/// Runs every test block of the parsed modules against `program`. `filter` keeps the tests
/// whose name contains it.
pub fn run_tests(program: &Program, modules: &[ast::Module], sources: &SourceMap, filter: Option<&str>) -> Vec<TestResult> {
    let mut results = Vec::new();
    for module in modules {
        for item in &module.items {
            let ItemKind::Test(test) = &item.kind else { continue };
            if filter.is_some_and(|f| !test.name.value.contains(f)) {
                continue;
            }
            let position = journey_diagnostics::Position::of(sources, item.span.file, item.span.start as usize);
            let location = format!("{}:{}", sources.get(item.span.file).map(|f| f.name.as_str()).unwrap_or("?"), position.line);
            let failures = match run_one(program, test, sources) {
                Ok(f) => f,
                Err(e) => vec![format!("cannot run: {e}")],
            };
            results.push(TestResult { name: test.name.value.clone(), location, failures });
        }
    }
    results
}

struct Outcome {
    actions: journey_vm::Actions,
    state: ContactState,
    /// The entry and counter conditions that could not be evaluated for the contact (taken as
    /// false): `"<journey>: <clause>: <reason>"`.
    condition_errors: Vec<String>,
}

fn run_one(program: &Program, test: &ast::TestDecl, sources: &SourceMap) -> Result<Vec<String>, String> {
    let mut contacts: Vec<(String, Json)> = Vec::new();
    let mut records: Vec<(i64, String, Json)> = Vec::new();
    let mut forced: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut holdouts = false;
    let mut until = None;
    for item in &test.items {
        match item {
            TestItem::Contact { name, attributes, .. } => contacts.push((name.as_str().to_string(), fields(attributes)?)),
            TestItem::Record { at, contact, record, .. } => {
                let base = json!({ "userId": contact.as_str(), "timestamp": journey_vm::value::format_instant(at.millis) });
                let mut value = base;
                match record {
                    TestRecord::Track { event, properties } => {
                        let input_name = program
                            .events
                            .iter()
                            .find(|e| e.name == event.as_str())
                            .map(|e| e.input_name.clone())
                            .unwrap_or_else(|| event.as_str().into());
                        value["type"] = json!("track");
                        value["event"] = json!(input_name);
                        value["properties"] = fields(properties)?;
                    }
                    TestRecord::Identify(traits) => {
                        value["type"] = json!("identify");
                        value["traits"] = fields(traits)?;
                    }
                    TestRecord::Exit { journey } => {
                        value["type"] = json!("exit");
                        value["journey"] = json!(journey.as_str());
                    }
                }
                records.push((at.millis, contact.as_str().to_string(), value));
            }
            TestItem::Assign { contact, experiment, arm, .. } => {
                forced.entry(contact.as_str().to_string()).or_default().push((experiment.as_str().to_string(), arm.as_str().to_string()))
            }
            TestItem::HoldoutOn(_) => holdouts = true,
            TestItem::RunUntil(t) => until = Some(t.millis),
            TestItem::Expect(_) | TestItem::Error(_) => {}
        }
    }
    let until = until.ok_or("the test has no `run until`")?;
    let start = records.iter().map(|r| r.0).min().unwrap_or(until - YEAR_MS);
    let mut lines = Vec::new();
    for (name, attrs) in &contacts {
        lines.push(json!({ "type": "identify", "userId": name, "timestamp": journey_vm::value::format_instant(start), "traits": attrs }).to_string());
    }
    lines.extend(records.iter().map(|r| r.2.to_string()));
    let decoder = journey_runtime::input::Decoder::new(program);
    let mut cohort = journey_runtime::Cohort::new(None, until + 1);
    cohort.ingest(&decoder, "test", std::io::Cursor::new(lines.join("\n"))).map_err(|e| e.to_string())?;
    if let Some(reject) = cohort.rejects.first() {
        return Err(format!("a test record does not fit the schema: {} ({})", reject.reason, reject.text));
    }
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut vm = Vm::new(program);
    for (contact, input) in cohort.into_inputs() {
        vm.options = Options { holdouts, forced_arms: forced.get(&contact).cloned().unwrap_or_default(), ..Options::default() };
        let mut state = ContactState::new(program);
        let mut actions = journey_vm::Actions::new();
        let before: Vec<u64> = vm.condition_errors().map(|(_, n)| n).collect();
        vm.run(&contact, &mut state, &input, until, &mut actions);
        // The VM counts each contact once per condition and reason: this one's are those whose
        // count grew, or that are new.
        let condition_errors = vm
            .condition_errors()
            .enumerate()
            .filter(|(i, (_, n))| before.get(*i).is_none_or(|b| n > b))
            .map(|(_, (name, _))| name.to_string())
            .collect();
        outcomes.insert(contact, Outcome { actions, state, condition_errors });
    }
    let mut failures = Vec::new();
    // Each contact a failed expectation is about, in the order of its first failure: its
    // timeline is shown once, after the last of its failures.
    let mut failed: Vec<&str> = Vec::new();
    let empty = Outcome { actions: journey_vm::Actions::new(), state: ContactState::new(program), condition_errors: Vec::new() };
    for item in &test.items {
        let TestItem::Expect(expectation) = item else { continue };
        let contact = expectation.contact.as_str();
        let outcome = outcomes.get(contact).unwrap_or(&empty);
        if let Some(found) = check(program, &expectation.kind, outcome) {
            let line = journey_diagnostics::Position::of(sources, expectation.span.file, expectation.span.start as usize).line;
            failures.push((contact, format!("line {line}: expected {contact}{}\n  {found}\n", describe(&expectation.kind))));
            if !failed.contains(&contact) {
                failed.push(contact);
            }
        }
    }
    for contact in failed {
        let outcome = outcomes.get(contact).unwrap_or(&empty);
        let mut timeline = format!("  timeline of {contact}:\n");
        if outcome.actions.is_empty() {
            timeline.push_str("    (no actions)\n");
        }
        for a in &outcome.actions {
            timeline.push_str(&format!("    {}\n", timeline_line(program, &outcome.actions.rendered, a)));
        }
        for error in &outcome.condition_errors {
            timeline.push_str(&format!("    could not be evaluated, taken as false: {error}\n"));
        }
        if let Some((_, last)) = failures.iter_mut().rev().find(|(c, _)| *c == contact) {
            last.push_str(&timeline);
        }
    }
    Ok(failures.into_iter().map(|(_, report)| report).collect())
}

/// One action as a readable timeline line; `rendered` holds its texts (the
/// [`journey_vm::Actions`] it is one of).
pub fn timeline_line(program: &Program, rendered: &journey_vm::Rendered, a: &Action) -> String {
    let journey = program.journeys.get(a.journey as usize).map(|j| j.name.as_str()).unwrap_or("?");
    let step = a
        .step
        .and_then(|s| program.journeys.get(a.journey as usize).and_then(|j| j.step_ids.get(s as usize)))
        .map(|s| format!(" [{s}]"))
        .unwrap_or_default();
    let detail = match &a.kind {
        ActionKind::Enter { trigger, holdout } => {
            format!("enter ({}){}", output::trigger_text(program, trigger), if *holdout { " holdout" } else { "" })
        }
        ActionKind::Send { message, .. } => format!("send {}", program.messages.get(*message as usize).map(|m| m.name.as_str()).unwrap_or("?")),
        ActionKind::HeldOut(held) => format!("held_out {}", output::action_word(&held.kind())),
        ActionKind::Suppressed { message } => {
            format!("suppressed {} (cap)", program.messages.get(*message as usize).map(|m| m.name.as_str()).unwrap_or("?"))
        }
        ActionKind::Assign { pc, arm } => {
            let (experiment, arm) = output::assignment(program, a.journey, *pc, *arm);
            format!("assign {} → {arm}", experiment.unwrap_or("split"))
        }
        ActionKind::Set { attribute, value } => {
            format!("set {} = {}", program.attributes.get(*attribute as usize).map(|a| a.name.as_str()).unwrap_or("?"), rendered.text(program, value))
        }
        ActionKind::Sync { audience, add } => {
            format!("sync {} {}", program.audiences.get(*audience as usize).map(String::as_str).unwrap_or("?"), if *add { "add" } else { "remove" })
        }
        ActionKind::Webhook { webhook } => format!("webhook {}", program.webhooks.get(*webhook as usize).map(String::as_str).unwrap_or("?")),
        ActionKind::Error { reason } => format!("error: {}", rendered.text(program, reason)),
        ActionKind::Exit { reason } => format!("exit ({})", output::reason_text(program, a.journey, reason)),
    };
    format!("{}  {journey}{step}  {detail}", journey_vm::value::format_instant(a.at))
}

fn describe(kind: &ExpectKind) -> String {
    match kind {
        ExpectKind::Sent { message, negated: false, at, arm } => format!(
            " sent {}{}{}",
            message.as_str(),
            at.map(|t| format!(" at {}", journey_vm::value::format_instant(t.millis))).unwrap_or_default(),
            arm.map(|a| format!(" arm {}", a.as_str())).unwrap_or_default()
        ),
        ExpectKind::Sent { message, .. } => format!(" not sent {}", message.as_str()),
        ExpectKind::InJourney { journey, negated: false, at_step } => {
            format!(" in {}{}", journey.as_str(), at_step.map(|s| format!(" at {}", s.as_str())).unwrap_or_default())
        }
        ExpectKind::InJourney { journey, .. } => format!(" not in {}", journey.as_str()),
        ExpectKind::Exited { journey, by } => format!(
            " exited {}{}",
            journey.as_str(),
            match by {
                Some(ExitBy::Reason(r)) => format!(" by \"{}\"", r.value),
                Some(ExitBy::Goal(g)) => format!(" by goal {}", g.as_str()),
                Some(ExitBy::Kind(k)) => format!(" by {}", k.as_str()),
                None => String::new(),
            }
        ),
        ExpectKind::Attribute { attribute, op, value } => {
            format!(".{} {} {}", attribute.as_str(), op.as_str(), literal(value).map(|v| v.to_string()).unwrap_or_default())
        }
    }
}

fn journey_index(program: &Program, name: &str) -> Option<usize> {
    program.journeys.iter().position(|j| j.name == name)
}

/// `None` when the expectation holds; otherwise what was found instead.
fn check(program: &Program, kind: &ExpectKind, o: &Outcome) -> Option<String> {
    let assigned = |a: &Action| match a.kind {
        ActionKind::Assign { pc, arm } => Some(output::assignment(program, a.journey, pc, arm).1),
        _ => None,
    };
    let message_of = |a: &Action| match &a.kind {
        ActionKind::Send { message, .. } => program.messages.get(*message as usize).map(|m| m.name.as_str()),
        _ => None,
    };
    match kind {
        ExpectKind::Sent { message, negated, at, arm } => {
            let sends: Vec<&Action> = o.actions.iter().filter(|a| message_of(a) == Some(message.as_str())).collect();
            if *negated {
                return sends.first().map(|a| format!("but it was sent at {}", journey_vm::value::format_instant(a.at)));
            }
            if sends.is_empty() {
                return Some("but it was never sent".into());
            }
            let matching: Vec<&&Action> = sends.iter().filter(|a| at.is_none_or(|t| a.at == t.millis)).collect();
            if matching.is_empty() {
                let times: Vec<String> = sends.iter().map(|a| journey_vm::value::format_instant(a.at)).collect();
                return Some(format!("but it was sent at {}", times.join(", ")));
            }
            if let Some(arm) = arm {
                let ok = matching
                    .iter()
                    .any(|send| o.actions.iter().any(|a| a.journey == send.journey && a.at <= send.at && assigned(a) == Some(arm.as_str())));
                if !ok {
                    let arms: Vec<String> = o.actions.iter().filter_map(|a| assigned(a).map(str::to_string)).collect();
                    return Some(format!("but the contact was assigned {}", if arms.is_empty() { "no arm".into() } else { arms.join(", ") }));
                }
            }
            None
        }
        ExpectKind::InJourney { journey, negated, at_step } => {
            let Some(j) = journey_index(program, journey.as_str()) else { return Some("but there is no such journey".into()) };
            let slot = o.state.slots.get(j)?;
            let active = slot.status == journey_vm::engine::ACTIVE;
            if *negated {
                return active.then(|| "but the contact is still enrolled".to_string());
            }
            if !active {
                return Some("but the contact is not enrolled".into());
            }
            if let Some(step) = at_step {
                let here = program.journeys[j]
                    .code
                    .get(slot.pc as usize)
                    .and_then(|op| op.step())
                    .and_then(|s| program.journeys[j].step_ids.get(s as usize));
                if here.map(String::as_str) != Some(step.as_str()) {
                    return Some(format!("but the contact is at step {}", here.map(String::as_str).unwrap_or("?")));
                }
            }
            None
        }
        ExpectKind::Exited { journey, by } => {
            let Some(j) = journey_index(program, journey.as_str()) else { return Some("but there is no such journey".into()) };
            let exits: Vec<String> = o
                .actions
                .iter()
                .filter(|a| a.journey as usize == j)
                .filter_map(|a| match &a.kind {
                    ActionKind::Exit { reason } => Some(output::reason_text(program, a.journey, reason)),
                    _ => None,
                })
                .collect();
            let wanted = by.as_ref().map(|b| match b {
                ExitBy::Reason(r) => r.value.clone(),
                ExitBy::Goal(g) => format!("goal:{}", g.as_str()),
                ExitBy::Kind(k) => k.as_str().to_string(),
            });
            match (exits.is_empty(), wanted) {
                (true, _) => Some("but the contact never left it".into()),
                (false, None) => None,
                (false, Some(w)) if exits.contains(&w) => None,
                (false, Some(_)) => Some(format!("but it left by {}", exits.join(", "))),
            }
        }
        ExpectKind::Attribute { attribute, op, value } => {
            let Some(a) = program.attributes.iter().position(|x| x.name == attribute.as_str()) else {
                return Some("but there is no such attribute".into());
            };
            let actual = o.state.attrs.get(a).copied().unwrap_or_default();
            let strings = journey_vm::value::Strings::new(program, &o.state.heap);
            let actual_json: Json = serde_json::from_str(&strings.json(actual)).unwrap_or(Json::Null);
            let expected = literal(value).unwrap_or(Json::Null);
            let actual_json = match (&program.attributes[a].ty, actual) {
                (journey_bytecode::ValueType::Enum(_), journey_vm::Value::Enum(e, v)) => {
                    json!(program.enums.get(e as usize).and_then(|en| en.variants.get(v as usize)).cloned().unwrap_or_default())
                }
                _ => actual_json,
            };
            let ordering = match (actual_json.as_f64(), expected.as_f64()) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => match (actual_json.as_str(), expected.as_str()) {
                    (Some(x), Some(y)) => Some(x.cmp(y)),
                    _ => None,
                },
            };
            let holds = match op {
                ast::BinOp::Eq => actual_json == expected || ordering == Some(std::cmp::Ordering::Equal),
                ast::BinOp::Ne => !(actual_json == expected || ordering == Some(std::cmp::Ordering::Equal)),
                ast::BinOp::Lt => ordering.is_some_and(|o| o.is_lt()),
                ast::BinOp::Le => ordering.is_some_and(|o| o.is_le()),
                ast::BinOp::Gt => ordering.is_some_and(|o| o.is_gt()),
                ast::BinOp::Ge => ordering.is_some_and(|o| o.is_ge()),
                _ => false,
            };
            (!holds).then(|| format!("but {} is {actual_json}", attribute.as_str()))
        }
    }
}
