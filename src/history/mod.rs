//! Histories: what happened during a test, one operation event at a time.
//!
//! A history is a sequence of [`Op`] events. A client operation appears twice:
//! once as an `invoke` and once as its completion (`ok`, `fail` or `info`) from
//! the same process. [`History::operations`] pairs the two into an
//! [`Operation`], validating Jepsen's rules on the way, and every validation
//! error names the file and the line of the offending event so a person can
//! go and look.
//!
//! Positions in the history define real-time order: an operation `a`
//! precedes `b` when `a`'s completion appears before `b`'s invocation. That
//! is what Knossos and Porcupine do, and it keeps histories without
//! timestamps (Elle's, Knossos's) checkable. Which order the positions
//! follow — the file's, or the events' `:time`s' — is decided once, by
//! [`History::interpret`] (see [`order`]), so every checker agrees on it.
//!
//! The readers accept every shape Jepsen and Elle write (docs/formats.md):
//! transactions without `:f`, events without `:process` (named here, when
//! read, so that every checker pairs them), histories of completions only,
//! `:time -1`, Jepsen's logs and `history.txt`, and jepsen.independent
//! `[key value]` tuples ([`independent`]).

pub mod edn;
pub mod independent;
pub mod jepsen_log;
pub mod jsonl;
pub mod order;
mod pieces;
pub mod value;

pub use independent::Independent;
pub use order::Order;
pub use value::{List, Name, Val};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The type of an event: an invocation or one of the three completions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The client is about to perform the operation.
    #[default]
    Invoke,
    /// The operation took effect.
    Ok,
    /// The operation certainly did not take effect.
    Fail,
    /// Indeterminate: it may take effect at any time after its invoke, or never.
    Info,
}

impl OpType {
    /// Parses `invoke`, `ok`, `fail`, `info` (the spellings in every format).
    pub fn parse(s: &str) -> Option<OpType> {
        match s {
            "invoke" => Some(OpType::Invoke),
            "ok" => Some(OpType::Ok),
            "fail" => Some(OpType::Fail),
            "info" => Some(OpType::Info),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A logical process: a client number, or a name such as `"nemesis"`.
///
/// Packed into 8 bytes (and `Option<Process>` too), because every event
/// carries one: a number in `-2^62..2^62` is stored shifted with the low
/// bit set; a name is its interned [`Name`]'s address (a multiple of 8); a
/// number beyond that range is the address of its interned decimal text
/// with bit 1 set. Equal processes have equal bits, so equality is one
/// integer's; hashing goes by the number or the name's text, the same in
/// every run. Read it with [`Process::kind`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Process(std::num::NonZeroU64);

/// What a [`Process`] is, to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProcessKind {
    Id(i64),
    Name(Name),
}

impl Process {
    const BIG_ID: u64 = 2;

    /// The client process number `i`.
    pub fn id(i: i64) -> Process {
        let shifted = i.wrapping_shl(1);
        let bits = if shifted >> 1 == i {
            shifted as u64 | 1
        } else {
            Name::new(&i.to_string()).to_bits() | Process::BIG_ID
        };
        Process::from_bits(bits)
    }

    /// The process called `n` (`"nemesis"`, or a client named by text).
    pub fn name(n: impl Into<Name>) -> Process {
        Process::from_bits(n.into().to_bits())
    }

    fn from_bits(bits: u64) -> Process {
        match std::num::NonZeroU64::new(bits) {
            Some(b) => Process(b),
            // Names are addresses and ids have their low bit set: never 0.
            None => unreachable!("a process is never 0"),
        }
    }

    /// A number or a name.
    pub fn kind(self) -> ProcessKind {
        let bits = self.0.get();
        if bits & 1 == 1 {
            ProcessKind::Id(bits as i64 >> 1)
        } else if bits & Process::BIG_ID != 0 {
            // SAFETY: made by `Process::id` from an interned name's bits.
            let text = unsafe { Name::from_bits(bits & !Process::BIG_ID) };
            match text.parse() {
                Ok(i) => ProcessKind::Id(i),
                Err(_) => unreachable!("a big process id is stored as its decimal text"),
            }
        } else {
            // SAFETY: made by `Process::name` from an interned name's bits.
            ProcessKind::Name(unsafe { Name::from_bits(bits) })
        }
    }

    /// The number, for a client process numbered by Jepsen.
    pub fn as_id(self) -> Option<i64> {
        match self.kind() {
            ProcessKind::Id(i) => Some(i),
            ProcessKind::Name(_) => None,
        }
    }

    /// The name, for a process named by text.
    pub fn as_name(self) -> Option<Name> {
        match self.kind() {
            ProcessKind::Name(n) => Some(n),
            ProcessKind::Id(_) => None,
        }
    }

    /// The process given to the `n`th operation (1-based) whose events carry
    /// no process. Each such operation gets its own, so that no checker reads
    /// a session (process order) into them.
    pub fn anonymous(n: usize) -> Process {
        Process::name(format!("anonymous-{n}"))
    }

    /// True for the nemesis, whose events are faults rather than client operations.
    pub fn is_nemesis(&self) -> bool {
        matches!(self.kind(), ProcessKind::Name(n) if n == "nemesis")
    }
}

impl std::hash::Hash for Process {
    /// By the number or by the name's text, never by an address: the order
    /// of a map of processes is then the same in every run.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self.kind() {
            ProcessKind::Id(i) => i.hash(state),
            ProcessKind::Name(n) => n.hash(state),
        }
    }
}

