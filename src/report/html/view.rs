//! What the HTML report draws, computed once from a [`History`]: operation
//! spans on a common x axis, the lanes they go in, and the fault intervals
//! the nemesis opened and closed.
//!
//! The x axis is seconds since the first event when every event carries a
//! `time`; otherwise (Knossos and Elle histories often have none) it is the
//! event's position in the history, which is what real-time order is based
//! on anyway.

use crate::history::{History, Name, Op, Outcome, Val};
use serde_json::Value;
use std::collections::BTreeMap;

/// One client operation, ready to draw.
#[derive(Clone, Debug)]
pub struct Span {
    /// Position of the invoke event in the history.
    pub invoke: usize,
    /// Position of the completion, when there was one.
    pub complete: Option<usize>,
    pub process: String,
    pub f: String,
    pub outcome: Outcome,
    pub start: f64,
    /// The completion's x, or the end of the history for an op that never
    /// completed.
    pub end: f64,
    /// Milliseconds from invoke to completion, when both have times.
    pub latency_ms: Option<f64>,
    /// The op in words, for tooltips.
    pub text: String,
    pub lane: usize,
}

/// What kind of fault an interval is; decides how it is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    Partition,
    Kill,
    Pause,
    /// Jepsen's generic `start` … `stop` nemesis.
    Started,
}

impl FaultKind {
    pub fn label(&self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Started => "fault",
        }
    }
}

/// A time interval during which a fault was in force.
#[derive(Clone, Debug)]
pub struct FaultBand {
    pub kind: FaultKind,
    pub start: f64,
    pub end: f64,
    /// The opening event's `f` and target, in words.
    pub text: String,
}

/// A nemesis event that neither opens nor closes a known fault.
#[derive(Clone, Debug)]
pub struct Mark {
    pub at: f64,
    pub text: String,
}

/// What one nemesis `f` does to the set of open faults.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Act {
    Open(FaultKind),
    Close(FaultKind),
    CloseAll,
    Instant,
}

/// Jepsen's and faultline's nemesis vocabulary. `start` is ambiguous in
/// Jepsen (it starts a partition in the classic nemesis but restarts a
/// killed node in the db nemesis), so it closes a kill when one is open.
fn classify(f: &str, kill_open: bool) -> Act {
    let f = f.to_ascii_lowercase();
    match f.as_str() {
        "heal" | "stop-partition" | "heal-partition" => Act::Close(FaultKind::Partition),
        "restart" | "start-node" | "recover" => Act::Close(FaultKind::Kill),
        "resume" | "stop-pause" => Act::Close(FaultKind::Pause),
        "heal-all" | "stop-all" | "stop" => Act::CloseAll,
        "start" if kill_open => Act::Close(FaultKind::Kill),
        "start" => Act::Open(FaultKind::Started),
        "kill" | "crash" | "kill-node" | "stop-node" => Act::Open(FaultKind::Kill),
        "pause" | "start-pause" => Act::Open(FaultKind::Pause),
        _ if f.contains("partition") || f == "isolate" => Act::Open(FaultKind::Partition),
        _ => Act::Instant,
    }
}

/// Everything the timeline and the charts read.
#[derive(Clone, Debug)]
pub struct View {
    /// True when x is time; false when it is the event position.
    pub timed: bool,
    /// Nanoseconds per unit of x when timed (1e9: seconds).
    pub unit_ns: f64,
    pub spans: Vec<Span>,
    pub faults: Vec<FaultBand>,
    pub marks: Vec<Mark>,
    /// Lane labels (the processes that ran in each lane).
    pub lanes: Vec<String>,
    pub x_end: f64,
    /// Why operations could not be paired (then `spans` is empty).
    pub pairing_error: Option<String>,
    pub events: usize,
    pub nemesis_events: usize,
}

