//! Consistency models, anomalies, and which anomalies rule out which models.
//!
//! The vocabulary is Elle's, so that a verdict here reads like Elle's: the
//! anomaly names (`G-single-item`, `G2-item-realtime`, `dirty-update`, ...),
//! the model names (`strict-serializable`, `strong-session-snapshot-isolation`,
//! Adya's `PL-2`, ...) and the two derived sets of a result, `not` (the
//! weakest models ruled out) and `also-not` (the stronger ones).
//!
//! Three tables carry the semantics (after Adya, Bailis et al., Cerone et
//! al. and Daudjee and Salem, as Elle assembles them; see `docs/elle.md`):
//!
//! - [`ANOMALY_IMPLIES`]: an anomaly implies weaker ones (G0 is also a G1c,
//!   a G-single-item is also a G-single and a G-nonadjacent-item, a lost
//!   update is a G2-item, a process-order anomaly is also a real-time one
//!   because a process runs one operation at a time);
//! - [`MODEL_IMPLIES`]: a history satisfying one model satisfies another
//!   (strict-serializable ⇒ serializable ⇒ repeatable-read ⇒ ...);
//! - [`ConsistencyModel::proscribes`]: what each model forbids on top of the
//!   models it implies.
//!
//! A model is ruled out when it, or a model it implies, forbids an anomaly
//! present or implied. The anomalies a check must not see
//! ([`prohibited`]) are everything that implies an anomaly forbidden by a
//! requested model, plus everything that implies an anomaly asked for by
//! name (Elle's `:anomalies` option: `G2` also catches `G2-item`,
//! `G-single-item`, `lost-update`, ...).

use serde::{Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// The anomalies this checker detects and reports (a subset of Elle's
/// vocabulary; abstract classes such as `G1` or `G2` are never reported
/// themselves, they only expand in [`prohibited`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anomaly {
    G0,
    G0Process,
    G0Realtime,
    G1a,
    G1b,
    G1c,
    G1cProcess,
    G1cRealtime,
    GSingle,
    GSingleProcess,
    GSingleRealtime,
    GNonadjacent,
    GNonadjacentProcess,
    GNonadjacentRealtime,
    G2Item,
    G2ItemProcess,
    G2ItemRealtime,
    LostUpdate,
    DirtyUpdate,
    DuplicateElements,
    IncompatibleOrder,
    CyclicVersions,
    Internal,
    FutureRead,
    /// Nothing to analyse: no dependency between any two transactions.
    /// Makes the verdict unknown, as in Elle.
    EmptyTransactionGraph,
    /// A cycle search was cut short (only on histories over the exact-search
    /// size); makes the verdict unknown.
    CycleSearchTimeout,
}

impl Serialize for Anomaly {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Anomaly {
    pub const ALL: [Anomaly; 26] = [
        Anomaly::G0,
        Anomaly::G0Process,
        Anomaly::G0Realtime,
        Anomaly::G1a,
        Anomaly::G1b,
        Anomaly::G1c,
        Anomaly::G1cProcess,
        Anomaly::G1cRealtime,
        Anomaly::GSingle,
        Anomaly::GSingleProcess,
        Anomaly::GSingleRealtime,
        Anomaly::GNonadjacent,
        Anomaly::GNonadjacentProcess,
        Anomaly::GNonadjacentRealtime,
        Anomaly::G2Item,
        Anomaly::G2ItemProcess,
        Anomaly::G2ItemRealtime,
        Anomaly::LostUpdate,
        Anomaly::DirtyUpdate,
        Anomaly::DuplicateElements,
        Anomaly::IncompatibleOrder,
        Anomaly::CyclicVersions,
        Anomaly::Internal,
        Anomaly::FutureRead,
        Anomaly::EmptyTransactionGraph,
        Anomaly::CycleSearchTimeout,
    ];

