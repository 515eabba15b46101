//! Shared fixture runner: compares diagnostics of every `.journey` file in a directory against
//! the `.expected`, `.stderr` and `.json` files beside it (see tests/syntax_fixtures.rs).

use journey_diagnostics::{Diagnostic, SourceMap, render_json_line, render_terminal};
use std::path::Path;

/// One summary line per diagnostic: `J0001 error 3:8 `welcome_1` unexpected identifier …`.
pub fn summary(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let position = journey_diagnostics::Position::of(sources, d.primary.span.file, d.primary.span.start as usize);
        out.push_str(&format!(
            "{} {} {}:{} `{}` {}\n",
            d.code,
            d.severity.as_str(),
            position.line,
            position.column,
            sources.slice(d.primary.span),
            d.message
        ));
    }
    out
}

pub fn run_fixture_dir(dir: &str, diagnose: impl Fn(&str, &str) -> (SourceMap, Vec<Diagnostic>)) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut entries: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "journey"))
        // `_name.journey` files are shared inputs, not fixtures.
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('_')))
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "no fixtures in {}", root.display());
    let mut failures = Vec::new();
    for path in &entries {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = format!("{stem}.journey");
        let (sources, diagnostics) = diagnose(&name, &text);
        let actual = [
            ("expected", summary(&sources, &diagnostics)),
            ("stderr", render_terminal(&sources, &diagnostics, false)),
            ("json", diagnostics.iter().map(|d| render_json_line(&sources, d) + "\n").collect::<String>()),
        ];
        for (extension, content) in actual {
            let expected_path = path.with_extension(extension);
            if update {
                std::fs::write(&expected_path, &content).unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
                continue;
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if expected != content {
                failures.push(format!("--- {} (expected)\n{expected}+++ actual\n{content}", expected_path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} fixture mismatches (UPDATE_EXPECT=1 regenerates):\n{}", failures.len(), failures.join("\n"));
}
