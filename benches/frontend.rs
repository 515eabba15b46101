//! Front-end benchmarks over a generated 10,000-line project (the size RUNTIME.md §6 sets the
//! check-time target for: ≤ 100 ms):
//! - `parse/10k_lines`: lexing + parsing, reported as throughput (MB/s);
//! - `check/10k_lines`: parse + name resolution + types + logic checks of the whole project;
//! - `check/edit_one_file`: re-parse one edited file of a 10-file project and re-check it (the
//!   language server's path).
//! Run: `cargo bench --bench frontend`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use journey_syntax::project::ParsedProject;
use journey_syntax::{parse, FileId};
use std::path::Path;

/// A valid project: the example schema plus `n` generated journeys, each with its own messages
/// and a mix of every step kind.
fn journeys(from: usize, n: usize) -> String {
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

fn schema() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/schema.journey")).unwrap_or_default()
}

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
