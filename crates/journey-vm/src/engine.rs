//! The engine: moves one contact through every journey of a program, in time order, with the
//! semantics of LANGUAGE.md §4 and §7.
//!
//! Per contact the state is flat: one [`Slot`] per journey (where the contact is, when it wakes),
//! a counter and last-seen time per behaviour predicate, the attribute values, and a small heap
//! for strings. The main loop alternates between due timers and input records: timers due at an
//! instant fire before records with the same timestamp; on each record, for each journey in
//! priority order, the engine tests exit triggers, then goals, then the waiting step, then entry
//! triggers, and finally re-tests conditions changed by `set` (at most 16 rounds).

use crate::clock::Clocks;
use crate::eval::{Env, EvalError, Machine, next_yearly};
use crate::flow::FlowCounts;
use crate::tables::{Deps, READS_ALWAYS, Tables, attr_bit, pred_bit};
use crate::value::{Strings, Value};
use chrono_tz::Tz;
use faults::{Clause, Faults};
use journey_bytecode::{EntryKind, GoalKind, Program, Reentry, StepOp, bucket};

pub use crate::state::*;

mod faults;
mod records;
mod schedule;
mod steps;
mod timers;

const HOLDOUT: u8 = 1;
const QUIET_HELD: u8 = 2;
const MAX_ROUNDS: u32 = 16;
const MAX_DEPTH: u32 = 16;
const STEP_BUDGET: u32 = 100_000;
/// Timer firings per contact per run before each journey's are counted, and then per journey.
/// A sensible project fires a few per day; a recurring entry of seconds (`every 1s`, which the
/// checker warns about: J0210) or a hostile `.jbc` (a 1 ms interval, a zero wait in a loop)
/// gets there, and then a journey firing this many more stops its timers for the run with an
/// `error` — the contact's other journeys go on — instead of running the machine out of time
/// or memory. Until the contact's run gets there, nothing is counted per journey: a run that
/// stays under it (every sensible one) pays nothing for the check.
const TIMER_BUDGET: u32 = 250_000;
/// Step operations per contact per run, for the same reason (a compiled project runs tens).
const RUN_STEP_BUDGET: u32 = 5_000_000;

/// The interpreter for one program. Reusable across contacts; not shared across threads (each
/// thread makes its own — it is cheap).
pub struct Vm<'p> {
    pub program: &'p Program,
    machine: Machine,
    /// What the engine works out from the program once (see [`crate::tables`]).
    tables: Tables,
    /// The time zone names seen so far and their zones (the contacts of a batch share a few):
    /// a contact's zone is looked up here rather than parsed again.
    zones: Zones,
    pub options: Options,
    /// Clock-time occurrences per zone, shared by the contacts this VM runs (see
    /// [`crate::clock`]).
    clocks: Clocks,
    /// Per journey, the contact's next timer there (wait, limit or scheduled entry; see
    /// [`due_of`]), kept up to date wherever one changes: finding the next timer, and the
    /// journeys it is due in, reads this one array instead of every slot.
    due: Vec<i64>,
    /// The least of `due`, unless `due_stale`: the journey holding it moved its timer later,
    /// and the least must be looked for again.
    due_min: i64,
    due_stale: bool,
    /// Per journey, once a contact's run is past [`TIMER_BUDGET`] timers: the timers it fired
    /// since, and the instant of the first of them.
    fired: Vec<(u32, i64)>,
    /// Timers fired (waits ending, limits, scheduled entries), across all contacts run so far.
    pub timers: u64,
    /// Every move of a contact along a journey's flow, counted (steps, edges, transitions).
    flow: FlowCounts,
    /// When set, every record, timer and condition is recorded here (`journey explain`).
    pub trace: Option<Vec<Trace>>,
    /// Conditions that could not be evaluated (see [`Vm::condition_errors`]).
    faults: Faults,
}

impl<'p> Vm<'p> {
    pub fn new(program: &'p Program) -> Self {
        let tables = Tables::new(program);
        Vm {
            program,
            machine: Machine::default(),
            tables,
            zones: Zones::default(),
            options: Options::default(),
            clocks: Clocks::default(),
            due: Vec::new(),
            due_min: i64::MAX,
            due_stale: true,
            fired: Vec::new(),
            timers: 0,
            flow: FlowCounts::new(program),
            trace: None,
            faults: Faults::default(),
        }
    }

