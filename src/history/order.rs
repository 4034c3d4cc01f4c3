//! Which order of the events is real time: the file's, or their `:time`s'.
//!
//! Every checker reads real-time order from the positions of events in
//! [`History::ops`](super::History::ops): `a` precedes `b` when `a`'s
//! completion comes before `b`'s invocation. Jepsen appends each event to
//! the history just after stamping its `:time` from one monotonic clock, so
//! two workers can stamp in one order and append in the other. The file
//! order is then not real time, and it can mislead in both directions: it
//! can hide that an operation began after another had completed (a stale
//! read shows only in time order, so file order says *valid*) or invent
//! such a precedence (file order says *invalid*). The `:time`s were taken
//! closest to the events, so they are the better witness.
//!
//! Hence the default, [`Order::Auto`]: when every client event carries a
//! time, the events are checked in time order (a stable sort, so equal
//! times keep their file order); otherwise in file order. Either way a file
//! whose events are not in time order gets a warning saying so, how many
//! events are out of place and where the first one is.
//!
//! In time order, an operation precedes another only when it completed at
//! a strictly earlier time than the other was invoked: two events with the
//! same `:time` are not known to have happened in either order, and an
//! order the clock did not witness must not become a precedence that makes
//! a history invalid. So among events with the same time, client
//! invocations go before completions (what Porcupine does when it sorts
//! calls and returns), except that a process's invocation stays after its
//! own completion at that time: a process runs one operation at a time.

use super::{History, HistoryError, Op, OpType, Process};
use crate::checker::fast_hash::FastSet;
use std::fmt;

/// The order taken as real time (`check --order`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    /// Time order when every client event has a `:time`, file order otherwise.
    #[default]
    Auto,
    /// Events sorted by `:time` (stable); every client event must have one.
    Time,
    /// The order of the events in the file.
    Index,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Auto => "auto",
            Order::Time => "time",
            Order::Index => "index",
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a file is from time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimeOrder {
    /// Events whose `:time` is earlier than that of an event before them.
    pub out_of_order: usize,
    /// Source line of the first such event.
    pub first_line: Option<usize>,
    /// Client events without a `:time`.
    pub untimed: usize,
    /// Source line of the first client event without a `:time`.
    pub first_untimed_line: Option<usize>,
    /// Client events in all.
    pub client_events: usize,
}

fn is_client(op: &Op) -> bool {
    !op.process.as_ref().is_some_and(Process::is_nemesis)
}

/// Measures how far `ops` are from time order (one pass, no allocation).
pub fn time_order(ops: &[Op]) -> TimeOrder {
    let mut t = TimeOrder::default();
    let mut latest: Option<u64> = None;
    for op in ops {
        if is_client(op) {
            t.client_events += 1;
            if op.time.is_none() {
                t.untimed += 1;
                t.first_untimed_line.get_or_insert(op.line as usize);
            }
        }
        if let Some(time) = op.time.get() {
            match latest {
                Some(l) if time < l => {
                    t.out_of_order += 1;
                    t.first_line.get_or_insert(op.line as usize);
                }
                _ => latest = Some(time),
            }
        }
    }
    t
}

/// Puts `history`'s events in the order `order` asks for and returns the
/// warnings to show: when the file is not in time order, and when
/// operations listed one after the other were taken to overlap because
/// their events have the same time.
pub fn apply(history: &mut History, order: Order) -> Result<Vec<String>, HistoryError> {
    let mut warnings = Vec::new();
    let overlapped = arrange(history, order, &mut warnings)?;
    if overlapped > 0 {
        let (n, which) = if overlapped == 1 {
            ("1 invocation is".to_string(), "the two operations overlap")
        } else {
            (
                format!("{overlapped} invocations are"),
                "those operations overlap",
            )
        };
        warnings.push(format!(
            "{n} listed after a completion of another process with the same :time; equal times are taken as simultaneous, so {which} (--order index keeps the file's order)"
        ));
    }
    Ok(warnings)
}

/// [`apply`]'s work: orders the events, pushes the out-of-time-order
/// warning, and returns how many invocations were moved before a
/// completion with the same time.
fn arrange(
    history: &mut History,
    order: Order,
    warnings: &mut Vec<String>,
) -> Result<usize, HistoryError> {
    let t = time_order(history.ops());
    let all_timed = t.untimed == 0 && t.client_events > 0;
    let by_time = match order {
        Order::Index => false,
        Order::Auto => all_timed,
        Order::Time => {
            if let Some(line) = t.first_untimed_line {
                return Err(HistoryError::invalid(
                    &history.source.to_string(),
                    line,
                    format!(
                        "--order time: this event has no :time ({} of {} client events have none); use --order index",
                        t.untimed, t.client_events
                    ),
                ));
            }
            true
        }
    };
    let mut overlapped = 0;
    if by_time {
        if t.out_of_order > 0 {
            sort_by_time(history.ops_mut());
        }
        overlapped = invocations_first_at_equal_times(history.ops_mut());
    }
    if t.out_of_order == 0 {
        return Ok(overlapped);
    }
    let first = t.first_line.unwrap_or(0);
    let how = if by_time {
        "checked in time order (--order index to use the file's order)".to_string()
    } else if order == Order::Index {
        "checked in the file's order as asked (--order index); time order may show violations this check cannot see".to_string()
    } else {
        format!(
            "checked in the file's order, because {} of {} client events have no :time (the first on line {})",
            t.untimed,
            t.client_events,
            t.first_untimed_line.unwrap_or(0)
        )
    };
    let n = t.out_of_order;
    let (events, have) = if n == 1 {
        ("event", "has")
    } else {
        ("events", "have")
    };
    warnings.push(format!(
        "events are not in time order: {n} {events} {have} an earlier :time than an event before them, the first on line {first}; {how}"
    ));
    Ok(overlapped)
}

