//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use stratbox::data::{self, Bars, LoadOptions};
use stratbox::grid::Grid;
use stratbox::run::{self, ComponentSource};
use stratbox_engine::Columns;

/// A path under `../shared` (the contract, the real data, the golden files).
pub fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join(rel)
}

/// The bundled 2018 EURUSD M1 year, loaded once per test binary.
pub fn year() -> &'static Bars {
    static BARS: OnceLock<Bars> = OnceLock::new();
    BARS.get_or_init(|| {
        data::load(&[run::bundled_data()], &LoadOptions::default())
            .expect("the bundled year loads")
            .0
    })
}

/// Feature columns of the bundled year under the default grid.
pub fn year_columns() -> &'static Columns {
    static COLS: OnceLock<Columns> = OnceLock::new();
    COLS.get_or_init(|| stratbox::features::owned_columns(year(), &Grid::default_grid().windows))
}

/// The first `n` bars of the bundled year's columns.
pub fn first_bars(n: usize) -> Columns {
    let c = year_columns();
    Columns {
        time: c.time[..n].to_vec(),
        open: c.open[..n].to_vec(),
        high: c.high[..n].to_vec(),
        low: c.low[..n].to_vec(),
        close: c.close[..n].to_vec(),
        momentum: c.momentum[..n].to_vec(),
        volatility: c.volatility[..n].to_vec(),
        trend: c.trend[..n].to_vec(),
    }
}

/// The raw lines of the bundled HistData CSV (inside the zip), untouched by our parser.
pub fn year_lines() -> &'static Vec<String> {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(run::BUNDLED_DATA)).unwrap();
        let mut text = String::new();
        zip.by_index(0).unwrap().read_to_string(&mut text).unwrap();
        text.lines().map(str::to_string).collect()
    })
}

/// Writes the first `n` bars of the bundled year as a plain HistData CSV and returns its path.
pub fn year_slice(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join(format!("DAT_ASCII_EURUSD_M1_first{n}.csv"));
    let mut text = year_lines()[..n].join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    path
}

/// A component built by the build script, by file name (`mvt.wasm`, `hostile.wasm`).
pub fn component(name: &str) -> ComponentSource {
    let path = Path::new(run::COMPONENTS_DIR).join(name);
    ComponentSource {
        bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        origin: name.to_string(),
    }
}

/// Runs the `stratbox` binary with `args`.
pub fn stratbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stratbox"))
        .args(args)
        .output()
        .expect("the stratbox binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Rows of a simple CSV file (header line, no quoting) as maps from column name to text; blank
/// lines are skipped.
pub fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

/// The hostile test component (guest/hostile).
pub fn hostile() -> PathBuf {
    Path::new(run::COMPONENTS_DIR).join("hostile.wasm")
}

/// `stratbox discover` of the hostile component on `grid` and the year's first 2,000 bars, two
/// jobs, progress as lines, plus `extra` flags: its output, results path and wall time.
pub fn discover_hostile(dir: &Path, grid: &Path, extra: &[&str]) -> (Output, PathBuf, std::time::Duration) {
    let data = year_slice(dir, 2_000);
    let out = dir.join("out.parquet");
    let wasm = hostile();
    let mut args = vec![
        "discover",
        "--data",
        data.to_str().unwrap(),
        "--grid",
        grid.to_str().unwrap(),
        "--strategy",
        wasm.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--jobs",
        "2",
        "--progress",
        "lines",
    ];
    args.extend_from_slice(extra);
    let t = std::time::Instant::now();
    let o = stratbox(&args);
    (o, out, t.elapsed())
}
