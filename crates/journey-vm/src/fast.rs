//! The shapes most expressions have — one value (`contact.plan`, `has opened`), or two compared
//! (`event.total >= 20.0`, `contact.plan == pro`) — recognised once when the program is loaded
//! and then evaluated directly, without the stack machine, its environment or the contact's time
//! zone.
//!
//! The direct path only answers when it is sure: a required attribute never supplied, a
//! missing field, a comparison the machine would reject — anything but the plain case — makes it
//! decline, and the machine evaluates the expression as always (so errors are worded in one
//! place). `tests` checks both agree on every shape.

use crate::eval::{in_list, order, values_equal};
use crate::value::{Strings, Value, constant};
use journey_bytecode::{BinOp, Builtin, Instr, Program};

mod kernel;
pub(crate) use kernel::{Kernel, State};

/// Where an operand's value comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Load {
    /// A contact attribute; `optional` ones read as none when never supplied.
    Attr {
        index: u32,
        optional: bool,
    },
    Event(u32),
    Trigger(u32),
    Const(Value),
    Has {
        predicate: u32,
        within_ms: i64,
    },
    Count(u32),
    /// `last(predicate)`: when it last happened, none when never.
    Last(u32),
    Now,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Operand {
    load: Load,
    /// Followed by `inttofloat`.
    to_float: bool,
}

/// One term: a value, or two compared, possibly negated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Term {
    a: Operand,
    /// A comparison (`eq` … `ge`) with a second operand.
    compare: Option<(BinOp, Operand)>,
    /// Followed by `not`.
    not: bool,
    /// The comparison again, when it is with a constant of a usual kind: tested on the first
    /// operand alone, without loading the constant or going through [`compare`].
    quick: Quick,
}

/// A comparison with a constant that a term tests directly when the first operand's value is of
/// the kind it is for — the answer [`compare`] gives then — and leaves to [`compare`] otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Quick {
    No,
    /// `a op k`, for an integer `a` (a counter, an integer attribute or field).
    Int {
        op: BinOp,
        k: i64,
    },
    /// `a op k`, for a float `a` and a float constant (`event.total >= 20.0`); not for NaN,
    /// which [`compare`] decides.
    Float {
        op: BinOp,
        k: f64,
    },
    /// `a == variant` (`!=` with `ne`), for `a` a variant of the same enumeration.
    Enum {
        enumeration: u32,
        variant: u32,
        ne: bool,
    },
    /// `a == none` (`!=` with `ne`), for any `a`.
    None {
        ne: bool,
    },
}

impl Quick {
    fn of(compare: Option<(BinOp, Operand)>) -> Quick {
        let Some((op, Operand { load: Load::Const(k), to_float: false })) = compare else { return Quick::No };
        let eq_ne = matches!(op, BinOp::Eq | BinOp::Ne);
        match k {
            Value::Int(k) => Quick::Int { op, k },
            Value::Float(k) => Quick::Float { op, k },
            Value::Enum(enumeration, variant) if eq_ne => Quick::Enum { enumeration, variant, ne: op == BinOp::Ne },
            Value::None if eq_ne => Quick::None { ne: op == BinOp::Ne },
            _ => Quick::No,
        }
    }

    /// The comparison's result for `a`, when this applies to it.
    #[inline(always)]
    fn test(self, a: Value) -> Option<bool> {
        match (self, a) {
            (Quick::Int { op, k }, Value::Int(x)) => Some(holds(x.cmp(&k), op)),
            (Quick::Float { op, k }, Value::Float(x)) => x.partial_cmp(&k).map(|o| holds(o, op)),
            (Quick::Enum { enumeration, variant, ne }, Value::Enum(e, v)) if e == enumeration => Some((v == variant) != ne),
            (Quick::None { ne }, a) => Some(matches!(a, Value::None | Value::Absent) != ne),
            _ => None,
        }
    }
}

/// Whether an ordering satisfies comparison `op` (`eq` … `ge`).
#[inline(always)]
fn holds(o: std::cmp::Ordering, op: BinOp) -> bool {
    match op {
        BinOp::Eq => o.is_eq(),
        BinOp::Ne => o.is_ne(),
        BinOp::Lt => o.is_lt(),
        BinOp::Le => o.is_le(),
        BinOp::Gt => o.is_gt(),
        _ => o.is_ge(),
    }
}

