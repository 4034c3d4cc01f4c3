//! Databases: install, start, stop and hurt the system under test.
//!
//! [`Db`] mirrors Jepsen's db protocol. Calls block (they act over SSH);
//! async callers use `spawn_blocking`.

/// Sets up and controls a database on a set of nodes.
///
/// Implementing it means: `setup` leaves the database running and healthy on
/// every node; `teardown` stops it and removes its data; `kill`, `pause`,
/// `resume` and `start` act on one node through its pid file, never by
/// process name.
pub trait Db: Send + Sync {
    fn setup(&self, nodes: &[String]) -> anyhow::Result<()>;
    fn teardown(&self, nodes: &[String]) -> anyhow::Result<()>;
    fn start(&self, node: &str) -> anyhow::Result<()>;
    fn kill(&self, node: &str) -> anyhow::Result<()>;
    fn pause(&self, node: &str) -> anyhow::Result<()>;
    fn resume(&self, node: &str) -> anyhow::Result<()>;
    /// Copies each node's log into `dir` (best effort).
    fn collect_logs(&self, _nodes: &[String], _dir: &std::path::Path) -> anyhow::Result<()> {
        Ok(())
    }
}
