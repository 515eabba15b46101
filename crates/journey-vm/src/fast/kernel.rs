//! Conditions of the plainest shapes, answered from the contact's state alone: a behaviour
//! counter, an attribute, an event field or a `has` — compared with a constant, or a bool by
//! itself, possibly negated — and one `and` / `or` of two such (`count(app_opened) > 0`, `contact.plan != free`,
//! `contact.plan == free and contact.trial_ends_at != none`). Most conditions a run tests are
//! of these shapes; a kernel answers one without building the direct path's inputs or going
//! through its dispatch on shapes and values. It declines exactly where the direct path would
//! not answer by the constant's test alone (a value of another kind, a required attribute
//! never supplied), and the direct path, then the machine, decide as before.

use super::{Fast, Load, Operand, Quick, Term};
use crate::value::Value;

/// One term: what it reads (a load of the contact's state: see [`state_load`]), its test
/// against a constant (`Quick::No`: the value is a bool by itself), and whether it is negated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct KTerm {
    load: Load,
    quick: Quick,
    not: bool,
}

/// An expression's kernel, when it has one of the plainest shapes: a condition (`One`, `And`,
/// `Or`), or a value — a load, `a ?? b`, or a time moved by a constant duration — as the
/// schedules of `entry at` and anniversaries read them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kernel {
    No,
    One(KTerm),
    And(KTerm, KTerm),
    Or(KTerm, KTerm),
    Value(Load),
    Coalesce(Load, Load),
    Shift { a: Load, otherwise: Option<Load>, add: bool, by: i64 },
}

/// The parts of the contact's state a kernel reads, and the event being processed.
pub(crate) struct State<'a> {
    pub attrs: &'a [Value],
    pub pred_count: &'a [u32],
    pub pred_last: &'a [i64],
    pub event: Option<&'a [Value]>,
    pub now: i64,
}

/// A load that reads the contact's state or the event (not the trigger or the zone), as
/// [`Operand::value`] reads it.
fn of_state(operand: &Operand) -> Option<Load> {
    match operand.load {
        _ if operand.to_float => None,
        Load::Trigger(_) => None,
        load => Some(load),
    }
}

/// A load's value, as the machine reads it (the trigger's fields aside: see
/// [`Operand::value`]), or `None` when the machine must decide: a required attribute never
/// supplied, or no event.
#[inline(always)]
pub(super) fn state_load(load: Load, s: &State<'_>) -> Option<Value> {
    Some(match load {
        Load::Attr { index, optional } => match s.attrs.get(index as usize)? {
            Value::Absent if optional => Value::None,
            Value::Absent => return None,
            v => *v,
        },
        Load::Const(v) => v,
        Load::Has { predicate, within_ms } => {
            let (count, last) = (*s.pred_count.get(predicate as usize)?, *s.pred_last.get(predicate as usize)?);
            Value::Bool(count > 0 && (within_ms < 0 || last >= s.now.saturating_sub(within_ms)))
        }
        Load::Count(p) => Value::Int(i64::from(*s.pred_count.get(p as usize)?)),
        Load::Last(p) => match (*s.pred_count.get(p as usize)?, *s.pred_last.get(p as usize)?) {
            (0, _) => Value::None,
            (_, t) => Value::Time(t),
        },
        Load::Now => Value::Time(s.now),
        Load::Event(f) => match s.event?.get(f as usize)? {
            Value::Absent => Value::None,
            v => v.from_input(),
        },
        Load::Trigger(_) => return None,
    })
}

impl KTerm {
    fn of(term: &Term) -> Option<KTerm> {
        let load = of_state(&term.a)?;
        // A comparison: with a constant of a usual kind, tested on the value alone. None: the
        // value is the condition (a bool attribute, a `has`).
        match (term.compare, term.quick) {
            (Some(_), Quick::No) => return None,
            (Some(_), _) | (None, Quick::No) => {}
            (None, _) => return None,
        }
        Some(KTerm { load, quick: term.quick, not: term.not })
    }

