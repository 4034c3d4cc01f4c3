//! Session guarantees per process, on registers with unique written values.
//!
//! Why: systems that are not linearizable often still promise each client a
//! consistent session (Terry et al.'s guarantees). These are checked per
//! process and per key, against the version order the graph register
//! checker infers from the history:
//!
//! - **read-your-writes**: after a process's write of `w`, its reads do not
//!   return a value known to be older than `w`;
//! - **monotonic reads**: after reading `b`, a process does not read a value
//!   known to be older than `b`;
//! - **monotonic writes**: if a session writes `w1` and then `w2`, no
//!   session that has observed `w2` later reads `w1`: one observer saw the
//!   two writes applied in the opposite order;
//! - **writes-follow-reads**: if a session reads `a` and then writes `b`,
//!   no session that has observed `b` later reads `a`: `b` was applied
//!   before the write it followed.
//!
//! "Known to be older" for the first two is the write-based evidence of the
//! stale-read checker: the write of `a` or a read of `a` completed before
//! the write of `b` was invoked.
//!
//! Every guarantee is a promise to one session, so every piece of evidence
//! comes from one session: the writer's own order of operations, and what
//! one observer read, in that observer's order. Real-time order between
//! *different* observers is not evidence: "process 3 read the new value
//! before process 2 read the old one" only shows that process 2 was served
//! by a lagging replica — a stale read, which the stale-read checker
//! reports — not that any replica applied a session's writes out of order.
//! An observer that is the writer itself is covered by read-your-writes and
//! monotonic reads, so monotonic writes and writes-follow-reads look only at
//! other sessions.

use crate::checker::graph_register::{by_key, call_t, disqualify, KeyGraph, Lines};
use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::{History, Op, Operation, Outcome, Process, Val};
use crate::model::ModelConfig;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// The checker's name in results.
pub const NAME: &str = "session";

/// The four session guarantees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    ReadYourWrites,
    MonotonicReads,
    MonotonicWrites,
    WritesFollowReads,
}

impl Guarantee {
    pub fn as_str(self) -> &'static str {
        match self {
            Guarantee::ReadYourWrites => "read-your-writes",
            Guarantee::MonotonicReads => "monotonic-reads",
            Guarantee::MonotonicWrites => "monotonic-writes",
            Guarantee::WritesFollowReads => "writes-follow-reads",
        }
    }
    const ALL: [Guarantee; 4] = [
        Guarantee::ReadYourWrites,
        Guarantee::MonotonicReads,
        Guarantee::MonotonicWrites,
        Guarantee::WritesFollowReads,
    ];
}

/// One violation: `op` (by `process`) breaks `guarantee` given the
/// process's `earlier` op; `evidence` is the pair of operations whose
/// real-time order fixes the version order.
#[derive(Clone, Debug, Serialize)]
pub struct Violation {
    pub guarantee: Guarantee,
    pub process: String,
    pub key: Option<Val>,
    /// History positions of the violating op and the earlier op of the same process.
    pub event: usize,
    pub earlier_event: usize,
    pub explanation: String,
}

/// The two largest values seen, from distinct clusters, with their op.
#[derive(Clone, Copy)]
struct Top2 {
    best: [(u64, usize, usize); 2],
}

impl Top2 {
    const EMPTY: (u64, usize, usize) = (0, usize::MAX, usize::MAX);
    fn new() -> Top2 {
        Top2 {
            best: [Self::EMPTY; 2],
        }
    }
    fn add(&mut self, v: u64, cluster: usize, op: usize) {
        if self.best[0].1 == cluster {
            if v > self.best[0].0 {
                self.best[0] = (v, cluster, op);
            }
            return;
        }
        if self.best[1].1 == cluster {
            if v > self.best[1].0 {
                self.best[1] = (v, cluster, op);
            }
        } else if v > self.best[1].0 || self.best[1].1 == usize::MAX {
            self.best[1] = (v, cluster, op);
        }
        if self.best[1].0 > self.best[0].0 || self.best[0].1 == usize::MAX {
            self.best.swap(0, 1);
        }
    }
    /// The largest value from a cluster other than `not`, with that cluster and op.
    fn max_excluding(&self, not: usize) -> Option<(u64, usize, usize)> {
        let e = if self.best[0].1 != not {
            self.best[0]
        } else {
            self.best[1]
        };
        (e.1 != usize::MAX).then_some(e)
    }
}

fn value_of(g: &KeyGraph, ops: &[Operation], c: usize) -> String {
    match g.clusters[c].write {
        Some(w) => ops[w].input.to_string(),
        None => format!("{} (the initial value)", g.initial),
    }
}