impl PartialOrd for Process {
    fn partial_cmp(&self, other: &Process) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Process {
    /// Numbers first, in numeric order, then names in text order.
    fn cmp(&self, other: &Process) -> std::cmp::Ordering {
        self.kind().cmp(&other.kind())
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            ProcessKind::Id(i) => write!(f, "Id({i})"),
            ProcessKind::Name(n) => write!(f, "Name({n:?})"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.kind() {
            ProcessKind::Id(i) => s.serialize_i64(i),
            ProcessKind::Name(n) => s.serialize_str(&n),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Process, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a process: an integer or a name")
            }
            fn visit_i64<E>(self, i: i64) -> Result<Process, E> {
                Ok(Process::id(i))
            }
            fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Process, E> {
                i64::try_from(u)
                    .map(Process::id)
                    .map_err(|_| E::custom(format!("process {u} is too large")))
            }
            fn visit_str<E>(self, s: &str) -> Result<Process, E> {
                Ok(Process::name(Name::new(s)))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            ProcessKind::Id(i) => write!(f, "{i}"),
            ProcessKind::Name(n) => f.write_str(&n),
        }
    }
}

/// One event of a history, with the fields of Jepsen's op maps.
///
/// Compact (80 bytes, no allocation for register and counter events):
/// names are interned [`Name`]s, values are [`Val`]s, and the fields most
/// events lack (node, error) share one box, absent when both are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Op {
    /// Position in the history: unique and increasing (may be sparse).
    pub index: u64,
    /// Nanoseconds since the run started, when the recorder knew it.
    pub time: Time,
    /// The logical process; absent in some Elle histories.
    pub process: Option<Process>,
    pub op_type: OpType,
    /// The function: `read`, `write`, `cas`, `add`, `txn`, ...
    pub f: Name,
    /// The object the op acts on; absent means the one object of the test.
    pub key: Option<Val>,
    /// Argument on invoke, result on completion.
    pub value: Val,
    /// Node and error ([`Op::node`], [`Op::error`]).
    extra: Option<Box<OpExtra>>,
    /// Source line (1-based) the event was read from; not serialized.
    pub line: u32,
}

/// The rarer fields of an [`Op`].
#[derive(Clone, Debug, Default, PartialEq)]
struct OpExtra {
    node: Option<Name>,
    error: Option<Value>,
}

impl OpExtra {
    /// The box for these fields, or none when both are absent.
    fn of(node: Option<Name>, error: Option<Value>) -> Option<Box<OpExtra>> {
        (node.is_some() || error.is_some()).then(|| Box::new(OpExtra { node, error }))
    }
}

/// The fields of an [`Op`] as JSON has them, in this order.
#[derive(Serialize)]
struct OpOut<'a> {
    index: u64,
    #[serde(skip_serializing_if = "Time::is_none")]
    time: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    process: Option<Process>,
    #[serde(rename = "type")]
    op_type: OpType,
    f: Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a Val>,
    value: &'a Val,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a Value>,
}

impl Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        OpOut {
            index: self.index,
            time: self.time,
            process: self.process,
            op_type: self.op_type,
            f: self.f,
            key: self.key.as_ref(),
            value: &self.value,
            node: self.node(),
            error: self.error(),
        }
        .serialize(s)
    }
}

/// The fields of an [`Op`] as JSON has them, read back.
#[derive(Deserialize)]
struct OpIn {
    index: u64,
    #[serde(default)]
    time: Time,
    #[serde(default)]
    process: Option<Process>,
    #[serde(rename = "type")]
    op_type: OpType,
    f: Name,
    #[serde(default)]
    key: Option<Val>,
    #[serde(default)]
    value: Val,
    #[serde(default)]
    node: Option<Name>,
    #[serde(default)]
    error: Option<Value>,
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Op, D::Error> {
        let o = OpIn::deserialize(d)?;
        Ok(Op {
            index: o.index,
            time: o.time,
            process: o.process,
            op_type: o.op_type,
            f: o.f,
            key: o.key,
            value: o.value,
            extra: OpExtra::of(o.node, o.error),
            line: 0,
        })
    }
}

impl Op {
    /// Bytes this event holds on the heap beyond its own size.
    pub fn heap_bytes(&self) -> usize {
        self.value.heap_bytes()
            + self.key.as_ref().map_or(0, Val::heap_bytes)
            + self.extra.as_ref().map_or(0, |x| {
                std::mem::size_of::<OpExtra>()
                    + x.error.as_ref().map_or(0, |e| 64 + e.to_string().len() * 2)
            })
    }

    /// Which node the client talked to.
    pub fn node(&self) -> Option<Name> {
        self.extra.as_ref().and_then(|x| x.node)
    }

    /// Why it failed or is indeterminate.
    pub fn error(&self) -> Option<&Value> {
        self.extra.as_ref().and_then(|x| x.error.as_ref())
    }

    pub fn set_node(&mut self, node: Option<Name>) {
        let error = self.take_error();
        self.extra = OpExtra::of(node, error);
    }

    pub fn set_error(&mut self, error: Option<Value>) {
        self.extra = OpExtra::of(self.node(), error);
    }

    /// The error, taken out of the event.
    pub fn take_error(&mut self) -> Option<Value> {
        let error = self.extra.as_mut().and_then(|x| x.error.take());
        self.extra = OpExtra::of(self.node(), None);
        error
    }

    /// A new event with only the required fields set.
    pub fn new(
        index: u64,
        process: Process,
        op_type: OpType,
        f: &str,
        value: impl Into<Val>,
    ) -> Op {
        Op {
            index,
            time: Time::NONE,
            process: Some(process),
            op_type,
            f: Name::new(f),
            key: None,
            value: value.into(),
            extra: None,
            line: 0,
        }
    }
}

/// An event's time in nanoseconds, or none: an `Option<u64>` in 8 bytes
/// (`u64::MAX` is "no time"; no run lasts 584 years).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Time(u64);

impl Time {
    pub const NONE: Time = Time(u64::MAX);
    pub fn get(self) -> Option<u64> {
        (self.0 != u64::MAX).then_some(self.0)
    }
    pub fn is_none(&self) -> bool {
        self.0 == u64::MAX
    }
    pub fn is_some(&self) -> bool {
        self.0 != u64::MAX
    }
}

impl Default for Time {
    fn default() -> Time {
        Time::NONE
    }
}

impl From<Option<u64>> for Time {
    fn from(t: Option<u64>) -> Time {
        Time(t.filter(|&t| t != u64::MAX).unwrap_or(u64::MAX))
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        Ok(Time::from(Option::<u64>::deserialize(d)?))
    }
}

/// The outcome of a client operation once paired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Fail,
    /// Indeterminate, including an invoke never completed.
    Info,
}

