//! The data the engine works on: per-contact state (what a snapshot stores), input records,
//! and the actions and trace lines it produces. Plain data (plus the heap compaction a snapshot
//! needs), kept apart from the engine that moves contacts through journeys.

use crate::value::{CONST_BIT, Heap, INPUT_BIT, Value};
use journey_bytecode::Program;

pub const NEVER: u8 = 0;
pub const ACTIVE: u8 = 1;
pub const LEFT: u8 = 2;

/// Instants as snapshots store them: the sentinels `i64::MAX` ("none") and `i64::MIN` ("not
/// yet") take one byte instead of postcard's ten, so a journey a contact never entered costs
/// about ten bytes.
mod wire_instant {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn to_wire(t: i64) -> u64 {
        match t {
            i64::MAX => 0,
            i64::MIN => 1,
            // Zigzag, as postcard does for signed integers; the sentinels' codes are skipped.
            t => (((t << 1) ^ (t >> 63)) as u64).wrapping_add(2),
        }
    }

    pub fn from_wire(w: u64) -> i64 {
        match w {
            0 => i64::MAX,
            1 => i64::MIN,
            w => {
                let z = w.wrapping_sub(2);
                ((z >> 1) as i64) ^ -((z & 1) as i64)
            }
        }
    }

    pub fn serialize<S: Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(to_wire(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        u64::deserialize(d).map(from_wire)
    }

    /// The same for a list of instants.
    pub mod list {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(ts: &[i64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(ts.iter().map(|t| super::to_wire(*t)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
            Vec::<u64>::deserialize(d).map(|v| v.into_iter().map(super::from_wire).collect())
        }
    }

    #[cfg(test)]
    #[test]
    fn round_trips() {
        for t in [i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1, 0, -1, 1, 1_767_225_600_000, -86_400_000] {
            assert_eq!(from_wire(to_wire(t)), t, "{t}");
        }
        assert_eq!(to_wire(i64::MAX), 0);
        assert_eq!(to_wire(i64::MIN), 1);
    }
}

/// Where one contact is in one journey. Plain data, 56 bytes: this is what a snapshot stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slot {
    #[serde(with = "wire_instant")]
    pub entered_at: i64,
    /// Wake-up instant of the current wait (or held send); `i64::MAX` when none.
    #[serde(with = "wire_instant")]
    pub wake_at: i64,
    /// `i64::MIN` until the contact first leaves.
    #[serde(with = "wire_instant")]
    pub last_exit: i64,
    /// Next scheduled entry (`entry at`, `every`, anniversary); `i64::MAX` when none.
    #[serde(with = "wire_instant")]
    pub scheduled_at: i64,
    /// Instant of the last scheduled entry that fired (so it fires once).
    #[serde(with = "wire_instant")]
    pub last_fire: i64,
    /// Index of the step operation the contact waits at.
    pub pc: u32,
    pub status: u8,
    pub flags: u8,
    /// Last value of each `entry when` condition (edge triggering), one bit per entry.
    pub when_bits: u8,
    /// Which entry `scheduled_at` belongs to.
    pub sched_entry: u8,
    /// Recurring entries (one bit each, first 8) whose filter was false and can only turn true
    /// with a record: they are not scheduled until such a record arrives.
    pub dormant: u8,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            entered_at: 0,
            wake_at: i64::MAX,
            last_exit: i64::MIN,
            scheduled_at: i64::MAX,
            last_fire: i64::MIN,
            pc: 0,
            status: NEVER,
            flags: 0,
            when_bits: 0,
            sched_entry: 0,
            dormant: 0,
        }
    }
}

/// Everything the engine keeps about one contact between records (and between runs).
#[derive(Clone, Default, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContactState {
    pub attrs: Vec<Value>,
    pub heap: Heap,
    pub slots: Vec<Slot>,
    pub pred_count: Vec<u32>,
    #[serde(with = "wire_instant::list")]
    pub pred_last: Vec<i64>,
    /// Per journey: the fields of the event that enrolled the contact (`trigger.*`).
    pub triggers: Vec<Vec<Value>>,
    /// Per channel: instants of performed, non-transactional sends (for caps).
    pub sent: [Vec<i64>; 3],
    /// The contact has had its first record (scheduled entries start then).
    pub seen: bool,
    /// Set when the state was carried over to a changed project (the old schedules name the
    /// old version's entries): at this instant, before anything else, the engine computes every
    /// scheduled entry afresh. Never stored: the run it is handed to consumes it.
    #[serde(skip)]
    pub reschedule_at: Option<i64>,
}

