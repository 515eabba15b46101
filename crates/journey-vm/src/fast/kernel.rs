//! Conditions of the plainest shapes, answered from the contact's state alone: a behaviour
//! counter, an attribute or a `has` — compared with a constant, or a bool by itself, possibly
//! negated — and one `and` / `or` of two such (`count(app_opened) > 0`, `contact.plan != free`,
//! `contact.plan == free and contact.trial_ends_at != none`). Most conditions a run tests are
//! of these shapes; a kernel answers one without building the direct path's inputs or going
//! through its dispatch on shapes and values. It declines exactly where the direct path would
//! not answer by the constant's test alone (a value of another kind, a required attribute
//! never supplied), and the direct path, then the machine, decide as before.

use super::{Fast, Load, Quick, Term};
use crate::value::Value;

/// What a kernel term reads.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Probe {
    Count(u32),
    Attr { index: u32, optional: bool },
    Has { predicate: u32, within_ms: i64 },
}

/// One term: what it reads, its test against a constant (`Quick::No`: the value is a bool by
/// itself), and whether it is negated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct KTerm {
    probe: Probe,
    quick: Quick,
    not: bool,
}

/// A condition's kernel, when it has one of the plainest shapes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kernel {
    No,
    One(KTerm),
    And(KTerm, KTerm),
    Or(KTerm, KTerm),
}

/// The parts of the contact's state a kernel reads.
pub(crate) struct State<'a> {
    pub attrs: &'a [Value],
    pub pred_count: &'a [u32],
    pub pred_last: &'a [i64],
    pub now: i64,
}

impl KTerm {
    fn of(term: &Term) -> Option<KTerm> {
        if term.a.to_float {
            return None;
        }
        let probe = match term.a.load {
            Load::Count(p) => Probe::Count(p),
            Load::Attr { index, optional } => Probe::Attr { index, optional },
            Load::Has { predicate, within_ms } => Probe::Has { predicate, within_ms },
            _ => return None,
        };
        // A comparison: with a constant of a usual kind, tested on the value alone. None: the
        // value is the condition (a bool attribute, a `has`).
        match (term.compare, term.quick) {
            (Some(_), Quick::No) => return None,
            (Some(_), _) | (None, Quick::No) => {}
            (None, _) => return None,
        }
        Some(KTerm { probe, quick: term.quick, not: term.not })
    }

    /// The term's value, as [`Term::eval`] gives it when it is a bool (`None` otherwise).
    #[inline(always)]
    fn test(&self, s: &State<'_>) -> Option<bool> {
        let v = match self.probe {
            Probe::Count(p) => Value::Int(i64::from(*s.pred_count.get(p as usize)?)),
            Probe::Attr { index, optional } => match s.attrs.get(index as usize)? {
                Value::Absent if optional => Value::None,
                Value::Absent => return None,
                v => *v,
            },
            Probe::Has { predicate, within_ms } => {
                let (count, last) = (*s.pred_count.get(predicate as usize)?, *s.pred_last.get(predicate as usize)?);
                Value::Bool(count > 0 && (within_ms < 0 || last >= s.now.saturating_sub(within_ms)))
            }
        };
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
            Fast::One(a) => KTerm::of(a).map(Kernel::One),
            Fast::And(a, b) => KTerm::of(a).zip(KTerm::of(b)).map(|(a, b)| Kernel::And(a, b)),
            Fast::Or(a, b) => KTerm::of(a).zip(KTerm::of(b)).map(|(a, b)| Kernel::Or(a, b)),
            _ => None,
        };
        kernel.unwrap_or(Kernel::No)
    }

    /// The condition's value, when the kernel answers.
    #[inline(always)]
    pub(crate) fn test(&self, s: &State<'_>) -> Option<bool> {
        match self {
            Kernel::No => None,
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
        }
    }
}
