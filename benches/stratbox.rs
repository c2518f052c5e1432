//! Criterion benches on the bundled real year (372,607 bars). Run with `cargo bench` (or
//! `just bench`); data loading is in `data_load.rs`. Each group measures its subject next to a baseline in the same
//! run, because machines here are noisy: read ratios, not absolute times.
//!
//! - `batch`: one batch of the default size (500 strategies), native engine vs the same bytes
//!   through the sandbox, and through the sandbox with the columns in the component's memory
//!   image (protocol 3, the default).
//! - `sandbox_overhead`: an empty batch (instantiate + the columns in + decode + reply out)
//!   vs a full batch: the sandbox's fixed cost per batch, with the columns copied in and with
//!   them in the memory image.
//! - `engine`: one strategy natively (the engine alone, columns borrowed, no bytes decoded):
//!   strategy 0 of the default grid (the one with the most trades) and strategy 4619 (one of
//!   the fewest).
//! - `features`: SPEC section 2 on the year.
//! - `parquet`: building and writing the 13,860-row results file.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use stratbox::cache::Cache;
use stratbox::data::{self, LoadOptions};
use stratbox::grid::Grid;
use stratbox::results;
use stratbox::run::Job;
use stratbox::run::{self, ComponentSource};
use stratbox::sandbox::{Limits, Sandbox};
use stratbox_engine::{Mvt, Strategy};

fn year() -> data::Bars {
    data::load(&[run::bundled_data()], &LoadOptions::default())
        .expect("bundled year")
        .0
}

/// What the batch, engine and Parquet benches share: the year, the default grid, the year's
/// columns, and the MVT parameter names with their grid positions.
struct Setup {
    bars: data::Bars,
    grid: Grid,
    cols: stratbox_engine::Columns,
    names: Vec<String>,
    order: Vec<usize>,
}

fn setup() -> Setup {
    let bars = year();
    let grid = Grid::default_grid();
    let cols = stratbox::features::owned_columns(&bars, &grid.windows);
    let names: Vec<String> = Mvt::PARAMS.iter().map(|s| s.to_string()).collect();
    let order = grid.match_params(&names).unwrap();
    Setup {
        bars,
        grid,
        cols,
        names,
        order,
    }
}

fn batch(c: &mut Criterion) {
    let Setup {
        bars,
        grid,
        cols,
        names,
        order,
    } = setup();
    let costs = grid.engine_costs(bars.digits);
    let job = Job::new(&grid, names.clone(), order.clone(), cols.view(), costs);
    let bytes = ComponentSource::default_component().bytes;
    let sandbox = Sandbox::new(&bytes, "mvt", Limits::default()).unwrap();
    // The same component with the columns in its memory image (protocol 3, what `discover`
    // runs by default), and the inputs for it.
    let cache = tempfile::tempdir().unwrap();
    let mut imaged = Sandbox::new(&bytes, "mvt", Limits::default()).unwrap();
    let header = imaged
        .embed_columns(&bytes, &cols.view(), Some(&Cache::at(cache.path())))
        .unwrap();
    assert!(header.is_some(), "the built-in component reads resident columns");
    let image_job = Job::new(&grid, names, order, cols.view(), costs).with_resident_columns(header);
    // The default `--batch-size`: strategies 0-499, the heaviest batch of the default grid.
    let full = job.encode(&(0..500));
    let empty = job.encode(&(0..0));
    let (image_full, image_empty) = (image_job.encode(&(0..500)), image_job.encode(&(0..0)));

    let mut g = c.benchmark_group("batch");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("native_500", |b| {
        b.iter(|| stratbox_engine::run_batch_bytes::<Mvt>(black_box(&full)).unwrap())
    });
    g.bench_function("sandbox_500", |b| {
        b.iter(|| sandbox.run_batch(black_box(&full), None).unwrap())
    });
    g.bench_function("sandbox_image_500", |b| {
        b.iter(|| imaged.run_batch(black_box(&image_full), None).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("sandbox_overhead");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("empty_batch_sandbox", |b| {
        b.iter(|| sandbox.run_batch(black_box(&empty), None).unwrap())
    });
    g.bench_function("empty_batch_sandbox_image", |b| {
        b.iter(|| imaged.run_batch(black_box(&image_empty), None).unwrap())
    });
    g.bench_function("empty_batch_native", |b| {
        b.iter(|| stratbox_engine::run_batch_bytes::<Mvt>(black_box(&empty)).unwrap())
    });
    g.bench_function("encode_500", |b| b.iter(|| job.encode(black_box(&(0..500)))));
    g.finish();
}

fn features(c: &mut Criterion) {
    let bars = year();
    let mut g = c.benchmark_group("features");
    g.sample_size(20);
    g.bench_function("year", |b| {
        b.iter(|| stratbox::features::compute(black_box(&bars.close), &Default::default()))
    });
    g.finish();
}

fn parquet(c: &mut Criterion) {
    let Setup {
        bars,
        grid,
        cols,
        names,
        order,
    } = setup();
    let job = Job::new(
        &grid,
        names,
        order.clone(),
        cols.view(),
        grid.engine_costs(bars.digits),
    );
    let all = 0..grid.size();
    let rows = job
        .check_reply(
            &all,
            &stratbox_engine::run_batch_bytes::<Mvt>(&job.encode(&all)).unwrap(),
            Vec::new(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.parquet");
    let mut g = c.benchmark_group("parquet");
    g.sample_size(10);
    g.bench_function("write_13860_rows", |b| {
        b.iter(|| {
            let mut df = results::to_frame(&grid, &order, &rows, None).unwrap();
            results::write_parquet(&path, &mut df, &Default::default()).unwrap();
        })
    });
    g.finish();
}

fn engine(c: &mut Criterion) {
    use stratbox_engine::protocol::{BatchInput, PROTOCOL_VERSION, StrategyParams};
    let Setup {
        bars,
        grid,
        cols,
        names,
        order,
    } = setup();
    let input = |id: u64| {
        let values = grid.values(id);
        BatchInput {
            protocol: PROTOCOL_VERSION,
            reserved: 0,
            columns: cols.clone(),
            param_names: names.clone(),
            strategies: vec![StrategyParams {
                id,
                values: order.iter().map(|&p| values[p]).collect(),
            }],
            lots: grid.lots.clone(),
            costs: grid.engine_costs(bars.digits),
        }
    };
    let mut g = c.benchmark_group("engine");
    g.sample_size(20);
    for id in [0, 4619] {
        let one = input(id);
        g.bench_function(format!("one_strategy_native_{id}"), |b| {
            b.iter(|| stratbox_engine::run_batch::<Mvt>(black_box(&one)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, batch, engine, features, parquet);
criterion_main!(benches);
