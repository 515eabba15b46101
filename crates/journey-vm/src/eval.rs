//! Expression evaluation (a small stack machine over [`Value`]s) and template rendering; the
//! local-time helpers it uses are in [`crate::local`].
//!
//! The stack is a fixed array: evaluating a condition allocates nothing. Every table access is
//! checked, so even an unverified program cannot make this panic — it yields an [`EvalError`].

use crate::fast::{FastTable, Inputs};
use crate::value::{Heap, Strings, Value, constant};
use crate::zone;
use chrono::{Datelike, Timelike};
use chrono_tz::Tz;
use journey_bytecode::{BinOp, Builtin, Instr, Program, TemplateOp};

// Where they were before they had a module of their own, for the callers that name them here.
pub use crate::local::*;

const STACK: usize = 64;
const MAX_STEPS: usize = 100_000;
pub const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq)]
pub struct EvalError(pub String);

impl EvalError {
    const MISSING: &'static str = "missing attribute";
    /// Errors whose text holds a value from the data: the start or the end of their text.
    const BAD_PATTERN: &'static str = "invalid format string";
    const FORMAT_FAILED: &'static str = "cannot format with";
    const BEYOND_INT: &'static str = "is beyond the range of a 64-bit integer";
    const NO_INT: &'static str = "has no integer value";

    /// The error without the values from the data it may name (a `format` pattern, a float):
    /// what errors are counted by, so the counts stay as many as the project's places and
    /// reasons, whatever the data.
    pub fn general(&self) -> &str {
        let m = self.0.as_str();
        if m.starts_with(Self::BAD_PATTERN) {
            Self::BAD_PATTERN
        } else if m.starts_with(Self::FORMAT_FAILED) {
            "cannot format with the pattern"
        } else if m.ends_with(Self::BEYOND_INT) {
            "a float beyond the range of a 64-bit integer"
        } else if m.ends_with(Self::NO_INT) {
            "a float with no integer value (not a finite number)"
        } else {
            m
        }
    }

    /// A required attribute the contact's records never supplied.
    fn missing(name: &str) -> EvalError {
        EvalError(format!("{} `{name}`", Self::MISSING))
    }

    /// Whether this is [`EvalError::missing`]: what a condition may meet before the contact's
    /// attributes are known, and counts as false (LANGUAGE.md §4) — unlike every other error,
    /// which is a fault of the project or of the data.
    pub fn is_missing(&self) -> bool {
        self.0.starts_with(Self::MISSING)
    }
}

/// What an expression can see.
pub struct Env<'a> {
    pub program: &'a Program,
    pub attrs: &'a [Value],
    pub pred_count: &'a [u32],
    pub pred_last: &'a [i64],
    /// Per journey: is the contact enrolled there now?
    pub active: &'a dyn Fn(u32) -> bool,
    pub now: i64,
    /// The fields of the record being processed, as decoded (their strings are on `input`).
    pub event: Option<&'a [Value]>,
    pub trigger: &'a [Value],
    pub tz: Tz,
    /// The heap of the input being run (strings of values marked [`crate::value::INPUT_BIT`]).
    pub input: &'a Heap,
    /// Per expression start, its shape when evaluated directly ([`crate::fast`]).
    pub(crate) fast: &'a FastTable,
}

impl<'a> Env<'a> {
    /// Strings and lists as the expression sees them, with the contact's heap.
    pub fn strings<'s>(&'s self, heap: &'s Heap) -> Strings<'s> {
        Strings { program: self.program, heap, input: self.input }
    }
}

pub struct Machine {
    /// Boxed, so that moving a VM (the runner's workers fold theirs from contact to contact)
    /// copies a pointer, not the stack.
    stack: Box<[Value; STACK]>,
    /// Where the expression being evaluated starts on `stack`: 0, or above the values of the
    /// expression a template inside it is rendered for (whose parts are expressions of their
    /// own and must not overwrite them).
    base: usize,
    pub loops: Vec<Value>,
    iters: Vec<(u32, usize)>,
    /// Where strings and lists are built before they go to the heap (which the parts may be
    /// read from): reused, so a warm machine allocates nothing for them.
    scratch: Scratch,
}

