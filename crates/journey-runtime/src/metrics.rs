//! `metrics.json` (RUNTIME.md §4): per journey entries, exits by reason (and by step), step
//! counts, goal conversion with median time to convert, experiment arms with a two-proportion
//! z-test against the first arm, holdout uplift; engagement per message; run totals.
//!
//! Everything is computed from the action stream, so it is the same for any thread count.

use crate::Evaluation;
use journey_bytecode::{Program, StepOp};
use journey_vm::{ActionKind, Reason};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

#[derive(Default, Clone, Serialize, Deserialize, PartialEq)]
struct ArmStats {
    assigned: u64,
    converted: u64,
}

/// Per arm, its name and counts.
type Arms = Vec<(String, ArmStats)>;

#[derive(Default, Clone, Serialize, Deserialize, PartialEq)]
struct JourneyStats {
    entered: u64,
    entered_holdout: u64,
    exits: BTreeMap<String, u64>,
    exits_by_step: BTreeMap<String, BTreeMap<String, u64>>,
    goal_reached: Vec<u64>,
    goal_times: Vec<Vec<i64>>,
    /// Enrollments that reached any goal, split by treated / holdout.
    converted_treated: u64,
    converted_holdout: u64,
    experiments: BTreeMap<String, (Option<u32>, Arms)>,
}

/// Totals of a run, reported under `run`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunTotals {
    pub records_read: u64,
    pub rejected: u64,
    pub contacts: u64,
    pub wall_seconds: f64,
    /// Track records of events the project does not declare (RUNTIME.md §2: seen, trigger
    /// nothing), per event name.
    pub undeclared: NameCounts,
    /// Contacts whose time zone names no IANA zone (evaluated in UTC), per name.
    pub unknown_zones: NameCounts,
    /// Conditions that could not be evaluated and counted as false, per place and reason: the
    /// contacts that met each (last, so a partial written before it is a decode error).
    pub condition_errors: NameCounts,
}

impl RunTotals {
    /// The lines said at the end of a run (or of a merge) about what it met and could not use:
    /// undeclared events, unknown time zones, conditions that could not be evaluated.
    pub fn notes(&self, program: &Program) -> Vec<String> {
        [self.undeclared.undeclared_note(program), self.unknown_zones.unknown_zones_note(), self.condition_errors.condition_errors_note()]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// How many of something a run met, in all and per name (exact, so the same for any thread
/// count or sharding).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NameCounts {
    pub total: u64,
    pub names: BTreeMap<String, u64>,
}

impl NameCounts {
    /// How many of the most frequent names `metrics.json` lists.
    pub const LISTED: usize = 20;
    /// How many of them the note at the end of a run names.
    const SHOWN: usize = 5;

    pub fn add(&mut self, name: &str, n: u64) {
        self.total += n;
        match self.names.get_mut(name) {
            Some(x) => *x += n,
            None => {
                self.names.insert(name.to_string(), n);
            }
        }
    }

    pub fn merge(&mut self, other: NameCounts) {
        self.total += other.total;
        add_maps(&mut self.names, other.names);
    }

    /// The names with the highest counts first (ties in name order), at most `n` of them.
    pub fn most_frequent(&self, n: usize) -> Vec<(&str, u64)> {
        let mut names: Vec<(&str, u64)> = self.names.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        names.truncate(n);
        names
    }

    /// `metrics.json`'s form: `{"<total>": N, "<names>": {name: count, …}}`, the most frequent
    /// [`NameCounts::LISTED`] names.
    pub fn to_json(&self, total: &str, names: &str) -> Json {
        let listed: Map<String, Json> = self.most_frequent(Self::LISTED).into_iter().map(|(name, n)| (name.to_string(), json!(n))).collect();
        json!({ total: self.total, names: listed })
    }

    /// The most frequent names as `"name" (count…)`, `detail` adding to a name's parentheses,
    /// and how many more there are.
    fn shown(&self, detail: impl Fn(&str) -> Option<String>) -> String {
        let names: Vec<String> = self
            .most_frequent(Self::SHOWN)
            .into_iter()
            .map(|(name, n)| match detail(name) {
                Some(d) => format!("{name:?} ({n}; {d})"),
                None => format!("{name:?} ({n})"),
            })
            .collect();
        match self.names.len().saturating_sub(Self::SHOWN) {
            0 => names.join(", "),
            more => format!("{} and {more} more", names.join(", ")),
        }
    }

