//! EDN histories (Jepsen, Knossos, Elle, Porcupine kv).
//!
//! We read EDN ourselves rather than through a crate for two reasons: every
//! error must name the exact line and column (people hand-edit these files),
//! and histories run to millions of operations, so the reader works on bytes,
//! borrows string slices where it can and builds the [`Op`] fields directly
//! instead of going through an intermediate map.
//!
//! EDN maps onto JSON the way DESIGN.md describes: keywords and symbols become
//! their names as strings (`:invoke` → `"invoke"`), `nil` becomes `null`,
//! vectors, lists and sets become arrays (sets keep the order they were
//! written in), maps become objects whose keys are strings (a keyword or
//! string key by its name, any other key by its EDN text), and a tagged
//! literal (`#inst "..."`, `#uuid "..."`, a record `#jepsen.history.Op{...}`)
//! becomes its value.
//!
//! A history is a top-level vector or list of maps, or a stream of maps one
//! after another. Anything after the history is an error, never ignored.

use super::value::SharedLists;
use super::{HistoryError, Op, OpType, Process, Val};
use serde_json::{Map, Number, Value};

/// Pieces smaller than this are not worth a thread.
const PIECE: usize = 4 << 20;

/// Parses an EDN history; every error names `file`, the line and the column.
///
/// A large stream of maps (Jepsen's `history.edn`: one map per line) is cut
/// at lines that start a map and the pieces are read on all cores. A cut
/// that lands inside a map that spans lines makes some piece fail to parse
/// (the map before the cut is left open), and the whole text is then read
/// in one piece, so the result never depends on where the cuts fell.
pub fn parse_history(text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    if text.len() > 2 * PIECE && text.trim_start().starts_with('{') {
        if let Some(ops) = parse_pieces(text, file, PIECE) {
            return Ok(ops);
        }
    }
    parse_whole(text, file)
}

fn parse_pieces(text: &str, file: &str, piece: usize) -> Option<Vec<Op>> {
    use rayon::prelude::*;
    let bytes = text.as_bytes();
    let mut cuts = vec![(0usize, 1usize)];
    let (mut start, mut line) = (0usize, 1usize);
    'cutting: while start + piece < bytes.len() {
        let mut at = start + piece;
        // The next line that starts with `{`; none: the rest is the last piece.
        let cut = loop {
            let Some(nl) = memchr::memchr(b'\n', &bytes[at..]) else {
                break 'cutting;
            };
            let nl = at + nl;
            if bytes.get(nl + 1) == Some(&b'{') {
                break nl + 1;
            }
            at = nl + 1;
        };
        line += memchr::memchr_iter(b'\n', &bytes[start..cut]).count();
        start = cut;
        cuts.push((start, line));
    }
    let ranges: Vec<(usize, usize, usize)> = cuts
        .iter()
        .enumerate()
        .map(|(i, &(from, first_line))| {
            (
                from,
                cuts.get(i + 1).map_or(text.len(), |c| c.0),
                first_line,
            )
        })
        .collect();
    // Each piece is read straight into its own part of one vector, so no
    // event is ever copied (a copy of a million events is 100 MB). Its part
    // has one slot per line that starts with `{`; a piece that holds
    // another number of maps (two on a line, an indented map, a line inside
    // a map that starts with `{`) is read again into a vector of its own,
    // and the events are then gathered into a new vector.
    let counts: Vec<usize> = ranges
        .par_iter()
        .map(|&(from, to, _)| maps_at_line_starts(bytes, from, to))
        .collect();
    let mut ops = vec![Op::default(); counts.iter().sum()];
    let parts = super::pieces::slots(&mut ops, &counts);
    // Per piece: `None` when it does not parse, `Some(None)` when it filled
    // its part, `Some(Some(events))` when it was read on its own.
    let read: Vec<Option<Option<Vec<Op>>>> = ranges
        .par_iter()
        .zip(parts.into_par_iter())
        .map(|(&(from, to, first_line), out)| read_piece(&text[from..to], file, first_line, out))
        .collect();
    gather_pieces(ops, read, &counts)
}

/// Reads one piece of a stream of op maps, `text`, whose first line is
/// `first_line`, into `out` (one slot per map that starts a line):
/// `Some(None)` when it filled its slots, `Some(Some(events))` when it
/// holds another number of maps and was read into a vector of its own,
/// `None` when it does not parse on its own (the whole text must be read).
pub(super) fn read_piece(
    text: &str,
    file: &str,
    first_line: usize,
    out: &mut [Op],
) -> Option<Option<Vec<Op>>> {
    let parser = || {
        let mut p = Parser::new(text, file);
        p.line = first_line;
        p
    };
    if parser().fill_stream(out) {
        return Some(None);
    }
    parser().parse_stream().ok().map(Some)
}

/// The events of the pieces [`read_piece`] read into `ops` (`counts`
/// slots each), in order, with omitted indices filled in; `None` when a
/// piece did not parse.
pub(super) fn gather_pieces(
    mut ops: Vec<Op>,
    read: Vec<Option<Option<Vec<Op>>>>,
    counts: &[usize],
) -> Option<Vec<Op>> {
    if read.iter().any(Option::is_none) {
        return None;
    }
    if read.iter().any(|r| matches!(r, Some(Some(_)))) {
        let mut gathered = Vec::with_capacity(ops.len());
        let mut filled = ops.into_iter();
        for (r, &n) in read.into_iter().zip(counts) {
            let slots = filled.by_ref().take(n);
            match r.flatten() {
                Some(own) => {
                    slots.for_each(drop);
                    gathered.extend(own);
                }
                None => gathered.extend(slots),
            }
        }
        ops = gathered;
    }
    // An omitted index is the event's position in the whole history.
    for (pos, op) in ops.iter_mut().enumerate() {
        if op.index == u64::MAX {
            op.index = pos as u64;
        }
    }
    Some(ops)
}

/// How many lines of `bytes[from..to]` start with `{` (the first counts
/// when `from` starts a line).
fn maps_at_line_starts(bytes: &[u8], from: usize, to: usize) -> usize {
    let s = &bytes[from..to];
    let first = s.first() == Some(&b'{') && (from == 0 || bytes[from - 1] == b'\n');
    let inner = memchr::memmem::find_iter(s, b"\n{").count();
    usize::from(first) + inner
}

fn parse_whole(text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    let mut p = Parser::new(text, file);
    // Over-estimating is cheap: pages never written are never touched.
    let mut ops = Vec::with_capacity(text.len() / 40 + 1);
    p.skip_ws()?;
    match p.peek() {
        None => return Ok(ops),
        // `[81 :invoke ...]`: not the history's vector but the first of a
        // stream of operation tuples, read below.
        Some(b'[') if p.tuple_follows() => loop {
            p.skip_ws()?;
            if p.peek().is_none() {
                break;
            }
            let op = p.read_op(ops.len())?;
            ops.push(op);
        },
        Some(open @ (b'[' | b'(')) => {
            let close = if open == b'[' { b']' } else { b')' };
            let (line, col) = (p.line, p.column());
            p.pos += 1;
            loop {
                p.skip_ws()?;
                match p.peek() {
                    Some(c) if c == close => {
                        p.pos += 1;
                        break;
                    }
                    None => {
                        return Err(p.err(format!(
                            "expected `{}` to close the history opened on line {line}, column {col}, found end of input",
                            close as char
                        )))
                    }
                    Some(_) => {
                        let op = p.read_op(ops.len())?;
                        ops.push(op);
                    }
                }
            }
            p.skip_ws()?;
            if p.peek().is_some() {
                return Err(p.err(format!(
                    "expected end of input after the history that closed above, found {}",
                    p.describe()
                )));
            }
        }
        Some(_) => loop {
            p.skip_ws()?;
            if p.peek().is_none() {
                break;
            }
            let op = p.read_op(ops.len())?;
            ops.push(op);
        },
    }
    Ok(ops)
}

impl Parser<'_> {
    /// At a `[`: true when it opens an operation tuple `[process type f
    /// value]` (its first element a number or a keyword) rather than a
    /// vector of operations.
    fn tuple_follows(&self) -> bool {
        let rest = &self.bytes[self.pos + 1..];
        let first = rest
            .iter()
            .position(|c| !(c.is_ascii_whitespace() || *c == b','));
        matches!(first.map(|i| rest[i]), Some(b'0'..=b'9' | b'-' | b':'))
    }

    /// A stream of maps whose omitted indices are left as `u64::MAX`, for
    /// the caller to number.
    fn parse_stream(&mut self) -> Result<Vec<Op>, HistoryError> {
        let mut ops = Vec::with_capacity(self.text.len() / 80 + 1);
        loop {
            self.skip_ws()?;
            if self.peek().is_none() {
                return Ok(ops);
            }
            ops.push(self.read_op(usize::MAX)?);
        }
    }

    /// Reads a stream of maps into `out`, leaving omitted indices as
    /// `u64::MAX` for the caller to number. False when the stream does not
    /// hold exactly `out.len()` maps or does not parse.
    fn fill_stream(&mut self, out: &mut [Op]) -> bool {
        let mut slots = out.iter_mut();
        loop {
            if self.skip_ws().is_err() {
                return false;
            }
            if self.peek().is_none() {
                return slots.next().is_none();
            }
            match (self.read_op(usize::MAX), slots.next()) {
                (Ok(op), Some(slot)) => *slot = op,
                _ => return false,
            }
        }
    }
}

/// Parses a single EDN value; anything after it (other than whitespace and
/// comments) is an error.
pub fn parse_value(text: &str, file: &str) -> Result<Value, HistoryError> {
    let mut p = Parser::new(text, file);
    p.skip_ws()?;
    if p.peek().is_none() {
        return Err(p.err("expected a value, found end of input"));
    }
    let v = p.parse_value()?;
    p.skip_ws()?;
    if p.peek().is_some() {
        return Err(p.err(format!(
            "expected end of input after the value, found {}",
            p.describe()
        )));
    }
    Ok(v)
}

/// Parses the first EDN value of `text` and returns it with the number of
/// bytes it took (leading whitespace included, trailing not).
pub(crate) fn parse_value_prefix(text: &str, file: &str) -> Result<(Value, usize), HistoryError> {
    let mut p = Parser::new(text, file);
    p.skip_ws()?;
    if p.peek().is_none() {
        return Err(p.err("expected a value, found end of input"));
    }
    let v = p.parse_value()?;
    Ok((v, p.pos))
}

