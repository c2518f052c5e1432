//! `discover`, `batch` and `discover --split`: the flags of a run, their validation into a
//! [`RunConfig`], and what is printed after it.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use stratbox::Exit;
use stratbox::cache::Cache;
use stratbox::luck::{self, LuckError, WalkForward, Windows, spa::SpaSettings, walkforward};
use stratbox::report::rank::choose_lots;
use stratbox::report::split::{self, compare, parse_split, split_outputs, split_windows};
use stratbox::report::table::ResultsTable;
use stratbox::results::daily::Daily;
use stratbox::results::sidecar::failures_path;
use stratbox::run::{
    self, Bar, ComponentSource, EngineKind, Json, Lines, Progress, Quiet, RunConfig, RunSummary, Shard,
    summary_lines,
};
use stratbox::sandbox::Limits;
use stratbox::serve::{DEFAULT_ADDR, Live, LiveProgress, Server};
use stratbox::sys;
use stratbox::util::fs::write_bytes_atomic;
use stratbox::util::time::iso_utc;
use stratbox_engine::metrics::utc_day;

use super::error::{Error, usage};
use super::flags::{CostFlags, DataArgs, RankArgs, WalkForwardArgs, load_grid};
use super::reports::{PageArgs, print_summary};
use super::serve::{self, ServeFlags};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EngineArg {
    /// Every batch in a fresh WebAssembly instance (default).
    Sandbox,
    /// The same engine compiled into stratbox: trusted built-in strategies only; exists to
    /// measure the sandbox's cost.
    Native,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// A live bar on a terminal, per-batch lines otherwise.
    Auto,
    Bar,
    Lines,
    /// One JSON object per batch on stdout.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Grid TOML file. Default: the bundled MVT grid (4620 strategies x 3 lot sizes).
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// A backtester component (.wasm) of the stratbox:backtest world. Default: the built-in MVT one.
    #[arg(long)]
    pub strategy: Option<PathBuf>,
    /// Where batches run.
    #[arg(long, value_enum, default_value = "sandbox")]
    pub engine: EngineArg,
    /// Strategies per batch (each batch is one fresh sandbox instance).
    //
    // Why 500 and not the seed's 200: the strategies of a batch share their exits (see
    // `sim::ExitMemo`) and advance through the bars together (`sim::sweep`), so a batch of 500
    // does more with what it reads; with the columns copied into each instance it also paid a
    // fixed ~24 MB copy and reset per batch, and 385-770 measured 1.31-1.41 s end to end
    // against 1.52 s at 200. With the columns in the memory image (protocol 3) the fixed cost
    // is ~0.3 ms a batch. Results do not depend on it.
    #[arg(long, default_value_t = 500)]
    pub batch_size: u64,
    /// Batches run at once. Default: the number of cores.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Copy the columns into every sandbox instance (protocol 2) instead of compiling them once
    /// into the component's memory image (protocol 3, the default for components built with the
    /// guest SDK). Results are identical; this is slower per batch but skips the one compile per
    /// data set.
    #[arg(long)]
    pub copy_columns: bool,
    /// Linear memory cap per sandbox instance, MiB.
    #[arg(long, default_value_t = 512)]
    pub memory_mib: usize,
    /// Wall-clock deadline per batch, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub deadline_secs: f64,
    /// Instruction budget per batch (wasmtime fuel units); off by default.
    #[arg(long)]
    pub fuel: Option<u64>,
    /// Largest reply accepted from a batch, MiB.
    #[arg(long, default_value_t = 64)]
    pub reply_mib: usize,
    /// Cap on each of a guest's captured stdout and stderr, KiB.
    #[arg(long, default_value_t = 1024)]
    pub output_cap_kib: usize,
    /// Largest component accepted, MiB.
    #[arg(long, default_value_t = 64)]
    pub max_component_mib: usize,
    /// Longest compilation of the component accepted, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub compile_secs: f64,
    /// Do not read or write the caches (compiled components, parsed data).
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub costs: CostFlags,
    /// Results file.
    #[arg(long, short, default_value = "results/results.parquet")]
    pub output: PathBuf,
    /// Run only shard K of N (`K/N`, K from 0): batch i belongs to shard i % N. With `N` alone,
    /// K comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID.
    #[arg(long)]
    pub shard: Option<String>,
    /// Start over instead of resuming a checkpoint left by an earlier run of this output.
    #[arg(long)]
    pub fresh: bool,
    /// Stop the run once more than N strategies have failed in it (finished batches are kept).
    /// Off by default: a component that fails on every strategy is stopped anyway, after a few
    /// probes, and a few genuinely bad strategies should not end a run.
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u64>,
    /// Progress display: a live bar on a terminal and lines otherwise (auto), or forced.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressArg,
    /// Split the data at this date (UTC, `YYYY-MM-DD`): run in-sample (before) and out-of-sample
    /// (from it on), and show how the in-sample best did out of sample.
    #[arg(long)]
    pub split: Option<String>,
    #[command(flatten)]
    pub ranking: RankArgs,
    #[command(flatten)]
    pub walk_forward: WalkForwardArgs,
    /// Watch the run in a browser: serve a live page (and `/events`, server-sent events with
    /// the `--progress json` objects) on ADDR (default 127.0.0.1:8787), then the report and
    /// every row, until Ctrl-C.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_ADDR)]
    pub serve: Option<String>,
    #[command(flatten)]
    pub serve_flags: ServeFlags,
}