/// An expression of a shape evaluated directly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Fast {
    One(Term),
    /// `a and b` (short-circuit).
    And(Term, Term),
    /// `a or b` (short-circuit).
    Or(Term, Term),
    /// `a ?? b`.
    Coalesce(Operand, Operand),
    /// `(a ?? b) op c`, a comparison (`eq` … `ge`).
    CoalesceCompare {
        a: Operand,
        b: Operand,
        op: BinOp,
        c: Operand,
    },
    /// `a ± d` or `(a ?? b) ± d`: a time moved by a duration (`add` for `+`).
    Shift {
        a: Operand,
        otherwise: Option<Operand>,
        add: bool,
        by: Operand,
    },
    /// `f(a)`, `f(a) op g(b)` or `a in b`, with `f` and `g` builtins evaluated directly (or
    /// none): rarer shapes, apart so that the usual ones pay nothing for them.
    Applied(Applied),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Applied {
    a: Operand,
    f: Map,
    /// A comparison (`eq` … `ge`) or `inlist`, with the second operand and its builtin.
    compare: Option<(BinOp, Operand, Map)>,
}

/// A builtin applied to an operand's value: `year(t)` and `date(t)` (local: only once the
/// contact's time zone is known), `len(list)`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Map {
    No,
    Year,
    DateOf,
    LenList,
}

impl Map {
    /// What the call after an operand is, if one of these.
    fn of(code: &[Instr]) -> (Map, &[Instr]) {
        match code.split_first() {
            Some((Instr::Call(Builtin::Year), rest)) => (Map::Year, rest),
            Some((Instr::Call(Builtin::DateOf), rest)) => (Map::DateOf, rest),
            Some((Instr::Call(Builtin::LenList), rest)) => (Map::LenList, rest),
            _ => (Map::No, code),
        }
    }

    /// The builtin's value, as the machine's computes it (anything else is its error).
    fn apply(self, v: Value, inputs: &Inputs<'_>, strings: &Strings<'_>) -> Option<Value> {
        Some(match (self, v) {
            (Map::No, v) => v,
            (Map::Year, Value::Time(t)) => Value::Int(crate::eval::local_year(inputs.tz?, t)),
            (Map::DateOf, Value::Time(t)) => Value::Date(crate::eval::local_date(inputs.tz?, t)),
            (Map::LenList, Value::List(l)) => Value::Int(strings.list(l).len() as i64),
            _ => return None,
        })
    }
}

impl Applied {
    /// `f(a) [op g(b)]` up to its `ret`, when some builtin or `inlist` is in it (the others are
    /// the usual shapes').
    fn parse(program: &Program, code: &[Instr]) -> Option<Applied> {
        let (a, rest) = operand(program, code)?;
        let (f, rest) = Map::of(rest);
        if let [Instr::Ret, ..] = rest {
            return (f != Map::No).then_some(Applied { a, f, compare: None });
        }
        let (b, rest) = operand(program, rest)?;
        let (g, rest) = Map::of(rest);
        match rest {
            [Instr::Bin(op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::InList)), Instr::Ret, ..]
                if f != Map::No || g != Map::No || *op == BinOp::InList =>
            {
                Some(Applied { a, f, compare: Some((*op, b, g)) })
            }
            _ => None,
        }
    }

    #[inline(never)]
    fn eval(&self, inputs: &Inputs<'_>, strings: &Strings<'_>) -> Option<Value> {
        let a = self.f.apply(self.a.value(inputs)?, inputs, strings)?;
        let Some((op, b, g)) = self.compare else { return Some(a) };
        let b = g.apply(b.value(inputs)?, inputs, strings)?;
        if op != BinOp::InList {
            return Some(Value::Bool(compare(a, op, b, strings)?));
        }
        // `x in list`, as the machine tests it (anything but a string and a list is its error).
        let (Value::Str(x), Value::List(l)) = (a, b) else { return None };
        Some(Value::Bool(in_list(x, l, strings)))
    }
}

