//! The command line: parse, dispatch to the library, map results to exit codes.
//!
//! Exit codes (Jepsen's, see DESIGN.md): 0 valid, 1 invalid, 2 unknown,
//! 254 bad arguments or unreadable input, 255 internal error.

use crate::checker::registry::{self, CheckOptions};
use crate::checker::Budget;
use crate::history::{Format, History};
use crate::model::{ModelConfig, NilRead};
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
    /// Run a workload (workloads/*.toml) under faults, record the history, check it.
    Test(TestArgs),
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
    /// Sequential model for the linearizability checker: register, cas-register,
    /// multi-register, mutex, set, fifo-queue, kv.
    #[arg(long)]
    pub model: Option<String>,
    /// Workload kind, which picks the checkers: register, set, list-append, rw-register.
    #[arg(long)]
    pub workload: Option<String>,
    /// Comma-separated checkers: linearizable, stale-read, lost-write, session, elle.
    #[arg(long, value_delimiter = ',')]
    pub checker: Option<Vec<String>>,
    /// Initial value of each object, as JSON (default null).
    #[arg(long)]
    pub initial: Option<String>,
    /// How an ok read of null is read: absent (the initial value) or unknown (Knossos).
    #[arg(long, value_enum, default_value = "absent")]
    pub nil_read: NilRead,
    /// Consistency models the transactional checker must confirm, comma-separated; all must hold (default strict-serializable).
    #[arg(long)]
    pub consistency_model: Option<String>,
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
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seconds a check of one file may take before it answers unknown.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Megabytes the search's memo tables may use before it answers unknown.
    #[arg(long, default_value_t = 4096)]
    pub memory_limit: usize,
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
        Command::Check(a) => check(a),
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
        )),
        Command::Cluster { action } => cluster(action),
    }
}

fn bad_input(msg: impl std::fmt::Display) -> anyhow::Result<i32> {
    eprintln!("faultline: {msg}");
    Ok(EXIT_BAD_INPUT)
}

fn check(a: CheckArgs) -> anyhow::Result<i32> {
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
        model: a.model.clone(),
        model_config: ModelConfig {
            initial,
            nil_read: a.nil_read,
        },
        workload: a.workload.clone(),
        checkers: a.checker.clone(),
        consistency_model: a.consistency_model.clone(),
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
    let mut reports = Vec::with_capacity(a.files.len());
    for file in &a.files {
        let start = Instant::now();
        let name = file.display().to_string();
        let report = match History::read_file(file, a.format) {
            Err(e) => FileReport::failed(&name, e.to_string(), start.elapsed().as_secs_f64()),
            Ok(history) => {
                let mut budget = Budget::with_time_limit(a.time_limit.map(Duration::from_secs_f64));
                budget.memory_bytes = a.memory_limit.saturating_mul(1 << 20);
                match registry::run_checks(&history, &opts, &budget) {
                    Ok(results) => {
                        FileReport::checked(&name, results, start.elapsed().as_secs_f64())
                    }
                    Err(e) => {
                        FileReport::failed(&name, e.to_string(), start.elapsed().as_secs_f64())
                    }
                }
            }
        };
        if !a.json {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(report::text(&report).as_bytes());
            let _ = out.flush();
            if let Some(e) = &report.error {
                eprintln!("faultline: {e}");
            }
        }
        reports.push(report);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&reports))?);
    }
    if let Some(path) = &a.junit {
        if let Err(e) = std::fs::write(path, report::junit(&reports)) {
            return bad_input(format!("{}: cannot write JUnit XML: {e}", path.display()));
        }
    }
    Ok(report::worst_exit_code(
        reports.iter().map(|r| r.exit_code()),
    ))
}

fn convert(a: ConvertArgs) -> anyhow::Result<i32> {
    let history = match History::read_file(&a.input, a.format) {
        Ok(h) => h,
        Err(e) => return bad_input(e),
    };
    let result = if a.output.as_os_str() == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        history.write_jsonl(&mut out).and_then(|_| out.flush())
    } else {
        std::fs::File::create(&a.output).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            history.write_jsonl(&mut w).and_then(|_| w.flush())
        })
    };
    match result {
        Ok(()) => {
            eprintln!(
                "faultline: wrote {} events to {}",
                history.ops.len(),
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
                println!(
                    "cluster up: {} nodes; nodes file {}",
                    info.nodes.nodes.len(),
                    info.nodes_file.display()
                );
            })
        }
        ClusterAction::Down { dir } => {
            let dir = dir_or_default(dir);
            cluster::down(&dir)
                .map(|()| println!("cluster down: removed everything under {}", dir.display()))
        }
        ClusterAction::Status { dir } => {
            cluster::status(&dir_or_default(dir)).map(|s| print!("{s}"))
        }
    };
    match result {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("faultline: cluster: {e}");
            Ok(EXIT_BAD_INPUT)
        }
    }
}
