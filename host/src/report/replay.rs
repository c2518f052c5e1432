//! One strategy's trades, replayed natively under the run's own rules.
//!
//! A results row says what a strategy did in total; people want to see the trades. The native
//! engine is the same source as the sandboxed one, so replaying a built-in MVT strategy gives
//! the very trades behind its row, provided everything else is the run's: the grid, the costs
//! (after any overrides, so they come from the metadata, not the grid text), the data (checked
//! by SHA-256) and the bar window of a split run. [`Replayer::from_results`] checks all of it;
//! anything it cannot vouch for is refused with the reason rather than replayed wrongly.
//!
//! Trades are in points and independent of the lot size; the account at a lot size takes them
//! in order and stops after the one that ruins it, exactly as `metrics::summarise` counts.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use stratbox_engine::metrics::{summarise, trade_pnl};
use stratbox_engine::strategy::replay;
use stratbox_engine::{Columns, Costs, Mvt, ResultRow, Strategy, TradeLog};

use crate::data::{Bars, LoadReport, format_points};
use crate::features::owned_columns;
use crate::grid::Grid;
use crate::results;
use crate::run::is_builtin_family;
use crate::util::fs::write_bytes_atomic;
use crate::util::time::iso_utc;

use super::ReportError;
use super::table::ResultsTable;

/// One trade the account took.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountTrade {
    /// 1-based, in time order.
    pub number: usize,
    pub side: &'static str,
    /// Bar indices into the replayed series (the window's bars for a split run).
    pub entry_bar: usize,
    pub exit_bar: usize,
    /// UTC seconds.
    pub entry_time: i64,
    pub exit_time: i64,
    pub entry_points: i64,
    pub exit_points: i64,
    /// Profit in points (`exit - entry` long, `entry - exit` short).
    pub points: i64,
    /// `sl`, `tp` or `time`.
    pub reason: &'static str,
    /// Trade P&L in USD, commission included.
    pub pnl_usd: f64,
    /// Account balance after the trade.
    pub balance_usd: f64,
}

/// A position still open when the data ends (not a trade: SPEC section 4).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenMark {
    pub side: &'static str,
    pub entry_time: i64,
    pub entry_points: i64,
    pub mark_points: i64,
    pub pnl_usd: f64,
}

/// What the account did at one lot size.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountTrades {
    pub lots: f64,
    pub initial_balance: f64,
    pub trades: Vec<AccountTrade>,
    pub ruined: bool,
    pub open: Option<OpenMark>,
}

/// The trades of `log` that an account trading `lots` takes, with its balance after each.
pub fn account(log: &TradeLog, time: &[i64], lots: f64, costs: &Costs) -> AccountTrades {
    let mut balance = costs.initial_balance;
    let mut trades = Vec::new();
    let mut ruined = false;
    for (k, t) in log.trades.iter().enumerate() {
        let pnl = trade_pnl(t.points, lots, costs);
        balance += pnl;
        trades.push(AccountTrade {
            number: k + 1,
            side: t.side.as_str(),
            entry_bar: t.entry_bar,
            exit_bar: t.exit_bar,
            entry_time: time[t.entry_bar],
            exit_time: time[t.exit_bar],
            entry_points: t.entry_price,
            exit_points: t.exit_price,
            points: t.points,
            reason: t.reason.as_str(),
            pnl_usd: pnl,
            balance_usd: balance,
        });
        if balance <= 0.0 {
            ruined = true;
            break;
        }
    }
    let open = match (&log.open, ruined) {
        (Some(o), false) => Some(OpenMark {
            side: o.side.as_str(),
            entry_time: time[o.entry_bar],
            entry_points: o.entry_price,
            mark_points: o.mark_price,
            pnl_usd: trade_pnl(o.points, lots, costs),
        }),
        _ => None,
    };
    AccountTrades {
        lots,
        initial_balance: costs.initial_balance,
        trades,
        ruined,
        open,
    }
}

/// Everything needed to replay strategies of one run natively.
#[derive(Debug, Clone)]
pub struct Replayer {
    pub grid: Grid,
    pub costs: Costs,
    pub digits: u32,
    pub columns: Columns,
    /// Where each of the MVT parameters sits in the grid's values.
    order: Vec<usize>,
}

