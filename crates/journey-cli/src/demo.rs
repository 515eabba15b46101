//! `journey demo`: the README's first command. Generates a cohort for `examples/`, evaluates it
//! with `journey run`, and prints a short summary of what happened and where the outputs are.

use crate::{exit, generate, run};
use clap::Parser;
use std::path::{Path, PathBuf};

/// The reference project (`examples/` of the repository), built in: `journey demo` run where
/// there is no `examples/` (an installed binary, another directory) writes it next to its
/// outputs and runs that. `tests/cli.rs` checks it is the repository's, file for file.
pub const EXAMPLES: [(&str, &str); 6] = [
    ("schema.journey", include_str!("../../../examples/schema.journey")),
    ("welcome.journey", include_str!("../../../examples/welcome.journey")),
    ("cart_abandonment.journey", include_str!("../../../examples/cart_abandonment.journey")),
    ("dates.journey", include_str!("../../../examples/dates.journey")),
    ("lead_routing.journey", include_str!("../../../examples/lead_routing.journey")),
    ("spring_sale.journey", include_str!("../../../examples/spring_sale.journey")),
];

#[derive(clap::Args)]
pub struct Args {
    /// The project to run [default: `examples/` here, else the built-in copy of it, written to
    /// OUT/examples]
    #[arg(long)]
    project: Option<PathBuf>,
    /// Contacts in the generated cohort.
    #[arg(long, default_value_t = 20_000, value_parser = generate::parse_contacts)]
    contacts: u64,
    /// Where the cohort and the run's outputs go.
    #[arg(long, default_value = "out/demo")]
    out: PathBuf,
}

pub fn run(args: Args) -> u8 {
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: {}: {e}", args.out.display());
        return exit::USAGE;
    }
    let project = match args.project {
        Some(p) => p,
        None if Path::new("examples").is_dir() => PathBuf::from("examples"),
        None => {
            let dir = args.out.join("examples");
            let written =
                std::fs::create_dir_all(&dir).and_then(|()| EXAMPLES.iter().try_for_each(|(name, text)| std::fs::write(dir.join(name), text)));
            if let Err(e) = written {
                eprintln!("error: {}: {}", dir.display(), crate::project::describe_io(&e));
                return exit::USAGE;
            }
            eprintln!("no examples/ here: using the built-in copy of the reference project, written to {}", dir.display());
            dir
        }
    };
    let cohort = args.out.join("cohort.jsonl.gz");
    eprintln!("1/3 generating {} contacts × 60 days → {}", args.contacts, cohort.display());
    if let Err(e) = generate::write_cohort(args.contacts, 7, 60, &cohort) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    eprintln!("2/3 running {} over it (window 2026-01-01 → 2026-03-02)", project.display());
    let until = "2026-03-02T00:00:00Z";
    let argv = [
        project.display().to_string(),
        "--input".into(),
        cohort.display().to_string(),
        "--until".into(),
        until.into(),
        "--out".into(),
        args.out.display().to_string(),
    ];
    let parsed = match RunOnly::try_parse_from(std::iter::once("journey".to_string()).chain(argv)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let code = run::run(parsed.args);
    if code != exit::OK {
        return code;
    }
    eprintln!("3/3 summary");
    summary(&project, &args.out)
}

#[derive(Parser)]
struct RunOnly {
    #[command(subcommand)]
    _unused: Option<Never>,
    #[command(flatten)]
    args: run::Args,
}

#[derive(clap::Subcommand)]
enum Never {}

fn summary(project: &std::path::Path, out: &std::path::Path) -> u8 {
    let metrics: serde_json::Value = match std::fs::read_to_string(out.join("metrics.json")).map(|t| serde_json::from_str(&t)) {
        Ok(Ok(m)) => m,
        _ => {
            eprintln!("error: cannot read {}", out.join("metrics.json").display());
            return exit::USAGE;
        }
    };
    println!("{:<20} {:>9} {:>9}  top exit reasons", "journey", "entered", "goal rate");
    if let Some(journeys) = metrics["journeys"].as_object() {
        for (name, j) in journeys {
            let mut reasons: Vec<(String, u64)> = j["exits"]["by_reason"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
                .unwrap_or_default();
            reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let top: Vec<String> = reasons.iter().take(3).map(|(r, n)| format!("{r} {n}")).collect();
            let rate = j["goals"].as_object().and_then(|g| g.values().next()).and_then(|g| g["conversion_rate"].as_f64());
            println!(
                "{:<20} {:>9} {:>9}  {}",
                name,
                j["entered"].as_u64().unwrap_or(0),
                rate.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".into()),
                top.join(", ")
            );
        }
    }
    let mut header = false;
    if let Some(journeys) = metrics["journeys"].as_object() {
        for (name, j) in journeys {
            for (experiment, e) in j["experiments"].as_object().into_iter().flatten() {
                if !header {
                    println!("\n{:<36} {:>9} {:>9} {:>7} {:>8}", "experiment / arm", "assigned", "converted", "rate", "p-value");
                    header = true;
                }
                for (arm, a) in e["arms"].as_object().into_iter().flatten() {
                    println!(
                        "{:<36} {:>9} {:>9} {:>7} {:>8}",
                        format!("{name}.{experiment} / {arm}"),
                        a["assigned"].as_u64().unwrap_or(0),
                        a["converted"].as_u64().unwrap_or(0),
                        a["rate"].as_f64().map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".into()),
                        a["p_value"].as_f64().map(|p| format!("{p:.3}")).unwrap_or_else(|| "-".into()),
                    );
                }
            }
        }
    }
    let run = &metrics["run"];
    println!(
        "\n{} records, {} contacts, {} transitions in {}s; outputs in {}/ (actions.jsonl, rejects.jsonl, metrics.json, report.html, state.snapshot);\nopen {}/report.html in a browser for the flow diagrams, or draw one:\n  journey graph {} --journey {} --metrics {} --format mermaid",
        run["records_read"],
        run["contacts"],
        run["transitions"],
        run["wall_seconds"],
        out.display(),
        out.display(),
        project.display(),
        metrics["journeys"].as_object().and_then(|j| j.keys().next()).map_or("welcome", String::as_str),
        out.display()
    );
    exit::OK
}
