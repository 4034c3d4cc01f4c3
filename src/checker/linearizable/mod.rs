//! Linearizability: is there a single order of the history's operations,
//! consistent with real time, in which every operation does what a correct
//! sequential object (a [`Model`]) would do?
//!
//! The decision is a search ([`search`]: Wing & Gong with Lowe's
//! memoisation). Three things keep it fast and bounded:
//!
//! - **P-compositionality** (Herlihy & Wing): a history of independent
//!   objects is linearizable iff each object's sub-history is. Operations
//!   are split by their `key` and the keys are checked in parallel (rayon);
//!   when one key fails the others are cancelled.
//! - **What cannot matter is left out**: `fail`ed operations did not
//!   happen; indeterminate reads change nothing; reads of unknown values
//!   constrain nothing. Indeterminate writes may be linearized anywhere
//!   after their call, or never, so the search never has to place them.
//! - **A budget**: the search checks the deadline and the cancel flag
//!   periodically and keeps its memo table within `Budget::memory_bytes`;
//!   running out gives `unknown` with the reason, never a hang or an OOM.
//!
//! A failure is explained: the operation whose return the search could not
//! get past at its deepest point, the operations concurrent with it, the
//! longest linearizable prefix found, and the model's possible states at
//! its end — in words in `CheckResult::explanation` and as JSON in
//! `CheckResult::details`.

mod crashed;
pub mod gen;
mod memo;
mod search;

use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::{History, HistoryError, Operation, Outcome, Val};
use crate::model::register::RegisterSpec;
use crate::model::value::show_json;
use crate::model::{
    CasRegister, Counter, FifoQueue, Kv, Model, ModelConfig, ModelKind, MultiRegister, Mutex,
    Register, Set,
};
use rayon::prelude::*;
use search::{Found, Limits, Prepared, SearchOutput};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Why a linearizability check could not start.
#[derive(Debug, thiserror::Error)]
pub enum LinError {
    /// `--initial` does not suit the model.
    #[error("{0}")]
    BadConfig(String),
    /// An operation does not fit the model.
    #[error("{file}:{line}: {message}")]
    BadOp {
        file: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// The linearizability checker for a named model, as a [`Checker`].
///
/// Errors (a bad `--initial`, ops that do not fit the model) become `unknown` with the
/// message; callers that need to tell them apart call [`check`].
#[derive(Clone, Debug)]
pub struct LinearizableChecker {
    pub model: ModelKind,
    pub config: ModelConfig,
}

impl Checker for LinearizableChecker {
    fn name(&self) -> &str {
        "linearizable"
    }
    fn check(&self, history: &History, budget: &Budget) -> CheckResult {
        match check(history, self.model, &self.config, budget) {
            Ok(r) => r,
            Err(e) => CheckResult::new("linearizable", Verdict::Unknown, e.to_string()),
        }
    }
}

/// What the search decided for one group of operations.
#[derive(Clone, Debug, PartialEq)]
pub enum PartitionVerdict {
    /// A witness: the operations (indices into the slice given) in an order
    /// the model accepts. Operations left out are `fail`ed or indeterminate
    /// ones that need not have happened, and reads that constrain nothing.
    Linearizable {
        order: Vec<usize>,
    },
    NotLinearizable(Counterexample),
    /// The budget ran out (or the check was cancelled); the reason in words.
    Unknown {
        reason: String,
    },
}

/// Why a group of operations is not linearizable. Indices are into the
/// slice of operations given to the check.
#[derive(Clone, Debug, PartialEq)]
pub struct Counterexample {
    /// The operation that cannot be linearized: at the deepest point the
    /// search reached, the one whose return it could not get past.
    pub op: usize,
    /// The searched operations concurrent with it (in call order).
    pub concurrent: Vec<usize>,
    /// The longest linearizable prefix found, in linearization order.
    pub prefix: Vec<usize>,
    /// The model's states at the end of that prefix, in words.
    pub states: Vec<String>,
    /// Why `op` cannot follow that prefix, when the search knows more than
    /// "nothing it tried worked" (e.g. no operation left could produce the
    /// value it read).
    pub why: Option<String>,
}

/// The result for one group of operations.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionResult {
    pub verdict: PartitionVerdict,
    /// Configurations the search explored (entries in its memo table).
    pub states: usize,
    /// Operations searched, and operations left out as irrelevant.
    pub searched: usize,
    pub dropped: usize,
}

/// An operation that does not fit the model: its index in the slice given,
/// and what the model expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("operation {index}: {message}")]
pub struct OpError {
    pub index: usize,
    pub message: String,
}

/// Checks one group of operations (one object) against `model`, without
/// splitting by key. `ops` are paired operations in invoke order, as
/// [`History::operations`] returns them.
pub fn check_ops<M: Model>(
    model: &M,
    ops: &[Operation],
    budget: &Budget,
) -> Result<PartitionResult, OpError> {
    let members: Vec<usize> = (0..ops.len()).collect();
    let prepared = search::prepare(model, ops, &members)
        .map_err(|(index, message)| OpError { index, message })?;
    let sibling_failed = AtomicBool::new(false);
    let memory_in_use = AtomicUsize::new(0);
    let limits = Limits {
        budget,
        sibling_failed: &sibling_failed,
        memory_in_use: &memory_in_use,
    };
    Ok(run(model, &prepared, &limits))
}

/// Which search decides a register partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterSearch {
    /// The crashed-client search when the partition has crashed
    /// (indeterminate) writes or cas, the plain search otherwise. What
    /// `check` uses.
    Auto,
    /// The plain search (Wing & Gong with memoisation).
    Plain,
    /// The crashed-client search (see the `crashed` module).
    Crashed,
}

