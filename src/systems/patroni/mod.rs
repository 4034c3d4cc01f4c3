//! PostgreSQL 15 managed by Patroni (Debian's `patroni` 3.0): one primary
//! and streaming replicas, etcd as the distributed configuration store
//! (through its v2 API by default, see [`EtcdApi`]), failover when the
//! primary loses the store.
//!
//! [`db`] deploys and controls it: an etcd member and a Patroni on every
//! node (Patroni starts and stops PostgreSQL itself). [`client`] finds the
//! node that accepts writes the way libpq's `target_session_attrs =
//! read-write` does and follows it across failovers; reads go to that
//! primary, or, with `reads = "local"`, to the worker's own node, replica or
//! not.
//!
//! The fault that matters is `isolate-primary`: the nemesis asks Patroni's
//! REST API which node is primary and cuts it off from every other node
//! (the controlling host, where the clients run, still reaches it). Its
//! etcd member is then in the minority, so its Patroni cannot renew the
//! leader key: after `ttl` the replicas elect a new leader, and the old
//! primary demotes itself once its store requests fail. With asynchronous
//! replication every write the isolated primary acknowledged meanwhile
//! reached no replica, and is gone once the old primary is rewound to
//! follow the new one. After the run the nodes are asked for their
//! timeline: PostgreSQL starts a new one at every promotion, so timeline 1
//! means no failover happened, and the run says so (verdict `unknown`, see
//! [`Provocation`]).
//!
//! `kill-primary` asks the same question and SIGKILLs that node's Patroni
//! and PostgreSQL (see [`PatroniDb`]'s `kill`); the fault's end starts
//! Patroni again and the node rejoins as a replica. The failover
//! workloads isolate first and kill the new primary second, 10 s after
//! the heal: killed sooner, the new primary can take with it WAL the
//! rewound old primary already needs, and that node never recovers by
//! itself (docs/systems.md).
//!
//! ```toml
//! [patroni]
//! replication = "async"        # or "sync": synchronous_mode + synchronous_mode_strict
//! reads = "primary"            # or "local": reads from the worker's own node
//! etcd_api = "v2"              # or "v3" (see [`EtcdApi`])
//! ttl = 8                      # Patroni's leader key TTL, seconds
//! loop_wait = 1
//! retry_timeout = 3
//! port = 5433                  # PostgreSQL (not 5432: see [`PatroniTable::port`])
//! rest_port = 8008             # Patroni's REST API
//! etcd_client_port = 2479      # the store's etcd
//! etcd_peer_port = 2480
//! bin_dir = "/usr/lib/postgresql/15/bin"
//! nodes_file = "..."           # default: $FAULTLINE_NODES_FILE, else the local cluster's
//! ```

pub mod client;
pub mod db;

pub use client::{PatroniClient, PatroniClientFactory};
pub use db::PatroniDb;

use super::{Backend, Provocation};
use crate::nemesis::real::RealNemesis;
use crate::workload::{FaultKind, Workload, WorkloadKind};
use anyhow::bail;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the primary replicates to its standbys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Replication {
    /// Streaming replication; a commit does not wait for any standby.
    Async,
    /// Patroni's `synchronous_mode` and `synchronous_mode_strict`: a commit
    /// waits for the synchronous standby, only that standby may be
    /// promoted, and with no standby commits wait.
    Sync,
}

/// Which etcd API Patroni uses for its store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EtcdApi {
    /// Patroni's `etcd` section (etcd's v2 API, which etcd 3.4 serves with
    /// `--enable-v2`): the leader key is renewed with a compare-and-swap
    /// on its value.
    V2,
    /// Patroni's `etcd3` section. In Patroni 3.0.2 a node that believes it
    /// holds the leader key (from reads that may be stale) renews it with
    /// an unconditional put, which can take the key from a newer leader;
    /// upstream made it conditional in 3.0.3.
    V3,
}

/// Where reads go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadsFrom {
    /// The node that accepts writes.
    Primary,
    /// The worker's own node, whatever its role (hot standby reads).
    Local,
}

/// The `[patroni]` table of a workload file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PatroniTable {
    pub replication: Replication,
    pub reads: ReadsFrom,
    pub etcd_api: EtcdApi,
    /// Seconds the leader key lives without renewal.
    pub ttl: u32,
    /// Seconds between Patroni's cycles.
    pub loop_wait: u32,
    /// Seconds Patroni retries the store before giving up on it.
    pub retry_timeout: u32,
    /// PostgreSQL's port. Not `db = "postgres"`'s 5432 by default: a run
    /// leaves its system running until the next setup of the same system
    /// (or `cluster down`), so those servers may still hold 5432.
    pub port: u16,
    pub rest_port: u16,
    pub etcd_client_port: u16,
    pub etcd_peer_port: u16,
    /// Where PostgreSQL's binaries are on the nodes.
    pub bin_dir: String,
    pub nodes_file: Option<PathBuf>,
}