#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    /// First strategy id (inclusive).
    #[arg(long)]
    pub start: u64,
    /// Last strategy id (exclusive).
    #[arg(long)]
    pub end: u64,
    #[command(flatten)]
    pub run: RunArgs,
}

/// A positive, finite number of seconds.
fn seconds(flag: &str, value: f64) -> Result<Duration, Error> {
    if !(value > 0.0 && value.is_finite()) {
        return Err(usage(format!("{flag} {value}: must be positive")));
    }
    Ok(Duration::from_secs_f64(value))
}

impl RunArgs {
    /// Validates the flags into a run configuration (of strategies `range` only, for `batch`).
    pub fn to_config(&self, range: Option<Range<u64>>) -> Result<RunConfig, Error> {
        let mut grid = load_grid(self.grid.as_deref())?;
        self.costs.apply(&mut grid)?;
        if self.batch_size == 0 {
            return Err(usage("--batch-size must be at least 1"));
        }
        let jobs = match self.jobs {
            Some(0) => return Err(usage("--jobs must be at least 1")),
            Some(j) => j,
            None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        };
        let compile_time = seconds("--compile-secs", self.compile_secs)?;
        let deadline = seconds("--deadline-secs", self.deadline_secs)?;
        if self.memory_mib == 0 || self.memory_mib > 4096 {
            return Err(usage(format!(
                "--memory-mib {}: must be 1..=4096 (wasm32 addresses 4 GiB)",
                self.memory_mib
            )));
        }
        let cache = if self.no_cache { None } else { Cache::user() };
        let mut load = self.data.read.load_options(self.data.repair)?;
        load.cache_dir = cache.as_ref().map(|c| c.sub("data").dir().to_owned());
        let component = match &self.strategy {
            Some(path) => ComponentSource {
                bytes: std::fs::read(path)
                    .map_err(|e| usage(format!("cannot read component {}: {e}", path.display())))?,
                origin: path.display().to_string(),
            },
            None => ComponentSource::default_component(),
        };
        if let Some(missing) = self.data.data.iter().find(|p| !p.exists()) {
            return Err(usage(format!("data file {} does not exist", missing.display())));
        }
        Ok(RunConfig {
            data: self.data.data.clone(),
            load,
            grid,
            component,
            engine: match self.engine {
                EngineArg::Sandbox => EngineKind::Sandbox,
                EngineArg::Native => EngineKind::Native,
            },
            limits: Limits {
                instances: jobs,
                memory_bytes: self.memory_mib << 20,
                deadline,
                fuel: self.fuel,
                reply_bytes: self.reply_mib << 20,
                output_bytes: self.output_cap_kib << 10,
                component_bytes: self.max_component_mib << 20,
                compile_time,
            },
            cache,
            resident_columns: !self.copy_columns,
            batch_size: self.batch_size,
            range,
            window: None,
            shard: self
                .shard
                .as_deref()
                .map(|s| Shard::parse(s, |v| std::env::var(v).ok()))
                .transpose()
                .map_err(usage)?,
            fresh: self.fresh,
            max_failures: self.max_failures,
            output: self.output.clone(),
        })
    }
}