/// A client operation: an invocation paired with its completion.
///
/// Paired once per history ([`History::operations`]) and read by every
/// checker; its fields are compact ([`Name`], [`Val`], [`Process`] are small
/// and cheap to clone), so pairing copies no value trees.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Operation {
    /// Position of the invoke event in [`History::ops`] ([`Operation::invoke`]).
    #[serde(rename = "invoke")]
    invoke_at: u32,
    /// Position of the completion ([`Operation::complete`]).
    #[serde(rename = "complete")]
    complete_at: Option<u32>,
    pub process: Process,
    pub f: Name,
    pub key: Option<Val>,
    /// The invocation's value (the argument).
    pub input: Val,
    /// The completion's value (the result); for `info` and never-completed
    /// operations it is the invocation's value.
    pub output: Val,
    pub outcome: Outcome,
    /// Time of the invoke and of the completion, in ns, when recorded.
    pub invoke_time: Time,
    pub complete_time: Time,
}

impl Operation {
    /// An operation of the events at `invoke` and `complete` (positions in
    /// [`History::ops`], below 2^32: a history is refused before that).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        invoke: usize,
        complete: Option<usize>,
        process: Process,
        f: Name,
        key: Option<Val>,
        input: Val,
        output: Val,
        outcome: Outcome,
    ) -> Operation {
        Operation {
            invoke_at: position(invoke),
            complete_at: complete.map(position),
            process,
            f,
            key,
            input,
            output,
            outcome,
            invoke_time: Time::NONE,
            complete_time: Time::NONE,
        }
    }

    /// Position of the invoke event in [`History::ops`].
    pub fn invoke(&self) -> usize {
        self.invoke_at as usize
    }

    /// Position of the completion in [`History::ops`]; `None` when the
    /// invoke was never completed (treated as `info`).
    pub fn complete(&self) -> Option<usize> {
        self.complete_at.map(|c| c as usize)
    }

    /// Sets the completion's position.
    pub fn set_complete(&mut self, complete: Option<usize>) {
        self.complete_at = complete.map(position);
    }

    /// True for an operation read from a completion that has no invoke (a
    /// history of completions only): `invoke` and `complete` are then both
    /// the completion's position. We do not know when it began, and the
    /// order of such completions in a file is not taken as real time, so
    /// it is concurrent with every other operation: [`Operation::call`] is
    /// the start of the history and [`Operation::ret`] is never.
    pub fn is_completion_only(&self) -> bool {
        self.complete_at == Some(self.invoke_at)
    }

    /// Real-time position of the call (the invoke's position in the history).
    pub fn call(&self) -> usize {
        if self.is_completion_only() {
            0
        } else {
            self.invoke()
        }
    }
    /// Real-time position of the return; `usize::MAX` for an operation that
    /// never returned (it may take effect at any time after its call).
    pub fn ret(&self) -> usize {
        match (self.outcome, self.complete()) {
            (Outcome::Info, _) | (_, None) => usize::MAX,
            _ if self.is_completion_only() => usize::MAX,
            (_, Some(c)) => c,
        }
    }
}

/// An event position as an operation stores it.
fn position(p: usize) -> u32 {
    match u32::try_from(p) {
        Ok(p) => p,
        // `History::operations` refuses histories this long.
        Err(_) => panic!("event position {p} beyond 2^32"),
    }
}

/// The node an operation's client talked to: its invoke's, or else its
/// completion's (`events` are the history's events).
pub fn node_of(events: &[Op], o: &Operation) -> Option<Name> {
    events[o.invoke()]
        .node()
        .or_else(|| o.complete().and_then(|c| events[c].node()))
}

/// Where a history came from, for error messages and reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// The format the events were read from (none for a history made in
    /// memory).
    pub format: Option<Format>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.as_os_str().is_empty() {
            f.write_str("<history>")
        } else {
            write!(f, "{}", self.path.display())
        }
    }
}

/// Errors reading or validating a history. Each names the file and the line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HistoryError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

impl HistoryError {
    pub fn parse(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        HistoryError::Parse {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
    pub fn invalid(file: &str, line: usize, message: impl Into<String>) -> Self {
        HistoryError::Invalid {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// A history: the events in the order they were recorded.
///
/// Its client operations are paired once, on first use, and every checker
/// reads the same [`Operation`]s ([`History::operations`]). The events are
/// reached through [`History::ops`]; changing them ([`History::ops_mut`])
/// forgets the pairing, so no checker ever reads operations of events that
/// are no longer there.
#[derive(Debug, Default)]
pub struct History {
    pub source: Source,
    events: Vec<Op>,
    paired: OnceLock<Result<Vec<Operation>, HistoryError>>,
}

impl Clone for History {
    /// A copy of the events (pairing is redone on first use).
    fn clone(&self) -> History {
        History {
            source: self.source.clone(),
            events: self.events.clone(),
            paired: OnceLock::new(),
        }
    }
}

/// How to read what a history's events mean, beyond their syntax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interpretation {
    pub independent: Independent,
    pub order: Order,
}

/// What [`History::interpret`] tells the reader of a report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Remarks {
    /// How the file was read (for instance, as independent tuples).
    pub notes: Vec<String>,
    /// Where the file may mislead (for instance, events out of time order).
    pub warnings: Vec<String>,
}

/// The on-disk formats faultline reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// faultline's native JSON Lines.
    Jsonl,
    /// Jepsen / Knossos / Elle / Porcupine EDN.
    Edn,
    /// Jepsen log lines (`INFO jepsen.util - 3 :invoke :cas [3 0]`).
    JepsenLog,
    /// Jepsen's `history.txt`: `3<TAB>:invoke<TAB>:read<TAB>nil` lines.
    HistoryTxt,
}

impl Format {
    /// Guesses the format from the first meaningful character(s) of the text.
    pub fn detect(text: &str) -> Format {
        for line in text.lines() {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with(';') {
                continue;
            }
            if let Some(rest) = t.strip_prefix('{') {
                // JSON objects have `"key":`; EDN maps have `:key` (or,
                // rarely, a string key followed by its value without a colon).
                let rest = rest.trim_start();
                return if rest.starts_with('}') || json_key_follows(rest) {
                    Format::Jsonl
                } else {
                    Format::Edn
                };
            }
            // A log line may start with anything a log layout prints
            // (a timestamp, a level, `[thread]`), so the logger decides.
            if t.contains("jepsen.util - ") || t.contains("jepsen.util: ") {
                return Format::JepsenLog;
            }
            if t.starts_with('[') || t.starts_with('(') || t.starts_with('#') {
                return Format::Edn;
            }
            if jepsen_log::looks_like_event(t) {
                return Format::HistoryTxt;
            }
            return Format::JepsenLog;
        }
        Format::Jsonl
    }
}

/// Files at least this large are read in pieces (`history::pieces`).
const PIECEWISE: u64 = 8 << 20;

/// The function of a transaction (Elle's `:txn`).
pub const TXN: &str = "txn";

/// True when `value` is a non-empty list of micro-ops, each a list that
/// starts with a name (`[[:append :x 1] [:r :y nil]]`): an Elle
/// transaction, whatever its `:f`.
pub fn is_txn_value(value: &Val) -> bool {
    match value.lists() {
        Some(mops) => {
            !mops.is_empty()
                && mops.iter().all(|m| {
                    m.as_ref()
                        .is_some_and(|parts| parts.first().is_some_and(Val::is_string))
                })
        }
        None => false,
    }
}

/// The outcome a completion of type `t` gives its operation.
fn outcome_of(t: OpType) -> Outcome {
    match t {
        OpType::Ok => Outcome::Ok,
        OpType::Fail => Outcome::Fail,
        OpType::Info | OpType::Invoke => Outcome::Info,
    }
}

/// True when `text` starts with a JSON string followed by `:`.
fn json_key_follows(text: &str) -> bool {
    let Some(body) = text.strip_prefix('"') else {
        return false;
    };
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return body[i + 1..].trim_start().starts_with(':'),
            _ => {}
        }
    }
    false
}

