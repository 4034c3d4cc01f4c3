//! Times the phases of `faultline check FILE` (read, parse, interpret,
//! pair, check) for the performance work: `cargo run --release --example
//! phases -- FILE`.

use faultline::checker::registry::{run_checks, CheckOptions};
use faultline::checker::Budget;
use faultline::history::{History, Interpretation};
use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: phases FILE");
        std::process::exit(2);
    };
    let t = Instant::now();
    let text = std::fs::read_to_string(&path).expect("read");
    let read = t.elapsed();
    let t = Instant::now();
    let mut h = History::parse_str(&text, &path, None).expect("parse");
    let parse = t.elapsed();
    drop(text);
    let t = Instant::now();
    h.interpret(&Interpretation::default()).expect("interpret");
    let interpret = t.elapsed();
    let t = Instant::now();
    let n = h.operations().map(|o| o.len()).unwrap_or(0);
    let pair = t.elapsed();
    let t = Instant::now();
    let results = run_checks(&h, &CheckOptions::default(), &Budget::default()).expect("check");
    let check = t.elapsed();
    println!(
        "{path}: {} events, {n} ops; read {read:?}, parse {parse:?}, interpret {interpret:?}, pair {pair:?}, check {check:?}",
        h.ops().len()
    );
    for r in results {
        println!("  {} {}", r.checker, r.verdict);
    }
}
