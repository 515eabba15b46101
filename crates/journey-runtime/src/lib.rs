//! Batch evaluation of a cohort (RUNTIME.md §2–§4): read JSON-lines input into per-contact
//! record lists, reject what cannot be used (with the reason), evaluate every contact with the VM
//! (in parallel: contacts are independent), and produce the actions in the pinned order.
//!
//! The output order and content do not depend on the thread count: contacts are evaluated
//! independently and the results are sorted by contact id (byte order) before they are written.

pub mod cohort;
pub mod cohort_gen;
pub mod direct;
pub mod fast;
pub mod input;
pub mod metrics;
pub mod report;
pub mod snapshot;

pub use cohort::Cohort;
use journey_bytecode::Program;
use journey_vm::{Action, Actions, ContactInput, ContactState, Options, Vm};
use rayon::prelude::*;
use std::collections::HashSet;

/// A record that was not used, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Reject {
    pub file: String,
    pub line: u64,
    pub text: String,
    pub reason: String,
}

impl Reject {
    pub fn to_json(&self) -> String {
        serde_json::json!({ "file": self.file, "line": self.line, "text": self.text, "reason": self.reason }).to_string()
    }
}

/// The evaluation window and options of a run.
#[derive(Clone, Debug)]
pub struct Window {
    pub until: i64,
    pub threads: usize,
    /// `(index, count)`: evaluate only contacts whose stable hash falls in this shard.
    pub shard: Option<(u32, u32)>,
    pub holdouts: bool,
    /// Keep each contact's final state for `state.snapshot`.
    pub snapshot: bool,
}

/// The result of evaluating a cohort.
pub struct Evaluation {
    /// Per contact (sorted by id, byte order): its actions in the order they happened.
    pub contacts: Vec<(String, Actions)>,
    pub rejects: Vec<Reject>,
    pub transitions: u64,
    pub from: Option<i64>,
    /// Per journey, per step: how many times contacts entered it.
    pub step_hits: Vec<Vec<u64>>,
    /// Per journey, per flow edge (`Journey::flow_edges`): how many times contacts went along it.
    pub edge_hits: Vec<Vec<u64>>,
    /// Encoded final state of every contact (when `Window::snapshot`), in contact order.
    pub states: Vec<(String, Vec<u8>)>,
    /// Every messageId delivered so far (this run and the runs it resumes).
    pub message_ids: Vec<String>,
    /// Contacts whose time zone names no IANA zone (evaluated in UTC), per name.
    pub unknown_zones: metrics::NameCounts,
    /// Conditions that could not be evaluated and counted as false, per place and reason: the
    /// contacts that met each ([`Vm::condition_errors`]).
    pub condition_errors: metrics::NameCounts,
}

/// What the workers of an evaluation met and could not use, summed.
#[derive(Default)]
struct Met {
    unknown_zones: metrics::NameCounts,
    condition_errors: metrics::NameCounts,
}

impl Met {
    fn merge(&mut self, other: Met) {
        self.unknown_zones.merge(other.unknown_zones);
        self.condition_errors.merge(other.condition_errors);
    }
}

/// The shard of a contact id: a stable hash, so shards are the same on every machine.
pub fn shard_of(contact: &str, count: u32) -> u32 {
    (journey_bytecode::fnv1a(contact.as_bytes()) % u64::from(count.max(1))) as u32
}

/// Evaluates every contact of the cohort over the window (a fresh start).
pub fn evaluate(program: &Program, cohort: Cohort, window: &Window) -> Evaluation {
    evaluate_resumed(program, cohort, window, snapshot::Resumed::default())
}

/// Evaluates every contact of the cohort over the window, continuing from `resumed` states, and
/// keeps every contact's actions in the result (tests and small runs).
pub fn evaluate_resumed(program: &Program, cohort: Cohort, window: &Window, resumed: snapshot::Resumed) -> Evaluation {
    let mut contacts = Vec::new();
    let mut evaluation = evaluate_streaming(program, cohort, window, resumed, &mut |batch| contacts.extend(batch.iter().cloned()));
    evaluation.contacts = contacts;
    evaluation
}