    /// The term's value, as [`Term::eval`] gives it when it is a bool (`None` otherwise).
    #[inline(always)]
    fn test(&self, s: &State<'_>) -> Option<bool> {
        let v = state_load(self.load, s)?;
        let b = match self.quick {
            Quick::No => match v {
                Value::Bool(b) => b,
                _ => return None,
            },
            quick => quick.test(v)?,
        };
        Some(b != self.not)
    }
}

impl Kernel {
    pub(crate) fn of(shape: &Fast) -> Kernel {
        let kernel = match shape {
            // A value by itself: a load, not a condition.
            Fast::One(Term { a, compare: None, not: false, .. }) if !matches!(a.load, Load::Has { .. }) => of_state(a).map(Kernel::Value),
            Fast::One(a) => KTerm::of(a).map(Kernel::One),
            Fast::And(a, b) => KTerm::of(a).zip(KTerm::of(b)).map(|(a, b)| Kernel::And(a, b)),
            Fast::Or(a, b) => KTerm::of(a).zip(KTerm::of(b)).map(|(a, b)| Kernel::Or(a, b)),
            Fast::Coalesce(a, b) => of_state(a).zip(of_state(b)).map(|(a, b)| Kernel::Coalesce(a, b)),
            Fast::Shift { a, otherwise, add, by: Operand { load: Load::Const(Value::Duration(by)), to_float: false } } => {
                let otherwise = match otherwise {
                    Some(b) => of_state(b).map(Some),
                    None => Some(None),
                };
                of_state(a).zip(otherwise).map(|(a, otherwise)| Kernel::Shift { a, otherwise, add: *add, by: *by })
            }
            _ => None,
        };
        kernel.unwrap_or(Kernel::No)
    }

    /// The condition's value, when the kernel answers (a value's kernel only for a bool).
    #[inline(always)]
    pub(crate) fn test(&self, s: &State<'_>) -> Option<bool> {
        match self {
            Kernel::One(a) => a.test(s),
            // As the direct path (and the machine): the second term only when the first does
            // not decide.
            Kernel::And(a, b) => {
                if a.test(s)? {
                    b.test(s)
                } else {
                    Some(false)
                }
            }
            Kernel::Or(a, b) => {
                if a.test(s)? {
                    Some(true)
                } else {
                    b.test(s)
                }
            }
            Kernel::Value(a) => match state_load(*a, s)? {
                Value::Bool(b) => Some(b),
                _ => None,
            },
            _ => None,
        }
    }

    /// The expression's value, when the kernel answers: as [`Fast::eval`] gives it.
    #[inline]
    pub(crate) fn value(&self, s: &State<'_>) -> Option<Value> {
        match *self {
            Kernel::No => None,
            Kernel::One(..) | Kernel::And(..) | Kernel::Or(..) => self.test(s).map(Value::Bool),
            Kernel::Value(a) => state_load(a, s),
            Kernel::Coalesce(a, b) => match state_load(a, s)? {
                v if v.is_none() => state_load(b, s),
                v => Some(v),
            },
            Kernel::Shift { a, otherwise, add, by } => {
                let t = match (state_load(a, s)?, otherwise) {
                    (v, Some(b)) if v.is_none() => state_load(b, s)?,
                    (v, _) => v,
                };
                // Anything but a time, or a time out of range, is the machine's error.
                match t {
                    Value::Time(t) => crate::eval::shift_time(t, by, add).map(Value::Time),
                    _ => None,
                }
            }
        }
    }
}

#[cfg(test)]
impl Kernel {
    /// `event.f op k` with a float constant (for the test of the kernels' coverage).
    pub(crate) fn is_float_field_test(&self) -> bool {
        matches!(self, Kernel::One(KTerm { load: Load::Event(_), quick: Quick::Float { .. }, .. }))
    }
}