/// Like [`check_ops`] for a register model, choosing the search.
pub fn check_register_ops<const CAS: bool>(
    model: &RegisterSpec<CAS>,
    ops: &[Operation],
    budget: &Budget,
    which: RegisterSearch,
) -> Result<PartitionResult, OpError> {
    let members: Vec<usize> = (0..ops.len()).collect();
    let prepared = search::prepare(model, ops, &members)
        .map_err(|(index, message)| OpError { index, message })?;
    let sibling_failed = AtomicBool::new(false);
    let memory_in_use = AtomicUsize::new(0);
    let limits = Limits {
        budget,
        sibling_failed: &sibling_failed,
        memory_in_use: &memory_in_use,
    };
    Ok(run_register(model, &prepared, &limits, which))
}

/// Whether a partition has crashed ops that can change the state.
fn has_crashed<M: Model>(p: &Prepared<M>) -> bool {
    p.ok.iter().zip(&p.read_only).any(|(&ok, &ro)| !ok && !ro)
}

fn run_register<const CAS: bool>(
    model: &RegisterSpec<CAS>,
    p: &Prepared<RegisterSpec<CAS>>,
    limits: &Limits,
    which: RegisterSearch,
) -> PartitionResult {
    let crashed = match which {
        RegisterSearch::Auto => has_crashed(p),
        RegisterSearch::Plain => false,
        RegisterSearch::Crashed => true,
    };
    if crashed {
        let out = crashed::search(model, p, limits);
        let out = match &out.found {
            Found::NotLinearizable(d) if d.prefix.is_empty() && d.why.is_some() => {
                refine_counterexample(model, p, limits).unwrap_or(out)
            }
            _ => out,
        };
        conclude(model, p, out)
    } else {
        run(model, p, limits)
    }
}

/// Time and memory the exact search for a better counterexample may take,
/// then the pruned one (at most; never more than what is left of the
/// check's own budget). The exact search is bounded by its memo table
/// (so where it stops does not depend on the machine's speed); its time
/// limit is only a safeguard.
const REFINE_EXACT: (std::time::Duration, usize) = (std::time::Duration::from_secs(1), 16 << 20);
const REFINE_PRUNED: (std::time::Duration, usize) = (std::time::Duration::from_secs(2), 256 << 20);