/// What a run does with each contact's actions, on the worker that evaluated the contact (so
/// the actions are counted, formatted and freed where they were made, in parallel).
pub trait Consumer: Sync {
    /// What a worker accumulates over its contacts (metrics, say).
    type Acc: Send;
    /// What is kept of one contact, handed on in contact order (its formatted lines, say).
    type Out: Send;
    fn start(&self) -> Self::Acc;
    /// Takes what it keeps of a contact's actions; what is left in `actions` is cleared, and
    /// the vector reused for the worker's next contact.
    fn consume(&self, acc: &mut Self::Acc, contact: &str, actions: &mut Actions) -> Self::Out;
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
}

/// One contact's id and actions.
pub type ContactActions = (String, Actions);

/// Keeps every contact's actions as they are.
struct KeepActions;

impl Consumer for KeepActions {
    type Acc = ();
    type Out = Actions;
    fn start(&self) {}
    fn consume(&self, _: &mut (), _: &str, actions: &mut Actions) -> Actions {
        std::mem::take(actions)
    }
    fn merge(&self, (): (), (): ()) {}
}

/// Evaluates every contact of the cohort over the window, continuing from `resumed` states.
/// Contacts are handed to `on_batch` in id order, a batch at a time; the returned evaluation
/// holds no actions.
pub fn evaluate_streaming(
    program: &Program,
    cohort: Cohort,
    window: &Window,
    resumed: snapshot::Resumed,
    on_batch: &mut dyn FnMut(&[ContactActions]),
) -> Evaluation {
    evaluate_with(program, cohort, window, resumed, &KeepActions, &mut |batch, ()| on_batch(&batch))
}

/// One contact to evaluate: its id, its records, its state when resumed (boxed: a fresh run
/// has none, and a million entries are held at once) and the actions it starts with (exits
/// caused by migrating a resumed state).
type Work = (String, ContactInput, Option<Box<ContactState>>, Vec<Action>);

/// A batch of contacts, in id order, with what a [`Consumer`] kept of each.
pub type Batch<O> = Vec<(String, O)>;

