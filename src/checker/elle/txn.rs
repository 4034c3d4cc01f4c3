//! Turning a history into transactions.
//!
//! Elle's histories are looser than the rest of faultline's: events may lack
//! a `process`, and a history may hold only completions (Elle's own test
//! histories are often a list of `ok` transactions). So this module pairs
//! invocations with completions itself instead of using
//! [`History::operations`], which insists on Jepsen's stricter rules:
//!
//! - an invoke is paired with the next completion of the same process; when
//!   a process has several invokes outstanding (Elle's tests write such
//!   histories), completions pair with them first-in, first-out;
//! - a completion with no pending invoke stands alone (it has no real-time
//!   position: we do not know when it began, so it gets no real-time edges);
//! - an invoke without a process cannot be paired and is ignored (its
//!   completion, if any, carries the same information);
//! - an invoke never completed is an `info` transaction.
//!
//! Keys and elements are interned into dense `u32` ids so that the inference
//! compares integers, not JSON values.

use super::ElleKind;
use crate::history::Val;
use crate::history::{History, OpType, Process};
use std::collections::HashMap;

pub use crate::checker::fast_hash::{FastHasher, FastMap};

/// An interned key or element.
pub type Id = u32;

/// Interns JSON atoms: integers on a fast path, anything else by its
/// canonical JSON text.
#[derive(Default)]
pub struct Interner {
    ints: FastMap<i64, Id>,
    others: FastMap<Val, Id>,
    values: Vec<Val>,
}

impl Txns {
    /// The micro-ops of transaction `t` as recorded in `history`.
    pub fn raw<'h>(&self, history: &'h History, t: u32) -> &'h Val {
        history
            .ops()
            .get(self.txns[t as usize].raw_pos)
            .map(|o| &o.value)
            .unwrap_or(&Val::Nil)
    }
}

impl Interner {
    pub fn intern(&mut self, v: &Val) -> Id {
        if let Some(i) = v.as_i64() {
            if let Some(&id) = self.ints.get(&i) {
                return id;
            }
            let id = self.values.len() as Id;
            self.values.push(v.clone());
            self.ints.insert(i, id);
            return id;
        }
        if let Some(&id) = self.others.get(v) {
            return id;
        }
        let id = self.values.len() as Id;
        self.values.push(v.clone());
        self.others.insert(v.clone(), id);
        id
    }
    /// The JSON value of an id.
    pub fn value(&self, id: Id) -> &Val {
        &self.values[id as usize]
    }
    /// The value as compact text, for explanations.
    pub fn text(&self, id: Id) -> String {
        match &self.values[id as usize] {
            Val::Str(s) => s.to_string(),
            v => v.to_string(),
        }
    }
}

/// One micro-operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mop {
    /// `["append", k, v]`
    Append { key: Id, elem: Id },
    /// `["w", k, v]`; `None` writes null.
    Write { key: Id, elem: Option<Id> },
    /// `["r", k, [..]]`; `None` when the value is unknown (an invoke, or an
    /// indeterminate completion). `Some(Some(list))` for list-append, and
    /// `Some(None)` for a list-append read of null (treated as empty).
    ReadList { key: Id, elems: Option<Vec<Id>> },
    /// `["r", k, v]` on a register; `None` unknown, `Some(None)` read null.
    ReadReg { key: Id, elem: Option<Option<Id>> },
}

impl Mop {
    pub fn key(&self) -> Id {
        match self {
            Mop::Append { key, .. }
            | Mop::Write { key, .. }
            | Mop::ReadList { key, .. }
            | Mop::ReadReg { key, .. } => *key,
        }
    }
    pub fn is_write(&self) -> bool {
        matches!(self, Mop::Append { .. } | Mop::Write { .. })
    }
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    Info,
}

