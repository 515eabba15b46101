//! `journey run PROJECT --input FILE... --until T --out DIR`: batch evaluation (RUNTIME.md §2–§4).

use crate::{exit, project};
use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use journey_runtime::direct::InputFile;
use journey_runtime::input::Decoder;
use journey_runtime::metrics::RunTotals;
use journey_runtime::{Cohort, Window};
use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The project: a directory, `.journey` files, or a `.jbc` built by `journey build`.
    #[arg(required = true, value_name = "PROJECT")]
    project: Vec<PathBuf>,
    /// JSON-lines input files (`-` is standard input; `.gz` is read as gzip).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    input: Vec<String>,
    /// End of the window (exclusive), RFC 3339: the batch's "now".
    #[arg(long, value_name = "T")]
    until: String,
    /// Start of the window; records before it are rejected as `late`. Default: the earliest input.
    #[arg(long, value_name = "T")]
    from: Option<String>,
    /// Output directory (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Worker threads, 1 to 512 (default: all cores). Output does not depend on it.
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    threads: Option<usize>,
    /// Evaluate only shard I of N (contacts by a stable hash of their id), e.g. `--shard 0/4`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Exit 1 if any record was rejected (after writing everything).
    #[arg(long)]
    strict: bool,
    /// Continue from a state snapshot (a run's output directory, or its `state.snapshot`).
    #[arg(long, value_name = "DIR_OR_FILE")]
    resume: Option<PathBuf>,
}

fn parse_shard(text: &str) -> Result<(u32, u32), String> {
    let (i, n) = text.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let number = |part: &str, what: &str| part.trim().parse::<u32>().map_err(|_| format!("{what} in I/N is {part:?}, not a whole number below 2^32"));
    let (i, n) = (number(i, "I")?, number(n, "N")?);
    if n == 0 {
        return Err("N in I/N is the number of shards: at least 1 (0/1 is the whole cohort)".into());
    }
    if i >= n {
        return Err(format!("shard {i}/{n} does not exist: shards are numbered 0 to {}", n - 1));
    }
    Ok((i, n))
}

/// An input file (or `-`, stdin) as raw bytes: read directly where the system allows it
/// (`journey_runtime::direct::InputFile`).
/// One line for the end of a run that rejected records: how many were outside the window
/// (`future`, `late`) and how many did not fit, with the first of those as an example.
fn rejects_note(rejects: &[journey_runtime::Reject], until: &str, path: &Path) -> Option<String> {
    if rejects.is_empty() {
        return None;
    }
    let future = rejects.iter().filter(|r| r.reason.starts_with("future:")).count();
    let late = rejects.iter().filter(|r| r.reason.starts_with("late:")).count();
    let mut parts = Vec::new();
    if future > 0 {
        parts.push(format!("{future} at or after --until {until} (for the next run)"));
    }
    if late > 0 {
        parts.push(format!("{late} before the window's start"));
    }
    if let Some(first) = rejects.iter().find(|r| !r.reason.starts_with("future:") && !r.reason.starts_with("late:")) {
        let other = rejects.len() - future - late;
        parts.push(format!("{other} that did not fit (the first, {}:{}: {})", first.file, first.line, first.reason));
    }
    let records = crate::project::plural(rejects.len() as u64, "record");
    Some(format!("note: {records} rejected: {}; each with its reason in {}", parts.join(", "), path.display()))
}

/// The `--input` names as given, checked before anything is read: a directory, or a file (or
/// `-`) given twice — whose records would all be counted twice — is a usage error.
pub(crate) fn check_inputs(names: &[String]) -> Result<(), String> {
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    for name in names {
        if name == "-" {
            if seen.iter().any(|(_, n)| *n == "-") {
                return Err("`-` (standard input) is given twice in --input".into());
            }
            seen.push((PathBuf::from("-"), name));
            continue;
        }
        let path = Path::new(name);
        if path.is_dir() {
            return Err(format!("{name} is a directory: give the input files in it (`{}/*.jsonl`)", name.trim_end_matches('/')));
        }
        // A file that does not exist is said when it is opened.
        let Ok(real) = std::fs::canonicalize(path) else { continue };
        if let Some((_, first)) = seen.iter().find(|(p, _)| *p == real) {
            let same = if *first == name.as_str() { String::new() } else { format!(" (as {first} and {name})") };
            return Err(format!("{name} is given twice in --input{same}: its records would be read twice"));
        }
        seen.push((real, name));
    }
    Ok(())
}

pub(crate) fn open_raw(name: &str) -> Result<Box<dyn Read + Send>, String> {
    if name == "-" {
        return Ok(Box::new(std::io::stdin()));
    }
    let file = InputFile::open(Path::new(name)).map_err(|e| format!("{name}: {}", project::describe_io(&e)))?;
    Ok(Box::new(file))
}