/// The shapes of a program's expressions, looked up by expression start: a dense list, and per
/// code position an index into it. (An `Option<Fast>` per position — 168 bytes each — spread
/// the few dozen shapes over tens of kilobytes, and every lookup missed the cache.)
pub(crate) struct FastTable {
    at: Vec<u32>,
    shapes: Vec<Fast>,
    /// Per shape, its kernel (`Kernel::No` for most that are not conditions).
    kernels: Vec<Kernel>,
}

impl FastTable {
    /// No shapes: every expression goes to the machine.
    pub(crate) const NONE: FastTable = FastTable { at: Vec::new(), shapes: Vec::new(), kernels: Vec::new() };

    pub(crate) fn new(program: &Program) -> Self {
        let mut shapes = Vec::new();
        let at = compile(program)
            .into_iter()
            .map(|shape| match shape {
                Some(s) => {
                    shapes.push(s);
                    (shapes.len() - 1) as u32
                }
                None => u32::MAX,
            })
            .collect();
        let kernels = shapes.iter().map(Kernel::of).collect();
        FastTable { at, shapes, kernels }
    }

    #[inline]
    pub(crate) fn get(&self, at: u32) -> Option<&Fast> {
        self.shapes.get(*self.at.get(at as usize)? as usize)
    }

    /// The shape of the expression at `at` and its kernel, in one lookup.
    #[inline]
    pub(crate) fn with_kernel(&self, at: u32) -> Option<(&Kernel, &Fast)> {
        let i = *self.at.get(at as usize)? as usize;
        Some((self.kernels.get(i)?, self.shapes.get(i)?))
    }
}

/// What an expression can read, for the direct path (the parts of [`crate::eval::Env`] it
/// uses): what a kernel reads, and the trigger and the zone.
pub(crate) struct Inputs<'a> {
    pub state: State<'a>,
    pub trigger: &'a [Value],
    /// The contact's time zone, once known (local years and dates need it).
    pub tz: Option<chrono_tz::Tz>,
}

impl<'a> Inputs<'a> {
    pub(crate) fn of(env: &crate::eval::Env<'a>) -> Self {
        Inputs {
            state: State { attrs: env.attrs, pred_count: env.pred_count, pred_last: env.pred_last, event: env.event, now: env.now },
            trigger: env.trigger,
            tz: Some(env.tz),
        }
    }
}

/// Per expression start (index into `program.code`), its shape when it has one of the direct
/// ones.
pub(crate) fn compile(program: &Program) -> Vec<Option<Fast>> {
    (0..program.code.len()).map(|at| shape(program, at)).collect()
}