/// See [`Machine::scratch`].
#[derive(Default)]
struct Scratch {
    text: String,
    items: Vec<u32>,
}

impl Default for Machine {
    fn default() -> Self {
        Machine { stack: Box::new([Value::None; STACK]), base: 0, loops: Vec::new(), iters: Vec::new(), scratch: Scratch::default() }
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(msg.into()))
}

fn as_bool(v: Value) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(b),
        _ => err("expected a bool"),
    }
}

impl Machine {
    /// Evaluates the expression starting at `at`.
    pub fn eval(&mut self, env: &Env<'_>, heap: &mut Heap, at: u32) -> Result<Value, EvalError> {
        if let Some(fast) = env.fast.get(at)
            && let Some(v) = fast.eval(&Inputs::of(env), &env.strings(heap))
        {
            return Ok(v);
        }
        let code = &env.program.code;
        let mut pc = at as usize;
        let base = self.base;
        let mut sp = base;
        // Compiled expressions only jump forward; a backward jump (possible only in a hostile
        // program) is counted, so evaluation always ends — at no cost to the others.
        let mut back_jumps = 0usize;
        macro_rules! jump {
            ($t:expr) => {{
                let target = $t as usize;
                if target < pc {
                    back_jumps += 1;
                    if back_jumps > MAX_STEPS {
                        return err("expression does not terminate");
                    }
                }
                pc = target;
            }};
        }
        macro_rules! push {
            ($v:expr) => {{
                if sp >= STACK {
                    return err("expression stack overflow");
                }
                self.stack[sp] = $v;
                sp += 1;
            }};
        }
        macro_rules! pop {
            () => {{
                if sp <= base {
                    return err("expression stack underflow");
                }
                sp -= 1;
                self.stack[sp]
            }};
        }
        loop {
            let Some(instr) = code.get(pc) else { return err("expression runs past the end of the code") };
            pc += 1;
            match instr {
                Instr::Ret => return Ok(pop!()),
                Instr::Const(c) => match env.program.constants.get(*c as usize) {
                    Some(k) => push!(constant(k, *c)),
                    None => return err("bad constant"),
                },
                Instr::Now => push!(Value::Time(env.now)),
                Instr::Attr(a) => match env.attrs.get(*a as usize) {
                    Some(Value::Absent) => {
                        let decl = env.program.attributes.get(*a as usize);
                        match decl {
                            Some(d) if d.optional => push!(Value::None),
                            Some(d) => return Err(EvalError::missing(&d.name)),
                            None => return err("bad attribute"),
                        }
                    }
                    Some(v) => push!(*v),
                    None => return err("bad attribute"),
                },
                Instr::EventField(f) => match env.event.and_then(|e| e.get(*f as usize)) {
                    Some(v) => push!(if matches!(v, Value::Absent) { Value::None } else { v.from_input() }),
                    None => return err("no event field here"),
                },
                Instr::TriggerField(f) => match env.trigger.get(*f as usize) {
                    Some(v) => push!(if matches!(v, Value::Absent) { Value::None } else { *v }),
                    None => return err("the contact entered without a trigger event"),
                },
                Instr::LoopVar(s) => match self.loops.get(*s as usize) {
                    Some(v) => push!(*v),
                    None => return err("bad loop slot"),
                },
                Instr::Not => {
                    let v = as_bool(pop!())?;
                    push!(Value::Bool(!v));
                }
                Instr::Neg => {
                    let v = match pop!() {
                        Value::Int(i) => Value::Int(int(i.checked_neg())?),
                        Value::Float(f) => Value::Float(-f),
                        Value::Duration(d) => Value::Duration(duration(d.checked_neg())?),
                        _ => return err("cannot negate"),
                    };
                    push!(v);
                }
                Instr::IntToFloat => {
                    let v = match pop!() {
                        Value::Int(i) => Value::Float(i as f64),
                        other => other,
                    };
                    push!(v);
                }
                Instr::IsSome => {
                    let v = pop!();
                    push!(Value::Bool(!v.is_none()));
                }
                Instr::JumpIfSome(t) => {
                    let v = pop!();
                    if !v.is_none() {
                        push!(v);
                        jump!(*t);
                    }
                }
                Instr::JumpIfFalseKeep(t) => {
                    let v = pop!();
                    if !as_bool(v)? {
                        push!(v);
                        jump!(*t);
                    }
                }
                Instr::JumpIfTrueKeep(t) => {
                    let v = pop!();
                    if as_bool(v)? {
                        push!(v);
                        jump!(*t);
                    }
                }
                Instr::Bin(op) => {
                    let b = pop!();
                    let a = pop!();
                    let v = binary(*op, a, b, env, heap, &mut self.scratch)?;
                    push!(v);
                }
                Instr::Call(f) => {
                    let arity = f.arity();
                    if sp - base < arity {
                        return err("expression stack underflow");
                    }
                    let args = [self.stack[sp - arity], if arity == 2 { self.stack[sp - 1] } else { Value::None }];
                    sp -= arity;
                    let v = call(*f, args, env, heap, &mut self.scratch.text)?;
                    push!(v);
                }
                Instr::Has { predicate, within_ms } => {
                    let p = *predicate as usize;
                    let (Some(count), Some(last)) = (env.pred_count.get(p), env.pred_last.get(p)) else { return err("bad predicate") };
                    let hit = *count > 0 && (*within_ms < 0 || *last >= env.now.saturating_sub(*within_ms));
                    push!(Value::Bool(hit));
                }
                Instr::Count(p) => match env.pred_count.get(*p as usize) {
                    Some(c) => push!(Value::Int(*c as i64)),
                    None => return err("bad predicate"),
                },
                Instr::Last(p) => match (env.pred_count.get(*p as usize), env.pred_last.get(*p as usize)) {
                    (Some(0), _) => push!(Value::None),
                    (Some(_), Some(t)) => push!(Value::Time(*t)),
                    _ => return err("bad predicate"),
                },
                Instr::InJourney(j) => push!(Value::Bool((env.active)(*j))),
                Instr::MakeList(n) => {
                    let n = *n as usize;
                    if sp - base < n {
                        return err("expression stack underflow");
                    }
                    let items = &mut self.scratch.items;
                    items.clear();
                    for v in &self.stack[sp - n..sp] {
                        match v {
                            Value::Str(id) => items.push(*id),
                            _ => return err("list items must be strings"),
                        }
                    }
                    sp -= n;
                    push!(heap.add_list(items));
                }
                Instr::Render(t) => {
                    // A template inside this one finds the scratch taken and makes its own.
                    let mut text = std::mem::take(&mut self.scratch.text);
                    text.clear();
                    // The template's values are evaluated above this expression's.
                    self.base = sp;
                    let rendered = self.render(env, heap, *t, &mut text);
                    self.base = base;
                    let v = heap.add_string(&text);
                    self.scratch.text = text;
                    rendered?;
                    push!(v);
                }
            }
        }
    }

