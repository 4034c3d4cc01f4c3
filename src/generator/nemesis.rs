//! The nemesis schedule: which fault, on which nodes, seeded.
//!
//! [`FaultSchedule`] turns the workload's `[nemesis]` table into a sequence
//! of (fault, undo) pairs. It is pure: the same seed and node list give the
//! same faults, so a failing run can be replayed.

use super::derive_seed;
use crate::nemesis::Fault;
use crate::net;
use crate::workload::{FaultKind, NemesisSpec};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;

/// A seeded stream of faults.
#[derive(Clone, Debug)]
pub struct FaultSchedule {
    kinds: Vec<FaultKind>,
    nodes: Vec<String>,
    regions: BTreeMap<String, String>,
    rng: ChaCha8Rng,
    pub interval: Duration,
    pub duration: Duration,
}

impl FaultSchedule {
    pub fn new(
        spec: &NemesisSpec,
        nodes: &[String],
        regions: &BTreeMap<String, String>,
        seed: u64,
    ) -> FaultSchedule {
        FaultSchedule {
            kinds: spec.faults.clone(),
            nodes: nodes.to_vec(),
            regions: regions.clone(),
            rng: ChaCha8Rng::seed_from_u64(derive_seed(seed, 0xFA17)),
            interval: Duration::from_secs_f64(spec.interval),
            duration: Duration::from_secs_f64(spec.duration.unwrap_or(spec.interval)),
        }
    }

    /// The next fault's kind, the fault, and the fault that undoes it;
    /// `None` when the schedule has no fault kinds.
    pub fn next_fault(&mut self) -> Option<(FaultKind, Fault, Fault)> {
        let kind = *self.kinds.choose(&mut self.rng)?;
        let mut shuffled = self.nodes.clone();
        shuffled.shuffle(&mut self.rng);
        let minority = |rng: &mut ChaCha8Rng, nodes: &[String]| -> Vec<String> {
            let max = (nodes.len().saturating_sub(1) / 2).max(1);
            let k = rng.gen_range(1..=max);
            nodes[..k].to_vec()
        };
        let (f, undo) = match kind {
            FaultKind::IsolateOne => (
                Fault::Partition(net::isolate_one(&self.nodes, &shuffled[0])),
                Fault::Heal,
            ),
            FaultKind::Halves => (Fault::Partition(net::halves(&shuffled)), Fault::Heal),
            FaultKind::MajoritiesRing => (
                Fault::Partition(net::majorities_ring(&shuffled)),
                Fault::Heal,
            ),
            FaultKind::Bridge => (Fault::Partition(net::bridge(&shuffled)), Fault::Heal),
            FaultKind::RegionSplit => (
                Fault::Partition(net::region_split(&self.regions)),
                Fault::Heal,
            ),
            FaultKind::Kill => {
                let n = minority(&mut self.rng, &shuffled);
                (Fault::Kill(n.clone()), Fault::Restart(n))
            }
            FaultKind::IsolatePrimary => (Fault::IsolatePrimary, Fault::Heal),
            // Which node is primary is known only when the fault starts;
            // starting an already running node is a no-op, so the undo
            // starts them all.
            FaultKind::KillPrimary => (Fault::KillPrimary, Fault::Restart(self.nodes.clone())),
            FaultKind::Pause => {
                let n = minority(&mut self.rng, &shuffled);
                (Fault::Pause(n.clone()), Fault::Resume(n))
            }
        };
        Some((kind, f, undo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_undoable() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let regions: BTreeMap<String, String> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), format!("r{}", i % 2)))
            .collect();
        let spec = NemesisSpec {
            faults: vec![FaultKind::Halves, FaultKind::Kill, FaultKind::RegionSplit],
            interval: 1.0,
            duration: None,
        };
        let mut a = FaultSchedule::new(&spec, &nodes, &regions, 7);
        let mut b = FaultSchedule::new(&spec, &nodes, &regions, 7);
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let (k, f, undo) = a.next_fault().unwrap();
            assert_eq!(Some((k, f.clone(), undo.clone())), b.next_fault());
            match (&f, &undo) {
                (Fault::Partition(g), Fault::Heal) => assert!(!g.is_empty()),
                (Fault::Kill(x), Fault::Restart(y)) => {
                    assert_eq!(x, y);
                    assert!(!x.is_empty() && x.len() <= 2);
                }
                other => panic!("unexpected {other:?}"),
            }
            kinds.insert(f.name());
        }
        assert_eq!(kinds.len(), 2);
    }
}
