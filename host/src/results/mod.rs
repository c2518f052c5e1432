//! Results (SPEC section 5): one row per (strategy, lots), sorted by (strategy_id, lots), with
//! the run's provenance in the file's key-value metadata; the files beside them; and the merge
//! of part files.
//!
//! - `parquet`: rows to a Parquet file and back.
//! - [`merge`]: part files (workers, shards) into one results file, proven complete.
//! - [`sidecar`]: the failures file and the run log beside a results file.
//! - [`daily`]: the daily P&L file beside a results file (SPEC section 7).
//! - [`ratios`]: Sharpe and Sortino of a daily series.
//!
//! Files are written to a temporary name in the target directory and renamed into place, so a
//! reader (or a killed run) never sees half a file.

pub mod daily;
mod daily_encoding;
pub mod merge;
mod parquet;
pub mod ratios;
mod row_groups;
pub mod sidecar;

use std::path::PathBuf;

use crate::exit::Exit;

pub use merge::{Merged, merge};
pub use parquet::{read_parquet, sort_rows, to_frame, write_parquet};

/// Metadata keys written by stratbox.
pub mod keys {
    pub const VERSION: &str = "stratbox.version";
    pub const GRID: &str = "stratbox.grid";
    pub const DATA: &str = "stratbox.data";
    /// What `--repair` changed: `{"dropped": N, "moved": N, "changes": [...]}`.
    pub const REPAIRS: &str = "stratbox.repairs";
    pub const BARS: &str = "stratbox.bars";
    pub const SPAN: &str = "stratbox.span";
    pub const COMPONENT: &str = "stratbox.component";
    pub const COSTS: &str = "stratbox.costs";
    /// Present when the run used only part of the data (`discover --split`): `start/end` UTC.
    pub const WINDOW: &str = "stratbox.window";
    /// Present on shard files only: `K/N`.
    pub const SHARD: &str = "stratbox.shard";
    /// Present on part files only: the id range `start..end` the part covers.
    pub const RANGE: &str = "stratbox.range";
    /// On daily files: the calendar, a JSON list of ISO dates (SPEC section 7).
    pub const CALENDAR: &str = "stratbox.calendar";
}

/// Why results could not be written, read or merged.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write Parquet {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read results {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{0}")]
    Merge(String),
}

impl ResultsError {
    /// Files that cannot be read or merged are the user's to fix; failing to write is stratbox's.
    pub fn exit(&self) -> Exit {
        match self {
            ResultsError::Read { .. } | ResultsError::Merge(_) => Exit::BadInput,
            ResultsError::Io { .. } | ResultsError::Write { .. } => Exit::Failure,
        }
    }
}

/// The metric columns, in SPEC order, after `strategy_id`, the parameters and `lots`. SPEC
/// section 7 adds `sharpe` and `sortino` to section 5 without a place, so they come last.
pub const METRIC_COLUMNS: &[&str] = &[
    "n_trades",
    "n_wins",
    "n_losses",
    "n_sl",
    "n_tp",
    "n_time",
    "gross_profit_usd",
    "gross_loss_usd",
    "net_pnl_usd",
    "profit_factor",
    "win_rate",
    "expectancy_usd",
    "max_drawdown_usd",
    "max_drawdown_pct",
    "return_pct",
    "avg_bars_held",
    "ruined",
    "open_at_end",
    "open_pnl_usd",
    "sharpe",
    "sortino",
];
