//! Expression and template checking (LANGUAGE.md §2–§3): names, operators, functions,
//! optionals, behaviour predicates, with enum variants resolved from the expected type.

use crate::ir::*;
use crate::types::Type;
use crate::{Checker, Cx, DefKind};
use journey_diagnostics::{Diagnostic, Span};
use journey_syntax::Symbol;
use journey_syntax::ast::{self, BinOp, UnOp};

const FUNCTIONS: &[&str] = &[
    "lower",
    "upper",
    "contains",
    "starts_with",
    "ends_with",
    "len",
    "abs",
    "min",
    "max",
    "round",
    "floor",
    "date",
    "year",
    "month",
    "day",
    "weekday",
    "hour",
    "format",
    "days",
];

fn mk(kind: ExprKind, ty: Type, span: Span) -> Expr {
    Expr { kind, ty, span }
}

impl<'a> Checker<'a> {
    /// A boolean condition (`if`, `where`, `entry when`, `goal when`, `wait until … within`).
    pub(crate) fn condition(&mut self, e: &ast::Expr, cx: &Cx) -> Expr {
        let checked = self.expr(e, cx, Some(&Type::Bool));
        match &checked.ty {
            Type::Bool | Type::Error => {}
            Type::Optional(inner) if **inner == Type::Bool => self.optional_misuse(&checked, "as a condition"),
            other => {
                let found = self.type_name(other);
                self.emit(
                    Diagnostic::error("J0135", format!("a condition must be `bool`, found `{found}`"), checked.span)
                        .with_label(format!("this is `{found}`"))
                        .with_help("compare it with something, e.g. `… > 0` or `… == \"x\"`"),
                );
            }
        }
        checked
    }

    /// An expression that must have (or convert to) `target`: `set`, record fields, `entry at`.
    pub(crate) fn expect_type(&mut self, e: &ast::Expr, cx: &Cx, target: &Type, what: &str) -> Expr {
        let checked = self.expr(e, cx, Some(target));
        self.coerce(checked, target, what)
    }

    pub(crate) fn coerce(&mut self, checked: Expr, target: &Type, what: &str) -> Expr {
        if checked.ty.fits(target) {
            if checked.ty == Type::Int && *target.unwrap_optional() == Type::Float {
                let span = checked.span;
                return mk(ExprKind::IntToFloat(Box::new(checked)), Type::Float, span);
            }
            return checked;
        }
        if checked.ty.is_optional() && checked.ty.unwrap_optional().fits(target) {
            self.optional_misuse(&checked, &format!("for {what}"));
            return Expr::error(checked.span);
        }
        let (found, wanted) = (self.type_name(&checked.ty), self.type_name(target));
        self.emit(
            Diagnostic::error("J0130", format!("type mismatch: {what} needs `{wanted}`, found `{found}`"), checked.span)
                .with_label(format!("this is `{found}`")),
        );
        Expr::error(checked.span)
    }

    pub(crate) fn optional_misuse(&mut self, e: &Expr, what: &str) {
        let text = self.text(e.span);
        let ty = self.type_name(&e.ty);
        self.emit(
            Diagnostic::error("J0131", format!("`{text}` is optional (`{ty}`) and cannot be used {what}"), e.span)
                .with_label("may be none")
                .with_help(format!("unwrap it with a default, e.g. `{text} ?? …`, or test it with `{text} != none`")),
        );
    }

    fn record_type(&mut self, e: &Expr) {
        if !e.ty.is_error() {
            let name = self.type_name(&e.ty);
            self.expr_types.push((e.span, name));
        }
    }

    pub(crate) fn expr(&mut self, e: &ast::Expr, cx: &Cx, expected: Option<&Type>) -> Expr {
        let checked = self.expr_inner(e, cx, expected);
        self.record_type(&checked);
        checked
    }

