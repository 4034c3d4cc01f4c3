//! Jepsen's total-queue checker: what goes in must come out.
//!
//! For tests that end by draining the queue, this counts elements as
//! multisets (an element may be enqueued more than once):
//!
//! - `attempts`: every enqueue invoked; `enqueues`: those acknowledged;
//! - `dequeues`: every element an ok dequeue returned, plus every element
//!   of an ok drain.
//!
//! From these, as Jepsen defines them:
//!
//! - `lost`: acknowledged enqueues with no matching dequeue;
//! - `unexpected`: dequeued elements no enqueue ever attempted;
//! - `duplicated`: elements dequeued more often than they were attempted;
//! - `recovered`: dequeued elements whose enqueue did not report success;
//! - `ok`: dequeues matched by an attempt.
//!
//! Lost or unexpected elements make the history invalid. Duplicates are
//! reported but, as in Jepsen, do not: many queues promise at-least-once
//! delivery, and this checker is about loss. A drain that ended
//! indeterminate (`info`) leaves unknown what it removed, so the answer is
//! unknown (Jepsen refuses such a history too).

use crate::checker::keyed::{at, per_key, KeyResult, Multiset};
use crate::checker::queue::dequeued;
use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::{History, Op, Operation, Outcome};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

/// The checker's name in results.
pub const NAME: &str = "total-queue";

/// See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct TotalQueueChecker;

fn check_key(ops: &[&Operation], events: &[Op]) -> KeyResult {
    let (mut attempts, mut enqueues, mut dequeues) = (
        Multiset::default(),
        Multiset::default(),
        Multiset::default(),
    );
    for op in ops {
        match op.f.as_str() {
            "enqueue" => {
                attempts.add(&op.input);
                if op.outcome == Outcome::Ok {
                    enqueues.add(&op.input);
                }
            }
            "drain" if op.outcome == Outcome::Info => {
                return KeyResult::unknown(format!(
                    "the drain at {} ended indeterminate: what it removed is unknown",
                    at(events, op.invoke())
                ))
            }
            "dequeue" | "drain" => match dequeued(op) {
                Ok(items) => items.iter().for_each(|v| dequeues.add(v)),
                Err(e) => {
                    return KeyResult::unknown(format!("{e} (at {})", at(events, op.invoke())))
                }
            },
            _ => {}
        }
    }
    let ok = dequeues.intersect(&attempts);
    let mut unexpected = Multiset::default();
    for v in dequeues.values() {
        if attempts.count(&v) == 0 {
            unexpected.add(&v);
        }
    }
    let duplicated = dequeues.minus(&attempts).minus(&unexpected);
    let lost = enqueues.minus(&dequeues);
    let recovered = ok.minus(&enqueues);
    let valid = lost.is_empty() && unexpected.is_empty();
    let mut why = String::new();
    if !lost.is_empty() {
        let _ = writeln!(
            why,
            "- {} acknowledged enqueue(s) never dequeued: {}",
            lost.len(),
            crate::checker::set::show(lost.to_json().as_array().map_or(&[][..], |v| v))
        );
    }
    if !unexpected.is_empty() {
        let _ = writeln!(
            why,
            "- {} dequeued element(s) no enqueue attempted: {}",
            unexpected.len(),
            crate::checker::set::show(unexpected.to_json().as_array().map_or(&[][..], |v| v))
        );
    }
    let mut map = Map::new();
    map.insert("valid?".into(), json!(valid));
    map.insert("attempt-count".into(), json!(attempts.len()));
    map.insert("acknowledged-count".into(), json!(enqueues.len()));
    map.insert("ok-count".into(), json!(ok.len()));
    map.insert("unexpected-count".into(), json!(unexpected.len()));
    map.insert("duplicated-count".into(), json!(duplicated.len()));
    map.insert("lost-count".into(), json!(lost.len()));
    map.insert("recovered-count".into(), json!(recovered.len()));
    map.insert("lost".into(), lost.to_json());
    map.insert("unexpected".into(), unexpected.to_json());
    map.insert("duplicated".into(), duplicated.to_json());
    map.insert("recovered".into(), recovered.to_json());
    KeyResult {
        verdict: if valid {
            Verdict::Valid
        } else {
            Verdict::Invalid
        },
        map,
        why,
    }
}

fn summary(m: &Map<String, Value>) -> String {
    if let Some(e) = m.get("error").and_then(Value::as_str) {
        return e.to_string();
    }
    let n = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0);
    format!(
        "{} acknowledged of {} attempted; {} lost, {} unexpected, {} duplicated, {} recovered",
        n("acknowledged-count"),
        n("attempt-count"),
        n("lost-count"),
        n("unexpected-count"),
        n("duplicated-count"),
        n("recovered-count")
    )
}

impl TotalQueueChecker {
    pub fn check_ops(&self, ops: &[Operation], events: &[Op]) -> CheckResult {
        per_key(NAME, ops, |g| check_key(g, events), summary)
    }
}

impl Checker for TotalQueueChecker {
    fn name(&self) -> &str {
        NAME
    }
    fn check(&self, history: &History, budget: &Budget) -> CheckResult {
        super::keyed::check_history(NAME, history, budget, |ops, events| {
            self.check_ops(ops, events)
        })
    }
}
