//! Loading what a command runs: a project (directory or `.journey` files, compiled on the fly)
//! or a `.jbc` file (decoded and verified).

use crate::exit;
use journey_bytecode::Program;
use journey_diagnostics::render_terminal;
use journey_syntax::project::ParsedProject;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Loads and parses a project's files; a missing or unreadable path is reported (exit 2).
pub fn parsed(paths: &[PathBuf]) -> Result<ParsedProject, u8> {
    ParsedProject::load(paths).map_err(|e| {
        eprintln!("error: {e}");
        exit::USAGE
    })
}

/// Parses, checks and compiles a project; prints diagnostics (errors stop it: exit 1).
pub fn compile(paths: &[PathBuf]) -> Result<Program, u8> {
    compile_inner(paths, false)
}

/// A project with expression source text kept (`explain`, `graph`, `diff`, and the flow
/// diagrams of a run's report show conditions as written), or a `.jbc` as it is.
pub fn load_with_text(paths: &[PathBuf]) -> Result<Program, u8> {
    match paths {
        [single] if single.extension().is_some_and(|e| e == "jbc") => read_jbc(single),
        _ => compile_inner(paths, true),
    }
}

fn compile_inner(paths: &[PathBuf], keep_text: bool) -> Result<Program, u8> {
    compile_parsed(&parsed(paths)?, keep_text)
}

/// Checks and compiles an already parsed project; prints diagnostics (errors stop it: exit 1).
pub fn compile_parsed(project: &ParsedProject, keep_text: bool) -> Result<Program, u8> {
    let checked = journey_check::check(project);
    let diagnostics = journey_check::all_diagnostics(project, &checked);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!("{}", render_terminal(&project.sources, &diagnostics, color));
        eprintln!("error: {errors} error{} in the project; nothing was built (run `journey check` for details)", if errors == 1 { "" } else { "s" });
        return Err(exit::FAILED);
    }
    let files: Vec<(&str, &str)> = project.sources.iter().map(|(_, file)| (file.name.as_str(), file.text.as_str())).collect();
    let fingerprint = fingerprint(&files);
    if keep_text {
        let text = |span: journey_diagnostics::Span| project.sources.slice(span).split_whitespace().collect::<Vec<_>>().join(" ");
        return Ok(journey_codegen::compile_with_text(&checked.program, fingerprint, Some(&text)));
    }
    Ok(journey_codegen::compile(&checked.program, fingerprint))
}

/// The project's fingerprint (what a snapshot and a shard's partial results are checked
/// against): its files' texts and their paths relative to the deepest directory holding them
/// all. The same project read from another directory — `examples`, `./examples` or an absolute
/// path, another checkout, another machine running another shard — has the same fingerprint;
/// a file edited, added, removed or renamed gives another one.
pub fn fingerprint(files: &[(&str, &str)]) -> u64 {
    let dirs = files.iter().map(|(name, _)| Path::new(name).parent().map(|p| p.components().collect::<Vec<_>>()).unwrap_or_default());
    let common = dirs.reduce(|common, dir| common.iter().zip(&dir).take_while(|(a, b)| a == b).map(|(a, _)| *a).collect()).unwrap_or_default();
    let mut input = Vec::new();
    for (name, text) in files {
        let path = Path::new(name);
        // Every path starts with the common directory; components joined with `/`, so the
        // fingerprint is the same on every platform.
        let relative: Vec<String> = path.components().skip(common.len()).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        input.extend_from_slice(relative.join("/").as_bytes());
        input.push(0);
        input.extend_from_slice(text.as_bytes());
        input.push(0);
    }
    journey_bytecode::fnv1a(&input)
}

/// Reads and verifies a `.jbc` file.
pub fn read_jbc(path: &Path) -> Result<Program, u8> {
    let bytes = std::fs::read(path).map_err(|e| {
        eprintln!("error: {}: {}", path.display(), describe_io(&e));
        exit::USAGE
    })?;
    journey_bytecode::decode(&bytes).map_err(|e| {
        eprintln!("error: {}: {e}", path.display());
        exit::USAGE
    })
}

pub fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        std::io::ErrorKind::NotADirectory => "a part of the path is a file, not a directory".into(),
        std::io::ErrorKind::AlreadyExists => "exists and is not a directory".into(),
        std::io::ErrorKind::StorageFull => "no space left on the device".into(),
        std::io::ErrorKind::ReadOnlyFilesystem => "the file system is read-only".into(),
        _ => error.to_string(),
    }
}

/// `1 contact`, `2 contacts`: a count and its noun, for the tool's summaries.
pub fn plural(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Parses an RFC 3339 instant given on the command line.
pub fn instant_arg(flag: &str, text: &str) -> Result<i64, u8> {
    journey_runtime::input::parse_instant(text).map_err(|e| {
        eprintln!("error: {flag}: {e}");
        exit::USAGE
    })
}

/// The error for a `--journey` the project does not have: the name it probably meant, else
/// the names it has.
pub fn no_such_journey(program: &journey_bytecode::Program, name: &str) -> String {
    let names = program.journeys.iter().map(|j| j.name.as_str());
    match journey_diagnostics::suggest(name, names.clone()) {
        Some(meant) => format!("the project has no journey `{name}`; did you mean `{meant}`?"),
        None => {
            let all: Vec<&str> = names.collect();
            format!("the project has no journey `{name}`; it has: {}", if all.is_empty() { "none".to_string() } else { all.join(", ") })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn the_fingerprint_does_not_depend_on_where_the_project_is_read_from() {
        let of = |files: &[(&str, &str)]| fingerprint(files);
        let here = of(&[("examples/a.journey", "journey a {}"), ("examples/sub/b.journey", "journey b {}")]);
        for moved in [
            of(&[("./examples/a.journey", "journey a {}"), ("./examples/sub/b.journey", "journey b {}")]),
            of(&[("/srv/checkout/examples/a.journey", "journey a {}"), ("/srv/checkout/examples/sub/b.journey", "journey b {}")]),
            of(&[("a.journey", "journey a {}"), ("sub/b.journey", "journey b {}")]),
        ] {
            assert_eq!(moved, here);
        }
        // What the project is still counts: a file's text, its path within the project, a file more.
        assert_ne!(of(&[("examples/a.journey", "journey a { }"), ("examples/sub/b.journey", "journey b {}")]), here);
        assert_ne!(of(&[("examples/a.journey", "journey a {}"), ("examples/b.journey", "journey b {}")]), here);
        assert_ne!(of(&[("examples/a.journey", "journey a {}")]), of(&[("examples/c.journey", "journey a {}")]));
        assert_ne!(of(&[("examples/a.journey", "journey a {}")]), here);
        // One file: its name, wherever it is.
        assert_eq!(of(&[("/tmp/x/a.journey", "journey a {}")]), of(&[("a.journey", "journey a {}")]));
    }
}
