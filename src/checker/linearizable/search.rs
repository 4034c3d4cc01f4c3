//! The search for a linearization: Wing & Gong's algorithm with Lowe's
//! memoisation, the algorithm Porcupine also uses, written for this crate.
//!
//! Each operation becomes a *call* entry at its invoke's position and, if
//! it returned (`ok`), a *return* entry at its completion's position. The
//! entries sit in a doubly-linked list in history order. At any point the
//! operations that may be linearized next are those whose call comes
//! before the first return still in the list: an operation cannot take
//! effect after some other operation has visibly returned unless it was
//! already running. Linearizing an operation removes its entries from the
//! list (in O(1), and they are put back in O(1) when the search backs up,
//! like Knuth's dancing links); reaching a return entry means the
//! operation that returned there could not be placed, so the search backs
//! up and tries the next candidate.
//!
//! Indeterminate (`info`) operations never returned: they may take effect
//! at any point after their call, or never. They get a call entry only,
//! kept in a second list, and the search succeeds as soon as every `ok`
//! operation is linearized. Candidates are tried `ok` first, then `info`
//! (both in call order), so an indeterminate write is only placed when
//! something needs it; this changes the order of the search, not the set
//! of configurations it can reach, so the answer is the same.
//!
//! Four prunings keep the search small; each drops only configurations
//! whose success would imply the success of one the search does explore
//! (the brute-force comparison in the tests checks this on many thousands
//! of small histories):
//!
//! - *greedy reads*: a read that fits the current state is linearized at
//!   once and never reconsidered (moving a read to the front of any valid
//!   continuation keeps it valid);
//! - *fewer indeterminate ops dominate*: a configuration is skipped when
//!   the same `ok` ops and state were reached with a subset of its
//!   indeterminate ops (see `Memo::insert`);
//! - *useless indeterminate ops*: one is linearized only if some candidate
//!   could follow it and end in a state it would not reach without it;
//! - *growth*: for models whose state only grows (kv appends, set adds), a
//!   configuration dies as soon as a pending or upcoming read could never
//!   be satisfied (see `Model::may_satisfy`).
//!
//! The search keeps, for the counterexample, the deepest point it reached:
//! the operation whose return it could not get past (latest in the
//! history, then with the longest prefix), that prefix, and the model
//! states at its end.

use super::memo::{hash_of, mix, Bits, Memo};
use crate::checker::Budget;
use crate::history::{Operation, Outcome};
use crate::model::Model;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A partition's operations in the model's form, ready to search.
pub(crate) struct Prepared<M: Model> {
    pub ops: Vec<M::Op>,
    /// For each searched op, its index in the caller's operation slice.
    pub origin: Vec<usize>,
    /// Whether the op returned `ok` (otherwise it is indeterminate).
    pub ok: Vec<bool>,
    pub call: Vec<usize>,
    /// Return position; `usize::MAX` for indeterminate ops.
    pub ret: Vec<usize>,
    /// Whether the op never changes the state (a read).
    pub read_only: Vec<bool>,
    /// The ops that are resets for [`Model::may_satisfy`], in call order.
    pub resets: Vec<u32>,
    /// The `ok` read-only ops, in call order.
    pub reads: Vec<u32>,
    /// Whether the op's outcome is independent of the state.
    pub blind: Vec<bool>,
    /// Ops left out: failed, indeterminate reads, reads of unknown values.
    pub dropped: usize,
}

/// Converts the members of one partition into model ops, leaving out those
/// that cannot matter. An error carries the index of the op that does not
/// fit the model and what the model expected.
pub(crate) fn prepare<M: Model>(
    model: &M,
    all: &[Operation],
    members: &[usize],
) -> Result<Prepared<M>, (usize, String)> {
    let mut p = Prepared {
        ops: Vec::with_capacity(members.len()),
        origin: Vec::with_capacity(members.len()),
        ok: Vec::with_capacity(members.len()),
        call: Vec::with_capacity(members.len()),
        ret: Vec::with_capacity(members.len()),
        read_only: Vec::with_capacity(members.len()),
        resets: Vec::new(),
        reads: Vec::new(),
        blind: Vec::with_capacity(members.len()),
        dropped: 0,
    };
    for &i in members {
        let op = &all[i];
        if op.outcome == Outcome::Fail {
            p.dropped += 1;
            continue;
        }
        let m = model.parse(op).map_err(|e| (i, e))?;
        let ok = op.outcome == Outcome::Ok && op.complete().is_some();
        if (!ok && model.is_read_only(&m)) || model.is_noop(&m) {
            p.dropped += 1;
            continue;
        }
        p.read_only.push(model.is_read_only(&m));
        p.blind.push(model.is_blind(&m));
        if model.is_reset(&m) {
            p.resets.push(p.ops.len() as u32);
        }
        if ok && model.is_read_only(&m) {
            p.reads.push(p.ops.len() as u32);
        }
        p.ops.push(m);
        p.origin.push(i);
        p.ok.push(ok);
        p.call.push(op.call());
        p.ret.push(if ok { op.ret() } else { usize::MAX });
    }
    Ok(p)
}

