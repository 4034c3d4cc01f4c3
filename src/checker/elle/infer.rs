//! Inferring dependencies from what transactions read.
//!
//! List-append (Elle's strongest workload): every read of a key returns the
//! whole list, so each read is a prefix of the key's version order and the
//! longest read *is* the order as far as anyone observed it. An append no
//! read shows still came after the longest version observed, and a key
//! with a single append has versions [], [v] without any read. From that
//! order, as Elle defines it per micro-op:
//!
//! - ww: the writer of an append's predecessor element → the appender;
//! - wr: the writer of a read's last element → the reader;
//! - rw: every reader of the predecessor version → the appender;
//!
//! and, without any graph, duplicate elements, incompatible orders (two
//! reads neither a prefix of the other), aborted reads (G1a), intermediate
//! reads (G1b), dirty updates (a committed append right after a failed one
//! in the order), lost updates, future reads and internal inconsistencies.
//!
//! rw-register: values written to a key are unique, so a read names its
//! writer (wr). Versions are ordered by the initial null preceding every
//! value, plus the optional sources of [`RegisterOrders`]; ww and rw edges
//! join the writers and readers of each ordered pair of versions.
//!
//! Process edges join successive committed transactions of one process. Real-time edges join a transaction
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
    /// rw-register: the version order's edges, `(key, version) → next
    /// versions` (the second field is unused, `u32::MAX`).
    pub succ: FastMap<(Id, Id), Vec<(Id, u32)>>,
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

/// Which order edges join the data dependencies. As in Elle, only one
/// kind at a time: real-time order already contains each process's order (a
/// process runs one transaction at a time), so a check that needs real time
/// gets real-time edges only, a check that needs sessions gets process
/// edges, and a check of neither gets none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEdges {
    None,
    Process,
    Realtime,
}