    fn expr_inner(&mut self, e: &ast::Expr, cx: &Cx, expected: Option<&Type>) -> Expr {
        let span = e.span;
        match &e.kind {
            ast::ExprKind::Int(v) => mk(ExprKind::Int(*v), Type::Int, span),
            ast::ExprKind::Float(v) => mk(ExprKind::Float(*v), Type::Float, span),
            ast::ExprKind::Bool(b) => mk(ExprKind::Bool(*b), Type::Bool, span),
            ast::ExprKind::None => mk(ExprKind::None, Type::NoneLit, span),
            ast::ExprKind::Duration(s) => mk(ExprKind::Duration(*s), Type::Duration, span),
            ast::ExprKind::Instant(ms) => mk(ExprKind::Instant(*ms), Type::Time, span),
            ast::ExprKind::Date(d) => mk(ExprKind::Date(*d), Type::Date, span),
            ast::ExprKind::Clock(_) => {
                self.emit(Diagnostic::error("J0130", "a time of day is not a value here", span).with_label("time of day"));
                Expr::error(span)
            }
            ast::ExprKind::Str(t) => match t.as_plain() {
                Some(text) => mk(ExprKind::Str(text), Type::String, span),
                None => {
                    let template = self.template(t, cx);
                    mk(ExprKind::Template(template), Type::String, span)
                }
            },
            ast::ExprKind::List(items) => self.list(items, cx, expected, span),
            ast::ExprKind::Name(n) => self.name(*n, cx, expected),
            ast::ExprKind::Contact => {
                self.emit(
                    Diagnostic::error("J0130", "`contact` is not a value", span)
                        .with_label("needs an attribute")
                        .with_help("read an attribute: `contact.<name>`"),
                );
                Expr::error(span)
            }
            ast::ExprKind::Event => {
                self.emit(
                    Diagnostic::error("J0130", "`event` is not a value", span).with_label("needs a field").with_help("read a field: `event.<name>`"),
                );
                Expr::error(span)
            }
            ast::ExprKind::Field(base, field) => self.field(base, *field, cx, span),
            ast::ExprKind::Call(f, args) => self.call(*f, args, cx, span),
            ast::ExprKind::Unary(UnOp::Not, inner) => {
                let inner = self.condition(inner, cx);
                mk(ExprKind::Not(Box::new(inner)), Type::Bool, span)
            }
            ast::ExprKind::Unary(UnOp::Neg, inner) => {
                let inner = self.expr(inner, cx, None);
                match inner.ty.clone() {
                    ty @ (Type::Int | Type::Float | Type::Duration) => mk(ExprKind::Neg(Box::new(inner)), ty, span),
                    Type::Error => Expr::error(span),
                    other => {
                        self.operand_error(&inner, &other, "`-`", "a number or a duration");
                        Expr::error(span)
                    }
                }
            }
            ast::ExprKind::Binary(op, a, b) => self.binary(*op, a, b, cx, span),
            ast::ExprKind::Has { event, cond, window } => {
                let Some(predicate) = self.predicate(*event, cond.as_deref(), matches!(window, Some(ast::Window::SinceEntry(_))), cx, span) else {
                    return Expr::error(span);
                };
                let within_seconds = match window {
                    Some(ast::Window::Within(d)) => Some(d.seconds),
                    _ => None,
                };
                mk(ExprKind::Has { predicate, within_seconds }, Type::Bool, span)
            }
            ast::ExprKind::Count { event, cond, since_entry } => match self.predicate(*event, cond.as_deref(), *since_entry, cx, span) {
                Some(p) => mk(ExprKind::Count(p), Type::Int, span),
                None => Expr::error(span),
            },
            ast::ExprKind::Last { event, cond } => match self.predicate(*event, cond.as_deref(), false, cx, span) {
                Some(p) => mk(ExprKind::Last(p), Type::optional(Type::Time), span),
                None => Expr::error(span),
            },
            ast::ExprKind::InJourney(j) => match self.journeys.get(&j.name).copied() {
                Some(id) => {
                    self.refer(DefKind::Journey, id.0, j.span);
                    mk(ExprKind::InJourney(id), Type::Bool, span)
                }
                None => {
                    let c = crate::names(&self.journeys);
                    self.unknown("J0106", "journey", *j, c, None);
                    Expr::error(span)
                }
            },
            ast::ExprKind::Error => Expr::error(span),
        }
    }

    fn list(&mut self, items: &[ast::Expr], cx: &Cx, expected: Option<&Type>, span: Span) -> Expr {
        let expected_item = match expected.map(Type::unwrap_optional) {
            Some(Type::List(inner)) => Some((**inner).clone()),
            _ => None,
        };
        let mut checked = Vec::new();
        let mut item_ty = expected_item.clone();
        for item in items {
            let e = self.expr(item, cx, item_ty.as_ref());
            let e = match &item_ty {
                Some(t) => self.coerce(e, t, "a list item"),
                None => {
                    item_ty = Some(e.ty.clone());
                    e
                }
            };
            checked.push(e);
        }
        let item_ty = item_ty.unwrap_or(Type::String);
        mk(ExprKind::List(checked), Type::List(Box::new(item_ty)), span)
    }

