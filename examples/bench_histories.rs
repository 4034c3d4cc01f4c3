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
use faultline::history::Val;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

fn write_jsonl(h: &History, path: &Path) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    h.write_jsonl(&mut w)?;
    w.flush()?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// EDN text for a value: micro-op names become keywords, as Elle writes them.
fn edn(v: &Val, out: &mut String) {
    match v {
        Val::Nil => out.push_str("nil"),
        Val::List(xs) => {
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                match x {
                    Val::Str(s) if i == 0 && (*s == "append" || *s == "r" || *s == "w") => {
                        out.push(':');
                        out.push_str(s);
                    }
                    _ => edn(x, out),
                }
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Writes the history as Jepsen's EDN, one op map per line.
fn write_edn(h: &History, path: &Path) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    let mut line = String::new();
    for op in h.ops() {
        line.clear();
        line.push_str(&format!("{{:index {}", op.index));
        if let Some(t) = op.time.get() {
            line.push_str(&format!(", :time {t}"));
        }
        if let Some(p) = &op.process {
            line.push_str(&format!(", :process {p}"));
        }
        line.push_str(&format!(", :type :{}, :f :{}", op.op_type, op.f));
        if let Some(k) = &op.key {
            line.push_str(", :key ");
            edn(k, &mut line);
        }
        line.push_str(", :value ");
        edn(&op.value, &mut line);
        line.push_str("}\n");
        w.write_all(line.as_bytes())?;
    }
    w.flush()?;
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