/// After the crashed-client search refuted a partition at the start (an
/// `ok` op needs a value nothing ever sets), searches again for the first
/// return no linearization gets past, with the prefix before it: what
/// Knossos reports, and what a reader needs to see where the history went
/// wrong. First exactly, within a small budget (enough for the histories
/// people read); then keeping the pruning on values that can no longer be
/// set, which is fast on long crash-heavy histories but may stop a
/// configuration short of its dead end (the prefix can then be shorter
/// than the longest). If neither finishes, the first answer stands.
fn refine_counterexample<const CAS: bool>(
    model: &RegisterSpec<CAS>,
    p: &Prepared<RegisterSpec<CAS>>,
    limits: &Limits,
) -> Option<SearchOutput<crate::model::Val>> {
    use crashed::Starvation;
    for (starvation, (time, memory)) in [
        (Starvation::Ignored, REFINE_EXACT),
        (Starvation::Prunes, REFINE_PRUNED),
    ] {
        let soon = std::time::Instant::now() + time;
        let budget = Budget {
            deadline: Some(limits.budget.deadline.map_or(soon, |d| d.min(soon))),
            memory_bytes: memory.min(limits.budget.memory_bytes / 4),
            cancel: limits.budget.cancel.clone(),
        };
        let sibling_failed = AtomicBool::new(false);
        let memory_in_use = AtomicUsize::new(0);
        let refine_limits = Limits {
            budget: &budget,
            sibling_failed: &sibling_failed,
            memory_in_use: &memory_in_use,
        };
        let out = crashed::search_refined(model, p, &refine_limits, starvation);
        if matches!(out.found, Found::NotLinearizable(_)) {
            return Some(out);
        }
    }
    None
}

fn run<M: Model>(model: &M, p: &Prepared<M>, limits: &Limits) -> PartitionResult {
    conclude(model, p, search::search(model, p, limits))
}

fn conclude<M: Model>(model: &M, p: &Prepared<M>, out: SearchOutput<M::State>) -> PartitionResult {
    let verdict = match out.found {
        Found::Linearizable(order) => PartitionVerdict::Linearizable {
            order: order.iter().map(|&i| p.origin[i as usize]).collect(),
        },
        Found::Unknown(reason) => PartitionVerdict::Unknown { reason },
        Found::NotLinearizable(d) => {
            let b = d.blocked as usize;
            let concurrent = (0..p.ops.len())
                .filter(|&j| j != b && p.call[j] < p.ret[b] && p.ret[j] > p.call[b])
                .map(|j| p.origin[j])
                .collect();
            PartitionVerdict::NotLinearizable(Counterexample {
                op: p.origin[b],
                concurrent,
                prefix: d.prefix.iter().map(|&i| p.origin[i as usize]).collect(),
                states: d.states.iter().map(|s| model.show_state(s)).collect(),
                why: d.why,
            })
        }
    };
    PartitionResult {
        verdict,
        states: out.states,
        searched: p.ops.len(),
        dropped: p.dropped,
    }
}

/// Checks `history` against `model`, split by key, keys in parallel,
/// within `budget`.
pub fn check(
    history: &History,
    model: ModelKind,
    cfg: &ModelConfig,
    budget: &Budget,
) -> Result<CheckResult, LinError> {
    match model {
        ModelKind::Register => check_register(&Register::new(cfg), history, budget),
        ModelKind::CasRegister => check_register(&CasRegister::new(cfg), history, budget),
        ModelKind::MultiRegister => check_with(
            &MultiRegister::new(cfg).map_err(LinError::BadConfig)?,
            history,
            budget,
        ),
        ModelKind::Mutex => check_with(
            &Mutex::new(cfg).map_err(LinError::BadConfig)?,
            history,
            budget,
        ),
        ModelKind::Set => check_with(
            &Set::new(cfg).map_err(LinError::BadConfig)?,
            history,
            budget,
        ),
        ModelKind::FifoQueue => check_with(
            &FifoQueue::new(cfg).map_err(LinError::BadConfig)?,
            history,
            budget,
        ),
        ModelKind::Kv => check_with(&Kv::new(cfg).map_err(LinError::BadConfig)?, history, budget),
        ModelKind::Counter => check_with(
            &Counter::new(cfg).map_err(LinError::BadConfig)?,
            history,
            budget,
        ),
    }
}

/// One key's operations.
struct Partition {
    key: Option<Val>,
    members: Vec<usize>,
}

/// Groups operations by key, in order of each key's first appearance.
fn partition(ops: &[Operation]) -> Vec<Partition> {
    let mut index: std::collections::HashMap<Option<String>, usize> = Default::default();
    let mut parts: Vec<Partition> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let id = op.key.as_ref().map(|k| k.to_string());
        let p = *index.entry(id).or_insert_with(|| {
            parts.push(Partition {
                key: op.key.clone(),
                members: Vec::new(),
            });
            parts.len() - 1
        });
        parts[p].members.push(i);
    }
    parts
}

