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
//! Reporting: each cycle shape (G0, G1c, G-single, G2-item, G-nonadjacent)
//! is searched with data edges only, then with process edges, then with
//! real-time edges too, and reported at the first level where it exists:
//! `G-single-process` means there is no plain G-single anywhere in the
//! history, but there is one once a process's order is taken into account.
//! G-nonadjacent is only named where G-single (which it generalizes) is not.
//! The anomaly types are the minimal explanation of the verdict; the model
//! boundary accounts for what each implies.
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
pub const MAX_INSTANCES: usize = 8;

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
    /// Up to eight explained instances per type.
    pub anomalies: BTreeMap<Anomaly, Vec<AnomalyInstance>>,
    /// How many instances (or components, for cycles) of each type exist.
    pub counts: BTreeMap<Anomaly, usize>,
    pub boundary: ModelBoundary,
    /// False when the budget ran out before the cycle search finished, or
    /// when some anti-dependencies were not inferred (see `notes`).
    pub complete: bool,
    /// Caveats about the inference: values written more than once to a key
    /// (their writers cannot be told apart, so they get no edges), keys
    /// whose reads of null were not linked to every first version.
    pub notes: Vec<String>,
}

/// Analyzes a transactional history. `kind` is detected when `None`.
/// Errors describe histories that are not list-append / rw-register.
pub fn analyze(
    history: &History,
    kind: Option<ElleKind>,
    budget: &Budget,
) -> Result<ElleAnalysis, String> {
    let txns = txn::parse_txns(history, kind).map_err(|e| format!("{}: {e}", history.source))?;
    if txns.txns.is_empty() && txns.skipped > 0 {
        return Err(format!(
            "{}: no `txn` operations among {} client operations; the transactional checker reads list-append or rw-register transactions",
            history.source, txns.skipped
        ));
    }
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
    let mut notes = Vec::new();
    let ambiguous = inf.writers.values().filter(|w| w.ambiguous).count();
    if ambiguous > 0 {
        complete = false;
        notes.push(format!(
            "{ambiguous} value(s) were written more than once to the same key; Elle's inference needs unique values, so those writes get no dependency edges"
        ));
    }
    if inf.truncated_keys > 0 {
        notes.push(format!(
            "{} key(s) have too many reads of null and first versions to link them all; their anti-dependencies are incomplete",
            inf.truncated_keys
        ));
    }
    let mut search = CycleSearch::new(&g, SearchLimits::default());
    let largest_component = search.largest_component;
    if search.has_cycles() {
        let cancelled = || budget.exhausted();
        let levels: [u8; 3] = [0, PROCESS, PROCESS | REALTIME];
        let shapes: [(Shape, [Anomaly; 3]); 5] = [
            (
                Shape::G0,
                [Anomaly::G0, Anomaly::G0Process, Anomaly::G0Realtime],
            ),
            (
                Shape::G1c,
                [Anomaly::G1c, Anomaly::G1cProcess, Anomaly::G1cRealtime],
            ),
            (
                Shape::GSingle,
                [
                    Anomaly::GSingle,
                    Anomaly::GSingleProcess,
                    Anomaly::GSingleRealtime,
                ],
            ),
            (
                Shape::G2Item,
                [
                    Anomaly::G2Item,
                    Anomaly::G2ItemProcess,
                    Anomaly::G2ItemRealtime,
                ],
            ),
            (
                Shape::GNonadjacent,
                [
                    Anomaly::GNonadjacent,
                    Anomaly::GNonadjacentProcess,
                    Anomaly::GNonadjacentRealtime,
                ],
            ),
        ];
        // The level at which G-single was found: a G-single cycle is
        // trivially nonadjacent, so G-nonadjacent is only worth naming at
        // lower levels.
        let mut g_single_level = usize::MAX;
        'shapes: for (shape, names) in shapes {
            for (li, extra) in levels.into_iter().enumerate() {
                if shape == Shape::GNonadjacent && li >= g_single_level {
                    break;
                }
                if budget.exhausted() {
                    complete = false;
                    break 'shapes;
                }
                let found = search.find(shape, extra, &cancelled);
                if found.interrupted {
                    complete = false;
                }
                if found.components == 0 {
                    if found.undecided {
                        // Could neither find nor rule out this shape here.
                        complete = false;
                        notes.push(format!(
                            "the search for {} cycles ran out of its work budget in a large component without settling whether one exists",
                            names[li]
                        ));
                    }
                    continue;
                }
                if shape == Shape::GSingle {
                    g_single_level = li;
                }
                let a = names[li];
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
        notes,
    })
}

/// Renders micro-ops Elle-style: `[append x 1] [r y [1 2]]`.
fn mops_text(v: &Value) -> String {
    fn atom(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => format!("[{}]", a.iter().map(atom).collect::<Vec<_>>().join(" ")),
            Value::Null => "nil".into(),
            other => other.to_string(),
        }
    }
    match v.as_array() {
        Some(a) => a.iter().map(atom).collect::<Vec<_>>().join(" "),
        None => atom(v),
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
        Anomaly::GNonadjacent | Anomaly::GNonadjacentProcess | Anomaly::GNonadjacentRealtime => {
            "a cycle with two or more anti-dependencies (rw), no two in a row"
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
        for n in &an.notes {
            explanation.push_str(&format!("Note: {n}.\n"));
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
            "notes": an.notes,
        });
        r
    }
}
