//! SPEC section 5: one result row from a trade log at one lot size.
//!
//! Money is computed left to right exactly as SPEC writes it
//! (`points * point_size * units - commission * lots`, sums over trades in time order), so an
//! independent implementation that follows SPEC agrees to the last bit.

use crate::protocol::{Costs, DayPnl, ResultRow};
use crate::sim::{ExitReason, OpenPosition, Trade, TradeLog};

/// P&L in USD of `points` at `lots`, commission included.
#[inline]
pub fn trade_pnl(points: i64, lots: f64, costs: &Costs) -> f64 {
    let units = lots * costs.units_per_lot;
    points as f64 * costs.point_size * units - costs.commission_per_lot * lots
}

/// The UTC day of a bar that opened at `time` (Unix seconds): days since 1970-01-01.
#[inline]
pub fn utc_day(time: i64) -> i32 {
    time.div_euclid(86_400) as i32
}

/// Replays `log` on an account of `costs.initial_balance` trading `lots`, stopping entries once
/// the balance reaches 0 or below (ruin), and returns the row's metrics. `time` is the bars'
/// open times (the log's bar indices point into it), for the daily P&L.
pub fn summarise(strategy_id: u64, log: &TradeLog, lots: f64, costs: &Costs, time: &[i64]) -> ResultRow {
    let mut account = Account::new(lots, costs);
    for trade in &log.trades {
        if !account.add(trade, utc_day(time[trade.exit_bar])) {
            break;
        }
    }
    account.row(strategy_id, log.open.as_ref(), costs)
}

/// One account (one strategy at one lot size) fed trade by trade in time order.
///
/// Why a running state rather than a pass over a finished log: a batch advances all its
/// strategies together through the bars ([`crate::sim::sweep`]), so each trade is booked on
/// its accounts the moment it closes and no strategy's log is ever kept. The arithmetic is the
/// same, in the same order, as a pass over the log, so the bits are too.
#[derive(Debug, Clone)]
pub struct Account {
    lots: f64,
    point_size: f64,
    units: f64,
    commission: f64,
    balance: f64,
    peak: f64,
    gross_profit: f64,
    gross_loss: f64,
    net: f64,
    max_dd: f64,
    /// The peak the largest fall was measured from; the drawdown percentage is taken from it
    /// once at the end instead of dividing on every trade.
    max_dd_peak: Option<f64>,
    bars_held: u64,
    n_trades: u32,
    n_wins: u32,
    by_reason: [u32; 3],
    ruined: bool,
    /// Daily P&L (SPEC section 7), one entry per day with a closed trade, days ascending
    /// because trades close in time order.
    daily: Vec<DayPnl>,
}

impl Account {
    pub fn new(lots: f64, costs: &Costs) -> Account {
        Account {
            lots,
            point_size: costs.point_size,
            units: lots * costs.units_per_lot,
            commission: costs.commission_per_lot * lots,
            balance: costs.initial_balance,
            peak: costs.initial_balance,
            gross_profit: 0.0,
            gross_loss: 0.0,
            net: 0.0,
            max_dd: 0.0,
            max_dd_peak: None,
            bars_held: 0,
            n_trades: 0,
            n_wins: 0,
            by_reason: [0; 3],
            ruined: false,
            daily: Vec::new(),
        }
    }

    /// Hands over the daily P&L of the days before `day`, keeping the rest: for a streamed batch,
    /// whose days before the current block are complete (no later trade can close on them).
    pub fn take_days_before(&mut self, day: i32) -> Vec<DayPnl> {
        let k = self.daily.partition_point(|d| d.day < day);
        if k == 0 {
            return Vec::new();
        }
        let rest = self.daily.split_off(k);
        std::mem::replace(&mut self.daily, rest)
    }

    /// Books `trade`, which closed on UTC day `day` ([`utc_day`] of its exit bar); returns
    /// whether the account still takes trades (false once ruined, and every later trade is
    /// then ignored).
    #[inline(always)]
    pub fn add(&mut self, trade: &Trade, day: i32) -> bool {
        if self.ruined {
            return false;
        }
        let pnl = trade.points as f64 * self.point_size * self.units - self.commission;
        if pnl > 0.0 {
            self.n_wins += 1;
            self.gross_profit += pnl;
        } else {
            self.gross_loss += pnl;
        }
        self.net += pnl;
        match self.daily.last_mut() {
            Some(last) if last.day == day => {
                last.pnl_usd += pnl;
                last.n_trades += 1;
            }
            _ => self.daily.push(DayPnl {
                day,
                n_trades: 1,
                pnl_usd: pnl,
            }),
        }
        self.balance += pnl;
        if self.balance > self.peak {
            self.peak = self.balance;
        }
        let fall = self.peak - self.balance;
        if fall > self.max_dd {
            self.max_dd = fall;
            self.max_dd_peak = Some(self.peak);
        }
        self.n_trades += 1;
        self.by_reason[trade.reason.index()] += 1;
        self.bars_held += (trade.exit_bar - trade.entry_bar) as u64;
        self.ruined = self.balance <= 0.0;
        !self.ruined
    }

    /// The row, with `open` (the position still open when the data ended, if any) marked to
    /// market unless the account was ruined first.
    pub fn row(&self, strategy_id: u64, open: Option<&OpenPosition>, costs: &Costs) -> ResultRow {
        self.clone().into_row(strategy_id, open, costs)
    }

    /// [`Account::row`], handing over the daily P&L instead of copying it.
    pub fn into_row(self, strategy_id: u64, open: Option<&OpenPosition>, costs: &Costs) -> ResultRow {
        let n_trades = self.n_trades;
        let open = open.filter(|_| !self.ruined);
        let per_trade = |x: f64| (n_trades > 0).then(|| x / n_trades as f64);
        ResultRow {
            strategy_id,
            lots: self.lots,
            n_trades,
            n_wins: self.n_wins,
            n_losses: n_trades - self.n_wins,
            n_sl: self.by_reason[ExitReason::StopLoss.index()],
            n_tp: self.by_reason[ExitReason::TakeProfit.index()],
            n_time: self.by_reason[ExitReason::Time.index()],
            gross_profit_usd: self.gross_profit,
            gross_loss_usd: self.gross_loss,
            net_pnl_usd: self.net,
            profit_factor: (n_trades > 0 && self.gross_loss != 0.0)
                .then(|| self.gross_profit / self.gross_loss.abs()),
            win_rate: per_trade(self.n_wins as f64),
            expectancy_usd: per_trade(self.net),
            max_drawdown_usd: self.max_dd,
            max_drawdown_pct: self.max_dd_peak.map_or(0.0, |peak| self.max_dd / peak * 100.0),
            return_pct: self.net / costs.initial_balance * 100.0,
            avg_bars_held: per_trade(self.bars_held as f64),
            ruined: self.ruined,
            open_at_end: open.is_some(),
            open_pnl_usd: open.map_or(0.0, |o| trade_pnl(o.points, self.lots, costs)),
            daily: self.daily,
        }
    }
}
