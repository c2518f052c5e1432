//! CLI glue for reading results: the summary after `discover`, `stratbox report`, `stratbox
//! trades`, and `discover --split`. The logic lives in [`stratbox::report`]; this file parses
//! flags, loads what is needed, prints, and maps errors to exit codes (2 for what the user must
//! fix, 1 when stratbox could not write its output).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use clap::builder::PossibleValuesParser;
use stratbox::data::{self, Bars, LoadReport};
use stratbox::grid::Grid;
use stratbox::report::ReportError;
use stratbox::report::charts::equity_curves;
use stratbox::report::html::{self, ReportInput};
use stratbox::report::rank::{Metric, Ranking, choose_lots, metric_names, ranked_rows};
use stratbox::report::replay::{Replayer, write_trades};
use stratbox::report::split::{
    self, compare, out_of_sample_sibling, parse_split, split_outputs, split_windows,
};
use stratbox::report::summary::render_text;
use stratbox::report::table::ResultsTable;
use stratbox::run::{self, Lines, Progress, Quiet, RunConfig, RunSummary};

use crate::{Failure, exit};

/// Ranking of the summary's top strategies.
#[derive(Debug, Clone, Args)]
pub struct RankArgs {
    /// Metric that ranks strategies in the summary and the report.
    #[arg(long, default_value = "net_pnl_usd", value_parser = PossibleValuesParser::new(metric_names()))]
    pub rank_by: String,
    /// Only strategies with at least this many trades are ranked.
    #[arg(long, default_value_t = 30)]
    pub min_trades: u32,
    /// How many strategies the summary lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Lot size whose rows are ranked (money metrics scale with it). Default: 0.1 if the run
    /// has it, else its smallest.
    #[arg(long)]
    pub rank_lots: Option<f64>,
}

impl RankArgs {
    fn ranking(&self) -> Ranking {
        Ranking {
            metric: self
                .rank_by
                .parse::<Metric>()
                .expect("clap accepts only known metrics"),
            min_trades: self.min_trades,
            lots: self.rank_lots,
        }
    }
}

/// The data to replay strategies on: the same flags as `discover`'s, default the bundled year.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Data files (one series, joined in time order); must be the run's. Default: the bundled
    /// 2018 EURUSD M1 year.
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    #[command(flatten)]
    pub read: crate::args::ReadFlags,
    /// Drop duplicated bars (keeping the first) and sort, as the run did with --repair.
    #[arg(long)]
    pub repair: bool,
}