fn shape(program: &Program, at: usize) -> Option<Fast> {
    let code = program.code.get(at..)?;
    // Where an instruction of `tail` is, in the whole code (jump targets are absolute).
    let position = |tail: &[Instr]| program.code.len() - tail.len();
    if let Some((a, [Instr::JumpIfSome(target), rest @ ..])) = operand(program, code) {
        // `a ?? b`: the jump lands right after `b` — on the `ret`, or on the shift of `(a ?? b) ± d`.
        let (b, tail) = operand(program, rest)?;
        if *target as usize != position(tail) {
            return None;
        }
        return match tail {
            [Instr::Ret, ..] => Some(Fast::Coalesce(a, b)),
            _ => shift(program, a, Some(b), tail).or_else(|| match operand(program, tail)? {
                (c, [Instr::Bin(op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)), Instr::Ret, ..]) => {
                    Some(Fast::CoalesceCompare { a, b, op: *op, c })
                }
                _ => None,
            }),
        };
    }
    if let Some((a, rest)) = operand(program, code)
        && let Some(fast) = shift(program, a, None, rest)
    {
        return Some(fast);
    }
    if let Some(applied) = Applied::parse(program, code) {
        return Some(Fast::Applied(applied));
    }
    let (a, rest) = term(program, code)?;
    match rest {
        [Instr::Ret, ..] => Some(Fast::One(a)),
        // `a and b` / `a or b`: the jump (keeping `a`) lands on the `ret` right after `b`.
        [jump @ (Instr::JumpIfFalseKeep(target) | Instr::JumpIfTrueKeep(target)), rest @ ..] => {
            let (b, tail) = term(program, rest)?;
            match tail {
                [Instr::Ret, ..] if *target as usize == position(tail) => {
                    Some(if matches!(jump, Instr::JumpIfFalseKeep(_)) { Fast::And(a, b) } else { Fast::Or(a, b) })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// `… ± d` after the time operand(s): the duration, the operator, `ret`.
fn shift(program: &Program, a: Operand, otherwise: Option<Operand>, code: &[Instr]) -> Option<Fast> {
    let (by, rest) = operand(program, code)?;
    match rest {
        [Instr::Bin(op @ (BinOp::AddTimeDuration | BinOp::SubTimeDuration)), Instr::Ret, ..] => {
            Some(Fast::Shift { a, otherwise, add: *op == BinOp::AddTimeDuration, by })
        }
        _ => None,
    }
}

fn term<'c>(program: &Program, code: &'c [Instr]) -> Option<(Term, &'c [Instr])> {
    let (a, mut rest) = operand(program, code)?;
    let mut compare = None;
    if let Some((b, [Instr::Bin(op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)), tail @ ..])) = operand(program, rest) {
        compare = Some((*op, b));
        rest = tail;
    }
    match rest {
        [Instr::Not, tail @ ..] => Some((Term { a, compare, not: true, quick: Quick::of(compare) }, tail)),
        _ => Some((Term { a, compare, not: false, quick: Quick::of(compare) }, rest)),
    }
}

fn operand<'c>(program: &Program, code: &'c [Instr]) -> Option<(Operand, &'c [Instr])> {
    let (first, rest) = code.split_first()?;
    let load = match first {
        Instr::Attr(a) => Load::Attr { index: *a, optional: program.attributes.get(*a as usize)?.optional },
        Instr::EventField(f) => Load::Event(*f),
        Instr::TriggerField(f) => Load::Trigger(*f),
        Instr::Const(c) => Load::Const(constant(program.constants.get(*c as usize)?, *c)),
        Instr::Has { predicate, within_ms } => Load::Has { predicate: *predicate, within_ms: *within_ms },
        Instr::Count(p) => Load::Count(*p),
        Instr::Last(p) => Load::Last(*p),
        Instr::Now => Load::Now,
        _ => return None,
    };
    match rest.split_first() {
        Some((Instr::IntToFloat, rest)) => Some((Operand { load, to_float: true }, rest)),
        _ => Some((Operand { load, to_float: false }, rest)),
    }
}

impl Operand {
    #[inline(always)]
    fn value(&self, inputs: &Inputs<'_>) -> Option<Value> {
        let v = match self.load {
            Load::Trigger(f) => match inputs.trigger.get(f as usize)? {
                Value::Absent => Value::None,
                v => *v,
            },
            load => kernel::state_load(load, &inputs.state)?,
        };
        Some(match v {
            Value::Int(i) if self.to_float => Value::Float(i as f64),
            v => v,
        })
    }
}

impl Term {
    #[inline(always)]
    fn eval(&self, inputs: &Inputs<'_>, strings: &Strings<'_>) -> Option<Value> {
        let a = self.a.value(inputs)?;
        if let Some(b) = self.quick.test(a) {
            return Some(Value::Bool(b != self.not));
        }
        let v = match &self.compare {
            None => a,
            Some((op, b)) => Value::Bool(compare(a, *op, b.value(inputs)?, strings)?),
        };
        match v {
            Value::Bool(b) if self.not => Some(Value::Bool(!b)),
            // `not` of anything else is the machine's error.
            _ if self.not => None,
            v => Some(v),
        }
    }
}

#[inline(always)]
fn compare(a: Value, op: BinOp, b: Value, strings: &Strings<'_>) -> Option<bool> {
    // Numbers and enum variants, the usual case, compared in place.
    let ordering = match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(&y),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(&y)),
        (Value::Enum(e, x), Value::Enum(f, y)) if e == f && matches!(op, BinOp::Eq | BinOp::Ne) => Some(x.cmp(&y)),
        _ => None,
    };
    if let Some(o) = ordering {
        return Some(holds(o, op));
    }
    Some(match op {
        BinOp::Eq => values_equal(a, b, strings),
        BinOp::Ne => !values_equal(a, b, strings),
        BinOp::Lt => order(a, b, strings).ok()?.is_lt(),
        BinOp::Le => order(a, b, strings).ok()?.is_le(),
        BinOp::Gt => order(a, b, strings).ok()?.is_gt(),
        _ => order(a, b, strings).ok()?.is_ge(),
    })
}