impl Default for PatroniTable {
    fn default() -> Self {
        PatroniTable {
            replication: Replication::Async,
            reads: ReadsFrom::Primary,
            etcd_api: EtcdApi::V2,
            ttl: 8,
            loop_wait: 1,
            retry_timeout: 3,
            port: 5433,
            rest_port: 8008,
            etcd_client_port: 2479,
            etcd_peer_port: 2480,
            bin_dir: "/usr/lib/postgresql/15/bin".into(),
            nodes_file: None,
        }
    }
}

impl PatroniTable {
    /// Patroni's own rule: a primary that cannot reach the store must give
    /// up (after `loop_wait` and two store timeouts) before its leader key
    /// expires, or two primaries would hold it in turn.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.loop_wait == 0 || self.retry_timeout == 0 {
            bail!("[patroni]: loop_wait and retry_timeout must be at least 1 second");
        }
        if self.loop_wait + 2 * self.retry_timeout > self.ttl {
            bail!(
                "[patroni]: loop_wait + 2 * retry_timeout ({}) must not exceed ttl ({})",
                self.loop_wait + 2 * self.retry_timeout,
                self.ttl
            );
        }
        Ok(())
    }

    /// How long setup and healing wait for the cluster to settle: a
    /// bootstrap, base backups and, after a partition, a rewind.
    pub fn settle_timeout(&self) -> Duration {
        Duration::from_secs(90 + 6 * u64::from(self.ttl))
    }
}

/// Did Patroni fail over during the run? Asked of the nodes after the run:
/// every promotion starts a new PostgreSQL timeline, so a failover that
/// completed after a heal counts too, and one that moved the primary back
/// cannot hide. (How many failovers it does not tell: two nodes promoted
/// from timeline 1 both reach timeline 2.)
struct FailoverSeen {
    db: Arc<PatroniDb>,
    nemesis: RealNemesis,
}

impl Provocation for FailoverSeen {
    fn observed(&self) -> Result<String, String> {
        let isolations = self.nemesis.primary_isolations();
        let kills = self.nemesis.primary_kills();
        let timeline = self
            .db
            .max_timeline()
            .map_err(|e| format!("cannot tell whether a failover happened: {e:#}"))?;
        if timeline <= 1 {
            return Err(if isolations + kills == 0 {
                "the primary was never isolated nor killed, and no failover happened".into()
            } else {
                format!(
                    "the primary was isolated {isolations} time(s) and killed {kills} time(s) but Patroni never failed over (still timeline 1)"
                )
            });
        }
        // Two nodes promoted from the same timeline both reach the next
        // one, so the timeline proves a failover, not how many.
        Ok(format!(
            "Patroni failed over (a node reached timeline {timeline}) in a run that isolated the primary {isolations} time(s) and killed it {kills} time(s)"
        ))
    }
}

