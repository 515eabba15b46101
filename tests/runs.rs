//! Batch-run guarantees (RUNTIME.md §3, §5, §7): resuming from a snapshot gives exactly the
//! actions of one run; shards concatenate to the single run; thread count changes nothing; a
//! changed project migrates waiting contacts by step id, and exits the orphans visibly.

use journey_runtime::snapshot::{Resumed, Snapshot};
use journey_runtime::{Cohort, Window, action_lines, evaluate, evaluate_resumed, input::parse_instant};

fn examples() -> journey_bytecode::Program {
    journey::examples().unwrap_or_else(|e| panic!("{e}"))
}

fn cohort_text(contacts: u64) -> String {
    let mut raw = Vec::new();
    journey_runtime::cohort_gen::generate(contacts, 11, 60, &mut raw).unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(raw).unwrap_or_default()
}

fn window(until: &str, threads: usize, shard: Option<(u32, u32)>) -> Window {
    Window { until: parse_instant(until).unwrap_or(0), threads, shard, holdouts: true, snapshot: true }
}

fn run(program: &journey_bytecode::Program, input: &str, from: Option<i64>, w: &Window, resumed: Resumed) -> journey_runtime::Evaluation {
    let decoder = journey_runtime::input::Decoder::new(program);
    let mut cohort = Cohort::new(from.or(resumed.until), w.until);
    cohort.ingest(&decoder, "in.jsonl", std::io::Cursor::new(input.to_string())).unwrap_or_else(|e| panic!("{e}"));
    evaluate_resumed(program, cohort, w, resumed)
}

/// Per contact, its action lines in order.
fn by_contact(lines: &[String]) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut map = std::collections::BTreeMap::<String, Vec<String>>::new();
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        map.entry(v["contact"].as_str().unwrap_or("").to_string()).or_default().push(l.clone());
    }
    map
}

#[test]
fn resuming_from_a_snapshot_equals_one_run() {
    let program = examples();
    let input = cohort_text(400);
    let whole = run(&program, &input, None, &window("2026-03-02T00:00:00Z", 2, None), Resumed::default());
    let first = run(&program, &input, None, &window("2026-01-25T00:00:00Z", 2, None), Resumed::default());
    let snapshot = Snapshot::new(&program, parse_instant("2026-01-25T00:00:00Z").unwrap_or(0), first.states.clone(), first.message_ids.clone());
    let dir = std::env::temp_dir().join(format!("journey-snap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("state.snapshot");
    snapshot.write(&path).unwrap_or_else(|e| panic!("{e}"));
    let restored = Snapshot::read(&path).and_then(|s| s.restore(&program)).unwrap_or_else(|e| panic!("{e}"));
    let second = run(&program, &input, None, &window("2026-03-02T00:00:00Z", 1, None), restored);
    assert!(second.rejects.iter().all(|r| r.reason.starts_with("late")), "only the already-processed records are rejected");
    let mut split = by_contact(&action_lines(&program, &first));
    for (contact, lines) in by_contact(&action_lines(&program, &second)) {
        split.entry(contact).or_default().extend(lines);
    }
    let one = by_contact(&action_lines(&program, &whole));
    assert!(one.values().map(Vec::len).sum::<usize>() > 5000);
    assert_eq!(split, one);
}

#[test]
fn shards_concatenate_to_the_single_run_and_threads_do_not_matter() {
    let program = examples();
    let input = cohort_text(300);
    let single = action_lines(&program, &run(&program, &input, None, &window("2026-03-02T00:00:00Z", 1, None), Resumed::default()));
    let two_threads = action_lines(&program, &run(&program, &input, None, &window("2026-03-02T00:00:00Z", 2, None), Resumed::default()));
    assert_eq!(single, two_threads);
    let mut shards: Vec<String> = Vec::new();
    for i in 0..3 {
        let part = run(&program, &input, None, &window("2026-03-02T00:00:00Z", 2, Some((i, 3))), Resumed::default());
        assert!(!part.contacts.is_empty());
        shards.extend(action_lines(&program, &part));
    }
    let mut sorted_shards = by_contact(&shards).into_iter().collect::<Vec<_>>();
    sorted_shards.sort();
    let concatenated: Vec<String> = sorted_shards.into_iter().flat_map(|(_, l)| l).collect();
    assert_eq!(concatenated, single);
}

const V1: &str = r#"
event ping "Ping" {}
message a sms { body "a" }
message b sms { body "b" }
journey j {
  entry on ping
  first: send a
  keep: wait 10d
  send b
}
journey k {
  entry on ping
  old_wait: wait 10d
  send a
}
journey m {
  entry on ping
  retiring: wait 10d
  send a
}
"#;

const V2: &str = r#"
event ping "Ping" {}
message a sms { body "a" }
message b sms { body "b" }
journey j {
  entry on ping
  first: send a
  keep: wait 10d
  send b
}
journey k {
  entry on ping
  new_wait: wait 3d
  send a
}
journey m {
  entry on ping
  migrate { retiring -> exit "retired" }
  fresh: wait 1d
  send a
}
"#;

/// Action lines as `at journey action reason-or-message`.
fn brief(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            let what = v["reason"].as_str().or(v["message"].as_str()).unwrap_or("");
            format!("{} {} {} {what}", v["at"].as_str().unwrap_or(""), v["journey"].as_str().unwrap_or(""), v["action"].as_str().unwrap_or(""))
        })
        .map(|l| l.trim_end().to_string())
        .collect()
}

