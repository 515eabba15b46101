//! What the engine works out from a program once, before it runs any contact: which journeys a
//! record of each event can affect, what each re-tested condition and computed schedule reads
//! (so it is re-evaluated only when one of those inputs changed), which recurring entries may
//! go dormant, and each operation's step (for the flow counts, [`crate::flow`]).
//!
//! All of it comes from one walk over an expression's instructions ([`reads`]), so "what an
//! expression depends on" is decided in one place.

use journey_bytecode::{BinOp, EntryKind, GoalKind, Instr, Program, StepOp, TemplateOp, ValueType};

/// What an expression depends on, and what a record or a `set` changed, as one bit set: one bit
/// per contact attribute (attribute `a` is bit `a % 40`), one per behaviour predicate
/// (predicate `p` is bit `40 + p % 23`), and "always". Projects with more attributes or
/// predicates share bits — a shared bit only means testing again when not strictly needed. A
/// score-only `identify` then re-tests only what reads the score, a page view only what counts
/// page views.
pub(crate) type Deps = u64;
const PRED_BASE: u32 = 40;
/// Some attribute (any of them: when which one is not known).
pub(crate) const READS_ATTRS: Deps = (1 << PRED_BASE) - 1;
/// `now`, `in journey`, trigger fields…: inputs that may differ at every record.
pub(crate) const READS_ALWAYS: Deps = 1 << 63;

/// The bit of attribute `a`.
#[inline]
pub(crate) fn attr_bit(a: u32) -> Deps {
    1 << (a % PRED_BASE)
}

/// The bit of behaviour predicate `p` (`has`, `count`, `last`).
#[inline]
pub(crate) fn pred_bit(p: u32) -> Deps {
    1 << (PRED_BASE + p % 23)
}

/// What one expression depends on.
struct Reads {
    /// Attribute and predicate bits, `READS_ALWAYS`.
    bits: Deps,
    /// It reads a counter reset at enrollment (`since entry`).
    since_entry: bool,
    /// It has a `has … within` (true only while the last event is recent enough).
    windowed: bool,
    /// It negates or compares booleans (which could turn a `has … within` going false into true).
    flips: bool,
    /// It calls a built-in (on times, they read the contact's time zone: an attribute).
    calls: bool,
}

/// Walks the expression starting at `at` up to its `Ret`.
fn reads(program: &Program, at: u32) -> Reads {
    let since_entry = |p: u32| program.predicates.get(p as usize).is_none_or(|p| p.since_entry_of.is_some());
    let mut r = Reads { bits: 0, since_entry: false, windowed: false, flips: false, calls: false };
    for instr in program.code.iter().skip(at as usize) {
        match instr {
            Instr::Ret => break,
            Instr::Attr(a) => r.bits |= attr_bit(*a),
            Instr::Has { predicate, within_ms } => {
                r.bits |= pred_bit(*predicate);
                r.since_entry |= since_entry(*predicate);
                r.windowed |= *within_ms >= 0;
            }
            Instr::Count(p) | Instr::Last(p) => {
                r.bits |= pred_bit(*p);
                r.since_entry |= since_entry(*p);
            }
            Instr::Now | Instr::InJourney(_) | Instr::TriggerField(_) | Instr::EventField(_) | Instr::LoopVar(_) | Instr::Render(_) => {
                r.bits |= READS_ALWAYS
            }
            Instr::Not | Instr::Bin(BinOp::Eq | BinOp::Ne) => r.flips = true,
            Instr::Call(_) => r.calls = true,
            _ => {}
        }
    }
    r
}

/// What an expression depends on, built-in calls included: on times they read the contact's
/// time zone, i.e. what the policy's `timezone` reads (`zone`).
fn deps(program: &Program, at: u32, zone: Deps) -> Reads {
    let mut r = reads(program, at);
    if r.calls {
        r.bits |= zone;
    }
    r
}

/// What a filter reads (attribute and predicate bits) when, once false, only a record can
/// make it true again: it reads no clock, journey status, trigger or event, no counter reset at
/// enrollment, and its only time-dependent parts are `has … within` (which only turn false as
/// time passes) with no negation or boolean comparison that could flip them. 0 otherwise.
fn stays_false(program: &Program, at: u32, zone: Deps) -> Deps {
    let r = deps(program, at, zone);
    if r.bits & READS_ALWAYS != 0 || r.since_entry || (r.windowed && r.flips) { 0 } else { r.bits }
}

/// A journey a record is dispatched to ([`Tables::visits_of`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Visit {
    pub(crate) journey: u32,
    /// Whether the journey names the record's event (an entry, exit, goal or wait on it);
    /// `false` for one there for its conditions only, whose event triggers need no test.
    pub(crate) names_event: bool,
}