/// Process or real-time edges.
fn order_edges(txns: &Txns, edges: &mut Vec<(u32, u32, u8)>, mode: OrderEdges) {
    if mode == OrderEdges::Process {
        // Successive committed transactions of one process.
        let mut last: std::collections::HashMap<&crate::history::Process, u32> =
            std::collections::HashMap::new();
        let mut by_pos: Vec<u32> = (0..txns.txns.len() as u32)
            .filter(|&t| txns.txns[t as usize].status == Status::Ok)
            .collect();
        by_pos.sort_by_key(|&t| {
            let x = &txns.txns[t as usize];
            x.invoke_pos.or(x.complete_pos).unwrap_or(usize::MAX)
        });
        for &t in &by_pos {
            if let Some(p) = &txns.txns[t as usize].process {
                if let Some(&prev) = last.get(p) {
                    edges.push((prev, t, PROCESS));
                }
                last.insert(p, t);
            }
        }
        return;
    }
    if mode == OrderEdges::None {
        return;
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
pub fn infer(txns: &Txns, order: OrderEdges, register: &RegisterOrders) -> Inference {
    let mut inf = Inference {
        edges: Vec::new(),
        findings: Vec::new(),
        writers: writers_of(txns),
        orders: FastMap::default(),
        succ: FastMap::default(),
        truncated_keys: 0,
    };
    internal(txns, &mut inf.findings);
    match txns.kind {
        ElleKind::ListAppend => list_append(txns, &mut inf),
        ElleKind::RwRegister => rw_register(txns, &mut inf, register, &|mode| {
            let mut e = Vec::new();
            order_edges(txns, &mut e, mode);
            e
        }),
    }
    order_edges(txns, &mut inf.edges, order);
    inf
}

/// The element before `e` in a key's version order, as Elle's
/// `previously-appended-element` defines it: its predecessor in the longest
/// read, or, for an append no read shows, the last element any read showed
/// (it came after everything observed). `NIL` stands for the initial empty
/// list.
fn previous_element(order: Option<&(Vec<Id>, FastMap<Id, usize>)>, e: Id) -> Id {
    match order {
        None => NIL,
        Some((list, index)) => match index.get(&e) {
            Some(&0) => NIL,
            Some(&i) => list[i - 1],
            None => list.last().copied().unwrap_or(NIL),
        },
    }
}

/// Committed reads per key: (transaction, micro-op position, list read).
type ReadsByKey<'a> = FastMap<Id, Vec<(u32, usize, &'a [Id])>>;

/// Per key, version-order edges `(v1, v2)`: v1 precedes v2.
type VersionGraphs = FastMap<Id, Vec<(Id, Id)>>;

fn list_append(txns: &Txns, inf: &mut Inference) {
    // Every committed read, per key, with its transaction and position.
    let mut reads: ReadsByKey = FastMap::default();
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
                reads
                    .entry(*key)
                    .or_default()
                    .push((t as u32, i, l.as_slice()));
            }
        }
    }
    // Appends of transactions that may have taken effect (ok or info).
    let mut appends: FastMap<Id, Vec<(u32, Id)>> = FastMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.status == Status::Fail {
            continue;
        }
        for m in &txn.mops {
            if let Mop::Append { key, elem } = m {
                appends.entry(*key).or_default().push((t as u32, *elem));
            }
        }
    }
    let mut keys: Vec<Id> = reads.keys().chain(appends.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    let empty: Vec<(u32, usize, &[Id])> = Vec::new();
    let mut orders: FastMap<Id, (Vec<Id>, FastMap<Id, usize>)> = FastMap::default();
    for &key in &keys {
        let rs = reads.get(&key).unwrap_or(&empty);
        // Duplicates, per read.
        for &(t, _, l) in rs {
            let mut seen: FastMap<Id, usize> = FastMap::default();
            for (i, &e) in l.iter().enumerate() {
                if let Some(&j) = seen.get(&e) {
                    inf.findings.push(Finding {
                        anomaly: Anomaly::DuplicateElements,
                        txns: vec![t],
                        explanation: format!(
                            "{} read key {} as {}, in which {} appears twice (positions {} and {}).",
                            tname(txns, t),
                            txns.keys.text(key),
                            list_text(txns, l),
                            txns.elems.text(e),
                            j,
                            i
                        ),
                        data: json!({"key": txns.keys.value(key), "element": txns.elems.value(e), "txn": txns.txns[t as usize].index}),
                    });
                    break;
                }
                seen.insert(e, i);
            }
        }
        // Distinct non-empty observed values, shortest first: each must be
        // a prefix of the next.
        let mut values: Vec<(&[Id], u32)> = rs
            .iter()
            .filter(|r| !r.2.is_empty())
            .map(|r| (r.2, r.0))
            .collect();
        values.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(b.0)));
        values.dedup_by(|a, b| a.0 == b.0);
        for w in values.windows(2) {
            let (a, b) = (w[0], w[1]);
            if !b.0.starts_with(a.0) {
                inf.findings.push(Finding {
                    anomaly: Anomaly::IncompatibleOrder,
                    txns: vec![a.1, b.1],
                    explanation: format!(
                        "{} read key {} as {} and {} read it as {}: neither is a prefix of the other, so they cannot both be versions of one list.",
                        tname(txns, a.1),
                        txns.keys.text(key),
                        list_text(txns, a.0),
                        tname(txns, b.1),
                        list_text(txns, b.0)
                    ),
                    data: json!({"key": txns.keys.value(key), "values": [
                        a.0.iter().map(|&e| txns.elems.value(e).clone()).collect::<Vec<_>>(),
                        b.0.iter().map(|&e| txns.elems.value(e).clone()).collect::<Vec<_>>()]}),
                });
                break;
            }
        }
        // The version order: the longest read (each element once), or, for
        // a key nobody read non-empty, its single append.
        let order: Option<Vec<Id>> = match values.last() {
            Some(longest) => {
                let mut seen: FastMap<Id, ()> = FastMap::default();
                Some(
                    longest
                        .0
                        .iter()
                        .copied()
                        .filter(|&e| seen.insert(e, ()).is_none())
                        .collect(),
                )
            }
            None => match appends.get(&key).map(Vec::as_slice) {
                Some([(_, e)]) => Some(vec![*e]),
                _ => None,
            },
        };
        if let Some(order) = order {
            let index: FastMap<Id, usize> =
                order.iter().enumerate().map(|(i, &e)| (e, i)).collect();
            orders.insert(key, (order, index));
        }
    }
    // Who read each version (the element it ended in, or NIL for empty).
    let mut readers: FastMap<(Id, Id), Vec<u32>> = FastMap::default();
    for (&key, rs) in &reads {
        for &(t, _, l) in rs {
            readers
                .entry((key, l.last().copied().unwrap_or(NIL)))
                .or_default()
                .push(t);
        }
    }
    for v in readers.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    let failed_writer = |key: Id, e: Id| -> Option<u32> {
        inf.writers
            .get(&(key, e))
            .filter(|w| !w.ambiguous && txns.txns[w.txn as usize].status == Status::Fail)
            .map(|w| w.txn)
    };
    // Reads: G1a, G1b, future reads, wr edges.
    for &key in &keys {
        let rs = reads.get(&key).unwrap_or(&empty);
        for &(t, pos, l) in rs {
            if let Some((e, w)) = l
                .iter()
                .find_map(|&e| failed_writer(key, e).map(|w| (e, w)))
            {
                inf.findings.push(Finding {
                    anomaly: Anomaly::G1a,
                    txns: vec![t, w],
                    explanation: format!(
                        "{} read key {} as {}, which includes {}, appended by {}, which failed (aborted read).",
                        tname(txns, t),
                        txns.keys.text(key),
                        list_text(txns, l),
                        txns.elems.text(e),
                        tname(txns, w)
                    ),
                    data: json!({"key": txns.keys.value(key), "element": txns.elems.value(e), "reader": txns.txns[t as usize].index, "writer": txns.txns[w as usize].index}),
                });
            }
            // Future read: the read shows an element this transaction only
            // appends later.
            let later: Vec<Id> = txns.txns[t as usize].mops[pos + 1..]
                .iter()
                .filter_map(|m| match m {
                    Mop::Append { key: k, elem } if *k == key => Some(*elem),
                    _ => None,
                })
                .collect();
            if let Some(&e) = l.iter().find(|e| later.contains(e)) {
                inf.findings.push(Finding {
                    anomaly: Anomaly::FutureRead,
                    txns: vec![t],
                    explanation: format!(
                        "{} read key {} as {}, which contains {}, an element it only appends later in the same transaction (future read).",
                        tname(txns, t),
                        txns.keys.text(key),
                        list_text(txns, l),
                        txns.elems.text(e)
                    ),
                    data: json!({"key": txns.keys.value(key), "element": txns.elems.value(e), "txn": txns.txns[t as usize].index}),
                });
            }
            let Some(&last) = l.last() else { continue };
            let Some(w) = live(txns, inf.writers.get(&(key, last))) else {
                continue;
            };
            if w.txn == t {
                continue;
            }
            inf.edges.push((w.txn, t, WR));
            if !w.is_final {
                inf.findings.push(Finding {
                    anomaly: Anomaly::G1b,
                    txns: vec![t, w.txn],
                    explanation: format!(
                        "{} read key {} as {}, ending in {}'s append of {}, but {} appended to key {} again afterwards: an intermediate version (intermediate read).",
                        tname(txns, t),
                        txns.keys.text(key),
                        list_text(txns, l),
                        tname(txns, w.txn),
                        txns.elems.text(last),
                        tname(txns, w.txn),
                        txns.keys.text(key)
                    ),
                    data: json!({"key": txns.keys.value(key), "element": txns.elems.value(last), "reader": txns.txns[t as usize].index, "writer": txns.txns[w.txn as usize].index}),
                });
            }
        }
    }
    // Appends: ww from the writer of the previous element, rw from every
    // reader of the previous version.
    for &key in &keys {
        let order = orders.get(&key);
        for &(t, e) in appends.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
            let prev = previous_element(order, e);
            if prev != NIL {
                if let Some(w) = live(txns, inf.writers.get(&(key, prev))) {
                    if w.txn != t {
                        inf.edges.push((w.txn, t, WW));
                    }
                }
            }
            if let Some(rs) = readers.get(&(key, prev)) {
                for &r in rs {
                    if r != t {
                        inf.edges.push((r, t, RW));
                    }
                }
            }
        }
    }
    // Dirty update: along a key's version order, a committed append right
    // after (ignoring indeterminate ones) an aborted one.
    for &key in &keys {
        let Some((order, _)) = orders.get(&key) else {
            continue;
        };
        let mut last = Status::Ok;
        let mut last_txn: Option<u32> = None;
        let mut span: Vec<Id> = Vec::new();
        for &e in order {
            let Some(w) = inf.writers.get(&(key, e)).filter(|w| !w.ambiguous) else {
                continue;
            };
            let st = txns.txns[w.txn as usize].status;
            match (last, st) {
                (Status::Fail, Status::Ok) => {
                    span.push(e);
                    let from = last_txn.unwrap_or(w.txn);
                    inf.findings.push(Finding {
                        anomaly: Anomaly::DirtyUpdate,
                        txns: vec![from, w.txn],
                        explanation: format!(
                            "{} appended {} to key {} on top of {}, written by {}, which failed (dirty update: the version order of key {} runs through {}).",
                            tname(txns, w.txn),
                            txns.elems.text(e),
                            txns.keys.text(key),
                            list_text(txns, &span[..span.len() - 1]),
                            tname(txns, from),
                            txns.keys.text(key),
                            list_text(txns, &span)
                        ),
                        data: json!({"key": txns.keys.value(key), "values": span.iter().map(|&x| txns.elems.value(x).clone()).collect::<Vec<_>>()}),
                    });
                    last = st;
                    last_txn = Some(w.txn);
                    span = vec![e];
                }
                (_, Status::Info) => span.push(e),
                (Status::Fail, Status::Fail) => span.push(e),
                _ => {
                    last = st;
                    last_txn = Some(w.txn);
                    span = vec![e];
                }
            }
        }
    }
    lost_updates(txns, inf);
    inf.orders = orders.into_iter().map(|(k, (o, _))| (k, o)).collect();
}

