//! Running Redis with Sentinel: on every node a `redis-server` and a
//! `redis-sentinel`, each a [`Daemon`] in `<work_dir>/<node>/redis/`. The
//! first node starts as the primary, the others as its replicas; every
//! sentinel monitors the primary under the name in `[redis] master_name`
//! with a quorum of a majority of the nodes.
//!
//! Faults act on `redis-server` only (kill, pause); the sentinels stay up,
//! so after a partition they are the ones that decide who is primary.
//! Configuration files are written at setup and then belong to Redis:
//! Sentinel rewrites them as it reconfigures replicas, and a restarted
//! server comes back as whatever its file last said.

use super::RedisTable;
use crate::control::{on_all, shell_quote, Remote};
use crate::db::Db;
use crate::systems::daemon::{script, Daemon};
use anyhow::{anyhow, bail, Context};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MISSING_SERVER: &str = "redis-server is not installed: apt-get install -y redis-server";
const MISSING_SENTINEL: &str = "redis-sentinel is not installed: apt-get install -y redis-sentinel";

/// Redis and its sentinels on a set of nodes.
pub struct RedisDb {
    remotes: BTreeMap<String, Arc<dyn Remote>>,
    addresses: BTreeMap<String, String>,
    work_dir: String,
    t: RedisTable,
    /// The nodes of the deployment, fixed by `setup`.
    members: Mutex<Vec<String>>,
}

/// `field:value` lines of `INFO` (or a sentinel's `key\nvalue` pairs
/// joined the same way) as a map.
pub fn info_fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A number from `redis-cli`'s rendering of a flat key/value reply (one
/// line the key, the next its value).
pub fn pair_field(text: &str, key: &str) -> Option<u64> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .position(|l| l.trim() == key)
        .and_then(|i| lines.get(i + 1))
        .and_then(|v| v.trim().parse().ok())
}

impl RedisDb {
    pub fn new(
        remotes: BTreeMap<String, Arc<dyn Remote>>,
        addresses: BTreeMap<String, String>,
        work_dir: &str,
        t: &RedisTable,
    ) -> RedisDb {
        let members = addresses.keys().cloned().collect();
        RedisDb {
            remotes,
            addresses,
            work_dir: work_dir.trim_end_matches('/').to_string(),
            t: t.clone(),
            members: Mutex::new(members),
        }
    }

