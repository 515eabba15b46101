//! `journey build PATH... -o FILE.jbc` and `journey disasm FILE.jbc`.

use crate::{exit, project};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct BuildArgs {
    /// Files or directories (read recursively) that make up the project.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Where to write the bytecode.
    #[arg(short, long, value_name = "FILE.jbc")]
    output: PathBuf,
}

pub fn build(args: BuildArgs) -> u8 {
    let program = match project::compile(&args.paths) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let bytes = match journey_bytecode::encode(&program) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot encode the program: {e}");
            return exit::FAILED;
        }
    };
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        eprintln!("error: {}: {}", args.output.display(), project::describe_io(&e));
        return exit::USAGE;
    }
    let journeys = match program.journeys.len() {
        1 => "1 journey".to_string(),
        n => format!("{n} journeys"),
    };
    eprintln!("wrote {} ({} bytes, {journeys})", args.output.display(), bytes.len());
    exit::OK
}

#[derive(clap::Args)]
pub struct DisasmArgs {
    /// A bytecode file made by `journey build`.
    #[arg(value_name = "FILE.jbc")]
    file: PathBuf,
}

pub fn disasm(args: DisasmArgs) -> u8 {
    match project::read_jbc(&args.file) {
        Ok(program) => {
            print!("{}", journey_bytecode::disasm::disassemble(&program));
            exit::OK
        }
        Err(code) => code,
    }
}
