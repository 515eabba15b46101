//! The fast path of input decoding: the common record shape, parsed straight into a typed,
//! borrowing structure (no `serde_json::Value` tree, no map per record, strings borrowed from
//! the input line) and a hand-written RFC 3339 reader for the usual timestamp forms.
//!
//! It either produces exactly what [`crate::input::Decoder::decode`] would, or gives up
//! (`None`) — on anything unusual: batch envelopes, numeric ids, duplicate keys, a value that
//! does not fit its declared type, an odd timestamp. The caller then takes the general path,
//! which also writes the precise reject reason. So the fast path never decides what is an
//! error, and a test checks that both paths agree on every record of a generated cohort and on
//! mutated ones.

use crate::input::{Decoded, Decoder};
use journey_bytecode::{FieldDecl, Program, ValueType};
use journey_vm::{Heap, Record, RecordKind, Value};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;

/// One JSON value of a trait or property, as far as decoding needs to know it.
enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond `i64` (fits a float, not an int).
    Big(u64),
    Float(f64),
    Str(Cow<'a, str>),
    StrList(Vec<Cow<'a, str>>),
    /// An object, or an array with something other than strings.
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Scalar<'a>, E> {
                Ok(i64::try_from(u).map_or(Scalar::Big(u), Scalar::Int))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Float(f))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'a>, A::Error> {
                let mut items = Vec::new();
                let mut strings = true;
                while let Some(item) = seq.next_element::<Scalar<'a>>()? {
                    match item {
                        Scalar::Str(s) if strings => items.push(s),
                        _ => strings = false,
                    }
                }
                Ok(if strings { Scalar::StrList(items) } else { Scalar::Other })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A JSON object's entries in order; `None` (give up) when it is not an object.
struct Entries<'a>(Vec<(Cow<'a, str>, Scalar<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'a>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<Cow<'a, str>, Scalar<'a>>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A string that borrows from the line when it has no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Text<'a>>,
    #[serde(rename = "userId", borrow)]
    user_id: Option<Text<'a>>,
    #[serde(borrow)]
    timestamp: Option<Text<'a>>,
    #[serde(rename = "messageId", borrow)]
    message_id: Option<Text<'a>>,
    #[serde(borrow)]
    event: Option<Text<'a>>,
    #[serde(borrow)]
    journey: Option<Text<'a>>,
    #[serde(borrow)]
    properties: Option<Entries<'a>>,
    #[serde(borrow)]
    traits: Option<Entries<'a>>,
    /// Present at all (even `null`): a batch envelope, for the general path.
    #[serde(default, deserialize_with = "present")]
    batch: bool,
}

fn present<'de, D: de::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
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

    /// Decodes one line, or `None` when the general path must decide. Strings go to `heap`
    /// (on `None`, what was added there is garbage the caller may ignore).
    pub fn decode<'a>(&self, line: &'a str, seq: u64, heap: &mut Heap) -> Option<FastRecord<'a>> {
        // A typed structure would also accept an array of its fields: objects only.
        if !line.trim_start().starts_with('{') {
            return None;
        }
        let parsed: Line<'a> = serde_json::from_str(line).ok()?;
        if parsed.batch {
            return None;
        }
        let contact = parsed.user_id?.0;
        if contact.is_empty() {
            return None;
        }
        let at = parse_instant(&parsed.timestamp?.0)?;
        let message_id = parsed.message_id.map(|m| m.0.into_owned());
        let kind = match &*parsed.kind?.0 {
            "identify" => {
                // Sized for the traits given: millions of these are held until evaluation.
                let mut traits = Vec::with_capacity(parsed.traits.as_ref().map_or(0, |e| e.0.len()));
                if let Some(entries) = parsed.traits {
                    for (key, value) in &entries.0 {
                        let Some(&attr) = self.names.attributes.get(&**key) else { continue };
                        // A trait given twice: the general path decides which value holds.
                        if traits.iter().any(|(a, _)| *a == attr) {
                            return None;
                        }
                        let decl = self.program.attributes.get(attr as usize)?;
                        traits.push((attr, self.value(decl, value, heap)?));
                    }
                }
                traits.shrink_to_fit();
                RecordKind::Identify(traits)
            }
            "track" => {
                let name = parsed.event?.0;
                let Some(&event) = self.names.events.get(&*name) else { return Some(FastRecord { contact, decoded: Decoded::Undeclared { at } }) };
                let decl = self.program.events.get(event as usize)?;
                let properties = parsed.properties;
                // A declared property given twice: the general path decides which value holds.
                if let Some(p) = &properties
                    && decl.fields.iter().any(|f| p.0.iter().filter(|(k, _)| *k == f.name.as_str()).count() > 1)
                {
                    return None;
                }
                let mut fields = Vec::with_capacity(decl.fields.len());
                for field in &decl.fields {
                    let found = properties.as_ref().and_then(|p| p.0.iter().find(|(k, _)| *k == field.name.as_str()));
                    match found.map(|(_, v)| v) {
                        None | Some(Scalar::Null) if field.optional => fields.push(Value::None),
                        None | Some(Scalar::Null) => return None,
                        Some(v) => fields.push(self.value(field, v, heap)?),
                    }
                }
                RecordKind::Track { event, fields }
            }
            "exit" => {
                let name = parsed.journey?.0;
                RecordKind::Exit { journey: *self.names.journeys.get(&*name)? }
            }
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
            (ValueType::Float, Scalar::Big(u)) => Value::Float(*u as f64),
            (ValueType::Float, Scalar::Float(f)) => Value::Float(*f),
            (ValueType::String, Scalar::Str(s)) => heap.add_string(s),
            (ValueType::Time, Scalar::Str(s)) => Value::Time(parse_instant(s)?),
            (ValueType::Date, Scalar::Str(s)) => Value::Date(journey_vm::eval::days_of_date(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?)),
            (ValueType::Duration, Scalar::Int(i)) => Value::Duration((*i as f64 * 1000.0) as i64),
            (ValueType::Duration, Scalar::Big(u)) => Value::Duration((*u as f64 * 1000.0) as i64),
            (ValueType::Duration, Scalar::Float(f)) => Value::Duration((f * 1000.0) as i64),
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
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (h, mi, sec) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
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
