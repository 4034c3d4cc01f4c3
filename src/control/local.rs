//! [`Remote`] on this host, optionally inside a network namespace.
//!
//! Useful for the local cluster when SSH is beside the point (and for the
//! cluster's own setup); anything that claims to exercise SSH uses
//! [`super::ssh::SshRemote`] against a real sshd instead.

use super::{shell_join, ExecOutput, Remote, RemoteError};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs commands with `sh -c` here, or in `ip netns exec <netns>`.
#[derive(Clone, Debug)]
pub struct LocalRemote {
    node: String,
    netns: Option<String>,
    timeout: Option<Duration>,
}

impl LocalRemote {
    /// Commands run directly on this host.
    pub fn new(node: &str) -> LocalRemote {
        LocalRemote {
            node: node.to_string(),
            netns: None,
            timeout: Some(Duration::from_secs(60)),
        }
    }

    /// Commands run inside network namespace `netns` (needs root).
    pub fn in_netns(node: &str, netns: &str) -> LocalRemote {
        LocalRemote {
            netns: Some(netns.to_string()),
            ..LocalRemote::new(node)
        }
    }

    /// Sets the per-command deadline (`None`: wait forever).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> LocalRemote {
        self.timeout = timeout;
        self
    }

    fn err(&self, message: String) -> RemoteError {
        RemoteError::Other {
            node: self.node.clone(),
            message,
        }
    }

    /// Runs a command line (already quoted) with `sh -c`.
    pub fn exec_line(&self, line: &str) -> Result<ExecOutput, RemoteError> {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "sh", "-c", line]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.args(["-c", line]);
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Own process group, so a timeout can kill the whole command.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .spawn()
            .map_err(|e| self.err(format!("cannot run sh: {e}")))?;
        let mut so = child.stdout.take();
        let mut se = child.stderr.take();
        let t_out = std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(s) = so.as_mut() {
                let _ = s.read_to_end(&mut v);
            }
            v
        });
        let t_err = std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(s) = se.as_mut() {
                let _ = s.read_to_end(&mut v);
            }
            v
        });
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) => {}
                Err(e) => return Err(self.err(format!("waiting: {e}"))),
            }
            if let Some(t) = self.timeout {
                if start.elapsed() >= t {
                    // SAFETY: kill(2) on our own child's process group.
                    unsafe {
                        libc::kill(-(child.id() as i32), libc::SIGKILL);
                    }
                    let _ = child.wait();
                    return Err(RemoteError::Timeout {
                        node: self.node.clone(),
                        command: line.to_string(),
                        timeout: t,
                    });
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stdout = t_out.join().unwrap_or_default();
        let stderr = t_err.join().unwrap_or_default();
        let code = match status.code() {
            Some(c) => c,
            None => 128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(127),
        };
        Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            status: code,
        })
    }
}

impl Remote for LocalRemote {
    fn node(&self) -> &str {
        &self.node
    }

    fn exec(&self, argv: &[&str]) -> Result<ExecOutput, RemoteError> {
        self.exec_line(&shell_join(argv))
    }

    fn sudo(&self, argv: &[&str]) -> Result<ExecOutput, RemoteError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            return self.exec(argv);
        }
        let mut v = vec!["sudo", "-n", "--"];
        v.extend_from_slice(argv);
        self.exec(&v)
    }

    fn upload(&self, local: &Path, remote: &str) -> Result<(), RemoteError> {
        std::fs::copy(local, remote)
            .map(|_| ())
            .map_err(|e| self.err(format!("copying {} to {remote}: {e}", local.display())))
    }

    fn download(&self, remote: &str, local: &Path) -> Result<(), RemoteError> {
        std::fs::copy(remote, local)
            .map(|_| ())
            .map_err(|e| self.err(format!("copying {remote} to {}: {e}", local.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_commands_and_reports_status() {
        let r = LocalRemote::new("here");
        let out = r
            .exec(&["sh", "-c", "echo out; echo err >&2; exit 3"])
            .unwrap();
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.status, 3);
        let out = r.exec(&["echo", "$(id)'; x"]).unwrap();
        assert_eq!(out.stdout, "$(id)'; x\n");
    }

    #[test]
    fn times_out() {
        let r = LocalRemote::new("here").with_timeout(Some(Duration::from_millis(200)));
        let t = Instant::now();
        let e = r.exec(&["sleep", "5"]).unwrap_err();
        assert!(matches!(e, RemoteError::Timeout { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
    }
}
