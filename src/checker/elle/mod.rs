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
//! The verdict follows Elle's result rules: the options (models and/or
//! named anomalies, [`ElleOptions`]) determine which anomalies are
//! prohibited; a prohibited anomaly found makes the history invalid, an
//! `empty-transaction-graph` or `cycle-search-timeout` makes it unknown.
//! Which order edges join the graph (none, process, real time) also depends
//! on what is prohibited, as in Elle.
//!
//! Reporting: each cycle shape (G0, G1c, G-single-item, G-nonadjacent-item,
//! G2-item) is searched with data edges only, then with the order edges,
//! and named per strongly connected component at the first level where it
//! exists, unless a type found before in that component implies it (Elle's
//! rule). The searches are exact on histories of at most
//! [`EXACT_SEARCH_TXNS`] transactions (see [`graph`] and `docs/elle.md`).
//!
//! Entry points: [`ElleChecker`] (a [`Checker`]) and [`analyze`] for the
//! structured result.

pub mod gen;
pub mod graph;
pub mod infer;
pub mod models;
pub mod txn;

pub use models::{
    boundary, parse_anomaly_name, parse_consistency_model, parse_consistency_models, Anomaly,
    ConsistencyModel, ModelBoundary,
};

use crate::checker::{Budget, CheckResult, Checker, Verdict};
use crate::history::{History, Val};
use graph::{kind_name, CycleSearch, SearchLimits, Shape, PROCESS, REALTIME, RW, WR, WW};
use infer::{explain_edge, tname, Inference, OrderEdges};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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

/// What a check asks for (Elle's options).
#[derive(Clone, Debug)]
pub struct ElleOptions {
    /// Models that must all hold (Elle's `:consistency-models`); empty for
    /// none (then only `anomalies` fail the check).
    pub models: Vec<ConsistencyModel>,
    /// Anomalies that must not occur, by Elle's names (Elle's
    /// `:anomalies`); each also catches every anomaly that implies it.
    pub anomalies: Vec<&'static str>,
    /// The workload; detected from the micro-ops when `None`.
    pub kind: Option<ElleKind>,
    /// Extra sources of rw-register version orders.
    pub register: infer::RegisterOrders,
}

impl Default for ElleOptions {
    fn default() -> Self {
        ElleOptions {
            models: vec![ConsistencyModel::StrictSerializable],
            anomalies: Vec::new(),
            kind: None,
            register: infer::RegisterOrders::default(),
        }
    }
}

impl ElleOptions {
    /// Anomalies that fail the check.
    pub fn prohibited(&self) -> BTreeSet<&'static str> {
        models::prohibited(&self.models, &self.anomalies)
    }

    /// The order edges the check needs: real time if any prohibited cycle
    /// anomaly involves real time, else process order if one involves
    /// processes, else none (as Elle chooses its additional graphs).
    pub fn order_edges(&self) -> OrderEdges {
        let p = self.prohibited();
        let cycle = |a: &Anomaly| a.is_realtime() || a.is_process();
        if Anomaly::ALL
            .iter()
            .filter(|a| cycle(a) && a.is_realtime())
            .any(|a| p.contains(a.as_str()))
        {
            OrderEdges::Realtime
        } else if Anomaly::ALL
            .iter()
            .filter(|a| cycle(a) && a.is_process())
            .any(|a| p.contains(a.as_str()))
        {
            OrderEdges::Process
        } else {
            OrderEdges::None
        }
    }
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
    /// Every anomaly type found, sorted.
    pub anomaly_types: Vec<Anomaly>,
    /// Up to eight explained instances per type.
    pub anomalies: BTreeMap<Anomaly, Vec<AnomalyInstance>>,
    /// How many instances (or strongly connected components, for cycles)
    /// of each type exist.
    pub counts: BTreeMap<Anomaly, usize>,
    /// The models ruled out by everything found.
    pub boundary: ModelBoundary,
    /// False when some dependencies could not be inferred (see `notes`):
    /// then no model can be confirmed.
    pub complete: bool,
    /// Caveats about the inference: values written more than once to a key
    /// (their writers cannot be told apart, so they get no edges), keys
    /// whose reads of null were not linked to every first version, searches
    /// cut short.
    pub notes: Vec<String>,
}

