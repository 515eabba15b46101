//! Batch evaluation of a cohort (RUNTIME.md §2–§4): read JSON-lines input into per-contact
//! record lists, reject what cannot be used (with the reason), evaluate every contact with the VM
//! (in parallel: contacts are independent), and produce the actions in the pinned order.
//!
//! The output order and content do not depend on the thread count: contacts are evaluated
//! independently and the results are sorted by contact id (byte order) before they are written.

pub mod cohort_gen;
pub mod fast;
pub mod input;
pub mod metrics;
pub mod report;
pub mod snapshot;

use input::{Decoded, Decoder};
use journey_bytecode::Program;
use journey_vm::{Action, ContactInput, ContactState, Options, Vm};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet};
use std::io::BufRead;

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

/// One contact's accumulated input.
#[derive(Default)]
struct Pending {
    input: ContactInput,
    /// (messageId, index of the record in `input.records`, file, line) — kept only for records
    /// that carry a messageId, to reject later duplicates with their origin.
    message_ids: Vec<(String, usize, u32, u64)>,
}

/// Everything read from the input files, grouped by contact.
#[derive(Default)]
pub struct Cohort {
    /// Contact id → index into `pending`.
    index: FxHashMap<String, u32>,
    pending: Vec<Pending>,
    /// The contact of the previous record and its index: input usually comes in runs of one
    /// contact's records, which then skip the hash lookup.
    last: Option<(String, u32)>,
    pub rejects: Vec<Reject>,
    /// Records read (lines, and records inside batch envelopes).
    pub records_read: u64,
    /// Track records of undeclared events (seen, trigger nothing).
    pub undeclared: u64,
    files: Vec<String>,
    /// Raw text of records kept for possible duplicate rejects: (file, line) → text.
    texts: FxHashMap<(u32, u64), String>,
    pub earliest: Option<i64>,
    /// Per message name: (opens, clicks) from events declared `engagement open|click`.
    pub engagement: HashMap<String, (u64, u64)>,
    /// Records before this instant are `late` (set with `--from` or by a resumed snapshot).
    pub from: Option<i64>,
    /// Records at or after this instant are `future`.
    pub until: i64,
    /// `--shard I/N`: only records of this shard's contacts (and, for shard 0, records naming no
    /// contact) are read, so shards' counts and rejects add up to the single run's.
    pub shard: Option<(u32, u32)>,
}

/// A line parsed and decoded on a worker thread by the general path: a reject, or its records
/// (one, or the items of a batch envelope with their own text), each with its contact and its
/// own string heap.
enum Prepared {
    Reject(String),
    Records(Vec<(Option<String>, Decoded1)>),
}

/// A line as a worker left it: decoded by the fast path (its strings in the chunk's heap), or
/// by the general one.
enum Line<'a> {
    Fast(fast::FastRecord<'a>),
    General(Prepared),
}

/// One decoded record: its contact (when the record names one) and the outcome.
type Decoded1 = (Option<String>, Result<(Decoded, journey_vm::Heap), String>);

fn prepare(decoder: &Decoder<'_>, file: u32, line: u64, text: &str) -> Prepared {
    match serde_json::from_str::<Json>(text) {
        Err(e) => Prepared::Reject(format!("not JSON: {e}")),
        Ok(Json::Object(map)) if map.contains_key("batch") => match map.get("batch") {
            Some(Json::Array(items)) => {
                Prepared::Records(items.iter().map(|item| (Some(item.to_string()), decode_one(decoder, file, line, item))).collect())
            }
            _ => Prepared::Reject("`batch` must be an array of records".into()),
        },
        Ok(record) => Prepared::Records(vec![(None, decode_one(decoder, file, line, &record))]),
    }
}

