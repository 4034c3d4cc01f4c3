//! Jepsen's simple checkers (counter, set, queue, total-queue, unique-ids,
//! set-full): the cases Jepsen's own checker tests exercise, written here
//! as our own histories, with the verdicts and counts Jepsen's definitions
//! give.

use faultline::checker::registry::{self, CheckOptions, CheckerKind};
use faultline::checker::{Budget, CheckResult, Verdict};
use faultline::history::{Format, History};
use serde_json::{json, Value};

/// Runs `checker` on an EDN history, one op map per line.
fn run(checker: CheckerKind, edn: &str) -> CheckResult {
    run_with(checker, edn, CheckOptions::default())
}

fn run_with(checker: CheckerKind, edn: &str, opts: CheckOptions) -> CheckResult {
    let h = History::parse_str(edn, "t.edn", Some(Format::Edn)).expect("test history parses");
    let opts = CheckOptions {
        checkers: Some(vec![checker]),
        ..opts
    };
    let mut rs = registry::run_checks(&h, &opts, &Budget::default()).expect("checker runs");
    assert_eq!(rs.len(), 1);
    rs.remove(0)
}

/// `{:process p, :type t, :f f, :value v}` lines.
fn ops(list: &[(i64, &str, &str, &str)]) -> String {
    list.iter()
        .map(|(p, t, f, v)| format!("{{:process {p}, :type :{t}, :f :{f}, :value {v}}}\n"))
        .collect()
}