impl ContactState {
    /// Drops heap strings and lists nothing refers to any more (computed strings of past sends,
    /// old attribute values), renumbering the rest: what a snapshot stores.
    pub fn compact(&mut self) {
        self.compact_with(&mut Heap::default());
    }

    /// [`ContactState::compact`], reusing `scratch`'s buffers (what is left in it is garbage).
    pub fn compact_with(&mut self, scratch: &mut Heap) {
        self.compact_after_run(scratch, &crate::value::EMPTY_HEAP);
    }

    /// [`ContactState::compact_with`] straight after [`crate::Vm::run_borrowing`]: what the
    /// contact keeps from the run's `input` is copied onto its heap with the rest, string by
    /// string, and the state no longer refers to the input.
    pub fn compact_after_run(&mut self, scratch: &mut Heap, input: &Heap) {
        std::mem::swap(&mut self.heap, scratch);
        self.heap.clear();
        for v in self.attrs.iter_mut().chain(self.triggers.iter_mut().flatten()) {
            *v = self.heap.copy_value_from(scratch, input, *v);
        }
    }

    /// Moves onto the contact's heap the strings and lists its attributes and trigger fields
    /// still take from the input of the run that just ended (see [`crate::value::INPUT_BIT`]):
    /// during a run they are read in place; at its end, when anything kept points into the
    /// input, the input's heap is copied over in one go (sequential copies of a cold heap cost
    /// far less than fetching its strings one by one) and those values are renumbered.
    pub fn persist(&mut self, input: &Heap) {
        let from_input = |v: &Value| matches!(v, Value::Str(id) | Value::List(id) if id & CONST_BIT == 0 && id & INPUT_BIT != 0);
        let kept = || self.attrs.iter().chain(self.triggers.iter().flatten());
        if !kept().any(from_input) && !self.heap.has_input_items() {
            return;
        }
        let offsets = self.heap.absorb_input(input);
        for v in self.attrs.iter_mut().chain(self.triggers.iter_mut().flatten()) {
            *v = v.rebase_input(offsets);
        }
    }

    /// Copies onto the contact's heap the program constants its attributes and trigger fields
    /// hold (a `set` of a literal string or list), for a snapshot: a changed project numbers
    /// its constants differently, and the state must read the same under it.
    pub fn own_constants(&mut self, program: &Program) {
        let holds = |v: &Value| matches!(v, Value::Str(id) | Value::List(id) if id & CONST_BIT != 0);
        if !self.attrs.iter().chain(self.triggers.iter().flatten()).any(holds) && !self.heap.has_constant_items() {
            return;
        }
        self.heap.own_constant_items(program);
        for v in self.attrs.iter_mut().chain(self.triggers.iter_mut().flatten()) {
            *v = self.heap.own_constant(program, *v);
        }
    }

    /// Whether a state read from a snapshot can be run: its heap consistent and every string
    /// and list its values name on it — or, with `constants` (the program's string and list
    /// constant counts, when the project is the one that wrote the snapshot), a constant of it.
    /// The lengths and slots are checked against the snapshot's shapes by its reader.
    pub fn check_heap(&self, constants: Option<(usize, usize)>) -> Result<(), String> {
        self.heap.check(constants.map(|c| c.0))?;
        for v in self.attrs.iter().chain(self.triggers.iter().flatten()) {
            self.heap.check_value(*v, constants)?;
        }
        Ok(())
    }

