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
    let out = r
        .exec(&["sh", "-c", "echo hello; echo oops >&2; exit 7"])
        .unwrap();
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.stderr, "oops\n");
    assert_eq!(out.status, 7);
    // The command really ran inside n1's namespace.
    let out = r
        .exec(&["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
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
    r.exec(&["mkdir", "-p", &remote_dir.to_string_lossy()])
        .unwrap();
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
    assert_eq!(
        r.exec(&["echo", "reconnected"]).unwrap().stdout,
        "reconnected\n"
    );

    // Parallel on all nodes.
    let remotes: Vec<Arc<dyn Remote>> = vec![Arc::new(c.ssh("n1")), Arc::new(c.ssh("n2"))];
    let outs = faultline::control::on_all(&remotes, |r| r.exec(&["hostname", "-I"]));
    let addrs: Vec<String> = outs
        .into_iter()
        .map(|o| o.unwrap().stdout.trim().to_string())
        .collect();
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
        Err(RemoteError::HostKey { message, .. }) => {
            assert!(message.contains("not in"), "{message}")
        }
        other => panic!("unknown host accepted: {other:?}"),
    }
    cfg.accept_new_host_keys = true;
    assert_eq!(
        SshRemote::new(cfg.clone()).exec(&["true"]).unwrap().status,
        0
    );
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

/// Whether `from` can open a TCP connection to `to_addr:22` (sshd).
fn can_connect(from: &dyn Remote, to_addr: &str) -> bool {
    let probe = format!("exec 3<>/dev/tcp/{to_addr}/22");
    let out = from.exec(&["timeout", "1", "bash", "-c", &probe]).unwrap();
    out.status == 0
}

fn remotes_of(c: &Cluster) -> std::collections::BTreeMap<String, Arc<dyn Remote>> {
    c.info.nodes.remotes()
}

#[test]
fn iptables_partition_blocks_and_heal_restores() {
    use faultline::nemesis::{Fault, Nemesis};
    use faultline::net;
    let c = Cluster::up(3, "10.231.3.0/24");
    let remotes = remotes_of(&c);
    let addrs = c.info.nodes.addresses();
    let (n1, n2, n3) = (&remotes["n1"], &remotes["n2"], &remotes["n3"]);
    assert!(
        can_connect(n1.as_ref(), &addrs["n2"]),
        "before the partition"
    );

    // A database that is never touched: only partitions are under test here.
    struct NoDb;
    impl faultline::db::Db for NoDb {
        fn setup(&self, _: &[String]) -> anyhow::Result<()> {
            Ok(())
        }
        fn teardown(&self, _: &[String]) -> anyhow::Result<()> {
            Ok(())
        }
        fn start(&self, _: &str) -> anyhow::Result<()> {
            Ok(())
        }
        fn kill(&self, _: &str) -> anyhow::Result<()> {
            Ok(())
        }
        fn pause(&self, _: &str) -> anyhow::Result<()> {
            Ok(())
        }
        fn resume(&self, _: &str) -> anyhow::Result<()> {
            Ok(())
        }
    }
    let nemesis =
        faultline::nemesis::real::RealNemesis::new(remotes.clone(), addrs.clone(), Arc::new(NoDb));
    let names = c.info.nodes.names();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(nemesis.invoke(&Fault::Partition(net::isolate_one(&names, "n1"))))
        .unwrap();
    assert!(
        !can_connect(n1.as_ref(), &addrs["n2"]),
        "n1 → n2 must be cut"
    );
    assert!(
        !can_connect(n2.as_ref(), &addrs["n1"]),
        "n2 → n1 must be cut"
    );
    assert!(can_connect(n2.as_ref(), &addrs["n3"]), "n2 → n3 untouched");
    // The controlling host still reaches the isolated node.
    assert_eq!(n1.exec(&["true"]).unwrap().status, 0);
    let rules = n1.sudo(&["iptables", "-S", "FAULTLINE"]).unwrap().stdout;
    assert!(rules.contains("-s 10.231.3.3/32 -j DROP"), "{rules}");

    // A new partition replaces the old one.
    let g = net::bridge(&["n3".to_string(), "n1".into(), "n2".into()]);
    rt.block_on(nemesis.invoke(&Fault::Partition(g))).unwrap();
    assert!(!can_connect(n1.as_ref(), &addrs["n2"]));
    assert!(can_connect(n1.as_ref(), &addrs["n3"]));
    assert!(can_connect(n3.as_ref(), &addrs["n2"]));

    rt.block_on(nemesis.invoke(&Fault::Heal)).unwrap();
    assert!(
        can_connect(n1.as_ref(), &addrs["n2"]),
        "heal restores n1 → n2"
    );
    assert!(can_connect(n2.as_ref(), &addrs["n1"]));
    for r in remotes.values() {
        let all = r.sudo(&["iptables", "-S"]).unwrap().stdout;
        assert!(
            !all.contains("FAULTLINE"),
            "{}: left behind: {all}",
            r.node()
        );
    }
    // Healing again is harmless.
    rt.block_on(nemesis.heal_all()).unwrap();
}

#[test]
fn etcd_cluster_on_three_nodes() {
    use faultline::client::etcd::{EtcdClientFactory, EtcdClientOptions};
    use faultline::client::Invocation;
    use faultline::db::etcd::{EtcdDb, EtcdOptions};
    use faultline::db::Db;
    use faultline::history::OpType;
    use serde_json::json;

    let c = Cluster::up(3, "10.231.4.0/24");
    let names = c.info.nodes.names();
    let db = EtcdDb::new(
        remotes_of(&c),
        c.info.nodes.addresses(),
        EtcdOptions {
            work_dir: c.info.nodes.work_dir.clone(),
            ..EtcdOptions::default()
        },
    );
    db.setup(&names).expect("etcd comes up healthy");
    for n in &names {
        assert!(db.healthy(n), "{n} healthy");
    }
    let factory = EtcdClientFactory::new(db.client_urls(), EtcdClientOptions::default());
    let op = |f: &str, key: Option<serde_json::Value>, value: serde_json::Value| Invocation {
        f: f.into(),
        key,
        value,
    };
    let c1 = factory.client("n1").unwrap();
    let c2 = factory.client("n2").unwrap();
    let c3 = factory.client("n3").unwrap();

    // Register: absent, write, read elsewhere, cas.
    let r = c1.invoke_blocking(&op("read", None, json!(null)));
    assert_eq!((r.op_type, r.value), (OpType::Ok, json!(null)));
    let w = c1.invoke_blocking(&op("write", None, json!(3)));
    assert_eq!(w.op_type, OpType::Ok, "{w:?}");
    let r = c2.invoke_blocking(&op("read", None, json!(null)));
    assert_eq!((r.op_type, r.value), (OpType::Ok, json!(3)));
    let ok = c3.invoke_blocking(&op("cas", None, json!([3, 4])));
    assert_eq!(ok.op_type, OpType::Ok, "{ok:?}");
    let no = c3.invoke_blocking(&op("cas", None, json!([3, 5])));
    assert_eq!(no.op_type, OpType::Fail, "cas against a stale value fails");
    let r = c1.invoke_blocking(&op("read", None, json!(null)));
    assert_eq!(r.value, json!(4));
    // Keys with hostile characters are just keys.
    let k = Some(json!("k'$(id);\"x"));
    assert_eq!(
        c1.invoke_blocking(&op("write", k.clone(), json!("v'\"")))
            .op_type,
        OpType::Ok
    );
    assert_eq!(
        c2.invoke_blocking(&op("read", k, json!(null))).value,
        json!("v'\"")
    );

    // List-append transactions.
    let t = c1.invoke_blocking(&op(
        "txn",
        None,
        json!([["append", "x", 1], ["r", "x", null]]),
    ));
    assert_eq!(t.op_type, OpType::Ok, "{t:?}");
    assert_eq!(t.value, json!([["append", "x", 1], ["r", "x", [1]]]));
    let t = c2.invoke_blocking(&op(
        "txn",
        None,
        json!([["append", "x", 2], ["append", "y", 9], ["r", "x", null]]),
    ));
    assert_eq!(
        t.value,
        json!([["append", "x", 2], ["append", "y", 9], ["r", "x", [1, 2]]])
    );
    let t = c3.invoke_blocking(&op(
        "txn",
        None,
        json!([["r", "y", null], ["r", "z", null]]),
    ));
    assert_eq!(t.value, json!([["r", "y", [9]], ["r", "z", null]]));

    // Sets.
    let sets = EtcdClientFactory::new(
        db.client_urls(),
        EtcdClientOptions {
            set_reads: true,
            ..EtcdClientOptions::default()
        },
    );
    let s1 = sets.client("n1").unwrap();
    for v in [5, 1, 3] {
        assert_eq!(
            s1.invoke_blocking(&op("add", None, json!(v))).op_type,
            OpType::Ok
        );
    }
    let r = sets
        .client("n3")
        .unwrap()
        .invoke_blocking(&op("read", None, json!(null)));
    assert_eq!(r.value, json!([1, 3, 5]));

    // Kill one node: the others still serve; requests to it fail definitely.
    db.kill("n3").unwrap();
    assert!(!db.running("n3").unwrap());
    let w = c1.invoke_blocking(&op("write", None, json!(10)));
    assert_eq!(w.op_type, OpType::Ok, "majority still writes: {w:?}");
    let dead = c3.invoke_blocking(&op("write", None, json!(11)));
    assert_eq!(dead.op_type, OpType::Fail, "connection refused: {dead:?}");
    db.kill("n3").unwrap(); // idempotent
    db.start("n3").unwrap();
    db.wait_healthy(&names, Duration::from_secs(20)).unwrap();
    let r = c3.invoke_blocking(&op("read", None, json!(null)));
    assert_eq!(
        (r.op_type, r.value),
        (OpType::Ok, json!(10)),
        "restarted node caught up"
    );

    // Pause: a paused node answers nothing; resume brings it back.
    db.pause("n2").unwrap();
    assert!(!db.healthy("n2"));
    db.resume("n2").unwrap();
    db.wait_healthy(&names, Duration::from_secs(20)).unwrap();

    let logs = c.dir().join("logs");
    db.collect_logs(&names, &logs).unwrap();
    let log = std::fs::read_to_string(logs.join("n1-etcd.log")).unwrap();
    assert!(log.contains("n1"), "etcd log collected");

    db.teardown(&names).unwrap();
    for n in &names {
        assert!(!db.running(n).unwrap());
        assert!(!Path::new(&db.node_dir(n)).exists(), "data wiped");
    }
}
