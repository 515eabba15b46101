//! Front-end benchmarks: parse throughput (MB/s) over a large generated project.
//!
//! The input is the reference project's journeys replicated with renamed declarations until it
//! reaches about 10,000 lines — the size RUNTIME.md §6 sets the check-time target for.
//! Run: `cargo bench --bench frontend`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use journey_syntax::{parse, FileId};
use std::path::Path;

/// The example journeys, each copy with its names suffixed so the project stays valid.
fn generated_project(target_lines: usize) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .filter(|p| !p.ends_with("schema.journey"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    let mut out = std::fs::read_to_string(dir.join("schema.journey")).unwrap_or_default();
    let mut copy = 0;
    while out.lines().count() < target_lines {
        for text in &texts {
            out.push_str(&text.replace("journey ", &format!("journey c{copy}_")).replace("message ", &format!("message c{copy}_")));
            out.push('\n');
        }
        copy += 1;
    }
    out
}

fn parse_throughput(c: &mut Criterion) {
    let source = generated_project(10_000);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(source.len() as u64));
    group.bench_function("10k_lines", |b| {
        b.iter(|| {
            let (module, diagnostics) = parse(FileId(0), std::hint::black_box(&source));
            assert!(diagnostics.is_empty() || !module.items.is_empty());
            module.items.len()
        })
    });
    group.finish();
}

criterion_group!(benches, parse_throughput);
criterion_main!(benches);
