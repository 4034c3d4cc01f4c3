//! `faultline test W --test-count N`: the same workload under seeds
//! `S..S+N-1`, one line per run and a summary of the failures.
//!
//! A simulated run is deterministic and independent of every other, so the
//! seeds are spread over all cores (each run on its own single-threaded
//! virtual-time runtime); lines are still printed in seed order, so the
//! output of an exploration is itself reproducible (apart from the run
//! directories' timestamps). Runs against real stores share one cluster and
//! go one at a time.

use super::{replay_command, run_blocking, Cancel, RunOptions};
use crate::checker::Verdict;
use crate::workload::Workload;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

/// What one seed gave.
#[derive(Clone, Debug)]
pub struct SeedRun {
    pub seed: u64,
    /// `Err` when the run itself could not be made (an internal error).
    pub outcome: Result<SeedOutcome, String>,
}

#[derive(Clone, Debug)]
pub struct SeedOutcome {
    pub verdict: Verdict,
    /// Client operations invoked.
    pub ops: u64,
    pub run_dir: PathBuf,
    /// `checker verdict` for every checker that did not say valid.
    pub not_valid: Vec<String>,
    pub cancelled: bool,
}

impl SeedRun {
    /// Exit code of this run: 0 valid, 1 invalid, 2 unknown, 255 error.
    pub fn exit_code(&self) -> i32 {
        match &self.outcome {
            Ok(o) => o.verdict.exit_code(),
            Err(_) => 255,
        }
    }

    /// The line printed for this run.
    pub fn line(&self) -> String {
        match &self.outcome {
            Err(e) => format!("seed {}: error: {e}", self.seed),
            Ok(o) => {
                let why = if o.not_valid.is_empty() {
                    String::new()
                } else {
                    format!("; {}", o.not_valid.join(", "))
                };
                format!(
                    "seed {}: {:<7} {} ops{}{}  ({})",
                    self.seed,
                    o.verdict.as_str(),
                    o.ops,
                    why,
                    if o.cancelled { " (interrupted)" } else { "" },
                    o.run_dir.display()
                )
            }
        }
    }
}

/// Runs `w` under seeds `first..first+count`, calling `on_line` in seed
/// order as results become available. Stops starting new seeds once
/// `opts.cancel` is cancelled.
pub fn explore(
    w: &Workload,
    first: u64,
    count: u64,
    opts: &RunOptions,
    mut on_line: impl FnMut(&SeedRun),
) -> Vec<SeedRun> {
    let threads = if crate::systems::virtual_time(w.db) {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(count.max(1) as usize)
    } else {
        1
    };
    let next = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<SeedRun>();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (next, tx) = (next.clone(), tx.clone());
        let (w, opts) = (w.clone(), opts.clone());
        handles.push(std::thread::spawn(move || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= count || opts.cancel.is_cancelled() {
                break;
            }
            let seed = first.wrapping_add(i);
            let mut ws = w.clone();
            ws.seed = seed;
            let outcome = run_blocking(&ws, &opts)
                .map(|o| SeedOutcome {
                    verdict: o.verdict,
                    ops: o.stats.ops,
                    not_valid: o
                        .results
                        .iter()
                        .filter(|r| r.verdict != Verdict::Valid)
                        .map(|r| format!("{} {}", r.checker, r.verdict.as_str()))
                        .collect(),
                    run_dir: o.run_dir,
                    cancelled: o.cancelled,
                })
                .map_err(|e| format!("{e:#}"));
            if tx.send(SeedRun { seed, outcome }).is_err() {
                break;
            }
        }));
    }
    drop(tx);
    // Print in seed order: hold results that arrive early.
    let mut waiting: BTreeMap<u64, SeedRun> = BTreeMap::new();
    let mut out = Vec::new();
    let mut expected = 0u64;
    for r in rx {
        waiting.insert(r.seed.wrapping_sub(first), r);
        while let Some(r) = waiting.remove(&expected) {
            on_line(&r);
            out.push(r);
            expected += 1;
        }
    }
    for h in handles {
        let _ = h.join();
    }
    // Seeds skipped by a cancellation leave gaps: report what ran.
    for (_, r) in waiting {
        on_line(&r);
        out.push(r);
    }
    out
}

/// The summary after the per-seed lines.
pub fn summary(w: &Workload, runs: &[SeedRun]) -> String {
    let failed: Vec<&SeedRun> = runs.iter().filter(|r| r.exit_code() == 1).collect();
    let unknown = runs.iter().filter(|r| r.exit_code() == 2).count();
    let errors = runs.iter().filter(|r| r.exit_code() == 255).count();
    let mut out = format!(
        "{}: {} runs: {} valid, {} invalid, {} unknown, {} errors\n",
        w.name,
        runs.len(),
        runs.iter().filter(|r| r.exit_code() == 0).count(),
        failed.len(),
        unknown,
        errors
    );
    if !failed.is_empty() {
        let seeds: Vec<String> = failed.iter().map(|r| r.seed.to_string()).collect();
        out.push_str(&format!("failing seeds: {}\n", seeds.join(" ")));
        let shortest = failed
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok().map(|o| (o.ops, r.seed, o)))
            .min_by_key(|(ops, seed, _)| (*ops, *seed));
        if let Some((ops, seed, o)) = shortest {
            out.push_str(&format!(
                "shortest failing run: seed {seed}, {ops} ops ({})\n",
                o.run_dir.display()
            ));
            let mut ws = w.clone();
            ws.seed = seed;
            if let Some(c) = replay_command(&ws) {
                out.push_str(&format!("  replay: {c}\n"));
            }
            out.push_str(&format!(
                "  shrink: faultline shrink {}\n",
                super::shell_word(&o.run_dir.display().to_string())
            ));
        }
    }
    out
}

/// `faultline test W --test-count N`: prints a line per seed and the
/// summary; returns the worst exit code (invalid over unknown over valid;
/// 255 when a run could not be made).
pub fn explore_command(w: &Workload, first: u64, count: u64, runs_dir: Option<PathBuf>) -> i32 {
    let mut opts = RunOptions {
        print_summary: false,
        progress: super::progress::ProgressMode::Quiet,
        ..RunOptions::default()
    };
    if let Some(d) = runs_dir {
        opts.runs_dir = d;
    }
    install_ctrl_c(opts.cancel.clone());
    let runs = explore(w, first, count, &opts, |r| println!("{}", r.line()));
    print!("{}", summary(w, &runs));
    crate::report::worst_exit_code(runs.iter().map(|r| r.exit_code()))
}

/// Ctrl-C stops starting seeds and interrupts the runs in flight (which
/// still heal, write and check what they recorded).
fn install_ctrl_c(cancel: Cancel) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("faultline: interrupted: no new seeds; the runs in flight stop and check what they recorded");
                cancel.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("faultline: aborted");
                std::process::exit(130);
            }
        });
    });
}
