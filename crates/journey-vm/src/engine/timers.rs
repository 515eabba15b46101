//! Timers: firing the waits, limits and scheduled entries due at an instant, and the budget
//! that stops a journey whose timers run away (see [`TIMER_BUDGET`]).

use super::*;

impl Run<'_, '_> {
    /// Fires every timer due at `now`; `COUNTED`, each journey's against its budget.
    pub(super) fn fire_timers<const COUNTED: bool>(&mut self, now: i64) {
        // The next journey with a timer due, in order; each looked for after the ones before
        // fired (a firing may set a later journey's timer).
        let mut next = 0;
        while let Some(skip) = self.vm.due.get(next..).and_then(|rest| rest.iter().position(|&due| due <= now)) {
            let j = next + skip;
            next = j + 1;
            if j >= self.st.slots.len() {
                break;
            }
            if COUNTED && !self.within_budget(j, now) {
                continue;
            }
            let slot = self.st.slots[j];
            if slot.status == ACTIVE {
                if self.limit_due(j, now) {
                    self.vm.timers += 1;
                    self.trace(|| Trace::Timer { at: now, journey: j as u32, what: "limit" });
                    self.leave(j, now, None, Reason::Limit);
                } else if slot.wake_at <= now {
                    self.vm.timers += 1;
                    if self.vm.trace.is_some() {
                        let what = match self.vm.program.journeys[j].code.get(slot.pc as usize) {
                            Some(StepOp::WaitEvent { .. } | StepOp::WaitCondition { .. }) => "timeout",
                            Some(StepOp::Send { .. }) if slot.flags & QUIET_HELD != 0 => "quiet",
                            _ => "wait",
                        };
                        self.trace(|| Trace::Timer { at: now, journey: j as u32, what });
                    }
                    self.wake(j, now);
                }
            }
            if self.st.slots[j].scheduled_at <= now {
                self.vm.timers += 1;
                self.trace(|| Trace::Timer { at: now, journey: j as u32, what: "schedule" });
                self.fire_scheduled(j, now);
            }
        }
    }

    /// Counts a timer of journey `j` at `now` against its budget. Past it, the journey's
    /// timers stop for this run (its scheduled entries are not scheduled, a contact in it
    /// leaves with an `error`, said once for the scheduled entries) and this is `false`.
    fn within_budget(&mut self, j: usize, now: i64) -> bool {
        let Some(fired) = self.vm.fired.get_mut(j) else { return true };
        if fired.0 == 0 {
            fired.1 = now;
        }
        fired.0 = fired.0.saturating_add(1);
        if fired.0 <= TIMER_BUDGET {
            return true;
        }
        let (first, over) = (fired.1, fired.0 == TIMER_BUDGET + 1);
        let reason = || {
            if first == now {
                format!(
                    "more than {TIMER_BUDGET} timers in this journey for one contact in one run, all at one instant: it loops without time passing"
                )
            } else {
                format!(
                    "more than {TIMER_BUDGET} timers in this journey for one contact in one run ({TIMER_BUDGET} of them from {} on): its recurring entry or its waits fire too often; its timers stop until the next run",
                    crate::value::format_instant(first)
                )
            }
        };
        let slot = &mut self.st.slots[j];
        let active = slot.status == ACTIVE;
        slot.scheduled_at = i64::MAX;
        slot.wake_at = i64::MAX;
        self.retime(j);
        if active {
            self.fail(j, now, None, EvalError(reason()));
        } else if over {
            self.emit_error(now, j, None, &reason());
        }
        false
    }

    /// The backstop budget is spent: every journey with a timer due stops with an `error`, and
    /// scheduled entries stop for this run.
    pub(super) fn stop_timers(&mut self, now: i64) {
        for j in 0..self.st.slots.len() {
            let slot = self.st.slots[j];
            let due = slot.scheduled_at <= now || (slot.status == ACTIVE && slot.wake_at <= now) || self.limit_due(j, now);
            if !due {
                continue;
            }
            self.st.slots[j].scheduled_at = i64::MAX;
            self.retime(j);
            let reason = "too many timers for one contact in one run: the program loops without time passing".to_string();
            if slot.status == ACTIVE {
                self.fail(j, now, None, EvalError(reason));
            } else {
                self.emit_error(now, j, None, &reason);
            }
        }
    }

    fn wake(&mut self, j: usize, now: i64) {
        let pc = self.st.slots[j].pc as usize;
        self.st.slots[j].wake_at = i64::MAX;
        self.retime(j);
        let next = match self.vm.program.journeys[j].code.get(pc) {
            Some(StepOp::WaitEvent { on_timeout, .. }) | Some(StepOp::WaitCondition { on_timeout, .. }) => *on_timeout as usize,
            Some(StepOp::Send { .. }) if self.st.slots[j].flags & QUIET_HELD != 0 => {
                self.st.slots[j].flags &= !QUIET_HELD;
                pc
            }
            _ => pc + 1,
        };
        let from = self.step_at(j, pc);
        self.exec(j, next, now, None, from);
    }
}
