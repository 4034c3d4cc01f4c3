//! Porcupine's key-value model: string values under string keys, with
//! `get`, `put` and `append`.
//!
//! `get` returns the key's value, `put v` replaces it, `append v`
//! concatenates `v` to it; a key never written holds the empty string (or
//! `--initial`). The model holds one key's value: the checker splits the
//! history by `key` and checks each key on its own (P-compositionality),
//! which is what makes large kv histories cheap.

use super::{read_observation, unknown_f, Model, ModelConfig, Val};
use crate::history::Operation;
use serde_json::Value;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// A get with the value it returned (`None`: not known).
    Get(Option<Arc<str>>),
    Put(Arc<str>),
    Append(Arc<str>),
}

#[derive(Clone, Debug)]
pub struct Kv {
    pub initial: Arc<str>,
    pub nil_read: super::NilRead,
}

impl Kv {
    /// `--initial` is a string or null (the empty string).
    pub fn new(cfg: &ModelConfig) -> Result<Kv, String> {
        let initial = match &cfg.initial {
            Value::Null => Arc::from(""),
            Value::String(s) => Arc::from(s.as_str()),
            other => {
                return Err(format!(
                    "the kv model's initial value is a string or null; got {other}"
                ))
            }
        };
        Ok(Kv {
            initial,
            nil_read: cfg.nil_read,
        })
    }
}

fn string_arg(op: &Operation) -> Result<Arc<str>, String> {
    match &op.input {
        crate::history::Val::Str(s) => Ok(Arc::from(s.as_str())),
        _ => Err(format!("{} takes a string value", op.f)),
    }
}

impl Model for Kv {
    type Op = KvOp;
    type State = Arc<str>;

    fn name(&self) -> &'static str {
        "kv"
    }
    fn init(&self) -> Arc<str> {
        self.initial.clone()
    }
    fn parse(&self, op: &Operation) -> Result<KvOp, String> {
        match op.f.as_str() {
            "get" | "read" => match read_observation(op, self.nil_read) {
                None => Ok(KvOp::Get(None)),
                // A missing key reads as the initial value.
                Some(Val::Null) => Ok(KvOp::Get(Some(self.initial.clone()))),
                Some(Val::Str(s)) => Ok(KvOp::Get(Some(s))),
                Some(_) => Err("get returns a string (or null for a missing key)".into()),
            },
            "put" | "write" => Ok(KvOp::Put(string_arg(op)?)),
            "append" => Ok(KvOp::Append(string_arg(op)?)),
            _ => Err(unknown_f(self.name(), op, "get, put or append")),
        }
    }
    fn step(&self, s: &Arc<str>, op: &KvOp) -> Option<Arc<str>> {
        match op {
            KvOp::Get(None) => Some(s.clone()),
            KvOp::Get(Some(v)) => (v == s).then(|| s.clone()),
            KvOp::Put(v) => Some(v.clone()),
            KvOp::Append(v) => {
                let mut next = String::with_capacity(s.len() + v.len());
                next.push_str(s);
                next.push_str(v);
                Some(Arc::from(next))
            }
        }
    }
    fn is_read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_))
    }
    fn is_noop(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(None))
    }
    fn is_blind(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Put(_))
    }
    fn may_satisfy(&self, s: &Arc<str>, read: &KvOp) -> bool {
        match read {
            // Appends only extend the string.
            KvOp::Get(Some(v)) => v.starts_with(&**s),
            _ => true,
        }
    }
    fn is_reset(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Put(_))
    }
    fn grows(&self) -> bool {
        true
    }
    /// Long values are shown by their end (where histories differ) and length.
    fn show_state(&self, s: &Arc<str>) -> String {
        let n = s.chars().count();
        if n <= 60 {
            return Value::String(s.to_string()).to_string();
        }
        let tail: String = s.chars().skip(n - 40).collect();
        format!("{} ({n} chars)", Value::String(format!("…{tail}")))
    }
    fn state_heap_bytes(&self, s: &Arc<str>) -> usize {
        s.len() + 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use crate::model::test_op;
    use serde_json::json;

    #[test]
    fn put_append_get() {
        let m = Kv::new(&ModelConfig::default()).unwrap();
        let get = |v: Value| {
            m.parse(&test_op("get", Value::Null, v, Outcome::Ok))
                .unwrap()
        };
        let put = m
            .parse(&test_op("put", json!("a"), json!("a"), Outcome::Ok))
            .unwrap();
        let app = m
            .parse(&test_op("append", json!("b"), json!("b"), Outcome::Ok))
            .unwrap();
        assert!(m.step(&m.init(), &get(json!(""))).is_some());
        assert!(m.step(&m.init(), &get(Value::Null)).is_some());
        let s = m.step(&m.init(), &put).unwrap();
        let s = m.step(&s, &app).unwrap();
        assert_eq!(&*s, "ab");
        assert!(m.step(&s, &get(json!("ab"))).is_some());
        assert!(m.step(&s, &get(json!("a"))).is_none());
        assert_eq!(m.show_state(&s), "\"ab\"");
        assert!(m.may_satisfy(&s, &get(json!("abc"))));
        assert!(!m.may_satisfy(&s, &get(json!("ba"))));
        assert!(m.is_reset(&put) && !m.is_reset(&app));
        let long = m
            .step(
                &s,
                &m.parse(&test_op(
                    "append",
                    json!("c".repeat(70)),
                    Value::Null,
                    Outcome::Ok,
                ))
                .unwrap(),
            )
            .unwrap();
        assert_eq!(
            m.show_state(&long),
            format!("\"…{}\" (72 chars)", "c".repeat(40))
        );
    }

    #[test]
    fn non_strings_are_rejected() {
        let m = Kv::new(&ModelConfig::default()).unwrap();
        assert!(m
            .parse(&test_op("put", json!(1), json!(1), Outcome::Ok))
            .unwrap_err()
            .contains("string"));
        assert!(m
            .parse(&test_op("get", Value::Null, json!(1), Outcome::Ok))
            .unwrap_err()
            .contains("string"));
        assert!(m
            .parse(&test_op("cas", json!(1), json!(1), Outcome::Ok))
            .unwrap_err()
            .contains("get, put or append"));
    }
}