impl History {
    pub fn new(ops: Vec<Op>) -> History {
        History {
            source: Source::default(),
            events: ops,
            paired: OnceLock::new(),
        }
    }

    /// The events, in history order.
    pub fn ops(&self) -> &[Op] {
        &self.events
    }

    /// The events, to change them; the pairing is redone on next use.
    pub fn ops_mut(&mut self) -> &mut Vec<Op> {
        self.paired = OnceLock::new();
        &mut self.events
    }

    /// The events, taken out of the history.
    pub fn into_ops(self) -> Vec<Op> {
        self.events
    }

    /// The distinct functions (`:f`) of the events, in order of first use.
    pub fn functions(&self) -> Vec<Name> {
        let mut fs: Vec<Name> = Vec::new();
        let mut last: Option<Name> = None;
        for op in self.ops() {
            if last != Some(op.f) {
                last = Some(op.f);
                if !fs.contains(&op.f) {
                    fs.push(op.f);
                }
            }
        }
        fs
    }

    /// Drops the cached pairing, after `ops` changed.
    pub fn forget_operations(&mut self) {
        self.paired = OnceLock::new();
    }

    /// Reads a history file, detecting its format unless `format` is given.
    ///
    /// A large JSON Lines file is read in pieces, never whole
    /// (`history::pieces`): its text is not held beside its events.
    pub fn read_file(path: &Path, format: Option<Format>) -> Result<History, HistoryError> {
        let file = path.display().to_string();
        let io = |e: std::io::Error| HistoryError::Io {
            file: file.clone(),
            source: std::sync::Arc::new(e),
        };
        let opened = std::fs::File::open(path).map_err(io)?;
        let meta = opened.metadata().map_err(io)?;
        if meta.is_file() && meta.len() >= PIECEWISE {
            let mut head = vec![0u8; 64 << 10];
            let n = std::os::unix::fs::FileExt::read_at(&opened, &mut head, 0).map_err(io)?;
            let head = &head[..n];
            let head = match std::str::from_utf8(head) {
                Ok(s) => s,
                // Cut inside a character, or not UTF-8: the reader says which.
                Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
            };
            let read_as = format.unwrap_or_else(|| Format::detect(head));
            if read_as == Format::Edn && head.trim_start().starts_with('{') {
                // A stream of op maps: in pieces too, else whole below.
                if let Some(ops) = pieces::parse_edn(&opened, meta.len(), &file) {
                    let mut h = History::from_events(ops, &file)?;
                    h.source = Source {
                        path: path.to_path_buf(),
                        format: Some(Format::Edn),
                    };
                    return Ok(h);
                }
            }
            if read_as == Format::Jsonl {
                let ops = pieces::parse_jsonl(&opened, meta.len(), &file)?;
                let mut h = History::from_events(ops, &file)?;
                h.source = Source {
                    path: path.to_path_buf(),
                    format: Some(Format::Jsonl),
                };
                return Ok(h);
            }
        }
        let text = std::io::read_to_string(opened).map_err(io)?;
        let mut h = History::parse_str(&text, &file, format)?;
        h.source.path = path.to_path_buf();
        Ok(h)
    }

    /// Parses history text; `file` is used in error messages.
    pub fn parse_str(
        text: &str,
        file: &str,
        format: Option<Format>,
    ) -> Result<History, HistoryError> {
        let detected = format.is_none();
        let format = format.unwrap_or_else(|| Format::detect(text));
        let mut read_as = format;
        let ops = match format {
            Format::Jsonl => jsonl::parse(text, file)?,
            // A console log may open with EDN-looking output (a test map, a
            // bracketed thread name); if it is not EDN but holds Jepsen log
            // events, it is a log. The EDN error stands otherwise.
            Format::Edn if detected => match edn::parse_history(text, file) {
                Ok(ops) => ops,
                Err(e) => match jepsen_log::parse(text, file) {
                    Ok(ops) if !ops.is_empty() => {
                        read_as = Format::JepsenLog;
                        ops
                    }
                    _ => return Err(e),
                },
            },
            Format::Edn => edn::parse_history(text, file)?,
            Format::JepsenLog => jepsen_log::parse(text, file)?,
            Format::HistoryTxt => jepsen_log::parse_history_txt(text, file)?,
        };
        let mut h = History::from_events(ops, file)?;
        h.source.format = Some(read_as);
        Ok(h)
    }

