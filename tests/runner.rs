//! `faultline test` end to end: the simulated store's strategies get the
//! verdicts their mechanisms deserve, the process protocol works with the
//! example clients, Ctrl-C and kill -9 leave a usable history.
//!
//! Besides the checkers' verdicts, each sim test looks at the history itself
//! (acknowledged adds missing from the final reads, reads older than a write
//! that finished before them), so a checker bug and a simulator bug cannot
//! hide each other.

use faultline::checker::Verdict;
use faultline::history::{History, OpType, Outcome, Process};
use faultline::runner::{self, progress::ProgressMode, Cancel, RunOptions, RunOutcome};
use faultline::workload::{self, Workload};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Workload {
    workload::load(root().join("workloads").join(name)).expect("workload file loads")
}

fn quiet(runs: &Path) -> RunOptions {
    RunOptions {
        runs_dir: runs.to_path_buf(),
        progress: ProgressMode::Quiet,
        check_time_limit: Some(Duration::from_secs(60)),
        ..RunOptions::default()
    }
}

/// Runs `file` with each seed (concurrently) for `secs` seconds.
fn run_seeds(file: &str, seeds: &[u64], secs: f64) -> Vec<(RunOutcome, History)> {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcomes = rt.block_on(async {
        let mut tasks = Vec::new();
        for &seed in seeds {
            let mut w = load(file);
            w.apply(&workload::Overrides {
                time_limit: Some(secs),
                seed: Some(seed),
                ..Default::default()
            })
            .unwrap();
            let opts = quiet(dir.path());
            tasks.push(tokio::spawn(async move { runner::run(&w, &opts).await }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().expect("run succeeds"));
        }
        out
    });
    outcomes
        .into_iter()
        .map(|o| {
            let h = History::read_file(&o.history_path, None).expect("history parses");
            (o, h)
        })
        .collect()
}

fn verdict_of(o: &RunOutcome, checker: &str) -> Option<Verdict> {
    o.results
        .iter()
        .find(|r| r.checker == checker)
        .map(|r| r.verdict)
}

/// Checkers that ran (were available) must not contradict `expected`.
fn assert_no_checker_says(o: &RunOutcome, bad: Verdict) {
    for r in &o.results {
        assert_ne!(
            r.verdict, bad,
            "{}: {} — {}\n{}",
            r.checker, r.verdict, r.summary, r.explanation
        );
    }
}

fn key_of(v: &Option<faultline::history::Val>) -> String {
    v.as_ref().map(|k| k.to_string()).unwrap_or_default()
}

/// The position of the nemesis's final `heal-all`: after it come the final reads.
fn heal_position(h: &History) -> usize {
    h.ops()
        .iter()
        .position(|o| o.f == "heal-all" && o.process.as_ref().is_some_and(|p| p.is_nemesis()))
        .expect("the run healed its faults")
}

/// For sets: (acknowledged adds, acknowledged adds missing from some final
/// read, keys whose final reads differ between nodes).
fn set_losses(h: &History) -> (usize, usize, usize) {
    let heal = heal_position(h);
    let ops = h.operations().unwrap();
    let mut acked: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut finals: HashMap<String, Vec<BTreeSet<String>>> = HashMap::new();
    for o in ops {
        if o.outcome != Outcome::Ok {
            continue;
        }
        let k = key_of(&o.key);
        match o.f.as_str() {
            "add" => {
                acked.entry(k).or_default().insert(o.input.to_string());
            }
            "read" if o.invoke() > heal => {
                let s = o
                    .output
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                finals.entry(k).or_default().push(s);
            }
            _ => {}
        }
    }
    let mut lost = BTreeSet::new();
    let mut divergent = 0;
    for (k, adds) in &acked {
        let reads = finals
            .get(k)
            .unwrap_or_else(|| panic!("key {k} has no final read"));
        for r in reads {
            for a in adds.difference(r) {
                lost.insert((k.clone(), a.clone()));
            }
        }
        if reads.iter().any(|r| r != &reads[0]) {
            divergent += 1;
        }
    }
    let total = acked.values().map(|s| s.len()).sum();
    (total, lost.len(), divergent)
}

/// For registers with unique values: reads that returned a value (or the
/// initial null) although a later-ordered write had already completed
/// before the read began. Such a read is stale under any linearization.
fn provably_stale_reads(h: &History) -> usize {
    let ops = h.operations().unwrap();
    // key → [(invoke, complete, value)] of acknowledged writes.
    let mut writes: HashMap<String, Vec<(usize, usize, String)>> = HashMap::new();
    for o in ops {
        if o.outcome != Outcome::Ok {
            continue;
        }
        let v = match o.f.as_str() {
            "write" => o.input.to_string(),
            "cas" => o.input.get(1).map(|v| v.to_string()).unwrap_or_default(),
            _ => continue,
        };
        writes
            .entry(key_of(&o.key))
            .or_default()
            .push((o.invoke(), o.complete().unwrap(), v));
    }
    let mut stale = 0;
    for o in ops {
        if o.f != "read" || o.outcome != Outcome::Ok {
            continue;
        }
        let Some(ws) = writes.get(&key_of(&o.key)) else {
            continue;
        };
        let read = o.output.to_string();
        // When the write of the value read ended (null: before everything).
        let Some(src_end) = (if o.output.is_null() {
            Some(0)
        } else {
            ws.iter().find(|w| w.2 == read).map(|w| w.1)
        }) else {
            continue; // from an indeterminate write
        };
        if ws
            .iter()
            .any(|w| w.2 != read && w.0 > src_end && w.1 < o.invoke())
        {
            stale += 1;
        }
    }
    stale
}

/// Jepsen's process rule, checked on the recorded history: a process whose
/// op ended `info` never invokes again, and its worker continues as
/// `process + concurrency`.
fn assert_process_rule(h: &History, concurrency: i64) {
    let mut retired = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for o in h.ops() {
        let Some(p) = o.process.and_then(Process::as_id) else {
            continue;
        };
        if o.op_type == OpType::Invoke {
            assert!(!retired.contains(&p), "process {p} invoked after info");
            seen.insert(p);
        }
        if o.op_type == OpType::Info {
            retired.insert(p);
        }
    }
    h.operations().expect("history pairs");
    let main_phase = &h.ops()[..heal_position(h)];
    let mut last_info_of_worker: BTreeMap<i64, i64> = BTreeMap::new();
    for o in main_phase {
        if let (Some(p), OpType::Info) = (o.process.and_then(Process::as_id), o.op_type) {
            last_info_of_worker.insert(p % concurrency, p);
        }
    }
    for (w, p) in last_info_of_worker {
        // Unless the run ended right then, the successor process shows up.
        if seen.contains(&(p + concurrency)) {
            continue;
        }
        let later = main_phase
            .iter()
            .rev()
            .take(200)
            .any(|o| o.process == Some(Process::id(p)) && o.op_type == OpType::Info);
        assert!(
            later,
            "worker {w}: process {p} ended info and no {} followed",
            p + concurrency
        );
    }
}

fn nemesis_faults(h: &History) -> BTreeSet<String> {
    h.nemesis_ops().map(|o| o.f.to_string()).collect()
}

const SEEDS: [u64; 3] = [1, 2, 3];
const SECS: f64 = 4.0;

/// The overall verdict and exit code, and each named checker's verdict.
fn assert_verdicts(o: &RunOutcome, overall: Verdict, checkers: &[(&str, Verdict)]) {
    assert_eq!(o.verdict, overall, "{:#?}", o.results);
    assert_eq!(o.exit_code(), overall.exit_code());
    for (c, v) in checkers {
        assert_eq!(verdict_of(o, c), Some(*v), "{c}: {:#?}", o.results);
    }
}

#[test]
fn sim_leader_quorum_is_linearizable() {
    for (o, h) in run_seeds("sim-leader-quorum.toml", &SEEDS, SECS) {
        use Verdict::Valid;
        let all_valid = [
            ("linearizable", Valid),
            ("stale-read", Valid),
            ("session", Valid),
        ];
        assert_verdicts(&o, Valid, &all_valid);
        assert_eq!(provably_stale_reads(&h), 0);
        assert!(o.stats.ok > 500, "{:?}", o.stats);
        assert!(o.stats.faults >= 2, "{:?}", o.stats);
        assert!(nemesis_faults(&h).contains("heal-all"));
        assert_process_rule(&h, 10);
    }
}

#[test]
fn sim_read_local_reads_stale() {
    for (o, h) in run_seeds("sim-read-local.toml", &SEEDS, SECS) {
        use Verdict::Invalid;
        assert_verdicts(
            &o,
            Invalid,
            &[("linearizable", Invalid), ("stale-read", Invalid)],
        );
        assert!(
            provably_stale_reads(&h) > 0,
            "the history shows stale reads"
        );
    }
}

#[test]
fn sim_active_active_lww_loses_writes() {
    for (o, h) in run_seeds("sim-active-active-lww.toml", &SEEDS, SECS) {
        let (acked, lost, divergent) = set_losses(&h);
        assert!(acked > 500, "{acked}");
        assert!(lost > 0, "last-writer-wins lost no add out of {acked}");
        // Replication still converges: every node has the same (wrong) set.
        assert_eq!(divergent, 0);
        assert_verdicts(&o, Verdict::Invalid, &[("lost-write", Verdict::Invalid)]);
    }
}

#[test]
fn sim_crdt_keeps_every_add_and_converges() {
    for (o, h) in run_seeds("sim-crdt.toml", &SEEDS, SECS) {
        let (acked, lost, divergent) = set_losses(&h);
        assert!(acked > 500, "{acked}");
        assert_eq!(lost, 0, "the CRDT lost adds");
        assert_eq!(divergent, 0, "replicas did not converge");
        assert_verdicts(&o, Verdict::Valid, &[("lost-write", Verdict::Valid)]);
        assert!(o.stats.faults >= 2);
    }
}

#[test]
fn sim_failover_unsafe_loses_writes() {
    for (o, h) in run_seeds("sim-failover-unsafe.toml", &SEEDS, SECS) {
        let (acked, lost, divergent) = set_losses(&h);
        assert!(lost > 0, "unsafe failover lost no add out of {acked}");
        assert_eq!(divergent, 0);
        assert_verdicts(&o, Verdict::Invalid, &[("lost-write", Verdict::Invalid)]);
    }
}

#[test]
fn sim_failover_fenced_is_linearizable() {
    for (o, h) in run_seeds("sim-failover-fenced.toml", &SEEDS, SECS) {
        use Verdict::Valid;
        let all_valid = [
            ("linearizable", Valid),
            ("stale-read", Valid),
            ("session", Valid),
        ];
        assert_verdicts(&o, Valid, &all_valid);
        assert_eq!(provably_stale_reads(&h), 0);
        assert!(o.stats.ok > 500, "{:?}", o.stats);
        assert_process_rule(&h, 10);
    }
}

#[test]
fn sim_list_append_through_a_leader_is_serializable() {
    for (o, _) in run_seeds("sim-leader-quorum-append.toml", &[1, 2], 3.0) {
        use Verdict::Valid;
        assert_verdicts(&o, Valid, &[("elle", Valid), ("lost-write", Valid)]);
        assert!(o.stats.ok > 300, "{:?}", o.stats);
    }
}

#[test]
fn sim_list_append_last_writer_wins_loses_appends() {
    for (o, _) in run_seeds("sim-active-active-lww-append.toml", &[1, 2], 3.0) {
        use Verdict::Invalid;
        assert_verdicts(&o, Invalid, &[("elle", Invalid), ("lost-write", Invalid)]);
    }
}

#[test]
fn run_writes_results_and_latest_link() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = load("sim-leader-quorum.toml");
    w.apply(&workload::Overrides {
        time_limit: Some(1.0),
        ..Default::default()
    })
    .unwrap();
    let o = runner::run_blocking(&w, &quiet(dir.path())).unwrap();
    assert!(o.run_dir.starts_with(dir.path().join("sim-leader-quorum")));
    let latest = std::fs::canonicalize(dir.path().join("latest")).unwrap();
    assert_eq!(latest, std::fs::canonicalize(&o.run_dir).unwrap());
    let results: Value = serde_json::from_slice(&std::fs::read(&o.results_path).unwrap()).unwrap();
    assert_eq!(results["verdict"], Value::String(o.verdict.to_string()));
    assert_eq!(results["seed"], 1);
    assert!(results["results"].as_array().unwrap().len() >= 2);
    assert!(o.run_dir.join("workload.toml").exists());
    let s = runner::summary(&w, &o);
    assert!(s.contains("linearizable") && s.contains("verdict:"), "{s}");
}

