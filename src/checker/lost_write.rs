//! Lost writes: acknowledged writes that later reads should contain and do
//! not.
//!
//! Why: a database that acknowledges a write and then forgets it is the
//! most damaging failure a test can find, and it deserves a direct answer
//! per element rather than "not linearizable". The classification follows
//! the semantics of Jepsen's set-full checker (re-derived here, not ported;
//! the exact rules are on `classify_collections` and in docs/checkers.md):
//! an element is *known* once its add is acknowledged or a read shows it;
//! it is **stable** when some read shows it and no later-invoked read lacks
//! it (**stale** if a read that began after it was known lacked it), **lost**
//! when the latest-invoked read lacking it began after it was known and
//! after every read showing it, and **never-read** otherwise. An
//! indeterminate add that a read shows is **recovered**.
//!
//! Lost elements fail the check, and so do reads of elements that no add
//! (or only a failed add) produced (*unexpected*; Jepsen's set-full ignores
//! these, but a value from nowhere is a real violation) and reads that list
//! an element twice (*duplicated*: no set read does). With no stable
//! element nothing was confirmed, so the answer is unknown, as Jepsen's;
//! with `linearizable` (Jepsen's `:linearizable?`) stale elements fail too.
//! Latency (how long after it was known an element was still missing from
//! a read) is in ms from `time` fields, or in history events without them.
//!
//! Three workloads: set adds (`add` v; `read` returns the whole set), list
//! appends (`txn` with `["append", k, v]` and `["r", k, [..]]`), and
//! registers with unique writes (a write is lost when every read that began
//! after its acknowledgement returned a value known to be older; it is
//! *superseded* when never read but a possibly newer value was).

use crate::checker::graph_register::HashMap;
use crate::checker::graph_register::{by_key, call_t, disqualify, ret_t, KeyGraph, Lines, VKey};
use crate::checker::stale_read::Stats;
use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::{History, Op, Operation, Outcome, Val};
use crate::model::ModelConfig;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The checker's name in results.
pub const NAME: &str = "lost-write";

/// Which kind of writes to analyse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Workload {
    /// Decide from the operations: `add` → set, `txn` → list-append,
    /// otherwise registers.
    #[default]
    Auto,
    Set,
    ListAppend,
    Register,
}

/// What happened to one acknowledged (or indeterminate) write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fate {
    Present,
    Stale,
    Lost,
    NeverRead,
    Recovered,
    /// Registers only: never read, but a possibly newer value was.
    Superseded,
}

impl Fate {
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Present => "present",
            Fate::Stale => "stale",
            Fate::Lost => "lost",
            Fate::NeverRead => "never-read",
            Fate::Recovered => "recovered",
            Fate::Superseded => "superseded",
        }
    }
}

/// One element's classification.
#[derive(Clone, Debug, Serialize)]
pub struct ElementFate {
    pub key: Option<Val>,
    pub value: Val,
    pub fate: Fate,
    /// History position of the write's invoke.
    pub event: usize,
    pub process: String,
    /// How long after it was known it was still missing from a read.
    pub latency: f64,
    /// For lost elements: the last read that had it (history position), if any.
    pub last_seen: Option<usize>,
    /// For lost and stale elements: the last read that lacked it.
    pub last_absent: Option<usize>,
}

/// A read (or a txn's read micro-op) of one key. What it contained is kept
/// only in the per-element index ([`Present`]), so a long set-full history
/// is not held twice.
struct Obs {
    op: usize,
    /// Which of the op's reads (a txn may read the same key twice).
    nth: usize,
    call: u64,
}

/// For each key, for each element: the positions (in that key's reads,
/// sorted by call) of the reads that contained it.
type Present = HashMap<VKey, HashMap<VKey, Vec<u32>>>;

/// One add or append.
struct Add {
    op: usize,
    key: VKey,
    value: Val,
}

/// Adds, reads by key (sorted by call), and which reads contained what.
/// Adds, reads by key, the element index, and (read op, element) pairs
/// where a read listed an element more than once.
type Collected = (
    Vec<Add>,
    HashMap<VKey, Vec<Obs>>,
    Present,
    Vec<(usize, Val)>,
);

