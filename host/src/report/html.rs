//! The HTML report: one self-contained file that opens offline.
//!
//! Everything is inline: the CSS and the script (`report.css`, `report.js`, `hook.js` beside
//! this file, embedded at build time), the chart data as JSON, no fonts but the system's and no
//! external URL of any kind, so the file can be mailed, archived or opened on a plane. Tables
//! and text are written here as HTML, so the numbers read even with scripts off; the script
//! draws the charts on canvases (no SVG namespace URL needed) and makes the table sortable.
//! Each drawn chart is marked `data-drawn="<marks drawn>"`, and script errors are written into
//! `#errors`, which is how the headless-browser test knows the page works.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use super::ReportError;
use super::charts::{Curve, Heatmap, Histogram, heatmaps, pnl_histogram};
use super::luck::{LuckChart, LuckView};
use super::rank::{Better, Ranking, ranked_rows};
use super::split::OosComparison;
use super::summary::summarise;
use super::table::ResultsTable;
use crate::results::keys;

const CSS: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");
const HOOK: &str = include_str!("hook.js");

/// What goes into a report.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    pub table: &'a ResultsTable,
    pub ranking: Ranking,
    /// The lot size ranked and charted.
    pub lots: f64,
    /// Rows of the sortable table of top strategies.
    pub table_rows: usize,
    /// Equity curves of the top strategies, or why there are none.
    pub curves: Result<Vec<Curve>, String>,
    /// The out-of-sample comparison of a split run, or why it failed.
    pub oos: Option<Result<OosComparison, String>>,
    /// The "Is it luck?" section (SPEC section 7), or why it cannot be answered.
    pub luck: Result<LuckView, String>,
}

/// The JSON the script draws from.
#[derive(Serialize)]
struct ChartData<'a> {
    metric: &'a str,
    higher_is_better: bool,
    /// The value heatmap colours diverge around (0 for money, 1 for profit factor), if any.
    center: Option<f64>,
    lots: f64,
    min_trades: u32,
    heatmaps: Vec<Heatmap>,
    histogram: Histogram,
    curves: &'a [Curve],
    luck: Option<LuckChart>,
}

/// HTML-escapes text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that is safe inside a `<script>` element: no `<`, so no `</script>` or `<!--`.
fn script_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .expect("chart data serialises")
        .replace('<', "\\u003c")
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_else(|| "–".into())
}

/// A table cell sorted by `v` (numeric; empty sorts last).
pub(crate) fn num_cell(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(x) => format!("<td data-v=\"{x}\">{}</td>", fmt_opt(Some(x), decimals)),
        None => "<td data-v=\"\">–</td>".into(),
    }
}

fn center_of(metric: &str) -> Option<f64> {
    match metric {
        "net_pnl_usd" | "return_pct" | "expectancy_usd" => Some(0.0),
        "profit_factor" => Some(1.0),
        _ => None,
    }
}

/// Rounds money to cents for the page: the charts cannot show more, and it halves the file.
fn cents(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| (x * 100.0).round() / 100.0).collect()
}

fn summary_section(out: &mut String, input: &ReportInput) {
    let t = input.table;
    let s = summarise(t, None, input.ranking.min_trades);
    let _ = writeln!(out, "<section id=\"summary\"><h2>Summary</h2><p>");
    match (s.expected, s.failed) {
        (Some(e), Some(f)) => {
            let _ = write!(
                out,
                "<b>{e}</b> strategies: <b>{}</b> run, <b>{f}</b> failed, <b>{}</b> with no trades.",
                s.strategies, s.no_trades
            );
        }
        _ => {
            let _ = write!(
                out,
                "<b>{}</b> strategies run, <b>{}</b> with no trades.",
                s.strategies, s.no_trades
            );
        }
    }
    let _ = writeln!(
        out,
        "</p>\n<table class=\"counts\"><thead><tr><th>lots</th><th>rows</th><th>profitable</th><th>losing</th><th>ruined</th><th>&ge; {} trades</th></tr></thead><tbody>",
        input.ranking.min_trades
    );
    for c in &s.per_lots {
        let _ = writeln!(
            out,
            "<tr><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.lots, c.rows, c.profitable, c.losing, c.ruined, c.rankable
        );
    }
    let _ = writeln!(out, "</tbody></table></section>");
}

