//! Semantic analysis of a parsed project: name resolution across files, types (LANGUAGE.md §2),
//! logic validation (§6), and lowering to the typed IR in [`ir`] that code generation consumes.
//!
//! The checker is one struct over the immutable parsed modules. It collects every error and keeps
//! going: an expression that fails gets the `Error` type, which is compatible with everything, so
//! one mistake yields one diagnostic. Passes:
//! 1. **declare** — every named declaration gets an id (duplicates reported with both places);
//! 2. **resolve** — attribute and event-field types, policy, journeys (clauses and steps, with
//!    message templates checked at each `send` in that journey's context), tests;
//! 3. **lint** — project-wide warnings (unused messages, unreachable caps, enroll cycles, …).
//!
//! Codes: J01xx errors, J02xx warnings; see docs/diagnostics.md.

mod declare;
mod expr;
pub mod inventory;
pub mod ir;
mod journey;
mod lints;
mod message;
mod testblock;
pub mod types;

use ir::*;
use journey_diagnostics::{Diagnostic, SourceMap, Span};
use journey_syntax::project::ParsedProject;
use journey_syntax::{Symbol, ast};
use std::collections::HashMap;
use types::Type;

/// A declaration, for the editor: hover text and go-to-definition targets.
#[derive(Clone, Debug)]
pub struct Definition {
    pub name: Symbol,
    pub kind: DefKind,
    pub span: Span,
    /// One-line signature shown on hover (`email: string`, `message welcome_1 email`).
    pub detail: String,
    pub doc: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefKind {
    Attribute,
    Enum,
    Variant,
    Event,
    EventField,
    Message,
    Audience,
    Webhook,
    Journey,
    Step,
    Goal,
    Experiment,
}

/// A use of a declared name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference {
    pub span: Span,
    /// Index into [`Checked::definitions`].
    pub definition: usize,
}

/// The result of checking a project. `program` is complete even when there are errors (failed
/// parts are `Error` nodes); only a project without errors may be compiled.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    pub program: Program,
    pub diagnostics: Vec<Diagnostic>,
    pub definitions: Vec<Definition>,
    pub references: Vec<Reference>,
    /// Type of every checked expression, by span (for hover).
    pub expr_types: Vec<(Span, String)>,
    /// Every `send`: journey, step id, message name and the step's span (content inventory).
    pub sends: Vec<SendSite>,
}

