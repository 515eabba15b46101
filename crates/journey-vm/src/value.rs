//! Runtime values and the per-contact heap.
//!
//! A [`Value`] is 16 bytes and `Copy`: strings and lists are indexes, either into the program's
//! constant tables (high bit set) or into the contact's [`Heap`]. Evaluating a condition therefore
//! never allocates; only building new strings (`lower`, `+`, templates) and new lists does, and
//! those go to the contact's heap.

use journey_bytecode::{Const, Program};
use std::fmt::Write;

/// Marks a string or list id that refers to the program's constants, not the contact heap.
pub const CONST_BIT: u32 = 1 << 31;

/// Why a state naming program constants cannot be carried over to a changed project.
const CONSTANTS_CHANGED: &str = "it names string constants of the project version that wrote the snapshot, which a changed project numbers differently (a snapshot from before journey kept them on the contact's heap): resume once with that version, then change the project";
/// Marks a string or list id that refers to the heap of the input being run (the records'
/// strings), not the contact heap. Such values live only during [`crate::Vm::run`]: whatever
/// the contact keeps (attributes, trigger fields) is copied onto its own heap
/// ([`crate::ContactState::persist`]), so most record strings — page URLs, SKUs nobody stores — are never
/// copied at all. Contact heap ids therefore stay below 2³⁰.
pub const INPUT_BIT: u32 = 1 << 30;

/// A heap with nothing in it (the input of a [`Strings`] view that has none).
pub static EMPTY_HEAP: Heap = Heap::new();

#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
// A whole-word tag, so every payload sits at offset 8: a copy is two plain 8-byte moves. With
// the default layout (a byte tag, payloads at offsets 1, 4 and 8) the compiler copied a value
// in five pieces of odd sizes, and reading one back right after (the direct path returns its
// results through memory) stalled the processor: 1.7% of a run of the examples.
#[repr(C, u64)]
pub enum Value {
    /// A required attribute that was never supplied (reading it is an error).
    #[default]
    Absent,
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Milliseconds since the Unix epoch.
    Time(i64),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds.
    Duration(i64),
    /// (enum, variant)
    Enum(u32, u32),
    Str(u32),
    List(u32),
}

/// Strings and lists owned by one contact (attribute values, event fields, computed strings).
///
/// An arena: every string lives back to back in one buffer and every list's items in one
/// vector, so a contact's hundreds of strings cost a handful of allocations, not one each, and
/// copying a record's strings onto a contact is a `memcpy`. Ids index `spans` / `list_spans`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Heap {
    text: String,
    spans: Vec<Bounds>,
    items: Vec<u32>,
    list_spans: Vec<Bounds>,
}

/// Where a string's bytes (or a list's items) are: `start..end` (unlike [`crate::Span`], a start
/// and a length).
type Bounds = (u32, u32);

impl Heap {
    pub const fn new() -> Heap {
        Heap { text: String::new(), spans: Vec::new(), items: Vec::new(), list_spans: Vec::new() }
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
        self.items.clear();
        self.list_spans.clear();
    }

    /// One value of each cache line of the strings' text and spans, and of the lists' items
    /// and spans (see `engine::warm`).
    pub(crate) fn touch(&self) -> i64 {
        let text = self.text.as_bytes().iter().step_by(64).fold(0u8, |x, b| x ^ b);
        let spans = self.spans.iter().step_by(8).fold(0u32, |x, s| x ^ s.0);
        let items = self.items.iter().step_by(16).fold(0u32, |x, i| x ^ i);
        let lists = self.list_spans.iter().step_by(8).fold(0u32, |x, s| x ^ s.0);
        i64::from(text) ^ i64::from(spans ^ items ^ lists)
    }

    /// The strings' text and spans, and the lists' items and spans, as stored (see
    /// `Vm::prefetch`).
    pub(crate) fn parts(&self) -> (&[u8], &[Bounds], &[u32], &[Bounds]) {
        (self.text.as_bytes(), &self.spans, &self.items, &self.list_spans)
    }

