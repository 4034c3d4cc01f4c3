//! Graph checkers: the unique-value register checker against a brute-force
//! oracle, stale reads, lost writes, session guarantees, and the fixtures
//! listed in histories/README.md.

use faultline::checker::graph_register::{self, GraphRegisterChecker};
use faultline::checker::{Budget, Checker, Verdict};
use faultline::history::{History, Op, OpType, Operation, Outcome, Process, Val};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::HashSet;

/// Exhaustive linearizability of a small read/write register history:
/// Wing & Gong's search without cleverness. `ok` ops must all be placed;
/// `info` writes may be placed (after their call) or left out; `fail` ops
/// and `info` reads are ignored.
fn brute_force_linearizable(ops: &[Operation]) -> bool {
    let relevant: Vec<&Operation> = ops
        .iter()
        .filter(|o| {
            !matches!(
                (o.f.as_str(), o.outcome),
                (_, Outcome::Fail) | ("read", Outcome::Info)
            )
        })
        .collect();
    let n = relevant.len();
    assert!(n <= 16);
    let required: u32 = relevant
        .iter()
        .enumerate()
        .filter(|(_, o)| o.outcome == Outcome::Ok)
        .fold(0, |m, (i, _)| m | (1 << i));
    let mut seen: HashSet<(u32, String)> = HashSet::new();
    fn go(
        rel: &[&Operation],
        done: u32,
        value: &Val,
        required: u32,
        seen: &mut HashSet<(u32, String)>,
    ) -> bool {
        if done & required == required {
            return true;
        }
        if !seen.insert((done, value.to_string())) {
            return false;
        }
        for (i, o) in rel.iter().enumerate() {
            if done & (1 << i) != 0 {
                continue;
            }
            // Every op that returned before o was called must already be placed.
            let blocked = rel.iter().enumerate().any(|(j, p)| {
                j != i && done & (1 << j) == 0 && p.outcome == Outcome::Ok && p.ret() < o.call()
            });
            if blocked {
                continue;
            }
            let next = match o.f.as_str() {
                "write" => o.input.clone(),
                _ => {
                    if &o.output != value {
                        continue;
                    }
                    value.clone()
                }
            };
            if go(rel, done | (1 << i), &next, required, seen) {
                return true;
            }
        }
        false
    }
    go(&relevant, 0, &Val::Nil, required, &mut seen)
}

