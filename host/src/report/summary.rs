//! What a run found, in a few lines: how many strategies ran, failed, never traded, made or
//! lost money or ruined the account, and the best few by the ranking metric.
//!
//! Counts that depend on the lot size (profitable, ruined) are given per lot size: with a
//! 10,000 USD account, 1-lot trading ruins strategies that 0.01 lots survive.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::rank::{Ranking, ranked_rows};
use super::table::ResultsTable;

/// Counts at one lot size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LotCounts {
    pub lots: f64,
    pub rows: usize,
    /// Net P&L above zero.
    pub profitable: usize,
    /// Net P&L below zero.
    pub losing: usize,
    pub ruined: usize,
    /// Rows with at least the ranking's minimum trade count (the ones ranked).
    pub rankable: usize,
}

/// The counts of a results file.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Strategies the run was asked for (the grid, or a part's range), when known.
    pub expected: Option<u64>,
    /// Distinct strategies with rows.
    pub strategies: usize,
    /// Strategies asked for but without rows (their batches failed).
    pub failed: Option<u64>,
    /// Strategies that never entered a trade (at any lot size: no trade, no ruin).
    pub no_trades: usize,
    pub per_lots: Vec<LotCounts>,
}

/// Counts `table`; `expected` overrides the number of strategies the run was asked for.
pub fn summarise(table: &ResultsTable, expected: Option<u64>, min_trades: u32) -> Summary {
    let ids: BTreeSet<u64> = table.strategy_id.iter().copied().collect();
    let mut traded = BTreeSet::new();
    for r in 0..table.len() {
        if table.n_trades(r) > 0 {
            traded.insert(table.strategy_id[r]);
        }
    }
    let expected = expected.or_else(|| table.expected_strategies());
    let per_lots = table
        .lot_sizes()
        .into_iter()
        .map(|lots| {
            let rows = table.rows_at(lots);
            LotCounts {
                lots,
                rows: rows.len(),
                profitable: rows.iter().filter(|&&r| table.net_pnl(r) > 0.0).count(),
                losing: rows.iter().filter(|&&r| table.net_pnl(r) < 0.0).count(),
                ruined: rows.iter().filter(|&&r| table.ruined[r]).count(),
                rankable: rows.iter().filter(|&&r| table.n_trades(r) >= min_trades).count(),
            }
        })
        .collect();
    Summary {
        expected,
        strategies: ids.len(),
        failed: expected.map(|e| e.saturating_sub(ids.len() as u64)),
        no_trades: ids.len() - traded.len(),
        per_lots,
    }
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_else(|| "-".into())
}

/// The summary and the top `top` strategies as terminal text.
pub fn render_text(table: &ResultsTable, ranking: &Ranking, lots: f64, top: usize) -> String {
    let s = summarise(table, None, ranking.min_trades);
    let mut out = String::new();
    let _ = match (s.expected, s.failed) {
        (Some(e), Some(f)) => writeln!(
            out,
            "{e} strategies: {} run, {f} failed, {} with no trades",
            s.strategies, s.no_trades
        ),
        _ => writeln!(
            out,
            "{} strategies run, {} with no trades",
            s.strategies, s.no_trades
        ),
    };
    for c in &s.per_lots {
        let _ = writeln!(
            out,
            "  at {:?} lots: {} profitable, {} losing, {} ruined, {} with >= {} trades",
            c.lots, c.profitable, c.losing, c.ruined, c.rankable, ranking.min_trades
        );
    }
    if table.is_empty() {
        let _ = writeln!(
            out,
            "\nNo strategy has rows (every one failed, see above): nothing to rank."
        );
        return out;
    }
    let rows = ranked_rows(table, ranking.metric, ranking.min_trades, lots);
    let shown = &rows[..rows.len().min(top)];
    let _ = writeln!(
        out,
        "\nTop {} by {} at {:?} lots (of {} with >= {} trades):",
        shown.len(),
        ranking.metric,
        lots,
        rows.len(),
        ranking.min_trades
    );
    if shown.is_empty() {
        let _ = writeln!(
            out,
            "  none: no strategy has {} trades at {lots:?} lots (lower --min-trades)",
            ranking.min_trades
        );
        return out;
    }
    let mut header: Vec<String> = vec!["rank".into(), "id".into()];
    header.extend(table.params.iter().map(|p| p.name.clone()));
    for h in [
        "trades",
        "net_pnl_usd",
        "return_pct",
        "profit_factor",
        "win_rate",
        "max_dd_pct",
    ] {
        header.push(h.into());
    }
    let extra = !matches!(
        ranking.metric.name,
        "net_pnl_usd" | "return_pct" | "profit_factor" | "win_rate" | "max_drawdown_pct" | "n_trades"
    );
    if extra {
        header.push(ranking.metric.name.into());
    }
    let mut lines: Vec<Vec<String>> = vec![header];
    let metric = |name: &str, r: usize| table.metric(name).expect("a result column")[r];
    for (i, &r) in shown.iter().enumerate() {
        let mut cells = vec![(i + 1).to_string(), table.strategy_id[r].to_string()];
        cells.extend(table.params.iter().map(|p| p.text(r)));
        cells.push(table.n_trades(r).to_string());
        cells.push(opt(metric("net_pnl_usd", r), 2));
        cells.push(opt(metric("return_pct", r), 2));
        cells.push(opt(metric("profit_factor", r), 3));
        cells.push(opt(metric("win_rate", r), 3));
        cells.push(opt(metric("max_drawdown_pct", r), 2));
        if extra {
            cells.push(opt(metric(ranking.metric.name, r), 4));
        }
        if table.ruined[r] {
            cells[1].push('!');
        }
        lines.push(cells);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    for l in &lines {
        let cells: Vec<String> = l.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        let _ = writeln!(out, "  {}", cells.join("  "));
    }
    if shown.iter().any(|&r| table.ruined[r]) {
        let _ = writeln!(out, "  (! = the account was ruined at this lot size)");
    }
    out
}
