//! `journey explain PROJECT --input FILE... --until T --contact ID [--journey NAME]`.

use crate::{exit, project};
use clap::ValueEnum;
use journey_runtime::Cohort;
use journey_runtime::input::Decoder;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The project: a directory, `.journey` files, or a `.jbc`.
    #[arg(required = true, value_name = "PROJECT")]
    project: Vec<PathBuf>,
    /// JSON-lines input files (`-` is standard input; `.gz` is read as gzip).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    input: Vec<String>,
    /// End of the window (exclusive).
    #[arg(long, value_name = "T")]
    until: String,
    /// The contact to explain (its `userId`).
    #[arg(long, value_name = "ID")]
    contact: String,
    /// Only this journey's lines (records are always shown).
    #[arg(long, value_name = "NAME")]
    journey: Option<String>,
    /// `text` or `json`: one object per line, with `at`, `kind` (`record`, `timer`, `condition`,
    /// `held` — a send held by quiet hours — or `action`), `journey` and `text`.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> u8 {
    let until = match project::instant_arg("--until", &args.until) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let program = match project::load_with_text(&args.project) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(j) = &args.journey
        && !program.journeys.iter().any(|x| &x.name == j)
    {
        eprintln!("error: {}", project::no_such_journey(&program, j));
        return exit::USAGE;
    }
    let decoder = Decoder::new(&program);
    let mut cohort = Cohort::new(None, until);
    if let Err(e) = crate::run::check_inputs(&args.input) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    for name in &args.input {
        let file = match crate::run::open_raw(name) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
        if let Err(e) = cohort.ingest(&decoder, name, crate::run::records_of(name, file, None)) {
            eprintln!("error: {name}: {e}");
            return exit::USAGE;
        }
    }
    let undeclared = std::mem::take(&mut cohort.undeclared);
    let mut inputs = cohort.into_inputs();
    let Some(found) = inputs.iter().position(|(c, _)| *c == args.contact) else {
        let hint = match journey_diagnostics::suggest(&args.contact, inputs.iter().map(|(c, _)| c.as_str())) {
            Some(s) => format!("; did you mean {s:?}?"),
            None => String::new(),
        };
        let read = if inputs.len() == 1 { "1 contact read".to_string() } else { format!("{} contacts read", inputs.len()) };
        eprintln!("error: contact {:?} has no records in the input before --until ({read}){hint}", args.contact);
        // Its records may all name events the project does not declare.
        if let Some(note) = undeclared.undeclared_note(&program) {
            eprintln!("{note}");
        }
        return exit::USAGE;
    };
    let (_, input) = inputs.swap_remove(found);
    let lines = journey_test::explain::explain(&program, &args.contact, input, until, args.journey.as_deref());
    match args.format {
        Format::Text => print!("{}", journey_test::explain::to_text(&lines)),
        Format::Json => lines.iter().for_each(|line| println!("{}", line.to_json())),
    }
    exit::OK
}
