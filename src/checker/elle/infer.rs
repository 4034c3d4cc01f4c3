//! Inferring dependencies from what transactions read.
//!
//! List-append (Elle's strongest workload): every read of a key returns the
//! whole list, so each read is a prefix of the key's version order and the
//! longest read *is* the order as far as anyone observed it. From it:
//!
//! - ww: the writers of successive elements of the order;
//! - wr: the writer of a read's last element → the reader;
//! - rw: a reader → the writer of the element right after what it read;
//!
//! and, without any graph, duplicate elements, incompatible orders (two
//! reads neither a prefix of the other), aborted reads (G1a: an element
//! appended by a failed transaction), intermediate reads (G1b: a version
//! whose last element was not its writer's final append to the key), lost
//! updates (two committed transactions read the same version of a key and
//! both appended to it) and internal inconsistencies.
//!
//! rw-register: values written to a key are unique, so a read names its
//! writer (wr). Versions are ordered only where a transaction read a key and
//! then wrote it (x precedes the value it wrote), and the initial null
//! precedes everything; ww and rw edges come from that order.
//!
//! A read in the same transaction after its own write to the key is an
//! internal read: it is checked for internal consistency and otherwise
//! ignored. An intermediate read (G1b) is reported as such; the wr/rw
//! 2-cycle with the writer that it would also form is not added, so that a
//! G1b does not double as a G-single.
//!
//! Process edges join successive transactions of one process (not out of an
//! `info` one: it may take effect later). Real-time edges join a transaction
//! to every transaction invoked after it completed; a sweep keeps only the
//! frontier of latest completions, so each transaction gets edges from at
//! most the number of concurrently running transactions and the transitive
//! closure is the full real-time order. Completions without an invoke have
//! no known start and get no real-time edges.

use super::graph::{PROCESS, REALTIME, RW, WR, WW};
use super::models::Anomaly;
use super::txn::{FastMap, Id, Mop, Status, Txns};
use super::ElleKind;
use serde_json::{json, Value};

const NIL: Id = Id::MAX;

/// Who wrote an element / value.
#[derive(Clone, Copy, Debug)]
pub struct Writer {
    pub txn: u32,
    /// True if this was the writer's last write to the key.
    pub is_final: bool,
    /// More than one write of the same value to the key: cannot attribute.
    pub ambiguous: bool,
}

/// An anomaly that needs no cycle.
#[derive(Clone, Debug)]
pub struct Finding {
    pub anomaly: Anomaly,
    pub txns: Vec<u32>,
    pub explanation: String,
    pub data: Value,
}

/// Everything inferred from a history.
pub struct Inference {
    pub edges: Vec<(u32, u32, u8)>,
    pub findings: Vec<Finding>,
    pub writers: FastMap<(Id, Id), Writer>,
    /// List-append: the version order of each key (its longest read).
    pub orders: FastMap<Id, Vec<Id>>,
    /// rw-register: version successors `(key, version) → next versions`,
    /// with the transaction that read the first and wrote the second.
    pub succ: FastMap<(Id, Id), Vec<(Id, u32)>>,
    /// rw-register: per key, the versions with no known predecessor but
    /// the initial null.
    pub minimal: FastMap<Id, Vec<Id>>,
    /// Keys whose reads of the initial null were not given rw edges to
    /// every first version (too many pairs); their anti-dependencies are
    /// under-approximated.
    pub truncated_keys: usize,
}

/// At most this many rw edges from reads of null to first versions, per key.
const MAX_NIL_EDGES_PER_KEY: usize = 1_000_000;

pub fn tname(txns: &Txns, t: u32) -> String {
    format!("T{}", txns.txns[t as usize].index)
}

fn list_text(txns: &Txns, l: &[Id]) -> String {
    const SHOW: usize = 6;
    let items: Vec<String> = if l.len() > SHOW {
        let mut v = vec!["...".to_string()];
        v.extend(l[l.len() - SHOW..].iter().map(|&e| txns.elems.text(e)));
        v
    } else {
        l.iter().map(|&e| txns.elems.text(e)).collect()
    };
    format!("[{}]", items.join(" "))
}

fn reg_text(txns: &Txns, e: Id) -> String {
    if e == NIL {
        "null".into()
    } else {
        txns.elems.text(e)
    }
}

