//! The second strategy family (guest/breakout), built by the normal build on the guest library,
//! run in the sandbox and checked against an independent, naive implementation of its rule.

use stratbox::grid::Grid;
use stratbox::run::Job;
use stratbox::sandbox::{Limits, Sandbox};
use stratbox_engine::metrics::summarise;
use stratbox_engine::sim::{Exits, Side, TradeLog, simulate};

use crate::common::{component, first_bars, year_columns};

#[test]
fn breakout_component_matches_a_naive_breakout_on_real_bars() {
    let grid = Grid::from_file(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grids/breakout.toml"))
        .unwrap();
    assert_eq!(grid.size(), 144);
    let bytes = component("breakout.wasm").bytes;
    let sandbox = Sandbox::new(&bytes, "breakout.wasm", Limits::default()).unwrap();
    assert!(
        stratbox::sandbox::books_daily(&bytes),
        "a component built on the guest library books daily P&L (protocol 4)"
    );
    let info = sandbox.info().clone();
    assert_eq!(info.name, "breakout");
    let order = grid.match_params(&info.params).unwrap();
    // Two months of real bars.
    let c = year_columns();
    let n = c.time.partition_point(|&t| t < 1_519_862_400); // 2018-03-01
    let cols = first_bars(n);
    let costs = grid.engine_costs(5);
    let job = Job::new(&grid, info.params.clone(), order, cols.view(), costs).with_daily_pnl(true);
    let range = 0..grid.size();
    let rows = job
        .check_reply(
            &range,
            &sandbox.run_batch(&job.encode(&range), None).unwrap().bytes,
            Vec::new(),
        )
        .unwrap();

    let names = grid.param_names();
    let at = |v: &[f64], name: &str| v[names.iter().position(|p| p == name).unwrap()];
    // The channels, recomputed from scratch for every bar (slow and obviously right).
    let mut channels = std::collections::HashMap::new();
    let mut trades = 0;
    for id in range {
        let v = grid.values(id);
        let (lookback, buffer) = (at(&v, "lookback") as usize, at(&v, "buffer_pips") as i64 * 10);
        let side = if at(&v, "direction") == 0.0 {
            Side::Long
        } else {
            Side::Short
        };
        let exits = Exits {
            sl_points: at(&v, "sl_pips") as i64 * 10,
            tp_points: at(&v, "tp_pips") as i64 * 10,
            max_bars: at(&v, "max_bars") as usize,
        };
        let (upper, lower): &(Vec<i64>, Vec<i64>) = channels.entry(lookback).or_insert_with(|| {
            (lookback..cols.len())
                .map(|i| {
                    (
                        *cols.high[i - lookback..i].iter().max().unwrap(),
                        *cols.low[i - lookback..i].iter().min().unwrap(),
                    )
                })
                .unzip()
        });
        // The rule, bar by bar.
        let signal = |i: usize| {
            i >= lookback
                && match side {
                    Side::Long => cols.close[i] > upper[i - lookback] + buffer,
                    Side::Short => cols.close[i] < lower[i - lookback] - buffer,
                }
        };
        let mut log = TradeLog::default();
        simulate(
            &cols.view(),
            0,
            |from| (from..cols.len()).find(|&i| signal(i)).map(|i| (i, side, exits)),
            &mut log,
        );
        trades += log.trades.len();
        for (k, &lots) in grid.lots.iter().enumerate() {
            let expected = summarise(id, &log, lots, &costs, &cols.time);
            assert_eq!(
                rows[id as usize * grid.lots.len() + k],
                expected,
                "strategy {id} at {lots} lots"
            );
        }
    }
    assert!(
        trades > 10_000,
        "the family must trade on two real months, got {trades}"
    );
}
