//! Is it luck? SPEC section 7 from a results file and its daily file: how many trials, the
//! deflated Sharpe ratio of the top 10, the probability of backtest overfitting, the SPA
//! reality check, and a Monte Carlo of the top strategy's trade order.
//!
//! - `trials`: the ranked strategies' daily P&L, sparse.
//! - `normal`: Phi and its inverse.
//! - `dsr`: the deflated Sharpe ratio.
//! - `pbo`: CSCV over the 12,870 splits, from block sums.
//! - `spa`: Hansen's SPA p-value, stationary bootstrap, by chunks of trials.
//! - `simd`: the inner loops compiled for AVX too, same bits.
//! - `montecarlo`: the top strategy's trades reshuffled.
//! - `walkforward`: folds of train and test months, the stitched out-of-sample P&L.

pub mod dsr;
pub mod montecarlo;
pub mod normal;
pub mod pbo;
mod simd;
pub mod spa;
pub mod trials;
pub mod walkforward;

use std::path::{Path, PathBuf};

use crate::exit::Exit;
use crate::report::rank::{Ranking, choose_lots, ranked_rows};
use crate::report::table::ResultsTable;
use crate::results::daily::{Daily, daily_path, read_daily};
use crate::results::{ResultsError, keys};

pub use montecarlo::Bands;
pub use pbo::Pbo;
pub use trials::Trials;
pub use walkforward::{WalkForward, Windows};

/// Days CSCV needs at least: 16 blocks of 2 days.
pub const MIN_DAYS: usize = 2 * pbo::BLOCKS;

/// How many of the ranking get a DSR.
pub const TOP: usize = 10;

/// Why `luck` cannot answer. Each knows its exit code.
#[derive(Debug, thiserror::Error)]
pub enum LuckError {
    #[error(
        "{results} has no daily P&L file {daily}: run discover again with this version of stratbox (components built before protocol 4 do not book daily P&L)"
    )]
    NoDaily { results: PathBuf, daily: PathBuf },
    #[error("{daily} covers {days} days; the luck statistics need at least {MIN_DAYS} (16 blocks of 2 days)")]
    TooFewDays { daily: PathBuf, days: usize },
    #[error(
        "{results} has {trials} ranked strategies at {lots} lots with at least {min_trades} trades; the luck statistics need at least 2"
    )]
    TooFewTrials {
        results: PathBuf,
        trials: usize,
        lots: f64,
        min_trades: u32,
    },
    #[error(
        "--walk-forward {train}:{test} needs {need} whole months, but {daily} has {months} (from its first whole month to its last bar)",
        train = windows.train, test = windows.test, need = windows.train + windows.test
    )]
    WindowsTooLong {
        daily: PathBuf,
        windows: Windows,
        months: i32,
    },
    #[error("{daily} does not belong to {results}: their {key} metadata differ")]
    Mismatch {
        results: PathBuf,
        daily: PathBuf,
        key: String,
    },
    #[error("{path}: {message}")]
    Bad { path: PathBuf, message: String },
    #[error(transparent)]
    Results(#[from] ResultsError),
}

impl LuckError {
    pub fn exit(&self) -> Exit {
        match self {
            LuckError::Results(e) => e.exit(),
            _ => Exit::BadInput,
        }
    }
}

/// The DSR of one ranked strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct Deflated {
    pub strategy_id: u64,
    pub lots: f64,
    /// Annualised Sharpe (`sqrt(252)` times the per-day one).
    pub sharpe: f64,
    pub dsr: f64,
}

/// Everything `luck` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Luck {
    pub trials: usize,
    pub days: usize,
    pub pbo: Pbo,
    pub spa_pvalue: f64,
    pub dsr: Vec<Deflated>,
    /// The Monte Carlo of the top strategy's trades, when they could be replayed.
    pub montecarlo: Vec<Bands>,
}

impl Luck {
    /// Whether the best strategy stands out from luck: DSR >= 0.95 and SPA p < 0.05.
    pub fn stands_out(&self) -> bool {
        self.dsr.first().is_some_and(|d| d.dsr >= 0.95) && self.spa_pvalue < 0.05
    }