fn top_section(out: &mut String, input: &ReportInput) {
    let t = input.table;
    let r = &input.ranking;
    let rows = ranked_rows(t, r.metric, r.min_trades, input.lots);
    let shown = &rows[..rows.len().min(input.table_rows)];
    let _ = writeln!(
        out,
        "<section id=\"top\"><h2>Top {} strategies by {} at {} lots</h2><p class=\"note\">Of {} strategies with at least {} trades. Click a column to sort.</p>",
        shown.len(),
        esc(r.metric.name),
        input.lots,
        rows.len(),
        r.min_trades
    );
    let metrics: [(&str, &str, usize); 10] = [
        ("n_trades", "trades", 0),
        ("net_pnl_usd", "net P&amp;L $", 2),
        ("return_pct", "return %", 2),
        ("profit_factor", "profit factor", 3),
        ("win_rate", "win rate", 3),
        ("expectancy_usd", "expectancy $", 3),
        ("max_drawdown_usd", "max DD $", 2),
        ("max_drawdown_pct", "max DD %", 2),
        ("avg_bars_held", "bars held", 1),
        ("open_pnl_usd", "open P&amp;L $", 2),
    ];
    let _ = write!(
        out,
        "<table id=\"top-table\" class=\"sortable\"><thead><tr><th data-key=\"rank\">rank</th><th data-key=\"strategy_id\">id</th>"
    );
    for p in &t.params {
        let _ = write!(out, "<th data-key=\"{0}\">{0}</th>", esc(&p.name));
    }
    for (key, label, _) in &metrics {
        let _ = write!(out, "<th data-key=\"{key}\">{label}</th>");
    }
    let _ = writeln!(out, "<th data-key=\"ruined\">ruined</th></tr></thead><tbody>");
    for (k, &row) in shown.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td data-v=\"{0}\">{0}</td><td data-v=\"{1}\">{1}</td>",
            k + 1,
            t.strategy_id[row]
        );
        for p in &t.params {
            match p.number(row) {
                Some(x) => {
                    let _ = write!(out, "<td data-v=\"{x}\">{}</td>", esc(&p.text(row)));
                }
                None => {
                    let _ = write!(out, "<td>{}</td>", esc(&p.text(row)));
                }
            }
        }
        for (key, _, decimals) in &metrics {
            out.push_str(&num_cell(t.metric(key).expect("a result column")[row], *decimals));
        }
        let _ = writeln!(out, "<td>{}</td></tr>", if t.ruined[row] { "yes" } else { "" });
    }
    let _ = writeln!(out, "</tbody></table></section>");
}

fn oos_section(out: &mut String, oos: &Result<OosComparison, String>) {
    let _ = writeln!(out, "<section id=\"oos\"><h2>Out of sample</h2>");
    let c = match oos {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"warn\">No out-of-sample comparison: {}</p></section>",
                esc(e)
            );
            return;
        }
    };
    let _ = writeln!(
        out,
        "<p>In sample {}, out of sample {}. Spearman rank correlation of {} between the two: <b id=\"rho-all\">{}</b> over {} strategies (with &ge; {} trades in sample), <b>{}</b> over the in-sample top {}. Mean out-of-sample {}: in-sample top <b>{}</b>, all strategies <b>{}</b>.</p>",
        esc(c.in_window.as_deref().unwrap_or("?")),
        esc(c.out_window.as_deref().unwrap_or("?")),
        esc(c.metric),
        fmt_opt(c.rho_all, 3),
        c.n_all,
        c.min_trades,
        fmt_opt(c.rho_top, 3),
        c.top.len(),
        esc(c.metric),
        fmt_opt(c.out_mean_top, 4),
        fmt_opt(c.out_mean_all, 4)
    );
    let _ = writeln!(
        out,
        "<table id=\"oos-table\" class=\"sortable\"><thead><tr><th>in rank</th><th>id</th><th>in trades</th><th>in {0}</th><th>out trades</th><th>out {0}</th><th>out rank</th><th>out net P&amp;L $</th></tr></thead><tbody>",
        esc(c.metric)
    );
    for t in &c.top {
        let _ = write!(
            out,
            "<tr><td data-v=\"{0}\">{0}</td><td data-v=\"{1}\">{1}</td><td data-v=\"{2}\">{2}</td>",
            t.in_rank, t.strategy_id, t.in_trades
        );
        out.push_str(&num_cell(Some(t.in_value), 4));
        out.push_str(&num_cell(t.out_trades.map(f64::from), 0));
        out.push_str(&num_cell(t.out_value, 4));
        match t.out_rank {
            Some(r) => {
                let _ = write!(out, "<td data-v=\"{r}\">{r} / {}</td>", c.out_ranked);
            }
            None => out.push_str("<td data-v=\"\">–</td>"),
        }
        out.push_str(&num_cell(t.out_net_pnl_usd, 2));
        out.push_str("</tr>\n");
    }
    let _ = writeln!(out, "</tbody></table></section>");
}

fn run_facts(table: &ResultsTable) -> String {
    let m = &table.metadata;
    let mut facts = Vec::new();
    if let Some(s) = m.get(keys::SPAN) {
        facts.push(format!("data {}", esc(s)));
    }
    if let Some(w) = m.get(keys::WINDOW) {
        facts.push(format!("window {}", esc(w)));
    }
    if let Some(b) = m.get(keys::BARS) {
        facts.push(format!("{} bars", esc(b)));
    }
    if let Ok(files) = table.data_files() {
        let names: Vec<String> = files
            .iter()
            .map(|f| esc(f.file.as_deref().unwrap_or("?")))
            .collect();
        facts.push(names.join(", "));
    }
    if let Ok(g) = table.grid() {
        facts.push(format!("grid {} ({} strategies)", esc(&g.name), g.size()));
    }
    if let Ok(c) = table.component() {
        facts.push(format!("component {} {}", esc(&c.name), esc(&c.version)));
    }
    if let Ok(c) = table.costs() {
        facts.push(format!(
            "spread {} points, commission {} $/lot, balance {} $",
            c.spread_points, c.commission_per_lot, c.initial_balance
        ));
    }
    if let Some(v) = m.get(keys::VERSION) {
        facts.push(format!("stratbox {}", esc(v)));
    }
    facts.join(" · ")
}

