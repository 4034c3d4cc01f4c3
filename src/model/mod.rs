//! Sequential specifications: what a single correct copy of an object does.
//!
//! A model is a tiny pure struct in the style of stateright's
//! `SequentialSpec`: an initial state and a `step` function that says whether
//! an operation, with the result the client saw, could have happened in a
//! given state, and what state follows. The linearizability checker searches
//! for an order of the history's operations that every `step` accepts.
//!
//! Models never see raw JSON in the search loop: [`Model::parse`] turns each
//! paired [`Operation`] into the model's own compact `Op` once, up front.

pub mod counter;
pub mod kv;
pub mod multi_register;
pub mod mutex;
pub mod queue;
pub mod register;
pub mod set;
pub mod value;

pub use counter::Counter;
pub use kv::Kv;
pub use multi_register::MultiRegister;
pub use mutex::Mutex;
pub use queue::FifoQueue;
pub use register::{CasRegister, Register, RegisterOp};
pub use set::Set;
pub use value::Val;

use crate::history::{Operation, Outcome};
use serde_json::Value;
use std::fmt::Debug;
use std::hash::Hash;

/// How an `ok` read of null is interpreted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum NilRead {
    /// The read observed the absent (initial null) value, as Porcupine's etcd model has it.
    #[default]
    Absent,
    /// The value is not known: the read matches any state, as in Knossos.
    Unknown,
}

/// Settings every model takes.
#[derive(Clone, Debug, Default)]
pub struct ModelConfig {
    /// The initial value of each object (`--initial`); null by default.
    pub initial: Value,
    pub nil_read: NilRead,
}

/// A sequential specification.
///
/// Implementing it means: `init` is the state before any operation;
/// `step(s, op)` returns the state after `op` if `op` (with the result it
/// reported, when it reported one) is legal in `s`, and `None` if it is not.
/// For an indeterminate (`info`) operation the result is unknown, so `step`
/// must accept it whenever its input could be applied.
pub trait Model: Send + Sync {
    /// The model's own form of an operation: input and, when known, output.
    type Op: Clone + Debug + Send + Sync;
    /// The model state. Cheap to clone and hash: the search memoises on it.
    type State: Clone + Eq + Hash + Debug + Send + Sync;

    /// The model's name as given to `--model`.
    fn name(&self) -> &'static str;
    /// The state before any operation.
    fn init(&self) -> Self::State;
    /// Converts a paired operation; an error says what was expected.
    fn parse(&self, op: &Operation) -> Result<Self::Op, String>;
    /// The state after `op`, or `None` if `op` cannot happen in `state`.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;
    /// True when `op` never changes the state (an indeterminate read can
    /// then be left out of the search entirely).
    fn is_read_only(&self, op: &Self::Op) -> bool;

    /// True when `op` neither changes nor constrains the state (a read whose
    /// value is not known): the search can leave it out.
    fn is_noop(&self, _op: &Self::Op) -> bool {
        false
    }
    /// True when `op`'s outcome does not depend on the state at all: it is
    /// accepted everywhere and leads to the same state from any state (a
    /// register write, a kv put). Lets the search skip such ops when it
    /// asks whether an indeterminate op could matter to them.
    fn is_blind(&self, _op: &Self::Op) -> bool {
        false
    }
    /// For models whose state only grows except under a few "reset"
    /// operations (an append-only string, a grow-only set): true when
    /// operations other than resets could still take `state` somewhere the
    /// read-only `read` accepts. Returning `false` lets the search drop a
    /// dead branch early, so it must only do so when no such sequence
    /// exists. The default, `true`, never prunes.
    fn may_satisfy(&self, _state: &Self::State, _read: &Self::Op) -> bool {
        true
    }
    /// Whether `op` is a reset that [`Model::may_satisfy`] does not account
    /// for (a kv `put`).
    fn is_reset(&self, _op: &Self::Op) -> bool {
        false
    }
    /// Whether [`Model::may_satisfy`] is implemented (worth calling).
    fn grows(&self) -> bool {
        false
    }
    /// The state in words, for counterexamples (`3`, `{1, 2}`, `locked`).
    fn show_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
    /// Heap bytes a state holds beyond `size_of::<State>()`, so the search
    /// can keep its memo table within the memory budget.
    fn state_heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }
}

/// A sequential specification by name: what `--model` selects.
///
/// Parsed where the name enters (the command line via clap, files via
/// serde, [`std::str::FromStr`] elsewhere), so a misspelt model is an error
/// before any history is read.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A read/write register ([`Register`]).
    Register,
    /// A register with compare-and-set ([`CasRegister`]).
    CasRegister,
    /// Several registers read and written in transactions ([`MultiRegister`]).
    MultiRegister,
    /// A lock ([`Mutex`]).
    Mutex,
    /// A grow-only set ([`Set`]).
    Set,
    /// A first-in first-out queue ([`FifoQueue`]).
    FifoQueue,
    /// A key-value map ([`Kv`]).
    Kv,
    /// An integer counter ([`Counter`]).
    Counter,
}

impl ModelKind {
    /// Every model, in the order help and errors list them.
    pub const ALL: &'static [ModelKind] = &[
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::MultiRegister,
        ModelKind::Mutex,
        ModelKind::Set,
        ModelKind::FifoQueue,
        ModelKind::Kv,
        ModelKind::Counter,
    ];

    /// The name `--model` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::MultiRegister => "multi-register",
            ModelKind::Mutex => "mutex",
            ModelKind::Set => "set",
            ModelKind::FifoQueue => "fifo-queue",
            ModelKind::Kv => "kv",
            ModelKind::Counter => "counter",
        }
    }

    /// Every model name, comma-separated, for messages.
    pub fn names() -> String {
        crate::checker::registry::join_names(Self::ALL.iter().map(|m| m.as_str()))
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<ModelKind, String> {
        ModelKind::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown model `{s}`; the models are: {}",
                    ModelKind::names()
                )
            })
    }
}

/// The result an operation reported, when there is one to trust: `Some`
/// for an `ok` op, `None` for an indeterminate one. Models use this so
/// that `info` ops are never held to a value they did not report.
pub(crate) fn reported(op: &Operation) -> Option<&crate::history::Val> {
    (op.outcome == Outcome::Ok).then_some(&op.output)
}

/// What an `ok` read of `v` tells about the state: `None` when nothing
/// (an indeterminate op, or a null read under [`NilRead::Unknown`]).
pub(crate) fn read_observation(op: &Operation, nil_read: NilRead) -> Option<Val> {
    let v = reported(op)?;
    if v.is_null() && nil_read == NilRead::Unknown {
        return None;
    }
    Some(Val::of(v))
}

/// Shared message for an `f` the model does not know.
pub(crate) fn unknown_f(model: &str, op: &Operation, expected: &str) -> String {
    format!(
        "the {model} model has no `{}` operation; expected {expected}",
        op.f
    )
}

/// A paired operation for model unit tests.
#[cfg(test)]
pub(crate) fn test_op(f: &str, input: Value, output: Value, outcome: Outcome) -> Operation {
    Operation::new(
        0,
        Some(1),
        crate::history::Process::id(0),
        f.into(),
        None,
        input.into(),
        output.into(),
        outcome,
    )
}