impl Fast {
    /// The expression's value, or `None` when the stack machine must decide.
    #[inline]
    pub(crate) fn eval(&self, inputs: &Inputs<'_>, strings: &Strings<'_>) -> Option<Value> {
        match self {
            Fast::One(a) => a.eval(inputs, strings),
            // The machine stops at the first operand when it decides (keeping it), else the
            // value is the second's; a first operand that is not a bool is its error.
            Fast::And(a, b) => match a.eval(inputs, strings)? {
                Value::Bool(false) => Some(Value::Bool(false)),
                Value::Bool(true) => b.eval(inputs, strings),
                _ => None,
            },
            Fast::Or(a, b) => match a.eval(inputs, strings)? {
                Value::Bool(true) => Some(Value::Bool(true)),
                Value::Bool(false) => b.eval(inputs, strings),
                _ => None,
            },
            Fast::Coalesce(a, b) => match a.value(inputs)? {
                v if v.is_none() => b.value(inputs),
                v => Some(v),
            },
            Fast::CoalesceCompare { a, b, op, c } => {
                let v = match a.value(inputs)? {
                    v if v.is_none() => b.value(inputs)?,
                    v => v,
                };
                Some(Value::Bool(compare(v, *op, c.value(inputs)?, strings)?))
            }
            Fast::Shift { a, otherwise, add, by } => {
                let t = match (a.value(inputs)?, otherwise) {
                    (v, Some(b)) if v.is_none() => b.value(inputs)?,
                    (v, _) => v,
                };
                // Anything but a time and a duration, or a time out of range, is the machine's error.
                match (t, by.value(inputs)?) {
                    (Value::Time(t), Value::Duration(d)) => crate::eval::shift_time(t, d, *add).map(Value::Time),
                    _ => None,
                }
            }
            Fast::Applied(applied) => applied.eval(inputs, strings),
        }
    }
}

/// One operation of a template rendered directly (see [`Templates`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Piece {
    Text(u32),
    Value(Fast),
    /// Go on at piece `target` when the condition is false.
    Unless(Fast, u32),
    Jump(u32),
    End,
}

/// Per template a send renders, the template as [`Piece`]s when it has no `{for}`, jumps only
/// forward within itself, and every value and condition in it has a direct shape: rendered
/// without the machine, its environment or the contact's time zone. (`{if}`s on attributes and
/// counters, values like `{contact.first_name ?? "friend"}` or `{count(app_opened)}`.)
pub(crate) struct Templates {
    /// Per template position, an index into `plans` (`u32::MAX`: none).
    at: Vec<u32>,
    plans: Vec<Vec<Piece>>,
}

impl Templates {
    pub(crate) fn new(program: &Program) -> Self {
        let mut at = vec![u32::MAX; program.templates.len()];
        let mut plans = Vec::new();
        for journey in &program.journeys {
            for op in &journey.code {
                let journey_bytecode::StepOp::Send { fields, .. } = op else { continue };
                for &f in fields {
                    if let Some(index) = at.get_mut(f as usize)
                        && *index == u32::MAX
                        && let Some(plan) = plan(program, f as usize)
                    {
                        plans.push(plan);
                        *index = (plans.len() - 1) as u32;
                    }
                }
            }
        }
        Templates { at, plans }
    }

    #[inline]
    pub(crate) fn get(&self, start: u32) -> Option<&[Piece]> {
        self.plans.get(*self.at.get(start as usize)? as usize).map(Vec::as_slice)
    }
}