/// A small random history of an atomic register with concurrent clients;
/// each op takes effect at a random moment inside its interval. With
/// `corrupt`, one ok read afterwards returns a random other value.
fn random_register_history(rng: &mut ChaCha8Rng, max_ops: usize, corrupt: bool) -> History {
    #[derive(Clone)]
    struct Pending {
        process: i64,
        f: &'static str,
        value: Value,
        applied: bool,
        result: Value,
    }
    let n_ops = rng.gen_range(1..=max_ops);
    let mut events: Vec<Op> = Vec::new();
    let mut register = Value::Null;
    let mut next_value = 1i64;
    let mut next_process = 3i64;
    let mut idle: Vec<i64> = vec![0, 1, 2];
    let mut pending: Vec<Pending> = Vec::new();
    let mut invoked = 0;
    let push = |events: &mut Vec<Op>, p: i64, t: OpType, f: &str, v: Value| {
        let i = events.len();
        let mut o = Op::new(i as u64, Process::id(p), t, f, v);
        o.line = (i + 1) as u32;
        o.time = Some(i as u64 * 1_000_000).into();
        events.push(o);
    };
    loop {
        let can_invoke = invoked < n_ops && !idle.is_empty();
        if !can_invoke && pending.is_empty() {
            break;
        }
        let choice = rng.gen_range(0..3);
        if can_invoke && (choice == 0 || pending.is_empty()) {
            let p = idle.swap_remove(rng.gen_range(0..idle.len()));
            invoked += 1;
            if rng.gen_bool(0.5) {
                let v = json!(next_value);
                next_value += 1;
                push(&mut events, p, OpType::Invoke, "write", v.clone());
                pending.push(Pending {
                    process: p,
                    f: "write",
                    value: v,
                    applied: false,
                    result: Value::Null,
                });
            } else {
                push(&mut events, p, OpType::Invoke, "read", Value::Null);
                pending.push(Pending {
                    process: p,
                    f: "read",
                    value: Value::Null,
                    applied: false,
                    result: Value::Null,
                });
            }
        } else if choice == 1 && !pending.is_empty() {
            // Some pending op takes effect now.
            let k = rng.gen_range(0..pending.len());
            let q = &mut pending[k];
            if !q.applied {
                q.applied = true;
                if q.f == "write" {
                    register = q.value.clone();
                } else {
                    q.result = register.clone();
                }
            }
        } else if !pending.is_empty() {
            let k = rng.gen_range(0..pending.len());
            let q = pending[k].clone();
            let roll = rng.gen_range(0..10);
            if q.applied && roll < 8 {
                let v = if q.f == "write" {
                    q.value.clone()
                } else {
                    q.result.clone()
                };
                push(&mut events, q.process, OpType::Ok, q.f, v);
                idle.push(q.process);
            } else if !q.applied && roll < 3 {
                push(&mut events, q.process, OpType::Fail, q.f, q.value.clone());
                idle.push(q.process);
            } else if roll >= 8 || (!q.applied && roll < 5) {
                // Indeterminate: the process crashes, a new one takes its place.
                if rng.gen_bool(0.8) {
                    push(&mut events, q.process, OpType::Info, q.f, q.value.clone());
                }
                if q.applied || rng.gen_bool(0.5) {
                    // An unapplied crashed write may still take effect later.
                    if q.f == "write" && !q.applied && rng.gen_bool(0.5) {
                        register = q.value.clone();
                    }
                }
                idle.push(next_process);
                next_process += 1;
            } else {
                continue;
            }
            pending.swap_remove(k);
        }
    }
    if corrupt {
        let reads: Vec<usize> = (0..events.len())
            .filter(|&i| events[i].op_type == OpType::Ok && events[i].f == "read")
            .collect();
        if !reads.is_empty() {
            let i = reads[rng.gen_range(0..reads.len())];
            let choice = rng.gen_range(0..next_value + 1);
            events[i].value = if choice == 0 {
                Val::Nil
            } else {
                Val::Int(choice)
            };
        }
    }
    History::new(events)
}

#[test]
fn graph_register_agrees_with_brute_force_on_random_small_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..8000 {
        let h = random_register_history(&mut rng, 8, case % 4 != 0);
        let ops = h.operations().expect("generated history pairs");
        assert!(graph_register::qualifies(ops));
        let want = brute_force_linearizable(ops);
        let got = GraphRegisterChecker::new().check(&h, &Budget::default());
        let want_v = if want {
            Verdict::Valid
        } else {
            Verdict::Invalid
        };
        if got.verdict != want_v {
            let mut text = Vec::new();
            h.write_jsonl(&mut text).unwrap();
            panic!(
                "case {case}: graph says {} ({}), brute force says {want_v}\n{}\n{}",
                got.verdict,
                got.summary,
                got.explanation,
                String::from_utf8_lossy(&text)
            );
        }
        if want {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    // Both outcomes must be well represented, or the comparison says little.
    assert!(
        valid > 1000 && invalid > 1000,
        "valid {valid}, invalid {invalid}"
    );
}

#[test]
fn uncorrupted_simulated_register_histories_are_linearizable() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for case in 0..300 {
        let h = random_register_history(&mut rng, 60, false);
        let r = GraphRegisterChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Valid, "case {case}: {}", r.explanation);
    }
}

