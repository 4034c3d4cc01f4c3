//! What Jepsen's simple checkers (counter, set, queue, total-queue,
//! unique-ids) share: one analysis per key, and a multiset of values.
//!
//! Jepsen runs these checkers on one object; tests of many objects wrap
//! them in `independent/checker`, which splits the history by key and
//! reports each key's result. We do the same split for every history: an
//! op without a key belongs to the one unkeyed object, and a history that
//! has only that object gets the single result Jepsen's checker would
//! return, without the per-key wrapping.

use crate::checker::{Budget, CheckResult, Verdict};
use crate::history::Val;
use crate::history::{History, Op, Operation};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Operations grouped by key, in order of each key's first operation.
pub fn by_key(ops: &[Operation]) -> Vec<(Option<Val>, Vec<&Operation>)> {
    let mut index: std::collections::HashMap<Option<Val>, usize> = Default::default();
    let mut groups: Vec<(Option<Val>, Vec<&Operation>)> = Vec::new();
    for op in ops {
        let g = *index.entry(op.key.clone()).or_insert_with(|| {
            groups.push((op.key.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(op);
    }
    groups
}

/// One key's outcome: a verdict, Jepsen's result map (`valid?` included),
/// and, when it is not valid, a sentence saying why.
pub struct KeyResult {
    pub verdict: Verdict,
    pub map: Map<String, Value>,
    pub why: String,
}

impl KeyResult {
    /// `unknown` with Jepsen's `:error` text.
    pub fn unknown(why: impl Into<String>) -> KeyResult {
        let why = why.into();
        let mut map = Map::new();
        map.insert("valid?".into(), json!("unknown"));
        map.insert("error".into(), json!(why));
        KeyResult {
            verdict: Verdict::Unknown,
            map,
            why,
        }
    }
}

/// Jepsen's `:valid?` value for a verdict.
pub fn valid_value(v: Verdict) -> Value {
    match v {
        Verdict::Valid => json!(true),
        Verdict::Invalid => json!(false),
        Verdict::Unknown => json!("unknown"),
    }
}

/// Runs `check` on each key's operations and combines the results: the
/// verdict is the worst one; `details` is the single key's map, or
/// `{"valid?", "results": {key: map}, "failures": [key..]}` as Jepsen's
/// independent checker writes it; `summary(map)` words one key's map.
pub fn per_key(
    name: &str,
    ops: &[Operation],
    check: impl Fn(&[&Operation]) -> KeyResult,
    summary: impl Fn(&Map<String, Value>) -> String,
) -> CheckResult {
    let groups = by_key(ops);
    if groups.len() <= 1 && groups.first().is_none_or(|g| g.0.is_none()) {
        let group: Vec<&Operation> = groups.into_iter().flat_map(|g| g.1).collect();
        let r = check(&group);
        let mut out = CheckResult::new(name, r.verdict, summary(&r.map));
        out.explanation = r.why;
        out.details = Value::Object(r.map);
        return out;
    }
    let mut verdict = Verdict::Valid;
    let mut results = Map::new();
    let mut failures = Vec::new();
    let mut explanation = String::new();
    let mut worst: Option<(Verdict, String)> = None;
    for (key, group) in &groups {
        let k = key.as_ref().map_or("null".to_string(), |k| match k {
            Val::Str(s) => s.to_string(),
            other => other.to_string(),
        });
        let r = check(group);
        verdict = verdict.and(r.verdict);
        if r.verdict != Verdict::Valid {
            failures.push(json!(k));
            if !r.why.is_empty() {
                explanation.push_str(&format!("key {k}: {}\n", r.why.trim_end()));
            }
            if worst.as_ref().is_none_or(|(v, _)| v.and(r.verdict) != *v) {
                worst = Some((r.verdict, format!("key {k}: {}", summary(&r.map))));
            }
        }
        results.insert(k, Value::Object(r.map));
    }
    let head = match &worst {
        Some((_, s)) => format!("{} of {} keys not valid; {s}", failures.len(), groups.len()),
        None => format!("{} keys, all valid", groups.len()),
    };
    let mut out = CheckResult::new(name, verdict, head);
    out.explanation = explanation;
    out.details = json!({
        "valid?": valid_value(verdict),
        "results": results,
        "failures": failures,
    });
    out
}

/// Orders values as Jepsen's `compare` does for the values histories
/// hold: numbers by value, then strings, then anything else by its text.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            _ => 4,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&y.as_f64().unwrap_or(0.0)),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a)
            .cmp(&rank(b))
            .then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

/// A multiset of values (Jepsen uses `multiset.core` for queues): equal
/// values are equal JSON texts.
#[derive(Clone, Debug, Default)]
pub struct Multiset {
    counts: BTreeMap<String, (Val, usize)>,
}

impl Multiset {
    pub fn add(&mut self, v: &Val) {
        self.counts
            .entry(v.to_string())
            .or_insert_with(|| (v.clone(), 0))
            .1 += 1;
    }
    pub fn count(&self, v: &Val) -> usize {
        self.counts.get(&v.to_string()).map_or(0, |e| e.1)
    }
    /// Removes one copy; false when there was none.
    pub fn take(&mut self, v: &Val) -> bool {
        let k = v.to_string();
        match self.counts.get_mut(&k) {
            Some(e) if e.1 > 1 => {
                e.1 -= 1;
                true
            }
            Some(_) => {
                self.counts.remove(&k);
                true
            }
            None => false,
        }
    }
    pub fn len(&self) -> usize {
        self.counts.values().map(|e| e.1).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
    /// Each copy of `self` beyond the copies in `other`.
    pub fn minus(&self, other: &Multiset) -> Multiset {
        let mut out = Multiset::default();
        for (k, (v, n)) in &self.counts {
            let left = n.saturating_sub(other.counts.get(k).map_or(0, |e| e.1));
            if left > 0 {
                out.counts.insert(k.clone(), (v.clone(), left));
            }
        }
        out
    }
    /// The copies in both.
    pub fn intersect(&self, other: &Multiset) -> Multiset {
        let mut out = Multiset::default();
        for (k, (v, n)) in &self.counts {
            let both = (*n).min(other.counts.get(k).map_or(0, |e| e.1));
            if both > 0 {
                out.counts.insert(k.clone(), (v.clone(), both));
            }
        }
        out
    }
    /// Each distinct value once.
    pub fn values(&self) -> Vec<Val> {
        self.counts.values().map(|(v, _)| v.clone()).collect()
    }
    /// Every copy, in value order.
    pub fn to_json(&self) -> Value {
        let mut items: Vec<(Value, usize)> = self
            .counts
            .values()
            .map(|(v, n)| (v.to_json(), *n))
            .collect();
        items.sort_by(|a, b| compare_values(&a.0, &b.0));
        Value::Array(
            items
                .into_iter()
                .flat_map(|(v, n)| std::iter::repeat_n(v.clone(), n))
                .collect(),
        )
    }
}

/// Distinct values in value order.
pub fn sorted(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut v: Vec<Value> = values.into_iter().collect();
    v.sort_by(compare_values);
    v.dedup();
    v
}

/// "line 12" for a history position, or "event 12" when lines are unknown.
pub fn at(events: &[Op], pos: usize) -> String {
    match events.get(pos).map(|e| e.line) {
        Some(l) if l > 0 => format!("line {l}"),
        _ => format!("event {pos}"),
    }
}

/// The `Checker::check` of every simple checker: `unknown` when the budget
/// is already spent, otherwise `check` on the paired operations and the
/// events they came from.
pub fn check_history(
    name: &str,
    history: &History,
    budget: &Budget,
    check: impl FnOnce(&[Operation], &[Op]) -> CheckResult,
) -> CheckResult {
    if budget.exhausted() {
        return CheckResult::new(name, Verdict::Unknown, "budget exhausted");
    }
    crate::checker::on_operations(name, history, |ops| check(ops, history.ops()))
}
