//! The report's "Is it luck?" section (SPEC section 7): the verdict in one sentence, then each
//! statistic with what it means for a trader's money: the deflated Sharpe ratio of the top
//! strategies, the distribution of PBO's logits, the reality check, the Monte Carlo drawdown
//! bands of the best strategy, and the walk-forward with its stitched out-of-sample equity
//! next to the hindsight best's.
//!
//! The numbers are computed by [`crate::luck`] (the same code as `stratbox luck`); this file
//! only lays them out and gives the script what it draws.

use std::fmt::Write;

use serde::Serialize;

use super::charts::bins;
use super::html::{esc, num_cell};
use super::table::ResultsTable;
use crate::luck::walkforward::Stitched;
use crate::luck::{Luck, WalkForward, montecarlo};

/// What the section shows.
#[derive(Debug, Clone)]
pub struct LuckView {
    pub luck: Luck,
    /// The walk-forward and its stitched equity, when one was asked for (or written by
    /// `discover --walk-forward` beside the results).
    pub walk_forward: Option<(WalkForward, Stitched)>,
}

/// The numbers the script draws.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LuckChart {
    lambda_edges: Vec<f64>,
    lambda_counts: Vec<u32>,
    bands: Vec<BandRow>,
    stitched: Option<StitchedChart>,
}

#[derive(Debug, Clone, Serialize)]
struct BandRow {
    lots: f64,
    p5: f64,
    p50: f64,
    p95: f64,
    actual: f64,
    ruined: f64,
}

#[derive(Debug, Clone, Serialize)]
struct StitchedChart {
    /// Unix seconds of each day's start.
    time: Vec<i64>,
    oos: Vec<f64>,
    hindsight: Vec<f64>,
    hindsight_id: Option<u64>,
}

/// Bins of the lambda histogram.
const LAMBDA_BINS: usize = 30;

pub(crate) fn chart(view: &LuckView) -> LuckChart {
    let (lambda_edges, lambda_counts) = bins(&view.luck.pbo.lambdas, LAMBDA_BINS);
    LuckChart {
        lambda_edges,
        lambda_counts,
        bands: view
            .luck
            .montecarlo
            .iter()
            .map(|b| BandRow {
                lots: b.lots,
                p5: b.max_drawdown_usd[0],
                p50: b.max_drawdown_usd[1],
                p95: b.max_drawdown_usd[2],
                actual: b.actual_max_drawdown_usd,
                ruined: b.ruined,
            })
            .collect(),
        stitched: view.walk_forward.as_ref().map(|(_, s)| StitchedChart {
            time: s.days.iter().map(|&d| i64::from(d) * 86_400).collect(),
            oos: s.oos.clone(),
            hindsight: s.hindsight.clone(),
            hindsight_id: s.hindsight_id,
        }),
    }
}

/// The section, or why it is missing.
pub(crate) fn section(out: &mut String, table: &ResultsTable, view: &Result<LuckView, String>) {
    let _ = writeln!(out, "<section id=\"luck\"><h2>Is it luck?</h2>");
    let v = match view {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"warn\" id=\"no-luck\">Not answered: {}</p></section>",
                esc(e)
            );
            return;
        }
    };
    let l = &v.luck;
    let _ = writeln!(
        out,
        "<p id=\"luck-verdict\" class=\"verdict {}\">{}</p>",
        if l.stands_out() { "good" } else { "bad" },
        esc(&l.verdict())
    );
    let _ = writeln!(
        out,
        "<p class=\"note\">A grid of {} strategies over {} days always has a best one, even when none has an edge. The numbers below ask how much of the best one's record is skill and how much is the luck of having tried many.</p>",
        l.trials, l.days
    );
    dsr_table(out, table, l);
    let _ = writeln!(
        out,
        "<h3>Probability of backtest overfitting: <span id=\"pbo\">{:.1} %</span></h3><p>The days were cut into 16 blocks and every one of the 12,870 ways of taking 8 of them as the backtest and the other 8 as the future was tried. In <b>{:.1} %</b> of them the backtest's best strategy ranked in the lower half of the future, and in <b>{:.1} %</b> it lost money there. Around 50 % or more, choosing the top of the ranking is no better than choosing at random.</p><p class=\"note\">Each split's logit &lambda; of the best strategy's future rank (median {:.3}): right of 0 (blue) it stayed in the upper half, left of 0 (red) it fell to the lower half.</p><canvas id=\"lambda-histogram\" class=\"chart\" width=\"900\" height=\"240\"></canvas>",
        l.pbo.pbo * 100.0,
        l.pbo.pbo * 100.0,
        l.pbo.oos_loss * 100.0,
        l.pbo.median_lambda
    );
    let _ = writeln!(
        out,
        "<h3>Reality check: p = <span id=\"spa\">{:.3}</span></h3><p>Hansen's test for superior predictive ability: the chance that {} strategies which all make nothing on average would show a best at least this good (1,000 resamplings of the days in blocks). Below 0.05 the best strategy beats luck; here {}.</p>",
        l.spa_pvalue,
        l.trials,
        if l.spa_pvalue < 0.05 {
            "it does"
        } else {
            "it does not"
        }
    );
    bands_section(out, l);
    walk_forward_section(out, v);
    let _ = writeln!(out, "</section>");
}

