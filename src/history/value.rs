//! Compact values: what a history holds instead of `serde_json::Value`.
//!
//! A million-operation history is mostly small integers, a few function
//! names, a few keys and a few processes. Holding each event's fields as
//! `serde_json::Value`s and `String`s costs several hundred bytes and
//! several allocations per event, and every comparison walks a tree.
//! Here:
//!
//! - [`Name`] is an interned string: one pointer, compared by address.
//!   Function names, node names, process names and string values are
//!   interned once per process, so `f == "read"` is a pointer compare after
//!   the first lookup and a name costs 8 bytes wherever it appears.
//! - [`Val`] is a 16-byte value: `nil`, booleans, integers and floats
//!   inline, strings as [`Name`]s, lists behind one thin reference-counted
//!   pointer (cloning a list never copies it), and anything else (maps,
//!   integers beyond 64 bits) kept exactly as parsed in a box. Nothing is
//!   rounded or truncated: [`Val::to_json`] gives back the value read.
//!
//! Equality and hashing are structural and agree with JSON's: `1` and
//! `1.0` are different values (as in Jepsen's EDN, where `1` and `1.0` are
//! not `=`), and a list equals a list with the same elements.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::Mutex;

/// An interned string: 8 bytes, `Copy`, equal when the text is equal.
///
/// A `&Box<str>` rather than a `&str` on purpose: the box holds the length,
/// so the reference is one thin pointer (a `&str` would be two words).
#[derive(Clone, Copy)]
#[allow(clippy::borrowed_box)]
pub struct Name(&'static Box<str>);

#[allow(clippy::borrowed_box)]
static INTERNED: Mutex<Option<HashMap<&'static str, &'static Box<str>>>> = Mutex::new(None);

thread_local! {
    /// Names this thread has already looked up: most lookups never take
    /// the global lock (parsing threads intern the same few names).
    static SEEN: RefCell<crate::checker::fast_hash::FastMap<Box<str>, Name>> =
        RefCell::new(Default::default());
}

impl Name {
    /// The interned name for `s` (the same pointer for the same text).
    pub fn new(s: &str) -> Name {
        if let Some(n) = SEEN.with(|seen| seen.borrow().get(s).copied()) {
            return n;
        }
        let name = {
            let mut guard = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
            let set = guard.get_or_insert_with(HashMap::new);
            match set.get(s) {
                Some(&b) => Name(b),
                None => {
                    #[allow(clippy::borrowed_box)]
                    let leaked: &'static Box<str> = Box::leak(Box::new(Box::from(s)));
                    set.insert(&**leaked, leaked);
                    Name(leaked)
                }
            }
        };
        SEEN.with(|seen| {
            let mut seen = seen.borrow_mut();
            // Long strings (values, not names) are not worth a per-thread copy.
            if s.len() <= 64 && seen.len() < 1 << 16 {
                seen.insert(Box::from(s), name);
            }
        });
        name
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// The name's address: non-zero, a multiple of 8 (the interned box is
    /// 8-aligned), and the same for the same text. [`Process`] packs it.
    ///
    /// [`Process`]: super::Process
    pub(crate) fn to_bits(self) -> u64 {
        self.0 as *const Box<str> as usize as u64
    }

    /// The name whose [`Name::to_bits`] gave `bits`.
    ///
    /// # Safety
    /// `bits` must come from [`Name::to_bits`] (interned names live for the
    /// whole process, so such an address always points at one).
    pub(crate) unsafe fn from_bits(bits: u64) -> Name {
        // SAFETY: by the contract above, `bits` is the address of a leaked,
        // never freed `Box<str>`.
        Name(unsafe { &*(bits as usize as *const Box<str>) })
    }
}

impl Default for Name {
    /// The empty name.
    fn default() -> Name {
        Name::new("")
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}
impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        **self.0 == *other
    }
}
impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        **self.0 == **other
    }
}
impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        **self.0 == **other
    }
}
impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        **self == **other.0
    }
}
impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        *self == **other.0
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.0.cmp(other.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.0, f)
    }
}
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}
impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}
impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name::new(s)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Name, E> {
                Ok(Name::new(s))
            }
        }
        d.deserialize_str(V)
    }
}

/// A list of values behind one thin, shared pointer.
#[derive(Clone)]
pub struct List(triomphe::ThinArc<(), Val>);

impl List {
    fn new(items: Vec<Val>) -> List {
        List(triomphe::ThinArc::from_header_and_iter(
            (),
            items.into_iter(),
        ))
    }
    pub fn as_slice(&self) -> &[Val] {
        &self.0.slice
    }
}