/// The report as one HTML document.
pub fn render(input: &ReportInput) -> String {
    let t = input.table;
    let r = &input.ranking;
    let no_curves: Vec<Curve> = Vec::new();
    let curves = match &input.curves {
        Ok(c) => c
            .iter()
            .map(|c| Curve {
                balance: cents(&c.balance),
                drawdown: cents(&c.drawdown),
                ..c.clone()
            })
            .collect(),
        Err(_) => no_curves,
    };
    let data = ChartData {
        metric: r.metric.name,
        higher_is_better: r.metric.better == Better::Higher,
        center: center_of(r.metric.name),
        lots: input.lots,
        min_trades: r.min_trades,
        heatmaps: heatmaps(t, r.metric, r.min_trades, input.lots),
        histogram: pnl_histogram(t, input.lots, 40),
        curves: &curves,
        luck: input.luck.as_ref().ok().map(super::luck::chart),
    };
    let name = t
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::with_capacity(256 * 1024);
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<link rel=\"icon\" href=\"data:,\">\n<title>stratbox report: {}</title>\n<style>\n{CSS}</style>\n<script>\n{HOOK}</script>\n</head><body>",
        esc(&name)
    );
    let _ = writeln!(
        out,
        "<header><h1>stratbox report: {}</h1><p class=\"facts\">{}</p><p class=\"facts\">Ranked by <b>{}</b> ({} is better) at <b>{}</b> lots, strategies with at least <b>{}</b> trades.</p></header>\n<pre id=\"errors\"></pre>",
        esc(&name),
        run_facts(t),
        esc(r.metric.name),
        if r.metric.better == Better::Higher {
            "higher"
        } else {
            "lower"
        },
        input.lots,
        r.min_trades
    );
    summary_section(&mut out, input);
    top_section(&mut out, input);
    super::luck::section(&mut out, t, &input.luck);
    if let Some(oos) = &input.oos {
        oos_section(&mut out, oos);
    }
    let _ = writeln!(
        out,
        "<section id=\"heatmaps\"><h2>Parameter heatmaps</h2><p class=\"note\">Each cell: the best {} at {} lots over every strategy with that pair of values (other parameters free, &ge; {} trades). Grey: no such strategy. A bright region is robust; a lone bright cell is likely luck.</p><div id=\"heatmap-grid\"></div></section>",
        esc(r.metric.name),
        input.lots,
        r.min_trades
    );
    let _ = writeln!(
        out,
        "<section id=\"distribution\"><h2>Distribution of net P&amp;L at {} lots</h2><p class=\"note\">{} strategies with trades, {} profitable.</p><canvas id=\"histogram\" class=\"chart\" width=\"900\" height=\"300\"></canvas></section>",
        input.lots, data.histogram.n, data.histogram.profitable
    );
    let _ = writeln!(
        out,
        "<section id=\"equity\"><h2>Equity of the top strategies at {} lots</h2>",
        input.lots
    );
    match &input.curves {
        Ok(c) if !c.is_empty() => {
            let _ = writeln!(
                out,
                "<p class=\"note\">Closed-trade balance (replayed natively and checked against the results) and its drawdown from the running peak.</p><div id=\"equity-legend\"></div><canvas id=\"equity-chart\" class=\"chart\" width=\"900\" height=\"320\"></canvas><canvas id=\"drawdown-chart\" class=\"chart\" width=\"900\" height=\"160\"></canvas>"
            );
        }
        Ok(_) => {
            let _ = writeln!(
                out,
                "<p class=\"warn\" id=\"no-curves\">No equity curves: no strategy qualifies for the ranking.</p>"
            );
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"warn\" id=\"no-curves\">No equity curves: {}</p>",
                esc(e)
            );
        }
    }
    let _ = writeln!(out, "</section>");
    let _ = writeln!(
        out,
        "<div id=\"tooltip\" hidden></div>\n<script type=\"application/json\" id=\"report-data\">{}</script>\n<script>\n{SCRIPT}</script>\n</body></html>",
        script_json(&data)
    );
    out
}

/// Writes the report to `path` (atomically).
pub fn write(path: &Path, html: &str) -> Result<(), ReportError> {
    crate::util::fs::write_bytes_atomic(path, html.as_bytes())
        .map_err(|e| ReportError::Output(format!("cannot write {}: {e}", path.display())))
}