/// A token that names something: a keyword, a symbol or a string, borrowed
/// from the source when it has no escapes.
enum Name<'a> {
    Keyword(&'a str),
    Symbol(&'a str),
    Str(String),
}

/// A column, kept as byte offsets: counting characters on every token would
/// cost more than parsing, so it is done only when an error is reported.
#[derive(Clone, Copy)]
struct Col<'a> {
    text: &'a str,
    line_start: usize,
    pos: usize,
}

impl Col<'_> {
    /// 1-based, counted in characters.
    fn get(self) -> usize {
        match self.text.get(self.line_start..self.pos) {
            Some(s) => s.chars().count() + 1,
            None => self.pos.saturating_sub(self.line_start) + 1,
        }
    }
}

impl std::fmt::Display for Col<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.get())
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    file: &'a str,
    pos: usize,
    /// 1-based line of `pos`.
    line: usize,
    /// Byte offset where the current line starts.
    line_start: usize,
    /// How many values enclose `pos`, to refuse nesting that would exhaust the stack.
    depth: usize,
    /// Names this parser has interned (functions, micro-op names): a few
    /// short strings compared beat a hash lookup per event.
    names: Vec<super::Name>,
    /// Short names by their bytes (see [`Parser::intern`]); empty until
    /// the fast reader needs it.
    short_names: Vec<Option<(u64, super::Name)>>,
    /// Elements of the lists the fast reader has open, innermost last.
    scratch: Vec<Val>,
    /// Short lists read lately, by a hash of their text: (text start, text
    /// end, list). Empty until the fast reader needs it.
    lists: Vec<Option<(usize, usize, Val)>>,
    /// Read lists of integers, sharing their storage per key.
    shared: SharedLists,
}

/// Deeper nesting than any history needs; the recursive reader stops here
/// rather than overflowing the stack on hostile input.
const MAX_DEPTH: usize = 256;

/// The bytes that end a token, as a table: tokens are most of the text.
static DELIMITERS: [bool; 256] = {
    let mut table = [false; 256];
    let ends = b" \t\n\r,()[]{}\";\x0c";
    let mut i = 0;
    while i < ends.len() {
        table[ends[i] as usize] = true;
        i += 1;
    }
    table
};

