//! Consistency models and the anomalies that rule them out.
//!
//! The mapping follows Adya's definitions as Elle applies them (Elle's
//! `consistency-model` namespace, Adya's thesis, Bailis et al. for lost
//! update), written down here as two small tables:
//!
//! - which anomalies each model *directly* proscribes, and
//! - which models imply which (strict-serializable ⇒ serializable ⇒ ...).
//!
//! A model is ruled out when it, or any model it implies, proscribes an
//! anomaly present in the history (or one that anomaly implies: G0 is also
//! a G1c, a lost update is also G2-item, an incompatible order is also a
//! dirty read, a process-order anomaly is also a real-time one because a
//! process runs one operation at a time).
//!
//! Snapshot isolation forbids G-nonadjacent (a cycle with two or more rw
//! edges, no two of them adjacent) as well as G-single, as in Elle (after
//! Cerone and Gotsman's analysis of SI); write skew, whose two rw edges are
//! adjacent, is allowed.
//!
//! One deliberate difference from Elle: every anti-dependency this checker
//! infers is an *item* anti-dependency, so a G-single cycle is, in Adya's
//! terms, also a G2-item cycle and rules out repeatable read. (Elle notes the
//! same fact in its sources but does not wire it up.)

use serde::Serialize;
use std::fmt;

/// The anomalies this checker reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Anomaly {
    #[serde(rename = "G0")]
    G0,
    #[serde(rename = "G0-process")]
    G0Process,
    #[serde(rename = "G0-realtime")]
    G0Realtime,
    #[serde(rename = "G1a")]
    G1a,
    #[serde(rename = "G1b")]
    G1b,
    #[serde(rename = "G1c")]
    G1c,
    #[serde(rename = "G1c-process")]
    G1cProcess,
    #[serde(rename = "G1c-realtime")]
    G1cRealtime,
    #[serde(rename = "G-single")]
    GSingle,
    #[serde(rename = "G-single-process")]
    GSingleProcess,
    #[serde(rename = "G-single-realtime")]
    GSingleRealtime,
    #[serde(rename = "G2-item")]
    G2Item,
    #[serde(rename = "G2-item-process")]
    G2ItemProcess,
    #[serde(rename = "G2-item-realtime")]
    G2ItemRealtime,
    #[serde(rename = "G-nonadjacent")]
    GNonadjacent,
    #[serde(rename = "G-nonadjacent-process")]
    GNonadjacentProcess,
    #[serde(rename = "G-nonadjacent-realtime")]
    GNonadjacentRealtime,
    #[serde(rename = "lost-update")]
    LostUpdate,
    #[serde(rename = "duplicate-elements")]
    DuplicateElements,
    #[serde(rename = "incompatible-order")]
    IncompatibleOrder,
    #[serde(rename = "internal")]
    Internal,
    #[serde(rename = "future-read")]
    FutureRead,
}