fn dsr_table(out: &mut String, table: &ResultsTable, l: &Luck) {
    let _ = writeln!(
        out,
        "<h3>Deflated Sharpe ratio of the top strategies</h3><p>The probability that a strategy's true Sharpe ratio is above what the best of {} lucky strategies would show by chance, allowing for its skew and fat tails. 0.95 or more is significant.</p><table id=\"dsr-table\" class=\"sortable\"><thead><tr><th>rank</th><th>id</th><th>lots</th><th>Sharpe (annual)</th><th>DSR</th><th>significant</th><th class=\"params\">parameters</th></tr></thead><tbody>",
        l.trials
    );
    for (i, d) in l.dsr.iter().enumerate() {
        let params = table
            .find(d.strategy_id, d.lots)
            .map(|r| table.describe(r))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td data-v=\"{0}\">{0}</td><td data-v=\"{1}\">{1}</td><td data-v=\"{2}\">{2}</td>",
            i + 1,
            d.strategy_id,
            d.lots
        );
        out.push_str(&num_cell(Some(d.sharpe), 3));
        out.push_str(&num_cell(Some(d.dsr), 4));
        let _ = writeln!(
            out,
            "<td>{}</td><td class=\"params\">{}</td></tr>",
            if d.dsr >= 0.95 { "yes" } else { "no" },
            esc(&params)
        );
    }
    let _ = writeln!(out, "</tbody></table>");
}

fn bands_section(out: &mut String, l: &Luck) {
    let _ = writeln!(out, "<h3>Monte Carlo of the best strategy's trade order</h3>");
    let Some(best) = l.dsr.first().filter(|_| !l.montecarlo.is_empty()) else {
        let _ = writeln!(
            out,
            "<p class=\"warn\" id=\"no-bands\">No Monte Carlo: the best strategy's trades could not be replayed (the run's data is needed).</p>"
        );
        return;
    };
    let _ = writeln!(
        out,
        "<p>Strategy {}'s trades in {} random orders: the total is the same, the path is not. Each bar spans the largest drawdown in 5 % to 95 % of the orders (on its own scale, from 0), the tick is the median and the dot the real order. A real drawdown near the left end means the record was smoother than its trades make likely; near the right end, the real order was an unlucky one.</p><table id=\"bands-table\"><thead><tr><th>lots</th><th>trades</th><th>5 %</th><th>50 %</th><th>95 %</th><th>real order</th><th>ruined</th></tr></thead><tbody>",
        best.strategy_id,
        montecarlo::RESHUFFLES
    );
    for b in &l.montecarlo {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.2} $</td><td>{:.2} $</td><td>{:.2} $</td><td>{:.2} $</td><td>{:.1} %</td></tr>",
            b.lots,
            b.trades,
            b.max_drawdown_usd[0],
            b.max_drawdown_usd[1],
            b.max_drawdown_usd[2],
            b.actual_max_drawdown_usd,
            b.ruined * 100.0
        );
    }
    let _ = writeln!(
        out,
        "</tbody></table><canvas id=\"mc-bands\" class=\"chart\" width=\"900\" height=\"{}\"></canvas>",
        40 + 34 * l.montecarlo.len()
    );
}

fn walk_forward_section(out: &mut String, v: &LuckView) {
    let _ = writeln!(out, "<h3>Walk-forward</h3>");
    let Some((wf, stitched)) = &v.walk_forward else {
        let _ = writeln!(
            out,
            "<p class=\"note\" id=\"no-walk-forward\">No walk-forward: run <code>stratbox discover --walk-forward 6:1</code> (or <code>stratbox report --walk-forward 6:1</code>) to re-pick the best strategy every month from the 6 before and see what trading it blind would have earned.</p>"
        );
        return;
    };
    let (train, test) = (wf.windows.train, wf.windows.test);
    let _ = writeln!(
        out,
        "<p>Every {test} month(s), the strategy with the highest P&amp;L over the {train} months before was picked and traded blind for the next {test}. Stitched together, those blind months made <b id=\"wf-oos\">{:.2} $</b>; walk-forward efficiency (out-of-sample P&amp;L over the in-sample P&amp;L scaled to the same length) <b>{}</b>. Near 1 the backtest's edge carried over; near 0 or below it did not.</p>",
        wf.stitched_oos_usd,
        wf.efficiency
            .map_or("undefined".to_string(), |e| format!("{e:.2}"))
    );
    let _ = writeln!(
        out,
        "<table id=\"wf-table\"><thead><tr><th>fold</th><th>train</th><th>test</th><th>pick</th><th>in-sample $</th><th>out-of-sample $</th></tr></thead><tbody>"
    );
    for (k, f) in wf.folds.iter().enumerate() {
        let m = f.months();
        let _ = writeln!(
            out,
            "<tr><td>{k}</td><td>{} – {}</td><td>{} – {}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            m[0],
            m[1],
            m[2],
            m[3],
            f.pick_text(),
            f.in_sample_usd,
            f.out_of_sample_usd
        );
    }
    let _ = writeln!(
        out,
        "</tbody></table><p class=\"note\">Over the test months: the walk-forward's picks (blue) against strategy {} (grey), the best of the whole data, chosen knowing the future as a plain backtest does.</p><canvas id=\"wf-chart\" class=\"chart\" width=\"900\" height=\"280\"></canvas>",
        stitched.hindsight_id.map_or("–".to_string(), |id| id.to_string())
    );
}
