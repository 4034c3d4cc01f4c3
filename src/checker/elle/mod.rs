//! Elle-style transactional checking for list-append and rw-register
//! histories.
//!
//! Following Kingsbury and Alvaro's Elle ("Elle: Inferring Isolation
//! Anomalies from Experimental Observations") and Adya's anomalies: from
//! what transactions read, infer a dependency graph (ww, wr, rw edges, plus
//! process and real-time order), find the shortest cycle of each anomaly
//! type in it, add the anomalies that need no cycle (aborted and
//! intermediate reads, lost updates, duplicate elements, incompatible
//! orders, internal inconsistencies), and turn the anomalies into the
//! consistency models they rule out.
//!
//! Unlike Elle, the cycle search never gives up on a big strongly connected
//! component: see [`graph`] for how a concrete cycle of every type present is
//! named in near-linear work.
//!
//! Entry points: [`ElleChecker`] (a [`Checker`]) and [`analyze`] for the
//! structured result.

pub mod gen;
pub mod graph;
pub mod infer;
pub mod models;
pub mod txn;

pub use models::{boundary, parse_consistency_model, Anomaly, ConsistencyModel, ModelBoundary};

use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::History;
use graph::{kind_name, CycleSearch, SearchLimits, Shape, PROCESS, REALTIME};
use infer::{explain_edge, tname, Inference};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use txn::Txns;

/// Which transactional workload a history records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElleKind {
    /// `["append", k, v]` and `["r", k, [..]]`.
    ListAppend,
    /// `["w", k, v]` and `["r", k, v]`.
    RwRegister,
}

impl ElleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ElleKind::ListAppend => "list-append",
            ElleKind::RwRegister => "rw-register",
        }
    }
    /// Parses `list-append` / `rw-register` (also `append`, `register`).
    pub fn parse(s: &str) -> Result<ElleKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "list-append" | "append" | "list_append" => Ok(ElleKind::ListAppend),
            "rw-register" | "register" | "rw_register" => Ok(ElleKind::RwRegister),
            other => Err(format!(
                "unknown transactional workload {other:?}; valid kinds are: list-append, rw-register"
            )),
        }
    }
}

/// How many instances of one anomaly type are kept in the report.
const MAX_INSTANCES: usize = 8;

