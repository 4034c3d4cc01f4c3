//! The nemesis: faults injected on a schedule.
//!
//! A [`Nemesis`] turns a [`Fault`] into action (cut links, kill a process,
//! pause one) and [`Nemesis::heal_all`] undoes everything it did. The runner
//! records every fault as a `process: "nemesis"` `info` op in the history,
//! and calls `heal_all` on every exit path.

pub mod real;

use crate::net::Grudge;
use serde::{Deserialize, Serialize};

/// One fault, or its undoing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum Fault {
    /// Drop traffic according to the grudge.
    Partition(Grudge),
    /// Remove every partition rule faultline added.
    Heal,
    /// SIGKILL the database on these nodes.
    Kill(Vec<String>),
    /// Start the database again on these nodes.
    Restart(Vec<String>),
    /// SIGSTOP the database on these nodes.
    Pause(Vec<String>),
    /// SIGCONT the database on these nodes.
    Resume(Vec<String>),
    /// Cut the node the system names as its primary off from every other
    /// node (the system is asked when the fault starts); undone by `Heal`.
    IsolatePrimary,
    /// SIGKILL the database on the node the system names as its primary
    /// (asked when the fault starts); undone by `Restart`.
    KillPrimary,
}

impl Fault {
    /// The `f` recorded in the history.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Partition(_) => "partition",
            Fault::Heal => "heal",
            Fault::Kill(_) => "kill",
            Fault::Restart(_) => "restart",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
            Fault::IsolatePrimary => "isolate-primary",
            Fault::KillPrimary => "kill-primary",
        }
    }
}

/// Injects faults into the system under test.
///
/// Implementing it means: `invoke` applies the fault and returns a JSON
/// description of what was done (recorded as the nemesis op's value);
/// `heal_all` heals partitions, resumes paused and restarts killed nodes,
/// and is safe to call any number of times.
#[async_trait::async_trait]
pub trait Nemesis: Send + Sync {
    async fn invoke(&self, fault: &Fault) -> anyhow::Result<serde_json::Value>;
    async fn heal_all(&self) -> anyhow::Result<()>;
}
