//! faultline's native format: one JSON object per line (docs/formats.md).
//!
//! Blank lines are allowed. `index` may be omitted, in which case the
//! event's position is used, so hand-written histories stay short.
//!
//! Each line is deserialized straight into a compact [`Op`] (no
//! `serde_json::Value` in between), and a large file is cut at line
//! boundaries into pieces parsed on all cores; every error still names the
//! file, the line and the column.

use super::{HistoryError, Name, Op, OpType, Process, Val};
use rayon::prelude::*;
use serde::Deserialize;

pub(super) use fast::Names;

/// The fields of one line, borrowed from the text where possible.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    time: Option<i64>,
    #[serde(default)]
    process: Option<Process>,
    #[serde(rename = "type", borrow)]
    op_type: &'a str,
    #[serde(default)]
    f: Option<Name>,
    #[serde(default)]
    key: Option<Val>,
    #[serde(default)]
    value: Val,
    #[serde(default)]
    node: Option<Name>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// The largest piece: larger ones would not spread a file over the cores.
const PIECE: usize = 4 << 20;
/// Pieces smaller than this are not worth a thread.
const SMALLEST_PIECE: usize = 256 << 10;

/// Parses JSON Lines text; errors name `file`, the line and the column.
pub fn parse(text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    parse_in_pieces(
        text,
        file,
        piece_size(text.len(), rayon::current_num_threads()),
    )
}

/// The size of the pieces `len` bytes are cut into for `threads` threads:
/// four pieces a thread, so that pieces of unequal speed (lines of
/// unequal length) still keep every thread busy to the end.
fn piece_size(len: usize, threads: usize) -> usize {
    (len / (4 * threads.max(1))).clamp(SMALLEST_PIECE, PIECE)
}

fn parse_in_pieces(text: &str, file: &str, piece: usize) -> Result<Vec<Op>, HistoryError> {
    // Each piece is read straight into its own part of one vector, so the
    // events are never copied (a copy of a million events is 100 MB).
    let starts = split_lines(text, piece);
    let pieces: Vec<(&str, usize)> = starts
        .iter()
        .enumerate()
        .map(|(i, &(start, first_line))| {
            let end = starts.get(i + 1).map_or(text.len(), |p| p.0);
            (&text[start..end], first_line)
        })
        .collect();
    let counts: Vec<usize> = pieces.par_iter().map(|(t, _)| count_events(t)).collect();
    // Made on every core: the first touch of its pages is most of the cost.
    let mut ops = Vec::new();
    ops.par_extend(rayon::iter::repeat_n(Op::default(), counts.iter().sum()));
    let mut parts: Vec<&mut [Op]> = Vec::with_capacity(pieces.len());
    let mut rest: &mut [Op] = &mut ops;
    for &n in &counts {
        let (part, tail) = rest.split_at_mut(n);
        parts.push(part);
        rest = tail;
    }
    let results: Vec<Result<(), HistoryError>> = pieces
        .par_iter()
        .zip(parts.into_par_iter())
        .map(|(&(t, first_line), out)| fill_piece(t, file, first_line, out))
        .collect();
    for r in results {
        r?;
    }
    // An omitted index is the event's position in the whole file.
    ops.par_iter_mut().enumerate().for_each(|(pos, op)| {
        if op.index == u64::MAX {
            op.index = pos as u64;
        }
    });
    Ok(ops)
}

/// Cuts `text` into pieces of about `size` bytes at line boundaries:
/// (byte offset, 1-based number of the piece's first line).
pub(crate) fn split_lines(text: &str, size: usize) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut pieces = vec![(0usize, 1usize)];
    let mut start = 0usize;
    let mut line = 1usize;
    while start + size < bytes.len() {
        let Some(nl) = memchr_from(bytes, start + size) else {
            break;
        };
        line += memchr::memchr_iter(b'\n', &bytes[start..=nl]).count();
        start = nl + 1;
        if start < bytes.len() {
            pieces.push((start, line));
        }
    }
    pieces
}

fn memchr_from(bytes: &[u8], from: usize) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| from + p)
}

/// The number of lines of `text` that are not blank.
fn count_events(text: &str) -> usize {
    Lines::new(text).filter(|l| !is_blank(l)).count()
}

/// The lines of `text`, as `str::lines` cuts them (a `\r` before the
/// `\n` is dropped), found with a vectorised search for `\n`.
struct Lines<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        Lines { text, at: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;
    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        if start >= bytes.len() {
            return None;
        }
        let end = match memchr::memchr(b'\n', &bytes[start..]) {
            Some(p) => {
                let nl = start + p;
                self.at = nl + 1;
                if nl > start && bytes[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                }
            }
            None => {
                self.at = bytes.len();
                bytes.len()
            }
        };
        // Cut next to ASCII bytes, so at char boundaries.
        Some(&self.text[start..end])
    }
}

/// True when the line holds only whitespace (as `str::trim` sees it).
#[inline]
fn is_blank(line: &str) -> bool {
    line.as_bytes().first() != Some(&b'{') && line.trim().is_empty()
}

