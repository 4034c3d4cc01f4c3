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
//!
//! A stream of EDN op maps, one per line as Jepsen writes `history.edn`,
//! is read the same way ([`parse_edn`]): the count cuts it where a line
//! starts with `{` (where the whole-text EDN reader cuts it too) and counts
//! those lines, and each piece is read by the EDN reader on its own. A
//! piece that does not read on its own (a map over several lines whose
//! inner line starts with `{`, a syntax error) sends the whole file to the
//! whole-text reader, which gives the same events or the error with its
//! place.

use super::{edn, jsonl};
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

/// `ops` cut into consecutive parts of `counts` slots each, one per piece.
pub(super) fn slots<'a>(ops: &'a mut [Op], counts: &[usize]) -> Vec<&'a mut [Op]> {
    let mut parts = Vec::with_capacity(counts.len());
    let mut rest = ops;
    for &n in counts {
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(n);
        parts.push(part);
        rest = tail;
    }
    parts
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
    let lines: Vec<usize> = pieces.iter().map(|p| p.lines).collect();
    let parts = slots(&mut ops, &lines);
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

/// What the count of an EDN stream learns of one range of the file: the
/// first place in it where a line starts with `{` (the cut), and the
/// newlines and map-starting lines before and after the cut.
#[derive(Default)]
struct EdnRange {
    cut: Option<u64>,
    newlines: [usize; 2],
    maps: [usize; 2],
}

/// Parses the EDN file `f_in` of `size` bytes, a stream of op maps that
/// start lines; `None` when a piece does not read on its own (the caller
/// then reads the whole text, which gives the same events or the error).
pub fn parse_edn(f_in: &File, size: u64, file: &str) -> Option<Vec<Op>> {
    let parsed = parse_edn_with_buffers(f_in, size, file);
    rayon::broadcast(|_| BUFFER.with(|b| *b.borrow_mut() = Vec::new()));
    parsed
}

