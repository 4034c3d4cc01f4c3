//! `faultline test`: run a workload against a store while faults happen,
//! record the history, check it.
//!
//! One tokio task per worker performs the generator's operations through a
//! [`Client`] (a timed-out operation is `info` and its worker continues as a
//! new process, Jepsen's rule); the nemesis runs on its own schedule and its
//! faults go into the same history; the history streams to
//! `runs/<stem>/<timestamp>/history.jsonl` as it happens ([`recorder`]).
//! After the run (or on Ctrl-C) every fault is healed; unless cancelled,
//! every key is read once more on every node; then the checkers decide and
//! `results.json` records their verdicts and `report.html` shows them (see
//! [`crate::report::html`]). `runs/latest` points at the newest
//! run.
//!
//! Time: real stores run on a multi-threaded runtime and real time. The
//! simulated store (`db = "sim"`) runs on a current-thread runtime whose
//! clock is paused ([`crate::systems::runtime_for`]): time only moves when
//! every task waits, and then jumps to the next timer. Tasks are spawned in
//! a fixed order, every `select!` on this path is `biased`, every random
//! choice comes from generators seeded by the workload seed, and the
//! recorder stamps events with the runtime's clock, so the same workload,
//! seed and overrides give a byte-identical `history.jsonl` on any machine,
//! as fast as the CPU allows. [`replay_command`] is printed and recorded with every run.

pub mod explore;
pub mod progress;
pub mod recorder;

pub use crate::systems::{backend_for, Backend};

use crate::checker::registry::{self, CheckWorkload, CheckerKind};
use crate::checker::{Budget, CheckResult, Verdict};
use crate::client::{Client, ClientFactory, Completion, Invocation};
use crate::generator::nemesis::FaultSchedule;
use crate::generator::{final_reads, GenSpec, Generator};
use crate::history::{History, OpType, Process};
use crate::nemesis::{Fault, Nemesis};
use crate::workload::Workload;
use anyhow::Context;
use progress::{ProgressMode, Stats};
use recorder::Recorder;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A cancellation signal shared by the runner and whoever may stop it
/// (Ctrl-C, a test). The first cancellation stops generating; the runner
/// then heals, writes and checks what was recorded. A cancellation that
/// arrives while the checkers run stops them (they answer `unknown`).
#[derive(Clone, Debug)]
pub struct Cancel(Arc<watch::Sender<u32>>);

impl Default for Cancel {
    fn default() -> Self {
        Cancel(Arc::new(watch::channel(0).0))
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }
    /// Signals one more cancellation.
    pub fn cancel(&self) {
        self.0.send_modify(|n| *n += 1);
    }
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow() > 0
    }
    /// How many times it was cancelled.
    pub fn count(&self) -> u32 {
        *self.0.borrow()
    }
    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        self.cancelled_more_than(0).await;
    }
    /// Resolves once cancelled more than `n` times.
    pub async fn cancelled_more_than(&self, n: u32) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|c| *c > n).await;
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Where runs go: `<runs_dir>/<stem>/<timestamp>/`.
    pub runs_dir: PathBuf,
    pub progress: ProgressMode,
    /// Stops the run early (what Ctrl-C does).
    pub cancel: Cancel,
    /// Install a Ctrl-C handler that cancels the run.
    pub handle_ctrl_c: bool,
    /// Run the checkers (benchmarks turn this off).
    pub check: bool,
    /// Wall-clock budget for all checkers together.
    pub check_time_limit: Option<Duration>,
    /// Print the summary to stdout at the end.
    pub print_summary: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            runs_dir: PathBuf::from("runs"),
            progress: ProgressMode::Auto,
            cancel: Cancel::new(),
            handle_ctrl_c: false,
            check: true,
            check_time_limit: Some(Duration::from_secs(300)),
            print_summary: false,
        }
    }
}

