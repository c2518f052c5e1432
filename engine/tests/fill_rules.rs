//! Hand-computed trades for every fill rule of SPEC section 4.
//!
//! Each test builds a few bars by hand, enters where the test says, and checks the exact exit
//! bar, price, reason and money worked out on paper in the comment above it.

use stratbox_engine::metrics::summarise;
use stratbox_engine::sim::{ExitReason, Exits, Side, TradeLog, simulate};
use stratbox_engine::{Columns, Costs};

/// Bars from `(open, high, low, close)` tuples; features are irrelevant here.
fn bars(ohlc: &[(i64, i64, i64, i64)]) -> Columns {
    let n = ohlc.len();
    Columns {
        time: (0..n as i64).map(|i| i * 60).collect(),
        open: ohlc.iter().map(|b| b.0).collect(),
        high: ohlc.iter().map(|b| b.1).collect(),
        low: ohlc.iter().map(|b| b.2).collect(),
        close: ohlc.iter().map(|b| b.3).collect(),
        momentum: vec![f64::NAN; n],
        volatility: vec![f64::NAN; n],
        trend: vec![f64::NAN; n],
    }
}

const EXITS: Exits = Exits {
    sl_points: 100,
    tp_points: 200,
    max_bars: 5,
};

/// Runs with an entry wanted on every bar in `wanted` (first one >= from).
fn run(cols: &Columns, spread: i64, side: Side, exits: Exits, wanted: &[usize]) -> TradeLog {
    let mut log = TradeLog::default();
    let wanted = wanted.to_vec();
    simulate(
        &cols.view(),
        spread,
        |from| {
            wanted
                .iter()
                .copied()
                .find(|&b| b >= from)
                .map(|b| (b, side, exits))
        },
        &mut log,
    );
    log
}

/// Bar times one minute apart from the epoch: every trade of these short tests closes on day 0.
fn minutes() -> Vec<i64> {
    (0..10_000).map(|i| i * 60).collect()
}

fn flat(n: usize, price: i64) -> Vec<(i64, i64, i64, i64)> {
    vec![(price, price + 10, price - 10, price); n]
}

#[test]
fn long_gap_through_stop_fills_at_the_open() {
    // Entry at bar 0 close 1000: SL 900, TP 1200. Bar 1 opens at 880, below SL: exit at 880.
    let mut b = flat(4, 1000);
    b[1] = (880, 890, 870, 885);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0]);
    let t = log.trades[0];
    assert_eq!(
        (t.entry_bar, t.exit_bar, t.entry_price, t.exit_price),
        (0, 1, 1000, 880)
    );
    assert_eq!((t.points, t.reason), (-120, ExitReason::StopLoss));
}

#[test]
fn long_touch_of_stop_is_a_hit_at_the_stop() {
    // Low exactly at SL 900: a touch is a hit, filled at 900 (not at the low).
    let mut b = flat(4, 1000);
    b[2] = (950, 960, 900, 955);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0]);
    let t = log.trades[0];
    assert_eq!((t.exit_bar, t.exit_price, t.points), (2, 900, -100));
    assert_eq!(t.reason, ExitReason::StopLoss);
}

#[test]
fn long_touch_of_target_is_a_hit_at_the_target() {
    let mut b = flat(4, 1000);
    b[1] = (1010, 1200, 1000, 1100);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0]);
    let t = log.trades[0];
    assert_eq!(
        (t.exit_bar, t.exit_price, t.points, t.reason),
        (1, 1200, 200, ExitReason::TakeProfit)
    );
}

#[test]
fn long_gap_through_target_fills_at_the_open() {
    let mut b = flat(4, 1000);
    b[1] = (1250, 1260, 1240, 1250);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0]);
    let t = log.trades[0];
    assert_eq!(
        (t.exit_price, t.points, t.reason),
        (1250, 250, ExitReason::TakeProfit)
    );
}

#[test]
fn stop_wins_when_stop_and_target_share_a_bar() {
    // Bar 1 spans 850..1250: both SL 900 and TP 1200 inside; SL wins, filled at 900.
    let mut b = flat(4, 1000);
    b[1] = (1000, 1250, 850, 1000);
    let long = run(&bars(&b), 0, Side::Long, EXITS, &[0]);
    assert_eq!(
        (long.trades[0].exit_price, long.trades[0].reason),
        (900, ExitReason::StopLoss)
    );
    // Short entered at 1000: SL 1100, TP 800. Bar spanning 750..1150 hits both: SL at 1100.
    let mut b = flat(4, 1000);
    b[1] = (1000, 1150, 750, 1000);
    let short = run(&bars(&b), 0, Side::Short, EXITS, &[0]);
    let t = short.trades[0];
    assert_eq!(
        (t.exit_price, t.points, t.reason),
        (1100, -100, ExitReason::StopLoss)
    );
}

#[test]
fn entry_bar_itself_is_never_checked_for_exits() {
    // Bar 0 (the entry bar) spans far beyond both levels; only later bars count.
    let mut b = flat(8, 1000);
    b[0] = (1000, 5000, 10, 1000);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0]);
    assert_eq!(log.trades[0].reason, ExitReason::Time);
    assert_eq!(log.trades[0].exit_bar, 5);
}

