//! A lock: `acquire` succeeds only when it is free, `release` only when it
//! is held.
//!
//! Like Knossos's mutex, the model does not track who holds the lock; it
//! catches two clients holding it at once, and releases of a free lock.
//! A failed acquire did not happen and is dropped by the checker.

use super::{unknown_f, Model, ModelConfig};
use crate::history::Operation;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexOp {
    Acquire,
    Release,
}

/// State: `true` while the lock is held. Starts free unless `--initial true`.
#[derive(Clone, Debug)]
pub struct Mutex {
    pub initially_locked: bool,
}

impl Mutex {
    pub fn new(cfg: &ModelConfig) -> Result<Mutex, String> {
        match &cfg.initial {
            serde_json::Value::Null => Ok(Mutex {
                initially_locked: false,
            }),
            serde_json::Value::Bool(b) => Ok(Mutex {
                initially_locked: *b,
            }),
            other => Err(format!(
                "the mutex model's initial value is true (held) or false/null (free); got {other}"
            )),
        }
    }
}

impl Model for Mutex {
    type Op = MutexOp;
    type State = bool;

    fn name(&self) -> &'static str {
        "mutex"
    }
    fn init(&self) -> bool {
        self.initially_locked
    }
    fn parse(&self, op: &Operation) -> Result<MutexOp, String> {
        match op.f.as_str() {
            "acquire" | "lock" => Ok(MutexOp::Acquire),
            "release" | "unlock" => Ok(MutexOp::Release),
            _ => Err(unknown_f(self.name(), op, "acquire or release")),
        }
    }
    fn step(&self, locked: &bool, op: &MutexOp) -> Option<bool> {
        match op {
            MutexOp::Acquire => (!*locked).then_some(true),
            MutexOp::Release => locked.then_some(false),
        }
    }
    fn is_read_only(&self, _op: &MutexOp) -> bool {
        false
    }
    fn show_state(&self, locked: &bool) -> String {
        if *locked { "held" } else { "free" }.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use crate::model::test_op;
    use serde_json::{json, Value};

    #[test]
    fn one_holder_at_a_time() {
        let m = Mutex::new(&ModelConfig::default()).unwrap();
        let a = m
            .parse(&test_op("acquire", Value::Null, Value::Null, Outcome::Ok))
            .unwrap();
        let r = m
            .parse(&test_op("release", Value::Null, Value::Null, Outcome::Ok))
            .unwrap();
        let held = m.step(&m.init(), &a).unwrap();
        assert_eq!(m.step(&held, &a), None);
        assert_eq!(m.step(&held, &r), Some(false));
        assert_eq!(m.step(&m.init(), &r), None);
        assert_eq!(m.show_state(&held), "held");
    }

    #[test]
    fn rejects_other_ops_and_bad_initial() {
        let m = Mutex::new(&ModelConfig::default()).unwrap();
        assert!(m
            .parse(&test_op("read", Value::Null, Value::Null, Outcome::Ok))
            .unwrap_err()
            .contains("acquire or release"));
        assert!(Mutex::new(&ModelConfig {
            initial: json!(1),
            ..Default::default()
        })
        .is_err());
        assert!(Mutex::new(&ModelConfig {
            initial: json!(true),
            ..Default::default()
        })
        .unwrap()
        .init());
    }
}
