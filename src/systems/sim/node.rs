//! One simulated replica: an actor that owns its state and talks to its
//! peers only through [`Net`] messages.
//!
//! Two families of replication live here.
//!
//! *Log replication* (leader-quorum, read-local, failover-unsafe,
//! failover-fenced): a leader appends commands to a log and ships it to the
//! followers with a consistency check on the previous entry (epoch, index);
//! a follower that finds a conflict truncates its log to the leader's. What
//! differs between strategies is real mechanism, not a verdict flag:
//! - when a write is acknowledged: after a majority stored it, or as soon as
//!   the leader applied it (asynchronous replication);
//! - where reads are served: through the log (ordered and confirmed by a
//!   majority), at the leader's local state, or at any local replica;
//! - failover: none (a fixed leader), self-promotion of a replica that stops
//!   hearing its leader without checking how far behind it is, or elections
//!   that need a majority of votes from replicas whose logs are not newer
//!   than the candidate's, with every replica rejecting older epochs
//!   (fencing).
//!
//! *Multi-writer* (active-active-lww, crdt): every node accepts writes
//! locally and pushes its changes to every peer; retransmission until
//! acknowledged makes replicas converge after a partition heals. The merge
//! is last-writer-wins on hybrid timestamps (clocks skewed per node), or
//! set union for the add-wins set CRDT.

use super::net::Net;
use super::store::{add_to, Cmd, CmdResult, Store};
use crate::workload::Strategy;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A log entry; shared between replicas (the simulation is in-process).
#[derive(Debug)]
pub struct Entry {
    pub epoch: u64,
    pub cmd: Arc<Cmd>,
}

/// A last-writer-wins or set value with its timestamp (µs, writer node).
#[derive(Clone, Debug)]
pub struct Versioned {
    pub ts: (u64, usize),
    pub value: Value,
}

/// A message between nodes (or from a client to its node).
pub enum Msg {
    Client {
        cmd: Arc<Cmd>,
        reply: oneshot::Sender<CmdResult>,
    },
    Forward {
        id: u64,
        cmd: Arc<Cmd>,
    },
    ForwardReply {
        id: u64,
        result: CmdResult,
    },
    Append {
        epoch: u64,
        leader: usize,
        prev_index: u64,
        prev_epoch: u64,
        entries: Vec<Arc<Entry>>,
        commit: u64,
    },
    AppendReply {
        epoch: u64,
        leader: Option<usize>,
        ok: bool,
        /// On success the index matched; on failure where to resend from.
        index: u64,
    },
    Vote {
        epoch: u64,
        last_index: u64,
        last_epoch: u64,
    },
    VoteReply {
        epoch: u64,
        granted: bool,
    },
    Sync {
        upto: usize,
        items: Vec<(String, Versioned)>,
    },
    SyncAck {
        upto: usize,
    },
}

pub struct Envelope {
    pub from: usize,
    pub msg: Msg,
}

/// Commands from the nemesis and the cluster handle.
pub enum Ctl {
    Kill,
    Restart,
    Pause,
    Resume,
    Status(oneshot::Sender<NodeStatus>),
}

/// A snapshot of a node, for tests and reports.
#[derive(Clone, Debug, Serialize)]
pub struct NodeStatus {
    pub node: usize,
    pub up: bool,
    pub paused: bool,
    pub leader: Option<usize>,
    pub is_leader: bool,
    pub epoch: u64,
    pub log_len: u64,
    pub commit: u64,
}