#[inline]
fn is_delimiter(c: u8) -> bool {
    DELIMITERS[c as usize]
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, file: &'a str) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            file,
            pos: 0,
            line: 1,
            line_start: 0,
            depth: 0,
            names: Vec::new(),
            short_names: Vec::new(),
            scratch: Vec::new(),
            lists: Vec::new(),
            shared: SharedLists::default(),
        }
    }

    fn name(&mut self, s: &str) -> super::Name {
        if let Some(n) = self.names.iter().find(|n| n.as_str() == s) {
            return *n;
        }
        let n = super::Name::new(s);
        if self.names.len() < 32 {
            self.names.push(n);
        }
        n
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The column of `pos`, computed only if an error needs it.
    #[inline]
    fn column(&self) -> Col<'a> {
        self.column_at(self.pos)
    }

    #[inline]
    fn column_at(&self, pos: usize) -> Col<'a> {
        Col {
            text: self.text,
            line_start: self.line_start,
            pos,
        }
    }

    fn err(&self, message: impl Into<String>) -> HistoryError {
        HistoryError::parse(self.file, self.line, self.column().get(), message)
    }

    fn err_at(&self, line: usize, col: Col<'_>, message: impl Into<String>) -> HistoryError {
        HistoryError::parse(self.file, line, col.get(), message)
    }

    /// Describes what is at `pos`, for "expected ..., found ..." messages.
    fn describe(&self) -> String {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            None => "end of input".to_string(),
            Some(c) if c.is_control() => format!("character {:?}", c),
            Some(c) if c.is_ascii() && is_delimiter(c as u8) => format!("`{c}`"),
            Some(c) => {
                let token: String = self.text[self.pos..]
                    .chars()
                    .skip(1)
                    .take_while(|&c| !(c.is_ascii() && is_delimiter(c as u8)))
                    .take(24)
                    .collect();
                format!("`{c}{token}`")
            }
        }
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded forms.
    #[inline]
    fn skip_ws(&mut self) -> Result<(), HistoryError> {
        let mut pos = self.pos;
        loop {
            match self.bytes.get(pos) {
                Some(b' ' | b'\t' | b'\r' | b',' | 0x0c) => pos += 1,
                Some(b'\n') => {
                    pos += 1;
                    self.line += 1;
                    self.line_start = pos;
                }
                Some(b';' | b'#') => {
                    self.pos = pos;
                    return self.skip_comments();
                }
                _ => {
                    self.pos = pos;
                    return Ok(());
                }
            }
        }
    }

    /// [`Parser::skip_ws`] once a comment or a `#` is in sight.
    #[cold]
    #[inline(never)]
    fn skip_comments(&mut self) -> Result<(), HistoryError> {
        while let Some(&c) = self.bytes.get(self.pos) {
            match c {
                b' ' | b'\t' | b'\r' | b',' | 0x0c => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b';' => {
                    while let Some(&c) = self.bytes.get(self.pos) {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                b'#' if self.bytes.get(self.pos + 1) == Some(&b'_') => {
                    if self.depth >= MAX_DEPTH {
                        return Err(self.err(format!(
                            "values nest more than {MAX_DEPTH} levels deep; this is not a history"
                        )));
                    }
                    self.depth += 1;
                    let discarded = self.discard();
                    self.depth -= 1;
                    discarded?;
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Skips `#_` and the form after it.
    fn discard(&mut self) -> Result<(), HistoryError> {
        let (line, col) = (self.line, self.column());
        self.pos += 2;
        self.skip_ws()?;
        if matches!(self.peek(), None | Some(b')' | b']' | b'}')) {
            return Err(self.err_at(
                line,
                col,
                format!(
                    "`#_` discards nothing: expected a value after it, found {}",
                    self.describe()
                ),
            ));
        }
        self.parse_value().map(drop)
    }

    /// Reads a token (symbol, number, keyword body) up to the next delimiter.
    #[inline]
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        let end = start
            + self.bytes[start..]
                .iter()
                .position(|&c| is_delimiter(c))
                .unwrap_or(self.bytes.len() - start);
        self.pos = end;
        // Delimiters are ASCII, so both ends are character boundaries.
        &self.text[start..end]
    }

    /// Parses one value starting at `pos` (whitespace already skipped).
    fn parse_value(&mut self) -> Result<Value, HistoryError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(format!(
                "values nest more than {MAX_DEPTH} levels deep; this is not a history"
            )));
        }
        self.depth += 1;
        let v = self.parse_value_here();
        self.depth -= 1;
        v
    }

    /// A map value as a [`Val`], read directly for what histories are made
    /// of (nil, integers, keywords, vectors and lists of them); anything
    /// else, and every error, goes through [`Parser::map_value`], so the
    /// value read and the error reported are the same either way.
    fn map_val(&mut self, line: usize, col: Col<'a>) -> Result<Val, HistoryError> {
        let saved = (self.pos, self.line, self.line_start, self.depth);
        if let Some(v) = self.quick_val() {
            return Ok(v);
        }
        (self.pos, self.line, self.line_start, self.depth) = saved;
        Ok(Val::from_json_owned(self.map_value(line, col)?))
    }

    fn quick_val(&mut self) -> Option<Val> {
        self.skip_ws().ok()?;
        if self.depth >= MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b':' => {
                let (line, col) = (self.line, self.column());
                let name = self.keyword(line, col).ok()?;
                Some(Val::Str(self.name(name)))
            }
            open @ (b'[' | b'(') => {
                let close = if open == b'[' { b']' } else { b')' };
                self.pos += 1;
                self.depth += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws().ok()?;
                    match self.peek()? {
                        c if c == close => {
                            self.pos += 1;
                            self.depth -= 1;
                            return Some(Val::list(items));
                        }
                        b')' | b']' | b'}' => return None,
                        _ => items.push(self.quick_val()?),
                    }
                }
            }
            b'-' | b'0'..=b'9' | b'n' => {
                let tok = self.token();
                if tok == "nil" {
                    return Some(Val::Nil);
                }
                let digits = tok.strip_prefix('-').unwrap_or(tok);
                let plain = !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'));
                if plain {
                    tok.parse::<i64>().ok().map(Val::Int)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn parse_value_here(&mut self) -> Result<Value, HistoryError> {
        let Some(c) = self.peek() else {
            return Err(self.err("expected a value, found end of input"));
        };
        match c {
            b'{' => {
                self.pos += 1;
                self.parse_map_body()
            }
            b'[' => {
                self.pos += 1;
                self.parse_seq_body(b']')
            }
            b'(' => {
                self.pos += 1;
                self.parse_seq_body(b')')
            }
            b'"' => Ok(Value::String(self.parse_string()?)),
            b':' => {
                let (line, col) = (self.line, self.column());
                let name = self.keyword(line, col)?;
                Ok(Value::String(name.to_string()))
            }
            b'\\' => self.parse_char(),
            b'#' => self.parse_dispatch(),
            b')' | b']' | b'}' => {
                Err(self.err(format!("expected a value, found unmatched `{}`", c as char)))
            }
            _ => {
                let (line, col) = (self.line, self.column());
                let tok = self.token();
                self.atom(tok, line, col)
            }
        }
    }

    /// Reads `:name` at `pos` and returns `name`.
    fn keyword(&mut self, line: usize, col: Col<'a>) -> Result<&'a str, HistoryError> {
        self.pos += 1;
        let tok = self.token();
        if tok.is_empty() {
            return Err(self.err_at(line, col, "expected a keyword name after `:`"));
        }
        Ok(tok)
    }

    /// Converts a bare token: nil, booleans, numbers, symbols.
    fn atom(&self, tok: &str, line: usize, col: Col<'a>) -> Result<Value, HistoryError> {
        match tok {
            "nil" => return Ok(Value::Null),
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            "" => {
                return Err(self.err_at(
                    line,
                    col,
                    format!("expected a value, found {}", self.describe()),
                ))
            }
            _ => {}
        }
        let b = tok.as_bytes();
        let numeric = b[0].is_ascii_digit()
            || (matches!(b[0], b'+' | b'-') && b.len() > 1 && b[1].is_ascii_digit());
        if numeric {
            return parse_number(tok).ok_or_else(|| {
                self.err_at(line, col, format!("expected a number, found `{tok}`"))
            });
        }
        Ok(Value::String(tok.to_string()))
    }

    fn parse_seq_body(&mut self, close: u8) -> Result<Value, HistoryError> {
        let (line, col) = (self.line, self.column_at(self.pos - 1));
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                None => {
                    return Err(self.err(format!(
                        "expected `{}` to close the collection opened on line {line}, column {col}, found end of input",
                        close as char
                    )))
                }
                Some(c @ (b')' | b']' | b'}')) => {
                    return Err(self.err(format!(
                        "expected `{}` to close the collection opened on line {line}, column {col}, found `{}`",
                        close as char, c as char
                    )))
                }
                Some(_) => items.push(self.parse_value()?),
            }
        }
    }

    /// Reads a map key as a string: keywords and strings by name, anything
    /// else by its EDN text.
    fn parse_key(&mut self) -> Result<Name<'a>, HistoryError> {
        match self.peek() {
            Some(b':') => {
                let (line, col) = (self.line, self.column());
                Ok(Name::Keyword(self.keyword(line, col)?))
            }
            Some(b'"') => Ok(Name::Str(self.parse_string()?)),
            _ => {
                let start = self.pos;
                self.parse_value()?;
                Ok(Name::Symbol(&self.text[start..self.pos]))
            }
        }
    }

    fn parse_map_body(&mut self) -> Result<Value, HistoryError> {
        let (line, col) = (self.line, self.column_at(self.pos - 1));
        let mut map = Map::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                None => return Err(self.unclosed_map(line, col)),
                Some(c @ (b')' | b']')) => {
                    return Err(self.err(format!(
                        "expected `}}` to close the map opened on line {line}, column {col}, found `{}`",
                        c as char
                    )))
                }
                Some(_) => {}
            }
            let key = match self.parse_key()? {
                Name::Keyword(s) | Name::Symbol(s) => s.to_string(),
                Name::Str(s) => s,
            };
            let v = self.map_value(line, col)?;
            map.insert(key, v);
        }
    }

    /// Parses the value that follows a key in a map opened at `line`, `col`.
    fn map_value(&mut self, line: usize, col: Col<'a>) -> Result<Value, HistoryError> {
        self.skip_ws()?;
        match self.peek() {
            None => Err(self.unclosed_map(line, col)),
            Some(b'}') => Err(self.err(format!(
                "expected a value for the last key of the map opened on line {line}, column {col}, found `}}` (a map needs an even number of forms)"
            ))),
            Some(_) => self.parse_value(),
        }
    }

    fn unclosed_map(&self, line: usize, col: Col<'a>) -> HistoryError {
        self.err(format!(
            "expected `}}` to close the map opened on line {line}, column {col}, found end of input"
        ))
    }

    fn parse_string(&mut self) -> Result<String, HistoryError> {
        let (line, col) = (self.line, self.column());
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        while let Some(&c) = self.bytes.get(self.pos) {
            match c {
                b'"' => {
                    let s = self.text[start..self.pos].to_string();
                    self.pos += 1;
                    return Ok(s);
                }
                b'\\' => break,
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                _ => self.pos += 1,
            }
        }
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            while let Some(&c) = self.bytes.get(self.pos) {
                if c == b'"' || c == b'\\' {
                    break;
                }
                if c == b'\n' {
                    self.line += 1;
                    self.line_start = self.pos + 1;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run..self.pos]);
            match self.peek() {
                None => {
                    return Err(self.err(format!(
                        "expected `\"` to close the string opened on line {line}, column {col}, found end of input"
                    )))
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => {
                    let (eline, ecol) = (self.line, self.column());
                    self.pos += 1;
                    let Some(e) = self.peek() else { continue };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'/' => out.push('/'),
                        b'u' => {
                            let hex = self.text.get(self.pos..self.pos + 4).unwrap_or("");
                            let c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                            match c {
                                Some(c) if hex.len() == 4 => {
                                    out.push(c);
                                    self.pos += 4;
                                }
                                _ => {
                                    return Err(self.err_at(
                                        eline,
                                        ecol,
                                        "expected four hex digits after `\\u` in a string",
                                    ))
                                }
                            }
                        }
                        _ => {
                            let shown = self.text[self.pos - 1..].chars().next().unwrap_or('?');
                            return Err(self.err_at(
                                eline,
                                ecol,
                                format!("expected a string escape (\\\" \\\\ \\n \\t \\r \\b \\f \\uXXXX), found `\\{shown}`"),
                            ));
                        }
                    }
                }
            }
        }
    }

    /// `\a`, `\newline`, `\u03A9`, ...: becomes a one-character string.
    fn parse_char(&mut self) -> Result<Value, HistoryError> {
        let (line, col) = (self.line, self.column());
        self.pos += 1;
        // The first character after the backslash is taken even if it is a delimiter (`\(`).
        let Some(first) = self.text.get(self.pos..).and_then(|s| s.chars().next()) else {
            return Err(self.err("expected a character after `\\`, found end of input"));
        };
        let start = self.pos;
        self.pos += first.len_utf8();
        if first == '\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        if !first.is_whitespace() {
            self.token();
        }
        let tok = &self.text[start..self.pos];
        let c = match tok {
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            "backspace" => '\u{8}',
            "formfeed" => '\u{c}',
            _ if tok.chars().count() == 1 => first,
            _ if tok.len() == 5 && tok.starts_with('u') => u32::from_str_radix(&tok[1..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| {
                    self.err_at(line, col, format!("expected a character, found `\\{tok}`"))
                })?,
            _ if tok.len() >= 2 && tok.len() <= 4 && tok.starts_with('o') => {
                u32::from_str_radix(&tok[1..], 8)
                    .ok()
                    .filter(|&n| n <= 0o377)
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        self.err_at(line, col, format!("expected a character, found `\\{tok}`"))
                    })?
            }
            _ => {
                return Err(self.err_at(
                    line,
                    col,
                    format!("expected a character, found `\\{tok}`"),
                ))
            }
        };
        Ok(Value::String(c.to_string()))
    }

    /// Everything that starts with `#` except `#_` (handled as whitespace).
    fn parse_dispatch(&mut self) -> Result<Value, HistoryError> {
        let (line, col) = (self.line, self.column());
        match self.bytes.get(self.pos + 1).copied() {
            Some(b'{') => {
                self.pos += 2;
                self.parse_seq_body(b'}')
            }
            Some(b'#') => {
                // Symbolic values: ##Inf, ##-Inf, ##NaN. JSON has no such
                // numbers, so they stay strings.
                self.pos += 2;
                let tok = self.token();
                match tok {
                    "Inf" | "-Inf" | "NaN" => Ok(Value::String(format!("##{tok}"))),
                    _ => Err(self.err_at(
                        line,
                        col,
                        format!("expected ##Inf, ##-Inf or ##NaN, found `##{tok}`"),
                    )),
                }
            }
            Some(b'"') => {
                // A regex literal: keep its source text.
                self.pos += 1;
                Ok(Value::String(self.parse_string()?))
            }
            Some(b':') => {
                // Namespaced map `#:ns{...}`: the keys keep their bare names.
                self.pos += 2;
                self.token();
                self.skip_ws()?;
                if self.peek() != Some(b'{') {
                    return Err(self.err(format!(
                        "expected `{{` after the namespaced-map prefix on line {line}, column {col}, found {}",
                        self.describe()
                    )));
                }
                self.parse_value()
            }
            _ => {
                self.pos += 1;
                let tag = self.token();
                if tag.is_empty() {
                    return Err(self.err_at(
                        line,
                        col,
                        format!("expected a tag after `#`, found {}", self.describe()),
                    ));
                }
                self.skip_ws()?;
                if matches!(self.peek(), None | Some(b')' | b']' | b'}')) {
                    return Err(self.err(format!(
                        "expected a value after the tag `#{tag}`, found {}",
                        self.describe()
                    )));
                }
                self.parse_value()
            }
        }
    }

    /// Parses one top-level element as an operation; `position` is its
    /// index when it has no `:index`.
    fn parse_op(&mut self, position: usize) -> Result<Op, HistoryError> {
        let (line, col) = (self.line, self.column());
        match self.peek() {
            Some(b'{') => {}
            Some(b'#')
                if !matches!(
                    self.bytes.get(self.pos + 1),
                    Some(b'{' | b'#' | b'"' | b'_')
                ) =>
            {
                // A record such as `#jepsen.history.Op{...}`: the map is the op.
                self.pos += 1;
                let tag = self.token();
                self.skip_ws()?;
                if self.peek() != Some(b'{') {
                    return Err(self.err(format!(
                        "expected a map (one operation) after the tag `#{tag}` on line {line}, column {col}, found {}",
                        self.describe()
                    )));
                }
            }
            Some(c @ (b')' | b']' | b'}')) => {
                return Err(self.err(format!(
                    "expected a map (one operation), found unmatched `{}`",
                    c as char
                )))
            }
            Some(b'[') => return self.parse_tuple_op(position),
            _ => {
                let what = self.describe();
                return Err(self.err(format!(
                    "expected a map (one operation), found {what}; a history is a vector, a list or a stream of maps"
                )));
            }
        }
        let (mline, mcol) = (self.line, self.column());
        self.pos += 1;
        let mut fields = OpFields::new(line);
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.unclosed_map(mline, mcol)),
                Some(c @ (b')' | b']')) => {
                    return Err(self.err(format!(
                        "expected `}}` to close the map opened on line {mline}, column {mcol}, found `{}`",
                        c as char
                    )))
                }
                Some(_) => {}
            }
            let key = self.parse_key()?;
            let name: &str = match &key {
                Name::Keyword(s) | Name::Symbol(s) => s,
                Name::Str(s) => s.as_str(),
            };
            self.skip_ws()?;
            let (vline, vcol) = (self.line, self.column());
            match name {
                "type" => {
                    let t = self.name_value(mline, mcol)?;
                    fields.op_type =
                        Some(t.as_deref().and_then(OpType::parse).ok_or_else(|| {
                            self.err_at(
                                vline,
                                vcol,
                                format!(
                                    "expected :type to be :invoke, :ok, :fail or :info, found {}",
                                    t.map_or("another value".to_string(), |t| format!("`{t}`"))
                                ),
                            )
                        })?);
                }
                "f" => {
                    let f = self.name_value(mline, mcol)?;
                    let f = f.ok_or_else(|| {
                        self.err_at(vline, vcol, "expected :f to be a keyword, symbol or string")
                    })?;
                    fields.f = Some(self.name(&f));
                }
                "process" => {
                    fields.process = process_of(self.map_val(mline, mcol)?).ok_or_else(|| {
                        self.err_at(
                            vline,
                            vcol,
                            "expected :process to be an integer or a keyword such as :nemesis",
                        )
                    })?;
                }
                "index" | "time" => {
                    let n = count_of(self.map_val(mline, mcol)?, name == "time").map_err(|v| {
                        let found = match v {
                            v if v.is_number() => format!(", found {v}"),
                            _ => String::new(),
                        };
                        self.err_at(
                            vline,
                            vcol,
                            format!("expected :{name} to be a non-negative integer{found}"),
                        )
                    })?;
                    if name == "index" {
                        fields.index = n;
                    } else {
                        fields.time = n.into();
                    }
                }
                "key" => fields.key = Some(self.map_val(mline, mcol)?),
                "value" => fields.value = self.map_val(mline, mcol)?,
                "node" => fields.node = node_of(self.map_value(mline, mcol)?),
                "error" => fields.error = error_of(self.map_value(mline, mcol)?),
                _ => {
                    self.map_value(mline, mcol)?;
                }
            }
        }
        let Some(op_type) = fields.op_type else {
            return Err(self.err_at(
                mline,
                mcol,
                "operation has no :type (expected :invoke, :ok, :fail or :info)",
            ));
        };
        let Some(f) = fields.f_or_txn() else {
            return Err(self.err_at(
                mline,
                mcol,
                "operation has no :f (and its :value is not a list of micro-ops such as [[:append :x 1]], which would make it a txn)",
            ));
        };
        Ok(fields.into_op(op_type, f, position))
    }

    /// Knossos's tuple form of an operation, `[process type f value]`
    /// (what Knossos's own `read-history` reads besides maps, e.g. its
    /// `data/memstress3.edn`).
    fn parse_tuple_op(&mut self, position: usize) -> Result<Op, HistoryError> {
        let (line, col) = (self.line, self.column());
        self.pos += 1;
        let mut fields = OpFields::new(line);
        let shape = "an operation tuple [process type f value]";
        self.skip_ws()?;
        let (vline, vcol) = (self.line, self.column());
        fields.process = process_of(self.map_val(line, col)?).ok_or_else(|| {
            self.err_at(
                vline,
                vcol,
                format!("expected a process (an integer or a keyword such as :nemesis) first in {shape}"),
            )
        })?;
        self.skip_ws()?;
        let (vline, vcol) = (self.line, self.column());
        let t = self.name_value(line, col)?;
        let op_type = t.as_deref().and_then(OpType::parse).ok_or_else(|| {
            self.err_at(
                vline,
                vcol,
                format!("expected :invoke, :ok, :fail or :info second in {shape}"),
            )
        })?;
        self.skip_ws()?;
        let (vline, vcol) = (self.line, self.column());
        let f = self.name_value(line, col)?.ok_or_else(|| {
            self.err_at(
                vline,
                vcol,
                format!("expected a keyword (the :f) third in {shape}"),
            )
        })?;
        let f = self.name(&f);
        self.skip_ws()?;
        if self.peek() != Some(b']') {
            fields.value = self.map_val(line, col)?;
            self.skip_ws()?;
        }
        if self.peek() != Some(b']') {
            return Err(self.err(format!(
                "expected `]` to close {shape} opened on line {line}, column {col}, found {}",
                self.describe()
            )));
        }
        self.pos += 1;
        Ok(fields.into_op(op_type, f, position))
    }

    /// A map value that should be a name (keyword, symbol or string); other
    /// values are parsed and reported as `None`.
    fn name_value(
        &mut self,
        line: usize,
        col: Col<'a>,
    ) -> Result<Option<std::borrow::Cow<'a, str>>, HistoryError> {
        self.skip_ws()?;
        match self.peek() {
            Some(b':') => {
                let (l, c) = (self.line, self.column());
                Ok(Some(std::borrow::Cow::Borrowed(self.keyword(l, c)?)))
            }
            _ => match self.map_value(line, col)? {
                Value::String(s) => Ok(Some(std::borrow::Cow::Owned(s))),
                _ => Ok(None),
            },
        }
    }
}

