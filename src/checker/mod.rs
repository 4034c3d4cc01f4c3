//! Checkers decide whether a history satisfies a property.
//!
//! Every checker implements [`Checker`]: it reads a [`History`] and returns a
//! [`CheckResult`] with a [`Verdict`], a one-line summary, a human
//! explanation and machine-readable details. Reports read only these.

use crate::history::History;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The outcome of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The property holds.
    Valid,
    /// The property is violated; the result carries a counterexample.
    Invalid,
    /// The checker could not decide (budget exhausted, unsupported input).
    Unknown,
}

impl Verdict {
    /// Exit code per DESIGN.md: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unknown => 2,
        }
    }

    /// Combines two verdicts: any invalid makes the whole invalid; otherwise
    /// any unknown makes it unknown.
    pub fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Invalid, _) | (_, Verdict::Invalid) => Verdict::Invalid,
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
            _ => Verdict::Valid,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a checker found.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// The checker's name (`linearizable`, `stale-read`, `elle`, ...).
    pub checker: String,
    pub verdict: Verdict,
    /// One line: what was decided and the headline numbers.
    pub summary: String,
    /// For people: the counterexample or anomalies in words (may be empty).
    pub explanation: String,
    /// For machines: the same data, structured.
    pub details: serde_json::Value,
}

impl CheckResult {
    pub fn new(checker: &str, verdict: Verdict, summary: impl Into<String>) -> CheckResult {
        CheckResult {
            checker: checker.to_string(),
            verdict,
            summary: summary.into(),
            explanation: String::new(),
            details: serde_json::Value::Null,
        }
    }
}

/// A checker: one property, one job.
///
/// Implementing it means deciding the property for any well-formed history,
/// returning `Invalid` only with a counterexample in `explanation`/`details`,
/// and `Unknown` (never a hang, never a panic) when the [`Budget`] runs out
/// or the history does not fit the checker.
pub trait Checker: Send + Sync {
    fn name(&self) -> &str;
    fn check(&self, history: &History, budget: &Budget) -> CheckResult;
}

/// Pairs `history`'s operations and hands them to `check`; a history that
/// cannot be paired gives `unknown` from checker `name`, with the reason.
/// The one place the pairing-based checkers turn a [`History`] into ops.
pub fn on_operations(
    name: &str,
    history: &History,
    check: impl FnOnce(&[crate::history::Operation]) -> CheckResult,
) -> CheckResult {
    match history.operations() {
        Ok(ops) => check(ops),
        Err(e) => CheckResult::new(
            name,
            Verdict::Unknown,
            format!("cannot pair operations: {e}"),
        ),
    }
}

/// Limits on a check: wall-clock time, memory for memo tables, and a shared
/// cancellation flag (set when a sibling partition already failed, or on
/// Ctrl-C).
#[derive(Clone, Debug)]
pub struct Budget {
    pub deadline: Option<Instant>,
    /// Upper bound on the bytes a checker may spend on its own tables.
    pub memory_bytes: usize,
    pub cancel: Arc<AtomicBool>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            deadline: None,
            memory_bytes: 4 << 30,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Budget {
    /// A budget of `limit` wall-clock time from now (none if `None`).
    pub fn with_time_limit(limit: Option<Duration>) -> Budget {
        Budget {
            deadline: limit.map(|d| Instant::now() + d),
            ..Budget::default()
        }
    }
    /// True when the checker should stop and answer `Unknown`.
    pub fn exhausted(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}
pub mod counter;
pub mod elle;
pub mod fast_hash;
pub mod graph_register;
pub mod keyed;
pub mod linearizable;
pub mod lost_write;
pub mod queue;
pub mod registry;
pub mod session;
pub mod set;
pub mod stale_read;
pub mod total_queue;
pub mod unique_ids;