fn mvt_params() -> Vec<String> {
    Mvt::PARAMS.iter().map(|s| s.to_string()).collect()
}

impl Replayer {
    /// A replayer for strategies of `grid` on `bars`, costs from the grid (after overrides).
    pub fn from_grid(grid: Grid, bars: &Bars) -> Result<Replayer, String> {
        if let Some(family) = &grid.strategy
            && family != Mvt::NAME
        {
            return Err(format!(
                "the grid {} is written for strategy {family:?}; only the built-in {} family can be replayed natively",
                grid.name,
                Mvt::NAME
            ));
        }
        let order = grid.match_params(&mvt_params())?;
        let costs = grid.engine_costs(bars.digits);
        Ok(Replayer {
            columns: owned_columns(bars, &grid.windows),
            digits: bars.digits,
            grid,
            costs,
            order,
        })
    }

    /// A replayer for the run behind `table`, on `bars` as loaded (with `loaded` describing the
    /// files): refuses another strategy family, other data, or other quote digits.
    pub fn from_results(table: &ResultsTable, bars: &Bars, loaded: &LoadReport) -> Result<Replayer, String> {
        let component = table.component()?;
        if !is_builtin_family(&component.name, &component.params) {
            return Err(format!(
                "the results come from the component {:?} (parameters {:?}); only the built-in {} family can be replayed natively",
                component.name,
                component.params,
                Mvt::NAME
            ));
        }
        check_data(&table.data_files()?, loaded)?;
        let meta = table.costs()?;
        if meta.digits != bars.digits {
            return Err(format!(
                "the run read the quotes with {} digits, these bars have {} (pass --digits {})",
                meta.digits, bars.digits, meta.digits
            ));
        }
        let grid = table.grid()?;
        let order = grid.match_params(&mvt_params())?;
        let bars = match table.window()? {
            Some(w) => bars.window(&w),
            None => bars.clone(),
        };
        Ok(Replayer {
            columns: owned_columns(&bars, &grid.windows),
            digits: bars.digits,
            grid,
            costs: meta.engine(),
            order,
        })
    }

    /// The strategy `id` of the grid as an MVT strategy.
    pub fn strategy(&self, id: u64) -> Result<Mvt, String> {
        if id >= self.grid.size() {
            return Err(format!(
                "strategy id {id} is outside the grid {} (ids 0..{})",
                self.grid.name,
                self.grid.size()
            ));
        }
        let v = self.grid.values(id);
        let values: Vec<f64> = self.order.iter().map(|&p| v[p]).collect();
        Mvt::from_params(&values, self.costs.pip_points).map_err(|e| format!("strategy {id}: {e}"))
    }

    /// Strategy `id`'s trade log in points.
    pub fn log(&self, id: u64) -> Result<TradeLog, String> {
        let mvt = self.strategy(id)?;
        Ok(replay(&self.columns.view(), &mvt, self.costs.spread_points))
    }

    /// Strategy `id`'s trades at `lots`, and the results row they sum to.
    pub fn trades(&self, id: u64, lots: f64) -> Result<(AccountTrades, ResultRow), String> {
        let log = self.log(id)?;
        Ok((
            account(&log, &self.columns.time, lots, &self.costs),
            summarise(id, &log, lots, &self.costs, &self.columns.time),
        ))
    }

