//! The linearizability checker: hand-made histories with known answers,
//! a brute-force checker compared with the search on thousands of random
//! small histories, and the Porcupine corpus.

use faultline::checker::linearizable::gen::{crashed_register_history, CrashedRegister};
use faultline::checker::linearizable::{
    check, check_ops, check_register_ops, LinError, LinearizableChecker, PartitionResult,
    PartitionVerdict, RegisterSearch,
};
use faultline::checker::{Budget, Checker, Verdict};
use faultline::history::{Format, History, Op, OpType, Operation, Outcome, Process, Val};
use faultline::model::{
    CasRegister, FifoQueue, Kv, Model, ModelConfig, ModelKind, Mutex, NilRead, Register, Set,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn jsonl(text: &str) -> History {
    History::parse_str(text, "t.jsonl", Some(Format::Jsonl)).expect("test history parses")
}

fn cfg() -> ModelConfig {
    ModelConfig::default()
}

fn run(text: &str, model: &str) -> faultline::checker::CheckResult {
    let model: ModelKind = model.parse().expect("a model name");
    check(&jsonl(text), model, &cfg(), &Budget::default()).expect("check runs")
}

// ---------------------------------------------------------------- hand-made

#[test]
fn overlapping_write_and_read_is_linearizable() {
    let r = run(
        r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"ok","f":"read","value":1}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":1}"#,
        "register",
    );
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.summary);
    assert!(
        r.summary
            .starts_with("linearizable: 3 operations over 1 key"),
        "{}",
        r.summary
    );
}

#[test]
fn stale_read_is_explained_with_lines_prefix_and_state() {
    let h = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":0,"type":"invoke","f":"write","value":2}
{"process":0,"type":"ok","f":"write","value":2}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":1}"#;
    let r = run(h, "register");
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        r.summary
            .contains("process 1's read → 1 (lines 5–6) cannot be linearized"),
        "{}",
        r.summary
    );
    assert!(
        r.explanation
            .contains("longest linearizable prefix found has 2 operations"),
        "{}",
        r.explanation
    );
    assert!(
        r.explanation.contains("after it the register holds 2"),
        "{}",
        r.explanation
    );
    assert!(
        r.explanation.contains("No operation is concurrent with it"),
        "{}",
        r.explanation
    );
    let f = &r.details["failures"][0];
    assert_eq!(f["op"]["line"], json!(5));
    assert_eq!(f["op"]["complete_line"], json!(6));
    assert_eq!(f["prefix_length"], json!(2));
    assert_eq!(f["prefix"][1]["value"], json!(2));
    assert_eq!(f["states"], json!(["2"]));
}

#[test]
fn indeterminate_write_may_take_effect_late_or_never() {
    let late = r#"{"process":0,"type":"invoke","f":"write","value":3}
{"process":0,"type":"info","f":"write","value":3}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":null}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":3}"#;
    assert_eq!(run(late, "register").verdict, Verdict::Valid);
    // Never completed at all: the same.
    let pending = r#"{"process":0,"type":"invoke","f":"write","value":3}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":3}"#;
    assert_eq!(run(pending, "register").verdict, Verdict::Valid);
    // But not before its invoke.
    let early = r#"{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":3}
{"process":0,"type":"invoke","f":"write","value":3}
{"process":0,"type":"info","f":"write","value":3}"#;
    assert_eq!(run(early, "register").verdict, Verdict::Invalid);
    // And once it happened it cannot be undone: 3 then null is impossible.
    let undone = r#"{"process":0,"type":"invoke","f":"write","value":3}
{"process":0,"type":"info","f":"write","value":3}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":3}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":null}"#;
    let r = run(undone, "register");
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        r.explanation
            .contains("process 0's write 3 (indeterminate, lines 1–2)"),
        "{}",
        r.explanation
    );
}

#[test]
fn failed_write_did_not_happen() {
    let h = r#"{"process":0,"type":"invoke","f":"write","value":3}
{"process":0,"type":"fail","f":"write","value":3}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":3}"#;
    let r = run(h, "register");
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.details["dropped"], json!(1));
    assert!(
        r.explanation.contains(
            "No operation can be linearized before it: initially the register holds null"
        ),
        "{}",
        r.explanation
    );
}

