//! The memo table of Lowe's improvement to Wing & Gong: the set of
//! (linearized ops, model state) configurations already explored.
//!
//! Two configurations with the same set of linearized operations and the
//! same model state have the same future, so the search never explores a
//! configuration twice. That turns WGL's factorial worst case into one
//! bounded by the number of distinct configurations, and it is what makes
//! the search fast enough for real histories — but the table is also where
//! the memory goes, so it is laid out compactly and measured:
//!
//! - sets are bitsets stored in one arena, run-length trimmed: leading
//!   all-ones words (the long-finished past) are replaced by their count,
//!   trailing zero words (the future) are dropped; for a long history the
//!   stored part is the short "window" of operations in flight;
//! - the bitset's hash is kept incrementally by the search (Zobrist: each
//!   op has a random 64-bit key, and the set's hash is their XOR), combined
//!   with the state's hash, so a lookup hashes only the state.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::checker::fast_hash::FastHasher;

/// Hashes a value with [`FastHasher`], then mixes the bits (the finalizer of
/// MurmurHash3) so the result can be XORed with a Zobrist hash.
pub(crate) fn hash_of<T: Hash>(v: &T) -> u64 {
    let mut h = FastHasher::default();
    v.hash(&mut h);
    mix(h.finish())
}

#[inline]
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// A hasher for keys that already are good 64-bit hashes.
#[derive(Default, Clone, Copy)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

const NONE: u32 = u32::MAX;

/// The set of explored configurations.
pub(crate) struct Memo<S> {
    /// Full hash → the newest entry with that hash.
    heads: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    /// Entry → the next older entry with the same full hash.
    chain: Vec<u32>,
    /// Entry i's encoded set is `words[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    words: Vec<u64>,
    states: Vec<S>,
    /// Entry → its newest record of indeterminate-op sets.
    info_head: Vec<u32>,
    /// Records: (start, len, older record) of a set in `info_ops`.
    records: Vec<(u32, u32, u32)>,
    info_ops: Vec<u32>,
    /// Heap bytes held by the stored states, as the model reports them.
    state_heap: usize,
    /// How the indeterminate-op records compare: as sorted sets of op ids
    /// (`false`), or as sorted `[class, count, class, count, …]` lists of
    /// how many interchangeable ops of each class were used (`true`).
    counted: bool,
}

impl<S: Eq + Clone> Memo<S> {
    pub fn new() -> Memo<S> {
        Memo {
            heads: HashMap::default(),
            chain: Vec::new(),
            starts: vec![0],
            words: Vec::new(),
            states: Vec::new(),
            info_head: Vec::new(),
            records: Vec::new(),
            info_ops: Vec::new(),
            state_heap: 0,
            counted: false,
        }
    }

    /// A table whose indeterminate-op records are counts per class (see
    /// the crashed-client search): a record dominates another when it used
    /// at most as many ops of every class.
    pub fn counted() -> Memo<S> {
        Memo {
            counted: true,
            ..Memo::new()
        }
    }

    /// Configurations stored (records of distinct sets, not states).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Adds the configuration (`ok` ops as `encoded`, the state, and the
    /// sorted set of indeterminate ops linearized) unless it is dominated:
    /// present with the same `ok` ops and state and a subset of `info`.
    /// Indeterminate ops need never happen and nothing waits for them, so
    /// whatever can be done with more of them done can be done with fewer.
    /// True if added. `encoded` must be the canonical encoding from
    /// [`encode`].
    pub fn insert(
        &mut self,
        hash: u64,
        encoded: &[u64],
        state: &S,
        info: &[u32],
        state_heap: impl FnOnce(&S) -> usize,
    ) -> bool {
        let mut older = NONE;
        if let Some(&head) = self.heads.get(&hash) {
            let mut e = head;
            while e != NONE {
                let i = e as usize;
                if self.states[i] == *state
                    && self.words[self.starts[i]..self.starts[i + 1]] == *encoded
                {
                    let mut r = self.info_head[i];
                    while r != NONE {
                        let (start, len, next) = self.records[r as usize];
                        let set = &self.info_ops[start as usize..(start + len) as usize];
                        let dominated = if self.counted {
                            fewer_of_each(set, info)
                        } else {
                            is_subset(set, info)
                        };
                        if dominated {
                            return false;
                        }
                        r = next;
                    }
                    self.drop_dominated(i, info);
                    self.push_record(i, info);
                    return true;
                }
                e = self.chain[i];
            }
            older = head;
        }
        let next = self.states.len() as u32;
        self.heads.insert(hash, next);
        self.chain.push(older);
        self.words.extend_from_slice(encoded);
        self.starts.push(self.words.len());
        self.state_heap += state_heap(state);
        self.states.push(state.clone());
        self.info_head.push(NONE);
        self.push_record(next as usize, info);
        true
    }

