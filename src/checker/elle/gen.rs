//! Synthetic list-append histories for tests and benchmarks.
//!
//! [`list_append`] simulates a serial list-append store driven by several
//! processes, so its histories are strict-serializable by construction, and
//! can splice in hand-built blocks of transactions that exhibit exactly one
//! anomaly type ([`Injection`]). Each block works on fresh keys, so it does
//! not interact with the rest of the history, and ends with a reader that
//! reveals the keys' final version orders.

use crate::history::{History, Op, OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Shape of a generated history.
#[derive(Clone, Debug)]
pub struct GenOptions {
    pub txns: usize,
    pub processes: usize,
    pub keys: usize,
    /// Micro-ops per transaction: 1..=max_mops.
    pub max_mops: usize,
    /// Probability that a micro-op is a read.
    pub read_fraction: f64,
    /// Overlap transactions of different processes (otherwise every
    /// transaction completes before the next is invoked).
    pub concurrent: bool,
    /// Tie every transaction into one strongly connected component: a
    /// transaction at the start is ordered (ww) after one at the end.
    pub wrap_around: bool,
    /// Close the loop with data edges only: the first transaction reads key
    /// 0 empty (rw to its first appender) and the last appends to key 0 (ww
    /// from its previous appender) but misses the first's append (rw back):
    /// a G2-item whose component of data edges spans the history.
    pub wrap_with_data: bool,
    pub seed: u64,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            txns: 1000,
            processes: 5,
            keys: 20,
            max_mops: 4,
            read_fraction: 0.5,
            concurrent: true,
            wrap_around: false,
            wrap_with_data: false,
            seed: 0,
        }
    }
}

/// A block of transactions showing one anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injection {
    /// Two concurrent transactions append to x and y in opposite orders.
    G0,
    /// A read observes an append of a failed transaction.
    G1a,
    /// A read observes the first of a transaction's two appends to a key.
    G1b,
    /// Two concurrent transactions each read the other's append.
    G1c,
    /// Read skew: a read misses one of a transaction's appends but sees another.
    GSingle,
    /// Write skew: two concurrent transactions each miss the other's append.
    G2Item,
    /// Two concurrent transactions read the same version of x and append to it.
    LostUpdate,
    /// A transaction misses the append of one that completed before it began.
    GSingleRealtime,
    /// Like `GSingleRealtime`, both on one process.
    GSingleProcess,
    /// A later transaction's append is ordered before an earlier one's.
    G0Realtime,
    /// A transaction reads an append of one that began after it completed.
    G1cRealtime,
    /// A transaction does not read back its own append.
    Internal,
    /// A read contains an element twice.
    DuplicateElements,
    /// Two reads of a key that are not prefixes of each other.
    IncompatibleOrder,
    /// A transaction reads its own later append.
    FutureRead,
    /// Long fork: T1 sees T4's append but misses T2's, T3 sees T2's but
    /// misses T4's (rw, wr, rw, wr: two nonadjacent rw edges).
    LongFork,
    /// Write skew whose appends no read ever shows: each is ordered after
    /// the longest version read, so each reader misses the other's append.
    UnreadWriteSkew,
    /// A committed append on top of a failed one in a key's version order.
    DirtyUpdate,
}

impl Injection {
    pub const ALL: [Injection; 18] = [
        Injection::G0,
        Injection::G1a,
        Injection::G1b,
        Injection::G1c,
        Injection::GSingle,
        Injection::G2Item,
        Injection::LostUpdate,
        Injection::GSingleRealtime,
        Injection::GSingleProcess,
        Injection::G0Realtime,
        Injection::G1cRealtime,
        Injection::Internal,
        Injection::DuplicateElements,
        Injection::IncompatibleOrder,
        Injection::LongFork,
        Injection::FutureRead,
        Injection::UnreadWriteSkew,
        Injection::DirtyUpdate,
    ];
}

struct Emitter {
    ops: Vec<Op>,
}

impl Emitter {
    fn push(&mut self, process: i64, t: OpType, value: Value) {
        let index = self.ops.len() as u64;
        let mut op = Op::new(index, Process::id(process), t, "txn", value);
        op.line = (self.ops.len() + 1) as u32;
        self.ops.push(op);
    }
}

