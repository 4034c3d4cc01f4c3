//! [`Remote`] over SSH (libssh2 through the `ssh2` crate).
//!
//! Why it looks the way it does:
//! - Host keys are always checked against a known_hosts file. An unknown
//!   host is refused unless the caller explicitly allows first contact
//!   ([`SshConfig::accept_new_host_keys`]), in which case its key is
//!   appended to the file. A *changed* key is always refused: that is the
//!   one situation where going on would hand our commands to a stranger.
//! - Commands are built with [`shell_join`], so every argv element reaches
//!   the remote program as exactly the bytes given, whatever quotes, `$()`
//!   or `;` it contains.
//! - A command has a deadline. When it passes, the connection is dropped
//!   (the next call reconnects) and the remote side is wrapped in
//!   `timeout(1)` so the command does not outlive us either.
//! - A dropped connection is re-established on the next call; a command is
//!   retried on a fresh connection only when the failure happened before it
//!   was sent, so nothing ever runs twice.

use super::{shell_join, ExecOutput, Remote, RemoteError};
use base64::Engine;
use ssh2::{CheckResult, KnownHostFileKind, Session};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How to authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SshAuth {
    /// A private key file (OpenSSH or PEM format, no passphrase).
    KeyFile(PathBuf),
    /// Whatever identities the running ssh-agent (`$SSH_AUTH_SOCK`) offers.
    Agent,
}

/// Everything needed to reach one node.
#[derive(Clone, Debug)]
pub struct SshConfig {
    /// The node's name as faultline calls it (used in errors and histories).
    pub node: String,
    /// Host name or address to connect to.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: SshAuth,
    /// The known_hosts file host keys are checked against.
    pub known_hosts: PathBuf,
    /// Record the key of a host not yet in `known_hosts` (first contact).
    /// A changed key is refused regardless.
    pub accept_new_host_keys: bool,
    pub connect_timeout: Duration,
    /// Default deadline for one command; `None` waits forever.
    pub command_timeout: Option<Duration>,
}

