//! The project as the editor sees it: every `.journey` file of the workspace (open documents
//! override the disk), parsed per file and checked as a whole, plus the queries the protocol
//! handlers need — positions in UTF-16, what is under the cursor, completions.
//!
//! An edit re-parses only the edited file ([`ParsedProject::replace`]); checking the whole
//! project afterwards takes milliseconds (see the README's figures), so it is redone each time.
//! When the edited file has syntax errors, the last analysis without them is kept for hover,
//! completion and navigation.

use journey_check::{Checked, DefKind};
use journey_diagnostics::{FileId, SourceFile, Span};
use journey_syntax::ast::{ItemKind, Module};
use journey_syntax::project::ParsedProject;
use lsp_types::{Position, Range};

pub struct Analysis {
    pub project: ParsedProject,
    pub checked: Checked,
    /// The latest project state whose files all parsed: used for navigation while a file is broken.
    pub last_good: Option<(ParsedProject, Checked)>,
    /// Document URI of each file (index = FileId).
    pub uris: Vec<String>,
}

/// UTF-16 position of a byte offset.
pub fn position(file: &SourceFile, byte: usize) -> Position {
    let byte = byte.min(file.text.len());
    let line = file.line_index(byte);
    let start = file.line_start(line);
    let character = file.text.get(start..byte).map(|s| s.encode_utf16().count()).unwrap_or(0);
    Position { line: line as u32, character: character as u32 }
}

/// Byte offset of a UTF-16 position (clamped to the line and the file).
pub fn offset(file: &SourceFile, pos: Position) -> usize {
    let line = (pos.line as usize).min(file.line_count().saturating_sub(1));
    let start = file.line_start(line);
    let end = file.line_start(line + 1).min(file.text.len());
    let mut units = 0u32;
    for (i, c) in file.text.get(start..end).unwrap_or("").char_indices() {
        if units >= pos.character || c == '\n' {
            return start + i;
        }
        units += c.len_utf16() as u32;
    }
    end
}

pub fn range(file: &SourceFile, span: Span) -> Range {
    Range { start: position(file, span.start as usize), end: position(file, span.end as usize) }
}

fn contains(span: Span, file: FileId, at: usize) -> bool {
    span.file == file && span.start as usize <= at && at <= span.end as usize
}

impl Analysis {
    pub fn new() -> Self {
        Analysis { project: ParsedProject::default(), checked: Checked::default(), last_good: None, uris: Vec::new() }
    }

    pub fn file_of(&self, uri: &str) -> Option<FileId> {
        self.uris.iter().position(|u| u == uri).map(|i| FileId(i as u32))
    }

    /// Adds a file or replaces its text, then re-checks.
    pub fn set_text(&mut self, uri: &str, text: String) -> FileId {
        let id = match self.file_of(uri) {
            Some(id) => {
                self.project.replace(id, text);
                id
            }
            None => {
                self.uris.push(uri.to_string());
                self.project.add(uri.to_string(), text)
            }
        };
        self.recheck();
        id
    }

    pub fn recheck(&mut self) {
        self.checked = journey_check::check(&self.project);
        if self.project.diagnostics.is_empty() {
            let copy = ParsedProject { sources: self.project.sources.clone(), modules: self.project.modules.clone(), diagnostics: Vec::new() };
            self.last_good = Some((copy, self.checked.clone()));
        }
    }

    /// The analysis to navigate with: the current one, or the last one that parsed — when it
    /// has every file the current one has. (A document opened with a syntax error, not yet part
    /// of any analysis that parsed — a new file, or the first one of an empty workspace — is
    /// navigated in the current analysis, which the parser recovered: before, the empty
    /// analysis of the workspace as it started was used, and hover, go-to-definition and
    /// completion answered nothing.)
    pub fn navigable(&self) -> (&ParsedProject, &Checked) {
        if self.project.diagnostics.is_empty() {
            return (&self.project, &self.checked);
        }
        match &self.last_good {
            Some((p, c)) if p.sources.len() == self.project.sources.len() => (p, c),
            _ => (&self.project, &self.checked),
        }
    }

