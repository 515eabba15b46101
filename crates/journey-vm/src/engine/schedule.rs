//! Scheduled entries (`entry at`, `every …`, anniversaries): computing each journey's next one,
//! firing it, and settling after a record or timers — schedules computed again where what they
//! read changed, conditions re-tested after `set`.

use super::*;

impl Run<'_, '_> {
    /// After a record or timers at `now`: recompute schedules, then re-test conditions changed
    /// by `set` until nothing changes (at most 16 rounds).
    #[inline]
    pub(super) fn settle(&mut self, now: i64) {
        // Nothing changed that schedules read, and no `set` to re-test conditions after:
        // nothing to do (the usual case, checked here rather than behind a call).
        if !self.first && !self.dirty && self.changed & self.vm.tables.schedules_read == 0 {
            self.changed = 0;
            return;
        }
        self.settle_changes(now);
    }

    #[inline(never)]
    fn settle_changes(&mut self, now: i64) {
        let mut rounds = 0;
        loop {
            // Scheduled entries are computed when the contact is first seen, after each firing
            // (in `fire_scheduled`), and again whenever what `entry at` / anniversaries read
            // changed.
            let (first, changed) = (self.first, self.changed | if self.dirty { self.set_attrs } else { 0 });
            self.first = false;
            self.changed = 0;
            for i in 0..self.vm.tables.schedules.len() {
                let (j, reads) = self.vm.tables.schedules[i];
                let j = j as usize;
                // Not the first record, and nothing its schedule or dormant entries read
                // changed: nothing to wake, nothing to compute again.
                if (!first && changed & reads == 0) || j >= self.st.slots.len() {
                    continue;
                }
                // Dormant entries whose filter reads what changed wake up; an occurrence at
                // this very instant was due before the record, when the filter was still false.
                let mut woken = 0u8;
                let dormant = self.st.slots[j].dormant;
                if dormant != 0 && changed != 0 {
                    for (k, reads) in self.vm.tables.dormant_reads[j].iter().enumerate() {
                        if dormant & (1 << k) != 0 && reads & changed != 0 {
                            woken |= 1 << k;
                        }
                    }
                    self.st.slots[j].dormant &= !woken;
                }
                if first || woken != 0 || changed & self.vm.tables.attr_scheduled[j] != 0 {
                    self.schedule(j, now, woken);
                }
            }
            if !self.dirty {
                return;
            }
            self.dirty = false;
            self.set_attrs = 0;
            rounds += 1;
            if rounds > MAX_ROUNDS {
                let j = self.last_set_journey as usize;
                self.emit_error(now, j, None, "conditions still changing after 16 rounds of `set` at one instant");
                if self.st.slots[j].status == ACTIVE {
                    self.leave(j, now, None, Reason::Error);
                }
                return;
            }
            for j in 0..self.st.slots.len() {
                if self.st.slots[j].status == ACTIVE && (self.goal_when(j, now) || self.wait_condition(j, now)) {
                    continue;
                }
                self.entry_when(j, now);
            }
        }
    }

    /// After a project change: every journey's scheduled entries computed afresh at `at`
    /// (the window start), as if the contact had just been seen — so a journey added with an
    /// `every` or `at` entry starts for contacts already known, and one whose entries changed
    /// follows the new ones, whether or not the contact has a record in the window.
    pub(super) fn reschedule(&mut self, at: i64) {
        for j in 0..self.st.slots.len() {
            if self.vm.tables.scheduled.get(j).copied().unwrap_or(false) {
                self.schedule(j, at, 0);
            } else {
                self.st.slots[j].scheduled_at = i64::MAX;
                self.retime(j);
            }
        }
    }

    /// Computes the next scheduled entry of a journey.
    /// Entries in `woken` just left dormancy: their next occurrence is after `now`.
    fn schedule(&mut self, j: usize, now: i64, woken: u8) {
        let journey = &self.vm.program.journeys[j];
        let last_fire = self.st.slots[j].last_fire;
        let dormant = self.st.slots[j].dormant;
        let mut best = i64::MAX;
        let mut which = 0u8;
        for (k, entry) in journey.entries.iter().enumerate() {
            let bit = if k < 8 { 1u8 << k } else { 0 };
            if dormant & bit != 0 {
                continue;
            }
            let from = if woken & bit != 0 { now.saturating_add(1) } else { now }.max(last_fire.saturating_add(1));
            let candidate = match entry.kind {
                EntryKind::At(expr) => match self.eval(expr, now, Some(j), None) {
                    Ok(Value::Time(t)) if t >= now && t > last_fire => Some(t),
                    Err(e) => {
                        self.fault(Clause::EntryAt, Some(j), &e);
                        None
                    }
                    _ => None,
                },
                EntryKind::Daily { minutes } => Some(self.next_clock(now, from, minutes, None)),
                EntryKind::Weekly { weekday, minutes } => Some(self.next_clock(now, from, minutes, Some(weekday))),
                EntryKind::Interval { ms } if ms > 0 => {
                    Some(from.div_euclid(ms).saturating_add(i64::from(from.rem_euclid(ms) != 0)).saturating_mul(ms))
                }
                EntryKind::Yearly { date, minutes } => {
                    // The zone first: with it known, a local `date(…)` takes the direct path.
                    let tz = self.tz(now);
                    match self.eval(date, now, Some(j), None) {
                        Ok(Value::Date(d)) => {
                            let (_, month, day) = crate::value::civil(i64::from(d));
                            next_yearly(tz, now, last_fire, month, day, minutes)
                        }
                        Err(e) => {
                            self.fault(Clause::Anniversary, Some(j), &e);
                            None
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(c) = candidate
                && c < best
            {
                best = c;
                which = k as u8;
            }
        }
        self.st.slots[j].scheduled_at = best;
        self.st.slots[j].sched_entry = which;
        self.retime(j);
    }

    pub(super) fn fire_scheduled(&mut self, j: usize, now: i64) {
        let k = self.st.slots[j].sched_entry as usize;
        self.st.slots[j].last_fire = now;
        // `Vm::due` is brought up to date by `schedule` below (and by `enter` before it): until
        // then nothing reads this journey's entry there.
        self.st.slots[j].scheduled_at = i64::MAX;
        let Some(entry) = self.vm.program.journeys[j].entries.get(k) else {
            self.retime(j);
            return;
        };
        let trigger = if matches!(entry.kind, EntryKind::At(_)) { Trigger::At } else { Trigger::Every };
        let filter = entry.filter;
        if filter.is_none_or(|f| self.holds(Clause::ScheduledWhere, f, now, Some(j), None)) {
            self.enter(j, now, trigger, None);
        } else if self.vm.options.dormancy && self.vm.tables.dormant_reads[j].get(k).is_some_and(|r| *r != 0) {
            self.st.slots[j].dormant |= 1 << k;
        }
        self.schedule(j, now, 0);
    }
}
