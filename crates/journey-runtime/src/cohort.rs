//! Reading input files into per-contact record lists (RUNTIME.md §2).
//!
//! Input is read a block of lines at a time. Workers parse and decode the lines of a block in
//! parallel — the common record shape by the fast path ([`crate::fast`]), anything else by the
//! general one, which also words the reject reasons. Contacts are then split over a fixed number
//! of partitions by a hash of their id, and each partition joins its records to its contacts on
//! a worker of its own, in input order: no contact is in two partitions, so the join runs in
//! parallel without locks. Lines of the general path (rare: envelopes, rejects, unusual shapes)
//! are joined on the calling thread, also in input order.
//!
//! Nothing here depends on the order in which partitions finish: a contact's records are sorted
//! by (instant, input order) before evaluation, duplicate `messageId`s are ranked the same way,
//! and rejects are sorted by (file, line) when the run writes them.

use crate::direct::{PAGE, Page};
use crate::fast::{FastDecoder, FastRecord};
use crate::input::{self, Decoded, Decoder};
use crate::metrics::NameCounts;
use crate::{Reject, shard_of};
use journey_vm::{ContactInput, Record, RecordKind, Value};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::io::Read;

/// Partitions of the join. More than the threads, so uneven partitions still balance.
const PARTS: usize = 16;
/// Bytes read per block (unless [`Cohort::with_block_size`] says otherwise).
const BLOCK: usize = 8 << 20;
/// Blocks the reader may have read ahead of the decoding: direct reads come from the device,
/// whose pace varies, and a few blocks in hand keep the workers fed meanwhile.
const READ_AHEAD: usize = 3;
/// Lines a worker decodes at a time.
const CHUNK: usize = 1024;

/// One contact's accumulated input.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) input: ContactInput,
    /// (messageId, index of the record in `input.records`, file, line) — kept only for records
    /// that carry a messageId, to reject later duplicates with their origin.
    pub(crate) message_ids: Vec<(String, usize, u32, u64)>,
}

/// The contacts of one partition, and what joining their records found.
#[derive(Default)]
struct Part {
    /// Contact id → index into `pending`.
    index: FxHashMap<String, u32>,
    pending: Vec<Pending>,
    /// The contact of the previous record and its index: input usually comes in runs of one
    /// contact's records, which then skip the hash lookup.
    last: Option<(String, u32)>,
    rejects: Vec<Reject>,
    records_read: u64,
    /// Per undeclared event name, its track records.
    undeclared: FxHashMap<Box<str>, u64>,
    texts: FxHashMap<(u32, u64), String>,
    earliest: Option<i64>,
    engagement: HashMap<String, (u64, u64)>,
}

/// Everything read from the input files, grouped by contact.
#[derive(Default)]
pub struct Cohort {
    parts: Vec<Part>,
    pub rejects: Vec<Reject>,
    /// Records read (lines, and records inside batch envelopes).
    pub records_read: u64,
    /// Track records of undeclared events (seen, trigger nothing), in all and per event name.
    pub undeclared: NameCounts,
    pub(crate) files: Vec<String>,
    /// Raw text of records kept for possible duplicate rejects: (file, line) → text.
    pub(crate) texts: FxHashMap<(u32, u64), String>,
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
    /// Bytes read per block (0: the default, 8 MiB).
    block: usize,
}

/// What a join needs to know about the file and the window.
#[derive(Clone, Copy)]
struct Source<'a> {
    decoder: &'a Decoder<'a>,
    file: u32,
    file_name: &'a str,
    from: Option<i64>,
    until: i64,
}

impl Source<'_> {
    fn reject(&self, line: u64, text: &str, reason: String) -> Reject {
        Reject { file: self.file_name.to_string(), line, text: text.to_string(), reason }
    }
}

/// A line parsed and decoded on a worker thread by the general path: a reject, or its records
/// (one, or the items of a batch envelope with their own text), each with its contact and the
/// input its strings and values are in.
enum Prepared {
    Reject(String),
    Records(Vec<(Option<String>, Decoded1)>),
}

