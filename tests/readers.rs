//! The history readers against the external Porcupine corpus: every etcd log
//! and kv file is read with automatic format detection, and the number of
//! events is checked against an independent count of event lines.

use faultline::history::{Format, History, OpType, Outcome};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/porcupine");
    assert!(
        dir.join("etcd").is_dir() && dir.join("kv").is_dir(),
        "the external corpus is missing: expected {} with etcd/ and kv/ (see the project brief)",
        dir.display()
    );
    dir
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

#[test]
fn every_etcd_log_is_read_as_a_jepsen_log() {
    let logs = files(&corpus().join("etcd"), "log");
    assert_eq!(logs.len(), 103, "expected 103 etcd logs");
    let mut total = 0;
    for path in &logs {
        let text = std::fs::read_to_string(path).expect("readable");
        // Independent count: lines carrying a jepsen.util event.
        let event_lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                l.contains("jepsen.util - ")
                    && [":invoke", ":ok", ":fail", ":info"]
                        .iter()
                        .any(|t| l.split_whitespace().any(|w| w == *t))
            })
            .map(|(i, _)| i + 1)
            .collect();
        if !text.trim().is_empty() {
            assert_eq!(
                Format::detect(&text),
                Format::JepsenLog,
                "{}",
                path.display()
            );
        }
        let h = History::read_file(path, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.ops.len(), event_lines.len(), "{}", path.display());
        assert_eq!(
            h.ops.iter().map(|o| o.line).collect::<Vec<_>>(),
            event_lines,
            "{}",
            path.display()
        );
        let ops = h.operations().unwrap_or_else(|e| panic!("{e}"));
        let invokes = h.ops.iter().filter(|o| o.op_type == OpType::Invoke).count();
        assert_eq!(ops.len(), invokes, "{}", path.display());
        for o in &ops {
            assert!(
                ["read", "write", "cas"].contains(&o.f.as_str()),
                "{}: {}",
                path.display(),
                o.f
            );
            if o.f == "cas" {
                assert!(
                    o.input.as_array().is_some_and(|a| a.len() == 2),
                    "{}: cas input {}",
                    path.display(),
                    o.input
                );
            }
            if o.f == "write" {
                assert!(
                    o.input.is_i64(),
                    "{}: write input {}",
                    path.display(),
                    o.input
                );
            }
        }
        total += h.ops.len();
    }
    // The corpus as shipped: 17,046 lines, every one an event.
    assert_eq!(total, 17046);
    let empty = logs
        .iter()
        .find(|p| p.ends_with("etcd_095.log"))
        .expect("etcd_095.log");
    assert!(History::read_file(empty, None)
        .expect("empty log")
        .ops
        .is_empty());
}

#[test]
fn every_kv_file_is_read_as_edn_with_keys() {
    let kv = files(&corpus().join("kv"), "txt");
    assert_eq!(kv.len(), 6, "expected 6 kv files");
    for path in &kv {
        let text = std::fs::read_to_string(path).expect("readable");
        let map_lines = text
            .lines()
            .filter(|l| l.trim_start().starts_with('{'))
            .count();
        assert!(map_lines > 0, "{}", path.display());
        assert_eq!(Format::detect(&text), Format::Edn, "{}", path.display());
        let h = History::read_file(path, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.ops.len(), map_lines, "{}", path.display());
        assert!(h
            .ops
            .iter()
            .all(|o| o.key.as_ref().is_some_and(|k| k.is_string())));
        let ops = h.operations().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ops.len() * 2,
            h.ops.len(),
            "{}: every invoke completes",
            path.display()
        );
        assert!(ops.iter().all(|o| o.outcome == Outcome::Ok));
        for o in &ops {
            match o.f.as_str() {
                "get" => assert!(
                    o.input.is_null() && o.output.is_string(),
                    "{}",
                    path.display()
                ),
                "put" | "append" => assert!(o.input.is_string(), "{}", path.display()),
                f => panic!("{}: unexpected f {f}", path.display()),
            }
        }
        let clients: std::collections::BTreeSet<_> =
            ops.iter().map(|o| o.process.clone()).collect();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let expected_clients: usize = name[1..3].parse().expect("cNN");
        assert_eq!(clients.len(), expected_clients, "{}", path.display());
    }
}

#[test]
fn jepsen_history_edn_with_nemesis_and_sparse_indices_pairs() {
    // The shape of Jepsen's history.edn: one map per line, :index and :time,
    // nemesis events interleaved, an :info that retires process 1.
    let text = r#"{:index 0, :time 10, :type :invoke, :process 0, :f :txn, :value [[:append 5 1] [:r 5 nil]]}
{:index 1, :time 11, :type :invoke, :process 1, :f :txn, :value [[:r 5 nil]]}
{:index 2, :time 12, :type :info, :process :nemesis, :f :start-partition, :value :majority}
{:index 3, :time 20, :type :ok, :process 0, :f :txn, :value [[:append 5 1] [:r 5 [1]]]}
{:index 5, :time 30, :type :info, :process 1, :f :txn, :value nil, :error :timeout}
{:index 9, :time 40, :type :info, :process :nemesis, :f :stop-partition, :value nil}
"#;
    assert_eq!(Format::detect(text), Format::Edn);
    let h = History::parse_str(text, "history.edn", None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.ops.len(), 6);
    assert_eq!(h.nemesis_ops().count(), 2);
    let ops = h.operations().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0].outcome, Outcome::Ok);
    assert_eq!(
        ops[0].output,
        serde_json::json!([["append", 5, 1], ["r", 5, [1]]])
    );
    assert_eq!(
        (ops[0].invoke_time, ops[0].complete_time),
        (Some(10), Some(20))
    );
    assert_eq!(ops[1].outcome, Outcome::Info);
    // An info completion without a value keeps the invocation's.
    assert_eq!(ops[1].output, serde_json::json!([["r", 5, null]]));

    // Out-of-order indices are caught with the line of the offender.
    let bad = text.replace(":index 5,", ":index 2,");
    let e = History::parse_str(&bad, "history.edn", None)
        .expect_err("index 2 after 3")
        .to_string();
    assert!(
        e.starts_with("history.edn:5:") && e.contains("does not increase"),
        "{e}"
    );
}