fn writers_of(txns: &Txns) -> FastMap<(Id, Id), Writer> {
    let mut writers: FastMap<(Id, Id), Writer> = FastMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        let n = txn.mops.len();
        for (i, m) in txn.mops.iter().enumerate() {
            let (key, elem) = match *m {
                Mop::Append { key, elem } => (key, elem),
                Mop::Write {
                    key,
                    elem: Some(elem),
                } => (key, elem),
                _ => continue,
            };
            let is_final = !txn.mops[i + 1..n]
                .iter()
                .any(|m2| m2.is_write() && m2.key() == key);
            writers
                .entry((key, elem))
                .and_modify(|w| w.ambiguous = true)
                .or_insert(Writer {
                    txn: t as u32,
                    is_final,
                    ambiguous: false,
                });
        }
    }
    writers
}

/// A usable writer: known, unambiguous, not failed.
fn live(txns: &Txns, w: Option<&Writer>) -> Option<Writer> {
    let w = w?;
    if w.ambiguous || txns.txns[w.txn as usize].status == Status::Fail {
        None
    } else {
        Some(*w)
    }
}

/// Checks that each transaction reads back its own writes.
fn internal(txns: &Txns, findings: &mut Vec<Finding>) {
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        if txn.mops.len() < 2 {
            continue;
        }
        // key → (what the txn last read, if it read; what it appended since)
        let mut state: FastMap<Id, (Option<&[Id]>, Vec<Id>)> = FastMap::default();
        let mut reg: FastMap<Id, Id> = FastMap::default();
        for m in &txn.mops {
            match m {
                Mop::Append { key, elem } => {
                    state
                        .entry(*key)
                        .or_insert((None, Vec::new()))
                        .1
                        .push(*elem);
                }
                Mop::ReadList {
                    key,
                    elems: Some(l),
                } => {
                    if let Some((base, own)) = state.get(key) {
                        let ok = match base {
                            Some(b) => {
                                l.len() == b.len() + own.len()
                                    && l.starts_with(b)
                                    && l.ends_with(own)
                            }
                            None => l.ends_with(own),
                        };
                        if !ok {
                            let mut exp: Vec<Id> = base.map(|b| b.to_vec()).unwrap_or_default();
                            exp.extend_from_slice(own);
                            let what = if base.is_some() {
                                format!("expected {}", list_text(txns, &exp))
                            } else {
                                format!("expected a list ending in {}", list_text(txns, &exp))
                            };
                            findings.push(Finding {
                                anomaly: Anomaly::Internal,
                                txns: vec![t as u32],
                                explanation: format!(
                                    "{} read key {} as {}, but its own earlier micro-ops mean it should have seen what it had read or appended: {}.",
                                    tname(txns, t as u32),
                                    txns.keys.text(*key),
                                    list_text(txns, l),
                                    what
                                ),
                                data: json!({"txn": txn.index, "key": txns.keys.value(*key), "read": l.iter().map(|&e| txns.elems.value(e).clone()).collect::<Vec<_>>()}),
                            });
                        }
                    }
                    state.insert(*key, (Some(l.as_slice()), Vec::new()));
                }
                Mop::Write { key, elem } => {
                    reg.insert(*key, elem.unwrap_or(NIL));
                }
                Mop::ReadReg { key, elem: Some(e) } => {
                    let got = e.unwrap_or(NIL);
                    if let Some(&exp) = reg.get(key) {
                        if exp != got {
                            findings.push(Finding {
                                anomaly: Anomaly::Internal,
                                txns: vec![t as u32],
                                explanation: format!(
                                    "{} read key {} as {}, but it had itself last read or written {} there.",
                                    tname(txns, t as u32),
                                    txns.keys.text(*key),
                                    reg_text(txns, got),
                                    reg_text(txns, exp)
                                ),
                                data: json!({"txn": txn.index, "key": txns.keys.value(*key)}),
                            });
                        }
                    }
                    reg.insert(*key, got);
                }
                _ => {}
            }
        }
    }
}

