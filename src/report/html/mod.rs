//! `report.html`: one self-contained page per history that a person can
//! read at a glance: the verdict of every checker, a timeline of the
//! operations with the faults behind them, latency and throughput over
//! time, and whatever the checkers found drawn rather than described
//! (stale reads by node, lost writes by fate, the linearizability
//! counterexample, Elle's cycles).
//!
//! The page is built from the [`History`] and the [`CheckResult`]s only, so
//! `faultline test` and `faultline report` produce the same thing. Details
//! a section does not recognise are skipped, never an error: checkers grow
//! fields faster than reports do. Everything is inline (CSS, SVG; no
//! script, no network), and long histories are windowed or sampled so the
//! file stays small; the page says where it did that.

pub mod charts;
pub mod counterexample;
pub mod cycles;
pub mod timeline;
pub mod view;

use crate::checker::{CheckResult, Verdict};
use crate::history::History;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use view::{short, View};

/// What the page says about where the history came from.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    pub title: String,
    /// Label and value pairs shown under the title (workload, seed, ...).
    pub meta: Vec<(String, String)>,
}

impl RunInfo {
    /// The title and facts of a `faultline test` run, from the document
    /// the runner writes to `results.json`.
    pub fn from_run(doc: &Value) -> RunInfo {
        let mut meta = Vec::new();
        for (label, key) in [
            ("workload file", "file"),
            ("db", "db"),
            ("strategy", "strategy"),
            ("workload kind", "workload_kind"),
            ("seed", "seed"),
        ] {
            if let Some(v) = doc.get(key).filter(|v| !v.is_null()) {
                meta.push((label.to_string(), short(v, 200)));
            }
        }
        if let Some(s) = doc.get("stats") {
            if let Some(secs) = s.get("main_seconds").and_then(|v| v.as_f64()) {
                meta.push(("duration".into(), format!("{secs:.1} s")));
            }
            if let Some(r) = s.get("ops_per_second").and_then(|v| v.as_f64()) {
                meta.push(("throughput".into(), format!("{r:.0} ops/s")));
            }
        }
        if doc.get("cancelled").and_then(|v| v.as_bool()) == Some(true) {
            meta.push(("interrupted".into(), "yes (Ctrl-C)".into()));
        }
        RunInfo {
            title: doc
                .get("workload")
                .and_then(|v| v.as_str())
                .unwrap_or("faultline run")
                .to_string(),
            meta,
        }
    }
}

/// The sections that draw a checker's details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Linearizable,
    StaleRead,
    LostWrite,
    Elle,
}

impl Section {
    fn of(checker: &str) -> Option<Section> {
        match checker {
            "linearizable" | "graph-register" => Some(Section::Linearizable),
            "stale-read" => Some(Section::StaleRead),
            "lost-write" => Some(Section::LostWrite),
            "elle" => Some(Section::Elle),
            _ => None,
        }
    }
}

/// Lost elements listed in a table.
const LOST_ROWS: usize = 20;
/// Characters shown of one explanation line.
const LINE_CHARS: usize = 2000;
/// Explanation lines shown per checker (the rest are in results.json).
const EXPLANATION_LINES: usize = 200;

