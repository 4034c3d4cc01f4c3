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

use faultline::checker::linearizable::gen::{crashed_register_history, CrashedRegister};
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "crashed".into()));
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
        println!("{} ({} events)", path.display(), h.ops.len());
    }
}
