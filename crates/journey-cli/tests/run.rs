//! End-to-end tests of `journey run` (and `merge`, which joins its shards): options, inputs,
//! rejects, outputs identical for any thread count, and what a run says at its end.

mod common;
use common::*;
use std::process::Command;

/// `--threads 0` was quietly run on one thread, `--threads 100000` aborted the process ("failed
/// to initiate panic"), and a `--from` after `--until` rejected every record as late; all are
/// usage errors now that say what to write, as are shards that do not exist.
#[test]
fn run_options_out_of_range_are_usage_errors() {
    // `journey run examples` with one more option; the input is never read.
    let run = |flag: &str, value: &str| {
        journey(&["run", "examples", "--input", "does-not-matter.jsonl", "--until", "2026-01-02T00:00:00Z", "--out", "unused", flag, value], &repo())
    };
    for (threads, says) in [
        ("0", "invalid value '0' for '--threads <N>': a run needs at least one thread (leave `--threads` out to use every core)"),
        ("100000", "invalid value '100000' for '--threads <N>': at most 512 threads"),
        ("two", "invalid value 'two' for '--threads <N>': not a whole number of threads"),
    ] {
        let out = run("--threads", threads);
        assert_eq!(out.status.code(), Some(2), "--threads {threads}");
        assert!(stderr(&out).starts_with(&format!("error: {says}")), "{}", stderr(&out));
    }
    for (s, says) in [
        ("0/0", "N in I/N is the number of shards: at least 1 (0/1 is the whole cohort)"),
        ("3/2", "shard 3/2 does not exist: shards are numbered 0 to 1"),
        ("0/99999999999999999999", "N in I/N is \"99999999999999999999\", not a whole number below 2^32"),
    ] {
        let out = run("--shard", s);
        assert_eq!((out.status.code(), stderr(&out)), (Some(2), format!("error: --shard: {says}\n")), "--shard {s}");
    }
    let out = journey(
        &["run", "examples", "--input", "x.jsonl", "--from", "2026-02-01T00:00:00Z", "--until", "2026-01-01T00:00:00Z", "--out", "unused"],
        &repo(),
    );
    assert_eq!(
        (out.status.code(), stderr(&out)),
        (
            Some(2),
            "error: --from 2026-02-01T00:00:00Z is not before --until 2026-01-01T00:00:00Z: the window [from, until) would hold nothing\n".into()
        )
    );
    assert!(!repo().join("unused").exists(), "nothing is written on a usage error");
}