impl View {
    pub fn x_unit(&self) -> &'static str {
        if !self.timed {
            return "event position";
        }
        match self.unit_ns as u64 {
            1_000_000_000 => "seconds",
            1_000_000 => "ms",
            1_000 => "µs",
            _ => "ns",
        }
    }

    /// Seconds per unit of x (for rates).
    pub fn unit_seconds(&self) -> f64 {
        if self.timed {
            self.unit_ns / 1e9
        } else {
            1.0
        }
    }

    /// Number of spans of each outcome: ok, fail, info.
    pub fn outcome_counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for s in &self.spans {
            match s.outcome {
                Outcome::Ok => c.0 += 1,
                Outcome::Fail => c.1 += 1,
                Outcome::Info => c.2 += 1,
            }
        }
        c
    }

    /// The position of the event whose `index` field is `index`.
    pub fn position_of(history: &History, index: u64) -> Option<usize> {
        history.ops().binary_search_by_key(&index, |o| o.index).ok()
    }

    pub fn build(history: &History) -> View {
        let timed = !history.ops().is_empty() && history.ops().iter().all(|o| o.time.is_some());
        let t0 = if timed {
            history
                .ops()
                .iter()
                .filter_map(|o| o.time.get())
                .min()
                .unwrap_or(0)
        } else {
            0
        };
        let span_ns = if timed {
            history
                .ops()
                .iter()
                .filter_map(|o| o.time.get())
                .max()
                .unwrap_or(0)
                - t0
        } else {
            0
        };
        // The largest unit in which the history lasts at least one unit.
        let unit_ns = [1e9, 1e6, 1e3]
            .into_iter()
            .find(|u| span_ns as f64 >= *u)
            .unwrap_or(1.0);
        let x_of = |pos: usize| -> f64 {
            if timed {
                history.ops()[pos]
                    .time
                    .get()
                    .unwrap_or(t0)
                    .saturating_sub(t0) as f64
                    / unit_ns
            } else {
                pos as f64
            }
        };
        let x_end = if history.ops().is_empty() {
            1.0
        } else {
            let last = (0..history.ops().len()).map(x_of).fold(0.0, f64::max);
            if last > 0.0 {
                last
            } else {
                1.0
            }
        };
        let (spans, pairing_error) = match history.operations() {
            Err(e) => (Vec::new(), Some(e.to_string())),
            Ok(ops) => (
                ops.iter()
                    .map(|o| {
                        let start = x_of(o.invoke());
                        let end = o.complete().map(x_of).unwrap_or(x_end);
                        let latency_ms = match (o.invoke_time.get(), o.complete_time.get()) {
                            (Some(a), Some(b)) if o.complete().is_some() => {
                                Some(b.saturating_sub(a) as f64 / 1e6)
                            }
                            _ => None,
                        };
                        let done = o.complete().map(|c| &history.ops()[c]);
                        let text = describe(
                            &history.ops()[o.invoke()],
                            done,
                            o.outcome,
                            latency_ms,
                            &o.output,
                        );
                        Span {
                            invoke: o.invoke(),
                            complete: o.complete(),
                            process: o.process.to_string(),
                            f: o.f.to_string(),
                            outcome: o.outcome,
                            start,
                            end: end.max(start),
                            latency_ms,
                            text,
                            lane: 0,
                        }
                    })
                    .collect(),
                None,
            ),
        };
        let mut view = View {
            timed,
            unit_ns,
            spans,
            faults: Vec::new(),
            marks: Vec::new(),
            lanes: Vec::new(),
            x_end,
            pairing_error,
            events: history.ops().len(),
            nemesis_events: 0,
        };
        view.assign_lanes();
        view.read_faults(history, &x_of);
        view
    }

    /// Puts processes in lanes: a process that starts after another lane's
    /// last process ended reuses that lane, so a crashed worker continuing
    /// under a new id stays on its row instead of adding one.
    fn assign_lanes(&mut self) {
        let mut life: BTreeMap<&str, (f64, f64, usize)> = BTreeMap::new();
        for (i, s) in self.spans.iter().enumerate() {
            let e = life
                .entry(s.process.as_str())
                .or_insert((s.start, s.end, i));
            e.0 = e.0.min(s.start);
            e.1 = e.1.max(s.end);
        }
        let mut procs: Vec<(&str, f64, f64, usize)> =
            life.iter().map(|(p, &(a, b, i))| (*p, a, b, i)).collect();
        procs.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.3.cmp(&b.3)));
        let mut lane_end: Vec<f64> = Vec::new();
        let mut lane_procs: Vec<Vec<String>> = Vec::new();
        let mut lane_of: BTreeMap<String, usize> = BTreeMap::new();
        for (p, start, end, _) in procs {
            let lane = match lane_end.iter().position(|&e| e < start) {
                Some(l) => l,
                None => {
                    lane_end.push(f64::NEG_INFINITY);
                    lane_procs.push(Vec::new());
                    lane_end.len() - 1
                }
            };
            lane_end[lane] = end;
            lane_procs[lane].push(p.to_string());
            lane_of.insert(p.to_string(), lane);
        }
        for s in &mut self.spans {
            s.lane = lane_of.get(&s.process).copied().unwrap_or(0);
        }
        self.lanes = lane_procs
            .into_iter()
            .map(|ps| {
                if ps.len() <= 3 {
                    format!("p {}", ps.join(", "))
                } else {
                    format!("p {}, {} … ({} processes)", ps[0], ps[1], ps.len())
                }
            })
            .collect();
    }

    fn read_faults(&mut self, history: &History, x_of: &dyn Fn(usize) -> f64) {
        let mut open: Vec<FaultBand> = Vec::new();
        // Bands closed by the previous nemesis event, so that the paired
        // completion of the same heal extends them to when it finished.
        let mut just_closed: Option<(Name, Vec<usize>)> = None;
        for (pos, op) in history.ops().iter().enumerate() {
            if !op.process.as_ref().is_some_and(|p| p.is_nemesis()) {
                continue;
            }
            self.nemesis_events += 1;
            let at = x_of(pos);
            if let Some((f, idx)) = &just_closed {
                if *f == op.f {
                    for &i in idx {
                        self.faults[i].end = at;
                    }
                    just_closed = None;
                    continue;
                }
            }
            just_closed = None;
            let kill_open = open.iter().any(|b| b.kind == FaultKind::Kill);
            match classify(&op.f, kill_open) {
                Act::Open(kind) => {
                    if !open.iter().any(|b| b.kind == kind) {
                        open.push(FaultBand {
                            kind,
                            start: at,
                            end: at,
                            text: fault_text(op),
                        });
                    }
                }
                Act::Close(kind) => {
                    let idx = self.close(&mut open, at, |b| b.kind == kind);
                    just_closed = Some((op.f, idx));
                }
                Act::CloseAll => {
                    let idx = self.close(&mut open, at, |_| true);
                    just_closed = Some((op.f, idx));
                }
                Act::Instant => self.marks.push(Mark {
                    at,
                    text: fault_text(op),
                }),
            }
        }
        let end = self.x_end;
        for mut b in open {
            b.end = end;
            self.faults.push(b);
        }
        self.faults.sort_by(|a, b| a.start.total_cmp(&b.start));
    }

    fn close(
        &mut self,
        open: &mut Vec<FaultBand>,
        at: f64,
        which: impl Fn(&FaultBand) -> bool,
    ) -> Vec<usize> {
        let mut idx = Vec::new();
        let mut keep = Vec::new();
        for mut b in open.drain(..) {
            if which(&b) {
                b.end = at;
                idx.push(self.faults.len());
                self.faults.push(b);
            } else {
                keep.push(b);
            }
        }
        *open = keep;
        idx
    }
}

