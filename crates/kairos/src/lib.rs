//! The `kairos` binary: serve, demo, workspace, user, import, bench (the benchmarks live in `kairos-bench`, the sample
//! store in `kairos-sample`).

pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
mod demo_content;
mod demo_history;
pub mod import;
pub mod migrate;
pub mod secrets;
pub mod serve;
