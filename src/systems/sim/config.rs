//! The `[sim]` table of a workload file: which replication strategy the
//! simulated store runs and how its network and clients behave. Every
//! field has a default; `validate` names the field that is out of range.

use crate::workload::WorkloadError;
use serde::Deserialize;

fn invalid(file: &str, field: &str, message: impl Into<String>) -> WorkloadError {
    WorkloadError::Invalid {
        path: file.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// Replication strategies of the simulated store (see [`super::node`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Reads and writes through a fixed leader, acknowledged by a majority.
    LeaderQuorum,
    /// Writes to the leader, reads from the local replica, async replication.
    ReadLocal,
    /// Every node accepts writes; last-writer-wins merge.
    ActiveActiveLww,
    /// Add-wins sets merged by union.
    Crdt,
    /// Async replication; a replica promotes itself without catching up.
    FailoverUnsafe,
    /// Majority acks, elections of caught-up replicas, epoch fencing.
    FailoverFenced,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LeaderQuorum => "leader-quorum",
            Strategy::ReadLocal => "read-local",
            Strategy::ActiveActiveLww => "active-active-lww",
            Strategy::Crdt => "crdt",
            Strategy::FailoverUnsafe => "failover-unsafe",
            Strategy::FailoverFenced => "failover-fenced",
        }
    }
}

/// The `[sim]` table: how the simulated store replicates, how slow and
/// lossy its links are, how its clients pace themselves. Times in
/// milliseconds; latencies, jitter and clock skew are multiplied by
/// `time_scale`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    pub strategy: Strategy,
    /// One-way latency between nodes of the same region.
    pub latency_local_ms: f64,
    /// One-way latency between regions.
    pub latency_region_ms: f64,
    /// Between a client and its node.
    pub latency_client_ms: f64,
    /// Leader heartbeats and follower failure detection.
    pub heartbeat_ms: f64,
    /// A follower that hears nothing from its leader this long (randomised
    /// up to twice that) starts a failover, when the strategy has one.
    pub election_timeout_ms: f64,
    /// Period of asynchronous replication / anti-entropy rounds.
    pub replication_interval_ms: f64,
    /// Maximum clock skew between nodes (last-writer-wins timestamps).
    pub clock_skew_ms: f64,
    /// Multiplies every time above; 0 makes the network instantaneous.
    pub time_scale: f64,
    /// Each message between nodes is delayed by its link's latency plus a
    /// random extra of 0 to `jitter_ms` (links stay in order, like TCP).
    pub jitter_ms: f64,
    /// Probability that a message between nodes is lost (0 to 0.9); the
    /// protocols retransmit, so only time is lost.
    pub drop_rate: f64,
    /// `[min, max]`: before each operation a client waits a random time in
    /// this range (after the `rate` pacing).
    pub think_time_ms: [f64; 2],
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            strategy: Strategy::LeaderQuorum,
            latency_local_ms: 0.2,
            latency_region_ms: 2.0,
            latency_client_ms: 0.0,
            heartbeat_ms: 10.0,
            election_timeout_ms: 100.0,
            replication_interval_ms: 5.0,
            clock_skew_ms: 5.0,
            time_scale: 1.0,
            jitter_ms: 0.0,
            drop_rate: 0.0,
            think_time_ms: [0.0, 0.0],
        }
    }
}

/// Checks every field of the table; errors name the field (`sim.jitter_ms`).
pub fn validate(file: &str, s: &SimConfig) -> Result<(), WorkloadError> {
    let times = [
        ("sim.latency_local_ms", s.latency_local_ms),
        ("sim.latency_region_ms", s.latency_region_ms),
        ("sim.latency_client_ms", s.latency_client_ms),
        ("sim.heartbeat_ms", s.heartbeat_ms),
        ("sim.election_timeout_ms", s.election_timeout_ms),
        ("sim.replication_interval_ms", s.replication_interval_ms),
        ("sim.clock_skew_ms", s.clock_skew_ms),
        ("sim.time_scale", s.time_scale),
        ("sim.jitter_ms", s.jitter_ms),
        ("sim.think_time_ms", s.think_time_ms[0]),
        ("sim.think_time_ms", s.think_time_ms[1]),
    ];
    for (name, v) in times {
        if !v.is_finite() || !(0.0..=60_000.0).contains(&v) {
            return Err(invalid(
                file,
                name,
                format!("{v} is out of range (0 to 60000)"),
            ));
        }
    }
    for (name, v) in [
        ("sim.heartbeat_ms", s.heartbeat_ms),
        ("sim.election_timeout_ms", s.election_timeout_ms),
        ("sim.replication_interval_ms", s.replication_interval_ms),
    ] {
        if v < 0.1 {
            return Err(invalid(file, name, "must be at least 0.1 ms"));
        }
    }
    if s.think_time_ms[0] > s.think_time_ms[1] {
        return Err(invalid(
            file,
            "sim.think_time_ms",
            "give [min, max] with min <= max",
        ));
    }
    if !(0.0..=0.9).contains(&s.drop_rate) {
        return Err(invalid(
            file,
            "sim.drop_rate",
            format!("{} is out of range (0 to 0.9)", s.drop_rate),
        ));
    }
    if s.election_timeout_ms < 2.0 * s.heartbeat_ms {
        return Err(invalid(
            file,
            "sim.election_timeout_ms",
            "must be at least twice sim.heartbeat_ms",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::workload::parse;

    #[test]
    fn sim_unreliable_links_and_think_time_are_validated() {
        let base = "db = \"sim\"\nworkload = \"register\"\nrate = 10\n[sim]\n";
        let w = parse(
            &format!("{base}jitter_ms = 2\ndrop_rate = 0.1\nthink_time_ms = [1, 3.5]\n"),
            "w.toml",
            "w",
        )
        .unwrap();
        assert_eq!(
            (w.sim.jitter_ms, w.sim.drop_rate, w.sim.think_time_ms),
            (2.0, 0.1, [1.0, 3.5])
        );
        let d = parse(base, "w.toml", "w").unwrap();
        assert_eq!(
            (d.sim.jitter_ms, d.sim.drop_rate, d.sim.think_time_ms),
            (0.0, 0.0, [0.0, 0.0])
        );
        for (line, field) in [
            ("drop_rate = 0.95", "sim.drop_rate"),
            ("drop_rate = -0.1", "sim.drop_rate"),
            ("jitter_ms = -1", "sim.jitter_ms"),
            ("think_time_ms = [3, 1]", "sim.think_time_ms"),
            ("think_time_ms = [0, 70000]", "sim.think_time_ms"),
        ] {
            let e = parse(&format!("{base}{line}\n"), "w.toml", "w")
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("`{field}`")), "{line}: {e}");
        }
        let e = parse(&format!("{base}think_time_ms = 3\n"), "w.toml", "w")
            .unwrap_err()
            .to_string();
        assert!(e.contains("think_time_ms"), "{e}");
    }
}
