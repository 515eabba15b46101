//! Helpers the grammar's actions call: span and node construction, literal decoding, and the
//! checks that need a value rather than a token (`sync x add|remove`, `engagement open|click`,
//! `every day|monday|year`). A bad value is reported through lalrpop's recovery list as a
//! [`UserError`] and the action still returns a node, so parsing goes on.

use crate::Symbol;
use crate::ast::*;
use crate::lexer::Token;
use journey_diagnostics::{FileId, Span};
use lalrpop_util::{ErrorRecovery, ParseError};

/// A problem found by an action (a well-formed token with an unacceptable value).
#[derive(Clone, Debug, PartialEq)]
pub struct UserError {
    pub code: &'static str,
    pub message: String,
    pub start: usize,
    pub end: usize,
    pub label: String,
    pub help: Option<String>,
}

pub type Errors<'src> = Vec<ErrorRecovery<usize, Token<'src>, UserError>>;

pub fn report(errors: &mut Errors<'_>, error: UserError) {
    errors.push(ErrorRecovery { error: ParseError::User { error }, dropped_tokens: Vec::new() });
}

pub fn user_error(code: &'static str, message: impl Into<String>, start: usize, end: usize, label: impl Into<String>) -> UserError {
    UserError { code, message: message.into(), start, end, label: label.into(), help: None }
}

/// One element of a journey body before header clauses and steps are separated.
pub enum JourneyItem {
    Clause(Clause),
    Step(Step),
}

/// One `{…}` inside a template string.
pub enum Interp {
    If(Expr),
    ElseIf(Expr),
    Else,
    For(Ident, Expr),
    Value(Expr),
}

pub fn span(file: FileId, l: usize, r: usize) -> Span {
    Span::new(file, l, r)
}

pub fn ident(file: FileId, l: usize, text: &str, r: usize) -> Ident {
    Ident { name: Symbol::intern(text), span: span(file, l, r) }
}

pub fn expr(file: FileId, l: usize, kind: ExprKind, r: usize) -> Expr {
    Expr { kind, span: span(file, l, r) }
}

pub fn binary(file: FileId, l: usize, op: BinOp, a: Expr, b: Expr, r: usize) -> Expr {
    expr(file, l, ExprKind::Binary(op, Box::new(a), Box::new(b)), r)
}

pub fn unary(file: FileId, l: usize, op: UnOp, e: Expr, r: usize) -> Expr {
    expr(file, l, ExprKind::Unary(op, Box::new(e)), r)
}

pub fn int_value(errors: &mut Errors<'_>, l: usize, text: &str, r: usize) -> i64 {
    text.parse().unwrap_or_else(|_| {
        report(errors, user_error("J0005", format!("integer `{text}` is too large"), l, r, "does not fit in 64 bits"));
        0
    })
}

pub fn int_expr(file: FileId, errors: &mut Errors<'_>, l: usize, text: &str, r: usize) -> Expr {
    expr(file, l, ExprKind::Int(int_value(errors, l, text, r)), r)
}

pub fn float_expr(file: FileId, errors: &mut Errors<'_>, l: usize, text: &str, r: usize) -> Expr {
    let value = match text.parse::<f64>() {
        Ok(f) if f.is_finite() => f,
        Ok(_) => {
            report(errors, user_error("J0005", format!("number `{text}` is too large"), l, r, "does not fit in 64 bits"));
            0.0
        }
        Err(_) => {
            report(errors, user_error("J0005", format!("invalid number `{text}`"), l, r, "not a number"));
            0.0
        }
    };
    expr(file, l, ExprKind::Float(value), r)
}

pub fn duration(file: FileId, errors: &mut Errors<'_>, l: usize, text: &str, r: usize) -> DurationLit {
    let seconds = duration_seconds(text).unwrap_or_else(|| {
        report(errors, user_error("J0005", format!("duration `{text}` is too long"), l, r, "overflows"));
        0
    });
    DurationLit { seconds, span: span(file, l, r) }
}

/// Seconds in a duration token (`1d 12h`); `None` on overflow.
pub fn duration_seconds(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    for part in text.split_whitespace() {
        let (digits, unit) = part.split_at(part.len().checked_sub(1)?);
        let n: i64 = digits.parse().ok()?;
        let scale = match unit {
            "w" => 7 * 86_400,
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            _ => 1,
        };
        total = total.checked_add(n.checked_mul(scale)?)?;
    }
    // The engine counts in milliseconds: a duration must fit in 64 bits of them.
    total.checked_mul(1000)?;
    Some(total)
}

pub fn clock(file: FileId, errors: &mut Errors<'_>, l: usize, text: &str, r: usize) -> ClockLit {
    let parsed = text.split_once(':').and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)));
    let minutes = match parsed {
        Some((h, m)) if h < 24 && m < 60 => h * 60 + m,
        _ => {
            report(
                errors,
                UserError {
                    help: Some("times of day run from 00:00 to 23:59".into()),
                    ..user_error("J0005", format!("`{text}` is not a time of day"), l, r, "invalid time of day")
                },
            );
            0
        }
    };
    ClockLit { minutes, span: span(file, l, r) }
}