impl std::ops::Deref for List {
    type Target = [Val];
    fn deref(&self) -> &[Val] {
        &self.0.slice
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for List {}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// A list of three-element lists, held flat: the micro-ops `[f key value]`
/// of a transaction in one allocation of 48 bytes each, where a list of
/// lists would make one allocation per micro-op (64 bytes each) and one of
/// 16 bytes per element for the list that holds them.
///
/// Canonical: [`Val::list`] makes every non-empty list whose elements are
/// all lists of exactly three elements a `Triples`, and no other list one,
/// so equal lists always have the same variant. Read it with
/// [`Val::as_triples`] (no copying), [`Val::lists`], or [`Val::as_array`]
/// like any list (which makes each element a list again).
#[derive(Clone)]
pub struct Triples(triomphe::ThinArc<(), [Val; 3]>);

impl Triples {
    /// The three elements of `v`, if it is a list of exactly three.
    fn three(v: &Val) -> Option<[Val; 3]> {
        match v {
            Val::List(l) => match l.as_slice() {
                [a, b, c] => Some([a.clone(), b.clone(), c.clone()]),
                _ => None,
            },
            Val::Triples(t) => match t.as_slice() {
                [a, b, c] => Some([a, b, c].map(|x| Val::list(x.to_vec()))),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether every one of `items` (at least one) is a list of three.
    fn all_three(items: &[Val]) -> bool {
        !items.is_empty()
            && items.iter().all(|v| match v {
                Val::List(l) => l.len() == 3,
                Val::Triples(t) => t.as_slice().len() == 3,
                _ => false,
            })
    }

    /// The flat list of `items`, if they are all lists of three.
    fn of(items: &[Val]) -> Option<Val> {
        if !Triples::all_three(items) {
            return None;
        }
        Some(Val::Triples(Triples(
            triomphe::ThinArc::from_header_and_iter(
                (),
                items.iter().map(|v| Triples::three(v).unwrap_or_default()),
            ),
        )))
    }

    /// The flat list of the triples `items[first..]`, which leave `items`.
    fn from_flat(items: &mut Vec<Val>, first: usize) -> Val {
        debug_assert_eq!((items.len() - first) % 3, 0);
        let n = (items.len() - first) / 3;
        let mut drain = items.drain(first..);
        Val::Triples(Triples(triomphe::ThinArc::from_header_and_iter(
            (),
            (0..n).map(|_| {
                let mut next = || drain.next().unwrap_or_default();
                [next(), next(), next()]
            }),
        )))
    }

    pub fn as_slice(&self) -> &[[Val; 3]] {
        &self.0.slice
    }
}

impl PartialEq for Triples {
    fn eq(&self, other: &Triples) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for Triples {}

/// Storage for packed lists of integers: 32-bit slots behind one thin,
/// shared pointer, with the number of slots written so far in its header.
///
/// A packed list is a length and one of these ([`Val::Ints`]), so several
/// lists can share one storage: the reads of a list-append history are
/// prefixes of each other (every read of key `k` sees the same list, a
/// little longer each time), and a reader that keeps the latest storage of
/// each key ([`SharedLists`]) stores each key's list about once instead of
/// once per read. The 39 integers an average read of the list-append
/// benchmark holds cost 156 bytes each time when copied; shared, a read
/// costs its 16-byte value.
///
/// Slots are only ever appended, by the one [`SharedLists`] that made the
/// storage, and a slot is never written again once it is counted in the
/// header. A list of length `n` reads slots `0..n`, all counted, so what a
/// list reads never changes, however the storage grows after it.
#[derive(Clone)]
pub struct IntsBuf(triomphe::ThinArc<AtomicU32, AtomicI32>);

impl IntsBuf {
    /// Storage of `capacity` slots holding `items` first (all counted).
    fn new(items: &[i32], capacity: usize) -> IntsBuf {
        debug_assert!(items.len() <= capacity && capacity <= u32::MAX as usize);
        IntsBuf(triomphe::ThinArc::from_header_and_iter(
            AtomicU32::new(items.len() as u32),
            (0..capacity).map(|i| AtomicI32::new(items.get(i).copied().unwrap_or(0))),
        ))
    }

    fn capacity(&self) -> usize {
        self.0.slice.len()
    }

    /// Slots counted in the header: written once and for all.
    fn filled(&self) -> usize {
        self.0.header.header.load(Ordering::Acquire) as usize
    }

    /// The first `len` slots (no more than are counted).
    fn slice(&self, len: IntsLen) -> &[i32] {
        let n = (len.0 as usize).min(self.filled());
        // SAFETY: `AtomicI32` has the layout of `i32`, and the first
        // `filled()` slots are never written again (`append` writes only
        // beyond them, before counting them, with release ordering that the
        // acquire load above pairs with), so no write can overlap this
        // shared borrow.
        unsafe { std::slice::from_raw_parts(self.0.slice.as_ptr().cast::<i32>(), n) }
    }

    /// Writes `items` after the counted slots and counts them. Only the
    /// storage's [`SharedLists`] calls this, so one writer at a time.
    fn append(&self, items: &[i32]) {
        let filled = self.filled();
        debug_assert!(filled + items.len() <= self.capacity());
        for (slot, &x) in self.0.slice[filled..].iter().zip(items) {
            slot.store(x, Ordering::Relaxed);
        }
        self.0
            .header
            .header
            .store((filled + items.len()) as u32, Ordering::Release);
    }
}

/// The length of a packed list ([`Val::Ints`]): made only here, so that a
/// list never claims slots its storage has not counted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IntsLen(u32);

/// Packed lists of integers: four or more integers that all fit in 32 bits,
/// 4 bytes each. A read of 80 elements is 336 bytes this way instead of
/// 1,296 as [`Val`]s, and nothing when it shares its storage.
///
/// Canonical: [`Val::list`] makes every such list packed and no other list
/// packed, so equal lists always have the same variant.
struct Ints;

impl Ints {
    /// Shorter lists are left as [`Val`]s: the pair of a cas is read far
    /// more often than it is stored.
    const MIN_LEN: usize = 4;

    /// Whether `len` integers (known to fit in 32 bits) are packed.
    fn packs(len: usize) -> bool {
        (Ints::MIN_LEN..=u32::MAX as usize).contains(&len)
    }

    /// The packed list of these values, if they make one.
    fn of(items: &[Val]) -> Option<Val> {
        if !Ints::packs(items.len()) {
            return None;
        }
        let small = |v: &Val| match v {
            Val::Int(i) => i32::try_from(*i).ok(),
            _ => None,
        };
        let ints: Option<Vec<i32>> = items.iter().map(small).collect();
        ints.map(|ints| Ints::exact(&ints))
    }

    /// The packed list of these integers, in storage of its own.
    fn exact(ints: &[i32]) -> Val {
        Val::Ints(IntsLen(ints.len() as u32), IntsBuf::new(ints, ints.len()))
    }
}

/// A reader's packed lists, shared per key: see [`IntsBuf`].
///
/// For each key it keeps the storage of the longest list read so far
/// under that key. A list that is a prefix of what the storage holds shares
/// it; a list that extends it is appended to it (in place while there is
/// room, else into storage twice as large); a list that disagrees gets
/// storage of its own, which becomes the key's. Which lists share storage
/// changes nothing a list reads, compares or hashes as.
#[derive(Default)]
pub(crate) struct SharedLists {
    latest: crate::checker::fast_hash::FastMap<Val, IntsBuf>,
    small: Vec<i32>,
}

impl SharedLists {
    /// The list of `ints`, read under `key`.
    pub(crate) fn list(&mut self, key: &Val, ints: &[i64]) -> Val {
        self.small.clear();
        for &i in ints {
            match i32::try_from(i) {
                Ok(x) => self.small.push(x),
                Err(_) => return Val::int_list(ints),
            }
        }
        self.share(key).unwrap_or_else(|| Val::int_list(ints))
    }

    /// The list of `items`, read under `key`, when it is a packed list
    /// (four or more integers that fit in 32 bits); else `None`.
    pub(crate) fn list_of(&mut self, key: &Val, items: &[Val]) -> Option<Val> {
        self.small.clear();
        for v in items {
            match v {
                Val::Int(i) => self.small.push(i32::try_from(*i).ok()?),
                _ => return None,
            }
        }
        self.share(key)
    }

    /// The packed list of `self.small` under `key`, in shared storage.
    fn share(&mut self, key: &Val) -> Option<Val> {
        if !Ints::packs(self.small.len()) || !matches!(key, Val::Int(_) | Val::Str(_)) {
            return None;
        }
        let n = self.small.len();
        let len = IntsLen(n as u32);
        if let Some(buf) = self.latest.get_mut(key) {
            let filled = buf.filled();
            let common = filled.min(n);
            let counted = buf.slice(IntsLen(filled as u32));
            if counted[..common] == self.small[..common] {
                if n <= filled {
                    return Some(Val::Ints(len, buf.clone()));
                }
                if n <= buf.capacity() {
                    buf.append(&self.small[filled..]);
                    return Some(Val::Ints(len, buf.clone()));
                }
                let capacity = n
                    .max(buf.capacity().saturating_mul(2))
                    .min(u32::MAX as usize);
                *buf = IntsBuf::new(&self.small, capacity);
                return Some(Val::Ints(len, buf.clone()));
            }
        }
        // Room to grow by a quarter before the storage is copied.
        let capacity = (n + n / 4 + 4).min(u32::MAX as usize);
        let buf = IntsBuf::new(&self.small, capacity);
        self.latest.insert(key.clone(), buf.clone());
        Some(Val::Ints(len, buf))
    }
}

/// A value of a history: 16 bytes, see the module docs.
#[derive(Clone, Default)]
pub enum Val {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    /// A float, held by its bits so that values can be hashed and compared
    /// exactly (NaN equals NaN here, as the same bits).
    Float(u64),
    Str(Name),
    List(List),
    /// A list of four or more integers that fit in 32 bits, packed: its
    /// length and its storage, perhaps shared with other lists (see
    /// [`IntsBuf`]). Read it with [`Val::as_array`] like any list, or with
    /// [`Val::as_ints`].
    Ints(IntsLen, IntsBuf),
    /// A non-empty list whose elements are all lists of three elements (a
    /// transaction's micro-ops), held flat ([`Triples`]). Read it with
    /// [`Val::as_triples`], [`Val::lists`] or [`Val::as_array`].
    Triples(Triples),
    /// Any other JSON value, exactly as read (maps, integers beyond i64).
    Other(Box<Value>),
}

impl Val {
    pub fn int(i: i64) -> Val {
        Val::Int(i)
    }
    pub fn str(s: &str) -> Val {
        Val::Str(Name::new(s))
    }
    /// The list of `items` (packed when they are small integers, see [`Ints`]).
    pub fn list(items: Vec<Val>) -> Val {
        if let Some(list) = Ints::of(&items).or_else(|| Triples::of(&items)) {
            return list;
        }
        Val::List(List::new(items))
    }
    /// The list of `buffer[first..]` (packed when they are small integers,
    /// see [`Ints`]), which leave the buffer: built straight into its shared
    /// allocation, so readers reuse one buffer and make no `Vec` per list.
    pub fn list_exact(buffer: &mut Vec<Val>, first: usize) -> Val {
        if let Some(list) = Ints::of(&buffer[first..]).or_else(|| Triples::of(&buffer[first..])) {
            buffer.truncate(first);
            return list;
        }
        Val::List(List(triomphe::ThinArc::from_header_and_iter(
            (),
            buffer.drain(first..),
        )))
    }
    /// The list of the lists of three `buffer[first..]` (taken three at a
    /// time: `[a, b, c, d, e, f]` is `[[a, b, c], [d, e, f]]`), which leave
    /// the buffer. Readers gather micro-ops this way, without a list each.
    pub fn triples_exact(buffer: &mut Vec<Val>, first: usize) -> Val {
        let len = buffer.len().saturating_sub(first);
        if !len.is_multiple_of(3) {
            // Not triples: as a list of what is there, three at a time.
            let rest: Vec<Val> = buffer.drain(first..).collect();
            return Val::list(rest.chunks(3).map(|c| Val::list(c.to_vec())).collect());
        }
        if len == 0 {
            return Val::list(Vec::new());
        }
        Triples::from_flat(buffer, first)
    }
    /// The list of the integers `ints` (packed when they are four or more
    /// and fit in 32 bits, see [`Ints`]).
    pub fn int_list(ints: &[i64]) -> Val {
        if Ints::packs(ints.len()) {
            let small: Option<Vec<i32>> = ints.iter().map(|&i| i32::try_from(i).ok()).collect();
            if let Some(small) = small {
                return Ints::exact(&small);
            }
        }
        Val::List(List(triomphe::ThinArc::from_header_and_iter(
            (),
            ints.iter().map(|&i| Val::Int(i)),
        )))
    }
    pub fn float(f: f64) -> Val {
        Val::Float(f.to_bits())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Nil)
    }
    pub fn is_array(&self) -> bool {
        matches!(self, Val::List(_) | Val::Ints(..) | Val::Triples(_))
    }
    pub fn is_string(&self) -> bool {
        matches!(self, Val::Str(_))
    }
    pub fn is_i64(&self) -> bool {
        matches!(self, Val::Int(_))
    }
    pub fn is_number(&self) -> bool {
        match self {
            Val::Int(_) | Val::Float(_) => true,
            Val::Other(v) => v.is_number(),
            _ => false,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Val::Int(i) => u64::try_from(*i).ok(),
            Val::Other(v) => v.as_u64(),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(b) => Some(f64::from_bits(*b)),
            Val::Other(v) => v.as_f64(),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&'static str> {
        match self {
            Val::Str(n) => Some(n.as_str()),
            _ => None,
        }
    }
    pub fn as_name(&self) -> Option<Name> {
        match self {
            Val::Str(n) => Some(*n),
            _ => None,
        }
    }
    /// The elements of a list (made for a packed list of integers).
    pub fn as_array(&self) -> Option<std::borrow::Cow<'_, [Val]>> {
        match self {
            Val::List(l) => Some(std::borrow::Cow::Borrowed(l.as_slice())),
            Val::Ints(n, b) => Some(std::borrow::Cow::Owned(
                b.slice(*n)
                    .iter()
                    .map(|&i| Val::Int(i64::from(i)))
                    .collect(),
            )),
            Val::Triples(t) => Some(std::borrow::Cow::Owned(
                t.as_slice().iter().map(|x| Val::list(x.to_vec())).collect(),
            )),
            _ => None,
        }
    }
    /// The elements of a list held as values: every list but a packed one
    /// ([`Ints`], four or more small integers), so exact for a list that
    /// holds anything but integers (a transaction's micro-ops) or fewer
    /// than four elements.
    pub fn as_vals(&self) -> Option<&[Val]> {
        match self {
            Val::List(l) => Some(l.as_slice()),
            _ => None,
        }
    }
    /// The elements of a packed list ([`Val::Ints`]: four or more
    /// integers that fit in 32 bits).
    pub fn as_ints(&self) -> Option<&[i32]> {
        match self {
            Val::Ints(n, b) => Some(b.slice(*n)),
            _ => None,
        }
    }
    /// The elements of a list of lists of three ([`Val::Triples`]).
    pub fn as_triples(&self) -> Option<&[[Val; 3]]> {
        match self {
            Val::Triples(t) => Some(t.as_slice()),
            _ => None,
        }
    }
    /// The elements of a list, each read as a list in turn (`None` for an
    /// element that is not a list): a transaction's micro-ops, borrowed
    /// wherever they are held as values.
    pub fn lists(&self) -> Option<Vec<Option<std::borrow::Cow<'_, [Val]>>>> {
        use std::borrow::Cow;
        match self {
            Val::Triples(t) => Some(
                t.as_slice()
                    .iter()
                    .map(|x| Some(Cow::Borrowed(&x[..])))
                    .collect(),
            ),
            Val::List(l) => Some(
                l.iter()
                    .map(|x| match x {
                        Val::List(m) => Some(Cow::Borrowed(m.as_slice())),
                        other => other.as_array(),
                    })
                    .collect(),
            ),
            _ => None,
        }
    }
    /// The element at `i` of a list.
    pub fn get(&self, i: usize) -> Option<Val> {
        match self {
            Val::List(l) => l.get(i).cloned(),
            Val::Triples(t) => t.as_slice().get(i).map(|x| Val::list(x.to_vec())),
            Val::Ints(n, b) => b.slice(*n).get(i).map(|&x| Val::Int(i64::from(x))),
            _ => None,
        }
    }

    /// Bytes this value holds on the heap (interned strings are shared and
    /// not counted; boxed JSON is estimated from its text; a packed list
    /// counts its elements even when its storage is shared with other
    /// lists, so the sum over a history is an upper bound).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Val::List(l) => 16 + l.len() * 16 + l.iter().map(Val::heap_bytes).sum::<usize>(),
            Val::Ints(n, _) => 16 + n.0 as usize * 4,
            Val::Triples(t) => {
                16 + t
                    .as_slice()
                    .iter()
                    .flatten()
                    .map(|x| 16 + x.heap_bytes())
                    .sum::<usize>()
            }
            Val::Other(v) => 64 + v.to_string().len() * 2,
            _ => 0,
        }
    }

    /// Converts a JSON value (exactly: integers stay integers).
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Nil,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None if n.is_f64() => Val::float(n.as_f64().unwrap_or(f64::NAN)),
                None => Val::Other(Box::new(v.clone())),
            },
            Value::String(s) => Val::str(s),
            Value::Array(xs) => Val::list(xs.iter().map(Val::from_json).collect()),
            Value::Object(_) => Val::Other(Box::new(v.clone())),
        }
    }

    /// Converts an owned JSON value.
    pub fn from_json_owned(v: Value) -> Val {
        match v {
            Value::Array(xs) => Val::list(xs.into_iter().map(Val::from_json_owned).collect()),
            Value::Object(_) => Val::Other(Box::new(v)),
            Value::Number(ref n) if n.as_i64().is_none() && !n.is_f64() => Val::Other(Box::new(v)),
            other => Val::from_json(&other),
        }
    }

    /// The JSON value this value was read from.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Nil => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Float(b) => {
                serde_json::Number::from_f64(f64::from_bits(*b)).map_or(Value::Null, Value::Number)
            }
            Val::Str(n) => Value::String(n.to_string()),
            Val::List(l) => Value::Array(l.iter().map(Val::to_json).collect()),
            Val::Ints(n, b) => Value::Array(b.slice(*n).iter().map(|&i| Value::from(i)).collect()),
            Val::Triples(t) => Value::Array(
                t.as_slice()
                    .iter()
                    .map(|x| Value::Array(x.iter().map(Val::to_json).collect()))
                    .collect(),
            ),
            Val::Other(v) => (**v).clone(),
        }
    }
}

