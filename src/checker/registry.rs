//! Choosing checkers: by explicit name (`--checker`), by workload
//! (`--workload`), by model (`--model`), or, when nothing is said, by what
//! the history contains.

use crate::checker::{Budget, CheckResult};
use crate::history::History;
use crate::model::ModelConfig;

/// What the user asked `check` to decide.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// `--model`: a sequential specification for the linearizable checker.
    pub model: Option<String>,
    pub model_config: ModelConfig,
    /// `--workload`: register, set, list-append, rw-register.
    pub workload: Option<String>,
    /// `--checker`: explicit checker names.
    pub checkers: Option<Vec<String>>,
    /// `--consistency-model` for the transactional checker.
    pub consistency_model: Option<String>,
}

/// An error in the request (bad names) or in the input (ops that do not fit
/// the chosen model): exit code 254.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SelectError(pub String);

/// Runs the checkers `opts` asks for on `history`.
pub fn run_checks(
    _history: &History,
    _opts: &CheckOptions,
    _budget: &Budget,
) -> Result<Vec<CheckResult>, SelectError> {
    Err(SelectError("no checkers are built yet".into()))
}

/// Checks names in `opts` before any file is read.
pub fn validate(_opts: &CheckOptions) -> Result<(), SelectError> {
    Ok(())
}
