//! Runs a workload file the way `faultline test` does; used by the
//! kill -9 test and handy for trying workloads without the CLI.
//!
//! Usage: run_workload <workload.toml> [--time-limit S] [--seed N] [--runs DIR] [--quiet]

use faultline::runner::{progress::ProgressMode, run_blocking, summary, RunOptions};
use faultline::workload::{load, Overrides};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut path = None;
    let mut o = Overrides::default();
    let mut opts = RunOptions {
        handle_ctrl_c: true,
        ..RunOptions::default()
    };
    let mut i = 0;
    while i < args.len() {
        let next = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--time-limit" => o.time_limit = next.parse().ok(),
            "--seed" => o.seed = next.parse().ok(),
            "--concurrency" => o.concurrency = next.parse().ok(),
            "--rate" => o.rate = next.parse().ok(),
            "--runs" => opts.runs_dir = next.into(),
            "--quiet" => {
                opts.progress = ProgressMode::Quiet;
                i += 1;
                continue;
            }
            p => {
                path = Some(p.to_string());
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    let Some(path) = path else {
        eprintln!("usage: run_workload <workload.toml> [--time-limit S] [--seed N] [--runs DIR]");
        std::process::exit(254);
    };
    let mut w = match load(&path) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(254);
        }
    };
    if let Err(e) = w.apply(&o) {
        eprintln!("{e}");
        std::process::exit(254);
    }
    match run_blocking(&w, &opts) {
        Ok(out) => {
            print!("{}", summary(&w, &out));
            std::process::exit(out.exit_code());
        }
        Err(e) => {
            eprintln!("faultline: {e:#}");
            std::process::exit(255);
        }
    }
}
