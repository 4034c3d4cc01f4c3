//! A grow-only set: `add v` puts `v` in; `read` returns every element.
//!
//! A read must return exactly the set's elements, in any order. A read that
//! lists an element twice returned something no set holds: it matches no
//! state, so the history is not linearizable (Knossos's set model would
//! collapse the duplicates and hide the bug). An indeterminate add may have
//! happened at any time after its invoke, or never.

use super::{read_observation, reported, unknown_f, Model, ModelConfig, NilRead, Val};
use crate::history::Operation;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetOp {
    Add(Val),
    /// A read with the elements it returned (`None`: not known).
    Read(Option<BTreeSet<Val>>),
    /// An ok read that listed this element more than once: no state of a
    /// set explains it.
    DuplicateRead(Val),
}

pub type Elements = Arc<BTreeSet<Val>>;

#[derive(Clone, Debug)]
pub struct Set {
    pub initial: Elements,
    pub nil_read: NilRead,
}

impl Set {
    /// `--initial` is a list of elements or null (empty).
    pub fn new(cfg: &ModelConfig) -> Result<Set, String> {
        let initial = match &cfg.initial {
            Value::Null => BTreeSet::new(),
            Value::Array(items) => items.iter().map(Val::from_json).collect(),
            other => {
                return Err(format!(
                    "the set model's initial value is a list of elements or null; got {other}"
                ))
            }
        };
        Ok(Set {
            initial: Arc::new(initial),
            nil_read: cfg.nil_read,
        })
    }
}

impl Model for Set {
    type Op = SetOp;
    type State = Elements;

    fn name(&self) -> &'static str {
        "set"
    }
    fn init(&self) -> Elements {
        self.initial.clone()
    }
    fn parse(&self, op: &Operation) -> Result<SetOp, String> {
        match op.f.as_str() {
            "add" => Ok(SetOp::Add(Val::of(&op.input))),
            "read" => {
                if reported(op).is_some_and(|v| !v.is_null()) {
                    let Some(items) = op.output.as_array() else {
                        return Err("a set read returns a list of elements".into());
                    };
                    let mut seen = BTreeSet::new();
                    for item in items.iter() {
                        let v = Val::of(item);
                        if seen.contains(&v) {
                            return Ok(SetOp::DuplicateRead(v));
                        }
                        seen.insert(v);
                    }
                    return Ok(SetOp::Read(Some(seen)));
                }
                // Null or unknown: null means the empty set unless nil reads are unknown.
                Ok(SetOp::Read(
                    read_observation(op, self.nil_read).map(|_| BTreeSet::new()),
                ))
            }
            _ => Err(unknown_f(self.name(), op, "add or read")),
        }
    }
    fn step(&self, s: &Elements, op: &SetOp) -> Option<Elements> {
        match op {
            SetOp::Add(v) if s.contains(v) => Some(s.clone()),
            SetOp::Add(v) => {
                let mut next = (**s).clone();
                next.insert(v.clone());
                Some(Arc::new(next))
            }
            SetOp::Read(None) => Some(s.clone()),
            SetOp::Read(Some(seen)) => (**s == *seen).then(|| s.clone()),
            SetOp::DuplicateRead(_) => None,
        }
    }
    fn is_read_only(&self, op: &SetOp) -> bool {
        matches!(op, SetOp::Read(_) | SetOp::DuplicateRead(_))
    }
    fn is_noop(&self, op: &SetOp) -> bool {
        matches!(op, SetOp::Read(None))
    }
    fn may_satisfy(&self, s: &Elements, read: &SetOp) -> bool {
        match read {
            // Adds only grow the set.
            SetOp::Read(Some(seen)) => s.is_subset(seen),
            // Never satisfiable; `step` refuses it, so the search reports it
            // as the op that cannot be linearized.
            _ => true,
        }
    }
    fn grows(&self) -> bool {
        true
    }
    fn show_state(&self, s: &Elements) -> String {
        let parts: Vec<String> = s.iter().map(|v| v.to_string()).collect();
        format!("{{{}}}", parts.join(", "))
    }
    fn state_heap_bytes(&self, s: &Elements) -> usize {
        32 + s.iter().map(|v| 24 + v.heap_bytes()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use crate::model::test_op;
    use serde_json::json;

    #[test]
    fn reads_see_exactly_the_added_elements() {
        let m = Set::new(&ModelConfig::default()).unwrap();
        let add1 = m
            .parse(&test_op("add", json!(1), json!(1), Outcome::Ok))
            .unwrap();
        let add2 = m
            .parse(&test_op("add", json!(2), json!(2), Outcome::Ok))
            .unwrap();
        let read = |v: Value| {
            m.parse(&test_op("read", Value::Null, v, Outcome::Ok))
                .unwrap()
        };
        let s = m.step(&m.init(), &add1).unwrap();
        let s = m.step(&s, &add2).unwrap();
        assert!(m.step(&s, &read(json!([2, 1]))).is_some());
        // A duplicate is no set read, whatever the state.
        assert!(m.step(&s, &read(json!([2, 1, 1]))).is_none());
        assert!(m.is_read_only(&read(json!([1, 1]))));
        assert!(m.step(&s, &read(json!([1]))).is_none());
        assert!(m.step(&s, &read(json!([1, 2, 3]))).is_none());
        assert!(m.step(&m.init(), &read(Value::Null)).is_some());
        assert_eq!(m.show_state(&s), "{1, 2}");
        assert!(m.may_satisfy(&s, &read(json!([1, 2, 3]))));
        assert!(!m.may_satisfy(&s, &read(json!([1, 3]))));
    }

    #[test]
    fn errors_name_the_shape() {
        let m = Set::new(&ModelConfig::default()).unwrap();
        assert!(m
            .parse(&test_op("read", Value::Null, json!(3), Outcome::Ok))
            .unwrap_err()
            .contains("list"));
        assert!(m
            .parse(&test_op("write", json!(3), json!(3), Outcome::Ok))
            .unwrap_err()
            .contains("add or read"));
        assert!(Set::new(&ModelConfig {
            initial: json!(3),
            ..Default::default()
        })
        .is_err());
        let info = m
            .parse(&test_op(
                "read",
                Value::Null,
                json!("timeout"),
                Outcome::Info,
            ))
            .unwrap();
        assert!(m.is_noop(&info));
    }
}