/// Makes one ok read of a simulated (valid) register history stale: it now
/// returns a value written before a write that was acknowledged before the
/// read began. Returns the read's invoke position, or None if the history
/// has no such read.
fn inject_stale_read(h: &mut History, rng: &mut ChaCha8Rng) -> Option<usize> {
    let ops = h.operations().ok()?.to_vec();
    let mut reads: Vec<&Operation> = ops
        .iter()
        .filter(|o| o.f == "read" && o.outcome == Outcome::Ok)
        .collect();
    // Random order, first read that has an acknowledged write before it.
    for i in (1..reads.len()).rev() {
        reads.swap(i, rng.gen_range(0..=i));
    }
    for r in reads {
        let writes: Vec<&Operation> = ops
            .iter()
            .filter(|w| w.f == "write" && w.key == r.key && w.outcome == Outcome::Ok)
            .collect();
        let Some(b) = writes
            .iter()
            .filter(|w| w.ret() < r.call())
            .max_by_key(|w| w.ret())
        else {
            continue;
        };
        let older: Vec<&&Operation> = writes.iter().filter(|w| w.ret() < b.call()).collect();
        let value = if older.is_empty() {
            Val::Nil
        } else {
            older[rng.gen_range(0..older.len())].input.clone()
        };
        let c = r.complete()?;
        h.ops_mut()[c].value = value;
        return Some(r.invoke());
    }
    None
}

#[test]
fn stale_read_property_valid_then_exactly_the_injected_read() {
    use faultline::checker::lost_write::LostWriteChecker;
    use faultline::checker::stale_read::StaleReadChecker;
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut injected = 0;
    for seed in 0..40 {
        let mut h = graph_register::simulate_register(seed, 1500, 6, 3);
        let r = StaleReadChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Valid, "seed {seed}: {}", r.explanation);
        let r = LostWriteChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Valid, "seed {seed}: {}", r.explanation);
        let Some(pos) = inject_stale_read(&mut h, &mut rng) else {
            continue;
        };
        injected += 1;
        let r = StaleReadChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Invalid, "seed {seed}");
        let stale: Vec<u64> = r.details["stale_reads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["event"].as_u64().unwrap())
            .collect();
        assert_eq!(stale, vec![pos as u64], "seed {seed}: {}", r.explanation);
        assert!(
            r.details["stale_reads"][0]["versions_behind"]
                .as_u64()
                .unwrap()
                >= 1
        );
        assert!(r.details["stale_reads"][0]["ms_behind"].as_f64().unwrap() > 0.0);
        let g = GraphRegisterChecker::new().check(&h, &Budget::default());
        assert_eq!(g.verdict, Verdict::Invalid, "seed {seed}: graph checker");
    }
    assert!(injected >= 35, "only {injected} injections");
}