/// Micro-ops with reads blanked, as on an invoke.
fn blank(mops: &Value) -> Value {
    match mops.as_array() {
        Some(a) => Value::Array(
            a.iter()
                .map(|m| match m.as_array() {
                    Some(p) if p.first() == Some(&json!("r")) => json!(["r", p[1], null]),
                    _ => m.clone(),
                })
                .collect(),
        ),
        None => mops.clone(),
    }
}

/// A block: transactions (process, completion type, micro-ops with results)
/// and the order of events, `(txn, is_invoke)`.
struct Block {
    txns: Vec<(i64, OpType, Value)>,
    events: Vec<(usize, bool)>,
}

fn seq(n: usize) -> Vec<(usize, bool)> {
    (0..n).flat_map(|i| [(i, true), (i, false)]).collect()
}

/// Two transactions overlapping, then the rest one after another.
fn overlap2(n: usize) -> Vec<(usize, bool)> {
    let mut e = vec![(0, true), (1, true), (0, false), (1, false)];
    e.extend((2..n).flat_map(|i| [(i, true), (i, false)]));
    e
}

fn block(inj: Injection, base_proc: i64, key_base: u64, val: &mut i64) -> Block {
    let x = json!(format!("x{key_base}"));
    let y = json!(format!("y{key_base}"));
    let mut v = || {
        *val += 1;
        *val
    };
    let (s1, s2) = (v(), v());
    let (a, b) = (v(), v());
    let (p0, p1, p2) = (base_proc, base_proc + 1, base_proc + 2);
    let ok = OpType::Ok;
    let setup = (p2, ok, json!([["append", x, s1], ["append", y, s2]]));
    use Injection::*;
    type Parts = (Vec<(i64, OpType, Value)>, Vec<(usize, bool)>);
    let (txns, events): Parts = match inj {
        G0 => (
            vec![
                (p0, ok, json!([["append", x, a], ["append", y, a]])),
                (p1, ok, json!([["append", x, b], ["append", y, b]])),
                setup,
                (p2, ok, json!([["r", x, [s1, a, b]], ["r", y, [s2, b, a]]])),
            ],
            vec![
                (2, true),
                (2, false),
                (0, true),
                (1, true),
                (0, false),
                (1, false),
                (3, true),
                (3, false),
            ],
        ),
        G1a => (
            vec![
                setup,
                (p0, OpType::Fail, json!([["append", x, a]])),
                (p1, ok, json!([["r", x, [s1, a]]])),
            ],
            seq(3),
        ),
        G1b => (
            vec![
                setup,
                (p0, ok, json!([["append", x, a], ["append", x, b]])),
                (p1, ok, json!([["r", x, [s1, a]]])),
                (p2, ok, json!([["r", x, [s1, a, b]]])),
            ],
            seq(4),
        ),
        G1c => (
            vec![
                (p0, ok, json!([["append", x, a], ["r", y, [s2, b]]])),
                (p1, ok, json!([["append", y, b], ["r", x, [s1, a]]])),
                setup,
                (p2, ok, json!([["r", x, [s1, a]], ["r", y, [s2, b]]])),
            ],
            vec![
                (2, true),
                (2, false),
                (0, true),
                (1, true),
                (0, false),
                (1, false),
                (3, true),
                (3, false),
            ],
        ),
        GSingle => (
            vec![
                (p0, ok, json!([["append", x, a], ["append", y, b]])),
                (p1, ok, json!([["r", x, [s1]], ["r", y, [s2, b]]])),
                setup,
                (p2, ok, json!([["r", x, [s1, a]], ["r", y, [s2, b]]])),
            ],
            vec![
                (2, true),
                (2, false),
                (0, true),
                (1, true),
                (0, false),
                (1, false),
                (3, true),
                (3, false),
            ],
        ),
        G2Item => (
            vec![
                (p0, ok, json!([["r", x, [s1]], ["append", y, b]])),
                (p1, ok, json!([["r", y, [s2]], ["append", x, a]])),
                setup,
                (p2, ok, json!([["r", x, [s1, a]], ["r", y, [s2, b]]])),
            ],
            vec![
                (2, true),
                (2, false),
                (0, true),
                (1, true),
                (0, false),
                (1, false),
                (3, true),
                (3, false),
            ],
        ),
        LostUpdate => (
            vec![
                (p0, ok, json!([["r", x, [s1]], ["append", x, a]])),
                (p1, ok, json!([["r", x, [s1]], ["append", x, b]])),
                setup,
                (p2, ok, json!([["r", x, [s1, a, b]]])),
            ],
            vec![
                (2, true),
                (2, false),
                (0, true),
                (1, true),
                (0, false),
                (1, false),
                (3, true),
                (3, false),
            ],
        ),
        GSingleRealtime | GSingleProcess => {
            let reader = if inj == GSingleProcess { p0 } else { p1 };
            (
                vec![
                    setup,
                    (p0, ok, json!([["append", x, a]])),
                    (reader, ok, json!([["r", x, [s1]]])),
                    (p2, ok, json!([["r", x, [s1, a]]])),
                ],
                seq(4),
            )
        }
        G0Realtime => (
            vec![
                setup,
                (p0, ok, json!([["append", x, a]])),
                (p1, ok, json!([["append", x, b]])),
                (p2, ok, json!([["r", x, [s1, b, a]]])),
            ],
            seq(4),
        ),
        G1cRealtime => (
            vec![
                setup,
                (p0, ok, json!([["append", x, a], ["r", y, [s2, b]]])),
                (p1, ok, json!([["append", y, b]])),
                (p2, ok, json!([["r", x, [s1, a]], ["r", y, [s2, b]]])),
            ],
            seq(4),
        ),
        Internal => (
            vec![
                setup,
                (p0, ok, json!([["append", x, a], ["r", x, [s1]]])),
                (p1, ok, json!([["r", x, [s1, a]]])),
            ],
            seq(3),
        ),
        DuplicateElements => (
            vec![
                setup,
                (p0, ok, json!([["append", x, a]])),
                (p1, ok, json!([["r", x, [s1, a, a]]])),
            ],
            seq(3),
        ),
        FutureRead => (
            vec![
                setup,
                (p0, ok, json!([["r", x, [s1, a]], ["append", x, a]])),
                (p1, ok, json!([["r", x, [s1, a]]])),
            ],
            seq(3),
        ),
        LongFork => {
            let z = json!(format!("z{key_base}"));
            let w = json!(format!("w{key_base}"));
            let (s3, s4, c, d) = (v(), v(), v(), v());
            (
                vec![
                    (
                        p2,
                        ok,
                        json!([
                            ["append", x, s1],
                            ["append", y, s2],
                            ["append", z, s3],
                            ["append", w, s4]
                        ]),
                    ),
                    (p0, ok, json!([["r", x, [s1]], ["r", w, [s4, d]]])),
                    (p1, ok, json!([["append", x, a], ["append", y, b]])),
                    (p0 + 3, ok, json!([["r", y, [s2, b]], ["r", z, [s3]]])),
                    (p0 + 4, ok, json!([["append", z, c], ["append", w, d]])),
                    (
                        p2,
                        ok,
                        json!([
                            ["r", x, [s1, a]],
                            ["r", y, [s2, b]],
                            ["r", z, [s3, c]],
                            ["r", w, [s4, d]]
                        ]),
                    ),
                ],
                vec![
                    (0, true),
                    (0, false),
                    (1, true),
                    (2, true),
                    (3, true),
                    (4, true),
                    (1, false),
                    (2, false),
                    (3, false),
                    (4, false),
                    (5, true),
                    (5, false),
                ],
            )
        }
        UnreadWriteSkew => (
            vec![
                setup,
                (p0, ok, json!([["r", y, [s2]], ["append", x, a]])),
                (p1, ok, json!([["r", x, [s1]], ["append", y, b]])),
            ],
            {
                let mut e = vec![(0, true), (0, false)];
                e.extend([(1, true), (2, true), (1, false), (2, false)]);
                e
            },
        ),
        DirtyUpdate => (
            vec![
                setup,
                (p0, OpType::Fail, json!([["append", x, a]])),
                (p1, ok, json!([["append", x, b]])),
                (p2, ok, json!([["r", x, [s1, a, b]]])),
            ],
            seq(4),
        ),
        IncompatibleOrder => (
            vec![
                (p0, ok, json!([["append", x, a]])),
                (p1, ok, json!([["append", x, b]])),
                setup,
                (p2, ok, json!([["r", x, [s1, a]]])),
                (p2 + 1, ok, json!([["r", x, [s1, b]]])),
            ],
            {
                let mut e = vec![(2, true), (2, false)];
                e.extend(overlap2(2));
                e.extend([(3, true), (3, false), (4, true), (4, false)]);
                e
            },
        ),
    };
    Block { txns, events }
}

