//! Interned identifiers. A [`Symbol`] is a `Copy` handle; comparing two is comparing integers, and
//! every phase after parsing (checker, codegen, language server) passes them around freely.
//!
//! The interner is process-global (lasso's thread-safe rodeo) so that symbols from files parsed on
//! different threads, or re-parsed by the language server, compare equal without translation.

use lasso::{Spur, ThreadedRodeo};
use std::fmt;
use std::sync::LazyLock;

static INTERNER: LazyLock<ThreadedRodeo> = LazyLock::new(ThreadedRodeo::new);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(Spur);

impl Symbol {
    pub fn intern(text: &str) -> Symbol {
        Symbol(INTERNER.get_or_intern(text))
    }

    pub fn as_str(self) -> &'static str {
        INTERNER.resolve(&self.0)
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
