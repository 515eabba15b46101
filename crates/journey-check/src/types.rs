//! The types of LANGUAGE.md §2. `Error` is the type of an expression that already produced a
//! diagnostic: it is compatible with everything, so one mistake is reported once.

use crate::ir::EnumId;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Int,
    Float,
    String,
    Time,
    Date,
    Duration,
    Enum(EnumId),
    List(Box<Type>),
    Optional(Box<Type>),
    /// The type of the `none` literal: fits any optional.
    NoneLit,
    /// An expression that already failed to check.
    Error,
}

impl Type {
    pub fn optional(inner: Type) -> Type {
        match inner {
            Type::Optional(_) | Type::Error | Type::NoneLit => inner,
            other => Type::Optional(Box::new(other)),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Type::Error)
    }

    pub fn is_optional(&self) -> bool {
        matches!(self, Type::Optional(_) | Type::NoneLit)
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }

    /// The value type under an optional (itself otherwise).
    pub fn unwrap_optional(&self) -> &Type {
        match self {
            Type::Optional(inner) => inner,
            other => other,
        }
    }

    /// Whether a value of type `self` may be stored where `target` is expected (assignment,
    /// record fields, arguments): equal types, T into T?, none into T?, int into float.
    pub fn fits(&self, target: &Type) -> bool {
        if self.is_error() || target.is_error() || self == target {
            return true;
        }
        match (self, target) {
            (Type::Int, Type::Float) => true,
            (Type::NoneLit, Type::Optional(_)) => true,
            (inner, Type::Optional(t)) if !inner.is_optional() => inner.fits(t),
            (Type::List(a), Type::List(b)) => a.fits(b),
            _ => false,
        }
    }

    pub fn display<'a>(&'a self, enum_names: &'a [String]) -> TypeDisplay<'a> {
        TypeDisplay { ty: self, enum_names }
    }
}

/// Renders a type the way the user writes it (`string?`, `[string]`, `Plan`).
pub struct TypeDisplay<'a> {
    ty: &'a Type,
    enum_names: &'a [String],
}

impl fmt::Display for TypeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ty {
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Float => f.write_str("float"),
            Type::String => f.write_str("string"),
            Type::Time => f.write_str("time"),
            Type::Date => f.write_str("date"),
            Type::Duration => f.write_str("duration"),
            Type::Enum(id) => f.write_str(self.enum_names.get(id.0 as usize).map(String::as_str).unwrap_or("enum")),
            Type::List(inner) => write!(f, "[{}]", inner.display(self.enum_names)),
            Type::Optional(inner) => write!(f, "{}?", inner.display(self.enum_names)),
            Type::NoneLit => f.write_str("none"),
            Type::Error => f.write_str("{unknown}"),
        }
    }
}