/// A value as text: strings bare, anything else as compact JSON.
pub trait ShortText {
    fn text(&self) -> String;
}

impl ShortText for Value {
    fn text(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl ShortText for Val {
    fn text(&self) -> String {
        match self {
            Val::Str(s) => s.to_string(),
            other => other.to_string(),
        }
    }
}

/// A value in a few characters: compact JSON, cut at `max` characters.
pub fn short(v: &impl ShortText, max: usize) -> String {
    let s = v.text();
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn fault_text(op: &Op) -> String {
    let target = match &op.value {
        Val::Other(m) => m
            .get("target")
            .map_or_else(|| op.value.clone(), Val::from_json),
        v => v.clone(),
    };
    if target.is_null() {
        op.f.to_string()
    } else {
        format!("{} {}", op.f, short(&target, 60))
    }
}

fn describe(
    invoke: &Op,
    done: Option<&Op>,
    outcome: Outcome,
    latency_ms: Option<f64>,
    output: &Val,
) -> String {
    let mut s = format!(
        "process {} {}",
        invoke
            .process
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        invoke.f
    );
    if let Some(k) = &invoke.key {
        s.push_str(&format!(" key {}", short(k, 30)));
    }
    if !invoke.value.is_null() {
        s.push_str(&format!(" {}", short(&invoke.value, 80)));
    }
    let o = match outcome {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    };
    s.push_str(&format!(" → {o}"));
    if outcome == Outcome::Ok && output != &invoke.value && !output.is_null() {
        s.push_str(&format!(" {}", short(output, 80)));
    }
    if let Some(n) = invoke.node() {
        s.push_str(&format!(" on {n}"));
    }
    if let Some(ms) = latency_ms {
        s.push_str(&format!(", {ms:.1} ms"));
    }
    if let Some(e) = done.and_then(|d| d.error()) {
        s.push_str(&format!(" ({})", short(e, 60)));
    }
    if invoke.line > 0 {
        s.push_str(&format!(", line {}", invoke.line));
    }
    if done.is_none() {
        s.push_str(", never completed");
    }
    s
}

/// The `q`-quantile (0..=1) of sorted values (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};
    use serde_json::json;

    fn ev(i: u64, t: u64, p: Process, ty: OpType, f: &str, v: Value) -> Op {
        let mut o = Op::new(i, p, ty, f, v);
        o.time = Some(t).into();
        o
    }

    #[test]
    fn faults_become_bands_closed_by_their_heal() {
        let n = || Process::name("nemesis");
        let h = History::new(vec![
            ev(0, 0, Process::id(0), OpType::Invoke, "read", Value::Null),
            ev(
                1,
                1_000_000_000,
                n(),
                OpType::Info,
                "partition",
                json!({"target": "halves"}),
            ),
            ev(
                2,
                1_100_000_000,
                n(),
                OpType::Info,
                "partition",
                json!(null),
            ),
            ev(3, 2_000_000_000, n(), OpType::Info, "kill", json!(null)),
            ev(4, 3_000_000_000, n(), OpType::Info, "heal", json!(null)),
            ev(5, 3_500_000_000, n(), OpType::Info, "heal", json!(null)),
            ev(
                6,
                4_000_000_000,
                Process::id(0),
                OpType::Ok,
                "read",
                json!(1),
            ),
        ]);
        let v = View::build(&h);
        assert!(v.timed);
        assert_eq!(v.nemesis_events, 5);
        // The partition closes at the heal's completion; the kill is never
        // restarted, so it lasts to the end.
        assert_eq!(v.faults.len(), 2);
        assert_eq!(v.faults[0].kind, FaultKind::Partition);
        assert_eq!((v.faults[0].start, v.faults[0].end), (1.0, 3.5));
        assert_eq!(v.faults[0].text, "partition halves");
        assert_eq!(v.faults[1].kind, FaultKind::Kill);
        assert_eq!((v.faults[1].start, v.faults[1].end), (2.0, 4.0));
        assert_eq!(v.spans.len(), 1);
        assert_eq!(v.spans[0].latency_ms, Some(4000.0));
    }

    #[test]
    fn jepsen_start_closes_a_kill_but_opens_otherwise() {
        assert_eq!(classify("start", true), Act::Close(FaultKind::Kill));
        assert_eq!(classify("start", false), Act::Open(FaultKind::Started));
        assert_eq!(classify("stop", false), Act::CloseAll);
        assert_eq!(
            classify("start-partition", false),
            Act::Open(FaultKind::Partition)
        );
        assert_eq!(classify("clock-bump", false), Act::Instant);
    }

    #[test]
    fn a_crashed_worker_continues_in_its_lane() {
        let h = History::new(vec![
            ev(0, 0, Process::id(0), OpType::Invoke, "write", json!(1)),
            ev(1, 1, Process::id(1), OpType::Invoke, "write", json!(2)),
            ev(2, 2, Process::id(0), OpType::Info, "write", json!(1)),
            ev(3, 3, Process::id(2), OpType::Invoke, "read", Value::Null),
            ev(4, 4, Process::id(2), OpType::Ok, "read", json!(2)),
            ev(5, 5, Process::id(1), OpType::Ok, "write", json!(2)),
        ]);
        let v = View::build(&h);
        assert_eq!(v.lanes.len(), 2, "{:?}", v.lanes);
        let lane = |p: &str| v.spans.iter().find(|s| s.process == p).map(|s| s.lane);
        assert_eq!(lane("0"), lane("2"));
        assert_ne!(lane("0"), lane("1"));
    }

    #[test]
    fn untimed_histories_use_positions() {
        let h = History::new(vec![
            Op::new(0, Process::id(0), OpType::Invoke, "read", Value::Null),
            Op::new(1, Process::id(0), OpType::Ok, "read", json!(1)),
        ]);
        let v = View::build(&h);
        assert!(!v.timed);
        assert_eq!((v.spans[0].start, v.spans[0].end), (0.0, 1.0));
        assert_eq!(v.spans[0].latency_ms, None);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&xs, 0.5), 50.0);
        assert_eq!(quantile(&xs, 0.99), 99.0);
        assert_eq!(quantile(&xs, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