#[derive(Clone, Debug)]
pub struct SendSite {
    pub journey: Symbol,
    pub step: Symbol,
    pub message: Symbol,
    pub span: Span,
    /// Whether the message is declared.
    pub declared: bool,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks a parsed project. Parse diagnostics are not repeated here; callers merge both lists.
pub fn check(project: &ParsedProject) -> Checked {
    let mut checker = Checker::new(&project.sources, &project.modules);
    checker.declare();
    checker.resolve();
    checker.lint();
    checker.finish()
}

/// Warnings about what no journey of the project does — sends a message (J0205), reaches a cap
/// (J0206), enrolls into a journey (J0212) — which a syntax error anywhere may have hidden.
const PROJECT_WIDE: [&str; 3] = ["J0205", "J0206", "J0212"];

/// Warnings about what a journey's body lacks — a way out before its `limit` (J0203), any step
/// at all (J0213) — which a syntax error in its file may have hidden.
const PER_FILE: [&str; 2] = ["J0203", "J0213"];

/// Parse diagnostics followed by check diagnostics, sorted and deduplicated. A check diagnostic
/// on a line the parser could not read as written, before the place it stopped, is left out:
/// it is about the parser's guess (`where event.url contains "x"` checked as `where event.url`),
/// not about what was written, and goes away with the syntax error. So are, while the project
/// has a syntax error, the warnings about what no journey does ([`PROJECT_WIDE`]: the send, the
/// `enroll` may be what the parser skipped), and those about what a journey's body lacks
/// ([`PER_FILE`]) while its file has one. And
/// so is an unknown message, event, journey… whose declaration has a syntax error: it is unknown
/// because it did not parse ([`broken_declarations`]).
pub fn all_diagnostics(project: &ParsedProject, checked: &Checked) -> Vec<Diagnostic> {
    let line_of = |span: journey_diagnostics::Span| project.sources.get(span.file).map(|f| (span.file, f.line_index(span.start as usize)));
    let stops: Vec<_> = project.diagnostics.iter().filter(|d| d.is_error()).map(|d| (line_of(d.primary.span), d.primary.span.start)).collect();
    let guessed = |d: &Diagnostic| {
        let (line, start) = (line_of(d.primary.span), d.primary.span.start);
        stops.iter().any(|&(l, stop)| line.is_some() && l == line && start <= stop)
    };
    let unparsed = broken_declarations(project);
    let syntax_error_in =
        |file: Option<journey_diagnostics::FileId>| project.diagnostics.iter().any(|p| p.is_error() && file.is_none_or(|f| p.primary.span.file == f));
    let broken = |d: &Diagnostic| {
        (PROJECT_WIDE.contains(&d.code) && syntax_error_in(None))
            || (PER_FILE.contains(&d.code) && syntax_error_in(Some(d.primary.span.file)))
            || unparsed.iter().any(|(code, name)| d.code == *code && name.as_ref().is_none_or(|n| d.message.contains(&format!("`{n}`"))))
    };
    let mut all = project.diagnostics.clone();
    all.extend(checked.diagnostics.iter().filter(|d| !guessed(d) && !broken(d)).cloned());
    journey_diagnostics::sort(&mut all);
    all
}

/// The declarations a syntax error is in, as the code an unknown reference to them gets and
/// their name (`None`: any name, for the `contact` block's attributes): the declaration is the
/// last line before the error, or its own, that starts with a declaration keyword (unindented).
fn broken_declarations(project: &ParsedProject) -> Vec<(&'static str, Option<String>)> {
    const KINDS: [(&str, &str); 7] = [
        ("message", "J0103"),
        ("event", "J0102"),
        ("audience", "J0104"),
        ("webhook", "J0105"),
        ("journey", "J0106"),
        ("enum", "J0107"),
        ("contact", "J0101"),
    ];
    let mut found = Vec::new();
    for d in project.diagnostics.iter().filter(|d| d.is_error()) {
        let Some(file) = project.sources.get(d.primary.span.file) else { continue };
        let mut line = file.line_index(d.primary.span.start as usize);
        loop {
            let start = file.line_start(line);
            let text = file.text.get(start..file.line_start(line + 1).max(start)).unwrap_or("");
            // At the start of the line: `contact ana { … }` inside a test is no declaration.
            let mut words = text.split(|c: char| c.is_whitespace() || c == '{');
            if let Some((_, code)) = words.next().and_then(|w| KINDS.iter().find(|(k, _)| *k == w)) {
                let mut words = words.filter(|w| !w.is_empty());
                let name = if *code == "J0101" { None } else { words.next().map(str::to_string) };
                found.push((*code, name));
                break;
            }
            if line == 0 {
                break;
            }
            line -= 1;
        }
    }
    found
}

/// Which journey an expression is checked in, and what `event` and `trigger` mean there.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cx {
    pub journey: Option<JourneyId>,
    /// The event `event.*` refers to, when inside a `where` or a matched `wait for` body.
    pub event: Option<EventId>,
    pub trigger: Option<EventId>,
    /// Why `trigger` is unavailable, for the message.
    pub no_trigger_reason: &'static str,
    /// `{for x in …}` variables in scope: name, type, slot.
    pub loop_vars: Vec<(Symbol, Type, u32)>,
}

pub(crate) struct Checker<'a> {
    pub sources: &'a SourceMap,
    pub modules: &'a [ast::Module],
    pub program: Program,
    pub diagnostics: Vec<Diagnostic>,
    pub definitions: Vec<Definition>,
    pub references: Vec<Reference>,
    pub expr_types: Vec<(Span, String)>,
    pub sends: Vec<SendSite>,
    pub enum_names: Vec<String>,
    // Name tables.
    pub attrs: HashMap<Symbol, AttrId>,
    pub enums: HashMap<Symbol, EnumId>,
    pub events: HashMap<Symbol, EventId>,
    pub messages: HashMap<Symbol, MessageId>,
    pub audiences: HashMap<Symbol, AudienceId>,
    pub webhooks: HashMap<Symbol, WebhookId>,
    pub journeys: HashMap<Symbol, JourneyId>,
    /// Definition index of each declaration, per kind and id.
    pub def_of: HashMap<(DefKind, u32), usize>,
    pub journey_decls: Vec<&'a ast::JourneyDecl>,
    pub message_decls: Vec<&'a ast::MessageDecl>,
    pub message_sent: Vec<bool>,
    /// Experiments across the project: name → (span, arm names).
    pub experiments: HashMap<Symbol, (Span, Vec<Symbol>)>,
    /// Every `enroll` step: (from, to, span of the step, whether it is reached before any wait).
    pub enrolls: Vec<(JourneyId, JourneyId, Span, bool)>,
    /// The first `trigger.<field>` each journey reads (in its own clauses, steps, or the
    /// messages it sends).
    pub trigger_uses: HashMap<JourneyId, Span>,
    pub predicate_keys: HashMap<String, PredicateId>,
    pub next_loop_slot: u32,
}

