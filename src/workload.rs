//! Workload files: one TOML file per test scenario.
//!
//! A workload says what to run (`workload`, `keys`, the op `mix`), against
//! what (`db`, `nodes`, `regions`, and a db-specific table), how hard
//! (`concurrency`, `rate`, `duration`, `timeout`), under which faults
//! (`[nemesis]`) and which checkers decide the verdict. Files are strict:
//! an unknown field is an error naming the field, and every bad value names
//! its field, so a typo never silently changes a test.
//!
//! The tables of the real-cluster databases (`[etcd]`, `[redis]`,
//! `[postgres]`, `[patroni]`) are kept as raw TOML here; their backends interpret them.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors loading a workload file. Each names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: field `{field}`: {message}")]
    Invalid {
        path: String,
        field: String,
        message: String,
    },
}

/// The store under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbKind {
    /// The embedded simulated store ([`crate::systems::sim`]).
    Sim,
    Etcd,
    Redis,
    Postgres,
    /// PostgreSQL with streaming replicas, failed over by Patroni.
    Patroni,
    /// A user command speaking the process protocol (docs/process-protocol.md).
    Process,
}

impl DbKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DbKind::Sim => "sim",
            DbKind::Etcd => "etcd",
            DbKind::Redis => "redis",
            DbKind::Postgres => "postgres",
            DbKind::Patroni => "patroni",
            DbKind::Process => "process",
        }
    }
}

/// What the clients do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Read/write/cas registers, one per key.
    Register,
    /// Add unique elements to sets and read them back.
    Set,
    /// Transactions of appends to and reads of lists (Elle's list-append).
    ListAppend,
    /// Transactions of writes and reads of registers (Elle's rw-register).
    RwRegister,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Set => "set",
            WorkloadKind::ListAppend => "list-append",
            WorkloadKind::RwRegister => "rw-register",
        }
    }
}

/// `nodes = 3` or `nodes = ["n1", "n2", "n3"]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum NodesSpec {
    Count(usize),
    List(Vec<String>),
}

/// The fraction of each kind of operation. Only the fractions that apply to
/// the workload may be non-zero; they need not sum to one.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    pub read: f64,
    pub write: f64,
    pub cas: f64,
    pub add: f64,
    pub append: f64,
    /// Micro-operations per transaction (list-append, rw-register): 1..=txn_len.
    pub txn_len: usize,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            read: -1.0,
            write: -1.0,
            cas: -1.0,
            add: -1.0,
            append: -1.0,
            txn_len: 4,
        }
    }
}

impl Mix {
    /// Without a `[mix]` table the workload's defaults apply; with one, the
    /// fractions it leaves out are zero.
    fn resolve(mut self, kind: WorkloadKind, given: bool) -> Mix {
        if given {
            for f in [
                &mut self.read,
                &mut self.write,
                &mut self.cas,
                &mut self.add,
                &mut self.append,
            ] {
                if *f < 0.0 {
                    *f = 0.0;
                }
            }
            return self;
        }
        let (r, w, c, a, p) = match kind {
            WorkloadKind::Register => (0.5, 0.4, 0.1, 0.0, 0.0),
            WorkloadKind::Set => (0.3, 0.0, 0.0, 0.7, 0.0),
            WorkloadKind::ListAppend => (0.5, 0.0, 0.0, 0.0, 0.5),
            WorkloadKind::RwRegister => (0.5, 0.5, 0.0, 0.0, 0.0),
        };
        for (f, d) in [
            (&mut self.read, r),
            (&mut self.write, w),
            (&mut self.cas, c),
            (&mut self.add, a),
            (&mut self.append, p),
        ] {
            if *f < 0.0 {
                *f = d;
            }
        }
        self
    }
}

