//! The typed IR: what code generation consumes. Every name is resolved to an index, every
//! expression carries its type and the exact operation it performs (`AddTimeDuration`, not `+`),
//! every step has its stable id, and each journey lists the behaviour predicates (event counters
//! and last-seen times) it needs — so codegen never re-derives anything.

use crate::types::Type;
use journey_diagnostics::Span;
use journey_syntax::Symbol;
use journey_syntax::ast::{Channel, EngagementKind, SyncOp};

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
    )*};
}
id_type!(AttrId, EnumId, EventId, MessageId, AudienceId, WebhookId, JourneyId, PredicateId);

/// A checked project.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub attributes: Vec<Attribute>,
    pub enums: Vec<EnumInfo>,
    pub events: Vec<EventInfo>,
    pub messages: Vec<MessageInfo>,
    pub audiences: Vec<NamedDecl>,
    pub webhooks: Vec<NamedDecl>,
    pub policy: Policy,
    pub journeys: Vec<Journey>,
    /// Behaviour predicates across the project (deduplicated); each journey lists the ones it uses.
    pub predicates: Vec<Predicate>,
}

impl Program {
    pub fn enum_names(&self) -> Vec<String> {
        self.enums.iter().map(|e| e.name.to_string()).collect()
    }
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: Symbol,
    pub ty: Type,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug)]
pub struct EnumInfo {
    pub name: Symbol,
    pub variants: Vec<Symbol>,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug)]
pub struct EventInfo {
    pub name: Symbol,
    /// The name matched against `event` in track records.
    pub input_name: String,
    pub source: Option<Symbol>,
    pub engagement: Option<EngagementKind>,
    pub fields: Vec<(Symbol, Type)>,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug)]
