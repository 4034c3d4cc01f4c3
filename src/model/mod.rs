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

use crate::history::Operation;
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
}
