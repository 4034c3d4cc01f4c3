//! Operation generators: seeded, pure, one per worker.
//!
//! Each worker owns a [`Generator`] seeded from the workload seed and its
//! worker number, so a run's sequence of invocations depends only on the
//! workload file, never on timing. Written values are unique per key (worker
//! `w` of `c` writes `k*c + w + 1`), which lets the graph checkers infer write
//! order from reads. Keys rotate: a window of `keys` keys is live at a time
//! and moves on after about `ops_per_key` operations per key, so every key's
//! sub-history stays small enough for the linearizability search.
//!
//! [`final_reads`] lists the reads of the final phase (after faults heal):
//! every key any worker touched, to be read on every node, which is what the
//! lost-write and convergence checks need.

pub mod nemesis;

use crate::client::Invocation;
use crate::workload::{Mix, Workload, WorkloadKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::HashMap;

/// What every worker's generator shares: the workload's shape.
#[derive(Clone, Debug)]
pub struct GenSpec {
    pub kind: WorkloadKind,
    pub keys: usize,
    pub ops_per_key: usize,
    pub concurrency: usize,
    pub mix: Mix,
    pub seed: u64,
}

impl GenSpec {
    pub fn from_workload(w: &Workload) -> GenSpec {
        GenSpec {
            kind: w.workload,
            keys: w.keys,
            ops_per_key: w.ops_per_key,
            concurrency: w.concurrency,
            mix: w.mix.clone(),
            seed: w.seed,
        }
    }

    /// Operations one worker performs on one generation of keys.
    fn ops_per_generation(&self) -> u64 {
        ((self.keys * self.ops_per_key) / self.concurrency).max(1) as u64
    }
}

/// Mixes `seed` with `stream` into an independent seed (splitmix64).
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Cas,
    Add,
    Append,
}

/// One worker's stream of invocations.
#[derive(Clone, Debug)]
pub struct Generator {
    spec: GenSpec,
    worker: usize,
    rng: ChaCha8Rng,
    /// Operations generated so far.
    count: u64,
    /// Values written so far (for uniqueness).
    writes: u64,
    /// The last value this worker wrote to each live key (cas expectations).
    last_written: HashMap<i64, i64>,
    generation: u64,
    weights: Vec<(Kind, f64)>,
}

impl Generator {
    pub fn new(spec: &GenSpec, worker: usize) -> Generator {
        let m = &spec.mix;
        let weights: Vec<(Kind, f64)> = [
            (Kind::Read, m.read),
            (Kind::Write, m.write),
            (Kind::Cas, m.cas),
            (Kind::Add, m.add),
            (Kind::Append, m.append),
        ]
        .into_iter()
        .filter(|(_, w)| *w > 0.0)
        .collect();
        Generator {
            spec: spec.clone(),
            worker,
            rng: ChaCha8Rng::seed_from_u64(derive_seed(spec.seed, worker as u64 + 1)),
            count: 0,
            writes: 0,
            last_written: HashMap::new(),
            generation: 0,
            weights,
        }
    }

    /// The highest key generation this worker has reached.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn unique_value(&mut self) -> i64 {
        let v = self.writes * self.spec.concurrency as u64 + self.worker as u64 + 1;
        self.writes += 1;
        v as i64
    }

    fn pick_kind(&mut self) -> Kind {
        let total: f64 = self.weights.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.gen::<f64>() * total;
        for (k, w) in &self.weights {
            if x < *w {
                return *k;
            }
            x -= w;
        }
        self.weights.last().map_or(Kind::Read, |(k, _)| *k)
    }

    fn pick_key(&mut self) -> i64 {
        let g = self.count / self.spec.ops_per_generation();
        if g != self.generation {
            self.generation = g;
            self.last_written.clear();
        }
        (g * self.spec.keys as u64 + self.rng.gen_range(0..self.spec.keys as u64)) as i64
    }

    /// The next invocation.
    pub fn next_op(&mut self) -> Invocation {
        let key = self.pick_key();
        self.count += 1;
        match self.spec.kind {
            WorkloadKind::Register => match self.pick_kind() {
                Kind::Read => inv("read", Some(key), Value::Null),
                Kind::Cas => {
                    let expected = self
                        .last_written
                        .get(&key)
                        .map_or(Value::Null, |v| json!(v));
                    let new = self.unique_value();
                    self.last_written.insert(key, new);
                    inv("cas", Some(key), json!([expected, new]))
                }
                _ => {
                    let v = self.unique_value();
                    self.last_written.insert(key, v);
                    inv("write", Some(key), json!(v))
                }
            },
            WorkloadKind::Set => match self.pick_kind() {
                Kind::Read => inv("read", Some(key), Value::Null),
                _ => {
                    let v = self.unique_value();
                    inv("add", Some(key), json!(v))
                }
            },
            WorkloadKind::ListAppend | WorkloadKind::RwRegister => {
                let n = self.rng.gen_range(1..=self.spec.mix.txn_len);
                let mut micro = Vec::with_capacity(n);
                for i in 0..n {
                    let k = if i == 0 { key } else { self.pick_key() };
                    let m = match self.pick_kind() {
                        Kind::Read => json!(["r", k, null]),
                        _ if self.spec.kind == WorkloadKind::ListAppend => {
                            json!(["append", k, self.unique_value()])
                        }
                        _ => json!(["w", k, self.unique_value()]),
                    };
                    micro.push(m);
                }
                inv("txn", None, Value::Array(micro))
            }
        }
    }
}