/// A kind of fault the nemesis may inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Cut one random node off from the others.
    IsolateOne,
    /// A random minority against the majority.
    Halves,
    /// Every node sees a different majority.
    MajoritiesRing,
    /// Two halves joined only by one bridge node.
    Bridge,
    /// Every region cut off from every other.
    RegionSplit,
    /// Kill a random minority of nodes, restart them when the fault ends.
    Kill,
    /// Pause (SIGSTOP) a random minority, resume them when the fault ends.
    Pause,
    /// Cut the current primary off from every other node (systems with a
    /// primary: Redis Sentinel).
    IsolatePrimary,
    /// SIGKILL the database on the node the system names as its primary
    /// (Patroni: Patroni and its PostgreSQL); the end of the fault starts
    /// it again, and it rejoins as whatever the system makes of it.
    KillPrimary,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::IsolateOne => "isolate-one",
            FaultKind::Halves => "halves",
            FaultKind::MajoritiesRing => "majorities-ring",
            FaultKind::Bridge => "bridge",
            FaultKind::RegionSplit => "region-split",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::IsolatePrimary => "isolate-primary",
            FaultKind::KillPrimary => "kill-primary",
        }
    }
}

/// The nemesis schedule: every `interval` seconds of calm, one fault chosen
/// (seeded) from `faults`, lasting `duration` seconds, then healed.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisSpec {
    pub faults: Vec<FaultKind>,
    /// Seconds of calm before each fault.
    #[serde(default = "one")]
    pub interval: f64,
    /// Seconds each fault lasts; defaults to `interval`.
    #[serde(default)]
    pub duration: Option<f64>,
}

fn one() -> f64 {
    1.0
}

// The `[sim]` table and the strategies belong to the simulator's folder.
pub use crate::systems::sim::config::{SimConfig, Strategy};

/// The `[process]` table: the command each worker starts.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessConfig {
    /// argv; relative paths are resolved against the workload file's directory
    /// when such a file exists.
    pub command: Vec<String>,
    /// Extra environment variables for the command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: Option<String>,
    db: DbKind,
    nodes: Option<NodesSpec>,
    regions: Option<BTreeMap<String, String>>,
    workload: WorkloadKind,
    keys: Option<usize>,
    ops_per_key: Option<usize>,
    concurrency: Option<usize>,
    rate: Option<f64>,
    duration: Option<f64>,
    timeout: Option<f64>,
    mix: Option<Mix>,
    nemesis: Option<NemesisSpec>,
    checkers: Option<Vec<crate::checker::registry::CheckerKind>>,
    seed: Option<u64>,
    final_reads: Option<bool>,
    quiesce: Option<f64>,
    sim: Option<SimConfig>,
    process: Option<ProcessConfig>,
    etcd: Option<toml::Table>,
    redis: Option<toml::Table>,
    postgres: Option<toml::Table>,
    patroni: Option<toml::Table>,
}

/// A loaded, validated workload.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Display name (`name`, else the file stem).
    pub name: String,
    /// The file stem: runs go to `runs/<stem>/<timestamp>/`.
    pub stem: String,
    /// The file it came from, when it came from one.
    pub path: Option<PathBuf>,
    pub db: DbKind,
    pub nodes: Vec<String>,
    /// node → region; every node has one (default region `"default"`).
    pub regions: BTreeMap<String, String>,
    pub workload: WorkloadKind,
    /// Keys in use at any time.
    pub keys: usize,
    /// About how many operations each key receives before it is retired.
    pub ops_per_key: usize,
    pub concurrency: usize,
    /// Total ops/s over all workers; `None` = as fast as possible.
    pub rate: Option<f64>,
    pub duration: Duration,
    /// Per-operation timeout; a timed-out op is recorded `info`.
    pub timeout: Duration,
    pub mix: Mix,
    pub nemesis: Option<NemesisSpec>,
    /// `checkers`: overrides the workload kind's default checkers.
    pub checkers: Option<Vec<crate::checker::registry::CheckerKind>>,
    pub seed: u64,
    /// After the faults heal, read every key on every node.
    pub final_reads: bool,
    /// Calm time between healing and the final reads.
    pub quiesce: Duration,
    pub sim: SimConfig,
    pub process: Option<ProcessConfig>,
    pub etcd: Option<toml::Table>,
    pub redis: Option<toml::Table>,
    pub postgres: Option<toml::Table>,
    pub patroni: Option<toml::Table>,
}

/// Command-line overrides: `--time-limit S --seed N --concurrency N --rate R`.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub time_limit: Option<f64>,
    pub seed: Option<u64>,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
}