    /// One line for the end of a run when some records named undeclared events: how many, the
    /// most frequent names, and for each the declared event it probably meant ([`meant_event`]).
    pub fn undeclared_note(&self, program: &Program) -> Option<String> {
        if self.total == 0 {
            return None;
        }
        let (records, verb, triggers) = if self.total == 1 {
            ("1 record".to_string(), "names an event", "triggers")
        } else {
            (format!("{} records", self.total), "name events", "trigger")
        };
        Some(format!(
            "note: {records} {verb} the project does not declare, which {triggers} nothing: {}. A track record names an event by its string alias when it has one, else by its identifier (`journey run` counts them per name in metrics.json, under run.undeclared)",
            self.shown(|name| meant_event(program, name).map(|meant| format!("did you mean {meant:?}?")))
        ))
    }

    /// One line for the end of a run when some conditions could not be evaluated.
    pub fn condition_errors_note(&self) -> Option<String> {
        if self.total == 0 {
            return None;
        }
        let (conditions, were) = if self.names.len() == 1 { ("a condition", "was") } else { ("conditions", "were") };
        Some(format!(
            "warning: {conditions} could not be evaluated and {were} taken as false (contacts per condition and reason): {}. Fix the project or the data; `journey explain --contact ID` shows one contact's evaluation (counts in metrics.json, under run.condition_errors)",
            self.shown(|_| None)
        ))
    }

    /// One line for the end of a run when some contacts' time zones name no IANA zone.
    pub fn unknown_zones_note(&self) -> Option<String> {
        if self.total == 0 {
            return None;
        }
        let contacts = if self.total == 1 { "1 contact has a time zone".to_string() } else { format!("{} contacts have time zones", self.total) };
        Some(format!(
            "note: {contacts} that name no IANA zone, so they were evaluated in UTC: {}. Names are like \"Europe/Paris\" or \"America/New_York\" (counts per name in metrics.json, under run.unknown_time_zones)",
            self.shown(|name| suggest_zone(name).map(|z| format!("did you mean {z:?}?")))
        ))
    }
}

/// The IANA zone a misspelt `name` probably means: the one equal to it ignoring case, with
/// spaces for `_`, or the closest by edit distance.
fn suggest_zone(name: &str) -> Option<&'static str> {
    let folded = |s: &str| s.to_lowercase().replace(' ', "_");
    let wanted = folded(name);
    if let Some(z) = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).find(|z| folded(z) == wanted) {
        return Some(z);
    }
    journey_diagnostics::suggest(name, chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()))
}

/// The declared event an undeclared `name` was probably meant to be, as the input must name it
/// (its string alias, else its identifier): the event whose identifier it is, when that event
/// has an alias, else the one whose name it matches ignoring case, spaces, `_` and `-`.
pub fn meant_event<'p>(program: &'p Program, name: &str) -> Option<&'p str> {
    meant_among(program.events.iter().map(|e| (e.name.as_str(), e.input_name.as_str())), name)
}

/// [`meant_event`] among `(identifier, input name)` pairs.
fn meant_among<'p>(events: impl Iterator<Item = (&'p str, &'p str)> + Clone, name: &str) -> Option<&'p str> {
    if let Some((_, input)) = events.clone().find(|(id, input)| *id == name && *input != name) {
        return Some(input);
    }
    let folded = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let wanted = folded(name);
    if wanted.is_empty() {
        return None;
    }
    events.into_iter().find(|(id, input)| folded(input) == wanted || folded(id) == wanted).map(|(_, input)| input)
}

/// Two-sided p-value of a two-proportion z-test (pooled), or `None` when undefined.
pub fn two_proportion_p(success_a: u64, n_a: u64, success_b: u64, n_b: u64) -> Option<f64> {
    if n_a == 0 || n_b == 0 {
        return None;
    }
    let (pa, pb) = (success_a as f64 / n_a as f64, success_b as f64 / n_b as f64);
    let pooled = (success_a + success_b) as f64 / (n_a + n_b) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n_a as f64 + 1.0 / n_b as f64)).sqrt();
    if se == 0.0 {
        return None;
    }
    let z = (pb - pa) / se;
    Some((2.0 * (1.0 - standard_normal_cdf(z.abs()))).clamp(0.0, 1.0))
}

