//! The MVT entry index (byte levels, vector scan) gives exactly the trades of the rule evaluated
//! bar by bar, for long and short, strict and loose thresholds, in batches of mixed strategies.

use stratbox_engine::sim::{Exits, Side, TradeLog, simulate};
use stratbox_engine::{Columns, Mvt, Strategy};

/// A deterministic random walk with features shaped like real ones (momentum, volatility and
/// trend spread around the grid's thresholds), NaN at the start like real windows.
fn walk(n: usize, seed: u64) -> Columns {
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

fn naive(cols: &Columns, s: &Mvt) -> TradeLog {
    let mut log = TradeLog::default();
    simulate(
        cols,
        3,
        |from| {
            (from..cols.len())
                .find(|&i| s.signal(cols, i))
                .map(|i| (i, s.side, s.exits))
        },
        &mut log,
    );
    log
}

#[test]
fn index_matches_the_rule_bar_by_bar() {
    let cols = walk(20_000, 7);
    let moms = [0.0, 0.00005, 0.0003, 0.001, 0.0019];
    let vols = [0.0001, 0.0002, 0.0005];
    let trends = [0.0, 3.0, 15.0];
    let mut batch = Vec::new();
    for (d, side) in [Side::Long, Side::Short].into_iter().enumerate() {
        for &mom_th in &moms {
            for &vol_max in &vols {
                for &trend_th in &trends {
                    let exits = Exits {
                        sl_points: 50 + 10 * d as i64,
                        tp_points: 120,
                        max_bars: 30,
                    };
                    batch.push(Mvt {
                        mom_th,
                        vol_max,
                        trend_th,
                        side,
                        exits,
                    });
                }
            }
        }
    }
    let index = Mvt::build_index(&cols, &batch);
    let mut total = 0;
    for s in &batch {
        let mut fast = TradeLog::default();
        simulate(&cols, 3, s.entries(&index, &cols), &mut fast);
        assert_eq!(fast, naive(&cols, s), "{s:?}");
        total += fast.trades.len();
    }
    assert!(total > 5_000, "the batch must trade a lot, got {total}");
}