#[test]
fn cancel_stops_heals_writes_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    // An hour of simulated time: far more than the 1.5 s of wall time
    // before the cancel can cover, even in virtual time.
    let mut w = load("sim-failover-fenced.toml");
    w.apply(&workload::Overrides {
        time_limit: Some(3600.0),
        ..Default::default()
    })
    .unwrap();
    let cancel = Cancel::new();
    let opts = RunOptions {
        cancel: cancel.clone(),
        ..quiet(dir.path())
    };
    let started = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let o = rt.block_on(async {
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            c.cancel();
        });
        runner::run(&w, &opts).await.unwrap()
    });
    assert!(o.cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(o.stats.main_seconds < 3600.0, "{}", o.stats.main_seconds);
    let h = History::read_file(&o.history_path, None).unwrap();
    assert!(h.ops().len() > 100);
    // Healed and recorded; no final reads after a cancel.
    let heal = heal_position(&h);
    assert!(h.ops()[heal..]
        .iter()
        .all(|op| op.process.as_ref().is_some_and(|p| p.is_nemesis())));
    assert!(!o.results.is_empty(), "checked what was recorded");
    assert_eq!(verdict_of(&o, "linearizable"), Some(Verdict::Valid));
}

/// The child side of [`history_survives_kill_9`]: runs a long workload into
/// the directory named by `FAULTLINE_KILL9_RUNS`. Ignored: it only runs when
/// that test starts it (as a separate process, so it can be SIGKILLed).
#[test]
#[ignore = "run by history_survives_kill_9 in a child process"]
fn kill9_child() {
    let runs = std::env::var("FAULTLINE_KILL9_RUNS").expect("started by history_survives_kill_9");
    let mut w = load("sim-leader-quorum.toml");
    // Simulated time runs faster than real time: make it long enough.
    w.duration = Duration::from_secs(3600);
    runner::run_blocking(&w, &quiet(Path::new(&runs))).unwrap();
}