fn inv(f: &str, key: Option<i64>, value: Value) -> Invocation {
    Invocation {
        f: f.to_string(),
        key: key.map(|k| json!(k)),
        value,
    }
}

/// The final phase's reads: one per key of generations `0..=max_generation`,
/// to be performed on every node.
pub fn final_reads(spec: &GenSpec, max_generation: u64) -> Vec<Invocation> {
    let n = (max_generation + 1) * spec.keys as u64;
    (0..n as i64)
        .map(|k| match spec.kind {
            WorkloadKind::Register | WorkloadKind::Set => inv("read", Some(k), Value::Null),
            WorkloadKind::ListAppend | WorkloadKind::RwRegister => {
                inv("txn", None, json!([["r", k, null]]))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn spec(kind: WorkloadKind) -> GenSpec {
        let w = crate::workload::parse(
            &format!(
                "db = \"sim\"\nworkload = \"{}\"\nconcurrency = 4\nkeys = 3\nops_per_key = 20\n",
                kind.as_str()
            ),
            "t",
            "t",
        )
        .unwrap();
        GenSpec::from_workload(&w)
    }

    #[test]
    fn same_seed_same_ops() {
        let s = spec(WorkloadKind::Register);
        let a: Vec<_> = {
            let mut g = Generator::new(&s, 1);
            (0..100).map(|_| g.next_op()).collect()
        };
        let mut g = Generator::new(&s, 1);
        let b: Vec<_> = (0..100).map(|_| g.next_op()).collect();
        assert_eq!(a, b);
        let mut g = Generator::new(&s, 2);
        let c: Vec<_> = (0..100).map(|_| g.next_op()).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn written_values_are_unique_across_workers() {
        for kind in [
            WorkloadKind::Register,
            WorkloadKind::Set,
            WorkloadKind::ListAppend,
        ] {
            let s = spec(kind);
            let mut seen = HashSet::new();
            for w in 0..4 {
                let mut g = Generator::new(&s, w);
                for _ in 0..500 {
                    let op = g.next_op();
                    let written: Vec<Value> = match op.f.as_str() {
                        "write" | "add" => vec![op.value.clone()],
                        "cas" => vec![op.value[1].clone()],
                        "txn" => op
                            .value
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter(|m| m[0] != "r")
                            .map(|m| m[2].clone())
                            .collect(),
                        _ => vec![],
                    };
                    for v in written {
                        assert!(seen.insert(v.to_string()), "{v} written twice");
                    }
                }
            }
            assert!(seen.len() > 500);
        }
    }

    #[test]
    fn keys_rotate_and_stay_small() {
        let s = spec(WorkloadKind::Register);
        let mut per_key: HashMap<String, usize> = HashMap::new();
        for w in 0..4 {
            let mut g = Generator::new(&s, w);
            for _ in 0..300 {
                let op = g.next_op();
                *per_key.entry(op.key.unwrap().to_string()).or_default() += 1;
            }
        }
        // 1200 ops over keys of 20 ops each on average: many keys, none huge.
        assert!(per_key.len() >= 40, "{}", per_key.len());
        assert!(per_key.values().all(|&n| n <= 60), "{per_key:?}");
        let finals = final_reads(&s, 19);
        assert_eq!(finals.len(), 60);
        let final_keys: HashSet<String> = finals
            .iter()
            .filter_map(|f| f.key.as_ref().map(|k| k.to_string()))
            .collect();
        assert!(per_key.keys().all(|k| final_keys.contains(k)));
    }
}
