//! The `journey` command-line tool. Thin by design: each subcommand is one module that parses its
//! arguments (clap) and calls into the library crates; everything testable lives there.

mod check;
mod compile;
mod demo;
mod diff;
mod explain;
mod fmt;
mod generate;
mod graph;
mod inventory;
mod merge;
mod project;
mod run;
mod test_cmd;

use clap::{Parser, Subcommand};

// Batch runs allocate many small strings and vectors on several threads; mimalloc is markedly
// faster than the system allocator there (measured: see the README).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (`mi_option_purge_delay` in mimalloc.h, v3).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc hands memory it has not reused for a second back to the system. A batch run frees
/// and allocates gigabytes in waves (block buffers, per-contact input, formatted lines), and each
/// page handed back and touched again costs a fault and zeroing — on the virtual machines we
/// measured, 2–4 s of a 1 M-contact run. So `journey` keeps freed memory for ten minutes; the
/// peak resident size grows by about 5%. `MIMALLOC_PURGE_DELAY` in the environment still wins.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` stores a number in mimalloc's option table, which mimalloc
        // reads when it decides to purge; this runs first thing in `main`, before any thread.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 600_000) }
    }
}
use std::process::ExitCode;

/// Compiler and tools for `.journey` marketing-automation workflows.
#[derive(Parser)]
#[command(name = "journey", version, about = "Marketing-automation journeys as code: check, test, compile, run and explain .journey projects", long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check a project; print diagnostics (exit 1 on errors).
    Check(check::Args),
    /// Compile a project to one bytecode file.
    Build(compile::BuildArgs),
    /// Human-readable listing of a bytecode file.
    Disasm(compile::DisasmArgs),
    /// Evaluate a cohort: JSON-lines records in, actions, rejects, metrics, report.html and a snapshot out.
    Run(run::Args),
    /// One contact's timeline: records, timers, conditions (with values), branches, actions.
    Explain(explain::Args),
    /// Language Server Protocol over stdio (for editors).
    Lsp,
    /// Run the project's `test` blocks.
    Test(test_cmd::Args),
    /// Deterministic synthetic cohort for the reference project in `examples/`.
    Gen(generate::Args),
    /// The guided tour: generate a cohort, run `examples/` over it, summarise the results.
    Demo(demo::Args),
    /// Merge the outputs of `journey run --shard I/N` runs into the single-run outputs.
    Merge(merge::Args),
    /// Content inventory: every message, its channel, where it is sent; missing and unused ones.
    Inventory(inventory::Args),
    /// One journey as a flow diagram (dot, svg or mermaid), with a run's counts from its metrics.
    Graph(graph::Args),
    /// What changed between two versions of a project, and what happens to contacts in flight.
    Diff(diff::Args),
    /// Canonical layout for .journey files (whitespace only; `--check` for CI).
    Fmt(fmt::Args),
}

/// Exit codes shared by every subcommand (RUNTIME.md §1).
pub mod exit {
    pub const OK: u8 = 0;
    /// Compile errors, failed tests, rejected input under `--strict`.
    pub const FAILED: u8 = 1;
    /// Usage or I/O errors.
    pub const USAGE: u8 = 2;
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Inventory(args) => inventory::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Build(args) => compile::build(args),
        Command::Disasm(args) => compile::disasm(args),
        Command::Run(args) => run::run(args),
        Command::Gen(args) => generate::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Test(args) => test_cmd::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Lsp => match journey_lsp::run_stdio() {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("error: language server: {e}");
                exit::USAGE
            }
        },
        Command::Demo(args) => demo::run(args),
    };
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    /// The option index is mimalloc's: its default (1000 ms in v3) reads back through it.
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads mimalloc's option table.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
        assert_eq!(default, 1000, "mi_option_purge_delay is not option {}", super::PURGE_DELAY);
    }
}
