//! etcd (3.4, Debian's `etcd-server`) as the system under test, driven
//! through [`Remote`].
//!
//! Each node keeps everything under `<work_dir>/<node>/etcd/`: the data
//! directory, `etcd.log` and `etcd.pid`. The node name in the path keeps
//! nodes apart when several share a filesystem (the local cluster). etcd is
//! started detached (`setsid`, all descriptors redirected) and its pid
//! written to the pid file; kill, pause and resume signal exactly that pid.
//! Health is asked over HTTP (`/health`) from the controlling host, which
//! must reach the client port anyway.

use crate::control::{shell_quote, Remote};
use crate::db::Db;
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where and how etcd runs on each node.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// Parent directory on each node (`<work_dir>/<node>/etcd`).
    pub work_dir: String,
    /// The etcd binary (a name on `$PATH` or a path).
    pub binary: String,
    pub client_port: u16,
    pub peer_port: u16,
    /// How long `setup`/`start` wait for the cluster to report healthy.
    pub health_timeout: Duration,
    /// More flags for every member (e.g. `--pre-vote`).
    pub extra_args: Vec<String>,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions {
            work_dir: "/var/tmp/faultline".into(),
            binary: "etcd".into(),
            client_port: 2379,
            peer_port: 2380,
            health_timeout: Duration::from_secs(30),
            extra_args: Vec::new(),
        }
    }
}

/// An etcd cluster over a set of nodes.
pub struct EtcdDb {
    remotes: BTreeMap<String, Arc<dyn Remote>>,
    addresses: BTreeMap<String, String>,
    opts: EtcdOptions,
    /// The members of the cluster, fixed by `setup`.
    members: Mutex<Vec<String>>,
}

impl EtcdDb {
    /// `remotes` and `addresses` are keyed by node name; every node that
    /// `setup` is given must appear in both.
    pub fn new(
        remotes: BTreeMap<String, Arc<dyn Remote>>,
        addresses: BTreeMap<String, String>,
        opts: EtcdOptions,
    ) -> EtcdDb {
        let members = addresses.keys().cloned().collect();
        EtcdDb {
            remotes,
            addresses,
            opts,
            members: Mutex::new(members),
        }
    }

    /// `http://address:client_port` for each node.
    pub fn client_urls(&self) -> BTreeMap<String, String> {
        self.addresses
            .iter()
            .map(|(n, a)| (n.clone(), format!("http://{a}:{}", self.opts.client_port)))
            .collect()
    }

    fn remote(&self, node: &str) -> anyhow::Result<&Arc<dyn Remote>> {
        crate::systems::daemon::node_remote(&self.remotes, node)
    }

    fn address(&self, node: &str) -> anyhow::Result<&str> {
        crate::systems::daemon::node_address(&self.addresses, node)
    }

    /// `<work_dir>/<node>/etcd` on that node.
    pub fn node_dir(&self, node: &str) -> String {
        format!("{}/{}/etcd", self.opts.work_dir.trim_end_matches('/'), node)
    }