/// Evaluates every contact of the cohort over the window, continuing from `resumed` states;
/// each contact's actions go to `consumer` on the worker that evaluated it, and what it makes
/// of them reaches `on_batch` in contact id order, a batch at a time, with the batch's merged
/// accumulator. Nothing piles up in memory beyond a batch.
pub fn evaluate_with<C: Consumer>(
    program: &Program,
    mut cohort: Cohort,
    window: &Window,
    mut resumed: snapshot::Resumed,
    consumer: &C,
    on_batch: &mut dyn FnMut(Batch<C::Out>, C::Acc),
) -> Evaluation {
    let from = cohort.from.or(resumed.until).or(cohort.earliest);
    let mut rejects = std::mem::take(&mut cohort.rejects);
    let files = cohort.files.clone();
    let mut work: Vec<Work> = Vec::with_capacity(cohort.contacts());
    let mut delivered: Vec<String> = resumed.message_ids.iter().cloned().collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(window.threads.max(1)).build().ok();
    let in_shard = |c: &str| window.shard.is_none_or(|(index, count)| shard_of(c, count) == index);
    // A fresh run's contacts without messageIds need nothing but moving to the work list; the
    // others go through the loop below.
    let fresh = resumed.states.is_empty() && resumed.actions.is_empty();
    let mut drained = Vec::new();
    cohort.drain_each(|contact, pending| {
        if !in_shard(&contact) {
            return;
        }
        if fresh && pending.message_ids.is_empty() {
            work.push((contact, pending.input, None, Vec::new()));
        } else {
            drained.push((contact, pending));
        }
    });
    for (contact, mut pending) in drained {
        let state = if resumed.states.is_empty() { None } else { resumed.states.remove(&contact).map(Box::new) };
        let before = if resumed.actions.is_empty() { Vec::new() } else { resumed.actions.remove(&contact).unwrap_or_default() };
        // Most contacts carry no messageId: nothing to deduplicate, and their records are
        // sorted on the worker that evaluates them.
        if pending.message_ids.is_empty() {
            work.push((contact, pending.input, state, before));
            continue;
        }
        let mut keep = vec![true; pending.input.records.len()];
        // Duplicate deliveries: the first by (timestamp, input order) wins.
        let mut order: Vec<usize> = (0..pending.input.records.len()).collect();
        order.sort_by_key(|&i| (pending.input.records[i].at, pending.input.records[i].seq));
        let mut rank = vec![0usize; order.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        let mut ids = std::mem::take(&mut pending.message_ids);
        ids.sort_by_key(|(_, i, _, _)| rank[*i]);
        let mut seen: HashSet<&str> = HashSet::new();
        for (id, i, file, line) in &ids {
            if !keep[*i] {
                continue;
            }
            if !seen.insert(id.as_str()) || resumed.message_ids.contains(id.as_str()) {
                keep[*i] = false;
                let (file, line) = (*file, *line);
                rejects.push(Reject {
                    file: files.get(file as usize).cloned().unwrap_or_default(),
                    line,
                    text: cohort.texts.get(&(file, line)).cloned().unwrap_or_default(),
                    reason: format!("duplicate: messageId {id:?} was already delivered"),
                });
            }
        }
        let mut index = 0;
        pending.input.records.retain(|_| {
            let k = keep[index];
            index += 1;
            k
        });
        for (id, i, _, _) in ids {
            if keep[i] {
                delivered.push(id);
            }
        }
        work.push((contact, pending.input, state, before));
    }
    // Contacts known from the snapshot without new records still have timers to run.
    for (contact, state) in resumed.states.drain() {
        if !in_shard(&contact) {
            continue;
        }
        let before = resumed.actions.remove(&contact).unwrap_or_default();
        work.push((contact, ContactInput::default(), Some(Box::new(state)), before));
    }
    // Contacts are evaluated a batch at a time, in id order, and each batch is handed to
    // `on_batch` (which writes it) before the next starts: actions never pile up in memory.
    // Contact ids are distinct: an unstable sort gives the one order. It sorts a permutation:
    // the entries are large, and moving a million of them through a sort costs more than it.
    // Each carries its id's first eight bytes as a number (see `id_prefix`), which decides most
    // comparisons without reading the id itself.
    let mut order: Vec<(u64, u32)> = work.iter().enumerate().map(|(i, w)| (id_prefix(w.0.as_bytes()), i as u32)).collect();
    let id = |i: u32| work.get(i as usize).map_or(&[][..], |w| w.0.as_bytes());
    install(&pool, || order.par_sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| id(a.1).cmp(id(b.1)))));
    let mut work: Vec<Option<_>> = work.into_iter().map(Some).collect();
    let mut order = order.into_iter().map(|(_, i)| i);
    let empty_hits = || program.journeys.iter().map(|j| vec![0u64; j.step_ids.len()]).collect::<Vec<_>>();
    let empty_edges = || program.journeys.iter().map(|j| vec![0u64; j.flow_edges().len()]).collect::<Vec<_>>();
    let add_hits = |into: &mut Vec<Vec<u64>>, from: Vec<Vec<u64>>| {
        for (x, y) in into.iter_mut().zip(from) {
            for (p, q) in x.iter_mut().zip(y) {
                *p += q;
            }
        }
    };
    let mut transitions = 0u64;
    let mut met = Met::default();
    let mut step_hits = empty_hits();
    let mut edge_hits = empty_edges();
    let mut states = Vec::new();
    const BATCH: usize = 16_384;
    while order.len() > 0 {
        let mut chunk: Vec<_> = order.by_ref().take(BATCH).filter_map(|i| work.get_mut(i as usize).and_then(Option::take)).map(Some).collect();
        // Each worker folds its contacts with its own VM; step counters are summed. Contacts
        // are handed out a few dozen at a time, and run in turn while the next one's input is
        // loaded into the cache (`Vm::prefetch`).
        let run_chunk = || {
            chunk
                .par_chunks_mut(PIECE)
                .fold(
                    // Boxed: folding it from contact to contact then moves a pointer, not the VM.
                    || {
                        Box::new(Worker {
                            vm: Vm::new(program),
                            done: Vec::new(),
                            acc: consumer.start(),
                            spare: ContactState::new(program),
                            scratch: journey_vm::Heap::default(),
                            actions: Actions::new(),
                            encoded: Vec::new(),
                        })
                    },
                    |mut worker, piece| {
                        for i in 0..piece.len() {
                            if let Some(Some((_, next, _, _))) = piece.get(i + 1) {
                                worker.vm.prefetch(next);
                            }
                            if let Some(contact) = piece.get_mut(i).and_then(Option::take) {
                                worker.run(program, window, consumer, contact);
                            }
                        }
                        worker
                    },
                )
                .map(|worker| {
                    let Worker { vm, done, acc, .. } = *worker;
                    let mut met = Met::default();
                    for (name, n) in vm.unknown_zones() {
                        met.unknown_zones.add(name, *n);
                    }
                    for (name, n) in vm.condition_errors() {
                        met.condition_errors.add(name, n);
                    }
                    ((done, vm.transitions(), vm.step_hits(), vm.edge_hits(), acc), met)
                })
                .reduce(
                    || ((Vec::new(), 0, empty_hits(), empty_edges(), consumer.start()), Met::default()),
                    |((mut a, ta, mut ha, mut ea, xa), mut za), ((b, tb, hb, eb, xb), zb)| {
                        a.extend(b);
                        add_hits(&mut ha, hb);
                        add_hits(&mut ea, eb);
                        za.merge(zb);
                        ((a, ta + tb, ha, ea, consumer.merge(xa, xb)), za)
                    },
                )
        };
        let ((mut results, chunk_transitions, chunk_hits, chunk_edges, acc), chunk_met) = install(&pool, run_chunk);
        met.merge(chunk_met);
        transitions += chunk_transitions;
        add_hits(&mut step_hits, chunk_hits);
        add_hits(&mut edge_hits, chunk_edges);
        results.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut batch = Vec::with_capacity(results.len());
        for (contact, out, blob) in results {
            if window.snapshot {
                states.push((contact.clone(), blob));
            }
            batch.push((contact, out));
        }
        on_batch(batch, acc);
    }
    // Rejects in input order.
    rejects.sort_by(|a, b| (files.iter().position(|f| *f == a.file), a.line).cmp(&(files.iter().position(|f| *f == b.file), b.line)));
    delivered.sort();
    delivered.dedup();
    Evaluation {
        contacts: Vec::new(),
        rejects,
        transitions,
        from,
        step_hits,
        edge_hits,
        states,
        message_ids: delivered,
        unknown_zones: met.unknown_zones,
        condition_errors: met.condition_errors,
    }
}

