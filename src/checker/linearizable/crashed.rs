//! The crashed-client search: linearizability of a register (read, write,
//! compare-and-set) whose history has many indeterminate (`info`) writes
//! and cas — clients that crashed or timed out mid-operation.
//!
//! Each crashed write or cas may take effect at any moment after its call,
//! or never. The plain search ([`super::search`]) treats each one as an
//! op of its own and remembers which ones it linearized, so `k` crashed ops
//! in flight give up to `2^k` configurations. This search uses what a
//! crashed register op can do instead. It is exact: it answers
//! "linearizable" exactly when the plain search does (the tests compare the
//! two, and both with brute force, on thousands of crash-heavy histories).
//!
//! **Interchangeable crashed ops are counted, not enumerated.** A crashed
//! op's only constraint is its call: it cannot take effect before it. Two
//! crashed ops with the same effect — `write v`, or `cas a→b` — whose calls
//! are both behind us are indistinguishable for everything that follows.
//! So crashed ops are grouped into *classes* by effect, and a configuration
//! is (the `ok` ops linearized, the register's value, how many ops of each
//! class were used) instead of (…, *which* crashed ops were used). The ops
//! used are taken to be the earliest-called of their class (swapping a
//! used op for an earlier-called unused one of the same class keeps any
//! linearization valid), so at a point where the first pending return is
//! at position `b`, class `k` has `called_k(b) − used_k` ops still
//! available. A configuration that used at most as many ops of every class
//! as one already explored, with the same `ok` ops and value, is
//! dominated: whatever it can do, the one with more ops left can do too
//! (`Memo::counted`).
//!
//! **Crashed ops are linearized lazily, only to explain an observation.**
//! Take any linearization and look at each maximal run of crashed ops in
//! it. A run at the very end can be dropped (nothing follows it). A run
//! just before an `ok` write can be dropped (a write does not look at the
//! value it overwrites). So every run can be assumed to sit just before an
//! `ok` read or cas, and to take the register from the value it had to the
//! value that read or cas needs (`v` for a read of `v`, `a` for a cas
//! `a→b`). A run is then a path in the graph whose edges are the crashed
//! ops (`write u`: any value → `u`; `cas a→b`: `a` → `b`); a path that
//! visits a value twice can be cut short (its cycle uses ops and changes
//! nothing), and everything before the last `write` in it can be cut too
//! (a write forgets what came before). So the search only ever places
//! *chains*: an optional crashed write, then crashed cas, visiting each
//! value once, ending at the value the next `ok` op needs — and none at all
//! when that op already fits. In particular a crashed write or cas whose
//! new value nothing (no read, no cas) observes is never placed: a chain
//! only passes through values that the next op in it observes. The cas
//! case is where care is needed: a crashed cas *does* change the value even
//! when nobody reads its new value, but then the value is overwritten
//! before anyone looks (by the argument above, the run it sits in ends
//! with something that observes), so leaving it out changes nothing that
//! any op sees.
//!
//! **A value nothing can produce again refutes at once.** The search keeps,
//! per value, how many `ok` ops not yet linearized need it (a read of it, a
//! cas from it) and how many ops not yet linearized could still set it (an
//! `ok` write or cas to it, and every unused crashed op to it, whether
//! called yet or not). When some value is needed, cannot be produced any
//! more, and is not the register's value now, no continuation exists: the
//! configuration is dead. A stale read at the end of a long history is
//! refuted by this in a handful of steps instead of by exhausting every
//! combination of crashed ops; the counterexample names that read and says
//! why.
//!
//! **Greedy reads**, as in the plain search: a read that fits the current
//! value is linearized at once and never reconsidered.
//!
//! Everything else is the plain search's machinery: the list of `ok`
//! calls and returns in history order (an `ok` op is a candidate when its
//! call precedes the first pending return), the memo table keyed by the
//! set of linearized `ok` ops and the value, the budget, and the deepest
//! point kept for the counterexample.

use super::memo::{hash_of, Bits, Memo};
use super::search::{
    zobrist, Deepest, Found, Kind, Limits, Lists, Prepared, SearchOutput, CHECK_EVERY, HEAD_A,
    MAX_STATES, TAIL_A,
};
use crate::model::register::RegisterSpec;
use crate::model::{Model, RegisterOp, Val};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