impl Anomaly {
    pub const ALL: [Anomaly; 22] = [
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
        Anomaly::G2Item,
        Anomaly::G2ItemProcess,
        Anomaly::G2ItemRealtime,
        Anomaly::GNonadjacent,
        Anomaly::GNonadjacentProcess,
        Anomaly::GNonadjacentRealtime,
        Anomaly::LostUpdate,
        Anomaly::DuplicateElements,
        Anomaly::IncompatibleOrder,
        Anomaly::Internal,
        Anomaly::FutureRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Anomaly::G0 => "G0",
            Anomaly::G0Process => "G0-process",
            Anomaly::G0Realtime => "G0-realtime",
            Anomaly::G1a => "G1a",
            Anomaly::G1b => "G1b",
            Anomaly::G1c => "G1c",
            Anomaly::G1cProcess => "G1c-process",
            Anomaly::G1cRealtime => "G1c-realtime",
            Anomaly::GSingle => "G-single",
            Anomaly::GSingleProcess => "G-single-process",
            Anomaly::GSingleRealtime => "G-single-realtime",
            Anomaly::G2Item => "G2-item",
            Anomaly::G2ItemProcess => "G2-item-process",
            Anomaly::G2ItemRealtime => "G2-item-realtime",
            Anomaly::GNonadjacent => "G-nonadjacent",
            Anomaly::GNonadjacentProcess => "G-nonadjacent-process",
            Anomaly::GNonadjacentRealtime => "G-nonadjacent-realtime",
            Anomaly::LostUpdate => "lost-update",
            Anomaly::DuplicateElements => "duplicate-elements",
            Anomaly::IncompatibleOrder => "incompatible-order",
            Anomaly::Internal => "internal",
            Anomaly::FutureRead => "future-read",
        }
    }

    pub fn parse(s: &str) -> Option<Anomaly> {
        Anomaly::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Anomalies this one implies directly (see the module docs).
    fn implies(self) -> &'static [Anomaly] {
        use Anomaly::*;
        match self {
            G0 => &[G1c, G0Process],
            G0Process => &[G1cProcess, G0Realtime],
            G0Realtime => &[G1cRealtime],
            G1c => &[G1cProcess],
            G1cProcess => &[G1cRealtime],
            GSingle => &[G2Item, GSingleProcess],
            GSingleProcess => &[G2ItemProcess, GSingleRealtime],
            GSingleRealtime => &[G2ItemRealtime],
            G2Item => &[G2ItemProcess],
            G2ItemProcess => &[G2ItemRealtime],
            // Nonadjacent cycles have two or more (item) rw edges.
            GNonadjacent => &[G2Item, GNonadjacentProcess],
            GNonadjacentProcess => &[G2ItemProcess, GNonadjacentRealtime],
            GNonadjacentRealtime => &[G2ItemRealtime],
            LostUpdate => &[G2Item],
            IncompatibleOrder => &[G1a],
            // Reading one's own later write is a trivial wr cycle (Elle).
            FutureRead => &[G1c],
            _ => &[],
        }
    }

    /// This anomaly and everything it implies, transitively.
    pub fn closure(set: &[Anomaly]) -> Vec<Anomaly> {
        let mut out: Vec<Anomaly> = Vec::new();
        let mut stack: Vec<Anomaly> = set.to_vec();
        while let Some(a) = stack.pop() {
            if !out.contains(&a) {
                out.push(a);
                stack.extend_from_slice(a.implies());
            }
        }
        out.sort();
        out
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The consistency models the checker can decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsistencyModel {
    StrictSerializable,
    StrongSessionSerializable,
    Serializable,
    StrongSnapshotIsolation,
    StrongSessionSnapshotIsolation,
    SnapshotIsolation,
    RepeatableRead,
    ConsistentView,
    CursorStability,
    StrongReadCommitted,
    StrongSessionReadCommitted,
    ReadCommitted,
    StrongReadUncommitted,
    StrongSessionReadUncommitted,
    ReadUncommitted,
}

impl ConsistencyModel {
    pub const ALL: [ConsistencyModel; 15] = [
        ConsistencyModel::StrictSerializable,
        ConsistencyModel::StrongSessionSerializable,
        ConsistencyModel::Serializable,
        ConsistencyModel::StrongSnapshotIsolation,
        ConsistencyModel::StrongSessionSnapshotIsolation,
        ConsistencyModel::SnapshotIsolation,
        ConsistencyModel::RepeatableRead,
        ConsistencyModel::ConsistentView,
        ConsistencyModel::CursorStability,
        ConsistencyModel::StrongReadCommitted,
        ConsistencyModel::StrongSessionReadCommitted,
        ConsistencyModel::ReadCommitted,
        ConsistencyModel::StrongReadUncommitted,
        ConsistencyModel::StrongSessionReadUncommitted,
        ConsistencyModel::ReadUncommitted,
    ];

    pub fn as_str(self) -> &'static str {
        use ConsistencyModel::*;
        match self {
            StrictSerializable => "strict-serializable",
            StrongSessionSerializable => "strong-session-serializable",
            Serializable => "serializable",
            StrongSnapshotIsolation => "strong-snapshot-isolation",
            StrongSessionSnapshotIsolation => "strong-session-snapshot-isolation",
            SnapshotIsolation => "snapshot-isolation",
            RepeatableRead => "repeatable-read",
            ConsistentView => "consistent-view",
            CursorStability => "cursor-stability",
            StrongReadCommitted => "strong-read-committed",
            StrongSessionReadCommitted => "strong-session-read-committed",
            ReadCommitted => "read-committed",
            StrongReadUncommitted => "strong-read-uncommitted",
            StrongSessionReadUncommitted => "strong-session-read-uncommitted",
            ReadUncommitted => "read-uncommitted",
        }
    }

    /// Models this one directly implies: a history satisfying `self`
    /// satisfies each of them.
    pub fn implies(self) -> &'static [ConsistencyModel] {
        use ConsistencyModel::*;
        match self {
            StrictSerializable => &[
                StrongSessionSerializable,
                Serializable,
                StrongSnapshotIsolation,
            ],
            StrongSessionSerializable => &[Serializable, StrongSessionSnapshotIsolation],
            Serializable => &[RepeatableRead, SnapshotIsolation],
            StrongSnapshotIsolation => &[StrongSessionSnapshotIsolation, StrongReadCommitted],
            StrongSessionSnapshotIsolation => &[SnapshotIsolation, StrongSessionReadCommitted],
            SnapshotIsolation => &[ConsistentView],
            RepeatableRead => &[CursorStability],
            ConsistentView => &[CursorStability],
            CursorStability => &[ReadCommitted],
            StrongReadCommitted => &[StrongSessionReadCommitted, StrongReadUncommitted],
            StrongSessionReadCommitted => &[ReadCommitted, StrongSessionReadUncommitted],
            ReadCommitted => &[ReadUncommitted],
            StrongReadUncommitted => &[StrongSessionReadUncommitted],
            StrongSessionReadUncommitted => &[ReadUncommitted],
            ReadUncommitted => &[],
        }
    }

    /// Anomalies this model proscribes on top of the models it implies.
    pub fn proscribes(self) -> &'static [Anomaly] {
        use Anomaly::*;
        use ConsistencyModel::*;
        match self {
            StrictSerializable => &[G0Realtime, G1cRealtime, GSingleRealtime, G2ItemRealtime],
            StrongSessionSerializable => &[G2ItemProcess],
            Serializable => &[Internal, G2Item],
            StrongSnapshotIsolation => &[GSingleRealtime, GNonadjacentRealtime],
            StrongSessionSnapshotIsolation => &[GSingleProcess, GNonadjacentProcess],
            SnapshotIsolation => &[Internal, GNonadjacent],
            RepeatableRead => &[G2Item, LostUpdate],
            ConsistentView => &[GSingle],
            CursorStability => &[LostUpdate],
            StrongReadCommitted => &[G1cRealtime],
            StrongSessionReadCommitted => &[G1cProcess],
            ReadCommitted => &[G1a, G1b, G1c],
            StrongReadUncommitted => &[G0Realtime],
            StrongSessionReadUncommitted => &[G0Process],
            ReadUncommitted => &[G0, DuplicateElements],
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

    /// True if a history with these anomalies cannot satisfy the model.
    pub fn ruled_out_by(self, anomalies: &[Anomaly]) -> bool {
        let present = Anomaly::closure(anomalies);
        self.implied_closure()
            .iter()
            .any(|m| m.proscribes().iter().any(|a| present.contains(a)))
    }
}

