//! Remote control of nodes: run commands, copy files.
//!
//! [`Remote`] mirrors Jepsen's control protocol. Its calls block (SSH is
//! blocking); async callers wrap them in `spawn_blocking`.

use std::path::Path;
use std::time::Duration;

pub mod local;
pub mod ssh;

pub use local::LocalRemote;
pub use ssh::{SshAuth, SshConfig, SshRemote};

/// Runs `f` on every remote at once (one thread each) and returns the
/// results in the same order. Blocking remotes make this the usual way to
/// touch a whole cluster.
pub fn on_all<R, T, F>(remotes: &[R], f: F) -> Vec<T>
where
    R: Sync,
    T: Send,
    F: Fn(&R) -> T + Sync,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = remotes.iter().map(|r| s.spawn(|| f(r))).collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

impl ExecOutput {
    /// Turns a non-zero exit status into an error that shows stderr.
    pub fn check(self, node: &str, what: &str) -> Result<ExecOutput, RemoteError> {
        if self.status == 0 {
            Ok(self)
        } else {
            Err(RemoteError::Other {
                node: node.to_string(),
                message: format!(
                    "{what} exited with status {}: {}",
                    self.status,
                    self.stderr.trim()
                ),
            })
        }
    }
}

/// The result of a remote command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{node}: cannot connect: {message}")]
    Connect { node: String, message: String },
    #[error("{node}: host key changed or unknown: {message}")]
    HostKey { node: String, message: String },
    #[error("{node}: command timed out after {timeout:?}: {command}")]
    Timeout {
        node: String,
        command: String,
        timeout: Duration,
    },
    #[error("{node}: {message}")]
    Other { node: String, message: String },
}

/// Runs commands on one node.
///
/// Implementing it means: `exec` runs `argv` (each element quoted, never
/// interpreted by a shell unless the caller asks with `sh -c`) and returns its
/// output and exit status; `sudo` does the same as root; uploads and
/// downloads copy whole files.
pub trait Remote: Send + Sync {
    fn node(&self) -> &str;
    fn exec(&self, argv: &[&str]) -> Result<ExecOutput, RemoteError>;
    fn sudo(&self, argv: &[&str]) -> Result<ExecOutput, RemoteError>;
    fn upload(&self, local: &Path, remote: &str) -> Result<(), RemoteError>;
    fn download(&self, remote: &str, local: &Path) -> Result<(), RemoteError>;
}

/// Quotes one word for a POSIX shell: the result is always a single word
/// with exactly the given bytes.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return word.to_string();
    }
    let mut s = String::with_capacity(word.len() + 2);
    s.push('\'');
    for c in word.chars() {
        if c == '\'' {
            s.push_str("'\\''");
        } else {
            s.push(c);
        }
    }
    s.push('\'');
    s
}

/// Quotes a whole command line.
pub fn shell_join(argv: &[&str]) -> String {
    argv.iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_words() {
        assert_eq!(shell_quote("n1"), "n1");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("x'; rm -rf /; '"), "'x'\\''; rm -rf /; '\\'''");
        assert_eq!(shell_join(&["echo", "$(id)"]), "echo '$(id)'");
    }
}