    /// Steps executed (LANGUAGE.md §7: "a transition is one step executed for one contact"),
    /// across all contacts run so far; a step compiled to several operations counts once.
    pub fn transitions(&self) -> u64 {
        self.flow.transitions()
    }

    /// Per time zone name that names no IANA zone, how many of the contacts run so far had it
    /// (and were evaluated in UTC), in the order first met.
    pub fn unknown_zones(&self) -> &[(String, u64)] {
        &self.zones.unknown
    }

    /// Conditions that could not be evaluated — in an entry's, exit's, goal's, wait's or
    /// counter's condition, or a scheduled entry's instant — other than for a missing attribute:
    /// per place and reason (`"<journey>: <clause>: <reason>"`), how many of the contacts run so
    /// far met it (each contact once), in the order first met. Each counted as false.
    pub fn condition_errors(&self) -> impl Iterator<Item = (&str, u64)> {
        self.faults.counts()
    }

    /// Per journey, per step: how many times a contact entered it, across all contacts run so
    /// far (for metrics).
    pub fn step_hits(&self) -> Vec<Vec<u64>> {
        self.flow.step_hits()
    }

    /// Per journey, per edge of [`journey_bytecode::Journey::flow_edges`]: how many times a
    /// contact went along it, across all contacts run so far (for metrics and the report).
    pub fn edge_hits(&self) -> Vec<Vec<u64>> {
        self.flow.edge_hits()
    }

    /// Runs one contact's records (sorted by instant, then input order) up to `until`
    /// (exclusive), appending its actions to `out`. Timers due at or after `until` stay pending
    /// in `state` for the next run.
    pub fn run(&mut self, contact: &str, state: &mut ContactState, input: &ContactInput, until: i64, out: &mut Actions) {
        self.run_borrowing(contact, state, input, until, out);
        // What the contact keeps must not point into the input, which the caller drops.
        state.persist(&input.heap);
    }

    /// [`Vm::run`], except that the state may still read strings of `input` afterwards (the
    /// attribute values and trigger fields it took from the records): before the state is used
    /// with anything but `input`, call [`ContactState::persist`] or
    /// [`ContactState::compact_after_run`] with it, or [`ContactState::reset`]. This is for a
    /// caller that throws the state away or encodes it right after the run (the batch runner):
    /// it then copies nothing, or only the strings the snapshot keeps. (Used otherwise, the
    /// state reads those strings as empty: wrong, but never unsafe.)
    pub fn run_borrowing(&mut self, contact: &str, state: &mut ContactState, input: &ContactInput, until: i64, out: &mut Actions) {
        warm(input, self.tables.reads_strings);
        self.faults.runs += 1;
        self.due.clear();
        self.due.extend(state.slots.iter().enumerate().map(|(j, slot)| due_of(slot, self.tables.limit(j))));
        self.due_stale = true;
        let mut run = Run {
            vm: self,
            contact,
            input,
            st: state,
            out,
            dirty: false,
            depth: 0,
            tz: None,
            last_set_journey: 0,
            changed: 0,
            set_attrs: 0,
            first: false,
            test_mask: Deps::MAX,
            steps_left: RUN_STEP_BUDGET,
            zone_counted: false,
        };
        if let Some(at) = run.st.reschedule_at.take() {
            run.reschedule(at);
        }
        let mut next = 0;
        let mut timers = 0u32;
        let mut timer_at = run.next_timer();
        loop {
            let record_at = input.records.get(next).map_or(i64::MAX, |r| r.at);
            if record_at.min(timer_at) >= until {
                break;
            }
            if timer_at <= record_at {
                timers = timers.saturating_add(1);
                if timers <= TIMER_BUDGET {
                    run.fire_timers::<false>(timer_at);
                    run.settle(timer_at);
                } else if timers <= TIMER_BUDGET.saturating_mul(run.st.slots.len() as u32 + 2) {
                    // Past the budget, each journey's timers are counted from here on.
                    if timers == TIMER_BUDGET + 1 {
                        run.vm.fired.clear();
                        run.vm.fired.resize(run.st.slots.len(), (0, 0));
                    }
                    run.fire_timers::<true>(timer_at);
                    run.settle(timer_at);
                } else {
                    // A backstop: every journey stops at its own budget before this, so only
                    // timers that fire nothing could get here.
                    run.stop_timers(timer_at);
                }
                timer_at = run.next_timer();
            } else {
                if let Some(record) = input.records.get(next) {
                    run.trace(|| Trace::Record { at: record.at, index: next });
                    run.record(*record);
                    // Exact and cheap: the least of `Vm::due`, looked for again only when the
                    // journey holding it moved its timer later.
                    timer_at = run.next_timer();
                }
                next += 1;
            }
        }
        run.forget_old_sends(until);
    }
}

