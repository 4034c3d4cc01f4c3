//! Running PostgreSQL on a node: a fresh cluster (`initdb`) in
//! `<work_dir>/<node>/postgres/data`, owned and run by the `postgres` user,
//! listening on the node's address, with the tables the client uses.
//!
//! The server is started by faultline as a [`Daemon`] (never through
//! Debian's service or `pg_ctlcluster`), so kill and pause reach the
//! postmaster and every backend (one process group). The `postgres` user
//! must be able to reach its directory: setup makes each ancestor directory
//! of it searchable by others (`o+x`, not readable).
//! Authentication is `trust` from anywhere: these are throwaway test
//! clusters on private addresses.

use super::PostgresTable;
use crate::control::{shell_quote, Remote};
use crate::db::Db;
use crate::systems::daemon::{script, Daemon};
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tables: keys and values are JSON texts; a list is an array of them.
pub const SCHEMA: &str = "CREATE TABLE lists (k text PRIMARY KEY, v text[] NOT NULL);\n\
                          CREATE TABLE regs (k text PRIMARY KEY, v text NOT NULL);";

/// PostgreSQL on a set of nodes, each its own independent server.
pub struct PostgresDb {
    remotes: BTreeMap<String, Arc<dyn Remote>>,
    addresses: BTreeMap<String, String>,
    work_dir: String,
    port: u16,
    bin_dir: String,
}

impl PostgresDb {
    pub fn new(
        remotes: BTreeMap<String, Arc<dyn Remote>>,
        addresses: BTreeMap<String, String>,
        work_dir: &str,
        t: &PostgresTable,
    ) -> PostgresDb {
        PostgresDb {
            remotes,
            addresses,
            work_dir: work_dir.trim_end_matches('/').to_string(),
            port: t.port,
            bin_dir: t.bin_dir.trim_end_matches('/').to_string(),
        }
    }

    /// `<work_dir>/<node>/postgres` on that node.
    pub fn node_dir(&self, node: &str) -> String {
        format!("{}/{}/postgres", self.work_dir, node)
    }

    fn daemon(&self, node: &str) -> Daemon {
        Daemon::new(self.node_dir(node), "postgres", Some("postgres"))
    }

    fn remote(&self, node: &str) -> anyhow::Result<&dyn Remote> {
        crate::systems::daemon::node_remote(&self.remotes, node).map(|r| r.as_ref())
    }

    fn address(&self, node: &str) -> anyhow::Result<&str> {
        crate::systems::daemon::node_address(&self.addresses, node)
    }

    /// `initdb` a fresh cluster in the node's directory.
    fn init(&self, node: &str) -> anyhow::Result<()> {
        let dir = shell_quote(&self.node_dir(node));
        let bin = shell_quote(&self.bin_dir);
        let s = format!(
            "set -e\n\
             [ -x {bin}/initdb ] || {{ echo 'PostgreSQL 15 is not installed: apt-get install -y postgresql-15' >&2; exit 127; }}\n\
             id postgres >/dev/null 2>&1 || {{ echo 'there is no postgres user (it comes with the postgresql-15 package)' >&2; exit 1; }}\n\
             mkdir -p {dir}\n\
             p={dir}\n\
             while [ \"$p\" != / ] && [ \"$p\" != . ]; do chmod o+x \"$p\"; p=$(dirname \"$p\"); done\n\
             chown postgres:postgres {dir}\n\
             setpriv --reuid=postgres --regid=postgres --init-groups {bin}/initdb -D {dir}/data -U postgres --auth=trust -E UTF8 >{dir}/initdb.log 2>&1 \
               || {{ tail -n 20 {dir}/initdb.log >&2; exit 1; }}\n\
             echo 'host all all 0.0.0.0/0 trust' >>{dir}/data/pg_hba.conf\n"
        );
        script(self.remote(node)?, "initdb", &s)?;
        Ok(())
    }