    /// Elle's name for the anomaly.
    pub fn as_str(self) -> &'static str {
        use Anomaly::*;
        match self {
            G0 => "G0",
            G0Process => "G0-process",
            G0Realtime => "G0-realtime",
            G1a => "G1a",
            G1b => "G1b",
            G1c => "G1c",
            G1cProcess => "G1c-process",
            G1cRealtime => "G1c-realtime",
            GSingle => "G-single-item",
            GSingleProcess => "G-single-item-process",
            GSingleRealtime => "G-single-item-realtime",
            GNonadjacent => "G-nonadjacent-item",
            GNonadjacentProcess => "G-nonadjacent-item-process",
            GNonadjacentRealtime => "G-nonadjacent-item-realtime",
            G2Item => "G2-item",
            G2ItemProcess => "G2-item-process",
            G2ItemRealtime => "G2-item-realtime",
            LostUpdate => "lost-update",
            DirtyUpdate => "dirty-update",
            DuplicateElements => "duplicate-elements",
            IncompatibleOrder => "incompatible-order",
            CyclicVersions => "cyclic-versions",
            Internal => "internal",
            FutureRead => "future-read",
            EmptyTransactionGraph => "empty-transaction-graph",
            CycleSearchTimeout => "cycle-search-timeout",
        }
    }

    /// Parses Elle's name, or faultline's older short name (`G-single`,
    /// `G-nonadjacent`, with `-process` / `-realtime`), of a reported anomaly.
    pub fn parse(s: &str) -> Option<Anomaly> {
        let s = s.trim().trim_start_matches(':');
        if let Some(a) = Anomaly::ALL.into_iter().find(|a| a.as_str() == s) {
            return Some(a);
        }
        match s {
            "G-single" => Some(Anomaly::GSingle),
            "G-single-process" => Some(Anomaly::GSingleProcess),
            "G-single-realtime" => Some(Anomaly::GSingleRealtime),
            "G-nonadjacent" => Some(Anomaly::GNonadjacent),
            "G-nonadjacent-process" => Some(Anomaly::GNonadjacentProcess),
            "G-nonadjacent-realtime" => Some(Anomaly::GNonadjacentRealtime),
            _ => None,
        }
    }

    /// True for the anomalies that make a verdict unknown rather than
    /// invalid (Elle's `unknown-anomaly-types`).
    pub fn is_unknown_kind(self) -> bool {
        matches!(
            self,
            Anomaly::EmptyTransactionGraph | Anomaly::CycleSearchTimeout
        )
    }

    /// Cycle anomalies that need real-time edges.
    pub fn is_realtime(self) -> bool {
        self.as_str().ends_with("-realtime")
    }

    /// Cycle anomalies that need process edges.
    pub fn is_process(self) -> bool {
        self.as_str().ends_with("-process")
    }

