//! The linearizability counterexample, drawn the way Porcupine shows one:
//! the operations around the one that cannot be linearized, one row per
//! process, bars from call to return on a compressed event axis (only the
//! events that matter get a column), coloured by their part in the story:
//! the end of the longest linearizable prefix, the operations concurrent
//! with the culprit, and the culprit itself. Under it the model states the
//! prefix can leave, which is why the culprit has no place to go.
//!
//! It reads the linearizable checker's `details.failures` and skips any
//! field it does not find. When the graph checker decided instead
//! (`details.anomalies`, each naming the events of its operations), the
//! same drawing shows those operations and the ones overlapping them.

use super::timeline::{fmt, outcome_class};
use super::view::{short, Span, View};
use crate::history::{History, Outcome};
use maud::{html, Markup};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Prefix operations drawn before the culprit (the rest are counted).
const PREFIX_SHOWN: usize = 10;
/// Concurrent operations drawn (the rest are counted).
const CONCURRENT_SHOWN: usize = 40;
/// Failures (keys) drawn.
pub const FAILURES_SHOWN: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Prefix,
    Concurrent,
    Culprit,
    /// Named by a graph checker's anomaly.
    Involved,
    /// Overlaps an involved operation, on the same key.
    Overlapping,
}

impl Role {
    fn class(self) -> &'static str {
        match self {
            Role::Prefix => "lin-prefix",
            Role::Concurrent | Role::Overlapping => "lin-concurrent",
            Role::Culprit | Role::Involved => "lin-culprit",
        }
    }
    fn words(self) -> &'static str {
        match self {
            Role::Prefix => "linearizable prefix",
            Role::Concurrent => "concurrent",
            Role::Culprit => "cannot be linearized",
            Role::Involved => "in the anomaly",
            Role::Overlapping => "overlapping, same key",
        }
    }
}

struct Bar {
    role: Role,
    process: String,
    label: String,
    call: u64,
    ret: Option<u64>,
    line: Option<u64>,
}

fn bar(op: &Value, role: Role) -> Option<Bar> {
    let call = op.get("index")?.as_u64()?;
    let outcome = op
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("")
        .to_string();
    let ret = if outcome == "info" {
        None
    } else {
        op.get("complete_index").and_then(|c| c.as_u64())
    };
    let f = op.get("f").and_then(|f| f.as_str()).unwrap_or("?");
    let mut label = f.to_string();
    let value = op.get("value").unwrap_or(&Value::Null);
    if !value.is_null() {
        label.push(' ');
        label.push_str(&short(value, 24));
    }
    match op.get("output") {
        Some(o) if !o.is_null() && o != value => {
            label.push_str(" → ");
            label.push_str(&short(o, 24));
        }
        _ => {}
    }
    if outcome != "ok" && !outcome.is_empty() {
        label.push_str(&format!(" ({outcome})"));
    }
    Some(Bar {
        role,
        process: op
            .get("process")
            .map(|p| short(p, 12))
            .unwrap_or_else(|| "?".into()),
        label,
        call,
        ret,
        line: op.get("line").and_then(|l| l.as_u64()),
    })
}

