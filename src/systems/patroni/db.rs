//! Running Patroni on the nodes: an etcd member (the store) and a Patroni
//! in `<work_dir>/<node>/patroni/` on every node.
//!
//! The store is an [`EtcdDb`] of its own under `<work_dir>/patroni-dcs/`,
//! on ports of its own, so it never meets a `db = "etcd"` deployment.
//! Patroni runs as the `postgres` user, started by faultline as a
//! [`Daemon`]; it bootstraps PostgreSQL (`initdb` on whichever node wins the
//! race, `pg_basebackup` on the others), starts and stops it, and rewinds a
//! deposed primary (`pg_rewind`, or a fresh base backup when that fails).
//!
//! PostgreSQL's postmaster puts itself in a session of its own, and each of
//! its children in a process group of its own, so signalling Patroni's
//! process group does not reach them. Kill and pause therefore act on three
//! things, each found by pid: Patroni's process group (its pid file), the
//! postmaster (the first line of `data/postmaster.pid`, when its command
//! line names this data directory) and the postmaster's children.
//!
//! A primary cut off from its standbys cannot finish a shutdown until its
//! WAL senders give up on them, so `wal_sender_timeout` is short (5 s):
//! Patroni's demotion of an isolated primary then completes within
//! seconds rather than after the default minute.
//!
//! The configuration is written as JSON (which YAML reads as it is), so no
//! value needs YAML quoting. Authentication is `trust`: these are throwaway
//! clusters on private addresses.
//!
//! Patroni's REST API answers the questions faultline asks: who is primary
//! (`GET /primary` answers 200 only there), whether the cluster has settled
//! (`GET /cluster`) and which timeline each node is on (`GET /patroni`).
//! They are asked from the controlling host, which reaches every node.

use super::{EtcdApi, PatroniTable, Replication};
use crate::control::{on_all, shell_quote, Remote};
use crate::db::Db;
use crate::systems::daemon::{script, Daemon};
use crate::systems::etcd::{EtcdDb, EtcdOptions};
use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MISSING_PATRONI: &str = "patroni is not installed: apt-get install -y patroni";

/// The tables the client uses: keys and values are JSON texts; a set is
/// one row per element.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS elems (k text NOT NULL, v text NOT NULL);\n\
                          CREATE INDEX IF NOT EXISTS elems_k ON elems (k);\n\
                          CREATE TABLE IF NOT EXISTS regs (k text PRIMARY KEY, v text NOT NULL);";

/// Patroni-managed PostgreSQL on a set of nodes.
pub struct PatroniDb {
    remotes: BTreeMap<String, Arc<dyn Remote>>,
    addresses: BTreeMap<String, String>,
    work_dir: String,
    t: PatroniTable,
    dcs: EtcdDb,
    /// The nodes of the deployment, fixed by `setup`.
    members: Mutex<Vec<String>>,
}

/// One member as `GET /cluster` describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub name: String,
    pub role: String,
    pub state: String,
    /// Bytes behind the leader; `None` when Patroni says `unknown` (or for
    /// the leader, which has no lag).
    pub lag: Option<u64>,
}

/// The members of a `GET /cluster` answer.
pub fn parse_cluster(body: &str) -> anyhow::Result<Vec<Member>> {
    let v: Value = serde_json::from_str(body).context("GET /cluster: not JSON")?;
    let members = v
        .get("members")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("GET /cluster: no `members` list"))?;
    members
        .iter()
        .map(|m| {
            let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let name = text("name");
            if name.is_empty() {
                bail!("GET /cluster: a member without a name: {m}");
            }
            Ok(Member {
                name,
                role: text("role"),
                state: text("state"),
                lag: m.get("lag").and_then(Value::as_u64),
            })
        })
        .collect()
}

