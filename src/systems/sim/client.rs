//! The client of the simulated store.
//!
//! It turns an [`Invocation`] into a store command, hands it to its node and
//! waits. A dropped request (the node crashed) is `info`: the command may
//! have been applied; a refusal (no leader, no quorum, failed cas) is `fail`.

use super::net::Net;
use super::node::{Envelope, Msg};
use super::store::{Cmd, Micro};
use crate::client::{Client, ClientFactory, Completion, Invocation};
use crate::workload::WorkloadKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Opens [`SimClient`]s bound to nodes of a running [`super::SimCluster`].
pub struct SimClientFactory {
    pub nodes: Vec<String>,
    pub net: Arc<Net>,
    /// One way, between a client and its node.
    pub latency: Duration,
    /// `[min, max]` pause before each operation.
    pub think_time: (Duration, Duration),
    /// The run's seed: each process's think times come from a generator
    /// derived from it and the process id.
    pub seed: u64,
    pub kind: WorkloadKind,
}

/// The generator stream of process `p`'s think times.
const THINK_STREAM: u64 = 0x7417_0000_0000;

#[async_trait::async_trait]
impl ClientFactory for SimClientFactory {
    async fn open(&self, node: &str, process: i64) -> anyhow::Result<Box<dyn Client>> {
        let idx = self
            .nodes
            .iter()
            .position(|n| n == node)
            .ok_or_else(|| anyhow::anyhow!("unknown node `{node}`"))?;
        Ok(Box::new(SimClient {
            node: idx,
            net: self.net.clone(),
            latency: self.latency,
            think_time: self.think_time,
            rng: ChaCha8Rng::seed_from_u64(crate::generator::derive_seed(
                self.seed,
                THINK_STREAM.wrapping_add(process as u64),
            )),
            kind: self.kind,
        }))
    }
}

pub struct SimClient {
    node: usize,
    net: Arc<Net>,
    latency: Duration,
    think_time: (Duration, Duration),
    rng: ChaCha8Rng,
    kind: WorkloadKind,
}

fn key_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Converts an invocation into a store command, or explains why it cannot.
pub fn to_cmd(op: &Invocation) -> Result<Cmd, String> {
    let key = || op.key.as_ref().map(key_of).unwrap_or_default();
    Ok(match op.f.as_str() {
        "read" => Cmd::Read(key()),
        "write" => Cmd::Write(key(), op.value.clone()),
        "cas" => match op.value.as_array().map(|a| a.as_slice()) {
            Some([e, n]) => Cmd::Cas(key(), e.clone(), n.clone()),
            _ => return Err(format!("cas needs [expected, new], got {}", op.value)),
        },
        "add" => Cmd::Add(key(), op.value.clone()),
        "txn" => {
            let Some(ms) = op.value.as_array() else {
                return Err(format!("txn needs a list of micro-ops, got {}", op.value));
            };
            let mut out = Vec::with_capacity(ms.len());
            for m in ms {
                let parts = m.as_array().map(|a| a.as_slice());
                out.push(match parts {
                    Some([f, k, v]) => match f.as_str() {
                        Some("r" | "read") => Micro::Read(key_of(k)),
                        Some("w" | "write") => Micro::Write(key_of(k), v.clone()),
                        Some("append") => Micro::Append(key_of(k), v.clone()),
                        _ => return Err(format!("unknown micro-op {m}")),
                    },
                    _ => return Err(format!("a micro-op is [f, key, value], got {m}")),
                });
            }
            Cmd::Txn(out)
        }
        f => return Err(format!("the sim store has no `{f}` operation")),
    })
}

impl SimClient {
    fn empty_collection(&self) -> bool {
        matches!(self.kind, WorkloadKind::Set | WorkloadKind::ListAppend)
    }

    fn completion(&self, op: &Invocation, result: Value) -> Completion {
        match op.f.as_str() {
            "read" => {
                if result.is_null() && self.empty_collection() {
                    Completion::ok(json!([]))
                } else {
                    Completion::ok(result)
                }
            }
            "txn" => {
                let mut ms = op.value.as_array().cloned().unwrap_or_default();
                let results = result.as_array().cloned().unwrap_or_default();
                for (m, r) in ms.iter_mut().zip(results) {
                    if let Value::Array(parts) = m {
                        let is_read = parts
                            .first()
                            .and_then(|f| f.as_str())
                            .is_some_and(|f| f == "r" || f == "read");
                        if is_read && parts.len() == 3 {
                            parts[2] = if r.is_null() && self.kind == WorkloadKind::ListAppend {
                                json!([])
                            } else {
                                r
                            };
                        }
                    }
                }
                Completion::ok(Value::Array(ms))
            }
            _ => Completion::ok(op.value.clone()),
        }
    }
}

#[async_trait::async_trait]
impl Client for SimClient {
    fn think_time(&mut self) -> Duration {
        let (lo, hi) = self.think_time;
        if hi.is_zero() {
            return Duration::ZERO;
        }
        lo + (hi - lo).mul_f64(self.rng.gen::<f64>())
    }

    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let cmd = match to_cmd(op) {
            Ok(c) => Arc::new(c),
            Err(e) => return Completion::fail(op.value.clone(), e),
        };
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let (tx, rx) = oneshot::channel();
        self.net.deliver_local(
            self.node,
            Envelope {
                from: self.node,
                msg: Msg::Client { cmd, reply: tx },
            },
        );
        let result = rx.await;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        match result {
            Ok(Ok(v)) => self.completion(op, v),
            Ok(Err(e)) => Completion::fail(op.value.clone(), e),
            Err(_) => Completion::info(op.value.clone(), "connection lost"),
        }
    }
}
