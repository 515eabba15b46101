//! Parser unit tests: the precedence table, the `has … where … within` binding rules, templates,
//! keywords as names, doc comments and error recovery, asserted on the tree's shape.

use crate::ast::*;
use crate::{FileId, parse};

/// A compact S-expression of an expression, so assertions read like the intended grouping.
fn sexp(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Float(v) => format!("{v:?}"),
        ExprKind::Str(t) => format!("{:?}", t.as_plain().unwrap_or_else(|| "<template>".into())),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::None => "none".into(),
        ExprKind::Duration(s) => format!("{s}s"),
        ExprKind::Instant(ms) => format!("@{ms}"),
        ExprKind::Date(d) => format!("date{d}"),
        ExprKind::Clock(m) => format!("clock{m}"),
        ExprKind::List(items) => format!("[{}]", items.iter().map(sexp).collect::<Vec<_>>().join(" ")),
        ExprKind::Name(n) => n.as_str().to_string(),
        ExprKind::Contact => "contact".into(),
        ExprKind::Event => "event".into(),
        ExprKind::Field(base, f) => format!("{}.{}", sexp(base), f.as_str()),
        ExprKind::Call(f, args) => format!("({} {})", f.as_str(), args.iter().map(sexp).collect::<Vec<_>>().join(" ")),
        ExprKind::Unary(op, e) => format!("({} {})", if *op == UnOp::Not { "not" } else { "neg" }, sexp(e)),
        ExprKind::Binary(op, a, b) => format!("({} {} {})", op.as_str(), sexp(a), sexp(b)),
        ExprKind::Has { event, cond, window } => {
            let mut s = format!("(has {}", event.as_str());
            if let Some(c) = cond {
                s.push_str(&format!(" where {}", sexp(c)));
            }
            match window {
                Some(Window::Within(d)) => s.push_str(&format!(" within {}s", d.seconds)),
                Some(Window::SinceEntry(_)) => s.push_str(" since-entry"),
                None => {}
            }
            s + ")"
        }
        ExprKind::Count { event, cond, since_entry } => format!(
            "(count {}{}{})",
            event.as_str(),
            cond.as_ref().map(|c| format!(" where {}", sexp(c))).unwrap_or_default(),
            if *since_entry { " since-entry" } else { "" }
        ),
        ExprKind::Last { event, cond } => {
            format!("(last {}{})", event.as_str(), cond.as_ref().map(|c| format!(" where {}", sexp(c))).unwrap_or_default())
        }
        ExprKind::InJourney(j) => format!("(in-journey {})", j.as_str()),
        ExprKind::Error => "<error>".into(),
    }
}

fn parse_ok(src: &str) -> Module {
    let (module, diagnostics) = parse(FileId(0), src);
    assert!(diagnostics.is_empty(), "unexpected diagnostics for {src:?}: {diagnostics:#?}");
    module
}

fn journey_body(src: &str) -> Vec<Step> {
    let module = parse_ok(&format!("journey j {{\n{src}\n}}"));
    match module.items.into_iter().next().map(|i| i.kind) {
        Some(ItemKind::Journey(j)) => j.body,
        other => panic!("expected a journey, got {other:?}"),
    }
}

/// The condition of `if <cond> {}`.
fn cond(src: &str) -> String {
    match journey_body(&format!("if {src} {{ }}")).remove(0).kind {
        StepKind::If { branches, .. } => sexp(&branches[0].0),
        other => panic!("expected if, got {other:?}"),
    }
}

#[test]
fn precedence_follows_the_table() {
    assert_eq!(cond("a or b and not c"), "(or a (and b (not c)))");
    assert_eq!(cond("contact.trial_ends_at ?? now - 3d"), "(?? contact.trial_ends_at (- now 259200s))");
    assert_eq!(cond("(contact.trial_ends_at ?? now) - 3d"), "(- (?? contact.trial_ends_at now) 259200s)");
    assert_eq!(cond("a ?? b ?? c"), "(?? a (?? b c))");
    assert_eq!(cond("1 + 2 * -3 - 4 / 2"), "(- (+ 1 (* 2 (neg 3))) (/ 4 2))");
    assert_eq!(cond("\"vip\" in contact.lists"), "(in \"vip\" contact.lists)");
    assert_eq!(cond("lower(contact.email) == \"x\""), "(== (lower contact.email) \"x\")");
}

