//! `state.snapshot`: every contact's state as of a run's `until`, so the next run resumes where
//! this one stopped (RUNTIME.md §3, §5). Framed like `.jbc` (magic `JSN\0`, version, CRC-32,
//! postcard body) and written atomically: a temporary file, then a rename.
//!
//! The snapshot records the project fingerprint and each journey's step ids. Resuming with a
//! changed project maps every contact waiting at a step to the step with the same id in the new
//! version (or to the journey's `migrate` target); a contact whose step no longer exists leaves
//! with reason `migrated:removed_step` — reported, never silently lost.

use journey_bytecode::encode::{DecodeError, decode_value};
use journey_bytecode::{EntryKind, Program, StepOp, ValueType};
use journey_vm::engine::{ACTIVE, LEFT};
use journey_vm::{Action, ActionKind, ContactState, Reason, Value};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;

pub const SNAPSHOT_MAGIC: [u8; 4] = *b"JSN\0";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JourneyShape {
    pub name: String,
    pub step_ids: Vec<String>,
    /// For each step operation (by pc), the index of its step id, if any.
    pub pc_steps: Vec<Option<u32>>,
    /// The events its `entry on` names, each with its fields and their types: what the
    /// `trigger.*` fields kept for a contact in the journey are, in order.
    pub entry_fields: Vec<(String, Vec<(String, String)>)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub fingerprint: u64,
    /// The window end of the run that wrote it: the next run starts here.
    pub until: i64,
    pub journeys: Vec<JourneyShape>,
    pub attributes: Vec<String>,
    /// The type of each attribute (as [`type_name`] writes it), in `attributes` order.
    pub attribute_types: Vec<String>,
    /// Each enum's name and variants: a state's enum values are indexes into these, read by
    /// name when the project changed.
    pub enums: Vec<(String, Vec<String>)>,
    /// The event of each behaviour predicate (to carry counters over when they still match).
    pub predicates: Vec<String>,
    /// Every `messageId` delivered so far (later duplicates are rejected).
    pub message_ids: Vec<String>,
    /// Contact id and its postcard-encoded [`ContactState`], in contact order.
    #[serde(with = "blobs")]
    pub contacts: Vec<(String, Vec<u8>)>,
}

/// The contacts' encoded states as byte strings: postcard writes a byte string exactly as a
/// sequence of bytes (length, then the bytes), but in one piece instead of one call per byte.
mod blobs {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_bytes::{ByteBuf, Bytes};