    pub fn condition(&mut self, env: &Env<'_>, heap: &mut Heap, at: u32) -> Result<bool, EvalError> {
        as_bool(self.eval(env, heap, at)?)
    }

    /// Renders the template starting at `at` into `out`.
    pub fn render(&mut self, env: &Env<'_>, heap: &mut Heap, at: u32, out: &mut String) -> Result<(), EvalError> {
        // Per loop slot: (list id, next index). Reused across renders (a template rendered
        // inside another one finds it taken and makes its own).
        let mut iters = std::mem::take(&mut self.iters);
        iters.clear();
        iters.resize(env.program.loop_slots as usize, (0, 0));
        if self.loops.len() < env.program.loop_slots as usize {
            self.loops.resize(env.program.loop_slots as usize, Value::None);
        }
        let result = self.render_with(env, heap, at, out, &mut iters);
        self.iters = iters;
        result
    }

    fn render_with(&mut self, env: &Env<'_>, heap: &mut Heap, at: u32, out: &mut String, iters: &mut [(u32, usize)]) -> Result<(), EvalError> {
        let ops = &env.program.templates;
        let mut pc = at as usize;
        let mut steps = 0usize;
        loop {
            steps += 1;
            if steps > MAX_STEPS {
                return err("template does not terminate");
            }
            let Some(op) = ops.get(pc) else { return err("template runs past the end") };
            pc += 1;
            match op {
                TemplateOp::End => return Ok(()),
                TemplateOp::Text(s) => out.push_str(env.program.strings.get(*s as usize).map(String::as_str).unwrap_or("")),
                TemplateOp::Value(e) => {
                    let v = self.eval(env, heap, *e)?;
                    env.strings(heap).render(v, out);
                }
                TemplateOp::JumpIfFalse(c, t) => {
                    if !self.condition(env, heap, *c)? {
                        pc = *t as usize;
                    }
                }
                TemplateOp::Jump(t) => pc = *t as usize,
                TemplateOp::ForStart { slot, list, end } => {
                    let Value::List(id) = self.eval(env, heap, *list)? else { return err("`for` needs a list") };
                    let strings = env.strings(heap);
                    let items = strings.list(id);
                    match items.first() {
                        None => pc = *end as usize,
                        Some(first) => {
                            let first = strings.list_item(id, *first);
                            let Some(slot_value) = self.loops.get_mut(*slot as usize) else { return err("bad loop slot") };
                            *slot_value = Value::Str(first);
                            if let Some(it) = iters.get_mut(*slot as usize) {
                                *it = (id, 1);
                            }
                        }
                    }
                }
                TemplateOp::ForNext { slot, start } => {
                    let Some(&(id, next)) = iters.get(*slot as usize) else { return err("bad loop slot") };
                    let strings = env.strings(heap);
                    if let Some(item) = strings.list(id).get(next) {
                        let item = strings.list_item(id, *item);
                        if let Some(v) = self.loops.get_mut(*slot as usize) {
                            *v = Value::Str(item);
                        }
                        if let Some(it) = iters.get_mut(*slot as usize) {
                            it.1 = next + 1;
                        }
                        pc = *start as usize;
                    }
                }
            }
        }
    }
}

