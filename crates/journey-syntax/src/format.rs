//! `journey fmt`: one layout for every `.journey` file, so reviews show changes, not spacing.
//!
//! The formatter works on the token stream and keeps the author's line breaks, adding only
//! those that make a block spanning lines open at the end of a line and close at the start of
//! one (a record's `{ name: value, … }` keeps its wrapping), and those that shorten a line over
//! [`MAX_WIDTH`] characters: before each of its `and` / `or` outside brackets, so that a long
//! condition reads one clause per line. It only ever changes whitespace, so
//! the tokens — and what the file means — stay exactly the same, and formatting a formatted
//! file changes nothing. Per line:
//!
//! - indentation is two spaces per open `{`, `(` or `[` (a line starting with closers is
//!   indented at the level they close to), plus one level for a continued condition or
//!   expression (a line that starts with `and`, `or` or `??`, or follows a line ending in an
//!   operator);
//! - tokens are one space apart, except: none before `,` `:` `.` `?` `)` `]`, none after `(`
//!   `[` `.`, none between a function and its `(` (`count(opened)`), after a unary minus, or
//!   inside `{}`; a trailing `//` comment is kept one space after the code; trailing whitespace
//!   goes;
//! - runs of blank lines become one; there is none right after a line that opens a block or
//!   right before a line that closes one; the file has no blank lines at its start or end and
//!   ends with one newline.
//!
//! A file that does not parse is not formatted (its diagnostics say why).

use crate::lexer::{Token, tokenize};

/// Tokens after which a line continues the same expression.
const CONTINUES_AFTER: [&str; 17] = ["and", "or", "??", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "=", "in", "not", "=>"];
/// Tokens that continue the previous line's expression when they start a line.
const CONTINUES_WITH: [&str; 3] = ["and", "or", "??"];

fn opens(token: &str) -> bool {
    matches!(token, "{" | "(" | "[")
}

fn closes(token: &str) -> bool {
    matches!(token, "}" | ")" | "]")
}

/// The file in canonical layout, or the diagnostics of a file that does not parse.
pub fn format(source: &str) -> Result<String, Vec<crate::Diagnostic>> {
    let (_, diagnostics) = crate::parse(crate::FileId::default(), source);
    let errors: Vec<_> = diagnostics.into_iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    // A byte-order mark the file starts with stays (the lexer skips it as space).
    match source.strip_prefix('\u{FEFF}') {
        Some(rest) => Ok(format!("\u{FEFF}{}", layout(rest))),
        None => Ok(layout(source)),
    }
}

/// Tokens that close a value (after which `-` is binary).
fn ends_value(token: Option<Token<'_>>) -> bool {
    use Token as T;
    matches!(
        token,
        Some(
            T::Ident(_)
                | T::True
                | T::False
                | T::None
                | T::Int(_)
                | T::Float(_)
                | T::Percent(_)
                | T::Duration(_)
                | T::Date(_)
                | T::Instant(_)
                | T::Clock(_)
                | T::Str(_)
                | T::RParen
                | T::RBracket
        )
    )
}

/// Whether two tokens on one line are written one space apart (`before` is the token before
/// `prev`; doc comments are `None`).
fn spaced(before: Option<Token<'_>>, prev: Option<Token<'_>>, next: Option<Token<'_>>) -> bool {
    use Token as T;
    let (Some(prev), Some(next)) = (prev, next) else { return true };
    if matches!(next, T::Comma | T::Colon | T::Dot | T::Question | T::RParen | T::RBracket) || matches!(prev, T::LParen | T::LBracket | T::Dot) {
        return false;
    }
    match (prev, next) {
        (T::LBrace, T::RBrace) => false,
        (T::Ident(_) | T::Count | T::Last, T::LParen) => false,
        (T::Minus, _) => ends_value(before),
        _ => true,
    }
}

