//! Knossos's multi-register: many registers, read and written in atomic
//! transactions.
//!
//! An operation has `f: "txn"` and a value that is a list of micro-ops,
//! `["read", k, v]` or `["write", k, v]` (`"r"`/`"w"` are accepted too), that
//! take effect together, in order. An `ok` txn reports what its reads saw;
//! an indeterminate one only what it meant to write, so its reads constrain
//! nothing. The initial value (`--initial`) is a map from key to value, or
//! null for "every key is null".
//!
//! Because a transaction can span keys, the history cannot be split by key
//! for this model; the whole history is one search.

use super::{reported, unknown_f, Model, ModelConfig, NilRead, Val};
use crate::history::Operation;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One step of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Micro {
    /// Read key `k`, observing the value (`None`: not known).
    Read(Val, Option<Val>),
    Write(Val, Val),
}

/// The registers' values. Keys holding their initial value are left out,
/// so that equal states are equal maps.
pub type Registers = Arc<BTreeMap<Val, Val>>;

#[derive(Clone, Debug)]
pub struct MultiRegister {
    /// Initial values of the keys that do not start out null.
    pub initial: BTreeMap<Val, Val>,
    pub nil_read: NilRead,
}

impl MultiRegister {
    /// Fails when `--initial` is neither null nor a map.
    pub fn new(cfg: &ModelConfig) -> Result<MultiRegister, String> {
        let initial = match &cfg.initial {
            Value::Null => BTreeMap::new(),
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| (Val::Str(Arc::from(k.as_str())), Val::from_json(v)))
                .filter(|(_, v)| !v.is_null())
                .collect(),
            other => {
                return Err(format!(
                    "the multi-register model's initial value must be a map from key to value, or null; got {other}"
                ))
            }
        };
        Ok(MultiRegister {
            initial,
            nil_read: cfg.nil_read,
        })
    }

    fn initial_of(&self, k: &Val) -> Val {
        if let Some(v) = self.initial.get(k) {
            return v.clone();
        }
        // A JSON map's keys are strings; let integer keys find them too.
        if let Val::Int(i) = k {
            if let Some(v) = self.initial.get(&Val::Str(Arc::from(i.to_string()))) {
                return v.clone();
            }
        }
        Val::Null
    }

    fn get(&self, regs: &BTreeMap<Val, Val>, k: &Val) -> Val {
        regs.get(k).cloned().unwrap_or_else(|| self.initial_of(k))
    }

    fn set(&self, regs: &mut BTreeMap<Val, Val>, k: &Val, v: &Val) {
        if *v == self.initial_of(k) {
            regs.remove(k);
        } else {
            regs.insert(k.clone(), v.clone());
        }
    }
}

impl Model for MultiRegister {
    type Op = Vec<Micro>;
    type State = Registers;

