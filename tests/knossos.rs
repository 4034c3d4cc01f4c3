//! Knossos's vocabulary for a failure: the operation that cannot be
//! linearized (`:op`, the first return no linearization gets past), the
//! last `ok` completion before it (`:previous-ok`) and the last operation
//! of the longest linearizable prefix (`:last-op`), as Knossos's own tests
//! assert them, on histories written for this project.

use serde_json::Value;
use std::process::Command;

/// `faultline check FILE ARGS --json`: the exit code and the first
/// failure of the linearizable checker.
fn first_failure(file: &str, args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("check")
        .arg(file)
        .args(args)
        .arg("--json")
        .output()
        .expect("run faultline");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{file}: not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let failure = json["files"][0]["results"][0]["details"]["failures"][0].clone();
    assert!(failure.is_object(), "{file}: no failure in {json}");
    (out.status.code().unwrap_or(-1), failure)
}

/// (process, f, ok value, index of the invocation, index of the completion)
fn shape(op: &Value) -> (i64, String, Value, i64, i64) {
    (
        op["process"].as_i64().expect("process"),
        op["f"].as_str().expect("f").to_string(),
        op["output"].clone(),
        op["index"].as_i64().expect("index"),
        op["complete_index"].as_i64().expect("complete_index"),
    )
}

#[test]
fn the_first_return_no_linearization_passes_is_named() {
    // Process 8 reads 6, which nothing wrote, and is invoked first; process
    // 9 reads the overwritten 5 and returns first. Knossos names the op
    // whose return no configuration gets past: process 9's. The refutation
    // that the value 6 can never appear comes first, but the report must
    // still say how far the history linearizes.
    let (code, f) = first_failure(
        "histories/knossos-first-return.edn",
        &["--model", "cas-register", "--initial", "0"],
    );
    assert_eq!(code, 1);
    assert_eq!(shape(&f["op"]), (9, "read".into(), 5.into(), 13, 14));
    assert_eq!(
        shape(&f["previous_ok"]),
        (6, "read".into(), 0.into(), 9, 11)
    );
    assert_eq!(shape(&f["last_op"]), shape(&f["previous_ok"]));
    assert_eq!(f["prefix_length"], 5);
    assert_eq!(f["states"], serde_json::json!(["0"]));
}

#[test]
fn a_stale_read_after_a_crashed_cas_names_knossos_ops() {
    // As in Knossos's cas-failure test: the last linearized op is the write
    // (of 2), not the last ok to complete before the stale read (process
    // 6's read of 1), and the register holds 2.
    let (code, f) = first_failure(
        "histories/knossos-stale-after-crashed-cas.edn",
        &[
            "--model",
            "cas-register",
            "--initial",
            "0",
            "--nil-read",
            "unknown",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(shape(&f["op"]), (3, "read".into(), 1.into(), 14, 15));
    assert_eq!(
        shape(&f["previous_ok"]),
        (6, "read".into(), 1.into(), 9, 12)
    );
    assert_eq!(shape(&f["last_op"]), (5, "write".into(), 2.into(), 7, 10));
    assert_eq!(f["states"], serde_json::json!(["2"]));
}

#[test]
fn a_literal_nil_read_failure_points_at_nil_read_unknown() {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "check",
            "histories/knossos-stale-after-crashed-cas.edn",
            "--model",
            "cas-register",
            "--initial",
            "0",
            "--nil-read",
            "absent",
        ])
        .output()
        .expect("run faultline");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("process 1's read → null"), "{text}");
    assert!(text.contains("check with --nil-read unknown"), "{text}");
}

#[test]
fn the_first_op_cannot_follow_anything_and_has_no_previous_ok() {
    // Knossos's read-wrong-initial-value test: `:previous-ok` and
    // `:last-op` are nil. A cas keeps the history off the graph checker.
    let dir = std::env::temp_dir().join(format!("faultline-knossos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("first-op.edn");
    std::fs::write(
        &file,
        "[{:process 0 :type :invoke :f :read :value 1}\n \
         {:process 0 :type :ok :f :read :value 1}\n \
         {:process 1 :type :invoke :f :cas :value [0 2]}\n \
         {:process 1 :type :ok :f :cas :value [0 2]}]\n",
    )
    .expect("write history");
    let (code, f) = first_failure(
        file.to_str().expect("utf-8 path"),
        &["--model", "cas-register", "--initial", "0"],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1);
    assert_eq!(shape(&f["op"]), (0, "read".into(), 1.into(), 0, 1));
    assert!(f["previous_ok"].is_null(), "{f}");
    assert!(f["last_op"].is_null(), "{f}");
}

#[test]
fn a_mutex_failure_reads_like_knossos_mutex() {
    // Knossos's mutex is "locked" or "free" and its ops carry no value:
    // the explanation says the mutex is held, and shows no "→ null".
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["check", "histories/mutex-invalid.edn", "--model", "mutex"])
        .output()
        .expect("run faultline");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("process 1's acquire (lines 4–5) cannot be linearized"),
        "{text}"
    );
    assert!(text.contains("after it the mutex is held"), "{text}");
    assert!(!text.contains("→ null"), "{text}");
}

#[test]
fn a_value_from_nowhere_after_a_long_crash_heavy_history_keeps_its_prefix() {
    // A read of 77, which nothing writes, after 1,000 generated operations
    // with crashed writes and cas: refuted at once, then searched again so
    // that the report says how far the history linearizes (the read's
    // return is as far as any linearization gets).
    use faultline::checker::linearizable::gen::{crashed_register_history, CrashedRegister};
    let h = crashed_register_history(&CrashedRegister::new(1000, 1));
    let mut text = Vec::new();
    h.write_jsonl(&mut text).expect("jsonl");
    let last = h.ops().last().expect("events").index;
    let mut text = String::from_utf8(text).expect("utf-8");
    text.push_str(&format!(
        "{{\"index\":{},\"process\":99999,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}}\n\
         {{\"index\":{},\"process\":99999,\"type\":\"ok\",\"f\":\"read\",\"value\":77}}\n",
        last + 1,
        last + 2
    ));
    let dir = std::env::temp_dir().join(format!("faultline-knossos-long-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("nowhere.jsonl");
    std::fs::write(&file, text).expect("write history");
    let (code, f) = first_failure(
        file.to_str().expect("utf-8 path"),
        &["--model", "cas-register"],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1);
    assert_eq!(f["op"]["process"], 99999, "{f}");
    assert_eq!(f["op"]["output"], 77, "{f}");
    let prefix = f["prefix_length"].as_u64().expect("prefix_length");
    assert!(
        prefix > 500,
        "the prefix should cover the history: {prefix}"
    );
    assert!(!f["last_op"].is_null(), "{f}");
}
