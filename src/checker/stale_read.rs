//! Stale reads on registers with unique written values.
//!
//! Why: "not linearizable" says that something is wrong; operators want to
//! know how wrong. A read is *stale* when it returned a version older than
//! one whose write had already been acknowledged when the read began. How
//! stale is measured in versions (how many such acknowledged, newer writes
//! it missed) and in time (how long before the read began the first of them
//! was acknowledged: milliseconds from the ops' `time` fields, or history
//! events when the history has no times). Summaries are overall, per node
//! (the op's `node`), per process and, given a node → region map, per region.
//!
//! Version order is the one the graph register checker infers, restricted
//! to evidence about writes: value `a` is older than value `b` when the
//! write of `a`, or some read that returned `a`, completed before the write
//! of `b` was invoked; the initial value is older than every written value.
//! Every stale read is therefore also a linearizability violation, and the
//! reported ones are exactly the reads that missed an acknowledged write
//! known to be newer than what they returned.

use crate::checker::graph_register::{by_key, call_t, disqualify, ret_t, KeyGraph, Lines};
use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::{History, Name, Op, Operation, Outcome, Val};
use crate::model::ModelConfig;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The checker's name in results.
pub const NAME: &str = "stale-read";

/// One stale read.
#[derive(Clone, Debug, Serialize)]
pub struct StaleRead {
    /// Index of the read in the operation slice.
    pub read: usize,
    /// History position of the read's invoke.
    pub event: usize,
    pub key: Option<Val>,
    pub process: String,
    pub node: Option<Name>,
    /// The value it returned.
    pub value: Val,
    /// How many acknowledged, newer writes it missed.
    pub versions_behind: usize,
    /// The first of those writes to be acknowledged (operation index).
    pub missed_write: usize,
    /// The value of that write.
    pub missed_value: Val,
    /// Time from that acknowledgement to the read's invocation, in ms,
    /// when both events have times.
    pub ms_behind: Option<f64>,
    /// The same distance in history events.
    pub events_behind: usize,
}

/// Count, median, 99th percentile and maximum of a sample.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Stats {
    /// Nearest-rank percentiles of `xs`.
    pub fn of(mut xs: Vec<f64>) -> Stats {
        if xs.is_empty() {
            return Stats::default();
        }
        xs.sort_by(|a, b| a.total_cmp(b));
        let rank = |q: f64| {
            let i = ((q * xs.len() as f64).ceil() as usize).max(1) - 1;
            xs[i.min(xs.len() - 1)]
        };
        Stats {
            count: xs.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: xs[xs.len() - 1],
        }
    }
}

/// A Fenwick tree over positions answering "how many, and which with the
/// smallest (ret, op)" for suffixes.
struct SuffixTree {
    count: Vec<usize>,
    min: Vec<(u64, usize)>,
}

impl SuffixTree {
    fn new(n: usize) -> SuffixTree {
        SuffixTree {
            count: vec![0; n + 1],
            min: vec![(u64::MAX, usize::MAX); n + 1],
        }
    }
    /// Inserts at position `p` (0-based); stored mirrored so suffixes are prefixes.
    fn insert(&mut self, p: usize, item: (u64, usize)) {
        let n = self.count.len() - 1;
        let mut i = n - p;
        while i <= n {
            self.count[i] += 1;
            if item < self.min[i] {
                self.min[i] = item;
            }
            i += i & i.wrapping_neg();
        }
    }
    /// Over positions >= p.
    fn suffix(&self, p: usize) -> (usize, (u64, usize)) {
        let n = self.count.len() - 1;
        if p >= n {
            return (0, (u64::MAX, usize::MAX));
        }
        let mut i = n - p;
        let (mut c, mut m) = (0, (u64::MAX, usize::MAX));
        while i > 0 {
            c += self.count[i];
            if self.min[i] < m {
                m = self.min[i];
            }
            i -= i & i.wrapping_neg();
        }
        (c, m)
    }
}