    /// Makes this the state of a contact never seen, keeping the allocations (the batch runner
    /// reuses one state per thread instead of allocating one per contact).
    pub fn reset(&mut self, program: &Program) {
        fn refill<T: Clone>(v: &mut Vec<T>, len: usize, value: T) {
            if v.len() == len {
                // Not even called when empty: a zero fill becomes `memset`, whose wide-register
                // version costs more per contact than the rest of a small program's run.
                if !v.is_empty() {
                    v.fill(value);
                }
            } else {
                v.clear();
                v.resize(len, value);
            }
        }
        refill(&mut self.attrs, program.attributes.len(), Value::Absent);
        self.heap.clear();
        refill(&mut self.slots, program.journeys.len(), Slot::default());
        refill(&mut self.pred_count, program.predicates.len(), 0);
        refill(&mut self.pred_last, program.predicates.len(), i64::MIN);
        self.triggers.resize_with(program.journeys.len(), Vec::new);
        self.triggers.iter_mut().for_each(Vec::clear);
        self.sent.iter_mut().for_each(Vec::clear);
        self.seen = false;
        self.reschedule_at = None;
    }

    pub fn new(program: &Program) -> Self {
        ContactState {
            attrs: vec![Value::Absent; program.attributes.len()],
            heap: Heap::default(),
            slots: vec![Slot::default(); program.journeys.len()],
            pred_count: vec![0; program.predicates.len()],
            pred_last: vec![i64::MIN; program.predicates.len()],
            triggers: vec![Vec::new(); program.journeys.len()],
            sent: [Vec::new(), Vec::new(), Vec::new()],
            seen: false,
            reschedule_at: None,
        }
    }
}

/// Where a record's values are in its [`ContactInput`]: `len` of them from `start`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    /// The values at `start..end` of their array.
    pub fn between(start: usize, end: usize) -> Span {
        Span { start: start as u32, len: end.saturating_sub(start) as u32 }
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start as usize).saturating_add(self.len as usize)
    }
}

/// What a record does. Its values are not in the record but in its input's arrays
/// ([`ContactInput::traits`], [`ContactInput::fields`]): a cohort of millions of records holds
/// three allocations per contact, not one per record, and a run reads them in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RecordKind {
    /// Attribute values to merge (`Value::None` clears an optional attribute).
    Identify(Span),
    Track {
        event: u32,
        fields: Span,
    },
    /// Manual exit from a journey.
    Exit {
        journey: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Record {
    pub at: i64,
    /// Input order (file position in `--input`, then line): breaks ties between equal instants.
    pub seq: u64,
    pub kind: RecordKind,
}

/// One contact's records for a window, sorted by (instant, input order), with the strings and
/// values they reference.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactInput {
    pub heap: Heap,
    pub records: Vec<Record>,
    /// The (attribute, value) pairs of `identify` records.
    pub trait_values: Vec<(u32, Value)>,
    /// The field values of `track` records, in the event's field order.
    pub field_values: Vec<Value>,
}

/// How much a [`ContactInput`] held at some point (see [`ContactInput::truncate`]).
#[derive(Clone, Copy, Debug)]
pub struct InputMark {
    heap: (usize, usize),
    records: usize,
    traits: usize,
    fields: usize,
}

impl ContactInput {
    /// The (attribute, value) pairs of an `identify` record; empty when out of range.
    #[inline]
    pub fn traits(&self, span: Span) -> &[(u32, Value)] {
        self.trait_values.get(span.range()).unwrap_or(&[])
    }

    /// The field values of a `track` record; empty when out of range.
    #[inline]
    pub fn fields(&self, span: Span) -> &[Value] {
        self.field_values.get(span.range()).unwrap_or(&[])
    }

    /// Appends (attribute, value) pairs; returns where they are.
    pub fn add_traits(&mut self, traits: impl IntoIterator<Item = (u32, Value)>) -> Span {
        let start = self.trait_values.len();
        self.trait_values.extend(traits);
        Span::between(start, self.trait_values.len())
    }

    /// Appends field values; returns where they are.
    pub fn add_fields(&mut self, fields: impl IntoIterator<Item = Value>) -> Span {
        let start = self.field_values.len();
        self.field_values.extend(fields);
        Span::between(start, self.field_values.len())
    }