    /// SPEC section 7's JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "trials": self.trials,
            "days": self.days,
            "pbo": self.pbo.pbo,
            "pbo_median_lambda": self.pbo.median_lambda,
            "pbo_oos_loss": self.pbo.oos_loss,
            "spa_pvalue": self.spa_pvalue,
            "dsr": self.dsr.iter().map(|d| serde_json::json!({
                "strategy_id": d.strategy_id,
                "lots": d.lots,
                "sharpe": d.sharpe,
                "dsr": d.dsr,
            })).collect::<Vec<_>>(),
        })
    }

    /// The one line the summary after `discover` gives.
    pub fn verdict(&self) -> String {
        let best = self.dsr.first();
        let dsr = best.map_or(0.0, |d| d.dsr);
        if self.stands_out() {
            format!(
                "Is it luck? The best strategy stands out from luck (deflated Sharpe {dsr:.2} >= 0.95, reality-check p {:.3} < 0.05); overfitting probability (PBO) {:.0} %.",
                self.spa_pvalue,
                self.pbo.pbo * 100.0
            )
        } else {
            format!(
                "Is it luck? The best strategy does not stand out from luck: deflated Sharpe {dsr:.2} (needs 0.95), reality-check p {:.3} (needs < 0.05); overfitting probability (PBO) {:.0} % over {} trials.",
                self.spa_pvalue,
                self.pbo.pbo * 100.0,
                self.trials
            )
        }
    }

    /// The text `stratbox luck` prints.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        s += &format!(
            "{} strategies tried (trials) over {} days with bars.\n\n",
            self.trials, self.days
        );
        s += &format!(
            "Probability of backtest overfitting (PBO): {:.1} %. In {:.1} % of the 12,870 ways of splitting the days in two halves, the best strategy of one half ranked in the lower half of the other (median logit {:.3}); it lost money in the other half in {:.1} % of them.\n",
            self.pbo.pbo * 100.0,
            self.pbo.pbo * 100.0,
            self.pbo.median_lambda,
            self.pbo.oos_loss * 100.0
        );
        s += &format!(
            "Reality check (Hansen's SPA, consistent p-value): {:.3}. That is the chance that the best of {} strategies that on average make nothing looks at least this good; below 0.05 the best is better than luck.\n\n",
            self.spa_pvalue, self.trials
        );
        s += "Deflated Sharpe ratio of the top strategies: the probability that the true Sharpe is above what the best of this many lucky trials would show (0.95 or more is significant).\n";
        s += "  rank  strategy_id   lots  sharpe (annual)     DSR\n";
        for (i, d) in self.dsr.iter().enumerate() {
            s += &format!(
                "  {:>4}  {:>11}  {:>5}  {:>15.3}  {:>6.4}{}\n",
                i + 1,
                d.strategy_id,
                d.lots,
                d.sharpe,
                d.dsr,
                if d.dsr >= 0.95 { "  significant" } else { "" }
            );
        }
        if !self.montecarlo.is_empty() {
            s += &format!(
                "\nMonte Carlo: strategy {}'s trades in {} random orders. Largest drawdown (USD) in 5 % / 50 % / 95 % of them, and how often the account was ruined:\n",
                self.dsr.first().map_or(0, |d| d.strategy_id),
                montecarlo::RESHUFFLES
            );
            for b in &self.montecarlo {
                s += &format!(
                    "  {:>5} lots, {} trades: {:.2} / {:.2} / {:.2} (in the real order {:.2}); ruined in {:.1} %\n",
                    b.lots,
                    b.trades,
                    b.max_drawdown_usd[0],
                    b.max_drawdown_usd[1],
                    b.max_drawdown_usd[2],
                    b.actual_max_drawdown_usd,
                    b.ruined * 100.0
                );
            }
        }
        s += &format!("\n{}\n", self.verdict());
        s
    }
}

/// A results file and its daily file, checked to belong together.
pub fn open(results: &Path) -> Result<(ResultsTable, Daily), LuckError> {
    let table = ResultsTable::read(results).map_err(|e| LuckError::Bad {
        path: results.to_owned(),
        message: e.to_string(),
    })?;
    let daily = daily_of(&table)?;
    Ok((table, daily))
}