/// Finds the stale reads of one key.
pub(crate) fn stale_reads_of_key(g: &KeyGraph, ops: &[Operation]) -> Vec<StaleRead> {
    // Acknowledged writes, by when they were acknowledged.
    let mut acked: Vec<usize> = (1..g.clusters.len())
        .filter(|&c| {
            g.clusters[c]
                .write
                .is_some_and(|w| ops[w].outcome == Outcome::Ok)
        })
        .collect();
    acked.sort_by_key(|&c| g.clusters[c].write.map_or(0, |w| ret_t(&ops[w])));
    let mut calls: Vec<u64> = acked.iter().map(|&c| g.write_call(ops, c)).collect();
    calls.sort_unstable();
    calls.dedup();
    let mut reads: Vec<(usize, usize)> = Vec::new();
    for (c, cl) in g.clusters.iter().enumerate() {
        for &r in &cl.reads {
            reads.push((r, c));
        }
    }
    reads.sort_by_key(|&(r, _)| call_t(&ops[r]));
    let mut tree = SuffixTree::new(calls.len());
    let mut next = 0;
    let mut out = Vec::new();
    for (r, a) in reads {
        let rc = call_t(&ops[r]);
        while next < acked.len() {
            let c = acked[next];
            let Some(w) = g.clusters[c].write else {
                next += 1;
                continue;
            };
            let wr = ret_t(&ops[w]);
            if wr >= rc {
                break;
            }
            let p = calls.partition_point(|&x| x < call_t(&ops[w]));
            tree.insert(p, (wr, w));
            next += 1;
        }
        // Newer than `a`: write invoked after a's earliest return.
        let fa = g.clusters[a].f;
        let p = calls.partition_point(|&x| x <= fa);
        let (n, (_, w)) = tree.suffix(p);
        if n == 0 || w == usize::MAX {
            continue;
        }
        let read = &ops[r];
        let write = &ops[w];
        let ms_behind = match (read.invoke_time.get(), write.complete_time.get()) {
            (Some(a), Some(b)) => Some((a as f64 - b as f64) / 1e6),
            _ => None,
        };
        out.push(StaleRead {
            read: r,
            event: read.invoke(),
            key: read.key.clone(),
            process: read.process.to_string(),
            // Filled in from the events by `check_ops`, which has them.
            node: None,
            value: read.output.clone(),
            versions_behind: n,
            missed_write: w,
            missed_value: write.input.clone(),
            ms_behind,
            events_behind: read.invoke().saturating_sub(write.complete().unwrap_or(0)),
        });
    }
    out
}

/// Stale reads of every key; `Err` when the ops do not qualify.
pub fn find_stale_reads(
    ops: &[Operation],
    cfg: &ModelConfig,
    budget: &Budget,
) -> Result<Option<Vec<StaleRead>>, String> {
    if let Some(why) = disqualify(ops, cfg) {
        return Err(why);
    }
    let mut out = Vec::new();
    for idx in by_key(ops) {
        if budget.exhausted() {
            return Ok(None);
        }
        let g = KeyGraph::build(ops, &idx, cfg);
        out.extend(stale_reads_of_key(&g, ops));
    }
    out.sort_by_key(|s| s.event);
    Ok(Some(out))
}

/// The stale-read checker; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct StaleReadChecker {
    pub config: ModelConfig,
    /// Node name → region, for a per-region summary (empty: none).
    pub regions: BTreeMap<String, String>,
}

impl StaleReadChecker {
    pub fn new() -> StaleReadChecker {
        StaleReadChecker::default()
    }
    pub fn with_config(config: ModelConfig) -> StaleReadChecker {
        StaleReadChecker {
            config,
            ..StaleReadChecker::default()
        }
    }
    /// Adds a node → region map; stale reads are then also summarised by
    /// region (nodes not in the map fall under "(unknown)").
    pub fn with_regions(mut self, regions: BTreeMap<String, String>) -> StaleReadChecker {
        self.regions = regions;
        self
    }

