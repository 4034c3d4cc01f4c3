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
        assert_eq!(h.ops().len(), event_lines.len(), "{}", path.display());
        assert_eq!(
            h.ops().iter().map(|o| o.line as usize).collect::<Vec<_>>(),
            event_lines,
            "{}",
            path.display()
        );
        let ops = h.operations().unwrap_or_else(|e| panic!("{e}"));
        let invokes = h
            .ops()
            .iter()
            .filter(|o| o.op_type == OpType::Invoke)
            .count();
        assert_eq!(ops.len(), invokes, "{}", path.display());
        for o in ops {
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
        total += h.ops().len();
    }
    // The corpus as shipped: 17,046 lines, every one an event.
    assert_eq!(total, 17046);
    let empty = logs
        .iter()
        .find(|p| p.ends_with("etcd_095.log"))
        .expect("etcd_095.log");
    assert!(History::read_file(empty, None)
        .expect("empty log")
        .ops()
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
        assert_eq!(h.ops().len(), map_lines, "{}", path.display());
        assert!(h
            .ops()
            .iter()
            .all(|o| o.key.as_ref().is_some_and(|k| k.is_string())));
        let ops = h.operations().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ops.len() * 2,
            h.ops().len(),
            "{}: every invoke completes",
            path.display()
        );
        assert!(ops.iter().all(|o| o.outcome == Outcome::Ok));
        for o in ops {
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
        let clients: std::collections::BTreeSet<_> = ops.iter().map(|o| o.process).collect();
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
    assert_eq!(h.ops().len(), 6);
    assert_eq!(h.nemesis_ops().count(), 2);
    let ops = h.operations().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0].outcome, Outcome::Ok);
    assert_eq!(
        ops[0].output,
        serde_json::json!([["append", 5, 1], ["r", 5, [1]]])
    );
    assert_eq!(
        (ops[0].invoke_time.get(), ops[0].complete_time.get()),
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

fn faultline(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn json_of(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn every_fixture_format_is_detected() {
    for (file, format) in [
        ("history-txt-cas-invalid.txt", Format::HistoryTxt),
        ("independent-cas-invalid.log", Format::JepsenLog),
        ("jepsen-log-2017-invalid.log", Format::JepsenLog),
        ("jepsen-log-2020-g1c.log", Format::JepsenLog),
        ("jepsen-log-multiline-valid.log", Format::JepsenLog),
        ("jepsen-console-valid.log", Format::JepsenLog),
        ("elle-la-no-f-g1c.edn", Format::Edn),
        ("register-time-order.edn", Format::Edn),
    ] {
        let path = Path::new("histories").join(file);
        let text = std::fs::read_to_string(&path).expect("fixture");
        assert_eq!(Format::detect(&text), format, "{file}");
    }
}

#[test]
fn logs_yield_exactly_their_op_lines() {
    // (file, source lines of the events, the last event's value)
    let cases: [(&str, Vec<usize>, serde_json::Value); 4] = [
        (
            "jepsen-console-valid.log",
            vec![4, 5, 6, 7, 8, 9],
            serde_json::json!([2, 4]),
        ),
        (
            "jepsen-log-2020-g1c.log",
            vec![2, 3, 4, 5, 6, 7],
            serde_json::json!([["append", 2, 1], ["r", 1, [1]]]),
        ),
        (
            "jepsen-log-multiline-valid.log",
            vec![2, 3, 4, 7, 8, 10],
            serde_json::Value::Null,
        ),
        (
            "history-txt-cas-invalid.txt",
            vec![1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14],
            serde_json::json!("fully connected"),
        ),
    ];
    for (file, lines, last) in cases {
        let h = History::read_file(&Path::new("histories").join(file), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            h.ops().iter().map(|o| o.line as usize).collect::<Vec<_>>(),
            lines,
            "{file}"
        );
        assert_eq!(
            h.ops().last().map(|o| o.value.to_json()),
            Some(last),
            "{file}"
        );
    }
    let h = History::read_file(Path::new("histories/jepsen-log-multiline-valid.log"), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.ops()[4].value, serde_json::json!([1, 2]));
    assert_eq!(
        h.ops()[2].value,
        serde_json::json!({"n1": ["n2", "n3"], "n2": ["n1"]})
    );
}

#[test]
fn out_of_time_order_is_warned_and_the_order_is_chosen() {
    let file = "histories/register-time-order.edn";
    for (order, code, verdict) in [
        (None, 1, "invalid"),
        (Some("time"), 1, "invalid"),
        (Some("index"), 0, "valid"),
    ] {
        let mut args = vec!["check", file, "--model", "register", "--json"];
        if let Some(o) = order {
            args.extend(["--order", o]);
        }
        let o = faultline(&args);
        assert_eq!(o.status.code(), Some(code), "{order:?}");
        let j = json_of(&o);
        let f = &j["files"][0];
        assert_eq!(f["verdict"], verdict, "{order:?}");
        let w = f["warnings"][0].as_str().unwrap_or_else(|| panic!("{f}"));
        assert!(
            w.contains("events are not in time order: 1 event has")
                && w.contains("the first on line 10"),
            "{w}"
        );
        let how = if order == Some("index") {
            "in the file's order as asked"
        } else {
            "checked in time order"
        };
        assert!(w.contains(how), "{w}");
    }
    // The text report shows the warning too.
    let o = faultline(&["check", file, "--model", "register", "--order", "index"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("warning: events are not in time order"),
        "{out}"
    );
    // An in-order file has no warning.
    let o = faultline(&[
        "check",
        "histories/stale-invalid.jsonl",
        "--checker",
        "stale-read",
        "--json",
    ]);
    assert!(json_of(&o)["files"][0].get("warnings").is_none());
}

#[test]
fn independent_tuples_are_noted_and_forced_errors_name_the_line() {
    let o = faultline(&[
        "check",
        "histories/independent-cas-invalid.log",
        "--model",
        "cas-register",
        "--json",
    ]);
    let j = json_of(&o);
    let note = j["files"][0]["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.contains("independent") && note.contains("2 keys"),
        "{j}"
    );
    let o = faultline(&[
        "check",
        "histories/cas-register-invalid.edn",
        "--model",
        "cas-register",
        "--independent",
    ]);
    assert_eq!(o.status.code(), Some(254));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("histories/cas-register-invalid.edn:3:") && err.contains("--independent"),
        "{err}"
    );
}

#[test]
fn ambiguous_pairing_names_file_and_line() {
    let o = faultline(&[
        "check",
        "histories/bad-no-process-ambiguous.edn",
        "--model",
        "register",
    ]);
    assert_eq!(o.status.code(), Some(254));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("histories/bad-no-process-ambiguous.edn:6:")
            && err.contains("ambiguous")
            && err.contains("line 5"),
        "{err}"
    );
}

#[test]
fn plain_corpus_histories_are_never_taken_for_independent_tuples() {
    use faultline::history::independent;
    let mut checked = 0;
    for dir in ["etcd", "kv"] {
        let ext = if dir == "etcd" { "log" } else { "txt" };
        for path in files(&corpus().join(dir), ext) {
            let h = History::read_file(&path, None).unwrap_or_else(|e| panic!("{e}"));
            assert!(!independent::detect(&h), "{}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 109);
}