#[test]
fn time_exit_closes_at_the_close_max_bars_after_entry() {
    // Entry bar 1 (close 1000); nothing reached; bar 1 + 5 = 6 closes at its close 1037.
    let mut b = flat(10, 1000);
    b[6] = (1000, 1040, 990, 1037);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[1]);
    let t = log.trades[0];
    assert_eq!(
        (t.entry_bar, t.exit_bar, t.exit_price, t.points),
        (1, 6, 1037, 37)
    );
    assert_eq!(t.reason, ExitReason::Time);
}

#[test]
fn a_level_hit_on_the_time_bar_beats_the_time_exit() {
    let mut b = flat(10, 1000);
    b[5] = (1000, 1010, 880, 950);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0]);
    assert_eq!(
        (log.trades[0].exit_bar, log.trades[0].reason),
        (5, ExitReason::StopLoss)
    );
}

#[test]
fn no_reentry_on_the_exit_bar() {
    // The entry rule holds on every bar. Trade 1: bar 0 -> time exit at bar 5; the next entry is
    // bar 6 (not 5), its time exit bar 11, then bar 12 -> open at the end (bars 12..14).
    let b = flat(15, 1000);
    let all: Vec<usize> = (0..15).collect();
    let log = run(&bars(&b), 0, Side::Long, EXITS, &all);
    let spans: Vec<(usize, usize)> = log.trades.iter().map(|t| (t.entry_bar, t.exit_bar)).collect();
    assert_eq!(spans, vec![(0, 5), (6, 11)]);
    assert_eq!(log.open.map(|o| o.entry_bar), Some(12));
}

#[test]
fn spread_is_paid_on_both_sides() {
    // Spread 3. Long: fill at ask 1000 + 3 = 1003; SL = 903, TP = 1203, checked on the bid;
    // time exit at bid close 1000 -> -3 points.
    let b = flat(10, 1000);
    let long = run(&bars(&b), 3, Side::Long, EXITS, &[0]);
    let t = long.trades[0];
    assert_eq!((t.entry_price, t.exit_price, t.points), (1003, 1000, -3));
    // Short: fill at bid 1000; SL = 1100, TP = 800 on the ask; time exit at ask 1003 -> -3.
    let short = run(&bars(&b), 3, Side::Short, EXITS, &[0]);
    let t = short.trades[0];
    assert_eq!((t.entry_price, t.exit_price, t.points), (1000, 1003, -3));
    // Short stop on the ask: bid high 1097 + 3 = 1100 touches SL 1100.
    let mut b = flat(10, 1000);
    b[2] = (1000, 1097, 995, 1000);
    let t = run(&bars(&b), 3, Side::Short, EXITS, &[0]).trades[0];
    assert_eq!(
        (t.exit_bar, t.exit_price, t.reason),
        (2, 1100, ExitReason::StopLoss)
    );
    // Short gap through stop on the ask: bid open 1150 -> ask 1153.
    let mut b = flat(10, 1000);
    b[2] = (1150, 1160, 1140, 1150);
    let t = run(&bars(&b), 3, Side::Short, EXITS, &[0]).trades[0];
    assert_eq!((t.exit_price, t.points), (1153, -153));
    // Short target on the ask: bid low 797 + 3 = 800 touches TP 800.
    let mut b = flat(10, 1000);
    b[3] = (1000, 1005, 797, 1000);
    let t = run(&bars(&b), 3, Side::Short, EXITS, &[0]).trades[0];
    assert_eq!(
        (t.exit_price, t.points, t.reason),
        (800, 200, ExitReason::TakeProfit)
    );
}

#[test]
fn commission_is_charged_per_lot_per_round_turn() {
    // +37 points at 0.1 lots: 37 * 1e-5 * 10,000 = 3.7 USD, minus 7 USD/lot * 0.1 = 0.7.
    let mut b = flat(10, 1000);
    b[5] = (1000, 1040, 990, 1037);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0]);
    let costs = Costs {
        commission_per_lot: 7.0,
        ..Costs::default()
    };
    let row = summarise(1, &log, 0.1, &costs, &minutes());
    let expected = 37.0 * 1e-5 * (0.1 * 100_000.0) - 7.0 * 0.1;
    assert_eq!(row.net_pnl_usd, expected);
    assert!((row.net_pnl_usd - 3.0).abs() < 1e-12);
    assert_eq!((row.n_wins, row.n_losses), (1, 0));
    // A zero-point trade with commission is a loss.
    let b = flat(10, 1000);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0]);
    let row = summarise(1, &log, 0.1, &costs, &minutes());
    assert_eq!(
        (row.n_wins, row.n_losses, row.gross_loss_usd),
        (0, 1, -0.7000000000000001)
    );
}

