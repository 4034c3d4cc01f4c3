//! The simulator in virtual time: same seed, same bytes; the strategies keep
//! their verdicts across seeds; `--test-count` and `shrink` end to end
//! through the binary.

use faultline::checker::Verdict;
use faultline::history::{History, OpType};
use faultline::runner::{self, explore, progress::ProgressMode, RunOptions};
use faultline::workload::{self, Overrides, Workload};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str, seconds: f64, seed: u64) -> Workload {
    let mut w = workload::load(root().join("workloads").join(name)).expect("workload file loads");
    w.apply(&Overrides {
        time_limit: Some(seconds),
        seed: Some(seed),
        ..Default::default()
    })
    .unwrap();
    w
}

fn quiet(runs: &Path) -> RunOptions {
    RunOptions {
        runs_dir: runs.to_path_buf(),
        progress: ProgressMode::Quiet,
        check_time_limit: Some(Duration::from_secs(60)),
        ..RunOptions::default()
    }
}

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run faultline")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn client_ops(h: &History) -> usize {
    h.ops()
        .iter()
        .filter(|o| {
            o.op_type == OpType::Invoke && !o.process.as_ref().is_some_and(|p| p.is_nemesis())
        })
        .count()
}

#[test]
fn same_seed_gives_a_byte_identical_history() {
    let dir = tempfile::tempdir().unwrap();
    // Faults of every kind, elections, clock skew, link jitter, lost
    // messages, client think time: everything seeded.
    let w = load("sim-failover-fenced.toml", 3.0, 7);
    assert!(
        w.sim.jitter_ms > 0.0 && w.sim.drop_rate > 0.0 && w.sim.think_time_ms[1] > 0.0,
        "the workload exercises every random choice: {:?}",
        w.sim
    );
    let a = runner::run_blocking(&w, &quiet(dir.path())).unwrap();
    // The second run starts from inside another (multi-threaded) runtime:
    // the simulator still gets its own deterministic one.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b = rt.block_on(runner::run(&w, &quiet(dir.path()))).unwrap();
    let (ha, hb) = (
        std::fs::read(&a.history_path).unwrap(),
        std::fs::read(&b.history_path).unwrap(),
    );
    assert!(ha.len() > 10_000, "{} bytes", ha.len());
    assert!(ha == hb, "two runs with seed 7 differ");
    let h = History::read_file(&a.history_path, None).unwrap();
    assert!(h.nemesis_ops().count() > 4, "faults happened");
    // Times are virtual: the main phase lasted the simulated 3 s, plus
    // at most one operation timeout (0.5 s) for the last operations in
    // flight (lost messages make some wait that long), the same in both.
    assert!(
        (3.0..=3.51).contains(&a.stats.main_seconds),
        "{}",
        a.stats.main_seconds
    );
    assert_eq!(a.stats.main_seconds, b.stats.main_seconds);

    let c = runner::run_blocking(
        &load("sim-failover-fenced.toml", 3.0, 8),
        &quiet(dir.path()),
    )
    .unwrap();
    assert!(
        std::fs::read(&c.history_path).unwrap() != ha,
        "seeds 7 and 8 gave the same history"
    );

    let results: Value = serde_json::from_slice(&std::fs::read(&a.results_path).unwrap()).unwrap();
    assert_eq!(results["seed"], 7);
    assert!(results["stats"]["wall_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(
        results["stats"]["main_seconds"].as_f64().unwrap(),
        a.stats.main_seconds
    );
    assert_eq!(results["deterministic"], true);
    assert!(
        results["sim_dropped_messages"].as_u64().unwrap() > 0,
        "messages were lost: {}",
        results["sim_dropped_messages"]
    );
    let replay = results["replay"].as_str().unwrap();
    assert!(
        replay.contains(
            "sim-failover-fenced.toml --seed 7 --time-limit 3 --concurrency 10 --rate 2000"
        ),
        "{replay}"
    );
}

#[test]
fn a_minute_of_simulated_time_is_fast() {
    let dir = tempfile::tempdir().unwrap();
    let stats = runner::bench_sim(
        &root().join("workloads/sim-read-local.toml"),
        60.0,
        dir.path(),
    )
    .unwrap();
    assert!(
        (stats.main_seconds - 60.0).abs() < 0.01,
        "{}",
        stats.main_seconds
    );
    assert!(stats.ops > 60_000, "{stats:?}");
    // Generous: the benchmark reports the real figure (about 1 s).
    assert!(stats.wall_seconds < 30.0, "{stats:?}");
}

/// Every strategy keeps its verdict over several seeds.
#[test]
fn strategies_keep_their_verdicts_across_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("sim-leader-quorum.toml", Verdict::Valid),
        ("sim-read-local.toml", Verdict::Invalid),
        ("sim-active-active-lww.toml", Verdict::Invalid),
        ("sim-crdt.toml", Verdict::Valid),
        ("sim-failover-unsafe.toml", Verdict::Invalid),
        ("sim-failover-fenced.toml", Verdict::Valid),
    ];
    for (file, expected) in cases {
        let w = load(file, 3.0, 0);
        let runs = explore::explore(&w, 100, 4, &quiet(dir.path()), |_| {});
        assert_eq!(runs.len(), 4, "{file}");
        for r in &runs {
            let o = r.outcome.as_ref().unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(o.verdict, expected, "{file} seed {}: {}", r.seed, r.line());
            assert!(o.ops > 1000, "{file}: {}", r.line());
        }
        let seeds: Vec<u64> = runs.iter().map(|r| r.seed).collect();
        assert_eq!(
            seeds,
            vec![100, 101, 102, 103],
            "{file}: lines in seed order"
        );
    }
}

