//! Tests of the summary, `stratbox trades`, `stratbox report` and `discover --split`.
//!
//! Expectations are computed here independently of `stratbox::report`: counts and rankings
//! straight from the Parquet columns, trades against the golden list of an independent SPEC
//! implementation, and the page in a real headless Chromium.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use polars::prelude::*;
use stratbox::report::stats::{ranks, spearman};
use stratbox::results::{self, keys};

use crate::common::{shared, stratbox, text, year, year_slice};

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
        assert_eq!(o.status.code(), Some(0), "discover failed:\n{}", text(&o.stderr));
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

#[test]
fn spearman_matches_hand_computed_values() {
    // No ties: d = [-1, 1, -1, 1, 0], sum d^2 = 4, rho = 1 - 6*4 / (5*24) = 0.8.
    let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap();
    assert!((rho - 0.8).abs() < 1e-12, "{rho}");
    // Ranks are what matters, not values: any monotone transform gives 1, a reversal -1.
    let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
    assert!(close(spearman(&[1.0, 5.0, 7.0], &[-3.0, 100.0, 1e9]), 1.0));
    assert!(close(
        spearman(&[1.0, 2.0, 3.0, 4.0], &[9.0, 8.0, 1.0, 0.5]),
        -1.0
    ));
    // Ties share their mean rank: x ranks [1, 2.5, 2.5, 4]; Pearson of those with [1, 2, 3, 4]
    // is 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
    assert_eq!(ranks(&[10.0, 20.0, 20.0, 30.0]), vec![1.0, 2.5, 2.5, 4.0]);
    let rho = spearman(&[10.0, 20.0, 20.0, 30.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert!((rho - 3.0 / 10f64.sqrt()).abs() < 1e-12, "{rho}");
    // Undefined, not zero: a constant side or fewer than two pairs.
    assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    assert_eq!(spearman(&[1.0], &[2.0]), None);
}

#[test]
fn summary_after_discover_counts_and_ranks_like_the_file() {
    let f = fixture();
    let r = rows(&f.results);
    let out = &f.stdout;
    let ids: BTreeSet<u64> = r.id.iter().copied().collect();
    let traded: BTreeSet<u64> = (0..r.id.len())
        .filter(|&k| r.n_trades[k] > 0)
        .map(|k| r.id[k])
        .collect();
    assert_eq!(ids.len(), 4620);
    let expected = format!(
        "4620 strategies: 4620 run, 0 failed, {} with no trades",
        ids.len() - traded.len()
    );
    assert!(out.contains(&expected), "lacks {expected:?}:\n{out}");
    for lots in [0.01, 0.1, 1.0] {
        let at: Vec<usize> = (0..r.id.len()).filter(|&k| r.lots[k] == lots).collect();
        let line = format!(
            "at {lots:?} lots: {} profitable, {} losing, {} ruined, {} with >= 40 trades",
            at.iter().filter(|&&k| r.net[k] > 0.0).count(),
            at.iter().filter(|&&k| r.net[k] < 0.0).count(),
            at.iter().filter(|&&k| r.ruined[k]).count(),
            at.iter().filter(|&&k| r.n_trades[k] >= 40).count(),
        );
        assert!(out.contains(&line), "lacks {line:?}:\n{out}");
    }
    // The top 5 by profit factor at the default 0.1 lots, >= 40 trades, in order.
    let top = r.top(0.1, 40, |k| r.profit_factor[k]);
    assert!(top.len() > 5);
    let header = format!(
        "Top 5 by profit_factor at 0.1 lots (of {} with >= 40 trades):",
        top.len()
    );
    let after = out
        .split(&header)
        .nth(1)
        .unwrap_or_else(|| panic!("lacks {header:?}:\n{out}"));
    let listed: Vec<u64> = after
        .lines()
        .skip(2)
        .take(5)
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .unwrap()
                .trim_end_matches('!')
                .parse()
                .unwrap()
        })
        .collect();
    let want: Vec<u64> = top[..5].iter().map(|&k| r.id[k]).collect();
    assert_eq!(listed, want, "{out}");
    // Each line carries the strategy's parameters: the best one's direction and trade count.
    let first = after.lines().nth(2).unwrap();
    assert!(
        first.contains(&r.direction[top[0]]) && first.contains(&format!(" {} ", r.n_trades[top[0]])),
        "{first}"
    );
}

