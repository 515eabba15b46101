//! Golden tests for parse diagnostics. Each `tests/fixtures/syntax/NAME.journey` is parsed on its
//! own; beside it live
//! - `NAME.expected`: one line per diagnostic — code, position, the exact source text the primary
//!   label underlines, and the message — the part a reviewer reads;
//! - `NAME.stderr`: the full terminal rendering (no colour), help lines included;
//! - `NAME.json`: the `--format json` lines.
//!
//! Run with `UPDATE_EXPECT=1` to rewrite the expectations after a deliberate change, then review
//! the diff.

mod common;

#[test]
fn syntax_fixtures() {
    common::run_fixture_dir("tests/fixtures/syntax", |name, text| {
        let mut project = journey_syntax::project::ParsedProject::default();
        project.add(name.to_string(), text.to_string());
        let mut diagnostics = project.diagnostics;
        journey_diagnostics::sort(&mut diagnostics);
        (project.sources, diagnostics)
    });
}
