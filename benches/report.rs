//! The HTML report of a 100,000-operation register history (50 clients,
//! 8 keys, a partition every 20,000 events): how long rendering takes. The
//! page's size is printed once, and the page is written to the temporary
//! directory (`faultline-report-100k.html`) so it can be opened in a
//! browser to time loading.

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::checker::graph_register::simulate_register;
use faultline::checker::registry::{run_checks, CheckOptions};
use faultline::checker::Budget;
use faultline::history::{History, Op, OpType, Process};
use faultline::report::html::{render, RunInfo};
use serde_json::json;

/// Adds partition/heal pairs to a simulated history.
fn with_faults(h: History) -> History {
    let mut ops: Vec<Op> = Vec::with_capacity(h.ops().len() + 64);
    for (i, o) in h.into_ops().into_iter().enumerate() {
        let fault = match i % 20_000 {
            5_000 => Some(("partition", json!({"target": "halves"}))),
            12_000 => Some(("heal", json!(null))),
            _ => None,
        };
        if let Some((f, v)) = fault {
            let mut n = Op::new(0, Process::name("nemesis"), OpType::Info, f, v);
            n.time = o.time;
            ops.push(n);
        }
        ops.push(o);
    }
    for (i, o) in ops.iter_mut().enumerate() {
        o.index = i as u64;
    }
    History::new(ops)
}

fn bench(c: &mut Criterion) {
    let history = with_faults(simulate_register(1, 100_000, 50, 8));
    let opts = CheckOptions {
        workload: Some(faultline::checker::registry::CheckWorkload::Register),
        ..CheckOptions::default()
    };
    let results = run_checks(&history, &opts, &Budget::default()).expect("checks run");
    let info = RunInfo {
        title: "register, 100k operations".into(),
        meta: Vec::new(),
    };
    let page = render(&history, &results, &info);
    let path = std::env::temp_dir().join("faultline-report-100k.html");
    std::fs::write(&path, &page).expect("write the page");
    eprintln!(
        "report of {} events: {} bytes ({:.2} MB), written to {}",
        history.ops().len(),
        page.len(),
        page.len() as f64 / 1e6,
        path.display()
    );
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function("html_100k_ops_50_clients_8_keys", |b| {
        b.iter(|| render(&history, &results, &info).len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