impl ElleAnalysis {
    /// The verdict for `opts`, with the anomaly types worth reporting
    /// (Elle's `result-map`): found anomalies that are prohibited, plus
    /// those that make a verdict unknown.
    pub fn verdict(&self, opts: &ElleOptions) -> (Verdict, Vec<Anomaly>) {
        let prohibited = opts.prohibited();
        // Sorted by name, as Elle sorts its anomaly types.
        let mut reportable: Vec<Anomaly> = self
            .anomaly_types
            .iter()
            .copied()
            .filter(|a| a.is_unknown_kind() || prohibited.contains(a.as_str()))
            .collect();
        reportable.sort_by_key(|a| a.as_str());
        let verdict = if reportable.iter().any(|a| !a.is_unknown_kind()) {
            Verdict::Invalid
        } else if !reportable.is_empty() || !self.complete {
            Verdict::Unknown
        } else {
            Verdict::Valid
        };
        (verdict, reportable)
    }
}

/// Histories up to this many transactions are searched exhaustively,
/// whatever the work: a verdict there is never a search cut short.
pub const EXACT_SEARCH_TXNS: usize = 10_000;

/// Analyzes a transactional history with Elle's default options
/// (strict-serializable: real-time edges) and workload `kind`.
pub fn analyze(
    history: &History,
    kind: Option<ElleKind>,
    budget: &Budget,
) -> Result<ElleAnalysis, String> {
    analyze_with(
        history,
        &ElleOptions {
            kind,
            ..ElleOptions::default()
        },
        budget,
    )
}

