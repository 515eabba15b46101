//! Segment-style JSON-lines input (RUNTIME.md §2): `identify`, `track` and `exit` records,
//! decoded against the program's declared attributes and events. A record that cannot be used is
//! never dropped silently: decoding returns the reason, and the runner writes it to
//! `rejects.jsonl`.

use journey_bytecode::{FieldDecl, Program, ValueType};
use journey_vm::{ContactInput, Heap, Record, RecordKind, Value};
use rustc_hash::FxHashMap;
use serde_json::Value as Json;

/// What one input record became.
pub enum Decoded {
    Record {
        record: Record,
        message_id: Option<String>,
    },
    /// A well-formed track record of an event the project does not declare: it counts as seen
    /// for metrics and triggers nothing.
    Undeclared {
        at: i64,
        /// The event's name as the record gives it (for the run's summary and metrics).
        name: Box<str>,
    },
}

/// Decodes records against one program's declarations.
pub struct Decoder<'p> {
    program: &'p Program,
    pub(crate) events: FxHashMap<&'p str, u32>,
    pub(crate) attributes: FxHashMap<&'p str, u32>,
    pub(crate) journeys: FxHashMap<&'p str, u32>,
}

/// A duration given in seconds, in whole milliseconds (rounded); `None` when it does not fit.
pub fn duration_ms(seconds: f64) -> Option<i64> {
    journey_vm::eval::float_to_i64((seconds * 1000.0).round())
}

/// Accepts RFC 3339 with any offset; normalised to UTC milliseconds (sub-millisecond digits are
/// truncated).
pub fn parse_instant(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_millis()).map_err(|e| {
        // The usual near misses get the instant they probably mean.
        let meant = if chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
            format!("for the start of that day in UTC, write {text}T00:00:00Z")
        } else if chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok() {
            format!("give its offset: {text}Z for UTC, or like {text}+02:00")
        } else {
            "write RFC 3339 with an offset, like 2026-01-05T10:00:00Z".to_string()
        };
        format!("unparsable timestamp {text:?} ({e}): {meant}")
    })
}

/// A line parsed as JSON, an object that gives a key twice rejected: `{"score":3,"score":4}`
/// means one of the two, and taking either (serde_json keeps the last) would decide for the
/// sender. The error says which key.
pub fn parse_json(text: &str) -> Result<Json, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde::Deserialize::deserialize(&mut de).and_then(|Strict(v)| de.end().map(|()| v));
    value.map_err(|e| {
        // A record is one line: where in it is its column (serde_json says "at line 1 column N").
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let what = full.strip_suffix(&suffix).map_or(full.clone(), |m| format!("{m} (column {})", e.column()));
        match e.classify() {
            serde_json::error::Category::Data => what,
            _ => format!("not JSON: {what}"),
        }
    })
}

/// A JSON value whose objects have no key twice (see [`parse_json`]).
struct Strict(Json);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!("key `{key}` is given twice in one object: which value is meant?")));
            }
            object.insert(key, value);
        }
        Ok(Json::Object(object))
    }
}

pub(crate) fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

impl<'p> Decoder<'p> {
    pub fn new(program: &'p Program) -> Self {
        Decoder {
            program,
            events: program.events.iter().enumerate().map(|(i, e)| (e.input_name.as_str(), i as u32)).collect(),
            attributes: program.attributes.iter().enumerate().map(|(i, a)| (a.name.as_str(), i as u32)).collect(),
            journeys: program.journeys.iter().enumerate().map(|(i, j)| (j.name.as_str(), i as u32)).collect(),
        }
    }

