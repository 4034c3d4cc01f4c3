//! Real-cluster tests: network namespaces, real sshd, iptables, real etcd.
//!
//! They need root, iproute2, iptables, openssh-server and etcd-server. A
//! missing prerequisite makes them fail with a message saying what to
//! install; they never skip. Each test builds its own cluster on its own
//! subnet in a temporary directory and tears it down on every exit path
//! (the guard's Drop runs on panic too).

use faultline::cluster::{self, ClusterInfo, UpOptions};
use faultline::control::{Remote, RemoteError, SshRemote};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running cluster, removed on drop.
struct Cluster {
    info: ClusterInfo,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    fn up(nodes: usize, subnet: &str) -> Cluster {
        // SAFETY: geteuid has no preconditions.
        assert!(
            unsafe { libc::geteuid() } == 0,
            "the cluster tests need root (network namespaces, iptables)"
        );
        if let Err(e) = cluster::require_tools(&[
            ("ip", "iproute2"),
            ("iptables", "iptables"),
            ("sshd", "openssh-server"),
            ("ssh-keygen", "openssh-client"),
            ("etcd", "etcd-server"),
        ]) {
            panic!("prerequisite missing: {e}");
        }
        let tmp = tempfile::Builder::new()
            .prefix("faultline-cluster-test")
            .tempdir()
            .expect("temp dir");
        let opts = UpOptions {
            nodes,
            regions: 1,
            subnet: subnet.into(),
            dir: tmp.path().to_path_buf(),
        };
        let info = match cluster::up(&opts) {
            Ok(i) => i,
            Err(e) => panic!("cluster up failed: {e}"),
        };
        Cluster { info, _tmp: tmp }
    }

    fn ssh(&self, node: &str) -> SshRemote {
        let n = self.info.nodes.node(node).expect("node in nodes file");
        SshRemote::new(self.info.nodes.ssh_config(n))
    }

    fn dir(&self) -> &Path {
        &self.info.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = cluster::down(&self.info.dir) {
            eprintln!("cluster down failed: {e}");
        }
    }
}

#[test]
fn ssh_remote_against_real_sshd() {
    let c = Cluster::up(2, "10.231.1.0/24");
    let r = c.ssh("n1");

    // stdout, stderr, exit codes.
    let out = r.exec(&["sh", "-c", "echo hello; echo oops >&2; exit 7"]).unwrap();
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.stderr, "oops\n");
    assert_eq!(out.status, 7);
    // The command really ran inside n1's namespace.
    let out = r.exec(&["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).unwrap();
    assert!(out.stdout.contains("10.231.1.2/24"), "{}", out.stdout);
    assert_eq!(r.sudo(&["id", "-u"]).unwrap().stdout.trim(), "0");

    // Hostile strings reach the program byte for byte.
    for hostile in [
        "it's",
        "\"double\"",
        "$(touch /tmp/faultline-pwned)",
        "`id`",
        "a; echo injected",
        "x && false || true",
        "new\nline",
        "back\\slash",
        "*",
        "",
    ] {
        let out = r.exec(&["printf", "%s", hostile]).unwrap();
        assert_eq!(out.stdout, hostile, "round trip of {hostile:?}");
        assert_eq!(out.status, 0);
    }
    assert!(!Path::new("/tmp/faultline-pwned").exists());

    // Upload and download, to a path with a space and a quote.
    let remote_dir = c.dir().join("n1").join("up'load dir");
    r.exec(&["mkdir", "-p", &remote_dir.to_string_lossy()]).unwrap();
    let local = c.dir().join("payload.bin");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&local, &payload).unwrap();
    let remote_path = remote_dir.join("p $x.bin").to_string_lossy().into_owned();
    r.upload(&local, &remote_path).unwrap();
    let out = r.exec(&["wc", "-c", &remote_path]).unwrap();
    assert!(out.stdout.starts_with("200000 "), "{}", out.stdout);
    let back = c.dir().join("back.bin");
    r.download(&remote_path, &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), payload);
    assert!(r.download("/no/such/file", &back).is_err());

    // Command timeouts: reported as such, promptly, and the connection
    // is usable again afterwards.
    let mut cfg = r.config().clone();
    cfg.command_timeout = Some(Duration::from_secs(1));
    let short = SshRemote::new(cfg);
    let t = Instant::now();
    match short.exec(&["sleep", "30"]) {
        Err(RemoteError::Timeout { .. }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(short.exec(&["echo", "again"]).unwrap().stdout, "again\n");

    // Reconnect after a drop: kill our own sshd session processes.
    r.disconnect();
    assert_eq!(r.exec(&["echo", "reconnected"]).unwrap().stdout, "reconnected\n");

    // Parallel on all nodes.
    let remotes: Vec<Arc<dyn Remote>> = vec![Arc::new(c.ssh("n1")), Arc::new(c.ssh("n2"))];
    let outs = faultline::control::on_all(&remotes, |r| r.exec(&["hostname", "-I"]));
    let addrs: Vec<String> = outs.into_iter().map(|o| o.unwrap().stdout.trim().to_string()).collect();
    assert_eq!(addrs, vec!["10.231.1.2", "10.231.1.3"]);
}

#[test]
fn ssh_host_keys_are_checked() {
    let c = Cluster::up(1, "10.231.2.0/24");
    let good = c.ssh("n1");
    assert_eq!(good.exec(&["true"]).unwrap().status, 0);

    // Unknown host: refused unless first contact is explicitly allowed.
    let empty_kh = c.dir().join("empty_known_hosts");
    let mut cfg = good.config().clone();
    cfg.known_hosts = empty_kh.clone();
    match SshRemote::new(cfg.clone()).exec(&["true"]) {
        Err(RemoteError::HostKey { message, .. }) => assert!(message.contains("not in"), "{message}"),
        other => panic!("unknown host accepted: {other:?}"),
    }
    cfg.accept_new_host_keys = true;
    assert_eq!(SshRemote::new(cfg.clone()).exec(&["true"]).unwrap().status, 0);
    let recorded = std::fs::read_to_string(&empty_kh).unwrap();
    assert!(recorded.contains("10.231.2.2 ssh-ed25519 "), "{recorded}");

    // A changed key: the recorded key belongs to another host key.
    let other = c.dir().join("other_key");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(st.success());
    let other_pub = std::fs::read_to_string(c.dir().join("other_key.pub")).unwrap();
    let mut w = other_pub.split_whitespace();
    let forged = c.dir().join("forged_known_hosts");
    std::fs::write(
        &forged,
        format!("10.231.2.2 {} {}\n", w.next().unwrap(), w.next().unwrap()),
    )
    .unwrap();
    cfg.known_hosts = forged;
    cfg.accept_new_host_keys = true; // even so
    match SshRemote::new(cfg).exec(&["true"]) {
        Err(RemoteError::HostKey { message, .. }) => {
            assert!(message.contains("REFUSING"), "{message}")
        }
        other => panic!("changed host key accepted: {other:?}"),
    }
}