    /// Every anomaly this one implies, itself included (names).
    pub fn closure(set: &[Anomaly]) -> BTreeSet<&'static str> {
        implied_names(set.iter().map(|a| a.as_str()))
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Anomaly implications, `(a, [b..])`: an `a` is also each `b`.
pub const ANOMALY_IMPLIES: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    (
        "G-single-item",
        &["G-single", "G-single-item-process", "G-nonadjacent-item"],
    ),
    (
        "G-single-item-process",
        &[
            "G-single-process",
            "G-single-item-realtime",
            "G-nonadjacent-item-process",
        ],
    ),
    (
        "G-single-item-realtime",
        &["G-single-realtime", "G-nonadjacent-item-realtime"],
    ),
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    (
        "G-nonadjacent-item",
        &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"],
    ),
    (
        "G-nonadjacent-item-process",
        &[
            "G-nonadjacent-process",
            "G2-item-process",
            "G-nonadjacent-item-realtime",
        ],
    ),
    (
        "G-nonadjacent-item-realtime",
        &["G2-item-realtime", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    ("incompatible-order", &["G1a"]),
    // A future read is a trivial wr cycle of one transaction.
    ("future-read", &["G1c"]),
    // A dirty update is a dirty read through a write.
    ("dirty-update", &["G1a"]),
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// Every anomaly name known to the implication and proscription tables.
pub fn all_anomaly_names() -> BTreeSet<&'static str> {
    let mut out: BTreeSet<&'static str> = BTreeSet::new();
    for (a, bs) in ANOMALY_IMPLIES {
        out.insert(a);
        out.extend(bs.iter().copied());
    }
    for m in ConsistencyModel::ALL {
        out.extend(m.proscribes().iter().copied());
    }
    out.extend(Anomaly::ALL.iter().map(|a| a.as_str()));
    out
}

fn implies_of(a: &str) -> &'static [&'static str] {
    ANOMALY_IMPLIES
        .iter()
        .find(|(x, _)| *x == a)
        .map(|(_, b)| *b)
        .unwrap_or(&[])
}

/// The anomalies implied by `names`, themselves included.
pub fn implied_names<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'static str> {
    let known = all_anomaly_names();
    let mut out: BTreeSet<&'static str> = BTreeSet::new();
    let mut stack: Vec<&'static str> = names
        .into_iter()
        .filter_map(|n| known.get(n).copied())
        .collect();
    while let Some(a) = stack.pop() {
        if out.insert(a) {
            stack.extend_from_slice(implies_of(a));
        }
    }
    out
}

/// The anomalies that imply any of `names`, themselves included.
pub fn implying_names<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'static str> {
    let known = all_anomaly_names();
    let mut out: BTreeSet<&'static str> = BTreeSet::new();
    let mut stack: Vec<&'static str> = names
        .into_iter()
        .filter_map(|n| known.get(n).copied())
        .collect();
    while let Some(b) = stack.pop() {
        if out.insert(b) {
            for (a, bs) in ANOMALY_IMPLIES {
                if bs.contains(&b) {
                    stack.push(a);
                }
            }
        }
    }
    out
}

/// Parses an anomaly name for `--anomalies` (any name of Elle's vocabulary,
/// abstract classes such as `G1`, `G2`, `G-single` included).
pub fn parse_anomaly_name(name: &str) -> Result<&'static str, String> {
    let n = name.trim().trim_start_matches(':');
    let known = all_anomaly_names();
    if let Some(k) = known.get(n) {
        return Ok(k);
    }
    // Case-insensitive second chance (g2-item, g1).
    if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(n)) {
        return Ok(k);
    }
    Err(format!(
        "unknown anomaly {name:?}; known anomalies are: {}",
        known.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

macro_rules! models {
    ($($v:ident => $name:literal $(| $alias:literal)*),* $(,)?) => {
        /// The consistency models of Elle's hierarchy.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ConsistencyModel { $($v),* }
        impl ConsistencyModel {
            pub const ALL: &'static [ConsistencyModel] = &[$(ConsistencyModel::$v),*];
            /// The model's friendly name, as Elle reports it.
            pub fn as_str(self) -> &'static str {
                match self { $(ConsistencyModel::$v => $name),* }
            }
            fn aliases(self) -> &'static [&'static str] {
                match self { $(ConsistencyModel::$v => &[$($alias),*]),* }
            }
        }
    };
}