/// Lost update (Elle's definition, for both workloads): two committed
/// transactions read the same version of a key (their first access to it)
/// and then both wrote it.
fn lost_updates(txns: &Txns, inf: &mut Inference) {
    // (key, what was read) → transactions. What was read: the list's last
    // element (NIL for empty) or the register's value.
    let mut groups: FastMap<(Id, Id, usize), Vec<u32>> = FastMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        let mut read: FastMap<Id, (Id, usize)> = FastMap::default();
        let mut wrote: Vec<Id> = Vec::new();
        for m in &txn.mops {
            match m {
                Mop::ReadList {
                    key,
                    elems: Some(l),
                } if !wrote.contains(key) => {
                    read.entry(*key)
                        .or_insert((l.last().copied().unwrap_or(NIL), l.len()));
                }
                Mop::ReadReg { key, elem: Some(v) } if !wrote.contains(key) => {
                    read.entry(*key).or_insert((v.unwrap_or(NIL), 0));
                }
                Mop::Append { key, .. } | Mop::Write { key, .. } if !wrote.contains(key) => {
                    wrote.push(*key);
                    if let Some(&(v, n)) = read.get(key) {
                        groups.entry((*key, v, n)).or_default().push(t as u32);
                    }
                }
                _ => {}
            }
        }
    }
    let mut lost: Vec<((Id, Id, usize), Vec<u32>)> =
        groups.into_iter().filter(|(_, v)| v.len() > 1).collect();
    lost.sort_unstable();
    for ((key, v, n), ts) in lost {
        let names: Vec<String> = ts.iter().map(|&t| tname(txns, t)).collect();
        let what = match txns.kind {
            ElleKind::ListAppend if n == 0 => "as []".to_string(),
            ElleKind::ListAppend => format!("as a list of {n} ending in {}", reg_text(txns, v)),
            ElleKind::RwRegister => format!("= {}", reg_text(txns, v)),
        };
        inf.findings.push(Finding {
            anomaly: Anomaly::LostUpdate,
            txns: ts.clone(),
            explanation: format!(
                "{} all read key {} {} and then wrote it; all committed, so one's update is lost to the others (lost update).",
                names.join(", "),
                txns.keys.text(key),
                what
            ),
            data: json!({"key": txns.keys.value(key), "txns": ts.iter().map(|&t| txns.txns[t as usize].index).collect::<Vec<_>>()}),
        });
    }
}
/// Extra sources of rw-register version orders (Elle's options). Each
/// assumes something of the database; none is on by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegisterOrders {
    /// Writes follow reads within a transaction: an external read of x
    /// then a write of x orders the two versions (`:wfr-keys?`).
    pub wfr_keys: bool,
    /// Each key is sequentially consistent: a process's successive
    /// transactions see successive versions (`:sequential-keys?`).
    pub sequential_keys: bool,
    /// Each key is linearizable: a transaction that completed before
    /// another began saw or wrote an earlier version (`:linearizable-keys?`).
    pub linearizable_keys: bool,
}