/// A transaction of the history.
#[derive(Clone, Debug)]
pub struct Txn {
    /// History `index` of the event that names it (its completion, or its
    /// invoke when it never completed).
    pub index: u64,
    /// Source line of that event (0 if unknown).
    pub line: usize,
    pub process: Option<Process>,
    pub status: Status,
    /// Position of the invoke among the history's events, if there was one.
    pub invoke_pos: Option<usize>,
    /// Position of the completion (`ok`/`fail` only; `info` never returned).
    pub complete_pos: Option<usize>,
    /// Position of the event that names it (completion, else invoke).
    pub pos: usize,
    pub mops: Vec<Mop>,
    /// Position of the event whose value holds the micro-ops as recorded
    /// (for reports; not copied, histories can be large).
    pub raw_pos: usize,
}

/// The transactions of a history plus the interner for their keys/elements.
pub struct Txns {
    pub txns: Vec<Txn>,
    pub keys: Interner,
    pub elems: Interner,
    pub kind: ElleKind,
    /// Non-transactional client operations skipped.
    pub skipped: usize,
}

/// Why a history cannot be read as transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnError(pub String);

impl std::fmt::Display for TxnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

struct Pending {
    pos: usize,
}

/// Detects list-append vs rw-register from the micro-ops' spellings.
pub fn detect_kind(history: &History) -> Result<ElleKind, TxnError> {
    let mut append = false;
    let mut write = false;
    let mut list_read = false;
    let mut scalar_read = false;
    for op in history.ops() {
        if op.f != "txn" {
            continue;
        }
        let Some(mops) = op.value.lists() else {
            continue;
        };
        for parts in mops.iter().flatten() {
            match parts.first().and_then(Val::as_str) {
                Some("append") => append = true,
                Some("w") | Some("write") => write = true,
                Some("r") | Some("read") => match parts.get(2) {
                    Some(v) if v.is_array() => list_read = true,
                    Some(Val::Nil) | None => {}
                    Some(_) => scalar_read = true,
                },
                _ => {}
            }
        }
    }
    match (append || list_read, write || scalar_read) {
        (true, true) => Err(TxnError(
            "the history mixes list-append micro-ops (append, list reads) with rw-register ones (w, scalar reads); pass the kind explicitly".into(),
        )),
        (false, true) => Ok(ElleKind::RwRegister),
        _ => Ok(ElleKind::ListAppend),
    }
}

fn mop_error(op_line: usize, index: u64, msg: &str) -> TxnError {
    TxnError(format!("line {op_line} (index {index}): {msg}"))
}

/// Parses one micro-op, given as its elements.
fn parse_mop(
    parts: &[Val],
    kind: ElleKind,
    known: bool,
    keys: &mut Interner,
    elems: &mut Interner,
    line: usize,
    index: u64,
) -> Result<Mop, TxnError> {
    // The micro-op as written, for messages.
    let m = || Val::list(parts.to_vec());
    if parts.len() < 2 || parts.len() > 3 {
        return Err(mop_error(
            line,
            index,
            &format!("micro-op {} must have the form [f, key, value]", m()),
        ));
    }
    let f = parts[0].as_str().ok_or_else(|| {
        mop_error(
            line,
            index,
            &format!("micro-op {}: the function must be a string", m()),
        )
    })?;
    let key = keys.intern(&parts[1]);
    let v = parts.get(2).unwrap_or(&Val::Nil);
    match (f, kind) {
        ("append", ElleKind::ListAppend) => Ok(Mop::Append {
            key,
            elem: elems.intern(v),
        }),
        ("w" | "write", ElleKind::RwRegister) => Ok(Mop::Write {
            key,
            elem: if v.is_null() {
                None
            } else {
                Some(elems.intern(v))
            },
        }),
        ("r" | "read", ElleKind::ListAppend) => {
            let elems = if !known {
                None
            } else {
                match v {
                    Val::Nil => Some(Vec::new()),
                    Val::Ints(..) => Some(
                        v.as_ints()
                            .unwrap_or_default()
                            .iter()
                            .map(|&x| elems.intern(&Val::Int(i64::from(x))))
                            .collect(),
                    ),
                    list if list.is_array() => Some(
                        list.as_array()
                            .unwrap_or_default()
                            .iter()
                            .map(|x| elems.intern(x))
                            .collect(),
                    ),
                    other => {
                        return Err(mop_error(
                            line,
                            index,
                            &format!(
                                "list-append read of key {} returned {other}, not a list",
                                parts[1]
                            ),
                        ))
                    }
                }
            };
            Ok(Mop::ReadList { key, elems })
        }
        ("r" | "read", ElleKind::RwRegister) => Ok(Mop::ReadReg {
            key,
            elem: if !known {
                None
            } else if v.is_null() {
                Some(None)
            } else {
                Some(Some(elems.intern(v)))
            },
        }),
        (f, kind) => Err(mop_error(
            line,
            index,
            &format!(
                "micro-op function {f:?} does not belong to a {} history",
                kind.as_str()
            ),
        )),
    }
}

