//! `journey check PATH...`: parse and check a project, print its diagnostics.

use crate::exit;
use clap::ValueEnum;
use journey_diagnostics::{Diagnostic, Severity, render_github, render_json_line, render_sarif, render_terminal};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories (read recursively) that make up the project.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Output format: `human` (codespan, colour on a terminal), `json` (one object per line),
    /// `github` (workflow commands) or `sarif` (SARIF 2.1.0 for code scanning).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    deny_warnings: bool,
    /// When to use colour in human output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Github,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

pub fn run(args: Args) -> u8 {
    let project = match crate::project::parsed(&args.paths) {
        Ok(project) => project,
        Err(code) => return code,
    };
    let checked = journey_check::check(&project);
    let mut diagnostics: Vec<Diagnostic> = journey_check::all_diagnostics(&project, &checked);
    if args.deny_warnings {
        for d in &mut diagnostics {
            d.severity = Severity::Error;
        }
    }
    journey_diagnostics::sort(&mut diagnostics);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match args.format {
        Format::Human => {
            let color = match args.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            eprint!("{}", render_terminal(&project.sources, &diagnostics, color));
            eprintln!("{}", summary(project.sources.len(), errors, warnings));
            Ok(())
        }
        Format::Json => diagnostics.iter().try_for_each(|d| writeln!(out, "{}", render_json_line(&project.sources, d))),
        Format::Github => diagnostics.iter().try_for_each(|d| writeln!(out, "{}", render_github(&project.sources, d))),
        Format::Sarif => writeln!(out, "{}", render_sarif(&project.sources, &diagnostics)),
    };
    if let Err(err) = written.and_then(|()| out.flush()) {
        eprintln!("error: cannot write diagnostics: {err}");
        return exit::USAGE;
    }
    if errors > 0 { exit::FAILED } else { exit::OK }
}

fn summary(files: usize, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| crate::project::plural(n as u64, word);
    format!("checked {}: {}, {}", plural(files, "file"), plural(errors, "error"), plural(warnings, "warning"))
}
