//! Front-end benchmarks over a generated 10,000-line project (the size RUNTIME.md §6 sets the
//! check-time target for: ≤ 100 ms):
//! - `parse/10k_lines`: lexing + parsing, reported as throughput (MB/s);
//! - `check/10k_lines`: parse + name resolution + types + logic checks of the whole project;
//! - `check/edit_one_file`: re-parse one edited file of a 10-file project and re-check it (the
//!   language server's path).
//!
//! Run: `cargo bench --bench frontend`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use journey_syntax::project::ParsedProject;
use journey_syntax::{FileId, parse};

use journey::{generated_journeys as journeys, schema};

fn project_of(files: &[String]) -> ParsedProject {
    let mut project = ParsedProject::default();
    for (i, text) in files.iter().enumerate() {
        project.add(format!("f{i}.journey"), text.clone());
    }
    project
}

fn frontend(c: &mut Criterion) {
    // ~43 lines per journey: ~262 journeys + schema ≈ 10,000 lines.
    let source = schema() + &journeys(0, 262);
    let lines = source.lines().count();
    let single = vec![source.clone()];
    let checked = journey_check::check(&project_of(&single));
    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "generated project has errors: {errors:?}");
    eprintln!("generated project: {lines} lines, {} bytes", source.len());

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(source.len() as u64));
    group.bench_function("10k_lines", |b| b.iter(|| parse(FileId(0), std::hint::black_box(&source)).0.items.len()));
    group.finish();

    let mut group = c.benchmark_group("check");
    group.bench_function("10k_lines", |b| {
        b.iter(|| {
            let project = project_of(&single);
            journey_check::check(&project).diagnostics.len()
        })
    });
    // Ten files of 23 journeys: edit one, re-parse it, re-check the project.
    let mut files = vec![schema()];
    files.extend((0..10).map(|f| journeys(f * 23, 23)));
    let mut project = project_of(&files);
    let edited = files[5].replace("wait 1d", "wait 2d");
    group.bench_function("edit_one_file", |b| {
        b.iter(|| {
            project.replace(FileId(5), edited.clone());
            journey_check::check(&project).diagnostics.len()
        })
    });
    group.finish();
}

criterion_group!(benches, frontend);
criterion_main!(benches);