/// A transaction's external view of the registers: the first value it read
/// of each key before writing it (committed transactions only: an
/// indeterminate read is unknown) and the last value it wrote.
struct External {
    reads: Vec<(Id, Id)>,
    writes: Vec<(Id, Id)>,
}

impl External {
    fn read(&self, k: Id) -> Option<Id> {
        self.reads.iter().find(|r| r.0 == k).map(|r| r.1)
    }
    fn write(&self, k: Id) -> Option<Id> {
        self.writes.iter().rev().find(|w| w.0 == k).map(|w| w.1)
    }
    /// The version a transaction last interacted with.
    fn last(&self, k: Id) -> Option<Id> {
        self.write(k).or_else(|| self.read(k))
    }
    /// The version a transaction first interacted with.
    fn first(&self, k: Id) -> Option<Id> {
        self.read(k).or_else(|| self.write(k))
    }
    fn keys(&self) -> Vec<Id> {
        let mut ks: Vec<Id> = self.reads.iter().chain(&self.writes).map(|x| x.0).collect();
        ks.sort_unstable();
        ks.dedup();
        ks
    }
}

fn externals(txns: &Txns) -> Vec<External> {
    (0..txns.txns.len() as u32)
        .map(|t| externals_of(txns, t))
        .collect()
}