#[test]
fn where_extends_right_and_within_binds_to_the_nearest_has() {
    assert_eq!(cond("has e where a and b"), "(has e where (and a b))");
    assert_eq!(cond("has e and b"), "(and (has e) b)");
    assert_eq!(cond("has e within 1d and b"), "(and (has e within 86400s) b)");
    assert_eq!(cond("has e where x within 1d"), "(has e where x within 86400s)");
    assert_eq!(cond("has e where has f within 1d"), "(has e where (has f within 86400s))");
    assert_eq!(cond("not has e since entry or x"), "(or (not (has e since-entry)) x)");
    assert_eq!(cond("count(e where x > 1 since entry) >= 2"), "(>= (count e where (> x 1) since-entry) 2)");
    assert_eq!(cond("last(e where event.a == 1) != none"), "(!= (last e where (== event.a 1)) none)");
    assert_eq!(cond("in journey welcome"), "(in-journey welcome)");
}

#[test]
fn the_last_within_in_a_wait_belongs_to_the_wait() {
    match journey_body("wait for e where has x within 3d").remove(0).kind {
        StepKind::WaitEvent { cond, within, .. } => {
            assert_eq!(sexp(&cond.unwrap_or_else(|| panic!("no cond"))), "(has x)");
            assert_eq!(within.seconds, 3 * 86_400);
        }
        other => panic!("{other:?}"),
    }
    match journey_body("wait until has e where c within 7d { send m } timeout { exit }").remove(0).kind {
        StepKind::WaitCondition { cond, within, on_met, on_timeout } => {
            assert_eq!(sexp(&cond), "(has e where c)");
            assert_eq!(within.seconds, 7 * 86_400);
            assert_eq!(on_met.map(|b| b.len()), Some(1));
            assert_eq!(on_timeout.map(|b| b.len()), Some(1));
        }
        other => panic!("{other:?}"),
    }
    match journey_body("wait until (has e within 1d) and x within 3d").remove(0).kind {
        StepKind::WaitCondition { cond, .. } => assert_eq!(sexp(&cond), "(and (has e within 86400s) x)"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wait_forms() {
    let body = journey_body("wait 1d 12h\nwait until now + 1h\nwait until 09:00\nwait until monday 10:30");
    assert!(matches!(body[0].kind, StepKind::WaitFor(DurationLit { seconds: 129_600, .. })));
    assert!(matches!(body[1].kind, StepKind::WaitUntil(_)));
    assert!(matches!(body[2].kind, StepKind::WaitUntilClock { weekday: None, at: ClockLit { minutes: 540, .. } }));
    match &body[3].kind {
        StepKind::WaitUntilClock { weekday: Some(day), at } => {
            assert_eq!(day.as_str(), "monday");
            assert_eq!(at.minutes, 630);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn labels_blocks_and_arms() {
    let body = journey_body(
        "intro: send a\nsplit { 30% { send b } 70% { } }\nexperiment x measure g { a 50% { send c }, b 50% { } }\nmatch contact.plan { pro | enterprise => { exit } _ => { exit \"r\" } }",
    );
    assert_eq!(body[0].label.map(|l| l.as_str()), Some("intro"));
    match &body[1].kind {
        StepKind::Split { arms } => assert_eq!(arms.iter().map(|a| a.share.basis_points).collect::<Vec<_>>(), vec![3000, 7000]),
        other => panic!("{other:?}"),
    }
    match &body[2].kind {
        StepKind::Experiment { name, measure, arms } => {
            assert_eq!(name.as_str(), "x");
            assert_eq!(measure.map(|m| m.as_str()), Some("g"));
            assert_eq!(arms.iter().filter_map(|a| a.name.map(|n| n.as_str())).collect::<Vec<_>>(), vec!["a", "b"]);
        }
        other => panic!("{other:?}"),
    }
    match &body[3].kind {
        StepKind::Match { arms, .. } => {
            assert_eq!(arms[0].patterns.iter().map(|p| p.as_str()).collect::<Vec<_>>(), vec!["pro", "enterprise"]);
            assert!(arms[1].wildcard);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn keywords_are_names_after_dot_and_before_colon() {
    let module = parse_ok(
        "contact { email: string, message: string? }\nevent e { message: string }\njourney j { entry on e where event.message == contact.email }",
    );
    match &module.items[0].kind {
        ItemKind::Contact(fields) => {
            assert_eq!(fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["email", "message"]);
            assert!(matches!(fields[1].ty, TypeExpr::Optional(..)));
        }
        other => panic!("{other:?}"),
    }
    match &module.items[2].kind {
        ItemKind::Journey(j) => match &j.clauses[0].kind {
            ClauseKind::EntryOn { cond: Some(c), .. } => assert_eq!(sexp(c), "(== event.message contact.email)"),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn templates_split_text_interpolations_and_blocks() {
    let module = parse_ok(
        r#"message m email { subject "Hi {contact.first_name ?? "there"}{if a}A{else if b}B{else}C{end}{for l in contact.lists}- {l}\n{end} \{x\}" }"#,
    );
    let ItemKind::Message(m) = &module.items[0].kind else { panic!("not a message") };
    let parts = &m.fields[0].value.parts;
    assert!(matches!(&parts[0], TemplatePart::Text(t, _) if t == "Hi "));
    assert!(matches!(&parts[1], TemplatePart::Expr(e) if sexp(e) == "(?? contact.first_name \"there\")"));
    match &parts[2] {
        TemplatePart::If { branches, otherwise, .. } => {
            assert_eq!(branches.len(), 2);
            assert!(otherwise.is_some());
        }
        other => panic!("{other:?}"),
    }
    match &parts[3] {
        TemplatePart::For { var, body, .. } => {
            assert_eq!(var.as_str(), "l");
            assert!(matches!(&body[2], TemplatePart::Text(t, _) if t == "\n"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&parts[4], TemplatePart::Text(t, _) if t == " {x}"));
}

#[test]
fn doc_comments_attach_to_the_next_declaration_and_field() {
    let module = parse_ok("/// The contact.\n/// Two lines.\ncontact {\n  /// Their mail.\n  email: string\n}\n\n// plain\njourney j { }");
    assert_eq!(module.items[0].doc.as_deref(), Some("The contact.\nTwo lines."));
    let ItemKind::Contact(fields) = &module.items[0].kind else { panic!() };
    assert_eq!(fields[0].doc.as_deref(), Some("Their mail."));
    assert_eq!(module.items[1].doc, None);
}

#[test]
fn entries_and_header_clauses() {
    let module = parse_ok(
        "journey j {\n entry on a where event.x > 1\n entry when contact.score >= 50\n entry at 2026-12-01T09:00:00Z\n entry at (last(app) ?? contact.s) + 14d where contact.p == pro\n entry every day at 09:00\n entry every monday at 09:00\n entry every 7d\n entry every year on contact.birthday at 09:00\n reentry after 90d\n exit on u\n goal g on p\n goal h when x\n limit 60d\n holdout 12.5%\n priority -3\n version 2\n migrate { a -> b, c -> exit \"gone\" }\n}",
    );
    let ItemKind::Journey(j) = &module.items[0].kind else { panic!() };
    assert_eq!(j.clauses.len(), 17);
    assert!(matches!(j.clauses[5].kind, ClauseKind::EntryEvery { schedule: Schedule::Weekly { .. }, .. }));
    assert!(matches!(j.clauses[7].kind, ClauseKind::EntryEvery { schedule: Schedule::Yearly { .. }, .. }));
    assert!(matches!(j.clauses[13].kind, ClauseKind::Holdout(PercentLit { basis_points: 1250, .. })));
    assert!(matches!(j.clauses[14].kind, ClauseKind::Priority(-3)));
}

#[test]
fn tests_have_setup_run_and_expectations() {
    let module = parse_ok(
        "test \"t\" {\n holdout on\n contact ana { plan: pro, lists: [] }\n assign ana exp b\n at 2026-01-05T10:00:00Z ana signed_up { source: \"web\" }\n at 2026-01-06T00:00:00Z ana sets { score: 55 }\n at 2026-01-07T00:00:00Z ana exits welcome\n at 2026-01-07T00:00:00Z ana app_opened\n run until 2026-01-08T00:00:00Z\n expect ana sent m at 2026-01-05T10:00:00Z arm b\n expect ana not sent n\n expect ana in welcome at intro\n expect ana not in other\n expect ana exited welcome by goal converted\n expect ana exited welcome by \"cold\"\n expect ana exited welcome by limit\n expect ana.score >= 55\n}",
    );
    let ItemKind::Test(t) = &module.items[0].kind else { panic!() };
    assert_eq!(t.items.len(), 16);
    assert!(matches!(&t.items[5], TestItem::Record { record: TestRecord::Exit { .. }, .. }));
    assert!(matches!(&t.items[4], TestItem::Record { record: TestRecord::Identify(f), .. } if f.len() == 1));
    assert!(matches!(&t.items[6], TestItem::Record { record: TestRecord::Track { properties, .. }, .. } if properties.is_empty()));
}

#[test]
fn recovery_keeps_the_rest_of_the_file() {
    let src =
        "journey a {\n  sned x\n  send ok\n}\nmessage m email { subject \"s\" template \"t\" }\njourney b {\n  wait for e withn 3d\n  send y\n}\n";
    let (module, diagnostics) = parse(FileId(0), src);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:#?}");
    let names: Vec<&str> = module.items.iter().filter_map(|i| i.kind.name()).map(|n| n.as_str()).collect();
    assert_eq!(names, vec!["a", "m", "b"]);
    let ItemKind::Journey(a) = &module.items[0].kind else { panic!() };
    assert!(a.body.iter().any(|s| matches!(&s.kind, StepKind::Send(m) if m.as_str() == "ok")));
}

/// An instant without its offset and a duration without its spaces carry their fix: the text
/// that replaces the literal (a quick fix in the editor, a SARIF fix).
#[test]
fn malformed_instants_and_durations_carry_their_fix() {
    let source = "journey j {\n  entry at 2026-01-01T10:00\n  wait 1d12h\n}\n";
    let (_, diagnostics) = parse(FileId::default(), source);
    let fixes = fixes(source, &diagnostics);
    assert_eq!(fixes, [("2026-01-01T10:00", "2026-01-01T10:00:00Z"), ("1d12h", "1d 12h")]);
}

/// Percentages are read from their digits: by floating point, 33.3 × 100 is 3329.999…, and
/// `33.3%` (and `0.29%`, `57.3%`, …) were refused as "not a valid percentage".
#[test]
fn percentages_with_decimals_are_exact() {
    let shares = |src: &str| match journey_body(src).remove(0).kind {
        StepKind::Split { arms } => arms.iter().map(|a| a.share.basis_points).collect::<Vec<_>>(),
        other => panic!("not a split: {other:?}"),
    };
    assert_eq!(shares("split { 33.3% { } 66.7% { } }"), vec![3330, 6670]);
    assert_eq!(shares("split { 0.29% { } 57.3% { } 42.41% { } }"), vec![29, 5730, 4241]);
    assert_eq!(shares("split { 100% { } 0.0% { } }"), vec![10_000, 0]);
    for bad in ["100.01%", "1.234%", "101%", "1000%"] {
        let (_, diagnostics) = crate::parse(crate::FileId::default(), &format!("journey j {{ split {{ {bad} {{ }} }} }}"));
        assert!(diagnostics.iter().any(|d| d.code == "J0005"), "{bad}: {diagnostics:?}");
    }
}

/// `&&`, `||` and `!` are read as `and`, `or` and `not` — the rest parses as meant, so each is
/// one error — and carry their fix, spaced where the operator touched its operands; so does a
/// message field written with a colon (`subject: "Hi"`).
#[test]
fn foreign_operators_and_field_colons_carry_their_fix() {
    let source = "journey j {\n  entry when contact.a&&!contact.b || contact.c\n}\nmessage m email { subject: \"Hi\", template \"t\" }\n";
    let (module, diagnostics) = parse(FileId::default(), source);
    let fixes = fixes(source, &diagnostics);
    assert_eq!(fixes, [("&&", " and "), ("!", "not "), ("||", "or"), (":", "")]);
    assert_eq!(diagnostics.len(), 4, "{diagnostics:#?}");
    let ItemKind::Journey(j) = &module.items[0].kind else { panic!("not a journey: {:?}", module.items[0].kind) };
    assert_eq!(j.clauses.len(), 1);
}

/// Each diagnostic's fix, as the text it replaces and the text that replaces it.
fn fixes<'a>(source: &'a str, diagnostics: &'a [journey_diagnostics::Diagnostic]) -> Vec<(&'a str, &'a str)> {
    diagnostics.iter().filter_map(|d| d.fix.as_ref()).map(|(span, text)| (&source[span.start as usize..span.end as usize], text.as_str())).collect()
}

/// Every field of a message written with a colon is an error with its fix, not just the first
/// (the parser gives up on the message there); an event field called `title` in a test record
/// takes its colon and is none.
#[test]
fn each_message_field_colon_is_reported_and_only_in_messages() {
    let source = "message m email {\n  subject: \"Hi\"\n  template: \"t\"\n}\n\
                  test \"t\" {\n  at 2026-01-01T00:00:00Z ana posted { title: \"x\", body: \"y\" }\n}\n";
    let (_, diagnostics) = parse(FileId::default(), source);
    assert_eq!(fixes(source, &diagnostics), [(":", ""), (":", "")]);
    let lines: Vec<_> = diagnostics.iter().map(|d| source[..d.primary.span.start as usize].matches('\n').count() + 1).collect();
    assert_eq!(lines, [2, 3], "{diagnostics:#?}");
}

/// `wait 2 days`: the fix joins the number and the unit's letter (`2d`), over both tokens.
#[test]
fn a_spelt_out_duration_unit_carries_its_fix() {
    let source = "journey j {\n  entry on e\n  wait 2 days\n  send m\n}\njourney k {\n  entry on e\n  wait 90 Minutes\n}\n";
    let (_, diagnostics) = parse(FileId::default(), source);
    assert_eq!(fixes(source, &diagnostics), [("2 days", "2d"), ("90 Minutes", "90m")]);
}