/// A random history of an atomic set: `clients` processes add unique
/// elements or read the whole set; each op takes effect at a random moment
/// inside its interval. Some adds fail (never applied) or end `info`
/// (applied or not).
fn random_set_history(rng: &mut ChaCha8Rng, n_ops: usize, clients: i64) -> History {
    let mut events: Vec<Op> = Vec::new();
    let mut set: Vec<i64> = Vec::new();
    // Per slot: (process, is_add, element, applied, result)
    type Slot = (i64, Option<(bool, i64, bool, Vec<i64>)>);
    let mut slots: Vec<Slot> = (0..clients).map(|p| (p, None)).collect();
    let mut next_process = clients;
    let (mut invoked, mut next) = (0, 1i64);
    let push = |events: &mut Vec<Op>, p: i64, t: OpType, f: &str, v: Value| {
        let i = events.len();
        let mut o = Op::new(i as u64, Process::id(p), t, f, v);
        o.line = (i + 1) as u32;
        o.time = Some(i as u64 * 500_000).into();
        events.push(o);
    };
    loop {
        if invoked >= n_ops && slots.iter().all(|s| s.1.is_none()) {
            break;
        }
        let k = rng.gen_range(0..slots.len());
        let p = slots[k].0;
        match slots[k].1.take() {
            None => {
                if invoked >= n_ops {
                    continue;
                }
                invoked += 1;
                let add = rng.gen_bool(0.6);
                if add {
                    push(&mut events, p, OpType::Invoke, "add", json!(next));
                } else {
                    push(&mut events, p, OpType::Invoke, "read", Value::Null);
                }
                slots[k].1 = Some((add, next, false, Vec::new()));
                next += 1;
            }
            Some((add, e, false, _)) => {
                let roll = rng.gen_range(0..20);
                if add && roll == 0 {
                    push(&mut events, p, OpType::Fail, "add", json!(e));
                } else {
                    let mut seen = Vec::new();
                    if add {
                        set.push(e);
                    } else {
                        seen = set.clone();
                    }
                    slots[k].1 = Some((add, e, true, seen));
                }
            }
            Some((add, e, true, seen)) => {
                if add && rng.gen_range(0..20) == 0 {
                    push(&mut events, p, OpType::Info, "add", json!(e));
                    slots[k].0 = next_process;
                    next_process += 1;
                } else if add {
                    push(&mut events, p, OpType::Ok, "add", json!(e));
                } else {
                    push(&mut events, p, OpType::Ok, "read", json!(seen));
                }
            }
        }
    }
    History::new(events)
}

/// A set history rewritten as list-append transactions on key "s".
fn as_list_append(h: &History) -> History {
    let ops = h
        .ops()
        .iter()
        .map(|o| {
            let mut t = o.clone();
            t.f = "txn".into();
            t.value = match (o.f.as_str(), o.op_type) {
                ("add", _) => Val::list(vec![Val::list(vec![
                    "append".into(),
                    "s".into(),
                    o.value.clone(),
                ])]),
                ("read", OpType::Ok) => Val::list(vec![Val::list(vec![
                    "r".into(),
                    "s".into(),
                    o.value.clone(),
                ])]),
                _ => json!([["r", "s", null]]).into(),
            };
            t
        })
        .collect();
    History::new(ops)
}

#[test]
fn lost_write_property_valid_then_exactly_the_dropped_element() {
    use faultline::checker::lost_write::LostWriteChecker;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut injected = 0;
    for case in 0..60 {
        let mut h = random_set_history(&mut rng, 300, 5);
        for h in [h.clone(), as_list_append(&h)] {
            let r = LostWriteChecker::new().check(&h, &Budget::default());
            assert_eq!(r.verdict, Verdict::Valid, "case {case}: {}", r.explanation);
            assert_eq!(r.details["counts"]["lost"], 0);
        }
        // Drop one acknowledged element from every read after some read
        // that began after its acknowledgement.
        let ops = h.operations().unwrap().to_vec();
        let adds: Vec<&Operation> = ops
            .iter()
            .filter(|o| o.f == "add" && o.outcome == Outcome::Ok)
            .collect();
        let Some(add) = adds.get(rng.gen_range(0..adds.len().max(1))).copied() else {
            continue;
        };
        let later: Vec<&Operation> = ops
            .iter()
            .filter(|o| o.f == "read" && o.outcome == Outcome::Ok && o.call() > add.ret())
            .collect();
        if later.is_empty() {
            continue;
        }
        let from = later[rng.gen_range(0..later.len())].call();
        for o in &later {
            if o.call() >= from {
                let c = o.complete().unwrap();
                let v: Vec<Val> = h.ops()[c]
                    .value
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|x| **x != add.input)
                    .cloned()
                    .collect();
                h.ops_mut()[c].value = Val::list(v);
            }
        }
        injected += 1;
        let r = LostWriteChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Invalid, "case {case}");
        let lost: Vec<Value> = r.details["lost"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["value"].clone())
            .collect();
        assert_eq!(
            lost,
            vec![add.input.clone()],
            "case {case}: {}",
            r.explanation
        );
        assert!(
            r.explanation.contains("was acknowledged"),
            "{}",
            r.explanation
        );
    }
    assert!(injected >= 50, "only {injected} injections");
}