#[test]
fn changed_projects_migrate_by_step_id_and_report_orphans() {
    let v1 = journey::compile(&[("p.journey", V1)]).unwrap_or_else(|e| panic!("{e}"));
    let v2 = journey::compile(&[("p.journey", V2)]).unwrap_or_else(|e| panic!("{e}"));
    let input = r#"{"type":"track","userId":"ana","timestamp":"2026-01-01T00:00:00Z","event":"Ping"}"#;
    let first = run(&v1, input, None, &window("2026-01-02T00:00:00Z", 1, None), Resumed::default());
    let snapshot = Snapshot::new(&v1, parse_instant("2026-01-02T00:00:00Z").unwrap_or(0), first.states.clone(), first.message_ids.clone());
    let restored = snapshot.restore(&v2).unwrap_or_else(|e| panic!("{e}"));
    let second = run(&v2, "", None, &window("2026-01-20T00:00:00Z", 1, None), restored);
    assert_eq!(
        brief(&action_lines(&v2, &second)),
        [
            "2026-01-02T00:00:00Z k exit migrated:removed_step",
            "2026-01-02T00:00:00Z m exit retired",
            "2026-01-11T00:00:00Z j send b",
            "2026-01-11T00:00:00Z j exit completed",
        ]
    );
}

const LITERALS_V1: &str = r#"
contact { tag: string?, tags: [string], lists: [string] }
event ping "Ping" {}
message m sms { body "{contact.tag ?? "none"} / {contact.tags} / {contact.lists}" }
journey j {
  entry on ping
  set contact.tag = "alpha"
  set contact.tags = ["x", "y"]
  set contact.lists = contact.lists + ["vip"]
  wait 2d
  send m
}
"#;

