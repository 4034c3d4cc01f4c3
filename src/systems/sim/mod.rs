//! The embedded simulated store (`db = "sim"`).
//!
//! A replicated key-value store that runs inside the test process: one tokio
//! task per node ([`node`]), nodes grouped in regions, messages over
//! simulated links ([`net`]) with delays, jitter and losses. It exists so
//! that `faultline test` can show, without any cluster, what multi-region
//! replication strategies do under partitions, crashes and pauses: each
//! strategy in [`crate::workload::Strategy`] is implemented as the actual
//! mechanism, and the checkers judge the history it produces like any other.
//!
//! It runs in virtual time ([`runtime`]): a current-thread runtime whose
//! clock is paused, so every delay is virtual, a run takes only the CPU
//! time it needs, and — with every random choice drawn from streams derived
//! from the workload's seed — the same workload and seed give the same
//! history, byte for byte.
//!
//! Faults arrive through the same [`crate::nemesis::Nemesis`] trait real
//! clusters use ([`SimNemesis`]): a partition's [`crate::net::Grudge`] cuts
//! links, `kill` crashes a node (it loses what was in memory, keeps its
//! log), `pause` stops it from processing messages until resumed.
//!
//! The simulator also checks itself ([`invariants`]: one leader per epoch,
//! committed entries agree); the runner reaches that, like everything else
//! here, only through [`crate::systems`] ([`self_report`]).

pub mod client;
pub mod cluster;
pub mod config;
pub mod invariants;
pub mod net;
pub mod node;
pub mod store;

pub use client::{SimClient, SimClientFactory};
pub use cluster::{SimCluster, SimNemesis};

use super::Backend;
use crate::workload::Workload;
use anyhow::Context;
use std::sync::Arc;

/// The backend of a simulated run: a [`SimCluster`] started on the current
/// runtime (which must be [`runtime`]'s for the run to be deterministic).
pub fn backend(w: &Workload) -> anyhow::Result<Backend> {
    let cluster = SimCluster::start(w);
    Ok(Backend {
        clients: Arc::new(cluster.client_factory(w.workload)),
        nemesis: Some(Arc::new(cluster.nemesis())),
        db: None,
        keep_alive: Some(Box::new(cluster)),
        provocation: None,
    })
}

/// The runtime of a simulated run: one thread, clock paused at start and
/// advanced only when every task waits (tokio's auto-advance), so a run
/// depends on nothing but its inputs and takes only the CPU time it needs.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .context("cannot start the simulation runtime")
}

/// What the simulator saw of itself during a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SelfReport {
    /// Violations of its own invariants ([`invariants`]).
    pub invariant_violations: Vec<String>,
    /// Messages between nodes lost to `drop_rate`.
    pub dropped_messages: u64,
}

/// The report of the simulated cluster behind `backend`; `None` when the
/// backend is not the simulator.
pub fn self_report(backend: &Backend) -> Option<SelfReport> {
    let cluster = backend
        .keep_alive
        .as_ref()
        .and_then(|k| (**k).downcast_ref::<SimCluster>())?;
    Some(SelfReport {
        invariant_violations: cluster.invariant_violations(),
        dropped_messages: cluster.dropped_messages(),
    })
}

#[cfg(test)]
mod tests {
    /// The generic layers (clients, runner, databases, faults) know the
    /// simulator only through `crate::systems`: none of them names it.
    #[test]
    fn generic_layers_do_not_import_the_simulator() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut seen = 0;
        for dir in ["client", "runner", "db", "nemesis", "generator"] {
            let entries =
                std::fs::read_dir(src.join(dir)).unwrap_or_else(|e| panic!("src/{dir}: {e}"));
            for e in entries {
                let path = e.unwrap().path();
                if path.extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                seen += 1;
                for needle in ["crate::sim", "systems::sim", "SimCluster", "super::sim"] {
                    assert!(
                        !text.contains(needle),
                        "{} names the simulator (`{needle}`)",
                        path.display()
                    );
                }
            }
        }
        assert!(seen >= 5, "only {seen} files scanned");
    }
}
