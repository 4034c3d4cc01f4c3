//! Jepsen's queue checker: every dequeue must come from somewhere.
//!
//! The queue is judged as an *unordered* queue (Knossos's
//! `unordered-queue` model): a bag of elements where a dequeue may return
//! any element that was enqueued and not yet dequeued. Order is not
//! checked (a FIFO queue's order is the linearizable checker's job, with
//! `--model fifo-queue`).
//!
//! The history is replayed in order, with Jepsen's optimistic assumptions,
//! which make the check linear in the history's length:
//!
//! - every **enqueue** is assumed to take effect the moment it is
//!   invoked, whatever its outcome (so an element may be dequeued while
//!   its enqueue is still in flight);
//! - only **ok dequeues** take effect, at their completion;
//! - an ok **drain** (the final "empty the queue" operation whose value is
//!   every element it removed) is a dequeue of each of its elements.
//!
//! A dequeue of an element that is not in the bag at that moment — never
//! enqueued, or already dequeued as often as it was enqueued — makes the
//! history invalid; the first one is reported (`:error`), as Knossos stops
//! at the first inconsistent step. Otherwise the history is valid and the
//! elements left in the bag are the `:final-queue`.
//!
//! Jepsen's own queue checker ignores drains; we replay them, because an
//! element a drain returns was dequeued like any other. Only an ok dequeue
//! of `null` (an empty queue reported as success) is special in neither:
//! it is a dequeue of `null`, as in Knossos.

use crate::checker::keyed::{at, per_key, KeyResult, Multiset};
use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::Val;
use crate::history::{History, Op, Operation, Outcome};
use serde_json::{json, Map, Value};

/// The checker's name in results.
pub const NAME: &str = "queue";

/// See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct QueueChecker;

/// The elements an ok `dequeue` or `drain` removed; `Err` when a drain's
/// value is not a list. Other operations remove nothing.
pub(crate) fn dequeued(op: &Operation) -> Result<Vec<Val>, String> {
    if op.outcome != Outcome::Ok {
        return Ok(Vec::new());
    }
    match op.f.as_str() {
        "dequeue" => Ok(vec![op.output.clone()]),
        "drain" => match &op.output {
            items @ (Val::List(_) | Val::Ints(..) | Val::Triples(_)) => {
                Ok(items.as_array().unwrap_or_default().into_owned())
            }
            Val::Nil => Ok(Vec::new()),
            other => Err(format!("a drain returned {other}, not a list of elements")),
        },
        _ => Ok(Vec::new()),
    }
}

fn check_key(ops: &[&Operation], events: &[Op]) -> KeyResult {
    // (history position, enqueue?, op)
    let mut steps: Vec<(usize, bool, &Operation)> = Vec::new();
    for op in ops {
        match op.f.as_str() {
            "enqueue" => steps.push((op.invoke(), true, op)),
            "dequeue" | "drain" if op.outcome == Outcome::Ok => {
                steps.push((op.complete().unwrap_or(op.invoke()), false, op))
            }
            _ => {}
        }
    }
    steps.sort_by_key(|s| s.0);
    let mut bag = Multiset::default();
    for (pos, enqueue, op) in steps {
        if enqueue {
            bag.add(&op.input);
            continue;
        }
        let items = match dequeued(op) {
            Ok(items) => items,
            Err(e) => return KeyResult::unknown(format!("{e} (at {})", at(events, pos))),
        };
        for v in items {
            if !bag.take(&v) {
                let error = format!("can't dequeue {v}");
                let why = format!(
                    "process {}'s {} at {} returned {v}, which was not in the queue: {}",
                    op.process,
                    op.f,
                    at(events, pos),
                    if bag.count(&v) == 0 && !ops.iter().any(|o| o.f == "enqueue" && o.input == v) {
                        "no enqueue of it was ever invoked"
                    } else {
                        "every enqueue of it invoked so far was already dequeued"
                    }
                );
                let mut map = Map::new();
                map.insert("valid?".into(), json!(false));
                map.insert("error".into(), json!(error));
                return KeyResult {
                    verdict: Verdict::Invalid,
                    map,
                    why,
                };
            }
        }
    }
    let mut map = Map::new();
    map.insert("valid?".into(), json!(true));
    map.insert("final-queue".into(), bag.to_json());
    KeyResult {
        verdict: Verdict::Valid,
        map,
        why: String::new(),
    }
}

fn summary(m: &Map<String, Value>) -> String {
    if let Some(e) = m.get("error").and_then(Value::as_str) {
        return e.to_string();
    }
    let left = m
        .get("final-queue")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    format!("every dequeue came from an enqueue; {left} elements left in the queue")
}

impl QueueChecker {
    pub fn check_ops(&self, ops: &[Operation], events: &[Op]) -> CheckResult {
        per_key(NAME, ops, |g| check_key(g, events), summary)
    }
}

impl Checker for QueueChecker {
    fn name(&self) -> &str {
        NAME
    }
    fn check(&self, history: &History, budget: &Budget) -> CheckResult {
        super::keyed::check_history(NAME, history, budget, |ops, events| {
            self.check_ops(ops, events)
        })
    }
}
