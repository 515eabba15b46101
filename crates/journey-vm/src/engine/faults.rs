//! Conditions that could not be evaluated.
//!
//! In a journey the contact is in — an exit's or goal's condition, the filter of the `wait for`
//! it waits at, the `wait until` re-tested — an error is the contact's, as in a step (LANGUAGE.md
//! §7): an `error` action saying why, and it leaves the journey with reason `error`.
//!
//! Where a condition decides whether the contact enters (an entry's `where`, `entry when`, a
//! scheduled entry's instant) or counts an event (a behaviour counter's `where`), and in the
//! policy's time zone (then UTC, LANGUAGE.md's fallback), there is no journey to leave: an error counts as false (not scheduled), as a missing attribute does
//! (LANGUAGE.md §4), and the contact goes on. Unlike a missing attribute, which only says the
//! contact's attributes are not known yet, any other error (an overflow, a division by zero, a
//! `format` pattern from the data that is none) is a fault of the project or of the data: each is
//! counted here, per place and reason, once per contact, for `metrics.json` and the note at the
//! end of a run.

use super::*;

/// Where a condition that could not be evaluated, and was counted, stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Clause {
    /// `entry on <event> where`.
    EntryOn(u32),
    /// The `where` of a scheduled entry (`entry at`, `entry every`).
    ScheduledWhere,
    EntryWhen,
    /// The instant of `entry at`.
    EntryAt,
    /// The date of `entry every year on`.
    Anniversary,
    /// A behaviour counter's `where` (predicate `p`).
    Counter(u32),
    /// The policy's `timezone` (the contact is then evaluated in UTC).
    Timezone,
}

/// The conditions that could not be evaluated, counted (see [`Vm::condition_errors`]).
#[derive(Default)]
pub(super) struct Faults {
    /// Per place and reason, in the order first met.
    counts: Vec<Fault>,
    /// Runs so far: a contact is counted once per place and reason.
    pub(super) runs: u64,
}

/// One place and reason: looked up by the place and the reason's text (an error met at every
/// record of a broken project is counted without formatting or allocating anything), named
/// once.
struct Fault {
    clause: Clause,
    journey: Option<usize>,
    /// The error's text without values from the data ([`EvalError::general`]).
    reason: String,
    /// `"<journey>: <clause>: <reason>"`.
    name: String,
    /// The contacts that met it, and the last run (contact) counted.
    contacts: u64,
    last_run: u64,
}

impl Faults {
    /// Per place and reason (`"<journey>: <clause>: <reason>"`), the contacts that met it, in
    /// the order first met.
    pub(super) fn counts(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counts.iter().map(|f| (f.name.as_str(), f.contacts))
    }
}

impl Run<'_, '_> {
    /// Whether a condition of journey `j`, which the contact is in, holds; `None` when it could
    /// not be evaluated, and the contact left with an `error` (at `step`, else the step it
    /// waits at).
    #[inline(always)]
    pub(super) fn holds_in(&mut self, at: u32, now: i64, j: usize, step: Option<u32>, event: Option<&[Value]>) -> Option<bool> {
        match self.condition(at, now, Some(j), event) {
            Ok(b) => Some(b),
            Err(e) => {
                self.fail_waiting(j, now, step, e);
                None
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn fail_waiting(&mut self, j: usize, now: i64, step: Option<u32>, error: EvalError) {
        // As `leave` finds it: the step of the wait the contact is at (none at its enrollment).
        let step = step.or_else(|| {
            let slot = self.st.slots.get(j).filter(|s| s.wake_at != i64::MAX)?;
            self.vm.program.journeys.get(j)?.code.get(slot.pc as usize)?.step()
        });
        self.fail(j, now, step, error);
    }

    /// Whether a condition holds, an error counting as false (and counted, unless it is a
    /// missing attribute).
    #[inline(always)]
    pub(super) fn holds(&mut self, clause: Clause, at: u32, now: i64, journey: Option<usize>, event: Option<&[Value]>) -> bool {
        match self.condition(at, now, journey, event) {
            Ok(b) => b,
            Err(e) => {
                self.fault(clause, journey, &e);
                false
            }
        }
    }

    /// Counts an error met where it counts as false (see the module's documentation).
    #[cold]
    #[inline(never)]
    pub(super) fn fault(&mut self, clause: Clause, journey: Option<usize>, error: &EvalError) {
        if error.is_missing() {
            return;
        }
        let (run, reason) = (self.vm.faults.runs, error.general());
        let same = |f: &Fault| f.clause == clause && f.journey == journey && f.reason == reason;
        if let Some(f) = self.vm.faults.counts.iter_mut().find(|f| same(f)) {
            if f.last_run != run {
                f.contacts += 1;
                f.last_run = run;
            }
            return;
        }
        // As many as the project's places and reasons: reasons are counted without the values
        // from the data they may name (`EvalError::general`).
        let name = format!("{}: {reason}", self.place(clause, journey));
        self.vm.faults.counts.push(Fault { clause, journey, reason: reason.to_string(), name, contacts: 1, last_run: run });
    }

    /// Where a condition stands, as `metrics.json` names it: `"<journey>: <clause>"`.
    fn place(&self, clause: Clause, journey: Option<usize>) -> String {
        let program = self.vm.program;
        let event = |e: u32| program.events.get(e as usize).map_or("?", |e| e.name.as_str());
        let journey = journey.and_then(|j| program.journeys.get(j));
        let clause = match clause {
            Clause::EntryOn(e) => format!("entry on {} where", event(e)),
            Clause::ScheduledWhere => "scheduled entry where".to_string(),
            Clause::EntryWhen => "entry when".to_string(),
            Clause::EntryAt => "entry at".to_string(),
            Clause::Anniversary => "entry every year on".to_string(),
            Clause::Timezone => "policy timezone (evaluated in UTC)".to_string(),
            Clause::Counter(p) => {
                let counted = program.predicates.get(p as usize).map_or("?", |p| event(p.event));
                format!("counter of {counted} where")
            }
        };
        match journey {
            Some(j) => format!("{}: {clause}", j.name),
            None => clause,
        }
    }
}
