//! Ingest speed of the history readers, in MB/s of input text: JSONL and EDN,
//! for a register history (200,000 operations over 100 keys, 50 clients) and a
//! list-append history (20,000 transactions, 10 processes, 1,000 keys).
//! Each is measured with the default thread pool (every core) and on a
//! one-thread pool, so the per-core speed is visible beside the parallel one.
//!
//!     cargo bench --bench ingest
//!
//! Only parsing is timed: the text is generated and written once, outside the
//! measured loop, and each iteration checks that every event was read.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faultline::checker::elle::gen::{list_append, GenOptions};
use faultline::checker::graph_register::simulate_register;
use faultline::history::{Format, History};
use std::time::Duration;

/// The allocator the `faultline` binary uses, so the figures are its figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "common/edn_writer.rs"]
mod edn_writer;

/// One input of the benchmark: its name, format and text, and how many
/// events the reader must return.
struct Input {
    name: String,
    format: Format,
    text: String,
    events: usize,
}

fn inputs() -> Vec<Input> {
    let register = simulate_register(7, 200_000, 50, 100);
    let append = list_append(
        &GenOptions {
            txns: 20_000,
            processes: 10,
            keys: 1000,
            concurrent: true,
            seed: 3,
            ..GenOptions::default()
        },
        &[],
    );
    let mut out = Vec::new();
    for (shape, h) in [("register_200k", &register), ("list_append_20k", &append)] {
        let mut jsonl = Vec::new();
        h.write_jsonl(&mut jsonl)
            .expect("writing to memory cannot fail");
        let jsonl = String::from_utf8(jsonl).expect("write_jsonl writes UTF-8");
        let mut edn = String::new();
        edn_writer::write_edn(h, &mut edn);
        let events = h.ops().len();
        out.push(Input {
            name: format!("{shape}_jsonl"),
            format: Format::Jsonl,
            text: jsonl,
            events,
        });
        out.push(Input {
            name: format!("{shape}_edn"),
            format: Format::Edn,
            text: edn,
            events,
        });
    }
    out
}

fn parse(input: &Input) {
    let h = History::parse_str(&input.text, "x", Some(input.format))
        .unwrap_or_else(|e| panic!("{}: {e}", input.name));
    assert_eq!(h.ops().len(), input.events, "{}", input.name);
}

fn bench(c: &mut Criterion) {
    faultline::allocator::configure();
    let inputs = inputs();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let cores = rayon::current_num_threads();
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    for input in &inputs {
        g.throughput(Throughput::Bytes(input.text.len() as u64));
        g.bench_with_input(
            BenchmarkId::new(&input.name, format!("{cores}_threads")),
            input,
            |b, input| b.iter(|| parse(input)),
        );
        g.bench_with_input(
            BenchmarkId::new(&input.name, "1_thread"),
            input,
            |b, input| b.iter(|| one_thread.install(|| parse(input))),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
