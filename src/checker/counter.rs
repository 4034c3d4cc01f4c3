//! Jepsen's counter checker: every read lies between what was surely added
//! and what might have been.
//!
//! A counter starts at 0; `add n` (n ≥ 0) increments it, `read` returns
//! it. Walking the history in order, two sums bound the value:
//!
//! - the **upper** bound grows by `n` when an add is *invoked* (unless the
//!   add is known to fail): from then on it may have happened;
//! - the **lower** bound grows by `n` when an add *completes ok*: from then
//!   on it surely has.
//!
//! A read may take effect at any moment between its invoke and its
//! completion, so it must return at least the lower bound when it was
//! invoked and at most the upper bound when it completed. Each ok read is
//! reported as `[lower value upper]` (Jepsen's `:reads`), and those outside
//! their bounds are the `:errors`; any error makes the history invalid.
//!
//! This is a sound but not complete check: it never calls a correct
//! counter wrong, but a read inside its bounds can still be impossible
//! (the linearizable checker with `--model counter` decides exactly).
//! As in Jepsen, decrements are outside the model: a negative add makes the
//! answer unknown.

use crate::checker::keyed::{at, per_key, KeyResult};
use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::{History, Op, Operation, Outcome};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

/// The checker's name in results.
pub const NAME: &str = "counter";

/// See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct CounterChecker;

/// An integer add amount or read value; `None` when it is not one.
fn integer(v: &crate::history::Val) -> Option<i128> {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
}

enum Step {
    /// An add's invoke: it may take effect from here on.
    MayAdd(i128),
    /// An add's ok completion: it surely took effect.
    Added(i128),
    /// An ok read's invoke (index into `reads`).
    ReadBegins(usize),
    /// An ok read's completion.
    ReadEnds(usize),
}

/// One key's counter analysis.
fn check_key(ops: &[&Operation], events: &[Op]) -> KeyResult {
    let mut steps: Vec<(usize, Step)> = Vec::new();
    // (read op, value, lower, upper)
    let mut reads: Vec<(&Operation, i128, i128, i128)> = Vec::new();
    for op in ops {
        match op.f.as_str() {
            "add" => {
                if op.outcome == Outcome::Fail {
                    continue;
                }
                let Some(n) = integer(&op.input) else {
                    return KeyResult::unknown(format!(
                        "the add at {} has value {}, not an integer",
                        at(events, op.invoke()),
                        op.input
                    ));
                };
                if n < 0 {
                    return KeyResult::unknown(format!(
                        "the add at {} adds {n}: the counter checker assumes the counter only grows",
                        at(events, op.invoke())
                    ));
                }
                steps.push((op.invoke(), Step::MayAdd(n)));
                if let (Outcome::Ok, Some(c)) = (op.outcome, op.complete()) {
                    steps.push((c, Step::Added(n)));
                }
            }
            "read" => {
                let (Outcome::Ok, Some(c)) = (op.outcome, op.complete()) else {
                    continue;
                };
                let Some(v) = integer(&op.output) else {
                    return KeyResult::unknown(format!(
                        "the read at {} returned {}, not an integer",
                        at(events, c),
                        op.output
                    ));
                };
                steps.push((op.invoke(), Step::ReadBegins(reads.len())));
                steps.push((c, Step::ReadEnds(reads.len())));
                reads.push((op, v, 0, 0));
            }
            _ => {}
        }
    }
    steps.sort_by_key(|s| s.0);
    let (mut lower, mut upper) = (0i128, 0i128);
    let mut order = Vec::with_capacity(reads.len());
    for (_, s) in steps {
        match s {
            Step::MayAdd(n) => upper += n,
            Step::Added(n) => lower += n,
            Step::ReadBegins(i) => reads[i].2 = lower,
            Step::ReadEnds(i) => {
                reads[i].3 = upper;
                order.push(i);
            }
        }
    }
    let triple = |i: usize| json!([reads[i].2, reads[i].1, reads[i].3]);
    let bad: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| !(reads[i].2 <= reads[i].1 && reads[i].1 <= reads[i].3))
        .collect();
    let mut why = String::new();
    for &i in bad.iter().take(10) {
        let (op, v, lo, hi) = reads[i];
        let _ = writeln!(
            why,
            "- process {}'s read at {} returned {v}, outside [{lo}, {hi}]: {lo} was surely added when it began and at most {hi} could have been when it ended",
            op.process,
            at(events, op.complete().unwrap_or(op.invoke())),
        );
    }
    if bad.len() > 10 {
        let _ = writeln!(why, "... and {} more", bad.len() - 10);
    }
    let verdict = if bad.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    let mut map = Map::new();
    map.insert("valid?".into(), json!(bad.is_empty()));
    map.insert(
        "reads".into(),
        Value::Array(order.iter().map(|&i| triple(i)).collect()),
    );
    map.insert(
        "errors".into(),
        Value::Array(bad.iter().map(|&i| triple(i)).collect()),
    );
    KeyResult { verdict, map, why }
}

fn summary(m: &Map<String, Value>) -> String {
    if let Some(e) = m.get("error").and_then(Value::as_str) {
        return e.to_string();
    }
    let n = |k: &str| m.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    format!(
        "{} of {} reads outside their bounds",
        n("errors"),
        n("reads")
    )
}

impl CounterChecker {
    pub fn check_ops(&self, ops: &[Operation], events: &[Op]) -> CheckResult {
        per_key(NAME, ops, |g| check_key(g, events), summary)
    }
}

impl Checker for CounterChecker {
    fn name(&self) -> &str {
        NAME
    }
    fn check(&self, history: &History, budget: &Budget) -> CheckResult {
        super::keyed::check_history(NAME, history, budget, |ops, events| {
            self.check_ops(ops, events)
        })
    }
}
