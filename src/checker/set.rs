//! Jepsen's set checker: after the adds, one final read must hold every
//! acknowledged element and nothing that was never added.
//!
//! The history is `add v` operations and reads that return the whole set;
//! only the **last** ok read (the one that completed last) is judged,
//! because this checker is for tests that stop writing, let the system
//! settle, and read once more. Against that read:
//!
//! - `ok`: read elements some add attempted;
//! - `lost`: elements whose add was acknowledged (`ok`) but are missing;
//! - `unexpected`: read elements no add ever attempted;
//! - `recovered`: read elements whose add did not report success
//!   (indeterminate, or even failed) — the write happened after all.
//!
//! Lost or unexpected elements make the history invalid. With no ok read
//! at all nothing was observed, so the answer is unknown ("set was never
//! read"), as Jepsen's.
//!
//! As in Jepsen, an element whose add *failed* but that the final read
//! shows counts as recovered, not as an error; and reads before the last
//! one are ignored. The `lost-write` checker (Jepsen's set-full) judges
//! every read and flags both.

use crate::checker::keyed::{at, per_key, sorted, KeyResult};
use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::Val;
use crate::history::{History, Op, Operation, Outcome};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The checker's name in results.
pub const NAME: &str = "set";

/// See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct SetChecker;

type Elements = BTreeMap<String, Value>;

fn insert(s: &mut Elements, v: &Val) {
    s.insert(v.to_string(), v.to_json());
}

fn minus(a: &Elements, b: &Elements) -> Vec<Value> {
    sorted(
        a.iter()
            .filter(|(k, _)| !b.contains_key(*k))
            .map(|(_, v)| v.clone()),
    )
}

fn check_key(ops: &[&Operation], events: &[Op]) -> KeyResult {
    let mut attempts = Elements::new();
    let mut adds = Elements::new();
    let mut last_read: Option<&Operation> = None;
    for op in ops {
        match op.f.as_str() {
            "add" => {
                insert(&mut attempts, &op.input);
                if op.outcome == Outcome::Ok {
                    insert(&mut adds, &op.input);
                }
            }
            "read"
                if op.outcome == Outcome::Ok
                    && last_read.is_none_or(|r| r.complete() < op.complete()) =>
            {
                last_read = Some(op);
            }
            _ => {}
        }
    }
    let Some(read) = last_read else {
        let mut r = KeyResult::unknown("Set was never read");
        r.map.insert("attempt-count".into(), json!(attempts.len()));
        r.map.insert("acknowledged-count".into(), json!(adds.len()));
        return r;
    };
    let read_at = at(events, read.complete().unwrap_or(read.invoke()));
    let mut final_read = Elements::new();
    match &read.output {
        items @ (Val::List(_) | Val::Ints(..) | Val::Triples(_)) => items
            .as_array()
            .unwrap_or_default()
            .iter()
            .for_each(|v| insert(&mut final_read, v)),
        Val::Nil => {}
        other => {
            return KeyResult::unknown(format!(
                "the final read at {read_at} returned {other}, not a set"
            ))
        }
    }
    let ok: Elements = final_read
        .iter()
        .filter(|(k, _)| attempts.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let unexpected = minus(&final_read, &attempts);
    let lost = minus(&adds, &final_read);
    let recovered = minus(&ok, &adds);
    let valid = lost.is_empty() && unexpected.is_empty();
    let mut why = String::new();
    if !lost.is_empty() {
        let _ = writeln!(
            why,
            "- the final read at {read_at} lacks {} acknowledged element(s): {}",
            lost.len(),
            show(&lost)
        );
    }
    if !unexpected.is_empty() {
        let _ = writeln!(
            why,
            "- the final read at {read_at} holds {} element(s) no add attempted: {}",
            unexpected.len(),
            show(&unexpected)
        );
    }
    let mut map = Map::new();
    map.insert("valid?".into(), json!(valid));
    map.insert("attempt-count".into(), json!(attempts.len()));
    map.insert("acknowledged-count".into(), json!(adds.len()));
    map.insert("ok-count".into(), json!(ok.len()));
    map.insert("lost-count".into(), json!(lost.len()));
    map.insert("recovered-count".into(), json!(recovered.len()));
    map.insert("unexpected-count".into(), json!(unexpected.len()));
    map.insert("ok".into(), Value::Array(sorted(ok.into_values())));
    map.insert("lost".into(), Value::Array(lost));
    map.insert("unexpected".into(), Value::Array(unexpected));
    map.insert("recovered".into(), Value::Array(recovered));
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

/// At most 20 values, then how many more.
pub(crate) fn show(vs: &[Value]) -> String {
    let mut s: Vec<String> = vs.iter().take(20).map(Value::to_string).collect();
    if vs.len() > 20 {
        s.push(format!("... {} more", vs.len() - 20));
    }
    s.join(", ")
}

fn summary(m: &Map<String, Value>) -> String {
    if let Some(e) = m.get("error").and_then(Value::as_str) {
        return e.to_string();
    }
    let n = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0);
    format!(
        "{} acknowledged of {} attempted; final read: {} ok, {} lost, {} unexpected, {} recovered",
        n("acknowledged-count"),
        n("attempt-count"),
        n("ok-count"),
        n("lost-count"),
        n("unexpected-count"),
        n("recovered-count")
    )
}

impl SetChecker {
    pub fn check_ops(&self, ops: &[Operation], events: &[Op]) -> CheckResult {
        per_key(NAME, ops, |g| check_key(g, events), summary)
    }
}

impl Checker for SetChecker {
    fn name(&self) -> &str {
        NAME
    }
    fn check(&self, history: &History, budget: &Budget) -> CheckResult {
        super::keyed::check_history(NAME, history, budget, |ops, events| {
            self.check_ops(ops, events)
        })
    }
}
