//! The `.jbc` format: golden disassembly, size, round trips, and that no corruption — a flipped
//! byte anywhere, a truncation at any length, a well-framed but hostile body — gets past decoding
//! into the VM, and none of it panics.

use journey_bytecode::{StepOp, decode, encode};
use proptest::prelude::*;
use std::path::Path;

fn example(files: &[&str]) -> journey_bytecode::Program {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let texts: Vec<(String, String)> =
        files.iter().map(|f| (f.to_string(), std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))).collect();
    let refs: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    journey::compile(&refs).unwrap_or_else(|e| panic!("{e}"))
}

/// `source` compiled with the examples' schema, and the index of its journey `name` (for tests
/// that then make the program hostile).
fn with_schema(source: &str, name: &str) -> (journey_bytecode::Program, usize) {
    let schema = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/schema.journey")).unwrap_or_default();
    let program = journey::compile(&[("schema.journey", &schema), ("t.journey", source)]).unwrap_or_else(|e| panic!("{e}"));
    let j = program.journeys.iter().position(|j| j.name == name).unwrap_or_else(|| panic!("no journey {name}"));
    (program, j)
}

fn all_examples() -> journey_bytecode::Program {
    example(&["cart_abandonment.journey", "dates.journey", "lead_routing.journey", "schema.journey", "spring_sale.journey", "welcome.journey"])
}

#[test]
fn welcome_disassembly_is_golden() {
    let mut program = example(&["schema.journey", "welcome.journey"]);
    // The fingerprint hashes the source text, tests included; the listing should not churn.
    program.fingerprint = 0;
    let text = journey_bytecode::disasm::disassemble(&program);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/welcome.disasm");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(text, expected, "disassembly changed (UPDATE_EXPECT=1 regenerates tests/golden/welcome.disasm)");
}

#[test]
fn welcome_is_under_4_kib_and_round_trips() {
    let program = example(&["schema.journey", "welcome.journey"]);
    let bytes = encode(&program).unwrap_or_else(|e| panic!("{e}"));
    assert!(bytes.len() < 4096, "welcome.jbc is {} bytes", bytes.len());
    assert_eq!(decode(&bytes), Ok(program));
    let all = all_examples();
    let bytes = encode(&all).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(decode(&bytes), Ok(all));
}

#[test]
fn every_single_byte_flip_is_rejected() {
    let bytes = encode(&all_examples()).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut corrupt = bytes.clone();
            corrupt[i] ^= bit;
            assert!(decode(&corrupt).is_err(), "flipping bit {bit:#x} of byte {i} went unnoticed");
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    let bytes = encode(&all_examples()).unwrap_or_else(|e| panic!("{e}"));
    for len in 0..bytes.len() {
        let error = decode(&bytes[..len]).err().unwrap_or_else(|| panic!("truncation to {len} bytes accepted"));
        assert!(!error.to_string().is_empty());
    }
}

fn first_match(p: &mut journey_bytecode::Program) -> Option<&mut StepOp> {
    p.journeys.iter_mut().flat_map(|j| j.code.iter_mut()).find(|op| matches!(op, StepOp::Match { .. }))
}

#[test]
fn well_framed_hostile_programs_fail_verification() {
    let good = all_examples();
    let mut cases = Vec::new();
    let mut p = good.clone();
    p.journeys[0].code.insert(0, StepOp::Jump { target: 9999 });
    cases.push(("jump target", p));
    let mut p = good.clone();
    p.code[0] = journey_bytecode::Instr::Attr(9999);
    cases.push(("attribute index", p));
    let mut p = good.clone();
    p.code.push(journey_bytecode::Instr::Const(0));
    cases.push(("code without ret", p));
    let mut p = good.clone();
    if let Some(StepOp::Send { message, .. }) = p.journeys.iter_mut().flat_map(|j| j.code.iter_mut()).find(|op| matches!(op, StepOp::Send { .. })) {
        *message = 4242;
    }
    cases.push(("message index", p));
    let mut p = good.clone();
    p.templates.push(journey_bytecode::TemplateOp::Jump(777));
    p.templates.push(journey_bytecode::TemplateOp::End);
    cases.push(("template jump", p));
    let mut p = good.clone();
    if let Some(StepOp::Match { enumeration, .. }) = first_match(&mut p) {
        *enumeration = 99;
    }
    cases.push(("match enum index", p));
    let mut p = good.clone();
    if let Some(StepOp::Match { table, .. }) = first_match(&mut p) {
        table.pop();
    }
    cases.push(("match table shorter than its enum", p));
    for (what, program) in cases {
        let bytes = encode(&program).unwrap_or_else(|e| panic!("{e}"));
        let error = decode(&bytes).err().unwrap_or_else(|| panic!("hostile {what} accepted"));
        assert!(error.to_string().starts_with("invalid program"), "{what}: {error}");
    }
}