    /// Number of strings (ids are `0..len`).
    pub fn string_count(&self) -> usize {
        self.spans.len()
    }

    /// Drops the strings and lists added after the heap had `counts` (strings, lists) — what
    /// a decoder that gave up half-way had added.
    pub fn truncate(&mut self, (strings, lists): (usize, usize)) {
        if let Some(&(start, _)) = self.spans.get(strings) {
            self.text.truncate(start as usize);
        }
        self.spans.truncate(strings);
        if let Some(&(start, _)) = self.list_spans.get(lists) {
            self.items.truncate(start as usize);
        }
        self.list_spans.truncate(lists);
    }

    /// Number of lists.
    pub fn list_count(&self) -> usize {
        self.list_spans.len()
    }

    /// The string with this (heap) id; empty when out of range.
    pub fn str(&self, id: u32) -> &str {
        match self.spans.get(id as usize) {
            Some(&(start, end)) => self.text.get(start as usize..end as usize).unwrap_or(""),
            None => "",
        }
    }

    /// The item string ids of the list with this (heap) id; empty when out of range.
    pub fn list(&self, id: u32) -> &[u32] {
        match self.list_spans.get(id as usize) {
            Some(&(start, end)) => self.items.get(start as usize..end as usize).unwrap_or(&[]),
            None => &[],
        }
    }

    pub fn add_string(&mut self, s: &str) -> Value {
        Value::Str(self.add_string_id(s))
    }

    /// Adds a string and returns its id (for list items).
    pub fn add_string_id(&mut self, s: &str) -> u32 {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        self.spans.push((start, self.text.len() as u32));
        (self.spans.len() - 1) as u32
    }

    pub fn add_list(&mut self, items: &[u32]) -> Value {
        let start = self.items.len() as u32;
        self.items.extend_from_slice(items);
        self.list_spans.push((start, self.items.len() as u32));
        Value::List((self.list_spans.len() - 1) as u32)
    }

    /// Copies a value's strings and lists from another heap into this one (program constants
    /// are shared, not copied) and returns the value as it reads here.
    pub fn copy_value(&mut self, from: &Heap, v: Value) -> Value {
        self.copy_value_from(from, &EMPTY_HEAP, v)
    }

    /// [`Heap::copy_value`] for a value as a run reads it: on the contact heap `from`, or, marked
    /// [`INPUT_BIT`], on the run's `input`.
    pub fn copy_value_from(&mut self, from: &Heap, input: &Heap, v: Value) -> Value {
        let str_of = |id: u32| if id & INPUT_BIT != 0 { input.str(id & !INPUT_BIT) } else { from.str(id) };
        match v {
            Value::Str(id) if id & CONST_BIT == 0 => self.add_string(str_of(id)),
            Value::List(id) if id & CONST_BIT == 0 => {
                // An input list's items are input strings; a contact list's may be either.
                let (items, item_bit) = if id & INPUT_BIT != 0 { (input.list(id & !INPUT_BIT), INPUT_BIT) } else { (from.list(id), 0) };
                let start = self.items.len() as u32;
                for &item in items {
                    let copied = if item & CONST_BIT != 0 { item } else { self.add_string_id(str_of(item | item_bit)) };
                    self.items.push(copied);
                }
                self.list_spans.push((start, self.items.len() as u32));
                Value::List((self.list_spans.len() - 1) as u32)
            }
            other => other,
        }
    }

    /// `v` with the program constants it names copied onto this heap (see
    /// [`crate::ContactState::own_constants`]); the items of this heap's lists are done apart,
    /// by [`Heap::own_constant_items`].
    pub fn own_constant(&mut self, program: &Program, v: Value) -> Value {
        match v {
            Value::Str(id) if id & CONST_BIT != 0 => self.add_string(program.strings.get((id & !CONST_BIT) as usize).map_or("", String::as_str)),
            Value::List(id) if id & CONST_BIT != 0 => {
                let items: Vec<u32> = match program.constants.get((id & !CONST_BIT) as usize) {
                    Some(Const::List(items)) => {
                        items.iter().map(|&i| self.add_string_id(program.strings.get(i as usize).map_or("", String::as_str))).collect()
                    }
                    _ => Vec::new(),
                };
                self.add_list(&items)
            }
            other => other,
        }
    }

