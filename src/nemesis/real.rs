//! The nemesis for real clusters: partitions as iptables rules over
//! [`Remote`], kills and pauses through [`Db`].
//!
//! It remembers what it did (partitioned, killed, paused) only to report it;
//! [`Nemesis::heal_all`] does not trust that memory and heals, resumes and
//! restarts on every node, so it also cleans up after a crashed earlier run.

use crate::control::Remote;
use crate::db::Db;
use crate::nemesis::{Fault, Nemesis};
use crate::net::iptables;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

#[derive(Default, Debug)]
struct Done {
    partitioned: bool,
    killed: BTreeSet<String>,
    paused: BTreeSet<String>,
    primary_isolations: usize,
    primary_kills: usize,
}

struct Inner {
    remotes: BTreeMap<String, Arc<dyn Remote>>,
    addresses: BTreeMap<String, String>,
    db: Arc<dyn Db>,
    done: Mutex<Done>,
    ready: Option<ReadyCheck>,
    primary: Option<PrimaryLookup>,
}

/// Waits until the database serves again (used at the end of `heal_all`).
pub type ReadyCheck = Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync>;

/// Names the node the system currently treats as its primary.
pub type PrimaryLookup = Arc<dyn Fn() -> anyhow::Result<String> + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A [`Nemesis`] over SSH remotes and a [`Db`].
#[derive(Clone)]
pub struct RealNemesis {
    inner: Arc<Inner>,
}

impl RealNemesis {
    /// `remotes` and `addresses` keyed by node name.
    pub fn new(
        remotes: BTreeMap<String, Arc<dyn Remote>>,
        addresses: BTreeMap<String, String>,
        db: Arc<dyn Db>,
    ) -> RealNemesis {
        RealNemesis {
            inner: Arc::new(Inner {
                remotes,
                addresses,
                db,
                done: Mutex::new(Done::default()),
                ready: None,
                primary: None,
            }),
        }
    }

    /// Rebuilds with one setting changed (only while not yet shared).
    fn with(self, f: impl FnOnce(&mut Inner)) -> RealNemesis {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(i) => i,
            Err(shared) => Inner {
                remotes: shared.remotes.clone(),
                addresses: shared.addresses.clone(),
                db: shared.db.clone(),
                done: Mutex::new(Done::default()),
                ready: shared.ready.clone(),
                primary: shared.primary.clone(),
            },
        };
        f(&mut inner);
        RealNemesis {
            inner: Arc::new(inner),
        }
    }

    /// Lets `IsolatePrimary` and `KillPrimary` find the primary.
    pub fn with_primary(self, lookup: PrimaryLookup) -> RealNemesis {
        self.with(|i| i.primary = Some(lookup))
    }

    /// How many times the primary was isolated.
    pub fn primary_isolations(&self) -> usize {
        lock(&self.inner.done).primary_isolations
    }

    /// How many times the primary was killed.
    pub fn primary_kills(&self) -> usize {
        lock(&self.inner.done).primary_kills
    }

    /// After healing, `heal_all` also waits for `ready` (e.g. until every
    /// node reports healthy), so the run's final reads see a whole cluster.
    pub fn with_ready_check(self, ready: ReadyCheck) -> RealNemesis {
        self.with(|i| i.ready = Some(ready))
    }

    /// Applies a fault (blocking).
    pub fn invoke_blocking(&self, fault: &Fault) -> anyhow::Result<Value> {
        let i = &self.inner;
        let mut done = match i.done.lock() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        };
        let each = |nodes: &[String], f: &dyn Fn(&str) -> anyhow::Result<()>| {
            let mut errs = Vec::new();
            for n in nodes {
                if let Err(e) = f(n) {
                    errs.push(format!("{n}: {e:#}"));
                }
            }
            if errs.is_empty() {
                Ok(())
            } else {
                Err(anyhow::anyhow!(errs.join("; ")))
            }
        };
        match fault {
            Fault::Partition(g) => {
                iptables::partition(&i.remotes, &i.addresses, g)?;
                done.partitioned = true;
                Ok(json!(g))
            }
            Fault::IsolatePrimary => {
                let Some(lookup) = &i.primary else {
                    anyhow::bail!("this system has no primary to isolate (use isolate-one)");
                };
                let p = lookup()?;
                let nodes: Vec<String> = i.remotes.keys().cloned().collect();
                let g = crate::net::isolate_one(&nodes, &p);
                iptables::partition(&i.remotes, &i.addresses, &g)?;
                done.partitioned = true;
                done.primary_isolations += 1;
                Ok(json!({ "isolated": p, "grudge": g }))
            }
            Fault::KillPrimary => {
                let Some(lookup) = &i.primary else {
                    anyhow::bail!("this system has no primary to kill (use kill)");
                };
                let p = lookup()?;
                i.db.kill(&p)?;
                done.killed.insert(p.clone());
                done.primary_kills += 1;
                Ok(json!({ "killed": [p] }))
            }
            Fault::Heal => {
                iptables::heal(&i.remotes)?;
                done.partitioned = false;
                Ok(json!("healed"))
            }
            Fault::Kill(nodes) => {
                each(nodes, &|n| i.db.kill(n))?;
                done.killed.extend(nodes.iter().cloned());
                Ok(json!({ "killed": nodes }))
            }
            Fault::Restart(nodes) => {
                each(nodes, &|n| i.db.start(n))?;
                for n in nodes {
                    done.killed.remove(n);
                }
                Ok(json!({ "started": nodes }))
            }
            Fault::Pause(nodes) => {
                each(nodes, &|n| i.db.pause(n))?;
                done.paused.extend(nodes.iter().cloned());
                Ok(json!({ "paused": nodes }))
            }
            Fault::Resume(nodes) => {
                each(nodes, &|n| i.db.resume(n))?;
                for n in nodes {
                    done.paused.remove(n);
                }
                Ok(json!({ "resumed": nodes }))
            }
        }
    }

    /// Heals every partition, resumes and restarts the database on every
    /// node (blocking, idempotent).
    pub fn heal_all_blocking(&self) -> anyhow::Result<()> {
        let i = &self.inner;
        let nodes: Vec<String> = i.remotes.keys().cloned().collect();
        let mut errs = Vec::new();
        if let Err(e) = iptables::heal(&i.remotes) {
            errs.push(format!("heal: {e:#}"));
        }
        for n in &nodes {
            if let Err(e) = i.db.resume(n) {
                errs.push(format!("resume {n}: {e:#}"));
            }
        }
        for n in &nodes {
            if let Err(e) = i.db.start(n) {
                errs.push(format!("start {n}: {e:#}"));
            }
        }
        if errs.is_empty() {
            if let Some(ready) = &i.ready {
                if let Err(e) = ready() {
                    errs.push(format!("not ready after healing: {e:#}"));
                }
            }
        }
        let mut done = lock(&i.done);
        let (isolations, kills) = (done.primary_isolations, done.primary_kills);
        *done = Done {
            primary_isolations: isolations,
            primary_kills: kills,
            ..Done::default()
        };
        if errs.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(errs.join("; "))
        }
    }
}

#[async_trait::async_trait]
impl Nemesis for RealNemesis {
    async fn invoke(&self, fault: &Fault) -> anyhow::Result<Value> {
        let me = self.clone();
        let f = fault.clone();
        tokio::task::spawn_blocking(move || me.invoke_blocking(&f)).await?
    }

    async fn heal_all(&self) -> anyhow::Result<()> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.heal_all_blocking()).await?
    }
}