/// Where the layout breaks lines the author did not: a `{ … }` block that spans lines opens at
/// the end of a line and closes at the start of one (`if x { send a` ⏎ `send b }` becomes three
/// lines and a `}`); a record's braces (`{ name: value, … }`) stay where they are. Returns, per
/// item, whether a line break goes before it.
fn forced_breaks(source: &str, spans: &[(usize, usize)]) -> Vec<bool> {
    let newlines: Vec<usize> = source.match_indices('\n').map(|(at, _)| at).collect();
    let lines: Vec<usize> = spans.iter().map(|&(start, _)| newlines.partition_point(|&n| n < start)).collect();
    let mut breaks = vec![false; spans.len()];
    let mut open: Vec<usize> = Vec::new();
    for (i, &(start, end)) in spans.iter().enumerate() {
        match source.get(start..end) {
            Some("{") => open.push(i),
            Some("}") => {
                let Some(o) = open.pop() else { continue };
                // Records (`contact ana { plan: pro, …` over lines) keep the author's wrapping.
                let record = spans.get(o + 2).and_then(|&(a, b)| source.get(a..b)) == Some(":");
                if lines[o] == lines[i] || record {
                    continue;
                }
                // The closer starts its line; what follows the opener starts the next one.
                if i > 0 && lines[i - 1] == lines[i] {
                    breaks[i] = true;
                }
                if lines.get(o + 1) == Some(&lines[o]) {
                    breaks[o + 1] = true;
                }
            }
            _ => {}
        }
    }
    breaks
}

/// Lines longer than this (in characters, indentation and comment included) are broken before
/// their `and` / `or` outside brackets, when they have any.
pub const MAX_WIDTH: usize = 120;

/// The text of each item (token or doc comment).
fn text_of_item<'s>(spans: &[(usize, usize)], source: &'s str) -> Vec<&'s str> {
    spans.iter().map(|&(start, end)| source.get(start..end).unwrap_or("")).collect()
}

/// Where a line of items `from..to` breaks to shorten it: before each `and` / `or` (but the
/// first item) not inside brackets opened on the line.
fn condition_breaks(from: usize, to: usize, texts: &[&str]) -> Vec<usize> {
    let mut nesting = 0usize;
    let mut out = Vec::new();
    for i in from..to {
        let t = texts.get(i).copied().unwrap_or("");
        if opens(t) {
            nesting += 1;
        } else if closes(t) {
            nesting = nesting.saturating_sub(1);
        } else if nesting == 0 && i > from && matches!(t, "and" | "or") {
            out.push(i);
        }
    }
    out
}