/// Unreliable links and thinking clients change no strategy's verdict:
/// lost replication, vote and forwarding messages are retransmitted or
/// time out, so the safe strategies stay safe and the unsafe ones still
/// fail. Rough settings (10% loss, 3 ms jitter) over several seeds.
#[test]
fn lossy_jittery_links_keep_every_strategy_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("sim-leader-quorum.toml", Verdict::Valid),
        ("sim-leader-quorum-append.toml", Verdict::Valid),
        ("sim-failover-fenced.toml", Verdict::Valid),
        ("sim-crdt.toml", Verdict::Valid),
        ("sim-read-local.toml", Verdict::Invalid),
        ("sim-active-active-lww.toml", Verdict::Invalid),
        ("sim-failover-unsafe.toml", Verdict::Invalid),
    ];
    for (file, expected) in cases {
        let mut w = load(file, 3.0, 0);
        w.sim.jitter_ms = 3.0;
        w.sim.drop_rate = 0.1;
        w.sim.think_time_ms = [0.0, 2.0];
        let runs = explore::explore(&w, 20, 3, &quiet(dir.path()), |_| {});
        for r in &runs {
            let o = r.outcome.as_ref().unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(o.verdict, expected, "{file} seed {}: {}", r.seed, r.line());
            let results: Value =
                serde_json::from_slice(&std::fs::read(o.run_dir.join("results.json")).unwrap())
                    .unwrap();
            let ok = results["stats"]["ok"].as_u64().unwrap();
            assert!(ok > 300, "{file} seed {}: {ok} ok", r.seed);
            let dropped = results["sim_dropped_messages"].as_u64().unwrap();
            assert!(dropped > 100, "{file} seed {}: {dropped} dropped", r.seed);
        }
    }
}