    /// The history of events just read from `file`: indices checked,
    /// events without a process named.
    fn from_events(ops: Vec<Op>, file: &str) -> Result<History, HistoryError> {
        let mut h = History::new(ops);
        h.source = Source {
            path: PathBuf::from(file),
            format: None,
        };
        h.check_indices()?;
        h.name_anonymous_stream()?;
        Ok(h)
    }

    /// Applies `how` to a history just read: splits independent tuples
    /// and puts the events in real-time order. Returns what the reader of
    /// the verdict should know: notes (how the file was read) and
    /// warnings (where the file may mislead).
    pub fn interpret(&mut self, how: &Interpretation) -> Result<Remarks, HistoryError> {
        self.forget_operations();
        let mut remarks = Remarks::default();
        let split = match how.independent {
            Independent::Never => false,
            Independent::Always => true,
            Independent::Auto => independent::detect(self),
        };
        if split {
            let keys = independent::split(self)?;
            if how.independent == Independent::Auto {
                remarks.notes.push(format!(
                    "values read as jepsen.independent [key value] tuples: {keys} keys checked independently (--no-independent to read them whole)"
                ));
            }
        }
        remarks.warnings.extend(order::apply(self, how.order)?);
        Ok(remarks)
    }

    fn file(&self) -> String {
        self.source.to_string()
    }

