//! Renderers: terminal (codespan-reporting), JSON lines, GitHub workflow commands and SARIF 2.1.0.
//! Columns are 1-based and count Unicode scalar values, which is what editors and GitHub show;
//! the language server computes its own UTF-16 positions.

use crate::{Diagnostic, Severity, SourceMap, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term::{self, termcolor};
use serde_json::{Value, json};

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    pub fn of(map: &SourceMap, span_file: crate::FileId, byte: usize) -> Position {
        let Some(file) = map.get(span_file) else { return Position { line: 1, column: 1 } };
        let byte = byte.min(file.text.len());
        let line = file.line_index(byte);
        let start = file.line_start(line);
        let column = file.text.get(start..byte).map(|s| s.chars().count()).unwrap_or(0) + 1;
        Position { line: line + 1, column }
    }
}

fn start_end(map: &SourceMap, span: Span) -> (Position, Position) {
    (Position::of(map, span.file, span.start as usize), Position::of(map, span.file, span.end as usize))
}

fn file_name(map: &SourceMap, span: Span) -> &str {
    map.get(span.file).map(|f| f.name.as_str()).unwrap_or("<unknown>")
}

/// Renders diagnostics the way rustc does; `color` is decided by the caller (only on a terminal).
pub fn render_terminal(map: &SourceMap, diagnostics: &[Diagnostic], color: bool) -> String {
    let mut buffer = if color { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
    let config = term::Config::default();
    for diagnostic in diagnostics {
        let mut labels =
            vec![cs::Label::primary(diagnostic.primary.span.file, diagnostic.primary.span.range()).with_message(diagnostic.primary.message.clone())];
        labels.extend(diagnostic.secondary.iter().map(|l| cs::Label::secondary(l.span.file, l.span.range()).with_message(l.message.clone())));
        let base = match diagnostic.severity {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        };
        let rendered = base
            .with_code(diagnostic.code)
            .with_message(diagnostic.message.clone())
            .with_labels(labels)
            .with_notes(diagnostic.help.iter().map(|h| format!("help: {h}")).collect());
        if let Err(err) = term::emit(&mut buffer, &config, map, &rendered) {
            // A span that does not resolve is a bug upstream; still show the message.
            buffer_fallback(&mut buffer, diagnostic, &err.to_string());
        }
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

fn buffer_fallback(buffer: &mut termcolor::Buffer, diagnostic: &Diagnostic, why: &str) {
    use std::io::Write;
    let _ = writeln!(buffer, "{}[{}]: {} (location unavailable: {why})", diagnostic.severity.as_str(), diagnostic.code, diagnostic.message);
}

/// One diagnostic as one JSON object (the `--format json` line), keys as RUNTIME.md §1 pins them.
pub fn render_json_line(map: &SourceMap, diagnostic: &Diagnostic) -> String {
    let (start, end) = start_end(map, diagnostic.primary.span);
    json!({
        "file": file_name(map, diagnostic.primary.span),
        "line": start.line,
        "column": start.column,
        "end_line": end.line,
        "end_column": end.column,
        "severity": diagnostic.severity.as_str(),
        "code": diagnostic.code,
        "message": diagnostic.message,
        "help": diagnostic.help,
    })
    .to_string()
}

/// GitHub Actions workflow commands; `%`, CR, LF and the property separators are escaped as the
/// runner expects.
pub fn render_github(map: &SourceMap, diagnostic: &Diagnostic) -> String {
    fn escape_data(s: &str) -> String {
        s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
    }
    fn escape_property(s: &str) -> String {
        escape_data(s).replace(':', "%3A").replace(',', "%2C")
    }
    let (start, end) = start_end(map, diagnostic.primary.span);
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        diagnostic.severity.as_str(),
        escape_property(file_name(map, diagnostic.primary.span)),
        start.line,
        start.column,
        end.line,
        end.column,
        diagnostic.code,
        escape_data(&message)
    )
}

/// A SARIF 2.1.0 log with one run, for code-scanning upload.
pub fn render_sarif(map: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<Value> = codes.iter().map(|c| json!({ "id": c })).collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let (start, end) = start_end(map, d.primary.span);
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str(" (help: ");
                text.push_str(help);
                text.push(')');
            }
            let mut result = json!({
                "ruleId": d.code,
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": file_name(map, d.primary.span) },
                        "region": {
                            "startLine": start.line, "startColumn": start.column,
                            "endLine": end.line, "endColumn": end.column
                        }
                    }
                }]
            });
            // A misspelt name's replacement, as a SARIF fix (what the language server offers).
            if let Some((span, replacement)) = &d.fix {
                let (from, to) = start_end(map, *span);
                result["fixes"] = json!([{
                    "description": { "text": format!("replace with `{replacement}`") },
                    "artifactChanges": [{
                        "artifactLocation": { "uri": file_name(map, *span) },
                        "replacements": [{
                            "deletedRegion": { "startLine": from.line, "startColumn": from.column, "endLine": to.line, "endColumn": to.column },
                            "insertedContent": { "text": replacement }
                        }]
                    }]
                }]);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "journey",
                "informationUri": "https://github.com/journey-lang/journey",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "results": results
        }]
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}