    pub fn serialize<S: Serializer>(contacts: &[(String, Vec<u8>)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(contacts.iter().map(|(c, b)| (c, Bytes::new(b))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Vec<u8>)>, D::Error> {
        Vec::<(String, ByteBuf)>::deserialize(d).map(|v| v.into_iter().map(|(c, b)| (c, b.into_vec())).collect())
    }
}

/// What a resumed run starts from.
#[derive(Default)]
pub struct Resumed {
    pub until: Option<i64>,
    pub states: HashMap<String, ContactState>,
    /// Exits caused by migration, emitted at the start of the window.
    pub actions: HashMap<String, Vec<Action>>,
    pub message_ids: HashSet<String>,
    /// Human-readable notes about the migration (journeys removed, counters reset).
    pub notes: Vec<String>,
}

pub fn shapes(program: &Program) -> Vec<JourneyShape> {
    program
        .journeys
        .iter()
        .map(|j| JourneyShape {
            name: j.name.clone(),
            step_ids: j.step_ids.clone(),
            pc_steps: j.code.iter().map(StepOp::step).collect(),
            entry_fields: j
                .entries
                .iter()
                .filter_map(|e| match e.kind {
                    EntryKind::On(event) => program.events.get(event as usize),
                    _ => None,
                })
                .map(|e| (e.name.clone(), e.fields.iter().map(|f| (f.name.clone(), type_name(program, &f.ty))).collect()))
                .collect(),
        })
        .collect()
}

/// A value type as a snapshot records it: `int`, `[string]`, an enum by its name.
pub fn type_name(program: &Program, ty: &ValueType) -> String {
    match *ty {
        ValueType::Bool => "bool".into(),
        ValueType::Int => "int".into(),
        ValueType::Float => "float".into(),
        ValueType::String => "string".into(),
        ValueType::Time => "time".into(),
        ValueType::Date => "date".into(),
        ValueType::Duration => "duration".into(),
        ValueType::ListOfString => "[string]".into(),
        ValueType::Enum(e) => program.enums.get(e as usize).map_or_else(|| format!("enum {e}"), |d| d.name.clone()),
    }
}

/// How a snapshot's enum values read in a changed project: per old enum, its index there and
/// each old variant's (by names; `None` where the enum or the variant is gone).
struct EnumMap(Vec<(Option<u32>, Vec<Option<u32>>)>);

impl EnumMap {
    fn new(old: &[(String, Vec<String>)], program: &Program) -> Self {
        EnumMap(
            old.iter()
                .map(|(name, variants)| match program.enums.iter().position(|e| e.name == *name) {
                    Some(i) => {
                        let new = &program.enums[i].variants;
                        (Some(i as u32), variants.iter().map(|v| new.iter().position(|n| n == v).map(|x| x as u32)).collect())
                    }
                    None => (None, vec![None; variants.len()]),
                })
                .collect(),
        )
    }

    /// `v` as it reads in the new project, or why it cannot be carried over.
    fn carry(&self, v: Value, old: &[(String, Vec<String>)]) -> Result<Value, String> {
        let Value::Enum(e, x) = v else { return Ok(v) };
        let name = |e: u32, x: u32| {
            let decl = old.get(e as usize);
            (decl.map_or("?", |d| d.0.as_str()).to_string(), decl.and_then(|d| d.1.get(x as usize)).map_or("?", String::as_str).to_string())
        };
        match self.0.get(e as usize) {
            Some((Some(ne), variants)) => match variants.get(x as usize).copied().flatten() {
                Some(nx) => Ok(Value::Enum(*ne, nx)),
                None => {
                    let (en, vn) = name(e, x);
                    Err(format!("enum `{en}` has no variant `{vn}` any more"))
                }
            },
            _ => Err(format!("enum `{}` no longer exists", name(e, x).0)),
        }
    }
}

/// Decodes one contact's state as [`encode_state`] wrote it (structure only: see
/// [`Snapshot::restore`] for what is checked against the program).
pub fn decode_state(bytes: &[u8]) -> Result<ContactState, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("corrupt state: {e}"))
}

pub fn encode_state(state: &ContactState) -> Vec<u8> {
    encode_state_with(state, &mut Vec::new())
}

/// [`encode_state`] through a scratch buffer the caller keeps: the state is written there
/// (growing it once in a while, not once per contact) and copied out at its exact size.
pub fn encode_state_with(state: &ContactState, scratch: &mut Vec<u8>) -> Vec<u8> {
    scratch.clear();
    // Postcard fails only on sequences of unknown length, which a state does not have.
    if let Ok(written) = postcard::to_extend(state, std::mem::take(scratch)) {
        *scratch = written;
    }
    scratch.clone()
}

impl Snapshot {
    pub fn new(program: &Program, until: i64, contacts: Vec<(String, Vec<u8>)>, message_ids: Vec<String>) -> Self {
        Snapshot {
            fingerprint: program.fingerprint,
            until,
            journeys: shapes(program),
            attributes: program.attributes.iter().map(|a| a.name.clone()).collect(),
            attribute_types: program.attributes.iter().map(|a| type_name(program, &a.ty)).collect(),
            enums: program.enums.iter().map(|e| (e.name.clone(), e.variants.clone())).collect(),
            predicates: program.predicates.iter().map(|p| program.events.get(p.event as usize).map(|e| e.name.clone()).unwrap_or_default()).collect(),
            message_ids,
            contacts,
        }
    }

    /// Writes atomically: a temporary file beside the target, then a rename.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let tmp = path.with_extension("snapshot.tmp");
        // The body goes out with direct I/O where available (see `crate::direct`), then the
        // header is completed through an ordinary handle.
        let written = crate::direct::OutputFile::create(&tmp).and_then(|mut out| {
            let (len, crc) = journey_bytecode::encode::write_frame_start(SNAPSHOT_MAGIC, self, &mut out)?;
            out.finish()?;
            let mut file = std::fs::OpenOptions::new().write(true).open(&tmp)?;
            journey_bytecode::encode::complete_frame(&mut file, len, crc)
        });
        written.map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn read(path: &Path) -> Result<Snapshot, String> {
        let bytes = std::fs::read(path).map_err(|e| {
            format!(
                "{}: {}",
                path.display(),
                if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file (pass a previous run's --out directory or its state.snapshot)".to_string()
                } else {
                    e.to_string()
                }
            )
        })?;
        decode_value::<Snapshot>(SNAPSHOT_MAGIC, &bytes).map_err(|e: DecodeError| match e {
            // A snapshot cannot be rebuilt, as a `.jbc` can: it is the contacts' state.
            DecodeError::UnsupportedVersion { found, supported } => format!(
                "{}: snapshot format version {found} is not supported (this journey reads version {supported}); \
                 resume it with the journey release that wrote it, or start afresh without --resume",
                path.display()
            ),
            e => format!("{}: {e}", path.display()),
        })
    }

