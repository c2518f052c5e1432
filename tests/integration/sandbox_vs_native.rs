//! The wasm guest and the native engine give byte-identical replies on real data.

use stratbox::grid::Grid;
use stratbox::run;
use stratbox::run::Job;
use stratbox::sandbox::{Limits, Sandbox};
use stratbox_engine::{Mvt, Strategy};

use crate::common::{component, first_bars, year_columns};

#[test]
fn wasm_and_native_replies_are_byte_identical_on_a_real_month() {
    // January 2018: the bars before 2018-02-01 00:00 UTC.
    let c = year_columns();
    let month = c.time.partition_point(|&t| t < 1_517_443_200);
    assert!(month > 25_000, "a month of minute bars, got {month}");
    let cols = first_bars(month);
    let grid = Grid::default_grid();
    let sandbox = Sandbox::new(&component("mvt.wasm").bytes, "mvt.wasm", Limits::default()).unwrap();
    assert_eq!(sandbox.info().params, Mvt::PARAMS);
    let order = grid.match_params(&sandbox.info().params).unwrap();
    let job = Job::new(
        &grid,
        sandbox.info().params.clone(),
        order,
        cols.view(),
        grid.engine_costs(5),
    );
    let mut trades = 0;
    // Long strategies, then short ones: 300 strategies, 900 rows.
    for range in [0..150, 2310..2460] {
        let input = job.encode(&range);
        let wasm = sandbox.run_batch(&input, None).unwrap();
        let native = stratbox_engine::run_batch_bytes::<Mvt>(&input).unwrap();
        assert_eq!(wasm.bytes, native, "replies differ for {range:?}");
        let rows = job.check_reply(&range, &wasm.bytes, Vec::new()).unwrap();
        trades += rows.iter().map(|r| r.n_trades as u64).sum::<u64>();
    }
    assert!(
        trades > 10_000,
        "the month must exercise real trades, got {trades}"
    );
}

#[test]
fn the_embedded_component_is_the_built_one() {
    assert_eq!(run::DEFAULT_COMPONENT, component("mvt.wasm").bytes.as_slice());
}