/// Reads a piece into `out`, which has room for exactly its events.
fn fill_piece(
    text: &str,
    file: &str,
    first_line: usize,
    out: &mut [Op],
) -> Result<(), HistoryError> {
    let mut names = fast::Names::default();
    let mut slots = out.iter_mut();
    for (i, line) in Lines::new(text).enumerate() {
        if is_blank(line) {
            continue;
        }
        let op = parse_line(line, file, first_line + i, &mut names)?;
        if let Some(slot) = slots.next() {
            *slot = op;
        }
    }
    Ok(())
}

pub(super) fn parse_line(
    line: &str,
    file: &str,
    lineno: usize,
    names: &mut fast::Names,
) -> Result<Op, HistoryError> {
    if let Some(op) = fast::line_with(line, lineno, names) {
        return Ok(op);
    }
    parse_line_carefully(line, file, lineno)
}

/// The careful path: serde's reader, whose errors name the column.
fn parse_line_carefully(line: &str, file: &str, lineno: usize) -> Result<Op, HistoryError> {
    let l: Line = serde_json::from_str(line).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            HistoryError::parse(file, lineno, e.column(), format!("invalid JSON: {e}"))
        } else if !line.trim_start().starts_with('{') {
            HistoryError::parse(
                file,
                lineno,
                1,
                "expected a JSON object (one operation per line)",
            )
        } else {
            HistoryError::parse(
                file,
                lineno,
                e.column(),
                format!("not an operation: {e} (expected fields index, process, type, f, value)"),
            )
        }
    })?;
    let Some(op_type) = OpType::parse(l.op_type) else {
        return Err(HistoryError::parse(
            file,
            lineno,
            1,
            format!(
                "not an operation: unknown type `{}` (expected invoke, ok, fail or info)",
                l.op_type
            ),
        ));
    };
    // Elle's transactions may omit `f`: the value is the micro-ops.
    let f = match l.f {
        Some(f) => f,
        None if super::is_txn_value(&l.value) => Name::new(super::TXN),
        None => return Err(HistoryError::parse(
            file,
            lineno,
            1,
            "not an operation: missing field `f` (expected fields index, process, type, f, value)",
        )),
    };
    let time = match l.time {
        None | Some(-1) => None,
        Some(t) => Some(u64::try_from(t).map_err(|_| {
            HistoryError::parse(
                file,
                lineno,
                1,
                format!("not an operation: time {t} is negative (-1 means no time)"),
            )
        })?),
    };
    Ok(Op {
        index: l.index.unwrap_or(u64::MAX),
        // Jepsen's "no time" is -1.
        time: time.into(),
        process: l.process,
        op_type,
        f,
        key: l.key,
        value: l.value,
        extra: super::OpExtra::of(l.node, l.error),
        line: lineno as u32,
    })
}

/// A reader for the lines faultline and Jepsen write: flat objects whose
/// fields are integers, short strings and small lists. It gives up
/// (`None`) on anything unusual — escapes in strings, duplicate fields,
/// malformed text — and the careful path then reads the line and names
/// what is wrong, so the two agree on every line they both accept.
///
/// It is the hot loop of reading a history, so it avoids what costs per
/// event: the usual field names and types are compared whole; strings are
/// scanned eight bytes at a time; integers of up to 18 digits (which
/// cannot overflow an `i64`) are read without overflow checks; names
/// repeated by a piece (functions, nodes, micro-operation names such as
/// `r` and `append`) are found in a small cache instead of the interning
/// table; and the items of a list are gathered in one buffer reused by
/// every line of the piece (a list of integers as plain integers), then
/// moved into one allocation of exactly their number.
mod fast {
    use super::super::{is_txn_value, Name, Op, OpType, Process, Val, TXN};
    use crate::history::value::SharedLists;

    /// Slots of the name cache (a power of two).
    const SLOTS: usize = 64;
    /// Longer strings are values rather than names: not cached.
    const CACHED_LEN: usize = 32;

    /// What the lines of one piece share: the names they repeat, and the
    /// buffer where the items of the lists being read are gathered.
    pub(crate) struct Names {
        /// Direct-mapped: a name's slot follows from its length and its
        /// first and last bytes, so a lookup is one comparison.
        slots: [Option<Name>; SLOTS],
        /// Items of the lists being read, innermost list last.
        items: Vec<Val>,
        /// The integers of a list of integers being read.
        ints: Vec<i64>,
        /// Read lists, sharing their storage per key.
        lists: SharedLists,
    }

    impl Default for Names {
        fn default() -> Names {
            Names {
                slots: [None; SLOTS],
                items: Vec::new(),
                ints: Vec::new(),
                lists: SharedLists::default(),
            }
        }
    }