    fn members(&self) -> Vec<String> {
        match self.members.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// `<work_dir>/<node>/redis` on that node.
    pub fn node_dir(&self, node: &str) -> String {
        format!("{}/{}/redis", self.work_dir, node)
    }

    fn server(&self, node: &str) -> Daemon {
        Daemon::new(self.node_dir(node), "redis", None)
    }

    fn sentinel(&self, node: &str) -> Daemon {
        Daemon::new(self.node_dir(node), "sentinel", None)
    }

    fn remote(&self, node: &str) -> anyhow::Result<&dyn Remote> {
        crate::systems::daemon::node_remote(&self.remotes, node).map(|r| r.as_ref())
    }

    fn address(&self, node: &str) -> anyhow::Result<&str> {
        crate::systems::daemon::node_address(&self.addresses, node)
    }

    /// The node with this address, if any.
    pub fn node_of(&self, address: &str) -> Option<String> {
        self.addresses
            .iter()
            .find(|(_, a)| a.as_str() == address)
            .map(|(n, _)| n.clone())
    }

    /// Runs `redis-cli` on `node` against that node's server (or sentinel).
    fn cli(&self, node: &str, sentinel: bool, args: &str) -> anyhow::Result<String> {
        let port = if sentinel {
            self.t.sentinel_port
        } else {
            self.t.port
        };
        let s = format!(
            "timeout 5 redis-cli -h {} -p {port} {args}",
            shell_quote(self.address(node)?)
        );
        script(self.remote(node)?, "redis-cli", &s)
    }

    fn write_configs(&self, node: &str, primary: &str) -> anyhow::Result<()> {
        let dir = self.node_dir(node);
        let addr = self.address(node)?;
        let paddr = self.address(primary)?;
        let t = &self.t;
        let mut server = format!(
            "bind {addr}\nport {}\nprotected-mode no\ndaemonize no\ndir {dir}\nsave \"\"\nappendonly no\n",
            t.port
        );
        if node != primary {
            server.push_str(&format!("replicaof {paddr} {}\n", t.port));
        }
        let quorum = self.members().len() / 2 + 1;
        let sentinel = format!(
            "bind {addr}\nport {sp}\nprotected-mode no\ndaemonize no\ndir {dir}\n\
             sentinel monitor {m} {paddr} {p} {quorum}\n\
             sentinel down-after-milliseconds {m} {down}\n\
             sentinel failover-timeout {m} {fo}\n\
             sentinel parallel-syncs {m} 1\n",
            sp = t.sentinel_port,
            m = t.master_name,
            p = t.port,
            down = t.down_after_ms,
            fo = t.failover_timeout_ms,
        );
        let s = format!(
            "set -e\nmkdir -p {d}\nprintf '%s' {server} >{d}/redis.conf\nprintf '%s' {sentinel} >{d}/sentinel.conf\n",
            d = shell_quote(&dir),
            server = shell_quote(&server),
            sentinel = shell_quote(&sentinel),
        );
        script(self.remote(node)?, "writing Redis configuration", &s)?;
        Ok(())
    }

    fn start_server(&self, node: &str) -> anyhow::Result<()> {
        let conf = format!("{}/redis.conf", self.node_dir(node));
        self.server(node).start(
            self.remote(node)?,
            &["redis-server".into(), conf],
            MISSING_SERVER,
        )
    }

    fn start_sentinel(&self, node: &str) -> anyhow::Result<()> {
        let conf = format!("{}/sentinel.conf", self.node_dir(node));
        self.sentinel(node).start(
            self.remote(node)?,
            &["redis-sentinel".into(), conf],
            MISSING_SENTINEL,
        )
    }

    /// `INFO replication` of the server on `node`.
    pub fn replication(&self, node: &str) -> anyhow::Result<BTreeMap<String, String>> {
        Ok(info_fields(&self.cli(node, false, "info replication")?))
    }

    /// Who each reachable sentinel says the primary is: the node a majority
    /// of all sentinels name (asked on every node at once).
    pub fn sentinel_primary(&self) -> anyhow::Result<String> {
        let members = self.members();
        let args = format!("sentinel get-master-addr-by-name {}", self.t.master_name);
        let answers = on_all(&members, |n| self.cli(n, true, &args));
        let mut votes: BTreeMap<String, usize> = BTreeMap::new();
        let mut errs = Vec::new();
        for (n, a) in members.iter().zip(answers) {
            match a {
                Ok(out) => {
                    let addr = out.lines().next().unwrap_or("").trim().to_string();
                    match self.node_of(&addr) {
                        Some(p) => *votes.entry(p).or_default() += 1,
                        None => errs.push(format!("{n}: sentinel names `{addr}`")),
                    }
                }
                Err(e) => errs.push(format!("{e:#}")),
            }
        }
        let need = members.len() / 2 + 1;
        match votes.into_iter().find(|(_, v)| *v >= need) {
            Some((p, _)) => Ok(p),
            None => bail!(
                "no primary named by a majority of the sentinels{}",
                if errs.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", errs.join("; "))
                }
            ),
        }
    }

    /// The highest configuration epoch any sentinel reports for the
    /// monitored primary: 0 until the first failover, one more for each
    /// failover since (Sentinel's own count, which a primary that moved
    /// and moved back cannot hide).
    pub fn failover_epoch(&self) -> anyhow::Result<u64> {
        let members = self.members();
        let args = format!("sentinel master {}", self.t.master_name);
        let answers = on_all(&members, |n| self.cli(n, true, &args));
        let mut best: Option<u64> = None;
        let mut errs = Vec::new();
        for (n, a) in members.iter().zip(answers) {
            match a.map(|out| pair_field(&out, "config-epoch")) {
                Ok(Some(e)) => best = Some(best.map_or(e, |b| b.max(e))),
                Ok(None) => errs.push(format!("{n}: no config-epoch in SENTINEL MASTER")),
                Err(e) => errs.push(format!("{e:#}")),
            }
        }
        best.ok_or_else(|| anyhow!("no sentinel answered: {}", errs.join("; ")))
    }

