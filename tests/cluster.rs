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

/// A /24 for test number `k`. The second octet depends on the process id so
/// that two test runs on one machine (two worktrees) never share a subnet,
/// which would also mean sharing namespace and bridge names.
fn subnet(k: u8) -> String {
    format!("10.{}.{k}.0/24", 200 + std::process::id() % 50)
}

/// The address of host `.h` in test subnet `k`.
fn addr(k: u8, h: u8) -> String {
    format!("10.{}.{k}.{h}", 200 + std::process::id() % 50)
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
    let c = Cluster::up(2, &subnet(1));
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
    assert!(
        out.stdout.contains(&format!("{}/24", addr(1, 2))),
        "{}",
        out.stdout
    );
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

    // Reconnect after a clean disconnect...
    r.disconnect();
    assert_eq!(
        r.exec(&["echo", "reconnected"]).unwrap().stdout,
        "reconnected\n"
    );
    // ...and after the connection is cut under us: the command kills the
    // per-connection sshd it runs under (the listener's child among its
    // ancestors), so this call fails and the next one must reconnect.
    let listener = std::fs::read_to_string(c.dir().join("n1").join("sshd.pid")).unwrap();
    let cut = format!(
        "p=$$; while [ \"$p\" -gt 1 ]; do pp=$(awk '{{print $4}}' /proc/$p/stat); \
         if [ \"$pp\" = {} ]; then kill -9 \"$p\"; sleep 5; fi; p=$pp; done; exit 3",
        listener.trim()
    );
    let dropped = r.exec(&["sh", "-c", &cut]);
    assert!(dropped.is_err(), "the connection was cut: {dropped:?}");
    assert_eq!(r.exec(&["echo", "back"]).unwrap().stdout, "back\n");

    // Parallel on all nodes.
    let remotes: Vec<Arc<dyn Remote>> = vec![Arc::new(c.ssh("n1")), Arc::new(c.ssh("n2"))];
    let outs = faultline::control::on_all(&remotes, |r| r.exec(&["hostname", "-I"]));
    let addrs: Vec<String> = outs
        .into_iter()
        .map(|o| o.unwrap().stdout.trim().to_string())
        .collect();
    assert_eq!(addrs, vec![addr(1, 2), addr(1, 3)]);
}