    /// Unlinks the entry's records that `info` dominates: once `info` is
    /// stored, anything they would reject it rejects too, so they only
    /// lengthen the scan.
    fn drop_dominated(&mut self, entry: usize, info: &[u32]) {
        let mut prev = NONE;
        let mut r = self.info_head[entry];
        while r != NONE {
            let (start, len, next) = self.records[r as usize];
            let set = &self.info_ops[start as usize..(start + len) as usize];
            let dominated = if self.counted {
                fewer_of_each(info, set)
            } else {
                is_subset(info, set)
            };
            if dominated {
                if prev == NONE {
                    self.info_head[entry] = next;
                } else {
                    self.records[prev as usize].2 = next;
                }
            } else {
                prev = r;
            }
            r = next;
        }
    }

    fn push_record(&mut self, entry: usize, info: &[u32]) {
        let start = self.info_ops.len() as u32;
        self.info_ops.extend_from_slice(info);
        self.records
            .push((start, info.len() as u32, self.info_head[entry]));
        self.info_head[entry] = (self.records.len() - 1) as u32;
    }

    /// True when the next insert may grow one of the tables.
    pub fn full(&self) -> bool {
        self.heads.len() == self.heads.capacity()
            || self.states.len() == self.states.capacity()
            || self.records.len() == self.records.capacity()
            || self.info_ops.capacity() - self.info_ops.len() < 64
            || self.words.capacity() - self.words.len() < 64
    }

    /// An upper estimate of the bytes the table holds now, and of what it
    /// will hold once its next growth happens (tables grow by doubling, so
    /// the budget must be checked against the size after the growth).
    pub fn bytes_after_growth(&self) -> usize {
        let vec_bytes = |cap: usize, len: usize, size: usize| {
            if len == cap {
                2 * cap.max(4) * size
            } else {
                cap * size
            }
        };
        // hashbrown: (8 + 4 → 16 bytes per slot, padded) + 1 control byte,
        // buckets = capacity * 8 / 7.
        let map = {
            let cap = if self.heads.len() == self.heads.capacity() {
                2 * self.heads.capacity().max(4)
            } else {
                self.heads.capacity()
            };
            cap * 17 * 8 / 7
        };
        map + vec_bytes(self.chain.capacity(), self.chain.len(), 4)
            + vec_bytes(self.starts.capacity(), self.starts.len(), 8)
            + vec_bytes(self.words.capacity(), self.words.len(), 8)
            + vec_bytes(
                self.states.capacity(),
                self.states.len(),
                std::mem::size_of::<S>(),
            )
            + vec_bytes(self.info_head.capacity(), self.info_head.len(), 4)
            + vec_bytes(self.records.capacity(), self.records.len(), 12)
            + vec_bytes(self.info_ops.capacity(), self.info_ops.len(), 4)
            + self.state_heap
    }
}

/// Whether the class counts `a` (sorted `[class, count, …]` pairs) are at
/// most those of `b`, class by class (a class absent from `b` counts 0).
fn fewer_of_each(a: &[u32], b: &[u32]) -> bool {
    let mut j = 0;
    for pair in a.chunks_exact(2) {
        let (class, count) = (pair[0], pair[1]);
        while j + 1 < b.len() && b[j] < class {
            j += 2;
        }
        if j + 1 >= b.len() || b[j] != class || b[j + 1] < count {
            return false;
        }
        j += 2;
    }
    true
}

/// Whether sorted `a` is a subset of sorted `b`.
fn is_subset(a: &[u32], b: &[u32]) -> bool {
    if a.len() > b.len() {
        return false;
    }
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j == b.len() || b[j] != x {
            return false;
        }
        j += 1;
    }
    true
}

/// The set of linearized `ok` ops, with the bounds of its encoding kept up
/// to date so that encoding costs the window, not the whole history.
pub(crate) struct Bits {
    words: Vec<u64>,
    /// Leading all-ones words.
    lead: usize,
    /// One past the last non-zero word (at least `lead`).
    end: usize,
}

impl Bits {
    pub fn new(n: usize) -> Bits {
        Bits {
            words: vec![0; n.div_ceil(64).max(1)],
            lead: 0,
            end: 0,
        }
    }

    #[inline]
    pub fn set(&mut self, k: u32) {
        let w = k as usize / 64;
        self.words[w] |= 1u64 << (k % 64);
        self.end = self.end.max(w + 1);
        while self.lead < self.words.len() && self.words[self.lead] == u64::MAX {
            self.lead += 1;
        }
        self.end = self.end.max(self.lead);
    }

    #[inline]
    pub fn clear(&mut self, k: u32) {
        let w = k as usize / 64;
        self.words[w] &= !(1u64 << (k % 64));
        self.lead = self.lead.min(w);
        while self.end > self.lead && self.words[self.end - 1] == 0 {
            self.end -= 1;
        }
    }

    /// The same encoding as [`encode`] of the words.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u64>) {
        out.clear();
        out.push(self.lead as u64);
        out.extend_from_slice(&self.words[self.lead..self.end]);
    }
}