/// Φ(x) via the Abramowitz–Stegun 7.1.26 erf approximation (error < 1.5e-7).
fn standard_normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 { 0.5 * (1.0 + erf) } else { 0.5 * (1.0 - erf) }
}

fn rate(n: u64, d: u64) -> Json {
    if d == 0 { Json::Null } else { json!((n as f64 / d as f64 * 10_000.0).round() / 10_000.0) }
}

fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

/// Magic bytes of `metrics.partial`.
pub const PARTIAL_MAGIC: [u8; 4] = *b"JMP\0";

/// Counts of one journey, kept by index while a run streams (no strings, no allocation per
/// action); turned into [`JourneyStats`] when the run ends.
#[derive(Clone)]
struct Tally {
    entered: u64,
    entered_holdout: u64,
    exits: FxHashMap<Reason, u64>,
    exits_by_step: FxHashMap<(Reason, u32), u64>,
    goal_reached: Vec<u64>,
    goal_times: Vec<Vec<i64>>,
    converted_treated: u64,
    converted_holdout: u64,
    /// Per experiment (in code order): its name, measured goal, and per arm (name, counts).
    experiments: Vec<(String, Option<u32>, Arms)>,
    /// Where each experiment is in the journey's code (what an `assign` action names).
    experiment_pcs: Vec<u32>,
}

impl Tally {
    fn new(journey: &journey_bytecode::Journey) -> Self {
        Tally {
            entered: 0,
            entered_holdout: 0,
            exits: FxHashMap::default(),
            exits_by_step: FxHashMap::default(),
            goal_reached: vec![0; journey.goals.len()],
            goal_times: vec![Vec::new(); journey.goals.len()],
            converted_treated: 0,
            converted_holdout: 0,
            experiments: journey
                .code
                .iter()
                .filter_map(|op| match op {
                    StepOp::Experiment { name, measure, arms, .. } => {
                        Some((name.clone(), *measure, arms.iter().map(|a| (a.name.clone(), ArmStats::default())).collect()))
                    }
                    _ => None,
                })
                .collect(),
            experiment_pcs: (0..journey.code.len() as u32)
                .filter(|&pc| matches!(journey.code.get(pc as usize), Some(StepOp::Experiment { .. })))
                .collect(),
        }
    }

    fn merge(&mut self, other: Tally) {
        self.entered += other.entered;
        self.entered_holdout += other.entered_holdout;
        for (k, v) in other.exits {
            *self.exits.entry(k).or_default() += v;
        }
        for (k, v) in other.exits_by_step {
            *self.exits_by_step.entry(k).or_default() += v;
        }
        add_vecs(&mut self.goal_reached, &other.goal_reached);
        for (a, b) in self.goal_times.iter_mut().zip(other.goal_times) {
            a.extend(b);
        }
        self.converted_treated += other.converted_treated;
        self.converted_holdout += other.converted_holdout;
        for ((_, _, a), (_, _, b)) in self.experiments.iter_mut().zip(other.experiments) {
            for ((_, x), (_, y)) in a.iter_mut().zip(b) {
                x.assigned += y.assigned;
                x.converted += y.converted;
            }
        }
    }
}

/// An enrollment being counted: entered at, holdout, (experiment, arm) pairs assigned.
type Enrollment = (i64, bool, Vec<(usize, usize)>);

/// The counts of every journey, and sends per message: what one worker, or one batch, adds to
/// the metrics (see [`MetricsBuilder::add_tallies`]).
#[derive(Clone)]
pub struct Tallies {
    journeys: Vec<Tally>,
    sends: Vec<u64>,
    /// Scratch: per journey, the current enrollment of the contact being counted.
    current: Vec<Enrollment>,
}

impl Tallies {
    pub fn new(program: &Program) -> Self {
        Tallies {
            journeys: program.journeys.iter().map(Tally::new).collect(),
            sends: vec![0; program.messages.len()],
            current: vec![(0, false, Vec::new()); program.journeys.len()],
        }
    }