/// Version edges `key → (v1, v2)` implied by an order over transactions
/// (process or real time), assuming each key respects that order: the last
/// version a transaction touched precedes the first version each of its
/// nearest successors touching the key saw or wrote.
fn versions_from_order(txns: &Txns, ext: &[External], order: &[(u32, u32, u8)]) -> VersionGraphs {
    let n = txns.txns.len();
    let mut out_edges: Vec<Vec<u32>> = vec![Vec::new(); n];
    for &(a, b, _) in order {
        out_edges[a as usize].push(b);
    }
    let mut touching: FastMap<Id, Vec<u32>> = FastMap::default();
    for (t, e) in ext.iter().enumerate() {
        for k in e.keys() {
            touching.entry(k).or_default().push(t as u32);
        }
    }
    let mut out: VersionGraphs = FastMap::default();
    let mut seen: Vec<u32> = vec![u32::MAX; n];
    let mut stamp = 0u32;
    let mut keys: Vec<Id> = touching.keys().copied().collect();
    keys.sort_unstable();
    for k in keys {
        let ts = &touching[&k];
        let edges = out.entry(k).or_default();
        for &a in ts {
            let Some(v1) = ext[a as usize].last(k) else {
                continue;
            };
            stamp += 1;
            let mut stack: Vec<u32> = out_edges[a as usize].clone();
            while let Some(b) = stack.pop() {
                if std::mem::replace(&mut seen[b as usize], stamp) == stamp {
                    continue;
                }
                match ext[b as usize].first(k) {
                    Some(v2) => {
                        if v2 != v1 {
                            edges.push((v1, v2));
                        }
                    }
                    None => stack.extend_from_slice(&out_edges[b as usize]),
                }
            }
        }
        edges.sort_unstable();
        edges.dedup();
    }
    out
}

