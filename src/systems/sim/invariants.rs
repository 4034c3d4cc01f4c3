//! The simulator's own safety invariants, watched while it runs.
//!
//! The checkers judge the history the clients saw; these judge the
//! mechanism itself, so that a broken election or a fencing bug in the
//! simulator cannot hide behind a lucky history (or fake a failure the
//! strategy does not have). Nodes report to one [`Monitor`] per cluster:
//! - **one leader per epoch**: no two nodes ever become leader of the same
//!   epoch;
//! - **committed entries agree**: for strategies that commit by majority,
//!   every node that commits log index `i` commits the entry of the same
//!   epoch there (what fencing old leaders guarantees), and no node ever
//!   truncates a committed entry.
//!
//! Asynchronous strategies report what they acknowledged and applied as
//! committed: for read-local (one fixed leader) that agrees too, while the
//! unsafe failover's rollback of acknowledged writes shows up here as an
//! index committed from two epochs — the same loss the checkers find in
//! the history.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct State {
    leaders: BTreeMap<u64, usize>,
    committed: Vec<u64>,
    violations: Vec<String>,
}

/// Collects invariant violations of one simulated cluster.
#[derive(Debug, Default)]
pub struct Monitor {
    state: Mutex<State>,
}

/// Violations kept (the first ones are what matters).
const KEEP: usize = 100;

impl Monitor {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    }

    fn violation(s: &mut State, v: String) {
        if s.violations.len() < KEEP {
            s.violations.push(v);
        }
    }

    /// `node` became leader of `epoch`.
    pub fn leader(&self, epoch: u64, node: usize) {
        self.with(|s| match s.leaders.get(&epoch) {
            Some(&other) if other != node => Self::violation(
                s,
                format!(
                    "two leaders in epoch {epoch}: n{} and n{}",
                    other + 1,
                    node + 1
                ),
            ),
            _ => {
                s.leaders.insert(epoch, node);
            }
        })
    }

    /// `node` committed log index `index` (1-based) holding an entry of `epoch`.
    pub fn committed(&self, node: usize, index: u64, epoch: u64) {
        self.with(|s| {
            let i = index as usize - 1;
            if i < s.committed.len() {
                let known = s.committed[i];
                if known == 0 {
                    s.committed[i] = epoch;
                } else if known != epoch {
                    Self::violation(
                        s,
                        format!(
                            "n{} committed index {index} from epoch {epoch}, another node committed it from epoch {known}",
                            node + 1
                        ),
                    );
                }
            } else if i == s.committed.len() {
                s.committed.push(epoch);
            } else {
                // 0 (no epoch has it) marks indices not reported yet.
                s.committed.resize(i, 0);
                s.committed.push(epoch);
            }
        })
    }

    /// `node` dropped committed entries from its log.
    pub fn truncated_committed(&self, node: usize, from: u64, commit: u64) {
        self.with(|s| {
            Self::violation(
                s,
                format!(
                    "n{} truncated committed entries {}..={commit}",
                    node + 1,
                    from + 1
                ),
            )
        })
    }

    /// Every violation seen so far (at most the first 100).
    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.violations.clone())
    }

    /// Epochs that had a leader, in order, with it.
    pub fn leaders(&self) -> Vec<(u64, usize)> {
        self.with(|s| s.leaders.iter().map(|(e, n)| (*e, *n)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_two_leaders_and_disagreeing_commits() {
        let m = Monitor::default();
        m.leader(1, 0);
        m.leader(1, 0);
        m.leader(2, 1);
        m.committed(0, 1, 1);
        m.committed(1, 1, 1);
        m.committed(1, 3, 2);
        m.committed(0, 2, 1);
        assert!(m.violations().is_empty(), "{:?}", m.violations());
        m.leader(2, 2);
        m.committed(2, 1, 2);
        let v = m.violations();
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].contains("two leaders in epoch 2"), "{v:?}");
        assert!(v[1].contains("index 1"), "{v:?}");
    }
}
