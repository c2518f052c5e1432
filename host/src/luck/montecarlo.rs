//! Monte Carlo of the top strategy's trade order (SPEC section 7, `luck`): the same trades in
//! 1,000 seeded random orders. The total is the same in every order; the path is not, so the
//! spread of the largest drawdown, and how often the account would have been ruined on the
//! way, shows how much of the record's smoothness was the luck of the sequence.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Reshuffles, and the generator's seed.
pub const RESHUFFLES: usize = 1000;
pub const SEED: u64 = 0;

/// The drawdown bands at one lot size.
#[derive(Debug, Clone, PartialEq)]
pub struct Bands {
    pub lots: f64,
    pub trades: usize,
    /// 5th, 50th and 95th percentile of the largest drawdown (USD), over the reshuffles.
    pub max_drawdown_usd: [f64; 3],
    /// The drawdown of the trades in their real order.
    pub actual_max_drawdown_usd: f64,
    /// Share of reshuffles in which the balance reached 0 or below.
    pub ruined: f64,
}

/// Largest fall of the balance from its running peak (peak starting at `initial`), stopping at
/// ruin as SPEC section 4 does; and whether it was ruined.
pub fn max_drawdown(pnl: &[f64], initial: f64) -> (f64, bool) {
    let (mut balance, mut peak, mut dd) = (initial, initial, 0.0f64);
    for p in pnl {
        balance += p;
        peak = peak.max(balance);
        dd = dd.max(peak - balance);
        if balance <= 0.0 {
            return (dd, true);
        }
    }
    (dd, false)
}

/// Percentile `q` (0-100) with numpy's linear interpolation.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q / 100.0;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The bands of the trades `pnl` (USD at `lots`, in time order) over [`RESHUFFLES`] orders.
/// The generator is seeded per lot size the same way, so each lot size sees the same orders.
pub fn bands(pnl: &[f64], lots: f64, initial: f64) -> Bands {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut order = pnl.to_vec();
    let mut dds = Vec::with_capacity(RESHUFFLES);
    let mut ruined = 0usize;
    for _ in 0..RESHUFFLES {
        order.copy_from_slice(pnl);
        order.shuffle(&mut rng);
        let (dd, r) = max_drawdown(&order, initial);
        dds.push(dd);
        ruined += r as usize;
    }
    dds.sort_by(f64::total_cmp);
    Bands {
        lots,
        trades: pnl.len(),
        max_drawdown_usd: [5.0, 50.0, 95.0].map(|q| percentile(&dds, q)),
        actual_max_drawdown_usd: max_drawdown(pnl, initial).0,
        ruined: ruined as f64 / RESHUFFLES as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_and_ruin_of_a_hand_worked_path() {
        // 100 -> 150 -> 90 -> 120 -> 60: peak 150, deepest 60 -> drawdown 90.
        assert_eq!(max_drawdown(&[50.0, -60.0, 30.0, -60.0], 100.0), (90.0, false));
        // Ruin stops the path: 100 -> 0.
        assert_eq!(max_drawdown(&[-100.0, 500.0, -1.0], 100.0), (100.0, true));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.5);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 5.0), 1.2);
    }

    #[test]
    fn reshuffles_keep_the_trades_and_are_seeded() {
        let pnl: Vec<f64> = (0..50).map(|i| if i % 3 == 0 { -30.0 } else { 20.0 }).collect();
        let a = bands(&pnl, 0.1, 1000.0);
        assert_eq!(a, bands(&pnl, 0.1, 1000.0));
        assert!(
            a.max_drawdown_usd[0] <= a.max_drawdown_usd[1] && a.max_drawdown_usd[1] <= a.max_drawdown_usd[2]
        );
        // No order of these trades loses more than all the losers together.
        assert!(a.max_drawdown_usd[2] <= 17.0 * 30.0);
        assert_eq!(a.ruined, 0.0);
        assert!(bands(&pnl, 0.1, 50.0).ruined > 0.0);
    }
}
