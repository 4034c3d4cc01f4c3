//! Graph checkers on large simulated register histories: 100,000 operations
//! from 50 clients on one key, and 1,000,000 operations over 1,000 keys.

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::checker::graph_register::{simulate_register, GraphRegisterChecker};
use faultline::checker::stale_read::StaleReadChecker;
use faultline::checker::{Budget, Checker, Verdict};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("graph");
    g.sample_size(10);
    let one_key = simulate_register(1, 100_000, 50, 1);
    let ops = one_key.operations().expect("pairs");
    g.bench_function("register_100k_ops_50_clients_1_key", |b| {
        b.iter(|| {
            let r = GraphRegisterChecker::new().check_ops(&ops, None, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.bench_function("stale_read_100k_ops_50_clients_1_key", |b| {
        b.iter(|| {
            let r = StaleReadChecker::new().check(&one_key, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    drop(ops);
    drop(one_key);
    let many = simulate_register(2, 1_000_000, 50, 1_000);
    g.bench_function("register_1m_ops_1000_keys_pair_and_check", |b| {
        b.iter(|| {
            let r = GraphRegisterChecker::new().check(&many, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
