//! Generates the parser from `grammar/journey.lalrpop` at the workspace root.
fn main() {
    let grammar_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../grammar");
    println!("cargo:rerun-if-changed={}", grammar_dir.display());
    let result = lalrpop::Configuration::new()
        .set_in_dir(&grammar_dir)
        .set_out_dir(std::env::var("OUT_DIR").unwrap_or_default())
        .emit_rerun_directives(true)
        .process();
    if let Err(err) = result {
        eprintln!("lalrpop failed: {err}");
        std::process::exit(1);
    }
}
