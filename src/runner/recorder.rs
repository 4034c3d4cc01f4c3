//! Recording the history as it happens.
//!
//! Workers and the nemesis hand each event to a [`Recorder`]; a dedicated
//! writer thread numbers the events in arrival order (a completion that
//! returned before an invocation began therefore gets the smaller index),
//! appends them to `history.jsonl` through a large buffer and flushes at
//! least every [`FLUSH_EVERY`], so a run killed with SIGKILL leaves all but
//! the last fraction of a second on disk. Serialising and writing happen off
//! the tokio workers, so the history is never what limits throughput.
//!
//! Events stamped with the same time are given distinct times in arrival
//! order, a nanosecond apart ([`Ties`]). The simulator's clock is virtual
//! and stands still while tasks run, so many events share an instant;
//! their arrival order is the order they happened in, and a checker that
//! reads the file again in time order takes equal times as simultaneous.
//! Without the step, `faultline check` on a simulated history could see
//! less than the run's own check saw.

use crate::history::{Name, Op, OpType, Process, Val};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::time::Instant as ClockInstant;

/// The longest an event waits in memory before reaching the file.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// A cheap, cloneable handle for recording events.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Op>,
    start: ClockInstant,
}

impl Recorder {
    /// Nanoseconds since the run started, on the runtime's clock: real time
    /// for real stores, virtual time for the simulator (so the times in a
    /// simulated history are as reproducible as its events).
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Records one event.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        process: Process,
        op_type: OpType,
        f: &str,
        key: Option<Value>,
        value: Value,
        node: Option<String>,
        error: Option<Value>,
    ) {
        let mut op = Op::new(0, process, op_type, f, Val::from_json_owned(value));
        op.time = Some(self.now()).into();
        op.key = key.map(Val::from_json_owned);
        op.set_node(node.map(Name::from));
        op.set_error(error);
        // The writer only stops after every recorder is gone.
        let _ = self.tx.send(op);
    }
}

/// The writer thread; [`HistoryWriter::finish`] waits for it.
pub struct HistoryWriter {
    handle: std::thread::JoinHandle<std::io::Result<Vec<Op>>>,
    pub path: PathBuf,
}

/// Starts the writer on `path` and returns the recorder feeding it.
pub fn start(path: &Path, start: ClockInstant) -> std::io::Result<(Recorder, HistoryWriter)> {
    let file = std::fs::File::create(path)?;
    let (tx, rx) = mpsc::channel::<Op>();
    let handle = std::thread::Builder::new()
        .name("faultline-history".into())
        .spawn(move || write_loop(file, rx))?;
    Ok((
        Recorder { tx, start },
        HistoryWriter {
            handle,
            path: path.to_path_buf(),
        },
    ))
}

/// Breaks ties of time in arrival order: an event stamped with the latest
/// time stamped so far, or with a time the ties before it were already
/// spread over, gets the nanosecond after the last time given. An event
/// stamped earlier than the latest (it arrived late from another thread)
/// keeps its time: moving it later could make it follow an event it did
/// not follow.
#[derive(Default)]
struct Ties {
    /// (the latest time stamped, the latest time given)
    latest: Option<(u64, u64)>,
}

impl Ties {
    fn time(&mut self, stamped: u64) -> u64 {
        match self.latest {
            Some((top, _)) if stamped < top => stamped,
            Some((_, last)) if stamped <= last => {
                let t = last.saturating_add(1);
                self.latest = Some((stamped, t));
                t
            }
            _ => {
                self.latest = Some((stamped, stamped));
                stamped
            }
        }
    }
}

fn write_loop(file: std::fs::File, rx: mpsc::Receiver<Op>) -> std::io::Result<Vec<Op>> {
    let mut ties = Ties::default();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut ops = Vec::new();
    let mut next_flush = Instant::now() + FLUSH_EVERY;
    let mut error: Option<std::io::Error> = None;
    let mut dirty = false;
    let mut line = Vec::with_capacity(256);
    loop {
        let wait = next_flush.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(mut op) => {
                op.index = ops.len() as u64;
                if let Some(t) = op.time.get() {
                    op.time = Some(ties.time(t)).into();
                }
                if error.is_none() {
                    // One write per line: the buffer only ever reaches the
                    // file in whole lines, so a killed run leaves no torn line.
                    line.clear();
                    let r = serde_json::to_writer(&mut line, &op)
                        .map_err(std::io::Error::from)
                        .and_then(|_| {
                            line.push(b'\n');
                            w.write_all(&line)
                        });
                    if let Err(e) = r {
                        error = Some(e);
                    }
                    dirty = true;
                }
                ops.push(op);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if Instant::now() >= next_flush {
            if dirty && error.is_none() {
                if let Err(e) = w.flush() {
                    error = Some(e);
                }
                dirty = false;
            }
            next_flush = Instant::now() + FLUSH_EVERY;
        }
    }
    if let Some(e) = error {
        return Err(e);
    }
    w.flush()?;
    w.get_ref().sync_all()?;
    Ok(ops)
}

impl HistoryWriter {
    /// Waits until every recorder is dropped and the file is complete;
    /// returns the events as written.
    pub fn finish(self) -> anyhow::Result<Vec<Op>> {
        match self.handle.join() {
            Ok(r) => r.map_err(|e| {
                anyhow::anyhow!("{}: cannot write the history: {e}", self.path.display())
            }),
            Err(_) => Err(anyhow::anyhow!("the history writer thread panicked")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_times_become_distinct_in_arrival_order() {
        let mut ties = Ties::default();
        let given: Vec<u64> = [5, 5, 5, 7, 7, 6, 1_000, 1_000, 1_001, 1_003, 2]
            .into_iter()
            .map(|t| ties.time(t))
            .collect();
        assert_eq!(given, [5, 6, 7, 8, 9, 6, 1_000, 1_001, 1_002, 1_003, 2]);
    }

    #[test]
    fn writes_in_order_and_flushes_while_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let (rec, writer) = start(&path, ClockInstant::now()).unwrap();
        for i in 0..10 {
            rec.record(
                Process::id(i),
                OpType::Invoke,
                "read",
                Some(json!(1)),
                Value::Null,
                None,
                None,
            );
        }
        std::thread::sleep(FLUSH_EVERY * 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 10, "flushed before the run ended");
        drop(rec);
        let ops = writer.finish().unwrap();
        assert_eq!(ops.len(), 10);
        let h = crate::history::History::read_file(&path, None).unwrap();
        assert_eq!(
            h.ops().iter().map(|o| o.index).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
    }
}