/// The whole page.
pub fn render(history: &History, results: &[CheckResult], info: &RunInfo) -> String {
    let view = View::build(history);
    let verdict = if results.is_empty() {
        None
    } else {
        Some(
            results
                .iter()
                .map(|r| r.verdict)
                .fold(Verdict::Valid, Verdict::and),
        )
    };
    let focus = focus_event(history, results);
    let (ok, fail, infos) = view.outcome_counts();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (info.title) " — " (verdict.map(|v| v.as_str()).unwrap_or("not checked")) " — faultline" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 {
                        (info.title) " "
                        @match verdict {
                            Some(v) => span id="verdict" class=(format!("badge {v}")) { (v.as_str().to_uppercase()) },
                            None => span id="verdict" class="badge unknown" { "NOT CHECKED" },
                        }
                    }
                    dl.meta {
                        @for (k, v) in &info.meta { dt { (k) } dd { (v) } }
                        dt { "history" } dd { (history.source.to_string()) }
                        dt { "events" } dd { (view.events) }
                        dt { "operations" } dd {
                            (view.spans.len()) " (" span.ok-text { (ok) " ok" } ", "
                            span.fail-text { (fail) " fail" } ", " span.info-text { (infos) " info" } ")"
                        }
                        dt { "faults" } dd {
                            (view.faults.len()) " intervals, " (view.nemesis_events) " nemesis events"
                        }
                    }
                }
                nav {
                    a href="#verdicts" { "verdicts" }
                    a href="#timeline" { "timeline" }
                    a href="#latency" { "latency" }
                    a href="#throughput" { "throughput" }
                    a href="#explanations" { "in words" }
                    @for r in results {
                        @match Section::of(&r.checker) {
                            Some(Section::Linearizable) => a href="#counterexample" { "counterexample" },
                            Some(Section::StaleRead) => a href="#stale-reads" { "stale reads" },
                            Some(Section::LostWrite) => a href="#lost-writes" { "lost writes" },
                            Some(Section::Elle) => a href="#elle" { "anomalies" },
                            None => {},
                        }
                    }
                }
                (verdicts(results))
                section id="timeline" {
                    h2 { "Timeline" }
                    @if let Some(e) = &view.pairing_error {
                        p.note { "No timeline: the operations cannot be paired (" (e) ")." }
                    } @else if view.spans.is_empty() {
                        p.note { "No client operations." }
                    } @else {
                        @let (svg, note) = timeline::timeline(&view, focus);
                        p.legend {
                            span.swatch.ok {} " ok " span.swatch.fail {} " fail " span.swatch.info {} " info (indeterminate) "
                            span.swatch.band {} " fault in force. Hover a bar for the operation. One row per lane of processes (a crashed worker continues on its row under a new process id)."
                        }
                        @if let Some(n) = note { p.note { (n) } }
                        div.figure { (svg) }
                    }
                }
                section id="latency" {
                    h2 { "Latency" }
                    (chart(charts::latency(&view)))
                }
                section id="throughput" {
                    h2 { "Throughput" }
                    (chart(charts::throughput(&view)))
                }
                @for r in results {
                    @match Section::of(&r.checker) {
                        Some(Section::Linearizable) => (linearizable(r, history, &view)),
                        Some(Section::StaleRead) => (stale_reads(r)),
                        Some(Section::LostWrite) => (lost_writes(r)),
                        Some(Section::Elle) => (elle(r)),
                        None => {},
                    }
                }
                (explanations(results))
                footer { "Generated by faultline " (env!("CARGO_PKG_VERSION")) ". Self-contained: no script, no network." }
            }
        }
    };
    page.into_string()
}

/// Writes the page to `path`.
pub fn write(
    path: &Path,
    history: &History,
    results: &[CheckResult],
    info: &RunInfo,
) -> std::io::Result<()> {
    std::fs::write(path, render(history, results, info))
}

/// Writes `report.html` into a run directory; `doc` is the run's
/// `results.json` document. A report that cannot be written is a warning:
/// the run and its verdict stand without it.
pub fn write_run(run_dir: &Path, history: &History, results: &[CheckResult], doc: &Value) {
    let path = run_dir.join("report.html");
    if let Err(e) = write(&path, history, results, &RunInfo::from_run(doc)) {
        eprintln!("faultline: cannot write {}: {e}", path.display());
    }
}

/// The history position the timeline centres on: the first operation the
/// linearizable checker could not place, or the first one a graph anomaly
/// names.
fn focus_event(history: &History, results: &[CheckResult]) -> Option<usize> {
    let lin = || {
        results
            .iter()
            .filter(|r| Section::of(&r.checker) == Some(Section::Linearizable))
    };
    lin()
        .filter_map(|r| r.details.get("failures")?.as_array()?.first().cloned())
        .find_map(|f| View::position_of(history, f.get("op")?.get("index")?.as_u64()?))
        .or_else(|| {
            lin().find_map(|r| {
                let e = r.details.get("anomalies")?.get(0)?.get("events")?.get(0)?;
                e.as_u64().map(|e| e as usize)
            })
        })
}

fn chart(c: Result<charts::Chart, String>) -> Markup {
    match c {
        Ok(c) => html! {
            div.figure { (PreEscaped(c.svg)) }
            @if let Some(n) = c.note { p.note { (n) } }
        },
        Err(why) => html! { p.note { "Not drawn: " (why) "." } },
    }
}

