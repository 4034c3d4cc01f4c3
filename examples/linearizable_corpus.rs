//! Checks the Porcupine corpus (or the files given) with the linearizability
//! checker and prints each verdict and time: a tool for measuring speed and
//! peak memory (`/usr/bin/time -v`).
//!
//!     cargo run --release --example linearizable_corpus [-- FILE MODEL]...
//!
//! `gen:OPS:CLIENTS` as FILE checks a generated register history.
//! With `EXPLAIN=1` in the environment it also prints each result in full.

#[path = "../benches/common/register_gen.rs"]
mod register_gen;

use faultline::checker::linearizable::check;
use faultline::checker::Budget;
use faultline::history::History;
use faultline::model::{ModelConfig, ModelKind};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/porcupine");
    let mut jobs: Vec<(PathBuf, String, Option<String>)> = Vec::new();
    if args.is_empty() {
        let table = std::fs::read_to_string(root.join("expected.tsv"))?;
        for line in table.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            if let [file, model, expected] = cols[..] {
                jobs.push((
                    root.join(file),
                    model.to_string(),
                    Some(expected.to_string()),
                ));
            }
        }
    } else {
        for pair in args.chunks(2) {
            let model = pair
                .get(1)
                .cloned()
                .unwrap_or_else(|| "cas-register".into());
            jobs.push((PathBuf::from(&pair[0]), model, None));
        }
    }
    let mut total = std::time::Duration::ZERO;
    let mut wrong = 0;
    for (path, model, expected) in &jobs {
        // `gen:OPS:CLIENTS` stands for a generated register history.
        let spec = path.to_string_lossy().to_string();
        let h = match spec
            .strip_prefix("gen:")
            .map(|r| r.split(':').collect::<Vec<_>>())
        {
            Some(parts) if parts.len() == 2 => {
                register_gen::register_history(parts[0].parse()?, parts[1].parse()?, 42)
            }
            _ => History::read_file(path, None)?,
        };
        let t = Instant::now();
        let model: ModelKind = model.parse().map_err(anyhow::Error::msg)?;
        let r = check(&h, model, &ModelConfig::default(), &Budget::default())?;
        let dt = t.elapsed();
        total += dt;
        let got = match r.verdict {
            faultline::checker::Verdict::Valid => "linearizable",
            faultline::checker::Verdict::Invalid => "not-linearizable",
            faultline::checker::Verdict::Unknown => "unknown",
        };
        let mark = match expected {
            Some(e) if e != got => {
                wrong += 1;
                "  WRONG"
            }
            _ => "",
        };
        if std::env::var_os("EXPLAIN").is_some() {
            println!("{}\n{}\n{}", r.summary, r.explanation, r.details);
        }
        println!(
            "{:>9.3} ms  {:<18} {}  states={}{mark}",
            dt.as_secs_f64() * 1e3,
            got,
            path.display(),
            r.details["states_explored"]
        );
    }
    println!(
        "total check time {:.3} ms, {} files, {wrong} wrong",
        total.as_secs_f64() * 1e3,
        jobs.len()
    );
    Ok(())
}