/// Keys whose version graph has a cycle.
fn cyclic_keys(graphs: &VersionGraphs) -> Vec<(Id, Vec<Id>)> {
    let mut out = Vec::new();
    let mut keys: Vec<Id> = graphs.keys().copied().collect();
    keys.sort_unstable();
    for k in keys {
        let es = &graphs[&k];
        let mut ids: FastMap<Id, u32> = FastMap::default();
        let mut vals: Vec<Id> = Vec::new();
        for &(a, b) in es {
            for v in [a, b] {
                ids.entry(v).or_insert_with(|| {
                    vals.push(v);
                    (vals.len() - 1) as u32
                });
            }
        }
        let g = super::graph::DepGraph::from_edges(
            vals.len(),
            es.iter().map(|(a, b)| (ids[a], ids[b], WW)).collect(),
        );
        let all: Vec<u32> = (0..vals.len() as u32).collect();
        let comp = g.components(&all, WW);
        let mut size: FastMap<u32, Vec<Id>> = FastMap::default();
        for (i, &c) in comp.iter().enumerate().take(vals.len()) {
            size.entry(c).or_default().push(vals[i]);
        }
        let mut sccs: Vec<Vec<Id>> = size.into_values().filter(|v| v.len() > 1).collect();
        sccs.sort();
        for s in sccs {
            out.push((k, s));
        }
    }
    out
}

