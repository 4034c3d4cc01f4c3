//! Runner throughput against the simulated store: 16 workers, no rate limit,
//! the history streamed to disk. Prints ops/s for a few short runs.
//!
//! `cargo bench --bench runner` (set FAULTLINE_BENCH_SECONDS to change the
//! length of each run; default 3).

fn main() {
    let seconds: f64 = std::env::var("FAULTLINE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create a temporary directory: {e}");
            std::process::exit(1);
        }
    };
    for concurrency in [16, 16, 16] {
        match faultline::runner::bench_sim(concurrency, seconds, dir.path()) {
            Ok(s) => println!(
                "runner/sim leader-quorum, {concurrency} workers: {:.0} ops/s ({} ops in {:.2} s, {} history events written)",
                s.ops_per_second, s.ops, s.main_seconds, s.events
            ),
            Err(e) => {
                eprintln!("bench failed: {e:#}");
                std::process::exit(1);
            }
        }
    }
}