models! {
    StrictSerializable => "strong-serializable" | "strict-serializable" | "pl-ss",
    Serializable => "serializable" | "conflict-serializable" | "pl-3",
    RepeatableRead => "repeatable-read" | "pl-2.99",
    SnapshotIsolation => "snapshot-isolation" | "pl-si",
    ConsistentView => "consistent-view" | "pl-2+",
    CursorStability => "cursor-stability" | "pl-cs",
    ForwardConsistentView => "forward-consistent-view" | "pl-fcv",
    MonotonicSnapshotRead => "monotonic-snapshot-read" | "pl-msr",
    MonotonicView => "monotonic-view" | "pl-2l",
    ReadCommitted => "read-committed" | "pl-2",
    ReadUncommitted => "read-uncommitted" | "pl-1",
    UpdateSerializable => "update-serializable" | "pl-3u",
    StrongSessionReadUncommitted => "strong-session-read-uncommitted" | "strong-session-pl-1",
    StrongSessionReadCommitted => "strong-session-read-committed" | "strong-session-pl-2",
    StrongReadUncommitted => "strong-read-uncommitted" | "strong-pl-1",
    StrongReadCommitted => "strong-read-committed" | "strong-pl-2",
    StrongSessionSerializable => "strong-session-serializable",
    StrongSessionSnapshotIsolation => "strong-session-snapshot-isolation",
    StrongSnapshotIsolation => "strong-snapshot-isolation",
    CausalCerone => "causal-cerone",
    ReadAtomic => "read-atomic",
    ViewSerializable => "view-serializable",
    MonotonicAtomicView => "monotonic-atomic-view",
    ParallelSnapshotIsolation => "parallel-snapshot-isolation",
    UpdateAtomic => "update-atomic",
    Prefix => "prefix",
    SessionSerializable => "session-serializable",
    OneSr => "1SR",
    Linearizable => "linearizable",
    Sequential => "sequential",
    Causal => "causal",
    WritesFollowReads => "writes-follow-reads",
    Pram => "PRAM",
    MonotonicReads => "monotonic-reads",
    MonotonicWrites => "monotonic-writes",
    ReadYourWrites => "read-your-writes",
}

/// Model implications, `(a, [b..])`: a history satisfying `a` satisfies
/// each `b`.
pub const MODEL_IMPLIES: &[(ConsistencyModel, &[ConsistencyModel])] = {
    use ConsistencyModel::*;
    &[
        (CausalCerone, &[ReadAtomic]),
        (ConsistentView, &[CursorStability, MonotonicView]),
        (CursorStability, &[ReadCommitted]),
        (ForwardConsistentView, &[ConsistentView]),
        (ReadCommitted, &[ReadUncommitted]),
        (
            Serializable,
            &[
                RepeatableRead,
                UpdateSerializable,
                SnapshotIsolation,
                ViewSerializable,
            ],
        ),
        (UpdateSerializable, &[ForwardConsistentView]),
        (MonotonicAtomicView, &[ReadCommitted]),
        (MonotonicView, &[ReadCommitted]),
        (MonotonicSnapshotRead, &[ReadCommitted]),
        (ParallelSnapshotIsolation, &[CausalCerone, UpdateAtomic]),
        (Prefix, &[CausalCerone]),
        (ReadAtomic, &[MonotonicAtomicView]),
        (RepeatableRead, &[CursorStability, MonotonicAtomicView]),
        (UpdateAtomic, &[ReadAtomic]),
        (SessionSerializable, &[OneSr]),
        (
            SnapshotIsolation,
            &[
                ForwardConsistentView,
                MonotonicAtomicView,
                MonotonicSnapshotRead,
                ParallelSnapshotIsolation,
                Prefix,
            ],
        ),
        (
            StrictSerializable,
            &[
                Serializable,
                Linearizable,
                SnapshotIsolation,
                StrongSnapshotIsolation,
                StrongSessionSerializable,
                SessionSerializable,
            ],
        ),
        (StrongSessionReadUncommitted, &[ReadUncommitted]),
        (
            StrongSessionReadCommitted,
            &[ReadCommitted, StrongSessionReadUncommitted],
        ),
        (StrongReadUncommitted, &[StrongSessionReadUncommitted]),
        (
            StrongReadCommitted,
            &[StrongSessionReadCommitted, StrongReadUncommitted],
        ),
        (
            StrongSessionSerializable,
            &[Serializable, StrongSessionSnapshotIsolation],
        ),
        (
            StrongSessionSnapshotIsolation,
            &[SnapshotIsolation, StrongSessionReadCommitted],
        ),
        (
            StrongSnapshotIsolation,
            &[StrongSessionSnapshotIsolation, StrongReadCommitted],
        ),
        (Linearizable, &[Sequential]),
        (Sequential, &[Causal]),
        (Causal, &[WritesFollowReads, Pram]),
        (Pram, &[MonotonicReads, MonotonicWrites, ReadYourWrites]),
    ]
};

