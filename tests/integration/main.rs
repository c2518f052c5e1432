//! stratbox's integration tests: one binary, helpers in `common`.
//!
//! Tests read the real data in `../shared` (beside the clone, as in CI) and the bundled year.

mod common;

mod batching;
mod broken;
mod cli;
mod contributed;
mod data;
mod golden;
mod hostile;
mod long_series;
mod luck;
mod report;
mod resume;
mod sandbox_vs_native;
mod serve;
mod trapping_guest;
