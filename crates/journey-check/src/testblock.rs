//! `test` blocks (LANGUAGE.md §5): every name they use resolves, every record fits the declared
//! types, and the expectations name things that exist (messages, journeys, steps, goals, arms).

use crate::types::Type;
use crate::{Checker, Cx};
use journey_diagnostics::{Diagnostic, Span};
use journey_syntax::Symbol;
use journey_syntax::ast::{self, ExitBy, ExpectKind, ItemKind, TestItem, TestRecord};
use std::collections::HashMap;

const EXIT_KINDS: &[&str] = &["manual", "limit", "completed", "error", "exit"];

impl<'a> Checker<'a> {
    pub(crate) fn check_tests(&mut self) {
        let modules = self.modules;
        let mut names: HashMap<String, Span> = HashMap::new();
        for module in modules {
            for item in &module.items {
                let ItemKind::Test(test) = &item.kind else { continue };
                if let Some(&first) = names.get(&test.name.value) {
                    self.emit(
                        Diagnostic::error("J0120", format!("two tests are named \"{}\"", test.name.value), test.name.span)
                            .with_label("same name")
                            .with_secondary(first, "first test with this name")
                            .with_help("test names identify failures in `journey test` output; make them unique"),
                    );
                }
                names.insert(test.name.value.clone(), test.name.span);
                self.check_test(test, item.span);
            }
        }
    }

    fn check_test(&mut self, test: &ast::TestDecl, span: Span) {
        let cx = Cx { no_trigger_reason: "tests have no enrolling event", ..Cx::default() };
        let mut contacts: HashMap<Symbol, Span> = HashMap::new();
        let mut has_run = false;
        for item in &test.items {
            match item {
                TestItem::Contact { name, attributes, .. } => {
                    if let Some(&first) = contacts.get(&name.name) {
                        self.emit(
                            Diagnostic::error("J0122", format!("test contact `{}` is declared twice", name.as_str()), name.span)
                                .with_label("declared again")
                                .with_secondary(first, "first declared here"),
                        );
                    }
                    contacts.insert(name.name, name.span);
                    self.check_attributes(attributes, &cx);
                }
                TestItem::Record { contact, record, .. } => {
                    self.test_contact(&contacts, *contact);
                    match record {
                        TestRecord::Track { event, properties } => {
                            let Some(event_id) = self.events.get(&event.name).copied() else {
                                let c = crate::names(&self.events);
                                self.unknown(
                                    "J0102",
                                    "event",
                                    *event,
                                    c,
                                    Some("records are `<contact> <event> {…}`, `<contact> sets {…}` or `<contact> exits <journey>`".into()),
                                );
                                continue;
                            };
                            self.refer(crate::DefKind::Event, event_id.0, event.span);
                            let fields = self.program.events[event_id.0 as usize].fields.clone();
                            let mut given = Vec::new();
                            for property in properties {
                                match fields.iter().find(|(n, _)| *n == property.name.name) {
                                    Some((_, ty)) => {
                                        self.expect_type(&property.value, &cx, ty, &format!("property `{}`", property.name.as_str()));
                                        given.push(property.name.name);
                                    }
                                    None => {
                                        let candidates: Vec<Symbol> = fields.iter().map(|(n, _)| *n).collect();
                                        let meant = Self::meant(property.name.as_str(), candidates.iter().map(|c| c.as_str()));
                                        let d = Diagnostic::error(
                                            "J0110",
                                            format!("event `{}` has no field `{}`", event.as_str(), property.name.as_str()),
                                            property.name.span,
                                        )
                                        .with_label("unknown field")
                                        .with_suggestion(meant, || None);
                                        self.emit(d);
                                    }
                                }
                            }
                            let missing: Vec<String> =
                                fields.iter().filter(|(n, ty)| !ty.is_optional() && !given.contains(n)).map(|(n, _)| format!("`{n}`")).collect();
                            if !missing.is_empty() {
                                self.emit(
                                    Diagnostic::error("J0139", format!("`{}` record is missing {}", event.as_str(), missing.join(", ")), event.span)
                                        .with_label("incomplete event")
                                        .with_help("give every required field of the event; input records missing them would be rejected"),
                                );
                            }
                        }
                        TestRecord::Identify(attributes) => self.check_attributes(attributes, &cx),
                        TestRecord::Exit { journey } => {
                            self.test_journey(*journey);
                        }
                    }
                }
                TestItem::Assign { contact, experiment, arm, .. } => {
                    self.test_contact(&contacts, *contact);
                    self.test_arm(Some(*experiment), *arm);
                }
                TestItem::HoldoutOn(_) => {}
                TestItem::RunUntil(_) => has_run = true,
                TestItem::Expect(expectation) => {
                    self.test_contact(&contacts, expectation.contact);
                    self.check_expectation(&expectation.kind, &cx);
                }
                TestItem::Error(_) => {}
            }
        }
        // A record at or after `run until` is outside the test's window: it would never be
        // evaluated (and `journey test` could only say that the run rejected it). So is a send
        // expected at or after it: it can never be seen.
        let until = test.items.iter().find_map(|i| if let TestItem::RunUntil(u) = i { Some(*u) } else { None });
        if let Some(until) = until {
            for item in &test.items {
                let (at, message, label, help) = match item {
                    TestItem::Record { at, .. } => {
                        (at, "test record", "never evaluated", "move `run until` past the last record, or the record before it")
                    }
                    TestItem::Expect(ast::Expectation { kind: ast::ExpectKind::Sent { at: Some(at), negated: false, .. }, .. }) => {
                        (at, "send expected", "outside the test's window", "move `run until` past the instant the send is expected at")
                    }
                    _ => continue,
                };
                if at.millis >= until.millis {
                    self.emit(
                        Diagnostic::error("J0157", format!("{message} at or after `run until`"), at.span)
                            .with_label(label)
                            .with_secondary(until.span, "the test's window ends here (exclusive)")
                            .with_help(help),
                    );
                }
            }
        }
        // A test with a syntax error may have lost its `run until` to it (`run until 2026-01-02`):
        // the syntax error is the one to fix.
        let broken = test.items.iter().any(|item| matches!(item, TestItem::Error(_)));
        if !has_run && !broken {
            let head = Span { end: span.start + 4, ..span };
            self.emit(
                Diagnostic::error("J0154", format!("test \"{}\" has no `run until`", test.name.value), head)
                    .with_label("never runs")
                    .with_help("add `run until <instant>` after the records and before the expectations"),
            );
        }
    }