fn decode_one(decoder: &Decoder<'_>, file: u32, line: u64, record: &Json) -> Decoded1 {
    let contact = match Decoder::contact_of(record) {
        Ok(c) => c.into_owned(),
        Err(_) if record.get("type").is_none() => return (None, Err("no `type` (expected identify, track or exit)".into())),
        Err(reason) => return (None, Err(reason)),
    };
    let mut heap = journey_vm::Heap::default();
    let decoded = decoder.decode(record, seq_of(file, line), &mut heap).map(|d| (d, heap));
    (Some(contact), decoded)
}

/// Adjusts a record's string and list ids after its heap was appended to the contact's.
fn rebase_record(mut record: journey_vm::Record, offsets: (u32, u32)) -> journey_vm::Record {
    match &mut record.kind {
        journey_vm::RecordKind::Identify(traits) => traits.iter_mut().for_each(|(_, v)| *v = v.rebase(offsets)),
        journey_vm::RecordKind::Track { fields, .. } => fields.iter_mut().for_each(|v| *v = v.rebase(offsets)),
        journey_vm::RecordKind::Exit { .. } => {}
    }
    record
}

/// Copies a record's strings from a worker's chunk heap onto the contact's heap.
fn copy_record(mut record: journey_vm::Record, from: &journey_vm::Heap, to: &mut journey_vm::Heap) -> journey_vm::Record {
    match &mut record.kind {
        journey_vm::RecordKind::Identify(traits) => traits.iter_mut().for_each(|(_, v)| *v = to.copy_value(from, *v)),
        journey_vm::RecordKind::Track { fields, .. } => fields.iter_mut().for_each(|v| *v = to.copy_value(from, *v)),
        journey_vm::RecordKind::Exit { .. } => {}
    }
    record
}

/// `seq` packs the input position: file index in the high bits, line in the low ones.
fn seq_of(file: u32, line: u64) -> u64 {
    (u64::from(file) << 40) | (line & ((1 << 40) - 1))
}

/// Reads into `buf` until it holds at least `want` bytes or the input ends; true at the end.
fn fill(reader: &mut impl BufRead, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    while buf.len() < want {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(true);
        }
        let n = available.len();
        buf.extend_from_slice(available);
        reader.consume(n);
    }
    Ok(false)
}

impl Cohort {
    pub fn new(from: Option<i64>, until: i64) -> Self {
        Cohort { from, until, ..Cohort::default() }
    }

    /// A cohort that keeps only one shard's contacts.
    pub fn for_shard(from: Option<i64>, until: i64, shard: Option<(u32, u32)>) -> Self {
        Cohort { from, until, shard, ..Cohort::default() }
    }

    /// Reads one input source (already decompressed), a block of lines at a time. Lines are
    /// parsed and decoded in parallel; joining records to their contacts stays sequential, in
    /// input order. A line that is not UTF-8 is rejected like any other bad line.
    pub fn ingest(&mut self, decoder: &Decoder<'_>, file_name: &str, mut reader: impl BufRead) -> std::io::Result<()> {
        const BLOCK: usize = 8 << 20;
        let file = self.files.len() as u32;
        self.files.push(file_name.to_string());
        let fast = fast::FastDecoder::new(decoder.program());
        let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + (1 << 16));
        let mut number = 0u64;
        let mut want = BLOCK;
        loop {
            let end = fill(&mut reader, &mut buf, want)?;
            // Complete lines only (all of it at the end); a line longer than a block grows it.
            let cut = if end { buf.len() } else { buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
            if cut == 0 && !end {
                want = buf.len() * 2;
                continue;
            }
            want = BLOCK;
            let mut lines: Vec<(u64, &[u8])> = Vec::with_capacity(cut / 128);
            let block = &buf[..cut];
            let mut start = 0;
            // Every line ends at a newline, but the input's last may not.
            let ends = memchr::memchr_iter(b'\n', block).chain((block.last().is_some_and(|&b| b != b'\n')).then_some(block.len()));
            for end in ends {
                number += 1;
                let raw = &block[start..end];
                start = end + 1;
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                if !raw.iter().all(u8::is_ascii_whitespace) {
                    lines.push((number, raw));
                }
            }
            self.ingest_lines(decoder, &fast, file, file_name, &lines);
            buf.drain(..cut);
            if end {
                return Ok(());
            }
        }
    }