/// The template starting at `start` as pieces, when the direct path can render all of it.
fn plan(program: &Program, start: usize) -> Option<Vec<Piece>> {
    use journey_bytecode::TemplateOp;
    let mut pieces = Vec::new();
    for (pc, op) in program.templates.iter().enumerate().skip(start) {
        // A jump target as a piece index: forward only (so rendering always ends).
        let forward = |t: u32| (t as usize > pc).then(|| (t as usize - start) as u32);
        let piece = match op {
            TemplateOp::End => {
                pieces.push(Piece::End);
                break;
            }
            TemplateOp::Text(s) => {
                program.strings.get(*s as usize)?;
                Piece::Text(*s)
            }
            TemplateOp::Value(e) => Piece::Value(shape(program, *e as usize)?),
            TemplateOp::JumpIfFalse(e, t) => Piece::Unless(shape(program, *e as usize)?, forward(*t)?),
            TemplateOp::Jump(t) => Piece::Jump(forward(*t)?),
            TemplateOp::ForStart { .. } | TemplateOp::ForNext { .. } => return None,
        };
        pieces.push(piece);
    }
    // Ends, and every jump lands within it.
    let within = |t: u32| (t as usize) < pieces.len();
    let lands = pieces.iter().all(|p| match p {
        Piece::Unless(_, t) | Piece::Jump(t) => within(*t),
        _ => true,
    });
    (pieces.last() == Some(&Piece::End) && lands).then_some(pieces)
}

