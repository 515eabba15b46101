//! `journey merge --project P --out DIR SHARD_DIR...`: combines the outputs of `journey run
//! --shard I/N` into what a single run writes — actions merged in contact order (each shard's
//! file is already in that order, so this streams) and metrics recomputed from the shards'
//! `metrics.partial` files.

use crate::{exit, project};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The output directories of the shard runs.
    #[arg(required = true, value_name = "SHARD_DIR")]
    shards: Vec<PathBuf>,
    /// The project the shards ran (for names in metrics.json).
    #[arg(long, required = true, num_args = 1.., value_name = "PROJECT")]
    project: Vec<PathBuf>,
    /// Where to write the merged `actions.jsonl`, `rejects.jsonl` and `metrics.json`.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn contact_of(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v["contact"].as_str().map(str::to_string)).unwrap_or_default()
}

pub fn run(args: Args) -> u8 {
    let program = match project::load_with_text(&args.project) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut partial: Option<journey_runtime::metrics::Partial> = None;
    for shard in &args.shards {
        match journey_runtime::metrics::Partial::read(&shard.join("metrics.partial")) {
            Ok(p) => match &mut partial {
                None => partial = Some(p),
                Some(total) => {
                    if let Err(e) = total.merge(p) {
                        eprintln!("error: {}: {e}", shard.display());
                        return exit::USAGE;
                    }
                }
            },
            Err(e) => {
                eprintln!("error: {e} (was it written by `journey run --shard` of this version of journey?)");
                return exit::USAGE;
            }
        }
    }
    let Some(partial) = partial else { return exit::USAGE };
    if partial.fingerprint != program.fingerprint {
        eprintln!("error: the shards were run with another version of the project");
        return exit::USAGE;
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: {}: {}", args.out.display(), project::describe_io(&e));
        return exit::USAGE;
    }
    let result = (|| -> std::io::Result<usize> {
        let mut readers: Vec<std::io::Lines<BufReader<File>>> =
            args.shards.iter().map(|s| File::open(s.join("actions.jsonl")).map(|f| BufReader::new(f).lines())).collect::<Result<_, _>>()?;
        let mut heads: Vec<Option<(String, String)>> = Vec::new();
        for r in &mut readers {
            heads.push(r.next().transpose()?.map(|l| (contact_of(&l), l)));
        }
        let mut out = BufWriter::new(File::create(args.out.join("actions.jsonl"))?);
        let mut count = 0;
        // Contacts are disjoint across shards: take every line of the smallest contact id.
        while let Some(i) = (0..heads.len()).filter(|i| heads[*i].is_some()).min_by(|a, b| {
            let (x, y) = (heads[*a].as_ref().map(|h| h.0.as_bytes()), heads[*b].as_ref().map(|h| h.0.as_bytes()));
            x.cmp(&y)
        }) {
            let contact = heads[i].as_ref().map(|h| h.0.clone()).unwrap_or_default();
            while let Some((c, line)) = heads[i].take() {
                if c != contact {
                    heads[i] = Some((c, line));
                    break;
                }
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                count += 1;
                heads[i] = readers[i].next().transpose()?.map(|l| (contact_of(&l), l));
            }
        }
        out.flush()?;
        // Rejects back in input order: files by first appearance, then line.
        let mut lines: Vec<(String, u64, String)> = Vec::new();
        for shard in &args.shards {
            if let Ok(text) = std::fs::read_to_string(shard.join("rejects.jsonl")) {
                for line in text.lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
                    lines.push((v["file"].as_str().unwrap_or("").to_string(), v["line"].as_u64().unwrap_or(0), line.to_string()));
                }
            }
        }
        let mut files: Vec<String> = Vec::new();
        for (f, _, _) in &lines {
            if !files.contains(f) {
                files.push(f.clone());
            }
        }
        lines.sort_by_key(|(f, l, _)| (files.iter().position(|x| x == f), *l));
        let mut rejects = BufWriter::new(File::create(args.out.join("rejects.jsonl"))?);
        for (_, _, line) in lines {
            rejects.write_all(line.as_bytes())?;
            rejects.write_all(b"\n")?;
        }
        rejects.flush()?;
        Ok(count)
    })();
    let count = match result {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: cannot merge the actions: {e}");
            return exit::USAGE;
        }
    };
    let notes = partial.totals().notes(&program);
    let metrics = partial.finish(&program);
    let written = std::fs::write(args.out.join("metrics.json"), serde_json::to_string_pretty(&metrics).unwrap_or_default() + "\n")
        .and_then(|()| std::fs::write(args.out.join("report.html"), journey_runtime::report::html(&program, &metrics)));
    if let Err(e) = written {
        eprintln!("error: {}: {e}", args.out.display());
        return exit::USAGE;
    }
    eprintln!(
        "merged {} shards: {count} actions; wrote {}/actions.jsonl, rejects.jsonl, metrics.json, report.html",
        args.shards.len(),
        args.out.display()
    );
    for note in notes {
        eprintln!("{note}");
    }
    exit::OK
}