#[test]
fn history_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "runner::kill9_child", "--ignored", "--nocapture"])
        .env("FAULTLINE_KILL9_RUNS", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let path = dir.path().join("latest").join("history.jsonl");
    // Wait for the run to start, then let it record for a while.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < deadline, "the child run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let recording = Duration::from_millis(2500);
    std::thread::sleep(recording);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let h = History::read_file(&path, None).expect("the history of a killed run parses");
    assert!(h.ops().len() > 200, "{}", h.ops().len());
    // Nearly everything reached the file: the last event is recent.
    let last = Duration::from_nanos(h.ops().last().unwrap().time.get().unwrap());
    assert!(
        last + Duration::from_millis(800) > recording,
        "last event at {last:?}"
    );
    // Every invoke but the in-flight ones completed.
    let ops = h.operations().unwrap();
    let open = ops.iter().filter(|o| o.complete().is_none()).count();
    assert!(open <= 10, "{open} open invokes");
}

#[test]
fn process_protocol_with_the_in_memory_client() {
    let dir = tempfile::tempdir().unwrap();
    let w = load("process-mem-register.toml");
    let o = runner::run_blocking(&w, &quiet(dir.path())).unwrap();
    let h = History::read_file(&o.history_path, None).unwrap();
    assert!(o.stats.ok > 100, "{:?}", o.stats);
    assert_eq!(o.stats.info, 0);
    // One worker: its cas always expects what it last wrote, so they succeed.
    assert!(h
        .ops()
        .iter()
        .any(|op| op.f == "cas" && op.op_type == OpType::Ok));
    assert!(h
        .ops()
        .iter()
        .any(|op| op.f == "read" && op.op_type == OpType::Ok && op.value.is_i64()));
    assert_eq!(
        verdict_of(&o, "linearizable"),
        Some(Verdict::Valid),
        "{:?}",
        o.results
    );
}

