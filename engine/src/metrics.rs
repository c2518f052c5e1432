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
    let mut row = ResultRow {
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
    };
    let mut balance = costs.initial_balance;
    let mut peak = costs.initial_balance;
    let mut bars_held: u64 = 0;
    for trade in &log.trades {
        let pnl = trade_pnl(trade.points, lots, costs);
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
        bars_held += (trade.exit_bar - trade.entry_bar) as u64;
        balance += pnl;
        if balance > peak {
            peak = balance;
        }
        let fall = peak - balance;
        if fall > row.max_drawdown_usd {
            row.max_drawdown_usd = fall;
            row.max_drawdown_pct = fall / peak * 100.0;
        }
        if balance <= 0.0 {
            row.ruined = true;
            break;
        }
    }
    if !row.ruined
        && let Some(open) = &log.open
    {
        row.open_at_end = true;
        row.open_pnl_usd = trade_pnl(open.points, lots, costs);
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
    row
}