    impl Names {
        fn get(&mut self, s: &str) -> Name {
            let b = s.as_bytes();
            let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
                return Name::new(s);
            };
            if b.len() > CACHED_LEN {
                return Name::new(s);
            }
            let slot = (b.len() * 5 + usize::from(first) * 3 + usize::from(last)) % SLOTS;
            if let Some(n) = self.slots[slot] {
                if n.as_bytes() == b {
                    return n;
                }
            }
            let n = Name::new(s);
            self.slots[slot] = Some(n);
            n
        }
    }

    /// The fields of an event, as bits (a field may appear once).
    const INDEX: u16 = 1;
    const TIME: u16 = 2;
    const PROCESS: u16 = 4;
    const TYPE: u16 = 8;
    const F: u16 = 16;
    const KEY: u16 = 32;
    const VALUE: u16 = 64;
    const NODE: u16 = 128;
    const ERROR: u16 = 256;
    /// Any other field: read and ignored, as serde ignores it.
    const OTHER: u16 = 512;

    fn field(k: &[u8]) -> u16 {
        match k.len() {
            1 if k[0] == b'f' => F,
            3 if k == b"key" => KEY,
            4 if k == b"time" => TIME,
            4 if k == b"type" => TYPE,
            4 if k == b"node" => NODE,
            5 if k == b"index" => INDEX,
            5 if k == b"value" => VALUE,
            5 if k == b"error" => ERROR,
            7 if k == b"process" => PROCESS,
            _ => OTHER,
        }
    }

    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;

    /// True when some byte of `w` may be a quote, a backslash or below
    /// 0x20 (a byte of 0x80 or above may be reported too: the caller then
    /// reads byte by byte, so a false alarm costs only time).
    #[inline(always)]
    fn has_special(w: u64) -> bool {
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
        (zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\'))) | below_space)
            != 0
    }

    struct Cursor<'a, 'n> {
        s: &'a str,
        b: &'a [u8],
        i: usize,
        names: &'n mut Names,
        /// Where in the items the key of the list about to be read is,
        /// when that list is the value of a micro-op `[f, key, value]`:
        /// its storage is shared with the key's other reads.
        key_at: Option<usize>,
    }

    impl<'a> Cursor<'a, '_> {
        #[inline]
        fn ws(&mut self) {
            while let Some(&c) = self.b.get(self.i) {
                if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                    self.i += 1;
                } else {
                    break;
                }
            }
        }
        #[inline]
        fn eat(&mut self, c: u8) -> bool {
            self.ws();
            if self.b.get(self.i) == Some(&c) {
                self.i += 1;
                true
            } else {
                false
            }
        }
        #[inline]
        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.b.get(self.i).copied()
        }
        /// The rest of a string whose opening quote was just read, when it
        /// holds no escapes (escaped strings go the careful way) and no
        /// control characters (which JSON refuses).
        #[inline]
        fn str_body(&mut self) -> Option<&'a str> {
            let start = self.i;
            // Eight bytes at a time while none of them is a quote, a
            // backslash or a control character; then byte by byte.
            while let Some(word) = self.b.get(self.i..self.i + 8) {
                let Ok(word) = <[u8; 8]>::try_from(word) else {
                    break;
                };
                if has_special(u64::from_le_bytes(word)) {
                    break;
                }
                self.i += 8;
            }
            loop {
                let c = *self.b.get(self.i)?;
                self.i += 1;
                if c == b'"' {
                    break;
                }
                if c == b'\\' || c < 0x20 {
                    return None;
                }
            }
            // Both ends are ASCII quotes, so these are char boundaries.
            self.s.get(start..self.i - 1)
        }
        /// A field name and its closing quote: the usual ones compared
        /// whole, any other read as a string.
        #[inline(always)]
        fn key(&mut self) -> Option<u16> {
            if !self.eat(b'"') {
                return None;
            }
            let rest = &self.b[self.i..];
            let (bit, len) = match rest.first()? {
                b'i' if rest.starts_with(b"index\"") => (INDEX, 6),
                b't' if rest.starts_with(b"time\"") => (TIME, 5),
                b't' if rest.starts_with(b"type\"") => (TYPE, 5),
                b'p' if rest.starts_with(b"process\"") => (PROCESS, 8),
                b'f' if rest.starts_with(b"f\"") => (F, 2),
                b'k' if rest.starts_with(b"key\"") => (KEY, 4),
                b'v' if rest.starts_with(b"value\"") => (VALUE, 6),
                b'n' if rest.starts_with(b"node\"") => (NODE, 5),
                b'e' if rest.starts_with(b"error\"") => (ERROR, 6),
                _ => return self.str_body().map(|k| field(k.as_bytes())),
            };
            self.i += len;
            Some(bit)
        }
        /// An event's type, as [`OpType::parse`] reads it.
        #[inline(always)]
        fn op_type(&mut self) -> Option<OpType> {
            if !self.eat(b'"') {
                return None;
            }
            let rest = &self.b[self.i..];
            let (t, len) = if rest.starts_with(b"invoke\"") {
                (OpType::Invoke, 7)
            } else if rest.starts_with(b"ok\"") {
                (OpType::Ok, 3)
            } else if rest.starts_with(b"fail\"") {
                (OpType::Fail, 5)
            } else if rest.starts_with(b"info\"") {
                (OpType::Info, 5)
            } else {
                return OpType::parse(self.str_body()?);
            };
            self.i += len;
            Some(t)
        }
        #[inline]
        fn string(&mut self) -> Option<&'a str> {
            if !self.eat(b'"') {
                return None;
            }
            self.str_body()
        }
        fn literal(&mut self, word: &[u8]) -> Option<()> {
            self.b[self.i..]
                .starts_with(word)
                .then(|| self.i += word.len())
        }
        /// An integer of at most 18 digits (which cannot overflow an
        /// `i64`, so no digit is checked for overflow), without a fraction
        /// or exponent. Anything else is left unread: `None`.
        #[inline(always)]
        fn small_int(&mut self) -> Option<i64> {
            let b = self.b;
            let neg = b.get(self.i) == Some(&b'-');
            let digits = self.i + usize::from(neg);
            let mut i = digits;
            let mut n: i64 = 0;
            while let Some(&c) = b.get(i) {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                n = n.wrapping_mul(10).wrapping_add(i64::from(d));
                i += 1;
            }
            let len = i - digits;
            // `-0` is a float to serde_json; leading zeros are refused.
            if len == 0
                || len > 18
                || (len > 1 && b[digits] == b'0')
                || (neg && n == 0)
                || matches!(b.get(i), Some(b'.' | b'e' | b'E'))
            {
                return None;
            }
            self.i = i;
            Some(if neg { -n } else { n })
        }
        #[inline]
        fn number(&mut self) -> Option<Val> {
            self.ws();
            match self.small_int() {
                Some(n) => Some(Val::Int(n)),
                // Fractions, exponents, longer integers and `-0` are read
                // as the careful path reads them.
                None => self.number_by_serde(self.i),
            }
        }
        /// The rest of a number that starts at `start`, read by serde_json.
        #[cold]
        #[inline(never)]
        fn number_by_serde(&mut self, start: usize) -> Option<Val> {
            while let Some(&c) = self.b.get(self.i) {
                if c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-') {
                    self.i += 1;
                } else {
                    break;
                }
            }
            let v: serde_json::Value = serde_json::from_str(self.s.get(start..self.i)?).ok()?;
            Some(Val::from_json_owned(v))
        }
        fn value(&mut self, depth: usize) -> Option<Val> {
            self.push_value(depth)?;
            self.names.items.pop()
        }
        /// Reads a value onto the end of the items. Each kind of value is
        /// written there directly (not returned and moved: moving a value
        /// whose kind is not known copies it in pieces, which is slow).
        fn push_value(&mut self, depth: usize) -> Option<()> {
            if depth > 64 {
                return None;
            }
            // The usual items first, without looking for whitespace.
            match self.b.get(self.i) {
                Some(c) if c.is_ascii_digit() => {
                    if let Some(n) = self.small_int() {
                        self.names.items.push(Val::Int(n));
                        return Some(());
                    }
                }
                Some(b'"') => {
                    self.i += 1;
                    let s = self.str_body()?;
                    let name = self.names.get(s);
                    self.names.items.push(Val::Str(name));
                    return Some(());
                }
                Some(b'n') => {
                    self.literal(b"null")?;
                    self.names.items.push(Val::Nil);
                    return Some(());
                }
                _ => {}
            }
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    let s = self.str_body()?;
                    let name = self.names.get(s);
                    self.names.items.push(Val::Str(name));
                }
                b'[' => {
                    self.i += 1;
                    let list = self.list(depth)?;
                    self.names.items.push(list);
                }
                b'n' => {
                    self.literal(b"null")?;
                    self.names.items.push(Val::Nil);
                }
                b't' => {
                    self.literal(b"true")?;
                    self.names.items.push(Val::Bool(true));
                }
                b'f' => {
                    self.literal(b"false")?;
                    self.names.items.push(Val::Bool(false));
                }
                b'{' => {
                    // Maps are rare in histories: kept exactly, as JSON.
                    let start = self.i;
                    self.skip_object(depth)?;
                    let v: serde_json::Value =
                        serde_json::from_str(self.s.get(start..self.i)?).ok()?;
                    self.names.items.push(Val::Other(Box::new(v)));
                }
                _ => {
                    let v = self.number()?;
                    self.names.items.push(v);
                }
            }
            Some(())
        }
        /// The rest of a list whose `[` was just read.
        fn list(&mut self, depth: usize) -> Option<Val> {
            if let Some(list) = self.int_list() {
                return Some(list);
            }
            self.ws();
            if self.b.get(self.i) == Some(&b'[') {
                if let Some(list) = self.triples(depth) {
                    return Some(list);
                }
            }
            let base = self.names.items.len();
            if !self.eat(b']') {
                loop {
                    let items = &self.names.items[base..];
                    self.key_at = match items {
                        [Val::Str(_), Val::Int(_) | Val::Str(_)] => Some(base + 1),
                        _ => None,
                    };
                    self.push_value(depth + 1)?;
                    self.key_at = None;
                    match self.b.get(self.i) {
                        Some(b',') => {
                            self.i += 1;
                            continue;
                        }
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        _ => {}
                    }
                    if self.eat(b',') {
                        continue;
                    }
                    if !self.eat(b']') {
                        return None;
                    }
                    break;
                }
            }
            Some(Val::list_exact(&mut self.names.items, base))
        }
        /// The rest of a list whose `[` was just read, when it holds only
        /// lists of three elements (a transaction's micro-ops): their
        /// elements are gathered flat and make one [`Val::Triples`], with
        /// no list of their own. Otherwise nothing is read: `None`.
        fn triples(&mut self, depth: usize) -> Option<Val> {
            let start = self.i;
            let base = self.names.items.len();
            let flat = self.flat_triples(depth, base);
            if flat.is_none() {
                self.i = start;
                self.names.items.truncate(base);
            }
            flat
        }
        fn flat_triples(&mut self, depth: usize, base: usize) -> Option<Val> {
            loop {
                if self.b.get(self.i) != Some(&b'[') {
                    return None;
                }
                self.i += 1;
                let first = self.names.items.len();
                for k in 0..3 {
                    self.ws();
                    let items = &self.names.items[first..];
                    self.key_at = match items {
                        [Val::Str(_), Val::Int(_) | Val::Str(_)] => Some(first + 1),
                        _ => None,
                    };
                    let read = self.push_value(depth + 2);
                    self.key_at = None;
                    read?;
                    self.ws();
                    let end = if k < 2 { b',' } else { b']' };
                    if self.b.get(self.i) != Some(&end) {
                        return None;
                    }
                    self.i += 1;
                }
                self.ws();
                match self.b.get(self.i) {
                    Some(b',') => {
                        self.i += 1;
                        self.ws();
                    }
                    Some(b']') => {
                        self.i += 1;
                        return Some(Val::triples_exact(&mut self.names.items, base));
                    }
                    _ => return None,
                }
            }
        }
        /// The rest of a list whose `[` was just read, when it holds only
        /// integers that [`Cursor::small_int`] reads (read results): they
        /// are gathered as plain integers, and become values only in the
        /// list's own allocation. Otherwise nothing is read: `None`.
        fn int_list(&mut self) -> Option<Val> {
            let start = self.i;
            self.names.ints.clear();
            loop {
                self.ws();
                let Some(n) = self.small_int() else {
                    self.i = start;
                    return None;
                };
                self.names.ints.push(n);
                self.ws();
                match self.b.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => {
                        self.i = start;
                        return None;
                    }
                }
            }
            let names = &mut *self.names;
            Some(match self.key_at.take() {
                Some(at) => names.lists.list(&names.items[at], &names.ints),
                None => Val::int_list(&names.ints),
            })
        }
        fn skip_object(&mut self, depth: usize) -> Option<()> {
            if !self.eat(b'{') {
                return None;
            }
            if self.eat(b'}') {
                return Some(());
            }
            loop {
                self.string()?;
                if !self.eat(b':') {
                    return None;
                }
                self.value(depth + 1)?;
                if self.eat(b',') {
                    continue;
                }
                return self.eat(b'}').then_some(());
            }
        }
    }

    /// A process as written: an integer or a name; `null` is none.
    fn process_of(v: Val) -> Option<Option<Process>> {
        match v {
            Val::Nil => Some(None),
            Val::Int(i) => Some(Some(Process::id(i))),
            Val::Str(n) => Some(Some(Process::name(n))),
            _ => None,
        }
    }

    /// Reads one line, or `None` for the careful path to decide; `names`
    /// are the piece's.
    pub(super) fn line_with(text: &str, lineno: usize, names: &mut Names) -> Option<Op> {
        // Items a line given up on left behind.
        names.items.clear();
        let mut c = Cursor {
            s: text,
            b: text.as_bytes(),
            i: 0,
            names,
            key_at: None,
        };
        if !c.eat(b'{') {
            return None;
        }
        let mut index = None;
        let mut time = None;
        let mut process = None;
        let mut op_type = None;
        let mut f = None;
        let mut key = None;
        let mut value = None;
        let mut node = None;
        let mut error = None;
        let mut seen = 0u16;
        if !c.eat(b'}') {
            loop {
                let bit = c.key()?;
                if !c.eat(b':') {
                    return None;
                }
                if bit != OTHER && seen & bit != 0 {
                    return None;
                }
                seen |= bit;
                match bit {
                    INDEX => index = Some(c.number()?.as_u64()?),
                    TIME => {
                        time = match c.number()?.as_i64()? {
                            -1 => None,
                            t => Some(u64::try_from(t).ok()?),
                        }
                    }
                    PROCESS => process = process_of(c.value(0)?)?,
                    TYPE => op_type = Some(c.op_type()?),
                    F => {
                        let s = c.string()?;
                        f = Some(c.names.get(s));
                    }
                    KEY => {
                        key = match c.value(0)? {
                            Val::Nil => None,
                            k => Some(k),
                        }
                    }
                    VALUE => value = Some(c.value(0)?),
                    NODE => {
                        node = if c.peek()? == b'"' {
                            let s = c.string()?;
                            Some(c.names.get(s))
                        } else {
                            c.literal(b"null")?;
                            None
                        }
                    }
                    ERROR => {
                        error = match c.value(0)? {
                            Val::Nil => None,
                            e => Some(e.to_json()),
                        }
                    }
                    _ => {
                        c.value(0)?;
                    }
                }
                if c.eat(b',') {
                    continue;
                }
                if !c.eat(b'}') {
                    return None;
                }
                break;
            }
        }
        c.ws();
        if c.i != c.b.len() {
            return None;
        }
        let value = value.unwrap_or_default();
        let f = match f {
            Some(f) => f,
            None if is_txn_value(&value) => Name::new(TXN),
            None => return None,
        };
        Some(Op {
            index: index.unwrap_or(u64::MAX),
            time: time.into(),
            process,
            op_type: op_type?,
            f,
            key,
            value,
            extra: super::super::OpExtra::of(node, error),
            line: lineno as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};

    #[test]
    fn reads_ops_and_fills_index() {
        let ops = parse(
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":3,\"key\":\"x\"}\n\n{\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"start\",\"value\":null}\n",
            "a.jsonl",
        )
        .unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].index, 0);
        assert_eq!(ops[1].index, 1);
        assert_eq!(ops[0].op_type, OpType::Invoke);
        assert_eq!(ops[0].key, Some(Val::str("x")));
        assert_eq!(ops[1].process, Some(Process::name("nemesis")));
        assert_eq!(ops[1].line, 3);
    }

    #[test]
    fn bad_json_names_line_and_column() {
        let e = parse(
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":0,",
            "b.jsonl",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("b.jsonl:2:"), "{s}");
    }

    #[test]
    fn bad_type_is_an_error() {
        let e = parse(
            "{\"process\":0,\"type\":\"done\",\"f\":\"read\"}",
            "c.jsonl",
        )
        .unwrap_err();
        assert!(e.to_string().contains("c.jsonl:1:"), "{e}");
    }

    /// Checks one line both ways: whatever the fast reader accepts, the
    /// careful reader accepts and reads the same; whatever the careful
    /// reader refuses, the fast reader leaves to it. Returns whether the
    /// fast reader read it.
    fn agrees(l: &str, names: &mut fast::Names) -> bool {
        let careful = parse_line_carefully(l, "x", 1);
        match fast::line_with(l, 1, names) {
            Some(fast) => {
                let careful = careful.unwrap_or_else(|e| {
                    panic!("fast reader accepted what serde refuses: {l}: {e}")
                });
                assert_eq!(fast, careful, "{l}");
                // Exactly: `1` and `1.0` are equal as f64 but not as values,
                // and the written text shows any difference of kind.
                assert_eq!(
                    serde_json::to_string(&fast).unwrap(),
                    serde_json::to_string(&careful).unwrap(),
                    "{l}"
                );
                true
            }
            None => false,
        }
    }

    #[test]
    fn the_fast_reader_agrees_with_serde() {
        // (line, whether the fast reader reads it itself)
        let lines = [
            (r#"{"index":3,"time":12,"process":4,"type":"ok","f":"read","key":"x","value":[1,2,3],"node":"n1"}"#, true),
            (r#"{"process":"nemesis","type":"info","f":"start","value":{"target":["n1"]},"error":["timeout", 3]}"#, true),
            (r#"{"type":"ok","value":[["append","x",1],["r","y",[1,2]]]}"#, true),
            (r#"{"index":7,"process":5,"type":"ok","f":"txn","value":[["r",88,[1,4,9]],["append",991,1]]}"#, true),
            (r#"{"index":8,"process":5,"type":"invoke","f":"txn","value":[["r",88,null],["r",89,[]],["append",991,1]]}"#, true),
            (r#"{"type":"ok","f":"txn","value":[ [ "r" , "x" , [1,2,3,4,5] ] , [ "append" , "x" , 6 ] ]}"#, true),
            (r#"{"type":"ok","f":"txn","value":[["r",1,[1,2,3,4]],["r",1,[1,2,3,4,5,6]],["r",1,[1,2,3,5]],["r",2,[1,2,3,4]]]}"#, true),
            (r#"{"type":"ok","f":"txn","value":[["r","x"],["append","x",1]]}"#, true),
            (r#"{"type":"ok","f":"txn","value":[["a",1,2],["b",2,3,4]]}"#, true),
            (r#"{"type":"ok","f":"txn","value":[["a",1,2],5]}"#, true),
            (r#"{"type":"ok","f":"txn","value":[[[1,2,3],[4,5,6],[7,8,9]]]}"#, true),
            (r#"{"type":"ok","f":"txn","value":[["r",1,{"a":[1,2]}],[[1,2,3],[1,2,3,4],"x"]]}"#, true),
            (r#"{"type":"ok","f":"txn","value":[["r",1,2],]}"#, false),
            (r#"{"type":"ok","f":"txn","value":[["r",1,2,]]}"#, false),
            (r#"{"type":"ok","f":"txn","value":[["r",1,2]}"#, false),
            (r#" { "process" : -7 , "type" : "invoke" , "f" : "write" , "value" : -9223372036854775808 } "#, true),
            ("\t{\t\"process\"\t:\r1,\"type\":\"ok\" ,\"f\":\"w\",\"value\":[ [ ] , [ 1 , [ 2 , [ ] ] ] ]\t}\r", true),
            (r#"{"process":1,"type":"ok","f":"w","value":[[],[[]],[[],[[[]]]]]}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":[1, 2 ,3 , -4,0,-5 ]}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":[[1,2.5],[1,-0],[7,1234567890123456789],[1,"a"],[2,[3]],[4,null]]}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":[[1,-9223372036854775808],[-999999999999999999,999999999999999999]]}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":["a,b","[","]","{",{"x":[1,2],"y":"]"},[3,[4,5]],[ ],[]]}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":[ "r" , 1 , [ 2 , "x" ] , null , true , false , 1.5 ]}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":["a\"b",1]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[,]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":["a",,]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[["a"],]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":["a"]]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":["a"}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":["a",[1}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":["a" "b"]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[1,01]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[1,-]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[1,,2]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[1;2]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":1.5e3,"extra":{"a":[1,{"b":null}]}}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":[1.0,1,-0.0,0,-0,1E2,1e-2,-1.25,0.1]}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":-0}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":[9223372036854775807,-9223372036854775807,999999999999999999,-999999999999999999]}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":[1000000000000000000,-1000000000000000000,9999999999999999999]}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":18446744073709551615}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":[18446744073709551616,-9223372036854775809,100000000000000000000000]}"#, true),
            (r#"{"index":18446744073709551614,"time":9223372036854775807,"process":9223372036854775807,"type":"ok","f":"w"}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":"a\"b"}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":"\u00e9"}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":["é","日本","🦀","x y",""]}"#, true),
            (r#"{"process":"é","type":"ok","f":"日本","value":null,"node":"🦀"}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","value":true,"time":-1}"#, true),
            (r#"{"process":null,"type":"ok","f":"w","value":false,"key":null,"node":null,"error":null}"#, true),
            (r#"{"process":1,"type":"fail","f":"w","value":2,"error":{"code":1.0,"why":["x"]}}"#, true),
            (r#"{"process":1,"type":"fail","f":"w","value":2,"error":-0}"#, true),
            (r#"{"process":1,"type":"ok","f":"w","zzz":[1,{"k":[true,false,null]}],"k":"v","value":1,"index2":3}"#, true),
            (r#"{}"#, false),
            (r#"{"type":"ok","value":[]}"#, false),
            (r#"{"type":"ok","value":[["r",1,null],[1]]}"#, false),
            // Refused by both.
            (r#"{"process":1,"process":2,"type":"ok","f":"w"}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":01}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":-01}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":-}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":1.}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[1,]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[,1]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[1 2]}"#, false),
            (r#"{"process":1,"type":"ok","f":"w"} x"#, false),
            (r#"{"process":1,"type":"ok","f":"w",}"#, false),
            (r#"{"process":1,"type":"done","f":"w"}"#, false),
            (r#"{"process":1.5,"type":"ok","f":"w"}"#, false),
            (r#"{"process":-0,"type":"ok","f":"w"}"#, false),
            (r#"{"process":9223372036854775808,"type":"ok","f":"w"}"#, false),
            (r#"{"process":[1],"type":"ok","f":"w"}"#, false),
            (r#"{"index":-1,"process":1,"type":"ok","f":"w"}"#, false),
            (r#"{"index":1.0,"process":1,"type":"ok","f":"w"}"#, false),
            (r#"{"time":-2,"process":1,"type":"ok","f":"w"}"#, false),
            (r#"{"time":9223372036854775808,"process":1,"type":"ok","f":"w"}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":"a	b"}"#, false),
            (r#"{"process":1,"type":"ok","f":3}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","node":3}"#, false),
            (r#"{"process":1,"type":"ok","value":3}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":nul}"#, false),
            (r#"{"process":1,"type":"ok","f":"w","value":[1,2"#, false),
            (r#"[1,2]"#, false),
        ];
        let del = "{\"process\":1,\"type\":\"ok\",\"f\":\"w\",\"value\":\"\u{7f}\"}";
        let mut names = fast::Names::default();
        for (l, read_fast) in lines.into_iter().chain([(del, true)]) {
            assert_eq!(agrees(l, &mut names), read_fast, "{l}");
            assert_eq!(agrees(l, &mut fast::Names::default()), read_fast, "{l}");
        }
        // Strings read eight bytes at a time: a quote, a backslash, a
        // control character or a multi-byte character at every position.
        for len in 0..20 {
            for at in 0..=len {
                for special in [
                    "\\\"", "\\n", "\t", "\u{1}", "é", "\u{7f}", "\u{80}", "🦀", " ",
                ] {
                    let text = format!("{}{special}{}", "a".repeat(at), "b".repeat(len - at));
                    let l = format!(
                        r#"{{"process":1,"type":"ok","f":"{text}","value":"{text}","{text}":["{text}"]}}"#
                    );
                    let read_fast = !special.starts_with('\\')
                        && !special.starts_with('\t')
                        && special != "\u{1}";
                    assert_eq!(agrees(&l, &mut names), read_fast, "{l}");
                }
            }
        }
        // Strings that share a slot of the name cache keep their own names.
        let mut names = fast::Names::default();
        for _ in 0..2 {
            for v in ["axb", "ayb", "azb", "a", "b", "ab", "append", "r"] {
                let l = format!(
                    r#"{{"process":"{v}","type":"ok","f":"{v}","value":["{v}",["{v}"]],"node":"{v}"}}"#
                );
                assert!(agrees(&l, &mut names), "{l}");
                let op = fast::line_with(&l, 1, &mut names).unwrap();
                assert_eq!(op.f, v);
            }
        }
    }

    /// Random lines, mostly well formed, with some bytes changed: both
    /// readers agree on every one.
    #[test]
    fn the_fast_reader_agrees_with_serde_on_random_lines() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        const ATOMS: [&str; 24] = [
            "0",
            "-0",
            "7",
            "-7",
            "1.0",
            "-0.0",
            "2e3",
            "123456789012345678",
            "-123456789012345678",
            "1234567890123456789",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "null",
            "true",
            "false",
            "\"r\"",
            "\"append\"",
            "\"x\"",
            "\"é\"",
            "\"a\\\"b\"",
            "\"\"",
            "{\"a\":[1]}",
            "{}",
        ];
        const FIELDS: [&str; 11] = [
            "index", "time", "process", "type", "f", "key", "value", "node", "error", "extra",
            "typ",
        ];
        fn value(rng: &mut impl Rng, depth: u32, out: &mut String) {
            if depth < 3 && rng.gen_bool(0.3) {
                out.push('[');
                for i in 0..rng.gen_range(0..4) {
                    if i > 0 {
                        out.push(',');
                    }
                    value(rng, depth + 1, out);
                }
                out.push(']');
            } else {
                out.push_str(ATOMS[rng.gen_range(0..ATOMS.len())]);
            }
        }
        let ws = [" ", "\t", "", "", "", ""];
        let mut fast_read = 0;
        let mut names = fast::Names::default();
        for _ in 0..20_000 {
            let mut l = String::from("{");
            let mut fields: Vec<&str> = FIELDS.to_vec();
            fields.retain(|f| {
                if matches!(*f, "type" | "f") {
                    rng.gen_bool(0.95)
                } else {
                    rng.gen_bool(0.5)
                }
            });
            if rng.gen_bool(0.1) {
                fields.push("process");
            }
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    l.push(',');
                }
                l.push_str(ws[rng.gen_range(0..ws.len())]);
                l.push_str(&format!("\"{f}\":"));
                l.push_str(ws[rng.gen_range(0..ws.len())]);
                match *f {
                    "type" => l.push_str(
                        ["\"ok\"", "\"invoke\"", "\"fail\"", "\"info\"", "\"no\""]
                            [rng.gen_range(0..5)],
                    ),
                    "f" if rng.gen_bool(0.8) => l.push_str("\"txn\""),
                    "index" | "time" if rng.gen_bool(0.7) => {
                        l.push_str(&rng.gen_range(-2i64..100).to_string())
                    }
                    _ => value(&mut rng, 0, &mut l),
                }
            }
            l.push('}');
            if rng.gen_bool(0.1) {
                // A changed byte: most such lines are malformed.
                let mut b = l.into_bytes();
                let at = rng.gen_range(0..b.len());
                b[at] = b"{}[],:\"-.0e "[rng.gen_range(0..12)];
                l = String::from_utf8(b).unwrap_or_default();
            }
            if agrees(&l, &mut names) {
                fast_read += 1;
            }
        }
        // The fast reader must have read a good share itself.
        assert!(fast_read > 2_000, "{fast_read}");
    }

    #[test]
    fn lines_are_cut_as_str_lines_cuts_them() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let bits = ["\n", "\r\n", "\r", " ", "\t", "{}", "x", "\u{a0}", "é"];
        for _ in 0..2000 {
            let text: String = (0..rng.gen_range(0..12))
                .map(|_| bits[rng.gen_range(0..bits.len())])
                .collect();
            let ours: Vec<&str> = Lines::new(&text).collect();
            let std: Vec<&str> = text.lines().collect();
            assert_eq!(ours, std, "{text:?}");
            let blank = |l: &&str| l.trim().is_empty();
            assert_eq!(
                count_events(&text),
                std.iter().filter(|l| !blank(l)).count(),
                "{text:?}"
            );
        }
        let text = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\r\n\r\n  \r\n{\"process\":0,\"type\":\"ok\",\"f\":\"read\"}\r\n\u{a0}\n{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}";
        let ops = parse(text, "crlf").unwrap();
        let lines: Vec<u32> = ops.iter().map(|o| o.line).collect();
        assert_eq!(lines, [1, 4, 6]);
    }

    #[test]
    fn pieces_are_four_a_thread_within_bounds() {
        assert_eq!(piece_size(100 << 20, 2), PIECE);
        assert_eq!(piece_size(8 << 20, 2), 1 << 20);
        assert_eq!(piece_size(8 << 20, 1), 2 << 20);
        assert_eq!(piece_size(100 << 10, 2), SMALLEST_PIECE);
        assert_eq!(piece_size(100 << 10, 0), SMALLEST_PIECE);
    }

    #[test]
    fn pieces_keep_line_numbers() {
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&format!(
                "{{\"process\":{},\"type\":\"invoke\",\"f\":\"read\",\"value\":null}}\n",
                i
            ));
            if i % 7 == 0 {
                text.push('\n');
            }
        }
        let pieces = split_lines(&text, 1000);
        assert!(pieces.len() > 10);
        for &(start, line) in &pieces {
            let before = text[..start].matches('\n').count();
            assert_eq!(line, before + 1);
        }
        let whole = parse_in_pieces(&text, "p", text.len()).unwrap();
        let joined = parse_in_pieces(&text, "p", 1000).unwrap();
        assert_eq!(whole, joined);
        let bad = format!("{text}{{\"process\":1,\n");
        let e = parse(&bad, "q").unwrap_err().to_string();
        let lines = bad.matches('\n').count();
        assert!(e.starts_with(&format!("q:{lines}:")), "{e}");
    }
}