impl ConsistencyModel {
    /// Models this one directly implies.
    pub fn implies(self) -> &'static [ConsistencyModel] {
        MODEL_IMPLIES
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, b)| *b)
            .unwrap_or(&[])
    }

    /// Anomalies this model forbids on top of the models it implies.
    pub fn proscribes(self) -> &'static [&'static str] {
        use ConsistencyModel::*;
        match self {
            CausalCerone | ParallelSnapshotIsolation | Prefix => &["internal", "G1a"],
            CursorStability => &["G1", "G-cursor", "lost-update"],
            MonotonicView => &["G1", "G-monotonic"],
            MonotonicSnapshotRead => &["G1", "G-MSR"],
            ConsistentView => &["G1", "G-single"],
            ForwardConsistentView => &["G1", "G-SIb"],
            Serializable => &[
                "G1",
                "G2",
                "predicate-read-miss",
                "PL-3-cycle-exists",
                "internal",
            ],
            ReadCommitted => &["G1", "PL-2-cycle-exists"],
            ReadUncommitted => &[
                "G0",
                "duplicate-elements",
                "cyclic-versions",
                "PL-1-cycle-exists",
            ],
            SnapshotIsolation => &[
                "internal",
                "G1",
                "G-SI",
                "G-nonadjacent",
                "PL-SI-cycle-exists",
            ],
            ReadAtomic => &["internal", "G1a", "future-read"],
            RepeatableRead => &["G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"],
            UpdateAtomic => &["lost-update"],
            StrictSerializable => &["G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"],
            StrongSessionReadUncommitted => &["strong-session-PL-1-cycle-exists", "G0-process"],
            StrongSessionReadCommitted => &["strong-session-PL-2-cycle-exists", "G1c-process"],
            StrongReadUncommitted => &["strong-PL-1-cycle-exists", "G0-realtime"],
            StrongReadCommitted => &["strong-PL-2-cycle-exists", "G1c-realtime"],
            StrongSessionSnapshotIsolation => &[
                "internal",
                "G1-process",
                "G-nonadjacent-process",
                "strong-session-snapshot-isolation-cycle-exists",
            ],
            StrongSnapshotIsolation => &[
                "internal",
                "G1-realtime",
                "G-nonadjacent-realtime",
                "strong-snapshot-isolation-cycle-exists",
            ],
            StrongSessionSerializable => &[
                "G1-process",
                "G2-process",
                "strong-session-serializable-cycle-exists",
            ],
            UpdateSerializable => &["G1", "G-update"],
            _ => &[],
        }
    }

    /// Every model this one implies, itself included.
    pub fn implied_closure(self) -> Vec<ConsistencyModel> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(m) = stack.pop() {
            if !out.contains(&m) {
                out.push(m);
                stack.extend_from_slice(m.implies());
            }
        }
        out
    }

    /// Every model that implies this one, itself included.
    pub fn implying_closure(self) -> Vec<ConsistencyModel> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(m) = stack.pop() {
            if !out.contains(&m) {
                out.push(m);
                for (a, bs) in MODEL_IMPLIES {
                    if bs.contains(&m) {
                        stack.push(*a);
                    }
                }
            }
        }
        out
    }

    /// True if a history with these anomalies cannot satisfy the model.
    pub fn ruled_out_by(self, anomalies: &[Anomaly]) -> bool {
        let present = Anomaly::closure(anomalies);
        self.implied_closure()
            .iter()
            .any(|m| m.proscribes().iter().any(|a| present.contains(a)))
    }
}