/// Generates a list-append history: `opts.txns` transactions of a serial
/// store, with `injections` spliced in after the given numbers of
/// transactions. Injected blocks use processes from 1,000,000 up, so they
/// never collide with the generator's processes.
pub fn list_append(opts: &GenOptions, injections: &[(usize, Injection)]) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut em = Emitter { ops: Vec::new() };
    let mut store: HashMap<u64, Vec<i64>> = HashMap::new();
    let mut next_val: HashMap<u64, i64> = HashMap::new();
    let mut val: i64 = 1_000_000_000;
    let procs = opts.processes.max(1);
    let mut injections: Vec<(usize, Injection)> = injections.to_vec();
    injections.sort_by_key(|i| i.0);
    let mut inj_iter = injections.into_iter().peekable();
    let mut block_no: u64 = 0;
    let ring_key = json!("ring");
    if opts.wrap_with_data {
        let v = json!([["append", ring_key, 1], ["r", 0, []]]);
        em.push(2_000_000, OpType::Invoke, blank(&v));
        em.push(2_000_000, OpType::Ok, v);
    }
    if opts.wrap_around {
        em.push(2_000_000, OpType::Invoke, json!([["append", ring_key, 1]]));
        em.push(2_000_000, OpType::Ok, json!([["append", ring_key, 1]]));
    }
    // Each process's pending transaction: (key, is_read) and the values
    // its appends were invoked with.
    type Shape = Vec<(u64, bool)>;
    let mut pending: Vec<Option<(Shape, Vec<i64>)>> = vec![None; procs];
    let mut new_shape = |rng: &mut ChaCha8Rng| -> (Shape, Vec<i64>) {
        let n = rng.gen_range(1..=opts.max_mops.max(1));
        let shape: Shape = (0..n)
            .map(|_| {
                (
                    rng.gen_range(0..opts.keys.max(1) as u64),
                    rng.gen_bool(opts.read_fraction.clamp(0.0, 1.0)),
                )
            })
            .collect();
        let vals = shape
            .iter()
            .map(|&(k, r)| {
                if r {
                    0
                } else {
                    let c = next_val.entry(k).or_insert(0);
                    *c += 1;
                    *c
                }
            })
            .collect();
        (shape, vals)
    };
    let shape_value = |shape: &[(u64, bool)], vals: &[Value]| -> Value {
        Value::Array(
            shape
                .iter()
                .zip(vals)
                .map(|(&(k, r), v)| {
                    if r {
                        json!(["r", k, v])
                    } else {
                        json!(["append", k, v])
                    }
                })
                .collect(),
        )
    };
    let invoke_value = |shape: &[(u64, bool)], vals: &[i64]| -> Value {
        let vs: Vec<Value> = shape
            .iter()
            .zip(vals)
            .map(|(&(_, r), &v)| if r { Value::Null } else { json!(v) })
            .collect();
        shape_value(shape, &vs)
    };
    let execute =
        |store: &mut HashMap<u64, Vec<i64>>, shape: &[(u64, bool)], vals: &[i64]| -> Value {
            let out: Vec<Value> = shape
                .iter()
                .zip(vals)
                .map(|(&(k, r), &v)| {
                    let list = store.entry(k).or_default();
                    if r {
                        json!(list.clone())
                    } else {
                        list.push(v);
                        json!(v)
                    }
                })
                .collect();
            shape_value(shape, &out)
        };
    let mut done = 0usize;
    while done < opts.txns {
        while let Some(&(at, inj)) = inj_iter.peek() {
            if at > done {
                break;
            }
            inj_iter.next();
            let b = block(inj, 1_000_000 + 10 * block_no as i64, block_no, &mut val);
            block_no += 1;
            for (t, is_invoke) in b.events {
                let (p, ty, v) = &b.txns[t];
                if is_invoke {
                    em.push(*p, OpType::Invoke, blank(v));
                } else {
                    em.push(*p, *ty, v.clone());
                }
            }
        }
        let p = if opts.concurrent {
            rng.gen_range(0..procs)
        } else {
            done % procs
        };
        let (shape, vals) = match pending[p].take() {
            Some(s) => s,
            None => {
                let (shape, vals) = new_shape(&mut rng);
                em.push(p as i64, OpType::Invoke, invoke_value(&shape, &vals));
                if opts.concurrent {
                    // Invoked now, executed when the process is next picked.
                    pending[p] = Some((shape, vals));
                    continue;
                }
                (shape, vals)
            }
        };
        let value = execute(&mut store, &shape, &vals);
        em.push(p as i64, OpType::Ok, value);
        done += 1;
    }
    // Complete whatever is still pending by running it.
    for (p, slot) in pending.iter_mut().enumerate() {
        if let Some((shape, vals)) = slot.take() {
            let value = execute(&mut store, &shape, &vals);
            em.push(p as i64, OpType::Ok, value);
        }
    }
    if opts.wrap_with_data {
        let v = json!([["r", ring_key, []], ["append", 0, -1]]);
        em.push(2_000_003, OpType::Invoke, blank(&v));
        em.push(2_000_003, OpType::Ok, v);
        let mut k0 = store.get(&0).cloned().unwrap_or_default();
        k0.push(-1);
        let v = json!([["r", ring_key, [1]], ["r", 0, k0]]);
        em.push(2_000_004, OpType::Invoke, blank(&v));
        em.push(2_000_004, OpType::Ok, v);
    }
    if opts.wrap_around {
        em.push(2_000_001, OpType::Invoke, json!([["append", ring_key, 2]]));
        em.push(2_000_001, OpType::Ok, json!([["append", ring_key, 2]]));
        em.push(2_000_002, OpType::Invoke, json!([["r", ring_key, null]]));
        em.push(2_000_002, OpType::Ok, json!([["r", ring_key, [2, 1]]]));
    }
    History::new(em.ops)
}

