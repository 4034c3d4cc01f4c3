//! Redis with Sentinel failover (Debian's `redis-server` and
//! `redis-sentinel`): one primary, replicas, a sentinel on every node.
//!
//! [`db`] deploys and controls it; [`client`] talks to each node's server
//! natively. Its own fault is `isolate-primary`: the nemesis asks the
//! sentinels who the primary is and cuts that node off from every other
//! node (the controlling host, and so the clients, still reach it). After
//! the run the sentinels are asked whether they failed over (their
//! configuration epoch); a run in which they did not cannot show what the
//! workload is for, and says so (verdict `unknown`, see [`Provocation`]).
//!
//! ```toml
//! [redis]
//! port = 6379
//! sentinel_port = 26379
//! master_name = "faultline"
//! down_after_ms = 1000          # sentinel down-after-milliseconds
//! failover_timeout_ms = 3000    # sentinel failover-timeout
//! nodes_file = "..."            # default: $FAULTLINE_NODES_FILE, else the local cluster's
//! ```

pub mod client;
pub mod db;

pub use client::{RedisClient, RedisClientFactory};
pub use db::RedisDb;

use super::{Backend, Provocation};
use crate::nemesis::real::RealNemesis;
use crate::workload::{FaultKind, Workload, WorkloadKind};
use anyhow::bail;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The `[redis]` table of a workload file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisTable {
    pub port: u16,
    pub sentinel_port: u16,
    pub master_name: String,
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
    pub nodes_file: Option<PathBuf>,
}

impl Default for RedisTable {
    fn default() -> Self {
        RedisTable {
            port: 6379,
            sentinel_port: 26379,
            master_name: "faultline".into(),
            down_after_ms: 1000,
            failover_timeout_ms: 3000,
            nodes_file: None,
        }
    }
}

impl RedisTable {
    /// How long setup and healing wait for the deployment to settle.
    pub fn setup_timeout(&self) -> Duration {
        Duration::from_millis(30_000 + 4 * self.failover_timeout_ms)
    }
}

/// Did the sentinels fail over during the run? Asked of the sentinels
/// after the run (their configuration epoch counts failovers), so a
/// failover that completed after a heal counts too.
struct FailoverSeen {
    db: Arc<RedisDb>,
    nemesis: RealNemesis,
}

impl Provocation for FailoverSeen {
    fn observed(&self) -> Result<String, String> {
        let isolations = self.nemesis.primary_isolations();
        let epoch = self
            .db
            .failover_epoch()
            .map_err(|e| format!("cannot tell whether a failover happened: {e:#}"))?;
        if epoch == 0 {
            return Err(if isolations == 0 {
                "the primary was never isolated, and no failover happened".into()
            } else {
                format!(
                    "the primary was isolated {isolations} time(s) but the sentinels never failed over (configuration epoch still 0)"
                )
            });
        }
        Ok(format!(
            "the sentinels failed over (configuration epoch {epoch}) in a run that isolated the primary {isolations} time(s)"
        ))
    }
}

/// The backend for `db = "redis"`.
pub fn backend(w: &Workload) -> anyhow::Result<Backend> {
    let mut table: RedisTable = super::parse_table("redis", w.redis.as_ref())?;
    super::resolve_nodes_file(&mut table.nodes_file, w);
    if w.workload == WorkloadKind::RwRegister {
        bail!("db = \"redis\" runs register, set and list-append workloads, not rw-register");
    }
    let m = super::machines("redis", table.nodes_file.as_deref(), &w.nodes)?;
    let db = Arc::new(RedisDb::new(
        m.remotes.clone(),
        m.addresses.clone(),
        &m.work_dir,
        &table,
    ));
    let clients = Arc::new(RedisClientFactory {
        urls: m
            .addresses
            .iter()
            .map(|(n, a)| (n.clone(), format!("redis://{a}:{}/", table.port)))
            .collect(),
        workload: w.workload,
        op_timeout: w.timeout,
        key_prefix: "faultline:".into(),
    });
    let (ready_db, lookup_db) = (db.clone(), db.clone());
    let settle = table.setup_timeout();
    let nemesis = RealNemesis::new(m.remotes, m.addresses, db.clone())
        .with_ready_check(Arc::new(move || ready_db.wait_converged(settle)))
        .with_primary(Arc::new(move || lookup_db.sentinel_primary()));
    let needs_failover = w
        .nemesis
        .as_ref()
        .is_some_and(|n| n.faults.contains(&FaultKind::IsolatePrimary));
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
    fn table_is_strict() {
        let t: toml::Table = toml::from_str("down_after_ms = 500").unwrap();
        let r: RedisTable = crate::systems::parse_table("redis", Some(&t)).unwrap();
        assert_eq!(r.down_after_ms, 500);
        assert_eq!(r.port, 6379);
        let bad: toml::Table = toml::from_str("down_after = 5").unwrap();
        let e = crate::systems::parse_table::<RedisTable>("redis", Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[redis]") && e.contains("down_after"), "{e}");
    }
}