impl<'a> Checker<'a> {
    fn new(sources: &'a SourceMap, modules: &'a [ast::Module]) -> Self {
        Checker {
            sources,
            modules,
            program: Program::default(),
            diagnostics: Vec::new(),
            definitions: Vec::new(),
            references: Vec::new(),
            expr_types: Vec::new(),
            sends: Vec::new(),
            enum_names: Vec::new(),
            attrs: HashMap::new(),
            enums: HashMap::new(),
            events: HashMap::new(),
            messages: HashMap::new(),
            audiences: HashMap::new(),
            webhooks: HashMap::new(),
            journeys: HashMap::new(),
            def_of: HashMap::new(),
            journey_decls: Vec::new(),
            message_decls: Vec::new(),
            message_sent: Vec::new(),
            experiments: HashMap::new(),
            enrolls: Vec::new(),
            trigger_uses: HashMap::new(),
            predicate_keys: HashMap::new(),
            next_loop_slot: 0,
        }
    }

    fn finish(mut self) -> Checked {
        // The same template checked at several send sites reports the same problem once.
        let mut seen = std::collections::HashSet::new();
        self.diagnostics.retain(|d| seen.insert((d.code, d.primary.span, d.message.clone())));
        journey_diagnostics::sort(&mut self.diagnostics);
        Checked {
            program: self.program,
            diagnostics: self.diagnostics,
            definitions: self.definitions,
            references: self.references,
            expr_types: self.expr_types,
            sends: self.sends,
        }
    }

    pub fn emit(&mut self, mut diagnostic: Diagnostic) {
        // A suggestion (see `Diagnostic::with_suggestion`) replaces the name under the caret;
        // where the caret is on more than a name (a qualified variant, say), the help stays
        // but there is no mechanical fix.
        if diagnostic.fix.as_ref().is_some_and(|(span, _)| !is_word(self.text(*span))) {
            diagnostic.fix = None;
        }
        self.diagnostics.push(diagnostic);
    }

    pub fn type_name(&self, ty: &Type) -> String {
        ty.display(&self.enum_names).to_string()
    }

    pub fn text(&self, span: Span) -> &'a str {
        self.sources.slice(span)
    }

    pub fn define(&mut self, kind: DefKind, id: u32, name: Symbol, span: Span, detail: String, doc: Option<String>) -> usize {
        let index = self.definitions.len();
        self.definitions.push(Definition { name, kind, span, detail, doc });
        self.def_of.insert((kind, id), index);
        index
    }

    pub fn refer(&mut self, kind: DefKind, id: u32, span: Span) {
        if let Some(&definition) = self.def_of.get(&(kind, id)) {
            self.references.push(Reference { span, definition });
        }
    }

    /// The closest of `candidates` to a misspelt `name`, if one is close enough (for
    /// [`Diagnostic::with_suggestion`]).
    pub fn meant<'n>(name: &str, candidates: impl IntoIterator<Item = &'n str>) -> Option<&'n str> {
        journey_diagnostics::suggest(name, candidates)
    }

    /// Reports an unknown name of some kind, with "did you mean" from `candidates`.
    pub fn unknown(&mut self, code: &'static str, what: &str, ident: ast::Ident, candidates: Vec<Symbol>, fallback_help: Option<String>) {
        let meant = Self::meant(ident.as_str(), candidates.iter().map(|s| s.as_str()));
        let d = Diagnostic::error(code, format!("unknown {what} `{}`", ident.as_str()), ident.span)
            .with_label(format!("no {what} by this name"))
            .with_suggestion(meant, || fallback_help);
        self.emit(d);
    }
}

/// A name as written (letters, digits, `_`): what a "did you mean" can replace.
fn is_word(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Keys of a name table, for suggestions.
pub(crate) fn names<T>(table: &HashMap<Symbol, T>) -> Vec<Symbol> {
    let mut v: Vec<Symbol> = table.keys().copied().collect();
    v.sort_by_key(|s| s.as_str());
    v
}
