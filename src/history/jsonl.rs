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

/// Pieces smaller than this are not worth a thread.
const PIECE: usize = 4 << 20;

/// Parses JSON Lines text; errors name `file`, the line and the column.
pub fn parse(text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    parse_in_pieces(text, file, PIECE)
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
    let mut ops = vec![Op::default(); counts.iter().sum()];
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
    for (pos, op) in ops.iter_mut().enumerate() {
        if op.index == u64::MAX {
            op.index = pos as u64;
        }
    }
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
        line += bytes[start..=nl].iter().filter(|&&b| b == b'\n').count();
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
    text.lines().filter(|l| !l.trim().is_empty()).count()
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
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
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
    // The careful path: serde's reader, whose errors name the column.
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
/// (`None`) on anything unusual — escapes in keys, duplicate or missing
/// fields, malformed text — and the careful path then reads the line and
/// names what is wrong, so the two agree on every line they both accept.
mod fast {
    use super::super::{Name, Op, OpType, Process, Val};

    struct Cursor<'a> {
        s: &'a str,
        b: &'a [u8],
        i: usize,
    }

    impl<'a> Cursor<'a> {
        fn ws(&mut self) {
            while let Some(&c) = self.b.get(self.i) {
                if c == b' ' || c == b'\t' || c == b'\r' || c == b'\n' {
                    self.i += 1;
                } else {
                    break;
                }
            }
        }
        fn eat(&mut self, c: u8) -> Option<()> {
            self.ws();
            (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
        }
        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.b.get(self.i).copied()
        }
        /// A string without escapes (escaped strings go the careful way).
        fn plain_str(&mut self) -> Option<&'a str> {
            self.eat(b'"')?;
            let start = self.i;
            let rest = &self.b[start..];
            let len = memchr::memchr2(b'"', b'\\', rest)?;
            if rest[len] != b'"' || rest[..len].iter().any(|&c| c < 0x20) {
                return None;
            }
            self.i = start + len + 1;
            // Both ends are ASCII quotes, so these are char boundaries.
            self.s.get(start..start + len)
        }
        fn literal(&mut self, word: &[u8]) -> Option<()> {
            self.b[self.i..]
                .starts_with(word)
                .then(|| self.i += word.len())
        }
        fn number(&mut self) -> Option<Val> {
            self.ws();
            let start = self.i;
            let neg = self.b.get(self.i) == Some(&b'-');
            if neg {
                self.i += 1;
            }
            let digits = self.i;
            let mut n: i64 = 0;
            let mut overflow = false;
            while let Some(&c) = self.b.get(self.i) {
                if !c.is_ascii_digit() {
                    break;
                }
                match n
                    .checked_mul(10)
                    .and_then(|m| m.checked_sub(i64::from(c - b'0')))
                {
                    Some(m) => n = m,
                    None => overflow = true,
                }
                self.i += 1;
            }
            let len = self.i - digits;
            if len == 0 || (len > 1 && self.b[digits] == b'0') {
                return None;
            }
            if matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E')) || overflow {
                // Floats and huge integers: serde_json's own reading.
                while let Some(&c) = self.b.get(self.i) {
                    if c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-') {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                let v: serde_json::Value = serde_json::from_str(self.s.get(start..self.i)?).ok()?;
                return Some(Val::from_json_owned(v));
            }
            // Accumulated negatively so that i64::MIN fits.
            if neg {
                Some(Val::Int(n))
            } else {
                n.checked_neg().map(Val::Int)
            }
        }
        fn value(&mut self, depth: usize) -> Option<Val> {
            if depth > 64 {
                return None;
            }
            match self.peek()? {
                b'n' => self.literal(b"null").map(|_| Val::Nil),
                b't' => self.literal(b"true").map(|_| Val::Bool(true)),
                b'f' => self.literal(b"false").map(|_| Val::Bool(false)),
                b'"' => self.plain_str().map(Val::str),
                b'[' => {
                    self.i += 1;
                    let mut items = Vec::new();
                    if self.eat(b']').is_some() {
                        return Some(Val::list(items));
                    }
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b',').is_some() {
                            continue;
                        }
                        self.eat(b']')?;
                        return Some(Val::list(items));
                    }
                }
                b'{' => {
                    // Maps are rare in histories: kept exactly, as JSON.
                    let start = self.i;
                    self.skip_object(depth)?;
                    let v: serde_json::Value =
                        serde_json::from_str(self.s.get(start..self.i)?).ok()?;
                    Some(Val::Other(Box::new(v)))
                }
                _ => self.number(),
            }
        }
        fn skip_object(&mut self, depth: usize) -> Option<()> {
            self.eat(b'{')?;
            if self.eat(b'}').is_some() {
                return Some(());
            }
            loop {
                self.plain_str()?;
                self.eat(b':')?;
                self.value(depth + 1)?;
                if self.eat(b',').is_some() {
                    continue;
                }
                return self.eat(b'}');
            }
        }
    }

    /// The names a piece of history repeats (functions, nodes), looked up
    /// once: comparing a few short strings beats hashing every event's.
    #[derive(Default)]
    pub(crate) struct Names(Vec<Name>);

    impl Names {
        fn get(&mut self, s: &str) -> Name {
            if let Some(n) = self.0.iter().find(|n| n.as_str() == s) {
                return *n;
            }
            let n = Name::new(s);
            if self.0.len() < 32 {
                self.0.push(n);
            }
            n
        }
    }

    /// Reads one line, or `None` for the careful path to decide.
    #[cfg(test)]
    pub(super) fn line(text: &str, lineno: usize) -> Option<Op> {
        line_with(text, lineno, &mut Names::default())
    }

    /// [`line`], with the piece's names at hand.
    pub(super) fn line_with(text: &str, lineno: usize, names: &mut Names) -> Option<Op> {
        let mut c = Cursor {
            s: text,
            b: text.as_bytes(),
            i: 0,
        };
        c.eat(b'{')?;
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
        if c.eat(b'}').is_none() {
            loop {
                let k = c.plain_str()?;
                c.eat(b':')?;
                let bit = match k {
                    "index" => 1,
                    "time" => 2,
                    "process" => 4,
                    "type" => 8,
                    "f" => 16,
                    "key" => 32,
                    "value" => 64,
                    "node" => 128,
                    "error" => 256,
                    _ => 512,
                };
                if bit != 512 && seen & bit != 0 {
                    return None;
                }
                seen |= bit;
                match bit {
                    1 => index = Some(c.number()?.as_u64()?),
                    2 => {
                        time = match c.number()?.as_i64()? {
                            -1 => None,
                            t => Some(u64::try_from(t).ok()?),
                        }
                    }
                    4 => {
                        process = match c.value(0)? {
                            Val::Nil => None,
                            Val::Int(i) => Some(Process::id(i)),
                            Val::Str(n) => Some(Process::name(n)),
                            _ => return None,
                        }
                    }
                    8 => op_type = Some(OpType::parse(c.plain_str()?)?),
                    16 => f = Some(names.get(c.plain_str()?)),
                    32 => {
                        key = match c.value(0)? {
                            Val::Nil => None,
                            k => Some(k),
                        }
                    }
                    64 => value = Some(c.value(0)?),
                    128 => {
                        node = if c.peek()? == b'"' {
                            Some(names.get(c.plain_str()?))
                        } else {
                            c.literal(b"null")?;
                            None
                        }
                    }
                    256 => {
                        error = match c.value(0)? {
                            Val::Nil => None,
                            e => Some(e.to_json()),
                        }
                    }
                    _ => {
                        c.value(0)?;
                    }
                }
                if c.eat(b',').is_some() {
                    continue;
                }
                c.eat(b'}')?;
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
            None if super::super::is_txn_value(&value) => Name::new(super::super::TXN),
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

    #[test]
    fn the_fast_reader_agrees_with_serde() {
        let lines = [
            r#"{"index":3,"time":12,"process":4,"type":"ok","f":"read","key":"x","value":[1,2,3],"node":"n1"}"#,
            r#"{"process":"nemesis","type":"info","f":"start","value":{"target":["n1"]},"error":["timeout", 3]}"#,
            r#"{"type":"ok","value":[["append","x",1],["r","y",[1,2]]]}"#,
            r#" { "process" : -7 , "type" : "invoke" , "f" : "write" , "value" : -9223372036854775808 } "#,
            r#"{"process":1,"type":"ok","f":"w","value":1.5e3,"extra":{"a":[1,{"b":null}]}}"#,
            r#"{"process":1,"type":"ok","f":"w","value":18446744073709551615}"#,
            r#"{"process":1,"type":"ok","f":"w","value":"a\"b"}"#,
            r#"{"process":1,"type":"ok","f":"w","value":true,"time":-1}"#,
        ];
        for (i, l) in lines.iter().enumerate() {
            let careful = parse(l, "x").unwrap().remove(0);
            if let Some(mut fast) = fast::line(l, 1) {
                if fast.index == u64::MAX {
                    fast.index = 0;
                }
                assert_eq!(fast, careful, "line {i}: {l}");
            }
        }
        // The unusual ones are left to the careful reader.
        assert!(fast::line(lines[6], 1).is_none());
        assert!(fast::line(r#"{"process":1,"process":2,"type":"ok","f":"w"}"#, 1).is_none());
        assert!(fast::line(r#"{"process":1,"type":"ok","f":"w","value":01}"#, 1).is_none());
        assert!(fast::line(r#"{"process":1,"type":"ok","f":"w"} x"#, 1).is_none());
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