pub fn instant(file: FileId, errors: &mut Errors<'_>, l: usize, text: &str, r: usize) -> InstantLit {
    let millis = match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.timestamp_millis(),
        Err(err) => {
            report(
                errors,
                UserError {
                    help: Some("instants are RFC 3339, like `2026-12-01T09:00:00Z` or `2026-12-01T09:00:00+02:00`".into()),
                    ..user_error("J0005", format!("`{text}` is not a valid instant: {err}"), l, r, "invalid instant")
                },
            );
            0
        }
    };
    InstantLit { millis, span: span(file, l, r) }
}

pub fn date_expr(file: FileId, errors: &mut Errors<'_>, l: usize, text: &str, r: usize) -> Expr {
    let days = match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            i32::try_from(d.signed_duration_since(epoch).num_days()).unwrap_or(0)
        }
        Err(_) => {
            report(errors, user_error("J0005", format!("`{text}` is not a valid date"), l, r, "no such day"));
            0
        }
    };
    expr(file, l, ExprKind::Date(days), r)
}

pub fn percent(file: FileId, errors: &mut Errors<'_>, l: usize, text: &str, r: usize) -> PercentLit {
    let number = text.trim_end_matches('%');
    // In hundredths of a percent, read from the digits: `33.3` is 3330 (by floating point,
    // 33.3 × 100 is 3329.999…, and the literal was refused).
    let basis_points = percent_hundredths(number).filter(|&v| v <= 10_000);
    let basis_points = basis_points.unwrap_or_else(|| {
        report(
            errors,
            UserError {
                help: Some("percentages run from 0% to 100%, with at most two decimals".into()),
                ..user_error("J0005", format!("`{text}` is not a valid percentage"), l, r, "invalid percentage")
            },
        );
        0
    });
    PercentLit { basis_points, span: span(file, l, r) }
}

/// `50` → 5000, `33.3` → 3330, `0.25` → 25: a percentage of at most two decimals in
/// hundredths of a percent.
fn percent_hundredths(number: &str) -> Option<u32> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 3 || !digits(whole) || fraction.len() > 2 || !digits(fraction) || number.ends_with('.') {
        return None;
    }
    let cents = fraction.bytes().chain(std::iter::repeat(b'0')).take(2).fold(0, |n, b| n * 10 + u32::from(b - b'0'));
    whole.parse::<u32>().ok().map(|w| w * 100 + cents)
}

/// Decodes the escapes of a string literal's body. Returns the text, or the byte offset (within
/// `body`) and length of the first bad escape.
pub fn unescape(body: &str) -> Result<String, (usize, usize)> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((_, '{')) => out.push('{'),
            Some((_, '}')) => out.push('}'),
            Some((_, other)) => return Err((i, 1 + other.len_utf8())),
            None => return Err((i, 1)),
        }
    }
    Ok(out)
}

pub fn bad_escape(errors: &mut Errors<'_>, start: usize, len: usize) {
    report(
        errors,
        UserError {
            help: Some("the escapes are \\\" \\\\ \\n \\t \\{ \\}".into()),
            ..user_error("J0007", "unknown escape sequence", start, start + len, "not a valid escape")
        },
    );
}

/// A string that must be plain text: no interpolation.
pub fn plain_string(file: FileId, errors: &mut Errors<'_>, l: usize, raw: &str, r: usize) -> StrLit {
    let body = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
    let body_start = l + 1;
    if let Some(brace) = find_unescaped_brace(body) {
        report(
            errors,
            UserError {
                help: Some("write `\\{` for a literal brace; only message fields are templates".into()),
                ..user_error(
                    "J0010",
                    "interpolation is not allowed in this string",
                    body_start + brace,
                    body_start + brace + 1,
                    "`{` starts an interpolation",
                )
            },
        );
    }
    let value = match unescape(body) {
        Ok(v) => v,
        Err((at, len)) => {
            bad_escape(errors, body_start + at, len);
            body.to_string()
        }
    };
    StrLit { value, span: span(file, l, r) }
}