/// Reads the transactions of a history. Non-`txn` operations and nemesis
/// events are skipped (and counted).
pub fn parse_txns(history: &History, kind: Option<ElleKind>) -> Result<Txns, TxnError> {
    let kind = match kind {
        Some(k) => k,
        None => detect_kind(history)?,
    };
    let mut keys = Interner::default();
    let mut elems = Interner::default();
    let mut txns: Vec<Txn> = Vec::with_capacity(history.ops().len() / 2 + 1);
    let mut pending: HashMap<Process, std::collections::VecDeque<Pending>> = HashMap::new();
    let mut skipped = 0usize;
    for (pos, op) in history.ops().iter().enumerate() {
        if op.process.as_ref().is_some_and(Process::is_nemesis) {
            continue;
        }
        if op.f != "txn" {
            if op.op_type != OpType::Invoke {
                skipped += 1;
            }
            continue;
        }
        match op.op_type {
            OpType::Invoke => {
                if let Some(p) = &op.process {
                    pending.entry(*p).or_default().push_back(Pending { pos });
                }
            }
            t => {
                let inv = op
                    .process
                    .as_ref()
                    .and_then(|p| pending.get_mut(p))
                    .and_then(|q| q.pop_front());
                let status = match t {
                    OpType::Ok => Status::Ok,
                    OpType::Fail => Status::Fail,
                    _ => Status::Info,
                };
                // The completion's value carries read results; an `info`
                // completion's reads are unknown, and when it has no value
                // the invoke's tells what it tried to write.
                let raw_pos = match &inv {
                    Some(i) if status == Status::Info && !op.value.is_array() => i.pos,
                    _ => pos,
                };
                let value = &history.ops()[raw_pos].value;
                let known = status == Status::Ok;
                let mops = parse_mops(
                    value,
                    kind,
                    known,
                    &mut keys,
                    &mut elems,
                    op.line as usize,
                    op.index,
                )?;
                txns.push(Txn {
                    index: op.index,
                    line: op.line as usize,
                    process: op.process,
                    status,
                    invoke_pos: inv.map(|i| i.pos),
                    complete_pos: if status == Status::Info {
                        None
                    } else {
                        Some(pos)
                    },
                    pos,
                    mops,
                    raw_pos,
                });
            }
        }
    }
    let mut rest: Vec<usize> = pending.into_values().flatten().map(|p| p.pos).collect();
    rest.sort_unstable();
    for pos in rest {
        txns.push(unfinished(history, pos, kind, &mut keys, &mut elems)?);
    }
    // Keep transactions in the order they became known (completion, or
    // invoke for unfinished ones) so ids are stable and readable.
    txns.sort_by_key(|t| t.pos);
    Ok(Txns {
        txns,
        keys,
        elems,
        kind,
        skipped,
    })
}

fn parse_mops(
    value: &Val,
    kind: ElleKind,
    known: bool,
    keys: &mut Interner,
    elems: &mut Interner,
    line: usize,
    index: u64,
) -> Result<Vec<Mop>, TxnError> {
    match value {
        Val::Triples(t) => t
            .as_slice()
            .iter()
            .map(|m| parse_mop(m, kind, known, keys, elems, line, index))
            .collect(),
        list if list.is_array() => list
            .as_array()
            .unwrap_or_default()
            .iter()
            .map(|m| {
                let parts = m.as_array().ok_or_else(|| {
                    mop_error(
                        line,
                        index,
                        &format!("micro-op {m} is not a list [f, key, value]"),
                    )
                })?;
                parse_mop(&parts, kind, known, keys, elems, line, index)
            })
            .collect(),
        Val::Nil => Ok(Vec::new()),
        other => Err(mop_error(
            line,
            index,
            &format!("a txn's value must be a list of micro-ops, got {other}"),
        )),
    }
}

