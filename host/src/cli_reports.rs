//! CLI glue for reading results: the summary after `discover`, `stratbox report`, `stratbox
//! trades`, and `discover --split`. (Being written: see issue 7.)

use clap::Args;
use std::path::PathBuf;

use stratbox::run::{RunConfig, RunSummary};

use crate::Failure;

/// Ranking of the summary's top strategies.
#[derive(Debug, Clone, Args)]
pub struct RankArgs {
    /// Metric that ranks strategies in the summary and the report.
    #[arg(long, default_value = "net_pnl_usd")]
    pub rank_by: String,
    /// Only strategies with at least this many trades are ranked.
    #[arg(long, default_value_t = 30)]
    pub min_trades: u32,
    /// How many strategies the summary lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A results file written by `discover`.
    pub results: PathBuf,
    /// The HTML file to write (default: next to the results, `.html`).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub ranking: RankArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TradesArgs {
    /// Strategy id in the grid.
    #[arg(long)]
    pub id: u64,
    /// Lot size of the balance column.
    #[arg(long, default_value_t = 0.1)]
    pub lots: f64,
    /// Trade list to write: `.csv` or `.parquet`.
    #[arg(long, short)]
    pub output: PathBuf,
    #[command(flatten)]
    pub run: crate::args::RunArgs,
}

/// Printed after a successful `discover`.
pub fn after_discover(_cfg: &RunConfig, _summary: &RunSummary, _ranking: &RankArgs) -> Result<(), Failure> {
    Ok(())
}

pub fn report(_args: ReportArgs) -> Result<u8, Failure> {
    Err(Failure::bad_input("stratbox report is not built yet"))
}

pub fn trades(_args: TradesArgs) -> Result<u8, Failure> {
    Err(Failure::bad_input("stratbox trades is not built yet"))
}

/// `discover --split DATE`.
pub fn discover_split(_cfg: RunConfig, _split: &str, _ranking: &RankArgs, _quiet: bool) -> Result<u8, Failure> {
    Err(Failure::bad_input("discover --split is not built yet"))
}