#[test]
fn literals_set_before_a_snapshot_read_the_same_in_a_changed_project() {
    let v1 = journey::compile(&[("p.journey", LITERALS_V1)]).unwrap_or_else(|e| panic!("{e}"));
    // Other literals first: the project's string constants are numbered differently.
    let v2 = LITERALS_V1.replace(
        "journey j {",
        "message early sms { body \"zzz first\" }\njourney a0 { entry on ping  set contact.tag = \"beta\"  set contact.tags = [\"p\", \"q\", \"r\"]  send early }\njourney j {",
    );
    let v2 = journey::compile(&[("p.journey", &v2)]).unwrap_or_else(|e| panic!("{e}"));
    let input = [
        r#"{"type":"identify","userId":"ana","timestamp":"2026-01-01T00:00:00Z","traits":{"lists":["news"]}}"#,
        r#"{"type":"track","userId":"ana","timestamp":"2026-01-01T00:00:00Z","event":"Ping"}"#,
    ]
    .join("\n");
    let first = run(&v1, &input, None, &window("2026-01-02T00:00:00Z", 1, None), Resumed::default());
    let snapshot = Snapshot::new(&v1, parse_instant("2026-01-02T00:00:00Z").unwrap_or(0), first.states.clone(), first.message_ids.clone());
    for (program, name) in [(&v1, "the same project"), (&v2, "the changed project")] {
        let restored = snapshot.restore(program).unwrap_or_else(|e| panic!("{e}"));
        let second = run(program, "", None, &window("2026-01-05T00:00:00Z", 1, None), restored);
        let lines = action_lines(program, &second);
        assert!(lines.iter().any(|l| l.contains(r#""fields":{"body":"alpha / x, y / news, vip"}"#)), "{name}: {lines:?}");
    }
}

/// v1 of a project whose enums, attribute types and entry fields change below.
const SCHEMA_V1: &str = r#"
contact { plan: Plan, score: int }
enum Plan { free, pro }
enum Color { red, blue }
event ping "Ping" { color: Color, note: string }
message m sms { body "{contact.plan} {contact.score} {trigger.color} {trigger.note}" }
journey j {
  entry on ping
  wait 2d
  send m
}
"#;

/// The outcome of resuming v1's contact `ana` (pro, score 7, enrolled by a blue ping) under
/// `v2`: the migration notes, the actions in brief, and the bodies sent.
fn resumed_under(v2: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let v1 = journey::compile(&[("p.journey", SCHEMA_V1)]).unwrap_or_else(|e| panic!("{e}"));
    let v2 = journey::compile(&[("p.journey", v2)]).unwrap_or_else(|e| panic!("{e}"));
    let input = [
        r#"{"type":"identify","userId":"ana","timestamp":"2026-01-01T00:00:00Z","traits":{"plan":"pro","score":7}}"#,
        r#"{"type":"track","userId":"ana","timestamp":"2026-01-01T00:00:00Z","event":"Ping","properties":{"color":"blue","note":"hi"}}"#,
    ]
    .join("\n");
    let first = run(&v1, &input, None, &window("2026-01-02T00:00:00Z", 1, None), Resumed::default());
    let snapshot = Snapshot::new(&v1, parse_instant("2026-01-02T00:00:00Z").unwrap_or(0), first.states.clone(), first.message_ids.clone());
    let restored = snapshot.restore(&v2).unwrap_or_else(|e| panic!("{e}"));
    let notes = restored.notes.clone();
    let lines = action_lines(&v2, &run(&v2, "", None, &window("2026-01-05T00:00:00Z", 1, None), restored));
    let bodies = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["fields"]["body"].as_str().map(str::to_string))
        .collect();
    (notes, brief(&lines), bodies)
}

#[test]
fn a_changed_project_reads_enum_values_by_name_and_drops_what_no_longer_fits_visibly() {
    // A variant added before `pro`, another enum added first: values are read by name, in the
    // attributes and in the trigger fields.
    let (notes, actions, bodies) = resumed_under(&SCHEMA_V1.replace("enum Plan { free, pro }", "enum Shade { dark }\nenum Plan { free, team, pro }"));
    assert_eq!(notes, Vec::<String>::new());
    assert_eq!(bodies, ["pro 7 blue hi"]);
    assert_eq!(actions, ["2026-01-03T00:00:00Z j send m", "2026-01-03T00:00:00Z j exit completed"]);
    let (_, _, bodies) = resumed_under(&SCHEMA_V1.replace("enum Color { red, blue }", "enum Color { green, blue, red }"));
    assert_eq!(bodies, ["pro 7 blue hi"]);
    // The contact's variant removed: dropped, said, and the run says it is missing.
    let (notes, actions, _) = resumed_under(&SCHEMA_V1.replace("enum Plan { free, pro }", "enum Plan { free, team }"));
    assert_eq!(notes, ["attribute `plan`: enum `Plan` has no variant `pro` any more: its value is dropped (1 contact)"]);
    assert_eq!(actions, ["2026-01-03T00:00:00Z j error missing attribute `plan`", "2026-01-03T00:00:00Z j exit error"]);
    // An attribute of another type: dropped and said.
    let (notes, _, _) = resumed_under(&SCHEMA_V1.replace("score: int", "score: string"));
    assert_eq!(notes, ["attribute `score`: it is string now, int before: its value is dropped (1 contact)"]);
    // The entry event's fields reordered: `trigger.*` would read the wrong ones, so none is kept.
    let (notes, _, _) = resumed_under(&SCHEMA_V1.replace("{ color: Color, note: string }", "{ note: string, color: Color }"));
    assert_eq!(notes, ["journey `j`: the fields of its entry events changed: `trigger.*` reads nothing for the contacts already in it (1 contact)"]);
}

const SCHEDULED_V1: &str = r#"
event ping "Ping" {}
message a sms { body "a" }
journey weekly {
  entry every monday at 09:00
  send a
}
journey j {
  entry on ping
  send a
}
"#;

const SCHEDULED_V2: &str = r#"
event ping "Ping" {}
message a sms { body "a" }
message b sms { body "b" }
journey weekly {
  entry every tuesday at 10:00
  send a
}
journey tip {
  entry every 7d
  send b
}
journey j {
  entry on ping
  send a
}
"#;

/// After a project change, scheduled entries follow the new project from the window start,
/// for a contact with no record in the window too: a changed `every` fires on its new days
/// (not once more at the old one's), and a journey added with an `every` entry starts.
#[test]
fn changed_projects_schedule_entries_afresh_at_the_window_start() {
    let v1 = journey::compile(&[("p.journey", SCHEDULED_V1)]).unwrap_or_else(|e| panic!("{e}"));
    let v2 = journey::compile(&[("p.journey", SCHEDULED_V2)]).unwrap_or_else(|e| panic!("{e}"));
    // 2026-01-01 is a Thursday.
    let input = r#"{"type":"track","userId":"ana","timestamp":"2026-01-01T00:00:00Z","event":"Ping"}"#;
    let first = run(&v1, input, None, &window("2026-01-06T00:00:00Z", 1, None), Resumed::default());
    assert_eq!(
        brief(&action_lines(&v1, &first)),
        [
            "2026-01-01T00:00:00Z j enter",
            "2026-01-01T00:00:00Z j send a",
            "2026-01-01T00:00:00Z j exit completed",
            "2026-01-05T09:00:00Z weekly enter",
            "2026-01-05T09:00:00Z weekly send a",
            "2026-01-05T09:00:00Z weekly exit completed",
        ]
    );
    let snapshot = Snapshot::new(&v1, parse_instant("2026-01-06T00:00:00Z").unwrap_or(0), first.states.clone(), first.message_ids.clone());
    let restored = snapshot.restore(&v2).unwrap_or_else(|e| panic!("{e}"));
    let second = run(&v2, "", None, &window("2026-01-15T00:00:00Z", 1, None), restored);
    assert_eq!(
        brief(&action_lines(&v2, &second)),
        [
            "2026-01-06T10:00:00Z weekly enter",
            "2026-01-06T10:00:00Z weekly send a",
            "2026-01-06T10:00:00Z weekly exit completed",
            // Every 7 days from the epoch (a Thursday, 00:00 UTC).
            "2026-01-08T00:00:00Z tip enter",
            "2026-01-08T00:00:00Z tip send b",
            "2026-01-08T00:00:00Z tip exit completed",
            "2026-01-13T10:00:00Z weekly enter",
            "2026-01-13T10:00:00Z weekly send a",
            "2026-01-13T10:00:00Z weekly exit completed",
        ]
    );
    // The same project resumed keeps its schedules as they were: one run's actions.
    let whole = run(&v1, input, None, &window("2026-01-15T00:00:00Z", 1, None), Resumed::default());
    let resumed = run(&v1, "", None, &window("2026-01-15T00:00:00Z", 1, None), snapshot.restore(&v1).unwrap_or_else(|e| panic!("{e}")));
    let mut split = brief(&action_lines(&v1, &first));
    split.extend(brief(&action_lines(&v1, &resumed)));
    assert_eq!(split, brief(&action_lines(&v1, &whole)));
}

#[test]
fn a_corrupt_snapshot_is_an_error() {
    let dir = std::env::temp_dir().join(format!("journey-badsnap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("state.snapshot");
    std::fs::write(&path, b"JSN\0garbage").unwrap_or_else(|e| panic!("{e}"));
    let error = Snapshot::read(&path).err().unwrap_or_default();
    assert!(error.contains("state.snapshot"), "{error}");
    // One of another format version: what to do instead (it cannot be rebuilt, as a `.jbc` can).
    let mut old = b"JSN\0".to_vec();
    old.extend(3u16.to_le_bytes());
    old.resize(64, 0);
    std::fs::write(&path, &old).unwrap_or_else(|e| panic!("{e}"));
    let error = Snapshot::read(&path).err().unwrap_or_default();
    assert!(error.ends_with("state.snapshot: snapshot format version 3 is not supported (this journey reads version 4); resume it with the journey release that wrote it, or start afresh without --resume"), "{error}");
    let _ = evaluate;
}

/// A snapshot whose checksum is right but whose states do not fit the program (written by hand,
/// or by a bug): each is refused by `restore` with the contact named, before anything runs.
#[test]
fn a_state_that_does_not_fit_the_program_is_refused() {
    use journey_runtime::snapshot::{decode_state, encode_state};
    let program = examples();
    let input = cohort_text(60);
    let until = "2026-01-25T00:00:00Z";
    let first = run(&program, &input, None, &window(until, 1, None), Resumed::default());
    let (contact, bytes) =
        first.states.iter().find(|(_, b)| decode_state(b).is_ok_and(|s| s.slots.iter().any(|x| x.status == 1))).cloned().unwrap_or_default();
    let state = decode_state(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let active = state.slots.iter().position(|x| x.status == 1).unwrap_or(0);
    type Damage = Box<dyn Fn(&mut journey_vm::ContactState)>;
    let damages: Vec<(&str, Damage)> = vec![
        (
            "journeys",
            Box::new(|s| {
                s.slots.pop();
            }),
        ),
        ("journeys", Box::new(|s| s.triggers.push(Vec::new()))),
        (
            "attributes",
            Box::new(|s| {
                s.attrs.pop();
            }),
        ),
        (
            "counters",
            Box::new(|s| {
                s.pred_count.pop();
            }),
        ),
        ("counters", Box::new(|s| s.pred_last.push(0))),
        ("status", Box::new(move |s| s.slots[active].status = 9)),
        ("step", Box::new(move |s| s.slots[active].pc = 100_000)),
        ("entry", Box::new(move |s| s.slots[active].sched_entry = 200)),
    ];
    for (what, damage) in damages {
        let mut bad = state.clone();
        damage(&mut bad);
        let mut states = first.states.clone();
        if let Some(entry) = states.iter_mut().find(|(c, _)| *c == contact) {
            entry.1 = encode_state(&bad);
        }
        let snapshot = Snapshot::new(&program, parse_instant(until).unwrap_or(0), states, first.message_ids.clone());
        match snapshot.restore(&program) {
            Ok(_) => panic!("a state with damaged {what} was restored"),
            Err(e) => {
                assert!(e.contains(&format!("contact {contact:?}")) && e.contains(what), "{what}: {e}");
            }
        }
    }
}

#[test]
fn flow_edges_add_up_and_the_report_is_self_contained() {
    let program = examples();
    let input = cohort_text(600);
    let evaluation = run(&program, &input, None, &window("2026-03-02T00:00:00Z", 2, None), Resumed::default());
    let metrics = journey_runtime::metrics::metrics(&program, &evaluation, &Default::default(), &Default::default());
    let mut checked = 0;
    for journey in &program.journeys {
        let m = &metrics["journeys"][&journey.name];
        let edges = m["edges"].as_array().cloned().unwrap_or_default();
        assert_eq!(edges.len(), journey.flow_edges().len(), "{}", journey.name);
        // Every contact that reached a step came along exactly one edge into it.
        for id in &journey.step_ids {
            let into: u64 = edges.iter().filter(|e| e["to"] == id.as_str()).map(|e| e["count"].as_u64().unwrap_or(0)).sum();
            assert_eq!(into, m["steps"][id]["entered"].as_u64().unwrap_or(u64::MAX), "{}: edges into {id}", journey.name);
            checked += into;
        }
        // Completions are the edges into the end node.
        let ended: u64 = edges.iter().filter(|e| e["to"] == "(end)").map(|e| e["count"].as_u64().unwrap_or(0)).sum();
        assert_eq!(ended, m["exits"]["by_reason"]["completed"].as_u64().unwrap_or(0), "{}: completions", journey.name);
    }
    assert!(checked > 1000, "the cohort exercises the journeys ({checked} step entries)");

    let html = journey_runtime::report::html(&program, &metrics);
    for journey in &program.journeys {
        assert!(html.contains(&format!(r#"<section id="j-{}">"#, journey.name)), "a section for {}", journey.name);
    }
    assert_eq!(html.matches("<svg class=\"flow\"").count(), program.journeys.len(), "one flow diagram per journey");
    let welcome = &metrics["journeys"]["welcome"];
    let first_edge = &welcome["edges"][0];
    assert!(html.contains(&format!("<title>entry → intro: {}</title>", first_edge["count"])), "edge counts are drawn");
    for outside in ["http://", "https://", "<script", "src=", "@import", "url("] {
        assert!(!html.contains(outside), "the report opens offline: found {outside}");
    }
}

/// A generated cohort of `contacts`, decoded for `program` up to `until`: (contact, input).
fn decoded_cohort(program: &journey_bytecode::Program, contacts: u64, until: i64) -> Vec<(String, journey_vm::ContactInput)> {
    let decoder = journey_runtime::input::Decoder::new(program);
    let mut cohort = Cohort::new(None, until);
    cohort.ingest(&decoder, "in.jsonl", std::io::Cursor::new(cohort_text(contacts))).unwrap_or_else(|e| panic!("{e}"));
    cohort.into_inputs()
}

#[test]
fn dormant_recurring_entries_change_no_action() {
    // The examples' daily and weekly entries go dormant for most of this cohort; evaluated with
    // dormancy off (every occurrence wakes the contact), every action is the same.
    let program = examples();
    let until = parse_instant("2026-03-02T00:00:00Z").unwrap_or(0);
    let inputs = decoded_cohort(&program, 1500, until);
    let lines = |dormancy: bool| {
        let mut vm = journey_vm::Vm::new(&program);
        vm.options.dormancy = dormancy;
        let mut lines = Vec::new();
        for (contact, input) in &inputs {
            let (mut state, mut out) = (journey_vm::ContactState::new(&program), journey_vm::Actions::new());
            vm.run(contact, &mut state, input, until, &mut out);
            lines.extend(out.iter().map(|a| journey_vm::output::action_json(&program, contact, &out.rendered, a)));
            // What the contact keeps never points into the input, which is gone after the run.
            let input_bit = journey_vm::value::INPUT_BIT | journey_vm::value::CONST_BIT;
            for v in state.attrs.iter().chain(state.triggers.iter().flatten()) {
                if let journey_vm::Value::Str(id) | journey_vm::Value::List(id) = v {
                    assert_ne!(id & input_bit, journey_vm::value::INPUT_BIT, "{contact} keeps {v:?} from the input");
                }
            }
        }
        lines
    };
    let (with, without) = (lines(true), lines(false));
    assert!(with.len() > 20_000, "{} actions", with.len());
    assert_eq!(with, without);
}

#[test]
fn direct_expressions_and_borrowed_runs_change_nothing() {
    // Against the expression machine alone (no direct path, no constant fields) and runs that
    // persist their state (`Vm::run`), the runner's way — direct path, `run_borrowing`, then
    // `compact_after_run` — gives the same actions and the same encoded states.
    let program = examples();
    let until = parse_instant("2026-03-02T00:00:00Z").unwrap_or(0);
    let inputs = decoded_cohort(&program, 1500, until);
    let run = |runner_way: bool| {
        let mut vm = journey_vm::Vm::new(&program);
        vm.options.direct = runner_way;
        let (mut lines, mut states) = (Vec::new(), Vec::new());
        let (mut state, mut scratch) = (journey_vm::ContactState::new(&program), journey_vm::Heap::default());
        for (contact, input) in &inputs {
            let mut out = journey_vm::Actions::new();
            state.reset(&program);
            if runner_way {
                vm.run_borrowing(contact, &mut state, input, until, &mut out);
                state.compact_after_run(&mut scratch, &input.heap);
            } else {
                vm.run(contact, &mut state, input, until, &mut out);
                state.compact();
            }
            lines.extend(out.iter().map(|a| journey_vm::output::action_json(&program, contact, &out.rendered, a)));
            states.push(journey_runtime::snapshot::encode_state(&state));
        }
        (lines, states, vm.transitions())
    };
    let (fast, slow) = (run(true), run(false));
    assert!(fast.0.len() > 20_000, "{} actions", fast.0.len());
    assert_eq!(fast.0, slow.0);
    assert_eq!(fast.1, slow.1, "encoded states differ");
    assert_eq!(fast.2, slow.2);
    // The states keep strings from the input (emails, names), so the copy was exercised.
    assert!(fast.1.iter().filter(|s| s.windows(4).any(|w| w == b".com")).count() > 1000);
}

/// A reader that hands out its input a few bytes at a time (as a decompressor or a pipe may).
struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.step = self.step % 4093 + 17;
        let n = buf.len().min(self.step).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..n + self.at]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn input_read_in_small_pieces_and_small_blocks_decodes_the_same() {
    let program = examples();
    let decoder = journey_runtime::input::Decoder::new(&program);
    let until = parse_instant("2026-03-02T00:00:00Z").unwrap_or(0);
    let whole = decoded_cohort(&program, 300, until);
    // Blocks of 4 KiB: every block ends in a carried partial line.
    let mut cohort = Cohort::new(None, until).with_block_size(4096);
    let reader = std::io::BufReader::with_capacity(64, Trickle { data: cohort_text(300).into_bytes(), at: 0, step: 0 });
    cohort.ingest(&decoder, "in.jsonl", reader).unwrap_or_else(|e| panic!("{e}"));
    let pieces = cohort.into_inputs();
    assert!(whole.len() == 300 && whole.iter().map(|(_, i)| i.records.len()).sum::<usize>() > 3000);
    assert!(pieces == whole, "reading in small pieces changed the decoded cohort");
}

#[test]
fn lines_longer_than_a_read_block_and_a_last_line_without_newline_are_read() {
    let program = examples();
    let decoder = journey_runtime::input::Decoder::new(&program);
    let good =
        |user: &str| format!(r#"{{"type":"track","userId":"{user}","timestamp":"2026-01-02T00:00:00Z","event":"App Opened","properties":{{}}}}"#);
    let long = format!("{{\"junk\":\"{}\"", "x".repeat(9 << 20));
    let input = format!("{}\r\n{long}\n\n{}", good("a"), good("b"));
    let mut cohort = Cohort::new(None, parse_instant("2026-02-01T00:00:00Z").unwrap_or(0));
    cohort.ingest(&decoder, "in.jsonl", std::io::Cursor::new(input)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cohort.records_read, 3);
    assert_eq!(cohort.rejects.len(), 1);
    assert_eq!(cohort.rejects[0].line, 2);
    assert!(cohort.rejects[0].reason.starts_with("not JSON"), "{}", cohort.rejects[0].reason);
    let inputs = cohort.into_inputs();
    assert_eq!(inputs.iter().map(|(c, i)| (c.as_str(), i.records.len())).collect::<Vec<_>>(), [("a", 1), ("b", 1)]);
}

#[test]
fn the_run_formatter_writes_exactly_the_reference_lines() {
    // `journey run` formats with names escaped once (`ActionFormat`); every action of a cohort
    // (sends, holdouts, assigns, splits, suppressions, every exit reason) reads the same as the
    // reference formatter's.
    let program = examples();
    let evaluation = run(&program, &cohort_text(1500), None, &window("2026-03-02T00:00:00Z", 2, None), Resumed::default());
    let format = journey_vm::output::ActionFormat::new(&program);
    let mut instant = (0, String::new());
    let mut kinds = std::collections::BTreeSet::new();
    let mut count = 0;
    for (contact, actions) in &evaluation.contacts {
        let quoted = journey_vm::value::json_string(contact);
        for a in actions {
            let mut line = String::new();
            format.write(&quoted, &actions.rendered, a, &mut instant, &mut line);
            assert_eq!(line, journey_vm::output::action_json(&program, contact, &actions.rendered, a));
            kinds.insert(journey_vm::output::action_word(&a.kind));
            count += 1;
        }
    }
    assert!(count > 20_000 && kinds.len() >= 6, "{count} actions of kinds {kinds:?}");
}

#[test]
fn a_contact_keeps_only_the_sends_its_caps_can_still_count() {
    // Caps count the sends of their window; after a run, older sends (and any on a channel
    // without a cap) are dropped from the state, and the next run's caps count as before.
    let source = r#"
contact { email: string }
event ping "Ping" {}
policy { cap sms 2 per 2d }
message text sms { body "hi" }
message note push { title "hi", body "hi" }
journey j { entry on ping  reentry always  send text  send note }
"#;
    let program = journey::compile(&[("t.journey", source)]).unwrap_or_else(|e| panic!("{e}"));
    let ping = |at: &str| format!(r#"{{"type":"track","userId":"a","timestamp":"{at}","event":"Ping","properties":{{}}}}"#);
    let decode = |lines: &[String], from: Option<i64>, until: i64| {
        let mut cohort = Cohort::new(from, until);
        let decoder = journey_runtime::input::Decoder::new(&program);
        cohort.ingest(&decoder, "in.jsonl", std::io::Cursor::new(lines.join("\n"))).unwrap_or_else(|e| panic!("{e}"));
        cohort.into_inputs()
    };
    let t = |s: &str| parse_instant(s).unwrap_or(0);
    let (mut vm, mut state) = (journey_vm::Vm::new(&program), journey_vm::ContactState::new(&program));
    let pings = ["2025-12-30T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-02T09:00:00Z", "2026-01-02T20:00:00Z"];
    let first = decode(&pings.map(ping), None, t("2026-01-03T00:00:00Z"));
    let mut out = journey_vm::Actions::new();
    for (contact, input) in &first {
        vm.run(contact, &mut state, input, t("2026-01-03T00:00:00Z"), &mut out);
    }
    // Sent: the texts of 30 December, 1 January and 2 January 09:00 (the last one capped). Kept:
    // those within 2 days of the window's end; the push channel has no cap and keeps none.
    let sms = journey_bytecode::Channel::Sms.index();
    let push = journey_bytecode::Channel::Push.index();
    let suppressed = out.iter().filter(|a| matches!(a.kind, journey_vm::ActionKind::Suppressed { .. })).map(|a| a.at).collect::<Vec<_>>();
    assert_eq!(suppressed, [t("2026-01-02T20:00:00Z")]);
    assert_eq!(state.sent[sms], [t("2026-01-01T10:00:00Z"), t("2026-01-02T09:00:00Z")]);
    assert!(state.sent[push].is_empty(), "{:?}", state.sent[push]);
    // The next run counts as one run would: at 3 January 08:00 the two kept sends are within 2
    // days (capped); at 4 January 09:30 neither is.
    let second = decode(&[ping("2026-01-03T08:00:00Z"), ping("2026-01-04T09:30:00Z")], Some(t("2026-01-03T00:00:00Z")), t("2026-01-06T00:00:00Z"));
    let mut out = journey_vm::Actions::new();
    for (contact, input) in &second {
        vm.run(contact, &mut state, input, t("2026-01-06T00:00:00Z"), &mut out);
    }
    let kinds: Vec<String> = out
        .iter()
        .filter(|a| !matches!(a.kind, journey_vm::ActionKind::Enter { .. } | journey_vm::ActionKind::Exit { .. }))
        .map(|a| format!("{} {}", journey_vm::output::action_json(&program, "a", &out.rendered, a).contains("suppressed"), a.at))
        .collect();
    assert_eq!(
        kinds,
        [
            format!("true {}", t("2026-01-03T08:00:00Z")),
            format!("false {}", t("2026-01-03T08:00:00Z")),
            format!("false {}", t("2026-01-04T09:30:00Z")),
            format!("false {}", t("2026-01-04T09:30:00Z")),
        ]
    );
    // Kept: the sends after 4 January 00:00 (the window's end less 2 days).
    assert_eq!(state.sent[sms], [t("2026-01-04T09:30:00Z")]);
}

#[test]
fn trigger_fields_are_kept_while_the_contact_is_in_the_journey_only() {
    let source = r#"
contact { email: string }
event ping "Ping" { note: string }
message m push { title "t", body "{trigger.note}" }
journey j { entry on ping  wait 1d  send m }
"#;
    let program = journey::compile(&[("t.journey", source)]).unwrap_or_else(|e| panic!("{e}"));
    let t = |s: &str| parse_instant(s).unwrap_or(0);
    let ping = r#"{"type":"track","userId":"a","timestamp":"2026-01-01T10:00:00Z","event":"Ping","properties":{"note":"a note kept for a day"}}"#;
    let mut cohort = Cohort::new(None, t("2026-01-01T12:00:00Z"));
    cohort.ingest(&journey_runtime::input::Decoder::new(&program), "in.jsonl", std::io::Cursor::new(ping)).unwrap_or_else(|e| panic!("{e}"));
    let (mut vm, mut state, mut out) = (journey_vm::Vm::new(&program), journey_vm::ContactState::new(&program), journey_vm::Actions::new());
    for (contact, input) in &cohort.into_inputs() {
        vm.run(contact, &mut state, input, t("2026-01-01T12:00:00Z"), &mut out);
    }
    assert_eq!(state.triggers[0].len(), 1, "waiting: the trigger's field is kept");
    // The next run: the wait ends, the send reads the kept field, the contact completes.
    let mut out = journey_vm::Actions::new();
    vm.run("a", &mut state, &journey_vm::ContactInput::default(), t("2026-01-03T00:00:00Z"), &mut out);
    let lines: Vec<String> = out.iter().map(|a| journey_vm::output::action_json(&program, "a", &out.rendered, a)).collect();
    assert!(lines.iter().any(|l| l.contains(r#""body":"a note kept for a day""#)), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains(r#""reason":"completed""#)), "{lines:?}");
    assert!(state.triggers[0].is_empty(), "left: nothing of the trigger is kept");
}