/// Time zone names and their zones, as parsed. Parsing looks the name up in a table far too big
/// for the cache (it was 2% of a run's time for 0.3% of its instructions); a batch's contacts
/// name a few zones, found here instead. At most [`Zones::MAX`], replaced in turn once full: a
/// hostile input naming thousands of zones costs parsing, never memory.
#[derive(Default)]
struct Zones {
    /// Each name, its zone, and whether it names one (else the zone is UTC).
    names: Vec<(String, Tz, bool)>,
    /// The entry found last (consecutive contacts often share a zone).
    last: usize,
    /// The entry replaced next once `names` is full.
    next: usize,
    /// Per name that is no IANA zone, the contacts that had it (see [`Vm::unknown_zones`]).
    unknown: Vec<(String, u64)>,
}

impl Zones {
    const MAX: usize = 64;

    /// The zone named `name` (UTC when it is not a valid IANA name), remembered;
    /// and whether the name is one.
    fn get(&mut self, name: &str) -> (Tz, bool) {
        if let Some((n, tz, known)) = self.names.get(self.last)
            && n == name
        {
            return (*tz, *known);
        }
        if let Some(i) = self.names.iter().position(|(n, _, _)| n == name) {
            self.last = i;
            return (self.names[i].1, self.names[i].2);
        }
        let parsed = name.parse::<Tz>().ok();
        let (tz, known) = (parsed.unwrap_or(Tz::UTC), parsed.is_some());
        if self.names.len() < Self::MAX {
            self.last = self.names.len();
            self.names.push((name.to_string(), tz, known));
        } else if let Some(entry) = self.names.get_mut(self.next) {
            // The name's buffer is reused.
            entry.0.clear();
            entry.0.push_str(name);
            (entry.1, entry.2) = (tz, known);
            self.last = self.next;
            self.next = (self.next + 1) % Self::MAX;
        }
        (tz, known)
    }

    /// Counts a contact whose zone is `name`, which names none.
    fn count_unknown(&mut self, name: &str) {
        match self.unknown.iter_mut().find(|(n, _)| n == name) {
            Some((_, count)) => *count += 1,
            None => self.unknown.push((name.to_string(), 1)),
        }
    }
}

/// Starts loading every cache line of `s` into the processor's cache, without waiting for any.
#[inline]
fn prefetch_lines<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = s.as_ptr().cast::<i8>();
        for offset in (0..std::mem::size_of_val(s)).step_by(64) {
            // SAFETY: a prefetch never faults and reads nothing into the program: it is only a
            // hint to the cache, valid for any address (here, within `s`). It is `unsafe` only
            // for its target feature, SSE, which every x86_64 processor has.
            #[allow(unsafe_code)]
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(start.wrapping_add(offset));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

impl Vm<'_> {
    /// Starts loading `input` (the contact run next) into the processor's cache, to be called
    /// before running the current one: a cohort does not fit in cache, and a contact's records
    /// otherwise arrive from memory when its run starts, while the processor waits. (Its
    /// strings and lists too when the program reads string or list attributes.) A hint: it
    /// changes nothing else.
    pub fn prefetch(&self, input: &ContactInput) {
        prefetch_input(input, self.tables.reads_strings);
    }
}

