//! Graph checkers on large simulated register histories: 100,000 operations
//! from 50 clients on one key, and 1,000,000 operations over 1,000 keys.
//! Each history is generated inside its benchmark, so filtering by name
//! (`cargo bench --bench graph -- 100k`) measures one size's memory alone.

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::checker::graph_register::{simulate_register, GraphRegisterChecker};
use faultline::checker::lost_write::{simulate_set, LostWriteChecker};
use faultline::checker::session::SessionChecker;
use faultline::checker::stale_read::StaleReadChecker;
use faultline::checker::{Budget, Checker, Verdict};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("graph");
    g.sample_size(10);
    g.bench_function("register_100k_ops_50_clients_1_key", |b| {
        let h = simulate_register(1, 100_000, 50, 1);
        b.iter(|| {
            let r = GraphRegisterChecker::new().check(&h, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.bench_function("stale_read_100k_ops_50_clients_1_key", |b| {
        let h = simulate_register(1, 100_000, 50, 1);
        b.iter(|| {
            let r = StaleReadChecker::new().check(&h, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.bench_function("session_100k_ops_50_clients_1_key", |b| {
        let h = simulate_register(1, 100_000, 50, 1);
        b.iter(|| {
            let r = SessionChecker::new().check(&h, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.bench_function("lost_write_100k_ops_50_clients_1_key", |b| {
        let h = simulate_register(1, 100_000, 50, 1);
        b.iter(|| {
            let r = LostWriteChecker::new().check(&h, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.bench_function("lost_write_set_10k_ops_10_clients", |b| {
        // About 5,000 reads of a set growing to 5,000 elements: 12.5M
        // element observations.
        let h = simulate_set(3, 10_000, 10, 0.5);
        b.iter(|| {
            let r = LostWriteChecker::new().check(&h, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.bench_function("register_1m_ops_1000_keys", |b| {
        let h = simulate_register(2, 1_000_000, 50, 1_000);
        b.iter(|| {
            let r = GraphRegisterChecker::new().check(&h, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.bench_function("register_1m_ops_1000_keys_prepaired", |b| {
        let h = simulate_register(2, 1_000_000, 50, 1_000);
        let ops = h.operations().expect("pairs");
        b.iter(|| {
            let r = GraphRegisterChecker::new().check_ops(ops, None, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
