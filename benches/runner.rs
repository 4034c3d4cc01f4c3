//! Simulator throughput: each shipped sim workload runs for 60 seconds of
//! simulated time (virtual clock, history streamed to disk, no checking).
//! Prints simulated ops, wall seconds and simulated ops per wall second.
//!
//! `sim-leader-quorum-lossy` is sim-leader-quorum with 10% of the messages
//! between nodes lost, 3 ms of jitter and 0–2 ms of client think time.
//!
//! `cargo bench --bench runner` (FAULTLINE_BENCH_SECONDS changes the
//! simulated length; default 60).

use std::path::PathBuf;

fn main() {
    let seconds: f64 = std::env::var("FAULTLINE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60.0);
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create a temporary directory: {e}");
            std::process::exit(1);
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workloads");
    // The same as sim-leader-quorum over lossy, jittery links with thinking
    // clients (its [sim] table is the file's last table).
    let lossy = dir.path().join("sim-leader-quorum-lossy.toml");
    let base = std::fs::read_to_string(root.join("sim-leader-quorum.toml")).unwrap_or_default();
    if let Err(e) = std::fs::write(
        &lossy,
        format!("{base}\njitter_ms = 3.0\ndrop_rate = 0.1\nthink_time_ms = [0, 2]\n"),
    ) {
        eprintln!("cannot write {}: {e}", lossy.display());
        std::process::exit(1);
    }
    for name in [
        "sim-leader-quorum",
        "sim-read-local",
        "sim-active-active-lww",
        "sim-crdt",
        "sim-failover-unsafe",
        "sim-failover-fenced",
        "sim-leader-quorum-append",
        "sim-leader-quorum-lossy",
    ] {
        let path = if name.ends_with("-lossy") {
            lossy.clone()
        } else {
            root.join(format!("{name}.toml"))
        };
        match faultline::runner::bench_sim(&path, seconds, dir.path()) {
            Ok(s) => println!(
                "runner/{name}: {:.0} simulated s in {:.2} wall s: {} ops, {:.0} simulated ops/wall s, {} events",
                s.main_seconds,
                s.wall_seconds,
                s.ops,
                s.ops as f64 / s.wall_seconds.max(1e-9),
                s.events
            ),
            Err(e) => {
                eprintln!("bench {name} failed: {e:#}");
                std::process::exit(1);
            }
        }
    }
}