#[test]
fn cas_register_semantics() {
    let ok = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":0,"type":"invoke","f":"cas","value":[1,2]}
{"process":1,"type":"invoke","f":"cas","value":[1,3]}
{"process":0,"type":"ok","f":"cas","value":[1,2]}
{"process":1,"type":"fail","f":"cas","value":[1,3]}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":2}"#;
    assert_eq!(run(ok, "cas-register").verdict, Verdict::Valid);
    // Two successful cas from the same expected value, with no write between.
    let both = ok.replace(r#""type":"fail","f":"cas""#, r#""type":"ok","f":"cas""#);
    let r = run(&both, "cas-register");
    assert_eq!(r.verdict, Verdict::Invalid, "{}", r.summary);
    assert!(r.explanation.contains("cas"), "{}", r.explanation);
}

#[test]
fn keys_are_checked_separately_and_the_failing_key_is_named() {
    let h = r#"{"process":0,"type":"invoke","f":"write","key":"a","value":1}
{"process":0,"type":"ok","f":"write","key":"a","value":1}
{"process":1,"type":"invoke","f":"read","key":"b","value":null}
{"process":1,"type":"ok","f":"read","key":"b","value":1}
{"process":1,"type":"invoke","f":"read","key":"a","value":null}
{"process":1,"type":"ok","f":"read","key":"a","value":1}"#;
    let r = run(h, "register");
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        r.summary
            .contains("key b: process 1's read → 1 (lines 3–4)"),
        "{}",
        r.summary
    );
    assert_eq!(r.details["keys"], json!(2));
    assert_eq!(r.details["failures"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.details["failures"][0]["key"], json!("b"));
    // Without the bad key, valid: the write to a does not leak into b.
    let good: String = h
        .lines()
        .filter(|l| !l.contains("\"b\""))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(run(&good, "register").verdict, Verdict::Valid);
}

#[test]
fn concurrent_ops_are_listed() {
    let h = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":1,"type":"invoke","f":"write","value":2}
{"process":2,"type":"invoke","f":"read","value":null}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"ok","f":"write","value":2}
{"process":2,"type":"ok","f":"read","value":7}
{"process":3,"type":"invoke","f":"write","value":5}
{"process":3,"type":"ok","f":"write","value":5}"#;
    let r = run(h, "register");
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        r.explanation
            .contains("process 2's read → 7 (lines 3–6) cannot be linearized"),
        "{}",
        r.explanation
    );
    assert!(
        r.explanation.contains(
            "Concurrent with it: process 0's write 1 (lines 1–4), process 1's write 2 (lines 2–5)."
        ),
        "{}",
        r.explanation
    );
    assert!(
        r.explanation.contains("the register can be 2 or 1"),
        "{}",
        r.explanation
    );
    let f = &r.details["failures"][0];
    assert_eq!(f["concurrent_count"], json!(2));
    assert_eq!(f["states"], json!(["2", "1"]));
}

#[test]
fn nil_read_follows_the_config() {
    let h = jsonl(
        r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":null}"#,
    );
    let absent = check(&h, ModelKind::Register, &cfg(), &Budget::default()).unwrap();
    assert_eq!(absent.verdict, Verdict::Invalid);
    let unknown_cfg = ModelConfig {
        nil_read: NilRead::Unknown,
        ..cfg()
    };
    let unknown = check(&h, ModelKind::Register, &unknown_cfg, &Budget::default()).unwrap();
    assert_eq!(unknown.verdict, Verdict::Valid);
    let init = ModelConfig {
        initial: json!(0),
        ..cfg()
    };
    let h0 = jsonl(
        r#"{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":0}"#,
    );
    assert_eq!(
        check(&h0, ModelKind::Register, &init, &Budget::default())
            .unwrap()
            .verdict,
        Verdict::Valid
    );
    assert_eq!(
        check(&h0, ModelKind::Register, &cfg(), &Budget::default())
            .unwrap()
            .verdict,
        Verdict::Invalid
    );
}

#[test]
fn other_models_end_to_end() {
    let set = r#"{"process":0,"type":"invoke","f":"add","value":1}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":0,"type":"ok","f":"add","value":1}
{"process":1,"type":"ok","f":"read","value":[1]}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":[]}"#;
    assert_eq!(run(set, "set").verdict, Verdict::Invalid);
    let queue = r#"{"process":0,"type":"invoke","f":"enqueue","value":1}
{"process":0,"type":"ok","f":"enqueue","value":1}
{"process":0,"type":"invoke","f":"enqueue","value":2}
{"process":0,"type":"ok","f":"enqueue","value":2}
{"process":1,"type":"invoke","f":"dequeue","value":null}
{"process":1,"type":"ok","f":"dequeue","value":2}"#;
    let r = run(queue, "fifo-queue");
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        r.explanation
            .contains("the fifo-queue holds [1, 2] (head first)"),
        "{}",
        r.explanation
    );
    let mutex = r#"{"process":0,"type":"invoke","f":"acquire","value":null}
{"process":1,"type":"invoke","f":"acquire","value":null}
{"process":0,"type":"ok","f":"acquire","value":null}
{"process":1,"type":"ok","f":"acquire","value":null}"#;
    assert_eq!(run(mutex, "mutex").verdict, Verdict::Invalid);
    let kv = r#"{"process":0,"type":"invoke","f":"append","key":"k","value":"x"}
{"process":1,"type":"invoke","f":"append","key":"k","value":"y"}
{"process":0,"type":"ok","f":"append","key":"k","value":"x"}
{"process":1,"type":"ok","f":"append","key":"k","value":"y"}
{"process":2,"type":"invoke","f":"get","key":"k","value":null}
{"process":2,"type":"ok","f":"get","key":"k","value":"yx"}"#;
    assert_eq!(run(kv, "kv").verdict, Verdict::Valid);
    assert_eq!(
        run(&kv.replace("\"yx\"", "\"xyx\""), "kv").verdict,
        Verdict::Invalid
    );
    let txn = r#"{"process":0,"type":"invoke","f":"txn","value":[["write","x",1],["write","y",1]]}
{"process":1,"type":"invoke","f":"txn","value":[["read","x",null],["read","y",null]]}
{"process":0,"type":"ok","f":"txn","value":[["write","x",1],["write","y",1]]}
{"process":1,"type":"ok","f":"txn","value":[["read","x",1],["read","y",null]]}"#;
    let r = run(txn, "multi-register");
    assert_eq!(r.verdict, Verdict::Invalid, "a torn read of an atomic txn");
    assert!(
        r.explanation.contains("\"x\" = 1, \"y\" = 1"),
        "{}",
        r.explanation
    );
    let counter = r#"{"process":0,"type":"invoke","f":"add","value":2}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":2}
{"process":0,"type":"info","f":"add","value":2}"#;
    assert_eq!(run(counter, "counter").verdict, Verdict::Valid);
}

