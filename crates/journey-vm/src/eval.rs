//! Expression evaluation (a small stack machine over [`Value`]s), template rendering, and the
//! local-time helpers (contact time zone, DST rules of LANGUAGE.md §4).
//!
//! The stack is a fixed array: evaluating a condition allocates nothing. Every table access is
//! checked, so even an unverified program cannot make this panic — it yields an [`EvalError`].

use crate::fast::{FastTable, Inputs};
use crate::value::{Heap, Strings, Value, constant};
use crate::zone;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use chrono_tz::Tz;
use journey_bytecode::{BinOp, Builtin, Instr, Program, TemplateOp};

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

// ---------------------------------------------------------------------------------------------
// Local time

/// The local wall-clock time of an instant in `tz`.
pub fn local(tz: Tz, ms: i64) -> NaiveDateTime {
    match chrono::DateTime::from_timestamp_millis(zone::to_local(tz, ms)) {
        Some(t) => t.naive_utc(),
        None => NaiveDateTime::default(),
    }
}

/// The local day (days since 1970-01-01) of an instant in `tz`, by the calendar arithmetic of
/// [`crate::value::civil`] rather than chrono's: `local(tz, ms).date()` as a day number,
/// without its conversions. `None` more than 250,000 years from 1970, where [`local`] answers
/// instead.
pub fn local_day(tz: Tz, ms: i64) -> Option<i64> {
    const BOUND: i64 = 250_000 * 366 * 86_400_000;
    let local = zone::to_local(tz, ms);
    (-BOUND..BOUND).contains(&local).then(|| zone::split_local(local).0)
}

/// `year()` of an instant in `tz`: [`local_day`]'s year, chrono's beyond its bound.
pub fn local_year(tz: Tz, ms: i64) -> i64 {
    match local_day(tz, ms) {
        Some(day) => crate::value::civil(day).0,
        None => i64::from(local(tz, ms).year()),
    }
}

/// `date()` of an instant in `tz`, in days since 1970-01-01: [`local_day`] (within its bound,
/// about 91 million days, so it fits), chrono's beyond it.
pub fn local_date(tz: Tz, ms: i64) -> i32 {
    match local_day(tz, ms) {
        Some(day) => day as i32,
        None => days_of_date(local(tz, ms).date()),
    }
}

const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// `format(t, pattern)` of the local wall-clock time `local_ms` into `out`, as chrono's
/// `format` writes it, for the usual specifiers (`%Y %m %d %e %b %h %B %a %A %H %I %M %S %p %y
/// %j %u %w %F %T %R %D %%`) and years 0 to 9999. `false` (and `out` left to be cleared) for
/// anything else — another specifier, a padding modifier, a `%` at the end, a year outside
/// that range — which chrono then formats or rejects.
pub fn format_local(local_ms: i64, pattern: &str, out: &mut String) -> bool {
    // Years 0..=9999 lie well within this many milliseconds of 1970.
    const BOUND: i64 = 10_000 * 366 * 86_400_000;
    if !(-BOUND..BOUND).contains(&local_ms) {
        return false;
    }
    let (day, into) = zone::split_local(local_ms);
    let (year, month, mday) = crate::value::civil(day);
    if !(0..=9999).contains(&year) {
        return false;
    }
    let parts = Parts { day, year, month, mday, weekday: zone::weekday_of(day) as usize, into };
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let mut chars = rest[at + 1..].chars();
        let Some(spec) = chars.next() else { return false };
        rest = chars.as_str();
        // The composite specifiers, as chrono defines them: their fields and what goes before each.
        let composite: Option<(&str, [&str; 3])> = match spec {
            'F' => Some(("Ymd", ["", "-", "-"])),
            'T' => Some(("HMS", ["", ":", ":"])),
            'R' => Some(("HM", ["", ":", ""])),
            'D' => Some(("mdy", ["", "/", "/"])),
            _ => None,
        };
        let done = match composite {
            Some((fields, seps)) => fields.chars().zip(seps).all(|(c, sep)| {
                out.push_str(sep);
                parts.write(c, out)
            }),
            None => parts.write(spec, out),
        };
        if !done {
            return false;
        }
    }
    out.push_str(rest);
    true
}