pub struct MessageInfo {
    pub name: Symbol,
    pub channel: Channel,
    pub transactional: bool,
    /// Field name and template, in declaration order. The templates are type-checked per send
    /// site; this copy is checked in the context of the first journey that sends it.
    pub fields: Vec<(Symbol, Template)>,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NamedDecl {
    pub name: Symbol,
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub timezone: Option<Expr>,
    /// Local minutes after midnight: `[start, end)`, may wrap past midnight.
    pub quiet_hours: Option<(u32, u32)>,
    pub caps: Vec<Cap>,
}

#[derive(Clone, Debug)]
pub struct Cap {
    pub channel: Channel,
    pub count: u32,
    pub window_seconds: i64,
    pub span: Span,
}

/// `has` / `count` / `last` over one event type with an optional filter. The engine keeps a
/// counter and a last-seen time per predicate per contact (and per enrollment for `since entry`).
#[derive(Clone, Debug)]
pub struct Predicate {
    pub event: EventId,
    pub filter: Option<Expr>,
    /// `since entry` in this journey: reset at each enrollment.
    pub since_entry_of: Option<JourneyId>,
    /// Source text of the predicate, for deduplication and `explain`.
    pub key: String,
}

#[derive(Clone, Debug)]
pub struct Journey {
    pub name: Symbol,
    pub title: Option<String>,
    pub kind: Option<Symbol>,
    pub entries: Vec<Entry>,
    pub reentry: Reentry,
    pub exits: Vec<ExitOn>,
    pub goals: Vec<Goal>,
    pub limit_seconds: Option<i64>,
    /// Hundredths of a percent.
    pub holdout: u32,
    pub priority: i64,
    pub version: i64,
    pub migrate: Vec<Migration>,
    pub body: Vec<Step>,
    /// The single event type every `entry on` uses, when that holds (`trigger.*` is typed by it).
    pub trigger: Option<EventId>,
    pub predicates: Vec<PredicateId>,
    /// Declaration order across the project (file order, then position): breaks priority ties.
    pub order: u32,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reentry {
    Never,
    Always,
    AfterSeconds(i64),
}

#[derive(Clone, Debug)]
pub enum EntryKind {
    On(EventId),
    When(Expr),
    At(Expr),
    Daily {
        minutes: u32,
    },
    /// 0 = Monday.
    Weekly {
        weekday: u32,
        minutes: u32,
    },
    Interval {
        seconds: i64,
    },
    Yearly {
        date: Expr,
        minutes: u32,
    },
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: EntryKind,
    pub filter: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ExitOn {
    pub event: EventId,
    pub filter: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum GoalKind {
    On { event: EventId, filter: Option<Expr> },
    When(Expr),
}

#[derive(Clone, Debug)]
pub struct Goal {
    pub name: Symbol,
    pub kind: GoalKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Migration {
    pub from: Symbol,
    pub to: MigrationTarget,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum MigrationTarget {
    Step(Symbol),
    Exit(String),
}

#[derive(Clone, Debug)]
pub struct Step {
    /// The label, or `s<n>` with `n` the step's 1-based position in a pre-order walk of the body.
    pub id: Symbol,
    pub labelled: bool,
    pub kind: StepKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StepKind {
    /// The message's fields, typed in this send's context (its journey's `trigger`, the matched `event`).
    Send {
        message: MessageId,
        fields: Vec<(Symbol, Template)>,
    },
    Sync {
        audience: AudienceId,
        op: SyncOp,
    },
    Webhook(WebhookId),
    Set {
        attribute: AttrId,
        value: Expr,
    },
    Enroll(JourneyId),
    WaitDuration {
        seconds: i64,
    },
    WaitUntil(Expr),
    /// `weekday`: 0 = Monday.
    WaitClock {
        weekday: Option<u32>,
        minutes: u32,
    },
    WaitEvent {
        event: EventId,
        filter: Option<Expr>,
        within_seconds: i64,
        on_event: Vec<Step>,
        on_timeout: Vec<Step>,
    },
    WaitCondition {
        condition: Expr,
        within_seconds: i64,
        on_met: Vec<Step>,
        on_timeout: Vec<Step>,
    },
    If {
        branches: Vec<(Expr, Vec<Step>)>,
        otherwise: Vec<Step>,
    },
    /// Arms: variant indexes (empty = `_`) and body.
    Match {
        scrutinee: Expr,
        arms: Vec<(Vec<u32>, Vec<Step>)>,
    },
    Split {
        arms: Vec<Arm>,
    },
    Experiment {
        name: Symbol,
        measure: Option<Symbol>,
        arms: Vec<Arm>,
    },
    Exit {
        reason: String,
    },
}

#[derive(Clone, Debug)]
pub struct Arm {
    /// Experiment arm name, or `1`, `2`, … for split arms.
    pub name: Symbol,
    /// Hundredths of a percent; arms of one split add up to 10000.
    pub share: u32,
    pub body: Vec<Step>,
}

/// A template string: text, interpolations and blocks, all typed.
#[derive(Clone, Debug, Default)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

#[derive(Clone, Debug)]
pub enum TemplatePart {
    Text(String),
    Value(Expr),
    If {
        branches: Vec<(Expr, Template)>,
        otherwise: Template,
    },
    /// `slot` is the loop variable's index in [`ExprKind::LoopVar`].
    For {
        slot: u32,
        list: Expr,
        body: Template,
    },
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

/// Built-in functions (LANGUAGE.md §2); date parts use the contact's local zone. The checker
/// resolves each call to the bytecode's own enum, so there is one list of built-ins.
pub use journey_bytecode::Builtin;

/// Value operations after type resolution (`AddTimeDuration`, not `+`): the bytecode's own
/// enum, so there is one list of them.
pub use journey_bytecode::BinOp as Op;

/// Operators that may skip their right operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Logic {
    And,
    Or,
    /// `a ?? b`: `b` only when `a` is none.
    Coalesce,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(String),
    Template(Template),
    Bool(bool),
    None,
    Duration(i64),
    Instant(i64),
    Date(i32),
    Variant(EnumId, u32),
    List(Vec<Expr>),
    Now,
    Attr(AttrId),
    /// `event.<field>` of the event being matched.
    EventField(EventId, u32),
    /// `trigger.<field>` of the record that enrolled the contact.
    TriggerField(EventId, u32),
    /// A `{for x in …}` variable.
    LoopVar(u32),
    Call(Builtin, Vec<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    /// Implicit int → float promotion, made explicit for codegen.
    IntToFloat(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    /// `and`, `or`, `??`: the right operand is evaluated only when needed.
    Logic(Logic, Box<Expr>, Box<Expr>),
    /// `has`: the predicate has fired (within the window, when given).
    Has {
        predicate: PredicateId,
        within_seconds: Option<i64>,
    },
    Count(PredicateId),
    Last(PredicateId),
    InJourney(JourneyId),
    Error,
}

impl Expr {
    pub fn error(span: Span) -> Expr {
        Expr { kind: ExprKind::Error, ty: Type::Error, span }
    }
}
