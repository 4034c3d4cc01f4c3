//! A cluster on one Linux host: network namespaces on a bridge, one sshd each.
//!
//! Why: a real fault-injection test needs separate network stacks (so
//! iptables in one "node" cuts it off from the others) and real SSH (so the
//! same code path drives laptops and data centres). Namespaces give both on
//! a single machine without containers.
//!
//! Everything `up` creates is recorded in `<dir>/state.json` the moment it
//! exists, so `down` removes exactly that — namespaces, the bridge, every
//! process running inside the namespaces (found by namespace, killed by pid),
//! and the files it generated — even after a half-finished `up`. Keys, sshd
//! configs, pid files and logs all live in the cluster directory; nothing
//! global is changed except that `/run/sshd` (sshd's privilege-separation
//! directory) is created if absent.

mod nodes;

pub use nodes::{load_nodes, NodeEntry, NodesFile, SshSection};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the local cluster needs root (network namespaces, iptables); run as root")]
    NotRoot,
    #[error("missing tools: {tools}; install the Debian packages: apt-get install -y {packages}")]
    MissingTools { tools: String, packages: String },
    #[error("`{command}` failed (status {status}): {stderr}")]
    Command {
        command: String,
        status: i32,
        stderr: String,
    },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    NodesFile { path: PathBuf, message: String },
    #[error("a cluster is already up in {0} (run `faultline cluster down` first)")]
    AlreadyUp(PathBuf),
    #[error("no cluster in {0} (no state.json)")]
    NotUp(PathBuf),
    #[error("{0}")]
    BadOption(String),
    #[error("node {node}: {message}")]
    Node { node: String, message: String },
}

type Result<T> = std::result::Result<T, ClusterError>;

/// Where `cluster up` puts the cluster, and where `faultline test` looks for
/// its nodes file: `$FAULTLINE_CLUSTER_DIR`, else `/var/tmp/faultline-cluster`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os("FAULTLINE_CLUSTER_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/var/tmp/faultline-cluster"),
    }
}

/// `<default_dir>/nodes.toml`.
pub fn default_nodes_file() -> PathBuf {
    default_dir().join("nodes.toml")
}

/// Options of `cluster up`.
#[derive(Clone, Debug)]
pub struct UpOptions {
    pub nodes: usize,
    /// Nodes are split into this many regions (contiguous blocks r1, r2...).
    pub regions: usize,
    /// A private /24; the host takes .1, node i takes .(i+1).
    pub subnet: String,
    pub dir: PathBuf,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            nodes: 5,
            regions: 1,
            subnet: "10.77.0.0/24".into(),
            dir: default_dir(),
        }
    }
}

/// What `up` built.
#[derive(Clone, Debug)]
pub struct ClusterInfo {
    pub dir: PathBuf,
    pub nodes_file: PathBuf,
    pub nodes: NodesFile,
}

/// Everything `up` created, written as it goes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    subnet: String,
    bridge: Option<String>,
    /// node → namespace
    namespaces: BTreeMap<String, String>,
    /// node → sshd pid
    sshd_pids: BTreeMap<String, u32>,
    /// node → sshd config path (to recognise our sshd before killing a pid)
    sshd_configs: BTreeMap<String, PathBuf>,
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn save_state(dir: &Path, st: &State) -> Result<()> {
    let p = state_path(dir);
    let text = serde_json::to_string_pretty(st).map_err(|e| io_err(&p, e))?;
    let tmp = dir.join("state.json.tmp");
    std::fs::write(&tmp, text).map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, &p).map_err(|e| io_err(&p, e))
}

fn load_state(dir: &Path) -> Result<State> {
    let p = state_path(dir);
    if !p.exists() {
        return Err(ClusterError::NotUp(dir.to_path_buf()));
    }
    let text = std::fs::read_to_string(&p).map_err(|e| io_err(&p, e))?;
    serde_json::from_str(&text).map_err(|e| io_err(&p, e))
}

