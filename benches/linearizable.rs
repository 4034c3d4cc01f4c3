//! Linearizability checker benchmarks: the Porcupine corpus (all 103 etcd
//! histories; the kv 50-client pair) and a generated 10,000-op single-key
//! register history from 10 clients.
//!
//!     cargo bench --bench linearizable

#[path = "common/register_gen.rs"]
mod register_gen;

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::checker::linearizable::check;
use faultline::checker::{Budget, Verdict};
use faultline::history::History;
use faultline::model::{ModelConfig, ModelKind};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/porcupine")
}

fn read(path: &Path) -> History {
    History::read_file(path, None).unwrap_or_else(|e| panic!("{e}"))
}

fn bench(c: &mut Criterion) {
    let cfg = ModelConfig::default();
    let budget = Budget::default();
    let etcd: Vec<History> = (0..103)
        .map(|i| read(&corpus().join(format!("etcd/etcd_{i:03}.log"))))
        .collect();
    let kv_ok = read(&corpus().join("kv/c50-ok.txt"));
    let kv_bad = read(&corpus().join("kv/c50-bad.txt"));
    let generated = register_gen::register_history(10_000, 10, 42);
    let verdict = |h: &History, m: ModelKind| check(h, m, &cfg, &budget).map(|r| r.verdict).ok();
    assert_eq!(verdict(&kv_ok, ModelKind::Kv), Some(Verdict::Valid));
    assert_eq!(verdict(&kv_bad, ModelKind::Kv), Some(Verdict::Invalid));
    assert_eq!(
        verdict(&generated, ModelKind::Register),
        Some(Verdict::Valid)
    );

    let mut g = c.benchmark_group("linearizable");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("etcd_all_103", |b| {
        b.iter(|| {
            etcd.iter()
                .filter(|h| {
                    check(h, ModelKind::CasRegister, &cfg, &budget)
                        .map(|r| r.verdict)
                        .ok()
                        == Some(Verdict::Invalid)
                })
                .count()
        })
    });
    g.bench_function("kv_c50_ok", |b| {
        b.iter(|| {
            check(&kv_ok, ModelKind::Kv, &cfg, &budget)
                .map(|r| r.verdict)
                .ok()
        })
    });
    g.bench_function("kv_c50_bad", |b| {
        b.iter(|| {
            check(&kv_bad, ModelKind::Kv, &cfg, &budget)
                .map(|r| r.verdict)
                .ok()
        })
    });
    g.bench_function("register_10k_ops_10_clients", |b| {
        b.iter(|| {
            check(&generated, ModelKind::Register, &cfg, &budget)
                .map(|r| r.verdict)
                .ok()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