/// Runs the check for a concrete model.
pub fn check_with<M: Model>(
    model: &M,
    history: &History,
    budget: &Budget,
) -> Result<CheckResult, LinError> {
    check_partitions(model, history, budget, &run)
}

/// Runs the check for a register model: partitions with crashed writes or
/// cas get the crashed-client search.
pub fn check_register<const CAS: bool>(
    model: &RegisterSpec<CAS>,
    history: &History,
    budget: &Budget,
) -> Result<CheckResult, LinError> {
    check_partitions(model, history, budget, &|m, p, l| {
        run_register(m, p, l, RegisterSearch::Auto)
    })
}

type Engine<'a, M> = &'a (dyn Fn(&M, &Prepared<M>, &Limits) -> PartitionResult + Sync);

fn check_partitions<M: Model>(
    model: &M,
    history: &History,
    budget: &Budget,
    engine: Engine<M>,
) -> Result<CheckResult, LinError> {
    let ops = history.operations()?;
    let parts = partition(ops);

    // Convert every op first, so a misfit is reported (the earliest one)
    // before any search starts.
    // One key (the common case) runs on this thread: handing work to the
    // pool only adds latency when there is nothing to run beside it.
    let prepare = |p: &Partition| search::prepare(model, ops, &p.members);
    let prepared: Vec<Result<Prepared<M>, (usize, String)>> = if parts.len() == 1 {
        parts.iter().map(prepare).collect()
    } else {
        parts.par_iter().map(prepare).collect()
    };
    let mut misfit: Option<(usize, String)> = None;
    let mut ready = Vec::with_capacity(prepared.len());
    for r in prepared {
        match r {
            Ok(p) => ready.push(p),
            Err((i, msg)) => {
                if misfit.as_ref().is_none_or(|(j, _)| i < *j) {
                    misfit = Some((i, msg));
                }
            }
        }
    }
    if let Some((i, msg)) = misfit {
        let op = &ops[i];
        return Err(LinError::BadOp {
            file: history.source.to_string(),
            line: history.ops()[op.invoke()].line as usize,
            message: format!(
                "process {}'s `{}` with value {} does not fit the {} model: {msg}",
                op.process,
                op.f,
                show_json(if op.outcome == Outcome::Ok && !op.output.is_null() {
                    &op.output
                } else {
                    &op.input
                }),
                model.name()
            ),
        });
    }

    // Search the biggest keys first so the parallel tail is short.
    let mut order: Vec<usize> = (0..ready.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ready[i].ops.len()));
    let sibling_failed = AtomicBool::new(false);
    let memory_in_use = AtomicUsize::new(0);
    let limits = Limits {
        budget,
        sibling_failed: &sibling_failed,
        memory_in_use: &memory_in_use,
    };
    let search_one = |&i: &usize| {
        let r = engine(model, &ready[i], &limits);
        if matches!(r.verdict, PartitionVerdict::NotLinearizable(_)) {
            sibling_failed.store(true, Ordering::Relaxed);
        }
        (i, r)
    };
    let mut results: Vec<(usize, PartitionResult)> = if order.len() == 1 {
        order.iter().map(search_one).collect()
    } else {
        order.par_iter().map(search_one).collect()
    };
    results.sort_by_key(|(i, _)| *i);

    Ok(report(model, history, ops, &parts, &results))
}

/// Where an op is in the file: its invoke line and completion line.
fn lines_of(history: &History, op: &Operation) -> String {
    let invoke = history.ops()[op.invoke()].line;
    match op.complete().map(|c| history.ops()[c].line) {
        _ if invoke == 0 => format!("history index {}", history.ops()[op.invoke()].index),
        Some(done) if done != invoke => format!("lines {invoke}–{done}"),
        _ => format!("line {invoke}"),
    }
}

/// "process 3's read → 4 (lines 55–57)", "process 1's write 5
/// (indeterminate, line 12)".
pub fn describe_op(history: &History, op: &Operation) -> String {
    let info = if op.outcome == Outcome::Info {
        "indeterminate, "
    } else {
        ""
    };
    format!(
        "process {}'s {} ({info}{})",
        op.process,
        op_text(op),
        lines_of(history, op)
    )
}