/// One decoded record: its contact (when the record names one) and the outcome.
type Decoded1 = (Option<String>, Result<(Decoded, ContactInput), String>);

/// A fast-path record on its way to its partition: line number, line text, record.
type Routed<'a> = (u64, &'a str, FastRecord<'a>);

/// What a worker made of a chunk of lines: the general-path lines in order, the fast-path
/// records of this shard by partition, and the input their strings and values are in.
struct Chunk<'a> {
    general: Vec<(u64, &'a [u8], Prepared)>,
    parts: Vec<Vec<Routed<'a>>>,
    arena: ContactInput,
}

fn prepare(decoder: &Decoder<'_>, file: u32, line: u64, text: &str) -> Prepared {
    match input::parse_json(text) {
        Err(reason) => Prepared::Reject(reason),
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
        Err(_) if !record.is_object() => return (None, Err(format!("a record must be a JSON object, found {}", crate::input::kind_of(record)))),
        Err(_) if record.get("type").is_none() => return (None, Err("no `type` (expected identify, track or exit)".into())),
        Err(reason) => return (None, Err(reason)),
    };
    let mut arena = ContactInput::default();
    let decoded = decoder.decode(record, seq_of(file, line), &mut arena).map(|d| (d, arena));
    (Some(contact), decoded)
}

/// `seq` packs the input position: file index in the high bits, line in the low ones.
fn seq_of(file: u32, line: u64) -> u64 {
    (u64::from(file) << 40) | (line & ((1 << 40) - 1))
}

/// The partition of a contact (high bits of the hash: shards use the low ones).
fn part_of(contact: &str) -> usize {
    (journey_bytecode::fnv1a(contact.as_bytes()) >> 40) as usize % PARTS
}

/// A block of input: whole pages, of which `bytes[start..end]` are complete lines (the last may
/// lack its newline). Pages, so that reads go straight into it (see [`crate::direct`]).
#[derive(Default)]
struct Block {
    pages: Vec<Page>,
    start: usize,
    end: usize,
}

impl Block {
    fn lines(&self) -> &[u8] {
        let bytes: &[u8] = bytemuck::cast_slice(self.pages.as_slice());
        bytes.get(self.start..self.end).unwrap_or_default()
    }

    /// Makes room for `bytes` (new pages are zeroed once; a reused block keeps its pages).
    fn reserve(&mut self, bytes: usize) {
        let pages = bytes.div_ceil(PAGE);
        if self.pages.len() < pages {
            self.pages.resize(pages, Page([0; PAGE]));
        }
    }
}

/// Reads the input into blocks of complete lines and sends them on, reusing the blocks that
/// come back; an error ends the input. The part of a line that did not fit a block is carried
/// to just before the next block's first page, so every read but a short one's successor is
/// page-aligned and a whole number of pages, and goes straight into the block: the input is
/// copied only by the carry.
fn read_blocks(
    block_size: usize,
    reader: &mut impl Read,
    full: &std::sync::mpsc::SyncSender<std::io::Result<Block>>,
    empties: &std::sync::mpsc::Receiver<Block>,
) {
    let mut carry: Vec<u8> = Vec::new();
    let block_size = block_size.div_ceil(PAGE) * PAGE;
    loop {
        let mut block = empties.try_recv().unwrap_or_default();
        let prefix = carry.len().div_ceil(PAGE) * PAGE;
        let mut want = prefix + block_size.max(prefix);
        block.reserve(want);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(block.pages.as_mut_slice());
        block.start = prefix - carry.len();
        if let Some(start) = bytes.get_mut(block.start..prefix) {
            start.copy_from_slice(&carry);
        }
        carry.clear();
        let mut filled = prefix;
        let end = loop {
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(block.pages.as_mut_slice());
            match fill(reader, bytes, &mut filled, want) {
                Ok(end) => {
                    // Complete lines only; a line longer than a block grows it.
                    if end || bytes.get(block.start..filled).is_some_and(|b| b.contains(&b'\n')) {
                        break end;
                    }
                    want = (filled * 2).div_ceil(PAGE) * PAGE;
                    block.reserve(want);
                }
                Err(e) => {
                    let _ = full.send(Err(e));
                    return;
                }
            }
        };
        block.end = filled;
        if !end && let Some(cut) = block.lines().iter().rposition(|&b| b == b'\n') {
            let cut = block.start + cut + 1;
            let bytes: &[u8] = bytemuck::cast_slice(block.pages.as_slice());
            carry.extend_from_slice(bytes.get(cut..filled).unwrap_or_default());
            block.end = cut;
        }
        if (block.end > block.start && full.send(Ok(block)).is_err()) || end {
            return;
        }
    }
}