/// Session violations of one key.
fn check_key(g: &KeyGraph, ops: &[Operation], idx: &[usize], lines: &Lines) -> Vec<Violation> {
    let cluster = &g.cluster_of;
    let mut per_process: BTreeMap<&Process, Vec<usize>> = BTreeMap::new();
    for &i in idx {
        per_process.entry(&ops[i].process).or_default().push(i);
    }
    for list in per_process.values_mut() {
        list.sort_by_key(|&i| call_t(&ops[i]));
    }
    let mut out = Vec::new();
    let f_op = |c: usize| g.clusters[c].f_op;
    let describe = |i: Option<usize>, c: usize| match i {
        Some(i) => lines.op(&ops[i]),
        None => format!("the initial value {}", value_of(g, ops, c)),
    };
    // Each op's place in its own session: (session number, position).
    let sessions: Vec<&Process> = per_process.keys().copied().collect();
    let mut place: HashMap<usize, (usize, usize)> = HashMap::new();
    for (s, list) in per_process.values().enumerate() {
        for (pos, &i) in list.iter().enumerate() {
            place.insert(i, (s, pos));
        }
    }
    // For each value (cluster): the first position at which each session
    // read it, for writes-follow-reads.
    let mut first_read: HashMap<usize, BTreeMap<usize, (usize, usize)>> = HashMap::new();
    for (s, list) in per_process.values().enumerate() {
        for (pos, &i) in list.iter().enumerate() {
            if ops[i].f == "read" && ops[i].outcome == Outcome::Ok {
                if let Some(&c) = cluster.get(&i) {
                    first_read
                        .entry(c)
                        .or_default()
                        .entry(s)
                        .or_insert((pos, i));
                }
            }
        }
    }
    for (me, (p, list)) in per_process.iter().enumerate() {
        let mut writes_by_call = Top2::new(); // RYW: write call of prior writes
        let mut reads_by_call = Top2::new(); // MR: write call of prior reads' clusters
                                             // MW and WFR: for each other session, the latest write of it this
                                             // session has read: (position in the writer's session, the read).
        let mut seen_writes: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        for &i in list {
            let op = &ops[i];
            if op.outcome != Outcome::Ok {
                continue;
            }
            let Some(&c) = cluster.get(&i) else {
                continue;
            };
            let f = g.clusters[c].f;
            let mut push = |guarantee: Guarantee, earlier: usize, explanation: String| {
                out.push(Violation {
                    guarantee,
                    process: p.to_string(),
                    key: g.key.clone(),
                    event: op.invoke(),
                    earlier_event: ops[earlier].invoke(),
                    explanation,
                });
            };
            if op.f != "read" {
                writes_by_call.add(call_t(op), c, i);
                continue;
            }
            if let Some((t, w, e)) = writes_by_call.max_excluding(c) {
                if f < t {
                    push(
                        Guarantee::ReadYourWrites,
                        e,
                        format!(
                            "{} follows its own {}, yet {} is older than {}: {} completed before that write was invoked.",
                            lines.op(op), lines.op_short(&ops[e]), value_of(g, ops, c), value_of(g, ops, w), describe(f_op(c), c)
                        ),
                    );
                }
            }
            if let Some((t, b, e)) = reads_by_call.max_excluding(c) {
                if f < t {
                    push(
                        Guarantee::MonotonicReads,
                        e,
                        format!(
                            "{} follows its own {}, yet {} is older than {}: {} completed before the write of {} was invoked.",
                            lines.op(op), lines.op_short(&ops[e]), value_of(g, ops, c), value_of(g, ops, b), describe(f_op(c), c), value_of(g, ops, b)
                        ),
                    );
                }
            }
            // Monotonic writes: this value's writer had already written a
            // later value, and this session read that one before.
            let writer = g.clusters[c].write.and_then(|w| place.get(&w).copied());
            if let Some((ws, wpos)) = writer.filter(|(ws, _)| *ws != me) {
                if let Some(&(later, r)) = seen_writes.get(&ws) {
                    if later > wpos {
                        let w2 = per_process[sessions[ws]][later];
                        push(
                            Guarantee::MonotonicWrites,
                            r,
                            format!(
                                "{} follows its own {}, which returned {}'s later {}: this session saw the two writes applied in the opposite order.",
                                lines.op(op), lines.op_short(&ops[r]), sessions[ws], lines.op_short(&ops[w2])
                            ),
                        );
                    }
                }
            }
            // Writes-follow-reads: a session read this value and then wrote
            // a value this session already read.
            if let Some(readers) = first_read.get(&c) {
                for (&rs, &(rpos, ri)) in readers {
                    if rs == me {
                        continue;
                    }
                    if let Some(&(later, r)) = seen_writes.get(&rs) {
                        if later > rpos {
                            let w2 = per_process[sessions[rs]][later];
                            push(
                                Guarantee::WritesFollowReads,
                                r,
                                format!(
                                    "{} follows its own {}, which returned {}'s {}; that write followed its {}, yet this session saw the value read before the write that followed it.",
                                    lines.op(op), lines.op_short(&ops[r]), sessions[rs], lines.op_short(&ops[w2]), lines.op_short(&ops[ri])
                                ),
                            );
                            break;
                        }
                    }
                }
            }
            if let Some((ws, wpos)) = writer.filter(|(ws, _)| *ws != me) {
                let e = seen_writes.entry(ws).or_insert((wpos, i));
                if wpos > e.0 {
                    *e = (wpos, i);
                }
            }
            if g.clusters[c].write.is_some() {
                reads_by_call.add(g.write_call(ops, c), c, i);
            }
        }
    }
    out
}