impl Serialize for ConsistencyModel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for ConsistencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a model name: Elle's friendly names and Adya's (`PL-2`,
/// `PL-SI`, ...), case-insensitive, `_` for `-` accepted.
pub fn parse_consistency_model(name: &str) -> Result<ConsistencyModel, String> {
    let n = name
        .trim()
        .trim_start_matches(':')
        .to_ascii_lowercase()
        .replace('_', "-");
    ConsistencyModel::ALL
        .iter()
        .copied()
        .find(|m| m.as_str().to_ascii_lowercase() == n || m.aliases().contains(&n.as_str()))
        .ok_or_else(|| {
            let names: Vec<&str> = ConsistencyModel::ALL.iter().map(|m| m.as_str()).collect();
            format!(
                "unknown consistency model {name:?}; valid models are: {}",
                names.join(", ")
            )
        })
}

/// Parses a comma-separated list of models (all must hold).
pub fn parse_consistency_models(list: &str) -> Result<Vec<ConsistencyModel>, String> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let m = parse_consistency_model(part)?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    if out.is_empty() {
        return Err("no consistency model given".into());
    }
    Ok(out)
}

/// The anomalies that fail a check asked to confirm `models` and to find
/// none of `anomalies` (Elle's `prohibited-anomaly-types`).
pub fn prohibited(models: &[ConsistencyModel], anomalies: &[&str]) -> BTreeSet<&'static str> {
    let mut direct: Vec<&'static str> = Vec::new();
    let mut seen: Vec<ConsistencyModel> = Vec::new();
    for m in models {
        for x in m.implied_closure() {
            if !seen.contains(&x) {
                seen.push(x);
                direct.extend_from_slice(x.proscribes());
            }
        }
    }
    let mut out = implying_names(direct);
    out.extend(implying_names(anomalies.iter().copied()));
    out
}

/// What a set of anomalies says about the models.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Default)]
pub struct ModelBoundary {
    /// The weakest models ruled out: ruling these out rules out the rest.
    pub not: Vec<ConsistencyModel>,
    /// The other, stronger models ruled out.
    pub also_not: Vec<ConsistencyModel>,
}