/// Process and real-time edges.
fn order_edges(txns: &Txns, edges: &mut Vec<(u32, u32, u8)>) {
    // Process order.
    let mut last: std::collections::HashMap<&crate::history::Process, u32> =
        std::collections::HashMap::new();
    let mut by_pos: Vec<u32> = (0..txns.txns.len() as u32)
        .filter(|&t| txns.txns[t as usize].status != Status::Fail)
        .collect();
    by_pos.sort_by_key(|&t| {
        let x = &txns.txns[t as usize];
        x.invoke_pos.or(x.complete_pos).unwrap_or(usize::MAX)
    });
    for &t in &by_pos {
        let txn = &txns.txns[t as usize];
        if let Some(p) = &txn.process {
            if let Some(&prev) = last.get(p) {
                if txns.txns[prev as usize].status == Status::Ok {
                    edges.push((prev, t, PROCESS));
                }
            }
            last.insert(p, t);
        }
    }
    // Real-time order: sweep invocations and completions by position.
    let mut events: Vec<(usize, bool, u32)> = Vec::new(); // (pos, is_invoke, txn)
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.status == Status::Fail {
            continue;
        }
        let Some(inv) = txn.invoke_pos else { continue };
        events.push((inv, true, t as u32));
        if txn.status == Status::Ok {
            if let Some(c) = txn.complete_pos {
                events.push((c, false, t as u32));
            }
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<u32> = Vec::new();
    for (_, is_invoke, t) in events {
        if is_invoke {
            for &a in &frontier {
                edges.push((a, t, REALTIME));
            }
        } else {
            let inv = txns.txns[t as usize].invoke_pos.unwrap_or(0);
            frontier.retain(|&a| txns.txns[a as usize].complete_pos.unwrap_or(0) > inv);
            frontier.push(t);
        }
    }
}

/// Infers edges and non-cycle anomalies.
pub fn infer(txns: &Txns) -> Inference {
    let mut inf = Inference {
        edges: Vec::new(),
        findings: Vec::new(),
        writers: writers_of(txns),
        orders: FastMap::default(),
        succ: FastMap::default(),
        minimal: FastMap::default(),
        truncated_keys: 0,
    };
    internal(txns, &mut inf.findings);
    match txns.kind {
        ElleKind::ListAppend => list_append(txns, &mut inf),
        ElleKind::RwRegister => rw_register(txns, &mut inf),
    }
    order_edges(txns, &mut inf.edges);
    inf
}

struct Read<'a> {
    txn: u32,
    list: &'a [Id],
    external: bool,
    appends: bool,
}