/// The layout itself (the source is known to lex; a token that does not is kept as it is).
fn layout(source: &str) -> String {
    let (tokens, docs) = tokenize(source, 0);
    // Doc comments are kept like tokens (the grammar never sees them, the reader does).
    let mut items: Vec<(usize, usize, Option<Token<'_>>)> = tokens.iter().map(|(start, token, end)| (*start, *end, Some(*token))).collect();
    items.extend(docs.iter().map(|(start, text)| (*start, start + text.len(), None)));
    items.sort_unstable_by_key(|(start, _, _)| *start);
    let spans: Vec<(usize, usize)> = items.iter().map(|(start, end, _)| (*start, *end)).collect();
    let breaks = forced_breaks(source, &spans);
    let texts = text_of_item(&spans, source);
    let kind = |i: usize| items.get(i).and_then(|(_, _, t)| *t);
    let text_of = |(start, end): (usize, usize)| source.get(start..end).unwrap_or("");
    let mut out = String::with_capacity(source.len());
    let (mut depth, mut next, mut blank, mut started) = (0usize, 0usize, false, false);
    let mut previous_last = "";
    // Whether the last line written ends by opening a block (a comment-only line does not).
    let mut opened_block = false;
    let mut line_start = 0;
    for line in source.split_inclusive('\n') {
        let line_end = line_start + line.trim_end_matches(['\n', '\r']).len();
        let first = next;
        while next < spans.len() && spans[next].0 < line_end {
            next += 1;
        }
        // What follows the line's last token: a comment, or nothing.
        let tail_from = spans.get(first..next).and_then(<[_]>::last).map_or(line_start, |&(_, end)| end);
        let tail = source.get(tail_from..line_end).unwrap_or("").trim();
        if first == next && tail.is_empty() {
            blank = started;
            line_start += line.len();
            continue;
        }
        // No blank line just inside a block: after its opening line, or before its closing one.
        let closes_here = spans.get(first).is_some_and(|&s| closes(text_of(s)));
        if blank && !opened_block && !closes_here {
            out.push('\n');
        }
        blank = false;
        started = true;
        // The source line, cut where the layout breaks it; the comment stays on the last part.
        let mut cuts: Vec<usize> = (first + 1..next).filter(|&i| breaks[i]).collect();
        cuts.insert(0, first);
        cuts.push(next);
        let mut parts: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        let mut part = 0;
        let mut text = String::new();
        while let Some(&(from, to)) = parts.get(part) {
            let on_line = &spans[from..to];
            let leading_closers = on_line.iter().take_while(|&&s| closes(text_of(s))).count();
            let continued = on_line.first().is_some_and(|&s| CONTINUES_WITH.contains(&text_of(s)))
                || (CONTINUES_AFTER.contains(&previous_last) && !on_line.first().is_some_and(|&s| closes(text_of(s))));
            let level = depth.saturating_sub(leading_closers) + usize::from(continued);
            text.clear();
            text.extend(std::iter::repeat_n("  ", level));
            for (i, &span) in on_line.iter().enumerate() {
                let at = from + i;
                if i > 0 && spaced(at.checked_sub(2).and_then(kind), kind(at - 1), kind(at)) {
                    text.push(' ');
                }
                // A doc comment runs to the end of its line: without its trailing whitespace.
                text.push_str(if kind(at).is_none() { text_of(span).trim_end() } else { text_of(span) });
            }
            if part + 1 == parts.len() && !tail.is_empty() {
                if !on_line.is_empty() {
                    text.push(' ');
                }
                text.push_str(tail);
            }
            // Too long, with `and` / `or` outside brackets: broken before each of them (the
            // pieces, continuing the condition, are indented one level more).
            if text.chars().count() > MAX_WIDTH {
                let splits = condition_breaks(from, to, &texts);
                if !splits.is_empty() {
                    let pieces: Vec<(usize, usize)> =
                        std::iter::once(from).chain(splits.iter().copied()).zip(splits.iter().copied().chain(std::iter::once(to))).collect();
                    parts.splice(part..=part, pieces);
                    continue;
                }
            }
            part += 1;
            out.push_str(&text);
            out.push('\n');
            for &span in on_line {
                let t = text_of(span);
                if opens(t) {
                    depth += 1;
                } else if closes(t) {
                    depth = depth.saturating_sub(1);
                }
            }
            if let Some(&last) = on_line.last() {
                previous_last = text_of(last);
            }
        }
        opened_block = spans.get(first..next).and_then(<[_]>::last).is_some_and(|&s| opens(text_of(s)));
        line_start += line.len();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn tokens(source: &str) -> Vec<String> {
        tokenize(source, 0).0.iter().map(|(s, _, e)| source[*s..*e].to_string()).collect()
    }

    /// `source` lays out as `expected`, which lays out as itself, with the same tokens.
    fn formats_to(source: &str, expected: &str) {
        assert_eq!(layout(source), expected);
        assert_eq!(layout(expected), expected, "formatting is idempotent");
        assert_eq!(tokens(source), tokens(expected), "only whitespace changes");
    }

    #[test]
    fn indents_collapses_spaces_and_keeps_comments_and_line_breaks() {
        let messy = "\n\n/// The welcome series.\njourney   welcome {\n\t  entry on signed_up   // the web form\n\n\n      wait 1d\nif contact.plan == pro and\ncontact.score > 3 {\n send  hi   \n   }\n  }\n\n\n";
        let expected = "/// The welcome series.\njourney welcome {\n  entry on signed_up // the web form\n\n  wait 1d\n  if contact.plan == pro and\n    contact.score > 3 {\n    send hi\n  }\n}\n";
        formats_to(messy, expected);
    }

    /// A blank line right inside a block goes (as rustfmt does); one after a comment line, or
    /// between steps, stays.
    #[test]
    fn no_blank_line_just_inside_a_block() {
        let source = "journey j {\n\n  // why\n\n  entry on x\n\n  if a {\n\n    send hi\n\n  }\n\n}\n";
        let expected = "journey j {\n  // why\n\n  entry on x\n\n  if a {\n    send hi\n  }\n}\n";
        formats_to(source, expected);
    }

    /// A file saved by Windows Notepad: a byte-order mark and CRLF line ends. It parses (the
    /// mark was error J0003, "unexpected character"); formatting keeps the mark and ends lines
    /// with LF.
    #[test]
    fn a_byte_order_mark_and_crlf_line_ends_are_read_as_space() {
        let source = "\u{FEFF}event e {}\r\njourney j {\r\n  entry on e\r\n}\r\n";
        let (_, diagnostics) = crate::parse(crate::FileId::default(), source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let formatted = format(source).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(formatted, "\u{FEFF}event e {}\njourney j {\n  entry on e\n}\n");
        assert_eq!(format(&formatted).ok().as_deref(), Some(formatted.as_str()));
    }

    #[test]
    fn tokens_are_one_space_apart_except_around_punctuation() {
        let source = "contact { email : string , score: int ? }\njourney j {\n  entry on x where event.total>=20.0 and count( opened )>3\n  wait until ( contact.renews_at ?? now ) - 14d\n  set contact.score = - 3\n  if contact.score==-1 and has  x {}\n}\n";
        let expected = "contact { email: string, score: int? }\njourney j {\n  entry on x where event.total >= 20.0 and count(opened) > 3\n  wait until (contact.renews_at ?? now) - 14d\n  set contact.score = -3\n  if contact.score == -1 and has x {}\n}\n";
        assert_eq!(layout(source), expected);
        assert_eq!(tokens(source), tokens(expected));
    }

    #[test]
    fn a_block_over_several_lines_opens_and_closes_on_lines_of_its_own() {
        let source = "journey m {\n  if contact.plan == pro { send hello\n    wait 1d } else { send a\n  send b } // tail\n  split { 50% { send a }\n    50% { send b } }\n  at 2026-01-01T00:00:00Z ana x { a: 1,\n    b: 2 }\n  if x { send a }\n}\n";
        let expected = "journey m {\n  if contact.plan == pro {\n    send hello\n    wait 1d\n  } else {\n    send a\n    send b\n  } // tail\n  split {\n    50% { send a }\n    50% { send b }\n  }\n  at 2026-01-01T00:00:00Z ana x { a: 1,\n    b: 2 }\n  if x { send a }\n}\n";
        formats_to(source, expected);
    }

    #[test]
    fn a_long_condition_is_broken_before_its_and_and_or_outside_brackets() {
        let long = "journey j {\n  entry on cart_updated where event.total >= 20.0 and contact.plan == pro and (contact.score > 3 or contact.vip) or has ordered within 30d // big carts\n  wait 1d\n}\n";
        let expected = "journey j {\n  entry on cart_updated where event.total >= 20.0\n    and contact.plan == pro\n    and (contact.score > 3 or contact.vip)\n    or has ordered within 30d // big carts\n  wait 1d\n}\n";
        formats_to(long, expected);
        // At the limit, or without an `and` / `or` to break at, a line stays whole.
        let line = |name: usize| format!("journey j {{\n  if contact.plan == pro and {} {{ exit }}\n}}\n", "x".repeat(name));
        let exact = line(MAX_WIDTH - 38);
        assert_eq!(exact.lines().nth(1).map(|l| l.chars().count()), Some(MAX_WIDTH));
        formats_to(&exact, &exact);
        let over = line(MAX_WIDTH - 37);
        formats_to(&over, &over.replace(" and x", "\n    and x"));
        let message = format!("message m email {{ subject \"{}\", template \"t\" }}\n", "a ".repeat(80));
        formats_to(&message, &message);
    }

    #[test]
    fn strings_and_templates_are_kept_as_written() {
        let source = "message m email {   subject \"Hi  {contact.first_name ?? \"you\"}  !\",  template \"t\" }\n";
        assert_eq!(layout(source), "message m email { subject \"Hi  {contact.first_name ?? \"you\"}  !\", template \"t\" }\n");
    }

    #[test]
    fn a_file_that_does_not_parse_is_not_formatted() {
        assert!(format("journey j {\n  sned m\n}\n").is_err());
        assert_eq!(format("journey j {\nentry on x\n}").map_err(|_| ()), Ok("journey j {\n  entry on x\n}\n".to_string()));
    }

    /// Every example, formatted, has the same tokens and formats to itself.
    #[test]
    fn examples_keep_their_tokens_and_formatting_is_idempotent() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let source = std::fs::read_to_string(entry.path()).unwrap();
            let once = layout(&source);
            assert_eq!(tokens(&source), tokens(&once), "{}", entry.path().display());
            assert_eq!(layout(&once), once, "{}", entry.path().display());
            seen += 1;
        }
        assert!(seen >= 5);
    }
}