/// Counts of what happened.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunStats {
    /// Client operations invoked (final reads included).
    pub ops: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Faults injected.
    pub faults: u64,
    /// Seconds from the first operation to the end of the main phase.
    pub main_seconds: f64,
    /// Client operations per second in the main phase.
    pub ops_per_second: f64,
    pub events: u64,
    /// Wall-clock seconds the whole run took, checking included (for the
    /// simulator, whose `main_seconds` are virtual, this is what it cost).
    pub wall_seconds: f64,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub run_dir: PathBuf,
    pub history_path: PathBuf,
    pub results_path: PathBuf,
    pub results: Vec<CheckResult>,
    /// All checkers' verdicts combined (`Unknown` when nothing was checked).
    pub verdict: Verdict,
    pub stats: RunStats,
    /// True when the run was stopped early.
    pub cancelled: bool,
    /// Simulated runs: violations of the simulator's own invariants (one
    /// leader per epoch, committed entries agree); empty otherwise.
    pub invariant_violations: Vec<String>,
}

impl RunOutcome {
    /// Exit code per DESIGN.md: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code()
    }
}

/// Runs `workload` to the end (or cancellation) and checks the history.
///
/// A simulated run always gets its own deterministic runtime (on a blocking
/// thread), whatever runtime the caller is on.
pub async fn run(workload: &Workload, opts: &RunOptions) -> anyhow::Result<RunOutcome> {
    if crate::systems::virtual_time(workload.db) {
        let (w, o) = (workload.clone(), opts.clone());
        return tokio::task::spawn_blocking(move || run_blocking(&w, &o))
            .await
            .context("the simulated run panicked")?;
    }
    let backend = backend_for(workload)?;
    run_with(workload, opts, backend).await
}

/// Like [`run`], on a fresh runtime: multi-threaded and real time for real
/// stores, virtual time for the simulator ([`crate::systems::runtime_for`]).
pub fn run_blocking(workload: &Workload, opts: &RunOptions) -> anyhow::Result<RunOutcome> {
    if crate::systems::virtual_time(workload.db) {
        workload.check_virtual_time()?;
        let rt = crate::systems::runtime_for(workload.db)?;
        // The progress display would tick in virtual time; a simulated run
        // is short in wall time anyway.
        let opts = RunOptions {
            progress: ProgressMode::Quiet,
            ..opts.clone()
        };
        return rt.block_on(async {
            let backend = backend_for(workload)?;
            run_with(workload, &opts, backend).await
        });
    }
    crate::systems::runtime_for(workload.db)?.block_on(run(workload, opts))
}

/// The command that replays a run of `w` exactly (for the simulator) or
/// with the same seed and schedule (for real stores): every value the
/// command line can override is spelled out. `None` when the workload did
/// not come from a file.
pub fn replay_command(w: &Workload) -> Option<String> {
    let path = w.path.as_ref()?;
    let mut cmd = format!(
        "faultline test {} --seed {} --time-limit {} --concurrency {} --rate {}",
        shell_word(&path.display().to_string()),
        w.seed,
        w.duration.as_secs_f64(),
        w.concurrency,
        w.rate.unwrap_or(0.0)
    );
    if !crate::systems::virtual_time(w.db) {
        cmd.push_str("  # same seed and schedule; a real store's timing differs");
    }
    Some(cmd)
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Everything `faultline test <file>` does: load the workload, apply the
/// overrides, run it with a Ctrl-C handler and a progress display, print the
/// summary, and return the exit code (0 valid, 1 invalid, 2 unknown, 254 bad
/// workload file or arguments, 255 internal error). Errors go to stderr.
///
/// With `test_count = Some(n)` it runs seeds `S..S+n` instead (`S` from
/// `--seed`, else 0)
/// ([`explore::explore_command`]).
pub fn test_command(
    path: &Path,
    overrides: &crate::workload::Overrides,
    runs_dir: Option<PathBuf>,
    test_count: Option<u64>,
) -> i32 {
    let mut w = match crate::workload::load(path) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("faultline: {e}");
            return 254;
        }
    };
    if let Err(e) = w.apply(overrides).and_then(|()| w.check_virtual_time()) {
        eprintln!("faultline: {e}");
        return 254;
    }
    if let Some(n) = test_count {
        if n == 0 {
            eprintln!("faultline: --test-count: give at least 1 run");
            return 254;
        }
        // Seeds from --seed, else from 0 (not the file's seed).
        return explore::explore_command(&w, overrides.seed.unwrap_or(0), n, runs_dir);
    }
    let mut opts = RunOptions {
        handle_ctrl_c: true,
        print_summary: true,
        ..RunOptions::default()
    };
    if let Some(d) = runs_dir {
        opts.runs_dir = d;
    }
    match run_blocking(&w, &opts) {
        Ok(o) => o.exit_code(),
        Err(e) => {
            eprintln!("faultline: {}: {e:#}", w.name);
            255
        }
    }
}