fn list_append(txns: &Txns, inf: &mut Inference) {
    // Gather reads per key.
    let mut reads: FastMap<Id, Vec<Read>> = FastMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        for (i, m) in txn.mops.iter().enumerate() {
            if let Mop::ReadList {
                key,
                elems: Some(l),
            } = m
            {
                let before = &txn.mops[..i];
                let external = !before
                    .iter()
                    .any(|b| matches!(b, Mop::Append{key: k, ..} if k == key));
                let appends = txn.mops[i + 1..]
                    .iter()
                    .any(|b| matches!(b, Mop::Append{key: k, ..} if k == key));
                reads.entry(*key).or_default().push(Read {
                    txn: t as u32,
                    list: l,
                    external,
                    appends,
                });
            }
        }
    }
    let mut keys: Vec<Id> = reads.keys().copied().collect();
    keys.sort_unstable();
    let mut lost: FastMap<(Id, usize), Vec<u32>> = FastMap::default();
    for key in keys {
        let rs = &reads[&key];
        let Some(longest) = rs.iter().max_by_key(|r| r.list.len()) else {
            continue;
        };
        let order: Vec<Id> = longest.list.to_vec();
        // Duplicates in the order.
        let mut seen: FastMap<Id, usize> = FastMap::default();
        let mut dup_reported = false;
        for (i, &e) in order.iter().enumerate() {
            if let Some(&j) = seen.get(&e) {
                if !dup_reported {
                    dup_reported = true;
                    inf.findings.push(Finding {
                        anomaly: Anomaly::DuplicateElements,
                        txns: vec![longest.txn],
                        explanation: format!(
                            "{} read key {} as {}, in which {} appears twice (positions {} and {}).",
                            tname(txns, longest.txn),
                            txns.keys.text(key),
                            list_text(txns, &order),
                            txns.elems.text(e),
                            j,
                            i
                        ),
                        data: json!({"key": txns.keys.value(key), "element": txns.elems.value(e), "txn": txns.txns[longest.txn as usize].index}),
                    });
                }
            } else {
                seen.insert(e, i);
            }
        }
        // Live writers along the order, and the first failed element.
        let ws: Vec<Option<Writer>> = order
            .iter()
            .map(|&e| live(txns, inf.writers.get(&(key, e))))
            .collect();
        let first_failed = order.iter().position(|&e| {
            inf.writers
                .get(&(key, e))
                .is_some_and(|w| !w.ambiguous && txns.txns[w.txn as usize].status == Status::Fail)
        });
        // ww edges between successive live writers.
        let mut prev: Option<u32> = None;
        for w in ws.iter().flatten() {
            if let Some(p) = prev {
                if p != w.txn {
                    inf.edges.push((p, w.txn, WW));
                }
            }
            prev = Some(w.txn);
        }
        // next_live[i]: first live writer at or after i.
        let mut next_live: Vec<Option<u32>> = vec![None; order.len() + 1];
        for i in (0..order.len()).rev() {
            next_live[i] = ws[i].map(|w| w.txn).or(next_live[i + 1]);
        }
        let mut incompatible_reported = false;
        for r in rs {
            let prefix = r.list.len() <= order.len() && order[..r.list.len()] == *r.list;
            if !prefix && !incompatible_reported {
                {
                    incompatible_reported = true;
                    inf.findings.push(Finding {
                        anomaly: Anomaly::IncompatibleOrder,
                        txns: vec![r.txn, longest.txn],
                        explanation: format!(
                            "{} read key {} as {} and {} read it as {}: neither is a prefix of the other, so they cannot both be versions of one list.",
                            tname(txns, r.txn),
                            txns.keys.text(key),
                            list_text(txns, r.list),
                            tname(txns, longest.txn),
                            list_text(txns, &order)
                        ),
                        data: json!({"key": txns.keys.value(key), "reads": [
                            r.list.iter().map(|&e| txns.elems.value(e).clone()).collect::<Vec<_>>(),
                            order.iter().map(|&e| txns.elems.value(e).clone()).collect::<Vec<_>>()]}),
                    });
                }
            }
            // G1a: any element written by a failed transaction.
            let aborted = if prefix {
                first_failed.filter(|&f| f < r.list.len()).map(|f| order[f])
            } else {
                r.list.iter().copied().find(|&e| {
                    inf.writers.get(&(key, e)).is_some_and(|w| {
                        !w.ambiguous && txns.txns[w.txn as usize].status == Status::Fail
                    })
                })
            };
            if let Some(e) = aborted {
                if let Some(w) = inf.writers.get(&(key, e)) {
                    if w.txn != r.txn {
                        inf.findings.push(Finding {
                            anomaly: Anomaly::G1a,
                            txns: vec![r.txn, w.txn],
                            explanation: format!(
                                "{} read key {} as {}, which includes {}, appended by {}, which failed (aborted read).",
                                tname(txns, r.txn),
                                txns.keys.text(key),
                                list_text(txns, r.list),
                                txns.elems.text(e),
                                tname(txns, w.txn)
                            ),
                            data: json!({"key": txns.keys.value(key), "element": txns.elems.value(e), "reader": txns.txns[r.txn as usize].index, "writer": txns.txns[w.txn as usize].index}),
                        });
                    }
                }
            }
            if !r.external {
                continue;
            }
            // Future read: an external read containing the reader's own
            // later append.
            if r.appends {
                let own = appends_of(txns, r.txn, key);
                if let Some(&e) = r.list.iter().find(|e| own.contains(e)) {
                    inf.findings.push(Finding {
                        anomaly: Anomaly::FutureRead,
                        txns: vec![r.txn],
                        explanation: format!(
                            "{} read key {} as {}, which contains {}, an element it only appends later in the same transaction (future read).",
                            tname(txns, r.txn),
                            txns.keys.text(key),
                            list_text(txns, r.list),
                            txns.elems.text(e)
                        ),
                        data: json!({"key": txns.keys.value(key), "element": txns.elems.value(e), "txn": txns.txns[r.txn as usize].index}),
                    });
                }
            }
            // wr and G1b from the last element.
            let mut intermediate_of: Option<u32> = None;
            if let Some(&last) = r.list.last() {
                if let Some(w) = live(txns, inf.writers.get(&(key, last))) {
                    if w.txn != r.txn {
                        inf.edges.push((w.txn, r.txn, WR));
                        if !w.is_final {
                            intermediate_of = Some(w.txn);
                            inf.findings.push(Finding {
                                anomaly: Anomaly::G1b,
                                txns: vec![r.txn, w.txn],
                                explanation: format!(
                                    "{} read key {} as {}, ending in {}'s append of {}, but {} appended to key {} again afterwards: an intermediate version (intermediate read).",
                                    tname(txns, r.txn),
                                    txns.keys.text(key),
                                    list_text(txns, r.list),
                                    tname(txns, w.txn),
                                    txns.elems.text(last),
                                    tname(txns, w.txn),
                                    txns.keys.text(key)
                                ),
                                data: json!({"key": txns.keys.value(key), "element": txns.elems.value(last), "reader": txns.txns[r.txn as usize].index, "writer": txns.txns[w.txn as usize].index}),
                            });
                        }
                    }
                }
            }
            if prefix {
                // rw to the writer of the next version.
                if let Some(next) = next_live[r.list.len()] {
                    if next != r.txn && Some(next) != intermediate_of {
                        inf.edges.push((r.txn, next, RW));
                    }
                }
                if r.appends {
                    lost.entry((key, r.list.len())).or_default().push(r.txn);
                }
            }
        }
        inf.orders.insert(key, order);
    }
    let mut lost: Vec<((Id, usize), Vec<u32>)> = lost
        .into_iter()
        .map(|(k, mut v)| {
            v.dedup();
            (k, v)
        })
        .filter(|(_, v)| v.len() > 1)
        .collect();
    lost.sort_unstable();
    for ((key, len), ts) in lost {
        let order = &inf.orders[&key];
        let names: Vec<String> = ts.iter().map(|&t| tname(txns, t)).collect();
        inf.findings.push(Finding {
            anomaly: Anomaly::LostUpdate,
            txns: ts.clone(),
            explanation: format!(
                "{} all read key {} as {} and then appended to it; all committed, so one's update is lost to the others (lost update).",
                names.join(", "),
                txns.keys.text(key),
                list_text(txns, &order[..len])
            ),
            data: json!({"key": txns.keys.value(key), "txns": ts.iter().map(|&t| txns.txns[t as usize].index).collect::<Vec<_>>()}),
        });
    }
}