#[test]
fn unknown_rank_metric_is_refused_before_anything_runs() {
    let dir = workdir("rank-refused");
    let out = dir.join("r.parquet");
    let o = stratbox(&["discover", "--rank-by", "sharpe", "--output", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("sharpe") && err.contains("net_pnl_usd") && err.contains("profit_factor"),
        "{err}"
    );
    assert!(!out.exists());
}

/// The rows of a CSV as maps from header to text.
fn csv(path: &Path) -> Vec<HashMap<String, String>> {
    crate::common::csv_rows(path)
}

/// HistData EST wall time `YYYYMMDDHHMMSS` as ISO UTC (EST is UTC-5 all year).
fn est_to_utc(t: &str) -> String {
    let naive = chrono::NaiveDateTime::parse_from_str(t, "%Y%m%d%H%M%S").unwrap();
    (naive + chrono::Duration::hours(5))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[test]
fn trades_of_strategy_0_match_the_golden_trade_list() {
    let dir = workdir("trades-golden");
    let out = dir.join("t0.csv");
    // Default data: the bundled 2018 year the golden files were computed on.
    let o = stratbox(&["trades", "--id", "0", "--lots", "0.1", "--output", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let ours = csv(&out);
    let golden: Vec<HashMap<String, String>> = csv(&shared("golden/trades-2018.csv"))
        .into_iter()
        .filter(|g| g["strategy_id"] == "0")
        .collect();
    assert_eq!(ours.len(), golden.len(), "trade count");
    assert_eq!(ours.len(), 3760);
    for (k, (t, g)) in ours.iter().zip(&golden).enumerate() {
        assert_eq!(t["trade"], (k + 1).to_string());
        assert_eq!(t["side"], "long");
        let ours = (
            &t["entry_bar"],
            &t["exit_bar"],
            t["entry_time_utc"].clone(),
            t["exit_time_utc"].clone(),
            &t["points"],
            &t["reason"],
        );
        let want = (
            &g["entry_bar"],
            &g["exit_bar"],
            est_to_utc(&g["entry_ts_est"]),
            est_to_utc(&g["exit_ts_est"]),
            &g["points"],
            &g["reason"],
        );
        assert_eq!(ours, want, "trade {}", k + 1);
        // Prices: points of the bundled bars at 5 digits; a long exits at `entry + points`.
        let entry: f64 = t["entry_price"].parse().unwrap();
        let exit: f64 = t["exit_price"].parse().unwrap();
        let points: i64 = t["points"].parse().unwrap();
        assert_eq!((exit * 1e5).round() as i64 - (entry * 1e5).round() as i64, points);
        let entry_bar: usize = t["entry_bar"].parse().unwrap();
        assert_eq!(
            (entry * 1e5).round() as i64,
            year().close[entry_bar],
            "a long fills at the close (spread 0)"
        );
    }
    // P&L summed in order from 0 is the golden net P&L of (0, 0.1 lots) to the bit; the balance
    // column ends at the initial balance plus it.
    let net: f64 = ours
        .iter()
        .map(|t| t["pnl_usd"].parse::<f64>().unwrap())
        .fold(0.0, |a, b| a + b);
    assert_eq!(net.to_bits(), (-473.90000000000094f64).to_bits(), "{net}");
    let last: f64 = ours.last().unwrap()["balance_usd"].parse().unwrap();
    assert!((last - (10_000.0 + net)).abs() < 1e-6, "{last}");
}

#[test]
fn trades_stop_at_ruin_and_write_parquet() {
    let dir = workdir("trades-ruin");
    let out = dir.join("t100.parquet");
    // Golden: strategy 100 at 1 lot is ruined after 2936 of its 4941 trades, net -10007.
    let o = stratbox(&["trades", "--id", "100", "--lots", "1.0", "--output", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("ruined"), "{}", text(&o.stderr));
    let df = ParquetReader::new(std::fs::File::open(&out).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height(), 2936);
    let balance: Vec<f64> = df
        .column("balance_usd")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert!(balance[..2935].iter().all(|&b| b > 0.0) && balance[2935] <= 0.0);
    let net = df
        .column("pnl_usd")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .fold(0.0, |a, b| a + b);
    assert_eq!(net, -10007.0);
    assert_eq!(
        df.column("entry_time_utc").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
    );
    let first = df
        .column("entry_time_utc")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .get(0)
        .unwrap();
    let entry_bar = df.column("entry_bar").unwrap().i64().unwrap().get(0).unwrap() as usize;
    assert_eq!(first, year().time[entry_bar] * 1000);
}

#[test]
fn trades_of_a_results_file_check_its_data_row_and_family() {
    let f = fixture();
    let r = rows(&f.results);
    let best = r.top(0.1, 40, |k| r.profit_factor[k])[0];
    let out = f.dir.join(format!("trades-{}.csv", r.id[best]));
    let id = r.id[best].to_string();
    let o = stratbox(&[
        "trades",
        "--results",
        s(&f.results),
        "--data",
        s(&f.data),
        "--id",
        &id,
        "--lots",
        "0.1",
        "-o",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let trades = csv(&out);
    assert_eq!(trades.len() as u32, r.n_trades[best]);
    let net = trades
        .iter()
        .map(|t| t["pnl_usd"].parse::<f64>().unwrap())
        .fold(0.0, |a, b| a + b);
    assert_eq!(net.to_bits(), r.net[best].to_bits());

    // Not the run's data (the default is the whole year): refused, saying why.
    let o = stratbox(&[
        "trades",
        "--results",
        s(&f.results),
        "--id",
        &id,
        "-o",
        s(&f.dir.join("x.csv")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("data differs"), "{}", text(&o.stderr));
    assert!(!f.dir.join("x.csv").exists());

    // Results of another strategy family cannot be replayed natively.
    let (mut df, mut meta) = results::read_parquet(&f.results).unwrap();
    meta.insert(
        keys::COMPONENT.into(),
        r#"{"name":"breakout","version":"1.0","params":["a","b"],"sha256":"00"}"#.into(),
    );
    let other = f.dir.join("other-family.parquet");
    results::write_parquet(&other, &mut df, &meta).unwrap();
    let o = stratbox(&[
        "trades",
        "--results",
        s(&other),
        "--data",
        s(&f.data),
        "--id",
        "1",
        "-o",
        s(&f.dir.join("y.csv")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("breakout") && err.contains("only the built-in mvt family"),
        "{err}"
    );
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
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    (out, o, elapsed)
}

#[test]
fn report_holds_summary_ranked_table_heatmaps_distribution_and_curves() {
    let f = fixture();
    let r = rows(&f.results);
    let (path, _, elapsed) = make_report(f, "report.html", &[]);
    // 13,860 rows, 20 heatmaps and 5 replays: well under the time of the run itself.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    let html = std::fs::read_to_string(&path).unwrap();
    // Self-contained: no URL of any kind, nothing loaded from elsewhere.
    assert!(
        !html.to_ascii_lowercase().contains("http"),
        "the report holds a URL"
    );
    assert!(!html.contains(" src=") && !html.contains("@import") && !html.contains("url("));

    // The table: default ranking (net P&L, >= 30 trades, 0.1 lots), 50 rows, in order.
    let want: Vec<String> = r.top(0.1, 30, |k| Some(r.net[k]))[..50]
        .iter()
        .map(|&k| r.id[k].to_string())
        .collect();
    let body = html
        .split(r#"<table id="top-table""#)
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    let got: Vec<String> = body
        .split("<tr>")
        .skip(2)
        .map(|row| {
            row.split("data-v=\"")
                .nth(2)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(got, want);

    let data = report_data(&html);
    // Heatmaps: every pair of the 5 numeric parameters that vary (10), per direction.
    let maps = data["heatmaps"].as_array().unwrap();
    assert_eq!(maps.len(), 20);
    let map = maps
        .iter()
        .find(|m| m["facet"] == "direction=long" && m["x"] == "mom_th" && m["y"] == "vol_max")
        .expect("mom_th x vol_max for longs");
    let xs: Vec<f64> = map["xs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    let ys: Vec<f64> = map["ys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!((xs.len(), ys.len()), (11, 7));
    let mut filled = 0;
    for (yi, &y) in ys.iter().enumerate() {
        for (xi, &x) in xs.iter().enumerate() {
            let best = (0..r.id.len())
                .filter(|&k| r.lots[k] == 0.1 && r.n_trades[k] >= 30 && r.direction[k] == "long")
                .filter(|&k| r.mom_th[k] == x && r.vol_max[k] == y)
                .map(|k| r.net[k])
                .max_by(f64::total_cmp);
            // serde_json's parser may miss the last bit of a float; the page's JSON.parse does not.
            let cell = map["cells"][yi][xi].as_f64();
            let same = match (cell, best) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                (a, b) => a == b,
            };
            assert!(same, "cell mom_th={x} vol_max={y}: {cell:?} vs {best:?}");
            filled += best.is_some() as usize;
        }
    }
    assert!(filled > 20, "{filled} cells");

    // Distribution: every strategy that traded at 0.1 lots, once.
    let counted: u64 = data["histogram"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    let traded = (0..r.id.len())
        .filter(|&k| r.lots[k] == 0.1 && r.n_trades[k] > 0)
        .count();
    assert_eq!(counted as usize, traded);

    // Curves: the top 5, each ending at 10,000 + its net P&L with its drawdown's trough.
    let curves = data["curves"].as_array().unwrap();
    assert_eq!(curves.len(), 5);
    for (c, &k) in curves.iter().zip(&r.top(0.1, 30, |k| Some(r.net[k]))) {
        assert_eq!(c["strategy_id"].as_u64(), Some(r.id[k]));
        let balance = c["balance"].as_array().unwrap();
        assert_eq!(
            balance.len() as u32,
            r.n_trades[k] + 1,
            "a point per trade plus the start"
        );
        assert_eq!(balance[0].as_f64(), Some(10_000.0));
        assert!((balance.last().unwrap().as_f64().unwrap() - (10_000.0 + r.net[k])).abs() < 0.006);
        let trough = c["drawdown"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .fold(0.0, f64::min);
        assert!(
            (trough + r.max_dd[k]).abs() < 0.006,
            "{trough} vs {}",
            r.max_dd[k]
        );
    }
}

#[test]
fn report_on_other_data_draws_no_curves_and_says_why() {
    let f = fixture();
    let out = f.dir.join("report-other-data.html");
    // No --data: the bundled year, not the run's 20,000 bars.
    let o = stratbox(&["report", s(&f.results), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("no equity curves"),
        "{}",
        text(&o.stderr)
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains(r#"id="no-curves""#) && html.contains("the data differs"));
    assert_eq!(report_data(&html)["curves"].as_array().unwrap().len(), 0);
    assert!(!html.contains(r#"id="equity-chart""#));
}

#[test]
fn report_refuses_a_lot_size_the_run_does_not_have() {
    let f = fixture();
    let o = stratbox(&[
        "report",
        s(&f.results),
        "--rank-lots",
        "0.5",
        "-o",
        s(&f.dir.join("bad.html")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("0.01, 0.1, 1"), "{}", text(&o.stderr));
}

// ---- In a real browser ----

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium with `args` and a fresh profile; fails the test, saying how to fix
/// it, when Chromium is not installed (it must never pass silently without a browser).
fn chromium(args: &[&str]) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the report tests need a headless browser. Install it with \
         `apt-get update && apt-get install -y chromium` (.ci/run does)"
    );
    let profile = workdir("chromium-profile");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read both pipes on threads so a chatty browser cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        out_pipe.read_to_end(&mut b).map(|_| b)
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        err_pipe.read_to_end(&mut b).map(|_| b)
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_dir_all(&profile);
    Output {
        status,
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    }
}

fn url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

/// The DOM after the page's scripts ran, and the browser's console lines.
fn dump_dom(path: &Path) -> (String, Vec<String>) {
    let o = chromium(&["--dump-dom", &url(path)]);
    assert!(o.status.success(), "chromium failed: {}", text(&o.stderr));
    let console = text(&o.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (text(&o.stdout), console)
}

fn errors_in(dom: &str) -> String {
    dom.split(r#"<pre id="errors">"#)
        .nth(1)
        .unwrap()
        .split("</pre>")
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn report_loads_in_chromium_with_no_errors_and_draws_every_chart() {
    let f = fixture();
    let (path, _, _) = make_report(f, "browser.html", &[]);
    let (dom, console) = dump_dom(&path);
    assert!(console.is_empty(), "console output: {console:#?}");
    assert_eq!(errors_in(&dom), "", "script errors");
    // 20 heatmaps, the distribution, the equity and drawdown charts, each with marks on it.
    assert!(
        dom.contains(r#"data-charts="23""#),
        "charts drawn: {:?}",
        dom.split("data-charts=").nth(1).map(|s| &s[..8])
    );
    let marks: Vec<u64> = dom
        .split(r#"data-drawn=""#)
        .skip(1)
        .filter_map(|s| s.split('"').next().unwrap().parse().ok())
        .collect();
    assert_eq!(marks.len(), 23);
    assert!(marks.iter().all(|&m| m > 0), "{marks:?}");

    // The checks above would see a broken page: a script error shows in both channels.
    let html = std::fs::read_to_string(&path).unwrap();
    let broken = f.dir.join("broken.html");
    std::fs::write(
        &broken,
        html.replacen(
            "drawHistogram();\n  drawEquity();",
            "drawHistogram();\n  undefinedFunction();",
            1,
        ),
    )
    .unwrap();
    let (dom, console) = dump_dom(&broken);
    assert!(
        errors_in(&dom).contains("undefinedFunction"),
        "{}",
        errors_in(&dom)
    );
    assert!(
        console.iter().any(|l| l.contains("undefinedFunction")),
        "{console:?}"
    );
}

#[test]
fn top_table_sorts_when_a_header_is_clicked() {
    let f = fixture();
    let (path, _, _) = make_report(f, "sorting.html", &[]);
    // A page that loads the report in a frame, clicks the "trades" header twice and writes the
    // column it sees after each click into its own DOM.
    let harness = f.dir.join("sort-harness.html");
    std::fs::write(
        &harness,
        format!(
            r#"<!DOCTYPE html><html><body><pre id="out"></pre>
<iframe id="f" src="{}" style="width:1200px;height:400px"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {{
  var d = document.getElementById('f').contentDocument;
  var th = d.querySelector('#top-table th[data-key="n_trades"]');
  var col = Array.prototype.indexOf.call(th.parentNode.children, th);
  var read = function () {{
    return Array.prototype.map.call(d.querySelectorAll('#top-table tbody tr'), function (r) {{
      return r.cells[col].getAttribute('data-v');
    }}).join(',');
  }};
  th.click();
  var first = read() + ';' + th.getAttribute('aria-sort');
  th.click();
  document.getElementById('out').textContent = first + '|' + read() + ';' + th.getAttribute('aria-sort');
}});
</script></body></html>"#,
            path.file_name().unwrap().to_str().unwrap()
        ),
    )
    .unwrap();
    let o = chromium(&[
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
        "--dump-dom",
        &url(&harness),
    ]);
    let dom = text(&o.stdout);
    let out = dom
        .split(r#"<pre id="out">"#)
        .nth(1)
        .unwrap()
        .split("</pre>")
        .next()
        .unwrap();
    let (first, second) = out
        .split_once('|')
        .unwrap_or_else(|| panic!("harness saw nothing: {out:?}"));
    let parse = |s: &str| -> (Vec<u32>, String) {
        let (v, dir) = s.split_once(';').unwrap();
        (
            v.split(',').map(|x| x.parse().unwrap()).collect(),
            dir.to_string(),
        )
    };
    let (down, dir1) = parse(first);
    let (up, dir2) = parse(second);
    assert_eq!((dir1.as_str(), dir2.as_str()), ("descending", "ascending"));
    assert_eq!(down.len(), 50);
    assert!(down.windows(2).all(|w| w[0] >= w[1]), "{down:?}");
    let mut sorted = down.clone();
    sorted.reverse();
    assert_eq!(up, sorted);
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn heatmap_screenshot_shows_coloured_cells() {
    let f = fixture();
    // No table rows and no curves: the first heatmaps sit right under the summary, in view.
    let (path, _, _) = make_report(f, "screenshot.html", &["--table-rows", "0", "--curves", "0"]);
    let shot = f.dir.join("heatmaps.png");
    let o = chromium(&[
        "--window-size=1280,1400",
        &format!("--screenshot={}", shot.display()),
        &url(&path),
    ]);
    assert!(
        o.status.success() && shot.exists(),
        "no screenshot: {}",
        text(&o.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), (1280, 1400));

    // A probe page lays the report out again in a 1280 x 1400 frame to find where the first
    // heatmap is, decodes the screenshot with the browser itself (a data: image does not taint
    // a canvas) and, inside that rectangle, counts distinct colours and saturated pixels
    // (heatmap cells are coloured; text, grid lines and background are grey), and how many
    // pixels are those the report's script drew on that heatmap's canvas.
    let probe = f.dir.join("probe.html");
    std::fs::write(
        &probe,
        format!(
            r#"<!DOCTYPE html><html><body style="margin:0"><pre id="out"></pre>
<iframe id="f" src="{}" style="width:1280px;height:1400px;border:0"></iframe><script>
document.getElementById('f').addEventListener('load', function () {{
  var drawn = this.contentDocument.querySelector('#heatmap-0 canvas');
  var target = drawn.getBoundingClientRect();
  var img = new Image();
  img.onload = function () {{
    var c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    var g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    var x = Math.round(target.left), y = Math.round(target.top);
    var w = Math.round(target.width), h = Math.round(target.height);
    var p = g.getImageData(x, y, w, h).data;
    var q = drawn.getContext('2d').getImageData(0, 0, w, h).data;
    var colours = {{}}, saturated = 0, same = 0;
    for (var i = 0; i < p.length; i += 4) {{
      colours[(p[i] << 16) | (p[i + 1] << 8) | p[i + 2]] = 1;
      if (Math.max(p[i], p[i + 1], p[i + 2]) - Math.min(p[i], p[i + 1], p[i + 2]) > 40) saturated++;
      // The canvas over the white page: composite its (premultiplied-free) RGBA on white.
      var a = q[i + 3] / 255, d = 0;
      for (var k = 0; k < 3; k++) d = Math.max(d, Math.abs(p[i + k] - (q[i + k] * a + 255 * (1 - a))));
      if (d <= 8) same++;
    }}
    document.getElementById('out').textContent = [x, y, w, h, Object.keys(colours).length,
      (saturated / (w * h)).toFixed(4), (same / (w * h)).toFixed(4)].join(' ');
  }};
  img.src = 'data:image/png;base64,{}';
}});
</script></body></html>"#,
            path.file_name().unwrap().to_str().unwrap(),
            base64(&png)
        ),
    )
    .unwrap();
    let o = chromium(&[
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
        "--dump-dom",
        &url(&probe),
    ]);
    let dom = text(&o.stdout);
    let out = dom
        .split(r#"<pre id="out">"#)
        .nth(1)
        .unwrap()
        .split("</pre>")
        .next()
        .unwrap();
    let v: Vec<f64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert_eq!(v.len(), 7, "probe saw nothing: {out:?}");
    let (y, w, h, colours, saturated, same) = (v[1], v[2], v[3], v[4], v[5], v[6]);
    assert!(
        w > 200.0 && h > 150.0 && y + h <= 1400.0,
        "heatmap at {out}: not fully in the screenshot"
    );
    assert!(colours >= 20.0, "{colours} colours in the heatmap");
    assert!(saturated > 0.2, "only {saturated} of the heatmap is coloured");
    assert!(
        same > 0.95,
        "only {same} of the screenshot's heatmap is what the script drew"
    );
}

// ---- Split ----

const SMALL_GRID: &str = r#"
name = "small"
strategy = "mvt"
lots = [0.1, 1.0]
[[axes]]
params = ["mom_th"]
values = [0.0, 0.0001, 0.0003]
[[axes]]
params = ["vol_max"]
values = [0.0002, 0.0008, 0.0025]
[[axes]]
params = ["trend_th"]
values = [0, 3]
[[axes]]
params = ["sl_pips", "tp_pips"]
values = [[10, 10], [20, 40]]
[[axes]]
params = ["direction"]
values = ["long", "short"]
[[axes]]
params = ["max_bars"]
values = [48]
"#;

#[test]
fn split_runs_both_halves_and_compares_them() {
    let dir = workdir("split");
    let data = year_slice(&dir, 40_000);
    let grid = dir.join("small.toml");
    std::fs::write(&grid, SMALL_GRID).unwrap();
    // Split at the midnight (UTC) after bar 20,000.
    let day = year().time[20_000].div_euclid(86_400) + 1;
    let split = day * 86_400;
    let date = chrono::DateTime::from_timestamp(split, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let n_in = year().time[..40_000].partition_point(|&t| t < split);
    let output = dir.join("res.parquet");
    let run = |data: &Path, extra: &[&str]| {
        let mut a = vec![
            "discover",
            "--data",
            s(data),
            "--grid",
            s(&grid),
            "--engine",
            "native",
            "--quiet",
        ];
        a.extend_from_slice(extra);
        stratbox(&a)
    };
    let o = run(
        &data,
        &["--split", &date, "--min-trades", "5", "--output", s(&output)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let (in_path, out_path) = (dir.join("res.in.parquet"), dir.join("res.out.parquet"));
    assert!(!output.exists());
    let (df_in, meta_in) = results::read_parquet(&in_path).unwrap();
    let (_, meta_out) = results::read_parquet(&out_path).unwrap();
    assert_eq!(meta_in[keys::BARS], n_in.to_string());
    assert_eq!(meta_out[keys::BARS], (40_000 - n_in).to_string());
    assert!(
        meta_in[keys::WINDOW].ends_with(&format!("/{date}T00:00:00Z")),
        "{}",
        meta_in[keys::WINDOW]
    );
    assert!(
        meta_out[keys::WINDOW].starts_with(&format!("{date}T00:00:00Z/")),
        "{}",
        meta_out[keys::WINDOW]
    );

    // The in-sample half is exactly a run on a file holding only the bars before the split.
    let cut_dir = workdir("split-cut");
    let cut = year_slice(&cut_dir, n_in);
    let cut_out = cut_dir.join("cut.parquet");
    let o2 = run(&cut, &["--output", s(&cut_out)]);
    assert_eq!(o2.status.code(), Some(0), "{}", text(&o2.stderr));
    let (df_cut, _) = results::read_parquet(&cut_out).unwrap();
    assert!(
        df_in.equals_missing(&df_cut),
        "in-sample rows differ from a run on the cut file"
    );

    // The printed rank correlation: net P&L at 0.1 lots, strategies with >= 5 trades in sample.
    let (a, b) = (rows(&in_path), rows(&out_path));
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for k in (0..a.id.len()).filter(|&k| a.lots[k] == 0.1 && a.n_trades[k] >= 5) {
        let j = (0..b.id.len())
            .find(|&j| b.id[j] == a.id[k] && b.lots[j] == 0.1)
            .unwrap();
        x.push(a.net[k]);
        y.push(b.net[j]);
    }
    let rho = spearman(&x, &y).unwrap();
    let stdout = text(&o.stdout);
    let line = format!(
        "Rank correlation in vs out of sample (Spearman): {rho:.3} over {} strategies",
        x.len()
    );
    assert!(stdout.contains(&line), "lacks {line:?}:\n{stdout}");
    assert!(stdout.contains("Out of sample ("), "{stdout}");

    // The report of the in-sample file finds its out-of-sample sibling and shows the same.
    let html_path = dir.join("split.html");
    let o = stratbox(&[
        "report",
        s(&in_path),
        "--data",
        s(&data),
        "--min-trades",
        "5",
        "-o",
        s(&html_path),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        html.contains(&format!(
            r#"<b id="rho-all">{rho:.3}</b> over {} strategies"#,
            x.len()
        )),
        "no rank correlation in the report"
    );
    assert!(html.contains(r#"id="oos-table""#));
    // Its equity curves replay the in-sample window only, and match the file.
    assert_eq!(report_data(&html)["curves"].as_array().unwrap().len(), 5);
}

#[test]
fn split_outside_the_data_is_refused_before_running() {
    let dir = workdir("split-bad");
    let data = year_slice(&dir, 2_000);
    let output = dir.join("res.parquet");
    for date in ["2030-01-01", "2018-13-01"] {
        let o = stratbox(&[
            "discover",
            "--data",
            s(&data),
            "--split",
            date,
            "--output",
            s(&output),
            "--quiet",
        ]);
        assert_eq!(o.status.code(), Some(2), "{date}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains(date), "{}", text(&o.stderr));
    }
    assert!(!dir.join("res.in.parquet").exists() && !dir.join("res.out.parquet").exists());
}