pub(crate) struct Tables {
    pub(crate) preds_by_event: Vec<Vec<u32>>,
    /// Per event type, then one more list for records without an event (`identify`, `exit`):
    /// the journeys (in priority order) such a record can affect — those with an entry, exit,
    /// goal or `wait for` on the event, plus every journey with conditions re-tested after
    /// records (`entry when`, `goal when`, `wait until <condition>`). Others are not visited.
    /// The lists end to end; `dispatch_at[e]` is where each is (the last for records without
    /// an event), so a record's visits are read one load each.
    visits: Vec<Visit>,
    dispatch_at: Vec<(u32, u32)>,
    /// Per event type, [`Tables::inert`].
    inert: Vec<bool>,
    pub(crate) scheduled: Vec<bool>,
    /// The journeys with scheduled entries, in order, each with what its schedule and its
    /// dormant entries read (`attr_scheduled` and `dormant_reads` together).
    pub(crate) schedules: Vec<(u32, Deps)>,
    /// Per journey, its `limit` (`i64::MAX` when none), next to each other for the timer scans.
    pub(crate) limits: Vec<i64>,
    /// Per journey: what its computed entry instants (`entry at`, anniversaries, times of day) read
    /// (attribute and predicate bits), the time zone included.
    pub(crate) attr_scheduled: Vec<Deps>,
    /// What any journey's schedules read (the union of `attr_scheduled` and `dormant_reads`):
    /// a record changing none of it leaves every schedule as it is.
    pub(crate) schedules_read: Deps,
    /// What each re-tested condition reads (by expression start; `Deps::MAX` when unknown).
    pub(crate) expr_reads: Vec<Deps>,
    /// What the contact's time zone (policy `timezone`) reads.
    pub(crate) zone: Deps,
    /// Per journey, per entry (first 8): for a recurring entry (`every …`) whose filter
    /// [`stays_false`], what it reads; 0 when not so. Such a filter found false stays false until
    /// a record changes what it reads, so the entry goes dormant instead of waking the contact
    /// at every occurrence (see [`crate::Slot::dormant`]).
    pub(crate) dormant_reads: Vec<[Deps; 8]>,
    /// Per journey: its `entry when` entries (first 8), as (entry index, condition).
    pub(crate) when_entries: Vec<Vec<(u8, u32)>>,
    /// Per journey, what its `goal when` conditions read together (0: it has none): a record
    /// that changed none of it skips them without looking at each.
    pub(crate) goal_when: Vec<Deps>,
    /// Per journey, the same for its `entry when` conditions.
    pub(crate) when_reads: Vec<Deps>,
    /// Per journey, what all the conditions it re-tests after records read together (`goal
    /// when`, `entry when`, `wait until <condition>`): a record that changed none of it cannot
    /// concern a journey visited for its conditions only.
    pub(crate) retested_reads: Vec<Deps>,
    /// Every journey's step operations' steps ([`StepOp::step`], `u32::MAX` for none), one
    /// journey after the other from `step_base[j]`: read at every operation, where finding the
    /// step in the operation itself is a jump on its kind that mispredicts.
    pub(crate) steps: Vec<u32>,
    pub(crate) step_base: Vec<usize>,
    /// Per expression start, its shape when it is evaluated directly (see [`crate::fast`]).
    pub(crate) fast: crate::fast::FastTable,
    /// Per template a send renders, its direct rendering when it has one (see [`crate::fast`]).
    pub(crate) templates: crate::fast::Templates,
    /// Per channel (by [`journey_bytecode::Channel::index`]): its caps as (count, window), the
    /// longest window first; empty when the channel has none.
    pub(crate) caps: [Vec<(u32, i64)>; 3],
    /// Per template start, when the template is constant text: that text (a field naming it;
    /// it is not rendered nor copied per send).
    pub(crate) const_text: Vec<Option<crate::state::Field>>,
    /// Some expression reads a string or list attribute of the contact (its name, its time
    /// zone…): the contact's input strings are then warmed with its records ([`crate::engine`]).
    pub(crate) reads_strings: bool,
}

