//! SPEC section 5: one result row from a trade log at one lot size.
//!
//! Money is computed left to right exactly as SPEC writes it
//! (`points * point_size * units - commission * lots`, sums over trades in time order), so an
//! independent implementation that follows SPEC agrees to the last bit.

use crate::protocol::{Costs, ResultRow};
use crate::sim::{ExitReason, Trade, TradeLog};

/// P&L in USD of `points` at `lots`, commission included.
#[inline]
pub fn trade_pnl(points: i64, lots: f64, costs: &Costs) -> f64 {
    let units = lots * costs.units_per_lot;
    points as f64 * costs.point_size * units - costs.commission_per_lot * lots
}

/// Replays `log` on an account of `costs.initial_balance` trading `lots`, stopping entries once
/// the balance reaches 0 or below (ruin), and returns the row's metrics.
pub fn summarise(strategy_id: u64, log: &TradeLog, lots: f64, costs: &Costs) -> ResultRow {
    account(strategy_id, log, lots, costs, &Counts::of(&log.trades))
}

/// [`summarise`] at every lot size of `lots`, rows appended in that order.
pub fn summarise_lots(
    strategy_id: u64,
    log: &TradeLog,
    lots: &[f64],
    costs: &Costs,
    rows: &mut Vec<ResultRow>,
) {
    let all = Counts::of(&log.trades);
    rows.extend(
        lots.iter()
            .map(|&lots| account(strategy_id, log, lots, costs, &all)),
    );
}

/// The integer figures of a run of trades, which do not depend on the lot size: counted once
/// per strategy, and again only for an account ruined part way.
#[derive(Clone, Copy)]
struct Counts {
    /// Trades closed by stop loss, take profit and time, in [`ExitReason`] order.
    by_reason: [u32; 3],
    bars_held: u64,
}

impl Counts {
    fn of(trades: &[Trade]) -> Counts {
        let mut c = Counts {
            by_reason: [0; 3],
            bars_held: 0,
        };
        for t in trades {
            c.by_reason[t.reason.index()] += 1;
            c.bars_held += (t.exit_bar - t.entry_bar) as u64;
        }
        c
    }
}

/// One lot size's row: the trades replayed on one account.
///
/// Why this shape: the loop over trades holds only what depends on the lot size (money, wins
/// and ruin), every running figure a local. In the sandbox each float result is also checked
/// for NaN and Cranelift spills readily, so a lean loop is what counts; the lot-independent
/// counts come from `all`. `trade_pnl`'s operations are done in its order on the same values,
/// so the bits are those of [`trade_pnl`] per trade.
fn account(strategy_id: u64, log: &TradeLog, lots: f64, costs: &Costs, all: &Counts) -> ResultRow {
    let units = lots * costs.units_per_lot;
    let commission = costs.commission_per_lot * lots;
    let mut n_wins = 0u32;
    let (mut gross_profit, mut gross_loss, mut net) = (0.0f64, 0.0f64, 0.0f64);
    // The peak the largest fall was measured from: the percentage is taken once at the end
    // (`fall / peak * 100` on the same two values, so the same bits) rather than for every
    // trade, which the compiler did without a branch, a division per trade.
    let (mut max_dd, mut max_dd_peak) = (0.0f64, None);
    let mut balance = costs.initial_balance;
    let mut peak = costs.initial_balance;
    let mut ruined_at = None;
    for (i, trade) in log.trades.iter().enumerate() {
        let pnl = trade.points as f64 * costs.point_size * units - commission;
        if pnl > 0.0 {
            n_wins += 1;
            gross_profit += pnl;
        } else {
            gross_loss += pnl;
        }
        net += pnl;
        balance += pnl;
        if balance > peak {
            peak = balance;
        }
        let fall = peak - balance;
        if fall > max_dd {
            max_dd = fall;
            max_dd_peak = Some(peak);
        }
        if balance <= 0.0 {
            ruined_at = Some(i);
            break;
        }
    }
    let (n_trades, counts) = match ruined_at {
        Some(i) => (i + 1, Counts::of(&log.trades[..=i])),
        None => (log.trades.len(), *all),
    };
    let n_trades = n_trades as u32;
    let open = log.open.as_ref().filter(|_| ruined_at.is_none());
    let per_trade = |x: f64| (n_trades > 0).then(|| x / n_trades as f64);
    ResultRow {
        strategy_id,
        lots,
        n_trades,
        n_wins,
        n_losses: n_trades - n_wins,
        n_sl: counts.by_reason[ExitReason::StopLoss.index()],
        n_tp: counts.by_reason[ExitReason::TakeProfit.index()],
        n_time: counts.by_reason[ExitReason::Time.index()],
        gross_profit_usd: gross_profit,
        gross_loss_usd: gross_loss,
        net_pnl_usd: net,
        profit_factor: (n_trades > 0 && gross_loss != 0.0).then(|| gross_profit / gross_loss.abs()),
        win_rate: per_trade(n_wins as f64),
        expectancy_usd: per_trade(net),
        max_drawdown_usd: max_dd,
        max_drawdown_pct: max_dd_peak.map_or(0.0, |peak| max_dd / peak * 100.0),
        return_pct: net / costs.initial_balance * 100.0,
        avg_bars_held: per_trade(counts.bars_held as f64),
        ruined: ruined_at.is_some(),
        open_at_end: open.is_some(),
        open_pnl_usd: open.map_or(0.0, |o| trade_pnl(o.points, lots, costs)),
    }
}
