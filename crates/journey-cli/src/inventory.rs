//! `journey inventory PATH`: the project's content inventory.

use crate::exit;
use clap::ValueEnum;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories (read recursively) that make up the project.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// `text` (a table) or `json`.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> u8 {
    let project = match crate::project::parsed(&args.paths) {
        Ok(project) => project,
        Err(code) => return code,
    };
    let checked = journey_check::check(&project);
    let inventory = journey_check::inventory::inventory(&checked, &project.sources);
    match args.format {
        Format::Text => print!("{}", inventory.to_text()),
        Format::Json => println!("{}", inventory.to_json()),
    }
    // Content gaps are compile errors: the inventory reports them and fails like `check` would.
    if inventory.missing.is_empty() { exit::OK } else { exit::FAILED }
}