    /// Replaces every list item of this heap that names a program string constant with a copy
    /// of the string on this heap.
    pub fn own_constant_items(&mut self, program: &Program) {
        for i in 0..self.items.len() {
            let item = self.items[i];
            if item & CONST_BIT != 0 {
                let s = program.strings.get((item & !CONST_BIT) as usize).map_or("", String::as_str);
                self.items[i] = self.add_string_id(s);
            }
        }
    }

    /// Whether the heap is consistent, as a snapshot's must be before a run reads it: every
    /// string within the text and on character boundaries, every list within the items, every
    /// item a string of this heap or a program constant below `constants` strings.
    pub fn check(&self, constants: Option<usize>) -> Result<(), String> {
        for (i, &(start, end)) in self.spans.iter().enumerate() {
            if start > end || self.text.get(start as usize..end as usize).is_none() {
                return Err(format!("string {i} lies outside the heap's text"));
            }
        }
        for (i, &(start, end)) in self.list_spans.iter().enumerate() {
            if start > end || end as usize > self.items.len() {
                return Err(format!("list {i} lies outside the heap's items"));
            }
        }
        for &item in &self.items {
            self.check_string(item, constants)?;
        }
        Ok(())
    }

    /// Whether string id `id` names a string of this heap, or a program constant below
    /// `constants` (`None`: constants are refused).
    fn check_string(&self, id: u32, constants: Option<usize>) -> Result<(), String> {
        if id & CONST_BIT != 0 {
            return match constants {
                Some(n) if ((id & !CONST_BIT) as usize) < n => Ok(()),
                Some(_) => Err(format!("string constant {} is not in the project", id & !CONST_BIT)),
                None => Err(CONSTANTS_CHANGED.into()),
            };
        }
        if id & INPUT_BIT != 0 || id as usize >= self.spans.len() {
            return Err(format!("string {id} is not on the heap"));
        }
        Ok(())
    }

    /// Whether the strings and lists `v` names are on this heap (or constants, as in
    /// [`Heap::check`]; a list constant below `lists` of the program's constants).
    pub fn check_value(&self, v: Value, constants: Option<(usize, usize)>) -> Result<(), String> {
        match v {
            Value::Str(id) => self.check_string(id, constants.map(|c| c.0)),
            Value::List(id) if id & CONST_BIT != 0 => match constants {
                Some((_, lists)) if ((id & !CONST_BIT) as usize) < lists => Ok(()),
                Some(_) => Err(format!("list constant {} is not in the project", id & !CONST_BIT)),
                None => Err(CONSTANTS_CHANGED.into()),
            },
            Value::List(id) if id & INPUT_BIT != 0 || id as usize >= self.list_spans.len() => Err(format!("list {id} is not on the heap")),
            _ => Ok(()),
        }
    }

    /// Copies another heap's contents to the end of this one; returns the offsets to add to the
    /// copied values' string and list ids (see [`Heap::absorb_input`] for values read during a run).
    pub fn absorb(&mut self, other: &Heap) -> (u32, u32) {
        let offsets = (self.spans.len() as u32, self.list_spans.len() as u32);
        let (text_base, items_base) = (self.text.len() as u32, self.items.len() as u32);
        self.text.push_str(&other.text);
        self.spans.extend(other.spans.iter().map(|&(a, b)| (a + text_base, b + text_base)));
        self.items.extend(other.items.iter().map(|&i| if i & CONST_BIT == 0 { i + offsets.0 } else { i }));
        self.list_spans.extend(other.list_spans.iter().map(|&(a, b)| (a + items_base, b + items_base)));
        offsets
    }

    /// Whether a list of this heap holds program string constants.
    pub fn has_constant_items(&self) -> bool {
        self.items.iter().any(|&i| i & CONST_BIT != 0)
    }

