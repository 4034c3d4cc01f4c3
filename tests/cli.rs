//! The command line as a user meets it: exit codes, error messages, JSON and
//! JUnit output, conversion.

use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn help_exits_zero_and_bad_flags_exit_254() {
    assert_eq!(code(&faultline(&["--help"])), 0);
    let o = faultline(&["check", "histories/register-valid.jsonl", "--no-such-flag"]);
    assert_eq!(code(&o), 254, "{}", stderr(&o));
    let o = faultline(&["check"]);
    assert_eq!(code(&o), 254);
}

#[test]
fn missing_file_is_254_and_named() {
    let o = faultline(&[
        "check",
        "histories/does-not-exist.jsonl",
        "--model",
        "register",
    ]);
    assert_eq!(code(&o), 254);
    assert!(
        stderr(&o).contains("histories/does-not-exist.jsonl"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn malformed_input_names_file_line_and_column() {
    let o = faultline(&["check", "histories/bad-json.jsonl", "--model", "register"]);
    assert_eq!(code(&o), 254);
    assert!(
        stderr(&o).contains("histories/bad-json.jsonl:2:"),
        "{}",
        stderr(&o)
    );

    let o = faultline(&[
        "check",
        "histories/bad-unclosed.edn",
        "--model",
        "cas-register",
    ]);
    assert_eq!(code(&o), 254);
    assert!(
        stderr(&o).contains("histories/bad-unclosed.edn:"),
        "{}",
        stderr(&o)
    );

    let o = faultline(&[
        "check",
        "histories/bad-double-invoke.jsonl",
        "--model",
        "register",
    ]);
    assert_eq!(code(&o), 254);
    assert!(
        stderr(&o).contains("bad-double-invoke.jsonl:2:"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("still pending"), "{}", stderr(&o));
}

#[test]
fn unknown_model_is_254_and_lists_models() {
    let o = faultline(&[
        "check",
        "histories/register-valid.jsonl",
        "--model",
        "registr",
    ]);
    assert_eq!(code(&o), 254);
    assert!(stderr(&o).contains("cas-register"), "{}", stderr(&o));
}

#[test]
fn unknown_checker_and_workload_are_254_and_list_the_choices() {
    let o = faultline(&[
        "check",
        "histories/register-valid.jsonl",
        "--checker",
        "linearizable,stale-reed",
    ]);
    assert_eq!(code(&o), 254);
    assert!(stderr(&o).contains("stale-read"), "{}", stderr(&o));
    let o = faultline(&[
        "check",
        "histories/register-valid.jsonl",
        "--workload",
        "registers",
    ]);
    assert_eq!(code(&o), 254);
    assert!(stderr(&o).contains("list-append"), "{}", stderr(&o));
}

#[test]
fn bad_initial_is_254() {
    let o = faultline(&[
        "check",
        "histories/register-valid.jsonl",
        "--model",
        "register",
        "--initial",
        "{x",
    ]);
    assert_eq!(code(&o), 254);
    assert!(stderr(&o).contains("--initial"), "{}", stderr(&o));
}

#[test]
fn verdict_lines_and_exit_codes() {
    let o = faultline(&[
        "check",
        "histories/cas-register-valid.edn",
        "--model",
        "cas-register",
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("histories/cas-register-valid.edn: VALID"),
        "{}",
        stdout(&o)
    );

    let o = faultline(&[
        "check",
        "histories/cas-register-invalid.edn",
        "--model",
        "cas-register",
    ]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.starts_with("histories/cas-register-invalid.edn: INVALID"),
        "{out}"
    );
    // The counterexample names the op that cannot be linearized.
    assert!(out.contains("read"), "{out}");
}

#[test]
fn several_files_exit_with_the_worst_code() {
    let o = faultline(&[
        "check",
        "histories/cas-register-valid.edn",
        "histories/cas-register-invalid.edn",
        "--model",
        "cas-register",
    ]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stdout(&o)
            .lines()
            .filter(|l| l.starts_with("histories/"))
            .count(),
        2
    );
    let o = faultline(&[
        "check",
        "histories/cas-register-invalid.edn",
        "histories/bad-json.jsonl",
        "--model",
        "cas-register",
    ]);
    assert_eq!(code(&o), 254);
}

#[test]
fn json_output_carries_the_verdict_and_counterexample() {
    let o = faultline(&[
        "check",
        "histories/cas-register-invalid.edn",
        "--model",
        "cas-register",
        "--json",
    ]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["exit_code"], 1);
    let results = &v["files"][0]["results"];
    assert_eq!(results[0]["verdict"], "invalid");
    assert!(!results[0]["details"].is_null());
}

#[test]
fn junit_has_a_failure_for_the_invalid_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let xml = dir.path().join("out.xml");
    let o = faultline(&[
        "check",
        "histories/cas-register-valid.edn",
        "histories/cas-register-invalid.edn",
        "--model",
        "cas-register",
        "--junit",
        xml.to_str().expect("utf8"),
    ]);
    assert_eq!(code(&o), 1);
    let text = std::fs::read_to_string(&xml).expect("junit written");
    assert_eq!(text.matches("<testcase").count(), 2);
    assert_eq!(text.matches("<failure").count(), 1);
    assert!(text.contains("cas-register-invalid.edn"));
}

#[test]
fn convert_writes_jsonl_that_checks_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("h.jsonl");
    let o = faultline(&[
        "convert",
        "histories/cas-register-invalid.edn",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).expect("converted");
    assert_eq!(text.lines().count(), 6);
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("line")).expect("json");
    assert_eq!(first["type"], "invoke");
    assert_eq!(first["f"], "write");
    let o = faultline(&[
        "check",
        out.to_str().expect("utf8"),
        "--model",
        "cas-register",
    ]);
    assert_eq!(code(&o), 1);
}

#[test]
fn time_limit_turns_a_hard_search_into_unknown_not_a_hang() {
    // Many concurrent info writes and reads make the search space explode;
    // a tiny limit must answer unknown (exit 2) quickly.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hard.jsonl");
    let mut s = String::new();
    let n = 40;
    for p in 0..n {
        s.push_str(&format!(
            "{{\"process\":{p},\"type\":\"invoke\",\"f\":\"write\",\"value\":{}}}\n",
            p % 3
        ));
    }
    for p in 0..n {
        s.push_str(&format!(
            "{{\"process\":{p},\"type\":\"info\",\"f\":\"write\",\"value\":{}}}\n",
            p % 3
        ));
    }
    for r in 0..30 {
        let p = 1000 + r;
        s.push_str(&format!(
            "{{\"process\":{p},\"type\":\"invoke\",\"f\":\"read\",\"value\":null}}\n"
        ));
        s.push_str(&format!(
            "{{\"process\":{p},\"type\":\"ok\",\"f\":\"read\",\"value\":{}}}\n",
            (r * 7) % 3
        ));
    }
    s.push_str("{\"process\":2000,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{\"process\":2000,\"type\":\"ok\",\"f\":\"read\",\"value\":99}\n");
    std::fs::write(&path, s).expect("write");
    let start = std::time::Instant::now();
    let o = faultline(&[
        "check",
        path.to_str().expect("utf8"),
        "--model",
        "cas-register",
        "--time-limit",
        "0.5",
    ]);
    let took = start.elapsed();
    // Either the search proves it invalid (the read of 99 is impossible) or it
    // runs out of time; it must never hang.
    assert!(matches!(code(&o), 1 | 2), "{}", stdout(&o));
    assert!(took.as_secs() < 20, "took {took:?}");
}

/// Runs faultline with standard output a pipe whose reader has already
/// gone (as `faultline … | head` ends up), and returns its exit code and
/// standard error.
fn with_reader_gone(args: &[&str]) -> (i32, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run faultline");
    // Close the read end before faultline writes anything.
    drop(child.stdout.take());
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait().expect("faultline ends");
    (status.code().unwrap_or(-1), err)
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_verdict() {
    let quiet = |err: &str| !err.contains("panicked") && !err.contains("Broken pipe");
    // Text: the first file's verdict, and the rest not checked.
    let (c, err) = with_reader_gone(&[
        "check",
        "histories/register-invalid.jsonl",
        "histories/register-valid.jsonl",
        "--model",
        "register",
    ]);
    assert_eq!(c, 1, "{err}");
    assert!(quiet(&err), "{err}");
    let (c, err) = with_reader_gone(&[
        "check",
        "histories/register-valid.jsonl",
        "--model",
        "register",
        "--json",
    ]);
    assert_eq!(c, 0, "{err}");
    assert!(quiet(&err), "{err}");
    let (c, err) = with_reader_gone(&["convert", "histories/cas-register-valid.edn", "-"]);
    assert_eq!(c, 0, "{err}");
    assert!(quiet(&err), "{err}");
    let runs = tempfile::tempdir().expect("temp dir");
    let runs_dir = runs.path().display().to_string();
    let (c, err) = with_reader_gone(&[
        "test",
        "workloads/sim-leader-quorum.toml",
        "--time-limit",
        "0.5",
        "--runs-dir",
        &runs_dir,
    ]);
    assert_eq!(c, 0, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_memory_limit_covers_the_history() {
    use faultline::checker::linearizable::gen::{crashed_register_history, CrashedRegister};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crashed.jsonl");
    let h = crashed_register_history(&CrashedRegister::new(20_000, 1));
    let mut out = Vec::new();
    h.write_jsonl(&mut out).expect("serialize");
    std::fs::write(&path, out).expect("write history");
    let file = path.display().to_string();
    let check = |limit: &str| {
        faultline(&[
            "check",
            &file,
            "--model",
            "cas-register",
            "--memory-limit",
            limit,
        ])
    };
    // Too large to read at all within 1 MiB: refused before reading.
    let o = check("1");
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("not read") && stdout(&o).contains("--memory-limit"),
        "{}",
        stdout(&o)
    );
    // Readable within 24 MiB, but the search only gets what the loaded
    // history leaves, and says so when it runs out.
    let o = check("24");
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    let text = stdout(&o);
    let left: usize = text
        .split("memory limit of ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no search memory limit in: {text}"));
    assert!(left < 20, "the search got {left} MiB of 24: {text}");
    // With room, it is checked.
    let o = check("512");
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}
