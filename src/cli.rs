//! The command line: parse, dispatch to the library, map results to exit codes.
//!
//! Exit codes (Jepsen's, see DESIGN.md): 0 valid, 1 invalid, 2 unknown,
//! 254 bad arguments or unreadable input, 255 internal error.

use crate::checker::registry::{self, CheckOptions, CheckWorkload, CheckerKind};
use crate::checker::{Budget, CheckResult, Verdict};
use crate::history::{Format, History, Independent, Interpretation, Order};
use crate::model::{ModelConfig, ModelKind, NilRead};
use crate::report::{self, FileReport};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Exit code for bad arguments or unreadable input.
pub const EXIT_BAD_INPUT: i32 = 254;
/// Exit code for an internal error.
pub const EXIT_INTERNAL: i32 = 255;

#[derive(Parser, Debug)]
#[command(
    name = "faultline",
    version,
    about = "A Jepsen-style consistency checker: record histories under faults, decide what the system guarantees."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check recorded histories (JSONL, Jepsen/Knossos/Elle EDN, Jepsen logs, Porcupine logs).
    Check(CheckArgs),
    /// Convert any readable history to faultline's JSONL.
    Convert(ConvertArgs),
    /// Check one history like `check` and write a self-contained HTML report of it.
    Report(ReportArgs),
    /// Serve a runs directory over HTTP: a page listing the runs, their reports and files.
    Serve(ServeArgs),
    /// Run a workload (workloads/*.toml) under faults, record the history, check it.
    Test(TestArgs),
    /// Find a smaller failure: replay a failing simulated run (RUN_DIR) with
    /// less, or cut a recorded history (FILE --workload W) while it still fails.
    Shrink(ShrinkArgs),
    /// A local multi-node cluster on this host: network namespaces, one sshd per node (root).
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClusterAction {
    /// Create N network namespaces n1..nN on a bridge, each running sshd; write the nodes file.
    Up {
        /// Number of nodes.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Split the nodes into this many regions.
        #[arg(long, default_value_t = 1)]
        regions: usize,
        /// A private /24 for the nodes' addresses (the host takes .1).
        #[arg(long, default_value = "10.77.0.0/24")]
        subnet: String,
        /// The cluster's own directory (keys, sshd configs, state, nodes.toml).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Remove every namespace, link, rule and process `cluster up` created.
    Down {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Show the cluster's namespaces, addresses and processes.
    Status {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// History files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Sequential model for the linearizability checker.
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Workload kind, which picks the checkers.
    #[arg(long, value_enum)]
    pub workload: Option<CheckWorkload>,
    /// Comma-separated checkers.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub checker: Option<Vec<CheckerKind>>,
    /// Initial value of each object, as JSON (default null).
    #[arg(long)]
    pub initial: Option<String>,
    /// How an ok read of null is read: absent (the initial value) or unknown (matches any value). Default: unknown for the register models on an EDN history (as Jepsen and Knossos read it), absent otherwise.
    #[arg(long, value_enum)]
    pub nil_read: Option<NilRead>,
    /// Consistency models the transactional checker must confirm, comma-separated; all must hold (default strict-serializable).
    #[arg(long)]
    pub consistency_model: Option<String>,
    /// lost-write/set-full: the set must be linearizable, so an element
    /// missing from a read that began after it was known fails the check.
    #[arg(long)]
    pub linearizable: bool,
    /// Transactional checker: anomalies that must not occur, comma-separated Elle names (G1, G2, G-single, ...); alone, no model is checked.
    #[arg(long)]
    pub anomalies: Option<String>,
    /// rw-register: writes follow reads within a transaction (orders a read version before the write after it).
    #[arg(long)]
    pub wfr_keys: bool,
    /// rw-register: each key is sequentially consistent (version order from each process's order).
    #[arg(long)]
    pub sequential_keys: bool,
    /// rw-register: each key is linearizable (version order from real-time order).
    #[arg(long)]
    pub linearizable_keys: bool,
    /// Input format; detected from the content by default.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Read values as jepsen.independent [key value] tuples (detected by default).
    #[arg(long, conflicts_with = "no_independent")]
    pub independent: bool,
    /// Never read values as [key value] tuples.
    #[arg(long)]
    pub no_independent: bool,
    /// Which order is real time: auto (time when every event has a :time), time, index (file order).
    #[arg(long, value_enum, default_value = "auto")]
    pub order: Order,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seconds a check of one file may take before it answers unknown.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Megabytes the loaded history and the search's memo tables may use
    /// before the check answers unknown (a file too large for it is not read).
    /// Default: three quarters of this machine's memory (at least 4096).
    #[arg(long)]
    pub memory_limit: Option<usize>,
    /// Write JUnit XML (one testcase per file) to this path.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The workload file (TOML).
    pub workload: PathBuf,
    /// Seconds to generate operations (overrides the file's `duration`).
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Seed for the generators and the nemesis schedule.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of concurrent workers.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Target operations per second, over all workers.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Where run directories go (default `runs/`).
    #[arg(long)]
    pub runs_dir: Option<PathBuf>,
    /// Run N times, with seeds --seed .. --seed+N-1 (one line per run, then
    /// a summary of the failing seeds); exits with the worst verdict.
    #[arg(long, value_name = "N")]
    pub test_count: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// A run directory of a failing simulated run, or a history file.
    pub target: PathBuf,
    /// The checker whose failure to keep (default: the first that failed).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub checker: Option<Vec<CheckerKind>>,
    /// History files: the workload kind, which picks the checkers (like `check`).
    #[arg(long, value_enum)]
    pub workload: Option<CheckWorkload>,
    /// History files: the model for the linearizable checker (like `check`).
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// History files: consistency model for the transactional checker.
    #[arg(long)]
    pub consistency_model: Option<String>,
    /// History files: where to write the shrunk history (default FILE.shrunk.jsonl).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Stop looking after this many seconds (the best found so far is kept).
    #[arg(long, default_value_t = 300.0)]
    pub time_limit: f64,
    /// Run directories: at most this many candidate runs.
    #[arg(long, default_value_t = 400)]
    pub max_runs: usize,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Where to write the HTML report.
    #[arg(short, long)]
    pub output: PathBuf,
    /// The history (one file) and the same options as `check`.
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The runs directory.
    #[arg(default_value = "runs")]
    pub runs_dir: PathBuf,
    /// TCP port (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on; only this host can connect by default.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The history to read.
    pub input: PathBuf,
    /// Where to write JSONL (`-` for standard output).
    pub output: PathBuf,
    /// Input format; detected from the content by default.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Parses arguments and runs; returns the process exit code.
pub fn main_with_args(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => EXIT_BAD_INPUT,
            };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("faultline: internal error: {e:#}");
            EXIT_INTERNAL
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Check(a) => check(a, None),
        Command::Report(a) => {
            if a.check.files.len() != 1 {
                return bad_input("report: give exactly one history file");
            }
            check(a.check, Some(&a.output))
        }
        Command::Serve(a) => serve(a),
        Command::Convert(a) => convert(a),
        Command::Test(a) => Ok(crate::runner::test_command(
            &a.workload,
            &crate::workload::Overrides {
                time_limit: a.time_limit,
                seed: a.seed,
                concurrency: a.concurrency,
                rate: a.rate,
            },
            a.runs_dir,
            a.test_count,
        )),
        Command::Shrink(a) => shrink(a),
        Command::Cluster { action } => cluster(action),
    }
}

/// Writes to standard output. A reader that went away (`faultline check …
/// | head`) is not an error of ours: the caller stops writing and exits
/// with the verdict so far, quietly.
fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn is_broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// Standard output for messages whose loss does not matter.
fn say(text: &str) {
    let _ = emit(text);
}

fn shrink(a: ShrinkArgs) -> anyhow::Result<i32> {
    if !(a.time_limit.is_finite() && a.time_limit > 0.0) {
        return bad_input("--time-limit: expected a positive number of seconds");
    }
    let time_limit = Duration::from_secs_f64(a.time_limit);
    if a.target.is_dir() {
        let checker = match a.checker.as_deref() {
            None => None,
            Some([one]) => Some(one.as_str().to_string()),
            Some(_) => return bad_input("--checker: a run is shrunk for one checker"),
        };
        let opts = crate::shrink::ShrinkOptions {
            checker,
            max_runs: a.max_runs,
            time_limit,
            ..Default::default()
        };
        return match crate::shrink::shrink_run(&a.target, &opts) {
            Ok(r) => {
                print!("{}", r.text());
                Ok(r.exit_code())
            }
            Err(e) => bad_input(format!("{e:#}")),
        };
    }
    let opts = CheckOptions {
        model: a.model,
        workload: a.workload,
        checkers: a.checker,
        consistency_model: a.consistency_model,
        ..CheckOptions::default()
    };
    if opts.model.is_none() && opts.workload.is_none() && opts.checkers.is_none() {
        return bad_input(
            "shrink FILE: say what must keep failing: --workload W, --checker C or --model M",
        );
    }
    if let Err(e) = registry::validate(&opts) {
        return bad_input(e);
    }
    let out = a.output.unwrap_or_else(|| {
        let stem = a
            .target
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "history".to_string());
        a.target.with_file_name(format!("{stem}.shrunk.jsonl"))
    });
    match crate::shrink::history::shrink_history_file(&a.target, &opts, &out, time_limit) {
        Ok(r) => {
            print!("{}", r.text());
            Ok(r.exit_code())
        }
        Err(e) => bad_input(e),
    }
}

fn bad_input(msg: impl std::fmt::Display) -> anyhow::Result<i32> {
    eprintln!("faultline: {msg}");
    Ok(EXIT_BAD_INPUT)
}

/// `check`, and with `html` set (`report`), the HTML report of the one file.
fn check(a: CheckArgs, html: Option<&std::path::Path>) -> anyhow::Result<i32> {
    let initial = match &a.initial {
        None => serde_json::Value::Null,
        Some(s) => match serde_json::from_str(s) {
            Ok(v) => v,
            Err(e) => return bad_input(format!("--initial: not JSON: {e}")),
        },
    };
    if let Some(t) = a.time_limit {
        if !(t.is_finite() && t > 0.0) {
            return bad_input("--time-limit: expected a positive number of seconds");
        }
    }
    let opts = CheckOptions {
        model: a.model,
        model_config: ModelConfig {
            initial,
            nil_read: a.nil_read.unwrap_or_default(),
        },
        nil_read_by_format: a.nil_read.is_none(),
        workload: a.workload,
        checkers: a.checker.clone(),
        consistency_model: a.consistency_model.clone(),
        linearizable: a.linearizable,
        elle: crate::checker::elle::ElleFlags {
            anomalies: a.anomalies.clone(),
            wfr_keys: a.wfr_keys,
            sequential_keys: a.sequential_keys,
            linearizable_keys: a.linearizable_keys,
        },
    };
    if let Err(e) = registry::validate(&opts) {
        return bad_input(e);
    }
    let interpretation = Interpretation {
        independent: match (a.independent, a.no_independent) {
            (true, _) => Independent::Always,
            (_, true) => Independent::Never,
            _ => Independent::Auto,
        },
        order: a.order,
    };
    let mut reports = Vec::with_capacity(a.files.len());
    let mut html_error = None;
    for file in &a.files {
        let start = Instant::now();
        let name = file.display().to_string();
        let limit = a
            .memory_limit
            .map_or_else(default_memory_limit, |mb| mb.saturating_mul(1 << 20));
        let too_big = |why: String| {
            let r = CheckResult::new("memory-limit", Verdict::Unknown, why);
            FileReport::checked(&name, vec![r], start.elapsed().as_secs_f64())
        };
        let on_disk = std::fs::metadata(file)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let loaded = match on_disk.saturating_mul(LOADED_PER_FILE_BYTE) {
            estimate if estimate > limit => Err(too_big(format!(
                "not read: {} on disk is about {} once loaded, more than the memory limit of {} (--memory-limit)",
                mib(on_disk),
                mib(estimate),
                mib(limit)
            ))),
            _ => History::read_file(file, a.format)
                .and_then(|mut h| h.interpret(&interpretation).map(|remarks| (h, remarks)))
                .map_err(|e| {
                    FileReport::failed(&name, e.to_string(), start.elapsed().as_secs_f64())
                }),
        };
        let report = match loaded {
            Err(r) => r,
            Ok((history, remarks)) => match limit.checked_sub(history_bytes(&history)) {
                None => too_big(format!(
                    "not checked: the loaded history takes about {}, more than the memory limit of {} (--memory-limit)",
                    mib(history_bytes(&history)),
                    mib(limit)
                )),
                Some(left) => {
                let mut budget = Budget::with_time_limit(a.time_limit.map(Duration::from_secs_f64));
                // The checkers get what the history leaves.
                budget.memory_bytes = left;
                match registry::run_checks(&history, &opts, &budget) {
                    Ok(results) => {
                        if let Some(out) = html {
                            let info = report::html::RunInfo {
                                title: name.clone(),
                                meta: Vec::new(),
                            };
                            html_error = report::html::write(out, &history, &results, &info)
                                .err()
                                .map(|e| {
                                    format!("{}: cannot write the report: {e}", out.display())
                                });
                        }
                        let mut r =
                            FileReport::checked(&name, results, start.elapsed().as_secs_f64());
                        r.notes = remarks.notes;
                        r.warnings = remarks.warnings;
                        r
                    }
                    Err(e) => {
                        FileReport::failed(&name, e.to_string(), start.elapsed().as_secs_f64())
                    }
                }
                }
            },
        };
        let mut reader_gone = false;
        if !a.json {
            reader_gone = emit(&report::text(&report)).is_err_and(|e| is_broken_pipe(&e));
            if let Some(e) = &report.error {
                eprintln!("faultline: {e}");
            }
        }
        reports.push(report);
        if reader_gone {
            // Nobody reads the rest: stop, with the verdict so far.
            break;
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&report::json(&reports))? + "\n";
        if let Err(e) = emit(&text) {
            if !is_broken_pipe(&e) {
                return Err(e.into());
            }
        }
    }
    if let Some(path) = &a.junit {
        if let Err(e) = std::fs::write(path, report::junit(&reports)) {
            return bad_input(format!("{}: cannot write JUnit XML: {e}", path.display()));
        }
    }
    if let Some(e) = html_error {
        return bad_input(e);
    }
    if let (Some(out), Some(r)) = (html, reports.first()) {
        if r.error.is_none() {
            eprintln!("faultline: wrote {}", out.display());
        }
    }
    Ok(report::worst_exit_code(
        reports.iter().map(|r| r.exit_code()),
    ))
}

fn serve(a: ServeArgs) -> anyhow::Result<i32> {
    let addr = std::net::SocketAddr::new(a.bind, a.port);
    match crate::serve::start(&a.runs_dir, addr) {
        Ok(server) => {
            println!(
                "faultline: serving {} at http://{}/ (Ctrl-C stops)",
                a.runs_dir.display(),
                server.addr()
            );
            server.join();
            Ok(0)
        }
        Err(e) => bad_input(format!("serve: {e}")),
    }
}

/// How many bytes of memory a history takes while it is read and checked,
/// per byte of its file, at most: the file's text, the events parsed from
/// it, and the paired operations the checkers build. Measured on JSONL
/// register histories (the densest format per event); checked before a
/// file is read, so that a history the memory limit cannot hold is refused
/// instead of killed.
const LOADED_PER_FILE_BYTE: usize = 8;

/// The memory limit when `--memory-limit` is not given: three quarters of
/// the machine's physical memory, so that a large history is checked where
/// it fits and refused (never killed) where it does not; at least 4 GiB.
fn default_memory_limit() -> usize {
    // SAFETY: sysconf only reads system configuration values.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let physical = if pages > 0 && page > 0 {
        (pages as usize).saturating_mul(page as usize)
    } else {
        0
    };
    (physical / 4 * 3).max(4 << 30)
}

fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

/// The memory a loaded history holds (events and their values) plus the
/// operations it is paired into once, in bytes (from the sizes of the
/// types and the heap their lists and boxed values use).
fn history_bytes(h: &History) -> usize {
    let heap: usize = h.ops().iter().map(crate::history::Op::heap_bytes).sum();
    let events = std::mem::size_of_val(h.ops()) + heap;
    // Operations share their values' lists with the events (no copies).
    let paired = h.ops().len().div_ceil(2) * std::mem::size_of::<crate::history::Operation>();
    events + paired
}

fn convert(a: ConvertArgs) -> anyhow::Result<i32> {
    let history = match History::read_file(&a.input, a.format) {
        Ok(h) => h,
        Err(e) => return bad_input(e),
    };
    let to_stdout = a.output.as_os_str() == "-";
    let result = if to_stdout {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        history.write_jsonl(&mut out).and_then(|_| out.flush())
    } else {
        std::fs::File::create(&a.output).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            history.write_jsonl(&mut w).and_then(|_| w.flush())
        })
    };
    match result {
        // The reader went away (`convert … - | head`): nothing is wrong.
        Err(e) if to_stdout && is_broken_pipe(&e) => Ok(0),
        Ok(()) => {
            eprintln!(
                "faultline: wrote {} events to {}",
                history.ops().len(),
                a.output.display()
            );
            Ok(0)
        }
        Err(e) => bad_input(format!("{}: cannot write: {e}", a.output.display())),
    }
}