/// Runs against an already built backend (how other backends plug in).
pub async fn run_with(
    workload: &Workload,
    opts: &RunOptions,
    backend: Backend,
) -> anyhow::Result<RunOutcome> {
    let w = workload;
    let wall = Instant::now();
    let run_dir = make_run_dir(&opts.runs_dir, &w.stem)?;
    update_latest(&opts.runs_dir, &run_dir);
    if let Some(p) = &w.path {
        let _ = std::fs::copy(p, run_dir.join("workload.toml"));
    }
    let history_path = run_dir.join("history.jsonl");
    let clock = tokio::time::Instant::now();
    let (rec, writer) = recorder::start(&history_path, clock)
        .with_context(|| format!("cannot create {}", history_path.display()))?;
    if opts.handle_ctrl_c {
        let cancel = opts.cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            eprintln!("faultline: interrupted: stopping, healing, checking what was recorded (Ctrl-C again stops the checkers)");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            eprintln!("faultline: interrupted again: checkers stop (verdict unknown); Ctrl-C once more to exit at once");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("faultline: aborted");
                std::process::exit(130);
            }
        });
    }

    if let Some(db) = &backend.db {
        let db = db.clone();
        let nodes = w.nodes.clone();
        tokio::task::spawn_blocking(move || db.setup(&nodes))
            .await
            .context("db setup panicked")?
            .context("db setup")?;
    }

    let stats = Arc::new(Stats::default());
    let progress = progress::start(opts.progress, stats.clone(), w.duration, &w.name);
    let result = drive(w, opts, &backend, &rec, &stats).await;
    progress.finish();
    // Whatever went wrong, leave no fault behind (the normal path healed).
    if let (Err(_), Some(n)) = (&result, &backend.nemesis) {
        let heal = n.heal_all().await;
        rec.record(
            Process::name("nemesis"),
            OpType::Info,
            "heal-all",
            None,
            Value::Null,
            None,
            heal.as_ref().err().map(|e| json!(e.to_string())),
        );
    }
    drop(rec);
    let ops = writer.finish()?;
    // What the simulator saw of itself (its own invariants, lost messages).
    let self_report = crate::systems::self_report(&backend);
    let invariant_violations: Option<Vec<String>> =
        self_report.as_ref().map(|r| r.invariant_violations.clone());
    let dropped_messages: Option<u64> = self_report.as_ref().map(|r| r.dropped_messages);
    let main_seconds = result?;
    if let Some(db) = &backend.db {
        let db = db.clone();
        let nodes = w.nodes.clone();
        let dir = run_dir.join("logs");
        let _ = tokio::task::spawn_blocking(move || db.collect_logs(&nodes, &dir)).await;
    }

    let cancelled = opts.cancel.is_cancelled();
    let mut run_stats = stats.snapshot();
    run_stats.main_seconds = main_seconds;
    run_stats.ops_per_second = if main_seconds > 0.0 {
        stats.main_ops.load(Ordering::Relaxed) as f64 / main_seconds
    } else {
        0.0
    };
    run_stats.events = ops.len() as u64;
    let mut history = History::new(ops);
    history.source.path = history_path.clone();
    // Shared with the checkers' blocking task, then with the report: one copy.
    let history = std::sync::Arc::new(history);

    let mut results = if opts.check {
        check(
            w,
            std::sync::Arc::clone(&history),
            opts.check_time_limit,
            &opts.cancel,
        )
        .await?
    } else {
        Vec::new()
    };
    if let (true, Some(p)) = (opts.check, backend.provocation.clone()) {
        let r = tokio::task::spawn_blocking(move || provocation_result(p.as_ref()))
            .await
            .context("asking the system what the run provoked panicked")?;
        results.push(r);
    }
    let verdict = if results.is_empty() {
        Verdict::Unknown
    } else {
        results.iter().fold(Verdict::Valid, |v, r| v.and(r.verdict))
    };
    run_stats.wall_seconds = wall.elapsed().as_secs_f64();
    let results_path = run_dir.join("results.json");
    let doc = json!({
        "workload": w.name,
        "file": w.path.as_ref().map(|p| p.display().to_string()),
        "db": w.db.as_str(),
        "strategy": if w.db == crate::workload::DbKind::Sim { Some(w.sim.strategy.as_str()) } else { None },
        "workload_kind": w.workload.as_str(),
        "seed": w.seed,
        "deterministic": crate::systems::virtual_time(w.db),
        "replay": replay_command(w),
        // What the command line may have changed from the file: with
        // `workload.toml` (the file's copy) this is the exact run.
        "overrides": {
            "seed": w.seed,
            "time_limit": w.duration.as_secs_f64(),
            "concurrency": w.concurrency,
            "rate": w.rate.unwrap_or(0.0),
        },
        "verdict": verdict,
        "checked": opts.check,
        "cancelled": cancelled,
        "stats": run_stats,
        "history": "history.jsonl",
        "sim_invariant_violations": invariant_violations,
        "sim_dropped_messages": dropped_messages,
        "results": results,
    });
    std::fs::write(&results_path, serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", results_path.display()))?;
    crate::report::html::write_run(&run_dir, &history, &results, &doc);
    let outcome = RunOutcome {
        run_dir,
        history_path,
        results_path,
        results,
        verdict,
        stats: run_stats,
        cancelled,
        invariant_violations: invariant_violations.unwrap_or_default(),
    };
    if opts.print_summary {
        // A reader that went away (`faultline test … | head`) must not
        // turn the verdict into a panic.
        let _ = std::io::Write::write_all(&mut std::io::stdout(), summary(w, &outcome).as_bytes());
    }
    Ok(outcome)
}

