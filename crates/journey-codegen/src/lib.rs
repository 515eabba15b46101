//! Code generation: the checker's typed IR → a [`Program`]. Types are never re-derived here:
//! every operation was resolved by the checker (`AddTimeDuration`, `IntToFloat`, …), so this is a
//! straightforward walk that lays out expression code, templates and flattened journey bodies.
//!
//! Journeys are emitted in evaluation order (priority, highest first, then declaration order) so
//! the VM simply iterates them; `enroll`, `in journey` and predicates are remapped accordingly.

use journey_bytecode as bc;
use journey_bytecode::{Const, ExprRef, Instr, Program, StepOp, TemplateOp};
use journey_check::ir::{self, ExprKind, Logic};
use journey_check::types::Type;
use std::collections::HashMap;

struct Gen<'a> {
    ir: &'a ir::Program,
    p: Program,
    strings: HashMap<String, u32>,
    constants: HashMap<String, u32>,
    /// IR journey id → program journey index.
    journey_index: Vec<u32>,
    /// Goal names of the journey being compiled.
    goal_names: Vec<String>,
    text: Option<&'a dyn Fn(journey_diagnostics::Span) -> String>,
    /// Templates nested in the expression being compiled, compiled before it (by the address of
    /// their IR): each of their values is an expression of its own, whose code must not land
    /// inside the enclosing expression's.
    prepared: HashMap<usize, u32>,
}

pub use journey_bytecode::fnv1a;

/// Compiles a checked project. Call only when the checker reported no errors.
pub fn compile(ir: &ir::Program, fingerprint: u64) -> Program {
    compile_with_text(ir, fingerprint, None)
}

/// Like [`compile`], keeping each expression's source text (`text` maps a span to it) as debug
/// information for `journey explain`.
pub fn compile_with_text(ir: &ir::Program, fingerprint: u64, text: Option<&dyn Fn(journey_diagnostics::Span) -> String>) -> Program {
    let mut order: Vec<usize> = (0..ir.journeys.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(ir.journeys[i].priority), ir.journeys[i].order));
    let mut journey_index = vec![0u32; ir.journeys.len()];
    for (position, &i) in order.iter().enumerate() {
        journey_index[i] = position as u32;
    }
    let mut g = Gen {
        ir,
        p: Program {
            strings: Vec::new(),
            constants: Vec::new(),
            attributes: ir.attributes.iter().map(|a| field_decl(a.name.as_str(), &a.ty)).collect(),
            enums: ir
                .enums
                .iter()
                .map(|e| bc::EnumDecl { name: e.name.to_string(), variants: e.variants.iter().map(|v| v.to_string()).collect() })
                .collect(),
            events: ir
                .events
                .iter()
                .map(|e| bc::EventDecl {
                    name: e.name.to_string(),
                    input_name: e.input_name.clone(),
                    fields: e.fields.iter().map(|(n, t)| field_decl(n.as_str(), t)).collect(),
                    engagement: match e.engagement {
                        None => 0,
                        Some(journey_syntax::ast::EngagementKind::Open) => 1,
                        Some(journey_syntax::ast::EngagementKind::Click) => 2,
                    },
                    source: e.source.map(|s| s.to_string()),
                })
                .collect(),
            messages: ir
                .messages
                .iter()
                .map(|m| bc::MessageDecl {
                    name: m.name.to_string(),
                    channel: channel(m.channel),
                    transactional: m.transactional,
                    field_names: m.fields.iter().map(|(n, _)| n.to_string()).collect(),
                })
                .collect(),
            audiences: ir.audiences.iter().map(|a| a.name.to_string()).collect(),
            webhooks: ir.webhooks.iter().map(|w| w.name.to_string()).collect(),
            predicates: Vec::new(),
            policy: bc::Policy { timezone: None, quiet_hours: ir.policy.quiet_hours, caps: Vec::new() },
            journeys: Vec::new(),
            code: Vec::new(),
            templates: Vec::new(),
            loop_slots: 0,
            fingerprint,
            expr_text: Vec::new(),
        },
        strings: HashMap::new(),
        constants: HashMap::new(),
        journey_index,
        goal_names: Vec::new(),
        text,
        prepared: HashMap::new(),
    };
    g.p.policy.caps =
        ir.policy.caps.iter().map(|c| bc::Cap { channel: channel(c.channel), count: c.count, window_ms: c.window_seconds * 1000 }).collect();
    g.p.policy.timezone = ir.policy.timezone.as_ref().map(|e| g.expr(e));
    let predicates: Vec<bc::Predicate> = ir
        .predicates
        .iter()
        .map(|pr| bc::Predicate {
            event: pr.event.0,
            filter: pr.filter.as_ref().map(|f| g.expr(f)),
            since_entry_of: pr.since_entry_of.map(|j| g.journey_index[j.0 as usize]),
        })
        .collect();
    g.p.predicates = predicates;
    for &i in &order {
        let journey = g.journey(&ir.journeys[i]);
        g.p.journeys.push(journey);
    }
    g.p
}