    /// The definition under the cursor (from a reference or the declaration itself).
    pub fn definition_at(&self, file: FileId, at: usize) -> Option<usize> {
        let (_, checked) = self.navigable();
        checked
            .references
            .iter()
            .filter(|r| contains(r.span, file, at))
            .min_by_key(|r| r.span.end - r.span.start)
            .map(|r| r.definition)
            .or_else(|| checked.definitions.iter().position(|d| contains(d.span, file, at)))
    }

    /// Every span naming a definition: the declaration and its references.
    pub fn occurrences(&self, definition: usize) -> Vec<Span> {
        let (_, checked) = self.navigable();
        let mut spans: Vec<Span> = checked.definitions.get(definition).map(|d| vec![d.span]).unwrap_or_default();
        spans.extend(checked.references.iter().filter(|r| r.definition == definition).map(|r| r.span));
        spans.sort_by_key(|s| (s.file, s.start));
        spans.dedup();
        spans
    }

    /// Hover text (markdown) at a position.
    pub fn hover(&self, file: FileId, at: usize) -> Option<(String, Span)> {
        let (project, checked) = self.navigable();
        if let Some(d) = self.definition_at(file, at) {
            let def = checked.definitions.get(d)?;
            let mut text = format!("```journey\n{}\n```", def.detail);
            if def.kind == DefKind::Message
                && let Some(source) = message_source(project, def.name)
            {
                text = format!("```journey\n{source}\n```");
            }
            if let Some(doc) = &def.doc {
                text.push_str("\n\n");
                text.push_str(doc);
            }
            let span = checked.references.iter().find(|r| r.definition == d && contains(r.span, file, at)).map(|r| r.span).unwrap_or(def.span);
            return Some((text, span));
        }
        let (span, ty) = checked.expr_types.iter().filter(|(s, _)| contains(*s, file, at)).min_by_key(|(s, _)| s.end - s.start)?;
        Some((format!("`{}`: `{ty}`", project.sources.slice(*span)), *span))
    }

    /// Completion items for the text before the cursor: (label, kind, detail).
    pub fn completions(&self, file: FileId, at: usize) -> Vec<(String, CompletionKind, String)> {
        let (project, checked) = self.navigable();
        let text = self.project.sources.get(file).map(|f| f.text.as_str()).unwrap_or("");
        let before = text.get(..at.min(text.len())).unwrap_or("");
        let word_start = before.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map(|i| i + 1).unwrap_or(0);
        let head = before.get(..word_start).unwrap_or("");
        let program = &checked.program;
        let defs_of = |kind: DefKind, ck: CompletionKind| -> Vec<(String, CompletionKind, String)> {
            checked.definitions.iter().filter(|d| d.kind == kind).map(|d| (d.name.to_string(), ck, d.detail.clone())).collect()
        };
        if head.ends_with("contact.") {
            return program
                .attributes
                .iter()
                .map(|a| (a.name.to_string(), CompletionKind::Field, checked_detail(checked, DefKind::Attribute, a.name)))
                .collect();
        }
        if head.ends_with("event.") {
            let event = nearest_event(head, program);
            return program
                .events
                .iter()
                .enumerate()
                .filter(|(i, _)| event.is_none_or(|e| e == *i))
                .flat_map(|(_, e)| e.fields.iter().map(move |(n, _)| (n.to_string(), CompletionKind::Field, format!("field of {}", e.name))))
                .collect();
        }
        if head.ends_with("trigger.") {
            let journey = enclosing_journey(project, file, at);
            let trigger = journey.and_then(|name| program.journeys.iter().find(|j| j.name.as_str() == name)).and_then(|j| j.trigger);
            return match trigger {
                Some(e) => program.events[e.0 as usize]
                    .fields
                    .iter()
                    .map(|(n, _)| (n.to_string(), CompletionKind::Field, format!("field of {}", program.events[e.0 as usize].name)))
                    .collect(),
                None => Vec::new(),
            };
        }
        let last_word = head.split_whitespace().last().unwrap_or("");
        let two_words: Vec<&str> = head.split_whitespace().rev().take(2).collect();
        match last_word {
            "send" => return defs_of(DefKind::Message, CompletionKind::Reference),
            "enroll" => return defs_of(DefKind::Journey, CompletionKind::Reference),
            "sync" => return defs_of(DefKind::Audience, CompletionKind::Reference),
            "webhook" if head.trim_end().len() > "webhook".len() => return defs_of(DefKind::Webhook, CompletionKind::Reference),
            "has" | "count(" | "last(" => return defs_of(DefKind::Event, CompletionKind::Reference),
            "on" | "for" if two_words.get(1).is_some_and(|w| matches!(*w, "entry" | "exit" | "wait")) || last_word == "on" => {
                return defs_of(DefKind::Event, CompletionKind::Reference);
            }
            "journey" if two_words.get(1) == Some(&"in") => return defs_of(DefKind::Journey, CompletionKind::Reference),
            _ => {}
        }
        let mut items: Vec<(String, CompletionKind, String)> =
            KEYWORDS.iter().map(|k| (k.to_string(), CompletionKind::Keyword, "keyword".into())).collect();
        for e in &program.enums {
            for v in &e.variants {
                items.push((v.to_string(), CompletionKind::Variant, format!("variant of {}", e.name)));
            }
        }
        items.extend(defs_of(DefKind::Message, CompletionKind::Reference));
        items.extend(defs_of(DefKind::Journey, CompletionKind::Reference));
        items.extend(defs_of(DefKind::Event, CompletionKind::Reference));
        items
    }
}