/// Every session violation; `Err` when the ops do not qualify, `Ok(None)`
/// when the budget ran out.
pub fn find_violations(
    ops: &[Operation],
    cfg: &ModelConfig,
    events: Option<&[Op]>,
    budget: &Budget,
) -> Result<Option<Vec<Violation>>, String> {
    if let Some(why) = disqualify(ops, cfg) {
        return Err(why);
    }
    let lines = Lines(events);
    let mut out = Vec::new();
    for idx in by_key(ops) {
        if budget.exhausted() {
            return Ok(None);
        }
        let g = KeyGraph::build(ops, &idx, cfg);
        out.extend(check_key(&g, ops, &idx, &lines));
    }
    out.sort_by_key(|v| (v.event, v.guarantee));
    Ok(Some(out))
}

/// The session checker; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct SessionChecker {
    pub config: ModelConfig,
}

impl SessionChecker {
    pub fn new() -> SessionChecker {
        SessionChecker::default()
    }
    pub fn with_config(config: ModelConfig) -> SessionChecker {
        SessionChecker { config }
    }

    pub fn check_ops(
        &self,
        ops: &[Operation],
        events: Option<&[Op]>,
        budget: &Budget,
    ) -> CheckResult {
        let v = match find_violations(ops, &self.config, events, budget) {
            Err(why) => {
                let mut r = CheckResult::new(
                    NAME,
                    Verdict::Unknown,
                    format!("not a unique-value register history: {why}"),
                );
                r.details = json!({"qualifies": false, "reason": why});
                return r;
            }
            Ok(None) => return CheckResult::new(NAME, Verdict::Unknown, "budget exhausted"),
            Ok(Some(v)) => v,
        };
        let mut by: BTreeMap<&str, Vec<&Violation>> = BTreeMap::new();
        for g in Guarantee::ALL {
            by.insert(g.as_str(), Vec::new());
        }
        for x in &v {
            by.entry(x.guarantee.as_str()).or_default().push(x);
        }
        let counts: BTreeMap<&str, usize> = by.iter().map(|(k, xs)| (*k, xs.len())).collect();
        let details = json!({
            "qualifies": true,
            "counts": counts,
            "violations": by.iter().map(|(k, xs)| (k.to_string(), json!(xs.iter().take(1000).collect::<Vec<_>>()))).collect::<serde_json::Map<_, _>>(),
        });
        let broken: Vec<String> = counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        let mut r = if v.is_empty() {
            CheckResult::new(
                NAME,
                Verdict::Valid,
                "read-your-writes, monotonic reads, monotonic writes and writes-follow-reads hold for every process",
            )
        } else {
            let mut r = CheckResult::new(
                NAME,
                Verdict::Invalid,
                format!("session guarantees violated: {}", broken.join(", ")),
            );
            let mut e = String::new();
            for (k, xs) in &by {
                for x in xs.iter().take(5) {
                    let _ = writeln!(e, "- {k}: {}", x.explanation);
                }
                if xs.len() > 5 {
                    let _ = writeln!(e, "  ... and {} more {k} violations", xs.len() - 5);
                }
            }
            r.explanation = e;
            r
        };
        r.details = details;
        r
    }
}

impl Checker for SessionChecker {
    fn name(&self) -> &str {
        NAME
    }
    fn check(&self, history: &History, budget: &Budget) -> CheckResult {
        crate::checker::on_operations(NAME, history, |ops| {
            self.check_ops(ops, Some(history.ops()), budget)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top2_excludes_a_cluster() {
        let mut t = Top2::new();
        t.add(5, 1, 10);
        t.add(9, 2, 20);
        t.add(7, 2, 21);
        t.add(3, 3, 30);
        assert_eq!(t.max_excluding(0).map(|x| x.0), Some(9));
        assert_eq!(t.max_excluding(2).map(|x| (x.0, x.1)), Some((5, 1)));
        t.add(12, 1, 11);
        assert_eq!(t.max_excluding(2).map(|x| x.0), Some(12));
        assert_eq!(t.max_excluding(1).map(|x| x.0), Some(9));
        assert!(Top2::new().max_excluding(0).is_none());
    }
}
