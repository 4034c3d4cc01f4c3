//! A server process on a node, known by its pid file: the automation every
//! real system shares (start detached, kill, pause, resume, log tail).
//!
//! A daemon named `name` in directory `dir` writes `dir/name.log` and is
//! known by `dir/name.pid`. It is started with `setsid`, so it leads its own
//! process group: kill, pause and resume signal that whole group (a server's
//! worker processes, PostgreSQL's backends, stop and go with it), and
//! nothing is ever looked up by process name. A daemon that must not run as
//! root is started through `setpriv`, which execs it, so the pid file names
//! the server itself.

use crate::control::{shell_quote, Remote};
use anyhow::{anyhow, bail};

/// One daemon on one node.
#[derive(Clone, Debug)]
pub struct Daemon {
    /// Directory of its pid file and log (created by `start`).
    pub dir: String,
    /// Names `name.pid` and `name.log`.
    pub name: String,
    /// Run as this user (through `setpriv`) rather than root.
    pub user: Option<String>,
}

/// The remote of `node` in a system's table of nodes, or an error naming it.
pub fn node_remote<'a>(
    remotes: &'a std::collections::BTreeMap<String, std::sync::Arc<dyn Remote>>,
    node: &str,
) -> anyhow::Result<&'a std::sync::Arc<dyn Remote>> {
    remotes
        .get(node)
        .ok_or_else(|| anyhow::anyhow!("no remote for node {node}"))
}

/// The address of `node` in a system's table of nodes, or an error naming it.
pub fn node_address<'a>(
    addresses: &'a std::collections::BTreeMap<String, String>,
    node: &str,
) -> anyhow::Result<&'a str> {
    addresses
        .get(node)
        .map(|s| s.as_str())
        .ok_or_else(|| anyhow::anyhow!("no address for node {node}"))
}

/// Runs a shell script as root on the remote; a non-zero status is an error
/// that says what was being done and what the script printed.
pub fn script(remote: &dyn Remote, what: &str, script: &str) -> anyhow::Result<String> {
    let out = remote
        .sudo(&["sh", "-c", script])
        .map_err(|e| anyhow!("{}: {what}: {e}", remote.node()))?;
    if out.status != 0 {
        bail!(
            "{}: {what} failed (status {}): {}{}",
            remote.node(),
            out.status,
            out.stderr.trim(),
            out.stdout.trim()
        );
    }
    Ok(out.stdout)
}

impl Daemon {
    pub fn new(dir: impl Into<String>, name: impl Into<String>, user: Option<&str>) -> Daemon {
        Daemon {
            dir: dir.into(),
            name: name.into(),
            user: user.map(String::from),
        }
    }

    pub fn pid_file(&self) -> String {
        format!("{}/{}.pid", self.dir, self.name)
    }

    pub fn log_file(&self) -> String {
        format!("{}/{}.log", self.dir, self.name)
    }

    /// Starts `argv` detached unless the pid file names a live process.
    /// `argv[0]` must exist; `missing` says how to install it when not.
    pub fn start(&self, remote: &dyn Remote, argv: &[String], missing: &str) -> anyhow::Result<()> {
        let Some(bin) = argv.first() else {
            bail!("starting {}: empty command", self.name);
        };
        let dir = shell_quote(&self.dir);
        let pid = shell_quote(&self.pid_file());
        let log = shell_quote(&self.log_file());
        let cmd: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
        let prefix = match &self.user {
            Some(u) => format!(
                "setpriv --reuid={u} --regid={u} --init-groups ",
                u = shell_quote(u)
            ),
            None => String::new(),
        };
        let chown = match &self.user {
            Some(u) => format!("touch {log} && chown {u} {log}\n", u = shell_quote(u)),
            None => String::new(),
        };
        let s = format!(
            "set -e\n\
             command -v {bin} >/dev/null 2>&1 || {{ echo {missing} >&2; exit 127; }}\n\
             mkdir -p {dir}\n\
             if [ -f {pid} ] && kill -0 \"$(cat {pid})\" 2>/dev/null; then exit 0; fi\n\
             {chown}\
             cd {dir}\n\
             setsid {prefix}{cmd} >>{log} 2>&1 </dev/null &\n\
             echo $! >{pid}\n",
            bin = shell_quote(bin),
            missing = shell_quote(missing),
            cmd = cmd.join(" ")
        );
        script(remote, &format!("starting {}", self.name), &s)?;
        Ok(())
    }

    /// SIGKILLs the daemon's process group, waits until its pid is gone and
    /// forgets the pid; succeeds when nothing runs.
    pub fn kill(&self, remote: &dyn Remote) -> anyhow::Result<()> {
        let pid = shell_quote(&self.pid_file());
        let s = format!(
            "f={pid}\n\
             [ -f \"$f\" ] || exit 0\n\
             pid=$(cat \"$f\")\n\
             kill -CONT -- -\"$pid\" 2>/dev/null || true\n\
             kill -9 -- -\"$pid\" 2>/dev/null || kill -9 \"$pid\" 2>/dev/null || true\n\
             i=0\n\
             while kill -0 \"$pid\" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n\
             if kill -0 \"$pid\" 2>/dev/null; then echo \"pid $pid survived SIGKILL\" >&2; exit 1; fi\n\
             rm -f \"$f\"\n"
        );
        script(remote, &format!("killing {}", self.name), &s)?;
        Ok(())
    }

    /// Sends `sig` (e.g. `STOP`, `CONT`) to the daemon's process group;
    /// succeeds when nothing runs.
    pub fn signal(&self, remote: &dyn Remote, sig: &str) -> anyhow::Result<()> {
        let pid = shell_quote(&self.pid_file());
        let s = format!(
            "f={pid}\n\
             [ -f \"$f\" ] || exit 0\n\
             pid=$(cat \"$f\")\n\
             kill -{sig} -- -\"$pid\" 2>/dev/null || kill -{sig} \"$pid\" 2>/dev/null || true\n"
        );
        script(remote, &format!("kill -{sig} {}", self.name), &s)?;
        Ok(())
    }

    /// Whether the pid file names a live process.
    pub fn running(&self, remote: &dyn Remote) -> bool {
        let pid = shell_quote(&self.pid_file());
        matches!(
            remote.sudo(&["sh", "-c", &format!("[ -f {pid} ] && kill -0 \"$(cat {pid})\" 2>/dev/null")]),
            Ok(o) if o.status == 0
        )
    }

    /// The last `lines` lines of the log (empty when unreadable).
    pub fn log_tail(&self, remote: &dyn Remote, lines: usize) -> String {
        remote
            .sudo(&["tail", "-n", &lines.to_string(), &self.log_file()])
            .map(|o| o.stdout)
            .unwrap_or_default()
    }
}
