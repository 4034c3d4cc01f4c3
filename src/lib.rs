//! faultline: a Jepsen-style consistency checker.
//!
//! The crate is split along Jepsen's protocols, each module with one job:
//!
//! - [`history`]: operations, histories, pairing invocations with their
//!   completions, and the readers for JSONL, Jepsen/Knossos/Elle EDN,
//!   Jepsen logs and Porcupine logs.
//! - [`model`]: small, pure sequential specifications (register, cas-register,
//!   mutex, set, queue, kv...).
//! - [`checker`]: the [`checker::Checker`] trait, verdicts, and every checker
//!   (linearizability search, graph checkers, Elle-style transactional).
//! - [`report`]: text, JSON and JUnit renderings of verdicts, and the HTML
//!   report of a history.
//! - [`serve`]: the web server over a runs directory.
//! - [`systems`]: one folder per system under test (client, automation,
//!   faults), registered in one table.
//!
//! The binary (`src/main.rs`) is a thin front over [`cli`].

pub mod allocator;
pub mod checker;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod control;
pub mod db;
pub mod generator;
pub mod history;
pub mod model;
pub mod nemesis;
pub mod net;
pub mod report;
pub mod runner;
pub mod serve;
pub mod shrink;
pub mod systems;
pub mod workload;