    /// Whether a list of this heap holds strings of the input (a concatenation made during a
    /// run; see [`INPUT_BIT`]).
    pub fn has_input_items(&self) -> bool {
        self.items.iter().any(|&i| i & CONST_BIT == 0 && i & INPUT_BIT != 0)
    }

    /// [`Heap::absorb`] for the input of a run: also renumbers this heap's list items that
    /// point into the input. Returns the offsets for [`Value::rebase_input`].
    pub fn absorb_input(&mut self, input: &Heap) -> (u32, u32) {
        let base = self.spans.len() as u32;
        for item in &mut self.items {
            if *item & CONST_BIT == 0 && *item & INPUT_BIT != 0 {
                *item = (*item & !INPUT_BIT) + base;
            }
        }
        self.absorb(input)
    }
}

impl Value {
    /// A value read during a run (possibly marked [`INPUT_BIT`]) as it reads after
    /// [`Heap::absorb_input`].
    #[inline]
    pub fn rebase_input(self, offsets: (u32, u32)) -> Value {
        match self {
            Value::Str(id) if id & CONST_BIT == 0 && id & INPUT_BIT != 0 => Value::Str((id & !INPUT_BIT) + offsets.0),
            Value::List(id) if id & CONST_BIT == 0 && id & INPUT_BIT != 0 => Value::List((id & !INPUT_BIT) + offsets.1),
            other => other,
        }
    }

    /// A value decoded against the input's heap, as the engine reads it during a run (see
    /// [`INPUT_BIT`]).
    #[inline]
    pub fn from_input(self) -> Value {
        match self {
            Value::Str(id) if id & CONST_BIT == 0 => Value::Str(id | INPUT_BIT),
            Value::List(id) if id & CONST_BIT == 0 => Value::List(id | INPUT_BIT),
            other => other,
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None | Value::Absent)
    }
}

/// Read access to strings and lists, wherever they live: the program's constants, the
/// contact's heap, the input being run.
pub struct Strings<'a> {
    pub program: &'a Program,
    pub heap: &'a Heap,
    pub input: &'a Heap,
}

impl<'a> Strings<'a> {
    /// A view without input (outside a run, everything is on the contact heap).
    pub fn new(program: &'a Program, heap: &'a Heap) -> Self {
        Strings { program, heap, input: &EMPTY_HEAP }
    }

    pub fn str(&self, id: u32) -> &'a str {
        if id & CONST_BIT != 0 {
            self.program.strings.get((id & !CONST_BIT) as usize).map(String::as_str).unwrap_or("")
        } else if id & INPUT_BIT != 0 {
            self.input.str(id & !INPUT_BIT)
        } else {
            self.heap.str(id)
        }
    }

    /// The string ids of a list.
    pub fn list(&self, id: u32) -> &'a [u32] {
        if id & CONST_BIT != 0 {
            match self.program.constants.get((id & !CONST_BIT) as usize) {
                Some(Const::List(items)) => items,
                _ => &[],
            }
        } else if id & INPUT_BIT != 0 {
            self.input.list(id & !INPUT_BIT)
        } else {
            self.heap.list(id)
        }
    }

    /// The string id of a list item (program list items are program strings, input list items
    /// input strings unless they are program strings).
    pub fn list_item(&self, list: u32, item: u32) -> u32 {
        if list & CONST_BIT != 0 {
            item | CONST_BIT
        } else if list & INPUT_BIT != 0 && item & CONST_BIT == 0 {
            item | INPUT_BIT
        } else {
            item
        }
    }

    /// Renders a value the way templates show it (LANGUAGE.md §3).
    pub fn render(&self, v: Value, out: &mut String) {
        match v {
            Value::Absent | Value::None => {}
            Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(itoa::Buffer::new().format(i)),
            Value::Float(f) => push_float(f, out),
            Value::Time(ms) => out.push_str(&format_instant(ms)),
            Value::Date(d) => out.push_str(&format_date(d)),
            Value::Duration(ms) => out.push_str(&format_duration(ms)),
            Value::Enum(e, v) => {
                out.push_str(self.program.enums.get(e as usize).and_then(|en| en.variants.get(v as usize)).map(String::as_str).unwrap_or(""))
            }
            Value::Str(id) => out.push_str(self.str(id)),
            Value::List(id) => {
                for (i, item) in self.list(id).iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(self.str(self.list_item(id, *item)));
                }
            }
        }
    }

    /// A value as JSON.
    pub fn json(&self, v: Value) -> String {
        let mut out = String::new();
        self.push_json(v, &mut out);
        out
    }

    /// Appends a value as JSON (the `value` of `set` actions) to `out`.
    pub fn push_json(&self, v: Value, out: &mut String) {
        use std::fmt::Write;
        match v {
            Value::Absent | Value::None => out.push_str("null"),
            Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) if f.is_finite() => {
                let start = out.len();
                let _ = write!(out, "{f}");
                if !out[start..].contains(['.', 'e', 'E']) {
                    out.push_str(".0");
                }
            }
            Value::Float(_) => out.push_str("null"),
            Value::Str(id) => push_json_string(self.str(id), out),
            Value::List(id) => {
                out.push('[');
                for (n, i) in self.list(id).iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    push_json_string(self.str(self.list_item(id, *i)), out);
                }
                out.push(']');
            }
            other => {
                // Rendered, then quoted: the rendering has no quote or backslash to escape
                // (times, dates, durations, enum variants), but it is escaped all the same.
                let start = out.len();
                self.render(other, out);
                let rendered = out.split_off(start);
                push_json_string(&rendered, out);
            }
        }
    }
}

pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(s, &mut out);
    out
}

/// Appends `s` as a JSON string literal.
pub fn push_json_string(s: &str, out: &mut String) {
    out.push('"');
    push_json_escaped(s, out);
    out.push('"');
}

/// High bit set in each byte of `word` that is `"`, `\\` or below 0x20 (and possibly in bytes
/// after the first such one: only the lowest is exact, which is all a scan needs; a word
/// without such a byte gives 0).
pub fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\'))) | (word.wrapping_sub(ONES * 0x20) & !word & HIGH)
}

/// Where the first byte of `s` that JSON escapes (`"`, `\\`, a control character) is, if any:
/// eight bytes at a time.
fn first_to_escape(s: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(word) = s.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let found = special_bytes(u64::from_le_bytes(word));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    s.get(at..)?.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|i| at + i)
}

/// Appends `s` escaped for the inside of a JSON string literal (no quotes).
pub fn push_json_escaped(s: &str, out: &mut String) {
    // The usual case, nothing to escape, is one copy; otherwise what comes before the first
    // byte to escape (an ASCII byte, so a character boundary) is copied as it is.
    let Some(first) = first_to_escape(s.as_bytes()) else {
        out.push_str(s);
        return;
    };
    let (plain, rest) = s.split_at_checked(first).unwrap_or(("", s));
    out.push_str(plain);
    for c in rest.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `2026-01-05T10:00:00Z`, with `.sss` only when the milliseconds are not zero (RUNTIME.md §4).
pub fn format_instant(ms: i64) -> String {
    let mut out = String::with_capacity(24);
    write_instant(ms, &mut out);
    out
}

/// Appends `f` exactly as `{f}` (Rust's `Display`: the shortest digits that read back as `f`,
/// never an exponent) would. Whole numbers and numbers with at most two decimals — amounts,
/// the usual case in templates — are written directly; everything else goes through `Display`.
pub fn push_float(f: f64, out: &mut String) {
    // Below 2^45 floats are spaced at most 2^-8 apart, so at most one decimal with two
    // fractional digits reads back as `f`: when there is one, it is the shortest.
    const LIMIT: f64 = 3.0e13;
    if f.abs() < LIMIT && !(f == 0.0 && f.is_sign_negative()) {
        let cents = (f * 100.0).round();
        if cents / 100.0 == f {
            let cents = cents as i64;
            if cents < 0 {
                out.push('-');
            }
            let (whole, frac) = (cents.unsigned_abs() / 100, cents.unsigned_abs() % 100);
            out.push_str(itoa::Buffer::new().format(whole));
            if frac != 0 {
                out.push('.');
                out.push(char::from(b'0' + (frac / 10) as u8));
                if frac % 10 != 0 {
                    out.push(char::from(b'0' + (frac % 10) as u8));
                }
            }
            return;
        }
    }
    let _ = write!(out, "{f}");
}

/// Civil date (year, month, day) of a day number (Howard Hinnant's algorithm): no time-zone
/// machinery, no parsing — this runs for every action written.
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Day number of a civil date (the inverse of [`civil`]; month 1–12, any day of it).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days in a month of a (proleptic Gregorian) year.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub fn write_instant(ms: i64, out: &mut String) {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil(days);
    if !(0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}T");
        push_time_of_day(in_day, out);
        return;
    }
    // Written two digits at a time: this runs for every action of a batch run.
    push_pair(y / 100, out);
    push_pair(y % 100, out);
    out.push('-');
    push_pair(i64::from(m), out);
    out.push('-');
    push_pair(i64::from(d), out);
    out.push('T');
    push_time_of_day(in_day, out);
}

