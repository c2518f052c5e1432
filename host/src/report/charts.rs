//! The numbers behind the report's charts, computed here so the page only draws them.
//!
//! - Heatmaps: for each pair of parameters that vary, the best value of the ranking metric over
//!   every strategy with that pair of values (the other parameters free), one map per value of
//!   each text parameter (long and short trade different markets). A lone bright cell in a dark
//!   map is a fluke; a bright region is a parameter choice that holds up.
//! - The distribution of net P&L of every strategy that traded.
//! - Equity curves: the closed-trade balance of the top strategies and its drawdown, from a
//!   native replay checked against the results row (trade count, net P&L and drawdown must be
//!   identical), so a curve is never drawn for a different run than the table's.

use std::collections::HashMap;

use serde::Serialize;

use super::rank::Metric;
use super::replay::{AccountTrades, Replayer};
use super::table::ResultsTable;

/// One heatmap: `cells[y][x]` is the best metric value over strategies with the x and y
/// parameter values (and the facet's text values); `None` where no strategy qualifies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Heatmap {
    /// The text parameters' values this map is restricted to, e.g. `direction=long`.
    pub facet: String,
    pub x: String,
    pub y: String,
    pub xs: Vec<String>,
    pub ys: Vec<String>,
    pub cells: Vec<Vec<Option<f64>>>,
    /// The strategy that holds each cell's best value.
    pub ids: Vec<Vec<Option<u64>>>,
}

/// Heatmaps of `metric` at `lots` over rows with at least `min_trades` trades.
pub fn heatmaps(table: &ResultsTable, metric: Metric, min_trades: u32, lots: f64) -> Vec<Heatmap> {
    let values = table.metric(metric.name).expect("a result column");
    let rows: Vec<usize> = table
        .rows_at(lots)
        .into_iter()
        .filter(|&r| table.n_trades(r) >= min_trades && values[r].is_some())
        .collect();
    let varying: Vec<usize> = (0..table.params.len())
        .filter(|&p| table.params[p].distinct().len() > 1)
        .collect();
    let axes: Vec<usize> = varying
        .iter()
        .copied()
        .filter(|&p| !table.params[p].is_text())
        .collect();
    let facets: Vec<usize> = varying
        .iter()
        .copied()
        .filter(|&p| table.params[p].is_text())
        .collect();
    let facet_of = |r: usize| -> String {
        facets
            .iter()
            .map(|&p| format!("{}={}", table.params[p].name, table.params[p].text(r)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut facet_keys: Vec<String> = table.rows_at(lots).into_iter().map(facet_of).collect();
    facet_keys.sort();
    facet_keys.dedup();
    let mut maps = Vec::new();
    for (i, &px) in axes.iter().enumerate() {
        for &py in &axes[i + 1..] {
            let (x, y) = (&table.params[px], &table.params[py]);
            let (xs, ys) = (x.distinct(), y.distinct());
            let xi: HashMap<&str, usize> = xs.iter().enumerate().map(|(k, v)| (v.as_str(), k)).collect();
            let yi: HashMap<&str, usize> = ys.iter().enumerate().map(|(k, v)| (v.as_str(), k)).collect();
            for facet in &facet_keys {
                let mut cells = vec![vec![None; xs.len()]; ys.len()];
                let mut ids = vec![vec![None; xs.len()]; ys.len()];
                for &r in rows.iter().filter(|&&r| facet_of(r) == *facet) {
                    let (cx, cy) = (xi[x.text(r).as_str()], yi[y.text(r).as_str()]);
                    let v = values[r].expect("filtered on a value");
                    let better = match cells[cy][cx] {
                        None => true,
                        Some(best) => metric.cmp_values(v, best).is_lt(),
                    };
                    if better {
                        cells[cy][cx] = Some(v);
                        ids[cy][cx] = Some(table.strategy_id[r]);
                    }
                }
                maps.push(Heatmap {
                    facet: facet.clone(),
                    x: x.name.clone(),
                    y: y.name.clone(),
                    xs: xs.clone(),
                    ys: ys.clone(),
                    cells,
                    ids,
                });
            }
        }
    }
    maps
}

/// Counts of net P&L in equal-width bins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    pub lots: f64,
    /// `counts.len() + 1` bin edges, ascending.
    pub edges: Vec<f64>,
    pub counts: Vec<u32>,
    /// Strategies counted (those with at least one trade), and how many made money.
    pub n: usize,
    pub profitable: usize,
}

/// `values` in `bins` equal bins from their least to their greatest: `bins + 1` edges and the
/// counts (both empty without values). A constant sample gets bins of total width 1 around it.
pub fn bins(values: &[f64], bins: usize) -> (Vec<f64>, Vec<u32>) {
    if values.is_empty() {
        return (vec![], vec![]);
    }
    let bins = bins.max(1);
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 0.5, lo + 0.5) };
    let width = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|k| lo + width * k as f64).collect();
    let mut counts = vec![0u32; bins];
    for &x in values {
        let k = (((x - lo) / width) as usize).min(bins - 1);
        counts[k] += 1;
    }
    (edges, counts)
}

