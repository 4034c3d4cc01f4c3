//! The nodes file: which machines a test runs against and how to reach them.
//!
//! `faultline cluster up` writes one for the local cluster; for real
//! machines the user writes it by hand. Relative paths in it are relative to
//! the file's own directory, so a cluster directory can be moved whole.
//!
//! ```toml
//! work_dir = "/var/tmp/faultline"    # where databases keep files on each node
//!
//! [ssh]
//! user = "admin"                     # root, or a user with passwordless sudo
//! key = "~/.ssh/id_ed25519"          # or: agent = true
//! known_hosts = "~/.ssh/known_hosts"
//! accept_new_host_keys = false       # true: trust hosts seen for the first time
//!
//! [[node]]
//! name = "n1"
//! address = "192.168.1.21"
//! region = "eu"                      # optional, for region-split partitions
//! ```

use super::ClusterError;
use crate::control::{Remote, SshAuth, SshConfig, SshRemote};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How to log in to every node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSection {
    #[serde(default = "default_user")]
    pub user: String,
    /// Private key file; when absent, `agent` must be true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Authenticate with ssh-agent instead of a key file.
    #[serde(default)]
    pub agent: bool,
    /// The known_hosts file (default `~/.ssh/known_hosts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub accept_new_host_keys: bool,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_command_timeout")]
    pub command_timeout_secs: u64,
}

fn default_user() -> String {
    "root".into()
}
fn default_port() -> u16 {
    22
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_command_timeout() -> u64 {
    60
}

/// One machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    pub name: String,
    /// Address (or host name) both SSH and the database clients use.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The network namespace of a local-cluster node (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// Overrides `[ssh] port` for this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<u16>,
}

/// The whole file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodesFile {
    /// Directory on each node where databases keep their files.
    #[serde(default = "default_work_dir")]
    pub work_dir: String,
    pub ssh: SshSection,
    #[serde(rename = "node", default)]
    pub nodes: Vec<NodeEntry>,
}

fn default_work_dir() -> String {
    "/var/tmp/faultline".into()
}

fn expand(base: &Path, p: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

impl NodesFile {
    /// Parses and validates a nodes file given as text; relative paths are
    /// resolved against `base`.
    pub fn parse(text: &str, base: &Path, origin: &Path) -> Result<NodesFile, ClusterError> {
        let bad = |message: String| ClusterError::NodesFile {
            path: origin.to_path_buf(),
            message,
        };
        let mut f: NodesFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if f.nodes.is_empty() {
            return Err(bad("no [[node]] entries".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for n in &f.nodes {
            if n.name.is_empty() || n.name.contains('\0') || n.address.contains('\0') {
                return Err(bad(format!("bad node name or address: {:?}", n.name)));
            }
            if !seen.insert(n.name.clone()) {
                return Err(bad(format!("node {} is listed twice", n.name)));
            }
        }
        match (&f.ssh.key, f.ssh.agent) {
            (None, false) => {
                return Err(bad("[ssh] needs `key = \"path\"` or `agent = true`".into()))
            }
            (Some(_), true) => return Err(bad("[ssh] has both `key` and `agent = true`".into())),
            _ => {}
        }
        f.ssh.key = f.ssh.key.as_deref().map(|k| expand(base, k));
        f.ssh.known_hosts = Some(match f.ssh.known_hosts.as_deref() {
            Some(k) => expand(base, k),
            None => expand(base, Path::new("~/.ssh/known_hosts")),
        });
        Ok(f)
    }

    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    pub fn node(&self, name: &str) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// node → address.
    pub fn addresses(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .map(|n| (n.name.clone(), n.address.clone()))
            .collect()
    }

    /// node → region, for nodes that have one.
    pub fn regions(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .filter_map(|n| n.region.clone().map(|r| (n.name.clone(), r)))
            .collect()
    }

    /// The SSH settings for one node.
    pub fn ssh_config(&self, node: &NodeEntry) -> SshConfig {
        let s = &self.ssh;
        let auth = match &s.key {
            Some(k) => SshAuth::KeyFile(k.clone()),
            None => SshAuth::Agent,
        };
        let kh = s
            .known_hosts
            .clone()
            .unwrap_or_else(|| PathBuf::from("known_hosts"));
        let mut c = SshConfig::new(&node.name, &node.address, &s.user, auth, &kh);
        c.port = node.ssh_port.unwrap_or(s.port);
        c.accept_new_host_keys = s.accept_new_host_keys;
        c.connect_timeout = Duration::from_secs(s.connect_timeout_secs.max(1));
        c.command_timeout = Some(Duration::from_secs(s.command_timeout_secs.max(1)));
        c
    }

    /// One (not yet connected) SSH remote per node, keyed by node name.
    pub fn remotes(&self) -> BTreeMap<String, Arc<dyn Remote>> {
        self.nodes
            .iter()
            .map(|n| {
                let r: Arc<dyn Remote> = Arc::new(SshRemote::new(self.ssh_config(n)));
                (n.name.clone(), r)
            })
            .collect()
    }

    /// The file as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// Reads and validates a nodes file.
pub fn load_nodes(path: &Path) -> Result<NodesFile, ClusterError> {
    let text = std::fs::read_to_string(path).map_err(|e| ClusterError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    NodesFile::parse(&text, base, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_paths() {
        let text = r#"
            [ssh]
            user = "admin"
            key = "id_ed25519"
            known_hosts = "/etc/kh"
            [[node]]
            name = "n1"
            address = "10.0.0.2"
            region = "eu"
            [[node]]
            name = "n2"
            address = "10.0.0.3"
        "#;
        let f = NodesFile::parse(text, Path::new("/d"), Path::new("/d/nodes.toml")).unwrap();
        assert_eq!(f.ssh.key.as_deref(), Some(Path::new("/d/id_ed25519")));
        assert_eq!(f.ssh.known_hosts.as_deref(), Some(Path::new("/etc/kh")));
        assert_eq!(f.names(), vec!["n1", "n2"]);
        assert_eq!(f.regions().len(), 1);
        assert_eq!(f.work_dir, "/var/tmp/faultline");
        let c = f.ssh_config(&f.nodes[1]);
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_str()),
            ("10.0.0.3", 22, "admin")
        );
        // Round trip.
        let again = NodesFile::parse(&f.to_toml(), Path::new("/x"), Path::new("x")).unwrap();
        assert_eq!(again, f);
    }

    #[test]
    fn rejects_bad_files() {
        let p = Path::new("n.toml");
        for text in [
            "[ssh]\nkey='k'\n",
            "[ssh]\n[[node]]\nname='a'\naddress='b'\n",
            "[ssh]\nkey='k'\n[[node]]\nname='a'\naddress='b'\n[[node]]\nname='a'\naddress='c'\n",
            "[ssh]\nkey='k'\nbogus=1\n[[node]]\nname='a'\naddress='b'\n",
            "not toml [",
        ] {
            let e = NodesFile::parse(text, Path::new("."), p).unwrap_err();
            assert!(e.to_string().contains("n.toml"), "{e}");
        }
    }
}