    /// Whether `state` (of one of this snapshot's contacts) can be run: as many journey slots,
    /// attributes and counters as the snapshot names, each slot's status and step in range, and
    /// its strings on its heap. The checksum guards against damage in transit, not against a
    /// file written by hand or by a bug: a state that passes nothing here is refused before
    /// anything runs. With `same` (the project that wrote it), its scheduled entries and program
    /// constants are checked against `program`; otherwise they are recomputed and refused.
    fn check_state(&self, state: &ContactState, program: &Program, same: bool) -> Result<(), String> {
        let journeys = self.journeys.len();
        if state.slots.len() != journeys || state.triggers.len() != journeys {
            return Err(format!(
                "it has {} journey slots and {} trigger lists, the snapshot names {journeys} journeys",
                state.slots.len(),
                state.triggers.len()
            ));
        }
        if state.attrs.len() != self.attributes.len() {
            return Err(format!("it has {} attributes, the snapshot names {}", state.attrs.len(), self.attributes.len()));
        }
        let counters = self.predicates.len();
        if state.pred_count.len() != counters || state.pred_last.len() != counters {
            return Err(format!("it has {} and {} behaviour counters, the snapshot names {counters}", state.pred_count.len(), state.pred_last.len()));
        }
        for (j, (slot, shape)) in state.slots.iter().zip(&self.journeys).enumerate() {
            let name = &shape.name;
            if !matches!(slot.status, 0 | ACTIVE | LEFT) {
                return Err(format!("journey `{name}`: unknown status {}", slot.status));
            }
            if slot.status == ACTIVE && slot.pc as usize > shape.pc_steps.len() {
                return Err(format!("journey `{name}`: step operation {} past the journey's {}", slot.pc, shape.pc_steps.len()));
            }
            let entries = if same { program.journeys.get(j).map_or(0, |p| p.entries.len()) } else { usize::MAX };
            if slot.sched_entry as usize >= entries.max(1) {
                return Err(format!("journey `{name}`: scheduled entry {} of {entries}", slot.sched_entry));
            }
        }
        state.check_heap(same.then_some((program.strings.len(), program.constants.len())))?;
        // Enum values are indexes into the snapshot's enums (read by name for a changed project).
        for v in state.attrs.iter().chain(state.triggers.iter().flatten()) {
            if let Value::Enum(e, x) = *v
                && self.enums.get(e as usize).is_none_or(|(_, variants)| x as usize >= variants.len())
            {
                return Err(format!("enum value {e}.{x} is not one of the snapshot's enums"));
            }
        }
        if same && self.enums.len() != program.enums.len() {
            return Err("the snapshot's enums are not the project's".into());
        }
        Ok(())
    }