/// Anomaly blocks for rw-register histories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterInjection {
    /// Write skew: both read x and y, one writes y, the other x.
    G2Item,
    /// Read skew: a read sees a transaction's write to y but not to x.
    GSingle,
    /// Two concurrent transactions each read the other's write.
    G1c,
    /// A read of a value written by a failed transaction.
    G1a,
    /// A read of a value its writer overwrote in the same transaction.
    G1b,
    /// Two transactions read x and both write it: each also misses the
    /// other's write, so this is a G2-item cycle too.
    LostUpdate,
}

impl RegisterInjection {
    pub const ALL: [RegisterInjection; 6] = [
        RegisterInjection::G2Item,
        RegisterInjection::GSingle,
        RegisterInjection::G1c,
        RegisterInjection::G1a,
        RegisterInjection::G1b,
        RegisterInjection::LostUpdate,
    ];
}

fn register_block(inj: RegisterInjection, base_proc: i64, key_base: u64, val: &mut i64) -> Block {
    let x = json!(format!("x{key_base}"));
    let y = json!(format!("y{key_base}"));
    let mut v = || {
        *val += 1;
        *val
    };
    let (s1, s2, a, b) = (v(), v(), v(), v());
    let (p0, p1, p2) = (base_proc, base_proc + 1, base_proc + 2);
    let ok = OpType::Ok;
    let setup = (p2, ok, json!([["w", x, s1], ["w", y, s2]]));
    let both = vec![
        (2, true),
        (2, false),
        (0, true),
        (1, true),
        (0, false),
        (1, false),
        (3, true),
        (3, false),
    ];
    use RegisterInjection::*;
    let (txns, events) = match inj {
        G2Item => (
            vec![
                (p0, ok, json!([["r", x, s1], ["r", y, s2], ["w", y, b]])),
                (p1, ok, json!([["r", x, s1], ["r", y, s2], ["w", x, a]])),
                setup,
                (p2, ok, json!([["r", x, a], ["r", y, b]])),
            ],
            both,
        ),
        GSingle => (
            vec![
                (
                    p0,
                    ok,
                    json!([["r", x, s1], ["w", x, a], ["r", y, s2], ["w", y, b]]),
                ),
                (p1, ok, json!([["r", x, s1], ["r", y, b]])),
                setup,
                (p2, ok, json!([["r", x, a], ["r", y, b]])),
            ],
            both,
        ),
        G1c => (
            vec![
                (p0, ok, json!([["w", x, a], ["r", y, b]])),
                (p1, ok, json!([["w", y, b], ["r", x, a]])),
                setup,
                (p2, ok, json!([["r", x, a], ["r", y, b]])),
            ],
            both,
        ),
        G1a => (
            vec![
                setup,
                (p0, OpType::Fail, json!([["w", x, a]])),
                (p1, ok, json!([["r", x, a]])),
            ],
            seq(3),
        ),
        G1b => (
            vec![
                setup,
                (p0, ok, json!([["w", x, a], ["w", x, b]])),
                (p1, ok, json!([["r", x, a]])),
            ],
            seq(3),
        ),
        LostUpdate => (
            vec![
                (p0, ok, json!([["r", x, s1], ["w", x, a]])),
                (p1, ok, json!([["r", x, s1], ["w", x, b]])),
                setup,
                (p2, ok, json!([["r", x, b]])),
            ],
            both,
        ),
    };
    Block { txns, events }
}