/// What one worker of an evaluation keeps from contact to contact: its VM, the contacts it
/// has done (id, what the consumer kept, encoded state), its consumer's accumulator, and what it
/// reuses — a fresh state, a scratch heap, an actions vector, a snapshot encoding buffer.
struct Worker<'p, A, O> {
    vm: Vm<'p>,
    done: Vec<(String, O, Vec<u8>)>,
    acc: A,
    spare: ContactState,
    scratch: journey_vm::Heap,
    actions: Actions,
    encoded: Vec<u8>,
}

/// How many contacts a worker takes at a time: small enough to share a batch evenly, large
/// enough that most contacts have a next one to load while they run.
pub const PIECE: usize = 64;

impl<'p, A, O> Worker<'p, A, O> {
    /// Runs one contact (its id, records, resumed state and the actions it had before) and
    /// keeps what the consumer makes of it.
    fn run<C: Consumer<Acc = A, Out = O>>(
        &mut self,
        program: &'p Program,
        window: &Window,
        consumer: &C,
        (contact, mut input, state, before): (String, ContactInput, Option<Box<ContactState>>, Vec<journey_vm::Action>),
    ) {
        let Worker { vm, done, acc, spare, scratch, actions: spare_actions, encoded } = self;
        vm.options = Options { holdouts: window.holdouts, ..Options::default() };
        let resumed = state.is_some();
        let mut state = state.map_or_else(
            || {
                spare.reset(program);
                std::mem::take(spare)
            },
            |s| *s,
        );
        let mut actions = std::mem::take(spare_actions);
        before.into_iter().for_each(|a| actions.push(a));
        input::sort_records(&mut input);
        // The state is encoded (or reset) right after the run, while the input is still here:
        // only the strings the snapshot keeps are copied.
        vm.run_borrowing(&contact, &mut state, &input, window.until, &mut actions);
        let blob = if window.snapshot {
            state.compact_after_run(scratch, &input.heap);
            state.own_constants(program);
            snapshot::encode_state_with(&state, encoded)
        } else {
            Vec::new()
        };
        if !resumed {
            *spare = state;
        }
        let out = consumer.consume(acc, &contact, &mut actions);
        actions.clear();
        *spare_actions = actions;
        done.push((contact, out, blob));
    }
}

