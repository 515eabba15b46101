//! End-to-end tests of the `journey` binary: exit codes, output formats and error messages as
//! RUNTIME.md §1 pins them (`journey run`'s own are in `run.rs`).

mod common;
use common::*;

#[test]
fn check_examples_is_clean() {
    let out = journey(&["check", "examples", "--deny-warnings"], &repo());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 errors, 0 warnings"), "{}", stderr(&out));
}

#[test]
fn check_reports_errors_as_json_lines_and_exits_1() {
    let dir = temp_project("json", &[("bad.journey", "journey j {\n  sned m\n  wait 2d\n}\n")]);
    let out = journey(&["check", "--format", "json", "."], &dir);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect();
    assert_eq!(lines.len(), 1);
    let d = &lines[0];
    assert_eq!(d["file"], "./bad.journey");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64(), d["end_line"].as_u64(), d["end_column"].as_u64()), (Some(2), Some(8), Some(2), Some(9)));
    assert_eq!(d["severity"], "error");
    assert_eq!(d["code"], "J0001");
    assert_eq!(d["help"], "`sned` is not a step: did you mean `send`?");
    let keys: Vec<&str> = d.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    assert_eq!(keys, ["file", "line", "column", "end_line", "end_column", "severity", "code", "message", "help"]);
}

#[test]
fn check_github_and_sarif_formats() {
    let dir = temp_project("gh", &[("bad.journey", "journey j {\n  wait 3days\n}\n")]);
    let out = journey(&["check", "--format", "github", "bad.journey"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("::error file=bad.journey,line=2,col=8,endLine=2,endColumn=13,title=J0003::malformed literal `3days`"),
        "{}",
        stdout(&out)
    );
    let out = journey(&["check", "--format", "sarif", "bad.journey"], &dir);
    let log: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["results"][0]["ruleId"], "J0003");
    assert_eq!(log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 2);
    // A "did you mean" is also a SARIF fix: the misspelt word's region and the word meant.
    let dir = temp_project(
        "gh-fix",
        &[(
            "bad.journey",
            "journey j {
  sned m
}
",
        )],
    );
    let out = journey(&["check", "--format", "sarif", "bad.journey"], &dir);
    let log: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}"));
    let fix = &log["runs"][0]["results"][0]["fixes"][0]["artifactChanges"][0];
    assert_eq!(fix["artifactLocation"]["uri"], "bad.journey");
    assert_eq!(
        fix["replacements"][0],
        serde_json::json!({
            "deletedRegion": { "startLine": 2, "startColumn": 3, "endLine": 2, "endColumn": 7 },
            "insertedContent": { "text": "send" }
        })
    );
}

