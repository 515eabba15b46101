//! `journey graph PATH [--journey NAME] [--metrics DIR/metrics.json] [--format dot|svg|mermaid]
//! [--direction down|right]`:
//! one journey as a flow diagram, with the counts of a run on every step and edge when given its
//! metrics.

use crate::exit;
use clap::ValueEnum;
use journey_runtime::report::{Direction, GraphFormat, graph_towards};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The project: directories (read recursively), `.journey` files, or one `.jbc`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The journey to draw (its identifier); may be left out when the project has one.
    #[arg(long, value_name = "NAME")]
    journey: Option<String>,
    /// A run's `metrics.json` (or the run's output directory): every node and edge then carries
    /// its count, and every step where contacts left says how many.
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// `dot` (Graphviz), `svg` (a standalone image) or `mermaid` (renders in Markdown).
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    format: Format,
    /// Which way the diagram runs: `down` (entry at the top) or `right` (entry on the left, for
    /// wide screens and slides).
    #[arg(long, value_enum, default_value_t = Towards::Down)]
    direction: Towards,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Towards {
    Down,
    Right,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Dot,
    Svg,
    Mermaid,
}

pub fn run(args: Args) -> u8 {
    let program = match crate::project::load_with_text(&args.paths) {
        Ok(program) => program,
        Err(code) => return code,
    };
    let journey = match (&args.journey, program.journeys.as_slice()) {
        (None, [only]) => only,
        (None, all) => {
            let names: Vec<&str> = all.iter().map(|j| j.name.as_str()).collect();
            let has = if names.is_empty() { "no journeys".to_string() } else { format!("{} journeys: {}", names.len(), names.join(", ")) };
            eprintln!("error: which journey? The project has {has}; name one with --journey NAME");
            return exit::USAGE;
        }
        (Some(name), all) => match all.iter().find(|j| &j.name == name) {
            Some(j) => j,
            None => {
                eprintln!("error: {}", crate::project::no_such_journey(&program, name));
                return exit::USAGE;
            }
        },
    };
    let metrics = match &args.metrics {
        None => None,
        Some(path) => {
            let path = if path.is_dir() { path.join("metrics.json") } else { path.clone() };
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    eprintln!(
                        "error: {}: {} (give the `metrics.json` a `journey run --out DIR` wrote)",
                        path.display(),
                        crate::project::describe_io(&e)
                    );
                    return exit::USAGE;
                }
            };
            let json: serde_json::Value = match serde_json::from_str(&text) {
                Ok(json) => json,
                Err(e) => {
                    eprintln!("error: {}: not a metrics file: {e}", path.display());
                    return exit::USAGE;
                }
            };
            let mine = json["journeys"][&journey.name].clone();
            if mine.is_null() {
                eprintln!(
                    "warning: {} has no metrics for journey `{}` (written for another project?): drawing it without counts",
                    path.display(),
                    journey.name
                );
                None
            } else {
                Some(mine)
            }
        }
    };
    let format = match args.format {
        Format::Dot => GraphFormat::Dot,
        Format::Svg => GraphFormat::Svg,
        Format::Mermaid => GraphFormat::Mermaid,
    };
    let direction = if args.direction == Towards::Right { Direction::Right } else { Direction::Down };
    print!("{}", graph_towards(&program, journey, metrics.as_ref(), format, direction));
    exit::OK
}