/// Why `members` is not one running leader with every other expected node
/// a running replica that has caught up; `None` when it is.
pub fn unsettled(members: &[Member], expected: &[String]) -> Option<String> {
    let leaders: Vec<&Member> = members.iter().filter(|m| m.role == "leader").collect();
    match leaders.as_slice() {
        [l] if l.state == "running" => {}
        [l] => return Some(format!("leader {} is {}", l.name, l.state)),
        [] => return Some("no leader".into()),
        many => {
            let names: Vec<&str> = many.iter().map(|m| m.name.as_str()).collect();
            return Some(format!("several leaders: {}", names.join(", ")));
        }
    }
    for n in expected {
        match members.iter().find(|m| &m.name == n) {
            None => return Some(format!("{n} is not a member yet")),
            Some(m) if m.role == "leader" => {}
            Some(m) if m.state != "running" => return Some(format!("{n} is {}", m.state)),
            Some(m) => match m.lag {
                Some(0) => {}
                Some(l) => return Some(format!("{n} is {l} bytes behind")),
                None => return Some(format!("{n}'s lag is unknown")),
            },
        }
    }
    None
}

impl PatroniDb {
    pub fn new(
        remotes: BTreeMap<String, Arc<dyn Remote>>,
        addresses: BTreeMap<String, String>,
        work_dir: &str,
        t: &PatroniTable,
    ) -> PatroniDb {
        let work_dir = work_dir.trim_end_matches('/').to_string();
        let dcs = EtcdDb::new(
            remotes.clone(),
            addresses.clone(),
            EtcdOptions {
                work_dir: format!("{work_dir}/patroni-dcs"),
                client_port: t.etcd_client_port,
                peer_port: t.etcd_peer_port,
                // etcd 3.5 and later do this by default; without it a member
                // rejoining after a partition forces an election, and the
                // store stops answering for a moment just as the partition
                // heals (Patroni's current leader then demotes itself).
                extra_args: match t.etcd_api {
                    EtcdApi::V2 => vec!["--pre-vote=true".into(), "--enable-v2=true".into()],
                    EtcdApi::V3 => vec!["--pre-vote=true".into()],
                },
                ..EtcdOptions::default()
            },
        );
        let members = addresses.keys().cloned().collect();
        PatroniDb {
            remotes,
            addresses,
            work_dir,
            t: t.clone(),
            dcs,
            members: Mutex::new(members),
        }
    }

