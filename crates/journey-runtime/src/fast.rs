//! The fast path of input decoding: the common record shape, read by a small hand-written JSON
//! scanner straight into the decoded record (no `serde_json::Value` tree, no map per record,
//! strings borrowed from the input line) and a hand-written RFC 3339 reader for the usual
//! timestamp forms.
//!
//! It either produces exactly what [`crate::input::Decoder::decode`] would, or gives up
//! (`None`) — on anything unusual: batch envelopes, numeric ids, duplicate keys, string escapes,
//! numbers that are not plain (exponents, more than 15 digits, `-0`), a value that does not fit
//! its declared type, an odd timestamp, and of course anything that is not JSON. The caller then
//! takes the general path (`serde_json`), which also writes the precise reject reason. So the
//! fast path never decides what is an error, and a test checks that both paths agree on every
//! record of a generated cohort, on mutated ones and on randomly damaged ones.

use crate::input::{Decoded, Decoder};
use journey_bytecode::{FieldDecl, Program, ValueType};
use journey_vm::value::special_bytes;
use journey_vm::{ContactInput, Heap, Record, RecordKind, Span, Value};
use std::borrow::Cow;

/// One JSON value of a trait or property, as far as decoding needs to know it.
enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    StrList(Vec<&'a str>),
    /// An object, or an array with something other than strings.
    Other,
}

/// The entries of the `traits` and `properties` objects of the lines being decoded, reused from
/// line to line (a vector allocated per line cost the fast path more than a tenth of its
/// instructions).
#[derive(Default)]
pub struct Scratch<'a>(Vec<(&'a str, Scalar<'a>)>);

/// Nesting the scanner follows inside a value before it gives up (serde_json allows 128).
const MAX_DEPTH: u32 = 32;

/// A cursor over one line. Every method returns `None` to give up: the line is then left to
/// the general path, whatever the reason.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace, then returns the next byte without taking it.
    fn next(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
        self.peek()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then(|| self.at += 1)
    }

    /// A string without escapes (the general path handles those), borrowed from the line.
    fn string(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        // Compact JSON has the quote right here; anything else goes the general way.
        if bytes.get(self.at) == Some(&b'"') {
            self.at += 1;
        } else {
            self.expect(b'"')?;
        }
        let start = self.at;
        // Eight bytes at a time to the first that may end the string or need a closer look:
        // `"`, `\\` or a control character.
        while let Some(word) = bytes.get(self.at..self.at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            let special = special_bytes(u64::from_le_bytes(word));
            if special != 0 {
                self.at += (special.trailing_zeros() / 8) as usize;
                break;
            }
            self.at += 8;
        }
        loop {
            match *bytes.get(self.at)? {
                b'"' => break,
                b'\\' => return None,
                c if c < 0x20 => return None,
                _ => self.at += 1,
            }
        }
        let s = self.text.get(start..self.at)?;
        self.at += 1;
        Some(s)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.get(self.at..)?;
        rest.starts_with(word).then(|| self.at += word.len())
    }

    fn run_of_digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// A number in JSON's grammar, as serde_json would read it — within what is certain: an
    /// integer of at most 18 digits, or a decimal without exponent of at most 15 digits (both
    /// then round the same way, exactly). Anything else gives up.
    fn number(&mut self) -> Option<Scalar<'a>> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let int_start = self.at;
        let int_digits = self.run_of_digits();
        if int_digits == 0 || (int_digits > 1 && self.text.as_bytes().get(int_start) == Some(&b'0')) {
            return None;
        }
        let mut frac_digits = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            frac_digits = self.run_of_digits();
            if frac_digits == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return None;
        }
        let token = self.text.get(start..self.at)?;
        if frac_digits == 0 {
            // serde_json reads `-0` as a float.
            if int_digits > 18 || (negative && token == "-0") {
                return None;
            }
            return token.parse().ok().map(Scalar::Int);
        }
        if int_digits + frac_digits > 15 {
            return None;
        }
        token.parse().ok().map(Scalar::Float)
    }

    /// Checks and skips any JSON value.
    fn skip(&mut self, depth: u32) -> Option<()> {
        self.scalar(depth).map(|_| ())
    }

    /// A value of a trait or property (any JSON value, checked).
    fn scalar(&mut self, depth: u32) -> Option<Scalar<'a>> {
        Some(match self.next()? {
            b'"' => Scalar::Str(self.string()?),
            b'n' => self.literal("null").map(|()| Scalar::Null)?,
            b't' => self.literal("true").map(|()| Scalar::Bool(true))?,
            b'f' => self.literal("false").map(|()| Scalar::Bool(false))?,
            b'-' | b'0'..=b'9' => self.number()?,
            b'[' if depth < MAX_DEPTH => {
                self.at += 1;
                let mut items = Vec::new();
                let mut strings = true;
                if self.next()? == b']' {
                    self.at += 1;
                } else {
                    loop {
                        if strings && self.next()? == b'"' {
                            items.push(self.string()?);
                        } else {
                            strings = false;
                            self.skip(depth + 1)?;
                        }
                        match self.next()? {
                            b',' => self.at += 1,
                            b']' => break self.at += 1,
                            _ => return None,
                        }
                    }
                }
                if strings { Scalar::StrList(items) } else { Scalar::Other }
            }
            b'{' if depth < MAX_DEPTH => {
                self.at += 1;
                if self.next()? == b'}' {
                    self.at += 1;
                } else {
                    // A key given twice is for the general path to reject (`input::parse_json`),
                    // at any depth; past 16 keys, it checks the object itself.
                    let mut keys: [&str; 16] = [""; 16];
                    let mut count = 0;
                    loop {
                        let key = self.string()?;
                        if keys[..count].contains(&key) || count == keys.len() {
                            return None;
                        }
                        keys[count] = key;
                        count += 1;
                        self.expect(b':')?;
                        self.skip(depth + 1)?;
                        match self.next()? {
                            b',' => self.at += 1,
                            b'}' => break self.at += 1,
                            _ => return None,
                        }
                    }
                }
                Scalar::Other
            }
            _ => return None,
        })
    }

    /// An object's entries in order (`traits`, `properties`), appended to `entries`; the range
    /// they took there.
    fn entries(&mut self, entries: &mut Vec<(&'a str, Scalar<'a>)>) -> Option<(usize, usize)> {
        self.expect(b'{')?;
        let start = entries.len();
        if self.next()? == b'}' {
            self.at += 1;
            return Some((start, start));
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            entries.push((key, self.scalar(1)?));
            match self.next()? {
                b',' => self.at += 1,
                b'}' => break self.at += 1,
                _ => return None,
            }
        }
        Some((start, entries.len()))
    }
}