impl Tables {
    pub(crate) fn new(program: &Program) -> Self {
        let mut preds_by_event = vec![Vec::new(); program.events.len()];
        for (i, p) in program.predicates.iter().enumerate() {
            if let Some(list) = preds_by_event.get_mut(p.event as usize) {
                list.push(i as u32);
            }
        }
        let conditional = |j: &journey_bytecode::Journey| {
            j.entries.iter().any(|e| matches!(e.kind, EntryKind::When(_)))
                || j.goals.iter().any(|g| matches!(g.kind, GoalKind::When(_)))
                || j.code.iter().any(|op| matches!(op, StepOp::WaitCondition { .. }))
        };
        let on_event = |j: &journey_bytecode::Journey, e: u32| {
            j.entries.iter().any(|x| x.kind == EntryKind::On(e))
                || j.exits.iter().any(|x| x.event == e)
                || j.goals.iter().any(|g| matches!(g.kind, GoalKind::On { event, .. } if event == e))
                || j.code.iter().any(|op| matches!(op, StepOp::WaitEvent { event, .. } if *event == e))
        };
        let journeys = |affected: &dyn Fn(&journey_bytecode::Journey) -> bool, names: &dyn Fn(&journey_bytecode::Journey) -> bool| {
            let visit = |(i, j)| Visit { journey: i as u32, names_event: names(j) };
            program.journeys.iter().enumerate().filter(|(_, j)| affected(j)).map(visit).collect::<Vec<Visit>>()
        };
        let mut dispatch: Vec<Vec<Visit>> =
            (0..program.events.len() as u32).map(|e| journeys(&|j| conditional(j) || on_event(j, e), &|j| on_event(j, e))).collect();
        dispatch.push(journeys(&conditional, &|_| false));
        // What each journey's computed entry instants read: recomputing them after every record
        // is the costliest thing the engine can do (time-zone arithmetic), so it happens only
        // when an input they depend on changed.
        let zone = program.policy.timezone.map_or(0, |z| {
            let r = reads(program, z);
            r.bits | if r.calls { READS_ATTRS } else { 0 }
        });
        let attr_scheduled: Vec<Deps> = program
            .journeys
            .iter()
            .map(|j| {
                j.entries.iter().fold(0, |bits, e| match e.kind {
                    EntryKind::At(x) => bits | deps(program, x, zone).bits,
                    // Anniversaries are local dates and times: they also read the time zone.
                    EntryKind::Yearly { date: x, .. } => bits | deps(program, x, zone).bits | zone,
                    EntryKind::Daily { .. } | EntryKind::Weekly { .. } => bits | zone,
                    _ => bits,
                })
            })
            .collect();
        // Conditions re-tested after records (`entry when`, `goal when`, `wait until`): a record
        // that changed nothing they read cannot change their value, so they are skipped then —
        // unless they hold a `has … within`, whose value also changes as time passes.
        let mut expr_reads = vec![Deps::MAX; program.code.len()];
        for j in &program.journeys {
            let conditions = j
                .entries
                .iter()
                .filter_map(|e| if let EntryKind::When(c) = e.kind { Some(c) } else { None })
                .chain(j.goals.iter().filter_map(|g| if let GoalKind::When(c) = g.kind { Some(c) } else { None }))
                .chain(j.code.iter().filter_map(|op| if let StepOp::WaitCondition { condition, .. } = op { Some(*condition) } else { None }));
            for c in conditions {
                if let Some(slot) = expr_reads.get_mut(c as usize) {
                    let r = deps(program, c, zone);
                    *slot = r.bits | if r.windowed { READS_ALWAYS } else { 0 };
                }
            }
        }
        let dormant_reads: Vec<[Deps; 8]> = program
            .journeys
            .iter()
            .map(|j| {
                let mut bits = [0; 8];
                for (k, entry) in j.entries.iter().enumerate().take(8) {
                    if let (EntryKind::Daily { .. } | EntryKind::Weekly { .. } | EntryKind::Interval { .. }, Some(f)) = (&entry.kind, entry.filter) {
                        bits[k] = stays_false(program, f, zone);
                    }
                }
                bits
            })
            .collect();
        let (mut steps, mut step_base) = (Vec::new(), Vec::new());
        for j in &program.journeys {
            step_base.push(steps.len());
            steps.extend(j.code.iter().map(|op| op.step().unwrap_or(u32::MAX)));
        }
        // What some conditions read together (what `worth_testing` tests them against).
        let reads_of = |conditions: Vec<u32>| conditions.iter().fold(0, |all, &c| all | expr_reads.get(c as usize).copied().unwrap_or(Deps::MAX));
        let goal_when: Vec<Deps> = program
            .journeys
            .iter()
            .map(|j| reads_of(j.goals.iter().filter_map(|g| if let GoalKind::When(c) = g.kind { Some(c) } else { None }).collect()))
            .collect();
        let when_reads: Vec<Deps> = program
            .journeys
            .iter()
            .map(|j| reads_of(j.entries.iter().take(8).filter_map(|e| if let EntryKind::When(c) = e.kind { Some(c) } else { None }).collect()))
            .collect();
        let retested_reads = program
            .journeys
            .iter()
            .enumerate()
            .map(|(j, journey)| {
                let waits =
                    journey.code.iter().filter_map(|op| if let StepOp::WaitCondition { condition, .. } = op { Some(*condition) } else { None });
                reads_of(waits.collect()) | goal_when.get(j).copied().unwrap_or(Deps::MAX) | when_reads.get(j).copied().unwrap_or(Deps::MAX)
            })
            .collect();
        let scheduled: Vec<bool> =
            program.journeys.iter().map(|j| j.entries.iter().any(|e| !matches!(e.kind, EntryKind::On(_) | EntryKind::When(_)))).collect();
        let schedules = (0..program.journeys.len())
            .filter(|&j| scheduled[j])
            .map(|j| (j as u32, attr_scheduled[j] | dormant_reads[j].iter().fold(0, |all, bits| all | bits)))
            .collect();
        let schedules_read = attr_scheduled.iter().chain(dormant_reads.iter().flatten()).fold(0, |all, bits| all | bits);
        let inert = (0..program.events.len()).map(|e| preds_by_event[e].is_empty() && dispatch[e].is_empty()).collect();
        Tables {
            inert,
            schedules_read,
            preds_by_event,
            dispatch_at: dispatch
                .iter()
                .scan(0u32, |start, list| {
                    let at = (*start, list.len() as u32);
                    *start += list.len() as u32;
                    Some(at)
                })
                .collect(),
            visits: dispatch.iter().flatten().copied().collect(),
            scheduled,
            schedules,
            limits: program.journeys.iter().map(|j| j.limit_ms.unwrap_or(i64::MAX)).collect(),
            attr_scheduled,
            expr_reads,
            zone,
            dormant_reads,
            goal_when,
            when_reads,
            retested_reads,
            when_entries: program
                .journeys
                .iter()
                .map(|j| {
                    j.entries
                        .iter()
                        .enumerate()
                        .take(8)
                        .filter_map(|(k, e)| if let EntryKind::When(c) = e.kind { Some((k as u8, c)) } else { None })
                        .collect()
                })
                .collect(),
            steps,
            step_base,
            fast: crate::fast::FastTable::new(program),
            templates: crate::fast::Templates::new(program),
            caps: std::array::from_fn(|channel| {
                let mut caps: Vec<(u32, i64)> =
                    program.policy.caps.iter().filter(|c| c.channel.index() == channel).map(|c| (c.count, c.window_ms)).collect();
                caps.sort_by_key(|&(_, window)| std::cmp::Reverse(window));
                caps
            }),
            const_text: (0..program.templates.len())
                .map(|t| match (&program.templates[t], program.templates.get(t + 1)) {
                    (TemplateOp::Text(s), Some(TemplateOp::End)) if (*s as usize) < program.strings.len() => Some(crate::state::Field::Const(*s)),
                    (TemplateOp::End, _) => Some(crate::state::Field::Text { start: 0, len: 0 }),
                    _ => None,
                })
                .collect(),
            reads_strings: program.code.iter().any(|instr| {
                matches!(instr, Instr::Attr(a) if program.attributes.get(*a as usize).is_some_and(|d| matches!(d.ty, ValueType::String | ValueType::ListOfString)))
            }),
        }
    }