/// Whether the run provoked what its workload needs, as a result: `valid`
/// when it did, `unknown` (never `valid`) when it did not.
fn provocation_result(p: &dyn crate::systems::Provocation) -> CheckResult {
    match p.observed() {
        Ok(what) => CheckResult::new("provoked", Verdict::Valid, what),
        Err(why) => {
            let mut r = CheckResult::new(
                "provoked",
                Verdict::Unknown,
                format!("the run did not provoke the fault it needs: {why}"),
            );
            r.explanation = why;
            r
        }
    }
}

/// The human summary printed at the end of a run.
pub fn summary(w: &Workload, o: &RunOutcome) -> String {
    let s = &o.stats;
    let mut out = format!(
        "{}: {} ops in {:.1} s ({:.0} ops/s): ok {}, fail {}, info {}; {} faults{}\n",
        w.name,
        s.ops,
        s.main_seconds,
        s.ops_per_second,
        s.ok,
        s.fail,
        s.info,
        s.faults,
        if o.cancelled { " (interrupted)" } else { "" }
    );
    for r in &o.results {
        out.push_str(&format!(
            "  {:<14} {:<8} {}\n",
            r.checker,
            r.verdict.as_str(),
            r.summary
        ));
    }
    if o.results.is_empty() {
        out.push_str("  (no checker ran)\n");
    }
    // What was found, in words: the head of each failing checker's
    // explanation; all of it is in results.json.
    const SHOWN: usize = 12;
    for r in o.results.iter().filter(|r| r.verdict != Verdict::Valid) {
        let lines: Vec<&str> = r.explanation.lines().collect();
        if lines.is_empty() {
            continue;
        }
        out.push_str(&format!("\n  [{}]\n", r.checker));
        for l in lines.iter().take(SHOWN) {
            out.push_str(&format!("    {l}\n"));
        }
        if lines.len() > SHOWN {
            out.push_str(&format!(
                "    ... {} more lines in {}\n",
                lines.len() - SHOWN,
                o.results_path.display()
            ));
        }
    }
    if let Some(first) = o.invariant_violations.first() {
        out.push_str(&format!(
            "  simulator invariants violated {} time(s); first: {first}\n",
            o.invariant_violations.len()
        ));
    }
    out.push_str(&format!("seed: {}", w.seed));
    match replay_command(w) {
        Some(c) => out.push_str(&format!("  replay: {c}\n")),
        None => out.push('\n'),
    }
    out.push_str(&format!(
        "verdict: {}  ({})\n",
        o.verdict,
        o.run_dir.display()
    ));
    out
}