    fn members(&self) -> Vec<String> {
        match self.members.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Runs a shell script as root on `node`; a non-zero status is an error.
    fn script(&self, node: &str, what: &str, script: &str) -> anyhow::Result<String> {
        let r = self.remote(node)?;
        let out = r.sudo(&["sh", "-c", script])?;
        if out.status != 0 {
            bail!(
                "{node}: {what} failed (status {}): {}{}",
                out.status,
                out.stderr.trim(),
                out.stdout.trim()
            );
        }
        Ok(out.stdout)
    }

    /// The command line that starts etcd on `node`.
    fn etcd_argv(&self, node: &str) -> anyhow::Result<Vec<String>> {
        let addr = self.address(node)?;
        let dir = self.node_dir(node);
        let (cp, pp) = (self.opts.client_port, self.opts.peer_port);
        let mut initial = Vec::new();
        for m in self.members() {
            initial.push(format!("{m}=http://{}:{pp}", self.address(&m)?));
        }
        let mut argv = vec![
            self.opts.binary.clone(),
            format!("--name={node}"),
            format!("--data-dir={dir}/data"),
            format!("--listen-peer-urls=http://{addr}:{pp}"),
            format!("--initial-advertise-peer-urls=http://{addr}:{pp}"),
            format!("--listen-client-urls=http://{addr}:{cp}"),
            format!("--advertise-client-urls=http://{addr}:{cp}"),
            format!("--initial-cluster={}", initial.join(",")),
            "--initial-cluster-state=new".into(),
            "--initial-cluster-token=faultline".into(),
            "--logger=zap".into(),
            "--log-outputs=stderr".into(),
        ];
        argv.extend(self.opts.extra_args.iter().cloned());
        Ok(argv)
    }

    /// Starts etcd on `node` unless its pid file names a live process.
    fn start_process(&self, node: &str) -> anyhow::Result<()> {
        let dir = shell_quote(&self.node_dir(node));
        let bin = shell_quote(&self.opts.binary);
        let argv: Vec<String> = self
            .etcd_argv(node)?
            .iter()
            .map(|a| shell_quote(a))
            .collect();
        let script = format!(
            "set -e\n\
             command -v {bin} >/dev/null 2>&1 || {{ echo 'etcd is not installed: apt-get install -y etcd-server' >&2; exit 127; }}\n\
             mkdir -p {dir}\n\
             if [ -f {dir}/etcd.pid ] && kill -0 \"$(cat {dir}/etcd.pid)\" 2>/dev/null; then exit 0; fi\n\
             cd {dir}\n\
             setsid {argv} >>{dir}/etcd.log 2>&1 </dev/null &\n\
             echo $! >{dir}/etcd.pid\n",
            argv = argv.join(" ")
        );
        self.script(node, "starting etcd", &script)?;
        Ok(())
    }

    /// Signals the process in the pid file; succeeds when there is none.
    fn signal(&self, node: &str, sig: &str) -> anyhow::Result<()> {
        let dir = shell_quote(&self.node_dir(node));
        let script = format!(
            "f={dir}/etcd.pid\n\
             [ -f \"$f\" ] || exit 0\n\
             pid=$(cat \"$f\")\n\
             kill -{sig} \"$pid\" 2>/dev/null || true\n"
        );
        self.script(node, &format!("kill -{sig}"), &script)?;
        Ok(())
    }

    /// True when `node` answers `/health` with `"health":"true"`.
    pub fn healthy(&self, node: &str) -> bool {
        let Ok(addr) = self.address(node) else {
            return false;
        };
        let url = format!("http://{addr}:{}/health", self.opts.client_port);
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        match agent.get(&url).call() {
            Ok(resp) => resp
                .into_string()
                .map(|b| b.replace(' ', "").contains("\"health\":\"true\""))
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Waits until every node in `nodes` reports healthy.
    pub fn wait_healthy(&self, nodes: &[String], timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let sick: Vec<&String> = nodes.iter().filter(|n| !self.healthy(n)).collect();
            if sick.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                let mut msg = format!(
                    "etcd not healthy after {timeout:?} on {}",
                    sick.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                for n in sick {
                    if let Ok(tail) = self.log_tail(n, 5) {
                        msg.push_str(&format!("\n--- {n} etcd.log (last lines) ---\n{tail}"));
                    }
                }
                bail!(msg);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_tail(&self, node: &str, lines: usize) -> anyhow::Result<String> {
        let log = format!("{}/etcd.log", self.node_dir(node));
        let out = self
            .remote(node)?
            .sudo(&["tail", "-n", &lines.to_string(), &log])?;
        Ok(out.stdout)
    }

    /// Whether the pid file names a live process on `node`.
    pub fn running(&self, node: &str) -> anyhow::Result<bool> {
        let dir = shell_quote(&self.node_dir(node));
        let r = self.remote(node)?.sudo(&[
            "sh",
            "-c",
            &format!("[ -f {dir}/etcd.pid ] && kill -0 \"$(cat {dir}/etcd.pid)\" 2>/dev/null"),
        ])?;
        Ok(r.status == 0)
    }
}

impl Db for EtcdDb {
    fn setup(&self, nodes: &[String]) -> anyhow::Result<()> {
        for n in nodes {
            self.remote(n)?;
            self.address(n)?;
        }
        match self.members.lock() {
            Ok(mut m) => *m = nodes.to_vec(),
            Err(p) => *p.into_inner() = nodes.to_vec(),
        }
        // A fresh cluster every time: stop leftovers and wipe their data.
        self.teardown(nodes)?;
        crate::systems::on_all_nodes(nodes, |n| self.start_process(n)).context("starting etcd")?;
        self.wait_healthy(nodes, self.opts.health_timeout)
    }

    fn teardown(&self, nodes: &[String]) -> anyhow::Result<()> {
        crate::systems::on_all_nodes(nodes, |n| {
            self.kill(n)?;
            let dir = self.node_dir(n);
            self.script(
                n,
                "wiping etcd data",
                &format!("rm -rf {}", shell_quote(&dir)),
            )?;
            Ok(())
        })
    }

    fn start(&self, node: &str) -> anyhow::Result<()> {
        self.start_process(node)
    }

    fn kill(&self, node: &str) -> anyhow::Result<()> {
        let dir = shell_quote(&self.node_dir(node));
        // SIGKILL the pid, wait until it is gone, forget it.
        let script = format!(
            "f={dir}/etcd.pid\n\
             [ -f \"$f\" ] || exit 0\n\
             pid=$(cat \"$f\")\n\
             kill -9 \"$pid\" 2>/dev/null || true\n\
             i=0\n\
             while kill -0 \"$pid\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n\
             if kill -0 \"$pid\" 2>/dev/null; then echo \"pid $pid survived SIGKILL\" >&2; exit 1; fi\n\
             rm -f \"$f\"\n"
        );
        self.script(node, "killing etcd", &script)?;
        Ok(())
    }

    fn pause(&self, node: &str) -> anyhow::Result<()> {
        self.signal(node, "STOP")
    }

    fn resume(&self, node: &str) -> anyhow::Result<()> {
        self.signal(node, "CONT")
    }

    fn collect_logs(&self, nodes: &[String], dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut errs = Vec::new();
        for n in nodes {
            let remote = format!("{}/etcd.log", self.node_dir(n));
            let local = dir.join(format!("{n}-etcd.log"));
            if let Err(e) = self
                .remote(n)
                .and_then(|r| Ok(r.download(&remote, &local)?))
            {
                errs.push(format!("{n}: {e:#}"));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            bail!("collecting etcd logs: {}", errs.join("; "))
        }
    }
}