    /// The parameters of `id` as `name=value` text, for file metadata and messages.
    pub fn describe(&self, id: u64) -> String {
        let v = self.grid.values(id);
        self.grid
            .param_names()
            .iter()
            .enumerate()
            .map(|(p, n)| format!("{n}={}", self.grid.format_value(p, v[p])))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The loaded files must be the run's, in the run's order, byte for byte (SHA-256).
pub fn check_data(recorded: &[super::table::DataFile], loaded: &LoadReport) -> Result<(), String> {
    let name = |f: &super::table::DataFile| f.file.clone().unwrap_or_else(|| "?".into());
    let ours: Vec<&str> = loaded.files.iter().map(|f| f.sha256.as_str()).collect();
    let theirs: Vec<&str> = recorded.iter().map(|f| f.sha256.as_str()).collect();
    if ours != theirs {
        let want: Vec<String> = recorded
            .iter()
            .map(|f| format!("{} (sha256 {})", name(f), &f.sha256[..f.sha256.len().min(12)]))
            .collect();
        let got: Vec<String> = loaded
            .files
            .iter()
            .map(|f| {
                format!(
                    "{} (sha256 {})",
                    f.path.display(),
                    &f.sha256[..f.sha256.len().min(12)]
                )
            })
            .collect();
        return Err(format!(
            "the data differs from the run's: the run read {}, this is {} (pass the run's files with --data)",
            want.join(", "),
            got.join(", ")
        ));
    }
    Ok(())
}

const CSV_HEADER: &str = "trade,side,entry_time_utc,exit_time_utc,entry_bar,exit_bar,entry_price,exit_price,points,reason,pnl_usd,balance_usd";

/// The trade list as CSV text: UTC times in ISO 8601, prices as quoted (`digits` decimals),
/// money as the shortest text that reads back to the same f64.
pub fn trades_csv(trades: &AccountTrades, digits: u32) -> String {
    let mut out = String::with_capacity(100 * (trades.trades.len() + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for t in &trades.trades {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            t.number,
            t.side,
            iso_utc(t.entry_time),
            iso_utc(t.exit_time),
            t.entry_bar,
            t.exit_bar,
            format_points(t.entry_points, digits),
            format_points(t.exit_points, digits),
            t.points,
            t.reason,
            t.pnl_usd,
            t.balance_usd
        ));
    }
    out
}

fn trades_frame(trades: &AccountTrades, digits: u32) -> Result<DataFrame, PolarsError> {
    let t = &trades.trades;
    let scale = 10f64.powi(digits as i32);
    let time = |name: &str, f: &dyn Fn(&AccountTrade) -> i64| {
        Column::from(
            Series::new(name.into(), t.iter().map(|x| f(x) * 1000).collect::<Vec<i64>>())
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)),
        )
    };
    let columns = vec![
        Column::new(
            "trade".into(),
            t.iter().map(|x| x.number as i64).collect::<Vec<_>>(),
        ),
        Column::new("side".into(), t.iter().map(|x| x.side).collect::<Vec<_>>()),
        time("entry_time_utc", &|x| x.entry_time),
        time("exit_time_utc", &|x| x.exit_time),
        Column::new(
            "entry_bar".into(),
            t.iter().map(|x| x.entry_bar as i64).collect::<Vec<_>>(),
        ),
        Column::new(
            "exit_bar".into(),
            t.iter().map(|x| x.exit_bar as i64).collect::<Vec<_>>(),
        ),
        Column::new(
            "entry_price".into(),
            t.iter()
                .map(|x| x.entry_points as f64 / scale)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "exit_price".into(),
            t.iter().map(|x| x.exit_points as f64 / scale).collect::<Vec<_>>(),
        ),
        Column::new("points".into(), t.iter().map(|x| x.points).collect::<Vec<_>>()),
        Column::new("reason".into(), t.iter().map(|x| x.reason).collect::<Vec<_>>()),
        Column::new("pnl_usd".into(), t.iter().map(|x| x.pnl_usd).collect::<Vec<_>>()),
        Column::new(
            "balance_usd".into(),
            t.iter().map(|x| x.balance_usd).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(t.len(), columns)
}

/// Writes the trade list to `path`: Parquet for a `.parquet` name, else CSV. `about` goes into
/// the Parquet key-value metadata (strategy, parameters, lots).
pub fn write_trades(
    path: &Path,
    trades: &AccountTrades,
    digits: u32,
    about: &BTreeMap<String, String>,
) -> Result<(), ReportError> {
    let parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    let out = |e: results::ResultsError| ReportError::Output(e.to_string());
    if parquet {
        let mut df = trades_frame(trades, digits)
            .map_err(|e| ReportError::Output(format!("cannot build the trade table: {e}")))?;
        results::write_parquet(path, &mut df, about).map_err(out)
    } else {
        let text = trades_csv(trades, digits);
        write_bytes_atomic(path, text.as_bytes())
            .map_err(|e| ReportError::Output(format!("cannot write {}: {e}", path.display())))
    }
}
