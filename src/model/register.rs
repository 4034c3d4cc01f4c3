//! Registers: one value, read and overwritten; optionally compare-and-set.
//!
//! The simplest objects a database offers and the ones Jepsen tests most.
//! A [`Register`] takes `read` (value: what was read) and `write` (value:
//! what was written); `r`/`w` (Elle's micro-op names) and `get`/`put`
//! (Porcupine's register examples) are read the same way. A [`CasRegister`] also takes `cas` with value
//! `[expected, new]`: it sets `new` only if the register holds `expected`.
//!
//! A `fail`ed cas did not happen, so the checker drops it before the model
//! sees it; an `ok` cas and an indeterminate (`info`) one both require the
//! register to hold `expected` — an indeterminate cas that found something
//! else changed nothing, which is the same as never linearizing it.

use super::{read_observation, unknown_f, Model, ModelConfig, NilRead, Val};
use crate::history::Operation;

/// A register operation in the model's own form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// A read, with the value it observed (`None`: not known).
    Read(Option<Val>),
    Write(Val),
    /// Compare-and-set: if the value is `old`, make it `new`.
    Cas {
        old: Val,
        new: Val,
    },
}

fn parse_register(
    model: &str,
    op: &Operation,
    nil_read: NilRead,
    cas: bool,
) -> Result<RegisterOp, String> {
    match op.f.as_str() {
        "read" | "r" | "get" => Ok(RegisterOp::Read(read_observation(op, nil_read))),
        "write" | "w" | "put" => Ok(RegisterOp::Write(Val::of(&op.input))),
        "cas" if cas => match op.input.as_array().as_deref() {
            Some([old, new]) => Ok(RegisterOp::Cas {
                old: Val::of(old),
                new: Val::of(new),
            }),
            _ => Err("cas takes a value [expected, new]".to_string()),
        },
        "cas" => Err(format!(
            "the {model} model has no `cas` operation; expected read or write (use the cas-register model for cas)"
        )),
        _ => Err(unknown_f(
            model,
            op,
            if cas { "read, write or cas" } else { "read or write" },
        )),
    }
}

fn step_register(state: &Val, op: &RegisterOp) -> Option<Val> {
    match op {
        RegisterOp::Read(None) => Some(state.clone()),
        RegisterOp::Read(Some(v)) => (v == state).then(|| state.clone()),
        RegisterOp::Write(v) => Some(v.clone()),
        RegisterOp::Cas { old, new } => (old == state).then(|| new.clone()),
    }
}

/// A register: read and write, and, when `CAS` is true, compare-and-set
/// (like etcd's or ZooKeeper's). State: its current value (initially
/// `--initial`, null by default). The two variants differ only in whether a
/// `cas` op is accepted, so they share one definition.
#[derive(Clone, Debug)]
pub struct RegisterSpec<const CAS: bool> {
    pub initial: Val,
    pub nil_read: NilRead,
}

/// A read/write register (`--model register`).
pub type Register = RegisterSpec<false>;
/// A register with compare-and-set (`--model cas-register`).
pub type CasRegister = RegisterSpec<true>;

impl<const CAS: bool> RegisterSpec<CAS> {
    pub fn new(cfg: &ModelConfig) -> Self {
        RegisterSpec {
            initial: Val::from_json(&cfg.initial),
            nil_read: cfg.nil_read,
        }
    }
}

impl<const CAS: bool> Model for RegisterSpec<CAS> {
    type Op = RegisterOp;
    type State = Val;

