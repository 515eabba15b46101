//! Template strings: `"Hi {contact.first_name ?? "there"}{if has purchase}, thanks!{end}"`.
//!
//! The lexer hands the whole string over as one token; here the body is split into text and
//! `{…}` interpolations, and each interpolation is lexed at its real offset and parsed with the
//! grammar's `Interp` entry point — so expressions in templates get exactly the same syntax,
//! spans and diagnostics as everywhere else. `if`, `else`, `for` and `end` are only special right
//! after `{`, as LANGUAGE.md §3 says.

use crate::ast::{Expr, ExprKind, Ident, Template, TemplatePart};
use crate::build::{Errors, Interp, bad_escape, report, span, user_error};
use crate::grammar::InterpParser;
use crate::lexer::{string_length, tokenize};
use journey_diagnostics::FileId;
use lalrpop_util::ErrorRecovery;

enum Frame {
    If { start: usize, branches: Vec<(Expr, Vec<TemplatePart>)>, cond: Expr, in_else: bool, parts: Vec<TemplatePart> },
    For { start: usize, var: Ident, list: Expr, parts: Vec<TemplatePart> },
}

impl Frame {
    fn parts(&mut self) -> &mut Vec<TemplatePart> {
        match self {
            Frame::If { parts, .. } | Frame::For { parts, .. } => parts,
        }
    }
}

/// Parses a string token (`raw` includes its quotes, starting at byte `l`) into a [`Template`].
pub fn parse<'src>(file: FileId, errors: &mut Errors<'src>, l: usize, raw: &'src str, r: usize) -> Template {
    let body = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
    let base = l + 1;
    let bytes = body.as_bytes();
    let mut root: Vec<TemplatePart> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut text = String::new();
    let mut text_start = 0;
    let mut i = 0;

    macro_rules! current {
        () => {
            match stack.last_mut() {
                Some(frame) => frame.parts(),
                None => &mut root,
            }
        };
    }
    macro_rules! flush_text {
        ($upto:expr) => {
            if !text.is_empty() {
                let part = TemplatePart::Text(std::mem::take(&mut text), span(file, base + text_start, base + $upto));
                current!().push(part);
            }
        };
    }

    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if text.is_empty() {
                    text_start = i;
                }
                let escaped = body.get(i + 1..).and_then(|s| s.chars().next());
                match escaped {
                    Some('"') => text.push('"'),
                    Some('\\') => text.push('\\'),
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('{') => text.push('{'),
                    Some('}') => text.push('}'),
                    other => bad_escape(errors, base + i, 1 + other.map_or(0, char::len_utf8)),
                }
                i += 1 + escaped.map_or(0, char::len_utf8);
            }
            b'{' => {
                flush_text!(i);
                let Some(close) = interpolation_end(bytes, i + 1) else {
                    report(errors, user_error("J0006", "unclosed `{` in template", base + i, base + i + 1, "this `{` is never closed"));
                    break;
                };
                let content = body.get(i + 1..close).unwrap_or("");
                let content_start = base + i + 1;
                let whole = (base + i, base + close + 1);
                match parse_interpolation(file, errors, content, content_start, whole) {
                    Some(Interp::Value(e)) if is_end(&e) => match stack.pop() {
                        Some(frame) => {
                            let part = close_frame(file, frame, whole.1);
                            current!().push(part);
                        }
                        None => report(errors, user_error("J0006", "`{end}` without an open `{if}` or `{for}`", whole.0, whole.1, "nothing to end")),
                    },
                    Some(Interp::Value(e)) => current!().push(TemplatePart::Expr(e)),
                    Some(Interp::If(cond)) => stack.push(Frame::If { start: whole.0, branches: Vec::new(), cond, in_else: false, parts: Vec::new() }),
                    Some(Interp::ElseIf(next)) => match stack.last_mut() {
                        Some(Frame::If { branches, cond, parts, in_else: false, .. }) => {
                            let previous = std::mem::replace(cond, next);
                            branches.push((previous, std::mem::take(parts)));
                        }
                        _ => else_outside_if(errors, whole),
                    },
                    Some(Interp::Else) => match stack.last_mut() {
                        Some(Frame::If { branches, cond, parts, in_else, .. }) if !*in_else => {
                            branches.push((cond.clone(), std::mem::take(parts)));
                            *in_else = true;
                        }
                        _ => else_outside_if(errors, whole),
                    },
                    Some(Interp::For(var, list)) => stack.push(Frame::For { start: whole.0, var, list, parts: Vec::new() }),
                    None => {}
                }
                i = close + 1;
            }
            b'}' => {
                flush_text!(i);
                let mut error = user_error("J0006", "unmatched `}` in template", base + i, base + i + 1, "no `{` before it");
                error.help = Some("write `\\}` for a literal brace".into());
                report(errors, error);
                i += 1;
            }
            _ => {
                if text.is_empty() {
                    text_start = i;
                }
                let ch_len = body.get(i..).and_then(|s| s.chars().next()).map_or(1, char::len_utf8);
                text.push_str(body.get(i..i + ch_len).unwrap_or(""));
                i += ch_len;
            }
        }
    }
    flush_text!(i.min(bytes.len()));
    while let Some(frame) = stack.pop() {
        let start = match &frame {
            Frame::If { start, .. } | Frame::For { start, .. } => *start,
        };
        let mut error = user_error("J0006", "template block is never closed", start, start + 1, "opened here");
        error.help = Some("close `{if …}` and `{for …}` blocks with `{end}`".into());
        report(errors, error);
        let part = close_frame(file, frame, r.saturating_sub(1));
        current!().push(part);
    }
    Template { parts: root, span: span(file, l, r) }
}