/// An integer result, or the error that it does not fit in 64 bits (arithmetic never wraps).
fn int(v: Option<i64>) -> Result<i64, EvalError> {
    v.map_or_else(|| err("integer overflow: the result does not fit in 64 bits"), Ok)
}

/// A duration result, or the error that it does not fit (±292 million years, in milliseconds).
fn duration(v: Option<i64>) -> Result<i64, EvalError> {
    v.map_or_else(|| err("duration overflow: the result does not fit in 64 bits of milliseconds"), Ok)
}

/// A float result, or the error that it is not a finite number (`inf` and `NaN` have no JSON).
fn finite(f: f64) -> Result<f64, EvalError> {
    if f.is_finite() { Ok(f) } else { err("float overflow: the result is not a finite number") }
}

/// The first and last instants a `time` may hold: years 0000 to 9999, the range of RFC 3339
/// (0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z, in milliseconds since the epoch).
pub const TIME_MIN_MS: i64 = -62_167_219_200_000;
pub const TIME_MAX_MS: i64 = 253_402_300_799_999;

/// `t ± d` when the result is a time in range ([`TIME_MIN_MS`] to [`TIME_MAX_MS`]).
#[inline]
pub(crate) fn shift_time(t: i64, d: i64, add: bool) -> Option<i64> {
    let r = if add { t.checked_add(d) } else { t.checked_sub(d) }?;
    (TIME_MIN_MS..=TIME_MAX_MS).contains(&r).then_some(r)
}

