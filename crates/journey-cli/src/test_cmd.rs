//! `journey test PATH...`: runs the project's `test` blocks; one line per test, then
//! `N passed, N failed`; exit 1 on any failure.

use crate::exit;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories (read recursively) that make up the project.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Run only the tests whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
}

pub fn run(args: Args) -> u8 {
    let project = match crate::project::parsed(&args.paths) {
        Ok(project) => project,
        Err(code) => return code,
    };
    let program = match crate::project::compile_parsed(&project, false) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let results = journey_test::run_tests(&program, &project.modules, &project.sources, args.filter.as_deref());
    let failed = results.iter().filter(|r| !r.passed()).count();
    for r in &results {
        if r.passed() {
            println!("ok    {} ({})", r.name, r.location);
        } else {
            println!("FAIL  {} ({})", r.name, r.location);
            for f in &r.failures {
                for line in f.lines() {
                    println!("      {line}");
                }
            }
        }
    }
    println!("{} passed, {failed} failed", results.len() - failed);
    if results.is_empty() {
        match &args.filter {
            Some(filter) => eprintln!("note: no test name contains {filter:?}"),
            None => eprintln!("note: the project has no `test` blocks; write one beside a journey (see the README, \"Writing a first journey\")"),
        }
    }
    if failed > 0 { exit::FAILED } else { exit::OK }
}
