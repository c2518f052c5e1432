//! Ranking strategies by one metric at one lot size.
//!
//! Rows are ranked at a single lot size because most money metrics scale with it: ranked
//! together, every 1-lot row would outrank every 0.1-lot row and the top 10 would be three lot
//! sizes of the same few strategies. A minimum trade count keeps lucky strategies with three
//! trades out of the top. Rows whose metric is null (for example `profit_factor` without a
//! losing trade) are not ranked: the value is undefined, not infinitely good.

use std::fmt;
use std::str::FromStr;

use super::table::ResultsTable;

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// A metric strategies can be ranked by: a numeric column of SPEC section 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub better: Better,
}

/// The metrics `--rank-by` accepts, with the direction that counts as better.
pub const METRICS: &[Metric] = &[
    Metric {
        name: "net_pnl_usd",
        better: Better::Higher,
    },
    Metric {
        name: "return_pct",
        better: Better::Higher,
    },
    Metric {
        name: "profit_factor",
        better: Better::Higher,
    },
    Metric {
        name: "expectancy_usd",
        better: Better::Higher,
    },
    Metric {
        name: "win_rate",
        better: Better::Higher,
    },
    Metric {
        name: "gross_profit_usd",
        better: Better::Higher,
    },
    Metric {
        name: "gross_loss_usd",
        better: Better::Higher,
    },
    Metric {
        name: "n_trades",
        better: Better::Higher,
    },
    Metric {
        name: "max_drawdown_usd",
        better: Better::Lower,
    },
    Metric {
        name: "max_drawdown_pct",
        better: Better::Lower,
    },
];

/// The names of [`METRICS`], for help texts and errors.
pub fn metric_names() -> Vec<&'static str> {
    METRICS.iter().map(|m| m.name).collect()
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Metric, String> {
        METRICS.iter().copied().find(|m| m.name == s).ok_or_else(|| {
            format!(
                "unknown ranking metric {s:?}; one of: {}",
                metric_names().join(", ")
            )
        })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Metric {
    /// `a` ranks before `b`.
    pub fn cmp_values(&self, a: f64, b: f64) -> std::cmp::Ordering {
        match self.better {
            Better::Higher => b.total_cmp(&a),
            Better::Lower => a.total_cmp(&b),
        }
    }
}

/// How to rank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranking {
    pub metric: Metric,
    pub min_trades: u32,
    /// Lot size of the ranked rows; `None` picks one with [`choose_lots`].
    pub lots: Option<f64>,
}

/// The lot size to rank at: the requested one if the results have it; by default 0.1 lots
/// (a mini lot, the usual size for a 10,000 USD account) when present, else the smallest.
pub fn choose_lots(table: &ResultsTable, requested: Option<f64>) -> Result<f64, String> {
    let sizes = table.lot_sizes();
    let list = || sizes.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ");
    match requested {
        Some(l) if sizes.contains(&l) => Ok(l),
        Some(l) => Err(format!(
            "lot size {l} is not in {} (its lot sizes: {})",
            table.path.display(),
            list()
        )),
        None if sizes.contains(&0.1) => Ok(0.1),
        None => sizes
            .first()
            .copied()
            .ok_or_else(|| format!("{} has no rows", table.path.display())),
    }
}

/// Rows at `lots` with at least `min_trades` trades and a value of the metric, best first; ties
/// go to the lower strategy id so the order never depends on anything but the file.
pub fn ranked_rows(table: &ResultsTable, metric: Metric, min_trades: u32, lots: f64) -> Vec<usize> {
    let values = table
        .metric(metric.name)
        .expect("ranking metrics are result columns");
    let mut rows: Vec<usize> = table
        .rows_at(lots)
        .into_iter()
        .filter(|&r| table.n_trades(r) >= min_trades && values[r].is_some())
        .collect();
    rows.sort_by(|&a, &b| {
        metric
            .cmp_values(values[a].unwrap_or(0.0), values[b].unwrap_or(0.0))
            .then(table.strategy_id[a].cmp(&table.strategy_id[b]))
    });
    rows
}
