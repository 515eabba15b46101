//! The step interpreter: what each step operation of a journey does to the contact
//! (LANGUAGE.md §4), and the send caps.

use super::*;
use crate::eval::{EvalError, local_minutes};
use crate::value::Value;
use journey_bytecode::{StepOp, bucket};

impl Run<'_, '_> {
    /// Runs `render` on the run's text buffer (see [`crate::Rendered`]); its result, and the
    /// field spanning what it appended.
    fn render_field<R>(&mut self, render: impl FnOnce(&mut Self, &mut String) -> R) -> (R, Field) {
        let mut text = std::mem::take(self.out.rendered.text_mut());
        let start = text.len();
        let result = render(self, &mut text);
        let field = Field::Text { start: start as u32, len: (text.len() - start) as u32 };
        *self.out.rendered.text_mut() = text;
        (result, field)
    }

    /// Runs journey `j` from `pc` until the contact waits or leaves; `from` is the flow node the
    /// contact comes from (the entry, or the step it waited at).
    pub(super) fn exec(&mut self, j: usize, mut pc: usize, now: i64, event: Option<&[Value]>, mut from: u32) {
        let program = self.vm.program;
        let journey = &program.journeys[j];
        if self.st.slots[j].status != ACTIVE {
            return;
        }
        // Both budgets in one test: this body may run `STEP_BUDGET - 1` operations, the run
        // `RUN_STEP_BUDGET` in all; `steps_left` reaches `floor` when either is spent.
        let start = self.steps_left;
        let floor = start.saturating_sub(STEP_BUDGET - 1);
        loop {
            if self.steps_left <= floor {
                let reason = if start - self.steps_left >= STEP_BUDGET - 1 {
                    "journey body does not terminate".to_string()
                } else {
                    format!("more than {RUN_STEP_BUDGET} steps for one contact in one run")
                };
                self.fail(j, now, None, EvalError(reason));
                return;
            }
            self.steps_left -= 1;
            let Some(op) = journey.code.get(pc) else {
                self.edge(j, from, journey.flow_end());
                self.leave(j, now, None, Reason::Completed);
                return;
            };
            // A step is entered once: not again for each operation of an `if` chain, nor when a
            // send held by quiet hours is performed later.
            let step = self.vm.tables.step_of(j, pc);
            if step != u32::MAX && step != from {
                // LANGUAGE.md §7: a transition is one step executed for one contact. The move
                // counts for the step, the edge and the transitions at once (see `crate::flow`).
                self.edge(j, from, step);
                from = step;
            }
            let holdout = self.st.slots[j].flags & HOLDOUT != 0;
            match op {
                StepOp::Send { step, message, fields } => {
                    let Some(decl) = program.messages.get(*message as usize) else { return };
                    if !decl.transactional
                        && let Some((start, end)) = program.policy.quiet_hours
                    {
                        let tz = self.tz(now);
                        if in_quiet(local_minutes(tz, now), start, end) {
                            let wake = self.next_clock(now, now, end, None);
                            self.wait_here(j, pc, wake.max(now + 1));
                            self.st.slots[j].flags |= QUIET_HELD;
                            if self.vm.trace.is_some() {
                                self.trace_held(j, *message, now, wake.max(now + 1));
                            }
                            return;
                        }
                    }
                    // Each field is rendered straight into the run's text buffer.
                    let mark = self.out.rendered.mark();
                    for &f in fields {
                        if self.vm.options.direct {
                            if let Some(Some(field)) = self.vm.tables.const_text.get(f as usize) {
                                self.out.rendered.push(*field);
                                continue;
                            }
                            let (done, field) = self.render_field(|run, text| run.render_direct(f, now, j, event, text));
                            if done {
                                self.out.rendered.push(field);
                                continue;
                            }
                            // Declined halfway: the machine renders it again from the start.
                            self.out.rendered.forget_text(field);
                        }
                        let tz = self.tz(now);
                        let (result, field) = self
                            .render_field(|run, text| run.with_env(now, Some(j), event, tz, |machine, env, heap| machine.render(env, heap, f, text)));
                        if let Err(e) = result {
                            self.out.rendered.rollback(mark);
                            self.fail(j, now, Some(*step), e);
                            return;
                        }
                        self.out.rendered.push(field);
                    }
                    let rendered = self.out.rendered.span_since(mark);
                    let send = ActionKind::Send { message: *message, fields: rendered };
                    if holdout {
                        self.emit(now, j, Some(*step), ActionKind::HeldOut(Held::Send { message: *message, fields: rendered }));
                    } else if !decl.transactional && self.capped(decl.channel, now) {
                        // Not sent: its fields are not kept either.
                        self.out.rendered.rollback(mark);
                        self.emit(now, j, Some(*step), ActionKind::Suppressed { message: *message });
                    } else {
                        // Kept for the channel's caps; a channel without one keeps nothing.
                        if !decl.transactional
                            && self.vm.tables.caps.get(decl.channel.index()).is_some_and(|caps| !caps.is_empty())
                            && let Some(log) = self.st.sent.get_mut(decl.channel.index())
                        {
                            log.push(now);
                        }
                        self.emit(now, j, Some(*step), send);
                    }
                    pc += 1;
                }
                StepOp::Sync { step, audience, add } => {
                    let held = Held::Sync { audience: *audience, add: *add };
                    self.emit(now, j, Some(*step), if holdout { ActionKind::HeldOut(held) } else { held.kind() });
                    pc += 1;
                }
                StepOp::Webhook { step, webhook } => {
                    let held = Held::Webhook { webhook: *webhook };
                    self.emit(now, j, Some(*step), if holdout { ActionKind::HeldOut(held) } else { held.kind() });
                    pc += 1;
                }
                StepOp::Set { step, attribute, value } => match self.eval(*value, now, Some(j), event) {
                    Ok(v) => {
                        if let Some(a) = self.st.attrs.get_mut(*attribute as usize) {
                            *a = v;
                        }
                        if attr_bit(*attribute) & self.vm.tables.zone != 0 {
                            self.tz = None;
                        }
                        self.dirty = true;
                        self.set_attrs |= attr_bit(*attribute);
                        self.last_set_journey = j as u32;
                        let ((), value) = self.render_field(|run, text| run.strings().push_json(v, text));
                        self.emit(now, j, Some(*step), ActionKind::Set { attribute: *attribute, value });
                        pc += 1;
                    }
                    Err(e) => {
                        self.fail(j, now, Some(*step), e);
                        return;
                    }
                },
                StepOp::Enroll { journey: target, .. } => {
                    let target = *target as usize;
                    if target < self.st.slots.len() {
                        self.enter(target, now, Trigger::Enroll(j as u32), None);
                    }
                    // The one operation that runs another journey's steps, which might have
                    // ended this one: it goes on only if the contact is still in it.
                    if self.st.slots[j].status != ACTIVE {
                        return;
                    }
                    pc += 1;
                }
                StepOp::WaitDuration { ms, .. } => {
                    self.wait_here(j, pc, now.saturating_add(*ms));
                    return;
                }
                StepOp::WaitUntil { step, at } => match self.eval(*at, now, Some(j), event) {
                    Ok(Value::Time(t)) if t > now => {
                        self.wait_here(j, pc, t);
                        return;
                    }
                    Ok(Value::Time(_)) => pc += 1,
                    Ok(_) => {
                        self.fail(j, now, Some(*step), EvalError("`wait until` needs a time".into()));
                        return;
                    }
                    Err(e) => {
                        self.fail(j, now, Some(*step), e);
                        return;
                    }
                },
                StepOp::WaitClock { weekday, minutes, .. } => {
                    let t = self.next_clock(now, now, *minutes, if *weekday < 7 { Some(*weekday) } else { None });
                    if t > now {
                        self.wait_here(j, pc, t);
                        return;
                    }
                    pc += 1;
                }
                StepOp::WaitEvent { within_ms, .. } => {
                    self.wait_here(j, pc, now.saturating_add(*within_ms));
                    return;
                }
                StepOp::WaitCondition { step, condition, within_ms, on_met, .. } => match self.condition(*condition, now, Some(j), event) {
                    Ok(true) => pc = *on_met as usize,
                    Ok(false) => {
                        self.wait_here(j, pc, now.saturating_add(*within_ms));
                        return;
                    }
                    Err(e) => {
                        self.fail(j, now, Some(*step), e);
                        return;
                    }
                },
                StepOp::Branch { step, condition, otherwise } => match self.condition(*condition, now, Some(j), event) {
                    Ok(true) => pc += 1,
                    Ok(false) => pc = *otherwise as usize,
                    Err(e) => {
                        self.fail(j, now, Some(*step), e);
                        return;
                    }
                },
                StepOp::Match { step, scrutinee, table, .. } => match self.eval(*scrutinee, now, Some(j), event) {
                    Ok(Value::Enum(_, v)) if (v as usize) < table.len() => pc = table[v as usize] as usize,
                    Ok(_) => {
                        self.fail(j, now, Some(*step), EvalError("`match` value is not one of the enum's variants".into()));
                        return;
                    }
                    Err(e) => {
                        self.fail(j, now, Some(*step), e);
                        return;
                    }
                },
                StepOp::Split { step, arms } => {
                    let step_id = journey.step_ids.get(*step as usize).map(String::as_str).unwrap_or("");
                    let b = bucket(self.contact, &journey.name, step_id);
                    let Some((i, arm)) = arm_of(arms, b) else { return };
                    self.emit(now, j, Some(*step), ActionKind::Assign { pc: pc as u32, arm: i });
                    pc = arm.target as usize;
                }
                StepOp::Experiment { step, name, arms, .. } => {
                    let forced =
                        self.vm.options.forced_arms.iter().find(|(e, _)| e == name).and_then(|(_, a)| arms.iter().position(|x| &x.name == a));
                    let arm = match forced {
                        Some(i) => arms.get(i).map(|a| (i as u32, a)),
                        None => arm_of(arms, bucket(self.contact, &journey.name, name)),
                    };
                    let Some((i, arm)) = arm else { return };
                    self.emit(now, j, Some(*step), ActionKind::Assign { pc: pc as u32, arm: i });
                    pc = arm.target as usize;
                }
                StepOp::Jump { target } => pc = *target as usize,
                StepOp::Exit { step, .. } => {
                    self.leave(j, now, Some(*step), Reason::ExitStep(pc as u32));
                    return;
                }
                StepOp::Complete => {
                    self.edge(j, from, journey.flow_end());
                    self.leave(j, now, None, Reason::Completed);
                    return;
                }
            }
        }
    }
}

