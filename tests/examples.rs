//! The reference project in `examples/` is the product's showcase: it must parse without a single
//! diagnostic, and together its files must use every declaration kind of LANGUAGE.md.

use journey_syntax::ast::{ClauseKind, ItemKind, Schedule, StepKind};
use journey_syntax::project::ParsedProject;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn load() -> ParsedProject {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    ParsedProject::load(&[dir]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn examples_check_cleanly_without_warnings() {
    let project = load();
    assert!(project.modules.len() >= 6);
    let checked = journey_check::check(&project);
    let all = journey_check::all_diagnostics(&project, &checked);
    let rendered = journey_diagnostics::render_terminal(&project.sources, &all, false);
    assert!(all.is_empty(), "{rendered}");
    assert!(checked.program.journeys.len() >= 5);
}

#[test]
fn step_ids_are_labels_or_preorder_positions() {
    let project = load();
    let checked = journey_check::check(&project);
    let welcome = checked.program.journeys.iter().find(|j| j.name.as_str() == "welcome").unwrap_or_else(|| panic!("no welcome"));
    let mut ids = Vec::new();
    journey_check::inventory::walk_steps(&welcome.body, &mut |s| ids.push(s.id.as_str()));
    assert_eq!(ids, ["intro", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18"]);
}

fn visit_steps(steps: &[journey_syntax::ast::Step], seen: &mut BTreeSet<&'static str>) {
    for step in steps {
        let (name, children): (&'static str, Vec<&[journey_syntax::ast::Step]>) = match &step.kind {
            StepKind::Send(_) => ("send", vec![]),
            StepKind::Sync { .. } => ("sync", vec![]),
            StepKind::Webhook(_) => ("webhook", vec![]),
            StepKind::Set { .. } => ("set", vec![]),
            StepKind::Enroll(_) => ("enroll", vec![]),
            StepKind::WaitFor(_) => ("wait-duration", vec![]),
            StepKind::WaitUntil(_) => ("wait-until-time", vec![]),
            StepKind::WaitUntilClock { weekday: None, .. } => ("wait-until-clock", vec![]),
            StepKind::WaitUntilClock { weekday: Some(_), .. } => ("wait-until-weekday", vec![]),
            StepKind::WaitEvent { on_event, on_timeout, .. } => {
                ("wait-for", on_event.iter().chain(on_timeout.iter()).map(|b| b.as_slice()).collect())
            }
            StepKind::WaitCondition { on_met, on_timeout, .. } => {
                ("wait-until-cond", on_met.iter().chain(on_timeout.iter()).map(|b| b.as_slice()).collect())
            }
            StepKind::If { branches, otherwise } => {
                ("if", branches.iter().map(|b| b.1.as_slice()).chain(otherwise.iter().map(|o| o.as_slice())).collect())
            }
            StepKind::Match { arms, .. } => ("match", arms.iter().map(|a| a.body.as_slice()).collect()),
            StepKind::Split { arms } => ("split", arms.iter().map(|a| a.body.as_slice()).collect()),
            StepKind::Experiment { arms, .. } => ("experiment", arms.iter().map(|a| a.body.as_slice()).collect()),
            StepKind::Exit(_) => ("exit", vec![]),
            StepKind::Error => ("error", vec![]),
        };
        seen.insert(name);
        if step.label.is_some() {
            seen.insert("label");
        }
        for child in children {
            visit_steps(child, seen);
        }
    }
}

#[test]
fn examples_use_every_construct() {
    let project = load();
    let mut seen = BTreeSet::new();
    for module in &project.modules {
        for item in &module.items {
            match &item.kind {
                ItemKind::Journey(j) => {
                    seen.insert("journey");
                    for clause in &j.clauses {
                        seen.insert(match &clause.kind {
                            ClauseKind::Kind(_) => "kind",
                            ClauseKind::EntryOn { .. } => "entry-on",
                            ClauseKind::EntryWhen(_) => "entry-when",
                            ClauseKind::EntryAt { .. } => "entry-at",
                            ClauseKind::EntryEvery { schedule: Schedule::Daily(_), .. } => "every-day",
                            ClauseKind::EntryEvery { schedule: Schedule::Weekly { .. }, .. } => "every-weekday",
                            ClauseKind::EntryEvery { schedule: Schedule::Interval(_), .. } => "every-interval",
                            ClauseKind::EntryEvery { schedule: Schedule::Yearly { .. }, .. } => "every-year",
                            ClauseKind::Reentry(_) => "reentry",
                            ClauseKind::ExitOn { .. } => "exit-on",
                            ClauseKind::GoalOn { .. } => "goal-on",
                            ClauseKind::GoalWhen { .. } => "goal-when",
                            ClauseKind::Limit(_) => "limit",
                            ClauseKind::Holdout(_) => "holdout",
                            ClauseKind::Priority(_) => "priority",
                            ClauseKind::Version(_) => "version",
                            ClauseKind::Migrate(_) => "migrate",
                        });
                    }
                    visit_steps(&j.body, &mut seen);
                }
                ItemKind::Contact(_) => drop(seen.insert("contact")),
                ItemKind::Enum(_) => drop(seen.insert("enum")),
                ItemKind::Event(e) => {
                    seen.insert("event");
                    if e.engagement.is_some() {
                        seen.insert("engagement");
                    }
                    if e.source.is_some() {
                        seen.insert("event-source");
                    }
                }
                ItemKind::Message(m) => {
                    seen.insert(m.channel.as_str());
                    if m.transactional {
                        seen.insert("transactional");
                    }
                }
                ItemKind::Audience { .. } => drop(seen.insert("audience")),
                ItemKind::Webhook { .. } => drop(seen.insert("webhook-decl")),
                ItemKind::Policy(_) => drop(seen.insert("policy")),
                ItemKind::Test(_) => drop(seen.insert("test")),
                ItemKind::Import(_) | ItemKind::Error => {}
            }
        }
    }
    let required = [
        "journey",
        "kind",
        "entry-on",
        "entry-when",
        "entry-at",
        "every-day",
        "every-weekday",
        "every-interval",
        "every-year",
        "reentry",
        "exit-on",
        "goal-on",
        "goal-when",
        "limit",
        "holdout",
        "priority",
        "version",
        "migrate",
        "send",
        "sync",
        "webhook",
        "set",
        "enroll",
        "wait-duration",
        "wait-until-time",
        "wait-until-clock",
        "wait-until-weekday",
        "wait-for",
        "wait-until-cond",
        "if",
        "match",
        "split",
        "experiment",
        "exit",
        "label",
        "contact",
        "enum",
        "event",
        "engagement",
        "event-source",
        "email",
        "sms",
        "push",
        "transactional",
        "audience",
        "webhook-decl",
        "policy",
        "test",
    ];
    let missing: Vec<_> = required.iter().filter(|r| !seen.contains(*r)).collect();
    assert!(missing.is_empty(), "examples never use: {missing:?}");
}