/// The daily file of a results table already read, checked to belong to it and to cover
/// enough days.
pub fn daily_of(table: &ResultsTable) -> Result<Daily, LuckError> {
    let results = &table.path;
    let daily_file = daily_path(results);
    if !daily_file.exists() {
        return Err(LuckError::NoDaily {
            results: results.to_owned(),
            daily: daily_file,
        });
    }
    let daily = read_daily(&daily_file)?;
    for key in [keys::GRID, keys::DATA, keys::COMPONENT, keys::COSTS, keys::WINDOW] {
        if table.metadata.get(key) != daily.metadata.get(key) {
            return Err(LuckError::Mismatch {
                results: results.to_owned(),
                daily: daily_file,
                key: key.to_string(),
            });
        }
    }
    if daily.calendar.len() < MIN_DAYS {
        return Err(LuckError::TooFewDays {
            daily: daily_file,
            days: daily.calendar.len(),
        });
    }
    Ok(daily)
}

/// The trials of SPEC section 7 and the top of the ranking (rows of `table`).
pub fn trials(
    table: &ResultsTable,
    daily: &Daily,
    ranking: &Ranking,
) -> Result<(Trials, Vec<usize>), LuckError> {
    let bad = |message: String| LuckError::Bad {
        path: table.path.clone(),
        message,
    };
    let lots = choose_lots(table, ranking.lots).map_err(bad)?;
    let ranked = ranked_rows(table, ranking.metric, ranking.min_trades, lots);
    let mut ids: Vec<u64> = table
        .rows_at(lots)
        .into_iter()
        .filter(|&r| table.n_trades(r) >= ranking.min_trades)
        .map(|r| table.strategy_id[r])
        .collect();
    ids.sort_unstable();
    if ids.len() < 2 {
        return Err(LuckError::TooFewTrials {
            results: table.path.clone(),
            trials: ids.len(),
            lots,
            min_trades: ranking.min_trades,
        });
    }
    let trials = Trials::from_daily(ids, lots, daily)?;
    Ok((trials, ranked))
}

/// Threads the statistics use.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// DSR, PBO and SPA of `trials`, the DSR for the strategies `top` (ids, in rank order).
pub fn analyse(trials: &Trials, top: &[u64], settings: &spa::SpaSettings) -> Luck {
    let n = trials.len();
    let t = trials.days();
    let sharpes: Vec<f64> = (0..n).map(|k| trials.sharpe(k)).collect();
    let sr0 = dsr::expected_max_sharpe(dsr::variance(&sharpes), n);
    let deflated = top
        .iter()
        .filter_map(|id| trials.ids.binary_search(id).ok())
        .take(TOP)
        .map(|k| {
            let (g3, g4) = trials.moments(k);
            Deflated {
                strategy_id: trials.ids[k],
                lots: trials.lots,
                sharpe: sharpes[k] * crate::results::ratios::DAYS_PER_YEAR.sqrt(),
                dsr: dsr::deflated_sharpe(sharpes[k], g3, g4, t, sr0),
            }
        })
        .collect();
    let threads = threads();
    Luck {
        trials: n,
        days: t,
        pbo: pbo::pbo(trials, threads),
        spa_pvalue: spa::spa_pvalue(trials, settings, threads),
        dsr: deflated,
        montecarlo: Vec::new(),
    }
}

/// The Monte Carlo bands of strategy `id`'s trades at each of `lot_sizes`, replayed natively.
pub fn monte_carlo(
    replayer: &crate::report::replay::Replayer,
    id: u64,
    lot_sizes: &[f64],
) -> Result<Vec<Bands>, String> {
    let log = replayer.log(id)?;
    let costs = &replayer.costs;
    Ok(lot_sizes
        .iter()
        .map(|&lots| {
            let pnl: Vec<f64> = log
                .trades
                .iter()
                .map(|t| stratbox_engine::metrics::trade_pnl(t.points, lots, costs))
                .collect();
            montecarlo::bands(&pnl, lots, costs.initial_balance)
        })
        .collect())
}

/// The walk-forward of every strategy at `lots` in `daily`.
pub fn walk_forward(
    daily: &Daily,
    lots: f64,
    windows: Windows,
    min_trades: u32,
) -> Result<WalkForward, LuckError> {
    let series = walkforward::series_from_daily(daily, lots)?;
    walkforward::walk_forward(&daily.calendar.days, &series, windows, min_trades).map_err(|e| {
        LuckError::WindowsTooLong {
            daily: daily.path.clone(),
            windows: e.windows,
            months: e.months,
        }
    })
}