/// `00` to `99`, back to back.
const PAIRS: &str = "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// Appends `v % 100` (of a non-negative `v`) as two digits.
fn push_pair(v: i64, out: &mut String) {
    let at = v.rem_euclid(100) as usize * 2;
    out.push_str(PAIRS.get(at..at + 2).unwrap_or("00"));
}

/// `HH:MM:SS`, then `.sss` when the milliseconds are not zero, then `Z`.
fn push_time_of_day(in_day: i64, out: &mut String) {
    let (h, min, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    push_pair(h, out);
    out.push(':');
    push_pair(min, out);
    out.push(':');
    push_pair(s, out);
    if milli != 0 {
        out.push('.');
        out.push(char::from(b'0' + (milli / 100) as u8));
        push_pair(milli % 100, out);
    }
    out.push('Z');
}

/// Rewrites `text`, holding instant `previous` as [`write_instant`] wrote it, to hold `ms`:
/// when both fall on the same day, only the time of day is written again.
pub fn rewrite_instant(previous: i64, ms: i64, text: &mut String) {
    const DAY: i64 = 86_400_000;
    // The date is the first 11 bytes (`2026-01-05T`) whenever the 11th is the `T`.
    let same_day = previous.div_euclid(DAY) == ms.div_euclid(DAY) && text.len() >= 20 && text.as_bytes().get(10) == Some(&b'T');
    if same_day {
        text.truncate(11);
        push_time_of_day(ms.rem_euclid(DAY), text);
    } else {
        text.clear();
        write_instant(ms, text);
    }
}

pub fn format_date(days: i32) -> String {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::Duration::days(days as i64)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Durations as written in the language: `1d 12h`, `30s`, `0s`.
pub fn format_duration(ms: i64) -> String {
    let negative = ms < 0;
    let mut rest = ms.unsigned_abs();
    let mut parts = Vec::new();
    for (unit, size) in [("w", 604_800_000u64), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    if rest > 0 {
        parts.push(format!("{rest}ms"));
    }
    let text = if parts.is_empty() { "0s".to_string() } else { parts.join(" ") };
    if negative { format!("-{text}") } else { text }
}

/// Converts a program constant to a value.
pub fn constant(c: &Const, index: u32) -> Value {
    match c {
        Const::None => Value::None,
        Const::Bool(b) => Value::Bool(*b),
        Const::Int(i) => Value::Int(*i),
        Const::Float(f) => Value::Float(*f),
        Const::Str(s) => Value::Str(*s | CONST_BIT),
        Const::Time(t) => Value::Time(*t),
        Const::Date(d) => Value::Date(*d),
        Const::Duration(d) => Value::Duration(*d),
        Const::Enum(e, v) => Value::Enum(*e, *v),
        Const::List(_) => Value::List(index | CONST_BIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A heap read from a snapshot is checked before anything reads it: strings within the
    /// text and on character boundaries, lists within the items, items and values naming
    /// strings that exist (or constants in range, and none when constants are refused).
    #[test]
    fn a_damaged_heap_is_refused() {
        let mut good = Heap::default();
        let s = good.add_string_id("héllo");
        let list = good.add_list(&[s, 3 | CONST_BIT]);
        assert_eq!(good.check(Some(4)), Ok(()));
        assert_eq!(good.check_value(list, Some((4, 0))), Ok(()));
        assert!(good.check(Some(3)).is_err_and(|e| e.contains("constant 3")));
        assert!(good.check(None).is_err_and(|e| e.contains("resume once")));
        let damaged = |f: &dyn Fn(&mut Heap)| {
            let mut h = good.clone();
            f(&mut h);
            h.check(Some(4))
        };
        assert!(damaged(&|h| h.spans[0] = (0, 99)).is_err_and(|e| e.contains("string 0")));
        // Inside the `é`.
        assert!(damaged(&|h| h.spans[0] = (0, 2)).is_err_and(|e| e.contains("string 0")));
        assert!(damaged(&|h| h.spans[0] = (3, 1)).is_err_and(|e| e.contains("string 0")));
        assert!(damaged(&|h| h.list_spans[0] = (0, 9)).is_err_and(|e| e.contains("list 0")));
        assert!(damaged(&|h| h.items[0] = 7).is_err_and(|e| e.contains("string 7")));
        assert!(damaged(&|h| h.items[0] = INPUT_BIT).is_err_and(|e| e.contains("not on the heap")));
        assert!(good.check_value(Value::Str(1), Some((4, 0))).is_err());
        assert!(good.check_value(Value::List(1), Some((4, 0))).is_err());
        assert!(good.check_value(Value::List(CONST_BIT), Some((4, 0))).is_err_and(|e| e.contains("list constant 0")));
        assert_eq!(good.check_value(Value::Int(5), None), Ok(()));
    }

    /// `push_float` writes what `Display` writes: amounts, whole numbers, their neighbours one
    /// bit away, signed zeros, huge and tiny values, random bit patterns.
    #[test]
    fn floats_render_as_display_does() {
        let mut values =
            vec![0.0, -0.0, 0.1 + 0.2, 1.005, 2.675, 1e15, 3.0e13, 2.99e13, -2.99e13, 8.99e13, 1e-7, 5e-324, f64::MAX, f64::NAN, f64::INFINITY];
        let mut next = crate::xorshift(3);
        for _ in 0..200_000 {
            let cents = (next() % 2_000_000_000_000) as i64 - 1_000_000_000_000;
            let f = cents as f64 / 100.0;
            values.extend([f, f64::from_bits(f.to_bits() + 1), f64::from_bits(f.to_bits().wrapping_sub(1)), (cents / 100) as f64]);
            values.push(f64::from_bits(next()));
            values.push((next() % 100_000) as f64 / 1000.0);
            values.push(((next() % 10_000_000_000_000_000) as f64) / 100.0);
        }
        let mut out = String::new();
        for f in values {
            out.clear();
            push_float(f, &mut out);
            assert_eq!(out, format!("{f}"), "{:#x}", f.to_bits());
        }
    }

    /// The word-at-a-time escaping writes what escaping character by character writes, with
    /// the characters to escape anywhere (either side of a word boundary, after multi-byte
    /// ones); instants' digits are those of chrono's formatting.
    #[test]
    fn json_escaping_and_instants_agree_with_the_plain_ways() {
        let plain = |s: &str| {
            let mut out = String::new();
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out
        };
        let alphabet = ['a', 'Z', ' ', 'é', '€', '😀', '"', '\\', '\n', '\t', '\u{1}', '\u{1f}', '\u{7f}', '~'];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            // Mostly plain text, sometimes a character to escape.
            let s: String = (0..len)
                .map(|i| {
                    let r = seed.rotate_left(i as u32 * 5);
                    if r.is_multiple_of(7) { alphabet[(r >> 8) as usize % alphabet.len()] } else { alphabet[(r >> 8) as usize % 6] }
                })
                .collect();
            let mut out = String::from("x");
            push_json_escaped(&s, &mut out);
            assert_eq!(out[1..], plain(&s), "{s:?}");
        }
        for ms in [0i64, 1, 999, 86_399_999, 1_767_225_599_999, 1_767_225_600_000, 253_402_300_799_999, 951_782_400_123] {
            let chrono = chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()).unwrap_or_default();
            let chrono = chrono.replace(".000Z", "Z");
            assert_eq!(format_instant(ms), chrono, "{ms}");
        }
    }

    #[test]
    fn absorbing_the_input_renumbers_what_points_into_it() {
        let mut input = Heap::new();
        let sku = input.add_string_id("sku-1");
        let tag = input.add_string_id("vip");
        let Value::List(list) = input.add_list(&[tag, 3 | CONST_BIT]) else { panic!("a list") };
        let mut heap = Heap::new();
        heap.add_string("already here");
        // A contact list holding an input string (a concatenation made during the run).
        let Value::List(mixed) = heap.add_list(&[0, tag | INPUT_BIT]) else { panic!("a list") };
        assert!(heap.has_input_items());
        let offsets = heap.absorb_input(&input);
        assert!(!heap.has_input_items());
        let s = &heap;
        let Value::Str(kept) = Value::Str(sku).from_input().rebase_input(offsets) else { panic!("a string") };
        assert_eq!(heap.str(kept), "sku-1");
        let Value::List(copied) = Value::List(list).from_input().rebase_input(offsets) else { panic!("a list") };
        let items: Vec<&str> = heap.list(copied).iter().filter(|i| *i & CONST_BIT == 0).map(|&i| s.str(i)).collect();
        assert_eq!(items, ["vip"]);
        assert_eq!(heap.list(copied)[1], 3 | CONST_BIT);
        let items: Vec<&str> = heap.list(mixed).iter().map(|&i| heap.str(i)).collect();
        assert_eq!(items, ["already here", "vip"]);
        // Constants and contact values stay as they are.
        assert_eq!(Value::Str(0).rebase_input(offsets), Value::Str(0));
        assert_eq!(Value::Str(5 | CONST_BIT).rebase_input(offsets), Value::Str(5 | CONST_BIT));
        assert_eq!(Value::Int(4).rebase_input(offsets), Value::Int(4));
    }

    #[test]
    fn instants_format_like_chrono() {
        let spread = (0..20_000i64).map(|i| -2_208_988_800_000 + i * 10_000_000_007 + i % 1000);
        for ms in [0i64, 1_767_225_600_000, 1_767_225_600_250, 951_782_400_000, -86_400_000, 4_102_444_799_999, -62_135_596_800_001]
            .into_iter()
            .chain(spread)
        {
            let expected = chrono::DateTime::from_timestamp_millis(ms).map(|t| {
                if ms.rem_euclid(1000) != 0 { t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string() } else { t.format("%Y-%m-%dT%H:%M:%SZ").to_string() }
            });
            assert_eq!(Some(format_instant(ms)), expected, "{ms}");
        }
    }

    #[test]
    fn rewriting_an_instant_gives_what_writing_it_gives() {
        // Pairs on the same day (the time rewritten) and on other days, with and without
        // milliseconds, in and out of four-digit years.
        let day = 86_400_000i64;
        let starts = [0i64, 1_767_225_600_000, -62_135_596_800_000 - 1, 253_402_300_799_000 - 5000, -86_400_000 * 366];
        let mut checked = 0;
        for start in starts {
            let mut text = String::new();
            let mut previous = i64::MIN;
            for step in [0i64, 1, 999, 1000, 3_599_001, day / 2, day - 1, day, 7 * day + 13, 250] {
                let ms = start + step;
                rewrite_instant(previous, ms, &mut text);
                assert_eq!(text, format_instant(ms), "{previous} → {ms}");
                previous = ms;
                checked += 1;
            }
        }
        assert_eq!(checked, 50);
    }
}
