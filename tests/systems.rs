//! The systems table: every `db` gets a backend or a clear reason, and a
//! run whose system says it did not provoke the fault it needs answers
//! `unknown`, never `valid`. (The real servers are driven end to end by
//! `.ci/systems-e2e.sh`, which needs root and a local cluster.)

use faultline::checker::Verdict;
use faultline::runner::{self, progress::ProgressMode, RunOptions};
use faultline::systems::{self, Provocation};
use faultline::workload;
use std::sync::Arc;
use std::time::Duration;

struct Said(Result<String, String>);

impl Provocation for Said {
    fn observed(&self) -> Result<String, String> {
        self.0.clone()
    }
}

/// A short, healthy simulated run (valid on its own) with `said` as the
/// system's account of what it provoked.
fn sim_run_with(said: Result<String, String>) -> runner::RunOutcome {
    let text = "db = \"sim\"\nnodes = 3\nworkload = \"register\"\nconcurrency = 3\nrate = 200\n\
                duration = 1\ntimeout = 0.5\n[mix]\nread = 0.5\nwrite = 0.5\n\
                [sim]\nstrategy = \"leader-quorum\"\n";
    let w = workload::parse(text, "provoked.toml", "provoked").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        runs_dir: dir.path().to_path_buf(),
        progress: ProgressMode::Quiet,
        check_time_limit: Some(Duration::from_secs(60)),
        ..RunOptions::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut b = systems::backend_for(&w).unwrap();
        b.provocation = Some(Arc::new(Said(said)));
        runner::run_with(&w, &opts, b).await.unwrap()
    })
}

#[test]
fn a_run_that_provoked_nothing_is_unknown_not_valid() {
    let o = sim_run_with(Err("the primary was never isolated".into()));
    let p = o
        .results
        .iter()
        .find(|r| r.checker == "provoked")
        .expect("a `provoked` result");
    assert_eq!(p.verdict, Verdict::Unknown);
    assert!(p.summary.contains("never isolated"), "{}", p.summary);
    // The other checkers found nothing, and still the run is not valid.
    assert!(o
        .results
        .iter()
        .filter(|r| r.checker != "provoked")
        .all(|r| r.verdict == Verdict::Valid));
    assert_eq!(o.verdict, Verdict::Unknown);
    assert_eq!(o.exit_code(), 2);

    let o = sim_run_with(Ok("1 failover".into()));
    assert_eq!(o.verdict, Verdict::Valid);
    assert_eq!(o.exit_code(), 0);
}

#[test]
fn real_systems_without_a_cluster_say_how_to_get_one() {
    for (db, extra) in [
        ("postgres", "workload = \"list-append\"\n"),
        ("redis", "workload = \"set\"\n"),
        ("patroni", "workload = \"set\"\n"),
        ("etcd", "workload = \"register\"\n"),
    ] {
        let text = format!(
            "db = \"{db}\"\nnodes = 3\n{extra}[{db}]\nnodes_file = \"/nonexistent/nodes.toml\"\n"
        );
        let w = workload::parse(&text, "x.toml", "x").unwrap();
        let msg = match systems::backend_for(&w) {
            Err(e) => format!("{e:#}"),
            Ok(_) => panic!("{db}: a missing nodes file must be an error"),
        };
        assert!(msg.contains("cluster up"), "{db}: {msg}");
        assert!(msg.contains(&format!("[{db}] nodes_file")), "{db}: {msg}");
    }
}

#[test]
fn postgres_runs_only_transactions_and_names_bad_levels() {
    let w = workload::parse(
        "db = \"postgres\"\nnodes = 1\nworkload = \"set\"\n",
        "x.toml",
        "x",
    )
    .unwrap();
    let msg = systems::backend_for(&w)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("list-append"), "{msg}");
    let w = workload::parse(
        "db = \"postgres\"\nnodes = 1\nworkload = \"list-append\"\n[postgres]\nisolation = \"snapshot\"\n",
        "x.toml",
        "x",
    )
    .unwrap();
    let msg = systems::backend_for(&w)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("[postgres]") && msg.contains("snapshot"),
        "{msg}"
    );
}

#[test]
fn the_failover_workloads_parse_with_their_fault() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workloads");
    let w = workload::load(root.join("redis-sentinel-failover.toml")).unwrap();
    let faults = &w.nemesis.as_ref().expect("a nemesis").faults;
    assert_eq!(faults, &[workload::FaultKind::IsolatePrimary]);
    for f in [
        "pg-append-serializable.toml",
        "pg-append-repeatable-read.toml",
        "pg-append-read-committed.toml",
        "pg-rw-register-serializable.toml",
    ] {
        let w = workload::load(root.join(f)).unwrap();
        assert_eq!(w.db, workload::DbKind::Postgres, "{f}");
    }
}

#[test]
fn the_patroni_workloads_parse_with_their_fault_and_settings() {
    use faultline::systems::patroni::{PatroniTable, ReadsFrom, Replication};
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workloads");
    for (f, replication, reads, kind) in [
        (
            "pg-failover-async.toml",
            Replication::Async,
            ReadsFrom::Primary,
            workload::WorkloadKind::Set,
        ),
        (
            "pg-failover-sync.toml",
            Replication::Sync,
            ReadsFrom::Primary,
            workload::WorkloadKind::Set,
        ),
        (
            "pg-failover-replica-reads.toml",
            Replication::Async,
            ReadsFrom::Local,
            workload::WorkloadKind::Register,
        ),
        (
            "pg-failover-no-failover.toml",
            Replication::Async,
            ReadsFrom::Primary,
            workload::WorkloadKind::Set,
        ),
    ] {
        let w = workload::load(root.join(f)).unwrap();
        assert_eq!(w.db, workload::DbKind::Patroni, "{f}");
        assert_eq!(w.workload, kind, "{f}");
        let faults = &w.nemesis.as_ref().expect("a nemesis").faults;
        // The failover workloads also kill the primary; the replica-reads
        // and no-failover ones only isolate it.
        let want: &[workload::FaultKind] =
            if f.starts_with("pg-failover-async") || f.starts_with("pg-failover-sync") {
                &[
                    workload::FaultKind::IsolatePrimary,
                    workload::FaultKind::KillPrimary,
                ]
            } else {
                &[workload::FaultKind::IsolatePrimary]
            };
        assert_eq!(faults, want, "{f}");
        let t: PatroniTable = systems::parse_table("patroni", w.patroni.as_ref()).unwrap();
        assert_eq!((t.replication, t.reads), (replication, reads), "{f}");
        // The default store API: the one whose leader-key renewal is a
        // compare-and-swap in Patroni 3.0.2 (see docs/systems.md).
        assert_eq!(t.etcd_api, faultline::systems::patroni::EtcdApi::V2, "{f}");
        t.validate().unwrap();
    }
    // Transactions are the plain `postgres` system's.
    let w = workload::parse(
        "db = \"patroni\"\nnodes = 3\nworkload = \"list-append\"\n",
        "x.toml",
        "x",
    )
    .unwrap();
    let msg = systems::backend_for(&w)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("set and register"), "{msg}");
}