    fn argv(&self, node: &str) -> anyhow::Result<Vec<String>> {
        let dir = self.node_dir(node);
        Ok(vec![
            format!("{}/postgres", self.bin_dir),
            "-D".into(),
            format!("{dir}/data"),
            "-c".into(),
            format!("listen_addresses={}", self.address(node)?),
            "-c".into(),
            format!("port={}", self.port),
            "-c".into(),
            format!("unix_socket_directories={dir}"),
            "-c".into(),
            "max_connections=200".into(),
        ])
    }

    fn start_server(&self, node: &str) -> anyhow::Result<()> {
        self.daemon(node).start(
            self.remote(node)?,
            &self.argv(node)?,
            "PostgreSQL 15 is not installed: apt-get install -y postgresql-15",
        )
    }

    /// Whether the server on `node` accepts connections (asked on the node,
    /// over its unix socket).
    pub fn ready(&self, node: &str) -> bool {
        let Ok(r) = self.remote(node) else {
            return false;
        };
        let s = format!(
            "{}/pg_isready -q -h {} -p {}",
            shell_quote(&self.bin_dir),
            shell_quote(&self.node_dir(node)),
            self.port
        );
        matches!(r.sudo(&["sh", "-c", &s]), Ok(o) if o.status == 0)
    }

    /// Waits until every node in `nodes` accepts connections.
    pub fn wait_ready(&self, nodes: &[String], timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let down: Vec<&String> = nodes.iter().filter(|n| !self.ready(n)).collect();
            if down.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                let mut msg = format!("PostgreSQL not ready after {timeout:?} on");
                for n in down {
                    let tail = self
                        .remote(n)
                        .map(|r| self.daemon(n).log_tail(r, 10))
                        .unwrap_or_default();
                    msg.push_str(&format!("\n--- {n} postgres.log (last lines) ---\n{tail}"));
                }
                bail!(msg);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Creates the client's tables on `node`.
    fn create_schema(&self, node: &str) -> anyhow::Result<()> {
        let s = format!(
            "setpriv --reuid=postgres --regid=postgres --init-groups {}/psql -X -q -v ON_ERROR_STOP=1 -h {} -p {} -U postgres -d postgres -c {}",
            shell_quote(&self.bin_dir),
            shell_quote(&self.node_dir(node)),
            self.port,
            shell_quote(SCHEMA)
        );
        script(self.remote(node)?, "creating the tables", &s)?;
        Ok(())
    }
}

impl Db for PostgresDb {
    fn setup(&self, nodes: &[String]) -> anyhow::Result<()> {
        self.teardown(nodes)?;
        crate::systems::on_all_nodes(nodes, |n| {
            self.init(n)?;
            self.start_server(n)?;
            self.wait_ready(&[n.to_string()], Duration::from_secs(30))?;
            self.create_schema(n)
        })
        .context("setting up PostgreSQL")
    }

    fn teardown(&self, nodes: &[String]) -> anyhow::Result<()> {
        crate::systems::on_all_nodes(nodes, |n| {
            self.kill(n)?;
            script(
                self.remote(n)?,
                "wiping PostgreSQL data",
                &format!("rm -rf {}", shell_quote(&self.node_dir(n))),
            )?;
            Ok(())
        })
    }

    fn start(&self, node: &str) -> anyhow::Result<()> {
        self.start_server(node)
    }

    fn kill(&self, node: &str) -> anyhow::Result<()> {
        self.daemon(node).kill(self.remote(node)?)
    }

    fn pause(&self, node: &str) -> anyhow::Result<()> {
        self.daemon(node).signal(self.remote(node)?, "STOP")
    }

    fn resume(&self, node: &str) -> anyhow::Result<()> {
        self.daemon(node).signal(self.remote(node)?, "CONT")
    }

    fn collect_logs(&self, nodes: &[String], dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut errs = Vec::new();
        for n in nodes {
            let local = dir.join(format!("{n}-postgres.log"));
            let r = self
                .remote(n)
                .and_then(|r| Ok(r.download(&self.daemon(n).log_file(), &local)?));
            if let Err(e) = r {
                errs.push(format!("{n}: {e:#}"));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            bail!("collecting PostgreSQL logs: {}", errs.join("; "))
        }
    }
}
