//! `report` and `trades`: reading a results file back for people. The logic lives in
//! [`stratbox::report`]; this file parses flags, loads what is needed and prints.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use stratbox::Exit;
use stratbox::data;
use stratbox::luck::{self, spa::SpaSettings, walkforward};
use stratbox::report::charts::equity_curves;
use stratbox::report::html::{self, ReportInput};
use stratbox::report::luck::LuckView;
use stratbox::report::rank::{Ranking, choose_lots, ranked_rows};
use stratbox::report::replay::{Replayer, write_trades};
use stratbox::report::split::{compare, out_of_sample_sibling};
use stratbox::report::summary::render_text;
use stratbox::report::table::ResultsTable;
use stratbox::util::time::iso_utc;

use super::error::{Error, usage};
use super::flags::{CostFlags, DataArgs, RankArgs, WalkForwardArgs, load_grid};

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A results file written by `discover`.
    pub results: PathBuf,
    /// The HTML file to write (default: next to the results, `.html`).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub page: PageArgs,
}

/// What goes into a report page: `report`'s flags, shared with `serve`.
#[derive(Debug, Clone, Args)]
pub struct PageArgs {
    #[command(flatten)]
    pub ranking: RankArgs,
    /// Rows of the report's sortable table of top strategies.
    #[arg(long, default_value_t = 50)]
    pub table_rows: usize,
    /// Equity curves drawn: the top N strategies, replayed on the run's data (0: none).
    #[arg(long, default_value_t = 5)]
    pub curves: usize,
    /// The out-of-sample results of a split run. Default: for `NAME.in.parquet`, its sibling
    /// `NAME.out.parquet` when it exists.
    #[arg(long)]
    pub out_of_sample: Option<PathBuf>,
    /// Walk-forward shown in the report. Default: the one `discover --walk-forward` wrote
    /// beside the results (`<stem>.walkforward.csv`), if any.
    #[command(flatten)]
    pub walk_forward: WalkForwardArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TradesArgs {
    /// Strategy id in the grid.
    #[arg(long)]
    pub id: u64,
    /// Lot size of the account that takes the trades (P&L and balance columns).
    #[arg(long, default_value_t = 0.1)]
    pub lots: f64,
    /// Trade list to write: `.csv` or `.parquet`.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Replay the run behind this results file: its grid, costs and window, checked against its
    /// data digests and its row. Without it, the grid and costs come from the flags below.
    #[arg(long, conflicts_with_all = ["spread", "commission"])]
    pub results: Option<PathBuf>,
    /// Grid TOML file (without --results). Default: the bundled MVT grid.
    #[arg(long, conflicts_with = "results")]
    pub grid: Option<PathBuf>,
    /// Costs overriding the grid's (without --results).
    #[command(flatten)]
    pub costs: CostFlags,
    #[command(flatten)]
    pub data: DataArgs,
}

fn read_table(path: &Path) -> Result<ResultsTable, Error> {
    Ok(ResultsTable::read(path)?)
}

/// The counts and top of `table`. An unknown `--rank-lots` only warns here: the run is done and
/// its file written, so the summary falls back to the default lot size rather than failing.
pub fn print_summary(table: &ResultsTable, ranking: &RankArgs) -> f64 {
    if table.is_empty() {
        // Every strategy failed: there is nothing to rank, and no lot size to warn about.
        out!("{}", render_text(table, &ranking.ranking(), 0.0, ranking.top));
        return 0.0;
    }
    let lots = choose_lots(table, ranking.rank_lots).unwrap_or_else(|e| {
        errln!("warning: --rank-lots: {e}; ranking at the default lot size");
        choose_lots(table, None).unwrap_or(0.0)
    });
    out!("{}", render_text(table, &ranking.ranking(), lots, ranking.top));
    lots
}

/// The report page of the results file `results`, and the table it was made from. Warnings
/// (no curves, no out-of-sample comparison) go to stderr; the page says why too.
pub fn render_page(
    results: &Path,
    args: &PageArgs,
) -> Result<(ResultsTable, String, Option<PathBuf>), Error> {
    let table = read_table(results)?;
    let ranking = args.ranking.ranking();
    let lots = choose_lots(&table, ranking.lots).map_err(usage)?;
    let oos_path = args
        .out_of_sample
        .clone()
        .or_else(|| out_of_sample_sibling(results).filter(|p| p.exists()));
    let oos = match &oos_path {
        Some(p) => {
            let other = read_table(p)?;
            Some(compare(
                &table,
                &other,
                ranking.metric,
                ranking.min_trades,
                lots,
                args.ranking.top,
            ))
        }
        None => None,
    };
    let replayer = args
        .data
        .load()
        .and_then(|(bars, loaded)| Replayer::from_results(&table, &bars, &loaded));
    let curves = if args.curves == 0 {
        Err("none requested (--curves 0).".to_string())
    } else {
        replayer.as_ref().map_err(Clone::clone).and_then(|replayer| {
            let rows = ranked_rows(&table, ranking.metric, ranking.min_trades, lots);
            equity_curves(&table, replayer, &rows[..rows.len().min(args.curves)])
        })
    };
    let luck = luck_view(&table, &ranking, &args.walk_forward, replayer.as_ref().ok());
    if let Err(e) = &luck {
        errln!("warning: no \"Is it luck?\" section: {e}");
    }
    if let Err(e) = &curves {
        errln!("warning: no equity curves: {e}");
    }
    if let Some(Err(e)) = &oos {
        errln!("warning: no out-of-sample comparison: {e}");
    }
    let page = html::render(&ReportInput {
        table: &table,
        ranking,
        lots,
        table_rows: args.table_rows,
        curves,
        oos,
        luck,
    });
    Ok((table, page, oos_path))
}

pub fn report(args: &ReportArgs) -> Result<Exit, Error> {
    let t0 = Instant::now();
    let (table, page, oos_path) = render_page(&args.results, &args.page)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.results.with_extension("html"));
    html::write(&output, &page)?;
    errln!(
        "report of {} ({} rows{}) in {:.2}s -> {}",
        args.results.display(),
        table.len(),
        oos_path
            .map(|p| format!(", out of sample {}", p.display()))
            .unwrap_or_default(),
        t0.elapsed().as_secs_f64(),
        output.display()
    );
    Ok(Exit::Ok)
}

