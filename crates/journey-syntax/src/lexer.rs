//! The logos lexer and the thin wrapper that feeds `(start, Token, end)` triples to lalrpop.
//!
//! Two kinds of token are scanned by hand inside logos callbacks instead of by regex:
//! - **numbers** — `42`, `3.5`, `50%`, `1d 12h`, `2026-12-01`, `2026-12-01T09:00:00Z`, `09:00` all
//!   start with digits; one scanner decides which it is, so there is no regex backtracking to get
//!   wrong (`2026-1` is an int, a minus and an int; `1d 12h` is one duration token);
//! - **strings** — a string is one token even when its `{…}` interpolations contain nested quotes
//!   (`"Hi {contact.first_name ?? "there"}"`); the template inside is parsed afterwards by
//!   `template` (the template module), re-lexing each interpolation with this same lexer at its real offset.
//!
//! Bad input never becomes an `Err`: it becomes [`Token::Error`], so the grammar's `!` recovery
//! rules can skip it and keep parsing (lalrpop cannot recover from lexer errors).

use logos::Logos;

/// What the number scanner found; the wrapper turns it into the matching [`Token`] variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberKind {
    Int,
    Float,
    Percent,
    Duration,
    Date,
    Instant,
    Clock,
    /// Digits followed by something no literal allows (`3days`, `2026-13`): one error token.
    Malformed,
}