#[test]
fn empty_history_is_linearizable() {
    let r = check(
        &History::default(),
        ModelKind::CasRegister,
        &cfg(),
        &Budget::default(),
    )
    .unwrap();
    assert_eq!(r.verdict, Verdict::Valid);
}

#[test]
fn errors_name_the_model_list_the_op_and_the_line() {
    let h = jsonl(
        r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":3,"type":"invoke","f":"cas","value":[1,2]}
{"process":3,"type":"ok","f":"cas","value":[1,2]}"#,
    );
    // A misspelt model is refused where the name is parsed, listing them all.
    let msg = "regsiter".parse::<ModelKind>().unwrap_err();
    for m in ModelKind::ALL {
        assert!(msg.contains(m.as_str()), "{msg}");
    }
    let e = check(&h, ModelKind::Register, &cfg(), &Budget::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, LinError::BadOp { line: 3, .. }), "{msg}");
    assert!(
        msg.starts_with(
            "t.jsonl:3: process 3's `cas` with value [1,2] does not fit the register model"
        ),
        "{msg}"
    );
    let bad_init = ModelConfig {
        initial: json!(5),
        ..cfg()
    };
    assert!(matches!(
        check(&h, ModelKind::MultiRegister, &bad_init, &Budget::default()),
        Err(LinError::BadConfig(_))
    ));
    // (A history of completions only is read without invokes; this one has
    // an invoke, so the bare completion is an error.)
    let unpaired = jsonl(
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1}",
    );
    assert!(matches!(
        check(&unpaired, ModelKind::Register, &cfg(), &Budget::default()),
        Err(LinError::History(_))
    ));
    // Through the Checker trait, errors are unknown verdicts with the message.
    let c = LinearizableChecker {
        model: ModelKind::Register,
        config: cfg(),
    };
    let r = c.check(&h, &Budget::default());
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(
        r.summary.contains("does not fit the register model"),
        "{}",
        r.summary
    );
}

/// Many concurrent writes and an impossible read at the end: the search
/// has to try every subset of the writes before it can say no.
fn hard_invalid_history(writers: i64) -> History {
    let mut ops = Vec::new();
    let mut idx = 0;
    let mut push = |p: i64, t: OpType, f: &str, v: Value| {
        let mut o = Op::new(idx, Process::id(p), t, f, v);
        o.line = (idx as usize + 1) as u32;
        ops.push(o);
        idx += 1;
    };
    for p in 0..writers {
        push(p, OpType::Invoke, "write", json!(p));
    }
    push(writers, OpType::Invoke, "read", Value::Null);
    for p in 0..writers {
        push(p, OpType::Ok, "write", json!(p));
    }
    push(writers, OpType::Ok, "read", json!(-1));
    History::new(ops)
}

#[test]
fn budget_turns_a_long_search_into_unknown() {
    let h = hard_invalid_history(24);
    let past = Budget::with_time_limit(Some(Duration::from_millis(0)));
    let started = Instant::now();
    let r = check(&h, ModelKind::Register, &cfg(), &past).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(
        r.summary.starts_with("unknown: time limit reached after "),
        "{}",
        r.summary
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    let small = Budget {
        memory_bytes: 1 << 20,
        ..Budget::default()
    };
    let r = check(&h, ModelKind::Register, &cfg(), &small).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(
        r.summary.contains("memory limit of 1 MiB reached after"),
        "{}",
        r.summary
    );

    let cancelled = Budget::default();
    cancelled.cancel.store(true, Ordering::Relaxed);
    let r = check(&h, ModelKind::Register, &cfg(), &cancelled).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.summary.contains("cancelled"), "{}", r.summary);

    // With room, the same search finishes and says no.
    let r = check(
        &hard_invalid_history(10),
        ModelKind::Register,
        &cfg(),
        &Budget::default(),
    )
    .unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(r.details["states_explored"].as_u64().unwrap_or(0) > 1000);
}

// -------------------------------------------------------------- brute force

/// Decides linearizability by trying every order that respects real time:
/// `ok` ops must all be placed; indeterminate ones may be left out.
fn brute_force<M: Model>(model: &M, ops: &[Operation]) -> bool {
    let live: Vec<(usize, M::Op)> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.outcome != Outcome::Fail)
        .map(|(i, o)| (i, model.parse(o).expect("generated op fits")))
        .collect();
    fn go<M: Model>(
        model: &M,
        ops: &[Operation],
        live: &[(usize, M::Op)],
        placed: &mut Vec<bool>,
        state: &M::State,
    ) -> bool {
        let done = live
            .iter()
            .zip(placed.iter())
            .all(|((i, _), &p)| p || ops[*i].outcome != Outcome::Ok);
        if done {
            return true;
        }
        for k in 0..live.len() {
            if placed[k] {
                continue;
            }
            let call = ops[live[k].0].call();
            let blocked = (0..live.len()).any(|j| {
                j != k
                    && !placed[j]
                    && ops[live[j].0].outcome == Outcome::Ok
                    && ops[live[j].0].ret() < call
            });
            if blocked {
                continue;
            }
            if let Some(next) = model.step(state, &live[k].1) {
                placed[k] = true;
                if go(model, ops, live, placed, &next) {
                    return true;
                }
                placed[k] = false;
            }
        }
        false
    }
    let mut placed = vec![false; live.len()];
    go(model, ops, &live, &mut placed, &model.init())
}

