//! End-to-end tests of the `journey` binary: exit codes, output formats and error messages as
//! RUNTIME.md §1 pins them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn journey(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journey")).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("cannot run journey: {e}"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp_project(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("journey-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

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
