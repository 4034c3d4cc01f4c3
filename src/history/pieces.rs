//! Reading a large JSON Lines file without holding its text.
//!
//! Reading the whole file into one string and then parsing it keeps the
//! text (about 95 bytes per register event) beside the events being made
//! (80 bytes each) until parsing ends: for a million operations that is
//! 190 MB of text on top of 160 MB of events, the peak of the whole check.
//! Here the file is read twice in pieces instead, each piece by the core
//! that parses it:
//!
//! 1. **Count.** The file is cut at fixed offsets into ranges; each range
//!    is read and its newlines counted. That gives the pieces (each starts
//!    after the first newline of its range, so every piece is whole lines),
//!    the number of the first line of each, and an upper bound of the
//!    events in each (its lines).
//! 2. **Fill.** One vector gets a slot per line; each piece is read again
//!    into a buffer of its thread, checked to be UTF-8, and its events are
//!    parsed straight into its slots (blank lines leave their slot empty).
//!    The filled slots are then moved together and the vector shortened.
//!
//! At most one piece per thread is in memory at a time. The events are
//! exactly those [`super::jsonl::parse`] gives for the same text, with the
//! same errors (file, line, column); a file that changes while it is read
//! gives an error, never a mix.

use super::jsonl;
use super::{HistoryError, Op};
use rayon::prelude::*;
use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Bytes read per range of the count and, about, per piece.
const RANGE: u64 = 4 << 20;

thread_local! {
    /// The piece this thread is reading (reused: no page faults per piece).
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Whole lines of the file: where they start, the number of the first, and
/// how many lines (an upper bound of its events) they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    start: u64,
    end: u64,
    first_line: usize,
    lines: usize,
}

/// What the count learns of one range of the file.
struct Range {
    newlines: usize,
    /// Offset in the file of the range's first newline.
    first_newline: Option<u64>,
}

fn io_error(file: &str, e: std::io::Error) -> HistoryError {
    HistoryError::Io {
        file: file.to_string(),
        source: std::sync::Arc::new(e),
    }
}

/// Reads `len` bytes at `offset` into this thread's buffer and hands them
/// to `f`.
fn with_bytes<T>(
    f_in: &File,
    file: &str,
    offset: u64,
    len: u64,
    f: impl FnOnce(&[u8]) -> Result<T, HistoryError>,
) -> Result<T, HistoryError> {
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        let len = usize::try_from(len).map_err(|_| {
            HistoryError::invalid(file, 0, "a piece of the file does not fit in memory")
        })?;
        if buffer.len() < len {
            // Exactly: a doubled buffer would be memory held for nothing.
            let more = len - buffer.len();
            buffer.reserve_exact(more);
            buffer.resize(len, 0);
        }
        let bytes = &mut buffer[..len];
        f_in.read_exact_at(bytes, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                HistoryError::invalid(file, 0, "the file became shorter while it was read")
            } else {
                io_error(file, e)
            }
        })?;
        f(bytes)
    })
}

/// Parses the JSON Lines file `f_in` of `size` bytes; errors name `file`.
pub fn parse_jsonl(f_in: &File, size: u64, file: &str) -> Result<Vec<Op>, HistoryError> {
    let parsed = parse_jsonl_with_buffers(f_in, size, file);
    // The checkers run next: give the pieces' buffers back.
    rayon::broadcast(|_| BUFFER.with(|b| *b.borrow_mut() = Vec::new()));
    parsed
}

fn parse_jsonl_with_buffers(f_in: &File, size: u64, file: &str) -> Result<Vec<Op>, HistoryError> {
    let pieces = count(f_in, size, file)?;
    let total: usize = pieces.iter().map(|p| p.lines).sum();
    let mut ops = vec![Op::default(); total];
    let mut parts: Vec<&mut [Op]> = Vec::with_capacity(pieces.len());
    let mut rest: &mut [Op] = &mut ops;
    for p in &pieces {
        let (part, tail) = rest.split_at_mut(p.lines);
        parts.push(part);
        rest = tail;
    }
    let filled: Vec<Result<usize, HistoryError>> = pieces
        .par_iter()
        .zip(parts.into_par_iter())
        .map(|(piece, out)| fill(f_in, file, piece, out))
        .collect();
    let mut kept = Vec::with_capacity(filled.len());
    for r in filled {
        kept.push(r?);
    }
    // Move each piece's events down behind the previous piece's.
    let mut to = 0usize;
    let mut from = 0usize;
    for (piece, &n) in pieces.iter().zip(&kept) {
        if to != from {
            for i in 0..n {
                ops.swap(to + i, from + i);
            }
        }
        to += n;
        from += piece.lines;
    }
    ops.truncate(to);
    // An omitted index is the event's position in the whole file.
    for (pos, op) in ops.iter_mut().enumerate() {
        if op.index == u64::MAX {
            op.index = pos as u64;
        }
    }
    Ok(ops)
}