/// What an operation map says, field by field, as both readers collect it.
struct OpFields {
    index: Option<u64>,
    time: super::Time,
    process: Option<Process>,
    op_type: Option<OpType>,
    f: Option<super::Name>,
    key: Option<Val>,
    value: Val,
    node: Option<super::Name>,
    error: Option<Value>,
    /// Where the map (or its record tag) starts.
    line: usize,
}

impl OpFields {
    fn new(line: usize) -> OpFields {
        OpFields {
            index: None,
            time: super::Time::NONE,
            process: None,
            op_type: None,
            f: None,
            key: None,
            value: Val::Nil,
            node: None,
            error: None,
            line,
        }
    }

    /// The function; Elle writes transactions without `:f`, and then the
    /// value is the list of micro-ops. `None` when it is neither.
    fn f_or_txn(&self) -> Option<super::Name> {
        match self.f {
            Some(f) => Some(f),
            None if super::is_txn_value(&self.value) => Some(super::Name::new(super::TXN)),
            None => None,
        }
    }

    /// The event: the one place this reader makes an [`Op`]. `position`
    /// is its index when it has no `:index` (`usize::MAX`: numbered later).
    fn into_op(self, op_type: OpType, f: super::Name, position: usize) -> Op {
        let index = self.index.unwrap_or(if position == usize::MAX {
            u64::MAX
        } else {
            position as u64
        });
        Op {
            index,
            time: self.time,
            process: self.process,
            op_type,
            f,
            key: self.key,
            value: self.value,
            extra: super::OpExtra::of(self.node, self.error),
            line: self.line as u32,
        }
    }
}

/// `:process`: an integer, a name (`:nemesis`) or nil; `None` for any
/// other value.
fn process_of(v: Val) -> Option<Option<Process>> {
    match v {
        Val::Nil => Some(None),
        Val::Str(s) => Some(Some(Process::name(s))),
        Val::Int(i) => Some(Some(Process::id(i))),
        _ => None,
    }
}

/// `:index` or `:time`: a non-negative integer or nil (and Jepsen writes
/// `:time -1` for an event it did not time); the value back when it is
/// neither.
fn count_of(v: Val, time: bool) -> Result<Option<u64>, Val> {
    match v {
        Val::Nil => Ok(None),
        Val::Int(-1) if time => Ok(None),
        Val::Int(i) if i >= 0 => Ok(Some(i as u64)),
        v => match v.as_u64() {
            Some(n) => Ok(Some(n)),
            None => Err(v),
        },
    }
}

/// `:node`: a name, or any other value by its text.
fn node_of(v: Value) -> Option<super::Name> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(super::Name::new(&s)),
        other => Some(super::Name::new(&other.to_string())),
    }
}

fn error_of(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        v => Some(v),
    }
}

/// Keys of an operation map, recognised by their bytes.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Index,
    Time,
    Process,
    Type,
    F,
    Key,
    Value,
    Node,
    Error,
    Other,
}

impl Field {
    #[inline]
    fn of(name: &[u8]) -> Field {
        match name {
            b"index" => Field::Index,
            b"time" => Field::Time,
            b"process" => Field::Process,
            b"type" => Field::Type,
            b"f" => Field::F,
            b"key" => Field::Key,
            b"value" => Field::Value,
            b"node" => Field::Node,
            b"error" => Field::Error,
            _ => Field::Other,
        }
    }
}

/// Lists nested deeper than this are left to the careful reader.
const FAST_DEPTH: usize = 32;

/// Lists written in at most this many bytes may be shared (see
/// [`Parser::shared_list`]), through a table of this many slots.
const SHARED_LIST_TEXT: usize = 48;
const LIST_SLOTS_LOG2: usize = 10;

/// A hash of a short text from its length and its first and last eight
/// bytes (a table slot, not an identity: the text is compared after).
fn text_hash(text: &[u8]) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        for (w, &c) in w.iter_mut().zip(b) {
            *w = c;
        }
        u64::from_le_bytes(w)
    };
    let head = word(text);
    let tail = word(&text[text.len().saturating_sub(8)..]);
    let h = (text.len() as u64 ^ head).wrapping_mul(K);
    (h.rotate_left(29) ^ tail).wrapping_mul(K) as usize
}

/// The fast reader of operation maps.
///
/// Histories are millions of maps of the same few keywords, small
/// integers, keywords and vectors. The careful reader ([`Parser::parse_op`])
/// goes through a name per key and a `serde_json::Value` for anything but
/// the simplest values; this one recognises the keys by their bytes, reads
/// integers, keywords, strings without escapes and lists of them straight
/// into [`Val`]s (lists through one reused buffer, with no `Vec` per list),
/// and interns short names through a small table keyed by their bytes.
/// Any value it does not handle is read by the careful reader's own
/// functions, and on anything unusual in the map itself (a key that is
/// not a keyword, a missing `:type`) or any error it gives up: the caller
/// reads the map again with the careful reader, so every result and every
/// error is the careful reader's.
impl<'a> Parser<'a> {
    /// One operation map at `pos` (whitespace skipped): fast, else careful.
    fn read_op(&mut self, position: usize) -> Result<Op, HistoryError> {
        let saved = (self.pos, self.line, self.line_start, self.depth);
        if let Some(op) = self.fast_op(position) {
            return Ok(op);
        }
        (self.pos, self.line, self.line_start, self.depth) = saved;
        self.scratch.clear();
        self.parse_op(position)
    }