/// The first eight bytes of an id as a big-endian number, zero-padded: ids in this order are in
/// byte order, except that equal numbers say nothing (a longer id, or one with a zero byte) and
/// the ids themselves decide.
fn id_prefix(id: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = id.len().min(8);
    if let (Some(to), Some(from)) = (bytes.get_mut(..n), id.get(..n)) {
        to.copy_from_slice(from);
    }
    u64::from_be_bytes(bytes)
}

/// Runs `f` on the run's thread pool (or on rayon's global one if it could not be built).
fn install<R: Send>(pool: &Option<rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// What `journey run` keeps of each contact, on the worker that evaluated it: its metrics
/// counts and its formatted lines.
pub struct RunConsumer<'p> {
    program: &'p Program,
    format: journey_vm::output::ActionFormat<'p>,
}

impl<'p> RunConsumer<'p> {
    pub fn new(program: &'p Program) -> Self {
        RunConsumer { program, format: journey_vm::output::ActionFormat::new(program) }
    }
}

impl Consumer for RunConsumer<'_> {
    type Acc = metrics::Tallies;
    /// The contact's lines and how many they are.
    type Out = (String, usize);
    fn start(&self) -> metrics::Tallies {
        metrics::Tallies::new(self.program)
    }
    fn consume(&self, tallies: &mut metrics::Tallies, contact: &str, actions: &mut Actions) -> (String, usize) {
        tallies.add(actions);
        let mut text = String::with_capacity(actions.len() * 176);
        let mut quoted = String::with_capacity(contact.len() + 2);
        journey_vm::value::push_json_string(contact, &mut quoted);
        // An instant is at most 24 bytes (`2026-01-19T08:49:15.804Z`): room for it from the start.
        let mut instant = (0, String::with_capacity(32));
        let mut write = |a: &Action| {
            self.format.write(&quoted, &actions.rendered, a, &mut instant, &mut text);
            text.push('\n');
        };
        // The VM emits in time order; only actions carried from a snapshot may not be.
        if actions.is_sorted_by_key(|a| a.at) {
            actions.iter().for_each(&mut write);
        } else {
            let mut ordered: Vec<&Action> = actions.iter().collect();
            ordered.sort_by_key(|a| a.at);
            ordered.into_iter().for_each(write);
        }
        (text, actions.len())
    }
    fn merge(&self, a: metrics::Tallies, b: metrics::Tallies) -> metrics::Tallies {
        a.merge(b)
    }
}

/// All actions as JSON lines, in the pinned order (contact id, then time, then occurrence).
pub fn action_lines(program: &Program, evaluation: &Evaluation) -> Vec<String> {
    let mut lines = Vec::new();
    for (contact, actions) in &evaluation.contacts {
        let mut ordered: Vec<&Action> = actions.iter().collect();
        ordered.sort_by_key(|a| a.at);
        lines.extend(ordered.into_iter().map(|a| journey_vm::output::action_json(program, contact, &actions.rendered, a)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorting by (prefix, then id) is sorting by id: ids of any length, with zero bytes and
    /// shared prefixes.
    #[test]
    fn id_prefixes_keep_byte_order() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut ids: Vec<Vec<u8>> = vec![b"".to_vec(), b"c".to_vec(), b"c\0".to_vec(), b"c0000000".to_vec(), b"c00000000".to_vec()];
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 12) as usize;
            // A small alphabet with a zero byte, so that prefixes often tie.
            ids.push((0..len).map(|i| [0u8, b'a', b'b', 0xFF][(seed >> (i * 2 + 8)) as usize % 4]).collect());
        }
        let mut by_id = ids.clone();
        by_id.sort();
        let mut by_prefix = ids;
        by_prefix.sort_by(|a, b| id_prefix(a).cmp(&id_prefix(b)).then_with(|| a.cmp(b)));
        assert_eq!(by_prefix, by_id);
    }
}
