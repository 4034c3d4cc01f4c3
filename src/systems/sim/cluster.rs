//! The simulated cluster: starts the node tasks and the links, hands out
//! clients, and is the nemesis's handle on the nodes.

use super::node::{Ctl, Envelope, Node, NodeStatus, Params};
use super::{client, invariants, net};
use crate::nemesis::{Fault, Nemesis};
use crate::workload::Workload;
use anyhow::{anyhow, Context};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A running simulated cluster. Dropping it stops every node.
pub struct SimCluster {
    pub nodes: Vec<String>,
    monitor: Arc<invariants::Monitor>,
    net: Arc<net::Net>,
    ctls: Vec<mpsc::UnboundedSender<Ctl>>,
    client_latency: Duration,
    think_time: (Duration, Duration),
    seed: u64,
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
        let net = net::Net::new(
            inbox_tx,
            latency,
            net::Unreliable {
                jitter: ms(s.jitter_ms * scale),
                drop_rate: s.drop_rate,
                seed: w.seed,
            },
        );
        let monitor = Arc::new(invariants::Monitor::default());
        let params = Arc::new(Params {
            strategy: s.strategy,
            heartbeat: ms(s.heartbeat_ms),
            election_timeout: ms(s.election_timeout_ms),
            replication_interval: ms(s.replication_interval_ms),
            clock_skew_us: (s.clock_skew_ms * scale * 1000.0) as u64,
            seed: w.seed,
            monitor: monitor.clone(),
        });
        // Every log strategy starts with n1 leading epoch 1.
        monitor.leader(1, 0);
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
            monitor,
            net,
            ctls,
            client_latency: ms(s.latency_client_ms * scale),
            think_time: (ms(s.think_time_ms[0]), ms(s.think_time_ms[1])),
            seed: w.seed,
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

    /// Violations of the simulator's own invariants so far
    /// ([`invariants`]): one leader per epoch, committed entries agree.
    pub fn invariant_violations(&self) -> Vec<String> {
        self.monitor.violations()
    }

    /// Messages between nodes lost to `drop_rate` so far.
    pub fn dropped_messages(&self) -> u64 {
        self.net.dropped()
    }

    /// A handle clients use to reach the nodes.
    pub fn client_factory(&self, kind: crate::workload::WorkloadKind) -> client::SimClientFactory {
        client::SimClientFactory {
            nodes: self.nodes.clone(),
            net: self.net.clone(),
            latency: self.client_latency,
            think_time: self.think_time,
            seed: self.seed,
            kind,
        }
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
            Fault::IsolatePrimary => {
                anyhow::bail!("the simulated store has no primary to isolate (use isolate-one)")
            }
            Fault::KillPrimary => {
                anyhow::bail!("the simulated store has no primary to kill (use kill)")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientFactory, Invocation};
    use crate::history::OpType;
    use serde_json::{json, Value};

    fn cluster(strategy: &str) -> SimCluster {
        let w = crate::workload::parse(
            &format!(
                "db = \"sim\"\nnodes = 3\nworkload = \"register\"\nrate = 100\n[sim]\nstrategy = \"{strategy}\"\nheartbeat_ms = 5\nelection_timeout_ms = 30\n"
            ),
            "t",
            "t",
        )
        .unwrap();
        SimCluster::start(&w)
    }

    fn write(v: i64) -> Invocation {
        Invocation {
            f: "write".into(),
            key: Some(json!(1)),
            value: json!(v),
        }
    }

    async fn leaders(c: &SimCluster) -> Vec<(usize, u64)> {
        c.status()
            .await
            .into_iter()
            .filter(|s| s.is_leader && s.up)
            .map(|s| (s.node, s.epoch))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn fenced_failover_elects_a_new_leader_and_fences_the_old() {
        let c = cluster("failover-fenced");
        let f = c.client_factory(crate::workload::WorkloadKind::Register);
        let mut cl = f.open("n2", 0).await.unwrap();
        assert_eq!(cl.invoke(&write(1)).await.op_type, OpType::Ok);
        let n = c.nemesis();
        n.invoke(&Fault::Kill(vec!["n1".into()])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let l = leaders(&c).await;
        assert_eq!(l.len(), 1, "{l:?}");
        assert_ne!(l[0].0, 0);
        assert!(l[0].1 > 1, "a new epoch: {l:?}");
        assert_eq!(cl.invoke(&write(2)).await.op_type, OpType::Ok);
        // The old leader comes back as a follower of the new epoch.
        n.invoke(&Fault::Restart(vec!["n1".into()])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let s = c.status().await;
        assert!(!s[0].is_leader && s[0].epoch == l[0].1, "{s:?}");
        let mut r = f.open("n1", 1).await.unwrap();
        let read = Invocation {
            f: "read".into(),
            key: Some(json!(1)),
            value: Value::Null,
        };
        assert_eq!(r.invoke(&read).await.value, json!(2));
    }

    #[tokio::test(start_paused = true)]
    async fn unsafe_failover_lets_an_isolated_replica_promote_itself() {
        let c = cluster("failover-unsafe");
        let n = c.nemesis();
        let nodes: Vec<String> = c.nodes.clone();
        n.invoke(&Fault::Partition(crate::net::isolate_one(&nodes, "n3")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let l = leaders(&c).await;
        // Split brain: n1 still leads its side, n3 promoted itself.
        assert_eq!(
            l.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![0, 2],
            "{l:?}"
        );
        n.heal_all().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let l = leaders(&c).await;
        assert_eq!(l.len(), 1, "the newest epoch wins after the heal: {l:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn quorum_leader_refuses_without_a_majority() {
        let c = cluster("leader-quorum");
        let f = c.client_factory(crate::workload::WorkloadKind::Register);
        let mut cl = f.open("n1", 0).await.unwrap();
        assert_eq!(cl.invoke(&write(1)).await.op_type, OpType::Ok);
        let n = c.nemesis();
        n.invoke(&Fault::Partition(crate::net::isolate_one(&c.nodes, "n1")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = cl.invoke(&write(2)).await;
        assert_eq!(r.op_type, OpType::Fail, "{r:?}");
        let mut other = f.open("n2", 1).await.unwrap();
        assert_eq!(other.invoke(&write(3)).await.op_type, OpType::Fail);
        n.invoke(&Fault::Heal).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(other.invoke(&write(4)).await.op_type, OpType::Ok);
        assert!(n.invoke(&Fault::Kill(vec!["n9".into()])).await.is_err());
    }
}