/// "read → 4", "write 3", "cas [1,2]".
fn op_text(op: &Operation) -> String {
    let mut s = op.f.to_string();
    if !op.input.is_null() {
        s.push(' ');
        s.push_str(&show_json(&op.input));
    }
    match op.outcome {
        Outcome::Ok if !op.output.is_null() && op.output != op.input => {
            s.push_str(" → ");
            s.push_str(&show_json(&op.output));
        }
        // A lock's acquire and release return nothing: no "→ null".
        Outcome::Ok
            if op.output.is_null()
                && op.input.is_null()
                && !matches!(op.f.as_str(), "acquire" | "release" | "lock" | "unlock") =>
        {
            s.push_str(" → null")
        }
        _ => {}
    }
    s
}

fn op_json(history: &History, op: &Operation) -> Value {
    let inv = &history.ops()[op.invoke()];
    let done = op.complete().map(|c| &history.ops()[c]);
    json!({
        "process": op.process,
        "type": op.outcome,
        "f": op.f,
        "value": op.input,
        "output": if op.outcome == Outcome::Ok { op.output.clone() } else { Val::Nil },
        "index": inv.index,
        "line": inv.line,
        "complete_index": done.map(|d| d.index),
        "complete_line": done.map(|d| d.line),
    })
}

fn key_label(key: &Option<Val>) -> Option<String> {
    key.as_ref().map(|k| match k {
        Val::Str(s) => s.to_string(),
        other => show_json(other),
    })
}

/// How many ops to list in words before summarising the rest.
const LIST_IN_WORDS: usize = 8;
/// How many ops to list in the JSON details.
const LIST_IN_JSON: usize = 1000;

fn list_in_words(history: &History, ops: &[Operation], idx: &[usize], tail: bool) -> String {
    let shown: Vec<String> = if tail {
        idx.iter()
            .rev()
            .take(LIST_IN_WORDS)
            .rev()
            .map(|&i| describe_op(history, &ops[i]))
            .collect()
    } else {
        idx.iter()
            .take(LIST_IN_WORDS)
            .map(|&i| describe_op(history, &ops[i]))
            .collect()
    };
    let more = idx.len().saturating_sub(LIST_IN_WORDS);
    match (more, tail) {
        (0, _) => shown.join(", "),
        (m, true) => format!("… {m} earlier, then {}", shown.join(", ")),
        (m, false) => format!("{} and {m} more", shown.join(", ")),
    }
}

fn explain<M: Model>(
    model: &M,
    history: &History,
    ops: &[Operation],
    key: &Option<Val>,
    c: &Counterexample,
) -> String {
    let who = describe_op(history, &ops[c.op]);
    let mut s = match key_label(key) {
        Some(k) => format!("key {k}: {who} cannot be linearized."),
        None => format!("{who} cannot be linearized."),
    };
    // "the register holds 3", but "the mutex is held".
    let holds = if model.name() == "mutex" {
        "is"
    } else {
        "holds"
    };
    let states = match c.states.as_slice() {
        [] => String::new(),
        [one] => format!("the {} {holds} {one}", model.name()),
        many => format!("the {} can be {}", model.name(), many.join(" or ")),
    };
    if c.prefix.is_empty() {
        s.push_str(&format!(
            " No operation can be linearized before it: initially {states}."
        ));
    } else {
        s.push_str(&format!(
            " The longest linearizable prefix found has {} operation{}: [{}]; after it {states}.",
            c.prefix.len(),
            if c.prefix.len() == 1 { "" } else { "s" },
            list_in_words(history, ops, &c.prefix, true)
        ));
    }
    if let Some(why) = &c.why {
        s.push_str(&format!(" It cannot follow: {why}."));
    }
    let blocked = &ops[c.op];
    if blocked.outcome == Outcome::Ok && blocked.f == "read" && blocked.output.is_null() {
        // Under `--nil-read unknown` this read would constrain nothing, so
        // it is being taken literally: say so, since Knossos's and
        // Jepsen's histories use null for "not known".
        s.push_str(
            " (The read's null is taken as the value null, --nil-read absent; if null means the value was not recorded, as in Knossos's histories, check with --nil-read unknown.)",
        );
    }
    if c.concurrent.is_empty() {
        s.push_str(" No operation is concurrent with it.");
    } else {
        s.push_str(&format!(
            " Concurrent with it: {}.",
            list_in_words(history, ops, &c.concurrent, false)
        ));
    }
    s
}

