//! A strategy's results never depend on batching or threads: the whole default grid on two
//! weeks of real bars gives byte-identical files for batch sizes 1, 7, 200 and 4620.

use std::path::Path;

use stratbox::cache::Cache;
use stratbox::data::LoadOptions;
use stratbox::grid::Grid;
use stratbox::results::daily::daily_path;
use stratbox::run::{self, ComponentSource, EngineKind, Quiet, RunConfig};
use stratbox::sandbox::Limits;

use crate::common::year_slice;

pub fn config(data: &Path, output: &Path, batch_size: u64, jobs: usize, engine: EngineKind) -> RunConfig {
    RunConfig {
        data: vec![data.to_owned()],
        load: LoadOptions::default(),
        grid: Grid::default_grid(),
        component: ComponentSource::default_component(),
        engine,
        limits: Limits {
            instances: jobs,
            ..Limits::default()
        },
        batch_size,
        range: None,
        window: None,
        shard: None,
        fresh: false,
        max_failures: None,
        cache: None,
        resident_columns: true,
        output: output.to_owned(),
    }
}

#[test]
fn identical_files_for_batch_sizes_1_7_200_4620_and_for_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let data = year_slice(dir.path(), 15_000);
    let mut files = Vec::new();
    let mut daily = Vec::new();
    for (batch_size, jobs) in [(4620, 1), (200, 2), (7, 2), (1, 2)] {
        let out = dir.path().join(format!("b{batch_size}.parquet"));
        let summary = run::run(
            &config(&data, &out, batch_size, jobs, EngineKind::Sandbox),
            &mut Quiet,
        )
        .unwrap();
        assert!(summary.failures.is_empty());
        assert_eq!(summary.rows_written, 4620 * 3);
        assert_eq!(summary.batches as u64, 4620u64.div_ceil(batch_size));
        files.push((batch_size, std::fs::read(&out).unwrap()));
        daily.push(std::fs::read(daily_path(&out)).unwrap());
    }
    for (batch_size, bytes) in &files[1..] {
        assert!(
            bytes == &files[0].1,
            "batch size {batch_size} gives a different file than 4620"
        );
    }
    for (k, bytes) in daily.iter().enumerate() {
        assert!(bytes == &daily[0], "the daily file of run {k} differs");
    }
    // The trusted native engine writes the very same file: same rows, same metadata.
    let out = dir.path().join("native.parquet");
    run::run(&config(&data, &out, 200, 2, EngineKind::Native), &mut Quiet).unwrap();
    assert!(
        std::fs::read(&out).unwrap() == files[0].1,
        "native and sandboxed files differ"
    );
    assert!(
        std::fs::read(daily_path(&out)).unwrap() == daily[0],
        "native daily file differs"
    );
    // So do the columns in the component's memory image instead of copied into each instance
    // (the runs above have no compile cache, so they copy).
    let out = dir.path().join("image.parquet");
    let mut cfg = config(&data, &out, 200, 2, EngineKind::Sandbox);
    cfg.cache = Some(Cache::at(dir.path().join("cache")));
    let summary = run::run(&cfg, &mut Quiet).unwrap();
    assert!(
        summary.phases.iter().any(|(phase, _)| *phase == "image"),
        "the columns did not go into the memory image: {:?}",
        summary.phases
    );
    assert!(
        std::fs::read(&out).unwrap() == files[0].1,
        "columns in the memory image give a different file"
    );
    assert!(
        std::fs::read(daily_path(&out)).unwrap() == daily[0],
        "image daily file differs"
    );
}
