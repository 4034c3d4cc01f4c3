//! Elle-style anomalies drawn as graphs: the transactions of a cycle on a
//! circle, one arrow per dependency labelled with its kind (ww, wr, rw,
//! process, realtime), and under it the transactions and the sentence that
//! justifies each edge. Anomalies that are not cycles (an aborted read, a
//! duplicate) have no drawing, only their explanation.
//!
//! It reads the transactional checker's `details.anomalies` (a map from
//! anomaly name to instances with `txns` and `edges`) and skips any field
//! it does not find.

use super::timeline::fmt;
use super::view::short;
use maud::{html, Markup};
use serde_json::Value;

const BOX_W: f64 = 116.0;
const BOX_H: f64 = 44.0;

/// Instances drawn per anomaly type, and in all.
pub const PER_TYPE: usize = 3;
pub const IN_ALL: usize = 12;

fn edge_class(kind: &str) -> &'static str {
    match kind {
        "ww" => "e-ww",
        "wr" => "e-wr",
        "rw" => "e-rw",
        "process" => "e-process",
        "realtime" => "e-realtime",
        _ => "e-other",
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

/// The micro-ops of a transaction in Elle's notation: `[append x 2] [r y [1 2]]`,
/// cut at [`MOPS_CHARS`] characters.
pub fn mops(v: &Value) -> String {
    let text = mops_full(v);
    if text.chars().count() <= MOPS_CHARS {
        text
    } else {
        let cut: String = text.chars().take(MOPS_CHARS).collect();
        format!("{cut} …")
    }
}

/// The most characters of a transaction shown.
const MOPS_CHARS: usize = 400;

fn mops_full(v: &Value) -> String {
    match v.as_array() {
        Some(ms) => ms
            .iter()
            .map(|m| match m.as_array() {
                Some(parts) => format!(
                    "[{}]",
                    parts
                        .iter()
                        .map(|p| match p {
                            Value::String(s) => s.clone(),
                            Value::Null => "nil".into(),
                            other => short(other, 40),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                None => short(m, 40),
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => short(v, 120),
    }
}

/// The drawing of one cycle; `id` keeps marker ids unique in the page.
fn draw(txns: &[&Value], edges: &[Value], id: usize) -> Markup {
    let mut names: Vec<String> = txns.iter().map(|t| s(t, "name").to_string()).collect();
    for e in edges {
        for end in ["from", "to"] {
            let n = s(e, end).to_string();
            if !n.is_empty() && !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let n = names.len().max(1);
    let (w, h) = (
        760.0,
        if n <= 2 {
            220.0
        } else {
            200.0 + 40.0 * n.min(10) as f64
        },
    );
    let (cx, cy) = (w / 2.0, h / 2.0);
    let r = if n <= 2 {
        170.0
    } else {
        (h / 2.0 - 50.0).min(60.0 + 26.0 * n as f64)
    };
    let pos = |i: usize| -> (f64, f64) {
        let a = std::f64::consts::PI + 2.0 * std::f64::consts::PI * i as f64 / n as f64;
        (cx + r * a.cos(), cy + r * a.sin())
    };
    let at = |name: &str| names.iter().position(|x| x == name).map(pos);
    let info = |name: &str| {
        txns.iter().find(|t| s(t, "name") == name).map(|t| {
            let p = t.get("process").map(|p| short(p, 10)).unwrap_or_default();
            format!("process {p}, {}", s(t, "type"))
        })
    };
    let kinds = ["ww", "wr", "rw", "process", "realtime", "other"];
    html! {
        svg.cycle xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) {
            defs {
                @for k in kinds {
                    marker id=(format!("arrow-{id}-{k}")) viewBox="0 0 10 10" refX="9" refY="5"
                        markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                        path class=(edge_class(k)) d="M 0 0 L 10 5 L 0 10 z" {}
                    }
                }
            }
            @for e in edges {
                @if let (Some(a), Some(b)) = (at(s(e, "from")), at(s(e, "to"))) {
                    @let kind = s(e, "kind");
                    @let k = edge_class(kind).trim_start_matches("e-");
                    @let (dx, dy) = (b.0 - a.0, b.1 - a.1);
                    @let len = (dx * dx + dy * dy).sqrt().max(1.0);
                    // Bend to the right of the direction of travel, so that
                    // a→b and b→a do not overlap.
                    @let bend = if n <= 2 { 45.0 } else { 28.0 };
                    @let c = ((a.0 + b.0) / 2.0 - dy / len * bend, (a.1 + b.1) / 2.0 + dx / len * bend);
                    // From a box's centre towards the control point, stop at
                    // the box's edge (plus a gap) so the arrowhead shows.
                    @let shrink = |p: (f64, f64)| {
                        let (ux, uy) = (c.0 - p.0, c.1 - p.1);
                        let l = (ux * ux + uy * uy).sqrt().max(1.0);
                        let (ux, uy) = (ux / l, uy / l);
                        let t = (BOX_W / 2.0 + 4.0) / ux.abs().max(1e-9);
                        let t = t.min((BOX_H / 2.0 + 4.0) / uy.abs().max(1e-9));
                        (p.0 + ux * t, p.1 + uy * t)
                    };
                    @let (p1, p2) = (shrink(a), shrink(b));
                    @let mid = (0.25 * p1.0 + 0.5 * c.0 + 0.25 * p2.0, 0.25 * p1.1 + 0.5 * c.1 + 0.25 * p2.1);
                    g.edge {
                        path class=(format!("{} arc", edge_class(kind)))
                            d=(format!("M {} {} Q {} {} {} {}", fmt(p1.0), fmt(p1.1), fmt(c.0), fmt(c.1), fmt(p2.0), fmt(p2.1)))
                            marker-end=(format!("url(#arrow-{id}-{k})")) {
                            title { (s(e, "explanation")) }
                        }
                        text class=(format!("{} elabel", edge_class(kind))) x=(fmt(mid.0)) y=(fmt(mid.1 - 4.0)) { (kind) }
                    }
                }
            }
            @for (i, name) in names.iter().enumerate() {
                @let (x, y) = pos(i);
                g.txn {
                    rect x=(fmt(x - BOX_W / 2.0)) y=(fmt(y - BOX_H / 2.0)) width=(BOX_W) height=(BOX_H) rx="8" {}
                    text.tname x=(fmt(x)) y=(fmt(y - 3.0)) { (name) }
                    text.tinfo x=(fmt(x)) y=(fmt(y + 13.0)) { (info(name).unwrap_or_default()) }
                }
            }
        }
    }
}

/// An anomaly type: its name, how many were found, and the instances
/// drawn with their drawing ids.
type Group<'a> = (&'a String, usize, Vec<(&'a Value, usize)>);

/// Every anomaly of the checker's details, cycles drawn.
pub fn anomalies(details: &Value) -> Markup {
    let Some(map) = details.get("anomalies").and_then(|a| a.as_object()) else {
        return html! {};
    };
    let total: usize = map
        .values()
        .map(|v| v.as_array().map_or(0, |a| a.len()))
        .sum();
    // Which instances are drawn: the first few of each type, up to a total.
    let mut drawn = 0usize;
    let mut groups: Vec<Group> = Vec::new();
    for (name, list) in map {
        let list = list.as_array().map(|a| a.as_slice()).unwrap_or(&[]);
        let mut shown = Vec::new();
        for inst in list.iter().take(PER_TYPE) {
            if drawn == IN_ALL {
                break;
            }
            drawn += 1;
            shown.push((inst, drawn));
        }
        groups.push((name, list.len(), shown));
    }
    let skipped = total - drawn;
    html! {
        @if total == 0 {
            p { "No anomalies." }
        }
        @for (name, count, shown) in &groups {
            h3.anomaly { (name) " " span.count { "(" (count) ")" } }
            @for (inst, id) in shown {
                (instance(inst, *id))
            }
        }
        @if skipped > 0 {
            p.note { (skipped) " more anomal" @if skipped == 1 { "y is" } @else { "ies are" }
                " not drawn (at most " (PER_TYPE) " per type, " (IN_ALL) " in all); results.json lists them." }
        }
    }
}

fn instance(inst: &Value, id: usize) -> Markup {
    let empty = Vec::new();
    let txns: Vec<&Value> = inst
        .get("txns")
        .and_then(|t| t.as_array())
        .unwrap_or(&empty)
        .iter()
        .collect();
    let edges = inst
        .get("edges")
        .and_then(|e| e.as_array())
        .unwrap_or(&empty);
    let first_line = inst
        .get("explanation")
        .and_then(|e| e.as_str())
        .and_then(|e| e.lines().next())
        .unwrap_or("");
    html! {
        div.anomaly-instance {
            p.anomaly-head { (first_line) }
            @if !edges.is_empty() {
                (draw(&txns, edges, id))
            }
            @if !txns.is_empty() {
                table.ops {
                    tr { th { "txn" } th { "process" } th { "type" } th { "line" } th { "micro-ops" } }
                    @for t in &txns {
                        tr {
                            td { b { (s(t, "name")) } }
                            td { (t.get("process").map(|p| short(p, 12)).unwrap_or_default()) }
                            td { (s(t, "type")) }
                            td { (t.get("line").map(|l| short(l, 12)).unwrap_or_default()) }
                            td { code { (mops(t.get("value").unwrap_or(&Value::Null))) } }
                        }
                    }
                }
            }
            @if !edges.is_empty() {
                ul.edges {
                    @for e in edges {
                        li { span class=(format!("kind {}", edge_class(s(e, "kind")))) { (s(e, "kind")) } " " (s(e, "explanation")) }
                    }
                }
            } @else if let Some(text) = inst.get("explanation").and_then(|e| e.as_str()) {
                pre { (text) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_two_txn_cycle_has_two_labelled_edges() {
        let d = json!({"anomalies": {"G-single": [{
            "explanation": "G-single: a cycle (T5 → T4 → T5):\n...",
            "txns": [
                {"name": "T5", "process": 1, "type": "ok", "line": 6, "value": [["r", "x", [1]]]},
                {"name": "T4", "process": 0, "type": "ok", "line": 5, "value": [["append", "x", 2]]},
            ],
            "edges": [
                {"from": "T5", "to": "T4", "kind": "rw", "explanation": "T5 read x as [1], missing T4's append of 2"},
                {"from": "T4", "to": "T5", "kind": "wr", "explanation": "T5 read y as [1 2]"},
            ],
        }]}});
        let h = anomalies(&d).into_string();
        assert_eq!(h.matches("<g class=\"edge\">").count(), 2, "{h}");
        assert_eq!(h.matches("<g class=\"txn\">").count(), 2);
        assert!(h.contains("e-rw elabel"));
        assert!(h.contains("[r x [1]]"));
        assert!(
            h.contains("missing T4&#39;s append of 2") || h.contains("missing T4's append of 2")
        );
    }

    #[test]
    fn caps_the_number_drawn_and_says_so() {
        let inst = json!({"explanation": "G1a: aborted read", "txns": [], "edges": []});
        let d = json!({"anomalies": {"G1a": vec![inst; PER_TYPE + 2]}});
        let h = anomalies(&d).into_string();
        assert_eq!(h.matches("anomaly-instance").count(), PER_TYPE);
        assert!(h.contains("2 more anomalies are not drawn"));
    }
}