fn verdicts(results: &[CheckResult]) -> Markup {
    html! {
        section id="verdicts" {
            h2 { "Verdicts" }
            @if results.is_empty() {
                p.note { "No checker ran." }
            } @else {
                table.verdicts {
                    tr { th { "checker" } th { "verdict" } th { "summary" } th {} }
                    @for r in results {
                        tr {
                            td { b { (r.checker) } }
                            td { span class=(format!("badge {}", r.verdict)) { (r.verdict.as_str()) } }
                            td { (r.summary) }
                            td { @if !r.explanation.trim().is_empty() {
                                a href=(format!("#explanation-{}", r.checker)) { "in words ↓" }
                            } }
                        }
                    }
                }
            }
        }
    }
}

fn explanations(results: &[CheckResult]) -> Markup {
    html! {
        @if results.iter().any(|r| !r.explanation.trim().is_empty()) {
            section id="explanations" {
                h2 { "In words" }
                @for r in results.iter().filter(|r| !r.explanation.trim().is_empty()) {
                    @let lines: Vec<&str> = r.explanation.lines().collect();
                    details.explanation open[r.verdict != Verdict::Valid] id=(format!("explanation-{}", r.checker)) {
                        summary { (r.checker) ": explanation (" (lines.len()) " line" @if lines.len() != 1 { "s" } ")" }
                        pre {
                            @for l in lines.iter().take(EXPLANATION_LINES) { (short(&Value::String(l.to_string()), LINE_CHARS)) "\n" }
                            @if lines.len() > EXPLANATION_LINES {
                                "… " (lines.len() - EXPLANATION_LINES) " more lines in results.json (or `faultline check --json`)\n"
                            }
                        }
                    }
                }
            }
        }
    }
}

fn linearizable(r: &CheckResult, history: &History, view: &View) -> Markup {
    let empty = Vec::new();
    let failures = r
        .details
        .get("failures")
        .and_then(|f| f.as_array())
        .unwrap_or(&empty);
    let anomalies = r
        .details
        .get("anomalies")
        .and_then(|f| f.as_array())
        .unwrap_or(&empty);
    let model = r
        .details
        .get("model")
        .and_then(|m| m.as_str())
        .unwrap_or("model");
    html! {
        section id="counterexample" {
            h2 { "Linearizability" }
            p { (r.summary) }
            @if !anomalies.is_empty() {
                @for a in anomalies.iter().take(counterexample::FAILURES_SHOWN) {
                    (counterexample::graph_anomaly(history, view, a))
                }
                @let total = r.details.get("anomaly_count").and_then(|c| c.as_u64()).unwrap_or(anomalies.len() as u64);
                @if total as usize > counterexample::FAILURES_SHOWN {
                    p.note { "The first " (counterexample::FAILURES_SHOWN) " of " (total) " anomalies are drawn; the explanation lists more." }
                }
            }
            @if !failures.is_empty() {
                @for f in failures.iter().take(counterexample::FAILURES_SHOWN) {
                    (counterexample::failure(f, model))
                }
                @if failures.len() > counterexample::FAILURES_SHOWN {
                    p.note { (failures.len() - counterexample::FAILURES_SHOWN) " more keys cannot be linearized; the explanation above lists them." }
                }
            }
        }
    }
}