/// [`Vm::prefetch`] without a VM: `input`'s records and values, and its strings and lists if
/// `strings` (without the lists, `"newsletter" in contact.lists` waited on memory for each
/// contact: 2% of the examples' time, 3% with what else reads lists).
pub fn prefetch_input(input: &ContactInput, strings: bool) {
    prefetch_lines(&input.records);
    prefetch_lines(&input.trait_values);
    prefetch_lines(&input.field_values);
    if strings {
        let (text, spans, items, lists) = input.heap.parts();
        prefetch_lines(text);
        prefetch_lines(spans);
        prefetch_lines(items);
        prefetch_lines(lists);
    }
}

/// Reads one value in each cache line of the contact's records and values, before the run
/// needs any of them. The reads do not depend on each other, so the processor has them all
/// under way at once; the run itself would reach them one at a time, waiting for each line in
/// turn. A cohort does not fit in cache: this takes 6–10% off a run (`benches/vm_count.rs`,
/// the examples and the reference journey). The strings and lists are warmed too when the
/// program reads string or list attributes (`strings`): that takes another 4–7% off the examples, but costs a
/// program that reads none (the reference journey) 20%.
#[inline]
fn warm(input: &ContactInput, strings: bool) {
    // Records are 32 bytes, traits 24, field values 16: these steps touch every 64-byte line.
    let mut x = 0i64;
    for record in input.records.iter().step_by(2) {
        x ^= record.at;
    }
    for (attr, _) in input.trait_values.iter().step_by(2) {
        x ^= i64::from(*attr);
    }
    for value in input.field_values.iter().step_by(4) {
        x ^= i64::from(matches!(value, Value::None));
    }
    if strings {
        x ^= input.heap.touch();
    }
    std::hint::black_box(x);
}

struct Run<'a, 'p> {
    vm: &'a mut Vm<'p>,
    contact: &'a str,
    /// The records being run, with their strings (values from records carry `INPUT_BIT`)
    /// and values.
    input: &'a ContactInput,
    st: &'a mut ContactState,
    out: &'a mut Actions,
    /// A `set` happened: conditions must be re-tested at this instant.
    dirty: bool,
    depth: u32,
    tz: Option<Tz>,
    last_set_journey: u32,
    /// What changed since schedules were last computed (attribute and predicate bits; see
    /// [`crate::tables::Deps`]).
    changed: Deps,
    /// The attributes `set` since conditions were last re-tested (with `dirty`).
    set_attrs: Deps,
    /// This record is the contact's first: scheduled entries start now.
    first: bool,
    /// Which inputs changed with the record being processed: conditions reading none of them
    /// are not re-tested. `Deps::MAX` outside record processing (test everything).
    test_mask: Deps,
    /// What is left of [`RUN_STEP_BUDGET`].
    steps_left: u32,
    /// The contact's zone was counted as naming none (see [`Vm::unknown_zones`]).
    zone_counted: bool,
}

/// When the contact's next timer in a journey is due: its wait or limit while active, its next
/// scheduled entry in any case.
#[inline]
fn due_of(slot: &Slot, limit: i64) -> i64 {
    let active = if slot.status == ACTIVE { slot.wake_at.min(slot.entered_at.saturating_add(limit)) } else { i64::MAX };
    active.min(slot.scheduled_at)
}

/// The least of `due` (`i64::MAX` when empty), in four independent lanes: looked for again at
/// nearly every timer, and a single chain of minimums waits on each step in turn.
#[inline]
fn least(due: &[i64]) -> i64 {
    let mut lanes = [i64::MAX; 4];
    let mut chunks = due.chunks_exact(4);
    for chunk in &mut chunks {
        for (lane, &t) in lanes.iter_mut().zip(chunk) {
            *lane = (*lane).min(t);
        }
    }
    for (lane, &t) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane = (*lane).min(t);
    }
    lanes[0].min(lanes[1]).min(lanes[2].min(lanes[3]))
}

fn in_quiet(minute: u32, start: u32, end: u32) -> bool {
    if start <= end { minute >= start && minute < end } else { minute >= start || minute < end }
}

impl Run<'_, '_> {
    /// The value of expression `at` when it has one of the shapes evaluated directly
    /// ([`crate::fast`]) and the direct path is sure of it.
    #[inline]
    fn fast(&self, at: u32, now: i64, journey: Option<usize>, event: Option<&[Value]>) -> Option<Value> {
        if !self.vm.options.direct {
            return None;
        }
        let (kernel, shape) = self.vm.tables.fast.with_kernel(at)?;
        if let Some(v) = kernel.value(&self.kernel_state(now, event)) {
            return Some(v);
        }
        shape.eval(&self.direct_inputs(now, journey, event), &self.strings())
    }

