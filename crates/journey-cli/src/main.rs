//! The `journey` command-line tool. Thin by design: each subcommand is one module that parses its
//! arguments (clap) and calls into the library crates; everything testable lives there.

mod check;
mod compile;
mod demo;
mod explain;
mod generate;
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
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Inventory(args) => inventory::run(args),
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
