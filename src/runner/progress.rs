//! Showing a run while it happens: a progress bar on a terminal, a log line
//! every few seconds otherwise, nothing when asked to be quiet.

use crate::history::OpType;
use crate::runner::RunStats;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, log lines otherwise.
    Auto,
    /// Log lines on stderr.
    Lines,
    Quiet,
}

/// Live counters shared by the workers, the nemesis and the display.
#[derive(Default)]
pub struct Stats {
    pub invoked: AtomicU64,
    pub ok: AtomicU64,
    pub fail: AtomicU64,
    pub info: AtomicU64,
    pub faults: AtomicU64,
    /// Invocations in the main phase (set when it ends).
    pub main_ops: AtomicU64,
    active: Mutex<Vec<String>>,
    phase: Mutex<String>,
    errors: Mutex<Vec<String>>,
}

impl Stats {
    pub fn count(&self, t: OpType) {
        match t {
            OpType::Ok => &self.ok,
            OpType::Fail => &self.fail,
            _ => &self.info,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
    pub fn set_faults(&self, f: Vec<String>) {
        if let Ok(mut a) = self.active.lock() {
            *a = f;
        }
    }
    pub fn set_phase(&self, p: &str) {
        if let Ok(mut a) = self.phase.lock() {
            *a = p.to_string();
        }
    }
    /// Remembers a client error (shown once in the log lines).
    pub fn note_error(&self, e: String) {
        if let Ok(mut a) = self.errors.lock() {
            if a.len() < 100 && !a.contains(&e) {
                eprintln!("faultline: client: {e}");
                a.push(e);
            }
        }
    }
    fn faults_text(&self) -> String {
        let a = self.active.lock().map(|a| a.join(",")).unwrap_or_default();
        let p = self.phase.lock().map(|p| p.clone()).unwrap_or_default();
        match (a.is_empty(), p.is_empty()) {
            (true, true) => "none".into(),
            (true, false) => p,
            (false, true) => a,
            (false, false) => format!("{a} ({p})"),
        }
    }
    pub fn snapshot(&self) -> RunStats {
        RunStats {
            ops: self.invoked.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            fail: self.fail.load(Ordering::Relaxed),
            info: self.info.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            ..RunStats::default()
        }
    }
}

/// The running display; [`Display::finish`] stops it.
pub struct Display {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

impl Display {
    pub fn finish(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// Starts showing progress for a run of `duration`.
pub fn start(mode: ProgressMode, stats: Arc<Stats>, duration: Duration, name: &str) -> Display {
    let mode = match mode {
        ProgressMode::Auto if std::io::stderr().is_terminal() => None,
        ProgressMode::Auto | ProgressMode::Lines => Some(false),
        ProgressMode::Quiet => Some(true),
    };
    let started = Instant::now();
    match mode {
        Some(true) => Display {
            task: None,
            bar: None,
        },
        None => {
            let bar = ProgressBar::new(duration.as_millis() as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {elapsed}/{duration} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(name.to_string());
            let b = bar.clone();
            let task = tokio::spawn(async move {
                let mut last = (Instant::now(), 0u64);
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let n = stats.invoked.load(Ordering::Relaxed);
                    let rate = (n - last.1) as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
                    last = (Instant::now(), n);
                    b.set_position(started.elapsed().as_millis() as u64);
                    b.set_message(format!(
                        "{rate:>7.0} ops/s  ok {} fail {} info {}  faults: {}",
                        stats.ok.load(Ordering::Relaxed),
                        stats.fail.load(Ordering::Relaxed),
                        stats.info.load(Ordering::Relaxed),
                        stats.faults_text()
                    ));
                }
            });
            Display {
                task: Some(task),
                bar: Some(bar),
            }
        }
        Some(false) => {
            let name = name.to_string();
            let task = tokio::spawn(async move {
                let mut last = (Instant::now(), 0u64);
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let n = stats.invoked.load(Ordering::Relaxed);
                    let rate = (n - last.1) as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
                    last = (Instant::now(), n);
                    eprintln!(
                        "faultline: {name}: {:.0}s/{:.0}s {rate:.0} ops/s ok {} fail {} info {} faults: {}",
                        started.elapsed().as_secs_f64(),
                        duration.as_secs_f64(),
                        stats.ok.load(Ordering::Relaxed),
                        stats.fail.load(Ordering::Relaxed),
                        stats.info.load(Ordering::Relaxed),
                        stats.faults_text()
                    );
                }
            });
            Display {
                task: Some(task),
                bar: None,
            }
        }
    }
}