    #[inline]
    fn fast_op(&mut self, position: usize) -> Option<Op> {
        let line = self.line;
        if self.peek() == Some(b'#') {
            // A record such as `#jepsen.history.Op{...}`.
            if matches!(
                self.bytes.get(self.pos + 1),
                None | Some(b'{' | b'#' | b'"' | b'_')
            ) {
                return None;
            }
            self.pos += 1;
            self.token();
            self.skip_ws().ok()?;
        }
        if self.peek() != Some(b'{') {
            return None;
        }
        let (mline, mcol) = (self.line, self.column());
        self.pos += 1;
        let mut fields = OpFields::new(line);
        loop {
            self.skip_ws().ok()?;
            match self.peek()? {
                b'}' => {
                    self.pos += 1;
                    break;
                }
                b':' => self.pos += 1,
                _ => return None,
            }
            let key = self.token();
            if key.is_empty() {
                return None;
            }
            let key = Field::of(key.as_bytes());
            self.skip_ws().ok()?;
            match key {
                Field::Type => {
                    let t = self.fast_keyword()?;
                    fields.op_type = Some(match t.as_bytes() {
                        b"invoke" => OpType::Invoke,
                        b"ok" => OpType::Ok,
                        b"fail" => OpType::Fail,
                        b"info" => OpType::Info,
                        _ => return None,
                    });
                }
                Field::F => {
                    let f = self.fast_keyword()?;
                    fields.f = Some(self.intern(f));
                }
                Field::Process => fields.process = process_of(self.val(mline, mcol)?)?,
                Field::Index => fields.index = count_of(self.val(mline, mcol)?, false).ok()?,
                Field::Time => fields.time = count_of(self.val(mline, mcol)?, true).ok()?.into(),
                Field::Key => fields.key = Some(self.val(mline, mcol)?),
                Field::Value => fields.value = self.val(mline, mcol)?,
                Field::Node => {
                    fields.node = if self.peek() == Some(b':') {
                        let n = self.fast_keyword()?;
                        Some(self.intern(n))
                    } else {
                        node_of(self.map_value(mline, mcol).ok()?)
                    }
                }
                Field::Error => fields.error = error_of(self.map_value(mline, mcol).ok()?),
                Field::Other => {
                    self.map_value(mline, mcol).ok()?;
                }
            }
        }
        let op_type = fields.op_type?;
        let f = fields.f_or_txn()?;
        Some(fields.into_op(op_type, f, position))
    }

    /// A keyword at `pos`: its name.
    #[inline]
    fn fast_keyword(&mut self) -> Option<&'a str> {
        if self.peek() != Some(b':') {
            return None;
        }
        self.pos += 1;
        let name = self.token();
        (!name.is_empty()).then_some(name)
    }

    /// A map value at `pos`: read fast, else by the careful reader.
    #[inline]
    fn val(&mut self, mline: usize, mcol: Col<'a>) -> Option<Val> {
        let saved = (self.pos, self.line, self.line_start);
        let fast = match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.fast_int(),
            _ => self.fast_val(0),
        };
        if fast.is_some() {
            return fast;
        }
        (self.pos, self.line, self.line_start) = saved;
        self.careful_val(mline, mcol)
    }

    #[cold]
    #[inline(never)]
    fn careful_val(&mut self, mline: usize, mcol: Col<'a>) -> Option<Val> {
        self.scratch.clear();
        self.map_val(mline, mcol).ok()
    }

    fn fast_val(&mut self, depth: usize) -> Option<Val> {
        match self.peek()? {
            b'[' | b'(' => self.fast_list(depth, None),
            _ => self.fast_scalar(),
        }
    }

    /// A vector or list at `pos`, its elements gathered in `scratch`.
    /// `key_at` is where in `scratch` the key is when the list is the value
    /// of a micro-op `[f key value]`: a list of integers shares its storage
    /// with the key's other reads.
    fn fast_list(&mut self, depth: usize, key_at: Option<usize>) -> Option<Val> {
        if depth >= FAST_DEPTH {
            return None;
        }
        let close = if self.peek()? == b'[' { b']' } else { b')' };
        let open = self.pos;
        self.pos += 1;
        let first = self.scratch.len();
        if let Some(list) = self.fast_triples(depth, close) {
            return Some(list);
        }
        loop {
            self.skip_ws().ok()?;
            let c = self.peek()?;
            if c == close {
                self.pos += 1;
                if let Some(at) = key_at {
                    let items = &self.scratch[first..];
                    if let Some(list) = self.shared.list_of(&self.scratch[at], items) {
                        self.scratch.truncate(first);
                        return Some(list);
                    }
                }
                return Some(self.shared_list(open, first));
            }
            let item = if matches!(c, b'[' | b'(') {
                let key_at = match &self.scratch[first..] {
                    [Val::Str(_), Val::Int(_) | Val::Str(_)] => Some(first + 1),
                    _ => None,
                };
                self.fast_list(depth + 1, key_at)?
            } else {
                self.fast_scalar()?
            };
            self.scratch.push(item);
        }
    }

    /// The rest of a list just opened (`close` ends it), when it holds
    /// only lists of three elements (a transaction's micro-ops): their
    /// elements are gathered flat in `scratch` and make one
    /// [`Val::Triples`], with no list of their own. Otherwise nothing is
    /// read: `None`.
    fn fast_triples(&mut self, depth: usize, close: u8) -> Option<Val> {
        let saved = (self.pos, self.line, self.line_start);
        let first = self.scratch.len();
        let flat = self.flat_triples(depth, close, first);
        if flat.is_none() {
            (self.pos, self.line, self.line_start) = saved;
            self.scratch.truncate(first);
        }
        flat
    }
    fn flat_triples(&mut self, depth: usize, close: u8, first: usize) -> Option<Val> {
        if depth + 1 >= FAST_DEPTH {
            return None;
        }
        loop {
            self.skip_ws().ok()?;
            let c = self.peek()?;
            if c == close {
                if self.scratch.len() == first {
                    return None;
                }
                self.pos += 1;
                return Some(Val::triples_exact(&mut self.scratch, first));
            }
            let inner_close = match c {
                b'[' => b']',
                b'(' => b')',
                _ => return None,
            };
            self.pos += 1;
            let at = self.scratch.len();
            for k in 0..3 {
                self.skip_ws().ok()?;
                let c = self.peek()?;
                let item = if matches!(c, b'[' | b'(') {
                    let key_at = match &self.scratch[at..] {
                        [Val::Str(_), Val::Int(_) | Val::Str(_)] if k == 2 => Some(at + 1),
                        _ => None,
                    };
                    self.fast_list(depth + 2, key_at)?
                } else if c == inner_close || c == close {
                    return None;
                } else {
                    self.fast_scalar()?
                };
                self.scratch.push(item);
            }
            self.skip_ws().ok()?;
            if self.peek()? != inner_close {
                return None;
            }
            self.pos += 1;
        }
    }

    /// The list written at `open..pos`, of the elements in `scratch` from
    /// `first`. A short list written exactly like one read recently (the
    /// micro-op `[:append 3 1]` of an invocation and of its completion, a
    /// read of a key that did not change) is that list again, shared: the
    /// same text is the same value, and sharing saves an allocation and
    /// its memory.
    fn shared_list(&mut self, open: usize, first: usize) -> Val {
        let text = &self.bytes[open..self.pos];
        if text.len() > SHARED_LIST_TEXT {
            return Val::list_exact(&mut self.scratch, first);
        }
        if self.lists.is_empty() {
            self.lists = vec![None; 1 << LIST_SLOTS_LOG2];
        }
        let slot = text_hash(text) >> (64 - LIST_SLOTS_LOG2);
        if let Some((from, to, list)) = &self.lists[slot] {
            if self.bytes.get(*from..*to) == Some(text) {
                let list = list.clone();
                self.scratch.truncate(first);
                return list;
            }
        }
        let list = Val::list_exact(&mut self.scratch, first);
        self.lists[slot] = Some((open, self.pos, list.clone()));
        list
    }

    #[inline(always)]
    fn fast_scalar(&mut self) -> Option<Val> {
        match self.peek()? {
            b':' => {
                let name = self.fast_keyword()?;
                Some(Val::Str(self.intern(name)))
            }
            b'-' | b'0'..=b'9' => self.fast_int(),
            b'n' | b't' | b'f' => match self.token() {
                "nil" => Some(Val::Nil),
                "true" => Some(Val::Bool(true)),
                "false" => Some(Val::Bool(false)),
                _ => None,
            },
            b'"' => {
                let start = self.pos + 1;
                let len = memchr::memchr3(b'"', b'\\', b'\n', &self.bytes[start..])?;
                if self.bytes[start + len] != b'"' {
                    return None;
                }
                self.pos = start + len + 1;
                Some(Val::str(&self.text[start..start + len]))
            }
            _ => None,
        }
    }

    /// A decimal integer that fits in 64 bits, with no sign but `-`, no
    /// leading zero and no suffix; anything else is the careful reader's.
    #[inline]
    fn fast_int(&mut self) -> Option<Val> {
        let b = self.bytes;
        let negative = b.get(self.pos) == Some(&b'-');
        let digits = self.pos + usize::from(negative);
        let mut at = digits;
        let mut n: u64 = 0;
        while let Some(&c) = b.get(at) {
            if !c.is_ascii_digit() {
                if !is_delimiter(c) {
                    return None;
                }
                break;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            at += 1;
        }
        let count = at - digits;
        if count == 0 || (count > 1 && b[digits] == b'0') {
            return None;
        }
        let i = if negative {
            if n > 1 << 63 {
                return None;
            }
            (n as i64).wrapping_neg()
        } else {
            i64::try_from(n).ok()?
        };
        self.pos = at;
        Some(Val::Int(i))
    }

    /// The interned name for `s`. Names of up to 7 bytes (function names,
    /// micro-op names, node names) are looked up in a small table by their
    /// bytes and length as one integer, with no hashing of the text and no
    /// lock.
    #[inline]
    fn intern(&mut self, s: &str) -> super::Name {
        let b = s.as_bytes();
        if b.len() > 7 {
            return self.name(s);
        }
        let mut word = [0u8; 8];
        for (w, &c) in word.iter_mut().zip(b) {
            *w = c;
        }
        // The length in the top byte (free: at most 7 bytes of text) tells
        // "a" from "a\0".
        word[7] = b.len() as u8;
        let key = u64::from_le_bytes(word);
        let slot = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
        if self.short_names.is_empty() {
            self.short_names = vec![None; 64];
        }
        if let Some((k, n)) = self.short_names[slot] {
            if k == key {
                return n;
            }
        }
        let n = super::Name::new(s);
        self.short_names[slot] = Some((key, n));
        n
    }
}

