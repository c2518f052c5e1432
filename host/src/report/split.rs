//! The overfitting guard: run the grid before a date (in-sample) and after it (out-of-sample),
//! then ask how the in-sample best did on data they were not chosen on.
//!
//! With thousands of strategies, the best in-sample are partly the luckiest. If their
//! out-of-sample results are no better than average, and the rank correlation between the two
//! periods is near zero, the ranking found noise. Both runs are ordinary runs restricted to a
//! bar window, written side by side: `results.parquet` -> `results.in.parquet` and
//! `results.out.parquet`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::results::keys;
use crate::util::time::iso_utc;

use super::rank::{Metric, ranked_rows};
use super::stats::spearman;
use super::table::ResultsTable;

/// Parses `--split`: `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS]` (UTC), as Unix seconds.
pub fn parse_split(text: &str) -> Result<i64, String> {
    let t = text.trim().trim_end_matches('Z');
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Ok(dt.and_utc().timestamp());
        }
    }
    Err(format!(
        "--split {text:?}: expected a UTC date YYYY-MM-DD (or YYYY-MM-DDTHH:MM)"
    ))
}

/// The in-sample and out-of-sample files of a split run whose `--output` is `output`:
/// `dir/name.parquet` -> `dir/name.in.parquet`, `dir/name.out.parquet`.
pub fn split_outputs(output: &Path) -> (PathBuf, PathBuf) {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    (
        output.with_file_name(format!("{stem}.in.parquet")),
        output.with_file_name(format!("{stem}.out.parquet")),
    )
}

/// The out-of-sample sibling of an in-sample file named as [`split_outputs`] names it.
pub fn out_of_sample_sibling(in_sample: &Path) -> Option<PathBuf> {
    let name = in_sample.file_name()?.to_str()?;
    let stem = name.strip_suffix(".in.parquet")?;
    Some(in_sample.with_file_name(format!("{stem}.out.parquet")))
}

/// The windows of a split at `split` of a series spanning `first..=last` (UTC seconds): bars
/// before the split, and bars from it on. Refuses a split that leaves either side empty.
pub fn split_windows(split: i64, first: i64, last: i64) -> Result<(Range<i64>, Range<i64>), String> {
    if split <= first || split > last {
        return Err(format!(
            "the split {} is not inside the data, which spans {} to {}",
            iso_utc(split),
            iso_utc(first),
            iso_utc(last)
        ));
    }
    Ok((first..split, split..last + 1))
}

/// One in-sample top strategy and how it did out of sample.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OosRow {
    pub strategy_id: u64,
    /// 1-based in-sample rank.
    pub in_rank: usize,
    pub in_value: f64,
    pub in_trades: u32,
    pub out_value: Option<f64>,
    pub out_trades: Option<u32>,
    /// 1-based rank of its out-of-sample value among every strategy at the lot size that has
    /// one out of sample (no minimum trade count: the out-of-sample period may be short).
    pub out_rank: Option<usize>,
    pub out_net_pnl_usd: Option<f64>,
}

/// The comparison of a split run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OosComparison {
    pub metric: &'static str,
    pub lots: f64,
    pub min_trades: u32,
    pub in_window: Option<String>,
    pub out_window: Option<String>,
    pub top: Vec<OosRow>,
    /// Strategies out of sample that have a value.
    pub out_ranked: usize,
    /// Spearman's rho between the in-sample and out-of-sample metric over every strategy
    /// ranked in sample (>= min_trades) that has a value out of sample, and their number.
    pub rho_all: Option<f64>,
    pub n_all: usize,
    /// The same over the in-sample top strategies only.
    pub rho_top: Option<f64>,
    /// Mean out-of-sample metric of the in-sample top, and of every strategy with a value.
    pub out_mean_top: Option<f64>,
    pub out_mean_all: Option<f64>,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Compares the in-sample top `top` (by `metric` at `lots`, >= `min_trades`) with the same