#[test]
fn counter_cases() {
    use CheckerKind::Counter;
    // Empty: valid, no reads.
    let r = run(Counter, "");
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.details["reads"], json!([]));
    // Initial read of 0.
    let r = run(
        Counter,
        &ops(&[(0, "invoke", "read", "nil"), (0, "ok", "read", "0")]),
    );
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.details["reads"], json!([[0, 0, 0]]));
    // A failed add never counts, not even in the upper bound.
    let r = run(
        Counter,
        &ops(&[
            (0, "invoke", "add", "1"),
            (0, "fail", "add", "1"),
            (0, "invoke", "read", "nil"),
            (0, "ok", "read", "0"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.details["reads"], json!([[0, 0, 0]]));
    // An initial read of 1 is above everything attempted.
    let r = run(
        Counter,
        &ops(&[(0, "invoke", "read", "nil"), (0, "ok", "read", "1")]),
    );
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.details["errors"], json!([[0, 1, 0]]));
    // Interleaved: every read may see any subset of the concurrent adds,
    // but 100 is more than all of them.
    let h = ops(&[
        (0, "invoke", "read", "nil"),
        (1, "invoke", "add", "1"),
        (2, "invoke", "read", "nil"),
        (3, "invoke", "add", "2"),
        (4, "invoke", "read", "nil"),
        (5, "invoke", "add", "4"),
        (6, "invoke", "read", "nil"),
        (7, "invoke", "add", "8"),
        (8, "invoke", "read", "nil"),
        (0, "ok", "read", "6"),
        (1, "ok", "add", "1"),
        (2, "ok", "read", "0"),
        (3, "ok", "add", "2"),
        (4, "ok", "read", "3"),
        (5, "ok", "add", "4"),
        (6, "ok", "read", "100"),
        (7, "ok", "add", "8"),
        (8, "ok", "read", "15"),
    ]);
    let r = run(Counter, &h);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(
        r.details["reads"],
        json!([
            [0, 6, 15],
            [0, 0, 15],
            [0, 3, 15],
            [0, 100, 15],
            [0, 15, 15]
        ])
    );
    assert_eq!(r.details["errors"], json!([[0, 100, 15]]));
    // Rolling: a read that began after 1 was acknowledged returns 5 when
    // at most 1 + 2 was ever attempted.
    let r = run(
        Counter,
        &ops(&[
            (0, "invoke", "read", "nil"),
            (1, "invoke", "add", "1"),
            (0, "ok", "read", "0"),
            (0, "invoke", "read", "nil"),
            (1, "ok", "add", "1"),
            (1, "invoke", "add", "2"),
            (0, "ok", "read", "3"),
            (0, "invoke", "read", "nil"),
            (1, "ok", "add", "2"),
            (0, "ok", "read", "5"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.details["reads"], json!([[0, 0, 1], [0, 3, 3], [1, 5, 3]]));
    assert_eq!(r.details["errors"], json!([[1, 5, 3]]));
    // Decrements are outside the checker's model: unknown, with the reason.
    let r = run(
        Counter,
        &ops(&[(0, "invoke", "add", "-1"), (0, "ok", "add", "-1")]),
    );
    assert_eq!(r.verdict, Verdict::Unknown, "{}", r.summary);
    assert!(r.summary.contains("only grows"), "{}", r.summary);
}

#[test]
fn queue_cases() {
    use CheckerKind::Queue;
    assert_eq!(run(Queue, "").verdict, Verdict::Valid);
    // A possible or a definite enqueue that nobody dequeues.
    assert_eq!(
        run(Queue, &ops(&[(1, "invoke", "enqueue", "1")])).verdict,
        Verdict::Valid
    );
    let r = run(
        Queue,
        &ops(&[(1, "invoke", "enqueue", "1"), (1, "ok", "enqueue", "1")]),
    );
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.details["final-queue"], json!([1]));
    // A dequeue that completes after a concurrent enqueue began.
    let r = run(
        Queue,
        &ops(&[
            (2, "invoke", "dequeue", "nil"),
            (1, "invoke", "enqueue", "1"),
            (2, "ok", "dequeue", "1"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Valid);
    // A dequeue with no enqueue at all.
    let r = run(
        Queue,
        &ops(&[(1, "invoke", "dequeue", "nil"), (1, "ok", "dequeue", "1")]),
    );
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.details["error"], json!("can't dequeue 1"));
    // A dequeue that completes before the enqueue was even invoked.
    let r = run(
        Queue,
        &ops(&[
            (2, "invoke", "dequeue", "nil"),
            (2, "ok", "dequeue", "1"),
            (1, "invoke", "enqueue", "1"),
            (1, "ok", "enqueue", "1"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Invalid);
}

#[test]
fn total_queue_cases() {
    use CheckerKind::TotalQueue;
    let r = run(TotalQueue, "");
    assert_eq!(r.verdict, Verdict::Valid);
    // Sane: the indeterminate enqueue of 1 is recovered.
    let r = run(
        TotalQueue,
        &ops(&[
            (1, "invoke", "enqueue", "1"),
            (2, "invoke", "enqueue", "2"),
            (2, "ok", "enqueue", "2"),
            (3, "invoke", "dequeue", "nil"),
            (3, "ok", "dequeue", "1"),
            (3, "invoke", "dequeue", "nil"),
            (3, "ok", "dequeue", "2"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Valid);
    let counts = |r: &CheckResult| -> Vec<Value> {
        [
            "attempt-count",
            "acknowledged-count",
            "ok-count",
            "unexpected-count",
            "lost-count",
            "duplicated-count",
            "recovered-count",
        ]
        .iter()
        .map(|k| r.details[*k].clone())
        .collect()
    };
    assert_eq!(
        counts(&r),
        vec![
            json!(2),
            json!(1),
            json!(2),
            json!(0),
            json!(0),
            json!(0),
            json!(1)
        ]
    );
    assert_eq!(r.details["recovered"], json!([1]));
    // Pathological: lost, unexpected and duplicated at once.
    let r = run(
        TotalQueue,
        &ops(&[
            (1, "invoke", "enqueue", ":hung"),
            (2, "invoke", "enqueue", ":enqueued"),
            (2, "ok", "enqueue", ":enqueued"),
            (3, "invoke", "enqueue", ":dup"),
            (3, "ok", "enqueue", ":dup"),
            (4, "invoke", "dequeue", "nil"),
            (5, "invoke", "dequeue", "nil"),
            (5, "ok", "dequeue", ":wtf"),
            (6, "invoke", "dequeue", "nil"),
            (6, "ok", "dequeue", ":dup"),
            (7, "invoke", "dequeue", "nil"),
            (7, "ok", "dequeue", ":dup"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(
        counts(&r),
        vec![
            json!(3),
            json!(2),
            json!(1),
            json!(1),
            json!(1),
            json!(1),
            json!(0)
        ]
    );
    let one = |k: &str| r.details[k].as_array().map(Vec::len);
    assert_eq!(
        (one("lost"), one("unexpected"), one("duplicated")),
        (Some(1), Some(1), Some(1))
    );
    // A drain counts as dequeues of its elements.
    let r = run(
        TotalQueue,
        &ops(&[
            (1, "invoke", "enqueue", "1"),
            (1, "ok", "enqueue", "1"),
            (1, "invoke", "enqueue", "2"),
            (1, "ok", "enqueue", "2"),
            (2, "invoke", "drain", "nil"),
            (2, "ok", "drain", "[2]"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.details["lost"], json!([1]));
}

#[test]
fn set_cases() {
    use CheckerKind::Set;
    // Never read: unknown.
    let r = run(
        Set,
        &ops(&[(0, "invoke", "add", "0"), (0, "ok", "add", "0")]),
    );
    assert_eq!(r.verdict, Verdict::Unknown);
    // Only the last read counts: the earlier read lacking 0 is not judged.
    let r = run(
        Set,
        &ops(&[
            (0, "invoke", "add", "0"),
            (0, "ok", "add", "0"),
            (1, "invoke", "read", "nil"),
            (1, "ok", "read", "#{}"),
            (1, "invoke", "read", "nil"),
            (1, "ok", "read", "#{0}"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.details["ok"], json!([0]));
    // Lost, unexpected and recovered together.
    let r = run(
        Set,
        &ops(&[
            (0, "invoke", "add", "0"),
            (0, "ok", "add", "0"),
            (1, "invoke", "add", "1"),
            (1, "info", "add", "1"),
            (2, "invoke", "read", "nil"),
            (2, "ok", "read", "#{1 5}"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.details["lost"], json!([0]));
    assert_eq!(r.details["unexpected"], json!([5]));
    assert_eq!(r.details["recovered"], json!([1]));
    assert_eq!(r.details["attempt-count"], json!(2));
    assert_eq!(r.details["acknowledged-count"], json!(1));
}

#[test]
fn unique_ids_cases() {
    use CheckerKind::UniqueIds;
    let r = run(
        UniqueIds,
        &ops(&[
            (0, "invoke", "generate", "nil"),
            (0, "ok", "generate", "5"),
            (1, "invoke", "generate", "nil"),
            (1, "ok", "generate", "2"),
            (2, "invoke", "generate", "nil"),
            (2, "fail", "generate", "nil"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.details["range"], json!([2, 5]));
    assert_eq!(r.details["attempted-count"], json!(3));
    assert_eq!(r.details["acknowledged-count"], json!(2));
    let r = run(
        UniqueIds,
        &ops(&[
            (0, "invoke", "generate", "nil"),
            (0, "ok", "generate", "5"),
            (1, "invoke", "generate", "nil"),
            (1, "ok", "generate", "5"),
            (1, "invoke", "generate", "nil"),
            (1, "ok", "generate", "5"),
        ]),
    );
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.details["duplicated"], json!([[5, 3]]));
    assert_eq!(r.details["duplicated-count"], json!(1));
}

#[test]
fn keyed_histories_are_checked_per_key() {
    // Key 1 is fine, key 2 reads more than was ever added to it.
    let h = r#"{"process":0,"type":"invoke","f":"add","key":1,"value":3}
{"process":0,"type":"ok","f":"add","key":1,"value":3}
{"process":1,"type":"invoke","f":"read","key":2,"value":null}
{"process":1,"type":"ok","f":"read","key":2,"value":3}
{"process":1,"type":"invoke","f":"read","key":1,"value":null}
{"process":1,"type":"ok","f":"read","key":1,"value":3}
"#;
    let h = History::parse_str(h, "t.jsonl", Some(Format::Jsonl)).expect("parses");
    let opts = CheckOptions {
        checkers: Some(vec![CheckerKind::Counter]),
        ..CheckOptions::default()
    };
    let r = registry::run_checks(&h, &opts, &Budget::default())
        .expect("checker runs")
        .remove(0);
    assert_eq!(r.verdict, Verdict::Invalid, "{}", r.summary);
    assert_eq!(r.details["failures"], json!(["2"]), "{}", r.details);
    assert_eq!(r.details["results"]["1"]["valid?"], json!(true));
}

/// A JSONL history from (process, type, f, value) events, with Jepsen's
/// test helper's timing: event i at i ms.
fn timed(events: &[(i64, &str, &str, Value)]) -> String {
    events
        .iter()
        .enumerate()
        .map(|(i, (p, t, f, v))| {
            json!({"index": i, "time": i as u64 * 1_000_000, "process": p, "type": t, "f": f, "value": v})
                .to_string()
                + "\n"
        })
        .collect()
}

fn set_full(events: &[(i64, &str, &str, Value)], linearizable: bool) -> CheckResult {
    let h = History::parse_str(&timed(events), "t.jsonl", Some(Format::Jsonl)).expect("parses");
    let opts = CheckOptions {
        checkers: Some(vec!["set-full".parse().expect("set-full is a checker")]),
        linearizable,
        ..CheckOptions::default()
    };
    registry::run_checks(&h, &opts, &Budget::default())
        .expect("checker runs")
        .remove(0)
}

#[test]
fn set_full_cases() {
    let a = (0, "invoke", "add", json!(0));
    let a_ok = (0, "ok", "add", json!(0));
    let r = (1, "invoke", "read", Value::Null);
    let r_has = (1, "ok", "read", json!([0]));
    let r_lacks = (1, "ok", "read", json!([]));
    let count = |r: &CheckResult, k: &str| r.details[k].as_u64().unwrap_or(u64::MAX);

    // Never read, and never confirmed: nothing is stable, so unknown.
    for h in [
        vec![a.clone(), a_ok.clone()],
        vec![a.clone(), r.clone(), r_lacks.clone()],
    ] {
        let res = set_full(&h, false);
        assert_eq!(res.verdict, Verdict::Unknown, "{h:?}: {}", res.summary);
        assert_eq!(count(&res, "never-read-count"), 1);
        assert_eq!(count(&res, "stable-count"), 0);
    }
    // A read showing it, concurrent with the add or after it: stable.
    for h in [
        vec![r.clone(), a.clone(), r_has.clone(), a_ok.clone()],
        vec![r.clone(), a.clone(), a_ok.clone(), r_has.clone()],
        vec![a.clone(), r.clone(), r_has.clone(), a_ok.clone()],
        vec![a.clone(), r.clone(), a_ok.clone(), r_has.clone()],
        vec![a.clone(), a_ok.clone(), r.clone(), r_has.clone()],
    ] {
        let res = set_full(&h, false);
        assert_eq!(res.verdict, Verdict::Valid, "{h:?}: {}", res.summary);
        assert_eq!(count(&res, "stable-count"), 1);
        assert_eq!(count(&res, "stale-count"), 0);
    }
    // A read that began after the acknowledgement lacks it: lost.
    let res = set_full(
        &[a.clone(), a_ok.clone(), r.clone(), r_lacks.clone()],
        false,
    );
    assert_eq!(res.verdict, Verdict::Invalid);
    assert_eq!(count(&res, "lost-count"), 1);
    // A read concurrent with the add lacks it: it may have run first, so
    // never-read, and with nothing stable, unknown.
    for h in [
        vec![r.clone(), a.clone(), r_lacks.clone(), a_ok.clone()],
        vec![r.clone(), a.clone(), a_ok.clone(), r_lacks.clone()],
        vec![a.clone(), r.clone(), r_lacks.clone(), a_ok.clone()],
        vec![a.clone(), r.clone(), a_ok.clone(), r_lacks.clone()],
    ] {
        let res = set_full(&h, false);
        assert_eq!(res.verdict, Verdict::Unknown, "{h:?}: {}", res.summary);
        assert_eq!(count(&res, "never-read-count"), 1);
    }

    let add = |p: i64, t: &'static str, v: i64| (p, t, "add", json!(v));
    let read = |p: i64, t: &'static str, v: Value| (p, t, "read", v);
    // Both written, one read early, then both, then 0, then nothing: both lost.
    let h = vec![
        add(0, "invoke", 0),
        add(1, "invoke", 1),
        read(2, "invoke", Value::Null),
        read(2, "ok", json!([1])),
        add(0, "ok", 0),
        add(1, "ok", 1),
        read(2, "invoke", Value::Null),
        read(2, "ok", json!([0, 1])),
        read(2, "invoke", Value::Null),
        read(2, "ok", json!([0])),
        read(2, "invoke", Value::Null),
        read(2, "ok", json!([])),
    ];
    let res = set_full(&h, false);
    assert_eq!(res.verdict, Verdict::Invalid);
    assert_eq!(count(&res, "lost-count"), 2);
    // Flutter: 1 is seen before its add completes, missed by a later read,
    // then seen again (stable but stale); 0 is missed by the last read to
    // begin (lost).
    let h = vec![
        add(0, "invoke", 0),
        add(0, "ok", 0),
        add(1, "invoke", 1),
        read(2, "invoke", Value::Null),
        read(2, "ok", json!([1])),
        add(1, "ok", 1),
        read(2, "invoke", Value::Null),
        read(3, "invoke", Value::Null),
        read(3, "ok", json!([1])),
        read(2, "ok", json!([0])),
    ];
    let res = set_full(&h, false);
    assert_eq!(res.verdict, Verdict::Invalid);
    assert_eq!(
        (
            count(&res, "lost-count"),
            count(&res, "stale-count"),
            count(&res, "stable-count")
        ),
        (1, 1, 1)
    );
    assert_eq!(res.details["lost"][0]["value"], json!(0));
    assert_eq!(res.details["stale"][0]["value"], json!(1));
    // Stale but never lost: valid, unless the set must be linearizable.
    let h = vec![
        a.clone(),
        a_ok.clone(),
        r.clone(),
        r_lacks.clone(),
        r.clone(),
        r_has.clone(),
    ];
    assert_eq!(set_full(&h, false).verdict, Verdict::Valid);
    let res = set_full(&h, true);
    assert_eq!(res.verdict, Verdict::Invalid, "{}", res.summary);
    assert!(res.explanation.contains("stale"), "{}", res.explanation);
    // A read listing an element twice is not a set read.
    let res = set_full(
        &[
            a.clone(),
            a_ok.clone(),
            r.clone(),
            (1, "ok", "read", json!([0, 0])),
        ],
        false,
    );
    assert_eq!(res.verdict, Verdict::Invalid);
    assert_eq!(count(&res, "duplicated-count"), 1);
}