fn rw_register(
    txns: &Txns,
    inf: &mut Inference,
    opts: &RegisterOrders,
    order_edges_of: &dyn Fn(OrderEdges) -> Vec<(u32, u32, u8)>,
) {
    let ext = externals(txns);
    // Committed external writers and readers of each (key, value).
    let mut writers: FastMap<(Id, Id), Vec<u32>> = FastMap::default();
    let mut readers: FastMap<(Id, Id), Vec<u32>> = FastMap::default();
    for (t, e) in ext.iter().enumerate() {
        if txns.txns[t].status != Status::Ok {
            continue;
        }
        for &(k, v) in &e.writes {
            writers.entry((k, v)).or_default().push(t as u32);
        }
        for &(k, v) in &e.reads {
            readers.entry((k, v)).or_default().push(t as u32);
        }
    }
    // wr: the single committed writer of a value read.
    for (&(k, v), rs) in &readers {
        if v == NIL {
            continue;
        }
        if let Some([w]) = writers.get(&(k, v)).map(Vec::as_slice) {
            for &r in rs {
                if r != *w {
                    inf.edges.push((*w, r, WR));
                }
            }
        }
    }
    // Version graphs, source by source; a source that would make some
    // key's versions cyclic is left out and reported.
    let mut graphs: VersionGraphs = FastMap::default();
    for (t, e) in ext.iter().enumerate() {
        let reads: &[(Id, Id)] = if txns.txns[t].status == Status::Ok {
            &e.reads
        } else {
            &[]
        };
        for &(k, v) in e.writes.iter().chain(reads) {
            if v != NIL {
                graphs.entry(k).or_default().push((NIL, v));
            }
        }
    }
    let mut sources: Vec<(&str, VersionGraphs)> = Vec::new();
    if opts.wfr_keys {
        let mut g: VersionGraphs = FastMap::default();
        for (t, e) in ext.iter().enumerate() {
            if txns.txns[t].status != Status::Ok {
                continue;
            }
            for &(k, v) in &e.reads {
                if v == NIL {
                    continue;
                }
                if let Some(w) = e.write(k) {
                    if w != v {
                        g.entry(k).or_default().push((v, w));
                    }
                }
            }
        }
        sources.push(("wfr-keys", g));
    }
    if opts.sequential_keys {
        let order = order_edges_of(OrderEdges::Process);
        sources.push(("sequential-keys", versions_from_order(txns, &ext, &order)));
    }
    if opts.linearizable_keys {
        let order = order_edges_of(OrderEdges::Realtime);
        sources.push(("linearizable-keys", versions_from_order(txns, &ext, &order)));
    }
    for g in graphs.values_mut() {
        g.sort_unstable();
        g.dedup();
    }
    for (name, src) in sources {
        let mut merged = graphs.clone();
        for (k, es) in &src {
            let m = merged.entry(*k).or_default();
            m.extend_from_slice(es);
            m.sort_unstable();
            m.dedup();
        }
        let cycles = cyclic_keys(&merged);
        if cycles.is_empty() {
            graphs = merged;
            continue;
        }
        for (k, scc) in cycles {
            inf.findings.push(Finding {
                anomaly: Anomaly::CyclicVersions,
                txns: Vec::new(),
                explanation: format!(
                    "With the version order assumed from {name}, the versions {} of key {} precede each other in a cycle; that assumption is left out.",
                    scc.iter().map(|&v| reg_text(txns, v)).collect::<Vec<_>>().join(", "),
                    txns.keys.text(k)
                ),
                data: json!({"key": txns.keys.value(k), "source": name, "scc": scc.iter().map(|&v| if v == NIL { crate::history::Val::Nil } else { txns.elems.value(v).clone() }).collect::<Vec<_>>()}),
            });
        }
    }
    // ww and rw from each version edge.
    let mut keys: Vec<Id> = graphs.keys().copied().collect();
    keys.sort_unstable();
    for k in keys {
        let es = &graphs[&k];
        let nil_pairs: usize = es
            .iter()
            .filter(|e| e.0 == NIL)
            .map(|e| writers.get(&(k, e.1)).map_or(0, Vec::len))
            .sum::<usize>()
            .saturating_mul(readers.get(&(k, NIL)).map_or(0, Vec::len));
        let skip_nil = nil_pairs > MAX_NIL_EDGES_PER_KEY;
        if skip_nil {
            inf.truncated_keys += 1;
        }
        for &(v1, v2) in es {
            inf.succ.entry((k, v1)).or_default().push((v2, u32::MAX));
            let Some(w2) = writers.get(&(k, v2)) else {
                continue;
            };
            for &b in w2 {
                for &a in writers.get(&(k, v1)).map(Vec::as_slice).unwrap_or(&[]) {
                    if a != b {
                        inf.edges.push((a, b, WW));
                    }
                }
                if v1 == NIL && skip_nil {
                    continue;
                }
                for &a in readers.get(&(k, v1)).map(Vec::as_slice).unwrap_or(&[]) {
                    if a != b {
                        inf.edges.push((a, b, RW));
                    }
                }
            }
        }
    }
    // G1a, G1b, future reads: per read micro-op.
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        let t = t as u32;
        for (i, m) in txn.mops.iter().enumerate() {
            let Mop::ReadReg {
                key,
                elem: Some(Some(v)),
            } = m
            else {
                continue;
            };
            let (key, v) = (*key, *v);
            let Some(w) = inf.writers.get(&(key, v)).copied() else {
                continue;
            };
            if w.ambiguous {
                continue;
            }
            if w.txn == t {
                let later = txn.mops[i + 1..].iter().any(
                    |m| matches!(m, Mop::Write { key: k, elem: Some(e) } if *k == key && *e == v),
                );
                let before = txn.mops[..i]
                    .iter()
                    .any(|m| matches!(m, Mop::Write { key: k, .. } if *k == key));
                if later && !before {
                    inf.findings.push(Finding {
                        anomaly: Anomaly::FutureRead,
                        txns: vec![t],
                        explanation: format!(
                            "{} read key {} = {}, a value it only writes later in the same transaction (future read).",
                            tname(txns, t),
                            txns.keys.text(key),
                            reg_text(txns, v)
                        ),
                        data: json!({"key": txns.keys.value(key), "value": txns.elems.value(v), "txn": txn.index}),
                    });
                }
                continue;
            }
            let wt = &txns.txns[w.txn as usize];
            if wt.status == Status::Fail {
                inf.findings.push(Finding {
                    anomaly: Anomaly::G1a,
                    txns: vec![t, w.txn],
                    explanation: format!(
                        "{} read key {} = {}, written by {}, which failed (aborted read).",
                        tname(txns, t),
                        txns.keys.text(key),
                        reg_text(txns, v),
                        tname(txns, w.txn)
                    ),
                    data: json!({"key": txns.keys.value(key), "value": txns.elems.value(v), "reader": txn.index, "writer": wt.index}),
                });
            } else if !w.is_final {
                inf.findings.push(Finding {
                    anomaly: Anomaly::G1b,
                    txns: vec![t, w.txn],
                    explanation: format!(
                        "{} read key {} = {}, which {} wrote and then overwrote in the same transaction (intermediate read).",
                        tname(txns, t),
                        txns.keys.text(key),
                        reg_text(txns, v),
                        tname(txns, w.txn)
                    ),
                    data: json!({"key": txns.keys.value(key), "value": txns.elems.value(v), "reader": txn.index, "writer": wt.index}),
                });
            }
        }
    }
    lost_updates(txns, inf);
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

