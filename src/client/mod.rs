//! Clients: how a worker talks to the store under test.
//!
//! A [`Client`] performs one operation at a time and reports how it ended.
//! It must never claim `ok` for something it is not sure took effect: when in
//! doubt (a timeout, a dropped connection mid-request) the answer is `info`;
//! `fail` only when the operation certainly did not happen.

use crate::history::OpType;
use serde_json::Value;

/// An operation a generator asks a client to perform.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub f: String,
    pub key: Option<Value>,
    pub value: Value,
}

/// How an operation ended, as the client saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// `Ok`, `Fail` or `Info` (never `Invoke`).
    pub op_type: OpType,
    /// The result (a read's value, a txn's completed micro-ops); for writes
    /// usually the written value.
    pub value: Value,
    pub error: Option<Value>,
}

impl Completion {
    pub fn ok(value: Value) -> Completion {
        Completion {
            op_type: OpType::Ok,
            value,
            error: None,
        }
    }
    pub fn fail(value: Value, error: impl Into<Value>) -> Completion {
        Completion {
            op_type: OpType::Fail,
            value,
            error: Some(error.into()),
        }
    }
    pub fn info(value: Value, error: impl Into<Value>) -> Completion {
        Completion {
            op_type: OpType::Info,
            value,
            error: Some(error.into()),
        }
    }
}

/// A connection to one node of the store, used by one worker.
///
/// Implementing it means: `invoke` performs the operation once and returns
/// its completion; it does not retry an operation that may have taken effect.
/// The runner enforces the per-op timeout (a timed-out op is recorded `info`
/// and the client is reopened), so `invoke` may simply await the store.
#[async_trait::async_trait]
pub trait Client: Send {
    async fn invoke(&mut self, op: &Invocation) -> Completion;
    /// How long the worker waits before its next operation, on top of the
    /// workload's rate pacing: a simulated client's random think time.
    /// Real clients answer zero (the rate alone paces them).
    fn think_time(&mut self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
    /// Releases the connection (best effort).
    async fn close(&mut self) {}
}

/// Opens clients: one per worker, bound to a node.
#[async_trait::async_trait]
pub trait ClientFactory: Send + Sync {
    /// A new client for `process`, talking to `node`.
    async fn open(&self, node: &str, process: i64) -> anyhow::Result<Box<dyn Client>>;
}
