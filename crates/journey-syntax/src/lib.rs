//! The syntax of `.journey` files: logos lexer, lalrpop grammar, spanned AST, and parse
//! diagnostics. Everything else reaches the parser through [`parse`], which never fails: a file
//! with errors still yields a [`Module`] (with `Error` nodes where the parser recovered) plus the
//! diagnostics, so the checker and the language server always see the rest of the file.
//!
//! lalrpop stays behind this API on purpose: should a hand-written parser ever be faster (as
//! starlark-rust found), only this crate changes.

pub mod ast;
mod build;
mod errors;
pub mod format;
pub mod lexer;
pub mod project;
mod symbol;
mod template;

#[allow(clippy::all, clippy::unwrap_used, clippy::expect_used, unused_parens, dead_code)]
mod grammar {
    include!(concat!(env!("OUT_DIR"), "/journey.rs"));
}

pub use ast::Module;
pub use build::{WEEKDAYS, duration_seconds};
pub use journey_diagnostics::{Diagnostic, FileId, Severity, SourceFile, SourceMap, Span};
pub use symbol::Symbol;

/// Parses one file. Diagnostics are in source order; cascades of errors caused by one typo are
/// reported once.
pub fn parse(file: FileId, source: &str) -> (Module, Vec<Diagnostic>) {
    let (tokens, docs) = lexer::tokenize(source, 0);
    let token_starts: Vec<usize> = tokens.iter().map(|(start, _, _)| *start).collect();
    let mut recovered = Vec::new();
    let result = grammar::ModuleParser::new().parse(file, &mut recovered, tokens.iter().copied().map(Ok));
    let mut module = match result {
        Ok(module) => module,
        Err(error) => {
            recovered.push(lalrpop_util::ErrorRecovery { error, dropped_tokens: Vec::new() });
            Module::default()
        }
    };
    attach_docs(source, &docs, &mut module);
    let diagnostics = errors::to_diagnostics(file, source, &tokens, &token_starts, recovered);
    (module, diagnostics)
}

/// Attaches each run of `///` lines to the declaration (or contact/event field) right below it.
fn attach_docs(source: &str, docs: &[(usize, &str)], module: &mut Module) {
    if docs.is_empty() {
        return;
    }
    let doc_for = |start: usize| -> Option<String> {
        let mut lines = Vec::new();
        let mut cursor = start;
        let mut index = docs.partition_point(|(pos, _)| *pos < start);
        while index > 0 {
            let (pos, text) = docs[index - 1];
            let end = pos + text.len();
            if source.get(end..cursor).is_some_and(|gap| gap.trim().is_empty()) {
                lines.push(text.trim_start_matches('/').strip_prefix(' ').unwrap_or(text.trim_start_matches('/')));
                cursor = pos;
                index -= 1;
            } else {
                break;
            }
        }
        if lines.is_empty() {
            return None;
        }
        lines.reverse();
        Some(lines.join("\n"))
    };
    for item in &mut module.items {
        item.doc = doc_for(item.span.start as usize);
        let fields = match &mut item.kind {
            ast::ItemKind::Contact(fields) => fields,
            ast::ItemKind::Event(event) => &mut event.fields,
            _ => continue,
        };
        for field in fields {
            field.doc = doc_for(field.span.start as usize);
        }
    }
}

#[cfg(test)]
mod tests;
