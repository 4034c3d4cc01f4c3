//! `faultline shrink`: from a failure to the smallest failure we can find.
//!
//! A failing simulated run is a workload plus a seed, and replaying it is
//! deterministic ([`crate::systems::sim::runtime`]), so a smaller failing run
//! can be searched for by running smaller workloads: shorter, slower, with
//! fewer nodes, clients, keys and faults ([`shrink_run`]). Each candidate removes
//! one thing; it is kept when the run still fails *the same way*: the same
//! checker says `invalid` and, where the checker names kinds of anomaly
//! (Elle's anomaly types, session guarantees, lost/duplicated elements), at
//! least one kind of the original failure is still there ([`Failure`]). A
//! candidate that passes under its seed is tried under a few neighbouring
//! seeds too: a smaller workload changes the whole schedule, and a failure
//! that needs a particular interleaving usually has one nearby. The result
//! is a workload file with its seed: `faultline test` on it replays it.
//!
//! A recorded history of any store cannot be re-run, but it can be cut:
//! [`history::shrink_history`] drops operations while the checker still
//! fails (delta debugging), which leaves the counterexample a person reads
//! first.

pub mod history;

use crate::checker::{CheckResult, Verdict};
use crate::runner::{run_blocking, RunOptions, RunOutcome};
use crate::workload::{DbKind, Overrides, Workload};
use anyhow::{anyhow, bail, Context};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The failure a shrunk run must keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The checker that said `invalid`.
    pub checker: String,
    /// The kinds of anomaly it named (may be empty: then `invalid` suffices).
    pub kinds: BTreeSet<String>,
}

impl Failure {
    /// The failure of `checker` in `results` (the first invalid checker
    /// when `checker` is `None`); `None` when that checker did not fail.
    pub fn of(results: &[CheckResult], checker: Option<&str>) -> Option<Failure> {
        let r = results
            .iter()
            .filter(|r| r.verdict == Verdict::Invalid)
            .find(|r| checker.is_none_or(|c| r.checker == c))?;
        Some(Failure {
            checker: r.checker.clone(),
            kinds: anomaly_kinds(r),
        })
    }

    /// True when `results` fail the same checker with a kind in common.
    pub fn reproduced_by(&self, results: &[CheckResult]) -> bool {
        results.iter().any(|r| {
            r.checker == self.checker
                && r.verdict == Verdict::Invalid
                && (self.kinds.is_empty() || !anomaly_kinds(r).is_disjoint(&self.kinds))
        })
    }

    pub fn describe(&self) -> String {
        if self.kinds.is_empty() {
            format!("{} invalid", self.checker)
        } else {
            let k: Vec<&str> = self.kinds.iter().map(|s| s.as_str()).collect();
            format!("{} invalid ({})", self.checker, k.join(", "))
        }
    }
}

/// The kinds of anomaly a result names: Elle's `anomaly_types`, the session
/// guarantees with violations, lost-write's non-zero `lost`, `duplicated`
/// and `unexpected` counts.
pub fn anomaly_kinds(r: &CheckResult) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let d = &r.details;
    if let Some(a) = d.get("anomaly_types").and_then(Value::as_array) {
        out.extend(a.iter().filter_map(Value::as_str).map(str::to_string));
    }
    if let Some(c) = d.get("counts").and_then(Value::as_object) {
        for (k, v) in c {
            let counted = v.as_u64().is_some_and(|n| n > 0);
            let kind = match r.checker.as_str() {
                "session" => true,
                "lost-write" => matches!(k.as_str(), "lost" | "duplicated" | "unexpected"),
                _ => false,
            };
            if counted && kind {
                out.insert(k.clone());
            }
        }
    }
    out
}

/// How hard to look.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// The checker whose failure to keep (default: the first that failed).
    pub checker: Option<String>,
    /// At most this many candidate runs.
    pub max_runs: usize,
    /// Stop looking after this long (wall time); the best so far is kept.
    pub time_limit: Duration,
    /// Seeds tried per candidate (its own, then the next ones).
    pub seeds_per_candidate: u64,
    /// Print each accepted step.
    pub verbose: bool,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions {
            checker: None,
            max_runs: 400,
            time_limit: Duration::from_secs(300),
            seeds_per_candidate: 4,
            verbose: false,
        }
    }
}

