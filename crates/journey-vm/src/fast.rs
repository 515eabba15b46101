//! The shapes most expressions have — one value (`contact.plan`, `has opened`), or two compared
//! (`event.total >= 20.0`, `contact.plan == pro`) — recognised once when the program is loaded
//! and then evaluated directly, without the stack machine, its environment or the contact's time
//! zone.
//!
//! The direct path only answers when it is sure: a required attribute never supplied, a
//! missing field, a comparison the machine would reject — anything but the plain case — makes it
//! decline, and the machine evaluates the expression as always (so errors are worded in one
//! place). `tests` checks both agree on every shape.

use crate::eval::{order, values_equal};
use crate::value::{Strings, Value, constant};
use journey_bytecode::{BinOp, Instr, Program};

/// Where an operand's value comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Load {
    /// A contact attribute; `optional` ones read as none when never supplied.
    Attr { index: u32, optional: bool },
    Event(u32),
    Trigger(u32),
    Const(Value),
    Has { predicate: u32, within_ms: i64 },
    Count(u32),
    Now,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Operand {
    load: Load,
    /// Followed by `inttofloat`.
    to_float: bool,
}

/// An expression of a shape evaluated directly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Fast {
    One(Operand),
    /// Two operands and a comparison (`eq` … `ge`).
    Compare(Operand, BinOp, Operand),
}

/// What an expression can read, for the direct path (the parts of [`crate::eval::Env`] it uses).
pub(crate) struct Inputs<'a> {
    pub attrs: &'a [Value],
    pub pred_count: &'a [u32],
    pub pred_last: &'a [i64],
    pub event: Option<&'a [Value]>,
    pub trigger: &'a [Value],
    pub now: i64,
}

/// Per expression start (index into `program.code`), its shape when it has one of the direct
/// ones.
pub(crate) fn compile(program: &Program) -> Vec<Option<Fast>> {
    (0..program.code.len()).map(|at| shape(program, at)).collect()
}

fn shape(program: &Program, at: usize) -> Option<Fast> {
    let code = program.code.get(at..)?;
    let (a, rest) = operand(program, code)?;
    match rest {
        [Instr::Ret, ..] => Some(Fast::One(a)),
        _ => {
            let (b, rest) = operand(program, rest)?;
            match rest {
                [Instr::Bin(op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)), Instr::Ret, ..] => Some(Fast::Compare(a, *op, b)),
                _ => None,
            }
        }
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
            Load::Attr { index, optional } => match inputs.attrs.get(index as usize)? {
                Value::Absent if optional => Value::None,
                Value::Absent => return None,
                v => *v,
            },
            Load::Event(f) => match inputs.event?.get(f as usize)? {
                Value::Absent => Value::None,
                v => v.from_input(),
            },
            Load::Trigger(f) => match inputs.trigger.get(f as usize)? {
                Value::Absent => Value::None,
                v => *v,
            },
            Load::Const(v) => v,
            Load::Has { predicate, within_ms } => {
                let (count, last) = (*inputs.pred_count.get(predicate as usize)?, *inputs.pred_last.get(predicate as usize)?);
                Value::Bool(count > 0 && (within_ms < 0 || last >= inputs.now.saturating_sub(within_ms)))
            }
            Load::Count(p) => Value::Int(i64::from(*inputs.pred_count.get(p as usize)?)),
            Load::Now => Value::Time(inputs.now),
        };
        Some(match v {
            Value::Int(i) if self.to_float => Value::Float(i as f64),
            v => v,
        })
    }
}

impl Fast {
    /// The expression's value, or `None` when the stack machine must decide.
    #[inline]
    pub(crate) fn eval(&self, inputs: &Inputs<'_>, strings: &Strings<'_>) -> Option<Value> {
        match self {
            Fast::One(a) => a.value(inputs),
            Fast::Compare(a, op, b) => {
                let (a, b) = (a.value(inputs)?, b.value(inputs)?);
                // Numbers and enum variants, the usual case, compared in place.
                let ordering = match (a, b) {
                    (Value::Float(x), Value::Float(y)) => x.partial_cmp(&y),
                    (Value::Int(x), Value::Int(y)) => Some(x.cmp(&y)),
                    (Value::Enum(e, x), Value::Enum(f, y)) if e == f && matches!(op, BinOp::Eq | BinOp::Ne) => Some(x.cmp(&y)),
                    _ => None,
                };
                if let Some(o) = ordering {
                    return Some(Value::Bool(match op {
                        BinOp::Eq => o.is_eq(),
                        BinOp::Ne => o.is_ne(),
                        BinOp::Lt => o.is_lt(),
                        BinOp::Le => o.is_le(),
                        BinOp::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    }));
                }
                Some(Value::Bool(match op {
                    BinOp::Eq => values_equal(a, b, strings),
                    BinOp::Ne => !values_equal(a, b, strings),
                    BinOp::Lt => order(a, b, strings).ok()?.is_lt(),
                    BinOp::Le => order(a, b, strings).ok()?.is_le(),
                    BinOp::Gt => order(a, b, strings).ok()?.is_gt(),
                    _ => order(a, b, strings).ok()?.is_ge(),
                }))
            }
        }
    }
}