fn rw_register(txns: &Txns, inf: &mut Inference) {
    // External reads per txn and key, and version successors.
    struct RegRead {
        txn: u32,
        key: Id,
        val: Id,
        writes_after: Option<Id>,
    }
    let mut reads: Vec<RegRead> = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        let mut touched: Vec<Id> = Vec::new();
        for (i, m) in txn.mops.iter().enumerate() {
            match m {
                Mop::ReadReg { key, elem: Some(v) } if !touched.contains(key) => {
                    touched.push(*key);
                    // The txn's final write to this key, if any.
                    let w = txn.mops[i + 1..].iter().rev().find_map(|b| match b {
                        Mop::Write {
                            key: k,
                            elem: Some(e),
                        } if k == key => Some(*e),
                        _ => None,
                    });
                    reads.push(RegRead {
                        txn: t as u32,
                        key: *key,
                        val: v.unwrap_or(NIL),
                        writes_after: w,
                    });
                }
                Mop::Write { key, .. } if !touched.contains(key) => touched.push(*key),
                _ => {}
            }
        }
    }
    let mut has_pred: FastMap<(Id, Id), bool> = FastMap::default();
    let mut lost: FastMap<(Id, Id), Vec<u32>> = FastMap::default();
    for r in &reads {
        if let Some(y) = r.writes_after {
            inf.succ.entry((r.key, r.val)).or_default().push((y, r.txn));
            has_pred.insert((r.key, y), true);
            lost.entry((r.key, r.val)).or_default().push(r.txn);
        }
    }
    // The initial null precedes every version with no other predecessor.
    let mut minimal: FastMap<Id, Vec<Id>> = std::mem::take(&mut inf.minimal);
    let mut wkeys: Vec<(Id, Id)> = inf.writers.keys().copied().collect();
    wkeys.sort_unstable();
    for (k, e) in wkeys {
        if !has_pred.contains_key(&(k, e)) {
            minimal.entry(k).or_default().push(e);
        }
    }
    // ww from version successors.
    let mut succ_keys: Vec<(Id, Id)> = inf.succ.keys().copied().collect();
    succ_keys.sort_unstable();
    for (k, x) in &succ_keys {
        if *x == NIL {
            continue;
        }
        let Some(wx) = live(txns, inf.writers.get(&(*k, *x))) else {
            continue;
        };
        for &(y, _) in &inf.succ[&(*k, *x)] {
            if let Some(wy) = live(txns, inf.writers.get(&(*k, y))) {
                if wx.txn != wy.txn {
                    inf.edges.push((wx.txn, wy.txn, WW));
                }
            }
        }
    }
    let mut nil_readers: FastMap<Id, usize> = FastMap::default();
    for r in reads.iter().filter(|r| r.val == NIL) {
        *nil_readers.entry(r.key).or_default() += 1;
    }
    let mut skip_nil: Vec<Id> = Vec::new();
    for (k, n) in nil_readers {
        if n.saturating_mul(minimal.get(&k).map_or(0, Vec::len)) > MAX_NIL_EDGES_PER_KEY {
            skip_nil.push(k);
        }
    }
    inf.truncated_keys = skip_nil.len();
    for r in &reads {
        let mut intermediate_of = None;
        if r.val != NIL {
            match inf.writers.get(&(r.key, r.val)) {
                Some(w) if !w.ambiguous && w.txn == r.txn => {
                    // An external read of the reader's own later write.
                    inf.findings.push(Finding {
                        anomaly: Anomaly::FutureRead,
                        txns: vec![r.txn],
                        explanation: format!(
                            "{} read key {} = {}, a value it only writes later in the same transaction (future read).",
                            tname(txns, r.txn),
                            txns.keys.text(r.key),
                            reg_text(txns, r.val)
                        ),
                        data: json!({"key": txns.keys.value(r.key), "value": txns.elems.value(r.val), "txn": txns.txns[r.txn as usize].index}),
                    });
                }
                Some(w) if !w.ambiguous && w.txn != r.txn => {
                    if txns.txns[w.txn as usize].status == Status::Fail {
                        inf.findings.push(Finding {
                            anomaly: Anomaly::G1a,
                            txns: vec![r.txn, w.txn],
                            explanation: format!(
                                "{} read key {} = {}, written by {}, which failed (aborted read).",
                                tname(txns, r.txn),
                                txns.keys.text(r.key),
                                reg_text(txns, r.val),
                                tname(txns, w.txn)
                            ),
                            data: json!({"key": txns.keys.value(r.key), "value": txns.elems.value(r.val), "reader": txns.txns[r.txn as usize].index, "writer": txns.txns[w.txn as usize].index}),
                        });
                        continue;
                    }
                    inf.edges.push((w.txn, r.txn, WR));
                    if !w.is_final {
                        intermediate_of = Some(w.txn);
                        inf.findings.push(Finding {
                            anomaly: Anomaly::G1b,
                            txns: vec![r.txn, w.txn],
                            explanation: format!(
                                "{} read key {} = {}, which {} wrote and then overwrote in the same transaction (intermediate read).",
                                tname(txns, r.txn),
                                txns.keys.text(r.key),
                                reg_text(txns, r.val),
                                tname(txns, w.txn)
                            ),
                            data: json!({"key": txns.keys.value(r.key), "value": txns.elems.value(r.val), "reader": txns.txns[r.txn as usize].index, "writer": txns.txns[w.txn as usize].index}),
                        });
                    }
                }
                _ => {}
            }
        }
        // rw to the writers of the next versions.
        let nexts: Vec<Id> = if r.val == NIL {
            if skip_nil.contains(&r.key) {
                Vec::new()
            } else {
                minimal.get(&r.key).cloned().unwrap_or_default()
            }
        } else {
            inf.succ
                .get(&(r.key, r.val))
                .map(|v| v.iter().map(|&(y, _)| y).collect())
                .unwrap_or_default()
        };
        for y in nexts {
            if let Some(w) = live(txns, inf.writers.get(&(r.key, y))) {
                if w.txn != r.txn && Some(w.txn) != intermediate_of {
                    inf.edges.push((r.txn, w.txn, RW));
                }
            }
        }
    }
    inf.minimal = minimal;
    let mut lost: Vec<((Id, Id), Vec<u32>)> = lost
        .into_iter()
        .map(|(k, mut v)| {
            v.dedup();
            (k, v)
        })
        .filter(|(_, v)| v.len() > 1)
        .collect();
    lost.sort_unstable();
    for ((key, val), ts) in lost {
        let names: Vec<String> = ts.iter().map(|&t| tname(txns, t)).collect();
        inf.findings.push(Finding {
            anomaly: Anomaly::LostUpdate,
            txns: ts.clone(),
            explanation: format!(
                "{} all read key {} = {} and then wrote it; all committed, so one's update is lost to the others (lost update).",
                names.join(", "),
                txns.keys.text(key),
                reg_text(txns, val)
            ),
            data: json!({"key": txns.keys.value(key), "txns": ts.iter().map(|&t| txns.txns[t as usize].index).collect::<Vec<_>>()}),
        });
    }
}