/// The size of a run, as the user sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSize {
    pub ops: u64,
    pub nodes: usize,
    pub concurrency: usize,
    pub keys: usize,
    pub faults: Vec<String>,
    pub duration: Duration,
    pub rate: Option<f64>,
    pub final_reads: bool,
}

impl RunSize {
    fn of(w: &Workload, ops: u64) -> RunSize {
        RunSize {
            ops,
            nodes: w.nodes.len(),
            concurrency: w.concurrency,
            keys: w.keys,
            faults: fault_names(w),
            duration: w.duration,
            rate: w.rate,
            final_reads: w.final_reads,
        }
    }
}

fn fault_names(w: &Workload) -> Vec<String> {
    w.nemesis
        .as_ref()
        .map(|n| n.faults.iter().map(|f| f.as_str().to_string()).collect())
        .unwrap_or_default()
}

/// What [`shrink_run`] found.
#[derive(Debug)]
pub struct ShrinkReport {
    pub failure: Failure,
    /// False when replaying the original run did not fail the same way.
    pub reproduced: bool,
    pub before: RunSize,
    pub after: RunSize,
    /// The shrunk workload (its seed included).
    pub workload: Workload,
    /// `RUN_DIR/shrunk`.
    pub dir: PathBuf,
    /// The verdict of the shrunk run's replay.
    pub verdict: Verdict,
    pub runs: usize,
    /// The steps taken, in words.
    pub steps: Vec<String>,
}

impl ShrinkReport {
    /// Exit code: 1 when the shrunk run fails, 0 when the failure could not
    /// be reproduced.
    pub fn exit_code(&self) -> i32 {
        if self.reproduced && self.verdict == Verdict::Invalid {
            1
        } else {
            0
        }
    }

    /// What was removed, in words.
    pub fn text(&self) -> String {
        let (b, a) = (&self.before, &self.after);
        let mut out = String::new();
        if !self.reproduced {
            out.push_str(&format!(
                "could not reproduce the failure ({}) by replaying the run: nothing shrunk\n",
                self.failure.describe()
            ));
            return out;
        }
        out.push_str(&format!(
            "shrunk in {} runs, still {}:\n",
            self.runs,
            self.failure.describe()
        ));
        let line = |name: &str, x: String, y: String| {
            if x == y {
                format!("  {name:<12} {x}\n")
            } else {
                format!("  {name:<12} {x} -> {y}\n")
            }
        };
        out.push_str(&line("operations", b.ops.to_string(), a.ops.to_string()));
        out.push_str(&line("nodes", b.nodes.to_string(), a.nodes.to_string()));
        out.push_str(&line(
            "clients",
            b.concurrency.to_string(),
            a.concurrency.to_string(),
        ));
        out.push_str(&line("keys", b.keys.to_string(), a.keys.to_string()));
        let faults = |f: &[String]| {
            if f.is_empty() {
                "none".to_string()
            } else {
                f.join(", ")
            }
        };
        out.push_str(&line("faults", faults(&b.faults), faults(&a.faults)));
        out.push_str(&line(
            "duration",
            format!("{} s", b.duration.as_secs_f64()),
            format!("{} s", a.duration.as_secs_f64()),
        ));
        let rate = |r: Option<f64>| r.map_or("unlimited".to_string(), |r| format!("{r} ops/s"));
        out.push_str(&line("rate", rate(b.rate), rate(a.rate)));
        out.push_str(&line(
            "final reads",
            b.final_reads.to_string(),
            a.final_reads.to_string(),
        ));
        out.push_str(&format!("  seed         {}\n", self.workload.seed));
        for s in &self.steps {
            out.push_str(&format!("  - {s}\n"));
        }
        out.push_str(&format!(
            "wrote {0}/workload.toml, {0}/history.jsonl, {0}/results.json\nreplay: faultline test {0}/workload.toml\nverdict: {1}\n",
            self.dir.display(),
            self.verdict
        ));
        out
    }
}