    /// What a kernel reads (see [`crate::fast::Kernel`]).
    #[inline]
    fn kernel_state<'s>(&'s self, now: i64, event: Option<&'s [Value]>) -> crate::fast::State<'s> {
        let st = &*self.st;
        crate::fast::State { attrs: &st.attrs, pred_count: &st.pred_count, pred_last: &st.pred_last, event, now }
    }

    /// What the direct path reads for `journey`'s expressions at `now`.
    #[inline]
    fn direct_inputs<'s>(&'s self, now: i64, journey: Option<usize>, event: Option<&'s [Value]>) -> crate::fast::Inputs<'s> {
        let st = &*self.st;
        crate::fast::Inputs {
            state: self.kernel_state(now, event),
            trigger: journey.and_then(|j| st.triggers.get(j)).map_or(&[], Vec::as_slice),
            tz: self.tz,
        }
    }

    /// Renders the template starting at `at` into `out` without the machine, when it has a
    /// direct rendering and every value in it is the plain case; `false` otherwise (`out` then
    /// holds a partial rendering).
    #[inline]
    fn render_direct(&self, at: u32, now: i64, journey: usize, event: Option<&[Value]>, out: &mut String) -> bool {
        let Some(plan) = self.vm.tables.templates.get(at) else { return false };
        crate::fast::render(plan, &self.direct_inputs(now, Some(journey), event), &self.strings(), out).is_some()
    }

    /// An expression's value: the direct path's inlined, the machine's out of line.
    #[inline]
    fn eval(&mut self, at: u32, now: i64, journey: Option<usize>, event: Option<&[Value]>) -> Result<Value, EvalError> {
        match self.fast(at, now, journey, event) {
            Some(v) => Ok(v),
            None => self.eval_machine(at, now, journey, event),
        }
    }

    #[inline(never)]
    fn eval_machine(&mut self, at: u32, now: i64, journey: Option<usize>, event: Option<&[Value]>) -> Result<Value, EvalError> {
        let tz = self.tz(now);
        self.eval_with_tz(at, now, journey, event, tz)
    }

    fn eval_with_tz(&mut self, at: u32, now: i64, journey: Option<usize>, event: Option<&[Value]>, tz: Tz) -> Result<Value, EvalError> {
        self.with_env(now, journey, event, tz, |machine, env, heap| machine.eval(env, heap, at))
    }

    /// Runs `f` with the expression machine, the environment of `journey`'s expressions at
    /// `now` (the contact's attributes, counters, journey statuses and trigger) and the
    /// contact's heap.
    fn with_env<R>(
        &mut self,
        now: i64,
        journey: Option<usize>,
        event: Option<&[Value]>,
        tz: Tz,
        f: impl FnOnce(&mut crate::eval::Machine, &Env<'_>, &mut crate::value::Heap) -> R,
    ) -> R {
        let vm = &mut *self.vm;
        let st = &mut *self.st;
        let slots = &st.slots;
        let active = |j: u32| slots.get(j as usize).is_some_and(|s| s.status == ACTIVE);
        let trigger: &[Value] = journey.and_then(|j| st.triggers.get(j)).map(Vec::as_slice).unwrap_or(&[]);
        let env = Env {
            program: vm.program,
            attrs: &st.attrs,
            pred_count: &st.pred_count,
            pred_last: &st.pred_last,
            active: &active,
            now,
            event,
            trigger,
            tz,
            input: &self.input.heap,
            fast: if vm.options.direct { &vm.tables.fast } else { &crate::fast::FastTable::NONE },
        };
        f(&mut vm.machine, &env, &mut st.heap)
    }

    /// A condition's value. The usual case — a shape the direct path answers, and no trace to
    /// record — is inlined where conditions are tested; the rest is not.
    #[inline]
    fn condition(&mut self, at: u32, now: i64, journey: Option<usize>, event: Option<&[Value]>) -> Result<bool, EvalError> {
        if self.vm.trace.is_none()
            && let Some(Value::Bool(b)) = self.fast(at, now, journey, event)
        {
            return Ok(b);
        }
        self.condition_otherwise(at, now, journey, event)
    }

    #[inline(never)]
    fn condition_otherwise(&mut self, at: u32, now: i64, journey: Option<usize>, event: Option<&[Value]>) -> Result<bool, EvalError> {
        let result = match self.eval(at, now, journey, event) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(_) => Err(EvalError("condition is not a bool".into())),
            Err(e) => Err(e),
        };
        if self.vm.trace.is_some() {
            let reads = self.reads(at);
            let traced = result.clone().map_err(|e| e.0);
            if let Some(trace) = &mut self.vm.trace {
                trace.push(Trace::Condition { at: now, journey: journey.map(|j| j as u32), expr: at, result: traced, reads });
            }
        }
        result
    }