/// The outcome of [`classify`].
#[derive(Clone, Debug, Default)]
pub struct Classification {
    /// Every write's fate.
    pub fates: Vec<ElementFate>,
    /// Reads (operation index, value) that showed a value no write produced.
    pub unexpected: Vec<(usize, Val)>,
    /// Reads (operation index, value) that listed an element twice.
    pub duplicated: Vec<(usize, Val)>,
    /// Sets and list-append (Jepsen's set-full rules), not registers.
    pub collection: bool,
}

fn workload_of(ops: &[Operation]) -> Workload {
    if ops.iter().any(|o| o.f == "add") {
        Workload::Set
    } else if ops.iter().any(|o| o.f == "txn") {
        Workload::ListAppend
    } else {
        Workload::Register
    }
}

/// Splits a txn micro-op `[f, k, v]` (`None` when it is not one).
fn micro(m: &Option<std::borrow::Cow<'_, [Val]>>) -> Option<(&'static str, Val, Val)> {
    match m.as_deref()? {
        [f, k, v] => Some((f.as_str()?, k.clone(), v.clone())),
        _ => None,
    }
}

/// The reads in `op` as (key, returned list), for a set or list-append op.
fn reads_in(op: &Operation, workload: Workload) -> Vec<(VKey, Val)> {
    if op.outcome != Outcome::Ok {
        return Vec::new();
    }
    match (workload, op.f.as_str()) {
        (Workload::Set, "read") => vec![(VKey::of_key(&op.key), op.output.clone())],
        (Workload::ListAppend, "txn") => op
            .output
            .lists()
            .map(|ms| {
                ms.iter()
                    .filter_map(micro)
                    .filter(|(f, _, _)| matches!(*f, "r" | "read"))
                    .map(|(_, k, v)| (VKey::of(&k), v))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Collects adds and reads of a set or list-append history; `Err` names
/// an operation that does not fit.
fn collect(ops: &[Operation], workload: Workload) -> Result<Collected, String> {
    let mut adds = Vec::new();
    let mut reads: HashMap<VKey, Vec<Obs>> = HashMap::default();
    for (i, op) in ops.iter().enumerate() {
        match (workload, op.f.as_str()) {
            (Workload::Set, "add") => adds.push(Add {
                op: i,
                key: VKey::of_key(&op.key),
                value: op.input.clone(),
            }),
            (Workload::Set, "read") => {}
            (Workload::ListAppend, "txn") => {
                let body = if op.outcome == Outcome::Ok {
                    &op.output
                } else {
                    &op.input
                };
                let Some(mops) = body.lists() else {
                    return Err(format!("a txn's value {body} is not a list of micro-ops"));
                };
                for (nth, m) in mops.iter().enumerate() {
                    match micro(m) {
                        Some(("append", k, v)) => adds.push(Add {
                            op: i,
                            key: VKey::of(&k),
                            value: v,
                        }),
                        Some(("r" | "read", _, _)) => {}
                        _ => {
                            let m = body.get(nth).unwrap_or_default();
                            return Err(format!("micro-op {m} is neither append nor r"));
                        }
                    }
                }
            }
            (_, f) => return Err(format!("operation `{f}` does not belong to this workload")),
        }
        for (nth, (k, v)) in reads_in(op, workload).into_iter().enumerate() {
            if !matches!(v, Val::List(_) | Val::Ints(..) | Val::Triples(_) | Val::Nil) {
                return Err(format!("a read returned {v}, not a list"));
            }
            reads.entry(k).or_default().push(Obs {
                op: i,
                nth,
                call: call_t(op),
            });
        }
    }
    // Index contents in call order.
    let mut present: Present = HashMap::default();
    let mut duplicated = Vec::new();
    for (k, rs) in reads.iter_mut() {
        rs.sort_by_key(|o| o.call);
        let per_key = present.entry(k.clone()).or_default();
        for (j, r) in rs.iter().enumerate() {
            let Some((_, v)) = reads_in(&ops[r.op], workload).into_iter().nth(r.nth) else {
                continue;
            };
            for e in v.as_array().unwrap_or_default().iter() {
                let list = per_key.entry(VKey::of(e)).or_default();
                if list.last() != Some(&(j as u32)) {
                    list.push(j as u32);
                } else {
                    duplicated.push((r.op, e.clone()));
                }
            }
        }
    }
    duplicated.sort_by_key(|d| d.0);
    Ok((adds, reads, present, duplicated))
}

/// True when every event has a time, so latencies can be in ms.
fn is_timed(ops: &[Operation]) -> bool {
    ops.iter()
        .all(|o| o.invoke_time.is_some() && (o.complete().is_none() || o.complete_time.is_some()))
}

fn time_of(pos_t: u64, time: Option<u64>, timed: bool) -> f64 {
    if timed {
        time.unwrap_or(0) as f64 / 1e6
    } else {
        pos_t as f64
    }
}

/// Jepsen's stale test: did the last read that lacked an element begin
/// after the element was known? With times, as Jepsen measures it: the
/// read's invoke time + 1 ns minus the known time, in whole milliseconds,
/// must be positive. Without times, by history position.
fn is_stale(known: (usize, Option<u64>), absent: (usize, Option<u64>), timed: bool) -> bool {
    match (timed, known.1, absent.1) {
        (true, Some(k), Some(a)) => (a as i128 + 1 - k as i128) / 1_000_000 > 0,
        _ => absent.0 > known.0,
    }
}

/// Classifies set and list-append elements by Jepsen's set-full rules.
/// Returns fates and unexpected observations (read op, key, element).
///
/// Per element, over the reads of its key that completed after its add was
/// invoked (earlier reads cannot speak of it):
/// - *known*: the add's ok completion or the first completion of a read
///   showing it, whichever came first;
/// - *last present* / *last absent*: the latest-invoked read showing /
///   lacking it;
/// - **stable** (present, stale or recovered): some read shows it and no
///   read invoked later lacks it; **stale** when a read that lacked it
///   began after it was known;
/// - **lost**: it was known, and the latest-invoked read lacking it began
///   after it was known and after every read showing it;
/// - **never-read**: neither.
fn classify_collections(
    ops: &[Operation],
    adds: &[Add],
    reads: &HashMap<VKey, Vec<Obs>>,
    present: &Present,
    timed: bool,
) -> (Vec<ElementFate>, Vec<(usize, VKey, VKey)>) {
    let mut added: HashMap<(VKey, VKey), bool> = HashMap::default();
    let mut fates = Vec::new();
    let empty: Vec<Obs> = Vec::new();
    let done = |r: &Obs| ops[r.op].complete().unwrap_or(usize::MAX);
    for a in adds {
        let op = &ops[a.op];
        let ek = VKey::of(&a.value);
        let good = op.outcome != Outcome::Fail;
        let e = added.entry((a.key.clone(), ek.clone())).or_insert(false);
        *e |= good;
        if !good {
            continue;
        }
        let rs = reads.get(&a.key).unwrap_or(&empty);
        // Reads that completed after the add was invoked.
        let counts = |j: usize| done(&rs[j]) > op.invoke();
        let pres: Vec<usize> = present
            .get(&a.key)
            .and_then(|m| m.get(&ek))
            .map(|l| {
                l.iter()
                    .map(|&j| j as usize)
                    .filter(|&j| counts(j))
                    .collect()
            })
            .unwrap_or_default();
        let last_present = pres.last().copied();
        // The latest-invoked counting read that lacks it: walk back,
        // skipping the reads that show it.
        let mut last_absent = None;
        let mut pi = pres.len();
        let mut j = rs.len();
        while j > 0 {
            j -= 1;
            if pi > 0 && pres[pi - 1] == j {
                pi -= 1;
                continue;
            }
            if counts(j) {
                last_absent = Some(j);
                break;
            }
        }
        // Known: (history position, time) of the add's ok completion or the
        // first completion of a read showing it.
        let mut known: Option<(usize, Option<u64>)> = match (op.outcome, op.complete()) {
            (Outcome::Ok, Some(c)) => Some((c, op.complete_time.get())),
            _ => None,
        };
        for &j in &pres {
            let r = &ops[rs[j].op];
            if let Some(c) = r.complete() {
                if known.is_none_or(|k| c < k.0) {
                    known = Some((c, r.complete_time.get()));
                }
            }
        }
        let call_of = |j: usize| ops[rs[j].op].invoke();
        let stable = last_present.is_some_and(|lp| last_absent.is_none_or(|la| la < lp));
        let lost = !stable
            && match (known, last_absent) {
                (Some(k), Some(la)) => last_present.is_none_or(|lp| lp < la) && k.0 < call_of(la),
                _ => false,
            };
        let stale = stable
            && match (known, last_absent) {
                (Some(k), Some(la)) => {
                    let r = &ops[rs[la].op];
                    is_stale(k, (r.invoke(), r.invoke_time.get()), timed)
                }
                _ => false,
            };
        let fate = if lost {
            Fate::Lost
        } else if !stable {
            Fate::NeverRead
        } else if stale {
            Fate::Stale
        } else if op.outcome != Outcome::Ok {
            Fate::Recovered
        } else {
            Fate::Present
        };
        let latency = match (fate, known, last_absent) {
            (Fate::Stale, Some((kp, kt)), Some(la)) => {
                let r = &ops[rs[la].op];
                (time_of(call_t(r), r.invoke_time.get(), timed) - time_of(kp as u64 + 1, kt, timed))
                    .max(0.0)
            }
            _ => 0.0,
        };
        fates.push(ElementFate {
            key: op.key.clone().or_else(|| key_value(&a.key)),
            value: a.value.clone(),
            fate,
            event: op.invoke(),
            process: op.process.to_string(),
            latency,
            last_seen: last_present.map(|j| ops[rs[j].op].invoke()),
            last_absent: last_absent.map(|j| ops[rs[j].op].invoke()),
        });
    }
    let mut unexpected = Vec::new();
    for (k, per_key) in present {
        for (e, js) in per_key {
            if !added.get(&(k.clone(), e.clone())).copied().unwrap_or(false) {
                if let (Some(&j), Some(rs)) = (js.first(), reads.get(k)) {
                    unexpected.push((rs[j as usize].op, k.clone(), e.clone()));
                }
            }
        }
    }
    unexpected.sort_by_key(|u| u.0);
    (fates, unexpected)
}

fn key_value(k: &VKey) -> Option<Val> {
    match k {
        VKey::Absent => None,
        VKey::Null => Some(Val::Nil),
        VKey::Int(i) => Some(Val::Int(*i)),
        VKey::Json(s) => serde_json::from_str(s).ok(),
    }
}

/// Classifies register writes (unique values).
fn classify_registers(
    ops: &[Operation],
    cfg: &ModelConfig,
    timed: bool,
) -> (Vec<ElementFate>, Vec<(usize, VKey, VKey)>) {
    let mut fates = Vec::new();
    let mut unexpected = Vec::new();
    for idx in by_key(ops) {
        let g = KeyGraph::build(ops, &idx, cfg);
        for a in &g.anomalies {
            use crate::checker::graph_register::Anomaly;
            if let Anomaly::UnwrittenRead { read } | Anomaly::FailedWriteRead { read, .. } = a {
                let o = &ops[*read];
                unexpected.push((*read, VKey::of_key(&o.key), VKey::of(&o.output)));
            }
        }
        // Reads by call, with the earliest return of the cluster they read.
        let mut reads: Vec<(u64, u64, usize)> = Vec::new();
        for cl in &g.clusters {
            for &r in &cl.reads {
                reads.push((call_t(&ops[r]), cl.f, r));
            }
        }
        reads.sort_unstable();
        let n = reads.len();
        let mut suffix_max = vec![0u64; n + 1];
        let mut suffix_min = vec![u64::MAX; n + 1];
        for j in (0..n).rev() {
            suffix_max[j] = suffix_max[j + 1].max(reads[j].1);
            suffix_min[j] = suffix_min[j + 1].min(reads[j].1);
        }
        // Last read (index) whose cluster's f is below a threshold: sweep
        // thresholds ascending, adding reads in order of f.
        let mut by_f: Vec<usize> = (0..n).collect();
        by_f.sort_by_key(|&j| reads[j].1);
        let mut writes: Vec<usize> = (1..g.clusters.len())
            .filter(|&c| g.clusters[c].write.is_some() && g.clusters[c].active)
            .collect();
        writes.sort_by_key(|&c| g.write_call(ops, c));
        let mut last_below: HashMap<usize, Option<usize>> = HashMap::default();
        let (mut k, mut best): (usize, Option<usize>) = (0, None);
        for &c in &writes {
            let t = g.write_call(ops, c);
            while k < n && reads[by_f[k]].1 < t {
                best = best.max(Some(by_f[k]));
                k += 1;
            }
            last_below.insert(c, best);
        }
        for &c in &writes {
            let Some(w) = g.clusters[c].write else {
                continue;
            };
            let op = &ops[w];
            let wc = call_t(op);
            let known = if op.outcome == Outcome::Ok {
                ret_t(op)
            } else {
                // Indeterminate: known once read.
                match g.clusters[c].reads.iter().map(|&r| ret_t(&ops[r])).min() {
                    Some(t) => t,
                    None => continue,
                }
            };
            let first_after = reads.partition_point(|r| r.0 <= known);
            let read_it = !g.clusters[c].reads.is_empty();
            let older_after = suffix_min[first_after] < wc;
            let fate = if first_after < n && suffix_max[first_after] < wc {
                Fate::Lost
            } else if op.outcome != Outcome::Ok {
                // Indeterminate, and some read showed it.
                Fate::Recovered
            } else if first_after == n {
                Fate::NeverRead
            } else if !read_it {
                Fate::Superseded
            } else if older_after {
                Fate::Stale
            } else {
                Fate::Present
            };
            let last_absent = last_below
                .get(&c)
                .copied()
                .flatten()
                .filter(|&j| j >= first_after);
            let latency = match (fate, last_absent) {
                (Fate::Stale | Fate::Recovered | Fate::Superseded, Some(j)) => {
                    let r = &ops[reads[j].2];
                    (time_of(reads[j].0, r.invoke_time.get(), timed)
                        - time_of(known, op.complete_time.get(), timed))
                    .max(0.0)
                }
                _ => 0.0,
            };
            let last_seen = g.clusters[c].reads.iter().map(|&r| ops[r].invoke()).max();
            fates.push(ElementFate {
                key: op.key.clone(),
                value: op.input.clone(),
                fate,
                event: op.invoke(),
                process: op.process.to_string(),
                latency,
                last_seen,
                last_absent: last_absent.map(|j| ops[reads[j].2].invoke()),
            });
        }
    }
    (fates, unexpected)
}

/// Classifies every write; `Err` when the history does not fit.
pub fn classify(
    ops: &[Operation],
    workload: Workload,
    cfg: &ModelConfig,
) -> Result<Classification, String> {
    let workload = match workload {
        Workload::Auto => workload_of(ops),
        w => w,
    };
    let timed = is_timed(ops);
    let mut duplicated = Vec::new();
    let (fates, unexpected) = match workload {
        Workload::Register => {
            if let Some(why) = disqualify(ops, cfg) {
                return Err(why);
            }
            classify_registers(ops, cfg, timed)
        }
        w => {
            let (adds, reads, present, dups) = collect(ops, w)?;
            duplicated = dups;
            classify_collections(ops, &adds, &reads, &present, timed)
        }
    };
    let unexpected = unexpected
        .into_iter()
        .map(|(op, _, e)| (op, key_value(&e).unwrap_or(Val::Nil)))
        .collect();
    Ok(Classification {
        fates,
        unexpected,
        duplicated,
        collection: workload != Workload::Register,
    })
}

/// The lost-write checker; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct LostWriteChecker {
    pub workload: Workload,
    pub config: ModelConfig,
    /// Jepsen's `:linearizable?`: a stale element (missing from a read that
    /// began after it was known) is a failure, not just a latency.
    pub linearizable: bool,
}

impl LostWriteChecker {
    /// Detects the workload from the operations.
    pub fn new() -> LostWriteChecker {
        LostWriteChecker::default()
    }
    pub fn with_workload(workload: Workload) -> LostWriteChecker {
        LostWriteChecker {
            workload,
            ..LostWriteChecker::default()
        }
    }

    pub fn check_ops(
        &self,
        ops: &[Operation],
        events: Option<&[Op]>,
        budget: &Budget,
    ) -> CheckResult {
        let lines = Lines(events);
        if budget.exhausted() {
            return CheckResult::new(NAME, Verdict::Unknown, "budget exhausted");
        }
        let Classification {
            fates,
            unexpected,
            duplicated,
            collection,
        } = match classify(ops, self.workload, &self.config) {
            Ok(x) => x,
            Err(why) => {
                let mut r = CheckResult::new(
                    NAME,
                    Verdict::Unknown,
                    format!("history does not fit the lost-write checker: {why}"),
                );
                r.details = json!({"qualifies": false, "reason": why});
                return r;
            }
        };
        let unit = if is_timed(ops) { "ms" } else { "events" };
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for f in [
            Fate::Present,
            Fate::Stale,
            Fate::Lost,
            Fate::NeverRead,
            Fate::Recovered,
            Fate::Superseded,
        ] {
            counts.insert(f.as_str(), 0);
        }
        for f in &fates {
            *counts.entry(f.fate.as_str()).or_default() += 1;
        }
        let lost: Vec<&ElementFate> = fates.iter().filter(|f| f.fate == Fate::Lost).collect();
        let stale_latency = Stats::of(
            fates
                .iter()
                .filter(|f| matches!(f.fate, Fate::Stale | Fate::Recovered))
                .map(|f| f.latency)
                .collect(),
        );
        let pick = |fate: Fate| -> Vec<&ElementFate> {
            fates.iter().filter(|f| f.fate == fate).take(1000).collect()
        };
        let details = json!({
            "qualifies": true,
            "elements": fates.len(),
            "counts": counts,
            "unit": unit,
            "stale_latency": stale_latency,
            "lost": pick(Fate::Lost),
            "stale": pick(Fate::Stale),
            "never_read": pick(Fate::NeverRead),
            "recovered": pick(Fate::Recovered),
            "duplicated": duplicated.iter().take(1000).map(|(op, v)| json!({"event": ops[*op].invoke(), "value": v})).collect::<Vec<_>>(),
            "unexpected": unexpected.iter().take(1000).map(|(op, v)| json!({"event": ops[*op].invoke(), "value": v})).collect::<Vec<_>>(),
        });
        let counts_line = counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let stale = counts.get(Fate::Stale.as_str()).copied().unwrap_or(0);
        let stable = stale
            + counts.get(Fate::Present.as_str()).copied().unwrap_or(0)
            + counts.get(Fate::Recovered.as_str()).copied().unwrap_or(0);
        // Jepsen's set-full: lost elements (and here also unexpected ones,
        // and duplicates within a read) fail; with no stable element nothing
        // was confirmed, so the answer is unknown; stale elements fail only
        // when the set must be linearizable.
        let bad = !lost.is_empty()
            || !unexpected.is_empty()
            || (collection && !duplicated.is_empty())
            || (collection && self.linearizable && stale > 0 && stable > 0);
        let verdict = if bad {
            Verdict::Invalid
        } else if collection && stable == 0 {
            Verdict::Unknown
        } else {
            Verdict::Valid
        };
        let mut r = CheckResult::new(
            NAME,
            verdict,
            format!(
                "{} of {} writes lost{}{}; {}",
                lost.len(),
                fates.len(),
                if unexpected.is_empty() {
                    String::new()
                } else {
                    format!(", {} unexpected values read", unexpected.len())
                } + &if duplicated.is_empty() {
                    String::new()
                } else {
                    format!(", {} duplicated in reads", duplicated.len())
                },
                if verdict == Verdict::Unknown {
                    ", no element ever stable (nothing confirmed)"
                } else if bad && self.linearizable && stale > 0 && lost.is_empty() {
                    ", stale elements in a linearizable set"
                } else {
                    ""
                },
                if counts_line.is_empty() {
                    "no writes".into()
                } else {
                    counts_line
                }
            ),
        );
        let mut e = String::new();
        for f in lost.iter().take(10) {
            let op = &ops.iter().find(|o| o.invoke() == f.event);
            let who = op.map(|o| lines.op(o)).unwrap_or_default();
            let key = f
                .key
                .as_ref()
                .map(|k| format!("key {k}: "))
                .unwrap_or_default();
            let seen = match f.last_seen {
                Some(p) => format!("it was last seen by the read at {}", lines.at(p)),
                None => "no read ever showed it".to_string(),
            };
            let absent = f
                .last_absent
                .map(|p| {
                    format!(
                        ", and the read at {}, which began after it was known, does not show it",
                        lines.at(p)
                    )
                })
                .unwrap_or_default();
            let known = if op.is_some_and(|o| o.outcome == Outcome::Ok) {
                "was acknowledged"
            } else {
                "ended indeterminate and was then read"
            };
            let _ = writeln!(e, "- {key}{who} {known}, but {seen}{absent}.");
        }
        if lost.len() > 10 {
            let _ = writeln!(e, "... and {} more lost", lost.len() - 10);
        }
        for (op, v) in unexpected.iter().take(10) {
            let _ = writeln!(
                e,
                "- {} shows {v}, which no successful or indeterminate write produced.",
                lines.op(&ops[*op])
            );
        }
        for (op, v) in duplicated.iter().take(10) {
            let _ = writeln!(
                e,
                "- {} lists {v} more than once: a set read holds each element once.",
                lines.op(&ops[*op])
            );
        }
        if collection && self.linearizable {
            for f in fates.iter().filter(|f| f.fate == Fate::Stale).take(10) {
                let key = f
                    .key
                    .as_ref()
                    .map(|k| format!("key {k}: "))
                    .unwrap_or_default();
                let absent = f.last_absent.map(|p| lines.at(p)).unwrap_or_default();
                let _ = writeln!(
                    e,
                    "- {key}element {} was known, yet the read at {absent}, which began after that, lacks it (stale: not linearizable).",
                    f.value
                );
            }
        }
        r.explanation = e;
        let mut details = details;
        if let Value::Object(m) = &mut details {
            let stable = counts[Fate::Present.as_str()]
                + counts[Fate::Stale.as_str()]
                + counts[Fate::Recovered.as_str()];
            m.insert("valid?".into(), crate::checker::keyed::valid_value(verdict));
            m.insert("linearizable?".into(), json!(self.linearizable));
            m.insert("attempt-count".into(), json!(fates.len()));
            m.insert("stable-count".into(), json!(stable));
            m.insert("lost-count".into(), json!(counts[Fate::Lost.as_str()]));
            m.insert("stale-count".into(), json!(counts[Fate::Stale.as_str()]));
            m.insert(
                "never-read-count".into(),
                json!(counts[Fate::NeverRead.as_str()]),
            );
            m.insert("duplicated-count".into(), json!(duplicated.len()));
        }
        r.details = details;
        r
    }
}

/// A deterministic history of an atomic grow-only set (for benchmarks and
/// tests): `clients` processes add unique elements (with probability
/// `add_ratio`) or read the whole set; each op takes effect at a random
/// moment inside its interval, so nothing is lost. `time` is 1 µs per event.
pub fn simulate_set(seed: u64, ops: usize, clients: usize, add_ratio: f64) -> History {
    use crate::history::{OpType, Process};
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let clients = clients.max(1);
    // Per client: idle, or (is add, element, applied, what a read saw).
    type Client = Option<(bool, i64, bool, Vec<i64>)>;
    let mut state: Vec<Client> = vec![None; clients];
    let mut set: Vec<i64> = Vec::new();
    let mut events: Vec<Op> = Vec::with_capacity(ops * 2);
    let (mut invoked, mut completed, mut next) = (0usize, 0usize, 1i64);
    while completed < ops {
        let c = rng.gen_range(0..clients);
        let idx = events.len();
        let mk = |t: OpType, f: &str, v: Value| {
            let mut o = Op::new(idx as u64, Process::id(c as i64), t, f, v);
            o.time = Some(idx as u64 * 1000).into();
            o.line = (idx + 1) as u32;
            o
        };
        match &mut state[c] {
            None if invoked < ops => {
                let add = rng.gen_bool(add_ratio.clamp(0.0, 1.0));
                invoked += 1;
                if add {
                    events.push(mk(OpType::Invoke, "add", json!(next)));
                } else {
                    events.push(mk(OpType::Invoke, "read", Value::Null));
                }
                state[c] = Some((add, next, false, Vec::new()));
                next += 1;
            }
            None => {}
            Some((add, e, applied, seen)) => {
                if !*applied {
                    *applied = true;
                    if *add {
                        set.push(*e);
                    } else {
                        *seen = set.clone();
                    }
                } else {
                    let ev = if *add {
                        mk(OpType::Ok, "add", json!(*e))
                    } else {
                        mk(OpType::Ok, "read", json!(std::mem::take(seen)))
                    };
                    events.push(ev);
                    state[c] = None;
                    completed += 1;
                }
            }
        }
    }
    History::new(events)
}

impl Checker for LostWriteChecker {
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
    use crate::history::{OpType, Process};

    fn hist(events: &[(i64, OpType, &str, Value)]) -> History {
        History::new(
            events
                .iter()
                .enumerate()
                .map(|(i, (p, t, f, v))| {
                    let mut o = Op::new(i as u64, Process::id(*p), *t, f, v.clone());
                    o.line = (i + 1) as u32;
                    o
                })
                .collect(),
        )
    }
    use OpType::{Fail, Info, Invoke, Ok as K};

    #[test]
    fn unexpected_duplicated_and_indeterminate_then_lost() {
        let h = hist(&[
            (0, Invoke, "add", json!(1)),
            (0, Info, "add", json!(1)),
            (1, Invoke, "add", json!(2)),
            (1, Fail, "add", json!(2)),
            (2, Invoke, "read", Value::Null),
            (2, K, "read", json!([1, 1])),
            (2, Invoke, "read", Value::Null),
            (2, K, "read", json!([2])),
        ]);
        let r = LostWriteChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Invalid);
        // 1: indeterminate, seen at line 6, then gone from the read at line 7.
        assert_eq!(r.details["lost"][0]["value"], 1);
        assert!(
            r.explanation
                .contains("ended indeterminate and was then read"),
            "{}",
            r.explanation
        );
        // 2 failed, yet the second read shows it.
        assert_eq!(r.details["unexpected"][0]["value"], 2);
        assert_eq!(r.details["unexpected"][0]["event"], 6);
        // The first read lists 1 twice.
        assert_eq!(r.details["duplicated"][0]["value"], 1);
        assert_eq!(r.details["duplicated"][0]["event"], 4);
    }

    #[test]
    fn workloads_are_detected_and_misfits_are_unknown() {
        let h = hist(&[
            (0, Invoke, "enqueue", json!(1)),
            (0, K, "enqueue", json!(1)),
        ]);
        let r = LostWriteChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Unknown);
        let h = hist(&[
            (0, Invoke, "add", json!(1)),
            (0, K, "add", json!(1)),
            (1, Invoke, "read", Value::Null),
            (1, K, "read", json!(3)),
        ]);
        let r = LostWriteChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Unknown, "{}", r.summary);
        assert!(r.summary.contains("not a list"), "{}", r.summary);
    }

    #[test]
    fn a_txn_reading_a_key_twice_is_not_a_duplicate() {
        let h = hist(&[
            (0, Invoke, "txn", json!([["append", "x", 1]])),
            (0, K, "txn", json!([["append", "x", 1]])),
            (
                1,
                Invoke,
                "txn",
                json!([["r", "x", null], ["append", "x", 2], ["r", "x", null]]),
            ),
            (
                1,
                K,
                "txn",
                json!([["r", "x", [1]], ["append", "x", 2], ["r", "x", [1, 2]]]),
            ),
            (2, Invoke, "txn", json!([["r", "x", null]])),
            (2, K, "txn", json!([["r", "x", [1, 2]]])),
        ]);
        let r = LostWriteChecker::new().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Valid, "{}", r.explanation);
        assert!(
            r.details["duplicated"]
                .as_array()
                .is_none_or(|d| d.is_empty()),
            "{}",
            r.details
        );
        // A read that really lists an element twice still is one.
        let h = hist(&[
            (0, Invoke, "txn", json!([["append", "x", 1]])),
            (0, K, "txn", json!([["append", "x", 1]])),
            (1, Invoke, "txn", json!([["r", "x", null]])),
            (1, K, "txn", json!([["r", "x", [1, 1]]])),
        ]);
        let r = LostWriteChecker::new().check(&h, &Budget::default());
        assert_eq!(r.details["duplicated"][0]["value"], 1, "{}", r.details);
    }
}