/// Reads into `buf[filled..want]` until it is full or the input ends; true at the end.
fn fill(reader: &mut impl Read, buf: &mut [u8], filled: &mut usize, want: usize) -> std::io::Result<bool> {
    while *filled < want {
        let Some(space) = buf.get_mut(*filled..want) else { return Ok(false) };
        match reader.read(space) {
            Ok(0) => return Ok(true),
            Ok(n) => *filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

impl Part {
    fn reject(&mut self, source: Source<'_>, line: u64, text: &str, reason: String) {
        self.rejects.push(source.reject(line, text, reason));
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

    /// Whether a decoded record is inside the window and declared (and otherwise deals with it).
    fn screen(&mut self, source: Source<'_>, line: u64, text: &str, decoded: &Decoded) -> bool {
        match decoded {
            Decoded::Undeclared { name, .. } => {
                match self.undeclared.get_mut(name) {
                    Some(n) => *n += 1,
                    None => {
                        self.undeclared.insert(name.clone(), 1);
                    }
                }
                false
            }
            Decoded::Record { record, .. } if source.from.is_some_and(|f| record.at < f) => {
                self.reject(source, line, text, "late: before the window's start (it belongs to an earlier run)".into());
                false
            }
            Decoded::Record { record, .. } if record.at >= source.until => {
                self.reject(source, line, text, "future: at or after --until (feed it to the next run)".into());
                false
            }
            Decoded::Record { .. } => true,
        }
    }

    fn merge_fast(&mut self, source: Source<'_>, (line, text, record): Routed<'_>, arena: &ContactInput) {
        self.records_read += 1;
        if !self.screen(source, line, text, &record.decoded) {
            return;
        }
        let Decoded::Record { record: decoded, message_id } = record.decoded else { return };
        let index = self.pending_index(&record.contact);
        let Some(pending) = self.pending.get_mut(index) else { return };
        let decoded = pending.input.copy_record(arena, &decoded);
        self.push(source, line, text, index, decoded, message_id);
    }

    fn merge(&mut self, source: Source<'_>, line: u64, text: &str, contact: String, decoded: Decoded, arena: ContactInput) {
        if !self.screen(source, line, text, &decoded) {
            return;
        }
        let Decoded::Record { record, message_id } = decoded else { return };
        let index = self.pending_index(&contact);
        let Some(pending) = self.pending.get_mut(index) else { return };
        let record = pending.input.copy_record(&arena, &record);
        self.push(source, line, text, index, record, message_id);
    }

    /// Appends a record (its strings already on the contact's heap) to its contact's input.
    fn push(&mut self, source: Source<'_>, line: u64, text: &str, index: usize, record: Record, message_id: Option<String>) {
        let Some(pending) = self.pending.get_mut(index) else { return };
        if let RecordKind::Track { event, fields } = record.kind
            && let Some(decl) = source.decoder.program().events.get(event as usize)
            && decl.engagement != 0
        {
            let at = decl.fields.iter().position(|f| f.name == "message");
            if let Some(Value::Str(id)) = at.and_then(|i| pending.input.fields(fields).get(i)) {
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
            pending.message_ids.push((id, at, source.file, line));
            self.texts.insert((source.file, line), text.to_string());
        }
        pending.input.records.push(record);
    }
}

impl Cohort {
    pub fn new(from: Option<i64>, until: i64) -> Self {
        Cohort::for_shard(from, until, None)
    }

    /// A cohort that keeps only one shard's contacts.
    pub fn for_shard(from: Option<i64>, until: i64, shard: Option<(u32, u32)>) -> Self {
        Cohort { parts: (0..PARTS).map(|_| Part::default()).collect(), from, until, shard, ..Cohort::default() }
    }

    /// Reads input in blocks of `bytes` (at least one line each) instead of 8 MiB: only tests
    /// need this, to cut small inputs into many blocks.
    pub fn with_block_size(mut self, bytes: usize) -> Self {
        self.block = bytes.max(1);
        self
    }

    /// Reads one input source (already decompressed), a block of lines at a time (see the
    /// module documentation). A thread of its own reads the next block while this one's lines
    /// are decoded. A line that is not UTF-8 is rejected like any other bad line.
    pub fn ingest(&mut self, decoder: &Decoder<'_>, file_name: &str, mut reader: impl Read + Send) -> std::io::Result<()> {
        if self.parts.len() != PARTS {
            self.parts = (0..PARTS).map(|_| Part::default()).collect();
        }
        let file = self.files.len() as u32;
        self.files.push(file_name.to_string());
        let fast = FastDecoder::new(decoder);
        let source = Source { decoder, file, file_name, from: self.from, until: self.until };
        let (full, blocks) = std::sync::mpsc::sync_channel::<std::io::Result<Block>>(READ_AHEAD);
        let (spent, empties) = std::sync::mpsc::channel::<Block>();
        std::thread::scope(|scope| {
            let block = if self.block == 0 { BLOCK } else { self.block };
            scope.spawn(move || read_blocks(block, &mut reader, &full, &empties));
            let mut number = 0u64;
            for read in blocks {
                let read = read?;
                let block = read.lines();
                let mut lines: Vec<(u64, &[u8])> = Vec::with_capacity(block.len() / 128);
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
                self.ingest_lines(source, &fast, &lines);
                drop(lines);
                // The reader may be gone (at the end): then the buffer is simply freed.
                let _ = spent.send(read);
            }
            self.collect();
            Ok(())
        })
    }

    /// Decodes a block's lines and joins them to their contacts.
    fn ingest_lines<'a>(&mut self, source: Source<'_>, fast: &FastDecoder<'_, '_>, lines: &[(u64, &'a [u8])]) {
        let shard = self.shard;
        let mut chunks: Vec<Chunk<'a>> = lines.par_chunks(CHUNK).map(|chunk| decode_chunk(source, fast, shard, chunk)).collect();
        // The general path's lines, in input order, on this thread.
        for chunk in &mut chunks {
            for (number, raw, prepared) in std::mem::take(&mut chunk.general) {
                self.join_general(source, number, raw, prepared);
            }
        }
        // The fast path's records, each partition on a worker, chunks in input order.
        let mut routed: Vec<Vec<(usize, Vec<Routed<'_>>)>> = (0..PARTS).map(|_| Vec::with_capacity(chunks.len())).collect();
        for (c, chunk) in chunks.iter_mut().enumerate() {
            for (p, records) in chunk.parts.iter_mut().enumerate() {
                if !records.is_empty()
                    && let Some(list) = routed.get_mut(p)
                {
                    list.push((c, std::mem::take(records)));
                }
            }
        }
        let arenas: Vec<&ContactInput> = chunks.iter().map(|c| &c.arena).collect();
        self.parts.par_iter_mut().zip(routed).for_each(|(part, lists)| {
            for (c, records) in lists {
                let Some(arena) = arenas.get(c) else { continue };
                for record in records {
                    part.merge_fast(source, record, arena);
                }
            }
        });
    }

    fn join_general(&mut self, source: Source<'_>, number: u64, raw: &[u8], prepared: Prepared) {
        let text = String::from_utf8_lossy(raw);
        match prepared {
            // A line without a contact belongs to shard 0, so shards count it once.
            Prepared::Reject(reason) => {
                if self.shard.is_none_or(|(index, _)| index == 0) {
                    self.records_read += 1;
                    self.rejects.push(source.reject(number, &text, reason));
                }
            }
            Prepared::Records(items) => {
                for (item_text, (contact, outcome)) in items {
                    let mine = match (&contact, self.shard) {
                        (_, None) => true,
                        (Some(c), Some((index, count))) => shard_of(c, count) == index,
                        (None, Some((index, _))) => index == 0,
                    };
                    if !mine {
                        continue;
                    }
                    self.records_read += 1;
                    let text = item_text.as_deref().unwrap_or(&text);
                    match (contact, outcome) {
                        (Some(contact), Ok((decoded, arena))) => {
                            if let Some(part) = self.parts.get_mut(part_of(&contact)) {
                                part.merge(source, number, text, contact, decoded, arena);
                            }
                        }
                        (_, Err(reason)) => self.rejects.push(source.reject(number, text, reason)),
                        (None, Ok(_)) => self.rejects.push(source.reject(number, text, "no contact id".into())),
                    }
                }
            }
        }
    }

    /// Folds what the partitions counted into the cohort's totals.
    fn collect(&mut self) {
        for part in &mut self.parts {
            self.rejects.append(&mut part.rejects);
            self.records_read += std::mem::take(&mut part.records_read);
            for (name, n) in part.undeclared.drain() {
                self.undeclared.add(&name, n);
            }
            self.texts.extend(part.texts.drain());
            if let Some(e) = part.earliest.take() {
                self.earliest = Some(self.earliest.map_or(e, |x| x.min(e)));
            }
            for (name, (opens, clicks)) in part.engagement.drain() {
                let counts = self.engagement.entry(name).or_default();
                counts.0 += opens;
                counts.1 += clicks;
            }
        }
    }

    /// Hands every contact with its pending input to `f`, in no particular order, emptying the
    /// cohort a partition at a time: each partition's memory is released before the next is
    /// handed over, so what `f` builds from them does not come on top of the whole cohort.
    pub(crate) fn drain_each(&mut self, mut f: impl FnMut(String, Pending)) {
        for part in &mut self.parts {
            let mut pending = std::mem::take(&mut part.pending);
            part.last = None;
            for (name, i) in std::mem::take(&mut part.index) {
                f(name, pending.get_mut(i as usize).map(std::mem::take).unwrap_or_default());
            }
        }
    }

    /// The decoded, sorted per-contact inputs (contact id order), without running anything:
    /// what the VM benchmark feeds in.
    pub fn into_inputs(mut self) -> Vec<(String, ContactInput)> {
        let mut out: Vec<(String, ContactInput)> = Vec::with_capacity(self.contacts());
        self.drain_each(|c, mut p| {
            input::sort_records(&mut p.input);
            out.push((c, p.input));
        });
        out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out
    }

    /// Number of distinct contacts read.
    pub fn contacts(&self) -> usize {
        self.parts.iter().map(|p| p.index.len()).sum()
    }
}

/// A worker's part of a block: decode each line, route fast-path records to their partition.
fn decode_chunk<'a>(source: Source<'_>, fast: &FastDecoder<'_, '_>, shard: Option<(u32, u32)>, chunk: &[(u64, &'a [u8])]) -> Chunk<'a> {
    let mut out = Chunk { general: Vec::new(), parts: (0..PARTS).map(|_| Vec::new()).collect(), arena: ContactInput::default() };
    let mut scratch = crate::fast::Scratch::default();
    for &(number, raw) in chunk {
        let text = match std::str::from_utf8(raw) {
            Ok(text) => text,
            Err(e) => {
                out.general.push((number, raw, Prepared::Reject(format!("not UTF-8: {e}"))));
                continue;
            }
        };
        let before = out.arena.mark();
        match fast.decode(text, seq_of(source.file, number), &mut out.arena, &mut scratch) {
            Some(record) => {
                if shard.is_some_and(|(index, count)| shard_of(&record.contact, count) != index) {
                    continue;
                }
                if let Some(list) = out.parts.get_mut(part_of(&record.contact)) {
                    list.push((number, text, record));
                }
            }
            None => {
                out.arena.truncate(before);
                out.general.push((number, raw, prepare(source.decoder, source.file, number, text)));
            }
        }
    }
    out
}