/// The fields of a local time [`format_local`] writes.
struct Parts {
    day: i64,
    year: i64,
    month: u32,
    mday: u32,
    /// 0 = Monday.
    weekday: usize,
    /// Milliseconds into the day.
    into: i64,
}

impl Parts {
    /// Writes the field of one specifier; `false` for one it does not know.
    fn write(&self, spec: char, out: &mut String) -> bool {
        let padded = |out: &mut String, n: i64, width: usize, pad: char| {
            if width == 2 && (0..100).contains(&n) {
                out.push(if n < 10 { pad } else { char::from(b'0' + (n / 10) as u8) });
                out.push(char::from(b'0' + (n % 10) as u8));
                return;
            }
            let mut digits = itoa::Buffer::new();
            let digits = digits.format(n);
            out.extend(std::iter::repeat_n(pad, width.saturating_sub(digits.len())));
            out.push_str(digits);
        };
        let month = self.month as usize;
        let hour = self.into / 3_600_000;
        match spec {
            'Y' => padded(out, self.year, 4, '0'),
            'm' => padded(out, i64::from(self.month), 2, '0'),
            'd' => padded(out, i64::from(self.mday), 2, '0'),
            'e' => padded(out, i64::from(self.mday), 2, ' '),
            'b' | 'h' => out.push_str(MONTHS.get(month.wrapping_sub(1)).map_or("", |m| &m[..3])),
            'B' => out.push_str(MONTHS.get(month.wrapping_sub(1)).copied().unwrap_or("")),
            'a' => out.push_str(WEEKDAYS.get(self.weekday).map_or("", |d| &d[..3])),
            'A' => out.push_str(WEEKDAYS.get(self.weekday).copied().unwrap_or("")),
            'H' => padded(out, hour, 2, '0'),
            'I' => padded(out, (hour + 11) % 12 + 1, 2, '0'),
            'M' => padded(out, self.into / 60_000 % 60, 2, '0'),
            'S' => padded(out, self.into / 1000 % 60, 2, '0'),
            'p' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            'y' => padded(out, self.year % 100, 2, '0'),
            'j' => padded(out, self.day - crate::value::days_from_civil(self.year, 1, 1) + 1, 3, '0'),
            'u' => padded(out, self.weekday as i64 + 1, 1, '0'),
            'w' => padded(out, (self.weekday as i64 + 1) % 7, 1, '0'),
            '%' => out.push('%'),
            _ => return false,
        }
        true
    }
}

/// The instant of a local wall-clock time: a time in a DST gap moves forward to the first valid
/// instant; an ambiguous one takes the earlier instant (LANGUAGE.md §4).
pub fn instant_of(tz: Tz, local: NaiveDateTime) -> i64 {
    zone::to_utc(tz, local.and_utc().timestamp_millis())
}

pub fn days_of_date(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    d.signed_duration_since(epoch).num_days() as i32
}

pub fn date_of_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(days as i64)
}

/// Milliseconds into a local day of the clock time `minutes` (hours wrap at 24).
fn clock_ms(minutes: u32) -> i64 {
    i64::from((minutes / 60 % 24) * 60 + minutes % 60) * 60_000
}

/// The first instant ≥ `from` whose local time is `minutes` (and, when given, on `weekday`,
/// 0 = Monday).
pub fn next_clock(tz: Tz, from: i64, minutes: u32, weekday: Option<u32>) -> i64 {
    // The local day of `from` is within a day of its UTC day (offsets are under a day), so the
    // candidates start two days before that: the earliest ones are passed over without a time
    // zone lookup (below), and none before the local day can be the answer. Weekly, only the
    // right weekday is tried, seven days apart.
    let utc_day = from.div_euclid(DAY_MS);
    let mut day = utc_day - 2;
    let step = match weekday {
        // No such weekday (a hostile `.jbc`): never, as before.
        Some(w) if w > 6 => return from,
        Some(w) => {
            day += (i64::from(w) - i64::from(zone::weekday_of(day))).rem_euclid(7);
            7
        }
        None => 1,
    };
    while day < utc_day + 17 {
        let local = day * DAY_MS + clock_ms(minutes);
        // A local time maps to an instant less than a day from it: one a day or more before
        // `from` cannot be it (and needs no time zone lookup).
        if local.saturating_add(DAY_MS) > from {
            let t = zone::to_utc(tz, local);
            if t >= from {
                return t;
            }
        }
        day += step;
    }
    from
}

