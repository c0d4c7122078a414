//! The `kairos` binary: serve, demo, workspace, bench.

pub mod bench;
pub mod bench_flows;
pub mod bench_render;
pub mod bench_segments;
pub mod bench_send;
pub mod cli;
pub mod client;
pub mod config;
pub mod demo;
pub mod sample;
pub mod secrets;
pub mod serve;
