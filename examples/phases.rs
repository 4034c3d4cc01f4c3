//! Times the phases of `faultline check FILE` (read and parse, interpret,
//! pair, check) for the performance work: `cargo run --release --example
//! phases -- FILE`.

use faultline::checker::registry::{run_checks, CheckOptions};
use faultline::checker::Budget;
use faultline::history::{History, Interpretation};
use std::time::Instant;

/// The allocator the `faultline` binary uses, so the figures are its figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Current and peak resident memory, from /proc (Linux).
fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    format!("rss {} MB, peak {} MB", field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    faultline::allocator::configure();
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: phases FILE");
        std::process::exit(2);
    };
    let t = Instant::now();
    let mut h = History::read_file(std::path::Path::new(&path), None).expect("read");
    let parse = t.elapsed();
    eprintln!("read and parsed: {}", rss());
    let t = Instant::now();
    h.interpret(&Interpretation::default()).expect("interpret");
    let interpret = t.elapsed();
    let t = Instant::now();
    let n = h.operations().map(|o| o.len()).unwrap_or(0);
    let pair = t.elapsed();
    eprintln!("paired: {}", rss());
    let t = Instant::now();
    let results = run_checks(&h, &CheckOptions::default(), &Budget::default()).expect("check");
    let check = t.elapsed();
    eprintln!("checked: {}", rss());
    println!(
        "{path}: {} events, {n} ops; read and parse {parse:?}, interpret {interpret:?}, pair {pair:?}, check {check:?}",
        h.ops().len()
    );
    for r in results {
        println!("  {} {}", r.checker, r.verdict);
    }
}