    pub fn merge(mut self, other: Tallies) -> Tallies {
        self.absorb(other);
        self
    }

    /// Adds another's counts to these.
    fn absorb(&mut self, other: Tallies) {
        for (a, b) in self.journeys.iter_mut().zip(other.journeys) {
            a.merge(b);
        }
        add_vecs(&mut self.sends, &other.sends);
    }

    /// Counts one contact's actions.
    pub fn add(&mut self, actions: &[journey_vm::Action]) {
        // Per journey, the current enrollment: (entered at, holdout, (experiment, arm) assigned).
        let mut current = std::mem::take(&mut self.current);
        current.iter_mut().for_each(|c| {
            c.0 = 0;
            c.1 = false;
            c.2.clear();
        });
        for action in actions {
            let j = action.journey as usize;
            let (Some(s), Some(now)) = (self.journeys.get_mut(j), current.get_mut(j)) else { continue };
            match &action.kind {
                ActionKind::Enter { holdout, .. } => {
                    s.entered += 1;
                    if *holdout {
                        s.entered_holdout += 1;
                    }
                    now.0 = action.at;
                    now.1 = *holdout;
                    now.2.clear();
                }
                // Arms are counted in code order, as the action numbers them; splits are not
                // experiments.
                ActionKind::Assign { pc, arm } => {
                    let a = *arm as usize;
                    if let Some(x) = s.experiment_pcs.iter().position(|p| p == pc)
                        && let Some(stats) = s.experiments.get_mut(x).and_then(|e| e.2.get_mut(a))
                    {
                        stats.1.assigned += 1;
                        now.2.push((x, a));
                    }
                }
                ActionKind::Send { message, .. } => {
                    if let Some(n) = self.sends.get_mut(*message as usize) {
                        *n += 1;
                    }
                }
                ActionKind::Exit { reason } => {
                    match s.exits.get_mut(reason) {
                        Some(n) => *n += 1,
                        None => {
                            s.exits.insert(*reason, 1);
                        }
                    }
                    if let Some(step) = action.step {
                        *s.exits_by_step.entry((*reason, step)).or_default() += 1;
                    }
                    if let Reason::Goal(g) = reason {
                        let g = *g as usize;
                        if let Some(r) = s.goal_reached.get_mut(g) {
                            *r += 1;
                        }
                        if let Some(t) = s.goal_times.get_mut(g) {
                            t.push(action.at - now.0);
                        }
                        if now.1 {
                            s.converted_holdout += 1;
                        } else {
                            s.converted_treated += 1;
                        }
                        for &(x, a) in &now.2 {
                            if let Some((_, measure, arms)) = s.experiments.get_mut(x)
                                && *measure == Some(g as u32)
                                && let Some((_, arm)) = arms.get_mut(a)
                            {
                                arm.converted += 1;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        self.current = current;
    }
}

/// Accumulates metrics a batch of contacts at a time (runs stream their actions); a batch is
/// counted in parallel and the counts added up.
pub struct MetricsBuilder<'p> {
    program: &'p Program,
    tallies: Tallies,
}

impl<'p> MetricsBuilder<'p> {
    pub fn new(program: &'p Program) -> Self {
        MetricsBuilder { program, tallies: Tallies::new(program) }
    }

    pub fn add(&mut self, contacts: &[(String, journey_vm::Actions)]) {
        let program = self.program;
        let batch = contacts
            .par_chunks(512)
            .fold(
                || Tallies::new(program),
                |mut t, chunk| {
                    for (_, actions) in chunk {
                        t.add(actions);
                    }
                    t
                },
            )
            .reduce(|| Tallies::new(program), Tallies::merge);
        self.add_tallies(batch);
    }

    /// Adds counts made elsewhere (by the workers of a run, say).
    pub fn add_tallies(&mut self, tallies: Tallies) {
        self.tallies.absorb(tallies);
    }

    /// The counts as [`JourneyStats`] (reasons, steps and messages by name) and sends.
    fn stats(&self) -> (Vec<JourneyStats>, BTreeMap<String, u64>) {
        let program = self.program;
        let stats = program
            .journeys
            .iter()
            .zip(&self.tallies.journeys)
            .enumerate()
            .map(|(j, (journey, t))| {
                let reason = |r: &Reason| journey_vm::output::reason_text(program, j as u32, r);
                let mut exits_by_step: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
                for ((r, step), n) in &t.exits_by_step {
                    if let Some(step) = journey.step_ids.get(*step as usize) {
                        *exits_by_step.entry(reason(r)).or_default().entry(step.clone()).or_default() += n;
                    }
                }
                let mut goal_times = t.goal_times.clone();
                // Sorted: the order batches were counted in is not part of the result.
                goal_times.iter_mut().for_each(|g| g.sort_unstable());
                JourneyStats {
                    entered: t.entered,
                    entered_holdout: t.entered_holdout,
                    exits: t.exits.iter().fold(BTreeMap::new(), |mut m, (r, n)| {
                        *m.entry(reason(r)).or_default() += n;
                        m
                    }),
                    exits_by_step,
                    goal_reached: t.goal_reached.clone(),
                    goal_times,
                    converted_treated: t.converted_treated,
                    converted_holdout: t.converted_holdout,
                    experiments: t.experiments.iter().map(|(name, measure, arms)| (name.clone(), (*measure, arms.clone()))).collect(),
                }
            })
            .collect();
        let sends = program.messages.iter().zip(&self.tallies.sends).filter(|(_, n)| **n > 0).map(|(m, n)| (m.name.clone(), *n)).collect();
        (stats, sends)
    }

    /// The mergeable state of this run's metrics (`metrics.partial`).
    pub fn into_partial(self, evaluation: &Evaluation, engagement: &std::collections::HashMap<String, (u64, u64)>, totals: &RunTotals) -> Partial {
        let (stats, sends) = self.stats();
        Partial {
            fingerprint: self.program.fingerprint,
            journeys: self.program.journeys.iter().map(|j| j.name.clone()).collect(),
            stats,
            sends,
            step_hits: evaluation.step_hits.clone(),
            edge_hits: evaluation.edge_hits.clone(),
            transitions: evaluation.transitions,
            engagement: engagement.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            totals: totals.clone(),
        }
    }

    /// Builds `metrics.json`.
    pub fn finish(self, evaluation: &Evaluation, engagement: &std::collections::HashMap<String, (u64, u64)>, totals: &RunTotals) -> Json {
        let program = self.program;
        self.into_partial(evaluation, engagement, totals).finish(program)
    }
}

/// Everything `metrics.json` is computed from, in a form that adds up: the metrics of shards
/// run with `--shard I/N` merge into exactly those of the single run (`journey merge-metrics`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Partial {
    pub fingerprint: u64,
    pub journeys: Vec<String>,
    stats: Vec<JourneyStats>,
    sends: BTreeMap<String, u64>,
    step_hits: Vec<Vec<u64>>,
    edge_hits: Vec<Vec<u64>>,
    transitions: u64,
    engagement: BTreeMap<String, (u64, u64)>,
    totals: RunTotals,
}

fn add_maps(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k).or_default() += v;
    }
}

fn add_vecs(into: &mut [u64], from: &[u64]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

impl std::fmt::Debug for JourneyStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JourneyStats {{ entered: {} }}", self.entered)
    }
}

impl Partial {
    /// Adds another shard's partial metrics (same project).
    pub fn merge(&mut self, other: Partial) -> Result<(), String> {
        if other.fingerprint != self.fingerprint || other.journeys != self.journeys {
            return Err("the shards were run with different projects".into());
        }
        for (a, b) in self.stats.iter_mut().zip(other.stats) {
            a.entered += b.entered;
            a.entered_holdout += b.entered_holdout;
            add_maps(&mut a.exits, b.exits);
            for (reason, steps) in b.exits_by_step {
                add_maps(a.exits_by_step.entry(reason).or_default(), steps);
            }
            add_vecs(&mut a.goal_reached, &b.goal_reached);
            for (x, y) in a.goal_times.iter_mut().zip(b.goal_times) {
                x.extend(y);
            }
            a.converted_treated += b.converted_treated;
            a.converted_holdout += b.converted_holdout;
            for (name, (_, arms)) in b.experiments {
                if let Some((_, mine)) = a.experiments.get_mut(&name) {
                    for ((_, x), (_, y)) in mine.iter_mut().zip(arms) {
                        x.assigned += y.assigned;
                        x.converted += y.converted;
                    }
                }
            }
        }
        add_maps(&mut self.sends, other.sends);
        for (a, b) in self.step_hits.iter_mut().zip(&other.step_hits) {
            add_vecs(a, b);
        }
        for (a, b) in self.edge_hits.iter_mut().zip(&other.edge_hits) {
            add_vecs(a, b);
        }
        self.transitions += other.transitions;
        for (k, (o, c)) in other.engagement {
            let e = self.engagement.entry(k).or_default();
            e.0 += o;
            e.1 += c;
        }
        self.totals.records_read += other.totals.records_read;
        self.totals.rejected += other.totals.rejected;
        self.totals.contacts += other.totals.contacts;
        self.totals.undeclared.merge(other.totals.undeclared);
        self.totals.unknown_zones.merge(other.totals.unknown_zones);
        self.totals.condition_errors.merge(other.totals.condition_errors);
        self.totals.wall_seconds = self.totals.wall_seconds.max(other.totals.wall_seconds);
        Ok(())
    }

