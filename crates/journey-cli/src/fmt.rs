//! `journey fmt PATH... [--check]`: canonical layout for `.journey` files (see
//! `journey_syntax::format` for what it changes: whitespace only, never a token).

use crate::exit;
use journey_diagnostics::{SourceMap, render_terminal};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories (read recursively); `-` formats standard input to standard output.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Change nothing: list the files that are not formatted and exit 1 if there are any (for CI).
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> u8 {
    if args.paths.iter().any(|p| p.as_os_str() == "-") {
        if args.paths.len() > 1 {
            eprintln!("error: `-` (standard input) cannot be mixed with paths");
            return exit::USAGE;
        }
        let mut source = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut source) {
            eprintln!("error: standard input: {e}");
            return exit::USAGE;
        }
        return match format_one("<stdin>", &source) {
            Some(formatted) if args.check => {
                if formatted == source {
                    exit::OK
                } else {
                    println!("<stdin>");
                    exit::FAILED
                }
            }
            Some(formatted) => {
                print!("{formatted}");
                exit::OK
            }
            None => exit::FAILED,
        };
    }
    let files = match journey_syntax::project::collect_files(&args.paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let (mut unformatted, mut failed) = (0, 0);
    for path in &files {
        let name = path.display().to_string();
        let source = match std::fs::read_to_string(path) {
            Ok(source) => source,
            Err(e) => {
                eprintln!("error: {name}: {}", crate::project::describe_io(&e));
                return exit::USAGE;
            }
        };
        let Some(formatted) = format_one(&name, &source) else {
            failed += 1;
            continue;
        };
        if formatted == source {
            continue;
        }
        unformatted += 1;
        if args.check {
            println!("{name}");
        } else if let Err(e) = std::fs::write(path, &formatted) {
            eprintln!("error: {name}: cannot write: {}", crate::project::describe_io(&e));
            return exit::USAGE;
        }
    }
    let files_word = |n: usize| if n == 1 { "file" } else { "files" };
    if args.check {
        if unformatted > 0 {
            eprintln!(
                "{unformatted} {} not formatted (run `journey fmt` on {})",
                files_word(unformatted),
                if unformatted == 1 { "it" } else { "them" }
            );
        }
    } else {
        eprintln!("{unformatted} {} formatted, {} already formatted", files_word(unformatted), files.len() - unformatted - failed);
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} {} not formatted: {} not parse (run `journey check`)",
            files_word(failed),
            if failed == 1 { "it does" } else { "they do" }
        );
    }
    if failed > 0 || (args.check && unformatted > 0) { exit::FAILED } else { exit::OK }
}

/// The formatted text, or `None` after printing why the file cannot be formatted.
fn format_one(name: &str, source: &str) -> Option<String> {
    match journey_syntax::format::format(source) {
        Ok(formatted) => Some(formatted),
        Err(diagnostics) => {
            let mut sources = SourceMap::default();
            // The diagnostics name the first file of a map (`FileId(0)`): this one.
            sources.add(name, source);
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            eprint!("{}", render_terminal(&sources, &diagnostics, color));
            None
        }
    }
}