/// An input's records as bytes: decompressed when the name ends in `.gz`. `bar` counts the raw
/// bytes as they are read.
pub(crate) fn records_of(name: &str, raw: Box<dyn Read + Send>, bar: Option<ProgressBar>) -> Box<dyn Read + Send> {
    let raw = Counting { inner: raw, bar };
    if name.ends_with(".gz") { Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 20, raw))) } else { Box::new(raw) }
}

/// Counts lines as they are read, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

fn write_lines(path: &Path, lines: impl Iterator<Item = String>) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    for line in lines {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

pub fn run(args: Args) -> u8 {
    let started = Instant::now();
    let until = match project::instant_arg("--until", &args.until) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let from = match args.from.as_deref().map(|f| project::instant_arg("--from", f)).transpose() {
        Ok(f) => f,
        Err(code) => return code,
    };
    if from.is_some_and(|f| f >= until) {
        eprintln!(
            "error: --from {} is not before --until {}: the window [from, until) would hold nothing",
            args.from.as_deref().unwrap_or(""),
            args.until
        );
        return exit::USAGE;
    }
    let shard = match args.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --shard: {e}");
            return exit::USAGE;
        }
    };
    let program = match project::load_with_text(&args.project) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let resumed = match &args.resume {
        None => journey_runtime::snapshot::Resumed::default(),
        Some(path) => {
            let file = if path.is_dir() { path.join("state.snapshot") } else { path.clone() };
            let restored = journey_runtime::snapshot::Snapshot::read(&file).and_then(|s| s.restore(&program));
            match restored {
                Ok(r) => {
                    for note in &r.notes {
                        eprintln!("note: resuming {}: {note}", file.display());
                    }
                    let migrated: usize = r.actions.values().map(Vec::len).sum();
                    if migrated > 0 {
                        eprintln!(
                            "note: {migrated} contacts waiting at removed steps exit with reason migrated:removed_step (or their `migrate` reason)"
                        );
                    }
                    r
                }
                Err(e) => {
                    eprintln!("error: --resume: {e}");
                    return exit::USAGE;
                }
            }
        }
    };
    if let (Some(f), Some(u)) = (from, resumed.until)
        && f < u
    {
        eprintln!(
            "error: --from is before the snapshot's end ({}); a resumed run starts where the last one stopped",
            journey_vm::value::format_instant(u)
        );
        return exit::USAGE;
    }
    if resumed.until.is_some_and(|u| u >= until) {
        eprintln!("error: --until must be after the snapshot's end ({})", resumed.until.map(journey_vm::value::format_instant).unwrap_or_default());
        return exit::USAGE;
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: {}: cannot create the output directory: {}", args.out.display(), project::describe_io(&e));
        return exit::USAGE;
    }
    let decoder = Decoder::new(&program);
    let mut cohort = Cohort::for_shard(from.or(resumed.until), until, shard);
    let terminal = std::io::stderr().is_terminal();
    if let Err(e) = check_inputs(&args.input) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    for name in &args.input {
        let raw = match open_raw(name) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
        let bar = if terminal && name != "-" {
            let size = std::fs::metadata(name).map(|m| m.len()).unwrap_or(0);
            let bar = ProgressBar::new(size);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("reading {name}"));
            Some(bar)
        } else {
            None
        };
        let reader = records_of(name, raw, bar.clone());
        if let Err(e) = cohort.ingest(&decoder, name, reader) {
            eprintln!("error: {name}: cannot read: {e}");
            return exit::USAGE;
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }
    let records_read = cohort.records_read;
    let undeclared = std::mem::take(&mut cohort.undeclared);
    let contacts = cohort.contacts() as u64;
    let engagement = std::mem::take(&mut cohort.engagement);
    if terminal {
        eprintln!("read {} records for {}; evaluating…", records_read, crate::project::plural(contacts, "contact"));
    }
    let read_seconds = started.elapsed().as_secs_f64();
    let threads = args.threads.unwrap_or_else(cores);
    let window = Window { until, threads, shard, holdouts: true, snapshot: true };
    let actions_path = args.out.join("actions.jsonl");
    let rejects_path = args.out.join("rejects.jsonl");
    let metrics_path = args.out.join("metrics.json");
    let report_path = args.out.join("report.html");
    let snapshot_path = args.out.join("state.snapshot");
    let actions_file = match journey_runtime::direct::OutputFile::create(&actions_path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}: {}", actions_path.display(), project::describe_io(&e));
            return exit::USAGE;
        }
    };
    // Actions are formatted a batch of contacts at a time, as they are evaluated, and written by
    // a thread of their own, so the workers go on with the next batch meanwhile.
    let (blocks, received) = std::sync::mpsc::sync_channel::<journey_runtime::Batch<(String, usize)>>(2);
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut file = actions_file;
        for batch in received {
            for (_, (text, _)) in batch {
                file.write_all(text.as_bytes())?;
            }
        }
        file.finish()
    });
    // Workers count each contact's actions for the metrics and format its lines as soon as it
    // is evaluated; batches reach the writer in contact order.
    let mut builder = journey_runtime::metrics::MetricsBuilder::new(&program);
    let mut action_count = 0usize;
    let consumer = journey_runtime::RunConsumer::new(&program);
    let evaluation = journey_runtime::evaluate_with(&program, cohort, &window, resumed, &consumer, &mut |batch, tallies| {
        builder.add_tallies(tallies);
        action_count += batch.iter().map(|(_, (_, n))| n).sum::<usize>();
        // A failed send means the writer stopped on an error, reported when it is joined.
        let _ = blocks.send(batch);
    });
    drop(blocks);
    let write_result = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("the actions writer stopped")));
    let evaluate_seconds = started.elapsed().as_secs_f64() - read_seconds;
    let totals = RunTotals {
        records_read,
        rejected: evaluation.rejects.len() as u64,
        // The snapshot holds one state per evaluated contact (including resumed ones).
        contacts: evaluation.states.len() as u64,
        wall_seconds: started.elapsed().as_secs_f64(),
        undeclared,
        unknown_zones: evaluation.unknown_zones.clone(),
        condition_errors: evaluation.condition_errors.clone(),
    };
    let partial = builder.into_partial(&evaluation, &engagement, &totals);
    if let Err(e) = partial.write(&args.out.join("metrics.partial")) {
        eprintln!("error: cannot write the mergeable metrics: {e}");
        return exit::USAGE;
    }
    let metrics = partial.finish(&program);
    let written = write_result
        .and_then(|()| write_lines(&rejects_path, evaluation.rejects.iter().map(|r| r.to_json())))
        .and_then(|()| std::fs::write(&metrics_path, serde_json::to_string_pretty(&metrics).unwrap_or_default() + "\n"))
        .and_then(|()| std::fs::write(&report_path, journey_runtime::report::html(&program, &metrics)));
    if let Err(e) = written {
        eprintln!("error: {}: cannot write the outputs: {}", args.out.display(), project::describe_io(&e));
        return exit::USAGE;
    }
    let contact_count = totals.contacts;
    let mut evaluation = evaluation;
    let snapshot = journey_runtime::snapshot::Snapshot::new(
        &program,
        until,
        std::mem::take(&mut evaluation.states),
        std::mem::take(&mut evaluation.message_ids),
    );
    if let Err(e) = snapshot.write(&snapshot_path) {
        eprintln!("error: cannot write the snapshot: {e}");
        return exit::USAGE;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{}, {}, {}, {}, {} rejected, in {seconds:.2}s (read {read_seconds:.2}s, evaluate and write actions {evaluate_seconds:.2}s, finish {:.2}s)",
        project::plural(records_read as u64, "record"),
        project::plural(contact_count as u64, "contact"),
        project::plural(evaluation.transitions, "transition"),
        project::plural(action_count as u64, "action"),
        evaluation.rejects.len(),
        seconds - read_seconds - evaluate_seconds
    );
    if let Some(note) = rejects_note(&evaluation.rejects, &args.until, &rejects_path) {
        eprintln!("{note}");
    }
    for note in totals.notes(&program) {
        eprintln!("{note}");
    }
    eprintln!(
        "wrote {}, {}, {}, {}, {}",
        actions_path.display(),
        rejects_path.display(),
        metrics_path.display(),
        report_path.display(),
        snapshot_path.display()
    );
    if args.strict && !evaluation.rejects.is_empty() {
        let rejected = evaluation.rejects.len() as u64;
        let verb = if rejected == 1 { "was" } else { "were" };
        eprintln!("error: {} {verb} rejected (--strict); see {}", project::plural(rejected, "record"), rejects_path.display());
        return exit::FAILED;
    }
    exit::OK
}

/// The most worker threads a run starts: far above any machine's cores, well below what would
/// exhaust the system's threads (`--threads 100000` aborted the process before this check).
const MAX_THREADS: usize = 512;

/// `--threads N`: a whole number from 1 to [`MAX_THREADS`].
fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        Ok(0) => Err("a run needs at least one thread (leave `--threads` out to use every core)".into()),
        Ok(_) => Err(format!("at most {MAX_THREADS} threads (this machine has {})", cores())),
        Err(_) => Err(format!("not a whole number of threads; leave `--threads` out to use every core ({})", cores())),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