fn find_unescaped_brace(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'{' | b'}' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn contextual_error(errors: &mut Errors<'_>, word: Ident, what: &str, allowed: &[&str]) {
    let list = allowed.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ");
    let mut error = user_error(
        "J0009",
        format!("expected {what}, found `{}`", word.as_str()),
        word.span.start as usize,
        word.span.end as usize,
        format!("not {what}"),
    );
    error.help = Some(match journey_diagnostics::suggest(word.as_str(), allowed.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? (one of {list})"),
        None => format!("expected one of {list}"),
    });
    report(errors, error);
}

pub fn sync_op(errors: &mut Errors<'_>, op: Ident) -> SyncOp {
    match op.as_str() {
        "add" => SyncOp::Add,
        "remove" => SyncOp::Remove,
        _ => {
            contextual_error(errors, op, "an audience operation", &["add", "remove"]);
            SyncOp::Add
        }
    }
}

pub fn engagement_kind(errors: &mut Errors<'_>, kind: Ident) -> Option<(EngagementKind, Span)> {
    match kind.as_str() {
        "open" => Some((EngagementKind::Open, kind.span)),
        "click" => Some((EngagementKind::Click, kind.span)),
        _ => {
            contextual_error(errors, kind, "an engagement kind", &["open", "click"]);
            None
        }
    }
}

pub const WEEKDAYS: &[&str] = &["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

pub fn schedule_at(errors: &mut Errors<'_>, day: Ident, at: ClockLit) -> Schedule {
    if day.as_str() == "day" {
        return Schedule::Daily(at);
    }
    if !WEEKDAYS.contains(&day.as_str()) {
        let allowed: Vec<&str> = std::iter::once("day").chain(WEEKDAYS.iter().copied()).collect();
        contextual_error(errors, day, "`day` or a weekday", &allowed);
    }
    Schedule::Weekly { weekday: day, at }
}

pub fn schedule_yearly(errors: &mut Errors<'_>, year: Ident, date: Expr, at: ClockLit) -> Schedule {
    if year.as_str() != "year" {
        contextual_error(errors, year, "`year`", &["year"]);
    }
    Schedule::Yearly { date, at }
}

pub fn match_arm(file: FileId, first: Ident, rest: Vec<Ident>, body: Vec<Step>, l: usize, r: usize) -> MatchArm {
    let wildcard = first.as_str() == "_" && rest.is_empty();
    let patterns = if wildcard { Vec::new() } else { std::iter::once(first).chain(rest).collect() };
    MatchArm { patterns, wildcard, body, span: span(file, l, r) }
}

/// Splits a journey body into header clauses and steps. Clauses belong before the first step:
/// one after it is reported (it would read as if it only applied from there on).
pub fn journey(errors: &mut Errors<'_>, name: Ident, title: Option<StrLit>, items: Vec<JourneyItem>) -> JourneyDecl {
    let mut clauses = Vec::new();
    let mut body: Vec<Step> = Vec::new();
    for item in items {
        match item {
            JourneyItem::Clause(clause) => {
                // A step that did not parse (already reported) may be a mistyped clause: only
                // real steps make a clause come "after the first step".
                if let Some(first_step) = body.iter().find(|s| !matches!(s.kind, StepKind::Error)) {
                    let mut error = user_error(
                        "J0008",
                        "journey header clause after the first step",
                        clause.span.start as usize,
                        clause.span.end as usize,
                        "header clause",
                    );
                    error.help = Some(format!(
                        "move it above the first step (line of `{}`); header clauses apply to the whole journey",
                        step_word(&first_step.kind)
                    ));
                    report(errors, error);
                }
                clauses.push(clause);
            }
            JourneyItem::Step(step) => body.push(step),
        }
    }
    JourneyDecl { name, title, clauses, body }
}

fn step_word(kind: &StepKind) -> &'static str {
    match kind {
        StepKind::Send(_) => "send",
        StepKind::Sync { .. } => "sync",
        StepKind::Webhook(_) => "webhook",
        StepKind::Set { .. } => "set",
        StepKind::Enroll(_) => "enroll",
        StepKind::WaitFor(_)
        | StepKind::WaitUntil(_)
        | StepKind::WaitUntilClock { .. }
        | StepKind::WaitEvent { .. }
        | StepKind::WaitCondition { .. } => "wait",
        StepKind::If { .. } => "if",
        StepKind::Match { .. } => "match",
        StepKind::Split { .. } => "split",
        StepKind::Experiment { .. } => "experiment",
        StepKind::Exit(_) => "exit",
        StepKind::Error => "…",
    }
}

/// `at T ana <event> {…}`, `at T ana sets {…}`, `at T ana exits <journey>`.
pub fn test_record(
    errors: &mut Errors<'_>,
    at: InstantLit,
    contact: Ident,
    verb: Ident,
    fields: Option<Vec<RecordField>>,
    journey: Option<Ident>,
    span: Span,
) -> TestItem {
    let record = match (verb.as_str(), journey) {
        ("exits", Some(journey)) => TestRecord::Exit { journey },
        ("exits", None) => {
            let mut error = user_error(
                "J0009",
                "`exits` needs the journey the contact leaves",
                verb.span.start as usize,
                verb.span.end as usize,
                "which journey?",
            );
            error.help = Some("write `at <instant> <contact> exits <journey>`".into());
            report(errors, error);
            TestRecord::Exit { journey: verb }
        }
        (_, Some(extra)) => {
            let mut error = user_error(
                "J0009",
                format!("unexpected `{}` after `{}`", extra.as_str(), verb.as_str()),
                extra.span.start as usize,
                extra.span.end as usize,
                "unexpected name",
            );
            error.help = Some("records are `<contact> <event> {…}`, `<contact> sets {…}` or `<contact> exits <journey>`".into());
            report(errors, error);
            TestRecord::Track { event: verb, properties: Vec::new() }
        }
        ("sets", None) => TestRecord::Identify(fields.unwrap_or_default()),
        (_, None) => TestRecord::Track { event: verb, properties: fields.unwrap_or_default() },
    };
    TestItem::Record { at, contact, record, span }
}
