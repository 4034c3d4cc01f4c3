//! The embedded simulated store (`db = "sim"`).
//!
//! A replicated key-value store that runs inside the test process: one tokio
//! task per node, nodes grouped in regions, messages over simulated links
//! with real (small) delays. It exists so that `faultline test` can show,
//! without any cluster, what multi-region replication strategies do under
//! partitions, crashes and pauses: each strategy in [`crate::workload::Strategy`]
//! is implemented as the actual mechanism (see [`node`]), and the checkers
//! judge the history it produces like any other.
//!
//! Faults arrive through the same [`Nemesis`] trait real clusters use: a
//! partition's [`crate::net::Grudge`] cuts links, `kill` crashes a node
//! (it loses what was in memory, keeps its log), `pause` stops it from
//! processing messages until resumed.

pub mod net;
pub mod node;
pub mod store;

use crate::nemesis::{Fault, Nemesis};
use crate::workload::Workload;
use anyhow::{anyhow, Context};
use node::{Ctl, Envelope, Node, NodeStatus, Params};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A running simulated cluster. Dropping it stops every node.
pub struct SimCluster {
    pub nodes: Vec<String>,
    net: Arc<net::Net>,
    ctls: Vec<mpsc::UnboundedSender<Ctl>>,
    client_latency: Duration,
}

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64((v.max(0.0)) / 1000.0)
}

impl SimCluster {
    /// Starts the nodes of `w` on the current tokio runtime.
    pub fn start(w: &Workload) -> SimCluster {
        let s = &w.sim;
        let n = w.nodes.len();
        let scale = s.time_scale;
        let latency: Vec<Vec<Duration>> = w
            .nodes
            .iter()
            .map(|a| {
                w.nodes
                    .iter()
                    .map(|b| {
                        if a == b {
                            Duration::ZERO
                        } else if w.region_of(a) == w.region_of(b) {
                            ms(s.latency_local_ms * scale)
                        } else {
                            ms(s.latency_region_ms * scale)
                        }
                    })
                    .collect()
            })
            .collect();
        let mut inbox_tx = Vec::with_capacity(n);
        let mut inbox_rx = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::unbounded_channel::<Envelope>();
            inbox_tx.push(tx);
            inbox_rx.push(rx);
        }
        let net = net::Net::new(inbox_tx, latency);
        let params = Arc::new(Params {
            strategy: s.strategy,
            heartbeat: ms(s.heartbeat_ms),
            election_timeout: ms(s.election_timeout_ms),
            replication_interval: ms(s.replication_interval_ms),
            clock_skew_us: (s.clock_skew_ms * scale * 1000.0) as u64,
            seed: w.seed,
        });
        let epoch0 = tokio::time::Instant::now();
        let mut ctls = Vec::with_capacity(n);
        for (i, rx) in inbox_rx.into_iter().enumerate() {
            let (ctx, crx) = mpsc::unbounded_channel();
            ctls.push(ctx);
            let node = Node::new(i, n, params.clone(), net.clone(), epoch0);
            tokio::spawn(node.run(rx, crx));
        }
        SimCluster {
            nodes: w.nodes.clone(),
            net,
            ctls,
            client_latency: ms(s.latency_client_ms * scale),
        }
    }

    fn index(&self, node: &str) -> anyhow::Result<usize> {
        self.nodes
            .iter()
            .position(|n| n == node)
            .ok_or_else(|| anyhow!("unknown node `{node}` (nodes: {:?})", self.nodes))
    }

    /// Every node's state.
    pub async fn status(&self) -> Vec<NodeStatus> {
        let mut out = Vec::new();
        for c in &self.ctls {
            let (tx, rx) = oneshot::channel();
            if c.send(Ctl::Status(tx)).is_ok() {
                if let Ok(s) = rx.await {
                    out.push(s);
                }
            }
        }
        out
    }

    /// A handle clients use to reach the nodes.
    pub fn client_factory(
        &self,
        kind: crate::workload::WorkloadKind,
    ) -> crate::client::sim::SimClientFactory {
        crate::client::sim::SimClientFactory::new(
            self.nodes.clone(),
            self.net.clone(),
            self.client_latency,
            kind,
        )
    }

    /// The nemesis acting on this cluster.
    pub fn nemesis(&self) -> SimNemesis {
        SimNemesis {
            nodes: self.nodes.clone(),
            net: self.net.clone(),
            ctls: self.ctls.clone(),
        }
    }

    fn ctl(&self, node: &str, c: Ctl) -> anyhow::Result<()> {
        let i = self.index(node)?;
        self.ctls[i]
            .send(c)
            .map_err(|_| anyhow!("node `{node}` has stopped"))
    }

    /// Crashes a node (used by tests; the nemesis does the same).
    pub fn kill(&self, node: &str) -> anyhow::Result<()> {
        self.ctl(node, Ctl::Kill)
    }
}

/// Faults for the simulated cluster: partitions cut links, kill and pause
/// act on the node tasks.
#[derive(Clone)]
pub struct SimNemesis {
    nodes: Vec<String>,
    net: Arc<net::Net>,
    ctls: Vec<mpsc::UnboundedSender<Ctl>>,
}

impl SimNemesis {
    fn index(&self, node: &str) -> anyhow::Result<usize> {
        self.nodes
            .iter()
            .position(|n| n == node)
            .ok_or_else(|| anyhow!("unknown node `{node}` (nodes: {:?})", self.nodes))
    }

    fn each(&self, nodes: &[String], c: fn() -> Ctl) -> anyhow::Result<()> {
        for n in nodes {
            let i = self.index(n)?;
            self.ctls[i]
                .send(c())
                .map_err(|_| anyhow!("node `{n}` has stopped"))
                .context("sim nemesis")?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Nemesis for SimNemesis {
    async fn invoke(&self, fault: &Fault) -> anyhow::Result<serde_json::Value> {
        match fault {
            Fault::Partition(grudge) => {
                for (node, drops) in grudge {
                    let to = self.index(node)?;
                    for d in drops {
                        let from = self.index(d)?;
                        self.net.set_cut(from, to, true);
                    }
                }
                Ok(json!({ "cut": grudge }))
            }
            Fault::Heal => {
                let cut = self.net.cut_links().len();
                self.net.heal();
                Ok(json!({ "healed-links": cut }))
            }
            Fault::Kill(nodes) => {
                self.each(nodes, || Ctl::Kill)?;
                Ok(json!({ "killed": nodes }))
            }
            Fault::Restart(nodes) => {
                self.each(nodes, || Ctl::Restart)?;
                Ok(json!({ "restarted": nodes }))
            }
            Fault::Pause(nodes) => {
                self.each(nodes, || Ctl::Pause)?;
                Ok(json!({ "paused": nodes }))
            }
            Fault::Resume(nodes) => {
                self.each(nodes, || Ctl::Resume)?;
                Ok(json!({ "resumed": nodes }))
            }
        }
    }

    async fn heal_all(&self) -> anyhow::Result<()> {
        self.net.heal();
        let all = self.nodes.clone();
        self.each(&all, || Ctl::Resume)?;
        self.each(&all, || Ctl::Restart)?;
        Ok(())
    }
}