const NONE: u32 = u32::MAX;

/// How many chains one op may be explained by before the search gives up
/// with `unknown` (only reachable with many values linked by many distinct
/// crashed cas: the number of simple paths grows exponentially).
const MAX_CHAINS: usize = 1 << 14;

/// What an operation of the partition does, on interned values.
#[derive(Clone, Copy)]
enum Role {
    Read(u32),
    Write(u32),
    Cas(u32, u32),
    /// A crashed op of this class.
    Crashed(u32),
    /// A crashed op that can change nothing (a cas from a value to itself).
    Inert,
}

/// The partition in the search's terms.
struct Setup {
    vals: Vec<Val>,
    init: u32,
    role: Vec<Role>,
    /// Per class: the value it sets, and the value it needs (`NONE`: a write).
    class_to: Vec<u32>,
    class_from: Vec<u32>,
    /// Per class: call positions, sorted, and the ops in that order.
    class_calls: Vec<Vec<usize>>,
    class_ops: Vec<Vec<u32>>,
    /// Per value: the crashed-write class to it (`NONE`: none), and the
    /// crashed-cas classes into it.
    write_class: Vec<u32>,
    cas_into: Vec<Vec<u32>>,
    /// Per value: the `ok` ops that need it, latest return first.
    needers_of: Vec<Vec<u32>>,
}

impl Setup {
    fn new<const CAS: bool>(model: &RegisterSpec<CAS>, p: &Prepared<RegisterSpec<CAS>>) -> Setup {
        let mut ids: HashMap<Val, u32> = HashMap::new();
        let mut vals: Vec<Val> = Vec::new();
        let mut intern = |v: &Val| -> u32 {
            *ids.entry(v.clone()).or_insert_with(|| {
                vals.push(v.clone());
                (vals.len() - 1) as u32
            })
        };
        let init = intern(&model.init());
        let mut classes: HashMap<(u32, u32), u32> = HashMap::new();
        let mut class_to = Vec::new();
        let mut class_from = Vec::new();
        let mut role = Vec::with_capacity(p.ops.len());
        for (i, op) in p.ops.iter().enumerate() {
            let r = match (p.ok[i], op) {
                (true, RegisterOp::Read(Some(v))) => Role::Read(intern(v)),
                // Reads of unknown values and crashed reads are dropped
                // before the search (`prepare`); nothing else reads.
                (_, RegisterOp::Read(_)) => Role::Inert,
                (true, RegisterOp::Write(v)) => Role::Write(intern(v)),
                (true, RegisterOp::Cas { old, new }) => Role::Cas(intern(old), intern(new)),
                (false, RegisterOp::Cas { old, new }) if old == new => Role::Inert,
                (false, RegisterOp::Write(v)) | (false, RegisterOp::Cas { new: v, .. }) => {
                    let from = match op {
                        RegisterOp::Cas { old, .. } => intern(old),
                        _ => NONE,
                    };
                    let to = intern(v);
                    let k = *classes.entry((from, to)).or_insert_with(|| {
                        class_to.push(to);
                        class_from.push(from);
                        (class_to.len() - 1) as u32
                    });
                    Role::Crashed(k)
                }
            };
            role.push(r);
        }
        let nv = vals.len();
        let nc = class_to.len();
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); nc];
        let mut needers_of: Vec<Vec<u32>> = vec![Vec::new(); nv];
        for (i, r) in role.iter().enumerate() {
            match *r {
                Role::Crashed(k) => members[k as usize].push(i as u32),
                Role::Read(v) | Role::Cas(v, _) => needers_of[v as usize].push(i as u32),
                _ => {}
            }
        }
        for m in &mut members {
            m.sort_by_key(|&i| p.call[i as usize]);
        }
        for n in &mut needers_of {
            n.sort_by_key(|&i| std::cmp::Reverse(p.ret[i as usize]));
        }
        let class_calls = members
            .iter()
            .map(|m| m.iter().map(|&i| p.call[i as usize]).collect())
            .collect();
        let mut write_class = vec![NONE; nv];
        let mut cas_into: Vec<Vec<u32>> = vec![Vec::new(); nv];
        for k in 0..nc {
            if class_from[k] == NONE {
                write_class[class_to[k] as usize] = k as u32;
            } else {
                cas_into[class_to[k] as usize].push(k as u32);
            }
        }
        Setup {
            vals,
            init,
            role,
            class_to,
            class_from,
            class_calls,
            class_ops: members,
            write_class,
            cas_into,
            needers_of,
        }
    }
}