/// The fields of a line the decoder reads.
#[derive(Default)]
struct Line<'a> {
    kind: Option<&'a str>,
    user_id: Option<&'a str>,
    timestamp: Option<&'a str>,
    message_id: Option<&'a str>,
    event: Option<&'a str>,
    journey: Option<&'a str>,
    /// Ranges of the line's entries (see [`line()`]).
    properties: Option<(usize, usize)>,
    traits: Option<(usize, usize)>,
}

/// A whole line: one object, its known keys each at most once with the expected kind of value
/// (a string, or an object for `traits`/`properties`, whose entries go to `entries`), other keys
/// skipped, nothing after it.
fn line<'a>(text: &'a str, entries: &mut Vec<(&'a str, Scalar<'a>)>) -> Option<Line<'a>> {
    let mut scan = Scan { text, at: 0 };
    let mut line = Line::default();
    scan.expect(b'{')?;
    if scan.next()? == b'}' {
        scan.at += 1;
    } else {
        loop {
            let key = scan.string()?;
            scan.expect(b':')?;
            let text = match key {
                "type" => Some(&mut line.kind),
                "userId" => Some(&mut line.user_id),
                "timestamp" => Some(&mut line.timestamp),
                "messageId" => Some(&mut line.message_id),
                "event" => Some(&mut line.event),
                "journey" => Some(&mut line.journey),
                "properties" | "traits" => {
                    let slot = if key == "traits" { &mut line.traits } else { &mut line.properties };
                    if slot.is_some() {
                        return None;
                    }
                    *slot = Some(scan.entries(entries)?);
                    None
                }
                // A batch envelope is the general path's.
                "batch" => return None,
                _ => {
                    scan.skip(1)?;
                    None
                }
            };
            if let Some(slot) = text {
                if slot.is_some() {
                    return None;
                }
                *slot = Some(scan.string()?);
            }
            match scan.next()? {
                b',' => scan.at += 1,
                b'}' => break scan.at += 1,
                _ => return None,
            }
        }
    }
    (scan.next().is_none()).then_some(line)
}