/// The distribution of `net_pnl_usd` at `lots` over strategies with trades, in `bins` bins.
pub fn pnl_histogram(table: &ResultsTable, lots: f64, bins: usize) -> Histogram {
    let v: Vec<f64> = table
        .rows_at(lots)
        .into_iter()
        .filter(|&r| table.n_trades(r) > 0)
        .map(|r| table.net_pnl(r))
        .collect();
    let (edges, counts) = self::bins(&v, bins);
    Histogram {
        lots,
        edges,
        counts,
        n: v.len(),
        profitable: v.iter().filter(|&&x| x > 0.0).count(),
    }
}

/// The closed-trade balance of one strategy over time, and its drawdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    pub strategy_id: u64,
    pub rank: usize,
    pub lots: f64,
    /// Parameters as `name=value` text.
    pub label: String,
    /// UTC seconds: the first bar, then each trade's exit.
    pub time: Vec<i64>,
    pub balance: Vec<f64>,
    /// Balance minus its running peak (0 or negative), USD.
    pub drawdown: Vec<f64>,
    pub ruined: bool,
}

/// The curve of `trades`, starting at `start` (the first bar's time).
pub fn curve(trades: &AccountTrades, start: i64) -> (Vec<i64>, Vec<f64>, Vec<f64>) {
    let mut time = vec![start];
    let mut balance = vec![trades.initial_balance];
    for t in &trades.trades {
        time.push(t.exit_time);
        balance.push(t.balance_usd);
    }
    let mut peak = f64::NEG_INFINITY;
    let drawdown = balance
        .iter()
        .map(|&b| {
            peak = peak.max(b);
            b - peak
        })
        .collect();
    (time, balance, drawdown)
}

/// Equity curves of `rows` (ranked rows of `table`, best first), replayed by `replayer`.
/// Fails, naming the strategy, if a replay does not reproduce its row exactly.
pub fn equity_curves(
    table: &ResultsTable,
    replayer: &Replayer,
    rows: &[usize],
) -> Result<Vec<Curve>, String> {
    let start = replayer.columns.time.first().copied().unwrap_or(0);
    rows.iter()
        .enumerate()
        .map(|(k, &r)| {
            let (id, lots) = (table.strategy_id[r], table.lots[r]);
            let (trades, row) = replayer.trades(id, lots)?;
            let recorded = (
                table.n_trades(r),
                table.net_pnl(r).to_bits(),
                table.metric("max_drawdown_usd").expect("a result column")[r].map(f64::to_bits),
            );
            let replayed = (row.n_trades, row.net_pnl_usd.to_bits(), Some(row.max_drawdown_usd.to_bits()));
            if recorded != replayed {
                return Err(format!(
                    "replaying strategy {id} at {lots} lots gives {} trades and net P&L {}, the results say {} and {}",
                    row.n_trades,
                    row.net_pnl_usd,
                    table.n_trades(r),
                    table.net_pnl(r)
                ));
            }
            let (time, balance, drawdown) = curve(&trades, start);
            Ok(Curve {
                strategy_id: id,
                rank: k + 1,
                lots,
                label: replayer.describe(id),
                time,
                balance,
                drawdown,
                ruined: trades.ruined,
            })
        })
        .collect()
}