/// The arm (and its index) whose bucket range holds `bucket`: the first whose upper bound is
/// above it, else the last.
fn arm_of(arms: &[journey_bytecode::ArmOp], bucket: u32) -> Option<(u32, &journey_bytecode::ArmOp)> {
    let i = arms.iter().position(|a| bucket < a.upper).unwrap_or(arms.len().checked_sub(1)?);
    arms.get(i).map(|a| (i as u32, a))
}

impl Run<'_, '_> {
    /// Would one more send on this channel exceed a cap? (Caps count performed sends in
    /// `(now - window, now]` across all journeys.)
    fn capped(&mut self, channel: journey_bytecode::Channel, now: i64) -> bool {
        let (Some(caps), Some(log)) = (self.vm.tables.caps.get(channel.index()), self.st.sent.get_mut(channel.index())) else { return false };
        if caps.is_empty() {
            return false;
        }
        forget_uncountable(log, caps, now);
        caps.iter().any(|&(count, window)| log.iter().filter(|t| **t > now.saturating_sub(window)).count() >= count as usize)
    }

    /// Drops the sends no cap can count any more: the next run starts at `until`, so a send
    /// before `until` less the channel's longest window is never counted again (and a channel
    /// without a cap keeps none). The contact's state then stays as small as its caps need,
    /// run after run.
    pub(super) fn forget_old_sends(&mut self, until: i64) {
        for (log, caps) in self.st.sent.iter_mut().zip(&self.vm.tables.caps) {
            forget_uncountable(log, caps, until);
        }
    }
}

/// Drops from a channel's send log what its caps (longest window first) cannot count at `at`
/// or later: the sends at or before `at` less the longest window; all of them without a cap.
fn forget_uncountable(log: &mut Vec<i64>, caps: &[(u32, i64)], at: i64) {
    match caps.first() {
        Some(&(_, longest)) => log.retain(|t| *t > at.saturating_sub(longest)),
        None => log.clear(),
    }
}
