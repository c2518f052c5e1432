//! Tests of what follows a run: the summary `discover` prints, `stratbox trades`, `stratbox
//! report` (the HTML it writes, and the page in a real browser) and `discover --split`.
//!
//! Expectations are computed here independently of `stratbox::report`: counts and rankings
//! straight from the Parquet columns, trades against the golden list of an independent SPEC
//! implementation, and the page in a real headless Chromium. This module holds what several of
//! them share: one run of the default grid (`fixture`), the reader of its columns and the report
//! helpers.

pub(crate) mod browser;
mod html;
mod split;
mod summary;
mod trades;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use polars::prelude::*;
use stratbox::Exit;
use stratbox::results;

use crate::common::{stratbox, text, year_slice};

/// A directory under the target dir that outlives the test (its files help when one fails).
fn workdir(name: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One `discover` of the default grid (4620 strategies x 3 lots, the full 13,860 rows) on the
/// first 20,000 bars of 2018, in the sandbox, ranked by profit factor: shared by the tests.
struct Fixture {
    dir: PathBuf,
    data: PathBuf,
    results: PathBuf,
    stdout: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = workdir("report-fixture");
        let data = year_slice(&dir, 20_000);
        let results = dir.join("results.parquet");
        let o = stratbox(&[
            "discover",
            "--data",
            s(&data),
            "--output",
            s(&results),
            "--rank-by",
            "profit_factor",
            "--min-trades",
            "40",
            "--top",
            "5",
            "--quiet",
        ]);
        assert_eq!(
            o.status.code(),
            Some(Exit::Ok.code()),
            "discover failed:\n{}",
            text(&o.stderr)
        );
        Fixture {
            dir,
            data,
            results,
            stdout: text(&o.stdout),
        }
    })
}

/// The columns of a results file the tests check against, read with polars directly.
struct Rows {
    id: Vec<u64>,
    lots: Vec<f64>,
    direction: Vec<String>,
    mom_th: Vec<f64>,
    vol_max: Vec<f64>,
    n_trades: Vec<u32>,
    net: Vec<f64>,
    max_dd: Vec<f64>,
    profit_factor: Vec<Option<f64>>,
    ruined: Vec<bool>,
}

fn rows(path: &Path) -> Rows {
    let (df, _) = results::read_parquet(path).unwrap();
    let f64s = |n: &str| -> Vec<Option<f64>> {
        df.column(n)
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect()
    };
    let dense = |n: &str| f64s(n).into_iter().map(Option::unwrap).collect::<Vec<f64>>();
    Rows {
        id: dense("strategy_id").into_iter().map(|x| x as u64).collect(),
        lots: dense("lots"),
        direction: df
            .column("direction")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap().to_string())
            .collect(),
        mom_th: dense("mom_th"),
        vol_max: dense("vol_max"),
        n_trades: dense("n_trades").into_iter().map(|x| x as u32).collect(),
        net: dense("net_pnl_usd"),
        max_dd: dense("max_drawdown_usd"),
        profit_factor: f64s("profit_factor"),
        ruined: df
            .column("ruined")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .map(Option::unwrap)
            .collect(),
    }
}

impl Rows {
    /// Row indices at `lots` with >= `min` trades and a value, best first by `value`, ties to
    /// the lower id.
    fn top(&self, lots: f64, min: u32, value: impl Fn(usize) -> Option<f64>) -> Vec<usize> {
        let mut r: Vec<usize> = (0..self.id.len())
            .filter(|&r| self.lots[r] == lots && self.n_trades[r] >= min && value(r).is_some())
            .collect();
        r.sort_by(|&a, &b| {
            value(b)
                .unwrap()
                .total_cmp(&value(a).unwrap())
                .then(self.id[a].cmp(&self.id[b]))
        });
        r
    }
}

/// The JSON the report's script draws from.
fn report_data(html: &str) -> serde_json::Value {
    let start = r#"<script type="application/json" id="report-data">"#;
    let json = html
        .split(start)
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    serde_json::from_str(json).unwrap()
}

fn make_report(f: &Fixture, name: &str, extra: &[&str]) -> (PathBuf, Output, Duration) {
    let out = f.dir.join(name);
    let mut args = vec!["report", s(&f.results), "--data", s(&f.data), "-o", s(&out)];
    args.extend_from_slice(extra);
    let t = Instant::now();
    let o = stratbox(&args);
    let elapsed = t.elapsed();
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    (out, o, elapsed)
}