    /// `record` of `from`, with its strings and values copied into this input (not pushed).
    pub fn copy_record(&mut self, from: &ContactInput, record: &Record) -> Record {
        let heap = &mut self.heap;
        let kind = match record.kind {
            RecordKind::Identify(span) => {
                let start = self.trait_values.len();
                self.trait_values.extend(from.traits(span).iter().map(|&(attr, value)| (attr, heap.copy_value(&from.heap, value))));
                RecordKind::Identify(Span::between(start, self.trait_values.len()))
            }
            RecordKind::Track { event, fields } => {
                let start = self.field_values.len();
                self.field_values.extend(from.fields(fields).iter().map(|&value| heap.copy_value(&from.heap, value)));
                RecordKind::Track { event, fields: Span::between(start, self.field_values.len()) }
            }
            exit @ RecordKind::Exit { .. } => exit,
        };
        Record { kind, ..*record }
    }

    /// What this input holds now, to go back to with [`ContactInput::truncate`].
    pub fn mark(&self) -> InputMark {
        InputMark {
            heap: (self.heap.string_count(), self.heap.list_count()),
            records: self.records.len(),
            traits: self.trait_values.len(),
            fields: self.field_values.len(),
        }
    }

    /// Drops what was added after `mark` — what a decoder that gave up half-way had added.
    pub fn truncate(&mut self, mark: InputMark) {
        self.heap.truncate(mark.heap);
        self.records.truncate(mark.records);
        self.trait_values.truncate(mark.traits);
        self.field_values.truncate(mark.fields);
    }

    /// Empties the input, keeping its allocations.
    pub fn clear(&mut self) {
        self.heap.clear();
        self.records.clear();
        self.trait_values.clear();
        self.field_values.clear();
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trigger {
    Event(u32),
    When,
    At,
    Every,
    Enroll(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Goal(u32),
    ExitOn(u32),
    Limit,
    Manual,
    Completed,
    Error,
    Migrated,
    /// `exit` (bare) or `exit "reason"`: the operation at this index of the journey's code
    /// (a [`journey_bytecode::StepOp::Exit`]) names the reason; nothing is copied.
    ExitStep(u32),
    /// A migration's `exit "reason"` for a removed step: the migration at this index of the
    /// journey's `migrate` names the reason.
    Migration(u32),
}

/// One field of a send. A constant template is not rendered nor copied: the field names the
/// program's string. A rendered one is a span of its run's [`Rendered::text`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field {
    /// `program.strings[i]`.
    Const(u32),
    /// `text[start..start + len]` of the run's [`Rendered`].
    Text { start: u32, len: u32 },
}

/// Where a send's fields are in its run's [`Rendered::fields`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FieldSpan {
    pub start: u32,
    pub len: u32,
}

/// The fields of a run's sends, back to back, and the text of the rendered ones: a run appends
/// to two buffers reused from contact to contact instead of allocating for every send.
#[derive(Debug, Default, PartialEq)]
pub struct Rendered {
    fields: Vec<Field>,
    text: String,
}

// By hand, for `clone_from`: copying into a buffer that has room reuses it (the derived one
// allocates afresh).
impl Clone for Rendered {
    fn clone(&self) -> Self {
        Rendered { fields: self.fields.clone(), text: self.text.clone() }
    }

    fn clone_from(&mut self, source: &Self) {
        self.fields.clone_from(&source.fields);
        self.text.clone_from(&source.text);
    }
}

impl Rendered {
    /// A send's fields, in the message's field order (none for a span out of range).
    pub fn fields(&self, span: FieldSpan) -> &[Field] {
        self.fields.get(span.start as usize..(span.start as usize).saturating_add(span.len as usize)).unwrap_or(&[])
    }

    /// A field's text (empty for a span out of range).
    pub fn text<'a>(&'a self, program: &'a Program, field: &Field) -> &'a str {
        match *field {
            Field::Const(i) => program.strings.get(i as usize).map_or("", String::as_str),
            Field::Text { start, len } => self.text.get(start as usize..(start as usize).saturating_add(len as usize)).unwrap_or(""),
        }
    }