impl Hash for Val {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Val::Nil => state.write_u8(0),
            Val::Bool(b) => {
                state.write_u8(1);
                b.hash(state)
            }
            Val::Int(i) => {
                state.write_u8(2);
                i.hash(state)
            }
            Val::Float(b) => {
                state.write_u8(3);
                b.hash(state)
            }
            Val::Str(n) => {
                state.write_u8(4);
                n.hash(state)
            }
            Val::List(l) => {
                state.write_u8(5);
                l.as_slice().hash(state)
            }
            Val::Ints(n, b) => {
                state.write_u8(7);
                b.slice(*n).hash(state)
            }
            Val::Triples(t) => {
                state.write_u8(8);
                t.as_slice().hash(state)
            }
            Val::Other(v) => {
                state.write_u8(6);
                v.to_string().hash(state)
            }
        }
    }
}

impl PartialEq for Val {
    fn eq(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Nil, Val::Nil) => true,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Float(a), Val::Float(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::List(a), Val::List(b)) => a == b,
            (Val::Ints(n, a), Val::Ints(m, b)) => a.slice(*n) == b.slice(*m),
            (Val::Triples(a), Val::Triples(b)) => a == b,
            (Val::Other(a), Val::Other(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for Val {}

impl PartialEq<Value> for Val {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Val::Nil, Value::Null) => true,
            (Val::Bool(a), Value::Bool(b)) => a == b,
            (Val::Int(a), Value::Number(n)) => n.as_i64() == Some(*a),
            (Val::Float(a), Value::Number(n)) => {
                n.is_f64() && n.as_f64() == Some(f64::from_bits(*a))
            }
            (Val::Str(a), Value::String(b)) => a == b,
            (Val::List(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            (Val::Ints(n, a), Value::Array(b)) => {
                a.slice(*n).len() == b.len()
                    && a.slice(*n)
                        .iter()
                        .zip(b)
                        .all(|(&x, y)| y.as_i64() == Some(i64::from(x)))
            }
            (Val::Triples(a), Value::Array(b)) => {
                a.as_slice().len() == b.len()
                    && a.as_slice().iter().zip(b).all(|(x, y)| {
                        y.as_array()
                            .is_some_and(|y| y.len() == 3 && x.iter().zip(y).all(|(x, y)| x == y))
                    })
            }
            (Val::Other(a), b) => **a == *b,
            _ => false,
        }
    }
}

impl PartialEq<Val> for Value {
    fn eq(&self, other: &Val) -> bool {
        other == self
    }
}

impl From<i64> for Val {
    fn from(i: i64) -> Val {
        Val::Int(i)
    }
}
impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::str(s)
    }
}
impl From<Value> for Val {
    fn from(v: Value) -> Val {
        Val::from_json_owned(v)
    }
}
impl From<&Value> for Val {
    fn from(v: &Value) -> Val {
        Val::from_json(v)
    }
}
impl From<Val> for Value {
    fn from(v: Val) -> Value {
        v.to_json()
    }
}
impl From<&Val> for Value {
    fn from(v: &Val) -> Value {
        v.to_json()
    }
}