/// Per value: how many pending `ok` ops need it and how many pending ops
/// could still set it; the values that are needed and cannot be set.
struct Supply {
    needers: Vec<u32>,
    producers: Vec<u32>,
    starving: Vec<u32>,
    /// Index of each value in `starving`, or `NONE`.
    at: Vec<u32>,
    /// Values whose starvation does not end a configuration (see
    /// [`search_refined`]).
    exempt: Vec<bool>,
}

impl Supply {
    fn new(s: &Setup) -> Supply {
        let nv = s.vals.len();
        let mut needers = vec![0u32; nv];
        let mut producers = vec![0u32; nv];
        for r in &s.role {
            match *r {
                Role::Read(v) => needers[v as usize] += 1,
                Role::Write(v) => producers[v as usize] += 1,
                Role::Cas(a, b) => {
                    needers[a as usize] += 1;
                    if a != b {
                        producers[b as usize] += 1;
                    }
                }
                Role::Crashed(k) => producers[s.class_to[k as usize] as usize] += 1,
                Role::Inert => {}
            }
        }
        let mut sup = Supply {
            needers,
            producers,
            starving: Vec::new(),
            at: vec![NONE; nv],
            exempt: vec![false; nv],
        };
        for v in 0..nv as u32 {
            sup.refresh(v);
        }
        sup
    }

    fn is_starving(&self, v: u32) -> bool {
        self.needers[v as usize] > 0 && self.producers[v as usize] == 0
    }

    fn refresh(&mut self, v: u32) {
        let now = self.is_starving(v);
        let was = self.at[v as usize] != NONE;
        if now && !was {
            self.at[v as usize] = self.starving.len() as u32;
            self.starving.push(v);
        } else if was && !now {
            let i = self.at[v as usize] as usize;
            self.starving.swap_remove(i);
            if i < self.starving.len() {
                self.at[self.starving[i] as usize] = i as u32;
            }
            self.at[v as usize] = NONE;
        }
    }

    fn need(&mut self, v: u32, add: bool) {
        let n = &mut self.needers[v as usize];
        *n = if add { *n + 1 } else { *n - 1 };
        self.refresh(v);
    }

    fn produce(&mut self, v: u32, add: bool) {
        let n = &mut self.producers[v as usize];
        *n = if add { *n + 1 } else { *n - 1 };
        self.refresh(v);
    }

    /// A value some pending op needs, that nothing can set any more and
    /// that the register does not hold now.
    fn starved(&self, state: u32) -> Option<u32> {
        self.starving
            .iter()
            .copied()
            .find(|&v| v != state && !self.exempt[v as usize])
    }

    /// Linearizing (`done`) or un-linearizing an `ok` op.
    fn ok_op(&mut self, r: Role, done: bool) {
        match r {
            Role::Read(v) => self.need(v, !done),
            Role::Write(v) => self.produce(v, !done),
            Role::Cas(a, b) => {
                self.need(a, !done);
                if a != b {
                    self.produce(b, !done);
                }
            }
            Role::Crashed(_) | Role::Inert => {}
        }
    }
}

/// Used crashed ops per class, dense and as the sorted `[class, count, …]`
/// list the memo stores.
struct Used {
    dense: Vec<u32>,
    sparse: Vec<u32>,
}

impl Used {
    fn add(&mut self, k: u32) {
        self.dense[k as usize] += 1;
        let i = self.find(k);
        if i < self.sparse.len() && self.sparse[i] == k {
            self.sparse[i + 1] += 1;
        } else {
            self.sparse.splice(i..i, [k, 1]);
        }
    }