/// Replays a witness: it must respect real time, contain every `ok` op and
/// no failed one, and every step must be legal.
fn assert_witness<M: Model>(model: &M, ops: &[Operation], order: &[usize]) {
    let mut state = model.init();
    for (n, &i) in order.iter().enumerate() {
        assert_ne!(ops[i].outcome, Outcome::Fail);
        let m = model.parse(&ops[i]).expect("fits");
        state = model
            .step(&state, &m)
            .unwrap_or_else(|| panic!("witness step {n} ({:?}) is illegal", ops[i]));
        for &j in &order[n + 1..] {
            assert!(
                ops[j].ret() > ops[i].call(),
                "witness breaks real-time order"
            );
        }
    }
    for (i, o) in ops.iter().enumerate() {
        if o.outcome == Outcome::Ok && !order.contains(&i) {
            let m = model.parse(o).expect("fits");
            assert!(model.is_noop(&m), "ok op {i} missing from the witness");
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Register,
    CasRegister,
    Set,
    Queue,
    Mutex,
    Kv,
}

/// The true object the simulated clients talk to.
#[derive(Clone, Debug)]
enum Truth {
    Val(Value),
    Elems(Vec<i64>),
    Locked(bool),
}

fn new_invoke(kind: Kind, rng: &mut ChaCha8Rng, fresh: &mut i64) -> (&'static str, Value) {
    match kind {
        Kind::Register => match rng.gen_range(0..2) {
            0 => ("read", Value::Null),
            _ => ("write", json!(rng.gen_range(0..3))),
        },
        Kind::CasRegister => match rng.gen_range(0..3) {
            0 => ("read", Value::Null),
            1 => ("write", json!(rng.gen_range(0..3))),
            _ => ("cas", json!([rng.gen_range(0..3), rng.gen_range(0..3)])),
        },
        Kind::Set => match rng.gen_range(0..2) {
            0 => ("read", Value::Null),
            _ => {
                *fresh += 1;
                ("add", json!(*fresh))
            }
        },
        Kind::Queue => match rng.gen_range(0..2) {
            0 => ("dequeue", Value::Null),
            _ => {
                *fresh += 1;
                ("enqueue", json!(*fresh))
            }
        },
        Kind::Mutex => match rng.gen_range(0..2) {
            0 => ("acquire", Value::Null),
            _ => ("release", Value::Null),
        },
        Kind::Kv => match rng.gen_range(0..5) {
            0 | 1 => ("get", Value::Null),
            2 => ("put", json!(["a", "b"][rng.gen_range(0..2)])),
            _ => ("append", json!(["a", "b"][rng.gen_range(0..2)])),
        },
    }
}

/// Applies an op to the truth; `None` when it fails (cas mismatch, a lock
/// not free or not held).
fn apply(truth: &mut Truth, f: &str, input: &Value) -> Option<Value> {
    match (truth, f) {
        (Truth::Val(v), "read") => Some(v.clone()),
        (Truth::Val(v), "write") => {
            *v = input.clone();
            Some(input.clone())
        }
        (Truth::Val(v), "cas") => {
            if *v == input[0] {
                *v = input[1].clone();
                Some(input.clone())
            } else {
                None
            }
        }
        (Truth::Val(v), "get") => Some(v.clone()),
        (Truth::Val(v), "put") => {
            *v = input.clone();
            Some(input.clone())
        }
        (Truth::Val(v), "append") => {
            *v = json!(format!(
                "{}{}",
                v.as_str().unwrap_or(""),
                input.as_str().unwrap_or("")
            ));
            Some(input.clone())
        }
        (Truth::Elems(s), "read") => Some(json!(s.clone())),
        (Truth::Elems(s), "add") | (Truth::Elems(s), "enqueue") => {
            s.push(input.as_i64().unwrap_or(0));
            Some(input.clone())
        }
        (Truth::Elems(s), "dequeue") => {
            if s.is_empty() {
                Some(Value::Null)
            } else {
                Some(json!(s.remove(0)))
            }
        }
        (Truth::Locked(l), "acquire") if !*l => {
            *l = true;
            Some(Value::Null)
        }
        (Truth::Locked(l), "release") if *l => {
            *l = false;
            Some(Value::Null)
        }
        _ => None,
    }
}

struct Pending {
    f: &'static str,
    input: Value,
    /// `Some(result)` once it took effect (`Some(None)`: it failed).
    done: Option<Option<Value>>,
}

/// A random history of up to `max_ops` ops by concurrent clients against a
/// true object, then, half of the time, one result corrupted. Includes
/// failed, indeterminate and never-completed ops.
fn random_history(kind: Kind, rng: &mut ChaCha8Rng, max_ops: usize) -> History {
    let mut truth = match kind {
        Kind::Register | Kind::CasRegister => Truth::Val(Value::Null),
        Kind::Kv => Truth::Val(json!("")),
        Kind::Set | Kind::Queue => Truth::Elems(Vec::new()),
        Kind::Mutex => Truth::Locked(false),
    };
    let nproc = rng.gen_range(2..=4);
    let mut pids: Vec<i64> = (0..nproc).collect();
    let mut next_pid = nproc;
    let mut slots: Vec<Option<Pending>> = (0..nproc).map(|_| None).collect();
    let mut fresh = 0i64;
    let mut left = rng.gen_range(1..=max_ops);
    let mut ops: Vec<Op> = Vec::new();
    let emit = |p: i64, t: OpType, f: &str, v: Value, ops: &mut Vec<Op>| {
        let mut o = Op::new(ops.len() as u64, Process::id(p), t, f, v);
        o.line = (ops.len() + 1) as u32;
        ops.push(o);
    };
    loop {
        let idle: Vec<usize> = (0..slots.len()).filter(|&s| slots[s].is_none()).collect();
        let busy: Vec<usize> = (0..slots.len()).filter(|&s| slots[s].is_some()).collect();
        if busy.is_empty() && (left == 0 || idle.is_empty()) {
            break;
        }
        if left == 0 && rng.gen_bool(0.1) {
            break; // leave the rest pending forever
        }
        let action = rng.gen_range(0..3);
        if action == 0 && left > 0 && !idle.is_empty() {
            let s = idle[rng.gen_range(0..idle.len())];
            let (f, input) = new_invoke(kind, rng, &mut fresh);
            emit(pids[s], OpType::Invoke, f, input.clone(), &mut ops);
            slots[s] = Some(Pending {
                f,
                input,
                done: None,
            });
            left -= 1;
        } else if action == 1 && !busy.is_empty() {
            // Some pending op takes effect now.
            let s = busy[rng.gen_range(0..busy.len())];
            if let Some(p) = slots[s].as_mut() {
                if p.done.is_none() {
                    p.done = Some(apply(&mut truth, p.f, &p.input));
                }
            }
        } else if !busy.is_empty() {
            let s = busy[rng.gen_range(0..busy.len())];
            let Some(mut p) = slots[s].take() else {
                continue;
            };
            let info = rng.gen_bool(0.2);
            if p.done.is_none() && !(info && rng.gen_bool(0.5)) {
                p.done = Some(apply(&mut truth, p.f, &p.input));
            }
            if info {
                emit(pids[s], OpType::Info, p.f, p.input.clone(), &mut ops);
                pids[s] = next_pid;
                next_pid += 1;
            } else {
                match p.done {
                    Some(Some(out)) => {
                        let v = if p.f == "read" || p.f == "dequeue" || p.f == "get" {
                            out
                        } else {
                            p.input.clone()
                        };
                        emit(pids[s], OpType::Ok, p.f, v, &mut ops);
                    }
                    _ => emit(pids[s], OpType::Fail, p.f, p.input.clone(), &mut ops),
                }
            }
        }
    }
    if rng.gen_bool(0.5) {
        let completions: Vec<usize> = (0..ops.len())
            .filter(|&i| ops[i].op_type != OpType::Invoke && ops[i].op_type != OpType::Info)
            .collect();
        if !completions.is_empty() {
            let i = completions[rng.gen_range(0..completions.len())];
            let o = &mut ops[i];
            if o.op_type == OpType::Fail {
                o.op_type = OpType::Ok;
            } else if o.f == "read" || o.f == "dequeue" || o.f == "get" {
                o.value = match kind {
                    Kind::Set => json!((0..rng.gen_range(0..3))
                        .map(|_| rng.gen_range(1..=fresh.max(1)))
                        .collect::<Vec<_>>())
                    .into(),
                    Kind::Queue => json!(rng.gen_range(1..=fresh.max(1))).into(),
                    Kind::Kv => {
                        json!(["", "a", "ab", "ba", "aab", "b"][rng.gen_range(0..6)]).into()
                    }
                    _ => {
                        let r: i32 = rng.gen_range(-1..3);
                        if r < 0 {
                            Val::Nil
                        } else {
                            Val::Int(i64::from(r))
                        }
                    }
                };
            } else if o.op_type == OpType::Ok {
                o.op_type = OpType::Fail;
            }
        }
    }
    History::new(ops)
}

fn compare_with_brute_force<M: Model>(model: &M, kind: Kind, seed: u64, n: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..n {
        let h = random_history(kind, &mut rng, 8);
        let ops = h.operations().expect("generated histories pair");
        let expected = brute_force(model, ops);
        let got = check_ops(model, ops, &Budget::default()).expect("generated ops fit");
        match &got.verdict {
            PartitionVerdict::Linearizable { order } => {
                assert!(
                    expected,
                    "{kind:?} case {case}: search says linearizable, brute force says not\n{}",
                    dump(&h)
                );
                assert_witness(model, ops, order);
                valid += 1;
            }
            PartitionVerdict::NotLinearizable(c) => {
                assert!(!expected, "{kind:?} case {case}: search says not linearizable, brute force says it is\n{}", dump(&h));
                assert_eq!(ops[c.op].outcome, Outcome::Ok, "the blocked op returned");
                assert!(!c.prefix.contains(&c.op));
                // The prefix is a legal run ending in the first state shown.
                let mut s = model.init();
                for &i in &c.prefix {
                    s = model
                        .step(&s, &model.parse(&ops[i]).expect("fits"))
                        .expect("prefix replays");
                }
                assert_eq!(c.states.first(), Some(&model.show_state(&s)));
                for &j in &c.concurrent {
                    assert!(ops[j].call() < ops[c.op].ret() && ops[j].ret() > ops[c.op].call());
                }
                invalid += 1;
            }
            PartitionVerdict::Unknown { reason } => panic!("unknown on a tiny history: {reason}"),
        }
    }
    assert!(
        valid >= n / 10,
        "{kind:?}: only {valid} valid of {n}: the sample is lopsided"
    );
    assert!(
        invalid >= n / 10,
        "{kind:?}: only {invalid} invalid of {n}: the sample is lopsided"
    );
}

/// Asserts that a verdict agrees with `expected` (from brute force or the
/// other search) and that its witness or counterexample replays.
fn assert_agrees<M: Model>(
    model: &M,
    ops: &[Operation],
    got: &PartitionResult,
    expected: bool,
    what: &str,
    h: &History,
) -> bool {
    match &got.verdict {
        PartitionVerdict::Linearizable { order } => {
            assert!(expected, "{what}: linearizable, expected not\n{}", dump(h));
            assert_witness(model, ops, order);
            true
        }
        PartitionVerdict::NotLinearizable(c) => {
            assert!(
                !expected,
                "{what}: not linearizable, expected linearizable\n{}",
                dump(h)
            );
            assert_eq!(ops[c.op].outcome, Outcome::Ok, "the blocked op returned");
            assert!(!c.prefix.contains(&c.op));
            let mut s = model.init();
            for &i in &c.prefix {
                s = model
                    .step(&s, &model.parse(&ops[i]).expect("fits"))
                    .unwrap_or_else(|| {
                        panic!("{what}: prefix {:?} does not replay\n{}", c.prefix, dump(h))
                    });
            }
            assert_eq!(c.states.first(), Some(&model.show_state(&s)), "{what}");
            false
        }
        PartitionVerdict::Unknown { reason } => panic!("{what}: unknown: {reason}\n{}", dump(h)),
    }
}

/// A small crash-heavy history from the generator (half of the time with
/// the planted stale read), then, half of the time, one completion
/// corrupted: a read's value changed, or an ok and a fail swapped.
fn crash_heavy_history(rng: &mut ChaCha8Rng, max_ops: usize) -> History {
    let g = CrashedRegister {
        ops: rng.gen_range(1..=max_ops),
        clients: rng.gen_range(2..=4),
        values: 3,
        crash_rate: 0.5,
        read_rate: 0.4,
        stale_read_at_end: rng.gen_bool(0.15),
        seed: rng.gen(),
    };
    let mut h = crashed_register_history(&g);
    if rng.gen_bool(0.5) {
        let done: Vec<usize> = (0..h.ops().len())
            .filter(|&i| matches!(h.ops()[i].op_type, OpType::Ok | OpType::Fail))
            .collect();
        if !done.is_empty() {
            let o = &mut h.ops_mut()[done[rng.gen_range(0..done.len())]];
            if o.f == "read" {
                o.value = match rng.gen_range(-1i32..3) {
                    -1 => Val::Nil,
                    v => Val::Int(i64::from(v)),
                };
            } else if o.op_type == OpType::Ok {
                o.op_type = OpType::Fail;
            } else {
                o.op_type = OpType::Ok;
            }
        }
    }
    h
}

/// The crashed-client search against brute force and the plain search on
/// thousands of small crash-heavy histories, both verdicts well represented.
fn compare_crashed<const CAS: bool>(
    model: &faultline::model::register::RegisterSpec<CAS>,
    cases: usize,
    mut next: impl FnMut(&mut ChaCha8Rng) -> History,
    seed: u64,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut valid, mut invalid, mut crashed_ops) = (0, 0, 0);
    for case in 0..cases {
        let h = next(&mut rng);
        let ops = h.operations().expect("generated histories pair");
        crashed_ops += ops
            .iter()
            .filter(|o| o.outcome == Outcome::Info && o.f != "read")
            .count();
        let expected = brute_force(model, ops);
        let budget = Budget::default();
        let crashed = check_register_ops(model, ops, &budget, RegisterSearch::Crashed)
            .expect("generated ops fit");
        let plain = check_register_ops(model, ops, &budget, RegisterSearch::Plain)
            .expect("generated ops fit");
        let what = format!("case {case}");
        assert_agrees(
            model,
            ops,
            &crashed,
            expected,
            &format!("{what} (crashed search)"),
            &h,
        );
        assert_agrees(
            model,
            ops,
            &plain,
            expected,
            &format!("{what} (plain search)"),
            &h,
        );
        if expected {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(valid >= cases / 5, "only {valid} valid of {cases}");
    assert!(invalid >= cases / 5, "only {invalid} invalid of {cases}");
    assert!(
        crashed_ops >= cases / 2,
        "only {crashed_ops} crashed writes/cas in {cases} cases"
    );
    eprintln!("{valid} valid, {invalid} invalid, {crashed_ops} crashed writes/cas");
}

#[test]
fn crashed_search_agrees_with_brute_force_on_crash_heavy_histories() {
    let model = CasRegister::new(&cfg());
    compare_crashed(&model, 6000, |rng| crash_heavy_history(rng, 8), 11);
}

#[test]
fn crashed_search_agrees_with_brute_force_on_the_random_histories() {
    compare_crashed(
        &CasRegister::new(&cfg()),
        3000,
        |rng| random_history(Kind::CasRegister, rng, 8),
        12,
    );
    compare_crashed(
        &Register::new(&cfg()),
        3000,
        |rng| random_history(Kind::Register, rng, 8),
        13,
    );
}

/// Longer histories than brute force can decide: the two searches agree.
#[test]
fn crashed_search_agrees_with_the_plain_search_on_longer_histories() {
    let model = CasRegister::new(&cfg());
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..400 {
        let h = crash_heavy_history(&mut rng, 40);
        let ops = h.operations().expect("pairs");
        let budget = Budget::with_time_limit(Some(Duration::from_secs(20)));
        let plain = check_register_ops(&model, ops, &budget, RegisterSearch::Plain).expect("fits");
        let expected = match plain.verdict {
            PartitionVerdict::Linearizable { .. } => true,
            PartitionVerdict::NotLinearizable(_) => false,
            PartitionVerdict::Unknown { reason } => {
                panic!("case {case}: the plain search did not finish: {reason}")
            }
        };
        let crashed =
            check_register_ops(&model, ops, &budget, RegisterSearch::Crashed).expect("fits");
        if assert_agrees(&model, ops, &crashed, expected, &format!("case {case}"), &h) {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(
        valid >= 80 && invalid >= 80,
        "{valid} valid, {invalid} invalid"
    );
}

/// The issue-9 workload: a generated crashed-client history is decided
/// linearizable, and with a planted stale read, not linearizable, with the
/// stale read named and the reason given.
#[test]
fn crashed_register_histories_are_decided() {
    let h = crashed_register_history(&CrashedRegister::new(3000, 5));
    let r = check(&h, ModelKind::CasRegister, &cfg(), &Budget::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.summary);
    let mut g = CrashedRegister::new(3000, 5);
    g.stale_read_at_end = true;
    let h = crashed_register_history(&g);
    let r = check(&h, ModelKind::CasRegister, &cfg(), &Budget::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid, "{}", r.summary);
    let last = h.ops().len();
    assert!(
        r.summary
            .contains(&format!("read → null (lines {}–{last})", last - 1)),
        "{}",
        r.summary
    );
    assert!(
        r.explanation
            .contains("no operation left could make the register null again"),
        "{}",
        r.explanation
    );
}

fn dump(h: &History) -> String {
    let mut out = Vec::new();
    let _ = h.write_jsonl(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn search_agrees_with_brute_force_register() {
    compare_with_brute_force(&Register::new(&cfg()), Kind::Register, 1, 3000);
}

#[test]
fn search_agrees_with_brute_force_cas_register() {
    compare_with_brute_force(&CasRegister::new(&cfg()), Kind::CasRegister, 2, 3000);
}

#[test]
fn search_agrees_with_brute_force_set_queue_mutex() {
    compare_with_brute_force(&Set::new(&cfg()).unwrap(), Kind::Set, 3, 1500);
    compare_with_brute_force(&FifoQueue::new(&cfg()).unwrap(), Kind::Queue, 4, 1500);
    compare_with_brute_force(&Mutex::new(&cfg()).unwrap(), Kind::Mutex, 5, 1500);
    compare_with_brute_force(&Kv::new(&cfg()).unwrap(), Kind::Kv, 6, 3000);
}

// ------------------------------------------------------------------ corpus

/// Every history of the Porcupine corpus gets the verdict its table lists.
///
/// One row cannot be honoured: `etcd/etcd_095.log` is an empty file (the
/// corpus README: "the cluster never started: an empty history is
/// linearizable"), while the table lists it as not linearizable; Porcupine
/// itself asserts nothing about it. An empty history is linearizable by
/// definition, so for an empty file this test asserts exactly that.
#[test]
fn porcupine_corpus_gets_the_expected_verdicts() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/porcupine");
    let table = std::fs::read_to_string(root.join("expected.tsv"))
        .unwrap_or_else(|e| panic!("the Porcupine corpus must be at {}: {e}", root.display()));
    let mut wrong = Vec::new();
    let (mut etcd, mut kv, mut empty) = (0, 0, 0);
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, model, expected] = cols[..] else {
            panic!("bad row in expected.tsv: {line:?}");
        };
        let path = root.join(file);
        let h = History::read_file(&path, None).unwrap_or_else(|e| panic!("{e}"));
        let cfg = ModelConfig {
            initial: Value::Null,
            nil_read: NilRead::Absent,
        };
        let model: ModelKind = model.parse().unwrap_or_else(|e| panic!("{file}: {e}"));
        let r =
            check(&h, model, &cfg, &Budget::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let want = if h.ops().is_empty() {
            empty += 1;
            Verdict::Valid
        } else {
            match expected {
                "linearizable" => Verdict::Valid,
                "not-linearizable" => Verdict::Invalid,
                other => panic!("unknown expectation {other:?} for {file}"),
            }
        };
        if r.verdict != want {
            wrong.push(format!(
                "{file}: expected {want}, got {}: {}",
                r.verdict, r.summary
            ));
        }
        if r.verdict == Verdict::Invalid {
            assert!(
                r.explanation.contains("cannot be linearized"),
                "{file}: {}",
                r.explanation
            );
        }
        match model {
            ModelKind::CasRegister => etcd += 1,
            ModelKind::Kv => kv += 1,
            other => panic!("unexpected model {other}"),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of the corpus wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!((etcd, kv, empty), (103, 6, 1));
}

#[path = "../benches/common/register_gen.rs"]
mod register_gen;

/// A long history from a simulated atomic register (with timeouts and
/// failed writes) is linearizable; changing one read's value breaks it,
/// and the counterexample points at that read.
#[test]
fn generated_register_histories() {
    let h = register_gen::register_history(3000, 10, 7);
    let r = check(&h, ModelKind::Register, &cfg(), &Budget::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.summary);
    let ops = h.operations().unwrap();
    assert!(
        ops.iter().any(|o| o.outcome == Outcome::Info)
            && ops.iter().any(|o| o.outcome == Outcome::Fail)
    );

    // Corrupt a read two thirds of the way in: make it return a value never written.
    let mut bad = h.clone();
    let target = bad
        .ops()
        .iter()
        .enumerate()
        .skip(bad.ops().len() * 2 / 3)
        .find(|(_, o)| o.op_type == OpType::Ok && o.f == "read")
        .map(|(i, _)| i)
        .expect("a read to corrupt");
    bad.ops_mut()[target].value = Val::Int(-7);
    let r = check(&bad, ModelKind::Register, &cfg(), &Budget::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(
        r.details["failures"][0]["op"]["complete_line"],
        json!(bad.ops()[target].line)
    );
    assert!(r.explanation.contains("read → -7"), "{}", r.explanation);
}

// ------------------------------------------------------ equal times (clock)

/// One timed register operation for the clock test: called at `call`,
/// returned at `ret` (`None`: crashed, `info`).
struct Timed {
    write: bool,
    value: i64,
    call: u64,
    ret: Option<u64>,
}

/// Linearizability decided from the times alone, by the definition that
/// Porcupine also uses: `a` must precede `b` exactly when `a` returned at a
/// strictly earlier time than `b` was called. Crashed writes may be placed
/// anywhere after their call, or never. Initial value 0.
fn linearizable_by_the_clock(ops: &[Timed]) -> bool {
    fn go(ops: &[Timed], placed: &mut Vec<bool>, state: i64) -> bool {
        if ops
            .iter()
            .zip(placed.iter())
            .all(|(o, &p)| p || o.ret.is_none())
        {
            return true;
        }
        for k in 0..ops.len() {
            if placed[k] {
                continue;
            }
            let blocked =
                (0..ops.len()).any(|j| !placed[j] && ops[j].ret.is_some_and(|r| r < ops[k].call));
            if blocked {
                continue;
            }
            let next = if ops[k].write {
                ops[k].value
            } else if ops[k].value == state {
                state
            } else {
                continue;
            };
            placed[k] = true;
            if go(ops, placed, next) {
                return true;
            }
            placed[k] = false;
        }
        false
    }
    go(ops, &mut vec![false; ops.len()], 0)
}

/// Timed histories whose operations often start or end at the same instant
/// (times 0..6, some calls equal to returns), written out in a random file
/// order: sometimes one operation after another, sometimes sorted by time
/// with equal times in any order. Checked as `faultline check` reads them
/// (time order, equal times simultaneous), every verdict must be the one
/// the clock gives, whatever the file's layout.
#[test]
fn timed_histories_get_the_verdict_of_the_clock_whatever_the_file_order() {
    use faultline::history::{Independent, Interpretation, Order as EventOrder};
    let mut rng = ChaCha8Rng::seed_from_u64(0x7135);
    let (mut valid, mut invalid) = (0, 0);
    for round in 0..3000 {
        let n = rng.gen_range(1..=6);
        let ops: Vec<Timed> = (0..n)
            .map(|_| {
                let call = rng.gen_range(0..6u64);
                let write = rng.gen_bool(0.5);
                Timed {
                    write,
                    value: rng.gen_range(0..3),
                    call,
                    ret: if write && rng.gen_bool(0.15) {
                        None
                    } else {
                        Some(call + rng.gen_range(0..3u64))
                    },
                }
            })
            .collect();
        // Events (op, is_invoke, time), one process per operation.
        let mut events: Vec<(usize, bool, u64)> = Vec::new();
        for (i, o) in ops.iter().enumerate() {
            events.push((i, true, o.call));
            if let Some(r) = o.ret {
                events.push((i, false, r));
            }
        }
        if rng.gen_bool(0.5) {
            // Sorted by time, equal times shuffled (an op's own invoke
            // still before its completion).
            let keys: Vec<u32> = (0..events.len()).map(|_| rng.gen()).collect();
            let mut idx: Vec<usize> = (0..events.len()).collect();
            idx.sort_by_key(|&e| (events[e].2, keys[e]));
            events = idx.into_iter().map(|e| events[e]).collect();
            for a in 0..events.len() {
                for b in a + 1..events.len() {
                    if events[a].0 == events[b].0 && !events[a].1 {
                        events.swap(a, b);
                    }
                }
            }
        }
        let text: String = events
            .iter()
            .map(|&(i, invoke, time)| {
                let o = &ops[i];
                let (f, value) = match (o.write, invoke) {
                    (true, _) => ("write", json!(o.value)),
                    (false, true) => ("read", Value::Null),
                    (false, false) => ("read", json!(o.value)),
                };
                let kind = if invoke { "invoke" } else { "ok" };
                format!(
                    "{}\n",
                    json!({"process": i, "type": kind, "f": f, "value": value, "time": time})
                )
            })
            .collect();
        let mut h = jsonl(&text);
        h.interpret(&Interpretation {
            independent: Independent::Never,
            order: EventOrder::Auto,
        })
        .expect("timed history is ordered");
        let config = ModelConfig {
            initial: json!(0),
            nil_read: NilRead::Absent,
        };
        let r = check(&h, ModelKind::Register, &config, &Budget::default()).expect("check runs");
        let want = linearizable_by_the_clock(&ops);
        assert_eq!(
            r.verdict == Verdict::Valid,
            want,
            "round {round}: the clock says {}, faultline {}: {}\n{text}",
            if want {
                "linearizable"
            } else {
                "not linearizable"
            },
            r.verdict,
            r.summary
        );
        if want {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(
        valid > 300 && invalid > 300,
        "{valid} valid, {invalid} invalid"
    );
}
