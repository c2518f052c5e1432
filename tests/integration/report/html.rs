//! `stratbox report`: the HTML file it writes (self-contained; the ranked table, heatmaps,
//! distribution and equity curves against the results file), read as text and JSON; no curves
//! on other data; a lot size the run lacks, refused.

use std::time::Duration;

use stratbox::Exit;

use super::{fixture, make_report, report_data, rows, s};
use crate::common::{stratbox, text};

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
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
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
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()));
    assert!(text(&o.stderr).contains("0.01, 0.1, 1"), "{}", text(&o.stderr));
}
