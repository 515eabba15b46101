//! The syntax tree of one `.journey` file. Every node carries a [`Span`]; names are interned
//! [`Symbol`]s. Parse errors leave explicit `Error` nodes behind so that later phases (and the
//! language server) still see the rest of the file. Literal values are decoded here (durations to
//! seconds, instants to Unix milliseconds) so no later phase re-reads source text.

use crate::Symbol;
use journey_diagnostics::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: Symbol,
    pub span: Span,
}

impl Ident {
    pub fn as_str(&self) -> &'static str {
        self.name.as_str()
    }
}

/// A string literal that must be plain text (aliases, paths, reasons, test names).
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// One parsed file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Module {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
    /// The `///` lines just above the declaration, without the slashes.
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    Import(StrLit),
    Contact(Vec<Field>),
    Enum(EnumDecl),
    Event(EventDecl),
    Message(MessageDecl),
    Audience {
        name: Ident,
        description: StrLit,
    },
    Webhook {
        name: Ident,
        target: StrLit,
    },
    Policy(Vec<PolicyItem>),
    Journey(JourneyDecl),
    Test(TestDecl),
    /// A declaration the parser could not read; its diagnostic has been reported.
    Error,
}

impl ItemKind {
    /// The declared name, for items that have one.
    pub fn name(&self) -> Option<Ident> {
        match self {
            ItemKind::Enum(e) => Some(e.name),
            ItemKind::Event(e) => Some(e.name),
            ItemKind::Message(m) => Some(m.name),
            ItemKind::Audience { name, .. } | ItemKind::Webhook { name, .. } => Some(*name),
            ItemKind::Journey(j) => Some(j.name),
            _ => None,
        }
    }
}

/// `name: type` in a contact or event declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeExpr {
    /// `bool`, `int`, …, or an enum name.
    Named(Ident),
    List(Box<TypeExpr>, Span),
    Optional(Box<TypeExpr>, Span),
    Error(Span),
}