/// The checkers for a workload: `checkers` from the file, else the
/// workload kind's defaults.
pub fn checker_kinds(w: &Workload) -> Vec<CheckerKind> {
    match &w.checkers {
        Some(k) => k.clone(),
        None => CheckWorkload::from(w.workload).checkers(),
    }
}

/// Runs every checker of the workload on `history`. A checker that cannot
/// run (the history does not fit it) answers `unknown` with the reason, so
/// the others still decide.
pub fn check_history(
    w: &Workload,
    history: &History,
    budget: &Budget,
) -> anyhow::Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    for kind in checker_kinds(w) {
        let opts = registry::CheckOptions {
            workload: Some(w.workload.into()),
            checkers: Some(vec![kind]),
            ..registry::CheckOptions::default()
        };
        match registry::run_checks(history, &opts, budget) {
            Ok(mut r) => results.append(&mut r),
            Err(e) => {
                let mut r =
                    CheckResult::new(kind.as_str(), Verdict::Unknown, format!("not run: {e}"));
                r.explanation = e.to_string();
                results.push(r);
            }
        }
    }
    Ok(results)
}

async fn check(
    w: &Workload,
    history: std::sync::Arc<History>,
    limit: Option<Duration>,
    cancel: &Cancel,
) -> anyhow::Result<Vec<CheckResult>> {
    let budget = Budget::with_time_limit(limit);
    // Ctrl-C while checking: the checkers stop and answer `unknown`.
    let watcher = {
        let (budget, cancel) = (budget.clone(), cancel.clone());
        let before = cancel.count();
        tokio::spawn(async move {
            cancel.cancelled_more_than(before).await;
            budget.cancel();
        })
    };
    let w = w.clone();
    let r = tokio::task::spawn_blocking(move || check_history(&w, &history, &budget))
        .await
        .context("a checker panicked");
    watcher.abort();
    r?
}