impl fmt::Display for ConsistencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a model name. Accepts the names in [`ConsistencyModel::ALL`]
/// plus a few aliases (`strong-serializable`, `conflict-serializable`,
/// Adya's `PL-1`, `PL-2`, `PL-2.99`, `PL-3`, `PL-SI`, `PL-SS`).
pub fn parse_consistency_model(name: &str) -> Result<ConsistencyModel, String> {
    let n = name.trim().to_ascii_lowercase().replace('_', "-");
    let alias = match n.as_str() {
        "strong-serializable" | "pl-ss" => Some(ConsistencyModel::StrictSerializable),
        "conflict-serializable" | "pl-3" => Some(ConsistencyModel::Serializable),
        "pl-si" => Some(ConsistencyModel::SnapshotIsolation),
        "pl-2.99" => Some(ConsistencyModel::RepeatableRead),
        "pl-2+" => Some(ConsistencyModel::ConsistentView),
        "pl-cs" => Some(ConsistencyModel::CursorStability),
        "pl-2" => Some(ConsistencyModel::ReadCommitted),
        "pl-1" => Some(ConsistencyModel::ReadUncommitted),
        _ => None,
    };
    if let Some(m) = alias {
        return Ok(m);
    }
    ConsistencyModel::ALL
        .into_iter()
        .find(|m| m.as_str() == n)
        .ok_or_else(|| {
            let names: Vec<&str> = ConsistencyModel::ALL.iter().map(|m| m.as_str()).collect();
            format!(
                "unknown consistency model {name:?}; valid models are: {}",
                names.join(", ")
            )
        })
}

/// What a set of anomalies says about the models.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ModelBoundary {
    /// The weakest models ruled out (each implied by none of the others
    /// ruled out... i.e. the frontier: ruling these out rules out the rest).
    pub not: Vec<ConsistencyModel>,
    /// The other, stronger models ruled out.
    pub also_not: Vec<ConsistencyModel>,
    /// The strongest models the history may still satisfy.
    pub strongest_possible: Vec<ConsistencyModel>,
}