fn stale_reads(r: &CheckResult) -> Markup {
    let d = &r.details;
    let unit = d.get("unit").and_then(|u| u.as_str()).unwrap_or("ms");
    let mut by_node: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let listed = d
        .get("stale_reads")
        .and_then(|s| s.as_array())
        .map(|a| a.as_slice())
        .unwrap_or(&[]);
    for s in listed {
        let amount = if unit == "ms" {
            s.get("ms_behind").and_then(|v| v.as_f64())
        } else {
            s.get("events_behind").and_then(|v| v.as_f64())
        };
        if let Some(a) = amount {
            let node = s
                .get("node")
                .and_then(|n| n.as_str())
                .unwrap_or("(unknown)");
            by_node.entry(node.to_string()).or_default().push(a);
        }
    }
    let count = d.get("stale_count").and_then(|c| c.as_u64()).unwrap_or(0);
    let tables: Vec<(&str, &serde_json::Map<String, Value>)> =
        [("node", "by_node"), ("region", "by_region")]
            .into_iter()
            .filter_map(|(label, k)| Some((label, d.get(k)?.as_object()?)))
            .filter(|(_, m)| !m.is_empty())
            .collect();
    html! {
        section id="stale-reads" {
            h2 { "Stale reads" }
            p { (r.summary) }
            @if !by_node.is_empty() {
                h3 { "How stale, by node" }
                (chart(charts::staleness(&by_node, unit)))
                @if (listed.len() as u64) < count {
                    p.note { "The histogram uses the first " (listed.len()) " of " (count) " stale reads (the checker lists at most that many); the tables use all of them." }
                }
            }
            @for (label, m) in &tables {
                h3 { "By " (label) }
                table.stats {
                    tr { th { (label) } th { "stale reads" } th { "p50 (" (unit) ")" } th { "p99 (" (unit) ")" } th { "max (" (unit) ")" } th { "versions behind, max" } }
                    @for (k, v) in m.iter() {
                        @let b = v.get("behind").unwrap_or(&Value::Null);
                        @let num = |x: &Value, f: &str| x.get(f).and_then(|n| n.as_f64()).map(|n| format!("{n:.1}")).unwrap_or_default();
                        tr {
                            td { b { (k) } }
                            td { (b.get("count").map(|c| c.to_string()).unwrap_or_default()) }
                            td { (num(b, "p50")) } td { (num(b, "p99")) } td { (num(b, "max")) }
                            td { (v.get("versions_behind").map(|x| num(x, "max")).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

fn lost_writes(r: &CheckResult) -> Markup {
    let d = &r.details;
    let counts: Vec<(String, u64)> = d
        .get("counts")
        .and_then(|c| c.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    let lost = d
        .get("lost")
        .and_then(|l| l.as_array())
        .map(|a| a.as_slice())
        .unwrap_or(&[]);
    html! {
        section id="lost-writes" {
            h2 { "Lost writes" }
            p { (r.summary) }
            @if !counts.is_empty() {
                h3 { "Writes by fate" }
                (chart(charts::fates(&counts)))
                p.note { "present: in every read that began after it was known; stale: missing from some such reads, then present; lost: missing from every read after some point; never read: no read began after it was known; recovered: an indeterminate write that later showed up; superseded: overwritten (registers)." }
            }
            @if !lost.is_empty() {
                h3 { "Lost" }
                table.ops {
                    tr { th { "key" } th { "value" } th { "process" } th { "event" } th { "last seen (event)" } th { "last absent (event)" } }
                    @for l in lost.iter().take(LOST_ROWS) {
                        tr.lost {
                            td { (l.get("key").map(|k| short(k, 30)).unwrap_or_default()) }
                            td { code { (l.get("value").map(|k| short(k, 40)).unwrap_or_default()) } }
                            td { (l.get("process").map(|k| short(k, 12)).unwrap_or_default()) }
                            td { (l.get("event").map(|k| short(k, 12)).unwrap_or_default()) }
                            td { (l.get("last_seen").filter(|v| !v.is_null()).map(|k| short(k, 12)).unwrap_or_else(|| "never".into())) }
                            td { (l.get("last_absent").filter(|v| !v.is_null()).map(|k| short(k, 12)).unwrap_or_default()) }
                        }
                    }
                }
                @if lost.len() > LOST_ROWS { p.note { "The first " (LOST_ROWS) " of the " (lost.len()) " listed by the checker; the explanation and results.json have them all." } }
            }
        }
    }
}

fn elle(r: &CheckResult) -> Markup {
    let d = &r.details;
    let list = |k: &str| -> Vec<String> {
        d.get(k)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(|x| short(x, 60)).collect())
            .unwrap_or_default()
    };
    let not = list("not");
    let strongest = list("strongest_possible");
    html! {
        section id="elle" {
            h2 { "Transactional anomalies" }
            p { (r.summary) }
            @if !not.is_empty() {
                p { "Ruled out: " @for (i, m) in not.iter().enumerate() { @if i > 0 { ", " } code { (m) } } "." }
            }
            @if !strongest.is_empty() {
                p { "Strongest models still possible: " @for (i, m) in strongest.iter().enumerate() { @if i > 0 { ", " } code { (m) } } "." }
            }
            p.legend {
                span.kind.e-ww { "ww" } " write–write " span.kind.e-wr { "wr" } " write–read "
                span.kind.e-rw { "rw" } " read–write (anti-dependency) " span.kind.e-process { "process" } " same process "
                span.kind.e-realtime { "realtime" } " completed before the other began. Hover an arrow for its explanation."
            }
            (cycles::anomalies(d))
        }
    }
}

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1160px;padding:12px 20px 40px;color:#222;background:#fff}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}h3{font-size:15px;margin:16px 0 6px}
.badge{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff;font-weight:600;font-size:.85em;vertical-align:middle}
.badge.valid{background:#2e9d4f}.badge.invalid{background:#c9302c}.badge.unknown{background:#8a6d3b}
h1 .badge{font-size:15px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
dl.meta{display:grid;grid-template-columns:max-content minmax(0,1fr) max-content minmax(0,1fr);gap:1px 14px;margin:6px 0}dl.meta dt{color:#666}dl.meta dd{margin:0;overflow-wrap:anywhere}
table.verdicts td,table.verdicts th,table.ops td,table.ops th,table.stats td,table.stats th{border-bottom:1px solid #eee;padding:3px 10px 3px 4px}
nav{position:sticky;top:0;background:#fafafa;border:1px solid #eee;padding:4px 8px;z-index:2}nav a{margin-right:14px;color:#1f6fb4;text-decoration:none}
pre{background:#f7f7f7;border:1px solid #eee;padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap}
details.explanation{margin:8px 0}details summary{cursor:pointer;color:#444}
.note{color:#666;font-style:italic}.legend{color:#444}
.swatch{display:inline-block;width:14px;height:10px;border-radius:2px;vertical-align:middle;margin-left:6px}
.swatch.ok{background:#2e9d4f}.swatch.fail{background:#d9534f}.swatch.info{background:#f0a030}.swatch.band{background:rgba(120,120,220,.3)}
.swatch.lin-prefix{background:#8fcf9b}.swatch.lin-concurrent{background:#8db8e0}.swatch.lin-culprit{background:#e06666}
.ok-text{color:#2e9d4f}.fail-text{color:#c9302c}.info-text{color:#b07010}
.figure{overflow-x:auto}.figure svg{max-width:100%;height:auto}
svg text{font-family:system-ui,sans-serif}
svg.timeline rect.ok{fill:#2e9d4f}svg.timeline rect.fail{fill:#d9534f}svg.timeline rect.info{fill:#f0a030}
svg.timeline rect:hover{stroke:#000;stroke-width:1}
svg.timeline rect.band{fill:rgba(120,120,220,.22)}svg.timeline rect.band.kill{fill:rgba(200,60,60,.14)}svg.timeline rect.band.pause{fill:rgba(150,110,60,.16)}svg.timeline rect.band.fault{fill:rgba(130,130,130,.16)}
svg.timeline text.bandlabel{font-size:10px;fill:#555}svg.timeline text.lane{font-size:10px;fill:#555;text-anchor:end}
svg .tick{font-size:10px;fill:#555;text-anchor:middle}svg .unit{font-size:10px;fill:#555;text-anchor:end}
svg line.axis{stroke:#999}svg line.mark{stroke:#555;stroke-dasharray:3 2}svg line.grid{stroke:#eee}
svg.lin text.lane{font-size:11px;fill:#444;text-anchor:end}svg.lin text.barlabel{font-size:11px;fill:#111;dominant-baseline:middle}
svg.lin .lin-prefix rect{fill:#8fcf9b}svg.lin .lin-concurrent rect{fill:#8db8e0}svg.lin .lin-culprit rect{fill:#e06666;stroke:#900;stroke-width:1.5}
svg.lin rect.open{fill-opacity:.45}
tr.lin-culprit td{background:#fbe3e3}tr.lin-prefix td{color:#555}
.counterexample{border-left:3px solid #e06666;padding-left:10px;margin:12px 0}
code.state{background:#eef;padding:0 4px;border-radius:3px}
svg.cycle .txn rect{fill:#fff;stroke:#333;stroke-width:1.5}svg.cycle text.tname{font-size:14px;font-weight:700;text-anchor:middle}svg.cycle text.tinfo{font-size:10px;fill:#555;text-anchor:middle}
svg.cycle path.arc{fill:none;stroke-width:2}svg.cycle text.elabel{font-size:12px;font-weight:700;text-anchor:middle}
.e-ww{stroke:#c9302c;fill:#c9302c}.e-wr{stroke:#1f6fb4;fill:#1f6fb4}.e-rw{stroke:#e08a00;fill:#e08a00}.e-process{stroke:#2e9d4f;fill:#2e9d4f}.e-realtime{stroke:#8e44ad;fill:#8e44ad}.e-other{stroke:#777;fill:#777}
svg.cycle path.e-rw.arc{stroke-dasharray:6 3}
svg.cycle path.arc{fill:none}
span.kind{font-weight:700;font-family:monospace;border:0}
span.kind.e-ww{color:#c9302c}span.kind.e-wr{color:#1f6fb4}span.kind.e-rw{color:#e08a00}span.kind.e-process{color:#2e9d4f}span.kind.e-realtime{color:#8e44ad}
.anomaly-instance{border-left:3px solid #c9302c;padding-left:10px;margin:10px 0 18px}.anomaly-head{font-weight:600}
ul.edges{margin:4px 0;padding-left:18px}
footer{margin-top:30px;color:#888;font-size:12px}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType, Process};
    use serde_json::json;

    fn timed_history() -> History {
        let mut ops = Vec::new();
        let mut push = |p: Process, ty: OpType, f: &str, v: Value| {
            let i = ops.len() as u64;
            let mut o = Op::new(i, p, ty, f, v);
            o.time = Some(i * 10_000_000).into();
            ops.push(o);
        };
        push(Process::id(0), OpType::Invoke, "write", json!(1));
        push(Process::id(0), OpType::Ok, "write", json!(1));
        push(
            Process::name("nemesis"),
            OpType::Info,
            "partition",
            json!({"target": "halves"}),
        );
        push(Process::id(1), OpType::Invoke, "read", Value::Null);
        push(Process::id(1), OpType::Ok, "read", json!("<b>"));
        push(Process::name("nemesis"), OpType::Info, "heal", Value::Null);
        History::new(ops)
    }

    #[test]
    fn the_page_has_every_section_and_escapes_values() {
        let h = timed_history();
        let mut r = CheckResult::new("linearizable", Verdict::Valid, "linearizable: 2 operations");
        r.explanation = "fine <really>".into();
        let page = render(
            &h,
            &[r],
            &RunInfo {
                title: "t<1>".into(),
                meta: vec![],
            },
        );
        for id in [
            "verdicts",
            "timeline",
            "latency",
            "throughput",
            "counterexample",
        ] {
            assert!(page.contains(&format!("id=\"{id}\"")), "no section {id}");
        }
        assert!(page.contains("t&lt;1&gt;"));
        assert!(page.contains("&lt;b&gt;"), "op values are escaped");
        assert!(!page.contains("<b>\""));
        assert!(page.contains("partition halves"));
        assert!(page.contains("VALID"));
        assert!(!page.contains("<script"), "self-contained, no script");
        assert!(!page.contains("src="), "nothing loaded from elsewhere");
        assert!(!page.contains("href=\"http"));
    }

    #[test]
    fn unknown_checkers_and_odd_details_do_not_break_it() {
        let h = timed_history();
        let mut a = CheckResult::new("frobnicate", Verdict::Unknown, "who knows");
        a.details = json!([1, 2, 3]);
        let mut b = CheckResult::new("elle", Verdict::Invalid, "bad");
        b.details = json!({"anomalies": {"G0": "not a list"}});
        let mut c = CheckResult::new("stale-read", Verdict::Invalid, "stale");
        c.details = json!({"stale_reads": [{"node": 3, "ms_behind": "x"}], "by_node": 7});
        let mut d = CheckResult::new("lost-write", Verdict::Invalid, "lost");
        d.details = json!({"counts": {"lost": "many"}, "lost": [{}]});
        let page = render(&h, &[a, b, c, d], &RunInfo::default());
        assert!(page.contains("INVALID"));
        assert!(page.contains("who knows"));
    }

    #[test]
    fn run_info_reads_the_results_document() {
        let doc = json!({"workload": "sim-x", "db": "sim", "seed": 7, "strategy": null,
            "stats": {"main_seconds": 2.5, "ops_per_second": 100.0}});
        let i = RunInfo::from_run(&doc);
        assert_eq!(i.title, "sim-x");
        assert!(i.meta.contains(&("seed".into(), "7".into())));
        assert!(i.meta.contains(&("duration".into(), "2.5 s".into())));
        assert!(!i.meta.iter().any(|(k, _)| k == "strategy"));
    }
}