    fn remove(&mut self, k: u32) {
        self.dense[k as usize] -= 1;
        let i = self.find(k);
        self.sparse[i + 1] -= 1;
        if self.sparse[i + 1] == 0 {
            self.sparse.drain(i..i + 2);
        }
    }

    /// The position of `k`'s pair, or where it would go.
    fn find(&self, k: u32) -> usize {
        let (mut lo, mut hi) = (0, self.sparse.len() / 2);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.sparse[2 * mid] < k {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        2 * lo
    }
}

/// Every chain of available crashed ops taking the register from `from`
/// to `to` (see the module docs), shortest first, as class lists in
/// `out` (`ends[i]` is where chain `i` ends). False when there are more
/// than [`MAX_CHAINS`].
fn chains(
    s: &Setup,
    used: &[u32],
    barrier_pos: usize,
    from: u32,
    to: u32,
    out: &mut Vec<u32>,
    ends: &mut Vec<usize>,
) -> bool {
    out.clear();
    ends.clear();
    let available = |k: u32| {
        let called = s.class_calls[k as usize].partition_point(|&c| c < barrier_pos);
        called > used[k as usize] as usize
    };
    // Backwards from `to`: `path` holds the cas classes from the value
    // reached back to `to`, in reverse.
    struct Walk<'a> {
        s: &'a Setup,
        from: u32,
        path: Vec<u32>,
        on_path: Vec<u32>,
        found: Vec<Vec<u32>>,
    }
    fn visit(w: &mut Walk, at: u32, available: &dyn Fn(u32) -> bool) -> bool {
        if w.found.len() > MAX_CHAINS {
            return false;
        }
        if at == w.from {
            // Starting at the current value: the cas path alone. Going
            // further back would pass through the current value again.
            if !w.path.is_empty() {
                w.found.push(w.path.iter().rev().copied().collect());
            }
            return true;
        }
        let wk = w.s.write_class[at as usize];
        if wk != NONE && available(wk) {
            let mut c = vec![wk];
            c.extend(w.path.iter().rev());
            w.found.push(c);
        }
        for i in 0..w.s.cas_into[at as usize].len() {
            let k = w.s.cas_into[at as usize][i];
            let prev = w.s.class_from[k as usize];
            if w.on_path.contains(&prev) || !available(k) {
                continue;
            }
            w.path.push(k);
            w.on_path.push(prev);
            let more = visit(w, prev, available);
            w.path.pop();
            w.on_path.pop();
            if !more {
                return false;
            }
        }
        true
    }
    let mut w = Walk {
        s,
        from,
        path: Vec::new(),
        on_path: vec![to],
        found: Vec::new(),
    };
    if !visit(&mut w, to, &available) {
        return false;
    }
    w.found.sort_by_key(Vec::len);
    for c in w.found {
        out.extend(c);
        ends.push(out.len());
    }
    true
}

/// A frame of the search stack: one `ok` op, with the chain before it.
struct Frame {
    op: u32,
    /// Which chain (index into this level's chains) was used.
    alt: u32,
    /// Whether it was tried in the second pass (ops that need a chain).
    second: bool,
    before: u32,
    barrier: u32,
    /// A read placed greedily: backing up past it tries no alternatives.
    forced: bool,
    /// This frame's chain is `chain[chain_start..]` up to the next frame's.
    chain_start: usize,
}

/// The first return entry in list A (`TAIL_A` if none).
fn first_return(lists: &Lists) -> u32 {
    let mut n = lists.next[HEAD_A as usize];
    while lists.kind[n as usize] == Kind::Call {
        n = lists.next[n as usize];
    }
    n
}

/// Searches a register partition for a linearization. States in the
/// answer are register values.
pub(super) fn search<const CAS: bool>(
    model: &RegisterSpec<CAS>,
    p: &Prepared<RegisterSpec<CAS>>,
    limits: &Limits,
) -> SearchOutput<Val> {
    search_with(model, p, limits, None)
}

