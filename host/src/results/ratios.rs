//! Sharpe and Sortino ratios of a daily P&L series (SPEC section 7), from the days on which
//! trades closed and the calendar's length.
//!
//! Why sparse: a strategy's daily series is mostly zeros on the days it closed nothing, and
//! the results file needs the ratios of every (strategy, lots). The zero days enter the sums as
//! `(T - k)` copies of `(0 - mean)^2` instead of one by one; SPEC fixes the formula, not the
//! order of the additions, so an independent implementation agrees up to float rounding.

use stratbox_engine::protocol::DayPnl;

/// Trading days a year, the annualisation factor's square.
pub const DAYS_PER_YEAR: f64 = 252.0;

/// Per-day Sharpe `mean / sd` (sd with ddof 1) over `days` calendar days of which `pnl` lists
/// the non-zero ones (any order; zeros may be listed too). `None` with no trades, fewer than 2
/// days, or a zero sd.
pub fn sharpe_per_day(pnl: impl Iterator<Item = f64> + Clone, days: usize) -> Option<f64> {
    let (sum, k) = pnl.clone().fold((0.0, 0usize), |(s, k), p| (s + p, k + 1));
    if k == 0 || days < 2 {
        return None;
    }
    let t = days as f64;
    let mean = sum / t;
    let listed: f64 = pnl.map(|p| (p - mean) * (p - mean)).sum();
    let var = (listed + (days - k) as f64 * mean * mean) / (t - 1.0);
    let sd = var.sqrt();
    (sd > 0.0).then(|| mean / sd)
}

/// Per-day Sortino `mean / sqrt(sum(min(pnl, 0)^2) / T)`. `None` with no trades or no loss.
pub fn sortino_per_day(pnl: impl Iterator<Item = f64> + Clone, days: usize) -> Option<f64> {
    let (sum, k) = pnl.clone().fold((0.0, 0usize), |(s, k), p| (s + p, k + 1));
    if k == 0 || days == 0 {
        return None;
    }
    let t = days as f64;
    let downside: f64 = pnl.map(|p| p.min(0.0) * p.min(0.0)).sum();
    let denominator = (downside / t).sqrt();
    (denominator > 0.0).then(|| sum / t / denominator)
}

/// The result columns `sharpe` and `sortino` of one row.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ratios {
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
}

impl Ratios {
    /// The ratios of one row's daily P&L over `days` calendar days, annualised with
    /// `sqrt(252)`.
    pub fn of(daily: &[DayPnl], days: usize) -> Ratios {
        let pnl = daily.iter().map(|d| d.pnl_usd);
        let a = DAYS_PER_YEAR.sqrt();
        Ratios {
            sharpe: sharpe_per_day(pnl.clone(), days).map(|s| s * a),
            sortino: sortino_per_day(pnl, days).map(|s| s * a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_of_a_hand_worked_series() {
        // 4 days: 3, 0, -1, 0 -> mean 0.5; deviations 2.5, -0.5, -1.5, -0.5; squares sum 9;
        // var 3, sd sqrt(3). Downside: (-1)^2 / 4 = 0.25, sqrt 0.5.
        let pnl = [3.0, -1.0];
        let sharpe = sharpe_per_day(pnl.iter().copied(), 4).unwrap();
        assert!((sharpe - 0.5 / 3f64.sqrt()).abs() < 1e-15);
        let sortino = sortino_per_day(pnl.iter().copied(), 4).unwrap();
        assert!((sortino - 1.0).abs() < 1e-15);
        // Listing the zero days changes nothing.
        let dense = [3.0, 0.0, -1.0, 0.0];
        assert!((sharpe_per_day(dense.iter().copied(), 4).unwrap() - sharpe).abs() < 1e-15);
    }

    #[test]
    fn ratios_are_null_without_trades_or_denominator() {
        assert_eq!(sharpe_per_day(std::iter::empty(), 10), None);
        assert_eq!(sortino_per_day([1.0, 2.0].into_iter(), 10), None);
        assert_eq!(sharpe_per_day([2.0].into_iter(), 1), None);
        // Every day the same P&L: sd 0.
        assert_eq!(sharpe_per_day([1.0, 1.0].into_iter(), 2), None);
    }
}