#[test]
fn session_property_valid_then_read_your_writes_violation_at_the_injected_read() {
    use faultline::checker::session::SessionChecker;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut injected = 0;
    for seed in 0..40 {
        let mut h = graph_register::simulate_register(100 + seed, 1200, 5, 2);
        let r = SessionChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Valid, "seed {seed}: {}", r.explanation);
        let ops = h.operations().unwrap().to_vec();
        // A process's write followed by its own read of the same key.
        let mut pairs = Vec::new();
        for (i, w) in ops.iter().enumerate() {
            if w.f != "write" || w.outcome != Outcome::Ok {
                continue;
            }
            if let Some(r) = ops[i + 1..].iter().find(|o| {
                o.process == w.process
                    && o.key == w.key
                    && o.f == "read"
                    && o.outcome == Outcome::Ok
            }) {
                pairs.push((w, r));
            }
        }
        if pairs.is_empty() {
            continue;
        }
        let (w, read) = pairs[rng.gen_range(0..pairs.len())];
        let older: Vec<&Operation> = ops
            .iter()
            .filter(|o| {
                o.f == "write" && o.key == w.key && o.outcome == Outcome::Ok && o.ret() < w.call()
            })
            .collect();
        let value = older
            .get(rng.gen_range(0..older.len().max(1)))
            .map_or(Val::Nil, |o| o.input.clone());
        h.ops_mut()[read.complete().unwrap()].value = value;
        injected += 1;
        let r = SessionChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Invalid, "seed {seed}");
        let ryw: Vec<u64> = r.details["violations"]["read-your-writes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["event"].as_u64().unwrap())
            .collect();
        assert_eq!(
            ryw,
            vec![read.invoke() as u64],
            "seed {seed}: {}",
            r.explanation
        );
        // The earlier op named is one of the process's writes between w and the read.
        let earlier = r.details["violations"]["read-your-writes"][0]["earlier_event"]
            .as_u64()
            .unwrap() as usize;
        let e = ops.iter().find(|o| o.invoke() == earlier).unwrap();
        assert!(
            e.f == "write"
                && e.process == w.process
                && e.call() >= w.call()
                && e.ret() < read.call()
        );
        let mr = r.details["violations"]["monotonic-reads"]
            .as_array()
            .unwrap();
        assert!(mr
            .iter()
            .all(|v| v["event"].as_u64() == Some(read.invoke() as u64)));
    }
    assert!(injected >= 35, "only {injected} injections");
}

#[test]
fn graph_register_agrees_with_the_linearizability_search() {
    use faultline::checker::linearizable;
    use faultline::model::ModelConfig;
    let mut rng = ChaCha8Rng::seed_from_u64(33);
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..3000 {
        // Small and medium histories: the search handles both quickly.
        let max = if case % 3 == 0 { 24 } else { 8 };
        let h = random_register_history(&mut rng, max, case % 4 != 0);
        let search = linearizable::check(
            &h,
            faultline::model::ModelKind::Register,
            &ModelConfig::default(),
            &Budget::default(),
        )
        .expect("register model accepts the history");
        let graph = GraphRegisterChecker::new().check(&h, &Budget::default());
        assert_ne!(search.verdict, Verdict::Unknown, "case {case}");
        if graph.verdict != search.verdict {
            let mut text = Vec::new();
            h.write_jsonl(&mut text).unwrap();
            panic!(
                "case {case}: graph {} vs search {}\n{}\n{}",
                graph.verdict,
                search.verdict,
                graph.explanation,
                String::from_utf8_lossy(&text)
            );
        }
        match graph.verdict {
            Verdict::Valid => valid += 1,
            _ => invalid += 1,
        }
    }
    assert!(
        valid > 500 && invalid > 500,
        "valid {valid}, invalid {invalid}"
    );
}