    fn members(&self) -> Vec<String> {
        match self.members.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// `<work_dir>/<node>/patroni` on that node.
    pub fn node_dir(&self, node: &str) -> String {
        format!("{}/{}/patroni", self.work_dir, node)
    }

    fn daemon(&self, node: &str) -> Daemon {
        Daemon::new(self.node_dir(node), "patroni", Some("postgres"))
    }

    fn remote(&self, node: &str) -> anyhow::Result<&dyn Remote> {
        crate::systems::daemon::node_remote(&self.remotes, node).map(|r| r.as_ref())
    }

    fn address(&self, node: &str) -> anyhow::Result<&str> {
        crate::systems::daemon::node_address(&self.addresses, node)
    }

    /// Patroni's configuration for `node`.
    pub fn config(&self, node: &str) -> anyhow::Result<Value> {
        let t = &self.t;
        let dir = self.node_dir(node);
        let addr = self.address(node)?;
        let mut hosts = Vec::new();
        for m in self.members() {
            hosts.push(format!("{}:{}", self.address(&m)?, t.etcd_client_port));
        }
        let sync = t.replication == Replication::Sync;
        let section = match t.etcd_api {
            EtcdApi::V2 => "etcd",
            EtcdApi::V3 => "etcd3",
        };
        let hba = [
            "local all all trust",
            "host replication all 0.0.0.0/0 trust",
            "host all all 0.0.0.0/0 trust",
        ];
        Ok(json!({
            "scope": "faultline",
            "namespace": "/faultline/",
            "name": node,
            "restapi": {
                "listen": format!("{addr}:{}", t.rest_port),
                "connect_address": format!("{addr}:{}", t.rest_port),
            },
            (section): { "hosts": hosts },
            "bootstrap": {
                "dcs": {
                    "ttl": t.ttl,
                    "loop_wait": t.loop_wait,
                    "retry_timeout": t.retry_timeout,
                    "maximum_lag_on_failover": 1_048_576,
                    "synchronous_mode": sync,
                    "synchronous_mode_strict": sync,
                    // With synchronous replication a primary's shutdown can
                    // wait for standbys that never confirm; Patroni kills
                    // it after this long (only in synchronous mode).
                    "primary_stop_timeout": 10,
                    "postgresql": {
                        "use_pg_rewind": true,
                        "use_slots": true,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "max_connections": 200,
                            "wal_keep_size": "128MB",
                            // A primary shutting down waits for its WAL
                            // senders to hand every record to the standbys;
                            // cut off from them, it would wait for the
                            // default 60 s before Patroni can demote it.
                            "wal_sender_timeout": "5s",
                            "wal_receiver_timeout": "5s",
                        },
                    },
                },
                "initdb": [{ "encoding": "UTF8" }],
                "pg_hba": hba,
            },
            "postgresql": {
                "listen": format!("{addr}:{}", t.port),
                "connect_address": format!("{addr}:{}", t.port),
                "data_dir": format!("{dir}/data"),
                "bin_dir": t.bin_dir,
                "pgpass": format!("{dir}/pgpass"),
                "authentication": {
                    "superuser": { "username": "postgres" },
                    "replication": { "username": "postgres" },
                    "rewind": { "username": "postgres" },
                },
                "parameters": {
                    "unix_socket_directories": dir,
                    "logging_collector": "on",
                    "log_directory": format!("{dir}/pglog"),
                    "log_filename": "postgresql.log",
                },
                "pg_hba": hba,
                "remove_data_directory_on_rewind_failure": true,
                "remove_data_directory_on_diverged_timelines": true,
            },
            "tags": {
                "nofailover": false,
                "noloadbalance": false,
                "clonefrom": false,
                "nosync": false,
            },
        }))
    }

    /// Makes the node's directory (reachable by `postgres`: every ancestor
    /// searchable, `o+x`) and writes its configuration.
    fn prepare(&self, node: &str) -> anyhow::Result<()> {
        let dir = shell_quote(&self.node_dir(node));
        let conf = serde_json::to_string_pretty(&self.config(node)?)?;
        let bin = shell_quote(&self.t.bin_dir);
        let s = format!(
            "set -e\n\
             command -v patroni >/dev/null 2>&1 || {{ echo {missing} >&2; exit 127; }}\n\
             [ -x {bin}/postgres ] || {{ echo 'PostgreSQL 15 is not installed: apt-get install -y postgresql-15' >&2; exit 127; }}\n\
             id postgres >/dev/null 2>&1 || {{ echo 'there is no postgres user (it comes with the postgresql-15 package)' >&2; exit 1; }}\n\
             mkdir -p {dir}/pglog\n\
             p={dir}\n\
             while [ \"$p\" != / ] && [ \"$p\" != . ]; do chmod o+x \"$p\"; p=$(dirname \"$p\"); done\n\
             printf '%s\\n' {conf} >{dir}/patroni.yml\n\
             chown -R postgres:postgres {dir}\n",
            missing = shell_quote(MISSING_PATRONI),
            conf = shell_quote(&conf),
        );
        script(self.remote(node)?, "writing Patroni's configuration", &s)?;
        Ok(())
    }

    fn start_patroni(&self, node: &str) -> anyhow::Result<()> {
        let conf = format!("{}/patroni.yml", self.node_dir(node));
        self.daemon(node).start(
            self.remote(node)?,
            &["patroni".into(), conf],
            MISSING_PATRONI,
        )
    }

