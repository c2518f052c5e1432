//! stratbox: sandboxed forex strategy discovery.
//!
//! The data flow is one-way: [`data`] (load and validate bars) -> [`features`] -> [`grid`]
//! (strategies) -> [`run`] (plan, batches, scheduler, checkpoints) -> [`sandbox`] (one fresh
//! wasm instance per batch) -> rows -> [`results`] (one Parquet file, merges, the files beside
//! it). [`report`] reads results back for people; [`serve`] shows a run and its results in a
//! browser. Below them all: [`cache`] (the on-disk
//! caches), [`util`] (digests, time text, atomic writes), [`sys`] (process memory), and
//! [`Exit`], the command's exit codes.
//!
//! The crate root re-exports what a caller of one run needs; the modules hold the rest.

pub mod cache;
pub mod data;
pub mod exit;
pub mod features;
pub mod grid;
pub mod luck;
pub mod report;
pub mod results;
pub mod run;
pub mod sandbox;
pub mod serve;
pub mod sys;
pub mod util;

pub use exit::Exit;
pub use grid::Grid;
pub use run::{RunConfig, RunError, RunSummary, run, run_until};
pub use sandbox::{Limits, Sandbox};
