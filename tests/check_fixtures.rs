//! Golden tests for semantic diagnostics: each `tests/fixtures/check/NAME.journey` is checked as a
//! project together with `_schema.journey` (a shared schema, loaded first). The expectation files
//! beside it are as in tests/syntax_fixtures.rs; `UPDATE_EXPECT=1` regenerates them.

mod common;

#[test]
fn check_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check");
    let schema = std::fs::read_to_string(dir.join("_schema.journey")).unwrap_or_else(|e| panic!("{e}"));
    common::run_fixture_dir("tests/fixtures/check", |name, text| {
        if name.starts_with('_') {
            return (Default::default(), Vec::new());
        }
        let mut project = journey_syntax::project::ParsedProject::default();
        project.add("_schema.journey".into(), schema.clone());
        project.add(name.to_string(), text.to_string());
        let checked = journey_check::check(&project);
        let diagnostics = journey_check::all_diagnostics(&project, &checked);
        (project.sources, diagnostics)
    });
}

#[test]
fn every_check_code_has_a_fixture() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check");
    let mut covered = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|e| e == "expected") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            covered.extend(text.lines().filter_map(|l| l.split_whitespace().next().map(str::to_string)));
        }
    }
    let docs = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md")).unwrap_or_default();
    let documented: Vec<String> =
        docs.lines().filter_map(|l| l.strip_prefix("| J")).map(|l| format!("J{}", &l[..4])).filter(|c| c.as_str() >= "J0100").collect();
    assert!(documented.len() >= 40, "docs/diagnostics.md lists only {} check codes", documented.len());
    let missing: Vec<&String> = documented.iter().filter(|c| !covered.contains(*c)).collect();
    assert!(missing.is_empty(), "documented codes without a fixture: {missing:?}");
}