impl SshConfig {
    /// A config with the usual defaults: port 22, 10 s to connect, 60 s per command.
    pub fn new(node: &str, host: &str, user: &str, auth: SshAuth, known_hosts: &Path) -> Self {
        SshConfig {
            node: node.to_string(),
            host: host.to_string(),
            port: 22,
            user: user.to_string(),
            auth,
            known_hosts: known_hosts.to_path_buf(),
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// A [`Remote`] reached over SSH. One connection, reused by every call
/// (calls from several threads are serialised).
pub struct SshRemote {
    config: SshConfig,
    session: Mutex<Option<Session>>,
}

impl SshRemote {
    /// Creates the remote without connecting; the first call connects.
    pub fn new(config: SshConfig) -> SshRemote {
        SshRemote {
            config,
            session: Mutex::new(None),
        }
    }

    /// Creates the remote and connects now, so that bad keys or
    /// unreachable hosts show up immediately.
    pub fn connect(config: SshConfig) -> Result<SshRemote, RemoteError> {
        let r = SshRemote::new(config);
        let s = r.open_session()?;
        *r.lock() = Some(s);
        Ok(r)
    }

    pub fn config(&self) -> &SshConfig {
        &self.config
    }

    /// Drops the current connection; the next call reconnects.
    pub fn disconnect(&self) {
        if let Some(s) = self.lock().take() {
            let _ = s.disconnect(None, "bye", None);
        }
    }

    /// Runs a command line (already quoted) with a deadline.
    pub fn exec_line(
        &self,
        line: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, RemoteError> {
        let wrapped = match timeout {
            // The remote half of the deadline: one second later than ours,
            // so our own timeout fires first and is the one reported.
            Some(t) => shell_join(&[
                "timeout",
                "-k",
                "2",
                &format!("{}", t.as_secs() + 1),
                "sh",
                "-c",
                line,
            ]),
            None => line.to_string(),
        };
        let mut guard = self.lock();
        let mut attempt = 0;
        loop {
            attempt += 1;
            if guard.is_none() {
                *guard = Some(self.open_session()?);
            }
            let Some(sess) = guard.as_ref() else {
                return Err(self.other("no session"));
            };
            match run_on(sess, &wrapped, timeout, self.config.connect_timeout) {
                Ok(out) => return Ok(out),
                Err(RunError::NotSent(msg)) => {
                    // The connection is gone (or never worked): reconnect once.
                    *guard = None;
                    if attempt >= 2 {
                        return Err(RemoteError::Connect {
                            node: self.config.node.clone(),
                            message: msg,
                        });
                    }
                }
                Err(RunError::TimedOut) => {
                    *guard = None;
                    return Err(RemoteError::Timeout {
                        node: self.config.node.clone(),
                        command: line.to_string(),
                        timeout: timeout.unwrap_or_default(),
                    });
                }
                Err(RunError::Broken(msg)) => {
                    *guard = None;
                    return Err(self.other(&format!("{msg} (while running: {line})")));
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        match self.session.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn other(&self, message: &str) -> RemoteError {
        RemoteError::Other {
            node: self.config.node.clone(),
            message: message.to_string(),
        }
    }

    fn connect_err(&self, message: String) -> RemoteError {
        RemoteError::Connect {
            node: self.config.node.clone(),
            message,
        }
    }

    fn open_session(&self) -> Result<Session, RemoteError> {
        let c = &self.config;
        if c.host.contains('\0') || c.user.contains('\0') {
            return Err(self.connect_err("host or user contains a NUL byte".into()));
        }
        let addrs: Vec<_> = (c.host.as_str(), c.port)
            .to_socket_addrs()
            .map_err(|e| self.connect_err(format!("cannot resolve {}: {e}", c.host)))?
            .collect();
        let mut last = String::from("no address");
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, c.connect_timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = format!("{a}: {e}"),
            }
        }
        let tcp = tcp.ok_or_else(|| self.connect_err(last))?;
        let _ = tcp.set_nodelay(true);
        let mut sess = Session::new().map_err(|e| self.connect_err(e.to_string()))?;
        sess.set_timeout(millis(c.connect_timeout));
        sess.set_tcp_stream(tcp);
        sess.handshake()
            .map_err(|e| self.connect_err(format!("handshake: {e}")))?;
        self.check_host_key(&sess)?;
        match &c.auth {
            SshAuth::KeyFile(key) => sess
                .userauth_pubkey_file(&c.user, None, key, None)
                .map_err(|e| {
                    self.connect_err(format!(
                        "public key authentication as {} with {} failed: {e}",
                        c.user,
                        key.display()
                    ))
                })?,
            SshAuth::Agent => sess.userauth_agent(&c.user).map_err(|e| {
                self.connect_err(format!(
                    "ssh-agent authentication as {} failed: {e}",
                    c.user
                ))
            })?,
        }
        if !sess.authenticated() {
            return Err(self.connect_err(format!("not authenticated as {}", c.user)));
        }
        sess.set_keepalive(true, 15);
        Ok(sess)
    }

    fn check_host_key(&self, sess: &Session) -> Result<(), RemoteError> {
        let c = &self.config;
        let host_err = |message: String| RemoteError::HostKey {
            node: c.node.clone(),
            message,
        };
        let (key, key_type) = sess
            .host_key()
            .ok_or_else(|| host_err("the server sent no host key".into()))?;
        let mut known = sess
            .known_hosts()
            .map_err(|e| host_err(format!("known_hosts: {e}")))?;
        if c.known_hosts.exists() {
            let text = std::fs::read_to_string(&c.known_hosts)
                .map_err(|e| host_err(format!("reading {}: {e}", c.known_hosts.display())))?;
            // Line by line: libssh2 rejects a whole file for one line it does
            // not understand (@cert-authority, unusual key types).
            for line in text.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if known.read_str(line, KnownHostFileKind::OpenSSH).is_err() {
                    tracing::debug!("skipping a known_hosts line libssh2 cannot parse");
                }
            }
        }
        match known.check_port(&c.host, c.port, key) {
            CheckResult::Match => Ok(()),
            CheckResult::Mismatch => Err(host_err(format!(
                "REFUSING TO CONNECT: the host key of {}:{} differs from the one recorded in {}. \
                 Either the machine was reinstalled or someone is intercepting the connection; \
                 if the change is expected, remove the old entry from that file.",
                c.host,
                c.port,
                c.known_hosts.display()
            ))),
            CheckResult::NotFound if c.accept_new_host_keys => {
                let name = if c.port == 22 {
                    c.host.clone()
                } else {
                    format!("[{}]:{}", c.host, c.port)
                };
                let Some(type_name) = key_type_name(key_type) else {
                    return Err(host_err(format!("unsupported host key type {key_type:?}")));
                };
                // Appended, never rewritten: the rest of the file stays as it was.
                let line = format!(
                    "{name} {type_name} {}\n",
                    base64::engine::general_purpose::STANDARD.encode(key)
                );
                append_line(&c.known_hosts, &line)
                    .map_err(|e| host_err(format!("writing {}: {e}", c.known_hosts.display())))?;
                tracing::info!(node = %c.node, "recorded new host key in {}", c.known_hosts.display());
                Ok(())
            }
            CheckResult::NotFound => Err(host_err(format!(
                "{}:{} is not in {}; connect once with accept_new_host_keys \
                 (or add its key to the file) to trust it",
                c.host,
                c.port,
                c.known_hosts.display()
            ))),
            CheckResult::Failure => Err(host_err("checking the host key failed".into())),
        }
    }
}

/// The OpenSSH name of a host key type.
fn key_type_name(t: ssh2::HostKeyType) -> Option<&'static str> {
    use ssh2::HostKeyType as H;
    Some(match t {
        H::Rsa => "ssh-rsa",
        H::Dss => "ssh-dss",
        H::Ecdsa256 => "ecdsa-sha2-nistp256",
        H::Ecdsa384 => "ecdsa-sha2-nistp384",
        H::Ecdsa521 => "ecdsa-sha2-nistp521",
        H::Ed25519 => "ssh-ed25519",
        H::Unknown => return None,
    })
}

fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(line.as_bytes())
}

enum RunError {
    /// The command was certainly not started (channel could not be opened).
    NotSent(String),
    TimedOut,
    /// The connection broke while the command may have been running.
    Broken(String),
}

fn millis(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}

fn run_on(
    sess: &Session,
    line: &str,
    timeout: Option<Duration>,
    connect_timeout: Duration,
) -> Result<ExecOutput, RunError> {
    let start = Instant::now();
    sess.set_blocking(true);
    sess.set_timeout(millis(connect_timeout));
    let mut ch = sess
        .channel_session()
        .map_err(|e| RunError::NotSent(format!("opening a channel: {e}")))?;
    ch.exec(line)
        .map_err(|e| RunError::Broken(format!("exec: {e}")))?;
    let _ = ch.send_eof();
    // Read both streams without blocking, so a full stderr can never stall
    // stdout, and so the deadline covers the whole command.
    sess.set_blocking(false);
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut buf = [0u8; 16384];
    let result = loop {
        let mut progressed = false;
        let mut stderr = ch.stderr();
        match stderr.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                err.extend_from_slice(&buf[..n]);
                progressed = true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => break Err(RunError::Broken(format!("reading stderr: {e}"))),
        }
        match ch.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                progressed = true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => break Err(RunError::Broken(format!("reading stdout: {e}"))),
        }
        if !progressed && ch.eof() {
            break Ok(());
        }
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                break Err(RunError::TimedOut);
            }
        }
        if !progressed {
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    sess.set_blocking(true);
    result?;
    sess.set_timeout(millis(connect_timeout));
    ch.wait_close()
        .map_err(|e| RunError::Broken(format!("closing the channel: {e}")))?;
    let status = ch
        .exit_status()
        .map_err(|e| RunError::Broken(format!("exit status: {e}")))?;
    let status = match ch.exit_signal() {
        Ok(sig) => match sig.exit_signal.as_deref() {
            Some(name) if status == 0 => 128 + signal_number(name),
            _ => status,
        },
        Err(_) => status,
    };
    Ok(ExecOutput {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        status,
    })
}

/// The number of a signal named by SSH (`"KILL"`), 127 when unknown.
fn signal_number(name: &str) -> i32 {
    match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ABRT" => 6,
        "KILL" => 9,
        "SEGV" => 11,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 127,
    }
}