    fn name(&self) -> &'static str {
        "multi-register"
    }

    fn init(&self) -> Registers {
        Arc::new(BTreeMap::new())
    }

    fn parse(&self, op: &Operation) -> Result<Vec<Micro>, String> {
        if op.f != "txn" {
            return Err(unknown_f(self.name(), op, "txn"));
        }
        let known = reported(op).filter(|v| !v.is_null());
        let value = known.unwrap_or(&op.input);
        let Some(items) = value.as_array() else {
            return Err(
                "a txn's value is a list of micro-ops like [\"read\", k, v] or [\"write\", k, v]"
                    .into(),
            );
        };
        let mut micros = Vec::with_capacity(items.len());
        for item in items.iter() {
            // Three elements: never a packed list.
            let Some([f, k, v]) = item.as_vals() else {
                return Err(format!(
                    "micro-op {} is not [f, key, value] with f read or write",
                    super::value::show_json(item)
                ));
            };
            let k = Val::of(k);
            match f.as_str() {
                Some("read" | "r") => {
                    let seen =
                        if known.is_none() || (v.is_null() && self.nil_read == NilRead::Unknown) {
                            None
                        } else {
                            Some(Val::of(v))
                        };
                    micros.push(Micro::Read(k, seen));
                }
                Some("write" | "w") => micros.push(Micro::Write(k, Val::of(v))),
                _ => {
                    return Err(format!(
                        "micro-op {} has f {}; expected read or write (r or w)",
                        super::value::show_json(item),
                        super::value::show_json(f)
                    ))
                }
            }
        }
        Ok(micros)
    }

    fn step(&self, state: &Registers, op: &Vec<Micro>) -> Option<Registers> {
        // Copy on the first write; reads see the txn's own earlier writes.
        let mut written: Option<BTreeMap<Val, Val>> = None;
        for m in op {
            match m {
                Micro::Read(_, None) => {}
                Micro::Read(k, Some(v)) => {
                    let cur = self.get(written.as_ref().unwrap_or(state), k);
                    if cur != *v {
                        return None;
                    }
                }
                Micro::Write(k, v) => {
                    let regs = written.get_or_insert_with(|| (**state).clone());
                    self.set(regs, k, v);
                }
            }
        }
        Some(match written {
            Some(regs) => Arc::new(regs),
            None => state.clone(),
        })
    }

    fn is_read_only(&self, op: &Vec<Micro>) -> bool {
        op.iter().all(|m| matches!(m, Micro::Read(..)))
    }

    fn is_noop(&self, op: &Vec<Micro>) -> bool {
        op.iter().all(|m| matches!(m, Micro::Read(_, None)))
    }

    fn show_state(&self, state: &Registers) -> String {
        let mut all: BTreeMap<&Val, &Val> = self.initial.iter().collect();
        for (k, v) in state.iter() {
            all.insert(k, v);
        }
        let parts: Vec<String> = all
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        if parts.is_empty() {
            "{every key null}".to_string()
        } else {
            format!("{{{}}}", parts.join(", "))
        }
    }

    fn state_heap_bytes(&self, state: &Registers) -> usize {
        state
            .iter()
            .map(|(k, v)| 48 + k.heap_bytes() + v.heap_bytes())
            .sum::<usize>()
            + 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use crate::model::test_op;
    use serde_json::json;

    fn model(initial: Value, nil_read: NilRead) -> MultiRegister {
        MultiRegister::new(&ModelConfig { initial, nil_read }).unwrap()
    }

    #[test]
    fn txns_apply_in_order_and_reads_check() {
        let m = model(json!({"x": 1}), NilRead::Absent);
        let s0 = m.init();
        let read_x1 = m
            .parse(&test_op(
                "txn",
                json!([["read", "x", null]]),
                json!([["read", "x", 1]]),
                Outcome::Ok,
            ))
            .unwrap();
        assert!(m.step(&s0, &read_x1).is_some());
        let w = m
            .parse(&test_op(
                "txn",
                json!([["w", "x", 2], ["r", "x", null], ["w", "y", 3]]),
                json!([["w", "x", 2], ["r", "x", 2], ["w", "y", 3]]),
                Outcome::Ok,
            ))
            .unwrap();
        let s1 = m.step(&s0, &w).unwrap();
        assert!(m.step(&s1, &read_x1).is_none());
        assert_eq!(m.show_state(&s1), "{\"x\" = 2, \"y\" = 3}");
        // Writing the initial value back gives the initial state again.
        let back = m
            .parse(&test_op(
                "txn",
                json!([["write", "x", 1], ["write", "y", null]]),
                json!(null),
                Outcome::Ok,
            ))
            .unwrap();
        assert_eq!(m.step(&s1, &back), Some(s0));
    }

    #[test]
    fn nil_reads_follow_the_config() {
        let read_nil = test_op(
            "txn",
            json!([["read", "x", null]]),
            json!([["read", "x", null]]),
            Outcome::Ok,
        );
        let m = model(json!({"x": 1}), NilRead::Absent);
        let op = m.parse(&read_nil).unwrap();
        assert!(m.step(&m.init(), &op).is_none());
        let m = model(json!({"x": 1}), NilRead::Unknown);
        let op = m.parse(&read_nil).unwrap();
        assert!(m.is_noop(&op));
        assert!(m.step(&m.init(), &op).is_some());
    }

    #[test]
    fn info_txn_reads_are_unknown_and_integer_keys_find_initial() {
        let m = model(json!({"0": 5}), NilRead::Absent);
        let op = m
            .parse(&test_op(
                "txn",
                json!([["read", 0, 9], ["write", 1, 2]]),
                json!("timeout"),
                Outcome::Info,
            ))
            .unwrap();
        assert_eq!(op[0], Micro::Read(Val::Int(0), None));
        assert!(!m.is_read_only(&op));
        let r = m
            .parse(&test_op(
                "txn",
                json!([["read", 0, null]]),
                json!([["read", 0, 5]]),
                Outcome::Ok,
            ))
            .unwrap();
        assert!(m.step(&m.init(), &r).is_some());
    }

    #[test]
    fn bad_shapes_are_explained() {
        assert!(MultiRegister::new(&ModelConfig {
            initial: json!(3),
            nil_read: NilRead::Absent
        })
        .unwrap_err()
        .contains("map"));
        let m = model(Value::Null, NilRead::Absent);
        let e = m
            .parse(&test_op("read", json!(null), json!(1), Outcome::Ok))
            .unwrap_err();
        assert!(e.contains("txn"), "{e}");
        let e = m
            .parse(&test_op(
                "txn",
                json!([["cas", "x", 1]]),
                json!([["cas", "x", 1]]),
                Outcome::Ok,
            ))
            .unwrap_err();
        assert!(e.contains("read or write"), "{e}");
        let e = m
            .parse(&test_op("txn", json!(5), json!(5), Outcome::Ok))
            .unwrap_err();
        assert!(e.contains("list of micro-ops"), "{e}");
    }
}
