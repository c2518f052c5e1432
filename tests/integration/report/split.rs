//! `discover --split`: the in- and out-of-sample halves, their rank correlation (and the
//! Spearman coefficient itself, against hand-computed values), the report of a split run, and a
//! split date outside the data, refused.

use std::path::Path;

use stratbox::Exit;
use stratbox::report::stats::{ranks, spearman};
use stratbox::results::{self, keys};

use super::{report_data, rows, s, workdir};
use crate::common::{stratbox, text, year, year_slice};

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
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
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
    assert_eq!(o2.status.code(), Some(Exit::Ok.code()), "{}", text(&o2.stderr));
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
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
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
        assert_eq!(
            o.status.code(),
            Some(Exit::BadInput.code()),
            "{date}: {}",
            text(&o.stderr)
        );
        assert!(text(&o.stderr).contains(date), "{}", text(&o.stderr));
    }
    assert!(!dir.join("res.in.parquet").exists() && !dir.join("res.out.parquet").exists());
}