impl TypeExpr {
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named(i) => i.span,
            TypeExpr::List(_, s) | TypeExpr::Optional(_, s) | TypeExpr::Error(s) => *s,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumDecl {
    pub name: Ident,
    pub variants: Vec<Ident>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngagementKind {
    Open,
    Click,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventDecl {
    pub name: Ident,
    /// The name used in the input stream (`"Order Completed"`); the identifier when absent.
    pub alias: Option<StrLit>,
    /// Integration source tag (`from crm`).
    pub source: Option<Ident>,
    pub engagement: Option<(EngagementKind, Span)>,
    pub fields: Vec<Field>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageDecl {
    pub name: Ident,
    pub channel: Channel,
    pub channel_span: Span,
    pub transactional: bool,
    pub fields: Vec<MessageField>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageField {
    pub name: Ident,
    pub value: Template,
}

/// A string with `{…}` interpolations and blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
    pub span: Span,
}

impl Template {
    /// The text when the template has no interpolation at all.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(t, _) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    Text(String, Span),
    /// `{expr}`
    Expr(Expr),
    /// `{if c}…{else if c}…{else}…{end}`
    If {
        branches: Vec<(Expr, Vec<TemplatePart>)>,
        otherwise: Option<Vec<TemplatePart>>,
        span: Span,
    },
    /// `{for x in list}…{end}`
    For {
        var: Ident,
        list: Expr,
        body: Vec<TemplatePart>,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum PolicyItem {
    Timezone(Expr),
    QuietHours { start: ClockLit, end: ClockLit, span: Span },
    Cap { channel: Channel, channel_span: Span, count: i64, per: DurationLit, span: Span },
    Error(Span),
}

/// A duration literal, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationLit {
    pub seconds: i64,
    pub span: Span,
}

/// A time of day, in minutes after midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockLit {
    pub minutes: u32,
    pub span: Span,
}

/// An instant, in milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstantLit {
    pub millis: i64,
    pub span: Span,
}

/// A percentage in hundredths of a percent (`12.5%` is 1250), so sums are exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PercentLit {
    pub basis_points: u32,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JourneyDecl {
    pub name: Ident,
    pub title: Option<StrLit>,
    pub clauses: Vec<Clause>,
    pub body: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub kind: ClauseKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClauseKind {
    Kind(Ident),
    EntryOn { event: Ident, cond: Option<Expr> },
    EntryWhen(Expr),
    EntryAt { at: Expr, cond: Option<Expr> },
    EntryEvery { schedule: Schedule, cond: Option<Expr> },
    Reentry(Reentry),
    ExitOn { event: Ident, cond: Option<Expr> },
    GoalOn { name: Ident, event: Ident, cond: Option<Expr> },
    GoalWhen { name: Ident, cond: Expr },
    Limit(DurationLit),
    Holdout(PercentLit),
    Priority(i64),
    Version(i64),
    Migrate(Vec<MigrateEntry>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// `every day at 09:00`
    Daily(ClockLit),
    /// `every monday at 09:00`
    Weekly { weekday: Ident, at: ClockLit },
    /// `every 7d`
    Interval(DurationLit),
    /// `every year on <date-expr> at 09:00`
    Yearly { date: Expr, at: ClockLit },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reentry {
    Never,
    Always,
    After(DurationLit),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MigrateEntry {
    pub from: Ident,
    pub to: MigrateTarget,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MigrateTarget {
    Step(Ident),
    Exit(Option<StrLit>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub label: Option<Ident>,
    pub kind: StepKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncOp {
    Add,
    Remove,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    Send(Ident),
    Sync {
        audience: Ident,
        op: SyncOp,
    },
    Webhook(Ident),
    /// `set contact.<attr> = <expr>`
    Set {
        attribute: Ident,
        value: Expr,
    },
    Enroll(Ident),
    /// `wait 2d`
    WaitFor(DurationLit),
    /// `wait until <time-expr>`
    WaitUntil(Expr),
    /// `wait until 09:00` / `wait until monday 09:00`
    WaitUntilClock {
        weekday: Option<Ident>,
        at: ClockLit,
    },
    /// `wait for <event> [where c] within d [{…}] [timeout {…}]`
    WaitEvent {
        event: Ident,
        cond: Option<Expr>,
        within: DurationLit,
        on_event: Option<Vec<Step>>,
        on_timeout: Option<Vec<Step>>,
    },
    /// `wait until <cond> within d [{…}] [timeout {…}]`
    WaitCondition {
        cond: Expr,
        within: DurationLit,
        on_met: Option<Vec<Step>>,
        on_timeout: Option<Vec<Step>>,
    },
    If {
        branches: Vec<(Expr, Vec<Step>)>,
        otherwise: Option<Vec<Step>>,
    },
    Match {
        scrutinee: Expr,
        arms: Vec<MatchArm>,
    },
    Split {
        arms: Vec<Arm>,
    },
    Experiment {
        name: Ident,
        measure: Option<Ident>,
        arms: Vec<Arm>,
    },
    Exit(Option<StrLit>),
    /// A step the parser could not read; its diagnostic has been reported.
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatchArm {
    /// Variant names; empty for the `_` arm.
    pub patterns: Vec<Ident>,
    pub wildcard: bool,
    pub body: Vec<Step>,
    pub span: Span,
}

/// An arm of a `split` (unnamed: arms are numbered) or an `experiment` (named).
#[derive(Clone, Debug, PartialEq)]
pub struct Arm {
    pub name: Option<Ident>,
    pub share: PercentLit,
    pub body: Vec<Step>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Coalesce,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Coalesce => "??",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Not,
    Neg,
}

/// The time window of a behavior predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Within(DurationLit),
    SinceEntry(Span),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(Template),
    Bool(bool),
    None,
    Duration(i64),
    Instant(i64),
    /// Days since 1970-01-01.
    Date(i32),
    /// Minutes after midnight.
    Clock(u32),
    List(Vec<Expr>),
    /// A bare name: `now`, `trigger`, an enum variant, a `for` variable.
    Name(Ident),
    /// The `contact` keyword (always followed by `.attr`).
    Contact,
    /// The `event` keyword (always followed by `.field`).
    Event,
    Field(Box<Expr>, Ident),
    Call(Ident, Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Has {
        event: Ident,
        cond: Option<Box<Expr>>,
        window: Option<Window>,
    },
    Count {
        event: Ident,
        cond: Option<Box<Expr>>,
        since_entry: bool,
    },
    Last {
        event: Ident,
        cond: Option<Box<Expr>>,
    },
    InJourney(Ident),
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestDecl {
    pub name: StrLit,
    pub items: Vec<TestItem>,
}

/// `name: value` inside a record literal.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordField {
    pub name: Ident,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TestItem {
    Contact { name: Ident, attributes: Vec<RecordField>, span: Span },
    Record { at: InstantLit, contact: Ident, record: TestRecord, span: Span },
    Assign { contact: Ident, experiment: Ident, arm: Ident, span: Span },
    HoldoutOn(Span),
    RunUntil(InstantLit),
    Expect(Expectation),
    Error(Span),
}

#[derive(Clone, Debug, PartialEq)]
pub enum TestRecord {
    Track { event: Ident, properties: Vec<RecordField> },
    Identify(Vec<RecordField>),
    Exit { journey: Ident },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub contact: Ident,
    pub kind: ExpectKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExpectKind {
    Sent { message: Ident, negated: bool, at: Option<InstantLit>, arm: Option<Ident> },
    InJourney { journey: Ident, negated: bool, at_step: Option<Ident> },
    Exited { journey: Ident, by: Option<ExitBy> },
    Attribute { attribute: Ident, op: BinOp, value: Expr },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExitBy {
    Reason(StrLit),
    Goal(Ident),
    /// `manual`, `limit`, `completed`, `error`, `exit`.
    Kind(Ident),
}
