//! Jepsen's "independent" histories: many keys tested at once, each
//! operation's value a `[key value]` tuple (`jepsen.independent`).
//!
//! A read of key 3 is `{:f :read, :value [3 nil]}` and returns `[3 5]`; a
//! write is `[3 5]`; a compare-and-set is `[3 [old new]]`. Splitting the
//! tuples into `key` and `value` lets every checker handle each key on its
//! own, which is what Jepsen's independent checker does (the history is
//! valid when every key's is).
//!
//! The danger is reading a plain history as tuples: a plain cas-register's
//! cas value `[old new]` is also a two-element vector. So detection is
//! strict — it must hold for the whole history, and the shapes of a plain
//! history break it:
//! - no event already has a `key`, and the history has no transactions;
//! - every client event's value is a two-element vector whose first element
//!   is a scalar (a number, string or boolean), except `info` and `fail`
//!   completions without a value (they keep their invocation's);
//! - every cas value is `[key [old new]]`.
//!
//! A plain read invocation has value `nil` and a plain cas `[old new]` has a
//! scalar second element, so any plain register history that reads or
//! compares-and-sets is never taken for tuples. `check --independent` and
//! `--no-independent` override the detection.

use super::{History, HistoryError, Op, OpType, Process, TXN};

/// Whether values are split as `[key value]` tuples (`check --independent`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Independent {
    /// Split when the whole history has the tuple shape (see the module docs).
    #[default]
    Auto,
    /// Split; an event that is not a tuple is an error.
    Always,
    /// Never split.
    Never,
}

fn is_client(op: &Op) -> bool {
    !op.process.as_ref().is_some_and(Process::is_nemesis)
}

/// A completion that may lack a value: it keeps its invocation's.
fn may_be_empty(op: &Op) -> bool {
    matches!(op.op_type, OpType::Info | OpType::Fail) && op.value.is_null()
}

/// Why `op` is not a `[key value]` tuple; `None` when it is one.
fn not_a_tuple(op: &Op) -> Option<String> {
    let Some(t) = op.value.as_array() else {
        return Some(format!("value {} is not a [key value] tuple", op.value));
    };
    if t.len() != 2 {
        return Some(format!(
            "value {} has {} elements, not 2 ([key value])",
            op.value,
            t.len()
        ));
    }
    if !(t[0].is_number() || t[0].is_string() || t[0].as_bool().is_some()) {
        return Some(format!("key {} is not a number or a string", t[0]));
    }
    if op.f == "cas" && t[1].as_array().is_none_or(|a| a.len() != 2) {
        return Some(format!("cas value {} is not [key [old new]]", op.value));
    }
    None
}

/// True when every client event of `history` is an independent tuple.
pub fn detect(history: &History) -> bool {
    let mut tuples = 0usize;
    for op in history.ops().iter().filter(|o| is_client(o)) {
        if op.key.is_some() || op.f == TXN {
            return false;
        }
        if may_be_empty(op) {
            continue;
        }
        if not_a_tuple(op).is_some() {
            return false;
        }
        tuples += 1;
    }
    tuples > 0
}

/// Splits every client event's tuple into `key` and `value`; the first
/// event that is not a tuple is an error naming its line.
pub fn split(history: &mut History) -> Result<usize, HistoryError> {
    let file = history.source.to_string();
    let mut keys = std::collections::HashSet::new();
    for op in history.ops_mut().iter_mut().filter(|o| is_client(o)) {
        if may_be_empty(op) {
            continue;
        }
        if op.key.is_some() {
            return Err(HistoryError::invalid(
                &file,
                op.line as usize,
                "--independent: this event already has a key; its value cannot also be a [key value] tuple",
            ));
        }
        if let Some(why) = not_a_tuple(op) {
            return Err(HistoryError::invalid(
                &file,
                op.line as usize,
                format!("--independent: {why}"),
            ));
        }
        if let Some(t) = std::mem::take(&mut op.value).as_array() {
            let key = t.first().cloned().unwrap_or_default();
            let value = t.get(1).cloned().unwrap_or_default();
            keys.insert(key.to_string());
            op.key = Some(key);
            op.value = value;
        }
    }
    Ok(keys.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn h(events: &[(i64, OpType, &str, Value)]) -> History {
        let ops = events
            .iter()
            .enumerate()
            .map(|(i, (p, t, f, v))| {
                let mut o = Op::new(i as u64, Process::id(*p), *t, f, v.clone());
                o.line = (i + 1) as u32;
                o
            })
            .collect();
        History::new(ops)
    }

    fn tuples() -> History {
        h(&[
            (0, OpType::Invoke, "read", json!([3, null])),
            (1, OpType::Invoke, "cas", json!([4, [1, 2]])),
            (0, OpType::Ok, "read", json!([3, 5])),
            (1, OpType::Info, "cas", Value::Null),
        ])
    }

    #[test]
    fn detects_and_splits_tuples() {
        let mut hist = tuples();
        assert!(detect(&hist));
        assert_eq!(split(&mut hist).unwrap(), 2);
        assert_eq!(hist.ops()[0].key, Some(json!(3).into()));
        assert_eq!(hist.ops()[0].value, Value::Null);
        assert_eq!(hist.ops()[1].value, json!([1, 2]));
        assert_eq!(hist.ops()[2].value, json!(5));
        assert_eq!(hist.ops()[3].key, None);
        let ops = hist.operations().unwrap();
        assert_eq!(ops[1].key, Some(json!(4).into()));
        assert_eq!(ops[1].output, json!([1, 2]));
    }

    #[test]
    fn plain_cas_register_is_not_tuples() {
        // A plain cas [old new] and a read of nil.
        let plain = h(&[
            (0, OpType::Invoke, "cas", json!([1, 2])),
            (0, OpType::Ok, "cas", json!([1, 2])),
        ]);
        assert!(!detect(&plain));
        let plain = h(&[
            (0, OpType::Invoke, "read", Value::Null),
            (0, OpType::Ok, "read", json!([1, 2])),
        ]);
        assert!(!detect(&plain));
        let mut plain = plain;
        let e = split(&mut plain).unwrap_err().to_string();
        assert!(e.contains(":1:") && e.contains("not a [key value]"), "{e}");
    }

    #[test]
    fn keyed_txn_and_vector_keys_are_not_tuples() {
        let mut keyed = tuples();
        keyed.ops_mut()[0].key = Some(json!("x").into());
        assert!(!detect(&keyed));
        let txn = h(&[(0, OpType::Ok, "txn", json!([["r", 1]]))]);
        assert!(!detect(&txn));
        let vec_key = h(&[(0, OpType::Invoke, "write", json!([[1], 2]))]);
        assert!(!detect(&vec_key));
        assert!(!detect(&h(&[])));
    }
}