/// A whole float as an `i64`; `None` when it has none (not finite, or beyond 64 bits).
pub fn float_to_i64(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; every float below it and at or above -2^63 converts (and
    // neither `NaN` nor an infinity is in the range).
    (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f).then_some(f as i64)
}

/// A float rounded to an integer, or the error that it has none (not finite, or beyond 64 bits).
fn to_int(f: f64) -> Result<i64, EvalError> {
    if let Some(i) = float_to_i64(f) {
        Ok(i)
    } else {
        err(if f.is_finite() { format!("{f:e} {}", EvalError::BEYOND_INT) } else { format!("{f} {}", EvalError::NO_INT) })
    }
}

fn num(v: Value) -> Result<f64, EvalError> {
    match v {
        Value::Float(f) => Ok(f),
        Value::Int(i) => Ok(i as f64),
        _ => err("expected a number"),
    }
}

pub(crate) fn values_equal(a: Value, b: Value, s: &Strings<'_>) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y || s.str(x) == s.str(y),
        (Value::List(x), Value::List(y)) => {
            let (lx, ly) = (s.list(x), s.list(y));
            lx.len() == ly.len() && lx.iter().zip(ly).all(|(p, q)| s.str(s.list_item(x, *p)) == s.str(s.list_item(y, *q)))
        }
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (x as f64) == y,
        (Value::Absent, Value::None) | (Value::None, Value::Absent) => true,
        (x, y) => x == y,
    }
}

/// `x in l`: whether list `l` holds the string `x`.
pub(crate) fn in_list(x: u32, l: u32, s: &Strings<'_>) -> bool {
    let needle = s.str(x);
    s.list(l).iter().any(|i| s.str(s.list_item(l, *i)) == needle)
}

pub(crate) fn order(a: Value, b: Value, s: &Strings<'_>) -> Result<std::cmp::Ordering, EvalError> {
    use std::cmp::Ordering;
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(&y),
        (Value::Time(x), Value::Time(y)) | (Value::Duration(x), Value::Duration(y)) => x.cmp(&y),
        (Value::Date(x), Value::Date(y)) => x.cmp(&y),
        (Value::Str(x), Value::Str(y)) => s.str(x).cmp(s.str(y)),
        (x, y) => num(x)?.partial_cmp(&num(y)?).unwrap_or(Ordering::Equal),
    })
}