/// Loads the workload a run directory ran: its `workload.toml` with the
/// command-line values recorded in `results.json`.
pub fn load_run(run_dir: &Path) -> anyhow::Result<(Workload, Value)> {
    let results_path = run_dir.join("results.json");
    let text = std::fs::read_to_string(&results_path)
        .with_context(|| format!("{}: cannot read", results_path.display()))?;
    let results: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{}: not JSON: {e}", results_path.display()))?;
    let wpath = run_dir.join("workload.toml");
    let mut w = crate::workload::load(&wpath).map_err(|e| anyhow!("{e}"))?;
    let o = results.get("overrides").ok_or_else(|| {
        anyhow!(
            "{}: no `overrides` object (a run recorded before runs could be replayed)",
            results_path.display()
        )
    })?;
    let field = |k: &str| {
        o.get(k)
            .ok_or_else(|| anyhow!("{}: `overrides.{k}` is missing", results_path.display()))
    };
    let num = |k: &str| -> anyhow::Result<f64> {
        field(k)?.as_f64().ok_or_else(|| {
            anyhow!(
                "{}: `overrides.{k}` is not a number",
                results_path.display()
            )
        })
    };
    let seed = field("seed")?.as_u64().ok_or_else(|| {
        anyhow!(
            "{}: `overrides.seed` is not an unsigned integer",
            results_path.display()
        )
    })?;
    w.apply(&Overrides {
        seed: Some(seed),
        time_limit: Some(num("time_limit")?),
        concurrency: Some(num("concurrency")? as usize),
        rate: Some(num("rate")?),
    })
    .map_err(|e| anyhow!("{e}"))?;
    Ok((w, results))
}

/// The checkers' results as `results.json` recorded them (what `shrink`
/// needs of them: checker, verdict, details).
fn recorded_results(results: &Value) -> Vec<CheckResult> {
    let Some(list) = results.get("results").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|r| {
            let checker = r.get("checker")?.as_str()?;
            let verdict = match r.get("verdict")?.as_str()? {
                "valid" => Verdict::Valid,
                "invalid" => Verdict::Invalid,
                _ => Verdict::Unknown,
            };
            let summary = r.get("summary").and_then(Value::as_str).unwrap_or("");
            let mut c = CheckResult::new(checker, verdict, summary);
            c.details = r.get("details").cloned().unwrap_or(Value::Null);
            Some(c)
        })
        .collect()
}