impl Remote for SshRemote {
    fn node(&self) -> &str {
        &self.config.node
    }

    fn exec(&self, argv: &[&str]) -> Result<ExecOutput, RemoteError> {
        self.exec_line(&shell_join(argv), self.config.command_timeout)
    }

    fn sudo(&self, argv: &[&str]) -> Result<ExecOutput, RemoteError> {
        if self.config.user == "root" {
            return self.exec(argv);
        }
        let mut v = vec!["sudo", "-n", "--"];
        v.extend_from_slice(argv);
        self.exec(&v)
    }

    fn upload(&self, local: &Path, remote: &str) -> Result<(), RemoteError> {
        let data = std::fs::read(local)
            .map_err(|e| self.other(&format!("reading {}: {e}", local.display())))?;
        let mut guard = self.lock();
        for attempt in 1..=2 {
            if guard.is_none() {
                *guard = Some(self.open_session()?);
            }
            let Some(sess) = guard.as_ref() else {
                return Err(self.other("no session"));
            };
            sess.set_blocking(true);
            sess.set_timeout(millis(
                self.config
                    .command_timeout
                    .unwrap_or(Duration::from_secs(600)),
            ));
            let mut ch = match sess.scp_send(Path::new(remote), 0o644, data.len() as u64, None) {
                Ok(ch) => ch,
                Err(e) => {
                    *guard = None;
                    if attempt == 2 {
                        return Err(self.other(&format!("scp to {remote}: {e}")));
                    }
                    continue;
                }
            };
            let r = ch
                .write_all(&data)
                .and_then(|_| ch.flush())
                .map_err(|e| e.to_string())
                .and_then(|_| ch.send_eof().map_err(|e| e.to_string()))
                .and_then(|_| ch.wait_eof().map_err(|e| e.to_string()))
                .and_then(|_| ch.close().map_err(|e| e.to_string()))
                .and_then(|_| ch.wait_close().map_err(|e| e.to_string()));
            return match r {
                Ok(()) => Ok(()),
                Err(e) => {
                    *guard = None;
                    Err(self.other(&format!("scp to {remote}: {e}")))
                }
            };
        }
        Err(self.other("scp: unreachable"))
    }