/// Generates, drives the workers and the nemesis, heals, and performs the
/// final reads. Returns the main phase's length in seconds.
async fn drive(
    w: &Workload,
    opts: &RunOptions,
    backend: &Backend,
    rec: &Recorder,
    stats: &Arc<Stats>,
) -> anyhow::Result<f64> {
    let spec = GenSpec::from_workload(w);
    // Fail early and clearly when no client can be opened at all.
    let mut probe = backend
        .clients
        .open(&w.nodes[0], 0)
        .await
        .with_context(|| format!("cannot open a client for node {}", w.nodes[0]))?;
    probe.close().await;
    drop(probe);
    let stop = Cancel::new();
    let start = tokio::time::Instant::now();
    let deadline = start + w.duration;

    let mut workers = Vec::with_capacity(w.concurrency);
    for i in 0..w.concurrency {
        let ctx = WorkerCtx {
            worker: i,
            concurrency: w.concurrency as i64,
            node: w.nodes[i % w.nodes.len()].clone(),
            clients: backend.clients.clone(),
            rec: rec.clone(),
            stats: stats.clone(),
            timeout: w.timeout,
            stop: stop.clone(),
            deadline,
            interval: w
                .rate
                .map(|r| Duration::from_secs_f64(w.concurrency as f64 / r)),
        };
        let gen = Generator::new(&spec, i);
        workers.push(tokio::spawn(worker(ctx, gen)));
    }
    let nemesis_task = match (&w.nemesis, &backend.nemesis) {
        (Some(spec), Some(n)) if !spec.faults.is_empty() => {
            let schedule = FaultSchedule::new(spec, &w.nodes, &w.regions, w.seed);
            Some(tokio::spawn(nemesis_loop(
                n.clone(),
                schedule,
                rec.clone(),
                stats.clone(),
                stop.clone(),
            )))
        }
        (Some(spec), None) if !spec.faults.is_empty() => {
            anyhow::bail!(
                "db = \"{}\" has no nemesis in this build; remove the [nemesis] table",
                w.db.as_str()
            )
        }
        _ => None,
    };

    tokio::select! {
        biased;
        _ = tokio::time::sleep_until(deadline) => {}
        _ = opts.cancel.cancelled() => {}
    }
    stop.cancel();
    let mut max_generation = 0;
    let mut max_process = w.concurrency as i64 - 1;
    for h in workers {
        let (g, p) = h.await.context("a worker panicked")?;
        max_generation = max_generation.max(g);
        max_process = max_process.max(p);
    }
    let main_seconds = start.elapsed().as_secs_f64();
    stats
        .main_ops
        .store(stats.invoked.load(Ordering::Relaxed), Ordering::Relaxed);
    if let Some(t) = nemesis_task {
        t.await.context("the nemesis task panicked")?;
    }
    if let Some(n) = &backend.nemesis {
        let r = n.heal_all().await;
        rec.record(
            Process::name("nemesis"),
            OpType::Info,
            "heal-all",
            None,
            Value::Null,
            None,
            r.as_ref().err().map(|e| json!(e.to_string())),
        );
        stats.set_faults(Vec::new());
    }

    if w.final_reads && !opts.cancel.is_cancelled() {
        stats.set_phase("final reads");
        tokio::select! {
            biased;
            _ = tokio::time::sleep(w.quiesce) => {}
            _ = opts.cancel.cancelled() => {}
        }
        let reads = Arc::new(final_reads(&spec, max_generation));
        let mut tasks = Vec::new();
        for (i, node) in w.nodes.iter().enumerate() {
            let ctx = WorkerCtx {
                worker: i,
                concurrency: w.nodes.len() as i64,
                node: node.clone(),
                clients: backend.clients.clone(),
                rec: rec.clone(),
                stats: stats.clone(),
                timeout: w.timeout,
                stop: opts.cancel.clone(),
                deadline: tokio::time::Instant::now() + w.timeout * 4 + Duration::from_secs(3600),
                interval: None,
            };
            tasks.push(tokio::spawn(final_reader(
                ctx,
                max_process + 1,
                reads.clone(),
            )));
        }
        for t in tasks {
            t.await.context("a final reader panicked")?;
        }
    }
    Ok(main_seconds)
}

struct WorkerCtx {
    worker: usize,
    concurrency: i64,
    node: String,
    clients: Arc<dyn ClientFactory>,
    rec: Recorder,
    stats: Arc<Stats>,
    timeout: Duration,
    stop: Cancel,
    deadline: tokio::time::Instant,
    interval: Option<Duration>,
}