/// The fast path, over the general decoder's name lookups.
pub struct FastDecoder<'d, 'p> {
    program: &'p Program,
    names: &'d Decoder<'p>,
}

/// What the fast path made of a line: the contact and the decoded record.
pub struct FastRecord<'a> {
    pub contact: Cow<'a, str>,
    pub decoded: Decoded,
}

impl<'d, 'p> FastDecoder<'d, 'p> {
    pub fn new(names: &'d Decoder<'p>) -> Self {
        FastDecoder { program: names.program(), names }
    }

    /// Decodes one line, or `None` when the general path must decide. Strings and values go to
    /// `into` (on `None`, what was added there is garbage the caller may drop); `scratch` is
    /// working space, reused from line to line.
    pub fn decode<'a>(&self, text: &'a str, seq: u64, into: &mut ContactInput, scratch: &mut Scratch<'a>) -> Option<FastRecord<'a>> {
        let entries = &mut scratch.0;
        entries.clear();
        let parsed = line(text, entries)?;
        let entries = &*entries;
        let of = |range: Option<(usize, usize)>| range.and_then(|(start, end)| entries.get(start..end));
        let contact = parsed.user_id?;
        if contact.is_empty() {
            return None;
        }
        let at = parse_instant(parsed.timestamp?)?;
        let message_id = parsed.message_id.map(str::to_string);
        let contact = Cow::Borrowed(contact);
        let kind = match parsed.kind? {
            "identify" => {
                let start = into.trait_values.len();
                if let Some(traits) = of(parsed.traits) {
                    for (key, value) in traits {
                        let Some(&attr) = self.names.attributes.get(*key) else { continue };
                        // A trait given twice: the general path decides which value holds.
                        if into.trait_values[start..].iter().any(|(a, _)| *a == attr) {
                            return None;
                        }
                        let decl = self.program.attributes.get(attr as usize)?;
                        let value = self.value(decl, value, &mut into.heap)?;
                        into.trait_values.push((attr, value));
                    }
                }
                RecordKind::Identify(Span::between(start, into.trait_values.len()))
            }
            "track" => {
                let name = parsed.event?;
                let Some(&event) = self.names.events.get(name) else {
                    return Some(FastRecord { contact, decoded: Decoded::Undeclared { at, name: name.into() } });
                };
                let decl = self.program.events.get(event as usize)?;
                let properties = of(parsed.properties);
                // A declared property given twice: the general path decides which value holds.
                if let Some(p) = &properties
                    && decl.fields.iter().any(|f| p.iter().filter(|(k, _)| *k == f.name.as_str()).count() > 1)
                {
                    return None;
                }
                let start = into.field_values.len();
                for field in &decl.fields {
                    let found = properties.and_then(|p| p.iter().find(|(k, _)| *k == field.name.as_str()));
                    let value = match found.map(|(_, v)| v) {
                        None | Some(Scalar::Null) if field.optional => Value::None,
                        None | Some(Scalar::Null) => return None,
                        Some(v) => self.value(field, v, &mut into.heap)?,
                    };
                    into.field_values.push(value);
                }
                RecordKind::Track { event, fields: Span::between(start, into.field_values.len()) }
            }
            "exit" => RecordKind::Exit { journey: *self.names.journeys.get(parsed.journey?)? },
            _ => return None,
        };
        Some(FastRecord { contact, decoded: Decoded::Record { record: Record { at, seq, kind }, message_id } })
    }