/// Loads and validates a workload file.
pub fn load(path: impl AsRef<Path>) -> Result<Workload, WorkloadError> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| WorkloadError::Io {
        path: shown.clone(),
        source: e,
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "workload".to_string());
    let mut w = parse(&text, &shown, &stem)?;
    w.path = Some(path.to_path_buf());
    Ok(w)
}

/// Parses workload text; `file` names it in errors, `stem` names its runs.
pub fn parse(text: &str, file: &str, stem: &str) -> Result<Workload, WorkloadError> {
    let raw: RawWorkload = toml::from_str(text).map_err(|e| WorkloadError::Parse {
        path: file.to_string(),
        message: describe_toml_error(text, &e),
    })?;
    resolve(raw, file, stem)
}

/// toml's messages show the offending line; say which field it is too.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    let Some(span) = e.span() else {
        return msg;
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let column = start - line_start + 1;
    let field = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    match field {
        Some(f) if !msg.contains(&format!("`{f}`")) => {
            format!("line {line_no}, column {column}: field `{f}`: {msg}")
        }
        _ => format!("line {line_no}, column {column}: {msg}"),
    }
}

fn invalid(file: &str, field: &str, message: impl Into<String>) -> WorkloadError {
    WorkloadError::Invalid {
        path: file.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}

fn seconds(file: &str, field: &str, v: f64) -> Result<Duration, WorkloadError> {
    if !v.is_finite() || !(0.0..=1e7).contains(&v) {
        return Err(invalid(
            file,
            field,
            format!("{v} is not a number of seconds >= 0"),
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

fn resolve(raw: RawWorkload, file: &str, stem: &str) -> Result<Workload, WorkloadError> {
    let nodes: Vec<String> = match raw.nodes {
        None => (1..=3).map(|i| format!("n{i}")).collect(),
        Some(NodesSpec::Count(n)) => {
            if n == 0 || n > 64 {
                return Err(invalid(file, "nodes", format!("{n} nodes; give 1 to 64")));
            }
            (1..=n).map(|i| format!("n{i}")).collect()
        }
        Some(NodesSpec::List(l)) => l,
    };
    if nodes.is_empty() {
        return Err(invalid(file, "nodes", "the node list is empty"));
    }
    for (i, n) in nodes.iter().enumerate() {
        if n.trim().is_empty() {
            return Err(invalid(
                file,
                "nodes",
                format!("node {} has an empty name", i + 1),
            ));
        }
        if nodes[..i].contains(n) {
            return Err(invalid(
                file,
                "nodes",
                format!("node `{n}` is listed twice"),
            ));
        }
    }
    let mut regions = BTreeMap::new();
    if let Some(r) = &raw.regions {
        for node in r.keys() {
            if !nodes.contains(node) {
                return Err(invalid(
                    file,
                    "regions",
                    format!("`{node}` is not one of the nodes {nodes:?}"),
                ));
            }
        }
        for node in &nodes {
            match r.get(node) {
                Some(region) => {
                    regions.insert(node.clone(), region.clone());
                }
                None => {
                    return Err(invalid(
                        file,
                        "regions",
                        format!("node `{node}` has no region (give every node one, or none)"),
                    ))
                }
            }
        }
    } else {
        for node in &nodes {
            regions.insert(node.clone(), "default".to_string());
        }
    }
    let kind = raw.workload;
    let keys = raw.keys.unwrap_or(match kind {
        WorkloadKind::Register | WorkloadKind::Set => 4,
        _ => 8,
    });
    if keys == 0 {
        return Err(invalid(file, "keys", "must be at least 1"));
    }
    let ops_per_key = raw.ops_per_key.unwrap_or(match kind {
        WorkloadKind::Register => 150,
        WorkloadKind::Set => 300,
        _ => 200,
    });
    if ops_per_key == 0 {
        return Err(invalid(file, "ops_per_key", "must be at least 1"));
    }
    let concurrency = raw.concurrency.unwrap_or(nodes.len().max(5));
    if concurrency == 0 || concurrency > 10_000 {
        return Err(invalid(
            file,
            "concurrency",
            format!("{concurrency} workers; give 1 to 10000"),
        ));
    }
    let rate = match raw.rate {
        None => None,
        Some(0.0) => None,
        Some(r) if r.is_finite() && r > 0.0 => Some(r),
        Some(r) => {
            return Err(invalid(
                file,
                "rate",
                format!("{r} is not a rate in ops/s (> 0, or 0 for unlimited)"),
            ))
        }
    };
    let duration = seconds(file, "duration", raw.duration.unwrap_or(10.0))?;
    let timeout = seconds(file, "timeout", raw.timeout.unwrap_or(1.0))?;
    if timeout.is_zero() {
        return Err(invalid(file, "timeout", "must be greater than 0"));
    }
    let quiesce = seconds(file, "quiesce", raw.quiesce.unwrap_or(1.0))?;
    let mix_given = raw.mix.is_some();
    let mix = raw.mix.unwrap_or_default().resolve(kind, mix_given);
    validate_mix(file, kind, &mix)?;
    if let Some(n) = &raw.nemesis {
        validate_nemesis(file, n, &nodes, &regions)?;
        if raw.db == DbKind::Process && !n.faults.is_empty() {
            return Err(invalid(
                file,
                "nemesis",
                "the process db cannot inject faults; remove the [nemesis] table",
            ));
        }
    }
    if let Some(c) = &raw.checkers {
        if c.is_empty() {
            return Err(invalid(
                file,
                "checkers",
                "an empty list would check nothing; leave it out for the workload's defaults",
            ));
        }
    }
    let sim = raw.sim.unwrap_or_default();
    if raw.db == DbKind::Sim {
        crate::systems::sim::config::validate(file, &sim)?;
    }
    if raw.db == DbKind::Process {
        match &raw.process {
            None => {
                return Err(invalid(
                    file,
                    "process",
                    "db = \"process\" needs a [process] table with a `command`",
                ))
            }
            Some(p) if p.command.is_empty() => {
                return Err(invalid(file, "process.command", "the command is empty"))
            }
            Some(_) => {}
        }
    }
    Ok(Workload {
        name: raw.name.unwrap_or_else(|| stem.to_string()),
        stem: stem.to_string(),
        path: None,
        db: raw.db,
        nodes,
        regions,
        workload: kind,
        keys,
        ops_per_key,
        concurrency,
        rate,
        duration,
        timeout,
        mix,
        nemesis: raw.nemesis,
        checkers: raw.checkers,
        seed: raw.seed.unwrap_or(0),
        final_reads: raw.final_reads.unwrap_or(true),
        quiesce,
        sim,
        process: raw.process,
        etcd: raw.etcd,
        redis: raw.redis,
        postgres: raw.postgres,
        patroni: raw.patroni,
    })
}

fn validate_mix(file: &str, kind: WorkloadKind, mix: &Mix) -> Result<(), WorkloadError> {
    let all = [
        ("read", mix.read),
        ("write", mix.write),
        ("cas", mix.cas),
        ("add", mix.add),
        ("append", mix.append),
    ];
    for (name, v) in all {
        if !v.is_finite() || v < 0.0 {
            return Err(invalid(
                file,
                &format!("mix.{name}"),
                format!("{v} is not a fraction >= 0"),
            ));
        }
    }
    let allowed: &[&str] = match kind {
        WorkloadKind::Register => &["read", "write", "cas"],
        WorkloadKind::Set => &["read", "add"],
        WorkloadKind::ListAppend => &["read", "append"],
        WorkloadKind::RwRegister => &["read", "write"],
    };
    for (name, v) in all {
        if v > 0.0 && !allowed.contains(&name) {
            return Err(invalid(
                file,
                &format!("mix.{name}"),
                format!(
                    "the {} workload has no `{name}` operations (it has {})",
                    kind.as_str(),
                    allowed.join(", ")
                ),
            ));
        }
    }
    let total: f64 = all.iter().map(|(_, v)| v).sum();
    if total <= 0.0 {
        return Err(invalid(file, "mix", "every fraction is zero"));
    }
    let writes: f64 = all
        .iter()
        .filter(|(n, _)| *n != "read")
        .map(|(_, v)| v)
        .sum();
    if writes <= 0.0 {
        return Err(invalid(
            file,
            "mix",
            "no writing operations: nothing could ever be checked",
        ));
    }
    if mix.txn_len == 0 || mix.txn_len > 64 {
        return Err(invalid(
            file,
            "mix.txn_len",
            "give 1 to 64 micro-operations",
        ));
    }
    Ok(())
}

fn validate_nemesis(
    file: &str,
    n: &NemesisSpec,
    nodes: &[String],
    regions: &BTreeMap<String, String>,
) -> Result<(), WorkloadError> {
    if !n.interval.is_finite() || n.interval <= 0.0 {
        return Err(invalid(file, "nemesis.interval", "must be > 0 seconds"));
    }
    if let Some(d) = n.duration {
        if !d.is_finite() || d <= 0.0 {
            return Err(invalid(file, "nemesis.duration", "must be > 0 seconds"));
        }
    }
    for f in &n.faults {
        let needs = match f {
            FaultKind::MajoritiesRing | FaultKind::Bridge => 3,
            FaultKind::IsolateOne
            | FaultKind::Halves
            | FaultKind::IsolatePrimary
            | FaultKind::KillPrimary => 2,
            _ => 1,
        };
        if nodes.len() < needs {
            return Err(invalid(
                file,
                "nemesis.faults",
                format!(
                    "`{}` needs at least {needs} nodes, there are {}",
                    f.as_str(),
                    nodes.len()
                ),
            ));
        }
        if *f == FaultKind::RegionSplit {
            let distinct: std::collections::BTreeSet<&String> = regions.values().collect();
            if distinct.len() < 2 {
                return Err(invalid(
                    file,
                    "nemesis.faults",
                    "`region-split` needs at least two regions in `regions`",
                ));
            }
        }
    }
    Ok(())
}

impl Workload {
    /// Applies command-line overrides, validating them like the file's fields.
    pub fn apply(&mut self, o: &Overrides) -> Result<(), WorkloadError> {
        let file = "command line";
        if let Some(t) = o.time_limit {
            self.duration = seconds(file, "--time-limit", t)?;
        }
        if let Some(s) = o.seed {
            self.seed = s;
        }
        if let Some(c) = o.concurrency {
            if c == 0 || c > 10_000 {
                return Err(invalid(file, "--concurrency", "give 1 to 10000"));
            }
            self.concurrency = c;
        }
        if let Some(r) = o.rate {
            self.rate = match r {
                0.0 => None,
                r if r.is_finite() && r > 0.0 => Some(r),
                _ => return Err(invalid(file, "--rate", format!("{r} is not a rate"))),
            };
        }
        Ok(())
    }

    /// The simulator runs in virtual time: an unlimited rate against clients
    /// that wait for nothing would never let its clock move. Checked before
    /// a simulated run.
    pub fn check_virtual_time(&self) -> Result<(), WorkloadError> {
        if self.db == DbKind::Sim
            && self.rate.is_none()
            && self.sim.latency_client_ms * self.sim.time_scale <= 0.0
        {
            return Err(invalid(
                &self.path.as_ref().map_or("workload".to_string(), |p| p.display().to_string()),
                "rate",
                "the simulator runs in virtual time: give a rate (ops/s), or a non-zero sim.latency_client_ms",
            ));
        }
        Ok(())
    }

    /// The workload with `nodes` regrouped: used by tests and the runner.
    pub fn region_of(&self, node: &str) -> &str {
        self.regions.get(node).map_or("default", |s| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
db = "sim"
nodes = 3
regions = { n1 = "us", n2 = "eu", n3 = "ap" }
workload = "register"
concurrency = 6
rate = 1000
duration = 2.5
[nemesis]
faults = ["halves", "region-split", "kill"]
interval = 0.5
[sim]
strategy = "read-local"
[etcd]
serializable = false
"#;

    #[test]
    fn parses_a_good_file() {
        let w = parse(GOOD, "x.toml", "x").unwrap();
        assert_eq!(w.nodes, vec!["n1", "n2", "n3"]);
        assert_eq!(w.region_of("n2"), "eu");
        assert_eq!(w.sim.strategy, Strategy::ReadLocal);
        assert_eq!(w.rate, Some(1000.0));
        assert_eq!(w.duration, Duration::from_millis(2500));
        assert_eq!(w.mix.read, 0.5);
        assert_eq!(w.mix.add, 0.0);
        assert_eq!(
            w.etcd.as_ref().and_then(|t| t.get("serializable")),
            Some(&toml::Value::Boolean(false))
        );
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse(&format!("{GOOD}\n"), "x.toml", "x").map(|_| ());
        assert!(e.is_ok());
        let text = GOOD.replace("rate = 1000", "rat = 1000");
        let e = parse(&text, "x.toml", "x").unwrap_err().to_string();
        assert!(e.contains("rat") && e.contains("unknown field"), "{e}");
        let text = GOOD.replace(
            "strategy = \"read-local\"",
            "strategy = \"read-local\"\nfoo = 1",
        );
        let e = parse(&text, "x.toml", "x").unwrap_err().to_string();
        assert!(e.contains("foo"), "{e}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            ("rate = 1000", "rate = \"fast\"", "rate"),
            ("rate = 1000", "rate = -3", "rate"),
            ("concurrency = 6", "concurrency = 0", "concurrency"),
            ("duration = 2.5", "duration = -1", "duration"),
            (
                "strategy = \"read-local\"",
                "strategy = \"magic\"",
                "strategy",
            ),
            ("n3 = \"ap\"", "n4 = \"ap\"", "regions"),
            ("\"kill\"]", "\"explode\"]", "faults"),
        ];
        for (from, to, field) in cases {
            let text = GOOD.replace(from, to);
            assert_ne!(text, GOOD);
            let e = parse(&text, "x.toml", "x").unwrap_err().to_string();
            assert!(e.contains(field), "{to}: {e}");
        }
    }

    #[test]
    fn checkers_are_parsed_at_load() {
        use crate::checker::registry::CheckerKind;
        let text = format!("checkers = [\"linearizable\", \"stale-read\"]\n{GOOD}");
        let w = parse(&text, "x.toml", "x").unwrap();
        assert_eq!(
            w.checkers,
            Some(vec![CheckerKind::Linearizable, CheckerKind::StaleRead])
        );
        // A misspelt checker is an error naming the field and the choices,
        // not an unknown verdict after the run.
        let text = format!("checkers = [\"linearizble\"]\n{GOOD}");
        let e = parse(&text, "x.toml", "x").unwrap_err().to_string();
        assert!(e.contains("checkers"), "{e}");
        assert!(e.contains("linearizble"), "{e}");
        assert!(e.contains("stale-read"), "{e}");
    }

    #[test]
    fn mix_defaults_only_without_a_table() {
        let w = parse(GOOD, "x.toml", "x").unwrap();
        assert_eq!((w.mix.read, w.mix.write, w.mix.cas), (0.5, 0.4, 0.1));
        let w = parse(
            &format!("{GOOD}\n[mix]\nread = 1\nwrite = 1\n"),
            "x.toml",
            "x",
        )
        .unwrap();
        assert_eq!((w.mix.read, w.mix.write, w.mix.cas), (1.0, 1.0, 0.0));
    }

    #[test]
    fn mix_must_fit_the_workload() {
        let text = format!("{GOOD}\n[mix]\nadd = 0.5\n");
        let e = parse(&text, "x.toml", "x").unwrap_err().to_string();
        assert!(e.contains("mix.add"), "{e}");
    }

    #[test]
    fn unlimited_rate_needs_client_latency_in_virtual_time() {
        let mut w = parse(&GOOD.replace("rate = 1000", "rate = 0"), "x.toml", "x").unwrap();
        let e = w.check_virtual_time().unwrap_err().to_string();
        assert!(e.contains("`rate`") && e.contains("virtual time"), "{e}");
        w.sim.latency_client_ms = 0.5;
        assert!(w.check_virtual_time().is_ok());
        assert!(parse(GOOD, "x.toml", "x")
            .unwrap()
            .check_virtual_time()
            .is_ok());
    }

    #[test]
    fn overrides_apply() {
        let mut w = parse(GOOD, "x.toml", "x").unwrap();
        w.apply(&Overrides {
            time_limit: Some(1.0),
            seed: Some(9),
            concurrency: Some(2),
            rate: Some(0.0),
        })
        .unwrap();
        assert_eq!(w.duration, Duration::from_secs(1));
        assert_eq!((w.seed, w.concurrency, w.rate), (9, 2, None));
        assert!(w
            .apply(&Overrides {
                concurrency: Some(0),
                ..Overrides::default()
            })
            .is_err());
    }
}
