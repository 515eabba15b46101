//! Programs one edit away from the examples — a number, duration, percentage or clock time
//! replaced by an extreme value, a name replaced by another name of the same file — that still
//! compile: the verifier accepts their bytecode (`decode(encode(p)) == p`); a generated cohort
//! runs over them without a panic, with the same actions and rejects on one thread as on two;
//! a snapshot the examples left half-way through restores into them (or is refused with a
//! reason) and runs on; and the run's report, flow diagrams and the program's listing render. (The parser and checker side of broken sources is `parser_props.rs`.)

use journey_runtime::report::{Direction, GraphFormat, graph_towards};
use journey_runtime::snapshot::{Resumed, Snapshot};
use journey_runtime::{Cohort, Window, evaluate_resumed, input::parse_instant};
use std::panic::{AssertUnwindSafe, catch_unwind};

// Only the example sources are used here.
#[allow(dead_code)]
mod props;

const UNTIL: &str = "2026-03-02T00:00:00Z";
/// Where the examples' half of the run stops, for the snapshot the variants resume.
const HALF: &str = "2026-01-25T00:00:00Z";

/// Extreme values for a literal like `token`: zero, tiny and huge amounts, the ends of a day
/// and of time, of the token's kind (most of them then still compile).
fn extremes(token: &str) -> &'static [&'static str] {
    if token.ends_with('%') {
        &["0%", "100%", "1%"]
    } else if token.contains(':') {
        &["00:00", "23:59", "24:00"]
    } else if token.contains('-') {
        &["1970-01-01", "2026-02-29", "9999-12-31T23:59:59Z"]
    } else if token.ends_with(|c: char| c.is_ascii_alphabetic()) {
        &["1s", "0d", "999999d"]
    } else if token.contains('.') {
        &["0.0", "-0.5", "1e308"]
    } else {
        &["0", "-1", "9999999999999"]
    }
}

