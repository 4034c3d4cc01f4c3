//! Grudges applied as iptables rules on real nodes, through [`Remote`].
//!
//! All our rules live in one chain of our own, [`CHAIN`], reached from
//! INPUT by a single jump rule. Applying a grudge replaces the chain's
//! contents on every node (nodes without a grudge get an empty chain), and
//! healing removes the jump and deletes the chain — exactly what we added,
//! nothing of anyone else's. Both are idempotent.

use crate::control::{on_all, shell_quote, Remote};
use crate::net::Grudge;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The chain faultline owns on each node.
pub const CHAIN: &str = "FAULTLINE";

/// A shell script that makes `CHAIN` drop packets from exactly `sources`.
pub fn apply_script(sources: &[&str]) -> String {
    let mut s = format!(
        "set -e\n\
         iptables -w -N {CHAIN} 2>/dev/null || true\n\
         iptables -w -C INPUT -j {CHAIN} 2>/dev/null || iptables -w -I INPUT 1 -j {CHAIN}\n\
         iptables -w -F {CHAIN}\n"
    );
    for src in sources {
        s.push_str(&format!(
            "iptables -w -A {CHAIN} -s {} -j DROP\n",
            shell_quote(src)
        ));
    }
    s
}

/// A shell script that removes the jump and the chain (if present).
pub fn heal_script() -> String {
    format!(
        "while iptables -w -D INPUT -j {CHAIN} 2>/dev/null; do :; done\n\
         iptables -w -F {CHAIN} 2>/dev/null || true\n\
         iptables -w -X {CHAIN} 2>/dev/null || true\n\
         if iptables -w -L {CHAIN} -n >/dev/null 2>&1; then echo 'chain {CHAIN} still present' >&2; exit 1; fi\n"
    )
}

fn run_script(r: &dyn Remote, what: &str, script: &str) -> anyhow::Result<()> {
    let out = r.sudo(&["sh", "-c", script])?;
    if out.status != 0 {
        anyhow::bail!(
            "{}: {what} failed (status {}): {}",
            r.node(),
            out.status,
            out.stderr.trim()
        );
    }
    Ok(())
}

/// Applies `grudge` to every node in `remotes` (replacing any previous
/// partition); `addresses` maps node names to the addresses peers see.
pub fn partition(
    remotes: &BTreeMap<String, Arc<dyn Remote>>,
    addresses: &BTreeMap<String, String>,
    grudge: &Grudge,
) -> anyhow::Result<()> {
    let mut scripts = Vec::new();
    for (node, remote) in remotes {
        let mut sources = Vec::new();
        for peer in grudge.get(node).into_iter().flatten() {
            let addr = addresses
                .get(peer)
                .ok_or_else(|| anyhow::anyhow!("grudge names unknown node {peer}"))?;
            sources.push(addr.as_str());
        }
        scripts.push((remote.clone(), apply_script(&sources)));
    }
    let errs: Vec<String> = on_all(&scripts, |(r, s)| run_script(r.as_ref(), "partition", s))
        .into_iter()
        .filter_map(|r| r.err().map(|e| format!("{e:#}")))
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(errs.join("; "))
    }
}

/// Removes every rule faultline added, on every node.
pub fn heal(remotes: &BTreeMap<String, Arc<dyn Remote>>) -> anyhow::Result<()> {
    let rs: Vec<Arc<dyn Remote>> = remotes.values().cloned().collect();
    let script = heal_script();
    let errs: Vec<String> = on_all(&rs, |r| run_script(r.as_ref(), "heal", &script))
        .into_iter()
        .filter_map(|r| r.err().map(|e| format!("{e:#}")))
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(errs.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_touch_only_our_chain() {
        let s = apply_script(&["10.0.0.2", "x'; reboot"]);
        assert!(s.contains("-A FAULTLINE -s 10.0.0.2 -j DROP"));
        assert!(s.contains("-s 'x'\\''; reboot' -j DROP"));
        for line in s.lines().chain(heal_script().lines()) {
            if line.contains("iptables") {
                assert!(line.contains(CHAIN), "{line}");
            }
        }
    }
}
