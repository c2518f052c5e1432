//! Any length of data in constant memory (protocol 6): a long series read a block at a time
//! gives the very files the whole-series engine gives, an instance needs the same memory for 1x
//! and 10x the data, and a memory cap too small for one window is refused before any batch.
//!
//! The long series are copies of the bundled year's January (31 days, ~31,000 bars), one per
//! year, relabelled 2009..2018 as a user's files from earlier years would be; a small memory
//! cap makes the blocks small (8 MiB: 8,192 bars), so that one January already spans several.

use std::path::{Path, PathBuf};

use stratbox::results::daily::daily_path;
use stratbox::run::{self, EngineKind, Quiet};

use crate::batching::config;
use crate::common::{stratbox, text, year_lines};

/// `years` HistData files, each the bundled January relabelled as one year, the last 2018.
fn januaries(dir: &Path, years: usize) -> Vec<PathBuf> {
    let january: Vec<&String> = year_lines().iter().filter(|l| l.starts_with("201801")).collect();
    assert!(january.len() > 30_000, "January has {} bars", january.len());
    (0..years)
        .map(|k| {
            let year = 2018 - (years - 1 - k);
            let path = dir.join(format!("DAT_ASCII_EURUSD_M1_{year}.csv"));
            let mut text = String::new();
            for line in &january {
                text.push_str(&year.to_string());
                text.push_str(&line[4..]);
                text.push('\n');
            }
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

/// A run of the default grid over `data` with the instance memory cap `memory_mib`.
fn run_over(
    data: &[PathBuf],
    out: &Path,
    engine: EngineKind,
    streamed: bool,
    memory_mib: usize,
) -> run::RunSummary {
    let mut cfg = config(&data[0], out, 500, 2, engine);
    cfg.data = data.to_vec();
    cfg.limits.memory_bytes = memory_mib << 20;
    // Without resident columns nothing streams: the whole-series engine, the baseline.
    cfg.resident_columns = streamed;
    let summary = run::run(&cfg, &mut Quiet).unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    summary
}

#[test]
fn a_long_series_read_a_block_at_a_time_gives_the_whole_series_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = januaries(dir.path(), 10);
    let whole = dir.path().join("whole.parquet");
    run_over(&data, &whole, EngineKind::Native, false, 512);
    for (engine, memory_mib) in [
        (EngineKind::Sandbox, 8),
        (EngineKind::Sandbox, 512),
        (EngineKind::Native, 8),
    ] {
        let out = dir.path().join(format!("{engine:?}-{memory_mib}.parquet"));
        let summary = run_over(&data, &out, engine, true, memory_mib);
        assert!(summary.rows_written == 4620 * 3);
        assert!(
            std::fs::read(&out).unwrap() == std::fs::read(&whole).unwrap(),
            "{engine:?} streamed under {memory_mib} MiB: the results differ from the whole series'"
        );
        assert!(
            std::fs::read(daily_path(&out)).unwrap() == std::fs::read(daily_path(&whole)).unwrap(),
            "{engine:?} streamed under {memory_mib} MiB: the daily file differs"
        );
    }
}

#[test]
fn an_instance_needs_the_same_memory_for_1x_and_10x_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = januaries(dir.path(), 10);
    let one = run_over(
        &data[9..],
        &dir.path().join("1x.parquet"),
        EngineKind::Sandbox,
        true,
        8,
    );
    let ten = run_over(
        &data,
        &dir.path().join("10x.parquet"),
        EngineKind::Sandbox,
        true,
        8,
    );
    assert!(one.peak_instance_memory > 0);
    // Flat, not equal to the page: the heap's high-water mark follows what one block holds (its
    // trades, its days, an exit searched further), which differs a little from block to block
    // (measured: 42 pages of 64 KiB for 1x, 44 for 10x).
    let (one, ten) = (one.peak_instance_memory, ten.peak_instance_memory);
    assert!(
        ten <= one + one / 8 && one <= ten + ten / 8,
        "instance memory {one} bytes for 1x the bars, {ten} for 10x"
    );
    // Whole series (copied in): ten times the bars take more than the cap streaming keeps to.
    let whole = run_over(
        &data,
        &dir.path().join("whole.parquet"),
        EngineKind::Sandbox,
        false,
        512,
    );
    assert!(
        whole.peak_instance_memory > 2 * ten,
        "whole series {} bytes, streamed {ten}",
        whole.peak_instance_memory
    );
}

#[test]
fn a_memory_cap_too_small_for_one_window_is_refused_before_any_batch() {
    let dir = tempfile::tempdir().unwrap();
    let data = januaries(dir.path(), 2);
    let out = dir.path().join("r.parquet");
    let o = stratbox(&[
        "discover",
        "--data",
        data[0].to_str().unwrap(),
        "--data",
        data[1].to_str().unwrap(),
        "--memory-mib",
        "4",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(
            "--memory-mib 4 is too small for a streamed batch: one window of 2048 bars needs about 5 MiB \
             of instance memory (raise --memory-mib to at least 5)"
        ),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists() && !daily_path(&out).exists(), "nothing is written");
    assert!(
        !text(&o.stderr).contains("strategies x"),
        "no run started: {}",
        text(&o.stderr)
    );
}