    /// A shell prelude that sets `$pm` to the postmaster's pid (empty when
    /// none runs from this node's data directory) and `$kids` to its
    /// children.
    fn find_postmaster(&self, node: &str) -> String {
        let data = shell_quote(&format!("{}/data", self.node_dir(node)));
        format!(
            "pm=''\nkids=''\n\
             if [ -f {data}/postmaster.pid ]; then\n\
               pm=$(head -n 1 {data}/postmaster.pid)\n\
               case \"$pm\" in ''|*[!0-9]*) pm='' ;; esac\n\
               if [ -n \"$pm\" ] && ! tr '\\0' ' ' </proc/\"$pm\"/cmdline 2>/dev/null | grep -qF -- {data}; then pm=''; fi\n\
             fi\n\
             if [ -n \"$pm\" ]; then kids=$(pgrep -P \"$pm\" || true); fi\n"
        )
    }

    /// Sends `sig` to Patroni's process group, the postmaster and its
    /// children.
    fn signal_all(&self, node: &str, sig: &str) -> anyhow::Result<()> {
        self.daemon(node).signal(self.remote(node)?, sig)?;
        let s = format!(
            "{}for p in $pm $kids; do kill -{sig} \"$p\" 2>/dev/null || true; done\n",
            self.find_postmaster(node)
        );
        script(self.remote(node)?, &format!("kill -{sig} PostgreSQL"), &s)?;
        Ok(())
    }

    /// GET `path` of the REST API on `node`: the status and body (an error
    /// only when no HTTP answer came).
    fn rest(&self, node: &str, path: &str) -> anyhow::Result<(u16, String)> {
        let url = format!("http://{}:{}{path}", self.address(node)?, self.t.rest_port);
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        match agent.get(&url).call() {
            Ok(r) => {
                let status = r.status();
                Ok((status, r.into_string().unwrap_or_default()))
            }
            Err(ureq::Error::Status(code, r)) => Ok((code, r.into_string().unwrap_or_default())),
            Err(e) => Err(anyhow!("{node}: GET {url}: {e}")),
        }
    }

