//! Writes the crashed-client register histories of the benchmark to files,
//! so the figures can be reproduced with the CLI:
//!
//!     cargo run --release --example crashed_histories -- /tmp/crashed
//!     /usr/bin/time -v target/release/faultline check \
//!         /tmp/crashed/crashed-10000.jsonl --model cas-register
//!
//! Files: `crashed-N.jsonl` (linearizable, N = 1,000 … 50,000 ops) and
//! `crashed-N-stale.jsonl` (N = 5,000 and 10,000, with a planted stale
//! read at the end: not linearizable). Values 0–4, 20 clients, 10% of
//! writes and cas crash; seed 1.
//!
//! With `--compare` after the directory it also decides each history with
//! both searches in-process (the plain one with a 60 s budget) and prints
//! their times, the figures the issue compares.

use faultline::checker::linearizable::gen::{crashed_register_history, CrashedRegister};
use faultline::checker::linearizable::{check_register_ops, PartitionVerdict, RegisterSearch};
use faultline::checker::Budget;
use faultline::history::History;
use faultline::model::{CasRegister, ModelConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn compare(name: &str, h: &History) {
    let Ok(ops) = h.operations() else {
        eprintln!("{name}: does not pair");
        return;
    };
    let model = CasRegister::new(&ModelConfig::default());
    for which in [RegisterSearch::Crashed, RegisterSearch::Plain] {
        let budget = Budget::with_time_limit(Some(Duration::from_secs(60)));
        let start = Instant::now();
        let verdict = match check_register_ops(&model, ops, &budget, which) {
            Ok(r) => match r.verdict {
                PartitionVerdict::Linearizable { .. } => format!("valid, {} states", r.states),
                PartitionVerdict::NotLinearizable(_) => format!("invalid, {} states", r.states),
                PartitionVerdict::Unknown { reason } => format!("unknown: {reason}"),
            },
            Err(e) => format!("error: {e}"),
        };
        println!(
            "  {which:?}: {verdict} in {:.2} s",
            start.elapsed().as_secs_f64()
        );
    }
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "crashed".into()));
    let with_compare = std::env::args().nth(2).as_deref() == Some("--compare");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("{}: {e}", dir.display());
        std::process::exit(1);
    }
    let mut files = Vec::new();
    for n in [1_000, 2_000, 5_000, 10_000, 20_000, 50_000] {
        files.push((format!("crashed-{n}.jsonl"), CrashedRegister::new(n, 1)));
    }
    for n in [5_000, 10_000] {
        let mut g = CrashedRegister::new(n, 1);
        g.stale_read_at_end = true;
        files.push((format!("crashed-{n}-stale.jsonl"), g));
    }
    for (name, g) in files {
        let path = dir.join(name);
        let h = crashed_register_history(&g);
        let written = std::fs::File::create(&path).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            h.write_jsonl(&mut w)
        });
        if let Err(e) = written {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        }
        println!("{} ({} events)", path.display(), h.ops().len());
        if with_compare {
            compare(&path.display().to_string(), &h);
        }
    }
}
