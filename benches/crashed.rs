//! The crashed-client register workload of issue 9 (values 0–4, 20
//! clients, 10% of writes and cas crash; see
//! `faultline::checker::linearizable::gen`): the crashed-client search on
//! valid histories of 1k to 50k ops and on the 5k history with a planted
//! stale read, and the plain search beside it where it finishes quickly.
//!
//!     cargo bench --bench crashed
//!
//! Whole-process figures (time and peak RSS) come from the CLI on the same
//! histories, written by `cargo run --release --example crashed_histories`.

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::checker::linearizable::gen::{crashed_register_history, CrashedRegister};
use faultline::checker::linearizable::{check_register_ops, PartitionVerdict, RegisterSearch};
use faultline::checker::Budget;
use faultline::history::Operation;
use faultline::model::{CasRegister, ModelConfig};
use std::time::Duration;

fn ops(n: usize, stale: bool) -> Vec<Operation> {
    let mut g = CrashedRegister::new(n, 1);
    g.stale_read_at_end = stale;
    crashed_register_history(&g)
        .operations()
        .unwrap_or_else(|e| panic!("generated history pairs: {e}"))
        .to_vec()
}

fn decide(model: &CasRegister, ops: &[Operation], which: RegisterSearch) -> bool {
    match check_register_ops(model, ops, &Budget::default(), which)
        .unwrap_or_else(|e| panic!("{e}"))
        .verdict
    {
        PartitionVerdict::Linearizable { .. } => true,
        PartitionVerdict::NotLinearizable(_) => false,
        PartitionVerdict::Unknown { reason } => panic!("unknown: {reason}"),
    }
}

fn bench(c: &mut Criterion) {
    let model = CasRegister::new(&ModelConfig::default());
    let mut g = c.benchmark_group("crashed");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [1_000, 10_000, 50_000] {
        let h = ops(n, false);
        assert!(decide(&model, &h, RegisterSearch::Crashed));
        g.bench_function(format!("crashed_search_valid_{n}"), |b| {
            b.iter(|| decide(&model, &h, RegisterSearch::Crashed))
        });
    }
    let stale = ops(5_000, true);
    assert!(!decide(&model, &stale, RegisterSearch::Crashed));
    g.bench_function("crashed_search_stale_read_5000", |b| {
        b.iter(|| decide(&model, &stale, RegisterSearch::Crashed))
    });
    let h = ops(2_000, false);
    assert!(decide(&model, &h, RegisterSearch::Plain));
    g.bench_function("plain_search_valid_2000", |b| {
        b.iter(|| decide(&model, &h, RegisterSearch::Plain))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