/// The backend for `db = "patroni"`.
pub fn backend(w: &Workload) -> anyhow::Result<Backend> {
    let mut table: PatroniTable = super::parse_table("patroni", w.patroni.as_ref())?;
    super::resolve_nodes_file(&mut table.nodes_file, w);
    table.validate()?;
    if !matches!(w.workload, WorkloadKind::Set | WorkloadKind::Register) {
        bail!(
            "db = \"patroni\" runs set and register workloads, not \"{}\"",
            w.workload.as_str()
        );
    }
    let m = super::machines("patroni", table.nodes_file.as_deref(), &w.nodes)?;
    let db = Arc::new(PatroniDb::new(
        m.remotes.clone(),
        m.addresses.clone(),
        &m.work_dir,
        &table,
    ));
    let clients = Arc::new(PatroniClientFactory {
        endpoints: m
            .addresses
            .iter()
            .map(|(n, a)| (n.clone(), (a.clone(), table.port)))
            .collect(),
        workload: w.workload,
        op_timeout: w.timeout,
        reads: table.reads,
    });
    let (ready_db, lookup_db) = (db.clone(), db.clone());
    let settle = table.settle_timeout();
    let nemesis = RealNemesis::new(m.remotes, m.addresses, db.clone())
        .with_ready_check(Arc::new(move || ready_db.wait_converged(settle)))
        .with_primary(Arc::new(move || lookup_db.primary()));
    let needs_failover = w.nemesis.as_ref().is_some_and(|n| {
        n.faults
            .iter()
            .any(|f| matches!(f, FaultKind::IsolatePrimary | FaultKind::KillPrimary))
    });
    Ok(Backend {
        clients,
        provocation: if needs_failover {
            Some(Arc::new(FailoverSeen {
                db: db.clone(),
                nemesis: nemesis.clone(),
            }))
        } else {
            None
        },
        nemesis: Some(Arc::new(nemesis)),
        db: Some(db),
        keep_alive: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_strict_and_checks_timeouts() {
        let t: toml::Table =
            toml::from_str("replication = \"sync\"\nreads = \"local\"\netcd_api = \"v3\"").unwrap();
        let p: PatroniTable = crate::systems::parse_table("patroni", Some(&t)).unwrap();
        assert_eq!(p.replication, Replication::Sync);
        assert_eq!(p.reads, ReadsFrom::Local);
        assert_eq!(p.etcd_api, EtcdApi::V3);
        assert_eq!(PatroniTable::default().etcd_api, EtcdApi::V2);
        assert_eq!(p.ttl, 8);
        p.validate().unwrap();
        let bad: toml::Table = toml::from_str("replication = \"semi-sync\"").unwrap();
        let e = crate::systems::parse_table::<PatroniTable>("patroni", Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[patroni]") && e.contains("semi-sync"), "{e}");
        let unknown: toml::Table = toml::from_str("tll = 5").unwrap();
        assert!(crate::systems::parse_table::<PatroniTable>("patroni", Some(&unknown)).is_err());
        let tight = PatroniTable {
            ttl: 6,
            loop_wait: 1,
            retry_timeout: 3,
            ..PatroniTable::default()
        };
        let e = tight.validate().unwrap_err().to_string();
        assert!(e.contains("ttl (6)"), "{e}");
    }
}

#[cfg(test)]
mod kill_primary_tests {
    use crate::generator::nemesis::FaultSchedule;
    use crate::nemesis::Fault;
    use crate::workload::{load, parse, FaultKind};
    use std::path::Path;

    const BASE: &str = "db = \"patroni\"\nnodes = 3\nworkload = \"set\"\n[mix]\nadd = 1\n";

    #[test]
    fn kill_primary_is_parsed_at_load() {
        let w = parse(
            &format!("{BASE}[nemesis]\nfaults = [\"isolate-primary\", \"kill-primary\"]\n"),
            "x.toml",
            "x",
        )
        .unwrap();
        let faults = w.nemesis.map(|n| n.faults);
        assert_eq!(
            faults,
            Some(vec![FaultKind::IsolatePrimary, FaultKind::KillPrimary])
        );
        assert_eq!(FaultKind::KillPrimary.as_str(), "kill-primary");
        let e = parse(
            &format!("{BASE}[nemesis]\nfaults = [\"kill-primry\"]\n"),
            "x.toml",
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("faults") && e.contains("kill-primry"), "{e}");
        // A one-node cluster has no replica to fail over to.
        let one = format!("{BASE}[nemesis]\nfaults = [\"kill-primary\"]\n")
            .replace("nodes = 3", "nodes = 1");
        let e = parse(&one, "x.toml", "x").unwrap_err().to_string();
        assert!(
            e.contains("kill-primary") && e.contains("at least 2"),
            "{e}"
        );
    }

    /// The failover workloads rely on their seed to isolate the primary
    /// first (the lost writes) and kill the new primary second.
    #[test]
    fn failover_workloads_isolate_then_kill() {
        for file in ["pg-failover-async.toml", "pg-failover-sync.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("workloads")
                .join(file);
            let w = load(&path).unwrap();
            let spec = w.nemesis.as_ref().unwrap();
            let mut s = FaultSchedule::new(spec, &w.nodes, &w.regions, w.seed);
            let (k1, f1, u1) = s.next_fault().unwrap();
            assert_eq!(
                (k1, f1, u1),
                (
                    FaultKind::IsolatePrimary,
                    Fault::IsolatePrimary,
                    Fault::Heal
                ),
                "{file}"
            );
            let (k2, f2, u2) = s.next_fault().unwrap();
            assert_eq!(
                (k2, f2),
                (FaultKind::KillPrimary, Fault::KillPrimary),
                "{file}"
            );
            assert_eq!(u2, Fault::Restart(w.nodes.clone()), "{file}");
            // Both faults end before the run does.
            let second_ends = 2 * (s.interval + s.duration);
            assert!(
                second_ends <= w.duration,
                "{file}: {second_ends:?} > {:?}",
                w.duration
            );
        }
    }
}
