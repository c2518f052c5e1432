//! Flag groups several commands share, each declared once and validated once: how to read data,
//! which data, cost overrides, the grid, and how to rank.

use std::path::{Path, PathBuf};

use clap::Args;
use clap::builder::PossibleValuesParser;
use stratbox::data::{self, Bars, Format, LoadOptions, LoadReport, TzSpec};
use stratbox::grid::Grid;
use stratbox::report::rank::{Metric, Ranking, metric_names};
use stratbox::run::data_inputs;

use super::error::{Error, usage};

/// How to read data files: the flags every command that reads data shares (`--repair` too,
/// but its wording differs per command, so each declares it).
#[derive(Debug, Clone, Args)]
pub struct ReadFlags {
    /// Force the data format instead of sniffing it (histdata, mt4, mt5, dukascopy, csv, parquet).
    #[arg(long)]
    pub format: Option<String>,
    /// Time zone of formats without one (MetaTrader broker time): an IANA name or +HH:MM.
    #[arg(long)]
    pub tz: Option<String>,
    /// Decimal digits of the quotes (default: from the symbol in the file name, else 5).
    #[arg(long)]
    pub digits: Option<u32>,
}

impl ReadFlags {
    /// These flags and `--repair` as load options, with errors that name the flag (no cache:
    /// commands that want one set it).
    pub fn load_options(&self, repair: bool) -> Result<LoadOptions, Error> {
        Ok(LoadOptions {
            format: self
                .format
                .as_deref()
                .map(|f| {
                    f.parse::<Format>()
                        .map_err(|e| usage(format!("--format {f}: {e}")))
                })
                .transpose()?,
            tz: self
                .tz
                .as_deref()
                .map(|t| t.parse::<TzSpec>().map_err(|e| usage(format!("--tz {t}: {e}"))))
                .transpose()?,
            digits: self.digits,
            repair,
            cache_dir: None,
        })
    }
}

/// Which data, and how to read it: `discover`'s and `batch`'s flags, and the replays' (`report`,
/// `trades`), which must name the run's data the way the run did.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Data files (one series, joined in time order). Default: the bundled 2018 EURUSD M1 year.
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadFlags,
    /// Drop duplicated bars (keeping the first) and sort, instead of refusing the data.
    #[arg(long)]
    pub repair: bool,
}

impl DataArgs {
    /// Loads the bars; `Err` is the message for the user.
    pub fn load(&self) -> Result<(Bars, LoadReport), String> {
        let opts = self.read.load_options(self.repair).map_err(|e| e.to_string())?;
        data::load(&data_inputs(&self.data), &opts).map_err(|e| e.to_string())
    }
}

/// Costs that override the grid's.
#[derive(Debug, Clone, Args)]
pub struct CostFlags {
    /// Spread in points (overrides the grid's costs).
    #[arg(long)]
    pub spread: Option<i64>,
    /// Commission in USD per lot per round turn (overrides the grid's costs).
    #[arg(long)]
    pub commission: Option<f64>,
}

impl CostFlags {
    /// Puts the overrides into `grid`, refusing negative or non-finite costs.
    pub fn apply(&self, grid: &mut Grid) -> Result<(), Error> {
        if let Some(spread) = self.spread {
            if spread < 0 {
                return Err(usage(format!("--spread {spread}: must be >= 0 points")));
            }
            grid.costs.spread_points = spread;
        }
        if let Some(c) = self.commission {
            if !(c >= 0.0 && c.is_finite()) {
                return Err(usage(format!("--commission {c}: must be >= 0")));
            }
            grid.costs.commission_per_lot = c;
        }
        Ok(())
    }
}

/// The grid of `--grid FILE`, or the bundled default grid.
pub fn load_grid(path: Option<&Path>) -> Result<Grid, Error> {
    match path {
        Some(p) => Ok(Grid::from_file(p)?),
        None => Ok(Grid::default_grid()),
    }
}

/// Ranking of the summary's top strategies.
#[derive(Debug, Clone, Args)]
pub struct RankArgs {
    /// Metric that ranks strategies in the summary and the report.
    #[arg(long, default_value = "net_pnl_usd", value_parser = PossibleValuesParser::new(metric_names()))]
    pub rank_by: String,
    /// Only strategies with at least this many trades are ranked.
    #[arg(long, default_value_t = 30)]
    pub min_trades: u32,
    /// How many strategies the summary lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Lot size whose rows are ranked (money metrics scale with it). Default: 0.1 if the run
    /// has it, else its smallest.
    #[arg(long)]
    pub rank_lots: Option<f64>,
}

impl RankArgs {
    pub fn ranking(&self) -> Ranking {
        Ranking {
            metric: self
                .rank_by
                .parse::<Metric>()
                .expect("clap accepts only known metrics"),
            min_trades: self.min_trades,
            lots: self.rank_lots,
        }
    }
}

/// A walk-forward (SPEC section 7): re-pick the best strategy every TEST months from the TRAIN
/// months before, and trade it blind.
#[derive(Debug, Clone, Args)]
pub struct WalkForwardArgs {
    /// Walk-forward of TRAIN:TEST whole calendar months (e.g. 6:1), written to
    /// `<stem>.walkforward.csv` beside the results.
    #[arg(long, value_name = "TRAIN:TEST")]
    pub walk_forward: Option<stratbox::luck::Windows>,
    /// Trades a strategy must close in a train window to be picked.
    #[arg(long, default_value_t = 10)]
    pub wf_min_trades: u32,
}