/// The search again, for a better counterexample, after [`search`]
/// refuted the partition at the start because some `ok` op needs a value
/// that nothing ever sets (a read of a value no operation wrote).
///
/// That refutation is certain but says nothing about how far a
/// linearization gets: it names the op with an empty prefix. Knossos (and
/// a reader) wants the first return no linearization can get past, and the
/// longest prefix before it. So this search does not let the values that
/// nothing ever sets end a configuration: an op needing one simply cannot
/// be linearized, and the search runs until a return it cannot get past.
/// With `Starvation::Ignored`, no starved value ends a configuration
/// either (values that could be set once but no longer): every
/// configuration runs to its true dead end, as in the plain search, so the
/// deepest point is exact, at the cost of the pruning that makes long
/// crash-heavy histories fast. With `Starvation::Prunes`, other starved
/// values still prune, and a configuration they end counts as reaching the
/// first return of an op that needs the value. The verdict cannot change
/// either way; only the counterexample does. The caller bounds both.
pub(super) fn search_refined<const CAS: bool>(
    model: &RegisterSpec<CAS>,
    p: &Prepared<RegisterSpec<CAS>>,
    limits: &Limits,
    starvation: Starvation,
) -> SearchOutput<Val> {
    search_with(model, p, limits, Some(starvation))
}

/// How [`search_refined`] treats values that could once be set but no
/// longer can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Starvation {
    /// They end a configuration, as in [`search`].
    Prunes,
    /// They do not: every configuration runs to its true dead end.
    Ignored,
}