#[test]
fn process_protocol_client_crash_is_info_and_a_new_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = load("process-mem-register.toml");
    w.concurrency = 2;
    w.duration = Duration::from_secs(3);
    w.process.as_mut().unwrap().command = vec![
        "python3".into(),
        root().join("workloads/mem-client.py").display().to_string(),
        "--crash-after".into(),
        "5".into(),
    ];
    let o = runner::run_blocking(&w, &quiet(dir.path())).unwrap();
    let h = History::read_file(&o.history_path, None).unwrap();
    let infos: Vec<_> = h
        .ops()
        .iter()
        .filter(|o| o.op_type == OpType::Info)
        .collect();
    assert!(
        infos
            .iter()
            .any(|o| o.error() == Some(&Value::String("client command exited".into()))),
        "{infos:?}"
    );
    let procs: BTreeSet<i64> = h
        .ops()
        .iter()
        .filter_map(|o| o.process.and_then(Process::as_id))
        .collect();
    assert!(
        procs.contains(&0) && procs.contains(&1) && procs.contains(&2) && procs.contains(&3),
        "{procs:?}"
    );
    let mut retired = BTreeSet::new();
    for op in h.ops() {
        if let Some(p) = op.process.and_then(Process::as_id) {
            assert!(!(op.op_type == OpType::Invoke && retired.contains(&p)));
            if op.op_type == OpType::Info {
                retired.insert(p);
            }
        }
    }
}

