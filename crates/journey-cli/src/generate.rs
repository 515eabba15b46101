//! `journey gen --contacts N --seed S --days D -o FILE.jsonl` and `journey demo`.

use crate::{exit, project};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Number of contacts (at least 1).
    #[arg(long, default_value_t = 10_000, value_parser = parse_contacts)]
    contacts: u64,
    /// Seed: the same (contacts, seed, days) always gives the same file.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Days of activity, from 2026-01-01T00:00:00Z: 1 to 36500 (a century).
    #[arg(long, default_value_t = 60, value_parser = parse_days)]
    days: u32,
    /// Output file (`.gz` is written gzip-compressed; `-` is standard output).
    #[arg(short, long, value_name = "FILE.jsonl")]
    output: PathBuf,
}

/// `--contacts N`: a whole number, at least 1 (`journey gen` and `journey demo`).
pub fn parse_contacts(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("a cohort needs at least one contact".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a whole number of contacts".into()),
    }
}

/// The most days a cohort spans: a century from 2026-01-01 (before this check, `--days
/// 4000000000` wrote timestamps in the year 1601970, which no RFC 3339 reader takes).
const MAX_DAYS: u32 = 36_500;

/// `--days D`: a whole number from 1 to [`MAX_DAYS`].
fn parse_days(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_DAYS).contains(&n) => Ok(n),
        Ok(0) => Err("a cohort spans at least one day".into()),
        _ => Err(format!("a whole number of days from 1 to {MAX_DAYS} (a century)")),
    }
}

pub fn write_cohort(contacts: u64, seed: u64, days: u32, output: &PathBuf) -> Result<u64, String> {
    let name = output.display().to_string();
    let result = if name == "-" {
        let stdout = std::io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        journey_runtime::cohort_gen::generate(contacts, seed, days, &mut out).and_then(|n| out.flush().map(|()| n))
    } else {
        let file = std::fs::File::create(output).map_err(|e| format!("{name}: {}", project::describe_io(&e)))?;
        if name.ends_with(".gz") {
            let mut out = flate2::write::GzEncoder::new(BufWriter::with_capacity(1 << 20, file), flate2::Compression::fast());
            journey_runtime::cohort_gen::generate(contacts, seed, days, &mut out).and_then(|n| out.finish().and_then(|mut w| w.flush()).map(|()| n))
        } else {
            let mut out = BufWriter::with_capacity(1 << 20, file);
            journey_runtime::cohort_gen::generate(contacts, seed, days, &mut out).and_then(|n| out.flush().map(|()| n))
        }
    };
    result.map_err(|e| format!("{name}: cannot write: {e}"))
}

pub fn run(args: Args) -> u8 {
    match write_cohort(args.contacts, args.seed, args.days, &args.output) {
        Ok(n) => {
            if args.output.display().to_string() != "-" {
                eprintln!("wrote {n} records for {} to {}", project::plural(args.contacts, "contact"), args.output.display());
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}
