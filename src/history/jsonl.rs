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
    let pieces = split_lines(text, PIECE);
    let parsed: Vec<Result<Vec<Op>, HistoryError>> = pieces
        .par_iter()
        .map(|&(start, first_line)| {
            let end = pieces
                .iter()
                .find(|p| p.0 > start)
                .map_or(text.len(), |p| p.0);
            parse_piece(&text[start..end], file, first_line)
        })
        .collect();
    let mut ops = Vec::with_capacity(text.len() / 90);
    for piece in parsed {
        ops.extend(piece?);
    }
    // An omitted index is the event's position in the whole file.
    for (pos, op) in ops.iter_mut().enumerate() {
        if op.index == u64::MAX {
            op.index = pos as u64;
        }
    }
    ops.shrink_to_fit();
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
    bytes[from..].iter().position(|&b| b == b'\n').map(|p| from + p)
}

fn parse_piece(text: &str, file: &str, first_line: usize) -> Result<Vec<Op>, HistoryError> {
    let mut ops = Vec::with_capacity(text.len() / 90 + 1);
    for (i, line) in text.lines().enumerate() {
        let lineno = first_line + i;
        if line.trim().is_empty() {
            continue;
        }
        ops.push(parse_line(line, file, lineno)?);
    }
    Ok(ops)
}

fn parse_line(line: &str, file: &str, lineno: usize) -> Result<Op, HistoryError> {
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
        None => {
            return Err(HistoryError::parse(
                file,
                lineno,
                1,
                "not an operation: missing field `f` (expected fields index, process, type, f, value)",
            ))
        }
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
        time,
        process: l.process,
        op_type,
        f,
        key: l.key,
        value: l.value,
        node: l.node,
        error: l.error.map(Box::new),
        line: lineno,
    })
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
        assert_eq!(ops[1].process, Some(Process::Name("nemesis".into())));
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
        let whole = parse_piece(&text, "p", 1).unwrap();
        let mut joined = Vec::new();
        for (i, &(start, line)) in pieces.iter().enumerate() {
            let end = pieces.get(i + 1).map_or(text.len(), |p| p.0);
            joined.extend(parse_piece(&text[start..end], "p", line).unwrap());
        }
        assert_eq!(whole, joined);
        let bad = format!("{text}{{\"process\":1,\n");
        let e = parse(&bad, "q").unwrap_err().to_string();
        let lines = bad.matches('\n').count();
        assert!(e.starts_with(&format!("q:{lines}:")), "{e}");
    }
}