    /// Checks paired operations; `events` lets explanations cite lines.
    pub fn check_ops(
        &self,
        ops: &[Operation],
        events: Option<&[Op]>,
        budget: &Budget,
    ) -> CheckResult {
        let lines = Lines(events);
        let stale = match find_stale_reads(ops, &self.config, budget) {
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
            Ok(Some(mut s)) => {
                if let Some(events) = events {
                    for read in &mut s {
                        read.node = crate::history::node_of(events, &ops[read.read]);
                    }
                }
                s
            }
        };
        let reads = ops
            .iter()
            .filter(|o| o.f == "read" && o.outcome == Outcome::Ok)
            .count();
        let timed = !stale.is_empty() && stale.iter().all(|s| s.ms_behind.is_some());
        let unit = if timed { "ms" } else { "events" };
        let amount = |s: &StaleRead| {
            if timed {
                s.ms_behind.unwrap_or(0.0)
            } else {
                s.events_behind as f64
            }
        };
        let summarize = |group: &[&StaleRead]| {
            json!({
                "behind": Stats::of(group.iter().map(|s| amount(s)).collect()),
                "versions_behind": Stats::of(group.iter().map(|s| s.versions_behind as f64).collect()),
            })
        };
        let all: Vec<&StaleRead> = stale.iter().collect();
        let mut by_node: BTreeMap<String, Vec<&StaleRead>> = BTreeMap::new();
        let mut by_process: BTreeMap<String, Vec<&StaleRead>> = BTreeMap::new();
        let mut by_region: BTreeMap<String, Vec<&StaleRead>> = BTreeMap::new();
        for s in &stale {
            by_node
                .entry(s.node.map_or_else(|| "(unknown)".into(), |n| n.to_string()))
                .or_default()
                .push(s);
            by_process.entry(s.process.clone()).or_default().push(s);
            if !self.regions.is_empty() {
                let region = s
                    .node
                    .as_ref()
                    .and_then(|n| self.regions.get(n.as_str()))
                    .cloned()
                    .unwrap_or_else(|| "(unknown)".into());
                by_region.entry(region).or_default().push(s);
            }
        }
        let overall = summarize(&all);
        let details = json!({
            "qualifies": true,
            "reads": reads,
            "stale_count": stale.len(),
            "unit": unit,
            "overall": overall,
            "by_node": by_node.iter().map(|(k, v)| (k.clone(), summarize(v))).collect::<serde_json::Map<_, _>>(),
            "by_process": by_process.iter().map(|(k, v)| (k.clone(), summarize(v))).collect::<serde_json::Map<_, _>>(),
            "by_region": by_region.iter().map(|(k, v)| (k.clone(), summarize(v))).collect::<serde_json::Map<_, _>>(),
            "stale_reads": stale.iter().take(1000).collect::<Vec<_>>(),
        });
        if stale.is_empty() {
            let mut r = CheckResult::new(
                NAME,
                Verdict::Valid,
                format!("no stale reads among {reads} reads"),
            );
            r.details = details;
            return r;
        }
        let st = Stats::of(all.iter().map(|s| amount(s)).collect());
        let mut r = CheckResult::new(
            NAME,
            Verdict::Invalid,
            format!(
                "{} of {reads} reads were stale (p50 {:.1} {unit}, p99 {:.1} {unit}, max {:.1} {unit} behind)",
                stale.len(),
                st.p50,
                st.p99,
                st.max
            ),
        );
        let mut e = String::new();
        for s in stale.iter().take(10) {
            let read = &ops[s.read];
            let write = &ops[s.missed_write];
            let when = match s.ms_behind {
                Some(ms) => format!("{ms:.1} ms"),
                None => format!("{} events", s.events_behind),
            };
            let key = s
                .key
                .as_ref()
                .map(|k| format!("key {k}: "))
                .unwrap_or_default();
            let node = s
                .node
                .as_ref()
                .map(|n| format!(" on node {n}"))
                .unwrap_or_default();
            let _ = writeln!(
                e,
                "- {key}{}{node} was {} version(s) behind: {} had been acknowledged ({}) {when} before the read began, and {} is older than {}.",
                lines.op(read),
                s.versions_behind,
                lines.op(write),
                lines.at(write.complete().unwrap_or(write.invoke())),
                s.value,
                s.missed_value
            );
        }
        if stale.len() > 10 {
            let _ = writeln!(e, "... and {} more", stale.len() - 10);
        }
        for (title, groups) in [("By node:", &by_node), ("By region:", &by_region)] {
            if groups.is_empty() {
                continue;
            }
            let _ = writeln!(e, "{title}");
            for (n, v) in groups {
                let st = Stats::of(v.iter().map(|s| amount(s)).collect());
                let _ = writeln!(
                    e,
                    "  {n}: {} stale, p50 {:.1} {unit}, p99 {:.1} {unit}, max {:.1} {unit}",
                    st.count, st.p50, st.p99, st.max
                );
            }
        }
        r.explanation = e;
        r.details = details;
        r
    }
}

impl Checker for StaleReadChecker {
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
    fn percentiles_are_nearest_rank() {
        let s = Stats::of((1..=100).map(|x| x as f64).collect());
        assert_eq!((s.count, s.p50, s.p99, s.max), (100, 50.0, 99.0, 100.0));
        assert_eq!(Stats::of(vec![]).count, 0);
    }

    #[test]
    fn suffix_tree_counts_and_finds_earliest() {
        let mut t = SuffixTree::new(5);
        t.insert(1, (30, 3));
        t.insert(3, (10, 1));
        t.insert(4, (20, 2));
        assert_eq!(t.suffix(0), (3, (10, 1)));
        assert_eq!(t.suffix(4), (1, (20, 2)));
        assert_eq!(t.suffix(2), (2, (10, 1)));
        assert_eq!(t.suffix(5).0, 0);
    }
}