fn search_with<const CAS: bool>(
    model: &RegisterSpec<CAS>,
    p: &Prepared<RegisterSpec<CAS>>,
    limits: &Limits,
    refine: Option<Starvation>,
) -> SearchOutput<Val> {
    let s = Setup::new(model, p);
    let n = p.ops.len();
    let total_ok = p.ok.iter().filter(|&&o| o).count();
    let mut lists = Lists::build(p);
    let zob = zobrist(n);
    let mut slot = vec![u32::MAX; n];
    let mut next_slot = 0u32;
    for (i, sl) in slot.iter_mut().enumerate() {
        if p.ok[i] {
            *sl = next_slot;
            next_slot += 1;
        }
    }
    let mut bits = Bits::new(total_ok);
    let mut lin = vec![false; n];
    let mut set_hash = 0u64;
    let mut encoded: Vec<u64> = Vec::with_capacity(total_ok / 64 + 2);
    let mut memo: Memo<u32> = Memo::counted();
    let mut supply = Supply::new(&s);
    // When refining: no configuration gets past the first return of an op
    // needing a value nothing ever sets, so a dead end there is as deep as
    // any, and the search can stop at the first one.
    let mut wall = usize::MAX;
    if let Some(starvation) = refine {
        for i in 0..supply.starving.len() {
            let v = supply.starving[i];
            if v != s.init {
                supply.exempt[v as usize] = true;
                for &o in &s.needers_of[v as usize] {
                    wall = wall.min(p.ret[o as usize]);
                }
            }
        }
        if starvation == Starvation::Ignored {
            supply.exempt.fill(true);
        }
    }
    let mut used = Used {
        dense: vec![0; s.class_to.len()],
        sparse: Vec::new(),
    };
    let mut stack: Vec<Frame> = Vec::new();
    // The crashed ops of every frame's chain, in order (classes and ops).
    let mut chain_classes: Vec<u32> = Vec::new();
    let mut chain_ops: Vec<u32> = Vec::new();
    let mut state = s.init;
    let mut ok_done = 0usize;
    let (mut cbuf, mut cends) = (Vec::new(), Vec::new());

    // The deepest point: (return position, ops in the prefix), the op, the
    // prefix, the states, and why (when a starved value ended it).
    let mut best_key: Option<(usize, usize)> = None;
    let mut best_op = 0u32;
    let mut best_prefix: Vec<u32> = Vec::new();
    let mut best_states: Vec<u32> = Vec::new();
    let mut best_starved: Option<u32> = None;

    let mut memory_reported = 0usize;
    let memory_limit = limits.budget.memory_bytes;
    let release = |reported: usize| {
        limits.memory_in_use.fetch_sub(reported, Ordering::Relaxed);
    };
    let flatten = |stack: &[Frame], chain_ops: &[u32]| -> Vec<u32> {
        let mut order = Vec::with_capacity(stack.len() + chain_ops.len());
        for (i, f) in stack.iter().enumerate() {
            let end = stack.get(i + 1).map_or(chain_ops.len(), |g| g.chain_start);
            order.extend_from_slice(&chain_ops[f.chain_start..end]);
            order.push(f.op);
        }
        order
    };
    let finish = |found: Found<u32>, memo: &Memo<u32>, reported: usize| {
        release(reported);
        let found = match found {
            Found::Linearizable(o) => Found::Linearizable(o),
            Found::Unknown(w) => Found::Unknown(w),
            Found::NotLinearizable(d) => Found::NotLinearizable(Deepest {
                blocked: d.blocked,
                prefix: d.prefix,
                states: d
                    .states
                    .iter()
                    .map(|&v| s.vals[v as usize].clone())
                    .collect(),
                why: d.why,
            }),
        };
        SearchOutput {
            found,
            states: memo.len(),
        }
    };
    let why_starved = |v: u32| {
        format!(
            "no operation left could make the register {} again",
            s.vals[v as usize]
        )
    };

    if let Some(v) = supply.starved(state) {
        // Needed, never produced, not the initial value. Name the needer
        // that returns first: no linearization gets past its return.
        let op = *s.needers_of[v as usize]
            .last()
            .expect("a starving value has needers");
        return finish(
            Found::NotLinearizable(Deepest {
                blocked: op,
                prefix: Vec::new(),
                states: vec![state],
                why: Some(why_starved(v)),
            }),
            &memo,
            0,
        );
    }

    let mut barrier = first_return(&lists);
    let mut cur = lists.next[HEAD_A as usize];
    let mut alt = 0u32;
    // Each level tries the ops that fit the current value first, then
    // those that need a chain of crashed ops: the same candidates in
    // another order, so crashed ops are only spent when nothing else moves.
    let mut second = false;
    let mut turns = 0u64;

    'search: loop {
        if ok_done == total_ok {
            let order = flatten(&stack, &chain_ops);
            return finish(Found::Linearizable(order), &memo, memory_reported);
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
                return finish(Found::Unknown(why), &memo, memory_reported);
            }
        }

        // Set when this configuration is known dead without trying the
        // rest of its candidates.
        let mut dead = false;
        if cur == barrier && !second {
            second = true;
            cur = lists.next[HEAD_A as usize];
            alt = 0;
            continue;
        }
        if cur != barrier {
            let x = lists.op[cur as usize];
            let role = s.role[x as usize];
            let (need, after) = match role {
                Role::Read(v) => (v, v),
                Role::Write(v) => (NONE, v),
                Role::Cas(a, b) => (a, b),
                Role::Crashed(_) | Role::Inert => unreachable!("only ok ops are in list A"),
            };
            let fits = need == NONE || need == state;
            if fits == second {
                cur = lists.next[cur as usize];
                alt = 0;
                continue;
            }
            // The chain for alternative `alt`, as a range of `cbuf`.
            let chain = if fits {
                (alt == 0).then_some((0, 0))
            } else {
                if !chains(
                    &s,
                    &used.dense,
                    lists.pos[barrier as usize],
                    state,
                    need,
                    &mut cbuf,
                    &mut cends,
                ) {
                    return finish(
                        Found::Unknown(format!(
                            "more than {MAX_CHAINS} ways for crashed operations to reach one value"
                        )),
                        &memo,
                        memory_reported,
                    );
                }
                let a = alt as usize;
                (a < cends.len()).then(|| (if a == 0 { 0 } else { cends[a - 1] }, cends[a]))
            };
            let Some((c0, c1)) = chain else {
                cur = lists.next[cur as usize];
                alt = 0;
                continue;
            };
            // Apply the chain, then the op.
            let chain_start = chain_ops.len();
            for &k in &cbuf[c0..c1] {
                chain_ops.push(s.class_ops[k as usize][used.dense[k as usize] as usize]);
                chain_classes.push(k);
                used.add(k);
                supply.produce(s.class_to[k as usize], false);
            }
            supply.ok_op(role, true);
            bits.set(slot[x as usize]);
            let h = set_hash ^ zob[x as usize];
            bits.encode(&mut encoded);
            let inserted = memo.insert(h ^ hash_of(&after), &encoded, &after, &used.sparse, |_| 0);
            let starved = if inserted {
                supply.starved(after)
            } else {
                None
            };
            if inserted && starved.is_none() {
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
                        return finish(
                            Found::Unknown(format!(
                                "memory limit of {} MiB reached after {} states",
                                memory_limit >> 20,
                                memo.len()
                            )),
                            &memo,
                            memory_reported,
                        );
                    }
                }
                set_hash = h;
                stack.push(Frame {
                    op: x,
                    alt,
                    second,
                    before: state,
                    barrier,
                    forced: fits && matches!(role, Role::Read(_)),
                    chain_start,
                });
                state = after;
                lists.lift(x);
                lin[x as usize] = true;
                ok_done += 1;
                barrier = first_return(&lists);
                cur = lists.next[HEAD_A as usize];
                alt = 0;
                second = false;
                continue;
            }
            if let Some(v) = starved {
                // Record the starved op as the deepest point, with the
                // prefix that starved it.
                // The pending needer that returns first: no continuation
                // gets past its return.
                let needer = s.needers_of[v as usize]
                    .iter()
                    .rev()
                    .copied()
                    .find(|&o| !lin[o as usize] && o != x);
                if let Some(needer) = needer {
                    let depth = stack.len() + chain_ops.len() + 1;
                    let key = (p.ret[needer as usize], depth);
                    if best_key.is_none_or(|k| key > k) {
                        best_key = Some(key);
                        best_op = needer;
                        best_prefix = flatten(&stack, &chain_ops[..chain_start]);
                        best_prefix.extend_from_slice(&chain_ops[chain_start..]);
                        best_prefix.push(x);
                        best_states = vec![after];
                        best_starved = Some(v);
                    }
                }
            }
            // Undo.
            supply.ok_op(role, false);
            bits.clear(slot[x as usize]);
            while chain_ops.len() > chain_start {
                chain_ops.pop();
                if let Some(k) = chain_classes.pop() {
                    used.remove(k);
                    supply.produce(s.class_to[k as usize], true);
                }
            }
            if fits && matches!(role, Role::Read(_)) {
                // A read that fits can always go first: if going first
                // leads nowhere (or was explored), nothing here does.
                dead = true;
            } else {
                alt += 1;
                continue;
            }
        }

        // Nothing more to try at this level: the op returning at `barrier`
        // cannot be linearized after this prefix.
        if barrier != TAIL_A && !dead {
            let depth = stack.len() + chain_ops.len();
            let key = (lists.pos[barrier as usize], depth);
            if best_key.is_none_or(|k| key > k) {
                best_key = Some(key);
                best_op = lists.op[barrier as usize];
                best_prefix = flatten(&stack, &chain_ops);
                best_states = vec![state];
                best_starved = None;
            } else if best_key == Some(key)
                && best_starved.is_none()
                && best_states.len() < MAX_STATES
                && !best_states.contains(&state)
            {
                best_states.push(state);
            }
            if lists.pos[barrier as usize] >= wall {
                // No linearization gets past this return: refuted.
                break 'search;
            }
        }
        loop {
            let Some(frame) = stack.pop() else {
                // Every alternative tried: refuted.
                break 'search;
            };
            let x = frame.op;
            state = frame.before;
            barrier = frame.barrier;
            lists.unlift(x);
            lin[x as usize] = false;
            bits.clear(slot[x as usize]);
            set_hash ^= zob[x as usize];
            ok_done -= 1;
            supply.ok_op(s.role[x as usize], false);
            while chain_ops.len() > frame.chain_start {
                chain_ops.pop();
                if let Some(k) = chain_classes.pop() {
                    used.remove(k);
                    supply.produce(s.class_to[k as usize], true);
                }
            }
            if frame.forced {
                continue;
            }
            cur = lists.call_node[x as usize];
            alt = frame.alt + 1;
            second = frame.second;
            break;
        }
    }
    finish(
        Found::NotLinearizable(Deepest {
            blocked: best_op,
            prefix: best_prefix,
            states: best_states,
            why: best_starved.map(why_starved),
        }),
        &memo,
        memory_reported,
    )
}
