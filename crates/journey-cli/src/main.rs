//! The `journey` command-line tool. Thin by design: each subcommand is one module that parses its
//! arguments (clap) and calls into the library crates; everything testable lives there.

mod check;
mod inventory;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Compiler and tools for `.journey` marketing-automation workflows.
#[derive(Parser)]
#[command(name = "journey", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check a project; print diagnostics (exit 1 on errors).
    Check(check::Args),
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
    };
    ExitCode::from(code)
}