#[test]
fn a_decoded_program_runs_exactly_like_the_compiled_one() {
    let program = all_examples();
    let decoded = decode(&encode(&program).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    let mut input = Vec::new();
    journey_runtime::cohort_gen::generate(200, 3, 30, &mut input).unwrap_or_else(|e| panic!("{e}"));
    let input = String::from_utf8(input).unwrap_or_default();
    let (a, _) = journey::evaluate(&program, &input, "2026-02-01T00:00:00Z", 1);
    let (b, _) = journey::evaluate(&decoded, &input, "2026-02-01T00:00:00Z", 2);
    assert!(a.len() > 500);
    assert_eq!(a, b);
}

#[test]
fn a_journey_that_fires_timers_without_end_stops_with_an_error_and_the_others_go_on() {
    // A hostile `.jbc` that passes verification: a 1 ms recurring entry (the language's shortest
    // interval is a second). Over a day that is 86 million timers for one contact; the run stops
    // that journey's timers with an `error` after its per-contact timer budget instead, and the
    // contact's other journeys carry on.
    let source = "journey tick { entry every 1s  reentry always  exit \"done\" }\njourney later { entry on app_opened  wait 12h  exit \"woke\" }";
    let (mut program, j) = with_schema(source, "tick");
    for entry in &mut program.journeys[j].entries {
        if let journey_bytecode::EntryKind::Interval { ms } = &mut entry.kind {
            *ms = 1;
        }
    }
    let program = decode(&encode(&program).unwrap_or_default()).unwrap_or_else(|e| panic!("verifies: {e}"));
    let input = r#"{"type":"track","userId":"a","timestamp":"2026-01-01T00:00:00Z","event":"App Opened","properties":{}}"#;
    let (lines, _) = journey::evaluate(&program, input, "2026-01-02T00:00:00Z", 1);
    let tick: Vec<&String> = lines.iter().filter(|l| l.contains(r#""journey":"tick""#)).collect();
    let errors: Vec<&&String> = tick.iter().filter(|l| l.contains(r#""action":"error""#)).collect();
    assert_eq!(errors.len(), 1, "one error, then silence: {errors:?}");
    // 250,000 timers of 1 ms take the contact past the budget 250 s in; from there each
    // journey's are counted, and `tick` fires 250,000 more by 500 s.
    assert!(errors[0].contains(r#""at":"2026-01-01T00:08:20Z""#), "{}", errors[0]);
    let reason = "more than 250000 timers in this journey for one contact in one run (250000 of them from 2026-01-01T00:04:10Z on)";
    assert!(errors[0].contains(reason), "{}", errors[0]);
    assert!(tick.last().is_some_and(|l| l == errors[0]), "nothing after the error");
    let later: Vec<&String> = lines.iter().filter(|l| l.contains(r#""journey":"later""#)).collect();
    assert!(later.last().is_some_and(|l| l.contains(r#""at":"2026-01-01T12:00:00Z""#) && l.contains("woke")), "{later:?}");
}

#[test]
fn a_journey_that_loops_at_one_instant_stops_with_an_error_saying_so() {
    // A hostile `.jbc`: a zero wait followed by a jump back to it. Every wake-up is due at the
    // same instant again, so time never passes; the journey's timer budget ends it.
    let (mut program, j) = with_schema("journey spin { entry on app_opened  wait 1d  exit \"x\" }", "spin");
    let code = &mut program.journeys[j].code;
    let wait = code.iter().position(|op| matches!(op, StepOp::WaitDuration { .. })).unwrap_or_else(|| panic!("no wait"));
    if let StepOp::WaitDuration { ms, .. } = &mut code[wait] {
        *ms = 0;
    }
    code[wait + 1] = StepOp::Jump { target: wait as u32 };
    let program = decode(&encode(&program).unwrap_or_default()).unwrap_or_else(|e| panic!("verifies: {e}"));
    let input = r#"{"type":"track","userId":"a","timestamp":"2026-01-01T00:00:00Z","event":"App Opened","properties":{}}"#;
    let (lines, _) = journey::evaluate(&program, input, "2026-01-02T00:00:00Z", 1);
    let error = lines.iter().find(|l| l.contains(r#""action":"error""#)).unwrap_or_else(|| panic!("an error action in {lines:?}"));
    assert!(error.contains(r#""at":"2026-01-01T00:00:00Z""#), "{error}");
    assert!(error.contains("all at one instant: it loops without time passing"), "{error}");
    assert!(lines.last().is_some_and(|l| l.contains(r#""action":"exit""#) && l.contains(r#""reason":"error""#)), "{:?}", lines.last());
}

#[test]
fn a_body_that_loops_without_waiting_stops_with_an_error_and_so_does_the_run() {
    // A hostile `.jbc`: the body jumps to itself. Each entry runs out the body's budget of
    // operations and leaves with an `error`; the contact re-enters at each record, and once the
    // run's budget is spent too, the error says so instead.
    let (mut program, j) = with_schema("journey spin { entry on app_opened  reentry always  wait 1d }", "spin");
    program.journeys[j].code[0] = StepOp::Jump { target: 0 };
    let program = decode(&encode(&program).unwrap_or_default()).unwrap_or_else(|e| panic!("verifies: {e}"));
    let input: Vec<String> = (0..60)
        .map(|i| format!(r#"{{"type":"track","userId":"a","timestamp":"2026-01-01T00:{i:02}:00Z","event":"App Opened","properties":{{}}}}"#))
        .collect();
    let (lines, _) = journey::evaluate(&program, &input.join("\n"), "2026-01-02T00:00:00Z", 1);
    let errors: Vec<&String> = lines.iter().filter(|l| l.contains(r#""action":"error""#)).collect();
    // 99,999 operations an entry: the run's 5,000,000 are spent at the 51st entry.
    assert_eq!(errors.len(), 60, "{errors:?}");
    assert!(errors[..50].iter().all(|l| l.contains("journey body does not terminate")), "{:?}", &errors[..50]);
    assert!(errors[50..].iter().all(|l| l.contains("more than 5000000 steps for one contact in one run")), "{:?}", &errors[50..]);
    assert!(errors[50].contains(r#""at":"2026-01-01T00:50:00Z""#), "{}", errors[50]);
    let exits = lines.iter().filter(|l| l.contains(r#""action":"exit""#) && l.contains(r#""reason":"error""#)).count();
    assert_eq!(exits, 60);
}

#[test]
fn an_unverified_expression_that_loops_stops_with_an_error() {
    // The verifier only lets expressions jump forward; a program built in memory skips it. A
    // backward jump in a condition must still end — with an `error`, not a hung run.
    let (mut program, j) = with_schema("journey j { entry on app_opened  if contact.score > 0 { exit \"a\" } }", "j");
    let start = program.code.len() as u32;
    let truth = program.constants.len() as u32;
    program.constants.push(journey_bytecode::Const::Bool(true));
    use journey_bytecode::Instr;
    program.code.extend([Instr::Const(truth), Instr::Not, Instr::Not, Instr::JumpIfTrueKeep(start + 1), Instr::Ret]);
    for op in &mut program.journeys[j].code {
        if let StepOp::Branch { condition, .. } = op {
            *condition = start;
        }
    }
    assert!(decode(&encode(&program).unwrap_or_default()).is_err(), "the verifier refuses a backward jump");
    let input = r#"{"type":"track","userId":"a","timestamp":"2026-01-01T00:00:00Z","event":"App Opened","properties":{}}"#;
    let (lines, _) = journey::evaluate(&program, input, "2026-01-02T00:00:00Z", 1);
    let error = lines.iter().find(|l| l.contains(r#""action":"error""#)).unwrap_or_else(|| panic!("an error action in {lines:?}"));
    assert!(error.contains("expression does not terminate"), "{error}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Random bodies behind a valid header and checksum: decoding errs or verifies, never panics.
    #[test]
    fn random_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let framed = journey_bytecode::frame(journey_bytecode::encode::PROGRAM_MAGIC, &body);
        let _ = decode(&framed);
    }

    /// Random mutations of a real program's body, re-framed with a correct checksum.
    #[test]
    fn mutated_bodies_never_panic(at in any::<prop::sample::Index>(), value in any::<u8>()) {
        let bytes = encode(&all_examples()).unwrap_or_default();
        let mut body = bytes[16..].to_vec();
        let i = at.index(body.len());
        body[i] = value;
        let framed = journey_bytecode::frame(journey_bytecode::encode::PROGRAM_MAGIC, &body);
        if let Ok(program) = decode(&framed) {
            // Whatever passes verification must also run without panicking.
            let mut input = Vec::new();
            journey_runtime::cohort_gen::generate(5, 1, 10, &mut input).unwrap_or_default();
            let _ = journey::evaluate(&program, &String::from_utf8(input).unwrap_or_default(), "2026-01-11T00:00:00Z", 1);
        }
    }
}

/// The welcome example's flow as `journey graph --format dot` draws it: every step with what it
/// does, every edge with what it stands for (`UPDATE_EXPECT=1` regenerates the file).
#[test]
fn welcome_flow_graph_is_golden() {
    let program = example(&["schema.journey", "welcome.journey"]);
    let welcome = program.journeys.iter().find(|j| j.name == "welcome").unwrap_or_else(|| panic!("no welcome journey"));
    let text = journey_runtime::report::graph(&program, welcome, None, journey_runtime::report::GraphFormat::Dot);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/welcome.dot");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(text, expected, "the flow graph changed (UPDATE_EXPECT=1 regenerates tests/golden/welcome.dot)");
    // Every edge of the flow is drawn once.
    assert_eq!(text.matches(" -> ").count(), welcome.flow_edges().len());
}

/// A `match` on any enum value — here an event property of the trigger — labels each edge with
/// the variants that take it.
#[test]
fn match_edges_on_an_event_property_are_named_by_variant() {
    let source = "enum Tier { bronze, silver, gold }
event joined { tier: Tier }
message gift email { subject \"A gift\", template \"gift\" }
message hello email { subject \"Hello\", template \"hello\" }
journey onboarding {
  entry on joined
  match trigger.tier {
    gold => { send gift }
    _ => { send hello }
  }
}
";
    let schema = journey::schema();
    let program = journey::compile(&[("schema.journey", &schema), ("t.journey", source)]).unwrap_or_else(|e| panic!("{e}"));
    let journey = program.journeys.iter().find(|j| j.name == "onboarding").unwrap_or_else(|| panic!("no journey"));
    let text = journey_runtime::report::graph(&program, journey, None, journey_runtime::report::GraphFormat::Mermaid);
    let labels: Vec<&str> = text.lines().filter_map(|l| l.split("-->|\"").nth(1)).filter_map(|l| l.split('"').next()).collect();
    assert_eq!(labels, ["bronze / silver", "gold"], "{text}");
}

/// A `match` on an enum attribute labels each edge with the variant it takes.
#[test]
fn match_edges_are_named_by_variant() {
    let program = all_examples();
    let routing = program.journeys.iter().find(|j| j.name == "lead_routing").unwrap_or_else(|| panic!("no lead_routing journey"));
    let text = journey_runtime::report::graph(&program, routing, None, journey_runtime::report::GraphFormat::Mermaid);
    let labels: Vec<&str> = text.lines().filter_map(|l| l.split("-->|\"").nth(1)).filter_map(|l| l.split('"').next()).collect();
    assert_eq!(labels, ["emea", "amer", "apac", "deal_stage", "timeout", "yes", "no"], "{text}");
}