/// Encodes a bitset canonically (the reference for [`Bits::encode`]): the count of leading all-ones words, then
/// the words from the first not-full one to the last non-zero one.
#[cfg(test)]
fn encode(bits: &[u64], out: &mut Vec<u64>) {
    out.clear();
    let lead = bits.iter().take_while(|&&w| w == u64::MAX).count();
    let end = bits
        .iter()
        .rposition(|&w| w != 0)
        .map_or(lead, |i| (i + 1).max(lead));
    out.push(lead as u64);
    out.extend_from_slice(&bits[lead..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_canonical_and_trims() {
        let mut out = Vec::new();
        encode(&[u64::MAX, u64::MAX, 5, 0, 0], &mut out);
        assert_eq!(out, vec![2, 5]);
        encode(&[u64::MAX, u64::MAX], &mut out);
        assert_eq!(out, vec![2]);
        encode(&[0, 0], &mut out);
        assert_eq!(out, vec![0]);
        encode(&[1, 0, 8], &mut out);
        assert_eq!(out, vec![0, 1, 0, 8]);
    }

    #[test]
    fn memo_finds_duplicates_even_with_colliding_hashes() {
        let mut m: Memo<u8> = Memo::new();
        assert!(m.insert(7, &[0, 1], &1, &[], |_| 0));
        assert!(!m.insert(7, &[0, 1], &1, &[], |_| 0));
        // Same hash, different content: both kept.
        assert!(m.insert(7, &[0, 2], &1, &[], |_| 0));
        assert!(m.insert(7, &[0, 1], &2, &[], |_| 0));
        assert!(!m.insert(7, &[0, 2], &1, &[], |_| 0));
        assert_eq!(m.len(), 3);
        assert!(m.bytes_after_growth() > 0);
    }

    #[test]
    fn more_indeterminate_ops_are_dominated_by_fewer() {
        let mut m: Memo<u8> = Memo::new();
        assert!(m.insert(1, &[0], &1, &[3, 9], |_| 0));
        assert!(!m.insert(1, &[0], &1, &[3, 5, 9], |_| 0));
        assert!(m.insert(1, &[0], &1, &[3], |_| 0));
        assert!(!m.insert(1, &[0], &1, &[3, 4], |_| 0));
        assert!(m.insert(1, &[0], &1, &[], |_| 0));
        assert!(!m.insert(1, &[0], &1, &[7], |_| 0));
        assert!(is_subset(&[], &[1]) && is_subset(&[1, 4], &[0, 1, 2, 4]));
        assert!(!is_subset(&[1, 5], &[1, 4]));
    }

    #[test]
    fn counted_records_dominate_by_class_counts() {
        let mut m: Memo<u8> = Memo::counted();
        assert!(m.insert(1, &[0], &1, &[2, 1, 5, 3], |_| 0));
        // At least as many of every class: dominated.
        assert!(!m.insert(1, &[0], &1, &[2, 1, 5, 3], |_| 0));
        assert!(!m.insert(1, &[0], &1, &[2, 2, 4, 1, 5, 3], |_| 0));
        // Fewer of class 5, or none of class 2: not dominated.
        assert!(m.insert(1, &[0], &1, &[2, 1, 5, 2], |_| 0));
        assert!(m.insert(1, &[0], &1, &[5, 9], |_| 0));
        // Fewer of everything than all of the above: they are dropped, and
        // it rejects what they rejected.
        assert!(m.insert(1, &[0], &1, &[5, 1], |_| 0));
        assert!(!m.insert(1, &[0], &1, &[2, 1, 5, 2], |_| 0));
        assert!(!m.insert(1, &[0], &1, &[5, 1], |_| 0));
        assert!(m.insert(1, &[0], &1, &[2, 1], |_| 0));
        assert!(fewer_of_each(&[], &[1, 1]));
        assert!(!fewer_of_each(&[1, 1], &[]));
        assert!(!fewer_of_each(&[3, 2], &[1, 5, 3, 1]));
        assert!(fewer_of_each(&[3, 1], &[1, 5, 3, 1, 7, 7]));
    }

    #[test]
    fn incremental_bits_encode_like_encode() {
        let mut x = 12345u64;
        let mut b = Bits::new(300);
        let mut plain = vec![0u64; 5];
        let (mut e1, mut e2) = (Vec::new(), Vec::new());
        for _ in 0..20000 {
            x = mix(x.wrapping_add(1));
            // Mostly low bits, so that leading full words happen.
            let k = ((x >> 8) % if x.is_multiple_of(3) { 300 } else { 140 }) as u32;
            if x % 5 < 3 {
                b.set(k);
                plain[k as usize / 64] |= 1 << (k % 64);
            } else {
                b.clear(k);
                plain[k as usize / 64] &= !(1 << (k % 64));
            }
            b.encode(&mut e1);
            encode(&plain, &mut e2);
            assert_eq!(e1, e2);
        }
    }

    #[test]
    fn hashes_differ_for_different_values() {
        assert_ne!(hash_of(&1u64), hash_of(&2u64));
        assert_ne!(hash_of(&"ab"), hash_of(&"ba"));
    }
}
