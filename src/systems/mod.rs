//! The systems under test, one folder each.
//!
//! Each folder owns everything about its system: the workload file's table
//! (`[etcd]`, `[postgres]`, `[redis]`...), the client, the automation that
//! installs its configuration and starts, stops, kills, pauses and wipes it
//! (a [`Db`]), and any fault of its own. [`backend_for`] is the one table
//! from a workload's `db` to the system's `backend` function: adding a
//! system is a new folder and one line there.
//!
//! The runner knows systems only through [`Backend`] (and, for the
//! simulator, [`virtual_time`], [`runtime_for`] and [`self_report`]): the
//! generic traits ([`ClientFactory`], [`Db`], [`Nemesis`]) live in
//! `client`, `db` and `nemesis`, which import nothing from here.

pub mod daemon;
pub mod etcd;
pub mod patroni;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod sim;

use crate::client::ClientFactory;
use crate::control::Remote;
use crate::db::Db;
use crate::nemesis::Nemesis;
use crate::workload::{DbKind, Workload};
use anyhow::{anyhow, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
    /// Whether the run provoked the fault its verdict depends on (see
    /// [`Provocation`]); `None` when the workload needs nothing particular.
    pub provocation: Option<Arc<dyn Provocation>>,
}

/// Whether a run did what its workload exists for (a failover happened,
/// say). A run that did not cannot say "valid": the runner turns an `Err`
/// into an `unknown` result that names the reason.
pub trait Provocation: Send + Sync {
    /// After the run (blocking; it may ask the system over SSH):
    /// `Ok(what happened)` or `Err(why the run proves nothing)`.
    fn observed(&self) -> Result<String, String>;
}

/// Builds the backend for `w.db`: the one registration point. Must be
/// called inside a tokio runtime (the simulated store spawns its nodes).
pub fn backend_for(w: &Workload) -> anyhow::Result<Backend> {
    match w.db {
        DbKind::Sim => sim::backend(w),
        DbKind::Process => process::backend(w),
        DbKind::Etcd => etcd::backend(w),
        DbKind::Postgres => postgres::backend(w),
        DbKind::Patroni => patroni::backend(w),
        DbKind::Redis => redis::backend(w),
    }
}

/// Whether runs of `db` are simulated in virtual time (deterministic: the
/// same workload and seed give the same history) rather than real time.
pub fn virtual_time(db: DbKind) -> bool {
    matches!(db, DbKind::Sim)
}

/// The runtime a run of `db` needs: the simulator's virtual-time runtime
/// ([`sim::runtime`]), else a multi-threaded one on real time.
pub fn runtime_for(db: DbKind) -> anyhow::Result<tokio::runtime::Runtime> {
    if virtual_time(db) {
        return sim::runtime();
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the tokio runtime: {e}"))
}

/// What a simulated system saw of itself during the run (its invariants,
/// the messages its network lost); `None` for real systems.
pub fn self_report(backend: &Backend) -> Option<sim::SelfReport> {
    sim::self_report(backend)
}

/// The nodes file to use: `explicit` (a system table's `nodes_file`), else
/// `$FAULTLINE_NODES_FILE`, else the local cluster's default.
pub fn nodes_file_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match std::env::var_os("FAULTLINE_NODES_FILE") {
        Some(p) if !p.is_empty() => p.into(),
        _ => crate::cluster::default_nodes_file(),
    }
}

/// Makes a relative `nodes_file` relative to the workload file's directory.
pub fn resolve_nodes_file(p: &mut Option<PathBuf>, w: &Workload) {
    if let (Some(file), Some(dir)) = (p.as_ref(), w.path.as_ref().and_then(|p| p.parent())) {
        if file.is_relative() {
            *p = Some(dir.join(file));
        }
    }
}

/// The machines of a run, from the nodes file: how to reach each node the
/// workload names, its address, and where databases keep files there.
pub struct Machines {
    pub remotes: BTreeMap<String, Arc<dyn Remote>>,
    pub addresses: BTreeMap<String, String>,
    pub work_dir: String,
}

/// Loads the nodes file for `system` (`db = "system"` in messages) and keeps
/// the nodes the workload names; every one of them must be in the file.
pub fn machines(
    system: &str,
    explicit: Option<&Path>,
    nodes: &[String],
) -> anyhow::Result<Machines> {
    let path = nodes_file_path(explicit);
    let file = crate::cluster::load_nodes(&path).map_err(|e| {
        anyhow!(
            "{e}\n(db = \"{system}\" runs against the nodes in {}: start a local cluster with \
             `faultline cluster up --nodes {}` as root, or point [{system}] nodes_file / \
             $FAULTLINE_NODES_FILE at a nodes file for your machines)",
            path.display(),
            nodes.len()
        )
    })?;
    for n in nodes {
        if file.node(n).is_none() {
            bail!(
                "the workload names node {n}, which is not in {} (it has {})",
                path.display(),
                file.names().join(", ")
            );
        }
    }
    let all_remotes = file.remotes();
    let all_addresses = file.addresses();
    Ok(Machines {
        remotes: nodes
            .iter()
            .filter_map(|n| all_remotes.get(n).map(|r| (n.clone(), r.clone())))
            .collect(),
        addresses: nodes
            .iter()
            .filter_map(|n| all_addresses.get(n).map(|a| (n.clone(), a.clone())))
            .collect(),
        work_dir: file.work_dir.clone(),
    })
}

/// Parses a system's raw TOML table (absent = defaults) into `T`; errors
/// name the table and the field.
pub fn parse_table<T: serde::de::DeserializeOwned + Default>(
    name: &str,
    t: Option<&toml::Table>,
) -> anyhow::Result<T> {
    match t {
        None => Ok(T::default()),
        Some(t) => toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e| anyhow!("[{name}]: {e}")),
    }
}

/// Runs `f` on every node in parallel (one thread each) and gathers every
/// node's error into one, so a setup step that fails on two nodes says so
/// for both.
pub fn on_all_nodes(
    nodes: &[String],
    f: impl Fn(&str) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    let errs: Vec<String> = crate::control::on_all(nodes, |n| f(n))
        .into_iter()
        .filter_map(|r| r.err().map(|e| format!("{e:#}")))
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(errs.join("\n"))
    }
}