    /// Indices must be strictly increasing.
    fn check_indices(&self) -> Result<(), HistoryError> {
        for w in self.ops().windows(2) {
            if w[1].index <= w[0].index {
                return Err(HistoryError::invalid(
                    &self.file(),
                    w[1].line as usize,
                    format!(
                        "index {} does not increase (the event before it has index {})",
                        w[1].index, w[0].index
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The nemesis's events (faults), in order.
    pub fn nemesis_ops(&self) -> impl Iterator<Item = &Op> {
        self.ops()
            .iter()
            .filter(|o| o.process.as_ref().is_some_and(|p| p.is_nemesis()))
    }

    /// Pairs every client invoke with its completion, validating Jepsen's
    /// rules: a completion needs a pending invoke from its process, a process
    /// has at most one pending invoke, and a process that got `info` is
    /// retired. Invokes never completed become `info` operations. Nemesis
    /// events are skipped. Operations are returned in invoke order.
    ///
    /// Two looser shapes that Elle and hand-written histories use are read
    /// too (docs/formats.md):
    /// - events without a process form one stream that must alternate
    ///   invoke, completion, invoke, completion; each such pair becomes an
    ///   operation of its own anonymous process ([`Process::anonymous`]). A
    ///   second invoke before the first completed is an error: which
    ///   completion answers which invoke would be a guess.
    /// - a history with no client invoke at all ("completions only") gives
    ///   one operation per completion, with no real-time order between them
    ///   (see [`Operation::is_completion_only`]).
    ///
    /// The operations are paired once, on first use, and shared by every
    /// caller (every checker of a `check` or a `test`).
    pub fn operations(&self) -> Result<&[Operation], HistoryError> {
        match self.paired.get_or_init(|| self.pair()) {
            Ok(ops) => Ok(ops),
            Err(e) => Err(e.clone()),
        }
    }

    fn pair(&self) -> Result<Vec<Operation>, HistoryError> {
        let file = self.file();
        if u32::try_from(self.ops().len()).is_err() {
            return Err(HistoryError::invalid(
                &file,
                0,
                format!(
                    "{} events: faultline checks histories of up to 4,294,967,295 events",
                    self.ops().len()
                ),
            ));
        }
        let client = |o: &&Op| !o.process.as_ref().is_some_and(Process::is_nemesis);
        if !self
            .ops()
            .iter()
            .filter(client)
            .any(|o| o.op_type == OpType::Invoke)
        {
            return Ok(self.completions_only());
        }
        let mut pending: crate::checker::fast_hash::FastMap<Process, usize> = Default::default();
        let mut retired: crate::checker::fast_hash::FastMap<Process, usize> = Default::default();
        // The pending invoke of the stream of events without a process.
        let mut anonymous_pending: Option<usize> = None;
        let mut anonymous = 0usize;
        let mut out: Vec<Operation> = Vec::with_capacity(self.ops().len() / 2 + 1);
        for (pos, op) in self.ops().iter().enumerate() {
            let process = op.process.as_ref();
            if process.is_some_and(Process::is_nemesis) {
                continue;
            }
            match op.op_type {
                OpType::Invoke => {
                    let owner = match process {
                        Some(process) => {
                            if let Some(&line) = retired.get(process) {
                                return Err(HistoryError::invalid(
                                    &file,
                                    op.line as usize,
                                    format!(
                                        "process {process} invokes again after its operation ended `info` on line {line}; a crashed process must continue under a new id"
                                    ),
                                ));
                            }
                            if let Some(&p) = pending.get(process) {
                                return Err(HistoryError::invalid(
                                    &file,
                                    op.line as usize,
                                    format!(
                                        "process {process} invokes while its invoke on line {} is still pending",
                                        self.ops()[out[p].invoke()].line
                                    ),
                                ));
                            }
                            pending.insert(*process, out.len());
                            *process
                        }
                        None => {
                            if let Some(p) = anonymous_pending {
                                return Err(HistoryError::invalid(
                                    &file,
                                    op.line as usize,
                                    format!(
                                        "invoke without a :process while the invoke without a :process on line {} is still pending: which completion answers which is ambiguous (events without a process must alternate invoke, completion; give each event a :process)",
                                        self.ops()[out[p].invoke()].line
                                    ),
                                ));
                            }
                            anonymous_pending = Some(out.len());
                            anonymous += 1;
                            Process::anonymous(anonymous)
                        }
                    };
                    let mut o = Operation::new(
                        pos,
                        None,
                        owner,
                        op.f,
                        op.key.clone(),
                        op.value.clone(),
                        op.value.clone(),
                        Outcome::Info,
                    );
                    o.invoke_time = op.time;
                    out.push(o);
                }
                t => {
                    let p = match process {
                        Some(process) => pending.remove(process).ok_or_else(|| {
                            HistoryError::invalid(
                                &file,
                                op.line as usize,
                                format!(
                                    "`{t}` completion from process {process} with no pending invoke"
                                ),
                            )
                        })?,
                        None => anonymous_pending.take().ok_or_else(|| {
                            HistoryError::invalid(
                                &file,
                                op.line as usize,
                                format!(
                                    "`{t}` completion without a :process, and no invoke without a :process is pending"
                                ),
                            )
                        })?,
                    };
                    let o = &mut out[p];
                    let who = process.map_or("without a process".to_string(), |p| {
                        format!("from process {p}")
                    });
                    if o.f != op.f {
                        return Err(HistoryError::invalid(
                            &file,
                            op.line as usize,
                            format!(
                                "completion of `{}` {who} answers an invoke of `{}` (line {})",
                                op.f,
                                o.f,
                                self.ops()[o.invoke()].line
                            ),
                        ));
                    }
                    if let (Some(a), Some(b)) = (&o.key, &op.key) {
                        if a != b {
                            return Err(HistoryError::invalid(
                                &file,
                                op.line as usize,
                                format!(
                                    "completion {who} is for key {b}, but its invoke (line {}) is for key {a}",
                                    self.ops()[o.invoke()].line
                                ),
                            ));
                        }
                    }
                    o.set_complete(Some(pos));
                    o.complete_time = op.time;
                    o.outcome = outcome_of(t);
                    // An `info` completion without a value keeps the invoke's.
                    if t != OpType::Info || !op.value.is_null() {
                        o.output = op.value.clone();
                    }
                    if o.key.is_none() {
                        o.key = op.key.clone();
                    }
                    if t == OpType::Info {
                        if let Some(process) = process {
                            retired.insert(*process, op.line as usize);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Events without a process must alternate invoke, completion: a second
    /// invoke while one is pending makes the pairing a guess, which is bad
    /// input for every checker, so it is refused when the file is read.
    /// Each invoke and the completion after it then get their own
    /// anonymous process ([`Process::anonymous`]), so that every checker
    /// (the Elle checker, which pairs events itself, included) pairs them
    /// and sees their real-time order. Completions with no such invoke (a
    /// history of completions only) keep no process.
    fn name_anonymous_stream(&mut self) -> Result<(), HistoryError> {
        let mut pending: Option<usize> = None;
        let mut named = 0usize;
        let mut name = |ops: &mut [Op], positions: &[usize]| {
            named += 1;
            for &p in positions {
                ops[p].process = Some(Process::anonymous(named));
            }
        };
        for pos in 0..self.ops().len() {
            if self.ops()[pos].process.is_some() {
                continue;
            }
            if self.ops()[pos].op_type != OpType::Invoke {
                if let Some(inv) = pending.take() {
                    name(self.ops_mut(), &[inv, pos]);
                }
            } else if let Some(inv) = pending {
                return Err(HistoryError::invalid(
                    &self.file(),
                    self.ops()[pos].line as usize,
                    format!(
                        "invoke without a :process while the invoke without a :process on line {} is still pending: which completion answers which is ambiguous (events without a process must alternate invoke, completion; give each event a :process)",
                        self.ops()[inv].line
                    ),
                ));
            } else {
                pending = Some(pos);
            }
        }
        if let Some(inv) = pending {
            name(self.ops_mut(), &[inv]);
        }
        Ok(())
    }

    /// One operation per client completion of a history without invokes.
    fn completions_only(&self) -> Vec<Operation> {
        let mut anonymous = 0usize;
        self.ops()
            .iter()
            .enumerate()
            .filter(|(_, o)| !o.process.as_ref().is_some_and(Process::is_nemesis))
            .map(|(pos, op)| {
                let process = op.process.unwrap_or_else(|| {
                    anonymous += 1;
                    Process::anonymous(anonymous)
                });
                let mut o = Operation::new(
                    pos,
                    Some(pos),
                    process,
                    op.f,
                    op.key.clone(),
                    op.value.clone(),
                    op.value.clone(),
                    outcome_of(op.op_type),
                );
                o.complete_time = op.time;
                o
            })
            .collect()
    }

    /// Writes the history as JSON Lines.
    pub fn write_jsonl(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        for op in self.ops() {
            serde_json::to_writer(&mut *w, op)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(ops: Vec<Op>) -> History {
        let mut ops = ops;
        for (i, o) in ops.iter_mut().enumerate() {
            o.line = (i + 1) as u32;
        }
        History::new(ops)
    }

    #[test]
    fn pairs_and_treats_missing_completion_as_info() {
        let hist = h(vec![
            Op::new(0, Process::id(0), OpType::Invoke, "write", json!(1)),
            Op::new(1, Process::id(1), OpType::Invoke, "read", Value::Null),
            Op::new(2, Process::id(0), OpType::Ok, "write", json!(1)),
        ]);
        let ops = hist.operations().unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].outcome, Outcome::Ok);
        assert_eq!(ops[0].ret(), 2);
        assert_eq!(ops[1].outcome, Outcome::Info);
        assert_eq!(ops[1].ret(), usize::MAX);
    }

    #[test]
    fn rejects_completion_without_invoke() {
        let hist = h(vec![
            Op::new(0, Process::id(1), OpType::Invoke, "read", Value::Null),
            Op::new(1, Process::id(0), OpType::Ok, "write", json!(1)),
        ]);
        let e = hist.operations().unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("no pending invoke"), "{e}");
    }

    fn anonymous(t: OpType, f: &str, v: Value) -> Op {
        let mut o = Op::new(0, Process::id(0), t, f, v);
        o.process = None;
        o
    }

    #[test]
    fn pairs_alternating_events_without_process() {
        let hist = h(vec![
            anonymous(OpType::Invoke, "write", json!(1)),
            anonymous(OpType::Ok, "write", json!(1)),
            Op::new(
                2,
                Process::name("nemesis"),
                OpType::Info,
                "start",
                Value::Null,
            ),
            anonymous(OpType::Invoke, "read", Value::Null),
            anonymous(OpType::Info, "read", Value::Null),
            anonymous(OpType::Invoke, "read", Value::Null),
            anonymous(OpType::Ok, "read", json!(1)),
        ]);
        let ops = hist.operations().unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(
            ops.iter()
                .map(|o| (o.invoke(), o.complete()))
                .collect::<Vec<_>>(),
            vec![(0, Some(1)), (3, Some(4)), (5, Some(6))]
        );
        // One anonymous process per operation: no session between them.
        assert_eq!(ops[0].process, Process::anonymous(1));
        assert_ne!(ops[1].process, ops[2].process);
        assert_eq!(ops[1].outcome, Outcome::Info);
        assert_eq!((ops[2].call(), ops[2].ret()), (5, 6));
    }

    #[test]
    fn refuses_ambiguous_events_without_process() {
        let hist = h(vec![
            anonymous(OpType::Invoke, "write", json!(1)),
            anonymous(OpType::Invoke, "write", json!(2)),
            anonymous(OpType::Ok, "write", json!(1)),
        ]);
        let e = hist.operations().unwrap_err().to_string();
        assert!(
            e.contains(":2:") && e.contains("ambiguous") && e.contains("line 1"),
            "{e}"
        );
        let hist = h(vec![
            anonymous(OpType::Invoke, "write", json!(1)),
            anonymous(OpType::Ok, "write", json!(1)),
            anonymous(OpType::Ok, "write", json!(2)),
        ]);
        let e = hist.operations().unwrap_err().to_string();
        assert!(e.contains(":3:") && e.contains("without a :process"), "{e}");
    }

    #[test]
    fn completions_only_are_concurrent_with_everything() {
        let mut bare = anonymous(OpType::Ok, "txn", json!([["append", "x", 1]]));
        bare.time = Some(5).into();
        let hist = h(vec![
            bare,
            Op::new(
                1,
                Process::id(3),
                OpType::Ok,
                "txn",
                json!([["r", "x", [1]]]),
            ),
            Op::new(
                2,
                Process::id(3),
                OpType::Fail,
                "txn",
                json!([["append", "y", 2]]),
            ),
        ]);
        let ops = hist.operations().unwrap();
        assert_eq!(ops.len(), 3);
        assert!(ops.iter().all(Operation::is_completion_only));
        assert!(ops.iter().all(|o| o.call() == 0 && o.ret() == usize::MAX));
        assert_eq!(ops[0].process, Process::anonymous(1));
        assert_eq!(ops[1].process, Process::id(3));
        assert_eq!(ops[2].outcome, Outcome::Fail);
        assert_eq!(ops[0].complete_time.get(), Some(5));
        // A history with an invoke is not completions-only.
        let mut with_invoke = hist.clone();
        with_invoke.ops_mut().push(Op::new(
            3,
            Process::id(4),
            OpType::Invoke,
            "txn",
            Value::Null,
        ));
        assert!(with_invoke.operations().is_err());
    }

    #[test]
    fn refuses_completion_for_another_key() {
        let mut a = Op::new(0, Process::id(0), OpType::Invoke, "read", Value::Null);
        a.key = Some(json!(1).into());
        let mut b = Op::new(1, Process::id(0), OpType::Ok, "read", json!(3));
        b.key = Some(json!(2).into());
        let e = h(vec![a, b]).operations().unwrap_err().to_string();
        assert!(
            e.contains(":2:") && e.contains("key 2") && e.contains("key 1"),
            "{e}"
        );
    }

    #[test]
    fn txn_without_f_and_time_minus_one() {
        let edn = "[{:type :invoke, :value [[:append :x 1] [:r :y nil]], :time -1}\n {:type :ok, :value [[:append :x 1] [:r :y [2]]], :time 7}]";
        let hist = History::parse_str(edn, "t.edn", None).unwrap();
        assert_eq!(hist.ops()[0].f, TXN);
        assert_eq!(hist.ops()[0].time.get(), None);
        assert_eq!(hist.ops()[1].time.get(), Some(7));
        assert_eq!(hist.ops()[1].line, 2);
        let jsonl = "{\"type\":\"ok\",\"value\":[[\"append\",\"x\",1]],\"time\":-1}\n";
        let hist = History::parse_str(jsonl, "t.jsonl", None).unwrap();
        assert_eq!(
            (hist.ops()[0].f.as_str(), hist.ops()[0].time.get()),
            (TXN, None)
        );
        // Without :f and without micro-ops, it is still an error.
        let e = History::parse_str("[{:type :ok, :value 3}]", "n.edn", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("n.edn:1:2:") && e.contains("no :f"), "{e}");
        let e = History::parse_str("{\"type\":\"ok\",\"value\":3}", "n.jsonl", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("n.jsonl:1:") && e.contains("f"), "{e}");
        // Other negative times are errors.
        let e = History::parse_str("[{:type :ok, :f :read, :time -2}]", "m.edn", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-negative"), "{e}");
    }

    #[test]
    fn interpret_splits_tuples_and_orders_by_time() {
        let text = "1\t:invoke\t:read\t[7 nil]\n1\t:ok\t:read\t[7 2]\n";
        let mut hist = History::parse_str(text, "h.txt", None).unwrap();
        let r = hist.interpret(&Interpretation::default()).unwrap();
        assert_eq!(hist.ops()[1].key, Some(json!(7).into()));
        assert_eq!(hist.ops()[1].value, json!(2));
        assert!(r.notes[0].contains("independent"), "{r:?}");
        assert!(r.warnings.is_empty());
        let ambiguous =
            "[{:type :invoke, :f :read}\n{:type :invoke, :f :read}\n{:type :ok, :f :read}]";
        let e = History::parse_str(ambiguous, "a.edn", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("a.edn:2:") && e.contains("ambiguous"), "{e}");
        // Alternating events without a process get one anonymous process
        // per operation; bare completions keep none.
        let alternating = "[{:type :invoke, :f :read}\n{:type :ok, :f :read, :value 1}\n{:type :invoke, :f :read}\n{:type :ok, :f :read}\n{:type :ok, :f :read}\n{:type :invoke, :f :write, :value 2}]";
        let alt = History::parse_str(alternating, "b.edn", None).unwrap();
        let procs: Vec<Option<Process>> = alt.ops().iter().map(|o| o.process).collect();
        let a = |n| Some(Process::anonymous(n));
        assert_eq!(procs, vec![a(1), a(1), a(2), a(2), None, a(3)]);
        let mut hist = History::parse_str(text, "h.txt", None).unwrap();
        let how = Interpretation {
            independent: Independent::Never,
            order: Order::Index,
        };
        assert_eq!(hist.interpret(&how).unwrap(), Remarks::default());
        assert_eq!(hist.ops()[1].key, None);
    }

    #[test]
    fn rejects_double_invoke() {
        let hist = h(vec![
            Op::new(0, Process::id(0), OpType::Invoke, "write", json!(1)),
            Op::new(1, Process::id(0), OpType::Invoke, "write", json!(2)),
        ]);
        let e = hist.operations().unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("still pending"), "{e}");
    }

    #[test]
    fn rejects_process_reused_after_info() {
        let hist = h(vec![
            Op::new(0, Process::id(0), OpType::Invoke, "write", json!(1)),
            Op::new(1, Process::id(0), OpType::Info, "write", json!(1)),
            Op::new(2, Process::id(0), OpType::Invoke, "read", Value::Null),
        ]);
        let e = hist.operations().unwrap_err().to_string();
        assert!(
            e.contains(":3:") && e.contains("after its operation ended `info`"),
            "{e}"
        );
    }

    #[test]
    fn rejects_non_increasing_index() {
        let text = "{\"index\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{\"index\":1,\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":null}\n";
        let e = History::parse_str(text, "x.jsonl", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.jsonl:2:") && e.contains("does not increase"),
            "{e}"
        );
    }

    #[test]
    fn detects_formats() {
        assert_eq!(Format::detect("{\"index\":0}"), Format::Jsonl);
        assert_eq!(Format::detect("{:type :invoke}"), Format::Edn);
        assert_eq!(Format::detect("; c\n[{:type :invoke}]"), Format::Edn);
        assert_eq!(
            Format::detect("INFO  jepsen.util - 0\t:invoke\t:read\tnil"),
            Format::JepsenLog
        );
        assert_eq!(
            Format::detect("\n2014-10-09 12:00:00,000 INFO jepsen.util - 0 :invoke :read nil"),
            Format::JepsenLog
        );
        assert_eq!(
            Format::detect("{\"process\" 0, \"type\" :invoke}"),
            Format::Edn
        );
        assert_eq!(Format::detect("{ \"a\\\"b\" : 1}"), Format::Jsonl);
        assert_eq!(Format::detect("#jepsen.history.Op{:type :ok}"), Format::Edn);
        assert_eq!(Format::detect("(\n{:type :ok})"), Format::Edn);
        assert_eq!(
            Format::detect("[jepsen worker 0] jepsen.util: 0\t:invoke\t:read\tnil"),
            Format::JepsenLog
        );
        assert_eq!(
            Format::detect("INFO [2020-06-02 15:33:51,841] jepsen worker 1 - jepsen.util 1 :invoke :txn [[:r 1 nil]]"),
            Format::JepsenLog
        );
        assert_eq!(Format::detect("3\t:invoke\t:read\tnil"), Format::HistoryTxt);
        // Detected as EDN, read as the log it is.
        let console = "[main] starting\n{:nodes [\"n1\"]}\nINFO [2020-06-02 15:33:51,841] jepsen worker 1 - jepsen.util 1 :invoke :read nil\n";
        assert_eq!(Format::detect(console), Format::Edn);
        let h = History::parse_str(console, "c.log", None).unwrap();
        assert_eq!((h.ops().len(), h.ops()[0].line), (1, 3));
        let e = History::parse_str("[{:type :ok", "u.edn", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("u.edn:1:") && e.contains("end of input"),
            "{e}"
        );
        assert_eq!(
            Format::detect("\n:nemesis\t:info\t:start\tnil\n"),
            Format::HistoryTxt
        );
    }

    #[test]
    fn processes_pack_every_id_and_name_exactly() {
        let ids = [
            0,
            1,
            -1,
            42,
            (1 << 62) - 1,
            -(1 << 62),
            1 << 62,
            -(1 << 62) - 1,
            i64::MAX,
            i64::MIN,
        ];
        for i in ids {
            let p = Process::id(i);
            assert_eq!(p.kind(), ProcessKind::Id(i), "{i}");
            assert_eq!(p.as_id(), Some(i));
            assert_eq!(p, Process::id(i));
            assert_eq!(p.to_string(), i.to_string());
            assert_eq!(serde_json::to_string(&p).unwrap(), i.to_string());
        }
        // A big id is not the name spelled the same.
        assert_ne!(
            Process::id(i64::MAX),
            Process::name(i64::MAX.to_string().as_str())
        );
        assert_eq!(
            Process::name("nemesis").as_name(),
            Some(Name::new("nemesis"))
        );
        assert!(Process::name("nemesis").is_nemesis());
        assert!(!Process::id(3).is_nemesis());
        assert_eq!(serde_json::to_string(&Process::name("n")).unwrap(), "\"n\"");
        // Numbers before names, numbers in numeric order.
        let mut ps = vec![
            Process::name("b"),
            Process::id(i64::MAX),
            Process::name("a"),
            Process::id(-5),
            Process::id(1 << 62),
            Process::id(3),
        ];
        ps.sort();
        assert_eq!(
            ps,
            vec![
                Process::id(-5),
                Process::id(3),
                Process::id(1 << 62),
                Process::id(i64::MAX),
                Process::name("a"),
                Process::name("b"),
            ]
        );
    }

    #[test]
    fn node_and_error_share_one_box_and_round_trip() {
        let mut o = Op::new(0, Process::id(1), OpType::Info, "write", 3);
        assert!(o.extra.is_none());
        o.set_error(Some(serde_json::json!("timeout")));
        o.set_node(Some(Name::new("n1")));
        assert_eq!(o.node(), Some(Name::new("n1")));
        assert_eq!(o.error(), Some(&serde_json::json!("timeout")));
        let text = serde_json::to_string(&o).unwrap();
        assert_eq!(
            text,
            r#"{"index":0,"process":1,"type":"info","f":"write","value":3,"node":"n1","error":"timeout"}"#
        );
        let back: Op = serde_json::from_str(&text).unwrap();
        assert_eq!(back, o);
        assert_eq!(o.take_error(), Some(serde_json::json!("timeout")));
        o.set_node(None);
        assert!(o.extra.is_none());
    }
}
