//! Synthetic data shared by the engine's test binaries.

use stratbox_engine::Columns;

/// A deterministic random walk with features shaped like real ones (momentum, volatility and
/// trend spread around the grid's thresholds), NaN at the start like real windows.
pub fn walk(n: usize, seed: u64) -> Columns {
    let mut x = seed;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut c = Columns::default();
    let mut price: i64 = 120_000;
    for i in 0..n {
        let open = price;
        let close = (open + ((next() - 0.5) * 40.0) as i64).max(1000);
        let high = open.max(close) + (next() * 15.0) as i64;
        let low = open.min(close) - (next() * 15.0) as i64;
        price = close;
        c.time.push(i as i64 * 60);
        c.open.push(open);
        c.high.push(high);
        c.low.push(low);
        c.close.push(close);
        let warm = i >= 50;
        c.momentum
            .push(if warm { (next() - 0.5) * 0.004 } else { f64::NAN });
        c.volatility.push(if warm { next() * 0.0006 } else { f64::NAN });
        c.trend.push(if warm { (next() - 0.5) * 40.0 } else { f64::NAN });
    }
    c
}
