//! Records: what one input record does — attributes and behaviour counters updated, then in
//! each journey, in priority order, exit triggers, goals, the waiting step and entry triggers
//! (LANGUAGE.md §7) — and the conditions re-tested when what they read changed.

use super::*;

impl Run<'_, '_> {
    /// Processes one input record.
    pub(super) fn record(&mut self, record: Record) {
        // An event nobody listens to or counts, once the contact is known, changes nothing
        // (schedules and conditions read nothing of it): most of a cohort's events for most
        // projects.
        if let RecordKind::Track { event, .. } = record.kind
            && self.st.seen
            && self.vm.tables.inert(event)
        {
            return;
        }
        let now = record.at;
        let mut event: Option<u32> = None;
        // The event's fields are read where they were decoded (see `Env::event`).
        let mut fields: &[Value] = &[];
        let input = self.input;
        match record.kind {
            RecordKind::Identify(traits) => {
                let mut changed = 0;
                for (attr, value) in input.traits(traits) {
                    if let Some(slot) = self.st.attrs.get_mut(*attr as usize) {
                        *slot = value.from_input();
                        changed |= attr_bit(*attr);
                    }
                }
                self.changed |= changed;
                if changed & self.vm.tables.zone != 0 {
                    self.tz = None;
                }
            }
            RecordKind::Track { event: e, fields: raw } => {
                event = Some(e);
                fields = input.fields(raw);
                if self.vm.tables.preds_by_event.get(e as usize).is_some_and(|p| !p.is_empty()) {
                    self.update_predicates(e, fields, now);
                }
            }
            RecordKind::Exit { journey } => {
                let j = journey as usize;
                if self.st.slots.get(j).is_some_and(|s| s.status == ACTIVE) {
                    self.leave(j, now, None, Reason::Manual);
                }
            }
        }
        self.test_mask = if self.st.seen { self.changed | READS_ALWAYS } else { Deps::MAX };
        for i in self.vm.tables.visits_of(event) {
            let Some(visit) = self.vm.tables.visit(i) else { break };
            let j = visit.journey as usize;
            // There for its conditions only, and none of them reads what changed: nothing to
            // test (each test below is skipped for this reason anyway; this skips the visit).
            if !visit.names_event && !self.may_change(self.vm.tables.retested_reads.get(j).copied().unwrap_or(Deps::MAX)) {
                continue;
            }
            // A journey there for its conditions only has no trigger on the event to test.
            let named = if visit.names_event { event } else { None };
            if j < self.st.slots.len() {
                self.journey_on_record(j, now, named, fields);
            }
        }
        self.test_mask = Deps::MAX;
        self.first = !self.st.seen;
        self.st.seen = true;
        self.settle(now);
    }