    /// The run's totals (summed over the shards merged).
    pub fn totals(&self) -> &RunTotals {
        &self.totals
    }

    pub fn write(&self, path: &std::path::Path) -> Result<(), String> {
        let bytes = journey_bytecode::encode::encode_value(PARTIAL_MAGIC, self).map_err(|e| e.to_string())?;
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn read(path: &std::path::Path) -> Result<Partial, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        journey_bytecode::encode::decode_value(PARTIAL_MAGIC, &bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Builds `metrics.json`.
    pub fn finish(self, program: &Program) -> Json {
        let mut stats = self.stats;
        let sends = self.sends;
        let (step_hits, edge_hits, transitions, engagement, totals) =
            (self.step_hits, self.edge_hits, self.transitions, self.engagement, self.totals);
        let mut journeys = Map::new();
        for (((j, s), hits), edge_counts) in program.journeys.iter().zip(stats.iter_mut()).zip(&step_hits).zip(&edge_hits) {
            let steps: Map<String, Json> = j.step_ids.iter().zip(hits).map(|(id, n)| (id.clone(), json!({ "entered": n }))).collect();
            let node = |n: u32| match j.step_ids.get(n as usize) {
                Some(id) => id.clone(),
                None if n == j.flow_entry() => "(entry)".to_string(),
                None => "(end)".to_string(),
            };
            let edges: Vec<Json> =
                j.flow_edges().iter().zip(edge_counts).map(|((from, to), n)| json!({ "from": node(*from), "to": node(*to), "count": n })).collect();
            let mut goals = Map::new();
            for (g, goal) in j.goals.iter().enumerate() {
                let reached = s.goal_reached[g];
                let median_ms = median(&mut s.goal_times[g]);
                goals.insert(
                    goal.name.clone(),
                    json!({
                        "reached": reached,
                        "conversion_rate": rate(reached, s.entered),
                        "median_time_to_convert_seconds": median_ms.map(|m| m / 1000),
                    }),
                );
            }
            let mut experiments = Map::new();
            for (name, (measure, arms)) in &s.experiments {
                let first = arms.first().map(|(_, a)| a.clone()).unwrap_or_default();
                let arms_json: Map<String, Json> = arms
                    .iter()
                    .enumerate()
                    .map(|(i, (arm, a))| {
                        let p = if i == 0 { None } else { two_proportion_p(first.converted, first.assigned, a.converted, a.assigned) };
                        (
                            arm.clone(),
                            json!({ "assigned": a.assigned, "converted": a.converted, "rate": rate(a.converted, a.assigned), "p_value": p }),
                        )
                    })
                    .collect();
                experiments.insert(
                    name.clone(),
                    json!({ "goal": measure.and_then(|m| j.goals.get(m as usize)).map(|g| g.name.clone()), "arms": arms_json }),
                );
            }
            let treated = s.entered - s.entered_holdout;
            let treated_rate = if treated > 0 { Some(s.converted_treated as f64 / treated as f64) } else { None };
            let holdout_rate = if s.entered_holdout > 0 { Some(s.converted_holdout as f64 / s.entered_holdout as f64) } else { None };
            journeys.insert(
            j.name.clone(),
            json!({
                "kind": j.kind,
                "entered": s.entered,
                "exits": { "by_reason": s.exits, "by_reason_and_step": s.exits_by_step },
                "steps": steps,
                "edges": edges,
                "goals": goals,
                "experiments": experiments,
                "holdout": {
                    "entered": s.entered_holdout,
                    "treated_conversion_rate": treated_rate.map(|r| (r * 10_000.0).round() / 10_000.0),
                    "holdout_conversion_rate": holdout_rate.map(|r| (r * 10_000.0).round() / 10_000.0),
                    "uplift": match (treated_rate, holdout_rate) { (Some(t), Some(h)) => Some(((t - h) * 10_000.0).round() / 10_000.0), _ => None },
                    "p_value": two_proportion_p(s.converted_holdout, s.entered_holdout, s.converted_treated, treated),
                },
            }),
        );
        }
        let messages: Map<String, Json> = program
        .messages
        .iter()
        .map(|m| {
            let (opens, clicks) = engagement.get(&m.name).copied().unwrap_or((0, 0));
            let sent = sends.get(&m.name).copied().unwrap_or(0);
            (m.name.clone(), json!({ "channel": m.channel.as_str(), "sends": sent, "opens": opens, "clicks": clicks, "open_rate": rate(opens, sent), "click_rate": rate(clicks, sent) }))
        })
        .collect();
        json!({
            "journeys": journeys,
            "messages": messages,
            "run": {
                "records_read": totals.records_read,
                "rejected": totals.rejected,
                "contacts": totals.contacts,
                "transitions": transitions,
                "wall_seconds": (totals.wall_seconds * 1000.0).round() / 1000.0,
                "undeclared": totals.undeclared.to_json("records", "events"),
                "unknown_time_zones": totals.unknown_zones.to_json("contacts", "zones"),
                "condition_errors": totals.condition_errors.to_json("count", "conditions"),
            }
        })
    }
}

/// Builds `metrics.json` from a whole evaluation.
pub fn metrics(program: &Program, evaluation: &Evaluation, engagement: &std::collections::HashMap<String, (u64, u64)>, totals: &RunTotals) -> Json {
    let mut builder = MetricsBuilder::new(program);
    builder.add(&evaluation.contacts);
    builder.finish(evaluation, engagement, totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undeclared_name_suggests_the_event_it_was_probably_meant_to_be() {
        let events = [("signed_up", "Signed Up"), ("app_opened", "App Opened"), ("purchase", "Order Completed"), ("ping", "ping")];
        let meant = |name: &str| meant_among(events.iter().copied(), name);
        // The identifier of an event with an alias: the alias.
        assert_eq!(meant("signed_up"), Some("Signed Up"));
        assert_eq!(meant("purchase"), Some("Order Completed"));
        // Case, spaces, `_` and `-` aside.
        assert_eq!(meant("app opened"), Some("App Opened"));
        assert_eq!(meant("APP-OPENED"), Some("App Opened"));
        assert_eq!(meant("order_completed"), Some("Order Completed"));
        assert_eq!(meant("Ping"), Some("ping"));
        assert_eq!(meant("Mystery"), None);
        assert_eq!(meant("!!"), None);
    }

    #[test]
    fn undeclared_counts_merge_and_list_the_most_frequent_first() {
        let mut a = NameCounts::default();
        a.add("b", 2);
        a.add("a", 1);
        let mut b = NameCounts::default();
        b.add("a", 1);
        b.add("c", 5);
        a.merge(b);
        assert_eq!(a.total, 9);
        assert_eq!(a.most_frequent(10), vec![("c", 5), ("a", 2), ("b", 2)]);
        assert_eq!(a.most_frequent(1), vec![("c", 5)]);
    }

    #[test]
    fn z_test_matches_known_values() {
        // 200/1000 vs 250/1000: z ≈ 2.68, p ≈ 0.0073.
        let p = two_proportion_p(200, 1000, 250, 1000).unwrap_or(1.0);
        assert!((p - 0.0073).abs() < 0.0005, "{p}");
        assert_eq!(two_proportion_p(0, 0, 1, 2), None);
        let same = two_proportion_p(50, 100, 50, 100).unwrap_or(0.0);
        assert!((same - 1.0).abs() < 1e-6);
    }
}