/// Explains one edge of a cycle in a sentence.
pub fn explain_edge(
    txns: &Txns,
    inf: &Inference,
    a: u32,
    b: u32,
    kind: u8,
) -> (String, Option<Value>) {
    let (an, bn) = (tname(txns, a), tname(txns, b));
    let ta = &txns.txns[a as usize];
    match kind {
        PROCESS => (
            format!(
                "{an} and {bn} ran on process {} in that order, so {an} process→ {bn}.",
                ta.process
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_default()
            ),
            None,
        ),
        REALTIME => (
            format!("{an} completed before {bn} began, so {an} rt→ {bn}."),
            None,
        ),
        _ => match txns.kind {
            ElleKind::ListAppend => explain_list(txns, inf, a, b, kind),
            ElleKind::RwRegister => explain_reg(txns, inf, a, b, kind),
        },
    }
}

fn appends_of(txns: &Txns, t: u32, key: Id) -> Vec<Id> {
    txns.txns[t as usize]
        .mops
        .iter()
        .filter_map(|m| match m {
            Mop::Append { key: k, elem } if *k == key => Some(*elem),
            _ => None,
        })
        .collect()
}

fn external_list_reads(txns: &Txns, t: u32) -> Vec<(Id, &[Id])> {
    let mops = &txns.txns[t as usize].mops;
    let mut out = Vec::new();
    for (i, m) in mops.iter().enumerate() {
        if let Mop::ReadList {
            key,
            elems: Some(l),
        } = m
        {
            if !mops[..i]
                .iter()
                .any(|b| matches!(b, Mop::Append{key: k, ..} if k == key))
            {
                out.push((*key, l.as_slice()));
            }
        }
    }
    out
}

