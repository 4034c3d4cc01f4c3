//! Network partitions as grudges.
//!
//! A [`Grudge`] says, for each node, which nodes it refuses to hear from.
//! The shapes are plain functions of the node list (and a seeded choice):
//! `isolate_one`, `halves`, `majorities_ring`, `bridge`, `region_split`.
//! The simulator applies a grudge by cutting simulated links; real clusters
//! apply it as iptables DROP rules through a `Remote`.

pub mod iptables;

use std::collections::{BTreeMap, BTreeSet};

/// For each node, the set of nodes whose packets it drops.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// Every node in `a` drops every node in `b`, and vice versa.
pub fn cut_between(grudge: &mut Grudge, a: &[String], b: &[String]) {
    for x in a {
        for y in b {
            if x != y {
                grudge.entry(x.clone()).or_default().insert(y.clone());
                grudge.entry(y.clone()).or_default().insert(x.clone());
            }
        }
    }
}

/// Cuts `node` off from all the others.
pub fn isolate_one(nodes: &[String], node: &str) -> Grudge {
    let mut g = Grudge::new();
    let others: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    cut_between(&mut g, &[node.to_string()], &others);
    g
}

/// Splits `nodes` (in the given, usually shuffled, order) into a minority
/// (the first `n/2`) and a majority (the rest).
pub fn halves(nodes: &[String]) -> Grudge {
    let mut g = Grudge::new();
    let k = nodes.len() / 2;
    cut_between(&mut g, &nodes[..k], &nodes[k..]);
    g
}

/// Every node sees a majority, but no two nodes see the same majority:
/// nodes in a ring, each hears only from its nearest `n/2` neighbours.
pub fn majorities_ring(nodes: &[String]) -> Grudge {
    let n = nodes.len();
    let mut g = Grudge::new();
    if n < 3 {
        return g;
    }
    let reach = n / 2;
    for (i, a) in nodes.iter().enumerate() {
        for (j, b) in nodes.iter().enumerate() {
            let d = (i as isize - j as isize).unsigned_abs();
            let d = d.min(n - d);
            if i != j && d > reach / 2 + reach % 2 {
                g.entry(a.clone()).or_default().insert(b.clone());
            }
        }
    }
    g
}

/// Two halves that can reach one bridge node (the first of `nodes`) but not each other.
pub fn bridge(nodes: &[String]) -> Grudge {
    let mut g = Grudge::new();
    if nodes.len() < 3 {
        return g;
    }
    let rest = &nodes[1..];
    let k = rest.len() / 2;
    cut_between(&mut g, &rest[..k], &rest[k..]);
    g
}

/// Cuts every region off from every other region. `regions` maps node → region.
pub fn region_split(regions: &BTreeMap<String, String>) -> Grudge {
    let mut by_region: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (node, region) in regions {
        by_region.entry(region).or_default().push(node.clone());
    }
    let groups: Vec<Vec<String>> = by_region.into_values().collect();
    let mut g = Grudge::new();
    for i in 0..groups.len() {
        for j in i + 1..groups.len() {
            cut_between(&mut g, &groups[i], &groups[j]);
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn halves_cut_minority_from_majority() {
        let g = halves(&nodes(5));
        assert_eq!(
            g["n1"],
            ["n3", "n4", "n5"].iter().map(|s| s.to_string()).collect()
        );
        assert!(!g["n3"].contains("n4"));
    }

    #[test]
    fn ring_leaves_everyone_a_majority() {
        let ns = nodes(5);
        let g = majorities_ring(&ns);
        for n in &ns {
            let dropped = g.get(n).map_or(0, |s| s.len());
            assert!(5 - dropped >= 3, "{n} sees a majority including itself");
        }
        assert!(!g.is_empty());
    }

    #[test]
    fn bridge_node_sees_everyone() {
        let g = bridge(&nodes(5));
        assert!(!g.contains_key("n1"));
        assert!(g["n2"].contains("n4"));
    }
}