fn parse_edn_with_buffers(f_in: &File, size: u64, file: &str) -> Option<Vec<Op>> {
    let starts: Vec<u64> = (0..size.div_ceil(RANGE)).map(|i| i * RANGE).collect();
    let counted: Vec<Option<EdnRange>> = starts
        .par_iter()
        .map(|&start| {
            // One byte before the range, to see a line start at its first byte.
            let from = start.saturating_sub(1);
            let len = RANGE.min(size - start) + (start - from);
            with_bytes(f_in, file, from, len, |bytes| {
                let own = usize::from(start > from);
                let mut r = EdnRange::default();
                if start == 0 {
                    r.cut = Some(0);
                    r.maps[1] = usize::from(bytes.first() == Some(&b'{'));
                }
                for nl in memchr::memchr_iter(b'\n', bytes) {
                    if nl + 1 < own {
                        continue;
                    }
                    if nl >= own {
                        let side = usize::from(r.cut.is_some());
                        r.newlines[side] += 1;
                    }
                    if bytes.get(nl + 1) == Some(&b'{') {
                        let at = from + nl as u64 + 1;
                        if r.cut.is_none() {
                            r.cut = Some(at);
                        }
                        r.maps[1] += usize::from(r.cut.is_some_and(|c| at >= c));
                        r.maps[0] += usize::from(r.cut.is_some_and(|c| at < c));
                    }
                }
                Ok(r)
            })
            .ok()
        })
        .collect();
    // Pieces: (start, end, first line, map-starting lines).
    let mut pieces: Vec<(u64, u64, usize, usize)> = Vec::new();
    let (mut start, mut first_line, mut maps, mut newlines) = (0u64, 1usize, 0usize, 0usize);
    for (i, range) in counted.into_iter().enumerate() {
        let r = range?;
        match r.cut {
            Some(cut) if i > 0 => {
                newlines += r.newlines[0];
                pieces.push((start, cut, first_line, maps + r.maps[0]));
                start = cut;
                first_line = newlines + 1;
                maps = r.maps[1];
                newlines += r.newlines[1];
            }
            Some(_) => {
                maps += r.maps[1];
                newlines += r.newlines[1];
            }
            None => {
                maps += r.maps[0];
                newlines += r.newlines[0];
            }
        }
    }
    pieces.push((start, size, first_line, maps));
    let counts: Vec<usize> = pieces.iter().map(|p| p.3).collect();
    let mut ops = vec![Op::default(); counts.iter().sum()];
    let parts = slots(&mut ops, &counts);
    let read: Vec<Option<Option<Vec<Op>>>> = pieces
        .par_iter()
        .zip(parts.into_par_iter())
        .map(|(&(from, to, first_line, _), out)| {
            with_bytes(f_in, file, from, to - from, |bytes| {
                Ok(std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|text| edn::read_piece(text, file, first_line, out)))
            })
            .ok()
            .flatten()
        })
        .collect();
    edn::gather_pieces(ops, read, &counts)
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

    /// A stream of EDN op maps over several ranges: maps over two lines,
    /// blank lines, comments, CRLF ends and transactions.
    fn edn_text(n: usize) -> String {
        let mut s = String::from("; a history\n");
        for i in 0..n {
            let p = i % 7;
            match i % 13 {
                0 => s.push_str(&format!(
                    "{{:index {i}, :process {p}, :type :invoke, :f :txn,\n  :value [[:append {} {i}] [:r {} nil]]}}\n",
                    i % 11,
                    i % 5
                )),
                1 => s.push_str(&format!(
                    "{{:index {i}, :process {p}, :type :ok, :f :read, :value {}}}\r\n\n; note\n",
                    i % 9
                )),
                _ => s.push_str(&format!(
                    "{{:index {i}, :time {}, :process {p}, :type :invoke, :f :write, :value {}}}\n",
                    i * 10,
                    "x".repeat(i % 40).len()
                )),
            }
        }
        s
    }

    #[test]
    fn edn_pieces_give_the_events_the_whole_text_gives() {
        for (n, trim) in [(0, false), (3, false), (300_000, false), (300_000, true)] {
            let mut t = edn_text(n);
            if trim {
                t.truncate(t.trim_end().len());
            }
            let (_keep, f, size) = file_of(&t);
            let whole = edn::parse_history(&t, "t").unwrap();
            match parse_edn(&f, size, "t") {
                Some(ours) => assert_eq!(ours, whole, "{n} events"),
                None => panic!("{n} events: a stream of maps that start lines reads in pieces"),
            }
            if n > 1000 {
                assert!(size > 3 * RANGE, "several pieces");
                let h = super::super::History::read_file(_keep.path(), None).unwrap();
                assert_eq!(h.ops(), &whole[..]);
            }
        }
    }

    #[test]
    fn edn_pieces_that_do_not_read_alone_go_to_the_whole_reader() {
        // A map whose inner line starts with `{`: a cut there does not read.
        let mut t = edn_text(300_000);
        let inner = t.len() / 2;
        let start = inner + t[inner..].find("\n{:index").unwrap() + 1;
        let end = start + t[start..].find('\n').unwrap();
        let value = start + t[start..end].find(":value").unwrap();
        t.replace_range(value..end, ":value\n{:a 1}}");
        let (keep, f, size) = file_of(&t);
        let whole = edn::parse_history(&t, "t").unwrap();
        if let Some(ours) = parse_edn(&f, size, "t") {
            assert_eq!(ours, whole);
        }
        let h = super::super::History::read_file(keep.path(), None).unwrap();
        assert_eq!(h.ops(), &whole[..]);
        // The same where the cut falls inside that map: the first line
        // start with `{` after the first range is its inner line.
        let mut t = edn_text(300_000);
        let r = RANGE as usize;
        let mut before = r;
        let (start, end, value) = loop {
            let start = t[..before].rfind("\n{").unwrap() + 1;
            let end = start + t[start..].find('\n').unwrap();
            if let Some(v) = t[start..end].find(":value") {
                break (start, end, start + v);
            }
            before = start - 1;
        };
        assert!(start < r);
        let pad = (r + 1).saturating_sub(value + ":value\n".len());
        t.replace_range(
            value..end,
            &format!(":value{}\n{{:a 1}}}}", " ".repeat(pad)),
        );
        let (keep, f, size) = file_of(&t);
        assert!(
            parse_edn(&f, size, "t").is_none(),
            "the cut is inside a map"
        );
        let whole = edn::parse_history(&t, "t").unwrap();
        let h = super::super::History::read_file(keep.path(), None).unwrap();
        assert_eq!(h.ops(), &whole[..]);
        // A syntax error late in the file is named at its line.
        let mut bad = edn_text(300_000);
        let line = bad.matches('\n').count() + 1;
        bad.push_str("{:index 9, :process 1, :type :ok, :f :read :value}\n");
        let (keep, _f, _size) = file_of(&bad);
        let e = super::super::History::read_file(keep.path(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!(":{line}:")), "{e}");
    }
}