/// Shrinks the failing simulated run in `run_dir`; writes `run_dir/shrunk/`.
pub fn shrink_run(run_dir: &Path, opts: &ShrinkOptions) -> anyhow::Result<ShrinkReport> {
    let (w, results) = load_run(run_dir)?;
    if !crate::systems::virtual_time(w.db) {
        bail!(
            "{}: a `{}` run cannot be replayed (only db = \"sim\" runs are deterministic); shrink its history instead: faultline shrink {}/history.jsonl --workload {}",
            run_dir.display(),
            w.db.as_str(),
            run_dir.display(),
            w.workload.as_str()
        );
    }
    let recorded = recorded_results(&results);
    let failure = Failure::of(&recorded, opts.checker.as_deref()).ok_or_else(|| {
        anyhow!(
            "{}: {} did not fail in this run: nothing to shrink",
            run_dir.display(),
            opts.checker.as_deref().unwrap_or("no checker")
        )
    })?;
    // Candidate runs go to a scratch directory, removed at the end.
    let shrunk_dir = run_dir.join("shrunk");
    let scratch = Scratch(shrunk_dir.join(".attempts"));
    std::fs::create_dir_all(&scratch.0)
        .with_context(|| format!("cannot create {}", scratch.0.display()))?;
    let started = Instant::now();
    let runs = std::cell::Cell::new(0usize);
    let run_opts = RunOptions {
        runs_dir: scratch.0.clone(),
        progress: crate::runner::progress::ProgressMode::Quiet,
        check_time_limit: Some(Duration::from_secs(60)),
        ..RunOptions::default()
    };
    let attempt = |w: &Workload| -> anyhow::Result<RunOutcome> {
        runs.set(runs.get() + 1);
        let o = run_blocking(w, &run_opts)?;
        let _ = std::fs::remove_dir_all(&o.run_dir);
        Ok(o)
    };

    let original = attempt(&w)?;
    let before = RunSize::of(&w, original.stats.ops);
    if !failure.reproduced_by(&original.results) {
        return Ok(ShrinkReport {
            failure,
            reproduced: false,
            after: before.clone(),
            before,
            workload: w,
            dir: shrunk_dir,
            verdict: original.verdict,
            runs: runs.get(),
            steps: Vec::new(),
        });
    }
    let mut best = w.clone();
    let mut steps = Vec::new();
    'outer: loop {
        for (what, cand) in candidates(&best) {
            for k in 0..opts.seeds_per_candidate.max(1) {
                if runs.get() >= opts.max_runs || started.elapsed() >= opts.time_limit {
                    break 'outer;
                }
                let mut c = cand.clone();
                c.seed = cand.seed.wrapping_add(k);
                let o = attempt(&c)?;
                if failure.reproduced_by(&o.results) {
                    let step = if k == 0 {
                        format!("{what}: {} ops", o.stats.ops)
                    } else {
                        format!("{what} (seed {}): {} ops", c.seed, o.stats.ops)
                    };
                    if opts.verbose {
                        eprintln!("faultline: shrink: {step}");
                    }
                    steps.push(step);
                    best = c;
                    continue 'outer;
                }
            }
        }
        break;
    }

    // Write the shrunk workload and replay it there: what the user gets is
    // exactly what `faultline test shrunk/workload.toml` gives.
    std::fs::create_dir_all(&shrunk_dir)
        .with_context(|| format!("cannot create {}", shrunk_dir.display()))?;
    let wpath = shrunk_dir.join("workload.toml");
    std::fs::write(&wpath, workload_toml(&best))
        .with_context(|| format!("cannot write {}", wpath.display()))?;
    let mut replay = crate::workload::load(&wpath).map_err(|e| anyhow!("{e}"))?;
    replay.stem = best.stem.clone();
    let o = run_blocking(&replay, &run_opts)?;
    runs.set(runs.get() + 1);
    for f in ["history.jsonl", "results.json"] {
        std::fs::copy(o.run_dir.join(f), shrunk_dir.join(f))
            .with_context(|| format!("cannot write {}", shrunk_dir.join(f).display()))?;
    }
    let reproduced = failure.reproduced_by(&o.results);
    Ok(ShrinkReport {
        failure,
        reproduced,
        before,
        after: RunSize::of(&replay, o.stats.ops),
        workload: replay,
        dir: shrunk_dir,
        verdict: o.verdict,
        runs: runs.get(),
        steps,
    })
}

