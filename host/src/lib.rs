//! stratbox: sandboxed forex strategy discovery.
//!
//! The data flow is one-way: [`data`] (load and validate bars) -> [`features`] -> [`grid`]
//! (strategies) -> [`scheduler`] (batches) -> [`sandbox`] (one fresh wasm instance per batch)
//! -> rows -> [`results`] (one Parquet file). [`run`] strings them together for one run;
//! [`merge`] joins the part files of several runs.

pub mod checkpoint;
pub mod component;
pub mod data;
pub mod features;
pub mod grid;
pub mod image;
pub mod merge;
pub mod progress;
pub mod report;
pub mod results;
pub mod run;
pub mod sandbox;
pub mod scheduler;
pub mod sys;
