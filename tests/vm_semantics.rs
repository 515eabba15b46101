//! Exact action logs for every construct (LANGUAGE.md §4, §7): each test compiles a small project,
//! feeds JSON-lines input and compares the actions, line by line, in the RUNTIME.md §4 format.

const SCHEMA: &str = r#"
contact {
  email: string
  first_name: string?
  plan: Plan
  score: int
  tz: string?
  lists: [string]
  trial_ends_at: time?
  birthday: date?
}
enum Plan { free, pro, enterprise }
event signed_up "Signed Up" { source: string }
event purchase "Order Completed" { total: float, sku: string }
event clicked "Email Clicked" engagement click { message: string }
event unsubscribed "Unsubscribed" {}
event ping "Ping" {}
audience ads "Ads"
webhook crm "POST https://crm.example/tasks"
"#;

fn actions(source: &str, input: &str, until: &str) -> Vec<String> {
    let program = journey::compile(&[("schema.journey", SCHEMA), ("test.journey", source)]).unwrap_or_else(|e| panic!("{e}"));
    let (lines, rejects) = journey::evaluate(&program, input, until, 1);
    assert!(rejects.is_empty(), "unexpected rejects: {rejects:?}");
    lines
}

/// Strips the `"contact":…,` and `"journey":…,` noise so expectations stay readable.
fn short(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            let mut parts = vec![v["at"].as_str().unwrap_or("").to_string(), v["action"].as_str().unwrap_or("").to_string()];
            for key in ["step", "trigger", "message", "reason", "experiment", "split", "arm", "attribute", "value", "of", "audience", "op", "webhook", "holdout"] {
                if let Some(x) = v.get(key) {
                    parts.push(format!("{key}={}", x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())));
                }
            }
            if let Some(fields) = v.get("fields").and_then(|f| f.as_object()) {
                for (k, x) in fields {
                    parts.push(format!("{k}={}", x.as_str().unwrap_or("")));
                }
            }
            parts.join(" ")
        })
        .collect()
}

fn identify(user: &str, at: &str, traits: &str) -> String {
    format!(r#"{{"type":"identify","userId":"{user}","timestamp":"{at}","traits":{traits}}}"#)
}

fn track(user: &str, at: &str, event: &str, props: &str) -> String {
    format!(r#"{{"type":"track","userId":"{user}","timestamp":"{at}","event":"{event}","properties":{props}}}"#)
}

const ANA: &str = r#"{"email":"ana@example.com","first_name":"Ana","plan":"pro","score":0,"lists":[]}"#;

#[test]
fn entry_send_wait_and_completion() {
    let source = r#"
message hi email { subject "Hi {contact.first_name ?? "there"}", template "hi" }
message later sms { body "Day two" }
journey welcome {
  entry on signed_up where event.source != "partner"
  intro: send hi
  wait 1d
  send later
}"#;
    let input = [identify("ana", "2026-01-05T09:00:00Z", ANA), track("ana", "2026-01-05T10:00:00Z", "Signed Up", r#"{"source":"web"}"#)].join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-10T00:00:00Z")),
        [
            "2026-01-05T10:00:00Z enter trigger=signed_up",
            "2026-01-05T10:00:00Z send step=intro message=hi subject=Hi Ana template=hi",
            "2026-01-06T10:00:00Z send step=s3 message=later body=Day two",
            "2026-01-06T10:00:00Z exit reason=completed",
        ]
    );
}