/// Stable sort by `:time`; an event without one keeps its place after the
/// event before it.
fn sort_by_time(ops: &mut Vec<Op>) {
    let mut last = 0u64;
    let mut keyed: Vec<(u64, Op)> = std::mem::take(ops)
        .into_iter()
        .map(|op| {
            if let Some(t) = op.time.get() {
                last = t;
            }
            (last, op)
        })
        .collect();
    keyed.sort_by_key(|(t, _)| *t);
    *ops = keyed.into_iter().map(|(_, op)| op).collect();
}

/// Whether some client completion is followed, at the same `:time`, by a
/// client invocation: the only case [`invocations_first_at_equal_times`]
/// changes. Expects events sorted by time (untimed ones after their
/// predecessor).
fn completion_then_invocation_at_equal_time(ops: &[Op]) -> bool {
    let mut time = None;
    let mut completed = false;
    for op in ops {
        if let Some(t) = op.time.get() {
            if time != Some(t) {
                time = Some(t);
                completed = false;
            }
        }
        if is_client(op) {
            match op.op_type {
                OpType::Invoke if completed => return true,
                OpType::Invoke => {}
                _ => completed = true,
            }
        }
    }
    false
}

/// Within each run of events with the same `:time`, moves client
/// invocations before the other events of the run (in file order on both
/// sides), so that an operation completed at time `t` does not precede one
/// invoked at `t`. An invocation whose process completed an operation
/// earlier in the run stays after that completion, so every process still
/// invokes, completes, invokes. Expects events sorted by time; an event
/// without a time belongs to the run of the event before it. Works run by
/// run, in place (no copy of the history). Returns how many invocations
/// were moved before a completion.
fn invocations_first_at_equal_times(ops: &mut [Op]) -> usize {
    if !completion_then_invocation_at_equal_time(ops) {
        return 0;
    }
    let mut moved = 0;
    let mut start = 0;
    let mut time = None;
    for i in 0..ops.len() {
        if let Some(t) = ops[i].time.get() {
            if time != Some(t) {
                moved += invocations_first(&mut ops[start..i]);
                start = i;
                time = Some(t);
            }
        }
    }
    moved + invocations_first(&mut ops[start..])
}