    fn check_attributes(&mut self, attributes: &[ast::RecordField], cx: &Cx) {
        for attribute in attributes {
            match self.attrs.get(&attribute.name.name).copied() {
                Some(id) => {
                    self.refer(crate::DefKind::Attribute, id.0, attribute.name.span);
                    let ty = self.program.attributes[id.0 as usize].ty.clone();
                    // Test data may clear an optional attribute with `none`.
                    self.expect_type(&attribute.value, cx, &ty, &format!("`contact.{}`", attribute.name.as_str()));
                }
                None => {
                    let c = crate::names(&self.attrs);
                    self.unknown("J0101", "contact attribute", attribute.name, c, None);
                }
            }
        }
    }

    fn test_contact(&mut self, contacts: &HashMap<Symbol, Span>, contact: ast::Ident) {
        if !contacts.contains_key(&contact.name) {
            let candidates: Vec<Symbol> = contacts.keys().copied().collect();
            let meant = Self::meant(contact.as_str(), candidates.iter().map(|c| c.as_str()));
            self.emit(
                Diagnostic::error("J0153", format!("unknown test contact `{}`", contact.as_str()), contact.span)
                    .with_label("not declared in this test")
                    .with_suggestion(meant, || Some(format!("declare it first: `contact {} {{ … }}`", contact.as_str()))),
            );
        }
    }

    fn test_journey(&mut self, journey: ast::Ident) -> Option<usize> {
        match self.journeys.get(&journey.name).copied() {
            Some(id) => {
                self.refer(crate::DefKind::Journey, id.0, journey.span);
                Some(id.0 as usize)
            }
            None => {
                let c = crate::names(&self.journeys);
                self.unknown("J0106", "journey", journey, c, None);
                None
            }
        }
    }

