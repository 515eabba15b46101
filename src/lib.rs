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

/// Compiles every `.journey` file of a directory (recursively, in project order).
pub fn compile_dir(dir: &std::path::Path) -> Result<Program, String> {
    let files = journey_syntax::project::collect_files(&[dir.to_path_buf()]).map_err(|e| e.to_string())?;
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|p| Ok((p.display().to_string(), journey_syntax::project::read_source(p).map_err(|e| e.to_string())?)))
        .collect::<Result<_, String>>()?;
    let refs: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    compile(&refs)
}

/// The reference project in `examples/`, compiled.
pub fn examples() -> Result<Program, String> {
    compile_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
}

/// The VM bench's reference journey (`benches/reference.journey`), compiled against the example
/// schema without its policy (quiet hours and caps would need hand-writing in the baseline too).
pub fn reference() -> Result<Program, String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).map_err(|e| format!("{path}: {e}"));
    let schema = read("examples/schema.journey")?;
    let schema = schema.split("policy {").next().unwrap_or_default();
    compile(&[("schema.journey", schema), ("reference.journey", &read("benches/reference.journey")?)])
}

/// Evaluates JSON-lines `input` over `[earliest, until)` and returns the action lines.
pub fn evaluate(program: &Program, input: &str, until: &str, threads: usize) -> (Vec<String>, Vec<journey_runtime::Reject>) {
    let evaluation = evaluation(program, input, until, threads);
    (journey_runtime::action_lines(program, &evaluation), evaluation.rejects)
}

/// [`evaluate`]'s whole result: actions per contact, rejects, and what the run counted.
pub fn evaluation(program: &Program, input: &str, until: &str, threads: usize) -> journey_runtime::Evaluation {
    let until = journey_runtime::input::parse_instant(until).unwrap_or(i64::MAX);
    let decoder = journey_runtime::input::Decoder::new(program);
    let mut cohort = journey_runtime::Cohort::new(None, until);
    let _ = cohort.ingest(&decoder, "input.jsonl", std::io::Cursor::new(input));
    let window = journey_runtime::Window { until, threads, shard: None, holdouts: true, snapshot: false };
    journey_runtime::evaluate(program, cohort, &window)
}

/// A valid project: the example schema plus `n` generated journeys, each with its own messages
/// and a mix of every step kind.
pub fn generated_journeys(from: usize, n: usize) -> String {
    let mut out = String::new();
    for i in from..from + n {
        out.push_str(&format!(
            r#"message g{i}_a email {{ subject "Hi {{contact.first_name ?? "there"}}, offer {i}", template "t{i}" }}
message g{i}_b sms {{ body "{{if contact.plan == pro}}Pro{{else}}Free{{end}} deal {i}" }}
message g{i}_c push {{ title "Cart", body "{{trigger.sku}} is waiting" }}

/// Generated journey {i}.
journey g{i} "Generated {i}" {{
  kind behavioral
  entry on cart_updated where event.total >= {i}.0
  reentry after 7d
  exit on unsubscribed
  goal bought on purchase where event.total > 0
  limit 30d
  priority {i}

  first: send g{i}_a
  wait 1d
  if contact.score > {i} and has page_viewed where event.url == "/p/{i}" within 3d {{
    send g{i}_b
  }} else if contact.plan == pro {{
    sync retarget_ads add
  }} else {{
    experiment g{i}_exp measure bought {{
      a 50% {{ send g{i}_c }}
      b 50% {{ }}
    }}
  }}
  wait for purchase where event.sku == trigger.sku within 2d {{
    set contact.lifetime_value = contact.lifetime_value + event.total
  }} timeout {{
    webhook crm_create_task
  }}
  match contact.region {{
    emea => {{ wait until 09:00 }}
    amer | apac => {{ wait 12h }}
  }}
  split {{ 50% {{ }} 50% {{ exit "control" }} }}
}}

"#
        ));
    }
    out
}

/// The reference project's schema and policy (`examples/schema.journey`).
pub fn schema() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/schema.journey")).unwrap_or_default()
}
