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

/// A list of four or more integers that fit in 32 bits, 4 bytes each: the
/// reads of list-append histories (a read of 80 elements is 336 bytes here
/// instead of 1,296 as [`Val`]s).
///
/// Canonical: [`Val::list`] makes every such list an `Ints` and no other
/// list one, so equal lists always have the same variant.
#[derive(Clone)]
pub struct Ints(triomphe::ThinArc<(), i32>);

impl Ints {
    /// Shorter lists are left as [`Val`]s: the pair of a cas is read far
    /// more often than it is stored.
    const MIN_LEN: usize = 4;

    /// The list of these values, if it is one.
    fn of(items: &[Val]) -> Option<Ints> {
        if items.len() < Ints::MIN_LEN {
            return None;
        }
        let small = |v: &Val| match v {
            Val::Int(i) => i32::try_from(*i).ok(),
            _ => None,
        };
        if !items.iter().all(|v| small(v).is_some()) {
            return None;
        }
        Some(Ints(triomphe::ThinArc::from_header_and_iter(
            (),
            items.iter().map(|v| small(v).unwrap_or_default()),
        )))
    }

    pub fn as_slice(&self) -> &[i32] {
        &self.0.slice
    }

    /// The elements as values.
    pub fn to_vals(&self) -> Vec<Val> {
        self.as_slice()
            .iter()
            .map(|&i| Val::Int(i64::from(i)))
            .collect()
    }
}

impl PartialEq for Ints {
    fn eq(&self, other: &Ints) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for Ints {}

impl fmt::Debug for Ints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// A value of a history: 16 bytes, see the module docs.
#[derive(Clone, Default, PartialEq, Eq)]
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
    /// A list of small integers, packed ([`Ints`]); read it with
    /// [`Val::as_array`] like any list.
    Ints(Ints),
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
        match Ints::of(&items) {
            Some(ints) => Val::Ints(ints),
            None => Val::List(List::new(items)),
        }
    }
    /// The list of `buffer[first..]` (packed when they are small integers,
    /// see [`Ints`]), which leave the buffer: built straight into its shared
    /// allocation, so readers reuse one buffer and make no `Vec` per list.
    pub fn list_exact(buffer: &mut Vec<Val>, first: usize) -> Val {
        if let Some(ints) = Ints::of(&buffer[first..]) {
            buffer.truncate(first);
            return Val::Ints(ints);
        }
        Val::List(List(triomphe::ThinArc::from_header_and_iter(
            (),
            buffer.drain(first..),
        )))
    }
    /// The list of the integers `ints` (packed when they are four or more
    /// and fit in 32 bits, see [`Ints`]).
    pub fn int_list(ints: &[i64]) -> Val {
        let small = ints.len() >= Ints::MIN_LEN && ints.iter().all(|&i| i32::try_from(i).is_ok());
        if small {
            return Val::Ints(Ints(triomphe::ThinArc::from_header_and_iter(
                (),
                ints.iter().map(|&i| i as i32),
            )));
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
        matches!(self, Val::List(_) | Val::Ints(_))
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
            Val::Ints(l) => Some(std::borrow::Cow::Owned(l.to_vals())),
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
    /// The element at `i` of a list.
    pub fn get(&self, i: usize) -> Option<Val> {
        match self {
            Val::List(l) => l.get(i).cloned(),
            Val::Ints(l) => l.as_slice().get(i).map(|&x| Val::Int(i64::from(x))),
            _ => None,
        }
    }

    /// Bytes this value holds on the heap (interned strings are shared and
    /// not counted; boxed JSON is estimated from its text).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Val::List(l) => 16 + l.len() * 16 + l.iter().map(Val::heap_bytes).sum::<usize>(),
            Val::Ints(l) => 16 + l.as_slice().len() * 4,
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
            Val::Ints(l) => Value::Array(l.as_slice().iter().map(|&i| Value::from(i)).collect()),
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
            Val::Ints(l) => {
                state.write_u8(7);
                l.as_slice().hash(state)
            }
            Val::Other(v) => {
                state.write_u8(6);
                v.to_string().hash(state)
            }
        }
    }
}

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
            (Val::Ints(a), Value::Array(b)) => {
                a.as_slice().len() == b.len()
                    && a.as_slice()
                        .iter()
                        .zip(b)
                        .all(|(&x, y)| y.as_i64() == Some(i64::from(x)))
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
            Val::Ints(l) => write_list(f, l.as_slice().iter()),
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
            Val::Ints(l) => {
                let mut seq = s.serialize_seq(Some(l.as_slice().len()))?;
                for x in l.as_slice() {
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
        assert!(matches!(packed, Val::Ints(_)));
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
        assert!(matches!(edge, Val::Ints(_)));
        assert_eq!(edge.to_json(), json!([2147483647, -2147483648, 0, 0]));
    }
}