/// A live view of `cfg`'s run, when `args` asks for one: validated, bound and announced before
/// anything runs.
fn watch(args: &RunArgs, cfg: &RunConfig) -> Result<Option<(Server, Arc<Live>)>, Error> {
    let Some(addr) = &args.serve else {
        return Ok(None);
    };
    let serve_cfg = serve::config(addr, &args.serve_flags)?;
    let ranking = args.ranking.ranking();
    let lots = ranking
        .lots
        .or_else(|| cfg.grid.lots.contains(&0.1).then_some(0.1))
        .or_else(|| cfg.grid.lots.first().copied())
        .unwrap_or(0.1);
    let grid = cfg.grid.clone();
    let describe = move |id: u64| {
        let v = grid.values(id);
        let names = grid.param_names();
        (0..names.len())
            .map(|p| format!("{}={}", names[p], grid.format_value(p, v[p])))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let live = Arc::new(Live::new(ranking, lots, Box::new(describe)));
    let server = serve::start(&serve_cfg, Some(live.clone()))?;
    Ok(Some((server, live)))
}

/// After a watched run: the closing event, the report and rows, then serving until Ctrl-C.
fn after_watch(
    watched: Option<(Server, Arc<Live>)>,
    args: &RunArgs,
    summary: &RunSummary,
) -> Result<(), Error> {
    let Some((server, live)) = watched else {
        return Ok(());
    };
    let page = PageArgs {
        ranking: args.ranking.clone(),
        table_rows: 50,
        curves: 5,
        out_of_sample: None,
        walk_forward: args.walk_forward.clone(),
        data: args.data.clone(),
    };
    serve::publish(&server, &summary.output, &page)?;
    live.finish(done_event(summary));
    serve::wait_for_interrupt(&server);
    Ok(())
}

/// The closing event of `--progress json` (and of the live page's event stream).
fn done_event(summary: &RunSummary) -> serde_json::Value {
    serde_json::json!({
        "event": "done",
        "output": summary.output.display().to_string(),
        "rows": summary.rows_written,
        "strategies": summary.strategies,
        "failed": summary.failed(),
        "seconds": summary.elapsed.as_secs_f64(),
        "peak_rss_bytes": summary.peak_rss,
        "instance_memory_bytes": summary.peak_instance_memory,
    })
}

/// `stratbox discover`.
pub fn discover(args: &RunArgs, quiet: bool) -> Result<Exit, Error> {
    let cfg = args.to_config(None)?;
    if let Some(split) = &args.split {
        if args.walk_forward.walk_forward.is_some() {
            return Err(usage(
                "--split and --walk-forward are two ways of testing out of sample: use one",
            ));
        }
        return discover_split(cfg, split, &args.ranking, quiet);
    }
    if let Some(windows) = args.walk_forward.walk_forward {
        check_walk_forward(&cfg, windows)?;
    }
    let watched = watch(args, &cfg)?;
    let summary = run(&cfg, quiet, args.progress, watched.as_ref().map(|(_, l)| &**l))?;
    // Read once, for the summary, the luck line and the walk-forward.
    let table = read_own(&summary.output)?;
    let daily = luck::daily_of(&table);
    let walk_forward = match (args.walk_forward.walk_forward, &daily) {
        (None, _) => None,
        (Some(windows), Ok(d)) => Some(write_walk_forward(
            &table,
            d,
            &args.ranking,
            windows,
            args.walk_forward.wf_min_trades,
        )?),
        (Some(_), Err(_)) => return Err(daily.expect_err("matched as an error").into()),
    };
    if args.progress == ProgressArg::Json {
        // stdout carries only JSON events for programs: the closing one, not a table.
        outln!("{}", done_event(&summary));
    } else {
        print_summary(&table, &args.ranking);
        print_luck(&table, &daily, &args.ranking);
        if let Some((wf, path)) = &walk_forward {
            out!("{}", wf.render_text());
            outln!("  (every fold with its pick's parameters: {})", path.display());
        }
        outln!(
            "\nReport: stratbox report {}    Trades: stratbox trades --results {} --id ID -o trades.csv",
            summary.output.display(),
            summary.output.display()
        );
    }
    after_watch(watched, args, &summary)?;
    Ok(summary.exit())
}

/// Refuses walk-forward windows longer than the data before any batch runs.
fn check_walk_forward(cfg: &RunConfig, windows: Windows) -> Result<(), Error> {
    let (bars, _) = run::load_data(cfg)?;
    let (Some(&first), Some(&last)) = (bars.time.first(), bars.time.last()) else {
        return Err(usage("the data holds no bars"));
    };
    walkforward::check(windows, utc_day(first), utc_day(last)).map_err(|e| {
        let files: Vec<String> = if cfg.data.is_empty() {
            vec![run::BUNDLED_DATA_NAME.to_string()]
        } else {
            cfg.data.iter().map(|p| p.display().to_string()).collect()
        };
        usage(format!(
            "--walk-forward {}:{} needs {} whole months, but the data ({}) has {} (from its first whole month to its last bar)",
            windows.train,
            windows.test,
            windows.train + windows.test,
            files.join(", "),
            e.months
        ))
    })
}

/// The walk-forward of a finished run, written to `<stem>.walkforward.csv` (atomically).
fn write_walk_forward(
    table: &ResultsTable,
    daily: &Daily,
    ranking: &RankArgs,
    windows: Windows,
    min_trades: u32,
) -> Result<(WalkForward, PathBuf), Error> {
    let lots = choose_lots(table, ranking.rank_lots).map_err(usage)?;
    let wf = luck::walk_forward(daily, lots, windows, min_trades)?;
    let describe = |id: u64| {
        table
            .find(id, lots)
            .map(|r| table.describe(r))
            .unwrap_or_default()
    };
    let path = walkforward::csv_path(&table.path);
    write_bytes_atomic(&path, walkforward::to_csv(&wf, min_trades, &describe).as_bytes())
        .map_err(|e| Error::Internal(format!("cannot write {}: {e}", path.display())))?;
    Ok((wf, path))
}

/// The one line on luck after a run's summary (SPEC section 7). A run too short or too small
/// for the statistics says why instead: that is not a failure of the run.
fn print_luck(table: &ResultsTable, daily: &Result<Daily, LuckError>, ranking: &RankArgs) {
    let answer = daily.as_ref().map_err(ToString::to_string).and_then(|daily| {
        let (trials, ranked) = luck::trials(table, daily, &ranking.ranking()).map_err(|e| e.to_string())?;
        let top: Vec<u64> = ranked.iter().map(|&r| table.strategy_id[r]).collect();
        Ok(luck::analyse(&trials, &top, &SpaSettings::default()))
    });
    match answer {
        Ok(l) => outln!(
            "\n{}\n  (in detail: stratbox luck {})",
            l.verdict(),
            table.path.display()
        ),
        Err(e) => outln!("\nIs it luck? Not answered: {}", e),
    }
}

/// `stratbox batch`.
pub fn batch(args: &BatchArgs, quiet: bool) -> Result<Exit, Error> {
    let cfg = args.run.to_config(Some(args.start..args.end))?;
    let watched = watch(&args.run, &cfg)?;
    let summary = run(
        &cfg,
        quiet,
        args.run.progress,
        watched.as_ref().map(|(_, l)| &**l),
    )?;
    after_watch(watched, &args.run, &summary)?;
    Ok(summary.exit())
}

/// The progress sink `mode` asks for.
fn progress_sink(quiet: bool, mode: ProgressArg) -> Box<dyn Progress> {
    use std::io::IsTerminal;
    let lines = || {
        Box::new(Lines {
            out: std::io::stderr(),
        })
    };
    match mode {
        _ if quiet => Box::new(Quiet),
        ProgressArg::Json => Box::new(Json {
            out: std::io::stdout(),
        }),
        ProgressArg::Lines => lines(),
        ProgressArg::Bar => Box::new(Bar::new(std::io::stderr())),
        ProgressArg::Auto if std::io::stderr().is_terminal() => Box::new(Bar::new(std::io::stderr())),
        ProgressArg::Auto => lines(),
    }
}

/// Runs `cfg` (stopping at Ctrl-C), shown on the terminal and, when watched, to `live`; prints
/// its closing line and failures.
fn run(cfg: &RunConfig, quiet: bool, mode: ProgressArg, live: Option<&Live>) -> Result<RunSummary, Error> {
    let sink = progress_sink(quiet, mode);
    let mut sink: Box<dyn Progress + '_> = match live {
        Some(live) => Box::new(LiveProgress { inner: sink, live }),
        None => sink,
    };
    let summary = run::run_until(cfg, sink.as_mut(), &super::STOP)?;
    let phases: Vec<String> = summary
        .phases
        .iter()
        .map(|(name, d)| format!("{name} {:.2}s", d.as_secs_f64()))
        .collect();
    let resumed = if summary.resumed > 0 {
        format!(" | {} batches resumed from a checkpoint", summary.resumed)
    } else {
        String::new()
    };
    let instance = match summary.peak_instance_memory {
        0 => String::new(),
        bytes => format!(", instance memory {} MiB", bytes >> 20),
    };
    errln!(
        "Done in {:.2}s ({}) | {} rows written | {} of {} strategies failed | peak RSS {}{instance}{resumed} -> {}",
        summary.elapsed.as_secs_f64(),
        phases.join(", "),
        summary.rows_written,
        summary.failed(),
        summary.strategies,
        sys::mib(summary.peak_rss),
        summary.output.display()
    );
    print_failures(&summary, true);
    Ok(summary)
}

