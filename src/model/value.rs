//! A compact, hashable form of the JSON values that appear in histories.
//!
//! The search memoises on model states, so states must be cheap to clone,
//! hash and compare. `serde_json::Value` is none of these (it is not even
//! `Hash`). [`Val`] keeps the common cases — null, booleans, integers and
//! strings — inline or behind an `Arc`, and stores anything else (floats,
//! lists, maps) as its canonical JSON text, so two equal JSON values always
//! give equal `Val`s (object keys are sorted before the text is made).

use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// A JSON value as a model sees it: hashable, ordered, cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Str(Arc<str>),
    /// Any other JSON value, as canonical JSON text (sorted object keys).
    Json(Arc<str>),
}

impl Val {
    /// Converts a JSON value; never fails.
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Json(Arc::from(n.to_string())),
            },
            Value::String(s) => Val::Str(Arc::from(s.as_str())),
            other => {
                let mut text = String::new();
                write_canonical(other, &mut text);
                Val::Json(Arc::from(text))
            }
        }
    }

    /// Converts a history value; never fails.
    pub fn of(v: &crate::history::Val) -> Val {
        use crate::history::Val as H;
        match v {
            H::Nil => Val::Null,
            H::Bool(b) => Val::Bool(*b),
            H::Int(i) => Val::Int(*i),
            H::Str(s) => Val::Str(Arc::from(s.as_str())),
            other => Val::from_json(&other.to_json()),
        }
    }

    /// The value as JSON again (for reports).
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Json(t) => {
                serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string()))
            }
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// Bytes this value holds on the heap (for memory budgeting).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Val::Str(s) | Val::Json(s) => s.len() + 16,
            _ => 0,
        }
    }
}

/// Canonical JSON text: like `serde_json::to_string`, with object keys sorted.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(k) {
                    write_canonical(item, out);
                }
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Null => f.write_str("null"),
            Val::Bool(b) => write!(f, "{b}"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Str(s) => write!(f, "{}", Value::String(s.to_string())),
            Val::Json(t) => f.write_str(t),
        }
    }
}

impl fmt::Debug for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Short rendering of a JSON value for messages: compact, cut at 80 chars.
pub fn show_json(v: &impl std::fmt::Display) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_json_gives_equal_vals() {
        let a = Val::from_json(&json!({"b": 1, "a": [1, 2]}));
        let b = Val::from_json(&json!({"a": [1, 2], "b": 1}));
        assert_eq!(a, b);
        assert_ne!(Val::from_json(&json!(1)), Val::from_json(&json!("1")));
        assert_ne!(Val::from_json(&json!(1)), Val::from_json(&json!(1.5)));
    }

    #[test]
    fn round_trips() {
        for v in [
            json!(null),
            json!(true),
            json!(-3),
            json!("x"),
            json!([1, {"a": null}]),
            json!(2.5),
        ] {
            assert_eq!(Val::from_json(&v).to_json(), v);
        }
        assert_eq!(Val::from_json(&json!("a\"b")).to_string(), "\"a\\\"b\"");
    }
}