/// Knossos's `:previous-ok`: of the object's operations, the one whose
/// `ok` completion comes last before the completion of `op` (the one that
/// cannot be linearized), if any.
fn previous_ok(ops: &[Operation], members: &[usize], op: usize) -> Option<usize> {
    let end = ops[op].complete()?;
    members
        .iter()
        .copied()
        .filter(|&j| ops[j].outcome == Outcome::Ok)
        .filter_map(|j| ops[j].complete().filter(|&c| c < end).map(|c| (c, j)))
        .max()
        .map(|(_, j)| j)
}

fn report<M: Model>(
    model: &M,
    history: &History,
    ops: &[Operation],
    parts: &[Partition],
    results: &[(usize, PartitionResult)],
) -> CheckResult {
    let searched: usize = results.iter().map(|(_, r)| r.searched).sum();
    let dropped: usize = results.iter().map(|(_, r)| r.dropped).sum();
    let states: usize = results.iter().map(|(_, r)| r.states).sum();
    let keys = parts.len();
    let mut failures = Vec::new();
    let mut unknown = Vec::new();
    let mut explanation = Vec::new();
    let mut first_failure: Option<String> = None;
    let mut first_unknown: Option<String> = None;
    for (i, r) in results {
        let key = &parts[*i].key;
        match &r.verdict {
            PartitionVerdict::Linearizable { .. } => {}
            PartitionVerdict::Unknown { reason } => {
                if first_unknown.is_none() && !reason.starts_with("cancelled: another key") {
                    first_unknown = Some(reason.clone());
                }
                unknown.push(json!({"key": key, "reason": reason, "states": r.states}));
            }
            PartitionVerdict::NotLinearizable(c) => {
                let text = explain(model, history, ops, key, c);
                if first_failure.is_none() {
                    let who = describe_op(history, &ops[c.op]);
                    first_failure = Some(match key_label(key) {
                        Some(k) => format!("key {k}: {who} cannot be linearized"),
                        None => format!("{who} cannot be linearized"),
                    });
                }
                explanation.push(text);
                let tail = c.prefix.len().saturating_sub(LIST_IN_JSON);
                let previous_ok = previous_ok(ops, &parts[*i].members, c.op);
                failures.push(json!({
                    "key": key,
                    "op": op_json(history, &ops[c.op]),
                    "previous_ok": previous_ok.map(|j| op_json(history, &ops[j])),
                    "last_op": c.prefix.last().map(|&j| op_json(history, &ops[j])),
                    "concurrent": c.concurrent.iter().take(LIST_IN_JSON).map(|&j| op_json(history, &ops[j])).collect::<Vec<_>>(),
                    "concurrent_count": c.concurrent.len(),
                    "prefix": c.prefix[tail..].iter().map(|&j| op_json(history, &ops[j])).collect::<Vec<_>>(),
                    "prefix_length": c.prefix.len(),
                    "prefix_omitted": tail,
                    "states": c.states,
                    "why": c.why,
                    "states_explored": r.states,
                }));
            }
        }
    }
    let keys_text = if keys == 1 {
        "1 key".to_string()
    } else {
        format!("{keys} keys")
    };
    let (verdict, summary) = if let Some(f) = first_failure {
        let others = failures.len() - 1;
        let more = if others > 0 {
            format!(
                " (and {others} other key{})",
                if others == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        (Verdict::Invalid, format!("not linearizable: {f}{more}"))
    } else if !unknown.is_empty() {
        let why = first_unknown.unwrap_or_else(|| "cancelled".into());
        let done = keys - unknown.len();
        (
            Verdict::Unknown,
            if keys == 1 {
                format!("unknown: {why}")
            } else {
                format!("unknown: {why} ({done} of {keys_text} linearizable)")
            },
        )
    } else {
        (
            Verdict::Valid,
            format!(
                "linearizable: {searched} operations over {keys_text}, {states} states explored"
            ),
        )
    };
    let mut r = CheckResult::new("linearizable", verdict, summary);
    r.explanation = explanation.join("\n");
    r.details = json!({
        "model": model.name(),
        "keys": keys,
        "operations": searched,
        "dropped": dropped,
        "states_explored": states,
        "failures": failures,
        "unknown": unknown,
    });
    r
}