/// The "Is it luck?" section's numbers: the same as `stratbox luck`, with the Monte Carlo when
/// the run's data could be replayed and the walk-forward of `--walk-forward`, or else the one
/// `discover --walk-forward` wrote beside the results.
fn luck_view(
    table: &ResultsTable,
    ranking: &Ranking,
    wf: &WalkForwardArgs,
    replayer: Option<&Replayer>,
) -> Result<LuckView, String> {
    let results = &table.path;
    let daily = luck::daily_of(table).map_err(|e| e.to_string())?;
    let (trials, ranked) = luck::trials(table, &daily, ranking).map_err(|e| e.to_string())?;
    let top: Vec<u64> = ranked.iter().map(|&r| table.strategy_id[r]).collect();
    let mut view = luck::analyse(&trials, &top, &SpaSettings::default());
    if let (Some(r), Some(&best)) = (replayer, top.first()) {
        match luck::monte_carlo(r, best, &table.lot_sizes()) {
            Ok(bands) => view.montecarlo = bands,
            Err(e) => errln!("warning: no Monte Carlo of the trade order: {e}"),
        }
    }
    let settings = wf.walk_forward.map(|w| (w, wf.wf_min_trades)).or_else(|| {
        std::fs::read_to_string(walkforward::csv_path(results))
            .ok()
            .and_then(|text| walkforward::settings_of_csv(&text))
    });
    let walk_forward = match settings {
        Some((windows, min_trades)) => {
            let series = walkforward::series_from_daily(&daily, trials.lots).map_err(|e| e.to_string())?;
            let w = walkforward::walk_forward(&daily.calendar.days, &series, windows, min_trades).map_err(
                |e| {
                    luck::LuckError::WindowsTooLong {
                        daily: daily.path.clone(),
                        windows: e.windows,
                        months: e.months,
                    }
                    .to_string()
                },
            )?;
            let stitched = walkforward::stitched(&w, &daily.calendar.days, &series, top.first().copied());
            Some((w, stitched))
        }
        None => None,
    };
    Ok(LuckView {
        luck: view,
        walk_forward,
    })
}

pub fn trades(args: &TradesArgs) -> Result<Exit, Error> {
    if !(args.lots.is_finite() && args.lots > 0.0) {
        return Err(usage(format!("--lots {}: must be positive", args.lots)));
    }
    let (bars, loaded) = args.data.load().map_err(usage)?;
    let table = args.results.as_deref().map(read_table).transpose()?;
    let replayer = match &table {
        Some(t) => Replayer::from_results(t, &bars, &loaded),
        None => {
            let mut grid = load_grid(args.grid.as_deref())?;
            args.costs.apply(&mut grid)?;
            Replayer::from_grid(grid, &bars)
        }
    }
    .map_err(usage)?;
    let (trades, row) = replayer.trades(args.id, args.lots).map_err(usage)?;
    if let Some(t) = &table
        && let Some(r) = t.find(args.id, args.lots)
        && (t.n_trades(r) != row.n_trades || t.net_pnl(r).to_bits() != row.net_pnl_usd.to_bits())
    {
        return Err(Error::Internal(format!(
            "replaying strategy {} at {} lots gives {} trades and net P&L {}, but {} says {} and {}",
            args.id,
            args.lots,
            row.n_trades,
            row.net_pnl_usd,
            t.path.display(),
            t.n_trades(r),
            t.net_pnl(r)
        )));
    }
    let mut about = std::collections::BTreeMap::new();
    about.insert(
        "stratbox.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    about.insert("stratbox.trades.strategy_id".to_string(), args.id.to_string());
    about.insert("stratbox.trades.params".to_string(), replayer.describe(args.id));
    about.insert("stratbox.trades.lots".to_string(), args.lots.to_string());
    write_trades(&args.output, &trades, replayer.digits, &about)?;
    let final_balance = trades
        .trades
        .last()
        .map(|t| t.balance_usd)
        .unwrap_or(trades.initial_balance);
    errln!(
        "strategy {} ({}) at {} lots: {} trades, net P&L {:.2} USD, final balance {:.2} USD{} -> {}",
        args.id,
        replayer.describe(args.id),
        args.lots,
        trades.trades.len(),
        row.net_pnl_usd,
        final_balance,
        if trades.ruined {
            ", ruined (no trades after that)"
        } else {
            ""
        },
        args.output.display()
    );
    if let Some(o) = &trades.open {
        errln!(
            "open at the end of the data (not a trade): {} since {} at {}, marked at {}, open P&L {:.2} USD",
            o.side,
            iso_utc(o.entry_time),
            data::format_points(o.entry_points, replayer.digits),
            data::format_points(o.mark_points, replayer.digits),
            o.pnl_usd
        );
    }
    Ok(Exit::Ok)
}