/// Every graph-*, stale-*, lost-* and session-* row of histories/README.md,
/// run through the library: the verdict must match, and an invalid verdict
/// must come with an explanation.
#[test]
fn graph_fixtures_get_their_listed_verdicts() {
    use faultline::checker::linearizable;
    use faultline::checker::registry::{self, CheckOptions, CheckerKind};
    use faultline::model::ModelKind;
    let text = std::fs::read_to_string("histories/README.md").expect("histories/README.md");
    let mut checked = 0;
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 4 {
            continue;
        }
        let file = cells[0];
        if !["graph-", "stale-", "lost-", "session-"]
            .iter()
            .any(|p| file.starts_with(p))
        {
            continue;
        }
        let args: Vec<&str> = cells[1].trim_matches('`').split_whitespace().collect();
        let arg = |flag: &str| {
            args.iter()
                .position(|a| *a == flag)
                .and_then(|i| args.get(i + 1))
                .map(|s| s.to_string())
        };
        let checker: CheckerKind = arg("--checker")
            .expect("row names a checker")
            .parse()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let want = match cells[2] {
            "valid" => Verdict::Valid,
            "invalid" => Verdict::Invalid,
            "unknown" => Verdict::Unknown,
            other => panic!("{file}: unexpected verdict {other}"),
        };
        let h = History::read_file(&std::path::Path::new("histories").join(file), None)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let opts = CheckOptions {
            model: arg("--model").map(|m| m.parse().unwrap_or_else(|e| panic!("{file}: {e}"))),
            ..CheckOptions::default()
        };
        let r = if checker == CheckerKind::Linearizable {
            let model = opts.model.unwrap_or(ModelKind::Register);
            linearizable::check(&h, model, &opts.model_config, &Budget::default()).unwrap()
        } else {
            registry::build(checker, &opts)
                .unwrap()
                .check(&h, &Budget::default())
        };
        assert_eq!(
            r.verdict, want,
            "{file} with {checker}: {}\n{}",
            r.summary, r.explanation
        );
        if want == Verdict::Invalid {
            assert!(!r.explanation.trim().is_empty(), "{file}: no explanation");
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} graph fixtures listed");
}