    fn name(&self) -> &'static str {
        if CAS {
            "cas-register"
        } else {
            "register"
        }
    }
    fn init(&self) -> Val {
        self.initial.clone()
    }
    fn parse(&self, op: &Operation) -> Result<RegisterOp, String> {
        parse_register(self.name(), op, self.nil_read, CAS)
    }
    fn step(&self, state: &Val, op: &RegisterOp) -> Option<Val> {
        step_register(state, op)
    }
    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(_))
    }
    fn is_noop(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(None))
    }
    fn is_blind(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Write(_))
    }
    fn show_state(&self, state: &Val) -> String {
        state.to_string()
    }
    fn state_heap_bytes(&self, state: &Val) -> usize {
        state.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use crate::model::test_op;
    use serde_json::{json, Value};

    fn cfg(nil_read: NilRead) -> ModelConfig {
        ModelConfig {
            initial: Value::Null,
            nil_read,
        }
    }

    #[test]
    fn register_reads_what_was_written() {
        let m = Register::new(&cfg(NilRead::Absent));
        let w = m
            .parse(&test_op("write", json!(3), json!(3), Outcome::Ok))
            .unwrap();
        let r3 = m
            .parse(&test_op("read", Value::Null, json!(3), Outcome::Ok))
            .unwrap();
        let r4 = m
            .parse(&test_op("read", Value::Null, json!(4), Outcome::Ok))
            .unwrap();
        let rnil = m
            .parse(&test_op("read", Value::Null, Value::Null, Outcome::Ok))
            .unwrap();
        let s0 = m.init();
        assert_eq!(m.step(&s0, &rnil), Some(Val::Null));
        assert_eq!(m.step(&s0, &r3), None);
        let s1 = m.step(&s0, &w).unwrap();
        assert_eq!(m.step(&s1, &r3), Some(Val::Int(3)));
        assert_eq!(m.step(&s1, &r4), None);
        assert_eq!(m.step(&s1, &rnil), None, "absent nil read must see null");
        assert!(m.is_read_only(&r3) && !m.is_read_only(&w));
        assert!(m.is_blind(&w) && !m.is_blind(&r3));
        assert_eq!(m.step(&Val::Int(9), &w), m.step(&s0, &w));
    }

    #[test]
    fn get_and_put_are_read_and_write() {
        let m = Register::new(&cfg(NilRead::Absent));
        assert_eq!(
            m.parse(&test_op("put", json!(3), json!(3), Outcome::Ok)),
            Ok(RegisterOp::Write(Val::Int(3)))
        );
        assert_eq!(
            m.parse(&test_op("get", Value::Null, json!(3), Outcome::Ok)),
            Ok(RegisterOp::Read(Some(Val::Int(3))))
        );
    }

    #[test]
    fn unknown_nil_read_matches_anything() {
        let m = Register::new(&cfg(NilRead::Unknown));
        let rnil = m
            .parse(&test_op("read", Value::Null, Value::Null, Outcome::Ok))
            .unwrap();
        assert!(m.is_noop(&rnil));
        assert_eq!(m.step(&Val::Int(7), &rnil), Some(Val::Int(7)));
    }

    #[test]
    fn register_rejects_cas_and_says_why() {
        let m = Register::new(&cfg(NilRead::Absent));
        let e = m
            .parse(&test_op("cas", json!([1, 2]), json!([1, 2]), Outcome::Ok))
            .unwrap_err();
        assert!(e.contains("cas-register"), "{e}");
        let e = m
            .parse(&test_op("add", json!(1), json!(1), Outcome::Ok))
            .unwrap_err();
        assert!(e.contains("`add`") && e.contains("read or write"), "{e}");
    }

    #[test]
    fn cas_needs_the_expected_value() {
        let m = CasRegister::new(&ModelConfig {
            initial: json!(1),
            nil_read: NilRead::Absent,
        });
        let ok = m
            .parse(&test_op("cas", json!([1, 2]), json!([1, 2]), Outcome::Ok))
            .unwrap();
        let info = m
            .parse(&test_op(
                "cas",
                json!([2, 5]),
                json!("timed-out"),
                Outcome::Info,
            ))
            .unwrap();
        let s = m.init();
        assert_eq!(m.step(&s, &ok), Some(Val::Int(2)));
        assert_eq!(m.step(&s, &info), None);
        assert_eq!(m.step(&Val::Int(2), &info), Some(Val::Int(5)));
        let e = m
            .parse(&test_op("cas", json!([1]), json!([1]), Outcome::Ok))
            .unwrap_err();
        assert!(e.contains("[expected, new]"), "{e}");
    }

    #[test]
    fn info_read_is_unknown() {
        let m = CasRegister::new(&cfg(NilRead::Absent));
        let r = m
            .parse(&test_op(
                "read",
                Value::Null,
                json!("timed-out"),
                Outcome::Info,
            ))
            .unwrap();
        assert_eq!(r, RegisterOp::Read(None));
    }
}