    /// A bare name: `now`, a loop variable, or an enum variant (from the expected type, else the
    /// one enum that has it).
    fn name(&mut self, n: ast::Ident, cx: &Cx, expected: Option<&Type>) -> Expr {
        let span = n.span;
        match n.as_str() {
            "now" => return mk(ExprKind::Now, Type::Time, span),
            "trigger" => {
                self.emit(
                    Diagnostic::error("J0134", "`trigger` is not a value", span)
                        .with_label("needs a field")
                        .with_help("read a field of the enrolling event: `trigger.<name>`"),
                );
                return Expr::error(span);
            }
            _ => {}
        }
        if let Some((_, ty, slot)) = cx.loop_vars.iter().rev().find(|(name, _, _)| *name == n.name) {
            return mk(ExprKind::LoopVar(*slot), ty.clone(), span);
        }
        if let Some(Type::Enum(id)) = expected.map(Type::unwrap_optional) {
            let info = &self.program.enums[id.0 as usize];
            if let Some(index) = info.variants.iter().position(|v| *v == n.name) {
                let id = *id;
                self.refer(DefKind::Variant, (id.0 << 16) | index as u32, span);
                return mk(ExprKind::Variant(id, index as u32), Type::Enum(id), span);
            }
            let (enum_name, variants) = (info.name, info.variants.clone());
            let meant = Self::meant(n.as_str(), variants.iter().map(|v| v.as_str()));
            self.emit(
                Diagnostic::error("J0108", format!("`{}` is not a variant of `{enum_name}`", n.as_str()), span)
                    .with_label(format!("not a `{enum_name}`"))
                    .with_suggestion(meant, || {
                        Some(format!("`{enum_name}` has {}", variants.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")))
                    }),
            );
            return Expr::error(span);
        }
        let owners: Vec<(EnumId, usize)> = self
            .program
            .enums
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.variants.iter().position(|v| *v == n.name).map(|p| (EnumId(i as u32), p)))
            .collect();
        match owners.as_slice() {
            [(id, index)] => {
                self.refer(DefKind::Variant, (id.0 << 16) | *index as u32, span);
                mk(ExprKind::Variant(*id, *index as u32), Type::Enum(*id), span)
            }
            [] => {
                let mut candidates: Vec<Symbol> = self.program.enums.iter().flat_map(|e| e.variants.iter().copied()).collect();
                candidates.push(Symbol::intern("now"));
                candidates.extend(cx.loop_vars.iter().map(|(n, _, _)| *n));
                let meant = Self::meant(n.as_str(), candidates.iter().map(|c| c.as_str()));
                self.emit(
                    Diagnostic::error("J0111", format!("unknown name `{}`", n.as_str()), span)
                        .with_label("not defined")
                        .with_suggestion(meant, || {
                            Some("names are `now`, enum variants, and `contact.<attribute>`, `event.<field>`, `trigger.<field>`".into())
                        }),
                );
                Expr::error(span)
            }
            several => {
                let enums: Vec<String> = several.iter().map(|(id, _)| format!("`{}`", self.enum_names[id.0 as usize])).collect();
                self.emit(
                    Diagnostic::error("J0111", format!("`{}` is a variant of several enums ({})", n.as_str(), enums.join(", ")), span)
                        .with_label("ambiguous")
                        .with_help("compare it with a value of the enum you mean, e.g. `contact.plan == pro`"),
                );
                Expr::error(span)
            }
        }
    }

    fn field(&mut self, base: &ast::Expr, field: ast::Ident, cx: &Cx, span: Span) -> Expr {
        match &base.kind {
            ast::ExprKind::Contact => match self.attrs.get(&field.name).copied() {
                Some(id) => {
                    self.refer(DefKind::Attribute, id.0, field.span);
                    mk(ExprKind::Attr(id), self.program.attributes[id.0 as usize].ty.clone(), span)
                }
                None => {
                    let c = crate::names(&self.attrs);
                    self.unknown("J0101", "contact attribute", field, c, Some("attributes are declared in the `contact { … }` block".into()));
                    Expr::error(span)
                }
            },
            ast::ExprKind::Event => match cx.event {
                Some(event) => self.event_field(event, field, span, false),
                None => {
                    self.emit(
                        Diagnostic::error("J0133", "`event` is only available where an event is being matched", base.span)
                            .with_label("no event here")
                            .with_help("`event.<field>` works in `where` clauses and in the body of a matched `wait for`; use `trigger.<field>` for the enrolling event"),
                    );
                    Expr::error(span)
                }
            },
            ast::ExprKind::Name(n) if n.as_str() == "trigger" => match cx.trigger {
                Some(event) => {
                    if let Some(j) = cx.journey {
                        self.trigger_uses.entry(j).or_insert(span);
                    }
                    self.event_field(event, field, span, true)
                }
                None => {
                    let reason = if cx.no_trigger_reason.is_empty() { "there is no enrolling event here" } else { cx.no_trigger_reason };
                    self.emit(
                        Diagnostic::error("J0134", format!("`trigger` is not available: {reason}"), base.span)
                            .with_label("no single enrolling event")
                            .with_help("`trigger.<field>` needs every `entry` of the journey to be `entry on` the same event"),
                    );
                    Expr::error(span)
                }
            },
            _ => {
                let inner = self.expr(base, cx, None);
                if !inner.ty.is_error() {
                    let ty = self.type_name(&inner.ty);
                    self.emit(
                        Diagnostic::error("J0130", format!("`{ty}` has no fields"), field.span)
                            .with_label("no field here")
                            .with_help("fields are read from `contact`, `event` and `trigger`"),
                    );
                }
                Expr::error(span)
            }
        }
    }

    fn event_field(&mut self, event: EventId, field: ast::Ident, span: Span, trigger: bool) -> Expr {
        let info = &self.program.events[event.0 as usize];
        match info.fields.iter().position(|(n, _)| *n == field.name) {
            Some(index) => {
                let ty = info.fields[index].1.clone();
                self.refer(DefKind::EventField, (event.0 << 16) | index as u32, field.span);
                let kind = if trigger { ExprKind::TriggerField(event, index as u32) } else { ExprKind::EventField(event, index as u32) };
                mk(kind, ty, span)
            }
            None => {
                let event_name = info.name;
                let candidates: Vec<Symbol> = info.fields.iter().map(|(n, _)| *n).collect();
                let fallback = if candidates.is_empty() {
                    format!("`{event_name}` has no fields")
                } else {
                    format!("`{event_name}` has {}", candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "))
                };
                let meant = Self::meant(field.as_str(), candidates.iter().map(|c| c.as_str()));
                self.emit(
                    Diagnostic::error("J0110", format!("event `{event_name}` has no field `{}`", field.as_str()), field.span)
                        .with_label("unknown field")
                        .with_suggestion(meant, || Some(fallback)),
                );
                Expr::error(span)
            }
        }
    }

    /// Registers (or reuses) a behaviour predicate over `event` with an optional filter.
    fn predicate(&mut self, event: ast::Ident, cond: Option<&ast::Expr>, since_entry: bool, cx: &Cx, span: Span) -> Option<PredicateId> {
        let Some(event_id) = self.events.get(&event.name).copied() else {
            let c = crate::names(&self.events);
            self.unknown("J0102", "event", event, c, None);
            return None;
        };
        self.refer(DefKind::Event, event_id.0, event.span);
        let inner_cx = Cx { event: Some(event_id), loop_vars: Vec::new(), ..cx.clone() };
        let filter = cond.map(|c| self.condition(c, &inner_cx));
        let since_entry_of = if since_entry {
            match cx.journey {
                Some(j) => Some(j),
                None => {
                    self.emit(
                        Diagnostic::error("J0136", "`since entry` is only meaningful inside a journey", span)
                            .with_label("no enrollment here")
                            .with_help("remove `since entry` to count the contact's whole history"),
                    );
                    None
                }
            }
        } else {
            None
        };
        if filter.as_ref().is_some_and(|f| f.ty.is_error()) {
            return None;
        }
        let key = format!(
            "{}|{}|{}",
            event.as_str(),
            cond.map(|c| self.text(c.span).split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default(),
            since_entry_of.map(|j| j.0 as i64).unwrap_or(-1)
        );
        if let Some(&id) = self.predicate_keys.get(&key) {
            self.note_predicate(cx, id);
            return Some(id);
        }
        let id = PredicateId(self.program.predicates.len() as u32);
        self.program.predicates.push(Predicate { event: event_id, filter, since_entry_of, key: key.clone() });
        self.predicate_keys.insert(key, id);
        self.note_predicate(cx, id);
        Some(id)
    }

    fn note_predicate(&mut self, cx: &Cx, id: PredicateId) {
        if let Some(j) = cx.journey {
            let list = &mut self.program.journeys[j.0 as usize].predicates;
            if !list.contains(&id) {
                list.push(id);
            }
        }
    }

    fn operand_error(&mut self, operand: &Expr, ty: &Type, op: &str, wanted: &str) {
        if ty.is_optional() && !matches!(ty, Type::NoneLit) {
            self.optional_misuse(operand, &format!("with {op}"));
            return;
        }
        let found = self.type_name(ty);
        self.emit(Diagnostic::error("J0130", format!("{op} needs {wanted}, found `{found}`"), operand.span).with_label(format!("this is `{found}`")));
    }

    fn binary(&mut self, op: BinOp, a: &ast::Expr, b: &ast::Expr, cx: &Cx, span: Span) -> Expr {
        match op {
            BinOp::And | BinOp::Or => {
                let (l, r) = (self.condition(a, cx), self.condition(b, cx));
                let op = if op == BinOp::And { Logic::And } else { Logic::Or };
                mk(ExprKind::Logic(op, Box::new(l), Box::new(r)), Type::Bool, span)
            }
            BinOp::Eq | BinOp::Ne => {
                let (l, r) = self.pair(a, b, cx);
                if l.ty.is_error() || r.ty.is_error() {
                    return Expr::error(span);
                }
                let l_none = matches!(l.ty, Type::NoneLit);
                let r_none = matches!(r.ty, Type::NoneLit);
                let ok = match (&l.ty, &r.ty) {
                    _ if l_none || r_none => {
                        let other = if l_none { &r } else { &l };
                        if !other.ty.is_optional() {
                            let ty = self.type_name(&other.ty);
                            self.emit(
                                Diagnostic::error("J0131", format!("`{}` is `{ty}`, never none", self.text(other.span)), other.span)
                                    .with_label("not optional")
                                    .with_help("only optional values (`T?`) can be compared with `none`"),
                            );
                            return Expr::error(span);
                        }
                        true
                    }
                    (x, y) if x.is_optional() || y.is_optional() => {
                        let opt = if x.is_optional() { &l } else { &r };
                        self.optional_misuse(opt, &format!("with `{}`", op.as_str()));
                        return Expr::error(span);
                    }
                    (x, y) => x == y || (x.is_numeric() && y.is_numeric()),
                };
                if !ok {
                    let (x, y) = (self.type_name(&l.ty), self.type_name(&r.ty));
                    self.emit(
                        Diagnostic::error("J0130", format!("cannot compare `{x}` with `{y}`"), span)
                            .with_label(format!("`{x}` {} `{y}`", op.as_str()))
                            .with_help("both sides of `==` and `!=` must have the same type"),
                    );
                    return Expr::error(span);
                }
                let (l, r) = promote(l, r);
                let op = if op == BinOp::Eq { Op::Eq } else { Op::Ne };
                mk(ExprKind::Binary(op, Box::new(l), Box::new(r)), Type::Bool, span)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let (l, r) = self.pair(a, b, cx);
                if l.ty.is_error() || r.ty.is_error() {
                    return Expr::error(span);
                }
                for side in [&l, &r] {
                    if side.ty.is_optional() {
                        self.optional_misuse(side, &format!("with `{}`", op.as_str()));
                        return Expr::error(span);
                    }
                }
                let ordered = |t: &Type| matches!(t, Type::Int | Type::Float | Type::Time | Type::Date | Type::Duration | Type::String);
                let ok = (l.ty.is_numeric() && r.ty.is_numeric()) || (l.ty == r.ty && ordered(&l.ty));
                if !ok {
                    let (x, y) = (self.type_name(&l.ty), self.type_name(&r.ty));
                    self.emit(
                        Diagnostic::error("J0130", format!("cannot order `{x}` and `{y}`"), span)
                            .with_label(format!("`{x}` {} `{y}`", op.as_str()))
                            .with_help("`<`, `<=`, `>`, `>=` compare numbers, times, dates, durations or strings of the same type"),
                    );
                    return Expr::error(span);
                }
                let (l, r) = promote(l, r);
                let op = match op {
                    BinOp::Lt => Op::Lt,
                    BinOp::Le => Op::Le,
                    BinOp::Gt => Op::Gt,
                    _ => Op::Ge,
                };
                mk(ExprKind::Binary(op, Box::new(l), Box::new(r)), Type::Bool, span)
            }
            BinOp::In => {
                let r = self.expr(b, cx, None);
                let item = match &r.ty {
                    Type::List(inner) => Some((**inner).clone()),
                    Type::Error => None,
                    other => {
                        let other = other.clone();
                        self.operand_error(&r, &other, "`in`", "a list on its right");
                        None
                    }
                };
                let l = self.expr(a, cx, item.as_ref());
                let Some(item) = item else { return Expr::error(span) };
                let l = self.coerce(l, &item, "the left side of `in`");
                if l.ty.is_error() {
                    return Expr::error(span);
                }
                mk(ExprKind::Binary(Op::InList, Box::new(l), Box::new(r)), Type::Bool, span)
            }
            BinOp::Coalesce => {
                let l = self.expr(a, cx, None);
                if l.ty.is_error() {
                    return Expr::error(span);
                }
                if !l.ty.is_optional() || matches!(l.ty, Type::NoneLit) {
                    let ty = self.type_name(&l.ty);
                    self.emit(
                        Diagnostic::error("J0131", format!("`??` needs an optional on its left, found `{ty}`"), l.span)
                            .with_label("never none")
                            .with_help("remove `?? …`: this value is always present"),
                    );
                    return Expr::error(span);
                }
                let inner = l.ty.unwrap_optional().clone();
                let r = self.expr(b, cx, Some(&inner));
                if r.ty.is_error() {
                    return Expr::error(span);
                }
                let result = if r.ty.is_optional() { Type::optional(inner.clone()) } else { inner.clone() };
                let r = self.coerce(r, &Type::optional(inner), "the right side of `??`");
                mk(ExprKind::Logic(Logic::Coalesce, Box::new(l), Box::new(r)), result, span)
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => self.arithmetic(op, a, b, cx, span),
        }
    }

    /// Checks both sides; a bare name on the left (an enum variant) takes the right's type.
    fn pair(&mut self, a: &ast::Expr, b: &ast::Expr, cx: &Cx) -> (Expr, Expr) {
        if matches!(a.kind, ast::ExprKind::Name(_)) && !matches!(b.kind, ast::ExprKind::Name(_)) {
            let r = self.expr(b, cx, None);
            let l = self.expr(a, cx, Some(&r.ty));
            (l, r)
        } else {
            let l = self.expr(a, cx, None);
            let r = self.expr(b, cx, Some(&l.ty));
            (l, r)
        }
    }

    fn arithmetic(&mut self, op: BinOp, a: &ast::Expr, b: &ast::Expr, cx: &Cx, span: Span) -> Expr {
        let l = self.expr(a, cx, None);
        let r = self.expr(b, cx, Some(&l.ty));
        if l.ty.is_error() || r.ty.is_error() {
            return Expr::error(span);
        }
        for side in [&l, &r] {
            if side.ty.is_optional() {
                self.optional_misuse(side, &format!("in `{}`", op.as_str()));
                return Expr::error(span);
            }
        }
        use Type as T;
        let resolved = match (op, &l.ty, &r.ty) {
            (BinOp::Add, T::Int, T::Int) => Some((Op::AddInt, T::Int)),
            (BinOp::Sub, T::Int, T::Int) => Some((Op::SubInt, T::Int)),
            (BinOp::Mul, T::Int, T::Int) => Some((Op::MulInt, T::Int)),
            (BinOp::Div, T::Int, T::Int) => Some((Op::DivInt, T::Int)),
            (BinOp::Add, x, y) if x.is_numeric() && y.is_numeric() => Some((Op::AddFloat, T::Float)),
            (BinOp::Sub, x, y) if x.is_numeric() && y.is_numeric() => Some((Op::SubFloat, T::Float)),
            (BinOp::Mul, x, y) if x.is_numeric() && y.is_numeric() => Some((Op::MulFloat, T::Float)),
            (BinOp::Div, x, y) if x.is_numeric() && y.is_numeric() => Some((Op::DivFloat, T::Float)),
            (BinOp::Add, T::Time, T::Duration) => Some((Op::AddTimeDuration, T::Time)),
            (BinOp::Sub, T::Time, T::Duration) => Some((Op::SubTimeDuration, T::Time)),
            (BinOp::Sub, T::Time, T::Time) => Some((Op::SubTimeTime, T::Duration)),
            (BinOp::Add, T::Duration, T::Duration) => Some((Op::AddDuration, T::Duration)),
            (BinOp::Sub, T::Duration, T::Duration) => Some((Op::SubDuration, T::Duration)),
            (BinOp::Mul, T::Duration, T::Int) => Some((Op::MulDurationInt, T::Duration)),
            (BinOp::Div, T::Duration, T::Int) => Some((Op::DivDurationInt, T::Duration)),
            (BinOp::Add, T::String, T::String) => Some((Op::Concat, T::String)),
            (BinOp::Add, T::List(x), T::List(y)) if x == y => Some((Op::ConcatList, l.ty.clone())),
            _ => None,
        };
        match resolved {
            Some((resolved_op, ty)) => {
                let (l, r) = if ty == T::Float { promote(l, r) } else { (l, r) };
                mk(ExprKind::Binary(resolved_op, Box::new(l), Box::new(r)), ty, span)
            }
            None => {
                let (x, y) = (self.type_name(&l.ty), self.type_name(&r.ty));
                let help = match (op, &l.ty, &r.ty) {
                    (BinOp::Add, T::Duration, T::Time) => "write the time first: `time + duration`".to_string(),
                    _ => "arithmetic works on numbers, `time ± duration`, `time - time`, durations, strings (`+`) and lists (`+`)".to_string(),
                };
                self.emit(
                    Diagnostic::error("J0130", format!("cannot apply `{}` to `{x}` and `{y}`", op.as_str()), span)
                        .with_label(format!("`{x}` {} `{y}`", op.as_str()))
                        .with_help(help),
                );
                Expr::error(span)
            }
        }
    }

    fn call(&mut self, f: ast::Ident, args: &[ast::Expr], cx: &Cx, span: Span) -> Expr {
        let name = f.as_str();
        if !FUNCTIONS.contains(&name) {
            let meant = Self::meant(name, FUNCTIONS.iter().copied());
            self.emit(
                Diagnostic::error("J0109", format!("unknown function `{name}`"), f.span)
                    .with_label("not a function")
                    .with_suggestion(meant, || Some(format!("the functions are {}", FUNCTIONS.join(", ")))),
            );
            return Expr::error(span);
        }
        let arity = match name {
            "contains" | "starts_with" | "ends_with" | "min" | "max" | "format" => 2,
            _ => 1,
        };
        if args.len() != arity {
            self.emit(
                Diagnostic::error(
                    "J0132",
                    format!("`{name}` takes {arity} argument{}, found {}", if arity == 1 { "" } else { "s" }, args.len()),
                    span,
                )
                .with_label("wrong number of arguments"),
            );
            return Expr::error(span);
        }
        let checked: Vec<Expr> = args.iter().map(|a| self.expr(a, cx, None)).collect();
        if checked.iter().any(|a| a.ty.is_error()) {
            return Expr::error(span);
        }
        for a in &checked {
            if a.ty.is_optional() {
                self.optional_misuse(a, &format!("as an argument of `{name}`"));
                return Expr::error(span);
            }
        }
        use Type as T;
        let types: Vec<&Type> = checked.iter().map(|a| &a.ty).collect();
        let resolved = match (name, types.as_slice()) {
            ("lower", [T::String]) => Some((Builtin::Lower, T::String)),
            ("upper", [T::String]) => Some((Builtin::Upper, T::String)),
            ("contains", [T::String, T::String]) => Some((Builtin::ContainsStr, T::Bool)),
            ("contains", [T::List(x), y]) if y.fits(x) => Some((Builtin::ContainsList, T::Bool)),
            ("starts_with", [T::String, T::String]) => Some((Builtin::StartsWith, T::Bool)),
            ("ends_with", [T::String, T::String]) => Some((Builtin::EndsWith, T::Bool)),
            ("len", [T::String]) => Some((Builtin::LenStr, T::Int)),
            ("len", [T::List(_)]) => Some((Builtin::LenList, T::Int)),
            ("abs", [T::Int]) => Some((Builtin::AbsInt, T::Int)),
            ("abs", [T::Float]) => Some((Builtin::AbsFloat, T::Float)),
            ("min", [T::Int, T::Int]) => Some((Builtin::MinInt, T::Int)),
            ("max", [T::Int, T::Int]) => Some((Builtin::MaxInt, T::Int)),
            ("min", [x, y]) if x.is_numeric() && y.is_numeric() => Some((Builtin::MinFloat, T::Float)),
            ("max", [x, y]) if x.is_numeric() && y.is_numeric() => Some((Builtin::MaxFloat, T::Float)),
            ("min", [T::Time, T::Time]) => Some((Builtin::MinTime, T::Time)),
            ("max", [T::Time, T::Time]) => Some((Builtin::MaxTime, T::Time)),
            ("round", [x]) if x.is_numeric() => Some((Builtin::Round, T::Int)),
            ("floor", [x]) if x.is_numeric() => Some((Builtin::Floor, T::Int)),
            ("date", [T::Time]) => Some((Builtin::DateOf, T::Date)),
            ("year", [T::Time]) => Some((Builtin::Year, T::Int)),
            ("month", [T::Time]) => Some((Builtin::Month, T::Int)),
            ("day", [T::Time]) => Some((Builtin::Day, T::Int)),
            ("weekday", [T::Time]) => Some((Builtin::Weekday, T::Int)),
            ("hour", [T::Time]) => Some((Builtin::Hour, T::Int)),
            ("year", [T::Date]) => Some((Builtin::YearOfDate, T::Int)),
            ("month", [T::Date]) => Some((Builtin::MonthOfDate, T::Int)),
            ("day", [T::Date]) => Some((Builtin::DayOfDate, T::Int)),
            ("weekday", [T::Date]) => Some((Builtin::WeekdayOfDate, T::Int)),
            ("format", [T::Time, T::String]) => Some((Builtin::Format, T::String)),
            ("days", [T::Duration]) => Some((Builtin::Days, T::Int)),
            _ => None,
        };
        match resolved {
            Some((builtin, ty)) => {
                if let (Builtin::Format, Some(Expr { kind: ExprKind::Str(pattern), span: at, .. })) = (builtin, checked.get(1)) {
                    self.format_pattern(pattern, *at);
                }
                let checked = match builtin {
                    Builtin::MinFloat | Builtin::MaxFloat | Builtin::Round | Builtin::Floor => checked.into_iter().map(to_float).collect(),
                    _ => checked,
                };
                mk(ExprKind::Call(builtin, checked), ty, span)
            }
            None => {
                let found: Vec<String> = types.iter().map(|t| self.type_name(t)).collect();
                let signature = match name {
                    "lower" | "upper" => "`(string) -> string`",
                    "contains" => "`(string, string) -> bool` or `([string], string) -> bool`",
                    "starts_with" | "ends_with" => "`(string, string) -> bool`",
                    "len" => "`(string) -> int` or `([string]) -> int`",
                    "abs" => "`(int) -> int` or `(float) -> float`",
                    "min" | "max" => "two numbers or two times",
                    "round" | "floor" => "`(float) -> int`",
                    "date" => "`(time) -> date`",
                    "format" => "`(time, string) -> string`",
                    "days" => "`(duration) -> int`",
                    _ => "`(time) -> int` or `(date) -> int`",
                };
                self.emit(
                    Diagnostic::error("J0130", format!("`{name}` cannot take ({})", found.join(", ")), span)
                        .with_label("wrong argument types")
                        .with_help(format!("`{name}` takes {signature}")),
                );
                Expr::error(span)
            }
        }
    }

    /// A literal `format` pattern is checked here, not at the send: an unknown specifier (`%Q`)
    /// would otherwise be an `error` action for every contact that reaches it.
    fn format_pattern(&mut self, pattern: &str, span: Span) {
        use chrono::format::{Item, StrftimeItems};
        if !StrftimeItems::new(pattern).any(|i| matches!(i, Item::Error)) {
            return;
        }
        let bad = bad_specifier(pattern);
        let message = if bad == "%" {
            "a `%` ending a `format` pattern starts no specifier (`%%` is a percent sign)".to_string()
        } else {
            format!("`{bad}` is not a `format` specifier")
        };
        self.emit(
            Diagnostic::error("J0156", message, span)
                .with_label(format!("`{bad}` in this pattern"))
                .with_help("`format` takes chrono's strftime specifiers: `%Y` year, `%m` month, `%d` day, `%b` month name, `%a` weekday name, `%H:%M` time, `%%` a percent sign"),
        );
    }

    /// Checks a template string in a context (LANGUAGE.md §3).
    pub(crate) fn template(&mut self, t: &ast::Template, cx: &Cx) -> Template {
        let mut parts = Vec::new();
        for part in &t.parts {
            match part {
                ast::TemplatePart::Text(text, _) => parts.push(TemplatePart::Text(text.clone())),
                ast::TemplatePart::Expr(e) => {
                    let value = self.expr(e, cx, None);
                    if value.ty.is_optional() {
                        self.optional_misuse(&value, "in a template");
                        parts.push(TemplatePart::Value(Expr::error(value.span)));
                    } else {
                        parts.push(TemplatePart::Value(value));
                    }
                }
                ast::TemplatePart::If { branches, otherwise, span } => {
                    let branches = branches
                        .iter()
                        .map(|(c, body)| {
                            let c = self.condition(c, cx);
                            let body = self.template(&ast::Template { parts: body.clone(), span: *span }, cx);
                            (c, body)
                        })
                        .collect();
                    let otherwise = match otherwise {
                        Some(body) => self.template(&ast::Template { parts: body.clone(), span: *span }, cx),
                        None => Template::default(),
                    };
                    parts.push(TemplatePart::If { branches, otherwise });
                }
                ast::TemplatePart::For { var, list, body, span } => {
                    let list = self.expr(list, cx, None);
                    let item = match &list.ty {
                        Type::List(inner) => (**inner).clone(),
                        Type::Error => Type::Error,
                        other => {
                            let other = other.clone();
                            self.operand_error(&list, &other, "`{for … in …}`", "a list");
                            Type::Error
                        }
                    };
                    let slot = self.next_loop_slot;
                    self.next_loop_slot += 1;
                    let mut inner_cx = cx.clone();
                    inner_cx.loop_vars.push((var.name, item, slot));
                    let body = self.template(&ast::Template { parts: body.clone(), span: *span }, &inner_cx);
                    parts.push(TemplatePart::For { slot, list, body });
                }
            }
        }
        Template { parts }
    }
}

fn to_float(e: Expr) -> Expr {
    if e.ty == Type::Int {
        let span = e.span;
        mk(ExprKind::IntToFloat(Box::new(e)), Type::Float, span)
    } else {
        e
    }
}

/// Mixed int/float operands: the int side becomes float.
fn promote(l: Expr, r: Expr) -> (Expr, Expr) {
    match (&l.ty, &r.ty) {
        (Type::Int, Type::Float) => (to_float(l), r),
        (Type::Float, Type::Int) => (l, to_float(r)),
        _ => (l, r),
    }
}

/// The first specifier of a strftime pattern that chrono does not read (`%Q`, a `%` at the end),
/// for the message; the whole pattern when it cannot tell which.
fn bad_specifier(pattern: &str) -> String {
    use chrono::format::{Item, StrftimeItems};
    let mut chars = pattern.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '%' {
            continue;
        }
        // A specifier: `%`, optional padding flag (`-`, `_`, `0`) or `.`/digits, then a letter.
        let mut end = i + 1;
        while let Some(&(j, d)) = chars.peek() {
            end = j + d.len_utf8();
            chars.next();
            if !matches!(d, '-' | '_' | '0'..='9' | '.' | ':' | '#') {
                break;
            }
        }
        let spec = pattern.get(i..end).unwrap_or(pattern);
        if StrftimeItems::new(spec).any(|item| matches!(item, Item::Error)) {
            return spec.to_string();
        }
    }
    pattern.to_string()
}