    /// A send's fields' texts, in order.
    pub fn texts<'a>(&'a self, program: &'a Program, span: FieldSpan) -> impl Iterator<Item = &'a str> + 'a {
        self.fields(span).iter().map(move |f| self.text(program, f))
    }

    /// Where the next field goes (see [`Rendered::rollback`]).
    pub(crate) fn mark(&self) -> (usize, usize) {
        (self.fields.len(), self.text.len())
    }

    /// Drops what came after `mark` (a send that failed halfway).
    pub(crate) fn rollback(&mut self, (fields, text): (usize, usize)) {
        self.fields.truncate(fields);
        self.text.truncate(text);
    }

    /// Drops the text of `field`, the last text rendered (a rendering given up halfway).
    pub(crate) fn forget_text(&mut self, field: Field) {
        if let Field::Text { start, .. } = field {
            self.text.truncate(start as usize);
        }
    }

    pub(crate) fn push(&mut self, field: Field) {
        self.fields.push(field);
    }

    /// The span of the fields pushed since `mark`.
    pub(crate) fn span_since(&self, (fields, _): (usize, usize)) -> FieldSpan {
        FieldSpan { start: fields as u32, len: (self.fields.len() - fields) as u32 }
    }

    /// The text buffer, to render into (its end is where the next field's text starts).
    pub(crate) fn text_mut(&mut self) -> &mut String {
        &mut self.text
    }

    /// Appends `s` to the text, as a field (of no send: an error's reason).
    pub(crate) fn add_text(&mut self, s: &str) -> Field {
        let start = self.text.len();
        self.text.push_str(s);
        Field::Text { start: start as u32, len: s.len() as u32 }
    }

    fn clear(&mut self) {
        self.fields.clear();
        self.text.clear();
    }
}

/// A contact's actions from a run, in the order they happened, with their sends' fields.
#[derive(Debug, Default, PartialEq)]
pub struct Actions {
    list: Vec<Action>,
    pub rendered: Rendered,
}

// By hand, for `clone_from`, as [`Rendered`].
impl Clone for Actions {
    fn clone(&self) -> Self {
        Actions { list: self.list.clone(), rendered: self.rendered.clone() }
    }

    fn clone_from(&mut self, source: &Self) {
        self.list.clone_from(&source.list);
        self.rendered.clone_from(&source.rendered);
    }
}

impl std::ops::Deref for Actions {
    type Target = [Action];
    fn deref(&self) -> &[Action] {
        &self.list
    }
}

impl<'a> IntoIterator for &'a Actions {
    type Item = &'a Action;
    type IntoIter = std::slice::Iter<'a, Action>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl Actions {
    pub fn new() -> Self {
        Actions::default()
    }

    /// Appends an action; a send's fields must already be in `rendered` (the run puts them
    /// there), any other action has none (a migration's exit, say).
    pub fn push(&mut self, action: Action) {
        self.list.push(action);
    }

    pub fn clear(&mut self) {
        self.list.clear();
        self.rendered.clear();
    }
}

/// Plain data, every part of it (texts are in the run's [`Actions::rendered`] or the program):
/// clearing a run's actions for the next contact frees nothing and looks at none of them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActionKind {
    Enter {
        trigger: Trigger,
        holdout: bool,
    },
    Send {
        message: u32,
        /// Its fields, in the message's field order, in the run's [`Actions::rendered`].
        fields: FieldSpan,
    },
    /// A send, sync or webhook replaced for the control group.
    HeldOut(Held),
    Suppressed {
        message: u32,
    },
    /// A split or experiment arm: arm `arm` of the operation at `pc` of the journey's code
    /// (see [`crate::output::assignment`] for the names).
    Assign {
        pc: u32,
        arm: u32,
    },
    Set {
        attribute: u32,
        /// The value as JSON, in the run's [`Actions::rendered`].
        value: Field,
    },
    Sync {
        audience: u32,
        add: bool,
    },
    Webhook {
        webhook: u32,
    },
    Error {
        /// Why, in the run's [`Actions::rendered`].
        reason: Field,
    },
    Exit {
        reason: Reason,
    },
}

