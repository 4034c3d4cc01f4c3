//! Linearizability checker benchmarks: the Porcupine corpus (all 103 etcd
//! histories; the kv 50-client pair) and a generated 10,000-op single-key
//! register history from 10 clients.
//!
//!     cargo bench --bench linearizable

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::checker::linearizable::check;
use faultline::checker::{Budget, Verdict};
use faultline::history::{History, Op, OpType, Process};
use faultline::model::ModelConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/porcupine")
}

fn read(path: &Path) -> History {
    History::read_file(path, None).unwrap_or_else(|e| panic!("{e}"))
}

/// A register history that is linearizable by construction: `clients`
/// clients invoke reads and writes of unique values on one atomic register;
/// each op takes effect at a random moment between its invoke and its
/// completion. About 1% of ops time out (`info`, and take effect or not)
/// and 1% of writes fail (and do not take effect).
pub fn register_history(ops: usize, clients: usize, seed: u64) -> History {
    struct Pending {
        write: Option<i64>,
        result: Option<Value>,
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut value = Value::Null;
    let mut pids: Vec<i64> = (0..clients as i64).collect();
    let mut next_pid = clients as i64;
    let mut pending: Vec<Option<Pending>> = (0..clients).map(|_| None).collect();
    let mut events: Vec<Op> = Vec::with_capacity(2 * ops);
    let mut invoked = 0;
    let mut next_value = 0i64;
    let push = |events: &mut Vec<Op>, p: i64, t: OpType, f: &str, v: Value| {
        let mut o = Op::new(events.len() as u64, Process::Id(p), t, f, v);
        o.line = events.len() + 1;
        events.push(o);
    };
    while invoked < ops || pending.iter().any(Option::is_some) {
        let c = rng.gen_range(0..clients);
        match pending[c].take() {
            None if invoked < ops => {
                invoked += 1;
                let write = rng.gen_bool(0.5).then(|| {
                    next_value += 1;
                    next_value
                });
                match write {
                    Some(v) => push(&mut events, pids[c], OpType::Invoke, "write", json!(v)),
                    None => push(&mut events, pids[c], OpType::Invoke, "read", Value::Null),
                }
                pending[c] = Some(Pending {
                    write,
                    result: None,
                });
            }
            None => {}
            Some(mut p) => {
                let apply = |p: &mut Pending, value: &mut Value| {
                    if p.result.is_none() {
                        p.result = Some(match p.write {
                            Some(v) => {
                                *value = json!(v);
                                json!(v)
                            }
                            None => value.clone(),
                        });
                    }
                };
                if rng.gen_bool(0.5) {
                    // Takes effect now; completes later.
                    apply(&mut p, &mut value);
                    pending[c] = Some(p);
                    continue;
                }
                let f = if p.write.is_some() { "write" } else { "read" };
                if rng.gen_bool(0.01) {
                    if rng.gen_bool(0.5) {
                        apply(&mut p, &mut value);
                    }
                    let v = p.write.map_or(Value::Null, |v| json!(v));
                    push(&mut events, pids[c], OpType::Info, f, v);
                    pids[c] = next_pid;
                    next_pid += 1;
                } else if p.write.is_some() && p.result.is_none() && rng.gen_bool(0.02) {
                    push(&mut events, pids[c], OpType::Fail, f, json!(p.write));
                } else {
                    apply(&mut p, &mut value);
                    push(
                        &mut events,
                        pids[c],
                        OpType::Ok,
                        f,
                        p.result.unwrap_or(Value::Null),
                    );
                }
            }
        }
    }
    History::new(events)
}

fn bench(c: &mut Criterion) {
    let cfg = ModelConfig::default();
    let budget = Budget::default();
    let etcd: Vec<History> = (0..103)
        .map(|i| read(&corpus().join(format!("etcd/etcd_{i:03}.log"))))
        .collect();
    let kv_ok = read(&corpus().join("kv/c50-ok.txt"));
    let kv_bad = read(&corpus().join("kv/c50-bad.txt"));
    let generated = register_history(10_000, 10, 42);
    let verdict = |h: &History, m: &str| check(h, m, &cfg, &budget).map(|r| r.verdict).ok();
    assert_eq!(verdict(&kv_ok, "kv"), Some(Verdict::Valid));
    assert_eq!(verdict(&kv_bad, "kv"), Some(Verdict::Invalid));
    assert_eq!(verdict(&generated, "register"), Some(Verdict::Valid));

    let mut g = c.benchmark_group("linearizable");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("etcd_all_103", |b| {
        b.iter(|| {
            etcd.iter()
                .filter(|h| {
                    check(h, "cas-register", &cfg, &budget)
                        .map(|r| r.verdict)
                        .ok()
                        == Some(Verdict::Invalid)
                })
                .count()
        })
    });
    g.bench_function("kv_c50_ok", |b| {
        b.iter(|| check(&kv_ok, "kv", &cfg, &budget).map(|r| r.verdict).ok())
    });
    g.bench_function("kv_c50_bad", |b| {
        b.iter(|| check(&kv_bad, "kv", &cfg, &budget).map(|r| r.verdict).ok())
    });
    g.bench_function("register_10k_ops_10_clients", |b| {
        b.iter(|| {
            check(&generated, "register", &cfg, &budget)
                .map(|r| r.verdict)
                .ok()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
