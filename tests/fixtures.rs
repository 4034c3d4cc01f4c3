//! Every row of histories/README.md: `faultline check` on the file with the
//! row's arguments must exit with the row's expected verdict.

use std::path::Path;
use std::process::Command;

fn expected_code(word: &str) -> i32 {
    match word {
        "valid" => 0,
        "invalid" => 1,
        "unknown" => 2,
        "error" => 254,
        other => panic!("histories/README.md: unknown expected verdict {other:?}"),
    }
}

/// (file, arguments, expected exit code) for every table row.
fn rows() -> Vec<(String, Vec<String>, i32)> {
    let text = std::fs::read_to_string("histories/README.md").expect("histories/README.md");
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 3 || cells[0] == "file" || cells[0].starts_with("---") {
            continue;
        }
        let args = cells[1].trim_matches('`');
        let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        rows.push((cells[0].to_string(), args, expected_code(cells[2])));
    }
    rows
}

#[test]
fn every_listed_history_gets_its_verdict() {
    let rows = rows();
    assert!(
        rows.len() >= 10,
        "histories/README.md lists too few rows: {}",
        rows.len()
    );
    let mut failures = Vec::new();
    for (file, args, want) in &rows {
        let path = Path::new("histories").join(file);
        assert!(
            path.exists(),
            "histories/README.md lists {file}, which does not exist"
        );
        let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .arg("check")
            .arg(&path)
            .args(args)
            .output()
            .expect("run faultline");
        let got = out.status.code().unwrap_or(-1);
        if got != *want {
            failures.push(format!(
                "{file} {args:?}: exit {got}, expected {want}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_file_is_listed() {
    let listed: std::collections::HashSet<String> = rows().into_iter().map(|r| r.0).collect();
    for entry in std::fs::read_dir("histories").expect("histories/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        if name != "README.md" {
            assert!(
                listed.contains(&name),
                "histories/{name} is not listed in histories/README.md"
            );
        }
    }
}
