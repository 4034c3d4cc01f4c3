//! Generated histories of an atomic register whose clients crash: the
//! workload that makes linearizability checking hard, reproducible from a
//! seed, for the tests, the benchmark and `examples/crashed_histories.rs`.
//!
//! The simulation is Jepsen's: `clients` workers issue reads, writes and
//! compare-and-sets of small values against one atomic register. Each
//! operation takes effect at a random moment between its invoke and its
//! completion. A fraction of the writes and cas *crash*: the client
//! records `info` and is replaced by a fresh process id (a crashed process
//! never issues another op, as in Jepsen). A crashed op either never takes
//! effect, or takes effect at a random moment after its invoke — possibly
//! long after the `info` was recorded, as a request stuck in a queue would.
//! So the history is linearizable by construction. A planted violation,
//! when asked for, is a read at the very end (after every client has
//! finished) that returns the register's initial value, null, which no
//! operation writes: a stale read that no crashed op can explain.

use crate::history::{History, Op, OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// What to generate.
#[derive(Clone, Debug)]
pub struct CrashedRegister {
    /// Operations invoked by the clients (the planted read not counted).
    pub ops: usize,
    pub clients: usize,
    /// Values are `0..values`.
    pub values: i64,
    /// Fraction of writes and cas that crash.
    pub crash_rate: f64,
    /// Fraction of ops that are reads; the rest are split evenly between
    /// writes and cas.
    pub read_rate: f64,
    /// Append a stale read of null at the end (makes the history not
    /// linearizable, provided some write or cas succeeded before it).
    pub stale_read_at_end: bool,
    pub seed: u64,
}

impl CrashedRegister {
    /// The issue-9 workload: values 0–4, 20 clients, 10% of writes and cas
    /// crash, a third of the ops reads.
    pub fn new(ops: usize, seed: u64) -> CrashedRegister {
        CrashedRegister {
            ops,
            clients: 20,
            values: 5,
            crash_rate: 0.1,
            read_rate: 1.0 / 3.0,
            stale_read_at_end: false,
            seed,
        }
    }
}

#[derive(Clone, Copy)]
enum Call {
    Read,
    Write(i64),
    Cas(i64, i64),
}

struct Pending {
    call: Call,
    /// What it returned, once it took effect (`Some(false)`: a failed cas).
    effect: Option<(Value, bool)>,
    crash: bool,
}

fn apply(call: Call, reg: &mut Value) -> (Value, bool) {
    match call {
        Call::Read => (reg.clone(), true),
        Call::Write(v) => {
            *reg = json!(v);
            (json!(v), true)
        }
        Call::Cas(a, b) => {
            if *reg == json!(a) {
                *reg = json!(b);
                (json!([a, b]), true)
            } else {
                (json!([a, b]), false)
            }
        }
    }
}

/// Generates the history described by `g`. Lines are numbered as in the
/// JSONL file [`History::write_jsonl`] writes.
pub fn crashed_register_history(g: &CrashedRegister) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(g.seed);
    let clients = g.clients.max(1);
    let values = g.values.max(1);
    let mut reg = Value::Null;
    let mut pids: Vec<i64> = (0..clients as i64).collect();
    let mut next_pid = clients as i64;
    let mut slots: Vec<Option<Pending>> = (0..clients).map(|_| None).collect();
    // Crashed ops that will still take effect: (at event count, call).
    let mut zombies: Vec<(usize, Call)> = Vec::new();
    let mut events: Vec<Op> = Vec::with_capacity(2 * g.ops + 2);
    let mut invoked = 0usize;
    let push = |events: &mut Vec<Op>, pid: i64, t: OpType, f: &str, v: Value| {
        let mut o = Op::new(events.len() as u64, Process::id(pid), t, f, v);
        o.line = (events.len() + 1) as u32;
        events.push(o);
    };
    let window = 10 * clients;
    while invoked < g.ops || slots.iter().any(Option::is_some) {
        // Crashed ops whose moment has come take effect first.
        let now = events.len();
        zombies.retain(|&(at, call)| {
            if at <= now {
                apply(call, &mut reg);
                false
            } else {
                true
            }
        });
        let c = rng.gen_range(0..clients);
        match slots[c].take() {
            None if invoked < g.ops => {
                invoked += 1;
                let call = if rng.gen_bool(g.read_rate.clamp(0.0, 1.0)) {
                    Call::Read
                } else if rng.gen_bool(0.5) {
                    Call::Write(rng.gen_range(0..values))
                } else {
                    Call::Cas(rng.gen_range(0..values), rng.gen_range(0..values))
                };
                let (f, v) = match call {
                    Call::Read => ("read", Value::Null),
                    Call::Write(v) => ("write", json!(v)),
                    Call::Cas(a, b) => ("cas", json!([a, b])),
                };
                push(&mut events, pids[c], OpType::Invoke, f, v);
                let crash =
                    !matches!(call, Call::Read) && rng.gen_bool(g.crash_rate.clamp(0.0, 1.0));
                slots[c] = Some(Pending {
                    call,
                    effect: None,
                    crash,
                });
            }
            None => {}
            Some(mut p) => {
                if p.effect.is_none() && rng.gen_bool(0.5) {
                    // Takes effect now; completes at a later turn.
                    p.effect = Some(apply(p.call, &mut reg));
                    slots[c] = Some(p);
                    continue;
                }
                let (f, input) = match p.call {
                    Call::Read => ("read", Value::Null),
                    Call::Write(v) => ("write", json!(v)),
                    Call::Cas(a, b) => ("cas", json!([a, b])),
                };
                if p.crash {
                    // If it has not taken effect yet: never, or at a
                    // random moment from now on.
                    if p.effect.is_none() && rng.gen_bool(0.5) {
                        zombies.push((events.len() + rng.gen_range(0..window), p.call));
                    }
                    push(&mut events, pids[c], OpType::Info, f, input);
                    pids[c] = next_pid;
                    next_pid += 1;
                    continue;
                }
                let (out, ok) = p.effect.unwrap_or_else(|| apply(p.call, &mut reg));
                let t = if ok { OpType::Ok } else { OpType::Fail };
                push(&mut events, pids[c], t, f, out);
            }
        }
    }
    if g.stale_read_at_end {
        let pid = next_pid;
        push(&mut events, pid, OpType::Invoke, "read", Value::Null);
        push(&mut events, pid, OpType::Ok, "read", Value::Null);
    }
    History::new(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    #[test]
    fn crashes_replace_the_process_and_the_end_read_is_null() {
        let mut g = CrashedRegister::new(2000, 3);
        g.stale_read_at_end = true;
        let h = crashed_register_history(&g);
        let ops = h.operations().expect("pairs");
        assert_eq!(ops.len(), 2001);
        let info: Vec<_> = ops.iter().filter(|o| o.outcome == Outcome::Info).collect();
        let writes_and_cas = ops.iter().filter(|o| o.f != "read").count();
        // About 10% of the writes and cas crash, and only those.
        assert!(info.iter().all(|o| o.f != "read"));
        let rate = info.len() as f64 / writes_and_cas as f64;
        assert!((0.06..0.14).contains(&rate), "crash rate {rate}");
        // A crashed process never invokes again.
        for o in &info {
            assert!(!ops
                .iter()
                .any(|p| p.process == o.process && p.invoke() > o.invoke()));
        }
        let last = ops.last().expect("ops");
        assert_eq!(
            (last.f.as_str(), &last.output),
            ("read", &crate::history::Val::Nil)
        );
        // Same seed, same history.
        assert_eq!(crashed_register_history(&g).ops().len(), h.ops().len());
    }
}
