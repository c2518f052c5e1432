//! The stratbox backtest engine and the host/guest contract.
//!
//! One crate, compiled twice: into the wasm32-wasip2 guest component (the sandboxed path) and
//! into the host (the trusted `--engine native` path, tests and benches). Because both are the
//! same source, any difference between sandboxed and native rows is a sandbox bug, not a logic
//! drift, and the tests compare them byte for byte.
//!
//! Data flow inside a batch: [`protocol::BatchInput`] -> [`strategy::run_batch`] -> all
//! strategies advanced together through the bars by [`sim::sweep`] (trades in points) -> each
//! trade booked on one [`metrics::Account`] per lot size -> [`protocol::ResultRow`].

pub mod metrics;
pub mod mvt;
pub mod protocol;
pub mod sim;
pub mod strategy;

pub use mvt::Mvt;
pub use protocol::{BatchInput, BatchOutput, Columns, ColumnsRef, Costs, ResultRow, StrategyParams};
pub use sim::{ExitReason, Exits, Side, Trade, TradeLog};
pub use strategy::{
    Strategy, Stream, run_batch, run_batch_bytes, run_batch_bytes_in_place, run_batch_bytes_streamed,
};