impl WorkerCtx {
    async fn open(&self, process: i64) -> Option<Box<dyn Client>> {
        loop {
            if self.stop.is_cancelled() || tokio::time::Instant::now() >= self.deadline {
                return None;
            }
            match self.clients.open(&self.node, process).await {
                Ok(c) => return Some(c),
                Err(e) => {
                    self.stats.note_error(format!("{}: {e:#}", self.node));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Performs one operation as `process`, recording invoke and completion.
    async fn perform(
        &self,
        client: &mut Box<dyn Client>,
        process: i64,
        op: &Invocation,
    ) -> Completion {
        self.rec.record(
            Process::id(process),
            OpType::Invoke,
            &op.f,
            op.key.clone(),
            op.value.clone(),
            Some(self.node.clone()),
            None,
        );
        self.stats.invoked.fetch_add(1, Ordering::Relaxed);
        let c = match tokio::time::timeout(self.timeout, client.invoke(op)).await {
            Ok(c) if c.op_type == OpType::Invoke => {
                Completion::info(op.value.clone(), "client answered `invoke`")
            }
            Ok(c) => c,
            Err(_) => Completion::info(op.value.clone(), "timeout"),
        };
        self.rec.record(
            Process::id(process),
            c.op_type,
            &op.f,
            op.key.clone(),
            c.value.clone(),
            Some(self.node.clone()),
            c.error.clone(),
        );
        self.stats.count(c.op_type);
        c
    }
}

/// One worker: returns the last key generation it reached and the last
/// process id it used.
async fn worker(ctx: WorkerCtx, mut gen: Generator) -> (u64, i64) {
    let mut process = ctx.worker as i64;
    let Some(mut client) = ctx.open(process).await else {
        return (gen.generation(), process);
    };
    let mut next = tokio::time::Instant::now();
    loop {
        if let Some(iv) = ctx.interval {
            next += iv;
            let now = tokio::time::Instant::now();
            if next > now {
                tokio::select! {
                    biased;
                    _ = tokio::time::sleep_until(next.min(ctx.deadline)) => {}
                    _ = ctx.stop.cancelled() => {}
                }
            } else if now.duration_since(next) > iv * 4 {
                // Do not build up a burst after a stall.
                next = now;
            }
        }
        // A client's think time (simulated clients) comes on top.
        let think = client.think_time();
        if !think.is_zero() {
            let until = (tokio::time::Instant::now() + think).min(ctx.deadline);
            tokio::select! {
                biased;
                _ = tokio::time::sleep_until(until) => {}
                _ = ctx.stop.cancelled() => {}
            }
        }
        if ctx.stop.is_cancelled() || tokio::time::Instant::now() >= ctx.deadline {
            break;
        }
        let op = gen.next_op();
        let c = ctx.perform(&mut client, process, &op).await;
        if c.op_type == OpType::Info {
            client.close().await;
            process += ctx.concurrency;
            match ctx.open(process).await {
                Some(c) => client = c,
                None => return (gen.generation(), process),
            }
        }
    }
    client.close().await;
    (gen.generation(), process)
}

/// Reads every key on one node after the faults healed.
async fn final_reader(ctx: WorkerCtx, first_process: i64, reads: Arc<Vec<Invocation>>) {
    let mut process = first_process + ctx.worker as i64;
    let Some(mut client) = ctx.open(process).await else {
        return;
    };
    for op in reads.iter() {
        if ctx.stop.is_cancelled() {
            break;
        }
        let c = ctx.perform(&mut client, process, op).await;
        if c.op_type == OpType::Info {
            client.close().await;
            process += ctx.concurrency;
            match ctx.open(process).await {
                Some(c) => client = c,
                None => return,
            }
        }
    }
    client.close().await;
}

fn fault_target(fault: &Fault) -> Value {
    serde_json::to_value(fault)
        .ok()
        .and_then(|v| v.get("value").cloned())
        .unwrap_or(Value::Null)
}

async fn apply_fault(n: &Arc<dyn Nemesis>, rec: &Recorder, fault: &Fault, kind: &str) -> bool {
    let nemesis = Process::name("nemesis");
    rec.record(
        nemesis,
        OpType::Info,
        fault.name(),
        None,
        json!({ "kind": kind, "target": fault_target(fault) }),
        None,
        None,
    );
    let r = n.invoke(fault).await;
    let ok = r.is_ok();
    let (value, error) = match r {
        Ok(v) => (v, None),
        Err(e) => (Value::Null, Some(json!(format!("{e:#}")))),
    };
    rec.record(
        nemesis,
        OpType::Info,
        fault.name(),
        None,
        value,
        None,
        error,
    );
    ok
}

async fn nemesis_loop(
    n: Arc<dyn Nemesis>,
    mut schedule: FaultSchedule,
    rec: Recorder,
    stats: Arc<Stats>,
    stop: Cancel,
) {
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(schedule.interval) => {}
        }
        let Some((kind, fault, undo)) = schedule.next_fault() else {
            return;
        };
        let applied = apply_fault(&n, &rec, &fault, kind.as_str()).await;
        stats.faults.fetch_add(1, Ordering::Relaxed);
        if applied {
            stats.set_faults(vec![kind.as_str().to_string()]);
        }
        tokio::select! {
            biased;
            _ = tokio::time::sleep(schedule.duration) => {}
            _ = stop.cancelled() => {}
        }
        apply_fault(&n, &rec, &undo, kind.as_str()).await;
        stats.set_faults(Vec::new());
        if stop.is_cancelled() {
            return;
        }
    }
}

/// Runs the workload file `path` for `seconds` of simulated time without
/// checking, and returns its stats: `main_seconds` is simulated time,
/// `wall_seconds` what it cost (the `runner` benchmark reports both).
pub fn bench_sim(path: &Path, seconds: f64, runs_dir: &Path) -> anyhow::Result<RunStats> {
    let mut w = crate::workload::load(path)?;
    anyhow::ensure!(
        crate::systems::virtual_time(w.db),
        "{}: not a simulated workload",
        path.display()
    );
    w.duration = Duration::from_secs_f64(seconds);
    let opts = RunOptions {
        runs_dir: runs_dir.to_path_buf(),
        progress: ProgressMode::Quiet,
        check: false,
        ..RunOptions::default()
    };
    Ok(run_blocking(&w, &opts)?.stats)
}

/// `<runs_dir>/<stem>/<UTC timestamp>`, created; a suffix keeps it unique.
fn make_run_dir(runs_dir: &Path, stem: &str) -> anyhow::Result<PathBuf> {
    let base = runs_dir.join(stem);
    std::fs::create_dir_all(&base).with_context(|| format!("cannot create {}", base.display()))?;
    let stamp = utc_stamp(std::time::SystemTime::now());
    for i in 0..1000 {
        let name = if i == 0 {
            stamp.clone()
        } else {
            format!("{stamp}-{i}")
        };
        let dir = base.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    anyhow::bail!("cannot find a free run directory under {}", base.display())
}

/// `20261127T065012.345Z`.
pub fn utc_stamp(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Points `<runs_dir>/latest` at `run_dir` (best effort, atomic rename).
fn update_latest(runs_dir: &Path, run_dir: &Path) {
    let Ok(rel) = run_dir.strip_prefix(runs_dir) else {
        return;
    };
    let tmp = runs_dir.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    {
        if std::os::unix::fs::symlink(rel, &tmp).is_ok() {
            let _ = std::fs::rename(&tmp, runs_dir.join("latest"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_counts() {
        let c = Cancel::new();
        assert!(!c.is_cancelled());
        let before = c.count();
        let c2 = c.clone();
        let waiter = tokio::spawn(async move { c2.cancelled_more_than(before + 1).await });
        c.cancel();
        assert!(c.is_cancelled());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "one cancellation is not two");
        c.cancel();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        c.cancelled().await;
    }

    #[test]
    fn utc_stamps() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1_795_768_212_345);
        assert_eq!(utc_stamp(t), "20261127T083012.345Z");
        assert_eq!(utc_stamp(std::time::UNIX_EPOCH), "19700101T000000.000Z");
    }
}