#[test]
fn ssh_host_keys_are_checked() {
    let c = Cluster::up(1, &subnet(2));
    let good = c.ssh("n1");
    assert_eq!(good.exec(&["true"]).unwrap().status, 0);

    // Unknown host: refused unless first contact is explicitly allowed.
    let empty_kh = c.dir().join("empty_known_hosts");
    // Lines libssh2 does not understand must neither break the check nor
    // be lost when a new key is recorded.
    let foreign = "# a comment\n@cert-authority *.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBogus\nnot a valid line\n";
    std::fs::write(&empty_kh, foreign).unwrap();
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
    assert!(recorded.starts_with(foreign), "{recorded}");
    assert_eq!(
        SshRemote::new(cfg.clone()).exec(&["true"]).unwrap().status,
        0,
        "the recorded key is read back"
    );
    assert_eq!(
        std::fs::read_to_string(&empty_kh).unwrap(),
        recorded,
        "recorded once"
    );
    assert!(
        recorded.contains(&format!("{} ssh-ed25519 ", addr(2, 2))),
        "{recorded}"
    );

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
        format!(
            "{} {} {}\n",
            addr(2, 2),
            w.next().unwrap(),
            w.next().unwrap()
        ),
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
    let c = Cluster::up(3, &subnet(3));
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
    assert!(
        rules.contains(&format!("-s {}/32 -j DROP", addr(3, 3))),
        "{rules}"
    );

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
    use faultline::client::Invocation;
    use faultline::db::Db;
    use faultline::history::OpType;
    use faultline::systems::etcd::{EtcdClientFactory, EtcdClientOptions};
    use faultline::systems::etcd::{EtcdDb, EtcdOptions};
    use serde_json::json;

    let c = Cluster::up(3, &subnet(4));
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

#[test]
fn cluster_up_status_down_leaves_nothing() {
    let c = Cluster::up(2, &subnet(5));
    let dir = c.dir().to_path_buf();
    let nodes = cluster::load_nodes(&c.info.nodes_file).unwrap();
    assert_eq!(nodes, c.info.nodes);
    assert_eq!(nodes.names(), vec!["n1", "n2"]);
    let st = cluster::status(&dir).unwrap();
    assert!(
        st.contains(&format!("n1: {}", addr(5, 2))) && st.contains(&format!("n2: {}", addr(5, 3))),
        "{st}"
    );
    assert!(st.contains("running"), "{st}");

    // LocalRemote runs inside a node's namespace without SSH.
    let ns = c.info.nodes.nodes[1].netns.clone().unwrap();
    let local = faultline::control::LocalRemote::in_netns("n2", &ns);
    let out = local.exec(&["hostname", "-I"]).unwrap();
    assert_eq!(out.stdout.trim(), addr(5, 3));

    // The same subnet cannot be brought up twice.
    let tmp2 = tempfile::tempdir().unwrap();
    let again = cluster::up(&UpOptions {
        nodes: 1,
        regions: 1,
        subnet: subnet(5),
        dir: tmp2.path().to_path_buf(),
    });
    assert!(again.is_err(), "second cluster on the same subnet");
    // Nor the same directory.
    let again = cluster::up(&UpOptions {
        nodes: 1,
        regions: 1,
        subnet: subnet(6),
        dir: dir.clone(),
    });
    assert!(
        matches!(again, Err(cluster::ClusterError::AlreadyUp(_))),
        "{again:?}"
    );

    // A process started inside a node (as a database would be) is removed too.
    let r = c.ssh("n1");
    let out = r
        .exec(&[
            "sh",
            "-c",
            "setsid sleep 300 >/dev/null 2>&1 </dev/null & echo $!",
        ])
        .unwrap();
    let sleeper: u32 = out.stdout.trim().parse().unwrap();
    let sshd_pids: Vec<u32> = ["n1", "n2"]
        .iter()
        .map(|n| {
            std::fs::read_to_string(dir.join(n).join("sshd.pid"))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    // Alive = exists and is not a zombie waiting for init to reap it.
    let alive = |p: u32| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|s| {
                !s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    };
    assert!(alive(sleeper) && sshd_pids.iter().all(|p| alive(*p)));

    cluster::down(&dir).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!alive(sleeper), "process inside the namespace killed");
    assert!(sshd_pids.iter().all(|p| !alive(*p)), "sshd killed");
    let netns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let netns = String::from_utf8_lossy(&netns.stdout);
    let tag = format!("fl0a{:02x}05", 200 + std::process::id() % 50);
    assert!(
        !netns.contains(&format!("{tag}-")),
        "namespaces removed: {netns}"
    );
    assert!(
        !Path::new(&format!("/sys/class/net/{tag}br")).exists(),
        "bridge removed"
    );
    for generated in [
        "id_ed25519",
        "known_hosts",
        "nodes.toml",
        "n1",
        "n2",
        "work",
    ] {
        assert!(!dir.join(generated).exists(), "{generated} removed");
    }
    assert!(matches!(
        cluster::down(&dir),
        Err(cluster::ClusterError::NotUp(_))
    ));
    assert!(cluster::status(&dir).is_err());
}

#[test]
fn etcd_under_partition_and_kill() {
    use faultline::client::Invocation;
    use faultline::db::Db;
    use faultline::history::OpType;
    use faultline::nemesis::{Fault, Nemesis};
    use faultline::systems::etcd::{etcd_parts, EtcdTable};
    use serde_json::json;

    let c = Cluster::up(3, &subnet(7));
    let names = c.info.nodes.names();
    // Built the way `faultline test` builds a db = "etcd" run: from the
    // [etcd] table and the nodes file.
    let table = EtcdTable {
        nodes_file: Some(c.info.nodes_file.clone()),
        request_timeout: 2.0,
        ..EtcdTable::default()
    };
    let parts = etcd_parts(&table, &names, false, Duration::from_secs(2)).unwrap();
    let (db, nemesis) = (parts.db.clone(), parts.nemesis.clone());
    db.setup(&names).expect("etcd comes up healthy");
    let lin = parts.clients.clone();
    let ser = etcd_parts(
        &EtcdTable {
            serializable: true,
            ..table.clone()
        },
        &names,
        false,
        Duration::from_secs(2),
    )
    .unwrap()
    .clients;
    let op = |f: &str, value: serde_json::Value| Invocation {
        f: f.into(),
        key: Some(json!(1)),
        value,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();

    assert_eq!(
        lin.client("n2")
            .unwrap()
            .invoke_blocking(&op("write", json!(1)))
            .op_type,
        OpType::Ok
    );
    // Wait until n1 has applied it, so the stale value below is 1.
    let deadline = Instant::now() + Duration::from_secs(5);
    while ser
        .client("n1")
        .unwrap()
        .invoke_blocking(&op("read", json!(null)))
        .value
        != json!(1)
    {
        assert!(Instant::now() < deadline, "n1 never saw the first write");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Isolate n1; the majority keeps writing.
    rt.block_on(nemesis.invoke(&Fault::Partition(faultline::net::isolate_one(&names, "n1"))))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let w = lin
            .client("n2")
            .unwrap()
            .invoke_blocking(&op("write", json!(2)));
        if w.op_type == OpType::Ok {
            break;
        }
        assert!(Instant::now() < deadline, "majority cannot write: {w:?}");
    }
    // A serializable read on n1 is stale; a linearizable one does not succeed.
    let stale = ser
        .client("n1")
        .unwrap()
        .invoke_blocking(&op("read", json!(null)));
    assert_eq!(
        (stale.op_type, stale.value),
        (OpType::Ok, json!(1)),
        "stale read on the isolated node"
    );
    let l = lin
        .client("n1")
        .unwrap()
        .invoke_blocking(&op("read", json!(null)));
    assert_eq!(
        l.op_type,
        OpType::Fail,
        "linearizable read on the minority: {l:?}"
    );
    // A write on the isolated node cannot be acknowledged: indeterminate.
    let w = lin
        .client("n1")
        .unwrap()
        .invoke_blocking(&op("write", json!(3)));
    assert_eq!(w.op_type, OpType::Info, "{w:?}");

    // Kill a majority node too, then heal everything.
    rt.block_on(nemesis.invoke(&Fault::Kill(vec!["n3".into()])))
        .unwrap();
    assert!(!db.running("n3").unwrap());
    rt.block_on(nemesis.invoke(&Fault::Pause(vec!["n2".into()])))
        .unwrap();
    rt.block_on(nemesis.heal_all())
        .expect("heal_all heals, resumes, restarts, waits");
    for n in &names {
        assert!(db.running(n).unwrap() && db.healthy(n), "{n} back");
    }
    let r = lin
        .client("n1")
        .unwrap()
        .invoke_blocking(&op("read", json!(null)));
    assert_eq!(r.op_type, OpType::Ok);
    assert!(r.value == json!(2) || r.value == json!(3), "{r:?}");
    rt.block_on(nemesis.heal_all()).unwrap();
    db.teardown(&names).unwrap();
}

#[test]
fn etcd_workloads_through_the_runner() {
    use faultline::runner::{progress::ProgressMode, run_blocking, RunOptions};
    let c = Cluster::up(3, &subnet(8));
    let runs = c.dir().join("runs");
    let run = |text: &str, stem: &str| {
        let text = format!(
            "{text}\n[etcd]\nnodes_file = {:?}\nrequest_timeout = 2.0\n{}",
            c.info.nodes_file.to_string_lossy(),
            if stem.contains("serializable") {
                "serializable = true\n"
            } else {
                ""
            }
        );
        let w = faultline::workload::parse(&text, stem, stem).unwrap();
        let opts = RunOptions {
            runs_dir: runs.clone(),
            progress: ProgressMode::Quiet,
            ..RunOptions::default()
        };
        run_blocking(&w, &opts).unwrap()
    };
    let common = "db = \"etcd\"\nnodes = 3\nworkload = \"register\"\nkeys = 2\n\
                  concurrency = 6\nrate = 60\nduration = 8\ntimeout = 2\nseed = 11\nfinal_reads = false\n";

    // Linearizable reads under isolation and a kill: valid.
    let lin = run(
        &format!(
            "{common}checkers = [\"linearizable\"]\n[mix]\nread = 0.5\nwrite = 0.4\ncas = 0.1\n\
             [nemesis]\nfaults = [\"isolate-one\", \"kill\"]\ninterval = 1\nduration = 2\n"
        ),
        "etcd-lin",
    );
    assert_eq!(lin.exit_code(), 0, "{:?}", lin.results);
    let history = std::fs::read_to_string(&lin.history_path).unwrap();
    assert!(history.contains("\"nemesis\""), "nemesis ops recorded");
    assert!(history.contains("\"node\":\"n3\""), "ops name their node");
    assert!(
        lin.run_dir.join("logs").join("n2-etcd.log").exists(),
        "logs collected"
    );

    // Serializable reads on a node cut off from the majority: stale.
    let ser = run(
        &format!(
            "{common}[mix]\nread = 0.8\nwrite = 0.2\ncas = 0.0\n\
             [nemesis]\nfaults = [\"isolate-one\"]\ninterval = 1\nduration = 6\n"
        ),
        "etcd-serializable",
    );
    assert_eq!(
        ser.exit_code(),
        1,
        "stale reads expected: {:?}",
        ser.results
    );
}
