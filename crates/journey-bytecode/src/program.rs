//! The program container and instruction set.
//!
//! Two small instruction sets share one program:
//! - [`Instr`] — expression code, a stack machine. Every expression is a run of instructions
//!   ending in `Ret`, addressed by its first index in [`Program::code`]. Template rendering
//!   ([`TemplateOp`]) calls into it.
//! - [`StepOp`] — each journey's body flattened into a list with jump targets; a contact waiting
//!   in a journey is just `(journey, pc)` plus a wake-up time.
//!
//! Everything is indexes into tables (constants, attributes, events, predicates, steps), so the
//! VM never hashes a string while it runs and the verifier can check every index up front.

use serde::{Deserialize, Serialize};

/// Index of the first instruction of an expression in [`Program::code`].
pub type ExprRef = u32;

/// A constant. Strings are stored once in [`Program::strings`] and referenced by index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Const {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(u32),
    /// Milliseconds since the Unix epoch.
    Time(i64),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds.
    Duration(i64),
    /// (enum, variant)
    Enum(u32, u32),
    /// A list of string constants.
    List(Vec<u32>),
}

/// Value types, as far as decoding input and rendering output need them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    Bool,
    Int,
    Float,
    String,
    Time,
    Date,
    Duration,
    Enum(u32),
    ListOfString,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDecl {
    pub name: String,
    pub ty: ValueType,
    pub optional: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnumDecl {
    pub name: String,
    pub variants: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventDecl {
    pub name: String,
    /// Name matched against `event` in track records.
    pub input_name: String,
    pub fields: Vec<FieldDecl>,
    /// 0 none, 1 open, 2 click (the event measures engagement with its `message` field).
    pub engagement: u8,
    pub source: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageDecl {
    pub name: String,
    pub channel: Channel,
    pub transactional: bool,
    pub field_names: Vec<String>,
}

/// A behaviour predicate: a counter and a last-seen time per contact (per enrollment when
/// `since_entry_of` is set), updated when a matching event arrives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    pub event: u32,
    pub filter: Option<ExprRef>,
    pub since_entry_of: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub timezone: Option<ExprRef>,
    /// Local minutes: `[start, end)`, may wrap past midnight.
    pub quiet_hours: Option<(u32, u32)>,
    pub caps: Vec<Cap>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cap {
    pub channel: Channel,
    pub count: u32,
    pub window_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reentry {
    Never,
    Always,
    AfterMs(i64),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EntryKind {
    On(u32),
    When(ExprRef),
    At(ExprRef),
    Daily {
        minutes: u32,
    },
    /// weekday 0 = Monday.
    Weekly {
        weekday: u32,
        minutes: u32,
    },
    Interval {
        ms: i64,
    },
    Yearly {
        date: ExprRef,
        minutes: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub filter: Option<ExprRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExitOn {
    pub event: u32,
    pub filter: Option<ExprRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GoalKind {
    On { event: u32, filter: Option<ExprRef> },
    When(ExprRef),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    pub name: String,
    pub kind: GoalKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    pub from: String,
    /// A step id of this version, or `None` to exit with `exit_reason`.
    pub to: Option<String>,
    pub exit_reason: String,
}

/// One arm of a split or experiment: its cumulative upper bound in hundredths of a percent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmOp {
    pub name: String,
    pub upper: u32,
    pub target: u32,
}

impl ArmOp {
    /// Each arm's name and share in hundredths of a percent (its bound less the one before).
    pub fn shares(arms: &[ArmOp]) -> impl Iterator<Item = (&str, u32)> {
        let lowers = std::iter::once(0).chain(arms.iter().map(|a| a.upper));
        arms.iter().zip(lowers).map(|(a, lower)| (a.name.as_str(), a.upper.saturating_sub(lower)))
    }
}

/// A share in hundredths of a percent as written: `50%`, `33.3%`, `0.25%`.
pub fn percent_text(hundredths: u32) -> String {
    let text = format!("{}.{:02}", hundredths / 100, hundredths % 100);
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// Operations of a journey body. `step` is an index into [`Journey::step_ids`]; targets are
/// indexes into [`Journey::code`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StepOp {
    Send {
        step: u32,
        message: u32,
        fields: Vec<u32>,
    },
    Sync {
        step: u32,
        audience: u32,
        add: bool,
    },
    Webhook {
        step: u32,
        webhook: u32,
    },
    Set {
        step: u32,
        attribute: u32,
        value: ExprRef,
    },
    Enroll {
        step: u32,
        journey: u32,
    },
    WaitDuration {
        step: u32,
        ms: i64,
    },
    WaitUntil {
        step: u32,
        at: ExprRef,
    },
    /// weekday 0 = Monday, 7 = any day.
    WaitClock {
        step: u32,
        weekday: u32,
        minutes: u32,
    },
    WaitEvent {
        step: u32,
        event: u32,
        filter: Option<ExprRef>,
        within_ms: i64,
        on_event: u32,
        on_timeout: u32,
    },
    WaitCondition {
        step: u32,
        condition: ExprRef,
        within_ms: i64,
        on_met: u32,
        on_timeout: u32,
    },
    /// `if`: continue when the condition holds, else jump.
    Branch {
        step: u32,
        condition: ExprRef,
        otherwise: u32,
    },
    /// `match`: `table[variant]` is the target, one per variant of `Program::enums[enumeration]`
    /// (the scrutinee's type, which names the arms in flow diagrams).
    Match {
        step: u32,
        scrutinee: ExprRef,
        enumeration: u32,
        table: Vec<u32>,
    },
    Split {
        step: u32,
        arms: Vec<ArmOp>,
    },
    /// `measure`: index of the goal conversion is measured on (the named one, else the first).
    Experiment {
        step: u32,
        name: String,
        measure: Option<u32>,
        arms: Vec<ArmOp>,
    },
    Jump {
        target: u32,
    },
    Exit {
        step: u32,
        /// `exit` alone is reason `exit` ([`exit_text`]).
        reason: String,
    },
    /// End of the body: exit with reason `completed`.
    Complete,
}

impl StepOp {
    /// The step index this operation belongs to (`None` for control flow without a step).
    pub fn step(&self) -> Option<u32> {
        match self {
            StepOp::Send { step, .. }
            | StepOp::Sync { step, .. }
            | StepOp::Webhook { step, .. }
            | StepOp::Set { step, .. }
            | StepOp::Enroll { step, .. }
            | StepOp::WaitDuration { step, .. }
            | StepOp::WaitUntil { step, .. }
            | StepOp::WaitClock { step, .. }
            | StepOp::WaitEvent { step, .. }
            | StepOp::WaitCondition { step, .. }
            | StepOp::Branch { step, .. }
            | StepOp::Match { step, .. }
            | StepOp::Split { step, .. }
            | StepOp::Experiment { step, .. }
            | StepOp::Exit { step, .. } => Some(*step),
            StepOp::Jump { .. } | StepOp::Complete => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journey {
    pub name: String,
    pub kind: Option<String>,
    pub entries: Vec<Entry>,
    pub reentry: Reentry,
    pub exits: Vec<ExitOn>,
    pub goals: Vec<Goal>,
    pub limit_ms: Option<i64>,
    /// Hundredths of a percent.
    pub holdout: u32,
    pub priority: i64,
    pub version: i64,
    pub migrate: Vec<Migration>,
    /// The event type of `trigger.*`, when every entry is `entry on` it.
    pub trigger_event: Option<u32>,
    pub step_ids: Vec<String>,
    pub code: Vec<StepOp>,
    /// Predicates reset at each enrollment (`since entry`).
    pub since_entry_predicates: Vec<u32>,
}

impl StepOp {
    /// Indexes of the operations control may pass to after this one.
    pub fn successors(&self, pc: u32) -> Vec<u32> {
        match self {
            StepOp::WaitEvent { on_event, on_timeout, .. } => vec![*on_event, *on_timeout],
            StepOp::WaitCondition { on_met, on_timeout, .. } => vec![*on_met, *on_timeout],
            StepOp::Branch { otherwise, .. } => vec![pc + 1, *otherwise],
            StepOp::Match { table, .. } => table.clone(),
            StepOp::Split { arms, .. } | StepOp::Experiment { arms, .. } => arms.iter().map(|a| a.target).collect(),
            StepOp::Jump { target } => vec![*target],
            StepOp::Exit { .. } | StepOp::Complete => Vec::new(),
            _ => vec![pc + 1],
        }
    }
}

impl Journey {
    /// Node of the flow graph standing for enrollment (steps are nodes `0..step_ids.len()`).
    pub fn flow_entry(&self) -> u32 {
        self.step_ids.len() as u32
    }

    /// Node of the flow graph standing for completing the body.
    pub fn flow_end(&self) -> u32 {
        self.step_ids.len() as u32 + 1
    }

    /// The step (or the end node) control reaches from operation `pc`, through jumps.
    pub fn flow_node_at(&self, mut pc: u32) -> u32 {
        for _ in 0..=self.code.len() {
            match self.code.get(pc as usize) {
                Some(StepOp::Jump { target }) => pc = *target,
                Some(op) => return op.step().unwrap_or(self.flow_end()),
                None => return self.flow_end(),
            }
        }
        self.flow_end()
    }

    /// The edges of the journey's flow graph, `(from, to)` nodes, in a stable order: enrollment
    /// to the first step, then each step to the steps (or the end) it can lead to. Metrics count
    /// contacts along these edges, index for index.
    pub fn flow_edges(&self) -> Vec<(u32, u32)> {
        let mut edges = vec![(self.flow_entry(), self.flow_node_at(0))];
        for (pc, op) in self.code.iter().enumerate() {
            let Some(from) = op.step() else { continue };
            for next in op.successors(pc as u32) {
                let edge = (from, self.flow_node_at(next));
                // A step compiled to several operations (an `if` chain) is one node.
                if edge.0 != edge.1 && !edges.contains(&edge) {
                    edges.push(edge);
                }
            }
        }
        edges
    }
}

/// Built-in functions (see journey-check's `Builtin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum Builtin {
    Lower,
    Upper,
    ContainsStr,
    ContainsList,
    StartsWith,
    EndsWith,
    LenStr,
    LenList,
    AbsInt,
    AbsFloat,
    MinInt,
    MaxInt,
    MinFloat,
    MaxFloat,
    MinTime,
    MaxTime,
    Round,
    Floor,
    DateOf,
    Year,
    Month,
    Day,
    Weekday,
    Hour,
    YearOfDate,
    MonthOfDate,
    DayOfDate,
    WeekdayOfDate,
    Format,
    Days,
}

impl Builtin {
    pub fn arity(self) -> usize {
        match self {
            Builtin::ContainsStr
            | Builtin::ContainsList
            | Builtin::StartsWith
            | Builtin::EndsWith
            | Builtin::MinInt
            | Builtin::MaxInt
            | Builtin::MinFloat
            | Builtin::MaxFloat
            | Builtin::MinTime
            | Builtin::MaxTime
            | Builtin::Format => 2,
            _ => 1,
        }
    }
}

/// Binary operations, already resolved to their operand types by the checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    InList,
    AddInt,
    AddFloat,
    SubInt,
    SubFloat,
    MulInt,
    MulFloat,
    DivInt,
    DivFloat,
    AddTimeDuration,
    SubTimeDuration,
    SubTimeTime,
    AddDuration,
    SubDuration,
    MulDurationInt,
    DivDurationInt,
    Concat,
    ConcatList,
}

/// Expression instructions (a stack machine).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Instr {
    Const(u32),
    Now,
    Attr(u32),
    EventField(u32),
    TriggerField(u32),
    LoopVar(u32),
    Not,
    Neg,
    IntToFloat,
    Bin(BinOp),
    Call(Builtin),
    /// Pops a value; pushes `true` when it is not none.
    IsSome,
    /// `a ?? b`: if the top is not none, jump (keeping it); else pop it and fall through to `b`.
    JumpIfSome(u32),
    /// Short-circuit `and`: if the top is false, jump (keeping it); else pop it.
    JumpIfFalseKeep(u32),
    /// Short-circuit `or`: if the top is true, jump (keeping it); else pop it.
    JumpIfTrueKeep(u32),
    /// `has p [within d]`: d in ms, or -1 for no window.
    Has {
        predicate: u32,
        within_ms: i64,
    },
    Count(u32),
    Last(u32),
    InJourney(u32),
    /// Builds a list from the top `n` string values.
    MakeList(u32),
    /// Renders a template (a string literal with interpolations used as a value).
    Render(u32),
    Ret,
}

/// Template rendering operations; a template is `TemplateOp`s from its start to `End`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TemplateOp {
    Text(u32),
    Value(ExprRef),
    /// Jump when the condition is false.
    JumpIfFalse(ExprRef, u32),
    Jump(u32),
    /// Start of `{for}`: evaluate the list into loop slot `slot`; jump to `end` when empty.
    ForStart {
        slot: u32,
        list: ExprRef,
        end: u32,
    },
    /// End of a `{for}` body: next item, or fall through; `start` is the index after `ForStart`.
    ForNext {
        slot: u32,
        start: u32,
    },
    End,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub strings: Vec<String>,
    pub constants: Vec<Const>,
    pub attributes: Vec<FieldDecl>,
    pub enums: Vec<EnumDecl>,
    pub events: Vec<EventDecl>,
    pub messages: Vec<MessageDecl>,
    pub audiences: Vec<String>,
    pub webhooks: Vec<String>,
    pub predicates: Vec<Predicate>,
    pub policy: Policy,
    /// In evaluation order: priority (highest first), then declaration order.
    pub journeys: Vec<Journey>,
    pub code: Vec<Instr>,
    pub templates: Vec<TemplateOp>,
    /// Number of `{for}` loop slots the templates use.
    pub loop_slots: u32,
    /// Hash of the source project (for snapshots).
    pub fingerprint: u64,
    /// Debug information: source text of top-level expressions (by start), for `journey explain`.
    /// Empty in `.jbc` files built without it.
    pub expr_text: Vec<(u32, String)>,
}

/// An `exit` step as written: `exit` for the default reason, else `exit "<reason>"`.
pub fn exit_text(reason: &str) -> String {
    if reason == "exit" { "exit".to_string() } else { format!("exit {reason:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_written_as_in_the_source() {
        let arm = |name: &str, upper| ArmOp { name: name.into(), upper, target: 0 };
        let arms = [arm("a", 3330), arm("b", 3355), arm("c", 10_000)];
        let shares: Vec<String> = ArmOp::shares(&arms).map(|(n, s)| format!("{n} {}", percent_text(s))).collect();
        assert_eq!(shares, ["a 33.3%", "b 0.25%", "c 66.45%"]);
        assert_eq!(percent_text(10_000), "100%");
        assert_eq!(percent_text(0), "0%");
    }
}