/// A directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Smaller variants of `w`, most aggressive first; each removes one thing.
fn candidates(w: &Workload) -> Vec<(String, Workload)> {
    let mut out: Vec<(String, Workload)> = Vec::new();
    let mut push = |what: String, f: &dyn Fn(&mut Workload)| {
        let mut c = w.clone();
        f(&mut c);
        out.push((what, c));
    };
    let secs = w.duration.as_secs_f64();
    if secs > 0.02 {
        push(format!("duration {secs} s -> {} s", secs / 2.0), &|c| {
            c.duration /= 2
        });
    }
    if let Some(n) = &w.nemesis {
        if !n.faults.is_empty() {
            push("no faults".to_string(), &|c| c.nemesis = None);
        }
        if n.faults.len() > 1 {
            for (i, f) in n.faults.iter().enumerate() {
                push(format!("without {} faults", f.as_str()), &move |c| {
                    if let Some(n) = &mut c.nemesis {
                        n.faults.remove(i);
                    }
                });
            }
        }
        if n.interval > 0.02 {
            push(
                format!("faults every {} s -> {} s", n.interval, n.interval / 2.0),
                &|c| {
                    if let Some(n) = &mut c.nemesis {
                        n.interval /= 2.0;
                    }
                },
            );
        }
        let d = n.duration.unwrap_or(n.interval);
        if d > 0.02 {
            push(format!("faults last {d} s -> {} s", d / 2.0), &move |c| {
                if let Some(n) = &mut c.nemesis {
                    n.duration = Some(d / 2.0);
                }
            });
        }
    }
    for (what, smaller) in fewer_nodes(w) {
        push(what, &move |c| *c = smaller.clone());
    }
    if let Some(r) = w.rate {
        if r >= 2.0 {
            push(format!("rate {r} -> {} ops/s", r / 2.0), &|c| {
                c.rate = c.rate.map(|r| r / 2.0)
            });
        }
    }
    // A faster failure detector makes a failover (and its damage) happen
    // sooner, so a shorter run can show it.
    if w.db == DbKind::Sim && w.sim.heartbeat_ms >= 0.2 {
        let (e, h) = (w.sim.election_timeout_ms, w.sim.heartbeat_ms);
        push(
            format!(
                "election timeout {e} -> {} ms, heartbeat {h} -> {} ms",
                e / 2.0,
                h / 2.0
            ),
            &move |c| {
                c.sim.election_timeout_ms = e / 2.0;
                c.sim.heartbeat_ms = h / 2.0;
            },
        );
    }
    // Reliable links and clients that do not think: fewer random choices
    // between the reader and the failure.
    if w.db == DbKind::Sim {
        if w.sim.drop_rate > 0.0 {
            push("no lost messages".to_string(), &|c| c.sim.drop_rate = 0.0);
        }
        if w.sim.jitter_ms > 0.0 {
            push("no link jitter".to_string(), &|c| c.sim.jitter_ms = 0.0);
        }
        if w.sim.think_time_ms[1] > 0.0 {
            push("no think time".to_string(), &|c| {
                c.sim.think_time_ms = [0.0, 0.0]
            });
        }
    }
    if w.concurrency > 1 {
        let half = w.concurrency / 2;
        push(format!("clients {} -> {half}", w.concurrency), &move |c| {
            c.concurrency = half
        });
        if w.concurrency - 1 != half {
            let less = w.concurrency - 1;
            push(format!("clients {} -> {less}", w.concurrency), &move |c| {
                c.concurrency = less
            });
        }
    }
    if w.keys > 1 {
        let half = w.keys / 2;
        push(format!("keys {} -> {half}", w.keys), &move |c| {
            c.keys = half
        });
        if w.keys - 1 != half {
            let less = w.keys - 1;
            push(format!("keys {} -> {less}", w.keys), &move |c| {
                c.keys = less
            });
        }
    }
    if w.final_reads {
        push("no final reads".to_string(), &|c| c.final_reads = false);
    }
    if w.final_reads && w.quiesce.as_secs_f64() > 0.02 {
        let q = w.quiesce.as_secs_f64();
        push(format!("quiesce {q} s -> {} s", q / 2.0), &|c| {
            c.quiesce /= 2
        });
    }
    // Keys are retired after about `ops_per_key` operations each; enough
    // operations per key keeps the run on one set of keys (fewer keys, and
    // fewer final reads).
    let needed = w.rate.map_or(w.ops_per_key, |r| {
        (r * w.duration.as_secs_f64() / w.keys as f64).ceil() as usize + 1
    });
    if w.ops_per_key < needed {
        push(
            format!(
                "one set of keys (ops per key {} -> {needed})",
                w.ops_per_key
            ),
            &move |c| c.ops_per_key = needed,
        );
    }
    out
}

/// The workload without one node: for each region (the most populous
/// first), its last node. A candidate must still be a valid workload (each
/// fault kind keeps the nodes it needs, `region-split` keeps two regions),
/// so what the failure needs stays; whether the strategy still fails with
/// fewer replicas is for the run to say.
fn fewer_nodes(w: &Workload) -> Vec<(String, Workload)> {
    if w.db != DbKind::Sim || w.nodes.len() < 2 {
        return Vec::new();
    }
    let mut regions: Vec<(&str, Vec<&String>)> = Vec::new();
    for n in &w.nodes {
        let r = w.region_of(n);
        match regions.iter_mut().find(|(name, _)| *name == r) {
            Some((_, members)) => members.push(n),
            None => regions.push((r, vec![n])),
        }
    }
    // Most nodes first; ties in the order the regions first appear.
    regions.sort_by_key(|(_, members)| std::cmp::Reverse(members.len()));
    let mut out = Vec::new();
    for (_, members) in regions {
        let Some(gone) = members.last() else { continue };
        let mut c = w.clone();
        c.nodes.retain(|n| n != *gone);
        c.regions.remove(gone.as_str());
        // The file's validation decides what the faults still allow.
        if crate::workload::parse(&workload_toml(&c), "candidate", &c.stem).is_err() {
            continue;
        }
        out.push((
            format!(
                "nodes {} -> {} (without {gone})",
                w.nodes.len(),
                c.nodes.len()
            ),
            c,
        ));
    }
    out
}

