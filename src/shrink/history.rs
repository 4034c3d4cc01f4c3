//! Shrinking a recorded history: drop operations while the checker still
//! fails.
//!
//! The units removed are whole operations (an invocation with its
//! completion, so the history stays well formed) and single nemesis events.
//! The search is delta debugging: split the units into `n` chunks and try
//! removing each chunk; keep a removal that still fails the same way
//! ([`super::Failure`]) and coarsen again, otherwise split finer, until
//! single units cannot be removed (a 1-minimal history) or the time runs
//! out (the smallest failing history found so far is kept). Only the
//! failing checker runs on candidates.

use super::Failure;
use crate::checker::registry::{self, CheckOptions};
use crate::checker::{Budget, CheckResult};
use crate::history::History;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What [`shrink_history_file`] did.
#[derive(Debug)]
pub struct HistoryShrink {
    pub input: PathBuf,
    /// Where the shrunk history went (`None` when nothing failed).
    pub output: Option<PathBuf>,
    /// The failure kept (`None`: the history did not fail).
    pub failure: Option<Failure>,
    /// Client operations before and after.
    pub before: usize,
    pub after: usize,
    /// Events before and after.
    pub events_before: usize,
    pub events_after: usize,
    /// Checks run.
    pub checks: usize,
    /// True when the time limit stopped the search (the result may not be minimal).
    pub timed_out: bool,
    /// The failing checker's result on the shrunk history.
    pub result: Option<CheckResult>,
}

impl HistoryShrink {
    /// 1 when the shrunk history fails, 0 when the input did not fail.
    pub fn exit_code(&self) -> i32 {
        if self.failure.is_some() {
            1
        } else {
            0
        }
    }

    pub fn text(&self) -> String {
        let Some(f) = &self.failure else {
            return format!(
                "{}: no checker says invalid: nothing to shrink\n",
                self.input.display()
            );
        };
        let mut out = format!(
            "{}: shrunk from {} to {} operations ({} to {} events) in {} checks{}; still {}\n",
            self.input.display(),
            self.before,
            self.after,
            self.events_before,
            self.events_after,
            self.checks,
            if self.timed_out {
                " (time limit reached: may not be minimal)"
            } else {
                ""
            },
            f.describe()
        );
        if let Some(r) = &self.result {
            out.push_str(&format!("  {:<14} {}\n", r.checker, r.summary));
            for l in r.explanation.lines().take(20) {
                out.push_str(&format!("    {l}\n"));
            }
        }
        if let Some(o) = &self.output {
            out.push_str(&format!("wrote {}\n", o.display()));
        }
        out
    }
}

/// Reads `path`, shrinks it for the first checker of `opts` that fails, and
/// writes the result to `out`. Errors are about the input (exit 254).
pub fn shrink_history_file(
    path: &Path,
    opts: &CheckOptions,
    out: &Path,
    time_limit: Duration,
) -> Result<HistoryShrink, String> {
    let history = History::read_file(path, None).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let budget = Budget::with_time_limit(Some(time_limit));
    let results = registry::run_checks(&history, opts, &budget).map_err(|e| e.to_string())?;
    let clients = |h: &History| h.operations().map(|o| o.len()).unwrap_or(0);
    let mut report = HistoryShrink {
        input: path.to_path_buf(),
        output: None,
        failure: None,
        before: clients(&history),
        after: clients(&history),
        events_before: history.ops().len(),
        events_after: history.ops().len(),
        checks: 1,
        timed_out: false,
        result: None,
    };
    let Some(failure) = Failure::of(&results, None) else {
        return Ok(report);
    };
    let remaining = time_limit.saturating_sub(started.elapsed());
    let s = shrink_history(&history, opts, &failure, remaining)?;
    let mut f =
        std::fs::File::create(out).map_err(|e| format!("{}: cannot write: {e}", out.display()))?;
    s.history
        .write_jsonl(&mut f)
        .map_err(|e| format!("{}: cannot write: {e}", out.display()))?;
    report.after = clients(&s.history);
    report.events_after = s.history.ops().len();
    report.checks += s.checks;
    report.timed_out = s.timed_out;
    report.result = s.result;
    report.failure = Some(failure);
    report.output = Some(out.to_path_buf());
    Ok(report)
}

/// The outcome of [`shrink_history`].
pub struct Shrunk {
    pub history: History,
    pub checks: usize,
    pub timed_out: bool,
    pub result: Option<CheckResult>,
}

/// Delta debugging over the operations of `history` (which fails as
/// `failure` says); returns the smallest history found that still fails.
pub fn shrink_history(
    history: &History,
    opts: &CheckOptions,
    failure: &Failure,
    time_limit: Duration,
) -> Result<Shrunk, String> {
    let started = Instant::now();
    let ops = history.operations().map_err(|e| e.to_string())?;
    // Units: each client operation's events, and each nemesis event alone.
    let mut units: Vec<Vec<usize>> = ops
        .iter()
        .map(|o| std::iter::once(o.invoke()).chain(o.complete()).collect())
        .collect();
    for (i, op) in history.ops().iter().enumerate() {
        if op.process.as_ref().is_some_and(|p| p.is_nemesis()) {
            units.push(vec![i]);
        }
    }
    units.sort_by_key(|u| u[0]);
    let only = CheckOptions {
        checkers: failure
            .checker
            .parse::<registry::CheckerKind>()
            .ok()
            .map(|k| vec![k])
            .or_else(|| opts.checkers.clone()),
        ..opts.clone()
    };
    let build = |units: &[Vec<usize>]| -> History {
        let mut pos: Vec<usize> = units.iter().flatten().copied().collect();
        pos.sort_unstable();
        let mut h = History::new(pos.into_iter().map(|i| history.ops()[i].clone()).collect());
        h.source = history.source.clone();
        h
    };
    let mut checks = 0usize;
    let mut last_result: Option<CheckResult> = None;
    let fails = |units: &[Vec<usize>], checks: &mut usize| -> Option<CheckResult> {
        *checks += 1;
        let left = time_limit.saturating_sub(started.elapsed());
        let budget = Budget::with_time_limit(Some(left.max(Duration::from_millis(100))));
        let results = registry::run_checks(&build(units), &only, &budget).ok()?;
        if failure.reproduced_by(&results) {
            results.into_iter().find(|r| r.checker == failure.checker)
        } else {
            None
        }
    };
    let mut n = 2usize;
    let mut timed_out = false;
    while units.len() >= 2 {
        if started.elapsed() >= time_limit {
            timed_out = true;
            break;
        }
        let chunk = units.len().div_ceil(n);
        let mut reduced = false;
        let mut start = 0;
        while start < units.len() {
            if started.elapsed() >= time_limit {
                timed_out = true;
                break;
            }
            let end = (start + chunk).min(units.len());
            let candidate: Vec<Vec<usize>> = units[..start]
                .iter()
                .chain(&units[end..])
                .cloned()
                .collect();
            if let Some(r) = fails(&candidate, &mut checks) {
                units = candidate;
                last_result = Some(r);
                reduced = true;
                // Keep the granularity; the next chunk now starts here.
                n = n.saturating_sub(1).max(2);
                break;
            }
            start = end;
        }
        if timed_out {
            break;
        }
        if !reduced {
            if n >= units.len() {
                break;
            }
            n = (n * 2).min(units.len());
        }
    }
    if last_result.is_none() {
        last_result = fails(&units, &mut checks);
    }
    Ok(Shrunk {
        history: build(&units),
        checks,
        timed_out,
        result: last_result,
    })
}
