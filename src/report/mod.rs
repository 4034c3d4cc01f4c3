//! Renderings of check results: text for people, JSON for machines, JUnit
//! XML for CI. Reports read only [`FileReport`]s (a file, its verdict and
//! each checker's [`CheckResult`]); they never look into histories.

pub mod html;

use crate::checker::{CheckResult, Verdict};
use serde::Serialize;
use std::fmt::Write as _;

/// The outcome of checking one history file.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    pub file: String,
    /// The combined verdict of every checker (see [`Verdict::and`]); absent
    /// when the file could not be read.
    pub verdict: Option<Verdict>,
    /// Set when the file could not be read or checked (exit code 254).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub results: Vec<CheckResult>,
    /// How the file was read, when that is not obvious (independent tuples).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Where the file may mislead the checkers (events out of time order).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Wall-clock seconds spent reading and checking.
    pub seconds: f64,
}

impl FileReport {
    /// A report for a set of checker results.
    pub fn checked(file: &str, results: Vec<CheckResult>, seconds: f64) -> FileReport {
        let verdict = results
            .iter()
            .map(|r| r.verdict)
            .fold(Verdict::Valid, Verdict::and);
        FileReport {
            file: file.to_string(),
            verdict: Some(verdict),
            error: None,
            results,
            notes: Vec::new(),
            warnings: Vec::new(),
            seconds,
        }
    }

    /// A report for a file that could not be read or checked.
    pub fn failed(file: &str, error: String, seconds: f64) -> FileReport {
        FileReport {
            file: file.to_string(),
            verdict: None,
            error: Some(error),
            results: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
            seconds,
        }
    }

    /// Exit code per DESIGN.md: 0 valid, 1 invalid, 2 unknown, 254 unreadable.
    pub fn exit_code(&self) -> i32 {
        match self.verdict {
            Some(v) => v.exit_code(),
            None => 254,
        }
    }
}

/// Severity used to combine exit codes of several files: an unreadable file
/// is worst, then invalid, then unknown, then valid.
pub fn worst_exit_code(codes: impl IntoIterator<Item = i32>) -> i32 {
    fn rank(c: i32) -> i32 {
        match c {
            0 => 0,
            2 => 1,
            1 => 2,
            254 => 3,
            _ => 4,
        }
    }
    codes.into_iter().max_by_key(|&c| rank(c)).unwrap_or(0)
}