    pub fn program(&self) -> &'p Program {
        self.program
    }

    /// The contact id of a parsed record (`userId`, else `anonymousId`).
    pub fn contact_of(record: &Json) -> Result<std::borrow::Cow<'_, str>, String> {
        for key in ["userId", "anonymousId"] {
            match record.get(key) {
                Some(Json::String(s)) if !s.is_empty() => return Ok(std::borrow::Cow::Borrowed(s.as_str())),
                Some(Json::Number(n)) => return Ok(std::borrow::Cow::Owned(n.to_string())),
                _ => {}
            }
        }
        let empty =
            ["userId", "anonymousId"].into_iter().filter(|k| matches!(record.get(*k), Some(Json::String(s)) if s.is_empty())).collect::<Vec<_>>();
        Err(match empty.as_slice() {
            [] => "no contact id: the record has neither `userId` nor `anonymousId`".into(),
            [key] => format!("no contact id: `{key}` is an empty string, and there is no other id"),
            _ => "no contact id: `userId` and `anonymousId` are empty strings".into(),
        })
    }

    /// The instant of a parsed record (`timestamp`, else `originalTimestamp`, else `receivedAt`).
    pub fn instant_of(record: &Json) -> Result<i64, String> {
        for key in ["timestamp", "originalTimestamp", "receivedAt"] {
            if let Some(v) = record.get(key) {
                return match v {
                    Json::String(s) => parse_instant(s),
                    other => Err(format!("`{key}` must be an RFC 3339 string, found {}", kind_of(other))),
                };
            }
        }
        Err("no timestamp: the record has none of `timestamp`, `originalTimestamp`, `receivedAt`".into())
    }

    /// Decodes one record object; its strings and values go into `into` (the record returned
    /// names them there; on an error, what was added is garbage the caller may drop).
    pub fn decode(&self, record: &Json, seq: u64, into: &mut ContactInput) -> Result<Decoded, String> {
        let heap = &mut into.heap;
        if !record.is_object() {
            return Err(format!("a record must be a JSON object, found {}", kind_of(record)));
        }
        let kind = match record.get("type") {
            Some(Json::String(t)) => t.as_str(),
            Some(other) => return Err(format!("`type` must be a string, found {}", kind_of(other))),
            None => return Err("no `type` (expected identify, track or exit)".into()),
        };
        if !matches!(kind, "identify" | "track" | "exit") {
            return Err(format!("unknown type {kind:?} (expected identify, track or exit)"));
        }
        Self::contact_of(record)?;
        let at = Self::instant_of(record)?;
        let message_id = match record.get("messageId") {
            Some(Json::String(s)) => Some(s.clone()),
            _ => None,
        };
        let kind = match kind {
            "identify" => {
                let mut traits = Vec::new();
                match record.get("traits") {
                    None | Some(Json::Null) => {}
                    Some(Json::Object(map)) => {
                        for (key, value) in map {
                            // Unknown traits are kept by the sender but invisible to journeys.
                            let Some(&attr) = self.attributes.get(key.as_str()) else { continue };
                            let decl = &self.program.attributes[attr as usize];
                            let v = self.value(decl, value, heap).map_err(|e| format!("trait `{key}`: {e}"))?;
                            traits.push((attr, v));
                        }
                    }
                    Some(other) => return Err(format!("`traits` must be an object, found {}", kind_of(other))),
                }
                RecordKind::Identify(into.add_traits(traits))
            }
            "track" => {
                let name = match record.get("event") {
                    Some(Json::String(s)) => s.as_str(),
                    _ => return Err("a track record needs an `event` name".into()),
                };
                let Some(&event) = self.events.get(name) else { return Ok(Decoded::Undeclared { at, name: name.into() }) };
                let decl = &self.program.events[event as usize];
                let properties = match record.get("properties") {
                    None | Some(Json::Null) => None,
                    Some(Json::Object(map)) => Some(map),
                    Some(other) => return Err(format!("`properties` must be an object, found {}", kind_of(other))),
                };
                let mut fields = Vec::with_capacity(decl.fields.len());
                for field in &decl.fields {
                    match properties.and_then(|p| p.get(&field.name)) {
                        None | Some(Json::Null) if field.optional => fields.push(Value::None),
                        None | Some(Json::Null) => return Err(format!("event {name:?}: property `{}` is missing", field.name)),
                        Some(v) => fields.push(self.value(field, v, heap).map_err(|e| format!("event {name:?}: property `{}`: {e}", field.name))?),
                    }
                }
                RecordKind::Track { event, fields: into.add_fields(fields) }
            }
            _ => {
                let name = match record.get("journey") {
                    Some(Json::String(s)) => s.as_str(),
                    _ => return Err("an exit record needs a `journey` name".into()),
                };
                let Some(&journey) = self.journeys.get(name) else {
                    let meant = journey_diagnostics::suggest(name, self.program.journeys.iter().map(|j| j.name.as_str()));
                    return Err(match meant {
                        Some(m) => format!("unknown journey {name:?} (did you mean {m:?}?)"),
                        None => format!("unknown journey {name:?}"),
                    });
                };
                RecordKind::Exit { journey }
            }
        };
        Ok(Decoded::Record { record: Record { at, seq, kind }, message_id })
    }

    fn value(&self, decl: &FieldDecl, v: &Json, heap: &mut Heap) -> Result<Value, String> {
        let wrong = |expected: &str| Err(format!("expected {expected}, found {}", kind_of(v)));
        Ok(match (&decl.ty, v) {
            (_, Json::Null) if decl.optional => Value::None,
            (_, Json::Null) => return Err("null for a required attribute".into()),
            (ValueType::Bool, Json::Bool(b)) => Value::Bool(*b),
            (ValueType::Int, Json::Number(n)) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None if n.is_u64() => return Err(format!("{n} does not fit in a 64-bit integer")),
                None => return Err(format!("expected an integer, found {n}")),
            },
            (ValueType::Float, Json::Number(n)) => match n.as_f64() {
                Some(f) => Value::Float(f),
                None => return wrong("a number"),
            },
            (ValueType::String, Json::String(s)) => heap.add_string(s),
            (ValueType::Time, Json::String(s)) => Value::Time(parse_instant(s)?),
            (ValueType::Date, Json::String(s)) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => Value::Date(journey_vm::eval::days_of_date(d)),
                Err(_) => return Err(format!("expected a date like \"2026-12-01\", found {s:?}")),
            },
            (ValueType::Duration, Json::Number(n)) => match n.as_f64().map(duration_ms) {
                Some(Some(ms)) => Value::Duration(ms),
                Some(None) => return Err(format!("{n} seconds is too long a duration (at most ±292 million years)")),
                None => return wrong("a number of seconds"),
            },
            (ValueType::Enum(e), Json::String(s)) => {
                let decl = &self.program.enums[*e as usize];
                match decl.variants.iter().position(|v| v == s) {
                    Some(i) => Value::Enum(*e, i as u32),
                    None => return Err(format!("{s:?} is not a {} (expected one of {})", decl.name, decl.variants.join(", "))),
                }
            }
            (ValueType::ListOfString, Json::Array(items)) => {
                let mut ids = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Json::String(s) => ids.push(heap.add_string_id(s)),
                        other => return Err(format!("expected a list of strings, found an item of type {}", kind_of(other))),
                    }
                }
                heap.add_list(&ids)
            }
            (ValueType::Bool, _) => return wrong("a bool"),
            (ValueType::Int, _) => return wrong("an integer"),
            (ValueType::Float, _) => return wrong("a number"),
            (ValueType::String, _) | (ValueType::Enum(_), _) => return wrong("a string"),
            (ValueType::Time, _) => return wrong("an RFC 3339 time string"),
            (ValueType::Date, _) => return wrong("a date string"),
            (ValueType::Duration, _) => return wrong("a number of seconds"),
            (ValueType::ListOfString, _) => return wrong("a list of strings"),
        })
    }
}