/// A run that rejected records says how many were outside the window and how many did not
/// fit, with the first of those, at its end (before, only "N rejected").
#[test]
fn a_run_says_why_records_were_rejected() {
    let input = [
        r#"{"type":"identify","userId":"a","timestamp":"2025-12-31T00:00:00Z","traits":{"email":"a@x","plan":"pro"}}"#,
        r#"{"type":"identify","userId":"a","timestamp":"2026-01-01T00:00:00Z","traits":{"email":"a@x","plan":"pro"}}"#,
        r#"{"type":"track","userId":"a","timestamp":"2026-01-01T10:00:00Z"}"#,
        r#"{"type":"identify","userId":"a","timestamp":"2026-01-03T00:00:00Z","traits":{"email":"a@x","plan":"pro"}}"#,
        r#"{"type":"identify","userId":"b","timestamp":"2026-01-04T00:00:00Z","traits":{"email":"b@x","plan":"pro"}}"#,
    ]
    .join("\n");
    let dir = temp_project("rejects-note", &[("p.journey", TEST_PROJECT), ("in.jsonl", &input)]);
    let out = journey(
        &["run", "p.journey", "--input", "in.jsonl", "--from", "2026-01-01T00:00:00Z", "--until", "2026-01-03T00:00:00Z", "--out", "o"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "note: 4 records rejected: 2 at or after --until 2026-01-03T00:00:00Z (for the next run), 1 before the window's start, 1 that did not fit (the first, in.jsonl:3: a track record needs an `event` name); each with its reason in o/rejects.jsonl\n"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_writes_actions_rejects_and_metrics_identically_for_any_thread_count() {
    let dir = temp_project("run", &[("p.journey", TEST_PROJECT)]);
    let input = [
        r#"{"type":"identify","userId":"ana","timestamp":"2026-01-01T09:00:00Z","traits":{"email":"a@x","plan":"pro"}}"#,
        r#"{"type":"track","userId":"ana","timestamp":"2026-01-01T10:00:00Z","event":"Signed Up","properties":{}}"#,
        r#"{"type":"track","userId":"bo","timestamp":"2026-01-01T10:00:00+02:00","event":"Signed Up"}"#,
        r#"not json"#,
        r#"{"type":"identify","userId":"cy","timestamp":"2026-01-01T09:00:00Z","traits":{"plan":"platinum"}}"#,
        r#"{"type":"track","timestamp":"2026-01-01T09:00:00Z","event":"Signed Up"}"#,
        r#"{"type":"track","userId":"dee","timestamp":"yesterday","event":"Signed Up"}"#,
        r#"{"type":"track","userId":"ana","timestamp":"2026-01-09T00:00:00Z","event":"Signed Up"}"#,
        r#"{"batch":[{"type":"track","userId":"eve","timestamp":"2026-01-01T11:00:00Z","event":"Signed Up","messageId":"m1"},{"type":"track","userId":"eve","timestamp":"2026-01-01T11:00:00Z","event":"Signed Up","messageId":"m1"}]}"#,
        // Undeclared: the identifier of an event with an alias (twice), and a name nothing matches.
        r#"{"type":"track","userId":"fay","timestamp":"2026-01-02T00:00:00Z","event":"signed_up"}"#,
        r#"{"type":"track","userId":"gus","timestamp":"2026-01-02T00:00:00Z","event":"signed_up"}"#,
        r#"{"type":"track","userId":"fay","timestamp":"2026-01-02T00:00:00Z","event":"Mystery"}"#,
    ]
    .join("\n");
    std::fs::write(dir.join("in.jsonl"), input).unwrap_or_else(|e| panic!("{e}"));
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out_dir = format!("out{threads}");
        let out =
            journey(&["run", "p.journey", "--input", "in.jsonl", "--until", "2026-01-05T00:00:00Z", "--out", &out_dir, "--threads", threads], &dir);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        outputs.push(std::fs::read_to_string(dir.join(&out_dir).join("actions.jsonl")).unwrap_or_default());
        let rejects = std::fs::read_to_string(dir.join(&out_dir).join("rejects.jsonl")).unwrap_or_default();
        let reasons: Vec<String> = rejects
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                format!("{}:{} {}", v["file"].as_str().unwrap_or(""), v["line"], v["reason"].as_str().unwrap_or(""))
            })
            .collect();
        assert_eq!(reasons.len(), 6, "{rejects}");
        assert!(reasons[0].starts_with("in.jsonl:4 not JSON"), "{reasons:?}");
        assert!(reasons[1].starts_with("in.jsonl:5 trait `plan`: \"platinum\" is not a Plan"), "{reasons:?}");
        assert!(reasons[2].starts_with("in.jsonl:6 no contact id"), "{reasons:?}");
        assert!(reasons[3].starts_with("in.jsonl:7 unparsable timestamp"), "{reasons:?}");
        assert!(reasons[3].ends_with("write RFC 3339 with an offset, like 2026-01-05T10:00:00Z"), "{reasons:?}");
        assert!(reasons[4].starts_with("in.jsonl:8 future"), "{reasons:?}");
        assert!(reasons[5].starts_with("in.jsonl:9 duplicate"), "{reasons:?}");
        let metrics: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(&out_dir).join("metrics.json")).unwrap_or_default()).unwrap_or_default();
        assert_eq!(metrics["journeys"]["welcome"]["entered"], 3);
        assert_eq!(metrics["run"]["rejected"], 6);
        // Seen, counted per name (most frequent first), and nothing triggered.
        assert_eq!(metrics["run"]["undeclared"], serde_json::json!({ "records": 3, "events": { "signed_up": 2, "Mystery": 1 } }));
        assert!(
            stderr(&out).contains(
                "note: 3 records name events the project does not declare, which trigger nothing: \"signed_up\" (2; did you mean \"Signed Up\"?), \"Mystery\" (1)."
            ),
            "{}",
            stderr(&out)
        );
        let report = std::fs::read_to_string(dir.join(&out_dir).join("report.html")).unwrap_or_default();
        assert!(
            report.contains(
                "3 records name events the project does not declare and triggered nothing: <code>signed_up</code> (2), <code>Mystery</code> (1)"
            ),
            "{report}"
        );
    }
    assert_eq!(outputs[0], outputs[1]);
    let lines: Vec<&str> = outputs[0].lines().collect();
    assert_eq!(lines[0], r#"{"at":"2026-01-01T10:00:00Z","contact":"ana","journey":"welcome","action":"enter","trigger":"signed_up"}"#);
    assert!(
        lines[3].contains(r#""contact":"bo""#) && lines[3].starts_with(r#"{"at":"2026-01-01T08:00:00Z""#),
        "offsets are normalised to UTC: {}",
        lines[3]
    );
    let out = journey(&["run", "p.journey", "--input", "in.jsonl", "--until", "2026-01-05T00:00:00Z", "--out", "strict", "--strict"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error: 6 records were rejected (--strict); see strict/rejects.jsonl"), "{}", stderr(&out));
    // One reject is worded in the singular.
    std::fs::write(dir.join("one.jsonl"), "{\"type\":\"track\"\n").unwrap_or_else(|e| panic!("{e}"));
    let out = journey(&["run", "p.journey", "--input", "one.jsonl", "--until", "2026-01-05T00:00:00Z", "--out", "strict1", "--strict"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error: 1 record was rejected (--strict); see strict1/rejects.jsonl"), "{}", stderr(&out));
    let out = journey(&["run", "p.journey", "--input", "nope.jsonl", "--until", "2026-01-05T00:00:00Z", "--out", "o"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.jsonl: no such file or directory"), "{}", stderr(&out));
}

#[test]
fn contacts_whose_time_zone_names_no_zone_are_counted_and_said() {
    let dir = temp_project("zones", &[]);
    let identify = |id: &str, tz: &str| {
        format!(r#"{{"type":"identify","userId":"{id}","timestamp":"2026-01-01T00:00:00Z","traits":{{"email":"{id}@x","plan":"pro","tz":"{tz}"}}}}"#)
    };
    let input = [
        identify("a", "europe/paris"),
        identify("b", "America/New York"),
        // The same contact again, with the same name: counted once.
        identify("b", "America/New York"),
        identify("c", "America/New York"),
        identify("d", "Mars/Olympus"),
        identify("e", "Europe/Paris"),
    ]
    .join("\n");
    std::fs::write(dir.join("in.jsonl"), input).unwrap_or_else(|e| panic!("{e}"));
    let examples = repo().join("examples").display().to_string();
    let out = journey(&["run", &examples, "--input", "in.jsonl", "--until", "2026-02-01T00:00:00Z", "--out", "o"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("o/metrics.json")).unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        metrics["run"]["unknown_time_zones"],
        serde_json::json!({ "contacts": 4, "zones": { "America/New York": 2, "Mars/Olympus": 1, "europe/paris": 1 } })
    );
    assert!(
        stderr(&out).contains(
            "note: 4 contacts have time zones that name no IANA zone, so they were evaluated in UTC: \"America/New York\" (2; did you mean \"America/New_York\"?), \"Mars/Olympus\" (1), \"europe/paris\" (1; did you mean \"Europe/Paris\"?)."
        ),
        "{}",
        stderr(&out)
    );
    let report = std::fs::read_to_string(dir.join("o/report.html")).unwrap_or_default();
    assert!(
        report.contains("4 contacts have time zones that name no IANA zone and were evaluated in UTC: <code>America/New York</code> (2)"),
        "{report}"
    );
}

/// Entry conditions that could not be evaluated (taken as false) are counted per condition and
/// reason, each contact once; said at the end of the run and in the report; and shard runs'
/// counts merge into the single run's.
#[test]
fn entry_conditions_that_cannot_be_evaluated_are_counted_said_and_merged() {
    let project = r#"
contact { email: string  score: int }
event purchase "Order Completed" { total: float }
journey big_spender { entry on purchase where event.total / 0.0 > 1.0  exit }
journey scored { entry when contact.score * 2 > 10  exit }
"#;
    let dir = temp_project("condition-errors", &[("p.journey", project)]);
    let mut input = String::new();
    for i in 0..10 {
        let score = if i % 2 == 0 { i64::MAX } else { 1 };
        input.push_str(&format!(
            "{{\"type\":\"identify\",\"userId\":\"u{i}\",\"timestamp\":\"2026-01-01T09:00:00Z\",\"traits\":{{\"email\":\"u@x\",\"score\":{score}}}}}\n"
        ));
        // Twice: a contact is counted once.
        for hour in [10, 11] {
            input.push_str(&format!(
                "{{\"type\":\"track\",\"userId\":\"u{i}\",\"timestamp\":\"2026-01-01T{hour}:00:00Z\",\"event\":\"Order Completed\",\"properties\":{{\"total\":5.0}}}}\n"
            ));
        }
    }
    std::fs::write(dir.join("in.jsonl"), input).unwrap_or_else(|e| panic!("{e}"));
    let run = |out_dir: &str, shard: Option<&str>| {
        let mut args = vec!["run", "p.journey", "--input", "in.jsonl", "--until", "2026-01-02T00:00:00Z", "--out", out_dir];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        let out = journey(&args, &dir);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stderr(&out)
    };
    let said = run("all", None);
    assert!(
        said.contains(
            "warning: conditions could not be evaluated and were taken as false (contacts per condition and reason): \"big_spender: entry on purchase where: division by zero\" (10), \"scored: entry when: integer overflow: the result does not fit in 64 bits\" (5)."
        ),
        "{said}"
    );
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap_or_default();
    let metrics = |p: &str| serde_json::from_str::<serde_json::Value>(&read(p)).unwrap_or_default()["run"]["condition_errors"].clone();
    let expected = serde_json::json!({ "count": 15, "conditions": {
        "big_spender: entry on purchase where: division by zero": 10,
        "scored: entry when: integer overflow: the result does not fit in 64 bits": 5,
    } });
    assert_eq!(metrics("all/metrics.json"), expected);
    assert!(
        read("all/report.html").contains("15 times conditions could not be evaluated and counted as false (contacts, per condition and reason): <code>big_spender: entry on purchase where: division by zero</code> (10)"),
        "{}",
        read("all/report.html")
    );
    for i in 0..2 {
        run(&format!("s{i}"), Some(&format!("{i}/2")));
    }
    let out = journey(&["merge", "s0", "s1", "--project", "p.journey", "--out", "merged"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(metrics("merged/metrics.json"), expected);
    // The merge says what the single run said.
    let warning = said.lines().find(|l| l.starts_with("warning: ")).unwrap_or("(none)");
    assert!(stderr(&out).lines().any(|l| l == warning), "{}", stderr(&out));
    assert_ne!(metrics("s0/metrics.json"), expected);
}

/// An input given twice would have its records counted twice, and a directory cannot be read:
/// both are usage errors saying so, before anything is read (a directory was "cannot read: Is a
/// directory (os error 21)").
#[test]
fn an_input_given_twice_or_a_directory_is_a_usage_error() {
    let dir = temp_project("inputs-twice", &[("p.journey", TEST_PROJECT)]);
    std::fs::write(dir.join("in.jsonl"), "").unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.join("data")).unwrap_or_else(|e| panic!("{e}"));
    let until = "2026-01-02T00:00:00Z";
    for (inputs, said) in [
        (
            &["in.jsonl", "./in.jsonl"][..],
            "error: ./in.jsonl is given twice in --input (as in.jsonl and ./in.jsonl): its records would be read twice\n",
        ),
        (&["in.jsonl", "in.jsonl"][..], "error: in.jsonl is given twice in --input: its records would be read twice\n"),
        (&["-", "-"][..], "error: `-` (standard input) is given twice in --input\n"),
        (&["data/"][..], "error: data/ is a directory: give the input files in it (`data/*.jsonl`)\n"),
    ] {
        let mut run = vec!["run", "p.journey", "--until", until, "--out", "o", "--input"];
        run.extend(inputs);
        let mut explain = vec!["explain", "p.journey", "--until", until, "--contact", "ana", "--input"];
        explain.extend(inputs);
        for args in [run, explain] {
            let out = journey(&args, &dir);
            assert_eq!((out.status.code(), stderr(&out).as_str()), (Some(2), said), "{args:?}");
        }
    }
}

#[test]
fn shard_runs_merge_into_the_single_run() {
    let dir = temp_project("shards", &[]);
    let out = journey(&["gen", "--contacts", "300", "--seed", "5", "--days", "30", "-o", "c.jsonl"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut input = std::fs::read_to_string(dir.join("c.jsonl")).unwrap_or_default();
    input.push_str("not json\n{\"type\":\"track\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"event\":\"x\"}\n");
    // Undeclared events and unknown time zones of contacts in several shards: their counts merge too.
    for i in 0..12 {
        input.push_str(&format!("{{\"type\":\"track\",\"userId\":\"u{i}\",\"timestamp\":\"2026-01-02T00:00:00Z\",\"event\":\"e{}\"}}\n", i % 3));
        input.push_str(&format!(
            "{{\"type\":\"identify\",\"userId\":\"u{i}\",\"timestamp\":\"2026-01-02T00:00:00Z\",\"traits\":{{\"email\":\"u@x\",\"plan\":\"free\",\"tz\":\"Nowhere/{}\"}}}}\n",
            i % 2
        ));
    }
    std::fs::write(dir.join("c.jsonl"), input).unwrap_or_else(|e| panic!("{e}"));
    let examples = repo().join("examples").display().to_string();
    let run = |out_dir: &str, shard: Option<&str>| {
        let mut args = vec!["run", examples.as_str(), "--input", "c.jsonl", "--until", "2026-02-01T00:00:00Z", "--out", out_dir];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        let out = journey(&args, &dir);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    run("all", None);
    for i in 0..3 {
        run(&format!("s{i}"), Some(&format!("{i}/3")));
    }
    let out = journey(&["merge", "s0", "s1", "s2", "--project", &examples, "--out", "merged"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap_or_default();
    assert_eq!(read("merged/actions.jsonl"), read("all/actions.jsonl"));
    assert_eq!(read("merged/rejects.jsonl"), read("all/rejects.jsonl"));
    let metrics = |p: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&read(p)).unwrap_or_default();
        v["run"]["wall_seconds"] = serde_json::Value::Null;
        v
    };
    assert_eq!(metrics("merged/metrics.json"), metrics("all/metrics.json"));
    assert_eq!(metrics("all/metrics.json")["run"]["undeclared"], serde_json::json!({ "records": 12, "events": { "e0": 4, "e1": 4, "e2": 4 } }));
    assert_eq!(
        metrics("all/metrics.json")["run"]["unknown_time_zones"],
        serde_json::json!({ "contacts": 12, "zones": { "Nowhere/0": 6, "Nowhere/1": 6 } })
    );
    assert!(read("all/actions.jsonl").lines().count() > 1000);
    // The report is drawn from the metrics: the merged one is the single run's (but for wall time).
    let report = |p: &str| read(p).lines().filter(|l| !l.contains(" records read (")).collect::<Vec<_>>().join("\n");
    assert!(report("all/report.html").contains("<svg class=\"flow\""), "{}", report("all/report.html"));
    assert_eq!(report("merged/report.html"), report("all/report.html"));
}

#[test]
fn gzip_and_standard_input_read_like_a_plain_file_and_bad_bytes_are_rejected() {
    use std::io::Write;
    let dir = temp_project("inputs", &[("p.journey", TEST_PROJECT)]);
    let mut input = Vec::new();
    input.extend_from_slice(br#"{"type":"identify","userId":"ana","timestamp":"2026-01-01T09:00:00Z","traits":{"email":"a@x","plan":"pro"}}"#);
    input.extend_from_slice(b"\n\xff\xfe not text\n");
    input.extend_from_slice(br#"{"type":"track","userId":"ana","timestamp":"2026-01-01T10:00:00Z","event":"Signed Up","properties":{}}"#);
    std::fs::write(dir.join("in.jsonl"), &input).unwrap_or_else(|e| panic!("{e}"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&input).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("in.jsonl.gz"), gz.finish().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    let run = |source: &str, out_dir: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_journey"))
            .args(["run", "p.journey", "--input", source, "--until", "2026-01-05T00:00:00Z", "--out", out_dir])
            .current_dir(&dir)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&input).unwrap_or_else(|e| panic!("{e}"));
        }
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let read = |f: &str| std::fs::read_to_string(dir.join(out_dir).join(f)).unwrap_or_default();
        (read("actions.jsonl"), read("rejects.jsonl"))
    };
    let (plain, rejects) = run("in.jsonl", "plain");
    assert!(plain.lines().count() >= 2, "{plain}");
    assert_eq!(rejects.lines().count(), 1, "{rejects}");
    assert!(rejects.contains(r#""line":2"#) && rejects.contains("not UTF-8"), "{rejects}");
    for (source, out_dir) in [("in.jsonl.gz", "gz"), ("-", "stdin")] {
        let (actions, _) = run(source, out_dir);
        assert_eq!(actions, plain, "{source}");
    }
}
