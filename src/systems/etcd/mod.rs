//! etcd (3.4, Debian's `etcd-server`): the `[etcd]` table, the v3 JSON
//! gateway client ([`client`]) and the automation that runs it ([`db`]).
//! Its faults are the generic ones (partitions, kill, pause) of
//! [`RealNemesis`].

pub mod client;
pub mod db;

pub use client::{EtcdClient, EtcdClientFactory, EtcdClientOptions};
pub use db::{EtcdDb, EtcdOptions};

use super::Backend;
use crate::nemesis::real::RealNemesis;
use crate::workload::{Workload, WorkloadKind};
use anyhow::{anyhow, bail};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The `[etcd]` table of a workload file.
///
/// ```toml
/// [etcd]
/// serializable = false      # true: serializable (possibly stale) reads
/// request_timeout = 5.0     # seconds per HTTP request
/// nodes_file = "..."        # default: $FAULTLINE_NODES_FILE, else the local cluster's
/// client_port = 2379
/// peer_port = 2380
/// binary = "etcd"
/// ```
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EtcdTable {
    pub serializable: bool,
    pub request_timeout: f64,
    pub nodes_file: Option<std::path::PathBuf>,
    pub client_port: u16,
    pub peer_port: u16,
    pub binary: String,
}

impl Default for EtcdTable {
    fn default() -> Self {
        EtcdTable {
            serializable: false,
            request_timeout: 5.0,
            nodes_file: None,
            client_port: 2379,
            peer_port: 2380,
            binary: "etcd".into(),
        }
    }
}

impl EtcdTable {
    /// Parses the raw table (absent = defaults); errors name the field.
    pub fn from_table(t: Option<&toml::Table>) -> anyhow::Result<EtcdTable> {
        let Some(t) = t else {
            return Ok(EtcdTable::default());
        };
        let e: EtcdTable = toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e| anyhow!("[etcd]: {e}"))?;
        if !(e.request_timeout.is_finite() && e.request_timeout > 0.0 && e.request_timeout < 3600.0)
        {
            bail!("[etcd]: request_timeout must be a number of seconds > 0");
        }
        Ok(e)
    }

    /// Makes a relative `nodes_file` relative to `base` (the workload
    /// file's directory).
    pub fn resolve_relative(&mut self, base: &Path) {
        if let Some(p) = &self.nodes_file {
            if p.is_relative() {
                self.nodes_file = Some(base.join(p));
            }
        }
    }

    /// The nodes file to use: the table's, else `$FAULTLINE_NODES_FILE`,
    /// else the local cluster's default.
    pub fn nodes_file_path(&self) -> std::path::PathBuf {
        super::nodes_file_path(self.nodes_file.as_deref())
    }
}

/// Everything a run against etcd needs.
pub struct EtcdParts {
    pub clients: Arc<EtcdClientFactory>,
    pub nemesis: Arc<RealNemesis>,
    pub db: Arc<EtcdDb>,
}

/// Builds clients, nemesis and db for `nodes` (names that must all appear
/// in the nodes file). `set_reads`: the workload is a set workload, so
/// `read` reads whole sets. `op_timeout`: the runner's per-operation timeout,
/// which no request outlives.
pub fn etcd_parts(
    table: &EtcdTable,
    nodes: &[String],
    set_reads: bool,
    op_timeout: Duration,
) -> anyhow::Result<EtcdParts> {
    let m = super::machines("etcd", table.nodes_file.as_deref(), nodes)?;
    let db = Arc::new(EtcdDb::new(
        m.remotes.clone(),
        m.addresses.clone(),
        EtcdOptions {
            work_dir: m.work_dir.clone(),
            binary: table.binary.clone(),
            client_port: table.client_port,
            peer_port: table.peer_port,
            ..EtcdOptions::default()
        },
    ));
    let clients = Arc::new(EtcdClientFactory::new(
        db.client_urls(),
        EtcdClientOptions {
            serializable: table.serializable,
            request_timeout: Duration::from_secs_f64(table.request_timeout),
            op_timeout,
            set_reads,
            ..Default::default()
        },
    ));
    let ready_db = db.clone();
    let ready_nodes = nodes.to_vec();
    let nemesis = Arc::new(
        RealNemesis::new(m.remotes, m.addresses, db.clone()).with_ready_check(Arc::new(
            move || ready_db.wait_healthy(&ready_nodes, Duration::from_secs(30)),
        )),
    );
    Ok(EtcdParts {
        clients,
        nemesis,
        db,
    })
}

/// The backend for `db = "etcd"`: the nodes come from the nodes file.
pub fn backend(w: &Workload) -> anyhow::Result<Backend> {
    let mut table = EtcdTable::from_table(w.etcd.as_ref())?;
    super::resolve_nodes_file(&mut table.nodes_file, w);
    let set_reads = w.workload == WorkloadKind::Set;
    let parts = etcd_parts(&table, &w.nodes, set_reads, w.timeout)?;
    Ok(Backend {
        clients: parts.clients,
        nemesis: Some(parts.nemesis),
        db: Some(parts.db),
        keep_alive: None,
        provocation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_table_is_strict() {
        let t: toml::Table = toml::from_str("serializable = true\nrequest_timeout = 2.5").unwrap();
        let e = EtcdTable::from_table(Some(&t)).unwrap();
        assert!(e.serializable);
        assert_eq!(e.request_timeout, 2.5);
        assert_eq!(EtcdTable::from_table(None).unwrap(), EtcdTable::default());
        let bad: toml::Table = toml::from_str("serialisable = true").unwrap();
        let msg = EtcdTable::from_table(Some(&bad)).unwrap_err().to_string();
        assert!(msg.contains("serialisable"), "{msg}");
        let bad: toml::Table = toml::from_str("request_timeout = -1.0").unwrap();
        assert!(EtcdTable::from_table(Some(&bad)).is_err());
        let rel: toml::Table = toml::from_str("nodes_file = \"lab/nodes.toml\"").unwrap();
        let mut e = EtcdTable::from_table(Some(&rel)).unwrap();
        e.resolve_relative(Path::new("/w"));
        assert_eq!(e.nodes_file_path(), Path::new("/w/lab/nodes.toml"));
    }

    #[test]
    fn missing_nodes_file_explains_itself() {
        let t = EtcdTable {
            nodes_file: Some("/nonexistent/nodes.toml".into()),
            ..EtcdTable::default()
        };
        let msg = match etcd_parts(&t, &["n1".to_string()], false, Duration::from_secs(1)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a missing nodes file must be an error"),
        };
        assert!(msg.contains("cluster up"), "{msg}");
    }
}
