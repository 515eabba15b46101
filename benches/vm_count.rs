//! The VM workload of `benches/vm.rs` (all example journeys over a generated cohort, decoded
//! input), run once, without criterion: for counting instructions, which — unlike wall time on a
//! shared virtual machine — do not drift from run to run.
//!
//! ```text
//! cargo bench --bench vm_count --no-run
//! valgrind --tool=callgrind --toggle-collect='*evaluate_all*' target/release/deps/vm_count-<hash> 5000
//! ```
//!
//! The argument is the number of contacts (default 5000); `callgrind` reports the instructions
//! spent evaluating them (`Collected`), decoding excluded. With `reference` as a further
//! argument, the program is the bench's one reference journey instead of the examples.
//! `REPS=N` in the environment evaluates the cohort N times (for `perf record`, so that the
//! evaluation outweighs generating and decoding the cohort). `PROJECT=DIR` runs the project in
//! `DIR` instead (a copy of `examples/` without one file, say: what its journeys cost).

use journey_bytecode::Program;
use journey_vm::{Actions, ContactInput, ContactState, Vm};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const UNTIL: &str = "2026-03-02T00:00:00Z";

/// Every contact through the VM, one thread; returns (actions, transitions, timers fired).
#[inline(never)]
fn evaluate_all(program: &Program, inputs: &[(String, ContactInput)], until: i64) -> (usize, u64, u64) {
    let mut vm = Vm::new(program);
    let mut out = Actions::new();
    let mut state = ContactState::new(program);
    let mut actions = 0;
    for (i, (id, input)) in inputs.iter().enumerate() {
        // The next contact's input loaded meanwhile, as the runner does.
        if let Some((_, next)) = inputs.get(i + 1) {
            vm.prefetch(next);
        }
        state.reset(program);
        out.clear();
        vm.run_borrowing(id, &mut state, input, until, &mut out);
        actions += out.len();
    }
    (actions, vm.transitions(), vm.timers)
}

fn main() {
    // `cargo bench` passes `--bench`; the contact count is the first numeric argument.
    let contacts = std::env::args().skip(1).find_map(|a| a.parse::<u64>().ok()).unwrap_or(5000);
    let program = match std::env::var_os("PROJECT") {
        Some(dir) => journey::compile_dir(std::path::Path::new(&dir)),
        None if std::env::args().any(|a| a == "reference") => journey::reference(),
        None => journey::examples(),
    };
    let program = program.unwrap_or_else(|e| panic!("{e}"));
    let mut raw = Vec::new();
    journey_runtime::cohort_gen::generate(contacts, 7, 60, &mut raw).unwrap_or_default();
    let until = journey_runtime::input::parse_instant(UNTIL).unwrap_or(i64::MAX);
    let decoder = journey_runtime::input::Decoder::new(&program);
    let mut cohort = journey_runtime::Cohort::new(None, until);
    let _ = cohort.ingest(&decoder, "bench", std::io::Cursor::new(raw));
    let inputs = cohort.into_inputs();
    let start = Instant::now();
    let reps: usize = std::env::var("REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(1);
    let mut result = (0, 0, 0);
    for _ in 0..reps.max(1) {
        result = evaluate_all(&program, &inputs, until);
    }
    let (actions, transitions, timers) = result;
    let ms = start.elapsed().as_secs_f64() * 1e3 / reps.max(1) as f64;
    let records: usize = inputs.iter().map(|(_, input)| input.records.len()).sum();
    eprintln!("{contacts} contacts, {records} records: {transitions} transitions, {timers} timers, {actions} actions in {ms:.1} ms");
}