#[test]
fn ruin_stops_trading() {
    // 1000 lots: a 100-point stop costs 100 * 1e-5 * 1e8 = 100,000 USD > 10,000 balance.
    // Trade 1 (bars 0 -> 1) ruins the account; the later entries never happen.
    let mut b = flat(15, 1000);
    b[1] = (950, 960, 890, 900);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0, 3, 12]);
    assert_eq!(
        log.trades.len(),
        2,
        "the trade log itself does not know the lot size"
    );
    assert!(log.open.is_some());
    let costs = Costs::default();
    let ruined = summarise(1, &log, 1000.0, &costs, &minutes());
    assert!(ruined.ruined);
    assert_eq!(ruined.n_trades, 1);
    assert_eq!(ruined.net_pnl_usd, -100_000.0);
    assert!(!ruined.open_at_end, "no entries after ruin, so nothing is open");
    assert_eq!(ruined.open_pnl_usd, 0.0);
    // The same log at 0.01 lots is not ruined: both trades count and one is open at the end.
    let small = summarise(1, &log, 0.01, &costs, &minutes());
    assert!(!small.ruined);
    assert_eq!(small.n_trades, 2);
    assert!(small.open_at_end);
}

#[test]
fn open_position_at_end_is_marked_not_traded() {
    // Entry at bar 2 (close 1000), data ends at bar 4 (close 1013): open, +13 points.
    let mut b = flat(5, 1000);
    b[4] = (1000, 1015, 995, 1013);
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[2]);
    assert!(log.trades.is_empty());
    let row = summarise(9, &log, 1.0, &Costs::default(), &minutes());
    assert_eq!(row.n_trades, 0);
    assert!(row.open_at_end);
    assert_eq!(row.open_pnl_usd, 13.0 * 1e-5 * 100_000.0);
    assert_eq!(
        (
            row.profit_factor,
            row.win_rate,
            row.expectancy_usd,
            row.avg_bars_held
        ),
        (None, None, None, None)
    );
}

#[test]
fn drawdown_is_measured_from_the_running_peak() {
    // Trades: +200 (TP), -100 (SL), -100 (SL), +200 (TP) points at 1 lot = +200, -100, -100,
    // +200 USD. Balance 10000 -> 10200 (peak) -> 10100 -> 10000 -> 10200. Max fall 200 from
    // the 10200 peak: 200 / 10200 * 100 percent.
    let mut b = flat(40, 1000);
    b[1] = (1000, 1200, 995, 1100); // trade at 0: TP
    b[4] = (1000, 1005, 900, 950); // trade at 3: SL
    b[7] = (1000, 1005, 900, 950); // trade at 6: SL
    b[10] = (1000, 1200, 995, 1100); // trade at 9: TP
    let log = run(&bars(&b), 0, Side::Long, EXITS, &[0, 3, 6, 9]);
    let row = summarise(1, &log, 1.0, &Costs::default(), &minutes());
    assert_eq!((row.n_trades, row.n_tp, row.n_sl, row.n_time), (4, 2, 2, 0));
    assert_eq!(row.max_drawdown_usd, 200.0);
    assert_eq!(row.max_drawdown_pct, 200.0 / 10200.0 * 100.0);
    assert_eq!(row.profit_factor, Some(400.0 / 200.0));
    assert_eq!(row.win_rate, Some(0.5));
    assert_eq!(row.avg_bars_held, Some(1.0));
    assert_eq!(row.return_pct, 200.0 / 10_000.0 * 100.0);
}

/// The batch's exit memo keeps an exit price as an `i32` offset from the entry close; a gap
/// further than that must not be cut to 32 bits but searched for again. Every entry below is
/// run twice with the memo (the second time from the table) and must equal the plain
/// simulation, including exits at a gap 3e9 points up (a long's take profit, a short's stop).
#[test]
fn exits_too_far_for_the_memo_slot_are_exact_and_the_rest_come_from_the_table() {
    use stratbox_engine::sim::{ExitMemo, simulate_with};
    let mut b = flat(12, 1_000_000);
    b[2] = (3_001_000_000, 3_001_000_010, 3_000_999_990, 3_001_000_000);
    b[8] = (900_000, 900_010, 899_990, 900_000);
    let cols = bars(&b);
    for side in [Side::Long, Side::Short] {
        let wanted = [0, 1, 3, 4, 6, 7, 9];
        let plain = run(&cols, 5, side, EXITS, &wanted);
        let mut memo = ExitMemo::new(cols.len());
        for pass in 0..2 {
            let mut log = TradeLog::default();
            simulate_with(
                &cols.view(),
                5,
                |from| {
                    wanted
                        .iter()
                        .copied()
                        .find(|&e| e >= from)
                        .map(|e| (e, side, EXITS))
                },
                &mut memo,
                &mut log,
            );
            assert_eq!(log.trades, plain.trades, "{side:?} pass {pass}");
            assert_eq!(log.open, plain.open, "{side:?} pass {pass}");
        }
    }
    // The gap trade itself, by hand: long from bar 1 (close 1,000,000 + spread 5) exits at
    // bar 2's open, 3,001,000,000: +3,000,000,000 - 5 points, beyond i32.
    let log = run(&cols, 5, Side::Long, EXITS, &[1]);
    assert_eq!(log.trades[0].exit_price, 3_001_000_000);
    assert_eq!(log.trades[0].points, 2_999_999_995);
    assert_eq!(log.trades[0].reason, ExitReason::TakeProfit);
}