/// Distinct failure reasons listed after a run; the failures file has every strategy.
const MAX_REASONS: usize = 20;

/// The strategies that got no rows: one line per distinct reason, with how many and which
/// (under a heading, with `heading`).
fn print_failures(summary: &RunSummary, heading: bool) {
    if summary.failed() > 0 {
        if heading {
            errln!("Failed strategies (no rows written for them):");
        }
        for line in summary_lines(&summary.failures, MAX_REASONS) {
            errln!("  {line}");
        }
        errln!(
            "  (every strategy with its reason: {})",
            failures_path(&summary.output).display()
        );
    }
}

/// Reads back a results file this process just wrote: failing to is stratbox's failure (exit
/// code 1), not bad input.
pub fn read_own(path: &std::path::Path) -> Result<ResultsTable, Error> {
    ResultsTable::read(path).map_err(|e| Error::Internal(e.to_string()))
}

/// `discover --split DATE`: the grid on the bars before DATE (in-sample) and from DATE on
/// (out-of-sample), written to `NAME.in.parquet` and `NAME.out.parquet` beside `--output`; then
/// the in-sample summary and how its top did out of sample.
fn discover_split(cfg: RunConfig, split: &str, ranking: &RankArgs, quiet: bool) -> Result<Exit, Error> {
    let at = parse_split(split).map_err(usage)?;
    // The split must fall inside the data; loading once here says so before any batch runs.
    let (bars, _) = run::load_data(&cfg)?;
    let (first, last) = match (bars.time.first(), bars.time.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ => return Err(usage("the data holds no bars")),
    };
    let (in_window, out_window) = split_windows(at, first, last).map_err(usage)?;
    drop(bars);
    let (in_path, out_path) = split_outputs(&cfg.output);
    let mut exits = Vec::new();
    for (label, window, path) in [
        ("In-sample", in_window, &in_path),
        ("Out-of-sample", out_window, &out_path),
    ] {
        errln!(
            "{label}: bars from {} to before {}",
            iso_utc(window.start),
            iso_utc(window.end)
        );
        let half = RunConfig {
            window: Some(window),
            output: path.clone(),
            ..cfg.clone()
        };
        // Ctrl-C stops a half like any run (the shared stop flag); the same command resumes.
        let summary = run::run_until(
            &half,
            progress_sink(quiet, ProgressArg::Lines).as_mut(),
            &super::STOP,
        )?;
        errln!(
            "{label} done in {:.2}s | {} rows written | {} of {} strategies failed -> {}",
            summary.elapsed.as_secs_f64(),
            summary.rows_written,
            summary.failed(),
            summary.strategies,
            summary.output.display()
        );
        print_failures(&summary, false);
        exits.push(summary.exit());
    }
    let in_table = read_own(&in_path)?;
    let out_table = read_own(&out_path)?;
    outln!("In sample ({}):", in_path.display());
    let lots = print_summary(&in_table, ranking);
    let r = ranking.ranking();
    match compare(&in_table, &out_table, r.metric, r.min_trades, lots, ranking.top) {
        Ok(c) => out!("\n{}", split::render_text(&c)),
        Err(e) => errln!("warning: no out-of-sample comparison: {e}"),
    }
    outln!(
        "\nReport: stratbox report {} (finds {} beside it)",
        in_path.display(),
        out_path.display()
    );
    Ok(exits.into_iter().max_by_key(|e| e.code()).unwrap_or(Exit::Ok))
}