    /// The node that holds the leader key and runs as primary (its REST API
    /// answers `GET /primary` with 200); an error unless exactly one does.
    pub fn primary(&self) -> anyhow::Result<String> {
        let members = self.members();
        let answers = on_all(&members, |n| self.rest(n, "/primary"));
        let mut primaries = Vec::new();
        let mut errs = Vec::new();
        for (n, a) in members.iter().zip(answers) {
            match a {
                Ok((200, _)) => primaries.push(n.clone()),
                Ok(_) => {}
                Err(e) => errs.push(format!("{e:#}")),
            }
        }
        match primaries.as_slice() {
            [p] => Ok(p.clone()),
            [] => bail!(
                "no node says it is the primary{}",
                if errs.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", errs.join("; "))
                }
            ),
            many => bail!("several nodes say they are primary: {}", many.join(", ")),
        }
    }

    /// The highest timeline any node reports (1 until the first promotion).
    pub fn max_timeline(&self) -> anyhow::Result<u64> {
        let members = self.members();
        let answers = on_all(&members, |n| self.rest(n, "/patroni"));
        let mut best: Option<u64> = None;
        let mut errs = Vec::new();
        for (n, a) in members.iter().zip(answers) {
            match a {
                Ok((_, body)) => {
                    let tl = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v.get("timeline").and_then(Value::as_u64));
                    match tl {
                        Some(t) => best = Some(best.map_or(t, |b| b.max(t))),
                        None => errs.push(format!("{n}: no timeline in GET /patroni")),
                    }
                }
                Err(e) => errs.push(format!("{e:#}")),
            }
        }
        best.ok_or_else(|| anyhow!("no node told its timeline: {}", errs.join("; ")))
    }

    /// Waits until one node is a running leader and every other node a
    /// running replica that has replayed everything (asked of any node that
    /// answers `GET /cluster`).
    pub fn wait_converged(&self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let members = self.members();
        loop {
            let mut why = String::from("no node answered GET /cluster");
            for n in &members {
                match self.rest(n, "/cluster") {
                    Ok((200, body)) => {
                        match parse_cluster(&body).map(|m| unsettled(&m, &members)) {
                            Ok(None) => return Ok(()),
                            Ok(Some(w)) => why = w,
                            Err(e) => why = format!("{e:#}"),
                        }
                        break;
                    }
                    Ok((code, _)) => why = format!("{n}: GET /cluster answered {code}"),
                    Err(e) => why = format!("{e:#}"),
                }
            }
            if start.elapsed() >= timeout {
                let mut msg = format!("Patroni did not settle after {timeout:?}: {why}");
                for n in &members {
                    let tail = self
                        .remote(n)
                        .map(|r| self.daemon(n).log_tail(r, 8))
                        .unwrap_or_default();
                    msg.push_str(&format!("\n--- {n} patroni.log (last lines) ---\n{tail}"));
                }
                bail!(msg);
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Creates the client's tables on the primary (they replicate).
    fn create_schema(&self) -> anyhow::Result<()> {
        let p = self.primary()?;
        let s = format!(
            "setpriv --reuid=postgres --regid=postgres --init-groups {}/psql -X -q -v ON_ERROR_STOP=1 -h {} -p {} -U postgres -d postgres -c {}",
            shell_quote(&self.t.bin_dir),
            shell_quote(&self.node_dir(&p)),
            self.t.port,
            shell_quote(SCHEMA)
        );
        script(self.remote(&p)?, "creating the tables", &s)?;
        Ok(())
    }
}

impl Db for PatroniDb {
    fn setup(&self, nodes: &[String]) -> anyhow::Result<()> {
        if nodes.is_empty() {
            bail!("Patroni needs at least one node");
        }
        match self.members.lock() {
            Ok(mut m) => *m = nodes.to_vec(),
            Err(p) => *p.into_inner() = nodes.to_vec(),
        }
        self.teardown(nodes)?;
        self.dcs.setup(nodes).context("starting etcd for Patroni")?;
        crate::systems::on_all_nodes(nodes, |n| {
            self.prepare(n)?;
            self.start_patroni(n)
        })
        .context("starting Patroni")?;
        self.wait_converged(self.t.settle_timeout())?;
        self.create_schema()?;
        // The tables reach every replica before the first operation.
        self.wait_converged(self.t.settle_timeout())
    }

    fn teardown(&self, nodes: &[String]) -> anyhow::Result<()> {
        crate::systems::on_all_nodes(nodes, |n| {
            self.kill(n)?;
            script(
                self.remote(n)?,
                "wiping Patroni's data",
                &format!("rm -rf {}", shell_quote(&self.node_dir(n))),
            )?;
            Ok(())
        })?;
        self.dcs.teardown(nodes)
    }

    fn start(&self, node: &str) -> anyhow::Result<()> {
        // The store's member comes back too if anything stopped it.
        self.dcs.start(node)?;
        self.start_patroni(node)
    }

    fn kill(&self, node: &str) -> anyhow::Result<()> {
        // Patroni first, so it cannot start PostgreSQL again.
        self.daemon(node).kill(self.remote(node)?)?;
        let s = format!(
            "{}[ -n \"$pm\" ] || exit 0\n\
             for p in $pm $kids; do kill -CONT \"$p\" 2>/dev/null || true; kill -9 \"$p\" 2>/dev/null || true; done\n\
             i=0\n\
             while [ $i -lt 200 ]; do\n\
               alive=''\n\
               for p in $pm $kids; do kill -0 \"$p\" 2>/dev/null && alive=\"$alive $p\"; done\n\
               [ -z \"$alive\" ] && exit 0\n\
               sleep 0.05; i=$((i+1))\n\
             done\n\
             echo \"PostgreSQL pids$alive survived SIGKILL\" >&2; exit 1\n",
            self.find_postmaster(node)
        );
        script(self.remote(node)?, "killing PostgreSQL", &s)?;
        Ok(())
    }

    fn pause(&self, node: &str) -> anyhow::Result<()> {
        self.signal_all(node, "STOP")
    }

    fn resume(&self, node: &str) -> anyhow::Result<()> {
        self.signal_all(node, "CONT")
    }

    fn collect_logs(&self, nodes: &[String], dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut errs = Vec::new();
        for n in nodes {
            let files = [
                (self.daemon(n).log_file(), format!("{n}-patroni.log")),
                (
                    format!("{}/pglog/postgresql.log", self.node_dir(n)),
                    format!("{n}-postgresql.log"),
                ),
            ];
            for (remote, local) in files {
                let r = self
                    .remote(n)
                    .and_then(|r| Ok(r.download(&remote, &dir.join(&local))?));
                if let Err(e) = r {
                    errs.push(format!("{n}: {e:#}"));
                }
            }
        }
        if let Err(e) = self.dcs.collect_logs(nodes, dir) {
            errs.push(format!("{e:#}"));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            bail!("collecting Patroni logs: {}", errs.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, role: &str, state: &str, lag: Option<u64>) -> Member {
        Member {
            name: name.into(),
            role: role.into(),
            state: state.into(),
            lag,
        }
    }

    #[test]
    fn cluster_answers_parse_and_settle() {
        let body = r#"{"members": [
            {"name": "n1", "role": "leader", "state": "running", "timeline": 2},
            {"name": "n2", "role": "sync_standby", "state": "running", "lag": 0},
            {"name": "n3", "role": "replica", "state": "running", "lag": "unknown"}]}"#;
        let m = parse_cluster(body).unwrap();
        assert_eq!(m[0], member("n1", "leader", "running", None));
        assert_eq!(m[1], member("n2", "sync_standby", "running", Some(0)));
        assert_eq!(m[2].lag, None);
        let nodes: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
        assert_eq!(unsettled(&m, &nodes).unwrap(), "n3's lag is unknown");
        let mut ok = m.clone();
        ok[2].lag = Some(0);
        assert_eq!(unsettled(&ok, &nodes), None);
        ok[1].lag = Some(512);
        assert_eq!(unsettled(&ok, &nodes).unwrap(), "n2 is 512 bytes behind");
        ok[1].lag = Some(0);
        assert_eq!(unsettled(&ok[..2], &nodes[..2]), None);
        assert_eq!(
            unsettled(&ok[..2], &nodes).unwrap(),
            "n3 is not a member yet"
        );
        let two = [
            member("n1", "leader", "running", None),
            member("n2", "leader", "running", None),
        ];
        assert!(unsettled(&two, &nodes).unwrap().contains("several leaders"));
        let stopped = [member("n1", "leader", "stopped", None)];
        assert_eq!(unsettled(&stopped, &nodes).unwrap(), "leader n1 is stopped");
        assert_eq!(unsettled(&[], &nodes).unwrap(), "no leader");
        assert!(parse_cluster("{}").is_err());
        assert!(parse_cluster("not json").is_err());
    }

    #[test]
    fn configuration_names_the_node_and_the_store() {
        let addresses: BTreeMap<String, String> = (1..=3)
            .map(|i| (format!("n{i}"), format!("10.9.0.{i}")))
            .collect();
        let t = PatroniTable {
            replication: Replication::Sync,
            ..PatroniTable::default()
        };
        let db = PatroniDb::new(BTreeMap::new(), addresses, "/w/", &t);
        let c = db.config("n2").unwrap();
        assert_eq!(c["name"], "n2");
        assert_eq!(c["restapi"]["listen"], "10.9.0.2:8008");
        assert_eq!(
            c["etcd"]["hosts"],
            json!(["10.9.0.1:2479", "10.9.0.2:2479", "10.9.0.3:2479"])
        );
        assert!(c.get("etcd3").is_none());
        assert_eq!(c["postgresql"]["data_dir"], "/w/n2/patroni/data");
        assert_eq!(c["bootstrap"]["dcs"]["synchronous_mode_strict"], true);
        assert_eq!(c["bootstrap"]["dcs"]["ttl"], 8);
        assert!(db.config("n9").is_err());
    }
}