/// The next instant ≥ `from` and > `after` on (month, day) at local `minutes`, each year; Feb 29
/// falls on Feb 28 in other years.
// Not inlined: its time-zone arithmetic would be hoisted into every caller's entry, paid by
// the schedules that have no anniversary.
#[inline(never)]
pub fn next_yearly(tz: Tz, from: i64, after: i64, month: u32, day: u32, minutes: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > 31 {
        return None;
    }
    let (year, _, _) = crate::value::civil(zone::split_local(zone::to_local(tz, from)).0);
    for y in (year - 1)..(year + 3) {
        let last = crate::value::days_in_month(y, month);
        let d = if day <= last {
            day
        } else if month == 2 && day == 29 {
            28
        } else {
            continue;
        };
        let local = crate::value::days_from_civil(y, month, d) * DAY_MS + clock_ms(minutes);
        // As in `next_clock`: an instant less than a day from `local` cannot be due yet.
        if local.saturating_add(DAY_MS) <= from.max(after.saturating_add(1)) {
            continue;
        }
        let t = zone::to_utc(tz, local);
        if t >= from && t > after {
            return Some(t);
        }
    }
    None
}

/// Minutes after local midnight. (Not inlined, for the reason `next_yearly` is not.)
#[inline(never)]
pub fn local_minutes(tz: Tz, t: i64) -> u32 {
    (zone::local_ms_of_day(tz, t) / 60_000) as u32
}

