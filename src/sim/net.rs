//! Simulated links between nodes.
//!
//! Every ordered pair of nodes has a link with a one-way latency (higher
//! between regions). A message on a link is delivered after the latency by
//! a per-link task that keeps FIFO order, as a TCP connection would. A
//! partition marks links cut: a message is dropped when its link is cut at
//! send time or at delivery time, which is what an iptables DROP rule on the
//! receiver does. Sub-millisecond latencies are rounded up to tokio's timer
//! granularity (1 ms); a latency of zero delivers immediately.

use super::node::Envelope;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub struct Net {
    n: usize,
    inboxes: Vec<mpsc::UnboundedSender<Envelope>>,
    latency: Vec<Duration>,
    cut: Vec<AtomicBool>,
    links: Vec<Option<mpsc::UnboundedSender<(Instant, Envelope)>>>,
}

impl Net {
    /// Builds the links and spawns their delivery tasks (needs a runtime).
    pub fn new(
        inboxes: Vec<mpsc::UnboundedSender<Envelope>>,
        latency: Vec<Vec<Duration>>,
    ) -> std::sync::Arc<Net> {
        let n = inboxes.len();
        let flat: Vec<Duration> = latency.into_iter().flatten().collect();
        let cut = (0..n * n).map(|_| AtomicBool::new(false)).collect();
        std::sync::Arc::new_cyclic(|weak: &std::sync::Weak<Net>| {
            let mut links = Vec::with_capacity(n * n);
            for (i, lat) in flat.iter().enumerate() {
                let (from, to) = (i / n, i % n);
                if from == to || lat.is_zero() {
                    links.push(None);
                    continue;
                }
                let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Envelope)>();
                let weak = weak.clone();
                let inbox = inboxes[to].clone();
                tokio::spawn(async move {
                    while let Some((at, env)) = rx.recv().await {
                        if at > Instant::now() {
                            tokio::time::sleep_until(at).await;
                        }
                        let Some(net) = weak.upgrade() else { break };
                        if !net.is_cut(from, to) {
                            let _ = inbox.send(env);
                        }
                    }
                });
                links.push(Some(tx));
            }
            Net {
                n,
                inboxes,
                latency: flat,
                cut,
                links,
            }
        })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// True when packets from `from` to `to` are dropped.
    pub fn is_cut(&self, from: usize, to: usize) -> bool {
        self.cut[from * self.n + to].load(Ordering::Relaxed)
    }

    pub fn set_cut(&self, from: usize, to: usize, cut: bool) {
        self.cut[from * self.n + to].store(cut, Ordering::Relaxed);
    }

    pub fn heal(&self) {
        for c in &self.cut {
            c.store(false, Ordering::Relaxed);
        }
    }

    /// The links currently cut, as (from, to) pairs.
    pub fn cut_links(&self) -> Vec<(usize, usize)> {
        (0..self.n * self.n)
            .filter(|i| self.cut[*i].load(Ordering::Relaxed))
            .map(|i| (i / self.n, i % self.n))
            .collect()
    }

    /// Sends `env` from `env.from` to `to` over the simulated link.
    pub fn send(&self, to: usize, env: Envelope) {
        let from = env.from;
        if from == to {
            let _ = self.inboxes[to].send(env);
            return;
        }
        if self.is_cut(from, to) {
            return;
        }
        match &self.links[from * self.n + to] {
            None => {
                let _ = self.inboxes[to].send(env);
            }
            Some(link) => {
                let at = Instant::now() + self.latency[from * self.n + to];
                let _ = link.send((at, env));
            }
        }
    }

    /// Delivers a client's request straight into a node's inbox (clients sit
    /// next to their node; partitions are between nodes).
    pub fn deliver_local(&self, to: usize, env: Envelope) {
        let _ = self.inboxes[to].send(env);
    }
}
