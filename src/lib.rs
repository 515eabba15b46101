//! Root package: glue used by the top-level tests and benchmarks — compile a project from source
//! text and evaluate JSON-lines input with it, in memory.

use journey_bytecode::Program;
use journey_syntax::project::ParsedProject;

/// Parses, checks and compiles `files` (name, text). Returns the rendered diagnostics on errors.
pub fn compile(files: &[(&str, &str)]) -> Result<Program, String> {
    let mut project = ParsedProject::default();
    for (name, text) in files {
        project.add(name.to_string(), text.to_string());
    }
    let checked = journey_check::check(&project);
    let diagnostics = journey_check::all_diagnostics(&project, &checked);
    if diagnostics.iter().any(|d| d.is_error()) {
        return Err(journey_diagnostics::render_terminal(&project.sources, &diagnostics, false));
    }
    let fingerprint = journey_bytecode::fnv1a(files.iter().map(|(n, t)| format!("{n}\0{t}")).collect::<String>().as_bytes());
    Ok(journey_codegen::compile(&checked.program, fingerprint))
}

/// Evaluates JSON-lines `input` over `[earliest, until)` and returns the action lines.
pub fn evaluate(program: &Program, input: &str, until: &str, threads: usize) -> (Vec<String>, Vec<journey_runtime::Reject>) {
    let until = journey_runtime::input::parse_instant(until).unwrap_or(i64::MAX);
    let decoder = journey_runtime::input::Decoder::new(program);
    let mut cohort = journey_runtime::Cohort::new(None, until);
    let _ = cohort.ingest(&decoder, "input.jsonl", std::io::Cursor::new(input));
    let window = journey_runtime::Window { until, threads, shard: None, holdouts: true };
    let evaluation = journey_runtime::evaluate(program, cohort, &window);
    (journey_runtime::action_lines(program, &evaluation), evaluation.rejects)
}