    /// Restores every contact's state for `program`, migrating when the project changed.
    pub fn restore(&self, program: &Program) -> Result<Resumed, String> {
        let mut resumed = Resumed { until: Some(self.until), message_ids: self.message_ids.iter().cloned().collect(), ..Resumed::default() };
        let same = self.fingerprint == program.fingerprint && self.journeys == shapes(program);
        let journey_map: Vec<Option<usize>> = program.journeys.iter().map(|j| self.journeys.iter().position(|o| o.name == j.name)).collect();
        if !same {
            for old in &self.journeys {
                if !program.journeys.iter().any(|j| j.name == old.name) {
                    resumed.notes.push(format!("journey `{}` no longer exists: its contacts are dropped from it", old.name));
                }
            }
        }
        let attr_map: Vec<Option<usize>> = program.attributes.iter().map(|a| self.attributes.iter().position(|o| *o == a.name)).collect();
        let preds_match = self.predicates.len() == program.predicates.len()
            && self.predicates.iter().zip(&program.predicates).all(|(old, p)| program.events.get(p.event as usize).is_some_and(|e| e.name == *old));
        if !same && !preds_match {
            resumed.notes.push("behaviour predicates changed: their counters restart from zero".into());
        }
        let (enums, new_shapes) = (EnumMap::new(&self.enums, program), shapes(program));
        // What could not be carried over, and for how many contacts.
        let mut dropped: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for (contact, bytes) in &self.contacts {
            let old = decode_state(bytes).map_err(|e| format!("contact {contact:?}: {e}"))?;
            self.check_state(&old, program, same).map_err(|e| format!("contact {contact:?}: the state does not fit the snapshot: {e}"))?;
            if same {
                resumed.states.insert(contact.clone(), old);
                continue;
            }
            let mut state = ContactState::new(program);
            state.heap = old.heap.clone();
            state.sent = old.sent.clone();
            state.seen = old.seen;
            // The old schedules name the old version's entries: the run computes them afresh
            // at the window start (a contact never seen has none yet).
            if old.seen {
                state.reschedule_at = Some(self.until);
            }
            for (new, old_index) in attr_map.iter().enumerate() {
                let Some((i, v)) = old_index.and_then(|i| old.attrs.get(i).map(|v| (i, *v))) else { continue };
                if matches!(v, Value::Absent) {
                    continue;
                }
                let (was, now) = (self.attribute_types.get(i).map_or("?", String::as_str), type_name(program, &program.attributes[new].ty));
                let carried = if was == now { enums.carry(v, &self.enums) } else { Err(format!("it is {now} now, {was} before")) };
                match carried {
                    Ok(v) => state.attrs[new] = v,
                    // Dropped: a run reading it finds it never supplied, and says so.
                    Err(why) => {
                        *dropped.entry(format!("attribute `{}`: {why}: its value is dropped", program.attributes[new].name)).or_default() += 1
                    }
                }
            }
            if preds_match {
                state.pred_count = old.pred_count.clone();
                state.pred_last = old.pred_last.clone();
            }
            let mut actions = Vec::new();
            for (j, old_index) in journey_map.iter().enumerate() {
                let Some(oj) = *old_index else { continue };
                let (Some(old_slot), Some(shape)) = (old.slots.get(oj), self.journeys.get(oj)) else { continue };
                let mut slot = *old_slot;
                // Dormancy bits and the pending scheduled entry name entries of the old version:
                // the run schedules every entry again at the window start.
                slot.dormant = 0;
                slot.scheduled_at = i64::MAX;
                slot.sched_entry = 0;
                // `trigger.*` are the fields of the event that enrolled the contact, by position:
                // kept when the journey's entry events and their fields are the same.
                let kept = old.triggers.get(oj).cloned().unwrap_or_default();
                if !kept.is_empty() {
                    let same_fields = new_shapes.get(j).is_some_and(|n| n.entry_fields == shape.entry_fields);
                    let carried: Result<Vec<Value>, String> = if same_fields {
                        kept.iter().map(|v| enums.carry(*v, &self.enums)).collect()
                    } else {
                        Err("the fields of its entry events changed".into())
                    };
                    match carried {
                        Ok(values) => state.triggers[j] = values,
                        Err(why) => {
                            *dropped
                                .entry(format!("journey `{}`: {why}: `trigger.*` reads nothing for the contacts already in it", shape.name))
                                .or_default() += 1
                        }
                    }
                }
                if slot.status == ACTIVE {
                    let step_id = shape.pc_steps.get(slot.pc as usize).copied().flatten().and_then(|s| shape.step_ids.get(s as usize)).cloned();
                    let journey = &program.journeys[j];
                    let pc_of = |id: &str| {
                        journey.code.iter().position(|op| op.step().and_then(|s| journey.step_ids.get(s as usize)).is_some_and(|x| x == id))
                    };
                    if let Some(id) = step_id {
                        let outcome = match pc_of(&id) {
                            Some(pc) => Ok(pc),
                            None => match journey.migrate.iter().position(|m| m.from == id) {
                                Some(i) => match &journey.migrate[i].to {
                                    Some(to) => pc_of(to).ok_or(Reason::Migrated),
                                    None => Err(Reason::Migration(i as u32)),
                                },
                                None => Err(Reason::Migrated),
                            },
                        };
                        match outcome {
                            Ok(pc) => slot.pc = pc as u32,
                            Err(reason) => {
                                slot.status = LEFT;
                                slot.last_exit = self.until;
                                slot.wake_at = i64::MAX;
                                actions.push(Action { at: self.until, journey: j as u32, step: None, kind: ActionKind::Exit { reason } });
                            }
                        }
                    }
                }
                state.slots[j] = slot;
            }
            if !actions.is_empty() {
                resumed.actions.insert(contact.clone(), actions);
            }
            resumed.states.insert(contact.clone(), state);
        }
        for (what, n) in dropped {
            resumed.notes.push(format!("{what} ({n} contact{})", if n == 1 { "" } else { "s" }));
        }
        Ok(resumed)
    }
}