/// Timing and mechanism parameters shared by every node.
#[derive(Clone, Debug)]
pub struct Params {
    pub strategy: Strategy,
    pub heartbeat: Duration,
    pub election_timeout: Duration,
    pub replication_interval: Duration,
    pub clock_skew_us: u64,
    pub seed: u64,
    /// Where nodes report what the invariants watch.
    pub monitor: Arc<super::invariants::Monitor>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reads {
    ThroughLog,
    LeaderLocal,
    AnyReplica,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failover {
    None,
    SelfPromote,
    Elect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Log {
        majority_ack: bool,
        reads: Reads,
        failover: Failover,
    },
    Lww,
    Crdt,
}

fn family(s: Strategy) -> Family {
    match s {
        Strategy::LeaderQuorum => Family::Log {
            majority_ack: true,
            reads: Reads::ThroughLog,
            failover: Failover::None,
        },
        Strategy::ReadLocal => Family::Log {
            majority_ack: false,
            reads: Reads::AnyReplica,
            failover: Failover::None,
        },
        Strategy::FailoverUnsafe => Family::Log {
            majority_ack: false,
            reads: Reads::LeaderLocal,
            failover: Failover::SelfPromote,
        },
        Strategy::FailoverFenced => Family::Log {
            majority_ack: true,
            reads: Reads::ThroughLog,
            failover: Failover::Elect,
        },
        Strategy::ActiveActiveLww => Family::Lww,
        Strategy::Crdt => Family::Crdt,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Leader,
    Follower,
    Candidate,
}

enum Reply {
    Local(oneshot::Sender<CmdResult>),
    Remote { origin: usize, id: u64 },
}

const MAX_BATCH: usize = 4096;

pub struct Node {
    id: usize,
    n: usize,
    p: Arc<Params>,
    fam: Family,
    net: Arc<Net>,
    rng: ChaCha8Rng,
    up: bool,
    paused: bool,
    // --- log replication (durable) ---
    epoch: u64,
    voted_for: Option<usize>,
    log: Vec<Arc<Entry>>,
    commit: u64,
    applied: u64,
    store: Store,
    // --- log replication (volatile) ---
    role: Role,
    leader: Option<usize>,
    last_heard: Instant,
    election_deadline: Instant,
    votes: Vec<bool>,
    sent: Vec<u64>,
    matched: Vec<u64>,
    last_ack: Vec<Instant>,
    last_heartbeat: Instant,
    pending: BTreeMap<u64, (u64, Reply)>,
    forwards: BTreeMap<u64, oneshot::Sender<CmdResult>>,
    next_forward: u64,
    // --- multi-writer ---
    kv: HashMap<String, Versioned>,
    changes: Vec<String>,
    acked: Vec<usize>,
    clock: u64,
    skew_us: u64,
    epoch0: Instant,
    last_sync: Instant,
}

impl Node {
    pub fn new(id: usize, n: usize, p: Arc<Params>, net: Arc<Net>, epoch0: Instant) -> Node {
        let mut rng =
            ChaCha8Rng::seed_from_u64(crate::generator::derive_seed(p.seed, 0x51A + id as u64));
        let now = Instant::now();
        let fam = family(p.strategy);
        let skew_us = if p.clock_skew_us > 0 {
            rng.gen_range(0..=2 * p.clock_skew_us)
        } else {
            0
        };
        let mut node = Node {
            id,
            n,
            fam,
            net,
            up: true,
            paused: false,
            epoch: 1,
            voted_for: None,
            log: Vec::new(),
            commit: 0,
            applied: 0,
            store: Store::default(),
            // Every log strategy starts with node 0 leading epoch 1, as a
            // freshly set up primary/replica cluster does.
            role: if id == 0 {
                Role::Leader
            } else {
                Role::Follower
            },
            leader: Some(0),
            last_heard: now,
            election_deadline: now,
            votes: vec![false; n],
            sent: vec![0; n],
            matched: vec![0; n],
            last_ack: vec![now; n],
            last_heartbeat: now,
            pending: BTreeMap::new(),
            forwards: BTreeMap::new(),
            next_forward: 0,
            kv: HashMap::new(),
            changes: Vec::new(),
            acked: vec![0; n],
            clock: 0,
            skew_us,
            epoch0,
            last_sync: now,
            rng,
            p,
        };
        node.reset_election_deadline();
        node
    }

    fn majority(&self) -> usize {
        self.n / 2 + 1
    }

    fn reset_election_deadline(&mut self) {
        let base = self.p.election_timeout;
        let extra = base.mul_f64(self.rng.gen::<f64>());
        self.election_deadline = Instant::now() + base + extra;
    }

    fn send(&self, to: usize, msg: Msg) {
        self.net.send(to, Envelope { from: self.id, msg });
    }

    /// Runs the node until the control channel closes.
    pub async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<Envelope>,
        mut ctl: mpsc::UnboundedReceiver<Ctl>,
    ) {
        let period = self
            .p
            .heartbeat
            .min(self.p.replication_interval)
            .max(Duration::from_millis(1));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let active = !self.paused;
            tokio::select! {
                biased;
                c = ctl.recv() => match c {
                    None => break,
                    Some(c) => self.control(c),
                },
                m = inbox.recv(), if active => {
                    let Some(env) = m else { break };
                    self.handle(env);
                    let mut n = 0;
                    while n < 512 {
                        match inbox.try_recv() {
                            Ok(env) => self.handle(env),
                            Err(_) => break,
                        }
                        n += 1;
                    }
                    self.flush();
                }
                _ = tick.tick(), if active => {
                    if self.up {
                        self.on_tick();
                        self.flush();
                    }
                }
            }
        }
    }

    fn control(&mut self, c: Ctl) {
        match c {
            Ctl::Kill => {
                if self.up {
                    self.up = false;
                    self.crash_volatile_state();
                }
            }
            Ctl::Restart => {
                if !self.up {
                    self.up = true;
                    let now = Instant::now();
                    self.last_heard = now;
                    self.last_ack = vec![now; self.n];
                    self.reset_election_deadline();
                }
            }
            Ctl::Pause => self.paused = true,
            Ctl::Resume => self.paused = false,
            Ctl::Status(tx) => {
                let _ = tx.send(NodeStatus {
                    node: self.id,
                    up: self.up,
                    paused: self.paused,
                    leader: self.leader,
                    is_leader: self.role == Role::Leader,
                    epoch: self.epoch,
                    log_len: self.log.len() as u64,
                    commit: self.commit,
                });
            }
        }
    }

    /// A crash loses what was in memory: client requests in flight (their
    /// clients see the connection drop), leadership bookkeeping, votes in
    /// progress. The log, the epoch, the vote and the applied state are on
    /// disk.
    fn crash_volatile_state(&mut self) {
        self.pending.clear();
        self.forwards.clear();
        self.votes = vec![false; self.n];
        self.sent = vec![self.log.len() as u64; self.n];
        self.matched = vec![0; self.n];
        if let Family::Log { failover, .. } = self.fam {
            if failover != Failover::None {
                self.role = Role::Follower;
                self.leader = None;
            }
        }
    }

    fn handle(&mut self, env: Envelope) {
        if !self.up {
            // A dead node hears nothing; dropping a client's reply handle
            // is the connection reset its client sees.
            return;
        }
        let from = env.from;
        match env.msg {
            Msg::Client { cmd, reply } => self.on_client(cmd, reply),
            Msg::Forward { id, cmd } => {
                if self.role == Role::Leader {
                    self.submit(cmd, Reply::Remote { origin: from, id });
                } else {
                    self.send(
                        from,
                        Msg::ForwardReply {
                            id,
                            result: Err("not the leader".to_string()),
                        },
                    );
                }
            }
            Msg::ForwardReply { id, result } => {
                if let Some(tx) = self.forwards.remove(&id) {
                    let _ = tx.send(result);
                }
            }
            Msg::Append {
                epoch,
                leader,
                prev_index,
                prev_epoch,
                entries,
                commit,
            } => self.on_append(from, epoch, leader, prev_index, prev_epoch, entries, commit),
            Msg::AppendReply {
                epoch,
                leader,
                ok,
                index,
            } => self.on_append_reply(from, epoch, leader, ok, index),
            Msg::Vote {
                epoch,
                last_index,
                last_epoch,
            } => self.on_vote(from, epoch, last_index, last_epoch),
            Msg::VoteReply { epoch, granted } => self.on_vote_reply(from, epoch, granted),
            Msg::Sync { upto, items } => {
                for (k, v) in items {
                    self.merge(k, v);
                }
                self.send(from, Msg::SyncAck { upto });
            }
            Msg::SyncAck { upto } => {
                self.acked[from] = self.acked[from].max(upto);
            }
        }
    }

    // ------------------------------------------------------------------
    // Client requests

    fn on_client(&mut self, cmd: Arc<Cmd>, reply: oneshot::Sender<CmdResult>) {
        match self.fam {
            Family::Lww | Family::Crdt => {
                let r = self.local_write(&cmd);
                let _ = reply.send(r);
            }
            Family::Log { reads, .. } => {
                if reads == Reads::AnyReplica && cmd.is_read() {
                    let _ = reply.send(self.store.apply(&cmd));
                } else if self.role == Role::Leader {
                    self.submit(cmd, Reply::Local(reply));
                } else {
                    let lease = self.p.heartbeat * 3;
                    match self.leader {
                        Some(l) if self.last_heard.elapsed() < lease && l != self.id => {
                            let id = self.next_forward;
                            self.next_forward += 1;
                            self.forwards.insert(id, reply);
                            self.send(l, Msg::Forward { id, cmd });
                        }
                        _ => {
                            let _ = reply.send(Err("no leader".to_string()));
                        }
                    }
                }
            }
        }
    }

    fn answer(&self, reply: Reply, result: CmdResult) {
        match reply {
            Reply::Local(tx) => {
                let _ = tx.send(result);
            }
            Reply::Remote { origin, id } => self.send(origin, Msg::ForwardReply { id, result }),
        }
    }

    /// The leader takes a command.
    fn submit(&mut self, cmd: Arc<Cmd>, reply: Reply) {
        let Family::Log {
            majority_ack,
            reads,
            ..
        } = self.fam
        else {
            return;
        };
        if cmd.is_read() && reads != Reads::ThroughLog {
            let r = self.store.apply(&cmd);
            self.answer(reply, r);
            return;
        }
        if majority_ack {
            // Refuse (certainly not executed) rather than queue behind a
            // partition we already know about.
            let lease = self.p.heartbeat * 3;
            let reachable = 1
                + (0..self.n)
                    .filter(|&f| f != self.id && self.last_ack[f].elapsed() < lease)
                    .count();
            if reachable < self.majority() {
                self.answer(reply, Err("no quorum".to_string()));
                return;
            }
        }
        self.log.push(Arc::new(Entry {
            epoch: self.epoch,
            cmd,
        }));
        let index = self.log.len() as u64;
        if majority_ack {
            self.pending.insert(index, (self.epoch, reply));
            self.advance_commit();
        } else {
            // Asynchronous replication: applied and acknowledged now,
            // shipped to the followers later.
            self.note_commits(index);
            self.commit = index;
            let r = self.apply_to(index);
            self.answer(reply, r);
        }
    }

    /// Applies entries up to `index`; returns the result of the last one.
    fn apply_to(&mut self, index: u64) -> CmdResult {
        let mut last = Ok(Value::Null);
        while self.applied < index {
            let e = self.log[self.applied as usize].clone();
            self.applied += 1;
            last = self.store.apply(&e.cmd);
            if let Some((epoch, _)) = self.pending.get(&self.applied) {
                if *epoch == e.epoch {
                    if let Some((_, reply)) = self.pending.remove(&self.applied) {
                        self.answer(reply, last.clone());
                    }
                }
            }
        }
        last
    }

    fn advance_commit(&mut self) {
        let mut m: Vec<u64> = (0..self.n)
            .map(|i| {
                if i == self.id {
                    self.log.len() as u64
                } else {
                    self.matched[i]
                }
            })
            .collect();
        m.sort_unstable_by(|a, b| b.cmp(a));
        let n = m[self.majority() - 1];
        // Only entries of the leader's own epoch are committed by counting.
        if n > self.commit && self.log[n as usize - 1].epoch == self.epoch {
            self.note_commits(n);
            self.commit = n;
            let _ = self.apply_to(n);
        }
    }

    // ------------------------------------------------------------------
    // Log replication

    /// (epoch, leader) order: a higher epoch wins; in one epoch (which only
    /// self-promotion can contest) the higher node id wins.
    fn outranks(
        epoch: u64,
        leader: usize,
        my_epoch: u64,
        my_leader: Option<usize>,
    ) -> std::cmp::Ordering {
        (epoch, Some(leader)).cmp(&(my_epoch, my_leader))
    }

    fn step_down(&mut self, epoch: u64, leader: Option<usize>) {
        if epoch > self.epoch {
            self.voted_for = None;
        }
        self.epoch = epoch;
        self.leader = leader;
        if self.role != Role::Follower {
            self.role = Role::Follower;
            // Requests in flight may or may not commit under the new leader:
            // their clients time out (indeterminate).
            self.pending.clear();
        }
        self.reset_election_deadline();
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        from: usize,
        epoch: u64,
        leader: usize,
        prev_index: u64,
        prev_epoch: u64,
        entries: Vec<Arc<Entry>>,
        commit: u64,
    ) {
        let Family::Log {
            majority_ack,
            failover,
            ..
        } = self.fam
        else {
            return;
        };
        use std::cmp::Ordering::*;
        let rank = match failover {
            Failover::SelfPromote => Self::outranks(epoch, leader, self.epoch, self.leader),
            _ => epoch.cmp(&self.epoch),
        };
        if rank == Less || (rank == Equal && self.role == Role::Leader && leader != self.id) {
            self.send(
                from,
                Msg::AppendReply {
                    epoch: self.epoch,
                    leader: self.leader,
                    ok: false,
                    index: 0,
                },
            );
            return;
        }
        if rank == Greater || self.role != Role::Follower || self.leader != Some(leader) {
            self.step_down(epoch, Some(leader));
        }
        self.last_heard = Instant::now();
        self.reset_election_deadline();
        let len = self.log.len() as u64;
        if prev_index > len {
            self.send(
                from,
                Msg::AppendReply {
                    epoch: self.epoch,
                    leader: self.leader,
                    ok: false,
                    index: len,
                },
            );
            return;
        }
        if prev_index > 0 {
            let mine = self.log[prev_index as usize - 1].epoch;
            if mine != prev_epoch {
                // Skip back over the whole conflicting epoch at once.
                let mut i = prev_index - 1;
                while i > 0 && self.log[i as usize - 1].epoch == mine {
                    i -= 1;
                }
                self.send(
                    from,
                    Msg::AppendReply {
                        epoch: self.epoch,
                        leader: self.leader,
                        ok: false,
                        index: i,
                    },
                );
                return;
            }
        }
        let mut index = prev_index;
        for e in entries {
            index += 1;
            let pos = index as usize - 1;
            if pos < self.log.len() {
                if self.log[pos].epoch == e.epoch {
                    continue;
                }
                self.truncate(pos);
            }
            self.log.push(e);
        }
        if majority_ack {
            let c = commit.min(index);
            if c > self.commit {
                self.note_commits(c);
                self.commit = c;
                let _ = self.apply_to(c);
            }
        } else {
            // Asynchronous replicas apply what they receive.
            if index > self.applied {
                if index > self.commit {
                    self.note_commits(index);
                }
                self.commit = index;
                let _ = self.apply_to(index);
            }
        }
        self.send(
            from,
            Msg::AppendReply {
                epoch: self.epoch,
                leader: self.leader,
                ok: true,
                index,
            },
        );
    }

    /// Drops log entries from position `pos` on; rebuilds the state if
    /// applied entries went with them (which loses their writes).
    fn truncate(&mut self, pos: usize) {
        self.log.truncate(pos);
        let len = pos as u64;
        if self.applied > len {
            if matches!(
                self.fam,
                Family::Log {
                    majority_ack: true,
                    ..
                }
            ) {
                tracing::error!(node = self.id, "truncating committed entries");
                self.p
                    .monitor
                    .truncated_committed(self.id, len, self.commit.max(self.applied));
            }
            self.store = Store::default();
            self.applied = 0;
            self.pending.clear();
            let log = std::mem::take(&mut self.log);
            for e in &log {
                let _ = self.store.apply(&e.cmd);
            }
            self.applied = len;
            self.log = log;
        }
        self.commit = self.commit.min(len);
    }

    fn on_append_reply(
        &mut self,
        from: usize,
        epoch: u64,
        leader: Option<usize>,
        ok: bool,
        index: u64,
    ) {
        let Family::Log { failover, .. } = self.fam else {
            return;
        };
        if self.role != Role::Leader {
            return;
        }
        let higher = match (failover, leader) {
            (Failover::SelfPromote, Some(l)) => {
                Self::outranks(epoch, l, self.epoch, Some(self.id)) == std::cmp::Ordering::Greater
            }
            _ => epoch > self.epoch,
        };
        if higher {
            self.step_down(epoch, leader);
            return;
        }
        if epoch != self.epoch {
            return;
        }
        self.last_ack[from] = Instant::now();
        if ok {
            if index > self.matched[from] {
                self.matched[from] = index;
                self.advance_commit();
            }
            self.sent[from] = self.sent[from].max(index);
        } else if leader == Some(self.id) || leader.is_none() || failover == Failover::None {
            self.sent[from] = index.max(self.matched[from]).min(self.log.len() as u64);
        }
    }

    fn send_append(&mut self, to: usize, heartbeat: bool) {
        let len = self.log.len() as u64;
        let from = self.sent[to].min(len);
        if from >= len && !heartbeat {
            return;
        }
        let end = (from + MAX_BATCH as u64).min(len);
        let entries: Vec<Arc<Entry>> = self.log[from as usize..end as usize].to_vec();
        let prev_epoch = if from == 0 {
            0
        } else {
            self.log[from as usize - 1].epoch
        };
        self.sent[to] = end;
        self.send(
            to,
            Msg::Append {
                epoch: self.epoch,
                leader: self.id,
                prev_index: from,
                prev_epoch,
                entries,
                commit: self.commit,
            },
        );
    }

    fn flush(&mut self) {
        if !self.up {
            return;
        }
        if self.role == Role::Leader && matches!(self.fam, Family::Log { .. }) {
            for f in 0..self.n {
                if f != self.id {
                    self.send_append(f, false);
                }
            }
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        match self.fam {
            Family::Lww | Family::Crdt => {
                if now.duration_since(self.last_sync) >= self.p.replication_interval {
                    self.last_sync = now;
                    self.sync_peers();
                }
            }
            Family::Log { failover, .. } => {
                if self.role == Role::Leader {
                    if now.duration_since(self.last_heartbeat) >= self.p.heartbeat {
                        self.last_heartbeat = now;
                        for f in 0..self.n {
                            if f == self.id {
                                continue;
                            }
                            // Resend what was not acknowledged in time.
                            if self.matched[f] < self.sent[f]
                                && now.duration_since(self.last_ack[f]) > self.p.heartbeat * 2
                            {
                                self.sent[f] = self.matched[f];
                            }
                            self.send_append(f, true);
                        }
                    }
                    // Forget forwarded requests whose clients gave up.
                    self.forwards.retain(|_, tx| !tx.is_closed());
                    return;
                }
                self.forwards.retain(|_, tx| !tx.is_closed());
                if now < self.election_deadline {
                    return;
                }
                match failover {
                    Failover::None => {}
                    Failover::SelfPromote => {
                        // No votes, no look at anyone's log: the replica
                        // that stopped hearing its leader takes over.
                        self.epoch += 1;
                        self.become_leader();
                    }
                    Failover::Elect => {
                        self.epoch += 1;
                        self.role = Role::Candidate;
                        self.leader = None;
                        self.voted_for = Some(self.id);
                        self.votes = vec![false; self.n];
                        self.votes[self.id] = true;
                        self.reset_election_deadline();
                        let last_index = self.log.len() as u64;
                        let last_epoch = self.log.last().map_or(0, |e| e.epoch);
                        for p in 0..self.n {
                            if p != self.id {
                                self.send(
                                    p,
                                    Msg::Vote {
                                        epoch: self.epoch,
                                        last_index,
                                        last_epoch,
                                    },
                                );
                            }
                        }
                        if self.majority() == 1 {
                            self.become_leader();
                        }
                    }
                }
            }
        }
    }

    /// Reports entries `commit+1..=upto` as committed: by a majority, or
    /// (asynchronous strategies) acknowledged and applied.
    fn note_commits(&self, upto: u64) {
        for i in self.commit + 1..=upto {
            self.p
                .monitor
                .committed(self.id, i, self.log[i as usize - 1].epoch);
        }
    }

    fn become_leader(&mut self) {
        self.p.monitor.leader(self.epoch, self.id);
        self.role = Role::Leader;
        self.leader = Some(self.id);
        let now = Instant::now();
        let len = self.log.len() as u64;
        self.sent = vec![len; self.n];
        self.matched = vec![0; self.n];
        self.last_ack = vec![now; self.n];
        self.last_heartbeat = now - self.p.heartbeat;
        if let Family::Log {
            majority_ack: true, ..
        } = self.fam
        {
            // Commit the new epoch (and with it every earlier entry).
            self.log.push(Arc::new(Entry {
                epoch: self.epoch,
                cmd: Arc::new(Cmd::Noop),
            }));
            self.advance_commit();
        }
    }

    fn on_vote(&mut self, from: usize, epoch: u64, last_index: u64, last_epoch: u64) {
        if epoch > self.epoch {
            self.step_down(epoch, None);
        }
        let my_last = (
            self.log.last().map_or(0, |e| e.epoch),
            self.log.len() as u64,
        );
        let granted = epoch == self.epoch
            && self.voted_for.is_none_or(|v| v == from)
            && (last_epoch, last_index) >= my_last;
        if granted {
            self.voted_for = Some(from);
            self.reset_election_deadline();
        }
        self.send(
            from,
            Msg::VoteReply {
                epoch: self.epoch,
                granted,
            },
        );
    }

    fn on_vote_reply(&mut self, from: usize, epoch: u64, granted: bool) {
        if epoch > self.epoch {
            self.step_down(epoch, None);
            return;
        }
        if self.role != Role::Candidate || epoch != self.epoch || !granted {
            return;
        }
        self.votes[from] = true;
        if self.votes.iter().filter(|v| **v).count() >= self.majority() {
            self.become_leader();
        }
    }

    // ------------------------------------------------------------------
    // Multi-writer

    fn now_ts(&mut self) -> (u64, usize) {
        let phys = self.epoch0.elapsed().as_micros() as u64 + self.skew_us;
        self.clock = phys.max(self.clock + 1);
        (self.clock, self.id)
    }

    fn local_value(&self, key: &str) -> Value {
        self.kv.get(key).map_or(Value::Null, |v| v.value.clone())
    }

    fn local_set(&mut self, key: &str, value: Value) {
        let ts = self.now_ts();
        self.kv.insert(key.to_string(), Versioned { ts, value });
        self.changes.push(key.to_string());
    }

    fn local_write(&mut self, cmd: &Cmd) -> CmdResult {
        let crdt = self.fam == Family::Crdt;
        match cmd {
            Cmd::Noop => Ok(Value::Null),
            Cmd::Read(k) => Ok(self.local_value(k)),
            Cmd::Add(k, v) => {
                // LWW: the set is one value, rewritten whole with a new
                // timestamp. CRDT: the element joins the set; merge is union.
                let mut cur = self.local_value(k);
                add_to(&mut cur, v, true);
                self.local_set(k, cur);
                Ok(Value::Null)
            }
            _ if crdt => Err("the crdt store holds add-wins sets: only add and read".to_string()),
            Cmd::Write(k, v) => {
                self.local_set(k, v.clone());
                Ok(Value::Null)
            }
            Cmd::Cas(k, e, v) => {
                if self.local_value(k) == *e {
                    self.local_set(k, v.clone());
                    Ok(Value::Null)
                } else {
                    Err("cas: the value was not the expected one".to_string())
                }
            }
            Cmd::Txn(ms) => {
                let mut out = Vec::with_capacity(ms.len());
                for m in ms {
                    out.push(match m {
                        super::store::Micro::Read(k) => self.local_value(k),
                        super::store::Micro::Write(k, v) => {
                            self.local_set(k, v.clone());
                            Value::Null
                        }
                        super::store::Micro::Append(k, v) => {
                            let mut cur = self.local_value(k);
                            add_to(&mut cur, v, false);
                            self.local_set(k, cur);
                            Value::Null
                        }
                    });
                }
                Ok(Value::Array(out))
            }
        }
    }

    fn merge(&mut self, key: String, incoming: Versioned) {
        self.clock = self.clock.max(incoming.ts.0);
        match self.kv.get_mut(&key) {
            None => {
                self.kv.insert(key, incoming);
            }
            Some(mine) => {
                if self.fam == Family::Crdt {
                    if let Value::Array(items) = &incoming.value {
                        for v in items {
                            add_to(&mut mine.value, v, true);
                        }
                    }
                    mine.ts = mine.ts.max(incoming.ts);
                } else if incoming.ts > mine.ts {
                    *mine = incoming;
                }
            }
        }
    }

    fn sync_peers(&mut self) {
        let len = self.changes.len();
        for p in 0..self.n {
            if p == self.id || self.acked[p] >= len {
                continue;
            }
            let start = self.acked[p];
            let end = (start + MAX_BATCH).min(len);
            let mut seen = std::collections::HashSet::new();
            let mut items = Vec::new();
            for k in &self.changes[start..end] {
                if seen.insert(k.as_str()) {
                    if let Some(v) = self.kv.get(k) {
                        items.push((k.clone(), v.clone()));
                    }
                }
            }
            self.send(p, Msg::Sync { upto: end, items });
        }
    }
}