#[test]
fn human_output_renders_source_and_help() {
    let dir = temp_project("human", &[("bad.journey", "journey j {\n  wait for e withn 3d\n}\n")]);
    let out = journey(&["check", "bad.journey"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("error[J0001]: unexpected identifier `withn`"), "{err}");
    assert!(err.contains("= help: did you mean `within`?"), "{err}");
    assert!(err.contains("checked 1 file: 1 error, 0 warnings"), "{err}");
    assert!(!err.contains('\u{1b}'), "no colour when stderr is not a terminal");
}

#[test]
fn missing_path_exits_2_naming_it() {
    let out = journey(&["check", "does/not/exist.journey"], &repo());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does/not/exist.journey: no such file or directory"), "{}", stderr(&out));
}

/// `journey gen --days 4000000000` wrote timestamps in the year 1601970 and `--days 0` was
/// quietly one day; cohort sizes out of range are usage errors now.
#[test]
fn cohort_sizes_out_of_range_are_usage_errors() {
    let dir = temp_project("gen-range", &[]);
    for (args, says) in [
        (&["gen", "--contacts", "0", "-o", "c.jsonl"][..], "invalid value '0' for '--contacts <CONTACTS>': a cohort needs at least one contact"),
        (&["gen", "--days", "0", "-o", "c.jsonl"], "invalid value '0' for '--days <DAYS>': a cohort spans at least one day"),
        (
            &["gen", "--days", "4000000000", "-o", "c.jsonl"],
            "invalid value '4000000000' for '--days <DAYS>': a whole number of days from 1 to 36500 (a century)",
        ),
        (&["demo", "--contacts", "0", "--out", "c.jsonl"], "invalid value '0' for '--contacts <CONTACTS>': a cohort needs at least one contact"),
    ] {
        let out = journey(args, &dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).starts_with(&format!("error: {says}")), "{}", stderr(&out));
    }
    assert!(!dir.join("c.jsonl").exists(), "nothing is written on a usage error");
    let out = journey(&["gen", "--contacts", "1", "--days", "36500", "-o", "c.jsonl"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("wrote ") && stderr(&out).contains(" records for 1 contact to c.jsonl"), "{}", stderr(&out));
    // Every timestamp is one `journey run` reads: the run rejects nothing.
    let examples = repo().join("examples").display().to_string();
    let out = journey(&["run", &examples, "--input", "c.jsonl", "--until", "2126-01-01T00:00:00Z", "--out", "o"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("o/rejects.jsonl")).unwrap_or_default(), "");
}

/// `journey demo` where there is no `examples/` (an installed binary, another directory) runs
/// the built-in copy of the reference project, written next to its outputs: the repository's
/// `examples/`, file for file. (It stopped with "examples: no such file or directory".)
#[test]
fn demo_runs_anywhere_with_the_built_in_reference_project() {
    let dir = temp_project("demo-anywhere", &[]);
    let out = journey(&["demo", "--contacts", "200", "--out", "d"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("no examples/ here: using the built-in copy of the reference project, written to d/examples"), "{}", stderr(&out));
    assert!(stdout(&out).contains("journey graph d/examples --journey "), "{}", stdout(&out));
    let listing = |d: &std::path::Path| {
        let mut files: Vec<(String, String)> = std::fs::read_dir(d)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    };
    let built_in = listing(&dir.join("d/examples"));
    assert_eq!(built_in.len(), 6);
    assert!(built_in == listing(&repo().join("examples")), "the built-in copy is not the repository's examples/: update demo::EXAMPLES");
    assert!(dir.join("d/report.html").exists());
}

/// A file that is not source where the project goes — input records, a built `.jbc` — is a
/// usage error saying what goes there (it was parsed: an error at every line).
#[test]
fn a_file_that_is_not_source_where_the_project_goes_is_a_usage_error() {
    let dir = temp_project("not-source", &[("p.journey", TEST_PROJECT), ("in.jsonl", "{\"type\":\"track\"}\n")]);
    let out = journey(&["build", "p.journey", "-o", "p.jbc"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = "error: in.jsonl: not a .journey file: a project is a directory or `.journey` files (input records go after --input)\n";
    for args in [&["check", "in.jsonl"][..], &["run", "in.jsonl", "--input", "in.jsonl", "--until", "2026-01-02T00:00:00Z", "--out", "o"][..]] {
        let out = journey(args, &dir);
        assert_eq!((out.status.code(), stderr(&out).as_str()), (Some(2), records), "{args:?}");
    }
    let out = journey(&["check", "p.jbc"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: p.jbc: a built program, not source: give it alone to a command that reads one"), "{}", stderr(&out));
    // Given alone where a program is read, it is one.
    let out = journey(&["run", "p.jbc", "--input", "in.jsonl", "--until", "2026-01-02T00:00:00Z", "--out", "o"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `journey graph` draws the one journey of a project without `--journey`; with several it says
/// which there are.
#[test]
fn graph_without_a_journey_draws_the_only_one_or_lists_them() {
    let dir = temp_project("graph-one", &[("p.journey", TEST_PROJECT)]);
    let out = journey(&["graph", "p.journey", "--format", "mermaid"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("flowchart TD\n") && stdout(&out).contains("send hi"), "{}", stdout(&out));
    let examples = repo().join("examples").display().to_string();
    let out = journey(&["graph", &examples], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: which journey? The project has 11 journeys: lead_routing, cart_abandonment, "), "{}", stderr(&out));
}

#[test]
fn no_paths_is_a_usage_error() {
    let out = journey(&["check"], &repo());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("PATH"), "{}", stderr(&out));
}

#[test]
fn inventory_lists_messages_and_content_gaps() {
    let out = journey(&["inventory", "examples"], &repo());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("welcome_1           email    welcome/intro"), "{text}");
    assert!(text.contains("csat_followup       email*   support_followup/s2"), "{text}");
    assert!(text.contains("content gaps: none"), "{text}");

    let dir = temp_project(
        "inventory",
        &[("p.journey", "event e {}\nmessage a sms { body \"x\" }\nmessage b sms { body \"y\" }\njourney j { entry on e  send a  send c }\n")],
    );
    let out = journey(&["inventory", "--format", "json", "p.journey"], &dir);
    assert_eq!(out.status.code(), Some(1), "a content gap fails like a compile error");
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["missing"][0]["message"], "c");
    assert_eq!(report["missing"][0]["sent_by"], "j/s2");
    assert_eq!(report["unused"], serde_json::json!(["b"]));
    assert_eq!(report["messages"][0]["sent_by"], serde_json::json!(["j/s1"]));
}

#[test]
fn deny_warnings_turns_warnings_into_failures() {
    let dir = temp_project("warn", &[("w.journey", "event e {}\nmessage unused sms { body \"x\" }\n")]);
    let out = journey(&["check", "w.journey"], &dir);
    assert_eq!(out.status.code(), Some(0), "warnings alone pass");
    assert!(stderr(&out).contains("warning[J0205]: message `unused` is never sent"), "{}", stderr(&out));
    let out = journey(&["check", "--deny-warnings", "w.journey"], &dir);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn examples_carry_passing_tests() {
    let out = journey(&["test", "examples"], &repo());
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().last().is_some_and(|l| l.ends_with(" passed, 0 failed")), "{text}");
    assert!(text.contains("ok    pro sign-ups get the tips email two days later (examples/welcome.journey:"), "{text}");
}

#[test]
fn test_runner_reports_failures_with_a_timeline_and_exits_1() {
    let dir = temp_project("tests", &[("p.journey", TEST_PROJECT)]);
    let out = journey(&["test", "p.journey"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "ok    passes (p.journey:7)\n\
         FAIL  fails with a readable diff (p.journey:15)\n\
         \x20     line 19: expected bo sent hi at 2026-01-01T10:00:00Z\n\
         \x20       but it was sent at 2026-01-02T10:00:00Z\n\
         \x20     line 20: expected bo in welcome\n\
         \x20       but the contact is not enrolled\n\
         \x20       timeline of bo:\n\
         \x20         2026-01-01T10:00:00Z  welcome  enter (signed_up)\n\
         \x20         2026-01-02T10:00:00Z  welcome [s2]  send hi\n\
         \x20         2026-01-02T10:00:00Z  welcome  exit (completed)\n\
         1 passed, 1 failed\n"
    );
    let out = journey(&["test", "p.journey", "--filter", "passes"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "ok    passes (p.journey:7)\n1 passed, 0 failed\n");
    // Running nothing says why.
    let out = journey(&["test", "p.journey", "--filter", "nothing like this"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("0 passed, 0 failed\n", "note: no test name contains \"nothing like this\"\n"));
}

/// A failed expectation's timeline says which entry conditions could not be evaluated for the
/// contact (taken as false): the reason it never entered.
#[test]
fn a_failed_test_shows_the_entry_conditions_that_could_not_be_evaluated() {
    let project = r#"
contact { email: string }
event purchase "Order Completed" { total: float, items: int }
message hi email { subject "Hi", template "hi" }
journey thanks { entry on purchase where event.total / event.items > 10.0  send hi }
test "an order of no items" {
  contact ana { email: "a@x" }
  at 2026-01-01T10:00:00Z ana purchase { total: 20.0, items: 0 }
  run until 2026-01-02T00:00:00Z
  expect ana sent hi
}
"#;
    let dir = temp_project("test-condition-errors", &[("p.journey", project)]);
    let out = journey(&["test", "p.journey"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "timeline of ana:\n\
             \x20         (no actions)\n\
             \x20         could not be evaluated, taken as false: thanks: entry on purchase where: division by zero\n"
        ),
        "{}",
        stdout(&out)
    );
}

#[test]
fn build_disasm_and_corrupt_bytecode() {
    let dir = temp_project("build", &[("p.journey", TEST_PROJECT)]);
    let out = journey(&["build", "p.journey", "-o", "p.jbc"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = journey(&["disasm", "p.jbc"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains(".journey j0 welcome"), "{}", stdout(&out));
    let mut bytes = std::fs::read(dir.join("p.jbc")).unwrap_or_default();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(dir.join("bad.jbc"), &bytes).unwrap_or_else(|e| panic!("{e}"));
    let out = journey(&["disasm", "bad.jbc"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.jbc: checksum mismatch"), "{}", stderr(&out));
    let out = journey(&["build", "missing.journey", "-o", "x.jbc"], &dir);
    assert_eq!(out.status.code(), Some(2));
    // Paths that cannot be written say why in words (they said "Is a directory (os error 21)").
    let out = journey(&["build", "p.journey", "-o", "."], &dir);
    assert_eq!((out.status.code(), stderr(&out).as_str()), (Some(2), "error: .: is a directory\n"));
    let out = journey(&["build", "p.journey", "-o", "p.jbc/x.jbc"], &dir);
    assert_eq!((out.status.code(), stderr(&out).as_str()), (Some(2), "error: p.jbc/x.jbc: a part of the path is a file, not a directory\n"));
    let out = journey(&["run", "p.journey", "--input", "p.jbc", "--until", "2026-01-02T00:00:00Z", "--out", "p.jbc"], &dir);
    assert_eq!(
        (out.status.code(), stderr(&out).as_str()),
        (Some(2), "error: p.jbc: cannot create the output directory: exists and is not a directory\n")
    );
}

/// A project read from another directory is the same project: the bytecode (and so the
/// fingerprint snapshots and shard results are checked against) is byte-identical whether the
/// examples are named `examples`, `./examples/` or by an absolute path from elsewhere.
#[test]
fn the_same_project_builds_identically_from_any_path() {
    let out_dir = temp_project("paths", &[]);
    let absolute = repo().join("examples").canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let builds = [("examples".to_string(), repo()), ("./examples/".to_string(), repo()), (absolute.display().to_string(), out_dir.clone())];
    let mut bytes = Vec::new();
    for (i, (path, cwd)) in builds.iter().enumerate() {
        let target = out_dir.join(format!("{i}.jbc"));
        let out = journey(&["build", path, "-o", &target.display().to_string()], cwd);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", stderr(&out));
        bytes.push(std::fs::read(&target).unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(bytes.iter().all(|b| b == &bytes[0]), "the builds differ");
    // An edit is another project.
    let edited = temp_project("paths-edited", &[]);
    for entry in std::fs::read_dir(&absolute).unwrap_or_else(|e| panic!("{e}")).flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let text = if entry.file_name() == "welcome.journey" { text.replace("wait 2d", "wait 3d") } else { text };
        std::fs::write(edited.join(entry.file_name()), text).unwrap_or_else(|e| panic!("{e}"));
    }
    let out = journey(&["build", ".", "-o", "e.jbc"], &edited);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_ne!(std::fs::read(edited.join("e.jbc")).unwrap_or_default(), bytes[0]);
}

const GRAPH_PROJECT: &str = r#"
contact { email: string, plan: Plan }
enum Plan { free, pro }
event signed_up "Signed Up" {}
message hi email { subject "Hi", template "hi" }
message tip email { subject "Tip", template "tip" }
journey welcome {
  entry on signed_up
  pause: wait 1d
  check: if contact.plan == pro { send tip }
  send hi
}
"#;

/// `journey graph` draws a journey's flow in the three formats; with a run's metrics every node
/// and edge carries its count. Errors name what is wrong and exit 2.
#[test]
fn graph_draws_the_flow_with_a_runs_counts() {
    let dir = temp_project("graph", &[("p.journey", GRAPH_PROJECT)]);
    let out = journey(&["graph", "p.journey", "--journey", "welcome"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "digraph \"welcome\" {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef4ff\", fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n\
         \x20 n4 [label=\"entry\", shape=oval, fillcolor=\"#f2f2f2\"];\n\
         \x20 n0 [label=\"pause: wait 1d\"];\n\
         \x20 n1 [label=\"check: if contact.plan == pro\"];\n\
         \x20 n2 [label=\"s3: send tip (email)\"];\n\
         \x20 n3 [label=\"s4: send hi (email)\"];\n\
         \x20 n5 [label=\"end of journey\", shape=oval, fillcolor=\"#f2f2f2\"];\n\
         \x20 n4 -> n0;\n  n0 -> n1;\n  n1 -> n2 [label=\"yes\"];\n  n1 -> n3 [label=\"no\"];\n  n2 -> n3;\n  n3 -> n5;\n}\n"
    );
    let input = [
        r#"{"type":"identify","userId":"ana","timestamp":"2026-01-01T09:00:00Z","traits":{"email":"a@x","plan":"pro"}}"#,
        r#"{"type":"track","userId":"ana","timestamp":"2026-01-01T10:00:00Z","event":"Signed Up"}"#,
        r#"{"type":"identify","userId":"bo","timestamp":"2026-01-01T09:00:00Z","traits":{"email":"b@x","plan":"free"}}"#,
        r#"{"type":"track","userId":"bo","timestamp":"2026-01-01T10:00:00Z","event":"Signed Up"}"#,
        r#"{"type":"identify","userId":"cy","timestamp":"2026-01-01T09:00:00Z","traits":{"email":"c@x","plan":"free"}}"#,
        r#"{"type":"track","userId":"cy","timestamp":"2026-01-01T10:00:00Z","event":"Signed Up"}"#,
    ];
    std::fs::write(dir.join("in.jsonl"), input.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let out = journey(&["run", "p.journey", "--input", "in.jsonl", "--until", "2026-01-03T00:00:00Z", "--out", "o"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = journey(&["graph", "p.journey", "--journey", "welcome", "--metrics", "o", "--format", "mermaid"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "flowchart TD\n  n4([\"entry<br/>3 entered\"])\n  n0[\"pause: wait 1d<br/>3 reached\"]\n  n1[\"check: if contact.plan == pro<br/>3 reached\"]\n\
         \x20 n2[\"s3: send tip (email)<br/>1 reached\"]\n  n3[\"s4: send hi (email)<br/>3 reached\"]\n\
         \x20 n5([\"end of journey<br/>3 completed\"])\n\
         \x20 n4 -->|\"3\"| n0\n  n0 -->|\"3\"| n1\n  n1 -->|\"yes: 1\"| n2\n  n1 -->|\"no: 2\"| n3\n  n2 -->|\"1\"| n3\n  n3 -->|\"3\"| n5\n"
    );
    let out = journey(&["graph", "p.journey", "--journey", "welcome", "--metrics", "o/metrics.json", "--format", "svg"], &dir);
    let svg = stdout(&out);
    assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" class="flow""#), "{svg}");
    assert!(svg.contains("<style>.flow .node rect") && svg.contains(">3 entered</text>") && svg.trim_end().ends_with("</svg>"), "{svg}");
    // Left to right: the same diagram, another direction.
    let out = journey(&["graph", "p.journey", "--journey", "welcome", "--format", "mermaid", "--direction", "right"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("flowchart LR\n  n4([\"entry\"])\n"), "{}", stdout(&out));
    let out = journey(&["graph", "p.journey", "--journey", "welcome", "--direction", "right"], &dir);
    assert!(stdout(&out).contains("\n  rankdir=LR;\n") && !stdout(&out).contains("rankdir=TB"), "{}", stdout(&out));
    // The svg turned: six layers side by side (entry, pause, check, s3, s4, end), so wider than
    // tall; the first edge leaves the entry's right side for the next layer's left side. The
    // `no` edge skips s3's layer: it passes below s3, in a lane of its own (hence the height:
    // the nodes, the gap and the lane).
    let out = journey(&["graph", "p.journey", "--journey", "welcome", "--format", "svg", "--direction", "right"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let svg = stdout(&out);
    assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" class="flow" width="1910" height="138""#), "{svg}");
    assert!(svg.contains(r#"d="M240,49 C295,49 295,49 350,49""#), "{svg}");
    assert!(svg.contains(r#"d="M900,49 C955,49 955,110 1010,110 L1230,110 C1285,110 1285,49 1340,49""#), "{svg}");
    let out = journey(&["graph", "p.journey", "--journey", "welcom"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "error: the project has no journey `welcom`; did you mean `welcome`?\n");
    let out = journey(&["graph", "p.journey", "--journey", "zzz"], &dir);
    assert_eq!(stderr(&out), "error: the project has no journey `zzz`; it has: welcome\n");
    let out = journey(&["graph", "p.journey", "--journey", "welcome", "--metrics", "p.journey"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: p.journey: not a metrics file:"), "{}", stderr(&out));
}

const DIFF_OLD: &str = r#"
event ping "Ping" {}
message a sms { body "a" }
message b sms { body "b {contact.name ?? "x"}" }
message d sms { body "d" }
contact { name: string? }
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
journey gone { entry on ping  send a  send d }
"#;

const DIFF_NEW: &str = r#"
event ping "Ping" {}
message a sms { body "a" }
message b sms { body "b {contact.name ?? "y"}" }
message c sms { body "c" }
message d sms { body "d" }
contact { name: string?, nick: string? }
journey j {
  entry on ping where contact.name != none
  first: send a
  keep: wait 12d
  send b
}
journey k {
  entry on ping
  new_wait: wait 3d
  send a
  exit
}
journey m {
  entry on ping
  migrate { retiring -> exit "retired" }
  fresh: wait 1d
  send a
}
journey added { entry on ping  send c }
"#;

/// `journey diff` lists what changed — journeys, settings, steps by id, messages — and what
/// happens to contacts waiting at removed steps; `--deny-orphans` fails when some would exit.
#[test]
fn diff_shows_changes_and_what_happens_to_contacts_in_flight() {
    let old = temp_project("diff-old", &[("p.journey", DIFF_OLD)]);
    let new = temp_project("diff-new", &[("p.journey", DIFF_NEW)]);
    let (o, n) = (old.display().to_string(), new.display().to_string());
    let out = journey(&["diff", &o, &n], &old);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "- journey gone: removed; contacts in it are dropped from it\n\
         + journey added: new (1 step)\n\
         ~ journey j\n\
         \x20   - entry on ping\n\
         \x20   + entry on ping where contact.name != none\n\
         \x20   ~ step keep: wait 10d → wait 12d\n\
         ~ journey k\n\
         \x20   - step old_wait: wait 10d — contacts waiting here exit with `migrated:removed_step` (add `migrate { old_wait -> <step> }` to keep them)\n\
         \x20   + step new_wait: wait 3d\n\
         \x20   ~ step s2: moved: now after new_wait (was after old_wait)\n\
         \x20   + step s3: exit\n\
         ~ journey m\n\
         \x20   + migrate retiring -> exit \"retired\"\n\
         \x20   - step retiring: wait 10d — contacts waiting here exit with \"retired\" (migrate)\n\
         \x20   + step fresh: wait 1d\n\
         \x20   ~ step s2: moved: now after fresh (was after retiring)\n\
         messages\n\
         \x20   ~ message b\n\
         \x20       - body \"b {contact.name ?? \\\"x\\\"}\"\n\
         \x20       + body \"b {contact.name ?? \\\"y\\\"}\"\n\
         \x20   + message c: sms\n\
         \x20   ~ message d\n\
         \x20       no longer sent by any journey\n\
         schema\n\
         \x20   + contact.nick: string?\n\
         1 journey added, 1 removed, 3 changed, 0 unchanged; in flight: 1 removed waiting step migrated, 1 orphaned\n"
    );
    let out = journey(&["diff", &o, &n, "--format", "json"], &old);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    assert_eq!(json["journeys"]["added"], serde_json::json!(["added"]));
    assert_eq!(json["journeys"]["removed"], serde_json::json!(["gone"]));
    assert_eq!(json["journeys"]["changed"]["j"][2], "~ step keep: wait 10d → wait 12d");
    assert_eq!(
        json["in_flight"],
        serde_json::json!([
            { "journey": "k", "step": "old_wait", "outcome": "orphaned", "reason": "migrated:removed_step" },
            { "journey": "m", "step": "retiring", "outcome": "exit", "reason": "retired" },
        ])
    );
    assert_eq!(json["schema"], serde_json::json!(["+ contact.nick: string?"]));
    assert_eq!(
        json["messages"],
        serde_json::json!({
            "added": { "c": "sms" },
            "removed": [],
            "changed": {
                "b": ["- body \"b {contact.name ?? \\\"x\\\"}\"", "+ body \"b {contact.name ?? \\\"y\\\"}\""],
                "d": ["no longer sent by any journey"],
            },
        })
    );
    let out = journey(&["diff", &o, &n, "--deny-orphans"], &old);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("1 waiting step is removed without a `migrate` rule"), "{}", stderr(&out));
    let out = journey(&["diff", &o, &o, "--deny-orphans"], &old);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "0 journeys added, 0 removed, 0 changed, 4 unchanged; in flight: 0 removed waiting steps migrated, 0 orphaned\n");
    let out = journey(&["diff", &o, "missing"], &old);
    assert_eq!(out.status.code(), Some(2));
    // A `.jbc` keeps no source text: against its own source it compares as bytecode, unchanged,
    // and a changed template still shows.
    let out = journey(&["build", &o, "-o", "old.jbc"], &old);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = journey(&["diff", "old.jbc", &o], &old);
    assert_eq!(stdout(&out), "0 journeys added, 0 removed, 0 changed, 4 unchanged; in flight: 0 removed waiting steps migrated, 0 orphaned\n");
    assert!(stderr(&out).contains("compared, and shown, as bytecode"), "{}", stderr(&out));
    let out = journey(&["diff", "old.jbc", &n], &old);
    assert!(stdout(&out).contains("        + body \"b {⟨contact.name, jump_if_some +3, \\\"y\\\"⟩}\"\n"), "{}", stdout(&out));
}

/// `journey fmt` rewrites files to the canonical layout (whitespace only), `--check` lists the
/// ones that are not and fails, a file that does not parse is left alone; the examples are
/// formatted.
#[test]
fn fmt_rewrites_to_the_canonical_layout_and_check_fails_until_then() {
    let messy = "journey   welcome {\n\tentry on signed_up   // web\n\n\n      send hi\n}\n\n";
    let dir = temp_project("fmt", &[("a.journey", messy), ("bad.journey", "journey j {\n sned m\n}\n")]);
    let out = journey(&["fmt", "--check", "a.journey"], &dir);
    assert_eq!((out.status.code(), stdout(&out)), (Some(1), "a.journey\n".to_string()), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("a.journey")).unwrap_or_default(), messy, "--check changes nothing");
    let out = journey(&["fmt", "a.journey"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "1 file formatted, 0 already formatted\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("a.journey")).unwrap_or_default(),
        "journey welcome {\n  entry on signed_up // web\n\n  send hi\n}\n"
    );
    let out = journey(&["fmt", "--check", "a.journey"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = journey(&["fmt", "bad.journey"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad.journey:2:7") && stderr(&out).contains("1 file not formatted: it does not parse"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("bad.journey")).unwrap_or_default(), "journey j {\n sned m\n}\n");
    let out = journey(&["fmt", "--check", "examples", "benches/reference.journey"], &repo());
    assert_eq!(out.status.code(), Some(0), "not formatted: {}", stdout(&out));
}

#[test]
fn imports_pull_in_other_files_once() {
    let dir = temp_project("imports", &[("main.journey", "import \"lib/shared.journey\"\njourney j { entry on e  send m }\n")]);
    std::fs::create_dir_all(dir.join("lib")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("lib/shared.journey"), "import \"../main.journey\"\nevent e {}\nmessage m sms { body \"x\" }\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = journey(&["check", "main.journey"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("checked 2 files: 0 errors"), "{}", stderr(&out));
    std::fs::write(dir.join("broken.journey"), "import \"nope.journey\"\n").unwrap_or_else(|e| panic!("{e}"));
    let out = journey(&["check", "broken.journey"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.journey: imported by broken.journey but not found"), "{}", stderr(&out));
}

#[test]
fn explain_names_the_contact_or_journey_it_cannot_find_and_suggests_one() {
    let dir = temp_project(
        "explain-unknown",
        &[(
            "in.jsonl",
            "{\"type\":\"track\",\"userId\":\"ana.lopez\",\"timestamp\":\"2026-01-05T10:00:00Z\",\"event\":\"Signed Up\",\"properties\":{\"source\":\"web\"}}\n",
        )],
    );
    let examples = repo().join("examples");
    let examples = examples.to_string_lossy();
    let base = ["explain", examples.as_ref(), "--input", "in.jsonl", "--until", "2026-02-01T00:00:00Z"];
    let out = journey(&[&base[..], &["--contact", "ana.lopes"]].concat(), &dir);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "error: contact \"ana.lopes\" has no records in the input before --until (1 contact read); did you mean \"ana.lopez\"?"
    );
    let out = journey(&[&base[..], &["--contact", "ana.lopez", "--journey", "welcom"]].concat(), &dir);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).trim(), "error: the project has no journey `welcom`; did you mean `welcome`?");
    let out = journey(&[&base[..], &["--contact", "ana.lopez", "--journey", "welcome"]].concat(), &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("welcome"), "{}", stdout(&out));
    // A contact whose only record names an event by its identifier, not its alias: said.
    std::fs::write(dir.join("ids.jsonl"), "{\"type\":\"track\",\"userId\":\"bo\",\"timestamp\":\"2026-01-05T10:00:00Z\",\"event\":\"signed_up\"}\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = journey(&["explain", examples.as_ref(), "--input", "ids.jsonl", "--until", "2026-02-01T00:00:00Z", "--contact", "bo"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).lines().collect::<Vec<_>>(),
        [
            "error: contact \"bo\" has no records in the input before --until (0 contacts read)",
            "note: 1 record names an event the project does not declare, which triggers nothing: \"signed_up\" (1; did you mean \"Signed Up\"?). A track record names an event by its string alias when it has one, else by its identifier (`journey run` counts them per name in metrics.json, under run.undeclared)",
        ]
    );
}