/// A simulated workload as a workload file (every field explicit, so the
/// file means the same thing whatever the defaults become).
pub fn workload_toml(w: &Workload) -> String {
    use toml::Value as T;
    let f = |x: f64| T::Float(x);
    let i = |x: u64| T::Integer(x.min(i64::MAX as u64) as i64);
    let mut t = toml::Table::new();
    t.insert("name".into(), T::String(w.name.clone()));
    t.insert("db".into(), T::String(w.db.as_str().into()));
    t.insert(
        "nodes".into(),
        T::Array(w.nodes.iter().cloned().map(T::String).collect()),
    );
    t.insert(
        "regions".into(),
        T::Table(
            w.regions
                .iter()
                .map(|(k, v)| (k.clone(), T::String(v.clone())))
                .collect(),
        ),
    );
    t.insert("workload".into(), T::String(w.workload.as_str().into()));
    t.insert("keys".into(), i(w.keys as u64));
    t.insert("ops_per_key".into(), i(w.ops_per_key as u64));
    t.insert("concurrency".into(), i(w.concurrency as u64));
    t.insert("rate".into(), f(w.rate.unwrap_or(0.0)));
    t.insert("duration".into(), f(w.duration.as_secs_f64()));
    t.insert("timeout".into(), f(w.timeout.as_secs_f64()));
    t.insert("seed".into(), i(w.seed));
    t.insert("final_reads".into(), T::Boolean(w.final_reads));
    t.insert("quiesce".into(), f(w.quiesce.as_secs_f64()));
    if let Some(c) = &w.checkers {
        t.insert(
            "checkers".into(),
            T::Array(
                c.iter()
                    .map(|k| T::String(k.as_str().to_string()))
                    .collect(),
            ),
        );
    }
    let m = &w.mix;
    let mut mix = toml::Table::new();
    for (k, v) in [
        ("read", m.read),
        ("write", m.write),
        ("cas", m.cas),
        ("add", m.add),
        ("append", m.append),
    ] {
        mix.insert(k.into(), f(v));
    }
    mix.insert("txn_len".into(), i(m.txn_len as u64));
    t.insert("mix".into(), T::Table(mix));
    if let Some(n) = &w.nemesis {
        let mut nt = toml::Table::new();
        nt.insert(
            "faults".into(),
            T::Array(
                n.faults
                    .iter()
                    .map(|f| T::String(f.as_str().into()))
                    .collect(),
            ),
        );
        nt.insert("interval".into(), f(n.interval));
        if let Some(d) = n.duration {
            nt.insert("duration".into(), f(d));
        }
        t.insert("nemesis".into(), T::Table(nt));
    }
    let s = &w.sim;
    let mut st = toml::Table::new();
    st.insert("strategy".into(), T::String(s.strategy.as_str().into()));
    for (k, v) in [
        ("latency_local_ms", s.latency_local_ms),
        ("latency_region_ms", s.latency_region_ms),
        ("latency_client_ms", s.latency_client_ms),
        ("heartbeat_ms", s.heartbeat_ms),
        ("election_timeout_ms", s.election_timeout_ms),
        ("replication_interval_ms", s.replication_interval_ms),
        ("clock_skew_ms", s.clock_skew_ms),
        ("time_scale", s.time_scale),
        ("jitter_ms", s.jitter_ms),
        ("drop_rate", s.drop_rate),
    ] {
        st.insert(k.into(), f(v));
    }
    st.insert(
        "think_time_ms".into(),
        T::Array(s.think_time_ms.iter().map(|x| f(*x)).collect()),
    );
    t.insert("sim".into(), T::Table(st));
    let body = toml::to_string(&t).unwrap_or_default();
    format!(
        "# Written by `faultline shrink`: a smaller run that fails the same way.\n# Replay: faultline test <this file>\n{body}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_toml_round_trips() {
        let w = crate::workload::load(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/sim-failover-fenced.toml"),
        )
        .unwrap();
        let text = workload_toml(&w);
        let back = crate::workload::parse(&text, "back.toml", &w.stem).unwrap();
        assert_eq!(back.nodes, w.nodes);
        assert_eq!(back.regions, w.regions);
        assert_eq!(back.mix, w.mix);
        assert_eq!(back.nemesis, w.nemesis);
        assert_eq!(back.sim, w.sim);
        assert_eq!(
            (back.keys, back.ops_per_key, back.concurrency, back.seed),
            (w.keys, w.ops_per_key, w.concurrency, w.seed)
        );
        assert_eq!(
            (back.rate, back.duration, back.timeout),
            (w.rate, w.duration, w.timeout)
        );
        assert_eq!((back.final_reads, back.quiesce), (w.final_reads, w.quiesce));
        assert_eq!(back.name, w.name);
    }

    #[test]
    fn fewer_nodes_keeps_what_the_faults_need() {
        let w = crate::workload::load(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/sim-failover-fenced.toml"),
        )
        .unwrap();
        let c = fewer_nodes(&w);
        // us-east and us-west have two nodes each, eu-west one: one
        // candidate per region, the larger regions first.
        let gone: Vec<Vec<String>> = c
            .iter()
            .map(|(_, cw)| {
                w.nodes
                    .iter()
                    .filter(|n| !cw.nodes.contains(n))
                    .cloned()
                    .collect()
            })
            .collect();
        assert_eq!(gone, vec![vec!["n2"], vec!["n4"], vec!["n5"]], "{c:?}");
        for (what, cw) in &c {
            assert_eq!(cw.nodes.len(), 4, "{what}");
            assert_eq!(cw.regions.len(), 4, "{what}: regions follow the nodes");
            assert!(what.contains("nodes 5 -> 4"), "{what}");
        }

        // Two regions of one node and a region split: removing either node
        // would leave nothing to split, so no candidate.
        let two = crate::workload::parse(
            "db = \"sim\"\nnodes = [\"a\", \"b\"]\nregions = { a = \"x\", b = \"y\" }\nworkload = \"register\"\nrate = 10\n[nemesis]\nfaults = [\"region-split\"]\n",
            "two.toml",
            "two",
        )
        .unwrap();
        assert!(fewer_nodes(&two).is_empty());
        // Without faults one node may go.
        let mut calm = two.clone();
        calm.nemesis = None;
        assert_eq!(fewer_nodes(&calm).len(), 2);
        // Bridge needs three nodes.
        let mut bridge = w.clone();
        bridge.nodes.truncate(3);
        bridge
            .regions
            .retain(|n, _| ["n1", "n2", "n3"].contains(&n.as_str()));
        bridge.nemesis.as_mut().unwrap().faults = vec![crate::workload::FaultKind::Bridge];
        assert!(fewer_nodes(&bridge).is_empty());
    }

    #[test]
    fn every_candidate_is_smaller_and_valid() {
        let mut w = crate::workload::load(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/sim-failover-unsafe.toml"),
        )
        .unwrap();
        w.sim.drop_rate = 0.1;
        w.sim.jitter_ms = 2.0;
        w.sim.think_time_ms = [1.0, 3.0];
        let c = candidates(&w);
        assert!(c.len() >= 11, "{}", c.len());
        for what in ["no lost messages", "no link jitter", "no think time"] {
            assert!(c.iter().any(|(w, _)| w == what), "{what}");
        }
        for (what, cw) in &c {
            let text = workload_toml(cw);
            crate::workload::parse(&text, "c.toml", "c").unwrap_or_else(|e| panic!("{what}: {e}"));
            let smaller = cw.duration < w.duration
                || cw.nodes.len() < w.nodes.len()
                || cw.concurrency < w.concurrency
                || cw.keys < w.keys
                || cw.rate < w.rate
                || fault_names(cw).len() < fault_names(&w).len()
                || cw.nemesis != w.nemesis
                || cw.final_reads != w.final_reads
                || cw.quiesce < w.quiesce
                || cw.ops_per_key != w.ops_per_key
                || cw.sim.election_timeout_ms < w.sim.election_timeout_ms
                || cw.sim.drop_rate < w.sim.drop_rate
                || cw.sim.jitter_ms < w.sim.jitter_ms
                || cw.sim.think_time_ms[1] < w.sim.think_time_ms[1];
            assert!(smaller, "{what} removes nothing");
        }
    }
}