    /// Waits until one node is primary with every other node a replica of
    /// it whose link is up, and a majority of sentinels name that node.
    pub fn wait_converged(&self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let members = self.members();
        loop {
            let why = match self.converged(&members) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if start.elapsed() >= timeout {
                bail!(
                    "Redis did not settle on one primary with replicas after {timeout:?}: {why:#}"
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn converged(&self, members: &[String]) -> anyhow::Result<()> {
        let primary = self.sentinel_primary()?;
        let paddr = self.address(&primary)?.to_string();
        let p = self.replication(&primary)?;
        if p.get("role").map(String::as_str) != Some("master") {
            bail!("{primary}, the sentinels' primary, is not a master yet");
        }
        for n in members.iter().filter(|n| **n != primary) {
            let r = self.replication(n)?;
            let ok = r.get("role").map(String::as_str) == Some("slave")
                && r.get("master_host") == Some(&paddr)
                && r.get("master_link_status").map(String::as_str) == Some("up");
            if !ok {
                bail!("{n} is not yet a connected replica of {primary}");
            }
        }
        Ok(())
    }

    /// Waits until every sentinel sees every other sentinel and every
    /// replica (a failover needs them to know each other).
    fn wait_sentinels(&self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let members = self.members();
        let want = members.len() - 1;
        loop {
            let mut lagging = Vec::new();
            for n in &members {
                let args = format!("sentinel master {}", self.t.master_name);
                let out = self.cli(n, true, &args).unwrap_or_default();
                let field = |k: &str| pair_field(&out, k).unwrap_or(0) as usize;
                if field("num-other-sentinels") < want || field("num-slaves") < want {
                    lagging.push(n.clone());
                }
            }
            if lagging.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                bail!(
                    "sentinels on {} do not see every sentinel and replica after {timeout:?}",
                    lagging.join(", ")
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Db for RedisDb {
    fn setup(&self, nodes: &[String]) -> anyhow::Result<()> {
        let Some(primary) = nodes.first() else {
            bail!("Redis Sentinel needs at least one node");
        };
        match self.members.lock() {
            Ok(mut m) => *m = nodes.to_vec(),
            Err(p) => *p.into_inner() = nodes.to_vec(),
        }
        self.teardown(nodes)?;
        crate::systems::on_all_nodes(nodes, |n| {
            self.write_configs(n, primary)?;
            self.start_server(n)
        })
        .context("starting redis-server")?;
        crate::systems::on_all_nodes(nodes, |n| self.start_sentinel(n))
            .context("starting redis-sentinel")?;
        self.wait_converged(self.t.setup_timeout())?;
        self.wait_sentinels(self.t.setup_timeout())
    }

    fn teardown(&self, nodes: &[String]) -> anyhow::Result<()> {
        crate::systems::on_all_nodes(nodes, |n| {
            let r = self.remote(n)?;
            self.sentinel(n).kill(r)?;
            self.server(n).kill(r)?;
            script(
                r,
                "wiping Redis data",
                &format!("rm -rf {}", shell_quote(&self.node_dir(n))),
            )?;
            Ok(())
        })
    }

    fn start(&self, node: &str) -> anyhow::Result<()> {
        self.start_server(node)?;
        // A sentinel killed with the node's processes comes back too.
        self.start_sentinel(node)
    }

    fn kill(&self, node: &str) -> anyhow::Result<()> {
        self.server(node).kill(self.remote(node)?)
    }

    fn pause(&self, node: &str) -> anyhow::Result<()> {
        self.server(node).signal(self.remote(node)?, "STOP")
    }

    fn resume(&self, node: &str) -> anyhow::Result<()> {
        self.server(node).signal(self.remote(node)?, "CONT")
    }

    fn collect_logs(&self, nodes: &[String], dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut errs = Vec::new();
        for n in nodes {
            for d in [self.server(n), self.sentinel(n)] {
                let local = dir.join(format!("{n}-{}.log", d.name));
                let r = self
                    .remote(n)
                    .and_then(|r| Ok(r.download(&d.log_file(), &local)?));
                if let Err(e) = r {
                    errs.push(format!("{n}: {e:#}"));
                }
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            bail!("collecting Redis logs: {}", errs.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_lines_become_fields() {
        let f = info_fields(
            "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_link_status:up\r\n",
        );
        assert_eq!(f.get("role").map(String::as_str), Some("slave"));
        assert_eq!(f.get("master_host").map(String::as_str), Some("10.0.0.1"));
        assert_eq!(f.get("master_link_status").map(String::as_str), Some("up"));
        assert!(!f.contains_key("# Replication"));
        let pairs = "name\nfaultline\nconfig-epoch\n2\nnum-slaves\n2\n";
        assert_eq!(pair_field(pairs, "config-epoch"), Some(2));
        assert_eq!(pair_field(pairs, "num-slaves"), Some(2));
        assert_eq!(pair_field(pairs, "name"), None);
        assert_eq!(pair_field(pairs, "absent"), None);
    }
}
