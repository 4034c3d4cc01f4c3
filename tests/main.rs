//! faultline's integration tests: one binary, one module per area.

mod cli;
mod cluster;
mod elle;
mod fixtures;
mod graph;
mod jepsen_checkers;
mod knossos;
mod linearizable;
mod readers;
mod report;
mod runner;
mod sim;
mod systems;
