//! Choosing what a run talks to: clients, nemesis and db, by `db`.
//!
//! [`backend_for`] is the one place that maps a workload's `db` to a
//! [`Backend`]: the simulated store, the process protocol, and etcd (the
//! parts come from [`crate::db::etcd::etcd_parts`]); other real databases
//! (redis, postgres) plug in by adding their arm.

use crate::client::process::ProcessClientFactory;
use crate::client::ClientFactory;
use crate::db::Db;
use crate::nemesis::Nemesis;
use crate::workload::{DbKind, Workload};
use std::sync::Arc;

/// What a run needs from the system under test.
pub struct Backend {
    pub clients: Arc<dyn ClientFactory>,
    /// `None` when the backend cannot inject faults.
    pub nemesis: Option<Arc<dyn Nemesis>>,
    /// Set up before the run, logs collected after it.
    pub db: Option<Arc<dyn Db>>,
    /// Resources that must live as long as the run (the simulated cluster).
    pub keep_alive: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// Builds the backend for `w.db`. Must be called inside a tokio runtime
/// (the simulated store spawns its nodes).
pub fn backend_for(w: &Workload) -> anyhow::Result<Backend> {
    match w.db {
        DbKind::Sim => {
            let cluster = crate::sim::SimCluster::start(w);
            Ok(Backend {
                clients: Arc::new(cluster.client_factory(w.workload)),
                nemesis: Some(Arc::new(cluster.nemesis())),
                db: None,
                keep_alive: Some(Box::new(cluster)),
            })
        }
        DbKind::Process => {
            let Some(p) = &w.process else {
                anyhow::bail!("db = \"process\" needs a [process] table with a `command`");
            };
            let base = w
                .path
                .as_ref()
                .and_then(|p| p.parent())
                .map(|d| d.to_path_buf());
            let mut env = p.env.clone();
            env.insert(
                "FAULTLINE_WORKLOAD".to_string(),
                w.workload.as_str().to_string(),
            );
            Ok(Backend {
                clients: Arc::new(ProcessClientFactory::new(p.command.clone(), env, base)),
                nemesis: None,
                db: None,
                keep_alive: None,
            })
        }
        DbKind::Etcd => {
            // The nodes come from the nodes file (see crate::db::etcd::EtcdTable).
            let mut table = crate::db::etcd::EtcdTable::from_table(w.etcd.as_ref())?;
            if let Some(dir) = w.path.as_ref().and_then(|p| p.parent()) {
                table.resolve_relative(dir);
            }
            let set_reads = w.workload == crate::workload::WorkloadKind::Set;
            let parts = crate::db::etcd::etcd_parts(&table, &w.nodes, set_reads)?;
            Ok(Backend {
                clients: parts.clients,
                nemesis: Some(parts.nemesis),
                db: Some(parts.db),
                keep_alive: None,
            })
        }
        DbKind::Redis | DbKind::Postgres => anyhow::bail!(
            "db = \"{}\" is not available in this build (use db = \"sim\", or db = \"process\" with a client command)",
            w.db.as_str()
        ),
    }
}
