//! PostgreSQL 15 (Debian's `postgresql-15`) as the system under test, one
//! server per node, for transactional workloads at a chosen isolation level.
//!
//! [`db`] runs the server on a cluster node over SSH (its own data directory
//! under the nodes file's `work_dir`, started by faultline, never Debian's
//! service); [`client`] runs list-append and rw-register transactions over
//! the native protocol with `tokio-postgres`.
//!
//! ```toml
//! [postgres]
//! isolation = "serializable"   # or "repeatable-read", "read-committed"
//! port = 5432
//! bin_dir = "/usr/lib/postgresql/15/bin"
//! nodes_file = "..."           # default: $FAULTLINE_NODES_FILE, else the local cluster's
//! ```

pub mod client;
pub mod db;

pub use client::{PgClient, PgClientFactory};
pub use db::PostgresDb;

use super::Backend;
use crate::nemesis::real::RealNemesis;
use crate::workload::{Workload, WorkloadKind};
use anyhow::bail;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The transaction isolation level every transaction runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    /// The SQL that starts a transaction at this level.
    pub fn begin(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Isolation::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }
}

/// The `[postgres]` table of a workload file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresTable {
    pub isolation: Isolation,
    pub port: u16,
    /// Where `postgres`, `initdb` and `pg_isready` are on the nodes.
    pub bin_dir: String,
    pub nodes_file: Option<PathBuf>,
}

impl Default for PostgresTable {
    fn default() -> Self {
        PostgresTable {
            isolation: Isolation::Serializable,
            port: 5432,
            bin_dir: "/usr/lib/postgresql/15/bin".into(),
            nodes_file: None,
        }
    }
}

/// The backend for `db = "postgres"`.
pub fn backend(w: &Workload) -> anyhow::Result<Backend> {
    let mut table: PostgresTable = super::parse_table("postgres", w.postgres.as_ref())?;
    super::resolve_nodes_file(&mut table.nodes_file, w);
    if !matches!(
        w.workload,
        WorkloadKind::ListAppend | WorkloadKind::RwRegister
    ) {
        bail!(
            "db = \"postgres\" runs transactional workloads: workload = \"list-append\" or \"rw-register\", not \"{}\"",
            w.workload.as_str()
        );
    }
    let m = super::machines("postgres", table.nodes_file.as_deref(), &w.nodes)?;
    let db = Arc::new(PostgresDb::new(
        m.remotes.clone(),
        m.addresses.clone(),
        &m.work_dir,
        &table,
    ));
    let clients = Arc::new(PgClientFactory {
        endpoints: m
            .addresses
            .iter()
            .map(|(n, a)| (n.clone(), (a.clone(), table.port)))
            .collect(),
        isolation: table.isolation,
        op_timeout: w.timeout,
        lists: w.workload == WorkloadKind::ListAppend,
    });
    let ready_db = db.clone();
    let ready_nodes = w.nodes.clone();
    let nemesis = RealNemesis::new(m.remotes, m.addresses, db.clone()).with_ready_check(Arc::new(
        move || ready_db.wait_ready(&ready_nodes, Duration::from_secs(30)),
    ));
    Ok(Backend {
        clients,
        nemesis: Some(Arc::new(nemesis)),
        db: Some(db),
        keep_alive: None,
        provocation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_strict_and_names_levels() {
        let t: toml::Table = toml::from_str("isolation = \"repeatable-read\"").unwrap();
        let p: PostgresTable = crate::systems::parse_table("postgres", Some(&t)).unwrap();
        assert_eq!(p.isolation, Isolation::RepeatableRead);
        assert_eq!(p.isolation.begin(), "BEGIN ISOLATION LEVEL REPEATABLE READ");
        let bad: toml::Table = toml::from_str("isolation = \"snapshot\"").unwrap();
        let e = crate::systems::parse_table::<PostgresTable>("postgres", Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[postgres]") && e.contains("snapshot"), "{e}");
        let none: PostgresTable = crate::systems::parse_table("postgres", None).unwrap();
        assert_eq!(none.isolation, Isolation::Serializable);
    }
}
