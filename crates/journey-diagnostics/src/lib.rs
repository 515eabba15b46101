//! One renderer-neutral [`Diagnostic`] type for the whole toolchain, plus the source map it points
//! into and the renderers every front end needs: codespan-reporting for terminals, JSON lines and
//! GitHub workflow commands for CI, SARIF for code scanning. The language server converts the same
//! values to LSP diagnostics (UTF-16 columns), so nothing here knows about any one consumer.
//!
//! `Span`, `FileId` and `SourceMap` live here rather than in the syntax crate because every label
//! needs them and this is the bottom of the dependency graph; the syntax crate re-exports them.

mod render;
mod source;

pub use render::{Position, render_github, render_json_line, render_sarif, render_terminal};
pub use source::{FileId, SourceFile, SourceMap, Span};

/// How bad a diagnostic is. Warnings never fail `journey check` unless `--deny-warnings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A message attached to a span of source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// A problem found in a project: a stable code (`J0001`), what is wrong, where, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
    /// A mechanical fix: the text to put in place of a span (a misspelt name's closest
    /// match). The language server offers it as a quick fix.
    pub fix: Option<(Span, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Error, code, message, span)
    }

    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Warning, code, message, span)
    }

    fn new(severity: Severity, code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            primary: Label { span, message: String::new() },
            secondary: Vec::new(),
            help: None,
            fix: None,
        }
    }

    /// The text under the primary caret.
    pub fn with_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label { span, message: message.into() });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The name meant in place of the one under the caret, when one is close enough
    /// ([`suggest`]): the help says "did you mean", and the fix puts it there. Otherwise the
    /// help is `fallback`'s, when it gives one.
    pub fn with_suggestion(mut self, meant: Option<&str>, fallback: impl FnOnce() -> Option<String>) -> Self {
        match meant {
            Some(meant) => {
                self.help = Some(format!("did you mean `{meant}`?"));
                self.fix = Some((self.primary.span, meant.to_string()));
            }
            None => self.help = fallback(),
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics the way users read them: by file, then position, errors before warnings at
/// the same place. Stable, so equal keys keep discovery order.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.primary.span.file, d.primary.span.start, std::cmp::Reverse(d.severity)));
}

/// The closest candidate to a misspelt name ("did you mean"), if one is close enough: at most a
/// third of the name's length in edits (at least one; names under three characters get none).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = name.chars().count();
    let limit = if length < 3 { 0 } else { (length / 3).max(1) };
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Edit distance counting insertions, deletions, substitutions and adjacent transpositions
/// (optimal string alignment), so `sned` is one edit from `send`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1).min(d[i * width + j - 1] + 1).min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_the_closest_name() {
        assert_eq!(suggest("welcom_1", ["welcome_1", "welcome_2a", "receipt"]), Some("welcome_1"));
        assert_eq!(suggest("sned", ["send", "set", "sync"]), Some("send"));
        assert_eq!(suggest("zzz", ["send"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn a_suggestion_is_both_the_help_and_the_fix() {
        let span = Span::new(FileId(0), 10, 15);
        let d = Diagnostic::error("J0109", "unknown function `lowr`", span).with_suggestion(Some("lower"), || Some("unused".into()));
        assert_eq!(d.help.as_deref(), Some("did you mean `lower`?"));
        assert_eq!(d.fix, Some((span, "lower".to_string())));
        let d = Diagnostic::error("J0109", "unknown function `zzz`", span).with_suggestion(None, || Some("the functions are …".into()));
        assert_eq!((d.help.as_deref(), d.fix), (Some("the functions are …"), None));
    }
}
