//! Running a batch's strategies together ([`sim::sweep`]) gives every strategy exactly the trades
//! and the open position it gets when run alone ([`sim::simulate`]): across window boundaries,
//! with the batch's exit memo, and with exits that reach several windows ahead.

use stratbox_engine::sim::{ExitMemo, Exits, SWEEP_WINDOW, Side, Trade, Walker, sweep};
use stratbox_engine::strategy::replay;
use stratbox_engine::{Mvt, Strategy};

mod common;
use common::walk;

const SPREAD: i64 = 3;

/// Strategies of both sides with short and long holding limits, some of which reach well past a
/// window and some of which are still open when the data ends.
fn strategies() -> Vec<Mvt> {
    let mut batch = Vec::new();
    for side in [Side::Long, Side::Short] {
        for &mom_th in &[0.0, 0.0003, 0.0015] {
            for &vol_max in &[0.0002, 0.0006] {
                for &(sl_points, tp_points, max_bars) in &[
                    (40, 90, 25),
                    (400, 900, 3 * SWEEP_WINDOW),
                    (10_000, 10_000, 50_000),
                ] {
                    batch.push(Mvt {
                        mom_th,
                        vol_max,
                        trend_th: 2.0,
                        side,
                        exits: Exits {
                            sl_points,
                            tp_points,
                            max_bars,
                        },
                    });
                }
            }
        }
    }
    batch
}

/// Sweeps `batch`, stopping strategy `i` after `stop_after(i)` trades, and returns each
/// strategy's trades and its open position.
fn swept(
    cols: &stratbox_engine::Columns,
    batch: &[Mvt],
    stop_after: impl Fn(usize) -> usize,
) -> Vec<(Vec<Trade>, Option<stratbox_engine::sim::OpenPosition>)> {
    let view = cols.view();
    let index = Mvt::build_index(&view, batch);
    let mut walkers: Vec<_> = batch
        .iter()
        .map(|s| Walker::new(s.entries(&index, &view)))
        .collect();
    let mut trades = vec![Vec::new(); batch.len()];
    let mut memo = ExitMemo::new(view.len());
    sweep(&view, SPREAD, &mut memo, &mut walkers, |i, t, _| {
        trades[i].push(*t);
        trades[i].len() < stop_after(i)
    });
    trades
        .into_iter()
        .zip(walkers)
        .map(|(t, w)| (t, w.cursor.open))
        .collect()
}

#[test]
fn swept_strategies_trade_exactly_as_when_run_alone() {
    let cols = walk(4 * SWEEP_WINDOW + 777, 11);
    let batch = strategies();
    let got = swept(&cols, &batch, |_| usize::MAX);
    let (mut crossing, mut open) = (0, 0);
    for (i, s) in batch.iter().enumerate() {
        let alone = replay(&cols.view(), s, SPREAD);
        assert!(
            !alone.trades.is_empty() || alone.open.is_some(),
            "strategy {i} never enters: a useless case"
        );
        assert_eq!(got[i].0, alone.trades, "strategy {i}: {s:?}");
        assert_eq!(got[i].1, alone.open, "strategy {i}: {s:?}");
        crossing += alone
            .trades
            .iter()
            .filter(|t| t.entry_bar / SWEEP_WINDOW != t.exit_bar / SWEEP_WINDOW)
            .count();
        open += alone.open.is_some() as usize;
    }
    // The cases this test is about really occur.
    assert!(crossing > 20, "only {crossing} trades cross a window");
    assert!(open > 0, "no position is open at the end");
}

#[test]
fn a_strategy_stopped_by_its_accounts_stops_alone_and_has_no_open_position() {
    let cols = walk(3 * SWEEP_WINDOW, 5);
    let batch = strategies();
    let got = swept(&cols, &batch, |i| if i == 0 { 3 } else { usize::MAX });
    let first = replay(&cols.view(), &batch[0], SPREAD);
    assert!(first.trades.len() > 3);
    assert_eq!(got[0].0, first.trades[..3]);
    assert_eq!(got[0].1, None);
    for (i, s) in batch.iter().enumerate().skip(1) {
        let alone = replay(&cols.view(), s, SPREAD);
        assert_eq!(got[i].0, alone.trades, "strategy {i}");
        assert_eq!(got[i].1, alone.open, "strategy {i}");
    }
}
