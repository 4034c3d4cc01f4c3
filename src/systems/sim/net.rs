//! Simulated links between nodes.
//!
//! Every ordered pair of nodes has a link with a one-way latency (higher
//! between regions). A message on a link is delivered after the latency by
//! a per-link task that keeps FIFO order, as a TCP connection would. A
//! partition marks links cut: a message is dropped when its link is cut at
//! send time or at delivery time, which is what an iptables DROP rule on the
//! receiver does. Sub-millisecond latencies are rounded up to tokio's timer
//! granularity (1 ms); a latency of zero delivers immediately.
//!
//! Links can also be unreliable ([`Unreliable`]): each message is delayed by
//! a random extra (jitter; order on the link is kept, so a message never
//! overtakes an earlier one) and may be lost. The random choices of a link
//! come from its own generator, derived from the run's seed and the link,
//! so what happens on one link does not depend on the traffic of another,
//! and a run is still a function of its seed.

use super::node::Envelope;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Random delays and losses on every link between nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Unreliable {
    /// Each message waits its link's latency plus uniform(0, jitter).
    pub jitter: Duration,
    /// Probability that a message is lost.
    pub drop_rate: f64,
    /// The run's seed: each link's generator is derived from it.
    pub seed: u64,
}

impl Unreliable {
    fn active(&self) -> bool {
        !self.jitter.is_zero() || self.drop_rate > 0.0
    }
}

pub struct Net {
    n: usize,
    inboxes: Vec<mpsc::UnboundedSender<Envelope>>,
    latency: Vec<Duration>,
    cut: Vec<AtomicBool>,
    links: Vec<Option<mpsc::UnboundedSender<(Instant, Envelope)>>>,
    unreliable: Unreliable,
    /// One generator per link (empty when links are reliable).
    rngs: Vec<Mutex<ChaCha8Rng>>,
    dropped: std::sync::atomic::AtomicU64,
}

/// The generator stream of the link `from -> to` (distinct from the
/// nodes', the clients' and the nemesis's streams).
const LINK_STREAM: u64 = 0x11_4E00_0000;