/// strategies out of sample. Refuses two files of different grids or data.
pub fn compare(
    in_sample: &ResultsTable,
    out_sample: &ResultsTable,
    metric: Metric,
    min_trades: u32,
    lots: f64,
    top: usize,
) -> Result<OosComparison, String> {
    for key in [keys::GRID, keys::DATA, keys::COMPONENT, keys::COSTS] {
        if in_sample.metadata.get(key) != out_sample.metadata.get(key) {
            return Err(format!(
                "{} and {} are not the two halves of one split run: their {key} differ",
                in_sample.path.display(),
                out_sample.path.display()
            ));
        }
    }
    let in_values = in_sample.metric(metric.name).expect("a result column");
    let out_values = out_sample.metric(metric.name).expect("a result column");
    let in_rows = ranked_rows(in_sample, metric, min_trades, lots);
    let out_rows = ranked_rows(out_sample, metric, 0, lots);
    let mut out_rank = std::collections::HashMap::new();
    for (k, &r) in out_rows.iter().enumerate() {
        out_rank.insert(out_sample.strategy_id[r], (k + 1, r));
    }
    let mut pairs_in = Vec::new();
    let mut pairs_out = Vec::new();
    let mut top_rows = Vec::new();
    for (k, &r) in in_rows.iter().enumerate() {
        let id = in_sample.strategy_id[r];
        let found = out_rank.get(&id).copied();
        let out_row = out_sample.find(id, lots);
        if let Some((_, o)) = found {
            pairs_in.push(in_values[r].expect("ranked rows have a value"));
            pairs_out.push(out_values[o].expect("ranked rows have a value"));
        }
        if k < top {
            top_rows.push(OosRow {
                strategy_id: id,
                in_rank: k + 1,
                in_value: in_values[r].expect("ranked rows have a value"),
                in_trades: in_sample.n_trades(r),
                out_value: out_row.and_then(|o| out_values[o]),
                out_trades: out_row.map(|o| out_sample.n_trades(o)),
                out_rank: found.map(|(rank, _)| rank),
                out_net_pnl_usd: out_row.map(|o| out_sample.net_pnl(o)),
            });
        }
    }
    let (top_in, top_out): (Vec<f64>, Vec<f64>) = top_rows
        .iter()
        .filter_map(|t| {
            t.out_value
                .filter(|_| t.out_rank.is_some())
                .map(|o| (t.in_value, o))
        })
        .unzip();
    let all_out: Vec<f64> = out_rows.iter().map(|&r| out_values[r].unwrap_or(0.0)).collect();
    Ok(OosComparison {
        metric: metric.name,
        lots,
        min_trades,
        in_window: in_sample.metadata.get(keys::WINDOW).cloned(),
        out_window: out_sample.metadata.get(keys::WINDOW).cloned(),
        out_ranked: out_rows.len(),
        rho_all: spearman(&pairs_in, &pairs_out),
        n_all: pairs_in.len(),
        rho_top: spearman(&top_in, &top_out),
        out_mean_top: mean(&top_out),
        out_mean_all: mean(&all_out),
        top: top_rows,
    })
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_else(|| "-".into())
}

/// The comparison as terminal text.
pub fn render_text(c: &OosComparison) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Out of sample ({}): the in-sample top {} by {} at {:?} lots",
        c.out_window.as_deref().unwrap_or("?"),
        c.top.len(),
        c.metric,
        c.lots
    );
    let header = [
        "in_rank",
        "id",
        "in_trades",
        "in_value",
        "out_trades",
        "out_value",
        "out_rank",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for t in &c.top {
        lines.push(vec![
            t.in_rank.to_string(),
            t.strategy_id.to_string(),
            t.in_trades.to_string(),
            format!("{:.4}", t.in_value),
            t.out_trades.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
            opt(t.out_value, 4),
            t.out_rank
                .map(|r| format!("{r}/{}", c.out_ranked))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    for l in &lines {
        let cells: Vec<String> = l.iter().zip(&widths).map(|(s, w)| format!("{s:>w$}")).collect();
        let _ = writeln!(out, "  {}", cells.join("  "));
    }
    let _ = writeln!(
        out,
        "Rank correlation in vs out of sample (Spearman): {} over {} strategies; {} over the top {}",
        opt(c.rho_all, 3),
        c.n_all,
        opt(c.rho_top, 3),
        c.top.len()
    );
    let _ = writeln!(
        out,
        "Mean out-of-sample {}: in-sample top {}, all strategies {}",
        c.metric,
        opt(c.out_mean_top, 4),
        opt(c.out_mean_all, 4)
    );
    out
}