fn binary(op: BinOp, a: Value, b: Value, env: &Env<'_>, heap: &mut Heap, scratch: &mut Scratch) -> Result<Value, EvalError> {
    use Value as V;
    let s = env.strings(heap);
    Ok(match op {
        BinOp::Eq => V::Bool(values_equal(a, b, &s)),
        BinOp::Ne => V::Bool(!values_equal(a, b, &s)),
        BinOp::Lt => V::Bool(order(a, b, &s)?.is_lt()),
        BinOp::Le => V::Bool(order(a, b, &s)?.is_le()),
        BinOp::Gt => V::Bool(order(a, b, &s)?.is_gt()),
        BinOp::Ge => V::Bool(order(a, b, &s)?.is_ge()),
        BinOp::InList => {
            let (V::Str(x), V::List(l)) = (a, b) else { return err("`in` needs a string and a list") };
            V::Bool(in_list(x, l, &s))
        }
        BinOp::AddInt | BinOp::SubInt | BinOp::MulInt | BinOp::DivInt => {
            let (V::Int(x), V::Int(y)) = (a, b) else { return err("expected integers") };
            V::Int(int(match op {
                BinOp::AddInt => x.checked_add(y),
                BinOp::SubInt => x.checked_sub(y),
                BinOp::MulInt => x.checked_mul(y),
                _ => {
                    if y == 0 {
                        return err("division by zero");
                    }
                    x.checked_div(y)
                }
            })?)
        }
        BinOp::AddFloat => V::Float(finite(num(a)? + num(b)?)?),
        BinOp::SubFloat => V::Float(finite(num(a)? - num(b)?)?),
        BinOp::MulFloat => V::Float(finite(num(a)? * num(b)?)?),
        BinOp::DivFloat => {
            let (x, y) = (num(a)?, num(b)?);
            if y == 0.0 {
                return err("division by zero");
            }
            V::Float(finite(x / y)?)
        }
        BinOp::AddTimeDuration | BinOp::SubTimeDuration => {
            let (V::Time(t), V::Duration(d)) = (a, b) else { return err("expected time and duration") };
            match shift_time(t, d, op == BinOp::AddTimeDuration) {
                Some(t) => V::Time(t),
                None => return err("time out of range: the result is outside the years 0000 to 9999"),
            }
        }
        BinOp::SubTimeTime => {
            let (V::Time(x), V::Time(y)) = (a, b) else { return err("expected times") };
            V::Duration(duration(x.checked_sub(y))?)
        }
        BinOp::AddDuration | BinOp::SubDuration => {
            let (V::Duration(x), V::Duration(y)) = (a, b) else { return err("expected durations") };
            V::Duration(duration(if op == BinOp::AddDuration { x.checked_add(y) } else { x.checked_sub(y) })?)
        }
        BinOp::MulDurationInt | BinOp::DivDurationInt => {
            let (V::Duration(d), V::Int(n)) = (a, b) else { return err("expected a duration and an integer") };
            if op == BinOp::DivDurationInt && n == 0 {
                return err("division by zero");
            }
            V::Duration(duration(if op == BinOp::MulDurationInt { d.checked_mul(n) } else { d.checked_div(n) })?)
        }
        BinOp::Concat => {
            let (V::Str(x), V::Str(y)) = (a, b) else { return err("expected strings") };
            let text = &mut scratch.text;
            text.clear();
            text.push_str(s.str(x));
            text.push_str(s.str(y));
            heap.add_string(text)
        }
        BinOp::ConcatList => {
            let (V::List(x), V::List(y)) = (a, b) else { return err("expected lists") };
            let items = &mut scratch.items;
            items.clear();
            items.extend(s.list(x).iter().map(|i| s.list_item(x, *i)).chain(s.list(y).iter().map(|i| s.list_item(y, *i))));
            heap.add_list(items)
        }
    })
}