/// EDN numbers: integers (`N` suffix allowed; beyond 64 bits they become
/// floats), floats (`M` suffix allowed), ratios (as floats), and Clojure's
/// `0x` hex integers. `None` when the token is not a number.
fn parse_number(tok: &str) -> Option<Value> {
    if let Ok(i) = tok.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    let (body, suffix) = match tok.as_bytes()[tok.len() - 1] {
        b'N' | b'M' => (&tok[..tok.len() - 1], Some(tok.as_bytes()[tok.len() - 1])),
        _ => (tok, None),
    };
    let digits = body.strip_prefix(['+', '-']).unwrap_or(body);
    let negative = body.starts_with('-');
    let integer_like = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if integer_like && suffix != Some(b'M') {
        if let Ok(i) = body.parse::<i64>() {
            return Some(Value::Number(i.into()));
        }
        if let Ok(u) = body.parse::<u64>() {
            return Some(Value::Number(u.into()));
        }
        // A big integer: keep its magnitude as a float.
        return body.parse::<f64>().ok().map(float);
    }
    if suffix == Some(b'N') {
        return None;
    }
    if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        let n = i64::from_str_radix(hex, 16).ok()?;
        return Some(Value::Number((if negative { -n } else { n }).into()));
    }
    if let Some((num, den)) = body.split_once('/') {
        let all_digits = |s: &str| {
            let s = s.strip_prefix(['+', '-']).unwrap_or(s);
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !all_digits(num) || !all_digits(den) {
            return None;
        }
        let (n, d) = (num.parse::<f64>().ok()?, den.parse::<f64>().ok()?);
        if d == 0.0 {
            return None;
        }
        return Some(float(n / d));
    }
    // Floats: digits, optional fraction, optional exponent. Rust's parser
    // also accepts "inf"/"nan", which the leading digit already excludes.
    if !digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    body.parse::<f64>().ok().map(float)
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_read_like_the_whole() {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!(
                "{{:process {}, :type :invoke, :f :txn, :value [[:append {} {i}] [:r 3 nil]]}}\n",
                i % 7,
                i % 11
            ));
            if i == 1500 {
                // A map over several lines, one of them starting with `{`.
                text.push_str("{:process 9, :type :info, :f :start,\n:value\n{:a 1}}\n");
            }
        }
        let whole = parse_whole(&text, "w").unwrap();
        let pieces = parse_pieces(&text, "w", 1000).unwrap();
        assert_eq!(whole, pieces);
        assert_eq!(whole.len(), 3001);
        // A cut inside the multi-line map makes a piece fail: the caller
        // then reads the text whole.
        let at = text.find("\n:value\n{:a 1}").unwrap();
        let failed = (1..2000).any(|n| {
            let piece = at.saturating_sub(n);
            parse_pieces(&text, "w", piece.max(1)).is_none()
        });
        assert!(failed);
        assert_eq!(parse_history(&text, "w").unwrap(), whole);
        let bad = format!("{text}{{:process 1, :type :nope, :f :read}}\n");
        let e = parse_history(&bad, "w").unwrap_err().to_string();
        assert!(e.starts_with("w:3004:"), "{e}");
    }
    use serde_json::json;

    fn v(text: &str) -> Value {
        match parse_value(text, "t.edn") {
            Ok(v) => v,
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    fn err(text: &str) -> String {
        match parse_history(text, "t.edn") {
            Ok(ops) => panic!("{text:?} parsed into {} ops", ops.len()),
            Err(e) => e.to_string(),
        }
    }

    fn verr(text: &str) -> String {
        match parse_value(text, "t.edn") {
            Ok(v) => panic!("{text:?} parsed into {v}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(v("nil"), Value::Null);
        assert_eq!(v("true"), json!(true));
        assert_eq!(v("false"), json!(false));
        assert_eq!(v(":x"), json!("x"));
        assert_eq!(v(":jepsen/foo"), json!("jepsen/foo"));
        assert_eq!(v("foo.bar/baz"), json!("foo.bar/baz"));
        assert_eq!(v("-"), json!("-"));
        assert_eq!(v("+"), json!("+"));
        assert_eq!(v("42"), json!(42));
        assert_eq!(v("-7"), json!(-7));
        assert_eq!(v("+7"), json!(7));
        assert_eq!(v("42N"), json!(42));
        assert_eq!(v("18446744073709551615"), json!(18446744073709551615u64));
        assert_eq!(v("1.5"), json!(1.5));
        assert_eq!(v("1.5M"), json!(1.5));
        assert_eq!(v("2M"), json!(2.0));
        assert_eq!(v("1e3"), json!(1000.0));
        assert_eq!(v("-2.5e-1"), json!(-0.25));
        assert_eq!(v("1/4"), json!(0.25));
        assert_eq!(v("0x1F"), json!(31));
        assert_eq!(v("##Inf"), json!("##Inf"));
    }

    #[test]
    fn big_integers_do_not_crash() {
        let big = v("123456789012345678901234567890N");
        assert!(big
            .as_f64()
            .is_some_and(|f| (f - 1.2345678901234568e29).abs() < 1e15));
        let huge = format!("{}N", "9".repeat(400));
        assert!(matches!(v(&huge), Value::String(_)));
    }

    #[test]
    fn bad_numbers_are_errors() {
        assert!(verr("12abc").contains("expected a number, found `12abc`"));
        assert!(verr("1.5N").contains("expected a number"));
        assert!(verr("1/0").contains("expected a number"));
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(v(r#""plain""#), json!("plain"));
        assert_eq!(v(r#""a\"b\\c\nd\te\u00e9""#), json!("a\"b\\c\nd\te\u{e9}"));
        assert_eq!(v("\"multi\nline\""), json!("multi\nline"));
        assert_eq!(v("\"héllo ✓\""), json!("héllo ✓"));
        let e = verr(r#""bad \q escape""#);
        assert!(e.starts_with("t.edn:1:6:") && e.contains("`\\q`"), "{e}");
        let e = verr("\"open\n\nnever closed");
        assert!(e.contains("string opened on line 1, column 1"), "{e}");
    }

    #[test]
    fn characters() {
        assert_eq!(v("\\a"), json!("a"));
        assert_eq!(v("\\newline"), json!("\n"));
        assert_eq!(v("\\space"), json!(" "));
        assert_eq!(v("\\tab"), json!("\t"));
        assert_eq!(v("\\u03A9"), json!("Ω"));
        assert_eq!(v("\\o101"), json!("A"));
        assert_eq!(v("[\\( \\)]"), json!(["(", ")"]));
        assert_eq!(v("\\é"), json!("é"));
        assert!(verr("\\bogus").contains("expected a character, found `\\bogus`"));
    }

    #[test]
    fn collections() {
        assert_eq!(v("[1 2, 3]"), json!([1, 2, 3]));
        assert_eq!(v("(1 (2) [])"), json!([1, [2], []]));
        assert_eq!(v("#{3 1 2}"), json!([3, 1, 2]));
        assert_eq!(
            v("{:a 1, \"b\" 2, 3 4, [1 2] 5, nil 6}"),
            json!({"a": 1, "b": 2, "3": 4, "[1 2]": 5, "nil": 6})
        );
        assert_eq!(
            v("[[:read :x nil] [:write :y 2]]"),
            json!([["read", "x", null], ["write", "y", 2]])
        );
    }

    #[test]
    fn comments_discard_and_commas() {
        assert_eq!(v("; hello\n[1 ; one\n 2]"), json!([1, 2]));
        assert_eq!(v("[1 #_ 2 3]"), json!([1, 3]));
        assert_eq!(v("[1 #_#_ 2 3 4]"), json!([1, 4]));
        assert_eq!(v("{:a #_ :b 1}"), json!({"a": 1}));
        assert_eq!(v(",,,[,1,,2,],,"), json!([1, 2]));
        assert!(verr("[1 #_]").contains("`#_` discards nothing"));
    }

    #[test]
    fn tagged_literals() {
        assert_eq!(
            v("#inst \"2020-01-01T00:00:00Z\""),
            json!("2020-01-01T00:00:00Z")
        );
        assert_eq!(
            v("#uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\""),
            json!("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
        );
        assert_eq!(v("#foo.Bar{:a 1}"), json!({"a": 1}));
        assert_eq!(v("#my/tag [1]"), json!([1]));
        assert_eq!(v("#:ns{:a 1}"), json!({"a": 1}));
        assert!(verr("[#foo]").contains("expected a value after the tag `#foo`"));
    }

    #[test]
    fn value_errors_name_line_and_column() {
        let e = verr("[1 2\n  [3 4]");
        assert!(e.starts_with("t.edn:2:8:"), "{e}");
        assert!(e.contains("opened on line 1, column 1"), "{e}");
        let e = verr("[1 2}");
        assert!(
            e.starts_with("t.edn:1:5:") && e.contains("found `}`"),
            "{e}"
        );
        let e = verr("{:a}");
        assert!(e.contains("even number of forms"), "{e}");
        let e = verr("1 2");
        assert!(
            e.starts_with("t.edn:1:3:") && e.contains("end of input"),
            "{e}"
        );
        let e = verr("]");
        assert!(e.contains("unmatched `]`"), "{e}");
    }

    #[test]
    fn history_as_vector_list_and_stream() {
        let m = "{:process 0, :type :invoke, :f :cas, :value [1 2]}\n{:process 0, :type :ok, :f :cas, :value [1 2]}";
        for text in [
            format!("[{m}]"),
            format!("({m})"),
            m.to_string(),
            format!("; c\n{m}\n"),
        ] {
            let ops = parse_history(&text, "t.edn").unwrap();
            assert_eq!(ops.len(), 2, "{text}");
            assert_eq!(ops[0].op_type, OpType::Invoke);
            assert_eq!(ops[1].op_type, OpType::Ok);
            assert_eq!(ops[1].index, 1);
            assert_eq!(ops[0].f, "cas");
            assert_eq!(ops[0].value, json!([1, 2]));
            assert_eq!(ops[0].process, Some(Process::id(0)));
        }
        let ops = parse_history("; c\n{:process 0, :type :invoke, :f :read}\n\n{:process 0, :type :ok, :f :read, :value 3}", "t.edn").unwrap();
        assert_eq!((ops[0].line, ops[1].line), (2, 4));
        assert_eq!(ops[0].value, Value::Null);
        assert!(parse_history("", "t.edn").unwrap().is_empty());
        assert!(parse_history(" ; only a comment\n", "t.edn")
            .unwrap()
            .is_empty());
        assert!(parse_history("[]", "t.edn").unwrap().is_empty());
    }

    #[test]
    fn op_fields() {
        let text = r#"{:index 7, :time 1234, :process :nemesis, :type :info, :f :start, :value "Cut off {:n1 #{:n2}}", :node "n1", :error [:timeout "x"], :extra {:ignored true}}
#jepsen.history.Op{:index 9 :time 2000 :type :invoke :process 3 :f :txn :value [[:append 5 1] [:r 5 nil]]}
{:type "ok", :f "txn", :value [[:append 5 1] [:r 5 [1]]], :process 3, :key :k1}"#;
        let ops = parse_history(text, "t.edn").unwrap();
        assert_eq!(ops.len(), 3);
        let a = &ops[0];
        assert_eq!((a.index, a.time.get(), a.line), (7, Some(1234), 1));
        assert_eq!(a.process, Some(Process::name("nemesis")));
        assert_eq!(a.op_type, OpType::Info);
        assert_eq!(a.value, json!("Cut off {:n1 #{:n2}}"));
        assert_eq!(a.node().as_deref(), Some("n1"));
        assert_eq!(a.error(), Some(&json!(["timeout", "x"])));
        let b = &ops[1];
        assert_eq!((b.index, b.time.get(), b.line), (9, Some(2000), 2));
        assert_eq!(b.value, json!([["append", 5, 1], ["r", 5, null]]));
        let c = &ops[2];
        assert_eq!(c.index, 2);
        assert_eq!(c.op_type, OpType::Ok);
        assert_eq!(c.key, Some(json!("k1").into()));
        assert_eq!(c.value, json!([["append", 5, 1], ["r", 5, [1]]]));
        // Elle histories may lack :process.
        let ops = parse_history("[{:type :ok, :f :txn, :value []}]", "t.edn").unwrap();
        assert_eq!(ops[0].process, None);
    }

    #[test]
    fn unclosed_history_names_where_it_opened() {
        let e = err("[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok, :f :read}\n");
        assert!(e.starts_with("t.edn:3:1:"), "{e}");
        assert!(
            e.contains("close the history opened on line 1, column 1"),
            "{e}"
        );
        let e = err("[{:process 0, :type :invoke, :f :read\n");
        assert!(e.starts_with("t.edn:2:1:"), "{e}");
        assert!(e.contains("map opened on line 1, column 2"), "{e}");
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        let e = err("[{:type :invoke, :f :read, :process 0}]\n]");
        assert!(
            e.starts_with("t.edn:2:1:") && e.contains("expected end of input"),
            "{e}"
        );
        let e = err("[{:type :invoke, :f :read, :process 0}] junk");
        assert!(e.starts_with("t.edn:1:41:") && e.contains("`junk`"), "{e}");
        let e = err("{:type :invoke, :f :read, :process 0}\n]");
        assert!(
            e.starts_with("t.edn:2:1:") && e.contains("unmatched `]`"),
            "{e}"
        );
        let e = err("{:type :invoke, :f :read, :process 0}}");
        assert!(e.starts_with("t.edn:1:38:"), "{e}");
    }

    #[test]
    fn non_map_element_is_an_error() {
        let e = err("[{:type :invoke, :f :read, :process 0}\n :oops]");
        assert!(
            e.starts_with("t.edn:2:2:") && e.contains("expected a map"),
            "{e}"
        );
        assert!(e.contains("found `:oops`"), "{e}");
        // A vector is read as Knossos's tuple form [process type f value].
        let e = err("{:type :invoke, :f :read, :process 0}\n[1 2]");
        assert!(
            e.starts_with("t.edn:2:4:") && e.contains("second in an operation tuple"),
            "{e}"
        );
        let e = err("#foo [1]");
        assert!(
            e.contains("expected a map (one operation) after the tag `#foo`"),
            "{e}"
        );
    }

    #[test]
    fn knossos_tuples_are_operations() {
        // Knossos's `read-history` reads `[process type f value]` tuples as
        // well as maps: a stream of them (its data/memstress3.edn, tabs and
        // independent [key value] values), or a vector of them.
        let h = parse_history(
            "[81\t:invoke\t:read\t[8 nil]]\n[81\t:ok\t:read\t[8 2]]\n[:nemesis :info :start]\n",
            "t.edn",
        )
        .unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].process, Some(Process::id(81)));
        assert_eq!(h[1].op_type, OpType::Ok);
        assert_eq!(h[1].f.as_str(), "read");
        assert_eq!(h[1].value.to_string(), "[8,2]");
        assert_eq!((h[1].index, h[1].line), (1, 2));
        assert_eq!(h[2].value, Val::Nil);
        let v = parse_history("[[0 :invoke :write 1] [0 :ok :write 1]]", "t.edn").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].value, Val::Int(1));
        let e = err("[0 :ok :write 1 2]");
        assert!(
            e.starts_with("t.edn:1:17:") && e.contains("expected `]` to close an operation tuple"),
            "{e}"
        );
        let e = err("[1.5 :invoke :read nil]");
        assert!(e.contains("expected a process"), "{e}");
    }

    #[test]
    fn missing_or_bad_required_fields() {
        let e = err("{:process 0, :f :read}\n{:process 0, :type :invoke, :f :read}");
        assert!(e.starts_with("t.edn:1:1:") && e.contains("no :type"), "{e}");
        let e = err("\n  {:process 0, :type :invoke}");
        assert!(e.starts_with("t.edn:2:3:") && e.contains("no :f"), "{e}");
        let e = err("{:process 0, :type :done, :f :read}");
        assert!(e.starts_with("t.edn:1:20:") && e.contains("`done`"), "{e}");
        let e = err("{:process 0, :type 3, :f :read}");
        assert!(e.starts_with("t.edn:1:20:") && e.contains(":type"), "{e}");
        let e = err("{:process 0.5, :type :ok, :f :read}");
        assert!(
            e.starts_with("t.edn:1:11:") && e.contains(":process"),
            "{e}"
        );
        let e = err("{:process 0, :type :ok, :f :read, :index -1}");
        assert!(e.contains(":index to be a non-negative integer"), "{e}");
        let e = err("{:process 0, :type :ok, :f [1]}");
        assert!(e.contains(":f to be a keyword"), "{e}");
        let e = err("{:process 0, :type :ok, :f :read, :value}");
        assert!(e.contains("even number of forms"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(verr(&deep).contains("nest more than"));
        let discards = format!("{}1", "#_".repeat(100_000));
        assert!(verr(&discards).contains("nest more than"));
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(v(&ok).is_array());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,64}") {
            let _ = parse_history(&s, "p.edn");
            let _ = parse_value(&s, "p.edn");
        }

        #[test]
        fn edn_like_text_never_panics(s in "[\\[\\](){}#_:;\"\\\\ ,\nanil0-9.eNM/+é-]{0,48}") {
            let _ = parse_history(&s, "p.edn");
            let _ = parse_value(&s, "p.edn");
        }
    }

    #[test]
    fn many_ops_parse_quickly() {
        use std::fmt::Write;
        let n = 200_000;
        let mut text = String::with_capacity(n * 90);
        text.push('[');
        for i in 0..n {
            let p = i % 10;
            let _ = writeln!(
                text,
                "{{:index {}, :time {}, :process {p}, :type :invoke, :f :txn, :value [[:append {} {i}] [:r {} nil]]}}",
                2 * i,
                i * 1000,
                i % 7,
                i % 5
            );
        }
        text.push(']');
        let ops = parse_history(&text, "gen.edn").unwrap();
        assert_eq!(ops.len(), n);
        assert_eq!(ops[n - 1].index, 2 * (n as u64 - 1));
        assert_eq!(ops[n - 1].line as usize, n);
        assert_eq!(
            ops[123].value,
            json!([["append", 123 % 7, 123], ["r", 123 % 5, null]])
        );
    }

    /// Maps the fast reader must read exactly as the careful one does, or
    /// leave to it: each value and key shape it handles, each it hands
    /// over, and each error.
    const TRICKY_MAPS: &[&str] = &[
        "{:index 0, :time 0, :process 44, :type :invoke, :f :read, :key 548, :value nil}",
        "{:index 7, :process 5, :type :ok, :f :txn, :value [[:r 88 []] [:append 991 1]]}",
        "{:type :info, :f :write, :process -3, :time -1, :value 9223372036854775807}",
        "{:type :ok, :f :read, :process :nemesis, :value -9223372036854775808}",
        "{:type :ok, :f :read, :process nil, :value 9223372036854775808}",
        "{:type :ok, :f :read, :process \"n1\", :value -9223372036854775809}",
        "{:type :ok, :f :read, :index 18446744073709551615, :value 1}",
        "{:type :ok, :f :read, :index 18446744073709551616}",
        "{:type :ok, :f :read, :index -1}",
        "{:type :ok, :f :read, :time -2}",
        "{:type :ok, :f :read, :time 1.5}",
        "{:type :ok, :f :read, :process 1.5}",
        "{:type :ok, :f :read, :value 1.0}",
        "{:type :ok, :f :read, :value 1N}",
        "{:type :ok, :f :read, :value 1M}",
        "{:type :ok, :f :read, :value -0}",
        "{:type :ok, :f :read, :value 007}",
        "{:type :ok, :f :read, :value +7}",
        "{:type :ok, :f :read, :value 0x1F}",
        "{:type :ok, :f :read, :value 1/2}",
        "{:type :ok, :f :read, :value 12abc}",
        "{:type :ok, :f :read, :value -}",
        "{:type :ok, :f :read, :value -x}",
        "{:type :ok, :f :read, :value nilly}",
        "{:type :ok, :f :read, :value [true false nil]}",
        "{:type :ok, :f :read, :value truex}",
        "{:type :ok, :f :read, :value \"a\\\"b\"}",
        "{:type :ok, :f :read, :value \"h\u{e9}llo \u{2713}\"}",
        "{:type :ok, :f :read, :value \"two\nlines\"}",
        "{:type :ok, :f :read, :value \"unclosed}",
        "{:type :ok, :f :read, :value \\a}",
        "{:type :ok, :f :read, :value #{1 2}}",
        "{:type :ok, :f :read, :value {:a [1 2]}}",
        "{:type :ok, :f :read, :value #inst \"2020-01-01\"}",
        "{:type :ok, :f :read, :value [1 #_ 2 3]}",
        "{:type :ok, :f :read, :value [1 ; one\n 2]}",
        "{:type :ok, :f :read, :value [1 [2 (3 [])] :k \"s\"]}",
        "{:type :ok, :f :read, :value [1 2}}",
        "{:type :ok, :f :read, :value [1 2)}",
        "{:type :ok, :f :read, :value [1 2",
        "{:type :ok, :f :read, :value}",
        "{:type :ok, :f :read, :value :}",
        "{:type :ok, :f :read :value 1 :value 2 :type :fail}",
        "{:type :ok, :value [[:r :x nil] [:append :y 2]]}",
        "{:type :ok, :value []}",
        "{:type :ok, :value [[1 2]]}",
        "{:f :read, :value 1}",
        "{:type :done, :f :read}",
        "{:type \"ok\", :f \"read\"}",
        "{:type ok, :f read}",
        "{\"type\" :ok, \"f\" :read, \"value\" 3}",
        "{type :ok, f :read}",
        "{:type :ok, :f 3}",
        "{:type :ok, :f :}",
        "{:type :ok, :f :read/x, :key :ns/k}",
        "{:type :ok, :f :abcdefg, :value :abcdefgh}",
        "{:type :ok, :f :abcdefgh, :value :abcdefg}",
        "{:type :ok, :f :read, :node :n1, :error :timeout}",
        "{:type :ok, :f :read, :node \"n1\", :error [:a \"b\" {:c 1}]}",
        "{:type :ok, :f :read, :node 3, :error nil}",
        "{:type :ok, :f :read, :node nil}",
        "{:type :ok, :f :read, :extra {:ignored [1 2]}, :other-key #{}}",
        "{:type :ok, :f :read, :extra}",
        "{:type :ok, :f :read, : 3}",
        "{:type:x :ok, :type :ok, :f :read}",
        "#jepsen.history.Op{:index 9 :time 2000 :type :invoke :process 3 :f :txn :value [[:append 5 1]]}",
        "#jepsen.history.Op {:type :invoke :f :read}",
        "#jepsen.history.Op [:type :invoke]",
        "#{:type :invoke :f :read}",
        "# {:type :invoke :f :read}",
        "{:type :ok,\n :f :read ; a comment\n :value\n [1\n 2] #_ :ignored}",
        "{:type :ok, #_ :f :f :read, :value\t\r\x0c1}",
        "{:type :ok, :f :read, :value [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "{:type :ok, :f :read, :value 1",
        "{:type :ok, :f :read, :value 1]",
        "{:type :ok, :f :read}}",
        "[:type :ok]",
        "}",
    ];

    /// The fast reader's result (event, where it stopped, line) or the
    /// careful reader's error, for the map at the start of `text`; and
    /// whether the fast reader read it itself.
    fn read_fast(text: &str) -> (Result<(Op, usize, usize), String>, bool) {
        let mut p = Parser::new(text, "t.edn");
        let fast = p.fast_op(0).is_some();
        let mut p = Parser::new(text, "t.edn");
        let r = p.read_op(0).map(|op| (op, p.pos, p.line));
        (r.map_err(|e| e.to_string()), fast)
    }

    fn read_careful(text: &str) -> Result<(Op, usize, usize), String> {
        let mut p = Parser::new(text, "t.edn");
        p.parse_op(0)
            .map(|op| (op, p.pos, p.line))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_fast_reader_agrees_with_the_careful_one() {
        let mut fast_count = 0;
        for text in TRICKY_MAPS {
            let (fast, by_fast) = read_fast(text);
            assert_eq!(fast, read_careful(text), "{text:?}");
            fast_count += usize::from(by_fast);
            if by_fast {
                assert!(
                    fast.is_ok(),
                    "{text:?}: the fast reader read a map the careful one refuses"
                );
            }
        }
        // The common shapes really go the fast way, so the comparison above
        // compares two readers.
        for text in &TRICKY_MAPS[..6] {
            assert!(read_fast(text).1, "{text:?} was not read fast");
        }
        assert!(fast_count >= 30, "only {fast_count} maps were read fast");
    }

    #[test]
    fn short_names_are_interned_by_their_bytes() {
        let mut p = Parser::new("", "t.edn");
        let mut names = vec![String::new(), "a\0".to_string(), "\0".to_string()];
        for len in 1..=9 {
            for i in 0..200 {
                names.push(format!("{i:0>len$}").chars().take(len).collect());
                names.push(format!("x{i}y").chars().take(len).collect());
            }
        }
        names.push("abcdefg".into());
        names.push("abcdefgx".into());
        names.push("é".into());
        for _ in 0..2 {
            for n in &names {
                assert_eq!(p.intern(n).as_str(), n.as_str());
                assert_eq!(p.intern(n), super::super::Name::new(n));
            }
        }
    }

    /// A stream with every awkward thing a cut can land near: maps over
    /// several lines, a line inside a map that starts with `{`, two maps on
    /// a line, an indented map, comments, records, blank lines.
    fn awkward_stream(two_per_line: bool, multi_line: bool) -> String {
        let mut text = String::from("; a history\n\n");
        for i in 0..400 {
            text.push_str(&format!(
                "{{:process {}, :type :invoke, :f :txn, :value [[:append {} {i}] [:r 3 nil]]}}\n",
                i % 7,
                i % 11
            ));
            match i % 50 {
                7 if two_per_line => text.push_str(
                    "{:process 1, :type :ok, :f :read, :value 1} {:process 2, :type :ok, :f :read}\n",
                ),
                13 if two_per_line => text.push_str("  {:process 3, :type :fail, :f :read}\n"),
                21 if multi_line => text.push_str(
                    "{:process 9, :type :info, :f :start,\n:value\n{:a 1}, :error \"x\ny\"}\n",
                ),
                29 => text.push_str(
                    "#jepsen.history.Op{:index 100000, :process 4, :type :ok, :f :write, :value \"s\"}\n",
                ),
                33 => text.push_str("\n; between\n{:type :ok, :f :read} ; after\n"),
                _ => {}
            }
        }
        text
    }

    #[test]
    fn pieces_cut_anywhere_read_like_the_whole() {
        for (two, multi) in [(false, false), (true, false), (false, true), (true, true)] {
            let text = awkward_stream(two, multi);
            let whole = parse_whole(&text, "w").unwrap();
            let mut cut_inside = false;
            for piece in (1..text.len()).step_by(97).chain([1, 2, 50, 80, 81, 82]) {
                match parse_pieces(&text, "w", piece) {
                    Some(pieces) => assert_eq!(pieces, whole, "piece {piece}, {two} {multi}"),
                    // Only a cut inside a map that spans lines fails.
                    None => {
                        assert!(multi, "piece {piece} failed without multi-line maps");
                        cut_inside = true;
                    }
                }
            }
            assert_eq!(cut_inside, multi);
        }
        // Errors name the same place however the text is cut.
        let mut bad = awkward_stream(true, false);
        bad.push_str("{:process 1, :type :ok, :f :read}\n{:process 1 :type :nope, :f :read}\n");
        let lines = bad.lines().count();
        assert!(parse_pieces(&bad, "w", 500).is_none());
        let e = parse_history(&bad, "w").unwrap_err().to_string();
        assert!(e.starts_with(&format!("w:{lines}:19:")), "{e}");
    }

    /// One map from random fragments, tricky and plain.
    fn random_map(parts: &[(usize, usize)]) -> String {
        const KEYS: &[&str] = &[
            ":index",
            ":time",
            ":process",
            ":type",
            ":f",
            ":key",
            ":value",
            ":node",
            ":error",
            ":other",
            "\"value\"",
            ":type:x",
            ":",
        ];
        const VALUES: &[&str] = &[
            "nil",
            "0",
            "-1",
            "42",
            "007",
            "1.5",
            "1N",
            "-",
            ":ok",
            ":invoke",
            ":read",
            ":nemesis",
            "\"s\"",
            "\"a\\nb\"",
            "[]",
            "[1 :x nil]",
            "[[:r 1 nil] [:append 2 3]]",
            "[[:r 1 [1 2 3 4]] [:r 1 [1 2 3 4 5]] [:r 1 [1 2 3 5]] [:r 2 [1 2 3 4]]]",
            "[(:append :x 1) [:r :x nil]]",
            "[[:r :x] [:append :x 1]]",
            "[[1 2 3] [4 5 6 7]]",
            "[[1 2 3]]",
            "[[[1 2 3] [4 5 6] [7 8 9]]]",
            "[[:r 1 2] 3]",
            "[[:r 1 2]",
            "[[:r 1 {:a 1}]]",
            "[ [ :r 1 nil ] ,\n [ :r 1 ] ]",
            "(1 (2))",
            "#{1}",
            "{:a 1}",
            "true",
            "[1 2}",
            "#_ 1 2",
            "; c\n 3",
            "18446744073709551615",
            "-9223372036854775809",
            "\\c",
            "[1 \n 2]",
        ];
        let mut text = String::from("{");
        for &(k, v) in parts {
            text.push_str(KEYS[k % KEYS.len()]);
            text.push(' ');
            text.push_str(VALUES[v % VALUES.len()]);
            text.push_str(", ");
        }
        text.push('}');
        text
    }

    proptest::proptest! {
        #[test]
        fn the_fast_reader_agrees_on_random_maps(
            parts in proptest::collection::vec((0usize..100, 0usize..100), 0..8),
            plain in proptest::bool::ANY,
        ) {
            let mut text = random_map(&parts);
            if plain {
                text.insert_str(1, ":type :ok, :f :read, ");
            }
            proptest::prop_assert_eq!(read_fast(&text).0, read_careful(&text), "{}", text);
        }
    }
}