    fn download(&self, remote: &str, local: &Path) -> Result<(), RemoteError> {
        let mut guard = self.lock();
        for attempt in 1..=2 {
            if guard.is_none() {
                *guard = Some(self.open_session()?);
            }
            let Some(sess) = guard.as_ref() else {
                return Err(self.other("no session"));
            };
            sess.set_blocking(true);
            sess.set_timeout(millis(
                self.config
                    .command_timeout
                    .unwrap_or(Duration::from_secs(600)),
            ));
            let (mut ch, stat) = match sess.scp_recv(Path::new(remote)) {
                Ok(x) => x,
                Err(e) => {
                    // Either the file is missing or the connection died:
                    // try once more on a fresh connection.
                    *guard = None;
                    if attempt == 2 {
                        return Err(self.other(&format!("scp from {remote}: {e}")));
                    }
                    continue;
                }
            };
            let mut data = Vec::with_capacity(stat.size() as usize);
            let r = ch
                .read_to_end(&mut data)
                .map_err(|e| e.to_string())
                .and_then(|_| ch.send_eof().map_err(|e| e.to_string()))
                .and_then(|_| ch.wait_eof().map_err(|e| e.to_string()))
                .and_then(|_| ch.close().map_err(|e| e.to_string()))
                .and_then(|_| ch.wait_close().map_err(|e| e.to_string()));
            if let Err(e) = r {
                *guard = None;
                return Err(self.other(&format!("scp from {remote}: {e}")));
            }
            return std::fs::write(local, &data)
                .map_err(|e| self.other(&format!("writing {}: {e}", local.display())));
        }
        Err(self.other("scp: unreachable"))
    }
}