fn writer_is(inf: &Inference, key: Id, e: Id, t: u32) -> bool {
    inf.writers
        .get(&(key, e))
        .is_some_and(|w| w.txn == t && !w.ambiguous)
}

fn explain_list(txns: &Txns, inf: &Inference, a: u32, b: u32, kind: u8) -> (String, Option<Value>) {
    let (an, bn) = (tname(txns, a), tname(txns, b));
    match kind {
        WW => {
            let mut keys: Vec<Id> = txns.txns[b as usize]
                .mops
                .iter()
                .filter_map(|m| match m {
                    Mop::Append { key, .. } => Some(*key),
                    _ => None,
                })
                .collect();
            keys.dedup();
            for key in keys {
                let Some(order) = inf.orders.get(&key) else {
                    continue;
                };
                // Find an element of b whose previous live element is a's.
                let mut prev: Option<(u32, usize)> = None;
                for (i, &e) in order.iter().enumerate() {
                    let Some(w) = live(txns, inf.writers.get(&(key, e))) else {
                        continue;
                    };
                    if let Some((p, pi)) = prev {
                        if p == a && w.txn == b {
                            let lo = pi.saturating_sub(2);
                            let shown: Vec<String> =
                                order[lo..=i].iter().map(|&x| txns.elems.text(x)).collect();
                            return (
                                format!(
                                    "{bn} appended {} to key {} after {an} appended {} (the version order of key {} is [{}{}]), so {an} ww→ {bn}.",
                                    txns.elems.text(e),
                                    txns.keys.text(key),
                                    txns.elems.text(order[pi]),
                                    txns.keys.text(key),
                                    if lo > 0 { "... " } else { "" },
                                    shown.join(" ")
                                ),
                                Some(json!({"key": txns.keys.value(key), "from_element": txns.elems.value(order[pi]), "to_element": txns.elems.value(e)})),
                            );
                        }
                    }
                    prev = Some((w.txn, i));
                }
            }
            (format!("{an} ww→ {bn}."), None)
        }
        WR => {
            for (key, l) in external_list_reads(txns, b) {
                if let Some(&last) = l.last() {
                    if writer_is(inf, key, last, a) {
                        return (
                            format!(
                                "{bn} read key {} as {}, which ends with {an}'s append of {}, so {an} wr→ {bn}.",
                                txns.keys.text(key),
                                list_text(txns, l),
                                txns.elems.text(last)
                            ),
                            Some(json!({"key": txns.keys.value(key), "element": txns.elems.value(last)})),
                        );
                    }
                }
            }
            (format!("{an} wr→ {bn}."), None)
        }
        _ => {
            for (key, l) in external_list_reads(txns, a) {
                let Some(order) = inf.orders.get(&key) else {
                    continue;
                };
                if l.len() >= order.len() || order[..l.len()] != *l {
                    continue;
                }
                if let Some(&e) = order[l.len()..]
                    .iter()
                    .find(|&&e| live(txns, inf.writers.get(&(key, e))).is_some())
                {
                    if writer_is(inf, key, e, b) && appends_of(txns, b, key).contains(&e) {
                        return (
                            format!(
                                "{an} read key {} as {}, missing {bn}'s append of {}, so {an} rw→ {bn}.",
                                txns.keys.text(key),
                                list_text(txns, l),
                                txns.elems.text(e)
                            ),
                            Some(json!({"key": txns.keys.value(key), "element": txns.elems.value(e)})),
                        );
                    }
                }
            }
            (format!("{an} rw→ {bn}."), None)
        }
    }
}