/// Parses a time zone name; UTC when it is not a valid IANA name.
pub fn parse_tz(name: &str) -> Tz {
    name.parse::<Tz>().unwrap_or(Tz::UTC)
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

    /// The calendar arithmetic agrees with chrono's over four centuries.
    #[test]
    fn civil_dates_round_trip_and_agree_with_chrono() {
        for days in -150_000i64..150_000 {
            let (y, m, d) = crate::value::civil(days);
            assert_eq!(crate::value::days_from_civil(y, m, d), days);
            let date = date_of_days(days as i32);
            assert_eq!((i64::from(date.year()), date.month(), date.day()), (y, m, d));
            assert_eq!(
                crate::value::days_in_month(y, m),
                if m == 12 { 31 } else { (NaiveDate::from_ymd_opt(y as i32, m + 1, 1).unwrap() - chrono::Duration::days(1)).day() }
            );
        }
    }

    /// `format_local` writes what chrono's `format` writes, for every specifier it knows, over
    /// zones, DST changes, leap days and years 0 to 9999; it declines everything else.
    #[test]
    fn format_local_agrees_with_chrono() {
        let known = "Y m d e b h B a A H I M S p y j u w F T R D %".split(' ');
        let patterns: Vec<String> = known
            .clone()
            .map(|c| format!("%{c}"))
            .chain(["%b %d".to_string(), "on %A, %e %B %Y at %I:%M %p (%j) — déjà".to_string(), "%F %T".to_string(), "".to_string()])
            .collect();
        let zones = [Tz::UTC, Tz::Europe__Paris, Tz::America__New_York, Tz::Asia__Kolkata, Tz::Australia__Lord_Howe, Tz::Pacific__Apia];
        let mut next = crate::xorshift(11);
        let ms_of_year = 365 * 86_400_000i64;
        for i in 0..20_000 {
            // Most near today, some anywhere in years -100 to 10100.
            let t = if i % 4 == 0 {
                (next() % (10_200 * ms_of_year as u64)) as i64 - 2_070 * ms_of_year
            } else {
                1_700_000_000_000 + (next() % (4 * ms_of_year as u64)) as i64
            };
            let tz = zones[i % zones.len()];
            let pattern = &patterns[i % patterns.len()];
            let naive = local(tz, t);
            let mut out = String::new();
            if format_local(zone::to_local(tz, t), pattern, &mut out) {
                assert_eq!(out, naive.format(pattern).to_string(), "{pattern:?} at {t} in {tz}");
            } else {
                assert!(!(0..=9999).contains(&naive.year()), "declined {pattern:?} at {t} in {tz}");
            }
        }
        for pattern in ["%", "100%", "%-d", "%_m", "%Z", "%z", "%C", "%U", "%.3f", "%c"] {
            assert!(!format_local(0, pattern, &mut String::new()), "{pattern:?}");
        }
    }

    /// `local_day` is `local(..).date()` as a day number, and its year `local(..).year()`, over
    /// zones, DST changes and the far past and future; beyond its bound it answers nothing.
    #[test]
    fn local_day_agrees_with_chrono() {
        let zones = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe"];
        let far = 249_000 * 365 * DAY_MS;
        let mut instants: Vec<i64> = (-400..400).map(|h| 1_774_400_000_000 + h * 3_599_999).collect();
        instants.extend([0, -1, far, -far, 4_102_444_800_000, -62_135_596_800_000]);
        for name in zones {
            let tz = parse_tz(name);
            for &t in &instants {
                let day = local_day(tz, t).unwrap();
                let expected = local(tz, t);
                assert_eq!(day, i64::from(days_of_date(expected.date())), "{name} {t}");
                assert_eq!(crate::value::civil(day).0, i64::from(expected.year()), "{name} {t}");
            }
            assert_eq!(local_day(tz, i64::MAX), None);
            assert_eq!(local_day(tz, i64::MIN), None);
        }
    }

    /// The chrono-based version `next_yearly` replaced.
    fn reference_next_yearly(tz: Tz, from: i64, after: i64, month: u32, day: u32, minutes: u32) -> Option<i64> {
        let year = local(tz, from).year();
        for y in (year - 1)..(year + 3) {
            let d = NaiveDate::from_ymd_opt(y, month, day).or_else(|| if month == 2 && day == 29 { NaiveDate::from_ymd_opt(y, 2, 28) } else { None });
            let Some(d) = d else { continue };
            let t = zone::to_utc(tz, i64::from(days_of_date(d)) * DAY_MS + clock_ms(minutes));
            if t >= from && t > after {
                return Some(t);
            }
        }
        None
    }

    /// `next_clock` as first written: every candidate day through the time zone.
    fn reference_next_clock(tz: Tz, from: i64, minutes: u32, weekday: Option<u32>) -> i64 {
        let (today, _) = zone::split_local(zone::to_local(tz, from));
        for day in (today - 1)..(today + 15) {
            if weekday.is_some_and(|w| zone::weekday_of(day) != w) {
                continue;
            }
            let t = zone::to_utc(tz, day * DAY_MS + clock_ms(minutes));
            if t >= from {
                return t;
            }
        }
        from
    }

    #[test]
    fn next_clock_skips_only_days_that_cannot_be_next() {
        let zones: [Tz; 5] = ["UTC", "Europe/Paris", "Pacific/Apia", "Pacific/Kiritimati", "America/Sao_Paulo"].map(|z| z.parse().unwrap());
        let mut next = crate::xorshift(11);
        for _ in 0..20_000 {
            let tz = zones[(next() % 5) as usize];
            let from = 1_600_000_000_000 + (next() % (10 * 365 * DAY_MS as u64)) as i64;
            let minutes = (next() % 1440) as u32;
            let weekday = if next().is_multiple_of(2) { None } else { Some((next() % 8) as u32) };
            assert_eq!(next_clock(tz, from, minutes, weekday), reference_next_clock(tz, from, minutes, weekday), "{tz} {from} {minutes} {weekday:?}");
        }
    }

    #[test]
    fn next_yearly_agrees_with_the_chrono_version() {
        let zones: [Tz; 4] =
            ["UTC".parse().unwrap(), "Europe/Paris".parse().unwrap(), "Pacific/Apia".parse().unwrap(), "America/Sao_Paulo".parse().unwrap()];
        let mut next = crate::xorshift(7);
        for _ in 0..20_000 {
            let tz = zones[(next() % 4) as usize];
            let from = 1_600_000_000_000 + (next() % (10 * 365 * DAY_MS as u64)) as i64;
            let after = if next().is_multiple_of(2) { i64::MIN } else { from + (next() % (400 * DAY_MS as u64)) as i64 - 200 * DAY_MS };
            let (month, day) = (1 + (next() % 12) as u32, 1 + (next() % 31) as u32);
            let minutes = (next() % 1440) as u32;
            assert_eq!(
                next_yearly(tz, from, after, month, day, minutes),
                reference_next_yearly(tz, from, after, month, day, minutes),
                "{tz} {from} {after} {month}-{day} {minutes}"
            );
        }
    }
}