/// The drawing and table for one failure.
pub fn failure(f: &Value, model: &str) -> Markup {
    let empty = Vec::new();
    let list = |k: &str| f.get(k).and_then(|v| v.as_array()).unwrap_or(&empty);
    let prefix = list("prefix");
    let concurrent = list("concurrent");
    let prefix_len = f
        .get("prefix_length")
        .and_then(|v| v.as_u64())
        .unwrap_or(prefix.len() as u64);
    let concurrent_len = f
        .get("concurrent_count")
        .and_then(|v| v.as_u64())
        .unwrap_or(concurrent.len() as u64);
    let mut bars: Vec<Bar> = Vec::new();
    let tail = prefix.len().saturating_sub(PREFIX_SHOWN);
    bars.extend(prefix[tail..].iter().filter_map(|o| bar(o, Role::Prefix)));
    bars.extend(
        concurrent
            .iter()
            .take(CONCURRENT_SHOWN)
            .filter_map(|o| bar(o, Role::Concurrent)),
    );
    let culprit = f.get("op").and_then(|o| bar(o, Role::Culprit));
    let culprit_label = culprit
        .as_ref()
        .map(|c| format!("process {} {}", c.process, c.label))
        .unwrap_or_else(|| "?".into());
    bars.extend(culprit);
    bars.sort_by_key(|b| (b.call, b.role as u8));
    bars.dedup_by_key(|b| b.call);
    let states: Vec<String> = list("states")
        .iter()
        .map(|s| match s {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let key = f.get("key").filter(|k| !k.is_null()).map(|k| short(k, 40));
    let shown_prefix = prefix.len() - tail;
    html! {
        div.counterexample {
            h3 {
                @if let Some(k) = &key { "key " (k) ": " }
                span.culprit-name { (culprit_label) } " cannot be linearized"
            }
            (draw(&bars))
            p.legend {
                span.swatch.lin-prefix {} " end of the longest linearizable prefix "
                span.swatch.lin-concurrent {} " concurrent with it "
                span.swatch.lin-culprit {} " cannot be linearized; "
                "a bar runs from call to return on a compressed axis of the events shown; a faded end means it never returned."
            }
            p {
                "The longest linearizable prefix has " b { (prefix_len) } " operation" @if prefix_len != 1 { "s" }
                @if (shown_prefix as u64) < prefix_len { " (the last " (shown_prefix) " are drawn)" }
                ". After it the " (model) " "
                @match states.len() {
                    0 => { "state is not recorded." }
                    1 => { "holds " code.state { (states[0]) } "." }
                    _ => {
                        "can be any of: "
                        @for (i, s) in states.iter().enumerate() {
                            @if i > 0 { ", " }
                            code.state { (s) }
                        }
                        "."
                    }
                }
                " " (concurrent_len) " operation" @if concurrent_len != 1 { "s are" } @else { " is" }
                " concurrent with it"
                @if concurrent_len as usize > CONCURRENT_SHOWN { " (the first " (CONCURRENT_SHOWN) " are drawn)" }
                "."
            }
            table.ops {
                tr { th { "role" } th { "process" } th { "operation" } th { "events" } th { "line" } }
                @for b in &bars {
                    tr class=(b.role.class()) {
                        td { (b.role.words()) }
                        td { (b.process) }
                        td { code { (b.label) } }
                        td { (b.call) "–" @match b.ret { Some(r) => (r), None => "never returned" } }
                        td { @if let Some(l) = b.line { (l) } }
                    }
                }
            }
        }
    }
}

/// Context operations drawn around a graph anomaly.
const OVERLAPPING_SHOWN: usize = 30;

/// An operation of the history as the linearizable checker's details spell
/// one, so graph anomalies draw like search counterexamples.
fn op_value(history: &History, s: &Span) -> Value {
    let inv = &history.ops()[s.invoke];
    let done = s.complete.map(|c| &history.ops()[c]);
    json!({
        "process": inv.process,
        "type": outcome_class(s.outcome),
        "f": s.f,
        "value": inv.value,
        "output": done.filter(|_| s.outcome == Outcome::Ok).map(|d| d.value.clone()),
        "index": inv.index,
        "complete_index": done.map(|d| d.index),
        "line": inv.line,
    })
}

/// A graph checker's anomaly (`events`: history positions of the
/// invocations it names): those operations and the ones overlapping them on
/// the same key, with the checker's sentence.
pub fn graph_anomaly(history: &History, view: &View, a: &Value) -> Markup {
    let events: Vec<usize> = a
        .get("events")
        .and_then(|e| e.as_array())
        .map(|e| {
            e.iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as usize)
                .collect()
        })
        .unwrap_or_default();
    let involved: Vec<&Span> = events
        .iter()
        .filter_map(|&e| {
            let i = view.spans.binary_search_by_key(&e, |s| s.invoke).ok()?;
            view.spans.get(i)
        })
        .collect();
    let lo = involved.iter().map(|s| s.invoke).min().unwrap_or(0);
    let hi = involved
        .iter()
        .map(|s| s.complete.unwrap_or(s.invoke))
        .max()
        .unwrap_or(0);
    let key = involved.first().map(|s| &history.ops()[s.invoke].key);
    let overlapping: Vec<&Span> = view
        .spans
        .iter()
        .take_while(|s| s.invoke <= hi)
        .filter(|s| s.complete.unwrap_or(usize::MAX) >= lo)
        .filter(|s| Some(&history.ops()[s.invoke].key) == key)
        .filter(|s| !events.contains(&s.invoke))
        .take(OVERLAPPING_SHOWN)
        .collect();
    let mut bars: Vec<Bar> = involved
        .iter()
        .filter_map(|s| bar(&op_value(history, s), Role::Involved))
        .chain(
            overlapping
                .iter()
                .filter_map(|s| bar(&op_value(history, s), Role::Overlapping)),
        )
        .collect();
    bars.sort_by_key(|b| (b.call, b.role as u8));
    bars.dedup_by_key(|b| b.call);
    let kind = a.get("type").and_then(|t| t.as_str()).unwrap_or("anomaly");
    html! {
        div.counterexample {
            h3 { (kind) @if let Some(Some(k)) = key { " on key " (short(k, 40)) } }
            @if let Some(e) = a.get("explanation").and_then(|e| e.as_str()) { p { (e) } }
            @if !bars.is_empty() {
                (draw(&bars))
                p.legend {
                    span.swatch.lin-culprit {} " named by the checker "
                    span.swatch.lin-concurrent {} " overlapping them on the same key"
                    @if overlapping.len() == OVERLAPPING_SHOWN { " (the first " (OVERLAPPING_SHOWN) ")" }
                    "; a bar runs from call to return on a compressed axis of the events shown."
                }
            }
        }
    }
}

fn draw(bars: &[Bar]) -> Markup {
    const WIDTH: f64 = 1100.0;
    const LEFT: f64 = 90.0;
    const ROW: f64 = 26.0;
    let mut events: Vec<u64> = bars
        .iter()
        .flat_map(|b| std::iter::once(b.call).chain(b.ret))
        .collect();
    events.sort_unstable();
    events.dedup();
    let mut processes: Vec<&str> = Vec::new();
    for b in bars {
        if !processes.contains(&b.process.as_str()) {
            processes.push(&b.process);
        }
    }
    let row: BTreeMap<&str, usize> = processes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    // One column per event plus one for "never returned".
    let cols = events.len() as f64 + 1.0;
    let col = (WIDTH - LEFT - 10.0) / cols;
    let x = |e: u64| LEFT + events.binary_search(&e).unwrap_or(0) as f64 * col + col / 2.0;
    let height = ROW * processes.len() as f64 + 16.0;
    html! {
        svg.lin xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(height)
            viewBox=(format!("0 0 {WIDTH} {height}")) {
            @for (i, p) in processes.iter().enumerate() {
                line.grid x1=(LEFT) x2=(WIDTH - 10.0) y1=(fmt(8.0 + ROW * i as f64 + ROW / 2.0)) y2=(fmt(8.0 + ROW * i as f64 + ROW / 2.0)) {}
                text.lane x=(LEFT - 8.0) y=(fmt(8.0 + ROW * i as f64 + ROW / 2.0 + 4.0)) { "process " (p) }
            }
            @for b in bars {
                @let y = 8.0 + ROW * row.get(b.process.as_str()).copied().unwrap_or(0) as f64 + 3.0;
                @let x0 = x(b.call) - col * 0.4;
                @let x1 = match b.ret { Some(r) => x(r) + col * 0.4, None => WIDTH - 12.0 };
                @let w = (x1 - x0).max(4.0);
                @let chars = ((w - 6.0) / 6.6).max(0.0) as usize;
                g class=(b.role.class()) {
                    rect x=(fmt(x0)) y=(fmt(y)) width=(fmt(w)) height=(ROW - 6.0) rx="3"
                        class=(if b.ret.is_none() { "open" } else { "" }) {
                        title { (b.role.words()) ": process " (b.process) " " (b.label)
                            @if let Some(l) = b.line { ", line " (l) } }
                    }
                    @if chars >= 3 {
                        text.barlabel x=(fmt(x0 + 4.0)) y=(fmt(y + ROW / 2.0)) {
                            (clip(&b.label, chars))
                        }
                    }
                }
            }
        }
    }
}

fn clip(s: &str, chars: usize) -> String {
    if s.chars().count() <= chars {
        s.to_string()
    } else {
        let c: String = s.chars().take(chars.saturating_sub(1)).collect();
        format!("{c}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn draws_prefix_concurrent_and_culprit_with_states() {
        let f = json!({
            "key": "a",
            "op": {"process": 1, "type": "ok", "f": "read", "value": null, "output": 1, "index": 6, "complete_index": 7, "line": 7},
            "concurrent": [],
            "concurrent_count": 0,
            "prefix": [
                {"process": 0, "type": "ok", "f": "write", "value": 1, "output": 1, "index": 0, "complete_index": 1, "line": 1},
                {"process": 0, "type": "ok", "f": "write", "value": 2, "output": 2, "index": 2, "complete_index": 3, "line": 3},
            ],
            "prefix_length": 2,
            "states": ["2"],
        });
        let html = failure(&f, "register").into_string();
        assert!(
            html.contains("process 1 read → 1</span> cannot be linearized"),
            "{html}"
        );
        assert_eq!(html.matches("<g class=\"lin-prefix\"").count(), 2);
        assert_eq!(html.matches("<g class=\"lin-culprit\"").count(), 1);
        assert!(html.contains("holds <code class=\"state\">2</code>"));
        assert!(html.contains("write 2"));
    }

    #[test]
    fn tolerates_missing_fields() {
        let html = failure(&json!({"op": {"f": "read"}}), "register").into_string();
        assert!(html.contains("state is not recorded"));
    }
}