/// Calls a builtin; a string result is built in `scratch` (reused), then added to `heap`.
fn call(f: Builtin, args: [Value; 2], env: &Env<'_>, heap: &mut Heap, scratch: &mut String) -> Result<Value, EvalError> {
    use Value as V;
    let s = env.strings(heap);
    let text = |v: Value| match v {
        V::Str(id) => Ok(s.str(id)),
        _ => err("expected a string"),
    };
    let time = |v: Value| match v {
        V::Time(t) => Ok(local(env.tz, t)),
        _ => err("expected a time"),
    };
    let date = |v: Value| match v {
        V::Date(d) => Ok(date_of_days(d)),
        _ => err("expected a date"),
    };
    Ok(match f {
        Builtin::Lower | Builtin::Upper => {
            scratch.clear();
            let t = text(args[0])?;
            // `str::to_lowercase`'s rule for a final sigma aside, the same text.
            if f == Builtin::Lower {
                if t.contains('Σ') {
                    scratch.push_str(&t.to_lowercase());
                } else {
                    scratch.extend(t.chars().flat_map(char::to_lowercase));
                }
            } else {
                scratch.extend(t.chars().flat_map(char::to_uppercase));
            }
            heap.add_string(scratch)
        }
        Builtin::ContainsStr => V::Bool(text(args[0])?.contains(text(args[1])?)),
        Builtin::ContainsList => {
            let (V::List(l), V::Str(x)) = (args[0], args[1]) else { return err("expected a list and a string") };
            V::Bool(s.list(l).iter().any(|i| s.str(s.list_item(l, *i)) == s.str(x)))
        }
        Builtin::StartsWith => V::Bool(text(args[0])?.starts_with(text(args[1])?)),
        Builtin::EndsWith => V::Bool(text(args[0])?.ends_with(text(args[1])?)),
        Builtin::LenStr => V::Int(text(args[0])?.chars().count() as i64),
        Builtin::LenList => match args[0] {
            V::List(l) => V::Int(s.list(l).len() as i64),
            _ => return err("expected a list"),
        },
        Builtin::AbsInt => match args[0] {
            V::Int(i) => V::Int(int(i.checked_abs())?),
            _ => return err("expected an integer"),
        },
        Builtin::AbsFloat => V::Float(num(args[0])?.abs()),
        Builtin::MinInt | Builtin::MaxInt => match (args[0], args[1]) {
            (V::Int(a), V::Int(b)) => V::Int(if f == Builtin::MinInt { a.min(b) } else { a.max(b) }),
            _ => return err("expected integers"),
        },
        Builtin::MinFloat => V::Float(num(args[0])?.min(num(args[1])?)),
        Builtin::MaxFloat => V::Float(num(args[0])?.max(num(args[1])?)),
        Builtin::MinTime | Builtin::MaxTime => match (args[0], args[1]) {
            (V::Time(a), V::Time(b)) => V::Time(if f == Builtin::MinTime { a.min(b) } else { a.max(b) }),
            _ => return err("expected times"),
        },
        Builtin::Round => V::Int(to_int(num(args[0])?.round())?),
        Builtin::Floor => V::Int(to_int(num(args[0])?.floor())?),
        Builtin::DateOf => V::Date(days_of_date(time(args[0])?.date())),
        Builtin::Year => V::Int(time(args[0])?.year() as i64),
        Builtin::Month => V::Int(time(args[0])?.month() as i64),
        Builtin::Day => V::Int(time(args[0])?.day() as i64),
        Builtin::Weekday => V::Int(time(args[0])?.weekday().number_from_monday() as i64),
        Builtin::Hour => V::Int(time(args[0])?.hour() as i64),
        Builtin::YearOfDate => V::Int(date(args[0])?.year() as i64),
        Builtin::MonthOfDate => V::Int(date(args[0])?.month() as i64),
        Builtin::DayOfDate => V::Int(date(args[0])?.day() as i64),
        Builtin::WeekdayOfDate => V::Int(date(args[0])?.weekday().number_from_monday() as i64),
        Builtin::Format => {
            let V::Time(ms) = args[0] else { return err("expected a time") };
            let pattern = text(args[1])?;
            scratch.clear();
            // The usual specifiers by calendar arithmetic; anything else, chrono's.
            if format_local(zone::to_local(env.tz, ms), pattern, scratch) {
                return Ok(heap.add_string(scratch));
            }
            let t = local(env.tz, ms);
            if chrono::format::StrftimeItems::new(pattern).any(|i| matches!(i, chrono::format::Item::Error)) {
                return err(format!("{} {pattern:?}", EvalError::BAD_PATTERN));
            }
            scratch.clear();
            // `write_to`, not `Display`: the latter builds the text in a string of its own.
            if t.format_with_items(chrono::format::StrftimeItems::new(pattern)).write_to(scratch).is_err() {
                return err(format!("{} {pattern:?}", EvalError::FORMAT_FAILED));
            }
            heap.add_string(scratch)
        }
        Builtin::Days => match args[0] {
            V::Duration(d) => V::Int(d / DAY_MS),
            _ => return err("expected a duration"),
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    /// The time range is exactly RFC 3339's years 0000 to 9999, and shifting stops at its ends.
    #[test]
    fn the_time_range_is_rfc_3339s() {
        let ms = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        assert_eq!(TIME_MIN_MS, ms("0000-01-01T00:00:00Z"));
        assert_eq!(TIME_MAX_MS, ms("9999-12-31T23:59:59.999Z"));
        assert_eq!(shift_time(TIME_MAX_MS - 1, 1, true), Some(TIME_MAX_MS));
        assert_eq!(shift_time(TIME_MAX_MS, 1, true), None);
        assert_eq!(shift_time(TIME_MIN_MS, 1, false), None);
        assert_eq!(shift_time(0, i64::MIN, false), None);
        assert_eq!(to_int(-9_223_372_036_854_775_808.0).ok(), Some(i64::MIN));
        assert!(to_int(9_223_372_036_854_775_808.0).is_err());
        assert!(to_int(f64::NAN).is_err());
    }
}