fn cluster(action: ClusterAction) -> anyhow::Result<i32> {
    use crate::cluster;
    let dir_or_default = |d: Option<PathBuf>| d.unwrap_or_else(cluster::default_dir);
    let result = match action {
        ClusterAction::Up {
            nodes,
            regions,
            subnet,
            dir,
        } => {
            if nodes == 0 || regions == 0 || regions > nodes {
                return bad_input("cluster up: need --nodes >= 1 and 1 <= --regions <= --nodes");
            }
            let opts = cluster::UpOptions {
                nodes,
                regions,
                subnet,
                dir: dir_or_default(dir),
            };
            cluster::up(&opts).map(|info| {
                say(&format!(
                    "cluster up: {} nodes; nodes file {}\n",
                    info.nodes.nodes.len(),
                    info.nodes_file.display()
                ));
            })
        }
        ClusterAction::Down { dir } => {
            let dir = dir_or_default(dir);
            cluster::down(&dir).map(|()| {
                say(&format!(
                    "cluster down: removed everything under {}\n",
                    dir.display()
                ))
            })
        }
        ClusterAction::Status { dir } => cluster::status(&dir_or_default(dir)).map(|s| say(&s)),
    };
    match result {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("faultline: cluster: {e}");
            Ok(EXIT_BAD_INPUT)
        }
    }
}