    fn ingest_lines(&mut self, decoder: &Decoder<'_>, fast: &fast::FastDecoder<'_>, file: u32, file_name: &str, lines: &[(u64, &[u8])]) {
        // Workers decode chunks of lines; each chunk's strings go to one heap of its own.
        fn decode_chunk<'a>(decoder: &Decoder<'_>, fast: &fast::FastDecoder<'_>, file: u32, chunk: &[(u64, &'a [u8])]) -> (Vec<Line<'a>>, journey_vm::Heap) {
            let mut heap = journey_vm::Heap::default();
            let out: Vec<Line<'a>> = chunk
                .iter()
                .map(|&(number, raw)| match std::str::from_utf8(raw) {
                    Err(e) => Line::General(Prepared::Reject(format!("not UTF-8: {e}"))),
                    Ok(text) => {
                        let before = (heap.string_count(), heap.list_count());
                        match fast.decode(text, seq_of(file, number), &mut heap) {
                            Some(record) => Line::Fast(record),
                            None => {
                                heap.truncate(before);
                                Line::General(prepare(decoder, file, number, text))
                            }
                        }
                    }
                })
                .collect();
            (out, heap)
        }
        let chunks: Vec<(Vec<Line<'_>>, journey_vm::Heap)> = lines.par_chunks(1024).map(|c| decode_chunk(decoder, fast, file, c)).collect();
        for (chunk, (decoded, heap)) in lines.chunks(1024).zip(chunks) {
            for (&(number, raw), line) in chunk.iter().zip(decoded) {
                let text = || String::from_utf8_lossy(raw);
                match line {
                    Line::Fast(record) => {
                        let mine = self.shard.is_none_or(|(index, count)| shard_of(&record.contact, count) == index);
                        if mine {
                            self.records_read += 1;
                            // A fast-path line is valid UTF-8 (it was parsed as a `str`).
                            let text = std::str::from_utf8(raw).unwrap_or_default();
                            self.merge_fast(decoder, file, file_name, number, text, record, &heap);
                        }
                    }
                    // A line without a contact belongs to shard 0, so shards count it once.
                    Line::General(Prepared::Reject(reason)) => {
                        if self.shard.is_none_or(|(index, _)| index == 0) {
                            self.records_read += 1;
                            self.reject(file_name, number, &text(), reason);
                        }
                    }
                    Line::General(Prepared::Records(items)) => {
                        for (item_text, (contact, outcome)) in items {
                            let mine = match (&contact, self.shard) {
                                (_, None) => true,
                                (Some(c), Some((index, count))) => shard_of(c, count) == index,
                                (None, Some((index, _))) => index == 0,
                            };
                            if mine {
                                self.records_read += 1;
                                let line_text = text();
                                self.merge(decoder, file, file_name, number, item_text.as_deref().unwrap_or(&line_text), contact, outcome);
                            }
                        }
                    }
                }
            }
        }
    }

    fn reject(&mut self, file: &str, line: u64, text: &str, reason: String) {
        self.rejects.push(Reject { file: file.to_string(), line, text: text.to_string(), reason });
    }

    /// The index of a contact's pending input, created on first sight.
    fn pending_index(&mut self, contact: &str) -> usize {
        if let Some((name, index)) = &self.last
            && name == contact
        {
            return *index as usize;
        }
        let index = match self.index.get(contact) {
            Some(&i) => i,
            None => {
                let i = self.pending.len() as u32;
                self.pending.push(Pending::default());
                self.index.insert(contact.to_string(), i);
                i
            }
        };
        match &mut self.last {
            Some((name, last)) => {
                name.clear();
                name.push_str(contact);
                *last = index;
            }
            None => self.last = Some((contact.to_string(), index)),
        }
        index as usize
    }

    /// Whether a decoded record is outside the window or undeclared (and then deals with it).
    fn screen(&mut self, file_name: &str, line: u64, text: &str, decoded: &Decoded) -> bool {
        match decoded {
            Decoded::Undeclared { .. } => {
                self.undeclared += 1;
                false
            }
            Decoded::Record { record, .. } if self.from.is_some_and(|f| record.at < f) => {
                self.reject(file_name, line, text, "late: before the window's start (it belongs to an earlier run)".into());
                false
            }
            Decoded::Record { record, .. } if record.at >= self.until => {
                self.reject(file_name, line, text, "future: at or after --until (feed it to the next run)".into());
                false
            }
            Decoded::Record { .. } => true,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn merge_fast(&mut self, decoder: &Decoder<'_>, file: u32, file_name: &str, line: u64, text: &str, record: fast::FastRecord<'_>, heap: &journey_vm::Heap) {
        if !self.screen(file_name, line, text, &record.decoded) {
            return;
        }
        let Decoded::Record { record: decoded, message_id } = record.decoded else { return };
        let index = self.pending_index(&record.contact);
        let Some(pending) = self.pending.get_mut(index) else { return };
        let decoded = copy_record(decoded, heap, &mut pending.input.heap);
        self.push(decoder, file, line, text, index, decoded, message_id);
    }

    #[allow(clippy::too_many_arguments)]
    fn merge(
        &mut self,
        decoder: &Decoder<'_>,
        file: u32,
        file_name: &str,
        line: u64,
        text: &str,
        contact: Option<String>,
        outcome: Result<(Decoded, journey_vm::Heap), String>,
    ) {
        let (contact, (decoded, mut heap)) = match (contact, outcome) {
            (Some(contact), Ok(x)) => (contact, x),
            (_, Err(reason)) => return self.reject(file_name, line, text, reason),
            (None, Ok(_)) => return self.reject(file_name, line, text, "no contact id".into()),
        };
        if !self.screen(file_name, line, text, &decoded) {
            return;
        }
        let Decoded::Record { record, message_id } = decoded else { return };
        let index = self.pending_index(&contact);
        let Some(pending) = self.pending.get_mut(index) else { return };
        let offsets = pending.input.heap.absorb(&mut heap);
        let record = rebase_record(record, offsets);
        self.push(decoder, file, line, text, index, record, message_id);
    }

    /// Appends a record (its strings already on the contact's heap) to its contact's input.
    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, decoder: &Decoder<'_>, file: u32, line: u64, text: &str, index: usize, record: journey_vm::Record, message_id: Option<String>) {
        let Some(pending) = self.pending.get_mut(index) else { return };
        if let journey_vm::RecordKind::Track { event, fields } = &record.kind
            && let Some(decl) = decoder.program().events.get(*event as usize)
            && decl.engagement != 0
        {
            let at = decl.fields.iter().position(|f| f.name == "message");
            if let Some(journey_vm::Value::Str(id)) = at.and_then(|i| fields.get(i)) {
                let name = pending.input.heap.str(*id);
                let counts = match self.engagement.get_mut(name) {
                    Some(c) => c,
                    None => self.engagement.entry(name.to_string()).or_default(),
                };
                if decl.engagement == 1 { counts.0 += 1 } else { counts.1 += 1 }
            }
        }
        self.earliest = Some(self.earliest.map_or(record.at, |e| e.min(record.at)));
        let at = pending.input.records.len();
        if let Some(id) = message_id {
            pending.message_ids.push((id, at, file, line));
            self.texts.insert((file, line), text.to_string());
        }
        pending.input.records.push(record);
    }

    /// Every contact with its pending input, in no particular order (emptying the cohort).
    fn drain(&mut self) -> Vec<(String, Pending)> {
        let mut pending = std::mem::take(&mut self.pending);
        self.last = None;
        self.index.drain().map(|(name, i)| (name, pending.get_mut(i as usize).map(std::mem::take).unwrap_or_default())).collect()
    }

    /// The decoded, sorted per-contact inputs (contact id order), without running anything:
    /// what the VM benchmark feeds in.
    pub fn into_inputs(mut self) -> Vec<(String, ContactInput)> {
        let mut out: Vec<(String, ContactInput)> = self
            .drain()
            .into_iter()
            .map(|(c, mut p)| {
                input::sort_records(&mut p.input);
                (c, p.input)
            })
            .collect();
        out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out
    }

    /// Number of distinct contacts read.
    pub fn contacts(&self) -> usize {
        self.index.len()
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
    pub contacts: Vec<(String, Vec<Action>)>,
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

/// Evaluates every contact of the cohort over the window, continuing from `resumed` states.
/// Contacts are handed to `on_batch` in id order, a batch at a time; the returned evaluation
/// holds no actions.
pub fn evaluate_streaming(
    program: &Program,
    mut cohort: Cohort,
    window: &Window,
    mut resumed: snapshot::Resumed,
    on_batch: &mut dyn FnMut(&[(String, Vec<Action>)]),
) -> Evaluation {
    let from = cohort.from.or(resumed.until).or(cohort.earliest);
    let mut rejects = std::mem::take(&mut cohort.rejects);
    let files = cohort.files.clone();
    let mut work: Vec<(String, ContactInput, Option<ContactState>, Vec<Action>)> = Vec::with_capacity(cohort.contacts());
    let mut delivered: Vec<String> = resumed.message_ids.iter().cloned().collect();
    for (contact, mut pending) in cohort.drain() {
        if let Some((index, count)) = window.shard
            && shard_of(&contact, count) != index
        {
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
        input::sort_records(&mut pending.input);
        for (id, i, _, _) in ids {
            if keep[i] {
                delivered.push(id);
            }
        }
        let state = resumed.states.remove(&contact);
        let before = resumed.actions.remove(&contact).unwrap_or_default();
        work.push((contact, pending.input, state, before));
    }
    // Contacts known from the snapshot without new records still have timers to run.
    for (contact, state) in resumed.states.drain() {
        if window.shard.is_some_and(|(index, count)| shard_of(&contact, count) != index) {
            continue;
        }
        let before = resumed.actions.remove(&contact).unwrap_or_default();
        work.push((contact, ContactInput::default(), Some(state), before));
    }
    // Contacts are evaluated a batch at a time, in id order, and each batch is handed to
    // `on_batch` (which writes it) before the next starts: actions never pile up in memory.
    work.sort_by(|a, b| b.0.as_bytes().cmp(a.0.as_bytes()));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(window.threads.max(1)).build();
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
    let mut step_hits = empty_hits();
    let mut edge_hits = empty_edges();
    let mut states = Vec::new();
    const BATCH: usize = 16_384;
    while !work.is_empty() {
        let chunk: Vec<_> = (0..BATCH).map_while(|_| work.pop()).collect();
        // Each worker folds its contacts with its own VM; step counters are summed.
        let run_chunk = || {
            chunk
                .into_par_iter()
                .fold(
                    || (Vm::new(program), Vec::new()),
                    |(mut vm, mut done), (contact, mut input, state, before)| {
                        vm.options = Options { holdouts: window.holdouts, ..Options::default() };
                        let mut state = state.unwrap_or_else(|| ContactState::new(program));
                        let mut actions = before;
                        vm.run(&contact, &mut state, &mut input, window.until, &mut actions);
                        let blob = if window.snapshot {
                            state.compact();
                            snapshot::encode_state(&state)
                        } else {
                            Vec::new()
                        };
                        done.push((contact, actions, blob));
                        (vm, done)
                    },
                )
                .map(|(vm, done)| (done, vm.transitions, vm.step_hits, vm.edge_hits))
                .reduce(
                    || (Vec::new(), 0, empty_hits(), empty_edges()),
                    |(mut a, ta, mut ha, mut ea), (b, tb, hb, eb)| {
                        a.extend(b);
                        add_hits(&mut ha, hb);
                        add_hits(&mut ea, eb);
                        (a, ta + tb, ha, ea)
                    },
                )
        };
        let (mut results, chunk_transitions, chunk_hits, chunk_edges) = match &pool {
            Ok(pool) => pool.install(run_chunk),
            Err(_) => run_chunk(),
        };
        transitions += chunk_transitions;
        add_hits(&mut step_hits, chunk_hits);
        add_hits(&mut edge_hits, chunk_edges);
        results.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut batch = Vec::with_capacity(results.len());
        for (contact, actions, blob) in results {
            if window.snapshot {
                states.push((contact.clone(), blob));
            }
            batch.push((contact, actions));
        }
        on_batch(&batch);
    }
    // Rejects in input order.
    rejects.sort_by(|a, b| (files.iter().position(|f| *f == a.file), a.line).cmp(&(files.iter().position(|f| *f == b.file), b.line)));
    delivered.sort();
    delivered.dedup();
    Evaluation { contacts: Vec::new(), rejects, transitions, from, step_hits, edge_hits, states, message_ids: delivered }
}

/// Writes all actions as JSON lines in the pinned order (contact id, then time, then
/// occurrence). Contacts are formatted in parallel, a batch at a time, and written in order.
pub fn write_actions(program: &Program, evaluation: &Evaluation, threads: usize, out: &mut dyn std::io::Write) -> std::io::Result<usize> {
    write_batch(program, &evaluation.contacts, threads, out)
}

/// Writes one batch of contacts' actions (see [`write_actions`]).
pub fn write_batch(program: &Program, contacts: &[(String, Vec<Action>)], threads: usize, out: &mut dyn std::io::Write) -> std::io::Result<usize> {
    let mut total = 0;
    for (text, count) in format_batch(program, contacts, threads) {
        out.write_all(text.as_bytes())?;
        total += count;
    }
    Ok(total)
}

/// Formats one batch of contacts' actions as JSON lines, in parallel: blocks of text (with their
/// action counts) to be written in order.
pub fn format_batch(program: &Program, contacts: &[(String, Vec<Action>)], threads: usize) -> Vec<(String, usize)> {
    let format = |contacts: &[(String, Vec<Action>)]| -> (String, usize) {
        // About 150 bytes an action: sized once, not grown by doubling.
        let mut text = String::with_capacity(contacts.iter().map(|(_, a)| a.len()).sum::<usize>() * 176);
        let mut count = 0;
        let mut ordered: Vec<&Action> = Vec::new();
        for (contact, actions) in contacts {
            ordered.clear();
            ordered.extend(actions.iter());
            ordered.sort_by_key(|a| a.at);
            for a in &ordered {
                journey_vm::output::write_action_json(program, contact, a, &mut text);
                text.push('\n');
                count += 1;
            }
        }
        (text, count)
    };
    match rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build() {
        Ok(pool) => pool.install(|| contacts.par_chunks(256).map(format).collect()),
        Err(_) => contacts.chunks(256).map(format).collect(),
    }
}

/// All actions as JSON lines, in the pinned order (contact id, then time, then occurrence).
pub fn action_lines(program: &Program, evaluation: &Evaluation) -> Vec<String> {
    let mut lines = Vec::new();
    for (contact, actions) in &evaluation.contacts {
        let mut ordered: Vec<&Action> = actions.iter().collect();
        ordered.sort_by_key(|a| a.at);
        lines.extend(ordered.into_iter().map(|a| journey_vm::output::action_json(program, contact, a)));
    }
    lines
}