/// One occurrence of an anomaly, explained.
#[derive(Clone, Debug, Serialize)]
pub struct AnomalyInstance {
    #[serde(rename = "type")]
    pub anomaly: Anomaly,
    /// Sentences, one per edge for cycles.
    pub explanation: String,
    /// The transactions involved (for cycles, in cycle order).
    pub txns: Vec<Value>,
    /// For cycles: `{from, to, kind, explanation}` per edge.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<Value>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

/// The result of an analysis.
#[derive(Clone, Debug, Serialize)]
pub struct ElleAnalysis {
    pub kind: ElleKind,
    pub txn_count: usize,
    pub edge_count: usize,
    /// Transactions in the largest strongly connected component of the
    /// dependency graph (1 when it is acyclic).
    pub largest_component: usize,
    /// Anomaly types found, sorted.
    pub anomaly_types: Vec<Anomaly>,
    /// Up to [`MAX_INSTANCES`] explained instances per type.
    pub anomalies: BTreeMap<Anomaly, Vec<AnomalyInstance>>,
    /// How many instances (or components, for cycles) of each type exist.
    pub counts: BTreeMap<Anomaly, usize>,
    pub boundary: ModelBoundary,
    /// False when the budget ran out before the cycle search finished.
    pub complete: bool,
}

/// Analyzes a transactional history. `kind` is detected when `None`.
/// Errors describe histories that are not list-append / rw-register.
pub fn analyze(
    history: &History,
    kind: Option<ElleKind>,
    budget: &Budget,
) -> Result<ElleAnalysis, String> {
    let txns = txn::parse_txns(history, kind).map_err(|e| format!("{}: {e}", history.source))?;
    let inf = infer::infer(&txns);
    let g = graph::DepGraph::from_edges(txns.txns.len(), inf.edges.clone());
    let mut anomalies: BTreeMap<Anomaly, Vec<AnomalyInstance>> = BTreeMap::new();
    let mut counts: BTreeMap<Anomaly, usize> = BTreeMap::new();
    for f in &inf.findings {
        *counts.entry(f.anomaly).or_default() += 1;
        let list = anomalies.entry(f.anomaly).or_default();
        if list.len() < MAX_INSTANCES {
            list.push(AnomalyInstance {
                anomaly: f.anomaly,
                explanation: f.explanation.clone(),
                txns: f
                    .txns
                    .iter()
                    .map(|&t| txn_json(history, &txns, t))
                    .collect(),
                edges: Vec::new(),
                data: f.data.clone(),
            });
        }
    }
    // Under-approximated anti-dependencies cannot confirm a model.
    let mut complete = inf.truncated_keys == 0;
    let mut search = CycleSearch::new(&g, SearchLimits::default());
    let largest_component = search.largest_component;
    if search.has_cycles() {
        let cancelled = || budget.exhausted();
        let levels: [(u8, [Anomaly; 4]); 3] = [
            (
                0,
                [Anomaly::G0, Anomaly::G1c, Anomaly::GSingle, Anomaly::G2Item],
            ),
            (
                PROCESS,
                [
                    Anomaly::G0Process,
                    Anomaly::G1cProcess,
                    Anomaly::GSingleProcess,
                    Anomaly::G2ItemProcess,
                ],
            ),
            (
                PROCESS | REALTIME,
                [
                    Anomaly::G0Realtime,
                    Anomaly::G1cRealtime,
                    Anomaly::GSingleRealtime,
                    Anomaly::G2ItemRealtime,
                ],
            ),
        ];
        let shapes = [Shape::G0, Shape::G1c, Shape::GSingle, Shape::G2Item];
        for (si, shape) in shapes.into_iter().enumerate() {
            for (extra, names) in levels {
                if budget.exhausted() {
                    complete = false;
                    break;
                }
                let found = search.find(shape, extra, &cancelled);
                if found.interrupted {
                    complete = false;
                }
                if found.components == 0 {
                    continue;
                }
                let a = names[si];
                counts.insert(a, found.components);
                let list = anomalies.entry(a).or_default();
                for cy in found.cycles.iter().take(MAX_INSTANCES) {
                    list.push(cycle_instance(history, &txns, &inf, a, cy));
                }
                break;
            }
        }
    }
    let anomaly_types: Vec<Anomaly> = anomalies.keys().copied().collect();
    let boundary = boundary(&anomaly_types);
    Ok(ElleAnalysis {
        kind: txns.kind,
        txn_count: txns.txns.len(),
        edge_count: g.edge_count(),
        largest_component,
        anomaly_types,
        anomalies,
        counts,
        boundary,
        complete,
    })
}

fn mops_text(v: &Value) -> String {
    match v.as_array() {
        Some(a) => a
            .iter()
            .map(|m| match m.as_array() {
                Some(parts) => format!(
                    "[{}]",
                    parts
                        .iter()
                        .map(|p| match p {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                None => m.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => v.to_string(),
    }
}

fn txn_json(history: &History, txns: &Txns, t: u32) -> Value {
    let x = &txns.txns[t as usize];
    json!({
        "name": tname(txns, t),
        "index": x.index,
        "line": x.line,
        "process": x.process,
        "type": x.status,
        "value": txns.raw(history, t),
    })
}

fn txn_line(history: &History, txns: &Txns, t: u32) -> String {
    let x = &txns.txns[t as usize];
    let mut where_ = Vec::new();
    if x.line > 0 {
        where_.push(format!("line {}", x.line));
    }
    if let Some(p) = &x.process {
        where_.push(format!("process {p}"));
    }
    where_.push(
        match x.status {
            txn::Status::Ok => "ok",
            txn::Status::Fail => "fail",
            txn::Status::Info => "info",
        }
        .to_string(),
    );
    format!(
        "{} ({}): {}",
        tname(txns, t),
        where_.join(", "),
        mops_text(txns.raw(history, t))
    )
}

fn describe(a: Anomaly) -> &'static str {
    match a {
        Anomaly::G0 | Anomaly::G0Process | Anomaly::G0Realtime => "a cycle of write dependencies",
        Anomaly::G1c | Anomaly::G1cProcess | Anomaly::G1cRealtime => {
            "a cycle of write and read dependencies"
        }
        Anomaly::GSingle | Anomaly::GSingleProcess | Anomaly::GSingleRealtime => {
            "a cycle with exactly one anti-dependency (rw)"
        }
        _ => "a cycle with two or more anti-dependencies (rw)",
    }
}

fn cycle_instance(
    history: &History,
    txns: &Txns,
    inf: &Inference,
    a: Anomaly,
    cy: &graph::Cycle,
) -> AnomalyInstance {
    let names: Vec<String> = cy.nodes.iter().map(|&t| tname(txns, t)).collect();
    let mut text = format!(
        "{a}: {} ({}):\n",
        describe(a),
        names
            .iter()
            .chain(names.first())
            .cloned()
            .collect::<Vec<_>>()
            .join(" → ")
    );
    let mut edges = Vec::new();
    for &t in &cy.nodes {
        text.push_str(&format!("  {}\n", txn_line(history, txns, t)));
    }
    for i in 0..cy.len() {
        let (from, to) = (cy.nodes[i], cy.nodes[(i + 1) % cy.len()]);
        let (sentence, data) = explain_edge(txns, inf, from, to, cy.kinds[i]);
        text.push_str(&format!("  {sentence}\n"));
        edges.push(json!({
            "from": tname(txns, from),
            "to": tname(txns, to),
            "kind": kind_name(cy.kinds[i]),
            "explanation": sentence,
            "data": data,
        }));
    }
    AnomalyInstance {
        anomaly: a,
        explanation: text.trim_end().to_string(),
        txns: cy
            .nodes
            .iter()
            .map(|&t| txn_json(history, txns, t))
            .collect(),
        edges,
        data: Value::Null,
    }
}

/// The Elle-style checker: invalid iff the history rules out the
/// requested consistency model.
#[derive(Clone, Debug)]
pub struct ElleChecker {
    /// A name accepted by [`parse_consistency_model`].
    pub consistency_model: String,
    /// The workload; detected from the micro-ops when `None`.
    pub kind: Option<ElleKind>,
}

impl Default for ElleChecker {
    fn default() -> Self {
        ElleChecker {
            consistency_model: "strict-serializable".into(),
            kind: None,
        }
    }
}

impl ElleChecker {
    /// A checker for `model` (validated; the error lists valid names).
    pub fn new(model: &str, kind: Option<ElleKind>) -> Result<ElleChecker, String> {
        parse_consistency_model(model)?;
        Ok(ElleChecker {
            consistency_model: model.to_string(),
            kind,
        })
    }
}

impl Checker for ElleChecker {
    fn name(&self) -> &str {
        "elle"
    }

    fn check(&self, history: &History, budget: &Budget) -> CheckResult {
        let model = match parse_consistency_model(&self.consistency_model) {
            Ok(m) => m,
            Err(e) => {
                let mut r = CheckResult::new("elle", Verdict::Unknown, e.clone());
                r.explanation = e;
                return r;
            }
        };
        let an = match analyze(history, self.kind, budget) {
            Ok(a) => a,
            Err(e) => {
                let mut r = CheckResult::new(
                    "elle",
                    Verdict::Unknown,
                    "not a list-append or rw-register history",
                );
                r.explanation = e;
                return r;
            }
        };
        let ruled_out = model.ruled_out_by(&an.anomaly_types);
        let verdict = if ruled_out {
            Verdict::Invalid
        } else if !an.complete {
            Verdict::Unknown
        } else {
            Verdict::Valid
        };
        let names = |ms: &[ConsistencyModel]| {
            if ms.is_empty() {
                "none".to_string()
            } else {
                ms.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
            }
        };
        let types: Vec<&str> = an.anomaly_types.iter().map(|a| a.as_str()).collect();
        let summary = format!(
            "{}: {} txns; {}; {} {}; strongest possible: {}",
            an.kind.as_str(),
            an.txn_count,
            if types.is_empty() {
                "no anomalies".to_string()
            } else {
                format!("anomalies {}", types.join(", "))
            },
            model,
            if ruled_out {
                "ruled out"
            } else if an.complete {
                "holds"
            } else {
                "undecided (budget exhausted)"
            },
            names(&an.boundary.strongest_possible)
        );
        let mut explanation = String::new();
        for (a, list) in &an.anomalies {
            let n = an.counts.get(a).copied().unwrap_or(list.len());
            explanation.push_str(&format!("{a} ({n} found):\n"));
            for inst in list {
                for line in inst.explanation.lines() {
                    explanation.push_str("  ");
                    explanation.push_str(line);
                    explanation.push('\n');
                }
            }
        }
        if !an.boundary.not.is_empty() {
            explanation.push_str(&format!("Ruled out: {}", names(&an.boundary.not)));
            if !an.boundary.also_not.is_empty() {
                explanation.push_str(&format!(
                    " (and the stronger {})",
                    names(&an.boundary.also_not)
                ));
            }
            explanation.push_str(".\n");
        }
        let mut r = CheckResult::new("elle", verdict, summary);
        r.explanation = explanation.trim_end().to_string();
        r.details = json!({
            "kind": an.kind,
            "consistency_model": model,
            "txn_count": an.txn_count,
            "edge_count": an.edge_count,
            "largest_component": an.largest_component,
            "anomaly_types": an.anomaly_types,
            "anomaly_counts": an.counts,
            "anomalies": an.anomalies,
            "not": an.boundary.not,
            "also_not": an.boundary.also_not,
            "strongest_possible": an.boundary.strongest_possible,
            "complete": an.complete,
        });
        r
    }
}