/// The count: pieces of whole lines covering the file.
fn count(f_in: &File, size: u64, file: &str) -> Result<Vec<Piece>, HistoryError> {
    let ranges: Vec<u64> = (0..size.div_ceil(RANGE)).map(|i| i * RANGE).collect();
    let counted: Vec<Result<Range, HistoryError>> = ranges
        .par_iter()
        .map(|&start| {
            let len = RANGE.min(size - start);
            with_bytes(f_in, file, start, len, |bytes| {
                let mut newlines = memchr::memchr_iter(b'\n', bytes);
                let first_newline = newlines.next().map(|p| start + p as u64);
                Ok(Range {
                    newlines: usize::from(first_newline.is_some()) + newlines.count(),
                    first_newline,
                })
            })
        })
        .collect();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut start = 0u64;
    let mut first_line = 1usize;
    let mut lines = 0usize;
    for (i, range) in counted.into_iter().enumerate() {
        let range = range?;
        match range.first_newline {
            // A range after the first starts a piece after its first newline.
            Some(nl) if i > 0 => {
                let piece = Piece {
                    start,
                    end: nl + 1,
                    first_line,
                    lines: lines + 1,
                };
                first_line += piece.lines;
                pieces.push(piece);
                start = nl + 1;
                lines = range.newlines - 1;
            }
            _ => lines += range.newlines,
        }
    }
    if start < size {
        // The last line may end without a newline.
        let last = with_bytes(f_in, file, size - 1, 1, |b| Ok(b[0]))?;
        pieces.push(Piece {
            start,
            end: size,
            first_line,
            lines: lines + usize::from(last != b'\n'),
        });
    }
    Ok(pieces)
}

/// Reads `piece` and parses its events into the first slots of `out`
/// (one slot per line); returns how many it filled.
fn fill(f_in: &File, file: &str, piece: &Piece, out: &mut [Op]) -> Result<usize, HistoryError> {
    with_bytes(f_in, file, piece.start, piece.end - piece.start, |bytes| {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let before = &bytes[..e.valid_up_to()];
            let line = piece.first_line + memchr::memchr_iter(b'\n', before).count();
            let column = before.len() - memchr::memrchr(b'\n', before).map_or(0, |p| p + 1) + 1;
            HistoryError::parse(
                file,
                line,
                column,
                "invalid UTF-8 (a history is UTF-8 text)",
            )
        })?;
        let mut names = jsonl::Names::default();
        let mut n = 0usize;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let op = jsonl::parse_line(line, file, piece.first_line + i, &mut names)?;
            let Some(slot) = out.get_mut(n) else {
                return Err(HistoryError::invalid(
                    file,
                    piece.first_line + i,
                    "the file changed while it was read",
                ));
            };
            *slot = op;
            n += 1;
        }
        Ok(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(text: &str) -> (tempfile::NamedTempFile, File, u64) {
        let mut t = tempfile::NamedTempFile::new().unwrap();
        t.write_all(text.as_bytes()).unwrap();
        t.flush().unwrap();
        let f = File::open(t.path()).unwrap();
        let size = f.metadata().unwrap().len();
        (t, f, size)
    }

    /// A history of `n` events, with blank lines, CRLF ends and lines of
    /// many lengths (some longer than a range when `RANGE` is small).
    fn text(n: usize, long: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            if i % 11 == 3 {
                s.push_str("\n  \n");
            }
            let pad = "x".repeat((i * 37) % long);
            s.push_str(&format!(
                "{{\"process\":{},\"type\":\"invoke\",\"f\":\"write\",\"value\":\"{pad}\"}}{}",
                i % 5,
                if i % 7 == 0 { "\r\n" } else { "\n" }
            ));
        }
        s
    }

    #[test]
    fn pieces_give_the_events_the_whole_text_gives() {
        for (n, long, tail) in [
            (0, 1, ""),
            (1, 1, ""),
            (5000, 300, ""),
            (3000, 9000, "\n\n"),
        ] {
            let mut t = text(n, long);
            t.push_str(tail);
            // Without a final newline too.
            for t in [t.clone(), t.trim_end().to_string()] {
                let (_keep, f, size) = file_of(&t);
                let pieces = count(&f, size, "t").unwrap();
                let mut line = 1;
                for p in &pieces {
                    assert_eq!(p.first_line, line);
                    assert!(p.start == 0 || t.as_bytes()[p.start as usize - 1] == b'\n');
                    line += p.lines;
                }
                let ours = parse_jsonl(&f, size, "t").unwrap();
                let whole = jsonl::parse(&t, "t").unwrap();
                assert_eq!(ours, whole, "{n} events, lines up to {long}");
            }
        }
    }

    #[test]
    fn errors_name_the_line_in_any_piece() {
        let mut t = text(200_000, 100);
        let good_lines = t.matches('\n').count();
        t.push_str("{\"process\":1,\"type\":\"ok\",\"f\":\"write\",\"value\":\n");
        let (_keep, f, size) = file_of(&t);
        assert!(size > 2 * RANGE, "the error is in a later piece");
        let e = parse_jsonl(&f, size, "big.jsonl").unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("big.jsonl:{}:", good_lines + 1)),
            "{e}"
        );
        let mut bytes = text(10, 10).into_bytes();
        bytes.extend_from_slice(b"{\"process\":1,\"type\":\"ok\",\"f\":\"w\xff\"}\n");
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&bytes).unwrap();
        let f = File::open(tmp.path()).unwrap();
        let e = parse_jsonl(&f, bytes.len() as u64, "u")
            .unwrap_err()
            .to_string();
        let line = bytes.iter().filter(|&&b| b == b'\n').count();
        assert!(
            e.starts_with(&format!("u:{line}:")) && e.contains("UTF-8"),
            "{e}"
        );
    }
}