/// Computes which models the anomalies rule out (Elle's `boundary`).
pub fn boundary(anomalies: &[Anomaly]) -> ModelBoundary {
    let present = Anomaly::closure(anomalies);
    let mut impossible: BTreeSet<ConsistencyModel> = BTreeSet::new();
    for m in ConsistencyModel::ALL {
        if m.proscribes().iter().any(|a| present.contains(a)) {
            impossible.extend(m.implying_closure());
        }
    }
    // Weakest: implies no other impossible model.
    let not: Vec<ConsistencyModel> = impossible
        .iter()
        .copied()
        .filter(|m| {
            !m.implied_closure()
                .iter()
                .any(|x| x != m && impossible.contains(x))
        })
        .collect();
    let also_not = impossible
        .iter()
        .copied()
        .filter(|m| !not.contains(m))
        .collect();
    ModelBoundary { not, also_not }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Anomaly::*;
    use ConsistencyModel::*;

    fn names(ms: &[ConsistencyModel]) -> Vec<&'static str> {
        let mut v: Vec<&str> = ms.iter().map(|m| m.as_str()).collect();
        v.sort();
        v
    }

    #[test]
    fn boundaries_as_elle_reports_them() {
        assert_eq!(names(&boundary(&[G0]).not), vec!["read-uncommitted"]);
        assert_eq!(names(&boundary(&[G1a]).not), vec!["read-committed"]);
        assert_eq!(names(&boundary(&[G1b]).not), vec!["read-committed"]);
        assert_eq!(
            names(&boundary(&[GSingle]).not),
            vec!["consistent-view", "repeatable-read"]
        );
        assert_eq!(names(&boundary(&[G2Item]).not), vec!["repeatable-read"]);
        assert_eq!(
            names(&boundary(&[GSingleRealtime]).not),
            vec!["strong-snapshot-isolation"]
        );
        assert_eq!(
            names(&boundary(&[GSingleProcess]).not),
            vec!["strong-session-snapshot-isolation"]
        );
        assert_eq!(
            names(&boundary(&[GNonadjacentProcess]).not),
            vec!["strong-session-snapshot-isolation"]
        );
        assert!(boundary(&[EmptyTransactionGraph]).not.is_empty());
        assert!(!boundary(&[G0]).also_not.is_empty());
    }

    #[test]
    fn models_rule_out_as_adya_and_elle_say() {
        assert!(!SnapshotIsolation.ruled_out_by(&[G2Item]));
        assert!(Serializable.ruled_out_by(&[G2Item]));
        assert!(SnapshotIsolation.ruled_out_by(&[GNonadjacent]));
        assert!(!ConsistentView.ruled_out_by(&[GNonadjacent]));
        assert!(ReadCommitted.ruled_out_by(&[FutureRead]));
        assert!(!ReadUncommitted.ruled_out_by(&[FutureRead]));
        assert!(ReadCommitted.ruled_out_by(&[DirtyUpdate]));
        assert!(RepeatableRead.ruled_out_by(&[LostUpdate]));
        assert!(!Serializable.ruled_out_by(&[GSingleRealtime]));
        assert!(StrictSerializable.ruled_out_by(&[G2ItemRealtime]));
        assert!(!StrongSnapshotIsolation.ruled_out_by(&[G2ItemRealtime]));
        assert!(StrongSessionReadUncommitted.ruled_out_by(&[G0Process]));
        for m in ConsistencyModel::ALL {
            assert!(!m.ruled_out_by(&[EmptyTransactionGraph]), "{m}");
        }
    }

    #[test]
    fn prohibited_expands_like_elle() {
        let p = prohibited(&[], &["G2"]);
        for a in [
            "G2-item",
            "G-single-item",
            "G-nonadjacent-item",
            "lost-update",
        ] {
            assert!(p.contains(a), "{a}");
        }
        assert!(!p.contains("G0") && !p.contains("G1a") && !p.contains("G-single-item-process"));
        let p = prohibited(&[], &["G1"]);
        for a in [
            "G0",
            "G1a",
            "G1b",
            "G1c",
            "future-read",
            "dirty-update",
            "incompatible-order",
        ] {
            assert!(p.contains(a), "{a}");
        }
        let p = prohibited(&[ReadCommitted], &[]);
        assert!(p.contains("G1a") && !p.contains("G2-item") && !p.contains("G-single-item"));
        let p = prohibited(&[StrictSerializable], &[]);
        assert!(p.contains("G-single-item-realtime") && p.contains("G0-process"));
    }

    #[test]
    fn parses_names_and_lists() {
        assert_eq!(parse_consistency_model("serializable"), Ok(Serializable));
        assert_eq!(parse_consistency_model("PL-2"), Ok(ReadCommitted));
        assert_eq!(
            parse_consistency_model(":strong-serializable"),
            Ok(StrictSerializable)
        );
        assert_eq!(
            parse_consistency_models("snapshot-isolation, repeatable-read"),
            Ok(vec![SnapshotIsolation, RepeatableRead])
        );
        assert!(parse_consistency_model("linearizable-ish")
            .unwrap_err()
            .contains("read-uncommitted"));
        assert_eq!(parse_anomaly_name("G2"), Ok("G2"));
        assert_eq!(parse_anomaly_name(":g1"), Ok("G1"));
        assert!(parse_anomaly_name("G7").is_err());
        assert_eq!(Anomaly::parse("G-single"), Some(GSingle));
        assert_eq!(Anomaly::parse("G-single-item"), Some(GSingle));
    }
}
