//! Elle checker benchmarks: the floor from the design brief.
//!
//! - 100,000 list-append transactions from 10 processes over 1,000 keys
//!   (a valid, concurrent history) checked for strict serializability;
//! - a strongly connected component of 10,000 transactions (a ww edge from
//!   the last transaction back to the first closes every real-time path) in
//!   which a concrete G0-realtime and G-single-item-realtime cycle must be
//!   named (Elle names, per component, each type not implied by one found),
//!   the same component with one block of every data anomaly spliced in, and
//!   a component of 10,000 transactions held together by data edges alone
//!   (the first transaction's read and the last one's append of key 0).
//!
//! Run with `cargo bench --bench elle`.

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::checker::elle::gen::{list_append, GenOptions, Injection};
use faultline::checker::elle::{analyze, Anomaly};
use faultline::checker::Budget;
use std::time::Duration;

fn large_valid(c: &mut Criterion) {
    let opts = GenOptions {
        txns: 100_000,
        processes: 10,
        keys: 1000,
        concurrent: true,
        seed: 1,
        ..GenOptions::default()
    };
    let h = list_append(&opts, &[]);
    let mut g = c.benchmark_group("elle");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.bench_function("list-append 100k txns, 10 procs, 1000 keys", |b| {
        b.iter(|| {
            let a = analyze(&h, None, &Budget::default()).expect("analyze");
            assert!(a.anomaly_types.is_empty());
            a.edge_count
        })
    });
    g.finish();
}

fn big_component(c: &mut Criterion) {
    let ring = GenOptions {
        txns: 10_000,
        processes: 10,
        keys: 100,
        concurrent: true,
        wrap_around: true,
        seed: 3,
        ..GenOptions::default()
    };
    let h = list_append(&ring, &[]);
    let data: Vec<(usize, Injection)> = [
        Injection::G0,
        Injection::G1c,
        Injection::GSingle,
        Injection::G2Item,
        Injection::G1a,
        Injection::G1b,
        Injection::LostUpdate,
        Injection::Internal,
        Injection::DuplicateElements,
        Injection::IncompatibleOrder,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, x)| (500 + i * 900, x))
    .collect();
    let h2 = list_append(&ring, &data);
    let mut g = c.benchmark_group("elle");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("10k-txn SCC, every realtime cycle type", |b| {
        b.iter(|| {
            let a = analyze(&h, None, &Budget::default()).expect("analyze");
            assert!(a.largest_component >= 10_000);
            for t in [Anomaly::G0Realtime, Anomaly::GSingleRealtime] {
                assert!(!a.anomalies[&t][0].edges.is_empty(), "{t}");
            }
            a.anomaly_types.len()
        })
    });
    g.bench_function("10k-txn SCC, every data anomaly type", |b| {
        b.iter(|| {
            let a = analyze(&h2, None, &Budget::default()).expect("analyze");
            assert!(a.largest_component >= 10_000);
            for t in [
                Anomaly::G0,
                Anomaly::GSingle,
                Anomaly::G1a,
                Anomaly::G1b,
                Anomaly::LostUpdate,
                Anomaly::Internal,
                Anomaly::DuplicateElements,
                Anomaly::IncompatibleOrder,
            ] {
                assert!(a.anomaly_types.contains(&t), "{t}: {:?}", a.anomaly_types);
            }
            a.anomaly_types.len()
        })
    });
    let data_ring = GenOptions {
        wrap_around: false,
        wrap_with_data: true,
        ..ring.clone()
    };
    let h3 = list_append(&data_ring, &[]);
    g.bench_function("10k-txn SCC of data edges, G2-item", |b| {
        b.iter(|| {
            let a = analyze(&h3, None, &Budget::default()).expect("analyze");
            assert!(a.largest_component >= 10_000);
            assert!(!a.anomalies[&Anomaly::G2Item][0].edges.is_empty());
            a.anomaly_types.len()
        })
    });
    g.finish();
}

criterion_group!(benches, large_valid, big_component);
criterion_main!(benches);
