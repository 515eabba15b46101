//! The journey VM: loads a verified program (journey-bytecode only — no front end linked in) and
//! moves contacts through its journeys. The in-process API is [`Vm::run`]: feed one contact's
//! records in time order up to a window end, get its [`Actions`] (each send's fields in their
//! [`Rendered`] buffers, reused from contact to contact), keep its [`ContactState`].

mod clock;
pub mod engine;
pub mod eval;
mod fast;
mod flow;
pub mod local;
pub mod output;
pub mod state;
mod tables;
pub mod value;
pub mod zone;

pub use engine::{
    Action, ActionKind, Actions, ContactInput, ContactState, Field, FieldSpan, InputMark, Options, Reason, Record, RecordKind, Rendered, Slot, Span,
    Trace, Trigger, Vm, prefetch_input,
};
pub use value::{Heap, Value};

/// A xorshift64 sequence: the random cases of this crate's tests, the same on every run.
#[cfg(test)]
pub(crate) fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
