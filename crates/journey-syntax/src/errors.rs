//! Turns lalrpop's parse errors into [`Diagnostic`]s with stable codes, readable "expected …"
//! lists and "did you mean" help, and drops the cascades a single typo causes: after an error the
//! parser resynchronises, and an error right at the resync point is the same mistake seen twice.
//!
//! Syntax codes: J0001 unexpected token, J0002 unexpected end of file, J0003 invalid character or
//! malformed literal, J0004 unterminated string, J0005 invalid literal value, J0006 template
//! error, J0007 bad escape, J0008 header clause after steps, J0009 unexpected word,
//! J0010 interpolation in a plain string.

use crate::build::UserError;
use crate::lexer::{KEYWORDS, STEP_KEYWORDS, Spanned, Token};
use journey_diagnostics::{Diagnostic, FileId, Span, suggest};
use lalrpop_util::{ErrorRecovery, ParseError};

type Recovery<'src> = ErrorRecovery<usize, Token<'src>, UserError>;

pub fn to_diagnostics<'src>(
    file: FileId,
    source: &str,
    tokens: &[Spanned<'src>],
    token_starts: &[usize],
    recovered: Vec<Recovery<'src>>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let field_colons = message_field_colons(tokens);
    // Token index up to which the last syntax error's recovery reached.
    let mut resume: Option<usize> = None;
    let mut reported_line: Option<usize> = None;
    for recovery in recovered {
        let location = match &recovery.error {
            ParseError::User { error } => {
                out.push(user_diagnostic(file, error));
                // What the parser stumbles on next on this line is the same mistake
                // (`at T ana ana signed_up { … }`: the record's `{`).
                reported_line = Some(source.get(..error.start.min(source.len())).map_or(0, |before| before.matches('\n').count()));
                continue;
            }
            ParseError::InvalidToken { location } | ParseError::UnrecognizedEof { location, .. } => *location,
            ParseError::UnrecognizedToken { token, .. } | ParseError::ExtraToken { token } => token.0,
        };
        let index = token_starts.partition_point(|start| *start < location);
        // A `}` left over at the top level after an earlier error: that error's recovery
        // skipped the `{` it closes (shown again, if it is a real one, once that is fixed).
        let stray_close = matches!(&recovery.error, ParseError::UnrecognizedToken { token: (_, Token::RBrace, _), expected } if expected.iter().any(|e| e == "\"import\""));
        let is_cascade = resume.is_some_and(|r| index <= r + 1 || stray_close);
        let dropped_end = recovery.dropped_tokens.last().map(|(start, _, _)| token_starts.partition_point(|s| s < start));
        // Never back: a cascade's own recovery may stop short of where the first one reached.
        resume = Some(dropped_end.unwrap_or(index).max(index).max(resume.unwrap_or(0)));
        // `wait 2 days`: the unit word is part of the same mistake (read next as a step label).
        if let ParseError::UnrecognizedToken { token: (_, Token::Int(_), _), .. } = &recovery.error
            && let Some((_, Token::Ident(word), _)) = tokens.get(index + 1)
            && duration_unit(word).is_some()
        {
            resume = resume.map(|r| r.max(index + 1));
        }
        // `send hello to contact.email`, `split { a 60% … }`: the rest of the line is the same
        // mistake.
        if let ParseError::UnrecognizedToken { token, expected } = &recovery.error
            && (complete_step_before(source, tokens, index, expected).is_some()
                || split_arm_named(&token.1, expected)
                || single_equals(&token.1, expected)
                || infix_function(source, tokens, index).is_some())
        {
            let line_end = tokens.get(index).and_then(|&(start, _, _)| source.get(start..)).and_then(|rest| rest.find('\n')).map(|n| location + n);
            let last = line_end.map_or(tokens.len(), |end| tokens.iter().take_while(|(s, _, _)| *s < end).count());
            resume = resume.map(|r| r.max(last.saturating_sub(1)));
        }
        // Steps after a `}` too many: all of them, up to the next declaration at the start of
        // a line, are the same mistake.
        if let ParseError::UnrecognizedToken { token, expected } = &recovery.error
            && outside_journey(source, token, expected).is_some()
        {
            let declares = |(start, t, _): &Spanned<'_>| {
                matches!(
                    t,
                    Token::Journey
                        | Token::Contact
                        | Token::Enum
                        | Token::Event
                        | Token::Message
                        | Token::Audience
                        | Token::Webhook
                        | Token::Policy
                        | Token::Import
                        | Token::Test
                ) && (*start == 0 || source.as_bytes().get(start - 1) == Some(&b'\n'))
            };
            let next = tokens.iter().skip(index + 1).position(declares).map_or(tokens.len(), |n| index + 1 + n);
            resume = resume.map(|r| r.max(next.saturating_sub(1)));
        }
        // `wait for e { … }`: the block is part of the same mistake.
        if let ParseError::UnrecognizedToken { token, expected } = &recovery.error
            && wait_without_within(tokens, index, &token.1, expected)
        {
            let mut depth = 0usize;
            for (i, (_, t, _)) in tokens.iter().enumerate().skip(index) {
                match t {
                    Token::LBrace => depth += 1,
                    Token::RBrace => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if depth == 0 {
                    resume = resume.map(|r| r.max(i));
                    break;
                }
            }
        }
        // A second error on the line of the last one reported: where its recovery resumed, not
        // a mistake of its own (`timezon contact.tz`: `contact` read as a declaration).
        let line = source.get(..location.min(source.len())).map_or(0, |before| before.matches('\n').count());
        if is_cascade || reported_line == Some(line) {
            continue;
        }
        reported_line = Some(line);
        // A token the lexer could not read is reported below, wherever recovery went (one in a
        // template's interpolation, lexed on its own, is not among `tokens`: reported here).
        let lexed_below = matches!(&recovery.error, ParseError::UnrecognizedToken { token: (l, Token::Error, _), .. }
            if tokens.get(index).is_some_and(|(start, t, _)| start == l && *t == Token::Error));
        let field_colon = matches!(&recovery.error, ParseError::UnrecognizedToken { token: (l, Token::Colon, _), .. }
            if field_colons.iter().any(|(start, _)| start == l));
        if !lexed_below && !field_colon {
            out.push(syntax_diagnostic(file, source, tokens, index, recovery.error));
        }
    }
    // Every token the lexer could not read (`1e3`, `12x`, an unterminated string) is a mistake
    // of its own, whatever the parser made of it: two on one line are two errors, and one that
    // an earlier error's recovery skipped is still reported.
    // So is an operator of another language (`&&`), which the parser read as its word (`and`).
    let foreign = |&&(l, t, r): &&Spanned<'_>| {
        matches!(t, Token::And | Token::Or | Token::Not) && source.get(l..r).is_some_and(|s| s.starts_with(['&', '|', '!']))
    };
    for &(l, _, r) in tokens.iter().filter(|t| t.1 == Token::Error || foreign(t)) {
        out.push(lexical_error(file, source, l, r));
    }
    // So is each `subject: "Hi"` in a message (the parser gives up on the message at the first).
    for &(l, r) in &field_colons {
        out.push(field_colon(Span::new(file, l, r)));
    }
    journey_diagnostics::sort(&mut out);
    out
}