/// Cycle shapes in the order Elle searches them, with their names at the
/// data, process and real-time levels.
const SHAPES: [(Shape, [Anomaly; 3]); 5] = [
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
        Shape::GNonadjacent,
        [
            Anomaly::GNonadjacent,
            Anomaly::GNonadjacentProcess,
            Anomaly::GNonadjacentRealtime,
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
];

/// Analyzes a transactional history. Errors describe histories that are
/// not list-append / rw-register.
pub fn analyze_with(
    history: &History,
    opts: &ElleOptions,
    budget: &Budget,
) -> Result<ElleAnalysis, String> {
    let txns =
        txn::parse_txns(history, opts.kind).map_err(|e| format!("{}: {e}", history.source))?;
    if txns.txns.is_empty() && txns.skipped > 0 {
        return Err(format!(
            "{}: no `txn` operations among {} client operations; the transactional checker reads list-append or rw-register transactions",
            history.source, txns.skipped
        ));
    }
    let order = opts.order_edges();
    let inf = infer::infer(&txns, order, &opts.register);
    let mut g = graph::DepGraph::from_edges(txns.txns.len(), inf.edges.clone());
    g.prefer_data_kinds();
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
    if g.edge_count() == 0 {
        counts.insert(Anomaly::EmptyTransactionGraph, 1);
        anomalies.insert(
            Anomaly::EmptyTransactionGraph,
            vec![AnomalyInstance {
                anomaly: Anomaly::EmptyTransactionGraph,
                explanation: format!(
                    "No dependency joins any two of the {} transactions ({} order edges considered): there is nothing to analyse.",
                    txns.txns.len(),
                    match order {
                        OrderEdges::None => "no",
                        OrderEdges::Process => "process",
                        OrderEdges::Realtime => "real-time",
                    }
                ),
                txns: Vec::new(),
                edges: Vec::new(),
                data: Value::Null,
            }],
        );
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
    let exact = txns.txns.len() <= EXACT_SEARCH_TXNS;
    let limits = SearchLimits {
        max_cycles: usize::MAX,
        exact,
        ..SearchLimits::default()
    };
    let mut search = CycleSearch::new(&g, limits);
    let largest_component = search.largest_component;
    let mut timed_out: Vec<String> = Vec::new();
    if search.has_cycles() {
        let cancelled = || budget.exhausted();
        // Strongly connected components of the whole graph: Elle reports,
        // per component, each cycle type not implied by one found before.
        let all: Vec<u32> = (0..g.n as u32).collect();
        let scc = g.components(&all, WW | WR | RW | PROCESS | REALTIME);
        // The name of a cycle at a level: data edges, process, real time.
        let name_at = |names: &[Anomaly; 3], extra: u8| {
            names[match extra {
                0 => 0,
                PROCESS => 1,
                _ => 2,
            }]
        };
        let levels: Vec<u8> = match order {
            OrderEdges::None => vec![0],
            OrderEdges::Process => vec![0, PROCESS],
            OrderEdges::Realtime => vec![0, REALTIME],
        };
        // first[shape][scc] = (level, cycle) of the first level with a cycle.
        let mut first: Vec<HashMap<u32, (usize, graph::Cycle)>> =
            (0..SHAPES.len()).map(|_| HashMap::new()).collect();
        let level_of = |first: &Vec<HashMap<u32, (usize, graph::Cycle)>>, s: usize, c: u32| {
            first[s].get(&c).map_or(usize::MAX, |x| x.0)
        };
        'shapes: for (si, (shape, names)) in SHAPES.iter().enumerate() {
            for (li, &extra) in levels.iter().enumerate() {
                if budget.exhausted() {
                    timed_out.push(format!("{} and later", name_at(names, extra)));
                    break 'shapes;
                }
                // Components where this shape at this level would be new.
                let allow: Vec<bool> = (0..g.n)
                    .map(|v| {
                        let c = scc[v];
                        let lv = |s: usize| level_of(&first, s, c);
                        if lv(si) <= li {
                            return false;
                        }
                        match shape {
                            Shape::G1c => lv(0) > li,
                            Shape::GNonadjacent => lv(2) > li,
                            Shape::G2Item => lv(2) > li && lv(3) > li,
                            _ => true,
                        }
                    })
                    .collect();
                if !allow.iter().any(|&a| a) {
                    continue;
                }
                let found = search.find(*shape, extra, &cancelled, Some(&allow));
                if found.interrupted || found.undecided {
                    timed_out.push(name_at(names, extra).to_string());
                }
                for cy in found.cycles {
                    let c = scc[cy.nodes[0] as usize];
                    let slot = &mut first[si];
                    match slot.get(&c) {
                        Some((l, old)) if *l < li || (*l == li && old.len() <= cy.len()) => {}
                        _ => {
                            slot.insert(c, (li, cy));
                        }
                    }
                }
            }
        }
        // Report per component, dropping what an earlier type implies.
        for (si, (_, names)) in SHAPES.iter().enumerate() {
            let mut per: Vec<(u32, usize, &graph::Cycle)> = first[si]
                .iter()
                .filter(|(c, (l, _))| {
                    let lv = |s: usize| level_of(&first, s, **c);
                    match si {
                        1 => lv(0) > *l,
                        3 => lv(2) > *l,
                        4 => lv(2) > *l && lv(3) > *l,
                        _ => true,
                    }
                })
                .map(|(c, (l, cy))| (*c, *l, cy))
                .collect();
            per.sort_by_key(|(c, l, cy)| (*l, cy.len(), *c));
            for (_, l, cy) in per {
                let a = name_at(names, levels[l]);
                *counts.entry(a).or_default() += 1;
                let list = anomalies.entry(a).or_default();
                if list.len() < MAX_INSTANCES {
                    list.push(cycle_instance(history, &txns, &inf, a, cy));
                }
            }
        }
    }
    if !timed_out.is_empty() {
        counts.insert(Anomaly::CycleSearchTimeout, timed_out.len());
        let text = format!(
            "The search for {} cycles was cut short ({}), so their absence is not established.",
            timed_out.join(", "),
            if budget.exhausted() {
                "the time limit ran out"
            } else {
                "a strongly connected component exceeded the work budget of histories over 10,000 transactions"
            }
        );
        notes.push(text.clone());
        anomalies.insert(
            Anomaly::CycleSearchTimeout,
            vec![AnomalyInstance {
                anomaly: Anomaly::CycleSearchTimeout,
                explanation: text,
                txns: Vec::new(),
                edges: Vec::new(),
                data: Value::Null,
            }],
        );
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
fn mops_text(v: &Val) -> String {
    fn atom(v: &Val) -> String {
        match v {
            Val::Str(s) => s.to_string(),
            Val::List(_) | Val::Ints(..) | Val::Triples(_) => format!(
                "[{}]",
                v.as_array()
                    .unwrap_or_default()
                    .iter()
                    .map(atom)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Val::Nil => "nil".into(),
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

/// The Elle-style checker: invalid iff the history shows an anomaly that
/// the requested models (or the requested anomalies) prohibit; unknown when
/// nothing could be analysed or a search was cut short.
#[derive(Clone, Debug, Default)]
pub struct ElleChecker {
    pub options: ElleOptions,
}

impl ElleChecker {
    /// A checker for the comma-separated `models` (validated; the error
    /// lists valid names) and workload `kind`.
    pub fn new(models: &str, kind: Option<ElleKind>) -> Result<ElleChecker, String> {
        Ok(ElleChecker {
            options: ElleOptions {
                models: parse_consistency_models(models)?,
                kind,
                ..ElleOptions::default()
            },
        })
    }
}

/// The transactional checker's command-line flags, as given.
#[derive(Clone, Debug, Default)]
pub struct ElleFlags {
    /// `--anomalies`: comma-separated anomaly names.
    pub anomalies: Option<String>,
    pub wfr_keys: bool,
    pub sequential_keys: bool,
    pub linearizable_keys: bool,
}

impl ElleChecker {
    /// A checker from the command line: `models` comma-separated (default
    /// strict-serializable, or none when only `--anomalies` is given, which
    /// then checks just those anomalies).
    pub fn from_flags(
        models: Option<&str>,
        kind: Option<ElleKind>,
        flags: &ElleFlags,
    ) -> Result<ElleChecker, String> {
        let mut anomalies = Vec::new();
        if let Some(list) = &flags.anomalies {
            for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let a = parse_anomaly_name(part).map_err(|e| format!("--anomalies: {e}"))?;
                if !anomalies.contains(&a) {
                    anomalies.push(a);
                }
            }
            if anomalies.is_empty() {
                return Err("--anomalies: no anomaly named".into());
            }
        }
        let models = match models {
            Some(m) => {
                parse_consistency_models(m).map_err(|e| format!("--consistency-model: {e}"))?
            }
            None if !anomalies.is_empty() => Vec::new(),
            None => vec![ConsistencyModel::StrictSerializable],
        };
        Ok(ElleChecker {
            options: ElleOptions {
                models,
                anomalies,
                kind,
                register: infer::RegisterOrders {
                    wfr_keys: flags.wfr_keys,
                    sequential_keys: flags.sequential_keys,
                    linearizable_keys: flags.linearizable_keys,
                },
            },
        })
    }
}

fn model_names(ms: &[ConsistencyModel]) -> String {
    if ms.is_empty() {
        "none".to_string()
    } else {
        ms.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl Checker for ElleChecker {
    fn name(&self) -> &str {
        "elle"
    }

    fn check(&self, history: &History, budget: &Budget) -> CheckResult {
        let opts = &self.options;
        let an = match analyze_with(history, opts, budget) {
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
        let (verdict, reportable) = an.verdict(opts);
        let asked = {
            let mut parts = Vec::new();
            if !opts.models.is_empty() {
                parts.push(model_names(&opts.models));
            }
            if !opts.anomalies.is_empty() {
                parts.push(format!("no {}", opts.anomalies.join(", ")));
            }
            if parts.is_empty() {
                "nothing asked".to_string()
            } else {
                parts.join("; ")
            }
        };
        let types: Vec<&str> = reportable.iter().map(|a| a.as_str()).collect();
        let others: Vec<&str> = an
            .anomaly_types
            .iter()
            .filter(|a| !reportable.contains(a))
            .map(|a| a.as_str())
            .collect();
        let summary = format!(
            "{}: {} txns; {}{}; {}: {}",
            an.kind.as_str(),
            an.txn_count,
            if types.is_empty() {
                "no prohibited anomalies".to_string()
            } else {
                format!("anomalies {}", types.join(", "))
            },
            if others.is_empty() {
                String::new()
            } else {
                format!(" (also found, allowed: {})", others.join(", "))
            },
            asked,
            match verdict {
                Verdict::Invalid => "ruled out",
                Verdict::Valid => "holds",
                _ => "undecided",
            },
        );
        let mut explanation = String::new();
        for (a, list) in &an.anomalies {
            let n = an.counts.get(a).copied().unwrap_or(list.len());
            let tag = if reportable.contains(a) {
                ""
            } else {
                " [allowed by what was asked]"
            };
            explanation.push_str(&format!("{a} ({n} found){tag}:\n"));
            for inst in list {
                for line in inst.explanation.lines() {
                    explanation.push_str("  ");
                    explanation.push_str(line);
                    explanation.push('\n');
                }
            }
        }
        if !an.boundary.not.is_empty() {
            explanation.push_str(&format!("Not: {}", model_names(&an.boundary.not)));
            if !an.boundary.also_not.is_empty() {
                explanation.push_str(&format!(
                    "; also not: {}",
                    model_names(&an.boundary.also_not)
                ));
            }
            explanation.push_str(".\n");
        }
        for n in &an.notes {
            explanation.push_str(&format!("Note: {n}.\n"));
        }
        let mut r = CheckResult::new("elle", verdict, summary);
        r.explanation = explanation.trim_end().to_string();
        let reported: BTreeMap<&Anomaly, &Vec<AnomalyInstance>> = an
            .anomalies
            .iter()
            .filter(|(a, _)| reportable.contains(a))
            .collect();
        r.details = json!({
            "kind": an.kind,
            "consistency_models": opts.models,
            "anomalies_asked": opts.anomalies,
            "txn_count": an.txn_count,
            "edge_count": an.edge_count,
            "largest_component": an.largest_component,
            "anomaly_types": reportable,
            "found_anomaly_types": an.anomaly_types,
            "anomaly_counts": an.counts,
            "anomalies": reported,
            // As Elle: a check with nothing to report names no models.
            "not": if reportable.is_empty() { Vec::new() } else { an.boundary.not.clone() },
            "also_not": if reportable.is_empty() { Vec::new() } else { an.boundary.also_not.clone() },
            "boundary": an.boundary,
            "complete": an.complete,
            "notes": an.notes,
        });
        r
    }
}