/// Generates a sequential rw-register history of a serial store (each
/// transaction completes before the next begins): reads return the current
/// value, writes write values unique per key, and a transaction often reads
/// a key before writing it, which is what orders versions.
pub fn rw_register(opts: &GenOptions, injections: &[(usize, RegisterInjection)]) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut em = Emitter { ops: Vec::new() };
    let mut store: HashMap<u64, i64> = HashMap::new();
    let mut next: i64 = 0;
    let mut val: i64 = 1_000_000_000;
    let mut injections: Vec<(usize, RegisterInjection)> = injections.to_vec();
    injections.sort_by_key(|i| i.0);
    let mut inj_iter = injections.into_iter().peekable();
    let mut block_no = 0u64;
    let procs = opts.processes.max(1);
    for done in 0..opts.txns {
        while let Some(&(at, inj)) = inj_iter.peek() {
            if at > done {
                break;
            }
            inj_iter.next();
            let b = register_block(inj, 1_000_000 + 10 * block_no as i64, block_no, &mut val);
            block_no += 1;
            for (t, is_invoke) in b.events {
                let (p, ty, v) = &b.txns[t];
                if is_invoke {
                    em.push(*p, OpType::Invoke, blank(v));
                } else {
                    em.push(*p, *ty, v.clone());
                }
            }
        }
        let n = rng.gen_range(1..=opts.max_mops.max(1));
        let mut mops = Vec::with_capacity(n);
        for _ in 0..n {
            let k = rng.gen_range(0..opts.keys.max(1) as u64);
            if rng.gen_bool(opts.read_fraction.clamp(0.0, 1.0)) {
                mops.push(json!(["r", k, store.get(&k)]));
            } else {
                if rng.gen_bool(0.5) {
                    mops.push(json!(["r", k, store.get(&k)]));
                }
                next += 1;
                store.insert(k, next);
                mops.push(json!(["w", k, next]));
            }
        }
        let p = (done % procs) as i64;
        let value = Value::Array(mops);
        em.push(p, OpType::Invoke, blank(&value));
        em.push(p, OpType::Ok, value);
    }
    History::new(em.ops)
}