fn user_diagnostic(file: FileId, error: &UserError) -> Diagnostic {
    let mut diagnostic =
        Diagnostic::error(error.code, error.message.clone(), Span::new(file, error.start, error.end)).with_label(error.label.clone());
    diagnostic.help = error.help.clone();
    diagnostic
}

fn syntax_diagnostic(file: FileId, source: &str, tokens: &[Spanned<'_>], index: usize, error: ParseError<usize, Token<'_>, UserError>) -> Diagnostic {
    match error {
        ParseError::InvalidToken { location } => {
            Diagnostic::error("J0003", "invalid token", Span::new(file, location, location + 1)).with_label("not valid here")
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let end = location.min(source.len().max(location));
            let what = if source.get(location..location + 1) == Some("}") { "unexpected end of interpolation" } else { "unexpected end of file" };
            Diagnostic::error("J0002", what, Span::new(file, end, end)).with_label(format!("expected {}", describe_expected(&expected))).with_help(
                if what.ends_with("interpolation") { "the expression inside `{…}` is incomplete".to_string() } else { eof_help(&expected) },
            )
        }
        ParseError::ExtraToken { token: (l, token, r) } => {
            Diagnostic::error("J0001", format!("unexpected {}", token.describe()), Span::new(file, l, r)).with_label("nothing more was expected here")
        }
        ParseError::UnrecognizedToken { token: (l, Token::Error, r), .. } => lexical_error(file, source, l, r),
        ParseError::UnrecognizedToken { token: (l, token, r), expected } => {
            let span = Span::new(file, l, r);
            let unexpected = format!("unexpected {}", token.describe());
            if let Some(step) = complete_step_before(source, tokens, index, &expected) {
                // LANGUAGE.md §3: in `wait until … within D`, the first `within` ends the wait.
                let help = if step.starts_with("wait until") && step.contains(" within ") {
                    "a `within` ends the `wait until`: put a condition that holds `has … within` in parentheses, \
                     e.g. `wait until (has e within 1d and …) within 3d`"
                        .to_string()
                } else {
                    format!("remove it, or make it a step of its own (steps start with {})", STEP_KEYWORDS.join(", "))
                };
                return Diagnostic::error("J0001", unexpected, span)
                    .with_label(format!("`{step}` is a complete step: a new step or `}}` was expected"))
                    .with_help(help);
            }
            if let Some(word) = outside_journey(source, &(l, token, r), &expected) {
                return Diagnostic::error("J0001", unexpected, span)
                    .with_label(format!("`{word}` outside any journey"))
                    .with_help("steps and journey clauses go inside `journey <name> { … }`: is there a `}` too many above?");
            }
            if let Some((function, call)) = infix_function(source, tokens, index) {
                return Diagnostic::error("J0001", unexpected, span)
                    .with_label(format!("`{function}` is a function, not an operator"))
                    .with_help(format!("call it with both values in parentheses: `{call}`"));
            }
            if matches!(token, Token::Float(_)) && expected.iter().any(|e| e == "Duration") {
                // `wait 1.0.0d`: a number with a point where a duration was expected (`wait 2 days` is
                // `typo_help`'s).
                return Diagnostic::error("J0001", unexpected, span)
                    .with_label("expected a duration: whole numbers, each with its unit")
                    .with_help("the units are `w d h m s`, written after the number and parts spaced: `wait 2d`, `wait 1d 12h`");
            }
            if let Some(((sl, sr), step, what, example)) = step_without_target(tokens, index, &expected) {
                return Diagnostic::error("J0001", format!("`{step}` needs {what}"), Span::new(file, sl, sr))
                    .with_label(format!("followed by {}", token.describe()))
                    .with_help(format!("name it after `{step}`: `{example}`"));
            }
            let label = if single_equals(&token, &expected) {
                "`=` assigns; `==` compares".to_string()
            } else {
                format!("expected {}", describe_expected(&expected))
            };
            let mut diagnostic = Diagnostic::error("J0001", unexpected, span).with_label(label);
            let mut fix = None;
            diagnostic.help = typo_help(tokens, index, &token, &expected, &mut fix);
            diagnostic.fix = fix.map(|(l, r, word)| (Span::new(file, l, r), word));
            diagnostic
        }
        ParseError::User { error } => user_diagnostic(file, &error),
    }
}

/// Where a message declaration's field is written with a colon (`subject: "Hi"`, the JSON
/// habit): each colon's span. Only inside `message … { … }`: an event field of a test record
/// may well be called `title`.
fn message_field_colons(tokens: &[Spanned<'_>]) -> Vec<(usize, usize)> {
    let mut colons = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        // `message` as a declaration, not `event.message`.
        let field = i > 0 && tokens[i - 1].1 == Token::Dot;
        if tokens[i].1 != Token::Message || field {
            i += 1;
            continue;
        }
        // The message's braces: from its `{` (after the name, channel and `transactional`) to
        // the `}` that closes it, or the next declaration if it is never closed.
        let Some(open) = tokens[i..].iter().take(5).position(|t| t.1 == Token::LBrace).map(|n| i + n) else {
            i += 1;
            continue;
        };
        let mut depth = 0usize;
        let mut j = open;
        while let Some((_, t, _)) = tokens.get(j) {
            match t {
                Token::LBrace => depth += 1,
                Token::RBrace => depth = depth.saturating_sub(1),
                Token::Message | Token::Journey => break,
                _ => {}
            }
            if depth == 0 {
                break;
            }
            if let (
                Some((_, Token::Ident("subject" | "template" | "preheader" | "body" | "title"), _)),
                Some(&(l, Token::Colon, r)),
                Some((_, Token::Str(_), _)),
            ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
            {
                colons.push((l, r));
            }
            j += 1;
        }
        i = j;
    }
    colons
}

/// `subject: "Hi"` in a message: its fields take no colon; the fix removes it.
fn field_colon(span: Span) -> Diagnostic {
    let mut d = Diagnostic::error("J0001", "unexpected `:`", span)
        .with_label("a message field takes no `:`")
        .with_help("write the field and its text side by side: `subject \"Welcome!\"`, `template \"welcome-1\"`");
    d.fix = Some((span, String::new()));
    d
}

fn lexical_error(file: FileId, source: &str, l: usize, r: usize) -> Diagnostic {
    let text = source.get(l..r).unwrap_or("");
    let span = Span::new(file, l, r);
    if text.starts_with('"') {
        return Diagnostic::error("J0004", "unterminated string", span)
            .with_label("this string has no closing quote on its line")
            .with_help("close it with `\"`; inside `{…}` every `{` needs its `}` and every quote its pair");
    }
    // Each with its fix (a quick fix in the editor, a SARIF fix).
    if let Some(with_offset) = instant_without_offset(text) {
        let mut d = Diagnostic::error("J0003", format!("malformed literal `{text}`"), span)
            .with_label("an instant needs its offset")
            .with_help(format!("write `{with_offset}Z` for UTC, or give the offset (`{with_offset}+02:00`)"));
        d.fix = Some((span, format!("{with_offset}Z")));
        return d;
    }
    if let Some(spaced) = spaced_duration(text) {
        let mut d = Diagnostic::error("J0003", format!("malformed literal `{text}`"), span)
            .with_label("a duration's parts are separated by spaces")
            .with_help(format!("write `{spaced}`"));
        d.fix = Some((span, spaced));
        return d;
    }
    if let Some(whole) = whole_units(text) {
        let mut d = Diagnostic::error("J0003", format!("malformed literal `{text}`"), span)
            .with_label("a duration's parts are whole numbers")
            .with_help(format!("write `{whole}`"));
        d.fix = Some((span, whole));
        return d;
    }
    if let Some(decimal) = without_exponent(text) {
        let mut d = Diagnostic::error("J0003", format!("malformed literal `{text}`"), span)
            .with_label("numbers are written without an exponent")
            .with_help(format!("write `{decimal}`"));
        d.fix = Some((span, decimal));
        return d;
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        return Diagnostic::error("J0003", format!("malformed literal `{text}`"), span)
            .with_label("not a number, duration, date, instant or time of day")
            .with_help(
                "durations are written `30s`, `15m`, `2d` or `1d 12h`; instants `2026-12-01T09:00:00Z`; dates `2026-12-01`; times of day `09:00`",
            );
    }
    if let Some(word) = match text {
        "&&" | "&" => Some("and"),
        "||" => Some("or"),
        "!" => Some("not"),
        _ => None,
    } {
        // Spaced, so that `a&&b` becomes `a and b`.
        let before = source.get(..l).unwrap_or("").ends_with(|c: char| c.is_alphanumeric() || matches!(c, '_' | ')' | ']' | '"'));
        let after = source.get(r..).unwrap_or("").starts_with(|c: char| !c.is_whitespace() && c != ')');
        let mut d = Diagnostic::error("J0003", format!("`{text}` is not an operator in journey"), span)
            .with_label(format!("write `{word}`"))
            .with_help("the boolean operators are the words `and`, `or` and `not` (`not contact.consent_sms or contact.score > 5`)");
        d.fix = Some((span, format!("{}{word}{}", if before { " " } else { "" }, if after { " " } else { "" })));
        return d;
    }
    let shown: String = text.chars().take(1).collect();
    Diagnostic::error("J0003", format!("unexpected character `{shown}`"), span)
        .with_label("not part of the language")
        .with_help("comments start with `//`; strings are written in double quotes")
}

/// `2026-01-01T10:00` or `2026-01-01T10:00:00` (an instant without its offset), seconds
/// included: what an offset is added to.
fn instant_without_offset(text: &str) -> Option<String> {
    let (date, time) = text.split_once('T')?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let date_ok = date.split('-').map(str::len).eq([4, 2, 2]) && date.split('-').all(|p| digits(p, p.len()));
    let parts: Vec<&str> = time.split(':').collect();
    let time_ok = (parts.len() == 2 || parts.len() == 3) && parts.iter().all(|p| digits(p, 2));
    (date_ok && time_ok).then(|| if parts.len() == 2 { format!("{text}:00") } else { text.to_string() })
}

/// `1.5d` as `1d 12h`, `0.5h` as `30m`: a duration with a fraction, as the same length in
/// whole parts (when it is a whole number of seconds).
fn whole_units(text: &str) -> Option<String> {
    let unit = text.chars().last()?;
    let seconds_per = match unit {
        'w' => 604_800,
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        _ => return None,
    };
    let (whole, fraction) = text[..text.len() - 1].split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    let scale = 10u64.pow(fraction.len() as u32);
    let total = whole.parse::<u64>().ok()? * scale + fraction.parse::<u64>().ok()?;
    let seconds = total.checked_mul(seconds_per)?;
    if seconds % scale != 0 {
        return None;
    }
    let mut left = seconds / scale;
    let mut parts = Vec::new();
    for (size, name) in [(604_800, 'w'), (86_400, 'd'), (3_600, 'h'), (60, 'm'), (1, 's')] {
        if left >= size {
            parts.push(format!("{}{name}", left / size));
            left %= size;
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// `1e3` as `1000.0`, `2.5E-2` as `0.025`: a float written with an exponent, which the language
/// does not have (LANGUAGE.md §1: `3.5`), as the same number in decimal.
fn without_exponent(text: &str) -> Option<String> {
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(mantissa),
    };
    let exponent_ok = digits(exponent.strip_prefix(['+', '-']).unwrap_or(exponent));
    let value: f64 = text.parse().ok().filter(|v: &f64| v.is_finite() && mantissa_ok && exponent_ok)?;
    let decimal = value.to_string();
    // Past about 1e16 the decimal form is all digits; a float literal needs its point.
    Some(if decimal.contains('.') { decimal } else { format!("{decimal}.0") })
}

/// `1d12h30m` as `1d 12h 30m`: a duration written without the spaces between its parts (two
/// parts at least, each digits and one of the units `w d h m s`).
fn spaced_duration(text: &str) -> Option<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let unit = rest[digits..].chars().next().filter(|c| "wdhms".contains(*c))?;
        if digits == 0 {
            return None;
        }
        parts.push(&rest[..=digits]);
        rest = &rest[digits + unit.len_utf8()..];
    }
    (parts.len() > 1).then(|| parts.join(" "))
}

fn terminal_name(expected: &str) -> Option<String> {
    Some(match expected {
        "Ident" => "a name".into(),
        "Str" => "a string".into(),
        "Int" => "an integer".into(),
        "Float" => "a number".into(),
        "Percent" => "a percentage".into(),
        "Duration" => "a duration".into(),
        "Date" => "a date".into(),
        "Instant" => "an instant".into(),
        "Clock" => "a time of day".into(),
        "ErrorToken" => return None,
        quoted => format!("`{}`", quoted.trim_matches('"').replace("\\\"", "\"")),
    })
}

fn describe_expected(expected: &[String]) -> String {
    // After `.` (and before `:` in field lists) any word is a name, keywords included: the
    // parser then expects every keyword as well, and listing them says nothing.
    // (`import` is expected nowhere else with a name.)
    let any_word = expected.iter().any(|e| e == "Ident") && expected.iter().any(|e| e == "\"import\"");
    let is_keyword = |e: &String| e.starts_with('"') && e.trim_matches('"').chars().all(|c| c.is_ascii_alphabetic() || c == '_');
    let mut names: Vec<String> =
        expected.iter().filter(|e| !(any_word && (is_keyword(e) || *e == "Ident"))).filter_map(|e| terminal_name(e)).collect();
    if any_word {
        names.push("a name".into());
    }
    match names.len() {
        0 => "something else".into(),
        1 => names[0].clone(),
        n if n <= 8 => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
        _ => format!("one of {}, …", names[..8].join(", ")),
    }
}

/// When the token at `index` stands in a list of fields — a `contact { … }` or `event … { … }`
/// declaration, or a test's record — what goes after a field's `:` there ("type" or "value").
fn field_list_at(tokens: &[Spanned<'_>], index: usize) -> Option<&'static str> {
    let mut depth = 0usize;
    let open = tokens.get(..index)?.iter().rposition(|(_, t, _)| match t {
        Token::RBrace => {
            depth += 1;
            false
        }
        Token::LBrace if depth == 0 => true,
        Token::LBrace => {
            depth -= 1;
            false
        }
        _ => false,
    })?;
    // The words from the start of the declaration or item up to its `{`.
    let head = tokens.get(..open)?;
    let start = head.iter().rposition(|(_, t, _)| matches!(t, Token::LBrace | Token::RBrace)).map_or(0, |n| n + 1);
    let head = head.get(start..)?;
    match head.iter().rev().find(|(_, t, _)| matches!(t, Token::Contact | Token::Event | Token::At)) {
        Some((_, Token::At, _)) => Some("value"),
        Some((_, Token::Contact, _)) if head.len() > 1 => Some("value"),
        Some(_) => Some("type"),
        None => None,
    }
}

/// When the token at `index` comes, on the same line, after a step the parser found complete
/// (`send hello to …`: a new step or `}` was expected), that step's text.
fn complete_step_before<'a>(source: &'a str, tokens: &[Spanned<'_>], index: usize, expected: &[String]) -> Option<&'a str> {
    if !expected.iter().any(|e| e == "\"send\"") || !expected.iter().any(|e| e == "\"}\"") || index == 0 {
        return None;
    }
    let &(start, _, _) = tokens.get(index)?;
    let line_start = source.get(..start)?.rfind('\n').map_or(0, |n| n + 1);
    let &(_, _, prev_end) = tokens.get(index - 1)?;
    if prev_end < line_start {
        return None;
    }
    let on_line = tokens.get(..index)?.iter().rev().take_while(|(s, _, _)| *s >= line_start);
    let step_start = on_line.filter(|(s, _, e)| source.get(*s..*e).is_some_and(|w| STEP_KEYWORDS.contains(&w))).last()?.0;
    source.get(step_start..prev_end)
}

/// `send` (or `enroll`, `webhook`, `sync`) followed by something other than the name it takes.
/// Returns the step's span, keyword, what it needs, and an example of it whole.
type StepTarget = ((usize, usize), &'static str, &'static str, &'static str);

fn step_without_target(tokens: &[Spanned<'_>], index: usize, expected: &[String]) -> Option<StepTarget> {
    if !expected.iter().any(|e| e == "Ident") {
        return None;
    }
    let (l, previous, r) = tokens.get(index.checked_sub(1)?)?;
    let (step, what, example) = match previous {
        Token::Send => ("send", "the message to send", "send welcome_1"),
        Token::Enroll => ("enroll", "the journey to enroll the contact in", "enroll welcome"),
        Token::Webhook => ("webhook", "the webhook's name", "webhook crm_create_task"),
        Token::Sync => ("sync", "the audience and `add` or `remove`", "sync retarget_ads add"),
        _ => return None,
    };
    Some(((*l, *r), step, what, example))
}

/// Two-argument functions that read like operators (`event.url contains "x"`).
const INFIX_LOOKING: [&str; 3] = ["contains", "starts_with", "ends_with"];

/// `a contains b` (a function written as an operator): the function and the call meant,
/// `contains(a, b)`, when the token at `index` is `contains` or `b`.
fn infix_function(source: &str, tokens: &[Spanned<'_>], index: usize) -> Option<(&'static str, String)> {
    let function_named = |at: usize| match tokens.get(at) {
        Some((_, Token::Ident(word), _)) => INFIX_LOOKING.iter().find(|f| *f == word),
        _ => None,
    };
    let (function, function_at) = match function_named(index) {
        Some(f) => (f, index),
        None => (function_named(index.checked_sub(1)?)?, index - 1),
    };
    let right = tokens.get(function_at + 1)?;
    // The left operand: back from the function to where the condition starts.
    let boundary = |t: &Token<'_>| {
        matches!(t, Token::Where | Token::And | Token::Or | Token::Not | Token::LParen | Token::If | Token::When | Token::Until | Token::Comma)
    };
    let line_start = source.get(..right.0)?.rfind('\n').map_or(0, |n| n + 1);
    let before = tokens.get(..function_at)?;
    let first = before.iter().rposition(|(s, t, _)| boundary(t) || *s < line_start).map_or(0, |b| b + 1);
    let (left_start, left_end) = (before.get(first)?.0, before.last()?.2);
    let left = source.get(left_start..left_end).filter(|l| !l.trim().is_empty())?;
    let right = source.get(right.0..right.2)?;
    Some((function, format!("{function}({left}, {right})")))
}

/// A `{` right after `wait for <event> [where …]`, where a `within` was expected.
fn wait_without_within(tokens: &[Spanned<'_>], index: usize, token: &Token<'_>, expected: &[String]) -> bool {
    let Some(before) = tokens.get(..index) else { return false };
    let wait = before.iter().rposition(|(_, t, _)| matches!(t, Token::Wait));
    matches!(token, Token::LBrace)
        && expected.iter().any(|e| e == "\"within\"")
        && wait.is_some_and(|w| matches!(before.get(w + 1), Some((_, Token::For, _))))
}

/// A step or journey-clause keyword where a declaration goes (a `}` too many closed the
/// journey above): the word.
fn outside_journey<'a>(source: &'a str, token: &(usize, Token<'_>, usize), expected: &[String]) -> Option<&'a str> {
    const CLAUSES: [&str; 9] = ["entry", "reentry", "goal", "limit", "holdout", "priority", "kind", "version", "migrate"];
    let word = source.get(token.0..token.2)?;
    let top_level = expected.iter().any(|e| e == "\"import\"") && !expected.iter().any(|e| e == "Ident");
    (top_level && (STEP_KEYWORDS.contains(&word) || CLAUSES.contains(&word))).then_some(word)
}

/// A `=` where no assignment goes: a comparison meant as `==`.
fn single_equals(token: &Token<'_>, expected: &[String]) -> bool {
    matches!(token, Token::Assign1) && !expected.iter().any(|e| e == "\"=\"")
}

/// A name where a `split` arm's percentage goes.
fn split_arm_named(token: &Token<'_>, expected: &[String]) -> bool {
    matches!(token, Token::Ident(_)) && expected.iter().any(|e| e == "Percent") && expected.iter().any(|e| e == "\"}\"") && expected.len() == 2
}

/// The duration unit a spelt-out word stands for (`days` → `d`).
fn duration_unit(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_lowercase().as_str() {
        "w" | "wk" | "wks" | "week" | "weeks" => "w",
        "d" | "day" | "days" => "d",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        _ => return None,
    })
}

fn eof_help(expected: &[String]) -> String {
    if expected.iter().any(|e| e == "\"}\"") {
        "a `{` above is never closed: add the missing `}`".into()
    } else {
        "the file ends in the middle of a declaration".into()
    }
}

/// Help for a likely typo: "did you mean" for a misspelt keyword — the unexpected word itself
/// (`withn 3d`), or the word before it when the parser took it for a step label
/// (`sned welcome_1`) — and the usual slips of form. A replacement (its byte range and the
/// text meant) goes to `fix`.
fn typo_help(
    tokens: &[Spanned<'_>],
    index: usize,
    token: &Token<'_>,
    expected: &[String],
    fix: &mut Option<(usize, usize, String)>,
) -> Option<String> {
    let keywords_expected: Vec<&str> = expected
        .iter()
        .map(|e| e.trim_matches('"'))
        .filter(|e| e.starts_with(|c: char| c.is_ascii_alphabetic()) && KEYWORDS.iter().any(|(k, _)| k == e))
        .collect();
    if matches!(token, Token::Instant(_)) && index > 0 && matches!(tokens.get(index - 1), Some((_, Token::At, _))) {
        return Some("records (`at <instant> <contact> …`) come before `run until`; expectations come after it".into());
    }
    // `/* … */`: a block comment, which the language does not have.
    if matches!(token, Token::Slash) && matches!(tokens.get(index + 1), Some((_, Token::Star, _))) {
        return Some("comments are written `// …` to the end of the line; there are no `/* … */` comments".into());
    }
    // `run until 2026-01-02`: a date where an instant goes.
    if let Token::Date(date) = token
        && expected.iter().any(|e| e == "Instant")
    {
        if let Some((l, _, r)) = tokens.get(index) {
            *fix = Some((*l, *r, format!("{date}T00:00:00Z")));
        }
        return Some(format!("an instant has a time of day and an offset: `{date}T00:00:00Z` is the start of that day in UTC"));
    }
    // `wait for email_clicked { … }`: an event wait needs to know how long to wait.
    if wait_without_within(tokens, index, token, expected) {
        return Some("a `wait for` says how long it waits: `wait for <event> within 3d { … } timeout { … }`".into());
    }
    // `split { a 60% { … } }`: split arms are numbered, not named.
    if split_arm_named(token, expected) {
        return Some(
            "a `split`'s arms are not named: write `60% { … }` (they are numbered 1, 2, … in order); named arms are for `experiment`".into(),
        );
    }
    // `where event.source = "web"`: a comparison written with one `=`.
    if single_equals(token, expected) {
        return Some("equality is written `==` (a single `=` only assigns, in `set contact.<attribute> = …`)".into());
    }
    // `entry every monday 9:00`: a time of day is `at HH:MM`.
    if let Token::Int(_) = token
        && expected.iter().any(|e| e == "\"at\"")
        && matches!(tokens.get(index + 1), Some((_, Token::Colon, _)))
    {
        return Some("a time of day is written `at 09:00` (two-digit hours)".into());
    }
    // `wait 2 days`: a number where a duration goes, its unit spelt out or apart.
    if let Token::Int(n) = token
        && expected.iter().any(|e| e == "Duration")
    {
        let unit = match tokens.get(index + 1) {
            Some((_, Token::Ident(word), r)) => duration_unit(word).map(|u| (u, *r)),
            _ => None,
        };
        return Some(match unit {
            Some((u, r)) => {
                if let Some((l, _, _)) = tokens.get(index) {
                    *fix = Some((*l, r, format!("{n}{u}")));
                }
                format!("a duration is one token with its unit attached: write `{n}{u}`")
            }
            None => format!("a duration carries its unit: `{n}d`, `{n}h`, `{n}m` (minutes), `{n}s`, `{n}w`, or parts like `1d 12h`"),
        });
    }
    if let Token::Ident(word) = token
        && let Some(s) = suggest(word, keywords_expected.iter().copied())
    {
        if let Some((l, _, r)) = tokens.get(index) {
            *fix = Some((*l, *r, s.to_string()));
        }
        return Some(format!("did you mean `{s}`?"));
    }
    if expected.len() == 1
        && expected[0] == "\":\""
        && index > 0
        && let Some((l, Token::Ident(word), r)) = tokens.get(index - 1)
    {
        // `contact { score int }`, `contact ana { score 3 }`: a field without its `:`.
        if let Some(what) = field_list_at(tokens, index) {
            *fix = Some((*l, *r, format!("{word}:")));
            return Some(format!("a field is written `{word}: <{what}>`"));
        }
        return Some(match suggest(word, STEP_KEYWORDS.iter().copied()) {
            Some(s) => {
                *fix = Some((*l, *r, s.to_string()));
                format!("`{word}` is not a step: did you mean `{s}`?")
            }
            None => format!("`{word}` is read as a step label (`{word}: …`); steps start with {}", STEP_KEYWORDS.join(", ")),
        });
    }
    None
}
