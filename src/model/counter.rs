//! A counter: `add n` adds the integer `n` (default 1); `read` returns the
//! total. Starts at 0 unless `--initial` says otherwise.
//!
//! An indeterminate add may or may not have been counted; the search
//! decides which.

use super::{read_observation, unknown_f, Model, ModelConfig, Val};
use crate::history::Operation;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterOp {
    Add(i64),
    Read(Option<i64>),
}

#[derive(Clone, Debug)]
pub struct Counter {
    pub initial: i64,
    pub nil_read: super::NilRead,
}

impl Counter {
    pub fn new(cfg: &ModelConfig) -> Result<Counter, String> {
        let initial = match &cfg.initial {
            Value::Null => 0,
            v => v.as_i64().ok_or_else(|| {
                format!("the counter model's initial value is an integer; got {v}")
            })?,
        };
        Ok(Counter {
            initial,
            nil_read: cfg.nil_read,
        })
    }
}

impl Model for Counter {
    type Op = CounterOp;
    type State = i64;

    fn name(&self) -> &'static str {
        "counter"
    }
    fn init(&self) -> i64 {
        self.initial
    }
    fn parse(&self, op: &Operation) -> Result<CounterOp, String> {
        match op.f.as_str() {
            "add" | "increment" | "incr" => match &op.input {
                crate::history::Val::Nil => Ok(CounterOp::Add(1)),
                v => v
                    .as_i64()
                    .map(CounterOp::Add)
                    .ok_or_else(|| "add takes an integer".to_string()),
            },
            "read" => match read_observation(op, self.nil_read) {
                None => Ok(CounterOp::Read(None)),
                Some(Val::Null) => Ok(CounterOp::Read(Some(self.initial))),
                Some(Val::Int(i)) => Ok(CounterOp::Read(Some(i))),
                Some(_) => Err("a counter read returns an integer".into()),
            },
            _ => Err(unknown_f(self.name(), op, "add or read")),
        }
    }
    fn step(&self, s: &i64, op: &CounterOp) -> Option<i64> {
        match op {
            CounterOp::Add(n) => s.checked_add(*n),
            CounterOp::Read(None) => Some(*s),
            CounterOp::Read(Some(v)) => (v == s).then_some(*s),
        }
    }
    fn is_read_only(&self, op: &CounterOp) -> bool {
        matches!(op, CounterOp::Read(_))
    }
    fn is_noop(&self, op: &CounterOp) -> bool {
        matches!(op, CounterOp::Read(None))
    }
    fn show_state(&self, s: &i64) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use crate::model::test_op;
    use serde_json::json;

    #[test]
    fn adds_and_reads() {
        let m = Counter::new(&ModelConfig::default()).unwrap();
        let add = m
            .parse(&test_op("add", json!(2), json!(2), Outcome::Ok))
            .unwrap();
        let read = |v: i64| {
            m.parse(&test_op("read", Value::Null, json!(v), Outcome::Ok))
                .unwrap()
        };
        let s = m.step(&0, &add).unwrap();
        assert_eq!(m.step(&s, &read(2)), Some(2));
        assert_eq!(m.step(&s, &read(1)), None);
        assert!(m
            .parse(&test_op("add", json!("x"), json!("x"), Outcome::Ok))
            .is_err());
    }
}
