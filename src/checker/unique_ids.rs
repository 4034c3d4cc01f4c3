//! Jepsen's unique-ids checker: an id generator must never hand out the
//! same id twice.
//!
//! Every ok `generate` returns an id; ids are compared as values (JSON
//! text equality). Any id returned by more than one ok `generate` makes the
//! history invalid. Reported as Jepsen does: `:attempted-count` (generates
//! invoked), `:acknowledged-count` (ok generates), `:duplicated-count`,
//! `:duplicated` (the most repeated ids, up to 48, with how often each
//! came back) and `:range` (the lowest and highest id, numbers by value).
//! Indeterminate or failed generates returned nothing to compare.

use crate::checker::keyed::{at, compare_values, per_key, KeyResult};
use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::{History, Op, Operation, Outcome};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fmt::Write as _;

/// The checker's name in results.
pub const NAME: &str = "unique-ids";

/// How many duplicated ids the result lists (Jepsen's limit).
const SHOWN: usize = 48;

/// See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct UniqueIdsChecker;

fn check_key(ops: &[&Operation], events: &[Op]) -> KeyResult {
    let mut attempted = 0usize;
    let mut acknowledged = 0usize;
    // id text -> (id, count, completion position of each)
    let mut freqs: HashMap<String, (Value, Vec<usize>)> = HashMap::new();
    let mut range: Option<(Value, Value)> = None;
    for op in ops.iter().filter(|o| o.f == "generate") {
        attempted += 1;
        if op.outcome != Outcome::Ok {
            continue;
        }
        acknowledged += 1;
        let id = &op.output.to_json();
        freqs
            .entry(id.to_string())
            .or_insert_with(|| (id.clone(), Vec::new()))
            .1
            .push(op.complete().unwrap_or(op.invoke()));
        range = Some(match range {
            None => (id.clone(), id.clone()),
            Some((lo, hi)) => (
                if compare_values(id, &lo).is_lt() {
                    id.clone()
                } else {
                    lo
                },
                if compare_values(id, &hi).is_gt() {
                    id.clone()
                } else {
                    hi
                },
            ),
        });
    }
    let mut dups: Vec<(Value, Vec<usize>)> =
        freqs.into_values().filter(|(_, at)| at.len() > 1).collect();
    // Most repeated first; equal counts in id order.
    dups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(compare_values(&a.0, &b.0)));
    let mut why = String::new();
    for (id, ats) in dups.iter().take(10) {
        let places: Vec<String> = ats.iter().take(5).map(|&p| at(events, p)).collect();
        let _ = writeln!(
            why,
            "- id {id} was generated {} times (at {})",
            ats.len(),
            places.join(", ")
        );
    }
    if dups.len() > 10 {
        let _ = writeln!(why, "... and {} more duplicated ids", dups.len() - 10);
    }
    let mut shown: Vec<&(Value, Vec<usize>)> = dups.iter().take(SHOWN).collect();
    shown.sort_by(|a, b| compare_values(&a.0, &b.0));
    let valid = dups.is_empty();
    let mut map = Map::new();
    map.insert("valid?".into(), json!(valid));
    map.insert("attempted-count".into(), json!(attempted));
    map.insert("acknowledged-count".into(), json!(acknowledged));
    map.insert("duplicated-count".into(), json!(dups.len()));
    map.insert(
        "duplicated".into(),
        Value::Array(
            shown
                .iter()
                .map(|(id, ats)| json!([id, ats.len()]))
                .collect(),
        ),
    );
    map.insert(
        "range".into(),
        range.map_or(Value::Null, |(lo, hi)| json!([lo, hi])),
    );
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
        "{} ids acknowledged of {} attempted; {} duplicated",
        n("acknowledged-count"),
        n("attempted-count"),
        n("duplicated-count")
    )
}

impl UniqueIdsChecker {
    pub fn check_ops(&self, ops: &[Operation], events: &[Op]) -> CheckResult {
        per_key(NAME, ops, |g| check_key(g, events), summary)
    }
}

impl Checker for UniqueIdsChecker {
    fn name(&self) -> &str {
        NAME
    }
    fn check(&self, history: &History, budget: &Budget) -> CheckResult {
        super::keyed::check_history(NAME, history, budget, |ops, events| {
            self.check_ops(ops, events)
        })
    }
}