fn explain_reg(txns: &Txns, inf: &Inference, a: u32, b: u32, kind: u8) -> (String, Option<Value>) {
    let (an, bn) = (tname(txns, a), tname(txns, b));
    let ext = |t: u32| externals_of(txns, t);
    let (ea, eb) = (ext(a), ext(b));
    let follows = |k: Id, x: Id, y: Id| {
        inf.succ
            .get(&(k, x))
            .is_some_and(|v| v.iter().any(|&(z, _)| z == y))
    };
    match kind {
        WW => {
            for &(k, x) in &ea.writes {
                if let Some(y) = eb.write(k) {
                    if follows(k, x, y) {
                        return (
                            format!(
                                "{an} set key {} to {}, and {bn} set it to {}, which came later in the version order, so {an} ww→ {bn}.",
                                txns.keys.text(k),
                                reg_text(txns, x),
                                reg_text(txns, y)
                            ),
                            Some(json!({"key": txns.keys.value(k)})),
                        );
                    }
                }
            }
            (format!("{an} ww→ {bn}."), None)
        }
        WR => {
            for &(k, x) in &ea.writes {
                if eb.read(k) == Some(x) && x != NIL {
                    return (
                        format!(
                            "{bn} read key {} = {}, written by {an}, so {an} wr→ {bn}.",
                            txns.keys.text(k),
                            reg_text(txns, x)
                        ),
                        Some(json!({"key": txns.keys.value(k), "value": txns.elems.value(x)})),
                    );
                }
            }
            (format!("{an} wr→ {bn}."), None)
        }
        _ => {
            for &(k, x) in &ea.reads {
                if let Some(y) = eb.write(k) {
                    if follows(k, x, y) {
                        return (
                            format!(
                                "{an} read key {} = {}{}, and {bn} set it to {}, which came later in the version order, so {an} rw→ {bn}.",
                                txns.keys.text(k),
                                reg_text(txns, x),
                                if x == NIL { " (the initial state)" } else { "" },
                                reg_text(txns, y)
                            ),
                            Some(json!({"key": txns.keys.value(k)})),
                        );
                    }
                }
            }
            (format!("{an} rw→ {bn}."), None)
        }
    }
}

fn externals_of(txns: &Txns, t: u32) -> External {
    let txn = &txns.txns[t as usize];
    let mut reads: Vec<(Id, Id)> = Vec::new();
    let mut writes: Vec<(Id, Id)> = Vec::new();
    if txn.status == Status::Fail {
        return External { reads, writes };
    }
    let mut written: Vec<Id> = Vec::new();
    for m in &txn.mops {
        match m {
            Mop::ReadReg { key, elem: Some(v) }
                if txn.status == Status::Ok
                    && !written.contains(key)
                    && !reads.iter().any(|r| r.0 == *key) =>
            {
                reads.push((*key, v.unwrap_or(NIL)));
            }
            Mop::Write { key, elem } => {
                written.push(*key);
                writes.retain(|w| w.0 != *key);
                writes.push((*key, elem.unwrap_or(NIL)));
            }
            _ => {}
        }
    }
    External { reads, writes }
}