/// Why the search stopped without an answer, or what it found.
pub(crate) enum Found<S> {
    /// The ops (indices into `Prepared`) in linearization order.
    Linearizable(Vec<u32>),
    NotLinearizable(Deepest<S>),
    /// Budget ran out; the reason in words.
    Unknown(String),
}

/// The deepest point the search reached.
pub(crate) struct Deepest<S> {
    /// The op whose return could not be passed.
    pub blocked: u32,
    /// The longest linearizable prefix found before it, in order.
    pub prefix: Vec<u32>,
    /// Model states at the end of prefixes of that length (at most a few).
    pub states: Vec<S>,
    /// Why the blocked op cannot follow, when the search knows more than
    /// "nothing it tried worked".
    pub why: Option<String>,
}

/// What stops a search early: the budget, a sibling that already failed,
/// and the memory all partitions share.
pub(crate) struct Limits<'a> {
    pub budget: &'a Budget,
    pub sibling_failed: &'a AtomicBool,
    pub memory_in_use: &'a AtomicUsize,
}

pub(crate) struct SearchOutput<S> {
    pub found: Found<S>,
    /// Configurations in the memo table at the end.
    pub states: usize,
}

pub(super) const HEAD_A: u32 = 0;
pub(super) const TAIL_A: u32 = 1;
const HEAD_B: u32 = 2;
const TAIL_B: u32 = 3;
const FIRST_ENTRY: u32 = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Sentinel,
    /// Call of an op that returned `ok` (list A).
    Call,
    /// Return of an `ok` op (list A).
    Return,
    /// Call of an indeterminate op (list B).
    InfoCall,
}

/// The two entry lists, as arrays of links.
pub(super) struct Lists {
    pub next: Vec<u32>,
    prev: Vec<u32>,
    pub kind: Vec<Kind>,
    pub op: Vec<u32>,
    pub pos: Vec<usize>,
    pub call_node: Vec<u32>,
    ret_node: Vec<u32>,
}

impl Lists {
    pub fn build<M: Model>(p: &Prepared<M>) -> Lists {
        let n = p.ops.len();
        let mut a: Vec<(usize, Kind, u32)> = Vec::with_capacity(2 * n);
        let mut b: Vec<(usize, Kind, u32)> = Vec::new();
        for i in 0..n {
            if p.ok[i] {
                a.push((p.call[i], Kind::Call, i as u32));
                a.push((p.ret[i], Kind::Return, i as u32));
            } else {
                b.push((p.call[i], Kind::InfoCall, i as u32));
            }
        }
        // Positions are distinct history indices; calls of an op precede its return.
        a.sort_unstable_by_key(|e| (e.0, e.1 == Kind::Return));
        b.sort_unstable_by_key(|e| e.0);
        let total = FIRST_ENTRY as usize + a.len() + b.len();
        let mut l = Lists {
            next: vec![0; total],
            prev: vec![0; total],
            kind: vec![Kind::Sentinel; total],
            op: vec![0; total],
            pos: vec![0; total],
            call_node: vec![0; n],
            ret_node: vec![u32::MAX; n],
        };
        l.pos[TAIL_A as usize] = usize::MAX;
        l.pos[TAIL_B as usize] = usize::MAX;
        let mut node = FIRST_ENTRY;
        for (head, tail, entries) in [(HEAD_A, TAIL_A, &a), (HEAD_B, TAIL_B, &b)] {
            let mut last = head;
            for &(pos, kind, op) in entries.iter() {
                let i = node as usize;
                l.kind[i] = kind;
                l.op[i] = op;
                l.pos[i] = pos;
                if kind == Kind::Return {
                    l.ret_node[op as usize] = node;
                } else {
                    l.call_node[op as usize] = node;
                }
                l.prev[i] = last;
                l.next[last as usize] = node;
                last = node;
                node += 1;
            }
            l.next[last as usize] = tail;
            l.prev[tail as usize] = last;
        }
        l
    }