#[test]
fn test_count_runs_consecutive_seeds_and_summarises() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().to_str().unwrap();
    let o = faultline(&[
        "test",
        "workloads/sim-read-local.toml",
        "--test-count",
        "3",
        "--seed",
        "5",
        "--time-limit",
        "1",
        "--runs-dir",
        runs,
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    for seed in 5..8 {
        assert!(out.contains(&format!("seed {seed}: invalid")), "{out}");
    }
    assert!(out.contains("3 runs: 0 valid, 3 invalid"), "{out}");
    assert!(out.contains("failing seeds: 5 6 7"), "{out}");
    assert!(out.contains("shortest failing run: seed"), "{out}");
    assert!(
        out.contains("replay: faultline test workloads/sim-read-local.toml --seed"),
        "{out}"
    );
    let dirs = std::fs::read_dir(dir.path().join("sim-read-local"))
        .unwrap()
        .count();
    assert_eq!(dirs, 3, "one run directory per seed");

    // A valid workload: exit 0; seeds from 0 without --seed.
    let o = faultline(&[
        "test",
        "workloads/sim-crdt.toml",
        "--test-count",
        "2",
        "--time-limit",
        "1",
        "--runs-dir",
        runs,
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains("seed 0: valid") && out.contains("seed 1: valid"),
        "{out}"
    );
    assert!(!out.contains("failing seeds"), "{out}");

    let o = faultline(&["test", "workloads/sim-crdt.toml", "--test-count", "0"]);
    assert_eq!(code(&o), 254, "{}", text(&o));
}

/// `test` then `shrink RUN_DIR`: the shrunk run is small, fails the same
/// checker, and replays byte for byte from the workload file it wrote.
fn shrink_case(file: &str, checker: &str) {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().to_str().unwrap();
    let o = faultline(&["test", &format!("workloads/{file}"), "--runs-dir", runs]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let run_dir = std::fs::canonicalize(dir.path().join("latest")).unwrap();
    let o = faultline(&["shrink", run_dir.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains(&format!("still {checker} invalid")), "{out}");
    assert!(out.contains("operations") && out.contains("->"), "{out}");
    let shrunk = run_dir.join("shrunk");
    // Every shipped failing workload has three nodes and fails with two
    // (a leader and a replica, or two writers).
    let small = workload::load(shrunk.join("workload.toml")).unwrap();
    assert_eq!(small.nodes.len(), 2, "{file}\n{out}");
    assert!(out.contains("nodes        3 -> 2"), "{out}");
    let h = History::read_file(&shrunk.join("history.jsonl"), None).unwrap();
    let n = client_ops(&h);
    assert!(n <= 50 && n > 0, "{file}: {n} operations\n{out}");
    let results: Value =
        serde_json::from_slice(&std::fs::read(shrunk.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["verdict"], "invalid");
    assert!(results["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["checker"] == checker && r["verdict"] == "invalid"));
    assert!(!shrunk.join(".attempts").exists(), "scratch runs removed");

    // Replaying the shrunk workload gives the same history, byte for byte.
    let replay_runs = dir.path().join("replay");
    let o = faultline(&[
        "test",
        shrunk.join("workload.toml").to_str().unwrap(),
        "--runs-dir",
        replay_runs.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let again = std::fs::read(replay_runs.join("latest/history.jsonl")).unwrap();
    assert!(
        again == std::fs::read(shrunk.join("history.jsonl")).unwrap(),
        "{file}: the shrunk run does not replay"
    );
}

#[test]
fn shrink_read_local_to_a_few_operations() {
    shrink_case("sim-read-local.toml", "linearizable");
}

#[test]
fn shrink_active_active_lww_to_a_few_operations() {
    shrink_case("sim-active-active-lww.toml", "lost-write");
}

#[test]
fn shrink_failover_unsafe_to_a_few_operations() {
    shrink_case("sim-failover-unsafe.toml", "lost-write");
}

/// Shrinking removes nodes while the failure stays, and keeps what the
/// remaining faults need: a region split keeps two regions.
#[test]
fn shrink_removes_nodes_but_keeps_two_regions_for_a_region_split() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("five.toml");
    std::fs::write(
        &file,
        r#"db = "sim"
nodes = ["n1", "n2", "n3", "n4", "n5"]
regions = { n1 = "us", n2 = "us", n3 = "eu", n4 = "eu", n5 = "ap" }
workload = "register"
keys = 4
concurrency = 10
rate = 2000
duration = 2
timeout = 0.5
[mix]
read = 0.5
write = 0.5
[nemesis]
faults = ["region-split"]
interval = 0.5
[sim]
strategy = "read-local"
"#,
    )
    .unwrap();
    let runs = dir.path().join("runs");
    let o = faultline(&[
        "test",
        file.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let run_dir = std::fs::canonicalize(runs.join("latest")).unwrap();
    let o = faultline(&["shrink", run_dir.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let small = workload::load(run_dir.join("shrunk/workload.toml")).unwrap();
    let n = small.nodes.len();
    assert!((1..5).contains(&n), "{n} nodes\n{out}");
    assert!(out.contains(&format!("nodes        5 -> {n}")), "{out}");
    assert!(
        out.contains("nodes 5 -> 4 (without"),
        "each step is listed: {out}"
    );
    let splits = small
        .nemesis
        .as_ref()
        .is_some_and(|nm| nm.faults.contains(&workload::FaultKind::RegionSplit));
    let regions: std::collections::BTreeSet<&String> = small.regions.values().collect();
    assert!(!splits || regions.len() >= 2, "{:?}\n{out}", small.regions);
    assert_eq!(
        small.regions.len(),
        n,
        "every remaining node keeps its region"
    );
    // The stale read needs a replica: never down to one node.
    assert!(n >= 2, "{out}");
}

#[test]
fn shrink_refuses_a_valid_run_and_a_bad_directory() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().to_str().unwrap();
    let o = faultline(&[
        "test",
        "workloads/sim-crdt.toml",
        "--time-limit",
        "0.5",
        "--runs-dir",
        runs,
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let run_dir = dir.path().join("latest");
    let o = faultline(&["shrink", run_dir.to_str().unwrap()]);
    assert_eq!(code(&o), 254, "{}", text(&o));
    assert!(text(&o).contains("nothing to shrink"), "{}", text(&o));
    let o = faultline(&["shrink", runs]);
    assert_eq!(code(&o), 254, "{}", text(&o));
    assert!(text(&o).contains("results.json"), "{}", text(&o));
}

#[test]
fn shrink_a_recorded_history() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().to_str().unwrap();
    // A recorded history with a stale read somewhere in 700 operations.
    let o = faultline(&[
        "test",
        "workloads/sim-read-local.toml",
        "--time-limit",
        "0.2",
        "--seed",
        "3",
        "--runs-dir",
        runs,
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let input = dir.path().join("recorded.jsonl");
    std::fs::copy(dir.path().join("latest/history.jsonl"), &input).unwrap();
    let before = client_ops(&History::read_file(&input, None).unwrap());
    let out = dir.path().join("small.jsonl");
    let o = faultline(&[
        "shrink",
        input.to_str().unwrap(),
        "--workload",
        "register",
        "--checker",
        "linearizable",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let after = client_ops(&History::read_file(&out, None).unwrap());
    assert!(
        after < 10 && after < before,
        "{before} -> {after}\n{}",
        text(&o)
    );
    // The shrunk history fails `check` the same way.
    let o = faultline(&["check", out.to_str().unwrap(), "--model", "register"]);
    assert_eq!(code(&o), 1, "{}", text(&o));

    // A valid history: nothing to shrink, exit 0, nothing written.
    let valid = out.with_file_name("valid-small.jsonl");
    let o = faultline(&[
        "shrink",
        "histories/register-valid.jsonl",
        "--model",
        "register",
        "-o",
        valid.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("nothing to shrink"), "{}", text(&o));
    assert!(!valid.exists());
    // Without saying what must fail: a clear error.
    let o = faultline(&["shrink", input.to_str().unwrap()]);
    assert_eq!(code(&o), 254, "{}", text(&o));
    assert!(text(&o).contains("--workload"), "{}", text(&o));
}

/// The simulator's own invariants hold for the strategies that promise
/// them, over several seeds with every kind of fault, and the monitor does
/// see the split brain of the unsafe failover.
#[test]
fn simulator_invariants_one_leader_per_epoch_and_fencing() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "sim-failover-fenced.toml",
        "sim-leader-quorum.toml",
        "sim-leader-quorum-append.toml",
        "sim-read-local.toml",
    ] {
        for seed in 0..3 {
            let o = runner::run_blocking(&load(file, 4.0, seed), &quiet(dir.path())).unwrap();
            assert!(
                o.invariant_violations.is_empty(),
                "{file} seed {seed}: {:?}",
                o.invariant_violations
            );
            let results: Value =
                serde_json::from_slice(&std::fs::read(&o.results_path).unwrap()).unwrap();
            assert_eq!(results["sim_invariant_violations"], serde_json::json!([]));
        }
    }
    // Fenced failover really elects (so "one leader per epoch" was tested):
    // kills and partitions of the leader make new epochs.
    let mut w = load("sim-failover-fenced.toml", 4.0, 0);
    w.nemesis.as_mut().unwrap().faults = vec![workload::FaultKind::Kill];
    let o = runner::run_blocking(&w, &quiet(dir.path())).unwrap();
    assert!(
        o.invariant_violations.is_empty(),
        "{:?}",
        o.invariant_violations
    );
    // Unsafe failover: a replica promotes itself while the old leader still
    // acknowledges writes; on heal those are rolled back, which the monitor
    // sees as an index committed from two epochs.
    let mut seen = 0;
    for seed in 0..4 {
        let o = runner::run_blocking(
            &load("sim-failover-unsafe.toml", 4.0, seed),
            &quiet(dir.path()),
        )
        .unwrap();
        seen += o.invariant_violations.len();
    }
    assert!(
        seen > 0,
        "the monitor never saw the unsafe failover's split brain"
    );
}