fn else_outside_if(errors: &mut Errors<'_>, whole: (usize, usize)) {
    report(errors, user_error("J0006", "`{else}` outside an `{if}` block", whole.0, whole.1, "no open `{if}` to continue"));
}

fn is_end(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Name(n) if n.as_str() == "end")
}

fn close_frame(file: FileId, frame: Frame, end: usize) -> TemplatePart {
    match frame {
        Frame::If { start, mut branches, cond, in_else, parts } => {
            let otherwise = if in_else {
                Some(parts)
            } else {
                branches.push((cond, parts));
                None
            };
            TemplatePart::If { branches, otherwise, span: span(file, start, end) }
        }
        Frame::For { start, var, list, parts } => TemplatePart::For { var, list, body: parts, span: span(file, start, end) },
    }
}

/// Index of the `}` closing an interpolation whose content starts at `from`, skipping nested
/// strings and braces.
fn interpolation_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut j = from;
    while j < bytes.len() {
        match bytes[j] {
            b'"' => match string_length(&bytes[j + 1..]) {
                Ok(len) => j += 1 + len,
                Err(_) => return None,
            },
            b'{' => {
                depth += 1;
                j += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
                j += 1;
            }
            _ => j += 1,
        }
    }
    None
}

fn parse_interpolation<'src>(
    file: FileId,
    errors: &mut Errors<'src>,
    content: &'src str,
    content_start: usize,
    whole: (usize, usize),
) -> Option<Interp> {
    let (tokens, _docs) = tokenize(content, content_start);
    if tokens.is_empty() {
        let mut error = user_error("J0006", "empty interpolation `{}`", whole.0, whole.1, "nothing inside");
        error.help = Some("put an expression inside, or write `\\{\\}` for literal braces".into());
        report(errors, error);
        return None;
    }
    let parsed = InterpParser::new().parse(file, errors, tokens.into_iter().map(Ok));
    match parsed {
        Ok(interp) => Some(interp),
        Err(error) => {
            errors.push(ErrorRecovery { error: remap_eof(error, whole.1 - 1), dropped_tokens: Vec::new() });
            None
        }
    }
}

/// An interpolation ends at its `}`, not at the end of the file: point EOF errors there.
fn remap_eof<'src>(
    error: lalrpop_util::ParseError<usize, crate::lexer::Token<'src>, crate::build::UserError>,
    at: usize,
) -> lalrpop_util::ParseError<usize, crate::lexer::Token<'src>, crate::build::UserError> {
    match error {
        lalrpop_util::ParseError::UnrecognizedEof { expected, .. } => lalrpop_util::ParseError::UnrecognizedEof { location: at, expected },
        other => other,
    }
}
