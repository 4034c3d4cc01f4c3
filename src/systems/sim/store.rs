//! The state machine every simulated replica applies: a map of objects.
//!
//! Registers hold a JSON value; sets and lists are JSON arrays. Commands are
//! deterministic, so replicas that apply the same log agree.

use serde_json::Value;
use std::collections::HashMap;

/// One micro-operation of a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Micro {
    Read(String),
    Write(String, Value),
    Append(String, Value),
}

/// A command on the store. Keys are the JSON text of the client's key.
#[derive(Clone, Debug, PartialEq)]
pub enum Cmd {
    /// Appended by a new leader to commit its epoch.
    Noop,
    Read(String),
    Write(String, Value),
    Cas(String, Value, Value),
    Add(String, Value),
    Txn(Vec<Micro>),
}

impl Cmd {
    /// True when the command never changes the store.
    pub fn is_read(&self) -> bool {
        match self {
            Cmd::Read(_) => true,
            Cmd::Txn(ms) => ms.iter().all(|m| matches!(m, Micro::Read(_))),
            _ => false,
        }
    }
}

/// `Ok(result)` or `Err(reason)` when the command certainly had no effect.
pub type CmdResult = Result<Value, String>;

/// One replica's objects.
#[derive(Clone, Debug, Default)]
pub struct Store {
    map: HashMap<String, Value>,
}

impl Store {
    pub fn get(&self, key: &str) -> Value {
        self.map.get(key).cloned().unwrap_or(Value::Null)
    }

    pub fn put(&mut self, key: &str, value: Value) {
        self.map.insert(key.to_string(), value);
    }

    /// Applies `cmd`: reads return the stored value (null when absent),
    /// writes return null, a failed cas returns `Err`. A transaction returns
    /// one result per micro-op (reads: the value, others: null).
    pub fn apply(&mut self, cmd: &Cmd) -> CmdResult {
        match cmd {
            Cmd::Noop => Ok(Value::Null),
            Cmd::Read(k) => Ok(self.get(k)),
            Cmd::Write(k, v) => {
                self.put(k, v.clone());
                Ok(Value::Null)
            }
            Cmd::Cas(k, expected, new) => {
                if self.get(k) == *expected {
                    self.put(k, new.clone());
                    Ok(Value::Null)
                } else {
                    Err("cas: the value was not the expected one".to_string())
                }
            }
            Cmd::Add(k, v) => {
                add_to(self.map.entry(k.clone()).or_insert(Value::Null), v, true);
                Ok(Value::Null)
            }
            Cmd::Txn(ms) => {
                let mut out = Vec::with_capacity(ms.len());
                for m in ms {
                    out.push(match m {
                        Micro::Read(k) => self.get(k),
                        Micro::Write(k, v) => {
                            self.put(k, v.clone());
                            Value::Null
                        }
                        Micro::Append(k, v) => {
                            add_to(self.map.entry(k.clone()).or_insert(Value::Null), v, false);
                            Value::Null
                        }
                    });
                }
                Ok(Value::Array(out))
            }
        }
    }
}

/// Adds `v` to the array in `slot` (creating it); `unique` makes it a set.
pub fn add_to(slot: &mut Value, v: &Value, unique: bool) {
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    if let Value::Array(a) = slot {
        if !unique || !a.contains(v) {
            a.push(v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applies_commands() {
        let mut s = Store::default();
        assert_eq!(s.apply(&Cmd::Read("1".into())), Ok(Value::Null));
        s.apply(&Cmd::Write("1".into(), json!(5))).unwrap();
        assert!(s.apply(&Cmd::Cas("1".into(), json!(4), json!(6))).is_err());
        s.apply(&Cmd::Cas("1".into(), json!(5), json!(6))).unwrap();
        assert_eq!(s.get("1"), json!(6));
        s.apply(&Cmd::Add("2".into(), json!(1))).unwrap();
        s.apply(&Cmd::Add("2".into(), json!(1))).unwrap();
        assert_eq!(s.get("2"), json!([1]));
        let r = s
            .apply(&Cmd::Txn(vec![
                Micro::Append("3".into(), json!(1)),
                Micro::Append("3".into(), json!(1)),
                Micro::Read("3".into()),
            ]))
            .unwrap();
        assert_eq!(r, json!([null, null, [1, 1]]));
    }
}