impl DataArgs {
    /// Loads the bars; `Err` is the message for the user.
    fn load(&self) -> Result<(Bars, LoadReport), String> {
        let opts = self.read.load_options(self.repair)?;
        let paths = if self.data.is_empty() {
            vec![run::bundled_data()]
        } else {
            self.data.clone()
        };
        data::load(&paths, &opts).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A results file written by `discover`.
    pub results: PathBuf,
    /// The HTML file to write (default: next to the results, `.html`).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
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
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Grid TOML file (without --results). Default: the bundled MVT grid.
    #[arg(long, conflicts_with = "results")]
    pub grid: Option<PathBuf>,
    /// Spread in points (without --results; overrides the grid's costs).
    #[arg(long, conflicts_with = "results")]
    pub spread: Option<i64>,
    /// Commission in USD per lot per round turn (without --results; overrides the grid's).
    #[arg(long, conflicts_with = "results")]
    pub commission: Option<f64>,
    #[command(flatten)]
    pub data: DataArgs,
}

fn failure(e: ReportError) -> Failure {
    match e {
        ReportError::Input(m) => Failure::bad_input(m),
        ReportError::Output(message) => Failure {
            code: exit::FAILURE,
            message,
        },
    }
}

fn read_table(path: &Path) -> Result<ResultsTable, Failure> {
    ResultsTable::read(path).map_err(failure)
}

/// Printed after a successful `discover`: the counts and the top strategies.
pub fn after_discover(_cfg: &RunConfig, summary: &RunSummary, ranking: &RankArgs) -> Result<(), Failure> {
    let table = read_own(&summary.output)?;
    print_summary(&table, ranking);
    println!(
        "\nReport: stratbox report {}    Trades: stratbox trades --results {} --id ID -o trades.csv",
        summary.output.display(),
        summary.output.display()
    );
    Ok(())
}

/// Reads back a results file this process just wrote: failing to is stratbox's failure (exit
/// code 1), not bad input.
fn read_own(path: &Path) -> Result<ResultsTable, Failure> {
    ResultsTable::read(path).map_err(|e| Failure {
        code: exit::FAILURE,
        message: e.to_string(),
    })
}

/// The counts and top of `table`. An unknown `--rank-lots` only warns here: the run is done and
/// its file written, so the summary falls back to the default lot size rather than failing.
fn print_summary(table: &ResultsTable, ranking: &RankArgs) -> f64 {
    let lots = choose_lots(table, ranking.rank_lots).unwrap_or_else(|e| {
        eprintln!("warning: --rank-lots: {e}; ranking at the default lot size");
        choose_lots(table, None).unwrap_or(0.0)
    });
    print!("{}", render_text(table, &ranking.ranking(), lots, ranking.top));
    lots
}

pub fn report(args: ReportArgs) -> Result<u8, Failure> {
    let t0 = Instant::now();
    let table = read_table(&args.results)?;
    let ranking = args.ranking.ranking();
    let lots = choose_lots(&table, ranking.lots).map_err(Failure::bad_input)?;
    let oos_path = args
        .out_of_sample
        .clone()
        .or_else(|| out_of_sample_sibling(&args.results).filter(|p| p.exists()));
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
    let curves = if args.curves == 0 {
        Err("none requested (--curves 0).".to_string())
    } else {
        args.data
            .load()
            .and_then(|(bars, loaded)| Replayer::from_results(&table, &bars, &loaded))
            .and_then(|replayer| {
                let rows = ranked_rows(&table, ranking.metric, ranking.min_trades, lots);
                equity_curves(&table, &replayer, &rows[..rows.len().min(args.curves)])
            })
    };
    if let Err(e) = &curves {
        eprintln!("warning: no equity curves: {e}");
    }
    if let Some(Err(e)) = &oos {
        eprintln!("warning: no out-of-sample comparison: {e}");
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.results.with_extension("html"));
    let page = html::render(&ReportInput {
        table: &table,
        ranking,
        lots,
        table_rows: args.table_rows,
        curves,
        oos,
    });
    html::write(&output, &page).map_err(failure)?;
    eprintln!(
        "report of {} ({} rows{}) in {:.2}s -> {}",
        args.results.display(),
        table.len(),
        oos_path
            .map(|p| format!(", out of sample {}", p.display()))
            .unwrap_or_default(),
        t0.elapsed().as_secs_f64(),
        output.display()
    );
    Ok(exit::OK)
}

pub fn trades(args: TradesArgs) -> Result<u8, Failure> {
    if !(args.lots.is_finite() && args.lots > 0.0) {
        return Err(Failure::bad_input(format!(
            "--lots {}: must be positive",
            args.lots
        )));
    }
    let (bars, loaded) = args.data.load().map_err(Failure::bad_input)?;
    let table = args.results.as_deref().map(read_table).transpose()?;
    let replayer = match &table {
        Some(t) => Replayer::from_results(t, &bars, &loaded),
        None => grid_for_trades(&args).and_then(|g| Replayer::from_grid(g, &bars)),
    }
    .map_err(Failure::bad_input)?;
    let (trades, row) = replayer.trades(args.id, args.lots).map_err(Failure::bad_input)?;
    if let Some(t) = &table
        && let Some(r) = t.find(args.id, args.lots)
        && (t.n_trades(r) != row.n_trades || t.net_pnl(r).to_bits() != row.net_pnl_usd.to_bits())
    {
        return Err(Failure {
            code: exit::FAILURE,
            message: format!(
                "replaying strategy {} at {} lots gives {} trades and net P&L {}, but {} says {} and {}",
                args.id,
                args.lots,
                row.n_trades,
                row.net_pnl_usd,
                t.path.display(),
                t.n_trades(r),
                t.net_pnl(r)
            ),
        });
    }
    let mut about = std::collections::BTreeMap::new();
    about.insert(
        "stratbox.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    about.insert("stratbox.trades.strategy_id".to_string(), args.id.to_string());
    about.insert("stratbox.trades.params".to_string(), replayer.describe(args.id));
    about.insert("stratbox.trades.lots".to_string(), args.lots.to_string());
    write_trades(&args.output, &trades, replayer.digits, &about).map_err(failure)?;
    let final_balance = trades
        .trades
        .last()
        .map(|t| t.balance_usd)
        .unwrap_or(trades.initial_balance);
    eprintln!(
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
        eprintln!(
            "open at the end of the data (not a trade): {} since {} at {}, marked at {}, open P&L {:.2} USD",
            o.side,
            run::iso_utc(o.entry_time),
            data::format_points(o.entry_points, replayer.digits),
            data::format_points(o.mark_points, replayer.digits),
            o.pnl_usd
        );
    }
    Ok(exit::OK)
}

/// The grid and costs of `trades` without a results file.
fn grid_for_trades(args: &TradesArgs) -> Result<Grid, String> {
    let mut grid = match &args.grid {
        Some(p) => Grid::from_file(p).map_err(|e| e.to_string())?,
        None => Grid::default_grid(),
    };
    if let Some(s) = args.spread {
        if s < 0 {
            return Err(format!("--spread {s}: must be >= 0 points"));
        }
        grid.costs.spread_points = s;
    }
    if let Some(c) = args.commission {
        if !(c >= 0.0 && c.is_finite()) {
            return Err(format!("--commission {c}: must be >= 0"));
        }
        grid.costs.commission_per_lot = c;
    }
    Ok(grid)
}

/// One half of a split run: runs it and prints its closing line; returns its exit code. Ctrl-C
/// stops it like any run (the shared stop flag), and the same command resumes.
fn run_half(label: &str, cfg: &RunConfig, quiet: bool) -> Result<u8, Failure> {
    let mut lines = Lines {
        out: std::io::stderr(),
    };
    let progress: &mut dyn Progress = if quiet { &mut Quiet } else { &mut lines };
    let summary = run::run_until(cfg, progress, &crate::STOP)?;
    let failed: u64 = summary.failures.iter().map(|f| f.len()).sum();
    eprintln!(
        "{label} done in {:.2}s | {} rows written | {} of {} strategies failed -> {}",
        summary.elapsed.as_secs_f64(),
        summary.rows_written,
        failed,
        summary.strategies,
        summary.output.display()
    );
    for f in &summary.failures {
        eprintln!("  {}..{}: {}", f.range.start, f.range.end, f.reason);
    }
    Ok(if failed > 0 { exit::PARTIAL } else { exit::OK })
}

/// `discover --split DATE`: the grid on the bars before DATE (in-sample) and from DATE on
/// (out-of-sample), written to `NAME.in.parquet` and `NAME.out.parquet` beside `--output`; then
/// the in-sample summary and how its top did out of sample.
pub fn discover_split(cfg: RunConfig, split: &str, ranking: &RankArgs, quiet: bool) -> Result<u8, Failure> {
    let at = parse_split(split).map_err(Failure::bad_input)?;
    // The split must fall inside the data; loading once here says so before any batch runs.
    let (bars, _) = run::load_data(&cfg)?;
    let (first, last) = match (bars.time.first(), bars.time.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ => return Err(Failure::bad_input("the data holds no bars")),
    };
    let (in_window, out_window) = split_windows(at, first, last).map_err(Failure::bad_input)?;
    drop(bars);
    let (in_path, out_path) = split_outputs(&cfg.output);
    let mut codes = Vec::new();
    for (label, window, path) in [
        ("In-sample", in_window, &in_path),
        ("Out-of-sample", out_window, &out_path),
    ] {
        eprintln!(
            "{label}: bars from {} to before {}",
            run::iso_utc(window.start),
            run::iso_utc(window.end)
        );
        let half = RunConfig {
            window: Some(window),
            output: path.clone(),
            ..cfg.clone()
        };
        codes.push(run_half(label, &half, quiet)?);
    }
    let in_table = read_own(&in_path)?;
    let out_table = read_own(&out_path)?;
    println!("In sample ({}):", in_path.display());
    let lots = print_summary(&in_table, ranking);
    let r = ranking.ranking();
    match compare(&in_table, &out_table, r.metric, r.min_trades, lots, ranking.top) {
        Ok(c) => print!("\n{}", split::render_text(&c)),
        Err(e) => eprintln!("warning: no out-of-sample comparison: {e}"),
    }
    println!(
        "\nReport: stratbox report {} (finds {} beside it)",
        in_path.display(),
        out_path.display()
    );
    Ok(codes.into_iter().max().unwrap_or(exit::OK))
}