fn reg_reads(txns: &Txns, t: u32) -> Vec<(Id, Id)> {
    let mops = &txns.txns[t as usize].mops;
    let mut out = Vec::new();
    let mut touched: Vec<Id> = Vec::new();
    for m in mops {
        match m {
            Mop::ReadReg { key, elem: Some(v) } if !touched.contains(key) => {
                touched.push(*key);
                out.push((*key, v.unwrap_or(NIL)));
            }
            Mop::Write { key, .. } => touched.push(*key),
            _ => {}
        }
    }
    out
}

fn explain_reg(txns: &Txns, inf: &Inference, a: u32, b: u32, kind: u8) -> (String, Option<Value>) {
    let (an, bn) = (tname(txns, a), tname(txns, b));
    match kind {
        WW => {
            for (key, x) in reg_reads(txns, b) {
                if x != NIL && writer_is(inf, key, x, a) {
                    if let Some(&(y, _)) = inf
                        .succ
                        .get(&(key, x))
                        .and_then(|v| v.iter().find(|(_, t)| *t == b))
                    {
                        return (
                            format!(
                                "{bn} read key {} = {} (written by {an}) and then wrote {}, so {an} ww→ {bn}.",
                                txns.keys.text(key),
                                reg_text(txns, x),
                                reg_text(txns, y)
                            ),
                            Some(json!({"key": txns.keys.value(key), "from_value": txns.elems.value(x), "to_value": txns.elems.value(y)})),
                        );
                    }
                }
            }
            (format!("{an} ww→ {bn}."), None)
        }
        WR => {
            for (key, x) in reg_reads(txns, b) {
                if x != NIL && writer_is(inf, key, x, a) {
                    return (
                        format!(
                            "{bn} read key {} = {}, written by {an}, so {an} wr→ {bn}.",
                            txns.keys.text(key),
                            reg_text(txns, x)
                        ),
                        Some(json!({"key": txns.keys.value(key), "value": txns.elems.value(x)})),
                    );
                }
            }
            (format!("{an} wr→ {bn}."), None)
        }
        _ => {
            for (key, x) in reg_reads(txns, a) {
                if x == NIL {
                    let firsts = inf.minimal.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                    if let Some(&y) = firsts.iter().find(|&&y| writer_is(inf, key, y, b)) {
                        return (
                            format!(
                                "{an} read key {} = null (the initial state), but {bn} wrote {} there, so {an} rw→ {bn}.",
                                txns.keys.text(key),
                                reg_text(txns, y)
                            ),
                            Some(json!({"key": txns.keys.value(key), "value": txns.elems.value(y)})),
                        );
                    }
                } else if let Some(v) = inf.succ.get(&(key, x)) {
                    if let Some(&(y, _)) = v.iter().find(|(y, _)| writer_is(inf, key, *y, b)) {
                        return (
                            format!(
                                "{an} read key {} = {}, but {bn} overwrote that version with {} (it read {} before writing), so {an} rw→ {bn}.",
                                txns.keys.text(key),
                                reg_text(txns, x),
                                reg_text(txns, y),
                                reg_text(txns, x)
                            ),
                            Some(json!({"key": txns.keys.value(key), "value": txns.elems.value(x), "next": txns.elems.value(y)})),
                        );
                    }
                }
            }
            (format!("{an} rw→ {bn}."), None)
        }
    }
}