/// What a control-group contact would have got (see [`ActionKind::HeldOut`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Held {
    Send { message: u32, fields: FieldSpan },
    Sync { audience: u32, add: bool },
    Webhook { webhook: u32 },
}

impl Held {
    /// The action held out.
    pub fn kind(self) -> ActionKind {
        match self {
            Held::Send { message, fields } => ActionKind::Send { message, fields },
            Held::Sync { audience, add } => ActionKind::Sync { audience, add },
            Held::Webhook { webhook } => ActionKind::Webhook { webhook },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Action {
    pub at: i64,
    pub journey: u32,
    pub step: Option<u32>,
    pub kind: ActionKind,
}

/// Per-run options (tests turn holdouts off and force experiment arms).
#[derive(Clone, Debug)]
pub struct Options {
    pub holdouts: bool,
    /// (experiment, arm) pairs forced for the contact being run.
    pub forced_arms: Vec<(String, String)>,
    /// Let recurring entries go dormant (see `Slot::dormant`). Only the test that checks
    /// dormancy changes nothing turns it off.
    pub dormancy: bool,
    /// Evaluate the common expression shapes directly (see `fast.rs`). Only the tests that
    /// check the direct path agrees with the expression machine turn it off.
    pub direct: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { holdouts: true, forced_arms: Vec::new(), dormancy: true, direct: true }
    }
}

/// One line of a contact's timeline, for `journey explain`.
#[derive(Clone, Debug, PartialEq)]
pub enum Trace {
    /// An input record (index into the contact's sorted records).
    Record { at: i64, index: usize },
    /// A timer fired in a journey: `what` is `wait` (a wait is over), `timeout` (the window of a
    /// `wait for` or `wait until … within` closed), `quiet` (quiet hours that held a send are
    /// over), `limit`, `schedule` (a scheduled entry).
    Timer { at: i64, journey: u32, what: &'static str },
    /// A send was held by quiet hours until `until` (then the `quiet` timer fires).
    Held { at: i64, journey: u32, message: u32, until: i64 },
    /// A condition was tested: its expression, the result, and the attribute values it read.
    Condition { at: i64, journey: Option<u32>, expr: u32, result: Result<bool, String>, reads: Vec<(u32, String)> },
    /// An action was emitted (index into the actions of this run).
    Action(usize),
}

#[cfg(test)]
mod input_tests {
    use super::*;

    /// A chunk input holding garbage before the record, so copied spans must be renumbered.
    fn chunk() -> (ContactInput, Record, Record) {
        let mut chunk = ContactInput::default();
        chunk.heap.add_string("garbage");
        chunk.add_fields([Value::Int(7)]);
        chunk.add_traits([(9, Value::Bool(true))]);
        let s = chunk.heap.add_string("web");
        let a = chunk.heap.add_string_id("x");
        let b = chunk.heap.add_string_id("y");
        let list = chunk.heap.add_list(&[a, b]);
        let fields = chunk.add_fields([s, Value::Int(3), list]);
        let track = Record { at: 5, seq: 1, kind: RecordKind::Track { event: 2, fields } };
        let traits = chunk.add_traits([(0, Value::Float(1.5)), (4, s)]);
        let identify = Record { at: 6, seq: 2, kind: RecordKind::Identify(traits) };
        (chunk, track, identify)
    }

    fn show(input: &ContactInput, record: &Record) -> String {
        let text = |v: &Value| match *v {
            Value::Str(id) => format!("{:?}", input.heap.str(id)),
            Value::List(id) => format!("{:?}", input.heap.list(id).iter().map(|&i| input.heap.str(i)).collect::<Vec<_>>()),
            other => format!("{other:?}"),
        };
        match record.kind {
            RecordKind::Identify(span) => input.traits(span).iter().map(|(a, v)| format!("{a}={}", text(v))).collect::<Vec<_>>().join(" "),
            RecordKind::Track { event, fields } => format!("{event}: {}", input.fields(fields).iter().map(text).collect::<Vec<_>>().join(" ")),
            RecordKind::Exit { journey } => format!("exit {journey}"),
        }
    }

    #[test]
    fn copied_records_read_the_same_from_their_new_input() {
        let (chunk, track, identify) = chunk();
        assert_eq!(show(&chunk, &track), r#"2: "web" Int(3) ["x", "y"]"#);
        assert_eq!(show(&chunk, &identify), r#"0=Float(1.5) 4="web""#);
        let mut contact = ContactInput::default();
        contact.heap.add_string("already here");
        contact.add_fields([Value::Int(1), Value::Int(2)]);
        for record in [&track, &identify, &Record { at: 7, seq: 3, kind: RecordKind::Exit { journey: 1 } }] {
            let copied = contact.copy_record(&chunk, record);
            assert_eq!((copied.at, copied.seq), (record.at, record.seq));
            assert_eq!(show(&contact, &copied), show(&chunk, record));
        }
    }

    #[test]
    fn truncate_drops_exactly_what_came_after_the_mark() {
        let (mut chunk, track, identify) = chunk();
        let mark = chunk.mark();
        let before = chunk.clone();
        chunk.heap.add_string("half-decoded");
        chunk.add_fields([Value::Int(1)]);
        chunk.add_traits([(1, Value::None)]);
        chunk.records.push(track);
        chunk.truncate(mark);
        assert_eq!(chunk, before);
        assert_eq!(show(&chunk, &identify), r#"0=Float(1.5) 4="web""#);
    }

    #[test]
    fn spans_out_of_range_read_as_empty() {
        let (chunk, _, _) = chunk();
        assert!(chunk.fields(Span { start: 2, len: 100 }).is_empty());
        assert!(chunk.traits(Span { start: u32::MAX, len: u32::MAX }).is_empty());
        assert_eq!(chunk.fields(Span { start: 1, len: 3 }).len(), 3);
    }
}

#[cfg(test)]
mod rendered_tests {
    use super::*;

    #[test]
    fn fields_read_back_and_a_rollback_forgets_a_half_rendered_send() {
        let program = Program {
            strings: vec!["welcome-1".into()],
            constants: Vec::new(),
            attributes: Vec::new(),
            enums: Vec::new(),
            events: Vec::new(),
            messages: Vec::new(),
            audiences: Vec::new(),
            webhooks: Vec::new(),
            predicates: Vec::new(),
            policy: journey_bytecode::Policy { timezone: None, quiet_hours: None, caps: Vec::new() },
            journeys: Vec::new(),
            code: Vec::new(),
            templates: Vec::new(),
            loop_slots: 0,
            fingerprint: 0,
            expr_text: Vec::new(),
        };
        let mut actions = Actions::new();
        let r = &mut actions.rendered;
        let mark = r.mark();
        r.text_mut().push_str("Hi Ana");
        r.push(Field::Text { start: 0, len: 6 });
        r.push(Field::Const(0));
        let first = r.span_since(mark);
        // A second send fails after its first field: nothing of it stays.
        let mark = r.mark();
        r.text_mut().push_str("half");
        r.push(Field::Text { start: 6, len: 4 });
        r.rollback(mark);
        let mark = r.mark();
        r.text_mut().push_str("Bye");
        r.push(Field::Text { start: 6, len: 3 });
        let second = r.span_since(mark);
        assert_eq!(actions.rendered.texts(&program, first).collect::<Vec<_>>(), ["Hi Ana", "welcome-1"]);
        assert_eq!(actions.rendered.texts(&program, second).collect::<Vec<_>>(), ["Bye"]);
        // Out of range (never made by a run) reads as nothing, not a panic.
        assert!(actions.rendered.fields(FieldSpan { start: 2, len: 9 }).is_empty());
        assert_eq!(actions.rendered.text(&program, &Field::Text { start: 7, len: 90 }), "");
        assert_eq!(actions.rendered.text(&program, &Field::Const(5)), "");
        actions.push(Action { at: 1, journey: 0, step: None, kind: ActionKind::Send { message: 0, fields: first } });
        assert_eq!(actions.len(), 1);
        actions.clear();
        assert!(actions.is_empty() && actions.rendered.fields(first).is_empty());
    }
}