/// Sorts a contact's records by (instant, input order).
pub fn sort_records(input: &mut ContactInput) {
    input.records.sort_by_key(|r| (r.at, r.seq));
}

#[cfg(test)]
mod tests {
    use super::parse_json;

    #[test]
    fn a_timestamp_without_time_or_offset_says_what_to_write() {
        let reason = |text| super::parse_instant(text).err().unwrap_or_default();
        assert!(reason("2026-01-03").ends_with("for the start of that day in UTC, write 2026-01-03T00:00:00Z"), "{}", reason("2026-01-03"));
        assert!(reason("2026-01-03T10:00:00").ends_with("give its offset: 2026-01-03T10:00:00Z for UTC, or like 2026-01-03T10:00:00+02:00"));
        assert!(reason("yesterday").ends_with("write RFC 3339 with an offset, like 2026-01-05T10:00:00Z"));
        assert_eq!(super::parse_instant("2026-01-03T00:00:00+01:00"), Ok(1_767_394_800_000));
    }

    #[test]
    fn a_key_given_twice_is_an_error_that_names_it() {
        let reason = parse_json(r#"{"type":"identify","traits":{"score":3,"score":4}}"#).err();
        assert_eq!(reason.as_deref(), Some("key `score` is given twice in one object: which value is meant? (column 49)"));
        let nested = parse_json(r#"{"context":{"a":[{"ip":1,"ip":2}]}}"#).err();
        assert!(nested.is_some_and(|r| r.starts_with("key `ip` is given twice")));
        // The same key in two objects is not a repeat; broken JSON still says so.
        assert!(parse_json(r#"{"a":{"k":1},"b":{"k":2},"k":[{"k":3}]}"#).is_ok());
        assert!(parse_json(r#"{"a":1,}"#).is_err_and(|r| r.starts_with("not JSON: ")));
        assert!(parse_json(r#"{"a":1} x"#).is_err_and(|r| r.starts_with("not JSON: ")));
        assert_eq!(parse_json(r#"{"a":1} x"#).err().as_deref(), Some("not JSON: trailing characters (column 9)"));
    }
}
