//! The structural verifier: every index in a program is checked against the table it points
//! into before the VM runs it, so a corrupt or hostile `.jbc` is an error message, never a panic.
//! (The VM also uses checked access; the verifier is what turns a bad file into a clear error
//! up front instead of a runtime `error` action.)

use crate::program::*;

struct Verifier<'a> {
    p: &'a Program,
}

type Check = Result<(), String>;

fn within(what: &str, index: u32, len: usize) -> Check {
    if (index as usize) < len { Ok(()) } else { Err(format!("{what} index {index} out of range (only {len})")) }
}

impl Verifier<'_> {
    fn expr(&self, at: ExprRef) -> Check {
        within("expression", at, self.p.code.len())
    }

    fn opt_expr(&self, at: Option<ExprRef>) -> Check {
        at.map_or(Ok(()), |e| self.expr(e))
    }

    fn template(&self, at: u32) -> Check {
        within("template", at, self.p.templates.len())
    }

    fn event(&self, e: u32) -> Check {
        within("event", e, self.p.events.len())
    }

    fn constants(&self) -> Check {
        for c in &self.p.constants {
            match c {
                Const::Str(s) => within("string", *s, self.p.strings.len())?,
                Const::List(items) => items.iter().try_for_each(|s| within("string", *s, self.p.strings.len()))?,
                Const::Enum(e, v) => {
                    within("enum", *e, self.p.enums.len())?;
                    within("variant", *v, self.p.enums[*e as usize].variants.len())?;
                }
                _ => {}
            }
        }
        for decl in self.p.attributes.iter().chain(self.p.events.iter().flat_map(|e| e.fields.iter())) {
            if let ValueType::Enum(e) = decl.ty {
                within("enum", e, self.p.enums.len())?;
            }
        }
        Ok(())
    }

    fn code(&self) -> Check {
        if self.p.code.last().is_some_and(|i| *i != Instr::Ret) {
            return Err("expression code does not end with `ret`".into());
        }
        let max_fields = self.p.events.iter().map(|e| e.fields.len()).max().unwrap_or(0);
        for (at, instr) in self.p.code.iter().enumerate() {
            let r = match instr {
                Instr::Const(c) => within("constant", *c, self.p.constants.len()),
                Instr::Attr(a) => within("attribute", *a, self.p.attributes.len()),
                Instr::EventField(f) | Instr::TriggerField(f) => within("event field", *f, max_fields),
                Instr::LoopVar(s) => within("loop slot", *s, self.p.loop_slots as usize),
                Instr::JumpIfSome(t) | Instr::JumpIfFalseKeep(t) | Instr::JumpIfTrueKeep(t) => {
                    if (*t as usize) > at && (*t as usize) < self.p.code.len() {
                        Ok(())
                    } else {
                        Err(format!("jump from {at} to {t} is not forward within the code"))
                    }
                }
                Instr::Has { predicate, .. } | Instr::Count(predicate) | Instr::Last(predicate) => {
                    within("predicate", *predicate, self.p.predicates.len())
                }
                Instr::InJourney(j) => within("journey", *j, self.p.journeys.len()),
                Instr::Render(t) => self.template(*t),
                _ => Ok(()),
            };
            r.map_err(|e| format!("instruction {at}: {e}"))?;
        }
        Ok(())
    }

    fn templates(&self) -> Check {
        if self.p.templates.last().is_some_and(|t| *t != TemplateOp::End) {
            return Err("template code does not end with `end`".into());
        }
        for (at, op) in self.p.templates.iter().enumerate() {
            let r = match op {
                TemplateOp::Text(s) => within("string", *s, self.p.strings.len()),
                TemplateOp::Value(e) => self.expr(*e),
                TemplateOp::JumpIfFalse(e, t) => self.expr(*e).and(self.template(*t)),
                TemplateOp::Jump(t) => self.template(*t),
                TemplateOp::ForStart { slot, list, end } => {
                    within("loop slot", *slot, self.p.loop_slots as usize).and(self.expr(*list)).and(self.template(*end))
                }
                TemplateOp::ForNext { slot, start } => within("loop slot", *slot, self.p.loop_slots as usize).and(self.template(*start)),
                TemplateOp::End => Ok(()),
            };
            r.map_err(|e| format!("template op {at}: {e}"))?;
        }
        Ok(())
    }

    fn journey(&self, j: &Journey) -> Check {
        let target = |t: u32| within("step target", t, j.code.len());
        let step = |s: u32| within("step id", s, j.step_ids.len());
        if j.code.last() != Some(&StepOp::Complete) {
            return Err("journey code does not end with `complete`".into());
        }
        for entry in &j.entries {
            match &entry.kind {
                EntryKind::On(e) => self.event(*e)?,
                EntryKind::When(x) | EntryKind::At(x) | EntryKind::Yearly { date: x, .. } => self.expr(*x)?,
                EntryKind::Interval { ms } if *ms <= 0 => return Err("recurring interval must be positive".into()),
                _ => {}
            }
            self.opt_expr(entry.filter)?;
        }
        for exit in &j.exits {
            self.event(exit.event)?;
            self.opt_expr(exit.filter)?;
        }
        for goal in &j.goals {
            match &goal.kind {
                GoalKind::On { event, filter } => {
                    self.event(*event)?;
                    self.opt_expr(*filter)?;
                }
                GoalKind::When(x) => self.expr(*x)?,
            }
        }
        if let Some(e) = j.trigger_event {
            self.event(e)?;
        }
        for p in &j.since_entry_predicates {
            within("predicate", *p, self.p.predicates.len())?;
        }
        for (at, op) in j.code.iter().enumerate() {
            if let Some(s) = op.step() {
                step(s)?;
            }
            let r = match op {
                StepOp::Send { message, fields, .. } => within("message", *message, self.p.messages.len()).and_then(|()| {
                    if fields.len() != self.p.messages[*message as usize].field_names.len() {
                        return Err("send has the wrong number of fields".into());
                    }
                    fields.iter().try_for_each(|f| self.template(*f))
                }),
                StepOp::Sync { audience, .. } => within("audience", *audience, self.p.audiences.len()),
                StepOp::Webhook { webhook, .. } => within("webhook", *webhook, self.p.webhooks.len()),
                StepOp::Set { attribute, value, .. } => within("attribute", *attribute, self.p.attributes.len()).and(self.expr(*value)),
                StepOp::Enroll { journey, .. } => within("journey", *journey, self.p.journeys.len()),
                StepOp::WaitUntil { at, .. } => self.expr(*at),
                StepOp::WaitEvent { event, filter, on_event, on_timeout, .. } => {
                    self.event(*event).and(self.opt_expr(*filter)).and(target(*on_event)).and(target(*on_timeout))
                }
                StepOp::WaitCondition { condition, on_met, on_timeout, .. } => self.expr(*condition).and(target(*on_met)).and(target(*on_timeout)),
                StepOp::Branch { condition, otherwise, .. } => self.expr(*condition).and(target(*otherwise)),
                StepOp::Match { scrutinee, enumeration, table, .. } => within("enum", *enumeration, self.p.enums.len())
                    .and_then(|()| {
                        let variants = self.p.enums[*enumeration as usize].variants.len();
                        if table.len() == variants {
                            Ok(())
                        } else {
                            Err(format!("match has {} targets for an enum of {variants} variants", table.len()))
                        }
                    })
                    .and(self.expr(*scrutinee))
                    .and(table.iter().try_for_each(|t| target(*t))),
                StepOp::Split { arms, .. } | StepOp::Experiment { arms, .. } => {
                    if arms.last().map(|a| a.upper) != Some(10_000) {
                        return Err(format!("step op {at}: arms do not cover 100%"));
                    }
                    arms.iter().try_for_each(|a| target(a.target))
                }
                StepOp::Jump { target: t } => target(*t),
                _ => Ok(()),
            };
            r.map_err(|e| format!("step op {at}: {e}"))?;
        }
        Ok(())
    }

    fn all(&self) -> Check {
        self.constants()?;
        self.code()?;
        self.templates()?;
        for p in &self.p.predicates {
            self.event(p.event)?;
            self.opt_expr(p.filter)?;
            if let Some(j) = p.since_entry_of {
                within("journey", j, self.p.journeys.len())?;
            }
        }
        self.opt_expr(self.p.policy.timezone)?;
        for j in &self.p.journeys {
            self.journey(j).map_err(|e| format!("journey `{}`: {e}", j.name))?;
        }
        Ok(())
    }
}

/// Checks every index, jump target and table reference of a program.
pub fn verify(program: &Program) -> Result<(), String> {
    Verifier { p: program }.all()
}
