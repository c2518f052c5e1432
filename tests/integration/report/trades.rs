//! `stratbox trades`: the trade list of one strategy, against the golden trade list, at ruin, in
//! Parquet, and replayed from a results file (which must match its data and strategy family).

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;
use stratbox::Exit;
use stratbox::results::{self, keys};

use super::{fixture, rows, s, workdir};
use crate::common::{shared, stratbox, text, year};

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
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
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
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
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
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
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
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()));
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
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()));
    let err = text(&o.stderr);
    assert!(
        err.contains("breakout") && err.contains("only the built-in mvt family"),
        "{err}"
    );
}