/// Starts redis-server on a free port; fails loudly if it is not installed.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Redis {
    let found = std::process::Command::new("redis-server")
        .arg("--version")
        .output();
    assert!(
        found.is_ok(),
        "redis-server is not installed: this test needs it (apt-get install -y redis-server)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Redis { child, port }
}

#[test]
fn process_protocol_with_real_redis() {
    let redis = start_redis();
    let dir = tempfile::tempdir().unwrap();
    let mut w = load("process-redis-register.toml");
    w.nodes = vec![format!("127.0.0.1:{}", redis.port)];
    w.regions = [(w.nodes[0].clone(), "default".to_string())].into();
    w.duration = Duration::from_secs(3);
    let o = runner::run_blocking(&w, &quiet(dir.path())).unwrap();
    assert!(o.stats.ok > 200, "{:?}", o.stats);
    assert_eq!(o.stats.info, 0, "{:?}", o.stats);
    let h = History::read_file(&o.history_path, None).unwrap();
    assert!(h
        .ops()
        .iter()
        .any(|op| op.f == "read" && op.op_type == OpType::Ok && op.value.is_i64()));
    assert_eq!(
        verdict_of(&o, "linearizable"),
        Some(Verdict::Valid),
        "{:?}",
        o.results
    );
    assert_no_checker_says(&o, Verdict::Invalid);
}