/// Renders a template's pieces into `out`; `None` when a value or condition is not the plain
/// case (the machine must render it, from the start).
pub(crate) fn render(plan: &[Piece], inputs: &Inputs<'_>, strings: &Strings<'_>, out: &mut String) -> Option<()> {
    let mut i = 0;
    loop {
        match plan.get(i)? {
            Piece::End => return Some(()),
            Piece::Text(s) => out.push_str(strings.program.strings.get(*s as usize)?),
            Piece::Value(f) => strings.render(f.eval(inputs, strings)?, out),
            Piece::Unless(f, target) => match f.eval(inputs, strings)? {
                Value::Bool(true) => {}
                Value::Bool(false) => {
                    i = *target as usize;
                    continue;
                }
                _ => return None,
            },
            Piece::Jump(target) => {
                i = *target as usize;
                continue;
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Env, Machine};
    use crate::value::Heap;

    fn examples() -> Program {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut project = journey_syntax::project::ParsedProject::default();
        let mut names: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        names.sort();
        for path in names.iter().filter(|p| p.extension().is_some_and(|x| x == "journey")) {
            project.add(path.display().to_string(), std::fs::read_to_string(path).unwrap_or_default());
        }
        let checked = journey_check::check(&project);
        journey_codegen::compile(&checked.program, 0)
    }

    /// Random contacts: values of every kind in every place, wrong kinds, missing attributes and
    /// NaN included.
    struct Random {
        seed: u64,
        input: Heap,
        words: Vec<u32>,
    }

    /// One random contact's inputs (what `Env` borrows).
    struct Contact {
        attrs: Vec<Value>,
        event: Option<Vec<Value>>,
        trigger: Vec<Value>,
        pred_count: Vec<u32>,
        pred_last: Vec<i64>,
        now: i64,
    }

    impl Random {
        fn new() -> Self {
            let mut input = Heap::default();
            let words: Vec<u32> = ["won", "pro", "welcome_1", "partner", "", "newsletter"].iter().map(|w| input.add_string_id(w)).collect();
            input.add_list(&[words[0], words[1]]);
            input.add_list(&[words[3], words[5]]);
            Random { seed: 0x9e37_79b9_7f4a_7c15, input, words }
        }

        fn next(&mut self, n: usize) -> usize {
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            (self.seed % n as u64) as usize
        }

        fn value(&mut self) -> Value {
            match self.next(17) {
                0 => Value::Absent,
                1 => Value::None,
                2 => Value::Bool(self.next(2) == 1),
                3 => Value::Int([0, 1, 3, 50, -7][self.next(5)]),
                4 => Value::Float([0.0, 20.0, 19.99, 1000.5, f64::NAN][self.next(5)]),
                5 => Value::Time(1_767_225_600_000 + self.next(3) as i64 * 86_400_000),
                6 => Value::Date(20_454 + self.next(3) as i32),
                7 => Value::Duration([0, 3_600_000][self.next(2)]),
                8 | 9 => Value::Enum(self.next(2) as u32, self.next(3) as u32),
                10..=12 => {
                    let i = self.next(self.words.len());
                    Value::Str(self.words[i])
                }
                13 => Value::List(self.next(2) as u32),
                _ => Value::Int(self.next(60) as i64),
            }
        }

        fn contact(&mut self, program: &Program) -> Contact {
            let attrs = (0..program.attributes.len()).map(|_| self.value().from_input()).collect();
            let event: Vec<Value> = (0..3).map(|_| self.value()).collect();
            let trigger = (0..2).map(|_| self.value().from_input()).collect();
            let pred_count = (0..program.predicates.len()).map(|_| self.next(3) as u32).collect();
            let now = 1_767_225_600_000 + self.next(5) as i64 * 43_200_000;
            let pred_last = (0..program.predicates.len()).map(|_| now - self.next(3) as i64 * 50_000_000).collect();
            let event = if self.next(8) == 0 { None } else { Some(event) };
            Contact { attrs, event, trigger, pred_count, pred_last, now }
        }

        /// The machine's environment for `contact` (no direct path in it).
        fn env<'a>(&'a self, program: &'a Program, contact: &'a Contact, active: &'a dyn Fn(u32) -> bool) -> Env<'a> {
            Env {
                program,
                attrs: &contact.attrs,
                pred_count: &contact.pred_count,
                pred_last: &contact.pred_last,
                active,
                now: contact.now,
                event: contact.event.as_deref(),
                trigger: &contact.trigger,
                tz: chrono_tz::Tz::UTC,
                input: &self.input,
                fast: &NO_SHAPES,
            }
        }
    }

    /// Over random contacts the direct path, whenever it answers, gives the machine's value, and
    /// it answers for most of them.
    #[test]
    fn direct_evaluation_agrees_with_the_machine() {
        let program = examples();
        let shapes = compile(&program);
        let starts: Vec<usize> = (0..program.code.len()).filter(|&i| i == 0 || matches!(program.code[i - 1], Instr::Ret)).collect();
        let direct: Vec<usize> = starts.iter().copied().filter(|&i| shapes[i].is_some()).collect();
        assert!(direct.len() >= 52, "{} of {} expressions have a direct shape", direct.len(), starts.len());
        // Among them the examples' local years and dates, `len(…)` and `… in …`.
        let uses = |at: usize, f: &dyn Fn(&Instr) -> bool| program.code[at..].iter().take_while(|i| !matches!(i, Instr::Ret)).any(f);
        for (what, f) in [
            ("year", &(|i: &Instr| matches!(i, Instr::Call(Builtin::Year))) as &dyn Fn(&Instr) -> bool),
            ("date", &|i: &Instr| matches!(i, Instr::Call(Builtin::DateOf))),
            ("len", &|i: &Instr| matches!(i, Instr::Call(Builtin::LenList))),
            ("in", &|i: &Instr| matches!(i, Instr::Bin(BinOp::InList))),
        ] {
            assert!(direct.iter().any(|&at| uses(at, f)), "no direct shape uses `{what}`");
        }
        // And `(event.csat ?? 5) >= 3` (lead routing).
        assert!(direct.iter().any(|&at| matches!(shapes[at], Some(Fast::CoalesceCompare { .. }))), "no `(a ?? b) op c`");
        let (mut random, mut answered, mut machine) = (Random::new(), 0, Machine::default());
        let active = |_: u32| false;
        for &at in &direct {
            for _ in 0..400 {
                let contact = random.contact(&program);
                let env = random.env(&program, &contact, &active);
                let mut heap = Heap::default();
                let strings = env.strings(&EMPTY);
                let got = shapes[at].as_ref().and_then(|f| f.eval(&Inputs::of(&env), &strings));
                if let Some(v) = got {
                    answered += 1;
                    let expected = machine.eval(&env, &mut heap, at as u32);
                    assert_eq!(
                        format!("{:?}", Ok::<Value, crate::eval::EvalError>(v)),
                        format!("{expected:?}"),
                        "expression @{at}, attrs {:?}, event {:?}",
                        contact.attrs,
                        contact.event
                    );
                }
            }
        }
        assert!(answered > direct.len() * 100, "the direct path answered {answered} times");
    }

    /// Over random contacts an expression's kernel, whenever it answers, gives the direct
    /// path's value (which the test above holds to the machine's); and the examples' plainest
    /// conditions and values — counters, enum attributes, `has`, one `and` of them, a time
    /// moved by a duration — have kernels.
    #[test]
    fn kernels_agree_with_the_direct_path() {
        let program = examples();
        let table = FastTable::new(&program);
        let with_kernel: Vec<u32> =
            (0..program.code.len() as u32).filter(|&at| table.with_kernel(at).is_some_and(|(k, _)| *k != Kernel::No)).collect();
        assert!(with_kernel.len() >= 24, "{} expressions with a kernel", with_kernel.len());
        let kinds = |f: fn(&Kernel) -> bool| with_kernel.iter().any(|&at| table.with_kernel(at).is_some_and(|(k, _)| f(k)));
        for (what, f) in [
            ("and", (|k: &Kernel| matches!(k, Kernel::And(..))) as fn(&Kernel) -> bool),
            ("a value", |k| matches!(k, Kernel::Value(_))),
            ("a shifted time", |k| matches!(k, Kernel::Shift { otherwise: Some(_), .. })),
            ("a float field", |k| k.is_float_field_test()),
        ] {
            assert!(kinds(f), "no kernel for {what}");
        }
        let (mut random, mut answered, mut declined) = (Random::new(), 0, 0);
        for &at in &with_kernel {
            let Some((kernel, shape)) = table.with_kernel(at) else { continue };
            for _ in 0..400 {
                let contact = random.contact(&program);
                let state = State {
                    attrs: &contact.attrs,
                    pred_count: &contact.pred_count,
                    pred_last: &contact.pred_last,
                    event: contact.event.as_deref(),
                    now: contact.now,
                };
                let active = |_: u32| false;
                let env = random.env(&program, &contact, &active);
                let direct = shape.eval(&Inputs::of(&env), &env.strings(&EMPTY));
                if let Some(b) = kernel.test(&state) {
                    assert_eq!(direct, Some(Value::Bool(b)), "@{at} {:?}", contact.attrs);
                }
                match kernel.value(&state) {
                    Some(v) => {
                        answered += 1;
                        assert_eq!(format!("{direct:?}"), format!("{:?}", Some(v)), "@{at} {:?}", contact.attrs);
                    }
                    None => declined += 1,
                }
            }
        }
        assert!(answered > declined, "kernels answered {answered} times, declined {declined}");
    }

    /// Over random contacts a template rendered directly, whenever the direct path answers,
    /// reads exactly as the machine renders it.
    #[test]
    fn direct_rendering_agrees_with_the_machine() {
        let program = examples();
        let templates = Templates::new(&program);
        let starts: Vec<u32> = (0..program.templates.len() as u32).filter(|&t| templates.get(t).is_some()).collect();
        // Of the examples' sends: the ones with `{if}` and values, not `{for}` or `format(…)`.
        assert!(starts.len() >= 12, "{} templates rendered directly", starts.len());
        let with_if = starts.iter().filter(|&&t| templates.get(t).is_some_and(|p| p.iter().any(|x| matches!(x, Piece::Unless(..))))).count();
        assert!(with_if >= 3, "{with_if} templates with an `{{if}}`");
        let (mut random, mut answered, mut machine) = (Random::new(), 0, Machine::default());
        let active = |_: u32| false;
        for &at in &starts {
            for _ in 0..400 {
                let contact = random.contact(&program);
                let env = random.env(&program, &contact, &active);
                let mut direct = String::new();
                let Some(()) = templates.get(at).and_then(|plan| render(plan, &Inputs::of(&env), &env.strings(&EMPTY), &mut direct)) else {
                    continue;
                };
                answered += 1;
                let mut expected = String::new();
                let result = machine.render(&env, &mut Heap::default(), at, &mut expected);
                assert_eq!((Ok(()), &direct), (result.map_err(|e| e.0), &expected), "template @{at}, attrs {:?}", contact.attrs);
            }
        }
        assert!(answered > starts.len() * 100, "the direct path rendered {answered} times");
    }

    static EMPTY: Heap = Heap::new();
    static NO_SHAPES: FastTable = FastTable::NONE;
}
