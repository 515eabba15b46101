//! Golden test for `journey explain`: a contact that crosses a branch, an event wait and a goal
//! exit, and one whose send quiet hours hold and whose event wait times out (each timer says
//! which it is). `UPDATE_EXPECT=1` regenerates tests/golden/explain.txt.

use std::path::Path;

const PROJECT: &str = r#"
contact { email: string, plan: Plan, score: int }
enum Plan { free, pro }
event signed_up "Signed Up" { source: string }
event clicked "Email Clicked" { message: string }
event purchase "Order Completed" { total: float }
message hi email { subject "Hi", template "hi" }
message tips email { subject "Tips for {contact.plan}", template "tips" }
message nudge sms { body "Still there?" }
policy { quiet_hours 21:00 to 08:00 }
journey welcome {
  entry on signed_up where event.source != "partner"
  goal bought on purchase where event.total > 10.0
  intro: send hi
  wait 1d
  if contact.plan == pro and contact.score > 10 { send tips }
  wait for clicked where event.message == "hi" within 2d { send tips } timeout { send nudge }
  wait 5d
}
"#;

#[test]
fn explain_is_golden() {
    let mut project = journey_syntax::project::ParsedProject::default();
    project.add("p.journey".into(), PROJECT.into());
    let checked = journey_check::check(&project);
    assert!(!checked.has_errors());
    let text = |span: journey_diagnostics::Span| project.sources.slice(span).to_string();
    let program = journey_codegen::compile_with_text(&checked.program, 1, Some(&text));
    let input = [
        r#"{"type":"identify","userId":"ana","timestamp":"2026-01-05T09:00:00Z","traits":{"email":"a@x","plan":"pro","score":30}}"#,
        r#"{"type":"track","userId":"ana","timestamp":"2026-01-05T10:00:00Z","event":"Signed Up","properties":{"source":"web"}}"#,
        r#"{"type":"track","userId":"ana","timestamp":"2026-01-06T12:00:00Z","event":"Email Clicked","properties":{"message":"hi"}}"#,
        r#"{"type":"track","userId":"ana","timestamp":"2026-01-07T09:00:00Z","event":"Order Completed","properties":{"total":5.0}}"#,
        r#"{"type":"track","userId":"ana","timestamp":"2026-01-08T09:00:00Z","event":"Order Completed","properties":{"total":50.0}}"#,
        r#"{"type":"identify","userId":"bo","timestamp":"2026-01-05T09:00:00Z","traits":{"email":"b@x","plan":"free","score":0}}"#,
        r#"{"type":"track","userId":"bo","timestamp":"2026-01-05T22:00:00Z","event":"Signed Up","properties":{"source":"web"}}"#,
    ]
    .join("\n");
    let until = journey_runtime::input::parse_instant("2026-02-01T00:00:00Z").unwrap_or(0);
    let decoder = journey_runtime::input::Decoder::new(&program);
    let mut cohort = journey_runtime::Cohort::new(None, until);
    cohort.ingest(&decoder, "in", std::io::Cursor::new(input)).unwrap_or_else(|e| panic!("{e}"));
    let mut rendered = String::new();
    let mut lines = Vec::new();
    for (id, contact) in cohort.into_inputs() {
        let explained = journey_test::explain::explain(&program, &id, contact, until, None);
        rendered += &format!("contact {id}\n{}", journey_test::explain::to_text(&explained));
        lines.extend(explained);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/explain.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &rendered).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(rendered, std::fs::read_to_string(&path).unwrap_or_default());
    let json: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(&l.to_json()).unwrap_or_default()).collect();
    assert!(json.iter().any(|l| l["kind"] == "condition" && l["text"].as_str().is_some_and(|t| t.contains("→ true"))));
}
