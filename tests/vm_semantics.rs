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
            for key in [
                "step",
                "trigger",
                "message",
                "reason",
                "experiment",
                "split",
                "arm",
                "attribute",
                "value",
                "of",
                "audience",
                "op",
                "webhook",
                "holdout",
            ] {
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

/// A run's counts per name, in name order.
fn counts(counted: &journey_runtime::metrics::NameCounts) -> Vec<(&str, u64)> {
    counted.names.iter().map(|(k, v)| (k.as_str(), *v)).collect()
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

#[test]
fn raw_lines_match_the_runtime_format() {
    let source = r#"
message hi email { subject "Hi", template "hi" }
journey welcome { entry on signed_up  intro: send hi }"#;
    let input = [identify("bo", "2026-01-05T09:00:00Z", ANA), track("bo", "2026-01-05T10:00:00.250Z", "Signed Up", r#"{"source":"web"}"#)].join("\n");
    assert_eq!(
        actions(source, &input, "2026-01-10T00:00:00Z"),
        [
            r#"{"at":"2026-01-05T10:00:00.250Z","contact":"bo","journey":"welcome","action":"enter","trigger":"signed_up"}"#,
            r#"{"at":"2026-01-05T10:00:00.250Z","contact":"bo","journey":"welcome","step":"intro","action":"send","channel":"email","message":"hi","fields":{"subject":"Hi","template":"hi"}}"#,
            r#"{"at":"2026-01-05T10:00:00.250Z","contact":"bo","journey":"welcome","action":"exit","reason":"completed"}"#,
        ]
    );
}

#[test]
fn event_exactly_at_the_deadline_is_a_timeout() {
    let source = r#"
message yes sms { body "yes" }
message no sms { body "no" }
journey j {
  entry on signed_up
  wait for purchase within 1d { send yes } timeout { send no }
}"#;
    let base = [identify("a", "2026-01-01T00:00:00Z", ANA), track("a", "2026-01-01T10:00:00Z", "Signed Up", r#"{"source":"x"}"#)];
    let at_deadline = [&base[..], &[track("a", "2026-01-02T10:00:00Z", "Order Completed", r#"{"total":5,"sku":"A"}"#)]].concat().join("\n");
    assert_eq!(
        short(&actions(source, &at_deadline, "2026-01-03T00:00:00Z")),
        [
            "2026-01-01T10:00:00Z enter trigger=signed_up",
            "2026-01-02T10:00:00Z send step=s3 message=no body=no",
            "2026-01-02T10:00:00Z exit reason=completed",
        ]
    );
    let just_before = [&base[..], &[track("a", "2026-01-02T09:59:59.999Z", "Order Completed", r#"{"total":5,"sku":"A"}"#)]].concat().join("\n");
    assert_eq!(
        short(&actions(source, &just_before, "2026-01-03T00:00:00Z")),
        [
            "2026-01-01T10:00:00Z enter trigger=signed_up",
            "2026-01-02T09:59:59.999Z send step=s2 message=yes body=yes",
            "2026-01-02T09:59:59.999Z exit reason=completed",
        ]
    );
}

#[test]
fn zero_length_waits_continue_at_once() {
    let source = r#"
message m sms { body "m" }
journey j {
  entry on signed_up
  wait 0s
  wait until now - 1h
  send m
}"#;
    let input = [identify("a", "2026-01-01T00:00:00Z", ANA), track("a", "2026-01-01T10:00:00Z", "Signed Up", r#"{"source":"x"}"#)].join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-03T00:00:00Z")),
        [
            "2026-01-01T10:00:00Z enter trigger=signed_up",
            "2026-01-01T10:00:00Z send step=s3 message=m body=m",
            "2026-01-01T10:00:00Z exit reason=completed",
        ]
    );
}

#[test]
fn goals_exits_limit_and_manual_exit() {
    let source = r#"
message m sms { body "m" }
journey j {
  entry on signed_up
  exit on unsubscribed
  goal bought on purchase where event.total > 10.0
  limit 3d
  wait 10d
  send m
}"#;
    let head = [identify("a", "2026-01-01T00:00:00Z", ANA), track("a", "2026-01-01T10:00:00Z", "Signed Up", r#"{"source":"x"}"#)];
    let goal = [
        &head[..],
        &[
            track("a", "2026-01-01T11:00:00Z", "Order Completed", r#"{"total":5,"sku":"A"}"#),
            track("a", "2026-01-01T12:00:00Z", "Order Completed", r#"{"total":50,"sku":"B"}"#),
        ],
    ]
    .concat()
    .join("\n");
    assert_eq!(
        short(&actions(source, &goal, "2026-01-09T00:00:00Z")),
        ["2026-01-01T10:00:00Z enter trigger=signed_up", "2026-01-01T12:00:00Z exit reason=goal:bought"]
    );
    let unsub = [&head[..], &[track("a", "2026-01-02T00:00:00Z", "Unsubscribed", "{}")]].concat().join("\n");
    assert_eq!(short(&actions(source, &unsub, "2026-01-09T00:00:00Z"))[1], "2026-01-02T00:00:00Z exit reason=exit_on:unsubscribed");
    let limit = head.join("\n");
    assert_eq!(short(&actions(source, &limit, "2026-01-09T00:00:00Z"))[1], "2026-01-04T10:00:00Z exit reason=limit");
    let manual = [&head[..], &[r#"{"type":"exit","userId":"a","timestamp":"2026-01-02T00:00:00Z","journey":"j"}"#.to_string()]].concat().join("\n");
    assert_eq!(short(&actions(source, &manual, "2026-01-09T00:00:00Z"))[1], "2026-01-02T00:00:00Z exit reason=manual");
}

#[test]
fn reentry_after_a_cooldown() {
    let source = r#"
message m sms { body "m" }
journey j {
  entry on ping
  reentry after 2d
  send m
}"#;
    let input = [
        identify("a", "2026-01-01T00:00:00Z", ANA),
        track("a", "2026-01-01T00:00:00Z", "Ping", "{}"),
        track("a", "2026-01-02T00:00:00Z", "Ping", "{}"),
        track("a", "2026-01-03T00:00:00Z", "Ping", "{}"),
    ]
    .join("\n");
    let lines = short(&actions(source, &input, "2026-01-09T00:00:00Z"));
    let enters: Vec<&String> = lines.iter().filter(|l| l.contains("enter")).collect();
    assert_eq!(enters, ["2026-01-01T00:00:00Z enter trigger=ping", "2026-01-03T00:00:00Z enter trigger=ping"]);
}

#[test]
fn enroll_into_a_journey_without_entries_runs_it_to_its_first_wait() {
    let source = r#"
message first sms { body "first" }
message inner sms { body "inner" }
message later sms { body "later" }
journey outer { entry on ping  send first  enroll nested  send later }
journey nested { send inner  wait 1h  exit "done" }
"#;
    let input = [identify("a", "2026-01-01T00:00:00Z", ANA), track("a", "2026-01-01T10:00:00Z", "Ping", "{}")].join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-02T00:00:00Z")),
        [
            "2026-01-01T10:00:00Z enter trigger=ping",
            "2026-01-01T10:00:00Z send step=s1 message=first body=first",
            "2026-01-01T10:00:00Z enter trigger=enroll:outer",
            "2026-01-01T10:00:00Z send step=s1 message=inner body=inner",
            "2026-01-01T10:00:00Z send step=s3 message=later body=later",
            "2026-01-01T10:00:00Z exit reason=completed",
            "2026-01-01T11:00:00Z exit reason=done",
        ]
    );
}

#[test]
fn caps_are_shared_across_journeys_and_priority_wins_the_slot() {
    let source = r#"
policy { cap sms 1 per 1d }
message low_m sms { body "low" }
message high_m sms { body "high" }
journey low { entry on ping  send low_m }
journey high { entry on ping  priority 5  send high_m }
"#;
    let input = [identify("a", "2026-01-01T00:00:00Z", ANA), track("a", "2026-01-01T10:00:00Z", "Ping", "{}")].join("\n");
    let lines = actions(source, &input, "2026-01-02T00:00:00Z");
    let sends: Vec<String> = short(&lines).into_iter().filter(|l| l.contains("send") || l.contains("suppressed")).collect();
    assert_eq!(
        sends,
        ["2026-01-01T10:00:00Z send step=s1 message=high_m body=high", "2026-01-01T10:00:00Z suppressed step=s1 message=low_m reason=cap:sms"]
    );
    assert!(lines.iter().any(|l| l.contains(r#""action":"suppressed","channel":"sms","message":"low_m","reason":"cap:sms""#)));
}

#[test]
fn quiet_hours_across_midnight_hold_sends_in_local_time() {
    let source = r#"
policy { timezone contact.tz  quiet_hours 21:00 to 08:00 }
message m sms { body "m" }
message t sms transactional { body "t" }
journey j { entry on ping  send t  send m }
"#;
    // 23:30 in Paris (UTC+1 in January): held until 08:00 Paris = 07:00 UTC.
    let input = [
        identify("a", "2026-01-01T00:00:00Z", r#"{"email":"a@x","plan":"free","score":0,"lists":[],"tz":"Europe/Paris"}"#),
        track("a", "2026-01-01T22:30:00Z", "Ping", "{}"),
    ]
    .join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-03T00:00:00Z")),
        [
            "2026-01-01T22:30:00Z enter trigger=ping",
            "2026-01-01T22:30:00Z send step=s1 message=t body=t",
            "2026-01-02T07:00:00Z send step=s2 message=m body=m",
            "2026-01-02T07:00:00Z exit reason=completed",
        ]
    );
}

#[test]
fn time_of_day_wait_across_a_dst_change() {
    let source = r#"
policy { timezone contact.tz }
message m sms { body "m" }
journey j { entry on ping  wait until 09:00  send m  wait until 09:00  send m }
"#;
    // Europe/Paris switches to summer time on 2026-03-29: 09:00 is 08:00 UTC before, 07:00 UTC after.
    let input = [
        identify("a", "2026-03-01T00:00:00Z", r#"{"email":"a@x","plan":"free","score":0,"lists":[],"tz":"Europe/Paris"}"#),
        track("a", "2026-03-28T12:00:00Z", "Ping", "{}"),
    ]
    .join("\n");
    let lines = short(&actions(source, &input, "2026-04-01T00:00:00Z"));
    assert_eq!(lines[1], "2026-03-29T07:00:00Z send step=s2 message=m body=m");
    assert_eq!(lines[2], "2026-03-29T07:00:00Z send step=s4 message=m body=m", "09:00 local now equals now: continues at once");
}

#[test]
fn branches_match_split_and_experiment() {
    let source = r#"
message a sms { body "a" }
message b sms { body "b" }
journey j {
  entry on signed_up
  goal g on purchase
  if contact.plan == pro and event_count_ok() { send a }
}"#;
    // (unknown function) — compile errors are reported, not run:
    assert!(journey::compile(&[("schema.journey", SCHEMA), ("t.journey", source)]).is_err());

    let source = r#"
message a sms { body "a" }
message b sms { body "b" }
journey j {
  entry on signed_up
  goal g on purchase
  match contact.plan { pro => { send a } _ => { send b } }
  split { 50% { send a } 50% { send b } }
  experiment exp { x 50% { send a } y 50% { send b } }
}"#;
    let input = (0..4)
        .flat_map(|i| {
            [
                identify(&format!("c{i}"), "2026-01-01T00:00:00Z", ANA),
                track(&format!("c{i}"), "2026-01-01T10:00:00Z", "Signed Up", r#"{"source":"x"}"#),
            ]
        })
        .collect::<Vec<_>>()
        .join("\n");
    let lines = short(&actions(source, &input, "2026-01-02T00:00:00Z"));
    let assigns: Vec<&String> = lines.iter().filter(|l| l.contains("assign")).collect();
    assert_eq!(assigns.len(), 8);
    assert!(assigns.iter().all(|l| l.contains("split=s4") || l.contains("experiment=exp")), "{assigns:?}");
    // Same contact, same arm: assignment is a stable hash of (contact, journey, split id).
    let again = short(&actions(source, &input, "2026-01-02T00:00:00Z"));
    assert_eq!(lines, again);
    // The documented hash (FNV-1a of `contact 0xFF journey 0xFF key`, modulo 10000), pinned:
    // changing it would move every contact to another arm.
    let pinned =
        [(("c0", "j", "exp"), 723), (("c0000001", "welcome", "holdout"), 2846), (("", "", ""), 7219), (("ünï", "spring_sale", "subject"), 803)];
    for ((contact, journey, key), expected) in pinned {
        assert_eq!(journey_bytecode::bucket(contact, journey, key), expected, "{contact} {journey} {key}");
    }
}

#[test]
fn holdout_records_held_out_actions_and_still_measures_goals() {
    let source = r#"
message m sms { body "m" }
journey j {
  entry on signed_up
  goal g on purchase
  holdout 100%
  send m
  sync ads add
  webhook crm
  wait 1d
}"#;
    let input = [
        identify("a", "2026-01-01T00:00:00Z", ANA),
        track("a", "2026-01-01T10:00:00Z", "Signed Up", r#"{"source":"x"}"#),
        track("a", "2026-01-01T12:00:00Z", "Order Completed", r#"{"total":5,"sku":"A"}"#),
    ]
    .join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-03T00:00:00Z")),
        [
            "2026-01-01T10:00:00Z enter trigger=signed_up holdout=true",
            "2026-01-01T10:00:00Z held_out step=s1 message=m of=send body=m",
            "2026-01-01T10:00:00Z held_out step=s2 of=sync audience=ads op=add",
            "2026-01-01T10:00:00Z held_out step=s3 of=webhook webhook=crm",
            "2026-01-01T12:00:00Z exit reason=goal:bought".replace("bought", "g").as_str(),
        ]
    );
}

#[test]
fn entry_when_is_edge_triggered_and_set_retests_conditions() {
    let source = r#"
journey hot {
  entry when contact.score >= 50
  reentry always
  set contact.lists = contact.lists + ["hot"]
  wait until "vip" in contact.lists within 1d { exit "vip" } timeout { exit "cold" }
}
journey promote {
  entry when "hot" in contact.lists
  set contact.lists = contact.lists + ["vip"]
}
"#;
    let input = [
        identify("a", "2026-01-01T00:00:00Z", ANA),
        identify("a", "2026-01-01T01:00:00Z", r#"{"score":60}"#),
        identify("a", "2026-01-01T02:00:00Z", r#"{"score":70}"#),
    ]
    .join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-03T00:00:00Z")),
        [
            "2026-01-01T01:00:00Z enter trigger=when",
            r#"2026-01-01T01:00:00Z set step=s1 attribute=lists value=["hot"]"#,
            "2026-01-01T01:00:00Z enter trigger=when",
            r#"2026-01-01T01:00:00Z set step=s1 attribute=lists value=["hot","vip"]"#,
            "2026-01-01T01:00:00Z exit reason=completed",
            "2026-01-01T01:00:00Z exit reason=vip",
        ]
    );
}

#[test]
fn a_windowed_entry_condition_turning_false_with_time_is_seen_at_the_next_record() {
    // `has … within` goes false as time passes, not because of a record: any later record (here
    // one that changes nothing the condition reads) must see it false, so the edge re-arms.
    let source = r#"
journey active {
  entry when has ping within 1d
  reentry always
  exit
}
"#;
    let input = [
        identify("a", "2026-01-01T00:00:00Z", ANA),
        track("a", "2026-01-01T01:00:00Z", "Ping", "{}"),
        identify("a", "2026-01-03T00:00:00Z", r#"{"score":1}"#),
        track("a", "2026-01-04T01:00:00Z", "Ping", "{}"),
        track("a", "2026-01-04T02:00:00Z", "Ping", "{}"),
    ]
    .join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-05T00:00:00Z")),
        [
            "2026-01-01T01:00:00Z enter trigger=when",
            "2026-01-01T01:00:00Z exit reason=exit",
            "2026-01-04T01:00:00Z enter trigger=when",
            "2026-01-04T01:00:00Z exit reason=exit",
        ]
    );
}

#[test]
fn missing_required_attribute_is_an_error_action_and_an_error_exit() {
    let source = r#"
message m sms { body "Hi {contact.email}" }
journey j { entry on ping  send m }
"#;
    let input = track("a", "2026-01-01T10:00:00Z", "Ping", "{}");
    assert_eq!(
        short(&actions(source, &input, "2026-01-02T00:00:00Z")),
        [
            "2026-01-01T10:00:00Z enter trigger=ping",
            "2026-01-01T10:00:00Z error step=s1 reason=missing attribute `email`",
            "2026-01-01T10:00:00Z exit reason=error",
        ]
    );
}

/// Arithmetic never wraps, saturates or yields `inf`: a result out of range is an `error` action
/// saying which, and the contact leaves that journey (before, `i64::MAX + 1` was set as
/// `i64::MIN`, a float divided by zero was written as `null`, and a time past year 9999 kept).
#[test]
fn arithmetic_out_of_range_is_an_error_action_never_a_wrapped_value() {
    let source = r#"
journey int_add { entry on purchase  set contact.score = contact.score + 1 }
journey int_abs { entry on purchase  set contact.score = abs(contact.score - contact.score - contact.score - 1) }
journey int_ok { entry on purchase  set contact.score = contact.score - 1 }
journey float_div { entry on purchase  set contact.score = round(trigger.total / 0.0) }
journey float_mul { entry on purchase  set contact.score = round(trigger.total * trigger.total) }
journey float_round { entry on purchase  set contact.score = floor(trigger.total) }
journey time_shift { entry on purchase  set contact.trial_ends_at = now + 1000000w }
journey duration_mul { entry on purchase  wait until now + 1000000w * 1000000000 }
"#;
    let input = [
        identify("a", "2026-01-01T09:00:00Z", r#"{"email":"a@x","plan":"pro","score":9223372036854775807,"lists":[]}"#),
        track("a", "2026-01-01T10:00:00Z", "Order Completed", r#"{"total":1e200,"sku":"x"}"#),
    ]
    .join("\n");
    let lines = short(&actions(source, &input, "2026-01-02T00:00:00Z"));
    let errors: Vec<&str> = lines.iter().filter(|l| l.contains(" error ")).map(String::as_str).collect();
    assert_eq!(
        errors,
        [
            "2026-01-01T10:00:00Z error step=s1 reason=integer overflow: the result does not fit in 64 bits",
            "2026-01-01T10:00:00Z error step=s1 reason=integer overflow: the result does not fit in 64 bits",
            "2026-01-01T10:00:00Z error step=s1 reason=division by zero",
            "2026-01-01T10:00:00Z error step=s1 reason=float overflow: the result is not a finite number",
            "2026-01-01T10:00:00Z error step=s1 reason=1e200 is beyond the range of a 64-bit integer",
            "2026-01-01T10:00:00Z error step=s1 reason=time out of range: the result is outside the years 0000 to 9999",
            "2026-01-01T10:00:00Z error step=s1 reason=duration overflow: the result does not fit in 64 bits of milliseconds",
        ]
    );
    // The one in range is set, exactly.
    assert!(lines.contains(&"2026-01-01T10:00:00Z set step=s1 attribute=score value=9223372036854775806".to_string()), "{lines:#?}");
}

/// A duration attribute comes as seconds, kept in whole milliseconds: rounded (`1.001` s is 1001 ms,
/// not 1000), and rejected when it does not fit — never saturated to the longest duration.
#[test]
fn duration_traits_are_rounded_to_milliseconds_and_too_long_ones_rejected() {
    let source = r#"
contact { email: string, cooldown: duration }
event ping "Ping" {}
journey j { entry on ping  set contact.email = "{days(contact.cooldown)}"  wait until now + contact.cooldown  exit "waited" }
"#;
    let program = journey::compile(&[("p.journey", source)]).unwrap_or_else(|e| panic!("{e}"));
    let input = [
        identify("a", "2026-01-01T09:00:00Z", r#"{"email":"a@x","cooldown":1.001}"#),
        identify("b", "2026-01-01T09:00:00Z", r#"{"email":"b@x","cooldown":1e300}"#),
        track("a", "2026-01-01T10:00:00Z", "Ping", "{}"),
    ]
    .join("\n");
    let (lines, rejects) = journey::evaluate(&program, &input, "2026-01-02T00:00:00Z", 1);
    let reasons: Vec<(u64, &str)> = rejects.iter().map(|r| (r.line, r.reason.as_str())).collect();
    assert_eq!(reasons, [(2, "trait `cooldown`: 1e+300 seconds is too long a duration (at most ±292 million years)")]);
    assert_eq!(
        short(&lines),
        [
            "2026-01-01T10:00:00Z enter trigger=ping",
            "2026-01-01T10:00:00Z set step=s1 attribute=email value=0",
            "2026-01-01T10:00:01.001Z exit reason=waited",
        ]
    );
}

/// Rejects say what was wrong with the value itself (before: an integer too large for 64 bits
/// was "expected an integer, found integer", and an empty `userId` "has neither `userId` nor
/// `anonymousId`").
#[test]
fn reject_reasons_name_the_value_that_does_not_fit() {
    let program =
        journey::compile(&[("schema.journey", SCHEMA), ("j.journey", "journey welcome { entry on ping  exit }")]).unwrap_or_else(|e| panic!("{e}"));
    let input = [
        identify("a", "2026-01-01T09:00:00Z", r#"{"score":18446744073709551615}"#),
        identify("a", "2026-01-01T09:00:00Z", r#"{"score":1e3}"#),
        identify("a", "2026-01-01T09:00:00Z", r#"{"score":2.5}"#),
        track("", "2026-01-01T10:00:00Z", "Ping", "{}"),
        r#"{"type":"track","userId":"","anonymousId":"","timestamp":"2026-01-01T10:00:00Z","event":"Ping"}"#.to_string(),
        r#"{"type":"track","timestamp":"2026-01-01T10:00:00Z","event":"Ping"}"#.to_string(),
        r#"{"type":"exit","userId":"a","timestamp":"2026-01-01T10:00:00Z","journey":"welcom"}"#.to_string(),
        "[1, 2]".to_string(),
    ]
    .join("\n");
    let (_, rejects) = journey::evaluate(&program, &input, "2026-01-02T00:00:00Z", 1);
    let reasons: Vec<(u64, &str)> = rejects.iter().map(|r| (r.line, r.reason.as_str())).collect();
    assert_eq!(
        reasons,
        [
            (1, "trait `score`: 18446744073709551615 does not fit in a 64-bit integer"),
            (2, "trait `score`: expected an integer, found 1000.0"),
            (3, "trait `score`: expected an integer, found 2.5"),
            (4, "no contact id: `userId` is an empty string, and there is no other id"),
            (5, "no contact id: `userId` and `anonymousId` are empty strings"),
            (6, "no contact id: the record has neither `userId` nor `anonymousId`"),
            (7, "unknown journey \"welcom\" (did you mean \"welcome\"?)"),
            (8, "a record must be a JSON object, found array"),
        ]
    );
}

/// A string with `{…}` is a template wherever an expression may be, not only in messages: in a
/// `set`, inside a larger expression, in a condition. (Before, its values' code was compiled
/// inside the enclosing expression: `set contact.email = "A{contact.score}B"` stored `0`, an
/// integer in a string attribute, and a template in `==` or `+` read the wrong operands.)
#[test]
fn templates_in_expressions_render_where_they_stand() {
    let source = r#"
journey j {
  entry on ping
  set contact.email = "A{contact.score}B{contact.plan}C"
  set contact.first_name = "{contact.email}" + "/" + lower("{contact.plan}{if contact.score > 0}+{else}-{end}")
  if "{contact.score}{contact.plan}" == "0pro" and contains("[{contact.first_name ?? ""}]", "pro-") {
    set contact.lists = contact.lists + ["{len(contact.email)}", "x{contact.score + 1}y"]
  }
}
"#;
    let input = [identify("a", "2026-01-01T09:00:00Z", ANA), track("a", "2026-01-01T10:00:00Z", "Ping", "{}")].join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-02T00:00:00Z")),
        [
            "2026-01-01T10:00:00Z enter trigger=ping",
            "2026-01-01T10:00:00Z set step=s1 attribute=email value=A0BproC",
            "2026-01-01T10:00:00Z set step=s2 attribute=first_name value=A0BproC/pro-",
            "2026-01-01T10:00:00Z set step=s4 attribute=lists value=[\"7\",\"x1y\"]",
            "2026-01-01T10:00:00Z exit reason=completed",
        ]
    );
}

#[test]
fn scheduled_entries_at_every_and_anniversary() {
    let source = r#"
message m sms { body "m" }
journey dated { entry at 2026-01-03T09:00:00Z  send m }
journey daily { entry every day at 09:00  send m }
journey bday { entry every year on contact.birthday ?? 2000-01-01 at 10:00  send m }
"#;
    let input = identify("a", "2026-01-01T12:00:00Z", r#"{"email":"a@x","plan":"free","score":0,"lists":[],"birthday":"1990-01-02"}"#);
    let lines = short(&actions(source, &input, "2026-01-04T00:00:00Z"));
    let enters: Vec<&String> = lines.iter().filter(|l| l.contains("enter")).collect();
    assert_eq!(
        enters,
        [
            "2026-01-02T09:00:00Z enter trigger=every",
            "2026-01-02T10:00:00Z enter trigger=every",
            "2026-01-03T09:00:00Z enter trigger=at",
            "2026-01-03T09:00:00Z enter trigger=every",
        ]
    );
}

#[test]
fn timers_fire_before_records_at_the_same_instant() {
    let source = r#"
message m sms { body "m" }
journey j {
  entry on signed_up
  wait 1h
  wait for purchase within 1d
  send m
}"#;
    // The purchase at exactly the end of the 1h wait: the wait ends first, then the event wait
    // starts and the purchase (enter ≤ t) matches it.
    let input = [
        identify("a", "2026-01-01T00:00:00Z", ANA),
        track("a", "2026-01-01T10:00:00Z", "Signed Up", r#"{"source":"x"}"#),
        track("a", "2026-01-01T11:00:00Z", "Order Completed", r#"{"total":5,"sku":"A"}"#),
    ]
    .join("\n");
    assert_eq!(short(&actions(source, &input, "2026-01-03T00:00:00Z"))[1], "2026-01-01T11:00:00Z send step=s3 message=m body=m");
}

#[test]
fn templates_render_values_blocks_and_trigger_fields() {
    let source = r#"
message m email {
  subject "{trigger.sku} x{count(purchase)} {if contact.plan == pro}PRO{else}FREE{end} {for l in contact.lists}[{l}]{end} {trigger.total}"
  template "t"
}
journey j { entry on purchase  send m }
"#;
    let input = [
        identify("a", "2026-01-01T00:00:00Z", r#"{"email":"a@x","plan":"pro","score":0,"lists":["vip","news"]}"#),
        track("a", "2026-01-01T10:00:00Z", "Order Completed", r#"{"total":20.5,"sku":"SHOE"}"#),
    ]
    .join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-02T00:00:00Z"))[1],
        "2026-01-01T10:00:00Z send step=s1 message=m subject=SHOE x1 PRO [vip][news] 20.5 template=t"
    );
}

#[test]
fn goal_when_is_tested_at_enrollment_before_the_first_step() {
    let source = r#"
message m sms { body "m" }
journey j {
  entry on ping
  goal already when contact.score >= 10
  send m
}"#;
    let input = [
        identify("a", "2026-01-01T00:00:00Z", r#"{"email":"a@x","plan":"free","score":20,"lists":[]}"#),
        track("a", "2026-01-01T10:00:00Z", "Ping", "{}"),
    ]
    .join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-02T00:00:00Z")),
        ["2026-01-01T10:00:00Z enter trigger=ping", "2026-01-01T10:00:00Z exit reason=goal:already"]
    );
}

#[test]
fn entry_when_does_not_fire_again_while_it_stays_true_and_reentry_never_holds() {
    let source = r#"
message m sms { body "m" }
journey j {
  entry when contact.score >= 50
  send m
}"#;
    let input = [
        identify("a", "2026-01-01T00:00:00Z", ANA),
        identify("a", "2026-01-01T01:00:00Z", r#"{"score":60}"#),
        identify("a", "2026-01-01T02:00:00Z", r#"{"score":70}"#),
        identify("a", "2026-01-01T03:00:00Z", r#"{"score":10}"#),
        identify("a", "2026-01-01T04:00:00Z", r#"{"score":90}"#),
    ]
    .join("\n");
    let lines = short(&actions(source, &input, "2026-01-02T00:00:00Z"));
    let enters: Vec<&String> = lines.iter().filter(|l| l.contains("enter")).collect();
    assert_eq!(enters, ["2026-01-01T01:00:00Z enter trigger=when"], "edge-triggered, and `reentry never` (the default) blocks the second edge");
}

#[test]
fn an_exit_cancels_a_send_held_by_quiet_hours() {
    let source = r#"
policy { quiet_hours 21:00 to 08:00 }
message m sms { body "m" }
journey j { entry on ping  exit on unsubscribed  send m }
"#;
    let input = [
        identify("a", "2026-01-01T00:00:00Z", ANA),
        track("a", "2026-01-01T22:00:00Z", "Ping", "{}"),
        track("a", "2026-01-02T06:00:00Z", "Unsubscribed", "{}"),
    ]
    .join("\n");
    assert_eq!(
        short(&actions(source, &input, "2026-01-03T00:00:00Z")),
        ["2026-01-01T22:00:00Z enter trigger=ping", "2026-01-02T06:00:00Z exit reason=exit_on:unsubscribed"]
    );
}

#[test]
fn match_wildcard_and_explicit_exit_reasons() {
    let source = r#"
message m sms { body "m" }
journey j {
  entry on ping
  match contact.plan {
    pro => { exit "pro" }
    _ => { send m  exit }
  }
}"#;
    let free = [
        identify("a", "2026-01-01T00:00:00Z", r#"{"email":"a@x","plan":"enterprise","score":0,"lists":[]}"#),
        track("a", "2026-01-01T10:00:00Z", "Ping", "{}"),
    ]
    .join("\n");
    assert_eq!(
        short(&actions(source, &free, "2026-01-02T00:00:00Z")),
        ["2026-01-01T10:00:00Z enter trigger=ping", "2026-01-01T10:00:00Z send step=s3 message=m body=m", "2026-01-01T10:00:00Z exit reason=exit"]
    );
    let pro = [identify("b", "2026-01-01T00:00:00Z", ANA), track("b", "2026-01-01T10:00:00Z", "Ping", "{}")].join("\n");
    assert_eq!(short(&actions(source, &pro, "2026-01-02T00:00:00Z"))[1], "2026-01-01T10:00:00Z exit reason=pro");
}

#[test]
fn recurring_entries_with_a_false_filter_wait_for_a_record_that_can_change_it() {
    // The filter reads only behaviour: false every day until a ping arrives, true for the day
    // after it (within 1d), false again after. A ping exactly at an occurrence comes after that
    // occurrence (timers first), so it counts from the next day; a plan change does not wake
    // the entry (the filter does not read it) and changes nothing.
    let source = r#"
message m sms { body "m" }
journey daily { entry every day at 09:00 where has ping within 1d  reentry always  send m }
journey counted { entry every monday at 09:00 where count(ping) >= 2  reentry always  send m }
"#;
    let input = [
        identify("a", "2026-01-01T12:00:00Z", r#"{"email":"a@x","plan":"free","score":0,"lists":[]}"#),
        identify("a", "2026-01-03T12:00:00Z", r#"{"plan":"pro"}"#),
        track("a", "2026-01-05T09:00:00Z", "Ping", "{}"),
        track("a", "2026-01-08T20:00:00Z", "Ping", "{}"),
    ]
    .join("\n");
    let lines = short(&actions(source, &input, "2026-01-20T00:00:00Z"));
    let enters: Vec<&String> = lines.iter().filter(|l| l.contains("enter")).collect();
    assert_eq!(
        enters,
        [
            "2026-01-06T09:00:00Z enter trigger=every",
            "2026-01-09T09:00:00Z enter trigger=every",
            "2026-01-12T09:00:00Z enter trigger=every",
            "2026-01-19T09:00:00Z enter trigger=every",
        ]
    );
}

/// Where a condition decides whether a contact enters a journey (an entry's `where`, `entry
/// when`, a scheduled entry's instant) or counts an event (a counter's `where`), an error counts
/// as false, and is counted: per place and reason, each contact once, for `metrics.json` and the
/// note at the end of a run. A missing attribute counts as false too but is not counted: it only
/// says the contact's attributes are not known yet. (Before, every such error was a silent false.)
#[test]
fn entry_and_counter_conditions_that_cannot_be_evaluated_count_as_false_and_are_counted() {
    let source = r#"
journey on_where { entry on purchase where event.total / 0.0 > 1.0  exit }
journey when_overflow { entry when contact.score * 2 > 10  exit }
journey at_overflow { entry at contact.signup_at + 1000000w * 1000000000  exit }
journey missing { entry when contact.score > 10  exit }
journey counted {
  entry on signed_up
  goal big when count(purchase where event.total / 0.0 > 1.0) > 0
  wait 2d
  exit
}
"#;
    let schema = SCHEMA.replace("birthday: date?", "birthday: date?\n  signup_at: time");
    let program = journey::compile(&[("schema.journey", &schema), ("test.journey", source)]).unwrap_or_else(|e| panic!("{e}"));
    let full = |score: i64| format!(r#"{{"email":"a@x","plan":"pro","score":{score},"lists":[],"signup_at":"2026-01-01T00:00:00Z"}}"#);
    let input = [
        identify("a", "2026-01-01T09:00:00Z", &full(i64::MAX)),
        track("a", "2026-01-01T10:00:00Z", "Signed Up", r#"{"source":"x"}"#),
        track("a", "2026-01-01T11:00:00Z", "Order Completed", r#"{"total":5.0,"sku":"x"}"#),
        track("a", "2026-01-01T12:00:00Z", "Order Completed", r#"{"total":5.0,"sku":"x"}"#),
        identify("b", "2026-01-01T09:00:00Z", &full(2)),
        track("b", "2026-01-01T11:00:00Z", "Order Completed", r#"{"total":5.0,"sku":"x"}"#),
        // Never told its score: `missing` cannot be evaluated, and that is not counted.
        identify("c", "2026-01-01T09:00:00Z", r#"{"email":"c@x","plan":"pro","lists":[],"signup_at":"2026-01-01T00:00:00Z"}"#),
    ]
    .join("\n");
    let evaluation = journey::evaluation(&program, &input, "2026-01-05T00:00:00Z", 1);
    let counted = counts(&evaluation.condition_errors);
    assert_eq!(
        counted,
        [
            ("at_overflow: entry at: duration overflow: the result does not fit in 64 bits of milliseconds", 3),
            ("counter of purchase where: division by zero", 2),
            ("on_where: entry on purchase where: division by zero", 2),
            ("when_overflow: entry when: integer overflow: the result does not fit in 64 bits", 1),
        ]
    );
    assert_eq!(evaluation.condition_errors.total, 8);
    // Each counted as false: nobody entered those journeys, or reached the goal (`a`, whose
    // score is known, entered `missing`).
    let lines: Vec<String> = journey_runtime::action_lines(&program, &evaluation)
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).map(|v| format!("{} {} {}", v["contact"], v["journey"], v["action"])).unwrap_or_default()
        })
        .collect();
    assert_eq!(lines, [r#""a" "missing" "enter""#, r#""a" "missing" "exit""#, r#""a" "counted" "enter""#, r#""a" "counted" "exit""#]);
}

/// In a journey the contact is in, an error in an exit's or goal's condition, a `wait for`
/// filter or a re-tested `wait until` is the contact's, as in a step (LANGUAGE.md §7): an `error`
/// action saying why, and it leaves with reason `error` — a missing attribute too. (Before, each
/// was a silent false: the contact stayed, and nothing said why its goal was never reached.)
#[test]
fn conditions_of_the_journey_a_contact_is_in_that_cannot_be_evaluated_are_its_error() {
    let source = r#"
journey exit_where {
  entry on signed_up
  exit on purchase where 1 / (contact.score - contact.score) > 0
  wait 2d
}
journey goal_on {
  entry on signed_up
  goal bought on purchase where event.total / 0.0 > 1.0
  wait 2d
}
journey goal_when {
  entry on signed_up
  goal rich when contact.score * 2 > 10
  wait 2d
}
journey wait_for {
  entry on signed_up
  waiting: wait for purchase where event.total / 0.0 > 1.0 within 2d
}
journey wait_until {
  entry on signed_up
  waiting: wait until contact.score > 5 and 10 / (contact.score - 9223372036854775807) > 0 within 2d
}
journey goal_missing {
  entry on signed_up
  goal rich when contact.score > 10
  wait 2d
}
"#;
    let input = [
        identify("a", "2026-01-01T09:00:00Z", r#"{"email":"a@x","plan":"pro","score":2,"lists":[]}"#),
        track("a", "2026-01-01T10:00:00Z", "Signed Up", r#"{"source":"x"}"#),
        identify("a", "2026-01-01T11:00:00Z", r#"{"score":9223372036854775807}"#),
        track("a", "2026-01-01T12:00:00Z", "Order Completed", r#"{"total":5.0,"sku":"x"}"#),
        // Never told its score: `goal_missing`'s goal, tested at enrollment, reads it.
        track("b", "2026-01-01T10:00:00Z", "Signed Up", r#"{"source":"x"}"#),
    ]
    .join("\n");
    let lines: Vec<String> = actions(source, &input, "2026-01-05T00:00:00Z")
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            let text = |k: &str| v[k].as_str().unwrap_or("-").to_string();
            [text("contact"), text("at"), text("journey"), text("action"), text("step"), text("reason")].join(" ")
        })
        .filter(|l| !l.contains(" enter "))
        .collect();
    assert_eq!(
        lines,
        [
            "a 2026-01-01T11:00:00Z goal_when error s1 integer overflow: the result does not fit in 64 bits",
            "a 2026-01-01T11:00:00Z goal_when exit - error",
            "a 2026-01-01T11:00:00Z wait_until error waiting division by zero",
            "a 2026-01-01T11:00:00Z wait_until exit - error",
            "a 2026-01-01T11:00:00Z goal_missing exit - goal:rich",
            "a 2026-01-01T12:00:00Z exit_where error s1 division by zero",
            "a 2026-01-01T12:00:00Z exit_where exit - error",
            "a 2026-01-01T12:00:00Z goal_on error s1 division by zero",
            "a 2026-01-01T12:00:00Z goal_on exit - error",
            "a 2026-01-01T12:00:00Z wait_for error waiting division by zero",
            "a 2026-01-01T12:00:00Z wait_for exit - error",
            "b 2026-01-01T10:00:00Z goal_when error - missing attribute `score`",
            "b 2026-01-01T10:00:00Z goal_when exit - error",
            "b 2026-01-01T10:00:00Z wait_until error waiting missing attribute `score`",
            "b 2026-01-01T10:00:00Z wait_until exit - error",
            "b 2026-01-01T10:00:00Z goal_missing error - missing attribute `score`",
            "b 2026-01-01T10:00:00Z goal_missing exit - error",
            "b 2026-01-03T10:00:00Z exit_where exit - completed",
            "b 2026-01-03T10:00:00Z goal_on exit - completed",
            "b 2026-01-03T10:00:00Z wait_for exit - completed",
        ]
    );
}

/// A policy `timezone` that cannot be evaluated (here a `format` pattern from the data that is
/// none) is UTC, LANGUAGE.md's fallback, and counted like an entry condition's error: never
/// silently.
#[test]
fn a_time_zone_that_cannot_be_evaluated_is_utc_and_counted() {
    let schema = SCHEMA
        .replace("tz: string?", "tz: string?\n  pattern: string")
        .replace("webhook crm", "policy { timezone format(now, contact.pattern) }\nwebhook crm");
    let source = "journey daily { entry every day at 09:00  exit }";
    let program = journey::compile(&[("schema.journey", &schema), ("test.journey", source)]).unwrap_or_else(|e| panic!("{e}"));
    let input = identify("a", "2026-01-01T00:00:00Z", r#"{"email":"a@x","plan":"pro","score":1,"lists":[],"pattern":"%Q"}"#);
    let evaluation = journey::evaluation(&program, &input, "2026-01-02T00:00:00Z", 1);
    let counted = counts(&evaluation.condition_errors);
    assert_eq!(counted, [("policy timezone (evaluated in UTC): invalid format string", 1)]);
    let lines = short(&journey_runtime::action_lines(&program, &evaluation));
    assert_eq!(lines, ["2026-01-01T09:00:00Z enter trigger=every", "2026-01-01T09:00:00Z exit reason=exit"]);
}

/// Reasons that hold values from the data (here each contact's own bad `format` pattern) are
/// counted without them: as many counts as the project has places and reasons, whatever the
/// data, and the same whichever worker ran which contact.
#[test]
fn condition_errors_are_counted_without_the_values_from_the_data() {
    let schema = SCHEMA.replace("tz: string?", "tz: string?\n  pattern: string");
    let source = "journey j { entry on ping where format(now, contact.pattern) == \"x\"  exit }";
    let program = journey::compile(&[("schema.journey", &schema), ("test.journey", source)]).unwrap_or_else(|e| panic!("{e}"));
    let mut input = Vec::new();
    for i in 0..300 {
        input.push(identify(
            &format!("c{i:03}"),
            "2026-01-01T00:00:00Z",
            &format!(r#"{{"email":"a@x","plan":"pro","score":1,"lists":[],"pattern":"%Q{i}"}}"#),
        ));
        // Twice: each contact is counted once.
        input.push(track(&format!("c{i:03}"), "2026-01-01T10:00:00Z", "Ping", "{}"));
        input.push(track(&format!("c{i:03}"), "2026-01-01T11:00:00Z", "Ping", "{}"));
    }
    let evaluation = journey::evaluation(&program, &input.join("\n"), "2026-01-02T00:00:00Z", 1);
    let errors = counts(&evaluation.condition_errors);
    assert_eq!(errors, [("j: entry on ping where: invalid format string", 300)]);
}