fn channel(c: journey_syntax::ast::Channel) -> bc::Channel {
    match c {
        journey_syntax::ast::Channel::Email => bc::Channel::Email,
        journey_syntax::ast::Channel::Sms => bc::Channel::Sms,
        journey_syntax::ast::Channel::Push => bc::Channel::Push,
    }
}

fn value_type(t: &Type) -> bc::ValueType {
    match t.unwrap_optional() {
        Type::Bool => bc::ValueType::Bool,
        Type::Int => bc::ValueType::Int,
        Type::Float => bc::ValueType::Float,
        Type::Time => bc::ValueType::Time,
        Type::Date => bc::ValueType::Date,
        Type::Duration => bc::ValueType::Duration,
        Type::Enum(e) => bc::ValueType::Enum(e.0),
        Type::List(_) => bc::ValueType::ListOfString,
        _ => bc::ValueType::String,
    }
}

fn field_decl(name: &str, t: &Type) -> bc::FieldDecl {
    bc::FieldDecl { name: name.to_string(), ty: value_type(t), optional: t.is_optional() }
}

impl Gen<'_> {
    fn string(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.p.strings.len() as u32;
        self.p.strings.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn constant(&mut self, c: Const) -> u32 {
        let key = format!("{c:?}");
        if let Some(&i) = self.constants.get(&key) {
            return i;
        }
        let i = self.p.constants.len() as u32;
        self.p.constants.push(c);
        self.constants.insert(key, i);
        i
    }

    fn push_const(&mut self, c: Const) {
        let i = self.constant(c);
        self.p.code.push(Instr::Const(i));
    }

    /// Emits an expression followed by `ret`; returns its start.
    fn expr(&mut self, e: &ir::Expr) -> ExprRef {
        self.prepare_templates(e);
        let start = self.p.code.len() as u32;
        if let Some(text) = self.text {
            self.p.expr_text.push((start, text(e.span)));
        }
        self.emit(e);
        self.p.code.push(Instr::Ret);
        start
    }

    /// Compiles the templates nested in `e` (string literals with `{…}` in an expression:
    /// `set contact.note = "{contact.plan}/{now}"`) ahead of it. Compiled where they are met,
    /// their values' code split the enclosing expression: such a `set` stored the first
    /// value, not the rendered string.
    fn prepare_templates(&mut self, e: &ir::Expr) {
        match &e.kind {
            ExprKind::Template(t) => {
                let key = std::ptr::from_ref(t) as usize;
                if !self.prepared.contains_key(&key) {
                    let id = self.template(t);
                    self.prepared.insert(key, id);
                }
            }
            ExprKind::List(items) | ExprKind::Call(_, items) => items.iter().for_each(|i| self.prepare_templates(i)),
            ExprKind::Not(x) | ExprKind::Neg(x) | ExprKind::IntToFloat(x) => self.prepare_templates(x),
            ExprKind::Binary(_, a, b) | ExprKind::Logic(_, a, b) => {
                self.prepare_templates(a);
                self.prepare_templates(b);
            }
            _ => {}
        }
    }

    fn emit(&mut self, e: &ir::Expr) {
        match &e.kind {
            ExprKind::Int(v) => self.push_const(Const::Int(*v)),
            ExprKind::Float(v) => self.push_const(Const::Float(*v)),
            ExprKind::Str(s) => {
                let i = self.string(s);
                self.push_const(Const::Str(i));
            }
            ExprKind::Template(t) => {
                // Compiled by `prepare_templates` before the enclosing expression began.
                let t = match self.prepared.remove(&(std::ptr::from_ref(t) as usize)) {
                    Some(id) => id,
                    None => self.template(t),
                };
                self.p.code.push(Instr::Render(t));
            }
            ExprKind::Bool(b) => self.push_const(Const::Bool(*b)),
            ExprKind::None | ExprKind::Error => self.push_const(Const::None),
            ExprKind::Duration(s) => self.push_const(Const::Duration(s.saturating_mul(1000))),
            ExprKind::Instant(ms) => self.push_const(Const::Time(*ms)),
            ExprKind::Date(d) => self.push_const(Const::Date(*d)),
            ExprKind::Variant(en, v) => self.push_const(Const::Enum(en.0, *v)),
            ExprKind::List(items) => {
                let constant: Option<Vec<u32>> = items
                    .iter()
                    .map(|i| match &i.kind {
                        ExprKind::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<Option<Vec<String>>>()
                    .map(|v| v.iter().map(|s| self.string(s)).collect());
                match constant {
                    Some(ids) => self.push_const(Const::List(ids)),
                    None => {
                        for item in items {
                            self.emit(item);
                        }
                        self.p.code.push(Instr::MakeList(items.len() as u32));
                    }
                }
            }
            ExprKind::Now => self.p.code.push(Instr::Now),
            ExprKind::Attr(a) => self.p.code.push(Instr::Attr(a.0)),
            ExprKind::EventField(_, f) => self.p.code.push(Instr::EventField(*f)),
            ExprKind::TriggerField(_, f) => self.p.code.push(Instr::TriggerField(*f)),
            ExprKind::LoopVar(s) => {
                self.p.loop_slots = self.p.loop_slots.max(s + 1);
                self.p.code.push(Instr::LoopVar(*s));
            }
            ExprKind::Call(b, args) => {
                for a in args {
                    self.emit(a);
                }
                self.p.code.push(Instr::Call(*b));
            }
            ExprKind::Not(x) => {
                self.emit(x);
                self.p.code.push(Instr::Not);
            }
            ExprKind::Neg(x) => {
                self.emit(x);
                self.p.code.push(Instr::Neg);
            }
            ExprKind::IntToFloat(x) => {
                self.emit(x);
                self.p.code.push(Instr::IntToFloat);
            }
            ExprKind::Logic(op, a, b) => {
                self.emit(a);
                let jump_at = self.p.code.len();
                self.p.code.push(Instr::JumpIfSome(0));
                self.emit(b);
                let end = self.p.code.len() as u32;
                self.p.code[jump_at] = match op {
                    Logic::And => Instr::JumpIfFalseKeep(end),
                    Logic::Or => Instr::JumpIfTrueKeep(end),
                    Logic::Coalesce => Instr::JumpIfSome(end),
                };
                // The jump lands on the next instruction (always at least `ret`).
            }
            ExprKind::Binary(op, a, b) => {
                self.emit(a);
                self.emit(b);
                self.p.code.push(Instr::Bin(*op));
            }
            ExprKind::Has { predicate, within_seconds } => {
                self.p.code.push(Instr::Has { predicate: predicate.0, within_ms: within_seconds.map_or(-1, |s| s.saturating_mul(1000)) })
            }
            ExprKind::Count(p) => self.p.code.push(Instr::Count(p.0)),
            ExprKind::Last(p) => self.p.code.push(Instr::Last(p.0)),
            ExprKind::InJourney(j) => self.p.code.push(Instr::InJourney(self.journey_index[j.0 as usize])),
        }
    }

    /// Emits a template followed by `end`; returns its start.
    fn template(&mut self, t: &ir::Template) -> u32 {
        // Expressions inside are emitted first (into `code`), then the template ops.
        let mut ops = Vec::new();
        self.template_ops(t, &mut ops);
        let start = self.p.templates.len() as u32;
        for op in ops {
            self.p.templates.push(match op {
                TemplateOp::JumpIfFalse(e, t) => TemplateOp::JumpIfFalse(e, t + start),
                TemplateOp::Jump(t) => TemplateOp::Jump(t + start),
                TemplateOp::ForStart { slot, list, end } => TemplateOp::ForStart { slot, list, end: end + start },
                TemplateOp::ForNext { slot, start: s } => TemplateOp::ForNext { slot, start: s + start },
                other => other,
            });
        }
        self.p.templates.push(TemplateOp::End);
        start
    }

    /// Template ops with jump targets relative to the template's start.
    fn template_ops(&mut self, t: &ir::Template, ops: &mut Vec<TemplateOp>) {
        for part in &t.parts {
            match part {
                ir::TemplatePart::Text(s) => {
                    let i = self.string(s);
                    ops.push(TemplateOp::Text(i));
                }
                ir::TemplatePart::Value(e) => {
                    let e = self.expr(e);
                    ops.push(TemplateOp::Value(e));
                }
                ir::TemplatePart::If { branches, otherwise } => {
                    let mut end_jumps = Vec::new();
                    for (cond, body) in branches {
                        let cond = self.expr(cond);
                        let at = ops.len();
                        ops.push(TemplateOp::JumpIfFalse(cond, 0));
                        self.template_ops(body, ops);
                        end_jumps.push(ops.len());
                        ops.push(TemplateOp::Jump(0));
                        let next = ops.len() as u32;
                        ops[at] = TemplateOp::JumpIfFalse(cond, next);
                    }
                    self.template_ops(otherwise, ops);
                    let end = ops.len() as u32;
                    for j in end_jumps {
                        ops[j] = TemplateOp::Jump(end);
                    }
                }
                ir::TemplatePart::For { slot, list, body } => {
                    self.p.loop_slots = self.p.loop_slots.max(slot + 1);
                    let list = self.expr(list);
                    let at = ops.len();
                    ops.push(TemplateOp::ForStart { slot: *slot, list, end: 0 });
                    self.template_ops(body, ops);
                    ops.push(TemplateOp::ForNext { slot: *slot, start: at as u32 + 1 });
                    let end = ops.len() as u32;
                    ops[at] = TemplateOp::ForStart { slot: *slot, list, end };
                }
            }
        }
    }

    fn journey(&mut self, j: &ir::Journey) -> bc::Journey {
        let entries = j
            .entries
            .iter()
            .map(|e| bc::Entry {
                kind: match &e.kind {
                    ir::EntryKind::On(ev) => bc::EntryKind::On(ev.0),
                    ir::EntryKind::When(c) => bc::EntryKind::When(self.expr(c)),
                    ir::EntryKind::At(t) => bc::EntryKind::At(self.expr(t)),
                    ir::EntryKind::Daily { minutes } => bc::EntryKind::Daily { minutes: *minutes },
                    ir::EntryKind::Weekly { weekday, minutes } => bc::EntryKind::Weekly { weekday: *weekday, minutes: *minutes },
                    ir::EntryKind::Interval { seconds } => bc::EntryKind::Interval { ms: seconds.saturating_mul(1000) },
                    ir::EntryKind::Yearly { date, minutes } => bc::EntryKind::Yearly { date: self.expr(date), minutes: *minutes },
                },
                filter: e.filter.as_ref().map(|f| self.expr(f)),
            })
            .collect();
        let exits = j.exits.iter().map(|x| bc::ExitOn { event: x.event.0, filter: x.filter.as_ref().map(|f| self.expr(f)) }).collect();
        let goals = j
            .goals
            .iter()
            .map(|g| bc::Goal {
                name: g.name.to_string(),
                kind: match &g.kind {
                    ir::GoalKind::On { event, filter } => bc::GoalKind::On { event: event.0, filter: filter.as_ref().map(|f| self.expr(f)) },
                    ir::GoalKind::When(c) => bc::GoalKind::When(self.expr(c)),
                },
            })
            .collect();
        let mut code = Vec::new();
        let mut step_ids = Vec::new();
        self.goal_names = j.goals.iter().map(|g| g.name.to_string()).collect();
        self.block(&j.body, &mut code, &mut step_ids);
        code.push(StepOp::Complete);
        let since_entry_predicates = j.predicates.iter().filter(|p| self.ir.predicates[p.0 as usize].since_entry_of.is_some()).map(|p| p.0).collect();
        bc::Journey {
            name: j.name.to_string(),
            kind: j.kind.map(|k| k.to_string()),
            entries,
            reentry: match j.reentry {
                ir::Reentry::Never => bc::Reentry::Never,
                ir::Reentry::Always => bc::Reentry::Always,
                ir::Reentry::AfterSeconds(s) => bc::Reentry::AfterMs(s.saturating_mul(1000)),
            },
            exits,
            goals,
            limit_ms: j.limit_seconds.map(|s| s.saturating_mul(1000)),
            holdout: j.holdout,
            priority: j.priority,
            version: j.version,
            migrate: j
                .migrate
                .iter()
                .map(|m| match &m.to {
                    ir::MigrationTarget::Step(s) => bc::Migration { from: m.from.to_string(), to: Some(s.to_string()), exit_reason: String::new() },
                    ir::MigrationTarget::Exit(r) => bc::Migration { from: m.from.to_string(), to: None, exit_reason: r.clone() },
                })
                .collect(),
            trigger_event: j.trigger.map(|e| e.0),
            step_ids,
            code,
            since_entry_predicates,
        }
    }

    /// Lays out a wait's two blocks: `[wait] [matched…] [jump end] [timeout…] end`. Returns the
    /// wait's own index (a placeholder to overwrite) and the two block starts.
    fn wait_blocks(&mut self, matched: &[ir::Step], timeout: &[ir::Step], code: &mut Vec<StepOp>, ids: &mut Vec<String>) -> (usize, u32, u32) {
        let at = code.len();
        code.push(StepOp::Jump { target: 0 });
        self.block(matched, code, ids);
        let jump_end = code.len();
        code.push(StepOp::Jump { target: 0 });
        let timeout_at = code.len() as u32;
        self.block(timeout, code, ids);
        code[jump_end] = StepOp::Jump { target: code.len() as u32 };
        (at, at as u32 + 1, timeout_at)
    }

    fn block(&mut self, steps: &[ir::Step], code: &mut Vec<StepOp>, ids: &mut Vec<String>) {
        for step in steps {
            let s = ids.len() as u32;
            ids.push(step.id.to_string());
            match &step.kind {
                ir::StepKind::Send { message, fields } => {
                    let fields = fields.iter().map(|(_, t)| self.template(t)).collect();
                    code.push(StepOp::Send { step: s, message: message.0, fields });
                }
                ir::StepKind::Sync { audience, op } => {
                    code.push(StepOp::Sync { step: s, audience: audience.0, add: *op == journey_syntax::ast::SyncOp::Add })
                }
                ir::StepKind::Webhook(w) => code.push(StepOp::Webhook { step: s, webhook: w.0 }),
                ir::StepKind::Set { attribute, value } => {
                    let value = self.expr(value);
                    code.push(StepOp::Set { step: s, attribute: attribute.0, value });
                }
                ir::StepKind::Enroll(j) => code.push(StepOp::Enroll { step: s, journey: self.journey_index[j.0 as usize] }),
                ir::StepKind::WaitDuration { seconds } => code.push(StepOp::WaitDuration { step: s, ms: seconds.saturating_mul(1000) }),
                ir::StepKind::WaitUntil(e) => {
                    let at = self.expr(e);
                    code.push(StepOp::WaitUntil { step: s, at });
                }
                ir::StepKind::WaitClock { weekday, minutes } => {
                    code.push(StepOp::WaitClock { step: s, weekday: weekday.unwrap_or(7), minutes: *minutes })
                }
                ir::StepKind::WaitEvent { event, filter, within_seconds, on_event, on_timeout } => {
                    let filter = filter.as_ref().map(|f| self.expr(f));
                    let (at, matched, timeout) = self.wait_blocks(on_event, on_timeout, code, ids);
                    code[at] = StepOp::WaitEvent {
                        step: s,
                        event: event.0,
                        filter,
                        within_ms: within_seconds.saturating_mul(1000),
                        on_event: matched,
                        on_timeout: timeout,
                    };
                }
                ir::StepKind::WaitCondition { condition, within_seconds, on_met, on_timeout } => {
                    let condition = self.expr(condition);
                    let (at, met, timeout) = self.wait_blocks(on_met, on_timeout, code, ids);
                    code[at] = StepOp::WaitCondition {
                        step: s,
                        condition,
                        within_ms: within_seconds.saturating_mul(1000),
                        on_met: met,
                        on_timeout: timeout,
                    };
                }
                ir::StepKind::If { branches, otherwise } => {
                    let mut end_jumps = Vec::new();
                    for (cond, body) in branches {
                        let condition = self.expr(cond);
                        let at = code.len();
                        code.push(StepOp::Jump { target: 0 });
                        self.block(body, code, ids);
                        end_jumps.push(code.len());
                        code.push(StepOp::Jump { target: 0 });
                        code[at] = StepOp::Branch { step: s, condition, otherwise: code.len() as u32 };
                    }
                    self.block(otherwise, code, ids);
                    let end = code.len() as u32;
                    for j in end_jumps {
                        code[j] = StepOp::Jump { target: end };
                    }
                }
                ir::StepKind::Match { scrutinee, arms } => {
                    let (enumeration, variants) = match &scrutinee.ty {
                        Type::Enum(e) => (e.0, self.ir.enums[e.0 as usize].variants.len()),
                        _ => (u32::MAX, 0),
                    };
                    let scrutinee = self.expr(scrutinee);
                    let at = code.len();
                    code.push(StepOp::Jump { target: 0 });
                    let mut table = vec![u32::MAX; variants];
                    let mut end_jumps = Vec::new();
                    for (patterns, body) in arms {
                        let start = code.len() as u32;
                        if patterns.is_empty() {
                            for slot in table.iter_mut().filter(|t| **t == u32::MAX) {
                                *slot = start;
                            }
                        }
                        for &p in patterns {
                            if let Some(slot) = table.get_mut(p as usize) {
                                *slot = start;
                            }
                        }
                        self.block(body, code, ids);
                        end_jumps.push(code.len());
                        code.push(StepOp::Jump { target: 0 });
                    }
                    let end = code.len() as u32;
                    for j in end_jumps {
                        code[j] = StepOp::Jump { target: end };
                    }
                    for slot in &mut table {
                        if *slot == u32::MAX {
                            *slot = end;
                        }
                    }
                    code[at] = StepOp::Match { step: s, scrutinee, enumeration, table };
                }
                ir::StepKind::Split { arms } | ir::StepKind::Experiment { arms, .. } => {
                    let at = code.len();
                    code.push(StepOp::Jump { target: 0 });
                    let mut arm_ops = Vec::new();
                    let mut end_jumps = Vec::new();
                    let mut upper = 0;
                    for arm in arms {
                        upper += arm.share;
                        arm_ops.push(bc::ArmOp { name: arm.name.to_string(), upper, target: code.len() as u32 });
                        self.block(&arm.body, code, ids);
                        end_jumps.push(code.len());
                        code.push(StepOp::Jump { target: 0 });
                    }
                    let end = code.len() as u32;
                    for j in end_jumps {
                        code[j] = StepOp::Jump { target: end };
                    }
                    code[at] = match &step.kind {
                        ir::StepKind::Experiment { name, measure, .. } => {
                            let measure = match measure {
                                Some(m) => self.goal_names.iter().position(|g| g == m.as_str()).map(|i| i as u32),
                                None if !self.goal_names.is_empty() => Some(0),
                                None => None,
                            };
                            StepOp::Experiment { step: s, name: name.to_string(), measure, arms: arm_ops }
                        }
                        _ => StepOp::Split { step: s, arms: arm_ops },
                    };
                }
                ir::StepKind::Exit { reason } => code.push(StepOp::Exit { step: s, reason: reason.clone() }),
            }
        }
    }
}