    fn update_predicates(&mut self, event: u32, fields: &[Value], now: i64) {
        let Some(list) = self.vm.tables.preds_by_event.get(event as usize) else { return };
        for i in 0..list.len() {
            let p = self.vm.tables.preds_by_event[event as usize][i] as usize;
            let predicate = &self.vm.program.predicates[p];
            if let Some(j) = predicate.since_entry_of
                && self.st.slots.get(j as usize).is_none_or(|s| s.status != ACTIVE)
            {
                continue;
            }
            if let Some(filter) = predicate.filter {
                let since_entry_of = predicate.since_entry_of.map(|j| j as usize);
                match self.condition(filter, now, None, Some(fields)) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        self.fault(Clause::Counter(p as u32), since_entry_of, &e);
                        continue;
                    }
                }
            }
            self.st.pred_count[p] = self.st.pred_count[p].saturating_add(1);
            self.st.pred_last[p] = now;
            self.changed |= pred_bit(p as u32);
        }
    }

    /// One journey's reaction to a record: exit triggers, goals, the waiting step, entries.
    fn journey_on_record(&mut self, j: usize, now: i64, event: Option<u32>, fields: &[Value]) {
        let program = self.vm.program;
        let journey = &program.journeys[j];
        if self.st.slots[j].status == ACTIVE {
            if let Some(e) = event {
                for exit in &journey.exits {
                    if exit.event == e {
                        match exit.filter.map_or(Some(true), |f| self.holds_in(f, now, j, None, Some(fields))) {
                            Some(true) => self.leave(j, now, None, Reason::ExitOn(e)),
                            Some(false) => continue,
                            None => {}
                        }
                        return;
                    }
                }
                for (g, goal) in journey.goals.iter().enumerate() {
                    if let GoalKind::On { event: ge, filter } = &goal.kind
                        && *ge == e
                    {
                        match filter.map_or(Some(true), |f| self.holds_in(f, now, j, None, Some(fields))) {
                            Some(true) => self.leave(j, now, None, Reason::Goal(g as u32)),
                            Some(false) => continue,
                            None => {}
                        }
                        return;
                    }
                }
            }
            if self.goal_when(j, now) {
                return;
            }
            let pc = self.st.slots[j].pc as usize;
            match journey.code.get(pc) {
                Some(StepOp::WaitEvent { step, event: we, filter, on_event, .. }) if Some(*we) == event && self.st.slots[j].wake_at > now => {
                    match filter.map_or(Some(true), |f| self.holds_in(f, now, j, Some(*step), Some(fields))) {
                        Some(true) => {
                            self.st.slots[j].wake_at = i64::MAX;
                            self.retime(j);
                            let from = self.step_at(j, pc);
                            self.exec(j, *on_event as usize, now, Some(fields), from);
                        }
                        Some(false) => {}
                        None => return,
                    }
                }
                Some(StepOp::WaitCondition { .. }) if self.wait_condition(j, now) => return,
                _ => {}
            }
        }
        if let Some(e) = event {
            for entry in &journey.entries {
                if entry.kind == EntryKind::On(e) {
                    if entry.filter.is_none_or(|f| self.holds(Clause::EntryOn(e), f, now, Some(j), Some(fields))) {
                        self.enter(j, now, Trigger::Event(e), Some(fields));
                    }
                    break;
                }
            }
        }
        self.entry_when(j, now);
    }

    /// Whether a re-tested condition must be evaluated now (something it reads changed).
    fn worth_testing(&self, condition: u32) -> bool {
        self.may_change(self.vm.tables.expr_reads.get(condition as usize).copied().unwrap_or(Deps::MAX))
    }

    /// Tests `goal when` conditions; leaves on the first that holds.
    #[inline]
    pub(super) fn goal_when(&mut self, j: usize, now: i64) -> bool {
        self.may_change(self.vm.tables.goal_when.get(j).copied().unwrap_or(0)) && self.test_goal_when(j, now)
    }

    /// Whether conditions reading `reads` together may have changed (see `worth_testing`,
    /// which then decides for each).
    #[inline]
    fn may_change(&self, reads: Deps) -> bool {
        reads & (self.test_mask | if self.dirty { self.set_attrs } else { 0 }) != 0
    }

    /// Whether the contact left (a goal held, or its condition failed).
    #[inline(never)]
    fn test_goal_when(&mut self, j: usize, now: i64) -> bool {
        let journey = &self.vm.program.journeys[j];
        for (g, goal) in journey.goals.iter().enumerate() {
            if let GoalKind::When(c) = goal.kind
                && self.worth_testing(c)
            {
                match self.holds_in(c, now, j, None, None) {
                    Some(true) => self.leave(j, now, None, Reason::Goal(g as u32)),
                    Some(false) => continue,
                    None => {}
                }
                return true;
            }
        }
        false
    }

    /// Re-tests the `wait until` the contact waits at; whether its condition failed (and the
    /// contact left).
    pub(super) fn wait_condition(&mut self, j: usize, now: i64) -> bool {
        let pc = self.st.slots[j].pc as usize;
        if let Some(StepOp::WaitCondition { step, condition, on_met, .. }) = self.vm.program.journeys[j].code.get(pc) {
            let (step, condition, on_met) = (*step, *condition, *on_met);
            if self.st.slots[j].wake_at > now && self.worth_testing(condition) {
                match self.holds_in(condition, now, j, Some(step), None) {
                    Some(true) => {
                        self.st.slots[j].wake_at = i64::MAX;
                        self.retime(j);
                        self.exec(j, on_met as usize, now, None, step);
                    }
                    Some(false) => {}
                    None => return true,
                }
            }
        }
        false
    }

    /// `entry when`: enrolls when a condition becomes true (edge-triggered).
    #[inline]
    pub(super) fn entry_when(&mut self, j: usize, now: i64) {
        if self.may_change(self.vm.tables.when_reads.get(j).copied().unwrap_or(0)) {
            self.test_entry_when(j, now);
        }
    }

    #[inline(never)]
    fn test_entry_when(&mut self, j: usize, now: i64) {
        let count = self.vm.tables.when_entries.get(j).map_or(0, Vec::len);
        for i in 0..count {
            let (k, c) = self.vm.tables.when_entries[j][i];
            if !self.worth_testing(c) {
                continue;
            }
            let value = self.holds(Clause::EntryWhen, c, now, Some(j), None);
            let bit = 1u8 << k;
            let before = self.st.slots[j].when_bits & bit != 0;
            if value {
                self.st.slots[j].when_bits |= bit;
            } else {
                self.st.slots[j].when_bits &= !bit;
            }
            if value && !before {
                self.enter(j, now, Trigger::When, None);
            }
        }
    }
}
