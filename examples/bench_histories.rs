//! Writes the large histories of the whole-process benchmark to files, so
//! the figures can be reproduced with the CLI:
//!
//!     cargo run --release --example bench_histories -- /tmp/bench
//!     /usr/bin/time -v target/release/faultline check /tmp/bench/register-1m.jsonl
//!
//! Files: `register-1m.jsonl` / `.edn` (1,000,000 register operations over
//! 1,000 keys, 50 clients, linearizable by construction),
//! `list-append-100k.jsonl` / `.edn` (100,000 list-append transactions,
//! 10 processes, 1,000 keys, valid) and, with `--10m`, `register-10m.jsonl`
//! (10,000,000 operations over 10,000 keys).

use faultline::checker::elle::gen::{list_append, GenOptions};
use faultline::checker::graph_register::simulate_register;
use faultline::history::History;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

fn write_jsonl(h: &History, path: &Path) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    h.write_jsonl(&mut w)?;
    w.flush()?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[path = "../benches/common/edn_writer.rs"]
mod edn_writer;

/// Writes the history as Jepsen's EDN, one op map per line.
fn write_edn(h: &History, path: &Path) -> std::io::Result<()> {
    let mut text = String::new();
    edn_writer::write_edn(h, &mut text);
    std::fs::write(path, text)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "/tmp/bench".into()));
    let ten_million = args.any(|a| a == "--10m");
    std::fs::create_dir_all(&dir)?;
    let register = simulate_register(2, 1_000_000, 50, 1_000);
    write_jsonl(&register, &dir.join("register-1m.jsonl"))?;
    write_edn(&register, &dir.join("register-1m.edn"))?;
    drop(register);
    let append = list_append(
        &GenOptions {
            txns: 100_000,
            processes: 10,
            keys: 1000,
            concurrent: true,
            seed: 1,
            ..GenOptions::default()
        },
        &[],
    );
    write_jsonl(&append, &dir.join("list-append-100k.jsonl"))?;
    write_edn(&append, &dir.join("list-append-100k.edn"))?;
    drop(append);
    if ten_million {
        let big = simulate_register(3, 10_000_000, 100, 10_000);
        write_jsonl(&big, &dir.join("register-10m.jsonl"))?;
    }
    Ok(())
}