impl Default for Analysis {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    Field,
    Keyword,
    Variant,
    Reference,
}

const KEYWORDS: &[&str] = &[
    "contact",
    "enum",
    "event",
    "message",
    "audience",
    "webhook",
    "policy",
    "journey",
    "test",
    "entry",
    "on",
    "when",
    "at",
    "every",
    "where",
    "reentry",
    "exit",
    "goal",
    "limit",
    "holdout",
    "priority",
    "send",
    "sync",
    "set",
    "enroll",
    "wait",
    "until",
    "for",
    "within",
    "timeout",
    "if",
    "else",
    "match",
    "split",
    "experiment",
    "measure",
    "has",
    "count",
    "last",
    "in",
    "since",
    "not",
    "and",
    "or",
    "true",
    "false",
    "none",
    "now",
    "trigger",
];

fn checked_detail(checked: &Checked, kind: DefKind, name: journey_syntax::Symbol) -> String {
    checked.definitions.iter().find(|d| d.kind == kind && d.name == name).map(|d| d.detail.clone()).unwrap_or_default()
}

/// The event a `event.` refers to: the last `on X`, `for X`, `has X`, `count(X`, `last(X`
/// before the cursor.
fn nearest_event(head: &str, program: &journey_check::ir::Program) -> Option<usize> {
    let words: Vec<&str> = head.split(|c: char| c.is_whitespace() || c == '(').filter(|w| !w.is_empty()).collect();
    for pair in words.windows(2).rev() {
        if matches!(pair[0], "on" | "for" | "has" | "count" | "last")
            && let Some(i) = program.events.iter().position(|e| e.name.as_str() == pair[1])
        {
            return Some(i);
        }
    }
    None
}

fn enclosing_journey(project: &ParsedProject, file: FileId, at: usize) -> Option<&'static str> {
    let module: &Module = project.modules.get(file.0 as usize)?;
    module.items.iter().find_map(|item| match &item.kind {
        ItemKind::Journey(j) if item.span.start as usize <= at && at <= item.span.end as usize => Some(j.name.as_str()),
        _ => None,
    })
}

fn message_source(project: &ParsedProject, name: journey_syntax::Symbol) -> Option<String> {
    project.modules.iter().flat_map(|m| m.items.iter()).find_map(|item| match &item.kind {
        ItemKind::Message(m) if m.name.name == name => Some(project.sources.slice(item.span).to_string()),
        _ => None,
    })
}
