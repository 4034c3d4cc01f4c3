//! Ingest speed of one history file in CPU time: the file's text is read
//! into memory once, then parsed seven times with `History::parse_str`, and
//! the best parse is reported in MB/s of text per CPU second of the process.
//! CPU time, not wall time, so the figure holds on a busy machine too; run
//! with `RAYON_NUM_THREADS=1` for the speed of one core.
//!
//!     cargo run --release --example ingest_cpu -- FILE

use faultline::history::History;

/// The allocator the `faultline` binary uses, so the figures are its figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU seconds used by the process so far (all its threads).
fn cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

fn main() {
    faultline::allocator::configure();
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: ingest_cpu FILE");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mut best = f64::MAX;
    for _ in 0..7 {
        let before = cpu_seconds();
        let h = match History::parse_str(&text, &path, None) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(254);
            }
        };
        let cpu = cpu_seconds() - before;
        best = best.min(cpu);
        eprintln!(
            "{} events: {cpu:.3} CPU s, {:.0} MB/s",
            h.ops().len(),
            text.len() as f64 / cpu / 1e6
        );
        drop(h);
    }
    println!(
        "{path}: best {:.0} MB/s of text per CPU second",
        text.len() as f64 / best / 1e6
    );
}