/// A deterministic sequence (xorshift64).
fn sequence(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// The spans of `source`'s words (`word`: names and keywords) or number-like tokens.
fn tokens(source: &str, word: bool) -> Vec<(usize, usize)> {
    let bytes = source.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let starts = |b: u8| if word { b.is_ascii_alphabetic() || b == b'_' } else { b.is_ascii_digit() };
    let (mut spans, mut i) = (Vec::new(), 0);
    while i < bytes.len() {
        if starts(bytes[i]) && (i == 0 || !is_name(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && (is_name(bytes[i]) || (!word && b":.-%".contains(&bytes[i]))) {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

/// Compiles the examples with file `file` replaced by `mutated`; if that compiles, checks the
/// program. `None` when it did not compile; `Some(Err)` says what went wrong.
fn try_variant(sources: &[String], input: &str, half: &Snapshot, file: usize, mutated: &str) -> Option<Result<(), String>> {
    let names: Vec<String> = (0..sources.len()).map(|i| format!("f{i}.journey")).collect();
    let files: Vec<(&str, &str)> =
        sources.iter().enumerate().map(|(k, text)| (names[k].as_str(), if k == file { mutated } else { text.as_str() })).collect();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let program = journey::compile(&files).ok()?;
        let bytes = match journey_bytecode::encode(&program) {
            Ok(bytes) => bytes,
            Err(e) => return Some(Err(format!("does not encode: {e}"))),
        };
        match journey_bytecode::decode(&bytes) {
            Ok(decoded) if decoded == program => {}
            Ok(_) => return Some(Err("decodes to another program".into())),
            Err(e) => return Some(Err(format!("rejected by the verifier: {e}"))),
        }
        let (one, one_rejects) = journey::evaluate(&program, input, UNTIL, 1);
        let (two, two_rejects) = journey::evaluate(&program, input, UNTIL, 2);
        if one != two || format!("{one_rejects:?}") != format!("{two_rejects:?}") {
            return Some(Err("one thread and two disagree".into()));
        }
        // The examples' contacts, half-way, carried over to the changed project.
        match half.restore(&program) {
            Ok(resumed) => {
                let decoder = journey_runtime::input::Decoder::new(&program);
                let until = parse_instant(UNTIL).unwrap_or(0);
                let mut cohort = Cohort::new(resumed.until, until);
                if let Err(e) = cohort.ingest(&decoder, "in.jsonl", std::io::Cursor::new(input.to_string())) {
                    return Some(Err(format!("the cohort does not read: {e}")));
                }
                let window = Window { until, threads: 1, shard: None, holdouts: true, snapshot: true };
                let evaluation = evaluate_resumed(&program, cohort, &window, resumed);
                // What is drawn and listed of it: the report, every flow diagram, the listing.
                let metrics = journey_runtime::metrics::metrics(&program, &evaluation, &Default::default(), &Default::default());
                if !journey_runtime::report::html(&program, &metrics).contains("</html>") {
                    return Some(Err("report.html is cut short".into()));
                }
                for journey in &program.journeys {
                    for format in [GraphFormat::Dot, GraphFormat::Svg, GraphFormat::Mermaid] {
                        for direction in [Direction::Down, Direction::Right] {
                            if graph_towards(&program, journey, Some(&metrics), format, direction).is_empty() {
                                return Some(Err(format!("no {format:?} diagram of {}", journey.name)));
                            }
                        }
                    }
                }
                if journey_bytecode::disasm::disassemble(&program).is_empty() {
                    return Some(Err("an empty listing".into()));
                }
            }
            Err(e) if e.is_empty() => return Some(Err("a snapshot refused without a reason".into())),
            Err(_) => {}
        }
        Some(Ok(()))
    }));
    outcome.unwrap_or_else(|_| Some(Err("panicked".into())))
}

/// Runs `variants` (file, description, source) and returns how many compiled.
fn check_variants(variants: impl Iterator<Item = (usize, String, String)>) -> usize {
    let sources = props::example_sources();
    let mut raw = Vec::new();
    journey_runtime::cohort_gen::generate(40, 3, 60, &mut raw).unwrap_or_else(|e| panic!("{e}"));
    let input = String::from_utf8(raw).unwrap_or_else(|e| panic!("{e}"));
    let examples = journey::examples().unwrap_or_else(|e| panic!("{e}"));
    let half_at = parse_instant(HALF).unwrap_or(0);
    let decoder = journey_runtime::input::Decoder::new(&examples);
    let mut cohort = Cohort::new(None, half_at);
    cohort.ingest(&decoder, "in.jsonl", std::io::Cursor::new(input.clone())).unwrap_or_else(|e| panic!("{e}"));
    let window = Window { until: half_at, threads: 1, shard: None, holdouts: true, snapshot: true };
    let first = evaluate_resumed(&examples, cohort, &window, Resumed::default());
    let half = Snapshot::new(&examples, half_at, first.states, first.message_ids);
    let mut compiled = 0;
    let mut failures = Vec::new();
    for (file, what, mutated) in variants {
        match try_variant(&sources, &input, &half, file, &mutated) {
            Some(Ok(())) => compiled += 1,
            Some(Err(e)) => failures.push(format!("f{file}.journey ({what}): {e}")),
            None => {}
        }
    }
    assert!(failures.is_empty(), "{} variants of the examples went wrong:\n{}", failures.len(), failures.join("\n"));
    eprintln!("{compiled} variants compiled");
    compiled
}

#[test]
fn extreme_literals_compile_to_programs_that_run() {
    let sources = props::example_sources();
    let mut variants = Vec::new();
    for (file, source) in sources.iter().enumerate() {
        // Every number-like token of the file, with each extreme value of its kind.
        for (s, e) in tokens(source, false) {
            for &value in extremes(&source[s..e]) {
                // `every 1s` wakes each contact 250,000 times in three days of input (warning
                // J0210, and the runtime's timer budget: `tests/bytecode.rs`); here, where a
                // debug build runs each variant twice, an hour is short enough.
                let value = if value == "1s" && source[..s].ends_with("every ") { "1h" } else { value };
                variants.push((file, format!("{:?} at {s} → {value}", &source[s..e]), format!("{}{value}{}", &source[..s], &source[e..])));
            }
        }
    }
    let compiled = check_variants(variants.into_iter());
    // Most of these still compile (a duration for a duration); a test that checks nothing
    // would compile none.
    assert!(compiled > 100, "only {compiled} variants compiled");
}

#[test]
fn names_swapped_for_others_compile_to_programs_that_run() {
    let sources = props::example_sources();
    let mut next = sequence(11);
    let mut variants = Vec::new();
    for (file, source) in sources.iter().enumerate() {
        let spans = tokens(source, true);
        let mut words: Vec<&str> = spans.iter().map(|&(s, e)| &source[s..e]).collect();
        words.sort_unstable();
        words.dedup();
        for _ in 0..120 {
            let (s, e) = spans[(next() % spans.len() as u64) as usize];
            let word = words[(next() % words.len() as u64) as usize];
            variants.push((file, format!("{:?} at {s} → {word}", &source[s..e]), format!("{}{word}{}", &source[..s], &source[e..])));
        }
    }
    let compiled = check_variants(variants.into_iter());
    assert!(compiled > 100, "only {compiled} variants compiled");
}