    /// A value of a declared type, exactly as the general path decodes it; `None` when it does
    /// not fit (the general path then says why).
    fn value(&self, decl: &FieldDecl, v: &Scalar<'_>, heap: &mut Heap) -> Option<Value> {
        Some(match (&decl.ty, v) {
            (_, Scalar::Null) if decl.optional => Value::None,
            (ValueType::Bool, Scalar::Bool(b)) => Value::Bool(*b),
            (ValueType::Int, Scalar::Int(i)) => Value::Int(*i),
            (ValueType::Float, Scalar::Int(i)) => Value::Float(*i as f64),
            (ValueType::Float, Scalar::Float(f)) => Value::Float(*f),
            (ValueType::String, Scalar::Str(s)) => heap.add_string(s),
            (ValueType::Time, Scalar::Str(s)) => Value::Time(parse_instant(s)?),
            (ValueType::Date, Scalar::Str(s)) => Value::Date(journey_vm::eval::days_of_date(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?)),
            (ValueType::Duration, Scalar::Int(i)) => Value::Duration(crate::input::duration_ms(*i as f64)?),
            (ValueType::Duration, Scalar::Float(f)) => Value::Duration(crate::input::duration_ms(*f)?),
            (ValueType::Enum(e), Scalar::Str(s)) => {
                let decl = self.program.enums.get(*e as usize)?;
                Value::Enum(*e, decl.variants.iter().position(|v| v == s)? as u32)
            }
            (ValueType::ListOfString, Scalar::StrList(items)) => {
                let ids: Vec<u32> = items.iter().map(|s| heap.add_string_id(s)).collect();
                heap.add_list(&ids)
            }
            _ => return None,
        })
    }
}

fn digits(b: &[u8], from: usize, n: usize) -> Option<i64> {
    let mut v = 0i64;
    for &c in b.get(from..from + n)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to UTC milliseconds (sub-millisecond digits
/// truncated), or `None` for anything else — the general parser (chrono) then decides.
pub fn parse_instant(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    // The fixed part, `YYYY-MM-DDTHH:MM:SS`, read in place: one length check, then each byte
    // checked and converted without a loop.
    let p: &[u8; 19] = b.get(..19)?.try_into().ok()?;
    if b.len() < 20 || p[4] != b'-' || p[7] != b'-' || p[10] != b'T' || p[13] != b':' || p[16] != b':' {
        return None;
    }
    let digit = |c: u8| {
        let v = c.wrapping_sub(b'0');
        (v < 10).then_some(i64::from(v))
    };
    let two = |i: usize| Some(digit(p[i])? * 10 + digit(p[i + 1])?);
    let y = two(0)? * 100 + two(2)?;
    let (mo, d, h, mi, sec) = (two(5)?, two(8)?, two(11)?, two(14)?, two(17)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 9 {
            return None;
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let offset = match b.get(i..)? {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (digits(b, i + 1, 2)?, digits(b, i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = (oh * 60 + om) * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let seconds = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some(seconds * 1000 + millis)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn the_word_scan_finds_the_first_special_byte() {
        let special = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut words: Vec<[u8; 8]> = Vec::new();
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut w = *b"abcdefgh";
                w[at] = b;
                words.push(w);
            }
        }
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            words.push(seed.to_le_bytes());
        }
        for w in words {
            let first = w.iter().position(|&b| special(b));
            let found = special_bytes(u64::from_le_bytes(w));
            let got = (found != 0).then(|| (found.trailing_zeros() / 8) as usize);
            assert_eq!(got, first, "{w:?}");
        }
    }

    #[test]
    fn instants_agree_with_chrono() {
        let mut checked = 0;
        let offsets = ["Z", "+00:00", "+05:30", "-08:00", "+14:00", "-23:59"];
        let fractions = ["", ".5", ".12", ".123", ".1239", ".000000001", ".999999999"];
        for y in [1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999] {
            for (mo, d) in [(1, 1), (2, 28), (2, 29), (3, 1), (12, 31), (6, 30)] {
                for time in ["00:00:00", "23:59:59", "12:34:56", "09:05:07"] {
                    for f in fractions {
                        for o in offsets {
                            let text = format!("{y:04}-{mo:02}-{d:02}T{time}{f}{o}");
                            let expected = crate::input::parse_instant(&text).ok();
                            let fast = parse_instant(&text);
                            if fast.is_some() {
                                assert_eq!(fast, expected, "{text}");
                                checked += 1;
                            } else {
                                assert!(expected.is_none() || y < 1000 || text.len() < 20, "fast path gave up on {text}");
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 5000);
        // Not the common form: left to chrono.
        for odd in [
            "2026-01-05 10:00:00Z",
            "2026-01-05t10:00:00z",
            "2026-02-30T00:00:00Z",
            "2026-01-05T10:00:60Z",
            "2026-01-05T10:00:00",
            "2026-01-05T10:00:00+0100",
        ] {
            assert_eq!(parse_instant(odd), None, "{odd}");
        }
    }
}