    /// Strings and lists as the contact sees them during the run.
    fn strings(&self) -> Strings<'_> {
        Strings { program: self.vm.program, heap: &self.st.heap, input: &self.input.heap }
    }

    /// The attributes an expression reads, with their current values (for traces).
    fn reads(&self, at: u32) -> Vec<(u32, String)> {
        let strings = self.strings();
        let mut out: Vec<(u32, String)> = Vec::new();
        for instr in self.vm.program.code.iter().skip(at as usize) {
            match instr {
                journey_bytecode::Instr::Ret => break,
                journey_bytecode::Instr::Attr(a) if !out.iter().any(|(x, _)| x == a) => {
                    let v = self.st.attrs.get(*a as usize).copied().unwrap_or_default();
                    let text = if matches!(v, Value::Absent) { "(never supplied)".to_string() } else { strings.json(v) };
                    let text = match v {
                        Value::Enum(..) | Value::Time(_) | Value::Date(_) | Value::Duration(_) => {
                            let mut s = String::new();
                            strings.render(v, &mut s);
                            s
                        }
                        _ => text,
                    };
                    out.push((*a, text));
                }
                _ => {}
            }
        }
        out
    }

    /// A send held by quiet hours, for `journey explain`: out of line, so that `exec`, which
    /// holds the send, keeps its frame (inlined, it cost every `exec` call 4–11 instructions).
    #[cold]
    #[inline(never)]
    fn trace_held(&mut self, j: usize, message: u32, at: i64, until: i64) {
        self.trace(|| Trace::Held { at, journey: j as u32, message, until });
    }

    /// Records what `event` makes when tracing (`journey explain`); nothing is built otherwise.
    #[inline]
    fn trace(&mut self, event: impl FnOnce() -> Trace) {
        if let Some(trace) = &mut self.vm.trace {
            trace.push(event());
        }
    }

    /// The contact's time zone (policy `timezone`), UTC when none or invalid. Asked for at
    /// every send and clock time, worked out once per contact: the check is inlined, the work
    /// is not.
    #[inline]
    fn tz(&mut self, now: i64) -> Tz {
        match self.tz {
            Some(tz) => tz,
            None => self.find_tz(now),
        }
    }

    #[inline(never)]
    fn find_tz(&mut self, now: i64) -> Tz {
        let tz = match self.vm.program.policy.timezone {
            Some(expr) => match self.fast(expr, now, None, None).map_or_else(|| self.eval_with_tz(expr, now, None, None, Tz::UTC), Ok) {
                Ok(Value::Str(id)) => {
                    let name = Strings { program: self.vm.program, heap: &self.st.heap, input: &self.input.heap }.str(id);
                    let (tz, known) = self.vm.zones.get(name);
                    // An empty name is no zone given; another is counted once per contact.
                    if !known && !name.is_empty() && !self.zone_counted {
                        self.zone_counted = true;
                        self.vm.zones.count_unknown(name);
                    }
                    tz
                }
                Err(e) => {
                    self.fault(Clause::Timezone, None, &e);
                    Tz::UTC
                }
                _ => Tz::UTC,
            },
            None => Tz::UTC,
        };
        self.tz = Some(tz);
        tz
    }

    /// The first instant ≥ `from` at local `minutes` (on `weekday`, when given) in the
    /// contact's zone at `now`: [`crate::eval::next_clock`], remembered.
    fn next_clock(&mut self, now: i64, from: i64, minutes: u32, weekday: Option<u32>) -> i64 {
        let tz = self.tz(now);
        self.vm.clocks.next(tz, from, minutes, weekday)
    }

    /// An `error` action; its reason is kept in the run's text buffer.
    fn emit_error(&mut self, at: i64, journey: usize, step: Option<u32>, reason: &str) {
        let reason = self.out.rendered.add_text(reason);
        self.emit(at, journey, step, ActionKind::Error { reason });
    }

    fn emit(&mut self, at: i64, journey: usize, step: Option<u32>, kind: ActionKind) {
        self.out.push(Action { at, journey: journey as u32, step, kind });
        let index = self.out.len() - 1;
        self.trace(|| Trace::Action(index));
    }

    fn next_timer(&mut self) -> i64 {
        let vm = &mut *self.vm;
        if vm.due_stale {
            vm.due_min = least(&vm.due);
            vm.due_stale = false;
        }
        vm.due_min
    }

    /// Brings [`Vm::due`] up to date after journey `j`'s slot changed a timer.
    #[inline]
    fn retime(&mut self, j: usize) {
        let vm = &mut *self.vm;
        if let (Some(slot), Some(due)) = (self.st.slots.get(j), vm.due.get_mut(j)) {
            let (old, new) = (*due, due_of(slot, vm.tables.limit(j)));
            *due = new;
            if new <= vm.due_min {
                // At or below the least of the others: the new least.
                vm.due_min = new;
                vm.due_stale = false;
            } else if old == vm.due_min {
                vm.due_stale = true;
            }
        }
    }

    /// Whether journey `j`'s `limit` has run out for the contact at `now`.
    fn limit_due(&self, j: usize, now: i64) -> bool {
        let slot = &self.st.slots[j];
        let limit = self.vm.tables.limit(j);
        slot.status == ACTIVE && limit != i64::MAX && slot.entered_at.saturating_add(limit) <= now
    }

    /// The step of the operation at `pc` of journey `j` (`u32::MAX` for none): where a contact
    /// waiting there comes from, in the flow graph.
    fn step_at(&self, j: usize, pc: usize) -> u32 {
        self.vm.tables.step_of(j, pc)
    }

    /// Enrolls the contact, subject to the journey's rules; runs it up to its first wait.
    fn enter(&mut self, j: usize, now: i64, trigger: Trigger, fields: Option<&[Value]>) {
        let program = self.vm.program;
        let journey = &program.journeys[j];
        let slot = self.st.slots[j];
        match slot.status {
            ACTIVE => return,
            LEFT => match journey.reentry {
                Reentry::Never => return,
                Reentry::AfterMs(d) if now < slot.last_exit.saturating_add(d) => return,
                _ => {}
            },
            _ => {}
        }
        if self.depth >= MAX_DEPTH {
            self.emit_error(now, j, None, "enroll chain deeper than 16 journeys");
            return;
        }
        let holdout = self.vm.options.holdouts && journey.holdout > 0 && bucket(self.contact, &journey.name, "holdout") < journey.holdout;
        let slot = &mut self.st.slots[j];
        slot.status = ACTIVE;
        slot.entered_at = now;
        slot.wake_at = i64::MAX;
        slot.pc = 0;
        slot.flags = if holdout { HOLDOUT } else { 0 };
        self.retime(j);
        let stored = &mut self.st.triggers[j];
        stored.clear();
        stored.extend(fields.unwrap_or(&[]).iter().map(|v| v.from_input()));
        for &p in &journey.since_entry_predicates {
            if let (Some(c), Some(l)) = (self.st.pred_count.get_mut(p as usize), self.st.pred_last.get_mut(p as usize)) {
                *c = 0;
                *l = i64::MIN;
            }
            // `since entry` includes the enrolling event itself.
            if let (Trigger::Event(e), Some(fields)) = (&trigger, fields) {
                let Some(predicate) = program.predicates.get(p as usize) else { continue };
                if predicate.event == *e && predicate.filter.is_none_or(|f| self.holds(Clause::Counter(p), f, now, Some(j), Some(fields))) {
                    self.st.pred_count[p as usize] = 1;
                    self.st.pred_last[p as usize] = now;
                }
            }
        }
        self.emit(now, j, None, ActionKind::Enter { trigger, holdout });
        // `goal when` is always tested at enrollment, whatever the current record changed.
        let mask = std::mem::replace(&mut self.test_mask, Deps::MAX);
        let met = self.goal_when(j, now);
        self.test_mask = mask;
        if met {
            return;
        }
        self.depth += 1;
        let entry = journey.flow_entry();
        self.exec(j, 0, now, None, entry);
        self.depth -= 1;
    }

    fn leave(&mut self, j: usize, now: i64, step: Option<u32>, reason: Reason) {
        // Leaving while waiting: the exit happened at the step the contact was waiting at.
        let step = step.or_else(|| {
            let slot = &self.st.slots[j];
            if slot.wake_at == i64::MAX || matches!(reason, Reason::Completed) {
                return None;
            }
            self.vm.program.journeys[j].code.get(slot.pc as usize).and_then(|op| op.step())
        });
        let slot = &mut self.st.slots[j];
        slot.status = LEFT;
        slot.last_exit = now;
        slot.wake_at = i64::MAX;
        slot.flags = 0;
        self.retime(j);
        // `trigger.*` is read only while the contact is in the journey: the fields (and the
        // strings they hold) are not kept in the state after it leaves.
        if let Some(trigger) = self.st.triggers.get_mut(j) {
            trigger.clear();
        }
        self.emit(now, j, step, ActionKind::Exit { reason });
    }

    fn fail(&mut self, j: usize, now: i64, step: Option<u32>, error: EvalError) {
        self.emit_error(now, j, step, &error.0);
        self.leave(j, now, step, Reason::Error);
    }

    fn wait_here(&mut self, j: usize, pc: usize, wake_at: i64) {
        let slot = &mut self.st.slots[j];
        slot.pc = pc as u32;
        slot.wake_at = wake_at;
        self.retime(j);
    }

    /// Counts a contact of journey `j` moving from flow node `from` to `to` (a step it enters,
    /// or the end).
    #[inline]
    fn edge(&mut self, j: usize, from: u32, to: u32) {
        self.vm.flow.count(j, from, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journey_state_fits_in_64_bytes() {
        assert!(std::mem::size_of::<Slot>() <= 64, "Slot is {} bytes", std::mem::size_of::<Slot>());
        assert_eq!(std::mem::size_of::<Value>(), 16);
        // The direct path's results: the tag's unused values stand for `None`.
        assert_eq!(std::mem::size_of::<Option<Value>>(), 16);
    }

    /// Remembered zones answer as parsing does, past the limit too, and the memory stays bounded.
    #[test]
    fn zones_answer_as_parsing_does() {
        let names: Vec<String> = chrono_tz::TZ_VARIANTS.iter().take(200).map(|tz| tz.name().to_string()).chain(["Not/AZone".to_string()]).collect();
        let mut zones = Zones::default();
        for round in 0..3 {
            for (i, name) in names.iter().enumerate() {
                let name = if (i + round) % 3 == 0 { &names[0] } else { name };
                assert_eq!(zones.get(name), (crate::eval::parse_tz(name), name.parse::<Tz>().is_ok()), "{name}");
            }
        }
        assert_eq!(zones.get("Not/AZone"), (Tz::UTC, false));
        assert!(zones.names.len() <= Zones::MAX);
    }

    #[test]
    fn least_is_the_minimum() {
        let mut next = crate::xorshift(3);
        for n in 0..20 {
            let due: Vec<i64> = (0..n).map(|_| (next() % 1000) as i64 - 500).collect();
            assert_eq!(least(&due), due.iter().copied().min().unwrap_or(i64::MAX), "{due:?}");
        }
    }

    #[test]
    fn quiet_hours_may_span_midnight() {
        assert!(in_quiet(22 * 60, 21 * 60, 8 * 60));
        assert!(in_quiet(7 * 60 + 59, 21 * 60, 8 * 60));
        assert!(!in_quiet(8 * 60, 21 * 60, 8 * 60));
        assert!(in_quiet(13 * 60, 12 * 60, 14 * 60));
        assert!(!in_quiet(14 * 60, 12 * 60, 14 * 60));
    }
}