impl Net {
    /// Builds the links and spawns their delivery tasks (needs a runtime).
    pub fn new(
        inboxes: Vec<mpsc::UnboundedSender<Envelope>>,
        latency: Vec<Vec<Duration>>,
        unreliable: Unreliable,
    ) -> std::sync::Arc<Net> {
        let n = inboxes.len();
        let flat: Vec<Duration> = latency.into_iter().flatten().collect();
        let cut = (0..n * n).map(|_| AtomicBool::new(false)).collect();
        let rngs = if unreliable.active() {
            (0..n * n)
                .map(|i| {
                    Mutex::new(ChaCha8Rng::seed_from_u64(crate::generator::derive_seed(
                        unreliable.seed,
                        LINK_STREAM + i as u64,
                    )))
                })
                .collect()
        } else {
            Vec::new()
        };
        std::sync::Arc::new_cyclic(|weak: &std::sync::Weak<Net>| {
            let mut links = Vec::with_capacity(n * n);
            for (i, lat) in flat.iter().enumerate() {
                let (from, to) = (i / n, i % n);
                if from == to || (lat.is_zero() && unreliable.jitter.is_zero()) {
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
                unreliable,
                rngs,
                dropped: std::sync::atomic::AtomicU64::new(0),
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
        let i = from * self.n + to;
        let mut delay = self.latency[i];
        if let Some(rng) = self.rngs.get(i) {
            let mut rng = rng.lock().unwrap_or_else(|p| p.into_inner());
            // Both draws always happen, so the stream's position depends
            // only on how many messages the link carried.
            let lost = rng.gen::<f64>() < self.unreliable.drop_rate;
            let extra = self.unreliable.jitter.mul_f64(rng.gen::<f64>());
            if lost {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            delay += extra;
        }
        match &self.links[i] {
            None => {
                let _ = self.inboxes[to].send(env);
            }
            Some(link) => {
                let _ = link.send((Instant::now() + delay, env));
            }
        }
    }

    /// Messages lost to `drop_rate` so far (not counting cut links).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Delivers a client's request straight into a node's inbox (clients sit
    /// next to their node; partitions are between nodes).
    pub fn deliver_local(&self, to: usize, env: Envelope) {
        let _ = self.inboxes[to].send(env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::sim::node::Msg;

    /// Sends 1000 numbered messages from node 0 to node 1 over a 1 ms link
    /// and returns the numbers node 1 received, in order, and how many the
    /// link dropped.
    async fn carry(jitter_ms: u64, drop_rate: f64, seed: u64) -> (Vec<usize>, u64) {
        let (tx0, _rx0) = mpsc::unbounded_channel();
        let (tx1, mut rx1) = mpsc::unbounded_channel();
        let ms = Duration::from_millis(1);
        let net = Net::new(
            vec![tx0, tx1],
            vec![vec![Duration::ZERO, ms], vec![ms, Duration::ZERO]],
            Unreliable {
                jitter: Duration::from_millis(jitter_ms),
                drop_rate,
                seed,
            },
        );
        for upto in 0..1000 {
            net.send(
                1,
                Envelope {
                    from: 0,
                    msg: Msg::SyncAck { upto },
                },
            );
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut got = Vec::new();
        while let Ok(env) = rx1.try_recv() {
            if let Msg::SyncAck { upto } = env.msg {
                got.push(upto);
            }
        }
        (got, net.dropped())
    }

    #[tokio::test(start_paused = true)]
    async fn a_lossy_link_drops_about_its_rate_and_keeps_order() {
        let (got, dropped) = carry(5, 0.3, 1).await;
        assert_eq!(got.len() as u64 + dropped, 1000);
        assert!((200..400).contains(&dropped), "{dropped} of 1000 dropped");
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "messages on a link stay in order"
        );
        let (reliable, none) = carry(0, 0.0, 1).await;
        assert_eq!((reliable.len(), none), (1000, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn losses_are_a_function_of_the_seed() {
        let a = carry(5, 0.3, 7).await;
        let b = carry(5, 0.3, 7).await;
        let c = carry(5, 0.3, 8).await;
        assert_eq!(a, b);
        assert_ne!(a.0, c.0);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_spreads_arrivals_without_reordering() {
        let (tx0, _rx0) = mpsc::unbounded_channel();
        let (tx1, mut rx1) = mpsc::unbounded_channel();
        let ms = Duration::from_millis(2);
        let net = Net::new(
            vec![tx0, tx1],
            vec![vec![Duration::ZERO, ms], vec![ms, Duration::ZERO]],
            Unreliable {
                jitter: Duration::from_millis(10),
                drop_rate: 0.0,
                seed: 3,
            },
        );
        let start = Instant::now();
        let receiver = tokio::spawn(async move {
            let mut out = Vec::new();
            while let Some(env) = rx1.recv().await {
                if let Msg::SyncAck { upto } = env.msg {
                    out.push((start.elapsed(), upto));
                    if upto == 199 {
                        break;
                    }
                }
            }
            out
        });
        for upto in 0..200 {
            net.send(
                1,
                Envelope {
                    from: 0,
                    msg: Msg::SyncAck { upto },
                },
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let got = receiver.await.unwrap();
        assert_eq!(got.len(), 200);
        // Sent every 20 ms, so no message waits for another: each one's
        // delay is its own latency + jitter, between 2 and 12 ms.
        let delays: Vec<Duration> = got
            .iter()
            .map(|(at, i)| *at - Duration::from_millis(20) * *i as u32)
            .collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= ms && *d <= ms * 6 + Duration::from_millis(1)),
            "{delays:?}"
        );
        let distinct: std::collections::BTreeSet<Duration> = delays.iter().copied().collect();
        assert!(distinct.len() > 5, "jitter varies the delay: {distinct:?}");
    }
}