/// Reorders one run of equal-time events, invocations first; returns how
/// many invocations it moved before a completion.
fn invocations_first(run: &mut [Op]) -> usize {
    if !completion_then_invocation_at_equal_time(run) {
        return 0;
    }
    let mut completed: FastSet<Option<Process>> = FastSet::default();
    let mut first = Vec::new();
    let mut rest = Vec::new();
    let mut moved = 0;
    for slot in run.iter_mut() {
        let op = std::mem::take(slot);
        if !is_client(&op) {
            rest.push(op);
        } else if op.op_type != OpType::Invoke {
            completed.insert(op.process);
            rest.push(op);
        } else if completed.contains(&op.process) {
            rest.push(op);
        } else {
            moved += usize::from(!completed.is_empty());
            first.push(op);
        }
    }
    for (slot, op) in run.iter_mut().zip(first.into_iter().chain(rest)) {
        *slot = op;
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Time;
    use serde_json::json;

    fn ev(p: i64, t: OpType, f: &str, v: serde_json::Value, time: Option<u64>) -> Op {
        let mut op = Op::new(0, Process::id(p), t, f, v);
        op.time = time.into();
        op
    }

    fn hist(ops: Vec<Op>) -> History {
        let mut ops = ops;
        for (i, o) in ops.iter_mut().enumerate() {
            o.line = (i + 1) as u32;
            o.index = i as u64;
        }
        History::new(ops)
    }

    fn swapped() -> History {
        hist(vec![
            ev(0, OpType::Invoke, "write", json!(1), Some(10)),
            ev(0, OpType::Ok, "write", json!(1), Some(20)),
            // Appended before the completion below but stamped after it.
            ev(1, OpType::Invoke, "read", json!(null), Some(40)),
            ev(2, OpType::Invoke, "read", json!(null), Some(30)),
            ev(1, OpType::Ok, "read", json!(1), Some(50)),
            ev(2, OpType::Ok, "read", json!(1), Some(60)),
        ])
    }

    #[test]
    fn counts_events_out_of_time_order() {
        let t = time_order(swapped().ops());
        assert_eq!(t.out_of_order, 1);
        assert_eq!(t.first_line, Some(4));
        assert_eq!(t.untimed, 0);
        assert_eq!(t.client_events, 6);
    }

    #[test]
    fn auto_and_time_sort_stably_index_keeps_file_order() {
        for order in [Order::Auto, Order::Time] {
            let mut h = swapped();
            let w = apply(&mut h, order).unwrap();
            let [w] = &w[..] else {
                panic!("one warning: {w:?}")
            };
            assert!(
                w.contains("1 event has") && w.contains("line 4") && w.contains("time order"),
                "{w}"
            );
            assert_eq!(
                h.ops().iter().map(|o| o.line).collect::<Vec<_>>(),
                vec![1, 2, 4, 3, 5, 6]
            );
        }
        let mut h = swapped();
        let w = apply(&mut h, Order::Index).unwrap().join("\n");
        assert!(w.contains("--order index"), "{w}");
        assert_eq!(
            h.ops().iter().map(|o| o.line).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn in_order_files_get_no_warning() {
        let mut h = swapped();
        h.ops_mut().swap(2, 3);
        assert!(apply(&mut h, Order::Auto).unwrap().is_empty());
    }

    #[test]
    fn untimed_events_fall_back_to_file_order_or_refuse_time() {
        let mut h = swapped();
        h.ops_mut()[5].time = Time::NONE;
        let w = apply(&mut h, Order::Auto).unwrap().join("\n");
        assert!(w.contains("no :time") && w.contains("line 6"), "{w}");
        assert_eq!(h.ops()[2].line, 3);
        let mut h = swapped();
        h.ops_mut()[5].time = Time::NONE;
        let e = apply(&mut h, Order::Time).unwrap_err().to_string();
        assert!(e.contains(":6:") && e.contains("no :time"), "{e}");
    }

    fn lines(h: &History) -> Vec<u32> {
        h.ops().iter().map(|o| o.line).collect()
    }

    #[test]
    fn an_invocation_at_a_completions_time_goes_before_it() {
        // A write over [0, 10] and a read over [10, 20]: they share the
        // instant 10, so neither precedes the other.
        let touching = || {
            hist(vec![
                ev(0, OpType::Invoke, "write", json!(1), Some(0)),
                ev(0, OpType::Ok, "write", json!(1), Some(10)),
                ev(1, OpType::Invoke, "read", json!(null), Some(10)),
                ev(1, OpType::Ok, "read", json!(0), Some(20)),
            ])
        };
        for order in [Order::Auto, Order::Time] {
            let mut h = touching();
            let w = apply(&mut h, order).unwrap();
            assert_eq!(lines(&h), vec![1, 3, 2, 4]);
            let [w] = &w[..] else {
                panic!("one warning: {w:?}")
            };
            assert!(
                w.starts_with("1 invocation is listed after a completion")
                    && w.contains("simultaneous"),
                "{w}"
            );
        }
        // File order is file order.
        let mut h = touching();
        assert!(apply(&mut h, Order::Index).unwrap().is_empty());
        assert_eq!(lines(&h), vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_process_still_invokes_after_its_own_completion_at_the_same_time() {
        // Process 0 completes and invokes again at 10; process 1 invokes at
        // 10 too, and two zero-length reads at 30 overlap.
        let mut h = hist(vec![
            ev(0, OpType::Invoke, "write", json!(1), Some(0)),
            ev(0, OpType::Ok, "write", json!(1), Some(10)),
            ev(0, OpType::Invoke, "read", json!(null), Some(10)),
            ev(1, OpType::Invoke, "read", json!(null), Some(10)),
            ev(0, OpType::Ok, "read", json!(1), Some(20)),
            ev(1, OpType::Ok, "read", json!(1), Some(20)),
            ev(2, OpType::Invoke, "read", json!(null), Some(30)),
            ev(2, OpType::Ok, "read", json!(1), Some(30)),
            ev(3, OpType::Invoke, "read", json!(null), Some(30)),
            ev(3, OpType::Ok, "read", json!(1), Some(30)),
        ]);
        let w = apply(&mut h, Order::Time).unwrap().join("\n");
        assert_eq!(lines(&h), vec![1, 4, 2, 3, 5, 6, 7, 9, 8, 10]);
        // Process 1's invocation passed process 0's completion at 10, and
        // process 3's passed process 2's at 30.
        assert!(w.starts_with("2 invocations are listed"), "{w}");
        h.operations().expect("pairs as before");
    }

    #[test]
    fn untimed_nemesis_events_stay_after_their_predecessor() {
        let mut ops = swapped().into_ops();
        let mut n = Op::new(
            9,
            Process::name("nemesis"),
            OpType::Info,
            "start",
            json!(null),
        );
        n.line = 7_u32;
        ops.insert(3, n);
        let mut h = History::new(ops);
        apply(&mut h, Order::Auto).unwrap();
        assert_eq!(
            h.ops().iter().map(|o| o.line).collect::<Vec<_>>(),
            vec![1, 2, 4, 3, 7, 5, 6]
        );
    }
}