impl fmt::Debug for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// JSON text, as `serde_json::Value` prints it.
impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Nil => f.write_str("null"),
            Val::Bool(b) => write!(f, "{b}"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Str(n) => write!(f, "{}", Value::String(n.to_string())),
            Val::List(l) => write_list(f, l.iter()),
            Val::Ints(n, b) => write_list(f, b.slice(*n).iter()),
            Val::Triples(t) => write_list(
                f,
                t.as_slice()
                    .iter()
                    .map(|x| format!("[{},{},{}]", x[0], x[1], x[2])),
            ),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

/// `[a,b,c]`, as JSON prints a list.
fn write_list<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = T>,
) -> fmt::Result {
    f.write_str("[")?;
    for (i, x) in items.enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{x}")?;
    }
    f.write_str("]")
}

impl Serialize for Val {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Nil => s.serialize_unit(),
            Val::Bool(b) => s.serialize_bool(*b),
            Val::Int(i) => s.serialize_i64(*i),
            Val::Float(b) => s.serialize_f64(f64::from_bits(*b)),
            Val::Str(n) => s.serialize_str(n),
            Val::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for x in l.iter() {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Val::Ints(n, b) => {
                let ints = b.slice(*n);
                let mut seq = s.serialize_seq(Some(ints.len()))?;
                for x in ints {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Val::Triples(t) => {
                let mut seq = s.serialize_seq(Some(t.as_slice().len()))?;
                for x in t.as_slice() {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Val::Other(v) => v.serialize(s),
        }
    }
}

/// Reads a value straight from the JSON text, without a `serde_json::Value`
/// in between (maps and huge integers excepted).
impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Val, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Val;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Val, E> {
                Ok(Val::Nil)
            }
            fn visit_none<E>(self) -> Result<Val, E> {
                Ok(Val::Nil)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Val, E> {
                Ok(Val::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Val, E> {
                Ok(Val::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Val, E> {
                Ok(match i64::try_from(u) {
                    Ok(i) => Val::Int(i),
                    Err(_) => Val::Other(Box::new(Value::from(u))),
                })
            }
            fn visit_f64<E>(self, f: f64) -> Result<Val, E> {
                Ok(Val::float(f))
            }
            fn visit_str<E>(self, s: &str) -> Result<Val, E> {
                Ok(Val::str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(x) = seq.next_element::<Val>()? {
                    items.push(x);
                }
                Ok(Val::list(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Val, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Val::Other(Box::new(v)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_stay_small() {
        assert_eq!(std::mem::size_of::<Name>(), 8);
        assert_eq!(std::mem::size_of::<Val>(), 16);
        assert_eq!(std::mem::size_of::<Option<Val>>(), 16);
        // An event of a register history, all inline; its operation.
        assert_eq!(std::mem::size_of::<Option<super::super::Process>>(), 8);
        assert!(std::mem::size_of::<super::super::Op>() <= 80);
        assert!(std::mem::size_of::<super::super::Operation>() <= 96);
    }

    #[test]
    fn names_are_interned() {
        let a = Name::new("read");
        let b = Name::from(String::from("read"));
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(a, "read");
        assert_ne!(a, Name::new("write"));
    }

    #[test]
    fn json_round_trips_exactly() {
        for v in [
            json!(null),
            json!(true),
            json!(-3),
            json!(1.5),
            json!("x"),
            json!([["append", "x", 1], ["r", "y", [1, 2]]]),
            json!({"a": [1, 2]}),
            json!(u64::MAX),
        ] {
            let val = Val::from_json(&v);
            assert_eq!(val.to_json(), v);
            assert_eq!(val, v);
            let parsed: Val = serde_json::from_str(&v.to_string()).unwrap();
            assert_eq!(parsed, val, "{v}");
            assert_eq!(serde_json::to_string(&parsed).unwrap(), v.to_string());
            assert_eq!(parsed.to_string(), v.to_string());
        }
        assert_ne!(Val::from_json(&json!(1)), Val::from_json(&json!(1.0)));
    }

    #[test]
    fn small_integer_lists_are_packed_and_read_like_any_list() {
        let packed = Val::from_json(&json!([1, 2, 3, -4]));
        assert!(matches!(packed, Val::Ints(..)));
        assert_eq!(packed.heap_bytes(), 16 + 4 * 4);
        // The same list made any way is equal and hashes the same.
        let made = Val::list(vec![Val::Int(1), Val::Int(2), Val::Int(3), Val::Int(-4)]);
        assert_eq!(packed, made);
        let hash = |v: &Val| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            v.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&packed), hash(&made));
        assert_eq!(packed.to_json(), json!([1, 2, 3, -4]));
        assert_eq!(packed.to_string(), "[1,2,3,-4]");
        assert_eq!(serde_json::to_string(&packed).unwrap(), "[1,2,3,-4]");
        let back: Val = serde_json::from_str("[1,2,3,-4]").unwrap();
        assert_eq!(back, packed);
        assert_eq!(packed, json!([1, 2, 3, -4]));
        assert_ne!(packed, json!([1, 2, 3, 4]));
        assert_ne!(packed, json!([1, 2, 3, -4, 5]));
        assert_eq!(packed.as_array().map(|a| a.len()), Some(4));
        assert_eq!(packed.get(3), Some(Val::Int(-4)));
        assert_eq!(packed.get(4), None);
        assert_eq!(
            packed.as_array().unwrap().as_ref(),
            &[Val::Int(1), Val::Int(2), Val::Int(3), Val::Int(-4)][..]
        );
        assert!(packed.as_vals().is_none());
        assert!(packed.is_array());
        // Lists that are not packed: short, a float, beyond 32 bits, nested.
        for v in [
            json!([1, 2, 3]),
            json!([1, 2, 3, 4.0]),
            json!([1, 2, 3, 2147483648_i64]),
            json!([1, 2, 3, -2147483649_i64]),
            json!([1, 2, 3, [4]]),
            json!([]),
        ] {
            let x = Val::from_json(&v);
            assert!(matches!(x, Val::List(_)), "{v}");
            assert_eq!(x.to_json(), v);
        }
        let edge = Val::from_json(&json!([2147483647, -2147483648, 0, 0]));
        assert!(matches!(edge, Val::Ints(..)));
        assert_eq!(edge.to_json(), json!([2147483647, -2147483648, 0, 0]));
    }

    fn storage(v: &Val) -> *const () {
        match v {
            Val::Ints(_, b) => b.0.as_ptr().cast(),
            other => panic!("not packed: {other}"),
        }
    }

    #[test]
    fn read_lists_share_storage_per_key() {
        let mut lists = SharedLists::default();
        let x = Val::str("x");
        let a = lists.list(&x, &[1, 2, 3, 4, 5]);
        // A prefix shares; an extension within the room appends in place.
        let b = lists.list(&x, &[1, 2, 3, 4]);
        let c = lists.list(&x, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(storage(&a), storage(&b));
        assert_eq!(storage(&a), storage(&c));
        assert_eq!(a, Val::int_list(&[1, 2, 3, 4, 5]));
        assert_eq!(b, Val::int_list(&[1, 2, 3, 4]));
        assert_eq!(c, Val::int_list(&[1, 2, 3, 4, 5, 6]));
        // Growing past the room copies into larger storage; the earlier
        // lists keep reading what they read.
        let long: Vec<i64> = (1..=40).collect();
        let d = lists.list(&x, &long);
        assert_ne!(storage(&a), storage(&d));
        assert_eq!(d, Val::int_list(&long));
        assert_eq!(a.to_string(), "[1,2,3,4,5]");
        assert_eq!(c.as_ints(), Some(&[1, 2, 3, 4, 5, 6][..]));
        let e = lists.list(&x, &long[..10]);
        assert_eq!(storage(&d), storage(&e));
        // Another key, or a list that disagrees, has storage of its own.
        let f = lists.list(&Val::Int(7), &[1, 2, 3, 4]);
        assert_ne!(storage(&f), storage(&b));
        let g = lists.list(&x, &[1, 2, 9, 4, 5]);
        assert_ne!(storage(&g), storage(&d));
        assert_eq!(g, Val::int_list(&[1, 2, 9, 4, 5]));
        assert_eq!(d, Val::int_list(&long), "d is unchanged by g");
        // Lists that are not packed stay what `int_list` makes.
        assert!(matches!(lists.list(&x, &[1, 2, 3]), Val::List(_)));
        assert!(matches!(lists.list(&x, &[1, 2, 3, 1 << 40]), Val::List(_)));
        let hash = |v: &Val| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            v.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&e), hash(&Val::int_list(&long[..10])));
    }

    /// Random reads under a few keys, each a prefix, an extension or a
    /// change of the key's last list: every list reads exactly what it was
    /// made from, at the end as when it was made.
    #[test]
    fn shared_lists_read_what_they_were_made_from() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut lists = SharedLists::default();
        let mut current: Vec<Vec<i64>> = vec![Vec::new(); 4];
        let mut made = Vec::new();
        for _ in 0..3000 {
            let k = next(4) as usize;
            let list = &mut current[k];
            match next(4) {
                0 => list.truncate(next(list.len() as u64 + 1) as usize),
                1 if !list.is_empty() => {
                    let at = next(list.len() as u64) as usize;
                    list[at] = next(100) as i64;
                }
                _ => {
                    for _ in 0..next(12) {
                        list.push(next(1000) as i64 - 10);
                    }
                }
            }
            let v = lists.list(&Val::Int(k as i64), list);
            assert_eq!(v, Val::int_list(list));
            made.push((v, list.clone()));
        }
        for (v, list) in &made {
            assert_eq!(*v, Val::int_list(list));
            assert_eq!(v.to_json(), Value::from(list.clone()));
        }
    }

    #[test]
    fn lists_of_three_element_lists_are_flat_and_read_like_any_list() {
        let text = r#"[["append","x",1],["r","y",[1,2,3,4]],["r",3,null]]"#;
        let v: Val = serde_json::from_str(text).unwrap();
        let t = v.as_triples().expect("held flat");
        assert_eq!(t.len(), 3);
        assert_eq!(t[1][2], Val::int_list(&[1, 2, 3, 4]));
        assert_eq!(v.to_string(), text);
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
        let json: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v.to_json(), json);
        assert_eq!(v, json);
        assert_eq!(Val::from_json(&json), v);
        // Made element by element, or from a flat buffer: the same value,
        // the same hash.
        let made = Val::list(vec![
            Val::list(vec![Val::str("append"), Val::str("x"), Val::Int(1)]),
            Val::list(vec![
                Val::str("r"),
                Val::str("y"),
                Val::int_list(&[1, 2, 3, 4]),
            ]),
            Val::list(vec![Val::str("r"), Val::Int(3), Val::Nil]),
        ]);
        let mut flat = vec![Val::Int(9)];
        flat.extend(t.iter().flatten().cloned());
        let gathered = Val::triples_exact(&mut flat, 1);
        assert_eq!(flat, vec![Val::Int(9)]);
        let hash = |v: &Val| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            v.hash(&mut h);
            h.finish()
        };
        for other in [&made, &gathered] {
            assert!(other.as_triples().is_some());
            assert_eq!(*other, v);
            assert_eq!(hash(other), hash(&v));
        }
        // Read as a list of lists.
        let elements = v.as_array().unwrap();
        assert_eq!(elements.len(), 3);
        assert_eq!(
            elements[2],
            Val::list(vec![Val::str("r"), Val::Int(3), Val::Nil])
        );
        assert_eq!(v.get(0), Some(elements[0].clone()));
        assert_eq!(v.get(3), None);
        let lists = v.lists().unwrap();
        assert_eq!(lists[1].as_deref().map(<[Val]>::len), Some(3));
        assert!(v.is_array());
        assert!(v.as_vals().is_none());
        assert_ne!(v, Val::list(elements[..2].to_vec()));
        // Not flat: an element of another length, an element that is not a
        // list, no elements. Lists of one or more triples are flat.
        for (text, flat) in [
            (r#"[["r","x"]]"#, false),
            (r#"[["r","x",1],["r","y"]]"#, false),
            (r#"[["r","x",1],5]"#, false),
            (r#"[[1,2,3,4]]"#, false),
            ("[]", false),
            (r#"[[1,2,3]]"#, true),
            (r#"[[[1,2,3],[4,5,6],[7,8,9]]]"#, true),
        ] {
            let v: Val = serde_json::from_str(text).unwrap();
            assert_eq!(v.as_triples().is_some(), flat, "{text}");
            assert_eq!(v.to_string(), text);
            let json: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Val::from_json(&json), v, "{text}");
        }
        // An element that is itself a flat list of three triples.
        let nested: Val = serde_json::from_str(r#"[[[1,2,3],[4,5,6],[7,8,9]]]"#).unwrap();
        assert_eq!(
            nested.get(0).and_then(|e| e.as_triples().map(<[_]>::len)),
            Some(3)
        );
        // A buffer that does not hold whole triples is still read exactly.
        let mut odd = vec![Val::Int(1), Val::Int(2), Val::Int(3), Val::Int(4)];
        assert_eq!(Val::triples_exact(&mut odd, 0).to_string(), "[[1,2,3],[4]]");
    }
}