/// One verdict line for the file, then one line per checker, then the
/// explanations of everything not valid.
pub fn text(report: &FileReport) -> String {
    let mut out = String::new();
    match (&report.verdict, &report.error) {
        (_, Some(e)) => {
            let _ = writeln!(out, "{}: error: {e}", report.file);
            return out;
        }
        (Some(v), None) => {
            let _ = writeln!(out, "{}: {}", report.file, v.as_str().to_uppercase());
        }
        (None, None) => {
            let _ = writeln!(out, "{}: no result", report.file);
        }
    }
    for n in &report.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    for w in &report.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    for r in &report.results {
        let _ = writeln!(
            out,
            "  {:<13} {:<8} {}",
            r.checker,
            r.verdict.as_str(),
            r.summary
        );
    }
    for r in &report.results {
        if r.verdict != Verdict::Valid && !r.explanation.trim().is_empty() {
            let _ = writeln!(out, "\n  [{}]", r.checker);
            for line in r.explanation.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out
}

/// All reports as one JSON document.
pub fn json(reports: &[FileReport]) -> serde_json::Value {
    let verdicts: Vec<Verdict> = reports.iter().filter_map(|r| r.verdict).collect();
    let overall = if reports.iter().any(|r| r.error.is_some()) {
        "error".to_string()
    } else {
        verdicts
            .iter()
            .copied()
            .fold(Verdict::Valid, Verdict::and)
            .as_str()
            .to_string()
    };
    serde_json::json!({
        "verdict": overall,
        "exit_code": worst_exit_code(reports.iter().map(|r| r.exit_code())),
        "files": reports,
    })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one testcase per file; an invalid file's counterexample is the
/// failure message, an unreadable file is an error, an unknown one is skipped
/// with the reason (so CI shows it without failing on it).
pub fn junit(reports: &[FileReport]) -> String {
    let failures = reports
        .iter()
        .filter(|r| r.verdict == Some(Verdict::Invalid))
        .count();
    let errors = reports.iter().filter(|r| r.error.is_some()).count();
    let skipped = reports
        .iter()
        .filter(|r| r.verdict == Some(Verdict::Unknown))
        .count();
    let total: f64 = reports.iter().map(|r| r.seconds).sum();
    let mut out = String::new();
    let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        out,
        "<testsuite name=\"faultline\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total:.3}\">",
        reports.len()
    );
    for r in reports {
        let checkers: Vec<&str> = r.results.iter().map(|c| c.checker.as_str()).collect();
        let _ = write!(
            out,
            "  <testcase classname=\"faultline.{}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&checkers.join("+")),
            xml_escape(&r.file),
            r.seconds
        );
        let body = text(r);
        match (r.verdict, &r.error) {
            (_, Some(e)) => {
                let _ = writeln!(
                    out,
                    ">\n    <error message=\"{}\"/>\n  </testcase>",
                    xml_escape(e)
                );
            }
            (Some(Verdict::Invalid), _) => {
                let msg: Vec<&str> = r
                    .results
                    .iter()
                    .filter(|c| c.verdict == Verdict::Invalid)
                    .map(|c| c.summary.as_str())
                    .collect();
                let _ = writeln!(
                    out,
                    ">\n    <failure message=\"{}\" type=\"invalid\">{}</failure>\n  </testcase>",
                    xml_escape(&msg.join("; ")),
                    xml_escape(&body)
                );
            }
            (Some(Verdict::Unknown), _) => {
                let _ = writeln!(
                    out,
                    ">\n    <skipped message=\"{}\"/>\n    <system-out>{}</system-out>\n  </testcase>",
                    xml_escape("verdict unknown"),
                    xml_escape(&body)
                );
            }
            _ => {
                let _ = writeln!(out, "/>");
            }
        }
    }
    let _ = writeln!(out, "</testsuite>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(v: Verdict) -> CheckResult {
        let mut r = CheckResult::new("linearizable", v, format!("{v} summary"));
        r.explanation = "process 1's read <x> cannot be linearized".into();
        r
    }

    #[test]
    fn worst_code_prefers_errors_then_invalid() {
        assert_eq!(worst_exit_code([0, 2, 1]), 1);
        assert_eq!(worst_exit_code([0, 2]), 2);
        assert_eq!(worst_exit_code([1, 254]), 254);
        assert_eq!(worst_exit_code([]), 0);
    }

    #[test]
    fn junit_has_one_case_per_file_and_escapes() {
        let reports = vec![
            FileReport::checked("a.jsonl", vec![result(Verdict::Valid)], 0.1),
            FileReport::checked("b&c.jsonl", vec![result(Verdict::Invalid)], 0.2),
            FileReport::failed("d.edn", "d.edn:3:1: expected a map".into(), 0.0),
        ];
        let x = junit(&reports);
        assert_eq!(x.matches("<testcase").count(), 3);
        assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"1\""));
        assert!(x.contains("name=\"b&amp;c.jsonl\""));
        assert!(x.contains("&lt;x&gt; cannot be linearized"));
        assert!(x.contains("<error message=\"d.edn:3:1: expected a map\"/>"));
    }

    #[test]
    fn text_shows_explanation_only_when_not_valid() {
        let ok = text(&FileReport::checked("a", vec![result(Verdict::Valid)], 0.0));
        assert!(ok.starts_with("a: VALID"));
        assert!(!ok.contains("cannot be linearized"));
        let bad = text(&FileReport::checked(
            "a",
            vec![result(Verdict::Invalid)],
            0.0,
        ));
        assert!(bad.starts_with("a: INVALID"));
        assert!(bad.contains("cannot be linearized"));
    }
}