#[derive(Logos, Clone, Copy, Debug, PartialEq)]
// U+FEFF: the byte-order mark some editors (Windows Notepad) put at the start of a UTF-8 file.
#[logos(skip r"[ \t\r\n\f\u{FEFF}]+")]
#[logos(skip r"//[^\n]*")]
pub enum Token<'src> {
    // Declarations.
    #[token("import")]
    Import,
    #[token("contact")]
    Contact,
    #[token("enum")]
    Enum,
    #[token("event")]
    Event,
    #[token("message")]
    Message,
    #[token("audience")]
    Audience,
    #[token("webhook")]
    Webhook,
    #[token("policy")]
    Policy,
    #[token("journey")]
    Journey,
    #[token("test")]
    Test,
    // Events and messages.
    #[token("from")]
    From,
    #[token("engagement")]
    Engagement,
    #[token("transactional")]
    Transactional,
    #[token("email")]
    Email,
    #[token("sms")]
    Sms,
    #[token("push")]
    Push,
    // Policy.
    #[token("timezone")]
    Timezone,
    #[token("quiet_hours")]
    QuietHours,
    #[token("cap")]
    Cap,
    #[token("per")]
    Per,
    #[token("to")]
    To,
    // Journey header.
    #[token("kind")]
    Kind,
    #[token("entry")]
    Entry,
    #[token("on")]
    On,
    #[token("when")]
    When,
    #[token("at")]
    At,
    #[token("every")]
    Every,
    #[token("where")]
    Where,
    #[token("reentry")]
    Reentry,
    #[token("never")]
    Never,
    #[token("always")]
    Always,
    #[token("after")]
    After,
    #[token("exit")]
    Exit,
    #[token("goal")]
    Goal,
    #[token("limit")]
    Limit,
    #[token("holdout")]
    Holdout,
    #[token("priority")]
    Priority,
    #[token("version")]
    Version,
    #[token("migrate")]
    Migrate,
    // Steps.
    #[token("send")]
    Send,
    #[token("sync")]
    Sync,
    #[token("set")]
    Set,
    #[token("enroll")]
    Enroll,
    #[token("wait")]
    Wait,
    #[token("until")]
    Until,
    #[token("for")]
    For,
    #[token("within")]
    Within,
    #[token("timeout")]
    Timeout,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("match")]
    Match,
    #[token("split")]
    Split,
    #[token("experiment")]
    Experiment,
    #[token("measure")]
    Measure,
    // Expressions.
    #[token("has")]
    Has,
    #[token("count")]
    Count,
    #[token("last")]
    Last,
    #[token("in")]
    In,
    #[token("since")]
    Since,
    // `&&`, `||`, `!` (and `&`), the operators of other languages, are read as the words, so the
    // rest of the file parses and checks as meant; each is reported as an error (`errors.rs`).
    #[token("not")]
    #[token("!")]
    Not,
    #[token("and")]
    #[token("&&")]
    #[token("&")]
    And,
    #[token("or")]
    #[token("||")]
    Or,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("none")]
    None,
    // Tests.
    #[token("run")]
    Run,
    #[token("expect")]
    Expect,
    #[token("sent")]
    Sent,
    #[token("exited")]
    Exited,
    #[token("by")]
    By,
    #[token("arm")]
    Arm,
    #[token("assign")]
    Assign,

    // Punctuation and operators.
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token(".")]
    Dot,
    #[token("?")]
    Question,
    #[token("??")]
    Coalesce,
    #[token("=")]
    Assign1,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("->")]
    Arrow,
    #[token("=>")]
    FatArrow,
    #[token("|")]
    Pipe,

    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident(&'src str),

    /// `/// text` — kept out of the grammar by the wrapper and attached to declarations afterwards.
    #[regex(r"///[^\n]*", priority = 5)]
    DocComment(&'src str),

    #[regex(r"[0-9]", scan_number)]
    Number(NumberKind),

    /// The raw text of a string literal, quotes included.
    #[token("\"", scan_string)]
    Str(&'src str),

    // Produced by the wrapper from `Number`, never by logos directly.
    Int(&'src str),
    Float(&'src str),
    Percent(&'src str),
    Duration(&'src str),
    Date(&'src str),
    Instant(&'src str),
    Clock(&'src str),

    /// A character or sequence no token allows. The parser reports it and recovers.
    Error,
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn digits(bytes: &[u8], at: usize) -> usize {
    bytes[at.min(bytes.len())..].iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Scans a literal that starts with a digit. `lex.slice()` holds the first digit; `remainder()`
/// is what follows. Decides the literal kind and bumps over the rest of it.
fn scan_number<'src>(lex: &mut logos::Lexer<'src, Token<'src>>) -> NumberKind {
    let rest = lex.remainder().as_bytes();
    let (len, kind) = classify_number(rest);
    lex.bump(len);
    kind
}

/// `rest` starts just after the first digit. Returns (bytes to consume, kind).
fn classify_number(rest: &[u8]) -> (usize, NumberKind) {
    let int_len = digits(rest, 0);
    let mut pos = int_len;
    let total_digits = int_len + 1;
    let peek = |i: usize| rest.get(i).copied();

    // Date or instant: exactly four digits, then `-MM-DD`.
    if total_digits == 4 && peek(pos) == Some(b'-') && digits(rest, pos + 1) == 2 && peek(pos + 3) == Some(b'-') && digits(rest, pos + 4) == 2 {
        pos += 6;
        if peek(pos) == Some(b'T') && digits(rest, pos + 1) == 2 && peek(pos + 3) == Some(b':') && digits(rest, pos + 4) == 2 {
            pos += 6;
            if peek(pos) == Some(b':') && digits(rest, pos + 1) == 2 {
                pos += 3;
                if peek(pos) == Some(b'.') && digits(rest, pos + 1) > 0 {
                    pos += 1 + digits(rest, pos + 1);
                }
            }
            match peek(pos) {
                Some(b'Z') | Some(b'z') => pos += 1,
                Some(b'+') | Some(b'-') if digits(rest, pos + 1) == 2 && peek(pos + 3) == Some(b':') && digits(rest, pos + 4) == 2 => pos += 6,
                _ => return malformed(rest, pos),
            }
            return finish(rest, pos, NumberKind::Instant);
        }
        return finish(rest, pos, NumberKind::Date);
    }
    // Time of day: `HH:MM`.
    if total_digits == 2 && peek(pos) == Some(b':') && digits(rest, pos + 1) == 2 {
        return finish(rest, pos + 3, NumberKind::Clock);
    }
    // Float: digits `.` digits (a lone `.` after an int is the field operator, never a float).
    if peek(pos) == Some(b'.') && digits(rest, pos + 1) > 0 {
        pos += 1 + digits(rest, pos + 1);
        if peek(pos) == Some(b'%') {
            return finish(rest, pos + 1, NumberKind::Percent);
        }
        return finish(rest, pos, NumberKind::Float);
    }
    if peek(pos) == Some(b'%') {
        return finish(rest, pos + 1, NumberKind::Percent);
    }
    // Duration: one or more `<int><unit>` parts separated by spaces or tabs.
    if matches!(peek(pos), Some(b'w' | b'd' | b'h' | b'm' | b's')) && !peek(pos + 1).is_some_and(is_ident_char) {
        pos += 1;
        loop {
            let spaces = rest[pos..].iter().take_while(|b| **b == b' ' || **b == b'\t').count();
            let part_digits = digits(rest, pos + spaces);
            if spaces == 0 || part_digits == 0 {
                break;
            }
            let unit_at = pos + spaces + part_digits;
            if matches!(peek(unit_at), Some(b'w' | b'd' | b'h' | b'm' | b's')) && !peek(unit_at + 1).is_some_and(is_ident_char) {
                pos = unit_at + 1;
            } else {
                break;
            }
        }
        return (pos, NumberKind::Duration);
    }
    finish(rest, pos, NumberKind::Int)
}

/// A literal must not run straight into a letter or digit (`3days`, `09:00am`).
fn finish(rest: &[u8], pos: usize, kind: NumberKind) -> (usize, NumberKind) {
    if rest.get(pos).copied().is_some_and(is_ident_char) {
        return malformed(rest, pos);
    }
    (pos, kind)
}

fn malformed(rest: &[u8], pos: usize) -> (usize, NumberKind) {
    let extra = rest[pos.min(rest.len())..].iter().take_while(|b| is_ident_char(**b) || matches!(b, b':' | b'.' | b'-' | b'+')).count();
    (pos + extra, NumberKind::Malformed)
}

/// Scans a string literal after its opening quote, honouring escapes and `{…}` interpolations
/// (which may hold nested strings). Strings end at the line end: an unterminated string is an
/// error token up to there, so one missing quote does not swallow the rest of the file.
fn scan_string<'src>(lex: &mut logos::Lexer<'src, Token<'src>>) -> Option<&'src str> {
    let rest = lex.remainder().as_bytes();
    match string_length(rest) {
        Ok(len) => {
            lex.bump(len);
            Some(lex.slice())
        }
        Err(len) => {
            lex.bump(len);
            None
        }
    }
}

/// Length of the string body plus closing quote, or `Err(length to skip)` when unterminated.
pub(crate) fn string_length(rest: &[u8]) -> Result<usize, usize> {
    let mut pos = 0;
    // Stack of open interpolation depths: each entry counts `{` nesting inside one string level.
    let mut depth = 0usize;
    let mut in_nested_string = Vec::<usize>::new();
    while let Some(&b) = rest.get(pos) {
        match b {
            b'\n' => return Err(pos),
            b'\\' => pos += 2,
            b'"' => {
                if depth == 0 {
                    if in_nested_string.is_empty() {
                        return Ok(pos + 1);
                    }
                    // End of a nested string: back into the enclosing interpolation.
                    depth = in_nested_string.pop().unwrap_or(0);
                } else {
                    // A nested string starts inside an interpolation.
                    in_nested_string.push(depth);
                    depth = 0;
                }
                pos += 1;
            }
            b'{' => {
                depth += 1;
                pos += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                pos += 1;
            }
            _ => pos += 1,
        }
    }
    Err(rest.len())
}

/// A token with its byte range, as lalrpop wants it.
pub type Spanned<'src> = (usize, Token<'src>, usize);

/// Lexes a whole source (or an interpolation, at `base` offset) into tokens. Doc comments are
/// returned separately: the grammar never sees them.
pub fn tokenize(source: &str, base: usize) -> (Vec<Spanned<'_>>, Vec<(usize, &str)>) {
    let mut tokens = Vec::new();
    let mut docs = Vec::new();
    let mut lexer = Token::lexer(source);
    while let Some(result) = lexer.next() {
        let range = lexer.span();
        let (start, end) = (range.start + base, range.end + base);
        let slice = lexer.slice();
        let token = match result {
            Ok(Token::DocComment(text)) => {
                docs.push((start, text));
                continue;
            }
            Ok(Token::Number(kind)) => match kind {
                NumberKind::Int => Token::Int(slice),
                NumberKind::Float => Token::Float(slice),
                NumberKind::Percent => Token::Percent(slice),
                NumberKind::Duration => Token::Duration(slice),
                NumberKind::Date => Token::Date(slice),
                NumberKind::Instant => Token::Instant(slice),
                NumberKind::Clock => Token::Clock(slice),
                NumberKind::Malformed => Token::Error,
            },
            Ok(token) => token,
            Err(()) => Token::Error,
        };
        tokens.push((start, token, end));
    }
    (tokens, docs)
}

impl Token<'_> {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Token::Ident(name) => format!("identifier `{name}`"),
            Token::Str(_) => "string".into(),
            Token::Int(t) | Token::Float(t) | Token::Percent(t) | Token::Duration(t) | Token::Date(t) | Token::Instant(t) | Token::Clock(t) => {
                format!("`{t}`")
            }
            Token::Error => "invalid token".into(),
            other => format!("`{}`", other.keyword().unwrap_or("?")),
        }
    }

    /// The fixed spelling of keyword and punctuation tokens.
    pub fn keyword(&self) -> Option<&'static str> {
        KEYWORDS.iter().find(|(_, t)| t == self).map(|(s, _)| *s)
    }
}

/// Every fixed token with its spelling, for messages and "did you mean" suggestions.
pub const KEYWORDS: &[(&str, Token<'static>)] = &[
    ("import", Token::Import),
    ("contact", Token::Contact),
    ("enum", Token::Enum),
    ("event", Token::Event),
    ("message", Token::Message),
    ("audience", Token::Audience),
    ("webhook", Token::Webhook),
    ("policy", Token::Policy),
    ("journey", Token::Journey),
    ("test", Token::Test),
    ("from", Token::From),
    ("engagement", Token::Engagement),
    ("transactional", Token::Transactional),
    ("email", Token::Email),
    ("sms", Token::Sms),
    ("push", Token::Push),
    ("timezone", Token::Timezone),
    ("quiet_hours", Token::QuietHours),
    ("cap", Token::Cap),
    ("per", Token::Per),
    ("to", Token::To),
    ("kind", Token::Kind),
    ("entry", Token::Entry),
    ("on", Token::On),
    ("when", Token::When),
    ("at", Token::At),
    ("every", Token::Every),
    ("where", Token::Where),
    ("reentry", Token::Reentry),
    ("never", Token::Never),
    ("always", Token::Always),
    ("after", Token::After),
    ("exit", Token::Exit),
    ("goal", Token::Goal),
    ("limit", Token::Limit),
    ("holdout", Token::Holdout),
    ("priority", Token::Priority),
    ("version", Token::Version),
    ("migrate", Token::Migrate),
    ("send", Token::Send),
    ("sync", Token::Sync),
    ("set", Token::Set),
    ("enroll", Token::Enroll),
    ("wait", Token::Wait),
    ("until", Token::Until),
    ("for", Token::For),
    ("within", Token::Within),
    ("timeout", Token::Timeout),
    ("if", Token::If),
    ("else", Token::Else),
    ("match", Token::Match),
    ("split", Token::Split),
    ("experiment", Token::Experiment),
    ("measure", Token::Measure),
    ("has", Token::Has),
    ("count", Token::Count),
    ("last", Token::Last),
    ("in", Token::In),
    ("since", Token::Since),
    ("not", Token::Not),
    ("and", Token::And),
    ("or", Token::Or),
    ("true", Token::True),
    ("false", Token::False),
    ("none", Token::None),
    ("run", Token::Run),
    ("expect", Token::Expect),
    ("sent", Token::Sent),
    ("exited", Token::Exited),
    ("by", Token::By),
    ("arm", Token::Arm),
    ("assign", Token::Assign),
    ("{", Token::LBrace),
    ("}", Token::RBrace),
    ("(", Token::LParen),
    (")", Token::RParen),
    ("[", Token::LBracket),
    ("]", Token::RBracket),
    (",", Token::Comma),
    (":", Token::Colon),
    (".", Token::Dot),
    ("?", Token::Question),
    ("??", Token::Coalesce),
    ("=", Token::Assign1),
    ("==", Token::EqEq),
    ("!=", Token::NotEq),
    ("<", Token::Lt),
    ("<=", Token::Le),
    (">", Token::Gt),
    (">=", Token::Ge),
    ("+", Token::Plus),
    ("-", Token::Minus),
    ("*", Token::Star),
    ("/", Token::Slash),
    ("->", Token::Arrow),
    ("=>", Token::FatArrow),
    ("|", Token::Pipe),
];

/// Words that start a step, for "did you mean" on misspelt steps.
pub const STEP_KEYWORDS: &[&str] = &["send", "sync", "webhook", "set", "enroll", "wait", "if", "match", "split", "experiment", "exit"];

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Token<'_>> {
        tokenize(src, 0).0.into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn numbers_are_classified_by_shape() {
        assert_eq!(
            kinds("42 3.5 50% 1d 12h, 30s 2026-12-01 2026-12-01T09:00:00Z 09:00 2026-1"),
            vec![
                Token::Int("42"),
                Token::Float("3.5"),
                Token::Percent("50%"),
                Token::Duration("1d 12h"),
                Token::Comma,
                Token::Duration("30s"),
                Token::Date("2026-12-01"),
                Token::Instant("2026-12-01T09:00:00Z"),
                Token::Clock("09:00"),
                Token::Int("2026"),
                Token::Minus,
                Token::Int("1"),
            ]
        );
    }

    #[test]
    fn duration_parts_stop_at_non_units() {
        assert_eq!(kinds("2d 5"), vec![Token::Duration("2d"), Token::Int("5")]);
        assert_eq!(kinds("1w 2d\n3h"), vec![Token::Duration("1w 2d"), Token::Duration("3h")]);
        assert_eq!(kinds("3days"), vec![Token::Error]);
        assert_eq!(kinds("a && !b || c != d"), {
            use Token::*;
            vec![Ident("a"), And, Not, Ident("b"), Or, Ident("c"), NotEq, Ident("d")]
        });
        assert_eq!(kinds("2026-12-01T09:00:00+02:00"), vec![Token::Instant("2026-12-01T09:00:00+02:00")]);
    }

    #[test]
    fn strings_keep_nested_quotes_inside_interpolations() {
        let src = r#""Hi {contact.first_name ?? "there"}!" x"#;
        assert_eq!(kinds(src), vec![Token::Str(r#""Hi {contact.first_name ?? "there"}!""#), Token::Ident("x")]);
        assert_eq!(kinds("\"open\nx"), vec![Token::Error, Token::Ident("x")]);
    }

    #[test]
    fn doc_comments_are_set_aside() {
        let (tokens, docs) = tokenize("/// hello\ncontact // plain\n", 0);
        assert_eq!(tokens.len(), 1);
        assert_eq!(docs, vec![(0, "/// hello")]);
    }
}