    /// Journey `j`'s `limit` in milliseconds (`i64::MAX`: none).
    #[inline]
    pub(crate) fn limit(&self, j: usize) -> i64 {
        self.limits.get(j).copied().unwrap_or(i64::MAX)
    }

    /// The step of operation `pc` of journey `j` (`u32::MAX` for none, or out of range).
    #[inline]
    pub(crate) fn step_of(&self, j: usize, pc: usize) -> u32 {
        self.step_base.get(j).and_then(|base| self.steps.get(base + pc)).copied().unwrap_or(u32::MAX)
    }

    /// Whether a record of `event` can change nothing: no journey listens to it and no
    /// behaviour predicate counts it. (It still counts as read.)
    #[inline]
    pub(crate) fn inert(&self, event: u32) -> bool {
        self.inert.get(event as usize).copied().unwrap_or(true)
    }

    /// The journeys a record of `event` (or, with `None`, a record without one) can affect:
    /// their indexes for [`Tables::visit`].
    #[inline]
    pub(crate) fn visits_of(&self, event: Option<u32>) -> std::ops::Range<usize> {
        let at = match event {
            Some(e) if (e as usize) + 1 < self.dispatch_at.len() => self.dispatch_at.get(e as usize),
            Some(_) => None,
            None => self.dispatch_at.last(),
        };
        at.map_or(0..0, |&(start, len)| start as usize..(start + len) as usize)
    }

    /// One of [`Tables::visits_of`].
    #[inline]
    pub(crate) fn visit(&self, i: usize) -> Option<Visit> {
        self.visits.get(i).copied()
    }
}
