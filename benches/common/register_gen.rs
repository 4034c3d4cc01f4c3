//! A generator of single-register histories that are linearizable by
//! construction, shared by the benchmarks, the corpus example and the
//! tests (included with `#[path]`).

use faultline::history::{History, Op, OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

const INFO_RATE: f64 = 0.01;

/// A register history that is linearizable by construction: `clients`
/// clients invoke reads and writes of unique values on one atomic register;
/// each op takes effect at a random moment between its invoke and its
/// completion. About 1% of ops time out (`info`, and take effect or not)
/// and 1% of writes fail (and do not take effect).
#[allow(dead_code)]
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
        let mut o = Op::new(events.len() as u64, Process::id(p), t, f, v);
        o.line = (events.len() + 1) as u32;
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
                if rng.gen_bool(INFO_RATE) {
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