    #[inline]
    fn unlink(&mut self, n: u32) {
        let (p, x) = (self.prev[n as usize], self.next[n as usize]);
        self.next[p as usize] = x;
        self.prev[x as usize] = p;
    }

    #[inline]
    fn relink(&mut self, n: u32) {
        let (p, x) = (self.prev[n as usize], self.next[n as usize]);
        self.next[p as usize] = n;
        self.prev[x as usize] = n;
    }

    /// Takes an op's entries out (it is linearized).
    #[inline]
    pub fn lift(&mut self, op: u32) {
        self.unlink(self.call_node[op as usize]);
        let r = self.ret_node[op as usize];
        if r != u32::MAX {
            self.unlink(r);
        }
    }

    /// Puts them back, in the reverse order.
    #[inline]
    pub fn unlift(&mut self, op: u32) {
        let r = self.ret_node[op as usize];
        if r != u32::MAX {
            self.relink(r);
        }
        self.relink(self.call_node[op as usize]);
    }
}

/// Per-op Zobrist keys: fixed pseudo-random words (splitmix64).
pub(super) fn zobrist(n: usize) -> Vec<u64> {
    (0..n as u64)
        .map(|i| mix(i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect()
}

/// A frame of the search stack.
struct Frame<S> {
    op: u32,
    /// The state before this op.
    before: S,
    /// For an indeterminate op: the first return entry at its level.
    barrier: u32,
    /// A read placed greedily: backing up past it tries no alternatives.
    forced: bool,
}

/// For models whose state only grows (see [`Model::may_satisfy`]): true
/// when some read not yet linearized can never be satisfied, because no
/// reset can happen before it returns and growing the state cannot reach
/// what it read. Reads are looked at from the earliest pending call on, a
/// bounded number of them: a read that has not been called yet constrains
/// the state just as well (it must be linearized some day, and the state
/// can only grow until then).
fn growth_dead<M: Model>(
    model: &M,
    p: &Prepared<M>,
    lists: &Lists,
    lin: &[bool],
    state: &M::State,
) -> bool {
    const READS_CHECKED: usize = 12;
    let linearized = |op: u32| lin[op as usize];
    let first_reset = p
        .resets
        .iter()
        .find(|&&r| !linearized(r))
        .map_or(usize::MAX, |&r| p.call[r as usize]);
    // Every ok op called before the head of list A is linearized.
    let head = lists.pos[lists.next[HEAD_A as usize] as usize];
    let start = p.reads.partition_point(|&r| p.call[r as usize] < head);
    let mut checked = 0;
    for &r in &p.reads[start..] {
        let i = r as usize;
        if p.call[i] > first_reset || checked == READS_CHECKED {
            break;
        }
        if linearized(r) {
            continue;
        }
        checked += 1;
        if p.ret[i] < first_reset && !model.may_satisfy(state, &p.ops[i]) {
            return true;
        }
    }
    false
}

/// Whether linearizing the indeterminate op `x` (taking `before` to
/// `after`) could be of use: some candidate could follow it and end in a
/// state it would not reach without it. If none can, every continuation
/// through `x` is pruned one level down (an op after a useless
/// indeterminate op is tried without it), so `x` is skipped at once.
/// Linearizing `x` leaves list A and the barrier as they are, so the
/// candidates after it are this level's candidates, less `x`.
fn info_enables<M: Model>(
    model: &M,
    p: &Prepared<M>,
    lists: &Lists,
    barrier: u32,
    x: u32,
    before: &M::State,
    after: &M::State,
) -> bool {
    let differs = |y: u32| {
        if p.blind[y as usize] {
            return false;
        }
        let op = &p.ops[y as usize];
        match model.step(after, op) {
            None => false,
            Some(with) => model.step(before, op).is_none_or(|without| without != with),
        }
    };
    let mut n = lists.next[HEAD_A as usize];
    while lists.kind[n as usize] == Kind::Call {
        if differs(lists.op[n as usize]) {
            return true;
        }
        n = lists.next[n as usize];
    }
    let limit = lists.pos[barrier as usize];
    let mut n = lists.next[HEAD_B as usize];
    while lists.kind[n as usize] == Kind::InfoCall && lists.pos[n as usize] < limit {
        let y = lists.op[n as usize];
        if y != x && differs(y) {
            return true;
        }
        n = lists.next[n as usize];
    }
    false
}

/// How many loop turns between budget checks.
pub(super) const CHECK_EVERY: u64 = 1 << 12;
/// How many distinct states to keep for the counterexample.
pub(super) const MAX_STATES: usize = 6;

/// Searches for a linearization of `p`.
pub(crate) fn search<M: Model>(
    model: &M,
    p: &Prepared<M>,
    limits: &Limits,
) -> SearchOutput<M::State> {
    let n = p.ops.len();
    let total_ok = p.ok.iter().filter(|&&o| o).count();
    let mut lists = Lists::build(p);
    let zob = zobrist(n);
    // `ok` ops get dense slots in the bitset; indeterminate ops linearized
    // are kept as a sorted set beside it (see `Memo::insert`).
    let mut slot = vec![u32::MAX; n];
    let mut next_slot = 0u32;
    for (i, s) in slot.iter_mut().enumerate() {
        if p.ok[i] {
            *s = next_slot;
            next_slot += 1;
        }
    }
    let mut bits = Bits::new(total_ok);
    let mut info_set: Vec<u32> = Vec::new();
    let mut lin = vec![false; n];
    let mut set_hash = 0u64;
    let mut encoded: Vec<u64> = Vec::with_capacity(total_ok / 64 + 2);
    let mut memo: Memo<M::State> = Memo::new();
    let mut stack: Vec<Frame<M::State>> = Vec::new();
    let mut state = model.init();
    let mut ok_done = 0usize;

    // The deepest point: (return position, depth), the blocked op, the
    // prefix (kept incrementally: entries below `low` are unchanged since
    // the last snapshot), and states.
    let mut best_key: Option<(usize, usize)> = None;
    let mut best_op = 0u32;
    let mut best_prefix: Vec<u32> = Vec::new();
    let mut best_states: Vec<M::State> = Vec::new();
    let mut low = 0usize;

    let mut memory_reported = 0usize;
    let memory_limit = limits.budget.memory_bytes;
    let release_memory = |reported: usize| {
        limits.memory_in_use.fetch_sub(reported, Ordering::Relaxed);
    };

    let grows = model.grows() && p.read_only.iter().any(|&r| r);
    let mut cur = lists.next[HEAD_A as usize];
    // The first return entry in list A at the current level, once seen.
    let mut barrier = TAIL_A;
    let mut turns = 0u64;

    loop {
        if ok_done == total_ok {
            release_memory(memory_reported);
            return SearchOutput {
                found: Found::Linearizable(stack.iter().map(|f| f.op).collect()),
                states: memo.len(),
            };
        }
        turns += 1;
        if turns.is_multiple_of(CHECK_EVERY) {
            let why = if limits.sibling_failed.load(Ordering::Relaxed) {
                Some("cancelled: another key is already not linearizable".to_string())
            } else if limits.budget.cancel.load(Ordering::Relaxed) {
                Some(format!("cancelled after {} states", memo.len()))
            } else if limits.budget.exhausted() {
                Some(format!("time limit reached after {} states", memo.len()))
            } else {
                None
            };
            if let Some(why) = why {
                release_memory(memory_reported);
                return SearchOutput {
                    found: Found::Unknown(why),
                    states: memo.len(),
                };
            }
        }

        let kind = lists.kind[cur as usize];
        let in_b_exhausted = match kind {
            Kind::InfoCall => lists.pos[cur as usize] > lists.pos[barrier as usize],
            Kind::Sentinel => cur == TAIL_B,
            _ => false,
        };
        if kind == Kind::Return || (kind == Kind::Sentinel && cur == TAIL_A) {
            // Every ok candidate at this level is tried; now the info ones.
            barrier = cur;
            cur = lists.next[HEAD_B as usize];
            continue;
        }
        // Set when the current configuration is known dead without
        // trying its remaining candidates.
        let mut dead = false;
        if !in_b_exhausted {
            // A call entry: try to linearize its op here.
            let op = lists.op[cur as usize];
            let read_only = p.read_only[op as usize];
            let is_ok = p.ok[op as usize];
            let mut next = model.step(&state, &p.ops[op as usize]);
            if !is_ok {
                // An indeterminate op that changes nothing need not happen.
                next = next.filter(|after| *after != state);
            }
            if !is_ok {
                // Pointless unless some op could use it next (see below).
                next =
                    next.filter(|after| info_enables(model, p, &lists, barrier, op, &state, after));
            }
            if let Some(top) = stack.last().filter(|f| !p.ok[f.op as usize]) {
                // Right after an indeterminate op: if this op reaches the
                // same state without it, the indeterminate op was useless
                // here; the parent configuration tries this op directly and
                // keeps the indeterminate one for later.
                if next.is_some() && model.step(&top.before, &p.ops[op as usize]) == next {
                    next = None;
                }
            }
            if let Some(after) = next {
                let h = if is_ok {
                    bits.set(slot[op as usize]);
                    set_hash ^ zob[op as usize]
                } else {
                    let at = info_set.partition_point(|&x| x < op);
                    info_set.insert(at, op);
                    set_hash
                };
                bits.encode(&mut encoded);
                let full = h ^ hash_of(&after);
                if memo.insert(full, &encoded, &after, &info_set, |s| {
                    model.state_heap_bytes(s)
                }) {
                    if memo.len().is_multiple_of(1024) || memo.full() {
                        let now = memo.bytes_after_growth();
                        if now > memory_reported {
                            limits
                                .memory_in_use
                                .fetch_add(now - memory_reported, Ordering::Relaxed);
                        } else {
                            limits
                                .memory_in_use
                                .fetch_sub(memory_reported - now, Ordering::Relaxed);
                        }
                        memory_reported = now;
                        if limits.memory_in_use.load(Ordering::Relaxed) > memory_limit {
                            release_memory(memory_reported);
                            return SearchOutput {
                                found: Found::Unknown(format!(
                                    "memory limit of {} MiB reached after {} states",
                                    memory_limit >> 20,
                                    memo.len()
                                )),
                                states: memo.len(),
                            };
                        }
                    }
                    set_hash = h;
                    let before = std::mem::replace(&mut state, after);
                    stack.push(Frame {
                        op,
                        before,
                        barrier,
                        forced: read_only,
                    });
                    lists.lift(op);
                    lin[op as usize] = true;
                    if is_ok {
                        ok_done += 1;
                    }
                    barrier = TAIL_A;
                    if !(grows && growth_dead(model, p, &lists, &lin, &state)) {
                        cur = lists.next[HEAD_A as usize];
                        continue;
                    }
                    // The new configuration can never satisfy a pending read.
                    dead = true;
                } else {
                    if is_ok {
                        bits.clear(slot[op as usize]);
                    } else {
                        info_set.retain(|&x| x != op);
                    }
                    // A read that fits the state can always go first (nothing
                    // that must precede it is pending, and it changes nothing),
                    // so if that configuration is already explored, this one
                    // is dead too.
                    dead = read_only;
                }
            }
            if !dead {
                cur = lists.next[cur as usize];
                continue;
            }
        }

        // Nothing more to try at this level: the op returning at `barrier`
        // cannot be linearized after this prefix. Remember the deepest such
        // point, then back up.
        if barrier != TAIL_A && !dead {
            let key = (lists.pos[barrier as usize], stack.len());
            if best_key.is_none_or(|k| key > k) {
                best_key = Some(key);
                best_op = lists.op[barrier as usize];
                best_prefix.truncate(low);
                best_prefix.extend(stack[low..].iter().map(|f| f.op));
                low = stack.len();
                best_states.clear();
                best_states.push(state.clone());
            } else if best_key == Some(key)
                && best_states.len() < MAX_STATES
                && !best_states.contains(&state)
            {
                best_states.push(state.clone());
            }
        }
        loop {
            let Some(frame) = stack.pop() else {
                release_memory(memory_reported);
                return SearchOutput {
                    found: Found::NotLinearizable(Deepest {
                        blocked: best_op,
                        prefix: best_prefix,
                        states: best_states,
                        why: None,
                    }),
                    states: memo.len(),
                };
            };
            low = low.min(stack.len());
            let op = frame.op;
            state = frame.before;
            lists.unlift(op);
            lin[op as usize] = false;
            if p.ok[op as usize] {
                let k = slot[op as usize];
                bits.clear(k);
                set_hash ^= zob[op as usize];
                ok_done -= 1;
            } else {
                info_set.retain(|&x| x != op);
                barrier = frame.barrier;
            }
            if frame.forced {
                // The level below a greedy read is dead as a whole.
                continue;
            }
            cur = lists.next[lists.call_node[op as usize] as usize];
            break;
        }
    }
}