    fn test_arm(&mut self, experiment: Option<ast::Ident>, arm: ast::Ident) {
        let arms: Vec<Symbol> = match experiment {
            Some(e) => match self.experiments.get(&e.name) {
                Some((_, arms)) => arms.clone(),
                None => {
                    let c = crate::names(&self.experiments);
                    self.unknown("J0114", "experiment", e, c, None);
                    return;
                }
            },
            None => self.experiments.values().flat_map(|(_, arms)| arms.iter().copied()).collect(),
        };
        if !arms.contains(&arm.name) {
            self.unknown("J0115", "experiment arm", arm, arms, None);
        }
    }

    fn check_expectation(&mut self, kind: &ExpectKind, cx: &Cx) {
        match kind {
            ExpectKind::Sent { message, arm, .. } => {
                match self.messages.get(&message.name).copied() {
                    Some(m) => self.refer(crate::DefKind::Message, m.0, message.span),
                    None => {
                        let c = crate::names(&self.messages);
                        self.unknown("J0103", "message", *message, c, None);
                    }
                }
                if let Some(arm) = arm {
                    self.test_arm(None, *arm);
                }
            }
            ExpectKind::InJourney { journey, at_step, .. } => {
                let Some(index) = self.test_journey(*journey) else { return };
                if let Some(step) = at_step {
                    let ids = step_ids(&self.program.journeys[index].body);
                    if !ids.contains(&step.name) {
                        self.unknown("J0113", "step", *step, ids, None);
                    }
                }
            }
            ExpectKind::Exited { journey, by } => {
                let Some(index) = self.test_journey(*journey) else { return };
                match by {
                    Some(ExitBy::Goal(goal)) => {
                        let goals: Vec<Symbol> = self.program.journeys[index].goals.iter().map(|g| g.name).collect();
                        if !goals.contains(&goal.name) {
                            self.unknown("J0112", "goal", *goal, goals, None);
                        }
                    }
                    Some(ExitBy::Kind(kind)) if !EXIT_KINDS.contains(&kind.as_str()) => {
                        let meant = Self::meant(kind.as_str(), EXIT_KINDS.iter().copied());
                        self.emit(
                            Diagnostic::error("J0155", format!("unknown exit kind `{}`", kind.as_str()), kind.span)
                                .with_label("not an exit kind")
                                .with_suggestion(meant, || {
                                    Some("write `by \"reason\"`, `by goal <name>`, or one of manual, limit, completed, error, exit".into())
                                }),
                        );
                    }
                    _ => {}
                }
            }
            ExpectKind::Attribute { attribute, value, op } => match self.attrs.get(&attribute.name).copied() {
                Some(id) => {
                    self.refer(crate::DefKind::Attribute, id.0, attribute.span);
                    let ty = self.program.attributes[id.0 as usize].ty.clone();
                    let checked = self.expr(value, cx, Some(&ty));
                    let ordered = !matches!(op, ast::BinOp::Eq | ast::BinOp::Ne);
                    if ordered && (ty.is_optional() || matches!(ty, Type::Bool | Type::Enum(_) | Type::List(_))) {
                        let t = self.type_name(&ty);
                        self.emit(
                            Diagnostic::error("J0130", format!("cannot order `{t}` values with `{}`", op.as_str()), value.span)
                                .with_label("not ordered")
                                .with_help("use `==` or `!=`"),
                        );
                    } else {
                        self.coerce(checked, &ty, &format!("`contact.{}`", attribute.as_str()));
                    }
                }
                None => {
                    let c = crate::names(&self.attrs);
                    self.unknown("J0101", "contact attribute", *attribute, c, None);
                }
            },
        }
    }
}

/// Every step id of a journey body (labels and `s<n>`).
pub fn step_ids(steps: &[crate::ir::Step]) -> Vec<Symbol> {
    let mut out = Vec::new();
    crate::inventory::walk_steps(steps, &mut |s| out.push(s.id));
    out
}