/// Computes which models the anomalies rule out and which remain.
pub fn boundary(anomalies: &[Anomaly]) -> ModelBoundary {
    let impossible: Vec<ConsistencyModel> = ConsistencyModel::ALL
        .into_iter()
        .filter(|m| m.ruled_out_by(anomalies))
        .collect();
    let possible: Vec<ConsistencyModel> = ConsistencyModel::ALL
        .into_iter()
        .filter(|m| !impossible.contains(m))
        .collect();
    // Weakest impossible: no other impossible model is implied by it.
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
    // Strongest possible: no other possible model implies it.
    let strongest_possible = possible
        .iter()
        .copied()
        .filter(|m| {
            !possible
                .iter()
                .any(|x| x != m && x.implied_closure().contains(m))
        })
        .collect();
    ModelBoundary {
        not,
        also_not,
        strongest_possible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Anomaly::*;
    use ConsistencyModel::*;

    #[test]
    fn g0_rules_out_everything() {
        for m in ConsistencyModel::ALL {
            assert!(m.ruled_out_by(&[G0]), "{m}");
        }
        assert_eq!(boundary(&[G0]).not, vec![ReadUncommitted]);
        assert!(boundary(&[G0]).strongest_possible.is_empty());
    }

    #[test]
    fn g1_rules_out_read_committed_not_uncommitted() {
        for a in [G1a, G1b, G1c, IncompatibleOrder] {
            assert!(ReadCommitted.ruled_out_by(&[a]), "{a}");
            assert!(!ReadUncommitted.ruled_out_by(&[a]), "{a}");
            assert!(!StrongReadUncommitted.ruled_out_by(&[a]), "{a}");
        }
    }

    #[test]
    fn future_read_is_a_g1c() {
        assert!(ReadCommitted.ruled_out_by(&[FutureRead]));
        assert!(!ReadUncommitted.ruled_out_by(&[FutureRead]));
    }

    #[test]
    fn g_single_rules_out_si_and_serializable_not_read_committed() {
        let b = boundary(&[GSingle]);
        assert!(b.not.contains(&ConsistentView));
        assert!(b.not.contains(&RepeatableRead));
        assert!(SnapshotIsolation.ruled_out_by(&[GSingle]));
        assert!(Serializable.ruled_out_by(&[GSingle]));
        assert!(!ReadCommitted.ruled_out_by(&[GSingle]));
        assert!(!CursorStability.ruled_out_by(&[GSingle]));
    }

    #[test]
    fn g2_item_leaves_snapshot_isolation() {
        assert!(!SnapshotIsolation.ruled_out_by(&[G2Item]));
        assert!(Serializable.ruled_out_by(&[G2Item]));
        assert!(RepeatableRead.ruled_out_by(&[G2Item]));
        let b = boundary(&[G2Item]);
        assert!(b.strongest_possible.contains(&StrongSnapshotIsolation));
    }

    #[test]
    fn nonadjacent_rules_out_snapshot_isolation() {
        assert!(SnapshotIsolation.ruled_out_by(&[GNonadjacent]));
        assert!(Serializable.ruled_out_by(&[GNonadjacent]));
        assert!(!ConsistentView.ruled_out_by(&[GNonadjacent]));
        assert!(StrongSessionSnapshotIsolation.ruled_out_by(&[GNonadjacentProcess]));
        assert!(!SnapshotIsolation.ruled_out_by(&[GNonadjacentProcess]));
        assert!(!StrongSessionSnapshotIsolation.ruled_out_by(&[GNonadjacentRealtime]));
    }

    #[test]
    fn realtime_rules_out_only_strict_and_strong() {
        let b = boundary(&[GSingleRealtime]);
        assert!(b.not.contains(&StrictSerializable) || b.not.contains(&StrongSnapshotIsolation));
        assert!(!Serializable.ruled_out_by(&[GSingleRealtime]));
        assert!(!StrongSessionSerializable.ruled_out_by(&[GSingleRealtime]));
        assert!(StrictSerializable.ruled_out_by(&[G2ItemRealtime]));
        assert!(!StrongSnapshotIsolation.ruled_out_by(&[G2ItemRealtime]));
    }

    #[test]
    fn process_rules_out_strong_session() {
        assert!(StrongSessionSerializable.ruled_out_by(&[G2ItemProcess]));
        assert!(StrictSerializable.ruled_out_by(&[G2ItemProcess]));
        assert!(!Serializable.ruled_out_by(&[G2ItemProcess]));
        assert!(StrongSessionSnapshotIsolation.ruled_out_by(&[GSingleProcess]));
        assert!(StrongSessionReadUncommitted.ruled_out_by(&[G0Process]));
        assert!(!ReadUncommitted.ruled_out_by(&[G0Process]));
    }

    #[test]
    fn clean_history_allows_strict_serializable() {
        let b = boundary(&[]);
        assert_eq!(b.strongest_possible, vec![StrictSerializable]);
        assert!(b.not.is_empty());
    }

    #[test]
    fn parses_names_and_lists_valid_ones() {
        assert_eq!(parse_consistency_model("serializable"), Ok(Serializable));
        assert_eq!(
            parse_consistency_model("strong-serializable"),
            Ok(StrictSerializable)
        );
        assert_eq!(parse_consistency_model("PL-2"), Ok(ReadCommitted));
        let e = parse_consistency_model("linearizable-ish").unwrap_err();
        assert!(
            e.contains("strict-serializable") && e.contains("read-uncommitted"),
            "{e}"
        );
    }
}