#[test]
fn fixture_explanations_name_the_evidence() {
    let load =
        |f: &str| History::read_file(&std::path::Path::new("histories").join(f), None).unwrap();
    let r =
        GraphRegisterChecker::new().check(&load("graph-invalid-cycle.jsonl"), &Budget::default());
    // One sentence per edge, citing the reads by line.
    assert!(r.explanation.contains("(1) process 3's read of 1 (line 5) completed before process 4's read of 2 (line 7) began"), "{}", r.explanation);
    assert!(r.explanation.contains("(2) process 2's read of 2 (line 3) completed before process 3's read of 1 (line 5) began"), "{}", r.explanation);

    use faultline::checker::stale_read::StaleReadChecker;
    let r = StaleReadChecker::new().check(&load("stale-invalid.jsonl"), &Budget::default());
    let s = &r.details["stale_reads"][0];
    assert_eq!(s["versions_behind"], 2);
    assert_eq!(s["ms_behind"].as_f64(), Some(25.0));
    assert_eq!(
        r.details["by_node"]["n3"]["behind"]["max"].as_f64(),
        Some(25.0)
    );
    assert_eq!(r.details["overall"]["behind"]["count"], 1);

    use faultline::checker::lost_write::LostWriteChecker;
    let r = LostWriteChecker::new().check(&load("lost-set-valid.jsonl"), &Budget::default());
    let c = &r.details["counts"];
    assert_eq!(
        (
            c["stale"].as_u64(),
            c["recovered"].as_u64(),
            c["never-read"].as_u64(),
            c["present"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(1))
    );
    // Element 2 was missing from the read that began 1 ms after its ack.
    assert_eq!(r.details["stale"][0]["value"], 2);
    assert_eq!(r.details["stale"][0]["latency"].as_f64(), Some(1.0));

    use faultline::checker::session::SessionChecker;
    let r = SessionChecker::new().check(&load("session-invalid.jsonl"), &Budget::default());
    // Process 5's read of 100 after its read of 200 is both its own
    // monotonic-reads violation and the writes-follow-reads one of z.
    for (g, n) in [
        ("read-your-writes", 1),
        ("monotonic-reads", 2),
        ("monotonic-writes", 1),
        ("writes-follow-reads", 1),
    ] {
        assert_eq!(r.details["counts"][g], n, "{g}: {}", r.explanation);
    }
}

#[test]
fn session_property_monotonic_reads_violation_at_the_injected_read() {
    use faultline::checker::session::SessionChecker;
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let mut injected = 0;
    for seed in 0..40 {
        let mut h = graph_register::simulate_register(300 + seed, 1200, 5, 2);
        let ops = h.operations().unwrap().to_vec();
        // Two consecutive reads of one key by one process; the first saw a
        // written value b.
        let mut pairs = Vec::new();
        for (i, r1) in ops.iter().enumerate() {
            if r1.f != "read" || r1.outcome != Outcome::Ok || r1.output.is_null() {
                continue;
            }
            if let Some(r2) = ops[i + 1..]
                .iter()
                .find(|o| o.process == r1.process && o.key == r1.key)
            {
                if r2.f == "read" && r2.outcome == Outcome::Ok {
                    pairs.push((r1, r2));
                }
            }
        }
        if pairs.is_empty() {
            continue;
        }
        let (r1, r2) = pairs[rng.gen_range(0..pairs.len())];
        let b = ops
            .iter()
            .find(|o| o.f == "write" && o.key == r1.key && o.input == r1.output)
            .unwrap();
        let older: Vec<&Operation> = ops
            .iter()
            .filter(|o| {
                o.f == "write" && o.key == b.key && o.outcome == Outcome::Ok && o.ret() < b.call()
            })
            .collect();
        let value = older
            .get(rng.gen_range(0..older.len().max(1)))
            .map_or(Val::Nil, |o| o.input.clone());
        h.ops_mut()[r2.complete().unwrap()].value = value;
        injected += 1;
        let r = SessionChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Invalid, "seed {seed}");
        let mr: Vec<(u64, u64)> = r.details["violations"]["monotonic-reads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["event"].as_u64().unwrap(),
                    v["earlier_event"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(mr.len(), 1, "seed {seed}: {}", r.explanation);
        assert_eq!(
            mr[0].0,
            r2.invoke() as u64,
            "seed {seed}: {}",
            r.explanation
        );
        // The earlier read named saw a value newer than the injected one.
        let earlier = ops.iter().find(|o| o.invoke() as u64 == mr[0].1).unwrap();
        assert!(earlier.f == "read" && earlier.process == r1.process && earlier.ret() < r2.call());
    }
    assert!(injected >= 35, "only {injected} injections");
}

#[test]
fn stale_reads_are_summarised_by_region() {
    use faultline::checker::stale_read::StaleReadChecker;
    let h =
        History::read_file(std::path::Path::new("histories/stale-invalid.jsonl"), None).unwrap();
    let regions = [("n1", "east"), ("n2", "east"), ("n3", "west")]
        .iter()
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect();
    let r = StaleReadChecker::new()
        .with_regions(regions)
        .check(&h, &Budget::default());
    assert_eq!(r.details["by_region"]["west"]["behind"]["count"], 1);
    assert!(r.details["by_region"].get("east").is_none());
    assert!(
        r.explanation.contains("By region:\n  west: 1 stale"),
        "{}",
        r.explanation
    );
    assert_eq!(
        r.details["by_process"]["1"]["versions_behind"]["max"].as_f64(),
        Some(2.0)
    );
}
