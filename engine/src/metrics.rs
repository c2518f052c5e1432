//! SPEC section 5: one result row from a trade log at one lot size.
//!
//! Money is computed left to right exactly as SPEC writes it
//! (`points * point_size * units - commission * lots`, sums over trades in time order), so an
//! independent implementation that follows SPEC agrees to the last bit.

use crate::protocol::{Costs, ResultRow};
use crate::sim::{ExitReason, TradeLog};

/// P&L in USD of `points` at `lots`, commission included.
#[inline]
pub fn trade_pnl(points: i64, lots: f64, costs: &Costs) -> f64 {
    let units = lots * costs.units_per_lot;
    points as f64 * costs.point_size * units - costs.commission_per_lot * lots
}

/// Replays `log` on an account of `costs.initial_balance` trading `lots`, stopping entries once
/// the balance reaches 0 or below (ruin), and returns the row's metrics.
pub fn summarise(strategy_id: u64, log: &TradeLog, lots: f64, costs: &Costs) -> ResultRow {
    let mut rows = Vec::with_capacity(1);
    summarise_lots(strategy_id, log, &[lots], costs, &mut rows);
    rows.pop().expect("one row per lot size")
}

/// One lot size's account while the trades are replayed.
struct Account {
    row: ResultRow,
    balance: f64,
    peak: f64,
    bars_held: u64,
}

/// [`summarise`] at every lot size of `lots`, rows appended in that order, in one pass over the
/// trades: each account does exactly the arithmetic [`summarise`] would, in the same order, so
/// the rows are bit-identical; only the walk over the trade list is shared.
pub fn summarise_lots(
    strategy_id: u64,
    log: &TradeLog,
    lots: &[f64],
    costs: &Costs,
    rows: &mut Vec<ResultRow>,
) {
    let mut accounts: Vec<Account> = lots
        .iter()
        .map(|&lots| Account {
            row: ResultRow {
                strategy_id,
                lots,
                n_trades: 0,
                n_wins: 0,
                n_losses: 0,
                n_sl: 0,
                n_tp: 0,
                n_time: 0,
                gross_profit_usd: 0.0,
                gross_loss_usd: 0.0,
                net_pnl_usd: 0.0,
                profit_factor: None,
                win_rate: None,
                expectancy_usd: None,
                max_drawdown_usd: 0.0,
                max_drawdown_pct: 0.0,
                return_pct: 0.0,
                avg_bars_held: None,
                ruined: false,
                open_at_end: false,
                open_pnl_usd: 0.0,
            },
            balance: costs.initial_balance,
            peak: costs.initial_balance,
            bars_held: 0,
        })
        .collect();
    let mut live = accounts.len();
    for trade in &log.trades {
        if live == 0 {
            break;
        }
        let held = (trade.exit_bar - trade.entry_bar) as u64;
        for a in accounts.iter_mut().filter(|a| !a.row.ruined) {
            let row = &mut a.row;
            let pnl = trade_pnl(trade.points, row.lots, costs);
            row.n_trades += 1;
            if pnl > 0.0 {
                row.n_wins += 1;
                row.gross_profit_usd += pnl;
            } else {
                row.n_losses += 1;
                row.gross_loss_usd += pnl;
            }
            match trade.reason {
                ExitReason::StopLoss => row.n_sl += 1,
                ExitReason::TakeProfit => row.n_tp += 1,
                ExitReason::Time => row.n_time += 1,
            }
            row.net_pnl_usd += pnl;
            a.bars_held += held;
            a.balance += pnl;
            if a.balance > a.peak {
                a.peak = a.balance;
            }
            let fall = a.peak - a.balance;
            if fall > row.max_drawdown_usd {
                row.max_drawdown_usd = fall;
                row.max_drawdown_pct = fall / a.peak * 100.0;
            }
            if a.balance <= 0.0 {
                row.ruined = true;
                live -= 1;
            }
        }
    }
    for Account {
        mut row, bars_held, ..
    } in accounts
    {
        if !row.ruined
            && let Some(open) = &log.open
        {
            row.open_at_end = true;
            row.open_pnl_usd = trade_pnl(open.points, row.lots, costs);
        }
        if row.n_trades > 0 {
            let n = row.n_trades as f64;
            row.win_rate = Some(row.n_wins as f64 / n);
            row.expectancy_usd = Some(row.net_pnl_usd / n);
            row.avg_bars_held = Some(bars_held as f64 / n);
            if row.gross_loss_usd != 0.0 {
                row.profit_factor = Some(row.gross_profit_usd / row.gross_loss_usd.abs());
            }
        }
        row.return_pct = row.net_pnl_usd / costs.initial_balance * 100.0;
        rows.push(row);
    }
}