fn unfinished(
    history: &History,
    pos: usize,
    kind: ElleKind,
    keys: &mut Interner,
    elems: &mut Interner,
) -> Result<Txn, TxnError> {
    let op = &history.ops()[pos];
    let mops = parse_mops(
        &op.value,
        kind,
        false,
        keys,
        elems,
        op.line as usize,
        op.index,
    )?;
    Ok(Txn {
        index: op.index,
        line: op.line as usize,
        process: op.process,
        status: Status::Info,
        invoke_pos: Some(pos),
        complete_pos: None,
        pos,
        mops,
        raw_pos: pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::History;

    fn hist(text: &str) -> History {
        History::parse_str(text, "t.jsonl", None).unwrap()
    }

    #[test]
    fn pairs_by_process_and_keeps_bare_completions() {
        let h = hist(concat!(
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"r\",\"x\",null]]}\n",
            "{\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]]}\n",
            "{\"process\":0,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"r\",\"x\",[1]]]}\n",
            "{\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",2]]}\n",
            "{\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"start\",\"value\":null}\n",
            "{\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n",
        ));
        let t = parse_txns(&h, None).unwrap();
        assert_eq!(t.kind, ElleKind::ListAppend);
        assert_eq!(t.txns.len(), 3);
        // The bare completion has no invoke; the read is paired; process 1
        // never completed and is info.
        assert_eq!(t.txns[0].invoke_pos, None);
        assert_eq!(t.txns[1].invoke_pos, Some(0));
        assert_eq!(t.txns[1].complete_pos, Some(2));
        assert_eq!(t.txns[2].status, Status::Info);
        assert_eq!(t.txns[2].complete_pos, None);
        assert!(matches!(t.txns[2].mops[0], Mop::Append { .. }));
    }

    #[test]
    fn info_reads_are_unknown() {
        let h = hist(concat!(
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"r\",\"x\",null]]}\n",
            "{\"process\":0,\"type\":\"info\",\"f\":\"txn\",\"value\":[[\"r\",\"x\",[3]]]}\n",
        ));
        let t = parse_txns(&h, None).unwrap();
        assert_eq!(
            t.txns[0].mops[0],
            Mop::ReadList {
                key: 0,
                elems: None
            }
        );
    }

    #[test]
    fn detects_register_and_rejects_mixtures() {
        let h = hist(
            "{\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"write\",\"x\",1],[\"read\",\"y\",2]]}\n",
        );
        assert_eq!(detect_kind(&h), Ok(ElleKind::RwRegister));
        let h = hist(
            "{\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"w\",\"x\",1],[\"append\",\"y\",2]]}\n",
        );
        assert!(detect_kind(&h).unwrap_err().0.contains("mixes"));
        // Forcing a kind that does not fit names the line.
        let h = hist("{\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"w\",\"x\",1]]}\n");
        let e = parse_txns(&h, Some(ElleKind::ListAppend)).err().unwrap();
        assert!(e.0.starts_with("line 1") && e.0.contains("\"w\""), "{e}");
    }

    #[test]
    fn malformed_micro_ops_are_errors_not_panics() {
        for v in [
            "[1]",
            "[[\"r\"]]",
            "[[3,\"x\",1]]",
            "5",
            "[[\"r\",\"x\",7]]",
        ] {
            let h = hist(&format!(
                "{{\"type\":\"ok\",\"f\":\"txn\",\"value\":{v}}}\n"
            ));
            let r = parse_txns(&h, Some(ElleKind::ListAppend));
            assert!(r.is_err(), "{v}");
        }
    }
}