/// Runs a program, returning stdout; a non-zero status is an error.
fn run(argv: &[&str]) -> Result<String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ClusterError::Command {
            command: argv.join(" "),
            status: -1,
            stderr: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(ClusterError::Command {
            command: argv.join(" "),
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        dirs.push(PathBuf::from(d));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Checks that each `(program, Debian package)` exists; the error names
/// every missing package.
pub fn require_tools(tools: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<_> = tools
        .iter()
        .filter(|(prog, _)| find_program(prog).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
    packages.dedup();
    Err(ClusterError::MissingTools {
        tools: missing
            .iter()
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
            .join(", "),
        packages: packages.join(" "),
    })
}

/// The tools `up` needs, with their Debian packages.
pub const CLUSTER_TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("iptables", "iptables"),
    ("sshd", "openssh-server"),
    ("ssh-keygen", "openssh-client"),
];

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Parses `a.b.c.0/24` into its first three octets.
fn parse_subnet(s: &str) -> Result<[u8; 3]> {
    let bad = || {
        ClusterError::BadOption(format!(
            "--subnet must be a private /24 like 10.77.0.0/24, not {s:?}"
        ))
    };
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    if len != "24" {
        return Err(bad());
    }
    let ip: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    if !ip.is_private() {
        return Err(bad());
    }
    let o = ip.octets();
    Ok([o[0], o[1], o[2]])
}

/// Short names derived from the subnet, so clusters on different subnets
/// never share a namespace or interface name (interface names ≤ 15 bytes).
struct Names {
    tag: String,
}

impl Names {
    fn new(o: [u8; 3]) -> Names {
        Names {
            tag: format!("{:02x}{:02x}{:02x}", o[0], o[1], o[2]),
        }
    }
    fn netns(&self, i: usize) -> String {
        format!("fl{}-n{i}", self.tag)
    }
    fn bridge(&self) -> String {
        format!("fl{}br", self.tag)
    }
    fn veth_host(&self, i: usize) -> String {
        format!("fl{}v{i}", self.tag)
    }
    fn veth_peer(&self, i: usize) -> String {
        format!("fl{}p{i}", self.tag)
    }
}

fn netns_exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Brings a cluster up; on any failure, removes what it had created.
pub fn up(opts: &UpOptions) -> Result<ClusterInfo> {
    if !is_root() {
        return Err(ClusterError::NotRoot);
    }
    require_tools(CLUSTER_TOOLS)?;
    if opts.nodes == 0 || opts.nodes > 250 {
        return Err(ClusterError::BadOption(
            "--nodes must be between 1 and 250".into(),
        ));
    }
    if opts.regions == 0 || opts.regions > opts.nodes {
        return Err(ClusterError::BadOption(
            "--regions must be between 1 and the number of nodes".into(),
        ));
    }
    let octets = parse_subnet(&opts.subnet)?;
    let dir = &opts.dir;
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let dir = dir.canonicalize().map_err(|e| io_err(dir, e))?;
    if state_path(&dir).exists() {
        return Err(ClusterError::AlreadyUp(dir));
    }
    let names = Names::new(octets);
    if link_exists(&names.bridge()) || (1..=opts.nodes).any(|i| netns_exists(&names.netns(i))) {
        return Err(ClusterError::BadOption(format!(
            "subnet {} is already used by another faultline cluster (bridge {} exists); \
             pick another --subnet or bring that cluster down",
            opts.subnet,
            names.bridge()
        )));
    }
    let mut st = State {
        subnet: opts.subnet.clone(),
        ..State::default()
    };
    save_state(&dir, &st)?;
    match build(opts, &dir, octets, &names, &mut st) {
        Ok(info) => Ok(info),
        Err(e) => {
            if let Err(e2) = down(&dir) {
                tracing::warn!("cleaning up after a failed `cluster up`: {e2}");
            }
            Err(e)
        }
    }
}

fn build(
    opts: &UpOptions,
    dir: &Path,
    o: [u8; 3],
    names: &Names,
    st: &mut State,
) -> Result<ClusterInfo> {
    let addr = |host: u32| format!("{}.{}.{}.{host}", o[0], o[1], o[2]);
    let sshd = find_program("sshd").ok_or_else(|| ClusterError::MissingTools {
        tools: "sshd".into(),
        packages: "openssh-server".into(),
    })?;
    std::fs::create_dir_all("/run/sshd").map_err(|e| io_err(Path::new("/run/sshd"), e))?;

    // The user key every node trusts.
    let key = dir.join("id_ed25519");
    let _ = std::fs::remove_file(&key);
    let _ = std::fs::remove_file(dir.join("id_ed25519.pub"));
    let key_s = key.to_string_lossy().into_owned();
    run(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        "faultline",
        "-f",
        &key_s,
    ])?;
    let pubkey = std::fs::read_to_string(dir.join("id_ed25519.pub"))
        .map_err(|e| io_err(&dir.join("id_ed25519.pub"), e))?;
    let authorized = dir.join("authorized_keys");
    std::fs::write(&authorized, &pubkey).map_err(|e| io_err(&authorized, e))?;

    // The bridge, with the host's address.
    let br = names.bridge();
    run(&["ip", "link", "add", &br, "type", "bridge"])?;
    st.bridge = Some(br.clone());
    save_state(dir, st)?;
    run(&["ip", "addr", "add", &format!("{}/24", addr(1)), "dev", &br])?;
    run(&["ip", "link", "set", &br, "up"])?;

    let mut known_hosts = String::new();
    let mut entries = Vec::new();
    for i in 1..=opts.nodes {
        let node = format!("n{i}");
        let ns = names.netns(i);
        let ip = addr(i as u32 + 1);
        run(&["ip", "netns", "add", &ns])?;
        st.namespaces.insert(node.clone(), ns.clone());
        save_state(dir, st)?;
        let (vh, vp) = (names.veth_host(i), names.veth_peer(i));
        run(&[
            "ip", "link", "add", &vh, "type", "veth", "peer", "name", &vp,
        ])?;
        run(&["ip", "link", "set", &vp, "netns", &ns])?;
        run(&["ip", "link", "set", &vh, "master", &br, "up"])?;
        run(&["ip", "-n", &ns, "link", "set", &vp, "name", "eth0"])?;
        run(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{ip}/24"),
            "dev",
            "eth0",
        ])?;
        run(&["ip", "-n", &ns, "link", "set", "eth0", "up"])?;
        run(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;

        let nd = dir.join(&node);
        std::fs::create_dir_all(&nd).map_err(|e| io_err(&nd, e))?;
        let hk = nd.join("ssh_host_ed25519_key");
        let _ = std::fs::remove_file(&hk);
        let _ = std::fs::remove_file(nd.join("ssh_host_ed25519_key.pub"));
        let hk_s = hk.to_string_lossy().into_owned();
        run(&[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            &node,
            "-f",
            &hk_s,
        ])?;
        let host_pub = std::fs::read_to_string(nd.join("ssh_host_ed25519_key.pub"))
            .map_err(|e| io_err(&nd.join("ssh_host_ed25519_key.pub"), e))?;
        let mut parts = host_pub.split_whitespace();
        let (kt, kb) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        known_hosts.push_str(&format!("{ip} {kt} {kb}\n"));

        let pid_file = nd.join("sshd.pid");
        let _ = std::fs::remove_file(&pid_file);
        let cfg = nd.join("sshd_config");
        let cfg_text = format!(
            "# faultline local cluster node {node} (namespace {ns})\n\
             ListenAddress {ip}:22\n\
             HostKey {hk}\n\
             AuthorizedKeysFile {auth}\n\
             PidFile {pid}\n\
             PermitRootLogin prohibit-password\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             StrictModes no\n\
             UseDNS no\n\
             PrintMotd no\n\
             MaxSessions 100\n\
             MaxStartups 100\n\
             Subsystem sftp internal-sftp\n",
            hk = hk.display(),
            auth = authorized.display(),
            pid = pid_file.display(),
        );
        std::fs::write(&cfg, cfg_text).map_err(|e| io_err(&cfg, e))?;
        let log = nd.join("sshd.log");
        run(&[
            "ip",
            "netns",
            "exec",
            &ns,
            &sshd.to_string_lossy(),
            "-f",
            &cfg.to_string_lossy(),
            "-E",
            &log.to_string_lossy(),
        ])?;
        let pid =
            wait_pid_file(&pid_file, Duration::from_secs(5)).ok_or_else(|| ClusterError::Node {
                node: node.clone(),
                message: format!(
                    "sshd did not write {} (see {})",
                    pid_file.display(),
                    log.display()
                ),
            })?;
        st.sshd_pids.insert(node.clone(), pid);
        st.sshd_configs.insert(node.clone(), cfg.clone());
        save_state(dir, st)?;

        entries.push(NodeEntry {
            name: node,
            address: ip,
            region: region_of(i, opts.nodes, opts.regions),
            netns: Some(ns),
            ssh_port: None,
        });
    }
    let kh = dir.join("known_hosts");
    std::fs::write(&kh, known_hosts).map_err(|e| io_err(&kh, e))?;

    for e in &entries {
        let sa: SocketAddr = format!("{}:22", e.address)
            .parse()
            .map_err(|_| ClusterError::BadOption(format!("bad address {}", e.address)))?;
        if !wait_tcp(sa, Duration::from_secs(10)) {
            return Err(ClusterError::Node {
                node: e.name.clone(),
                message: format!("sshd does not accept connections on {sa}"),
            });
        }
    }

    let nodes = NodesFile {
        work_dir: dir.join("work").to_string_lossy().into_owned(),
        ssh: SshSection {
            user: "root".into(),
            key: Some(key),
            agent: false,
            known_hosts: Some(kh),
            port: 22,
            accept_new_host_keys: false,
            connect_timeout_secs: 5,
            command_timeout_secs: 60,
        },
        nodes: entries,
    };
    let nodes_file = dir.join("nodes.toml");
    let text = format!(
        "# Written by `faultline cluster up`; `faultline test` reads it by default.\n{}",
        nodes.to_toml()
    );
    std::fs::write(&nodes_file, text).map_err(|e| io_err(&nodes_file, e))?;
    Ok(ClusterInfo {
        dir: dir.to_path_buf(),
        nodes_file,
        nodes,
    })
}

/// Node `i` (1-based) of `nodes` in `regions` contiguous blocks: `r1`,
/// `r2`...; `None` when there is a single region.
fn region_of(i: usize, nodes: usize, regions: usize) -> Option<String> {
    (regions > 1).then(|| format!("r{}", (i - 1) * regions / nodes + 1))
}

fn wait_pid_file(p: &Path, limit: Duration) -> Option<u32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(t) = std::fs::read_to_string(p) {
            if let Ok(pid) = t.trim().parse() {
                return Some(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn wait_tcp(sa: SocketAddr, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&sa, Duration::from_millis(500)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn kill9(pid: u32) {
    if pid > 1 {
        // SAFETY: kill(2) with a pid we recorded ourselves.
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
        }
    }
}

/// Pids of every process in a network namespace.
fn netns_pids(ns: &str) -> Vec<u32> {
    run(&["ip", "netns", "pids", ns])
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pid` has exited: gone, or a zombie waiting to be reaped (by
/// the host's init once `up`, its parent, has gone).
fn pid_exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state == 'Z' || state == 'X'),
    }
}

/// How long `down` waits for the processes it killed to exit.
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// Waits until every pid in `pids` has exited; returns those that have not.
fn wait_exited(pids: &[u32], limit: Duration) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|p| !pid_exited(*p)).collect();
        if alive.is_empty() || start.elapsed() >= limit {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes everything `up` created in `dir`: every process inside the
/// cluster's namespaces, the namespaces, the bridge, the files. Idempotent.
/// Returns only when every process it killed has exited (a zombie left for
/// init to reap has); anything it could not remove is named in the error.
pub fn down(dir: &Path) -> Result<()> {
    if !is_root() {
        return Err(ClusterError::NotRoot);
    }
    let st = load_state(dir)?;
    let mut errors = Vec::new();
    // Our sshds, by pid, if they are still the processes we started.
    let mut killed = Vec::new();
    for (node, pid) in &st.sshd_pids {
        let ours = st.sshd_configs.get(node).is_some_and(|cfg| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&*cfg.to_string_lossy()))
                .unwrap_or(false)
        });
        if ours {
            kill9(*pid);
            killed.push(*pid);
        }
    }
    for p in wait_exited(&killed, EXIT_WAIT) {
        errors.push(format!("sshd pid {p} did not exit after SIGKILL"));
    }
    // Everything else running inside our namespaces (databases, sessions):
    // killed until none is left that has not exited.
    for ns in st.namespaces.values() {
        if !netns_exists(ns) {
            continue;
        }
        let start = Instant::now();
        let survivors = loop {
            let alive: Vec<u32> = netns_pids(ns)
                .into_iter()
                .filter(|p| !pid_exited(*p))
                .collect();
            if alive.is_empty() || start.elapsed() >= EXIT_WAIT {
                break alive;
            }
            for p in &alive {
                kill9(*p);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if !survivors.is_empty() {
            errors.push(format!(
                "in namespace {ns}, pids {survivors:?} did not exit after SIGKILL; the namespace is left"
            ));
            continue;
        }
        if let Err(e) = run(&["ip", "netns", "del", ns]) {
            errors.push(e.to_string());
        }
    }
    if let Some(br) = &st.bridge {
        if link_exists(br) {
            if let Err(e) = run(&["ip", "link", "del", br]) {
                errors.push(e.to_string());
            }
        }
    }
    if !errors.is_empty() {
        return Err(ClusterError::Command {
            command: "cluster down".into(),
            status: 1,
            stderr: errors.join("; "),
        });
    }
    // The files `up` generated (keys, sshd configs and logs, database data
    // under work/), by name; the directory itself only if nothing else is
    // left in it.
    let mut left = Vec::new();
    let mut note = |p: PathBuf, r: std::io::Result<()>| {
        if let Err(e) = r {
            if e.kind() != std::io::ErrorKind::NotFound {
                left.push(format!("{}: {e}", p.display()));
            }
        }
    };
    for f in [
        "nodes.toml",
        "id_ed25519",
        "id_ed25519.pub",
        "authorized_keys",
        "known_hosts",
    ] {
        note(dir.join(f), std::fs::remove_file(dir.join(f)));
    }
    for node in st.namespaces.keys() {
        // Only plain names (n1, n2...): never a path out of the directory.
        let plain = !node.is_empty() && !node.contains('/') && node != "." && node != "..";
        if plain {
            note(dir.join(node), std::fs::remove_dir_all(dir.join(node)));
        }
    }
    note(dir.join("work"), std::fs::remove_dir_all(dir.join("work")));
    std::fs::remove_file(state_path(dir)).map_err(|e| io_err(&state_path(dir), e))?;
    // The directory itself only if nothing else is in it.
    let _ = std::fs::remove_dir(dir);
    if !left.is_empty() {
        return Err(ClusterError::Command {
            command: "cluster down".into(),
            status: 1,
            stderr: format!("could not remove: {}", left.join("; ")),
        });
    }
    Ok(())
}

/// A human-readable account of the cluster: namespaces, addresses, sshd
/// and other processes, and whether each piece still exists.
pub fn status(dir: &Path) -> Result<String> {
    let st = load_state(dir)?;
    let nodes = load_nodes(&dir.join("nodes.toml")).ok();
    let mut s = format!("cluster in {} (subnet {})\n", dir.display(), st.subnet);
    if let Some(br) = &st.bridge {
        s.push_str(&format!(
            "bridge {br}: {}\n",
            if link_exists(br) { "up" } else { "MISSING" }
        ));
    }
    for (node, ns) in &st.namespaces {
        let exists = netns_exists(ns);
        let addr = nodes
            .as_ref()
            .and_then(|n| n.node(node).map(|e| e.address.clone()))
            .unwrap_or_else(|| "?".into());
        let region = nodes
            .as_ref()
            .and_then(|n| n.node(node).and_then(|e| e.region.clone()))
            .map(|r| format!(" region {r}"))
            .unwrap_or_default();
        let sshd = match st.sshd_pids.get(node) {
            Some(p) if pid_alive(*p) => format!("sshd pid {p} running"),
            Some(p) => format!("sshd pid {p} NOT running"),
            None => "no sshd".into(),
        };
        let procs = if is_root() && exists {
            format!(", {} processes in namespace", netns_pids(ns).len())
        } else {
            String::new()
        };
        s.push_str(&format!(
            "{node}: {addr}{region} netns {ns} ({}), {sshd}{procs}\n",
            if exists { "present" } else { "MISSING" }
        ));
    }
    if nodes.is_some() {
        s.push_str(&format!(
            "nodes file: {}\n",
            dir.join("nodes.toml").display()
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_zombie_has_exited_a_live_process_has_not() {
        assert!(!pid_exited(std::process::id()));
        // Above the kernel's largest pid: no such process.
        assert!(pid_exited(u32::MAX - 1));
        let mut child = Command::new("true").spawn().expect("`true` runs");
        let pid = child.id();
        // Not reaped yet: once it ends it is a zombie, which counts as exited.
        assert!(wait_exited(&[pid], Duration::from_secs(10)).is_empty());
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        child.wait().unwrap();
        assert!(pid_exited(pid));
    }

    use super::*;

    #[test]
    fn subnets_must_be_private_24s() {
        assert_eq!(parse_subnet("10.77.0.0/24").unwrap(), [10, 77, 0]);
        assert_eq!(parse_subnet("192.168.5.0/24").unwrap(), [192, 168, 5]);
        for bad in ["10.77.0.0/16", "8.8.8.0/24", "10.77.0.0", "x/24"] {
            assert!(parse_subnet(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_fit_interface_limits() {
        let n = Names::new([192, 168, 255]);
        assert!(n.veth_host(250).len() <= 15);
        assert!(n.veth_peer(250).len() <= 15);
        assert!(n.bridge().len() <= 15);
        assert_ne!(
            Names::new([10, 77, 0]).bridge(),
            Names::new([10, 78, 0]).bridge()
        );
    }

    #[test]
    fn regions_are_contiguous_blocks() {
        let r: Vec<_> = (1..=5).map(|i| region_of(i, 5, 2).unwrap()).collect();
        assert_eq!(r, ["r1", "r1", "r1", "r2", "r2"]);
        let r: Vec<_> = (1..=3).map(|i| region_of(i, 3, 3).unwrap()).collect();
        assert_eq!(r, ["r1", "r2", "r3"]);
        assert_eq!(region_of(1, 3, 1), None);
    }

    #[test]
    fn missing_tools_name_their_packages() {
        let e = require_tools(&[("sh", "dash"), ("no-such-tool-xyz", "some-package")]).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("no-such-tool-xyz") && m.contains("apt-get install -y some-package"),
            "{m}"
        );
    }
}
