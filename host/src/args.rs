//! Raw command-line flags (step one) and their validation into library configs (step two).

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use stratbox::data::{Format, LoadOptions, TzSpec};
use stratbox::grid::Grid;
use stratbox::run::{ComponentSource, EngineKind, RunConfig};
use stratbox::sandbox::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "stratbox",
    version,
    about = "Sandboxed forex strategy discovery: thousands of backtests in WebAssembly, one Parquet file"
)]
pub struct Cli {
    /// Print no progress lines, only errors and the closing summary.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a whole grid on a data set and write one results file.
    Discover(RunArgs),
    /// Run one range of strategy ids and write a part file (a worker's share).
    Batch(BatchArgs),
    /// Join part files into one results file, checking every strategy appears exactly once.
    Merge(MergeArgs),
    /// Print a grid's size and its first strategies.
    Grid(GridArgs),
    /// Show a component's name, version, parameters, imports and exports, and whether stratbox
    /// would run it.
    Inspect(InspectArgs),
    /// Inspect data files without running anything.
    #[command(subcommand)]
    Data(DataCommand),
    /// Write a self-contained HTML report of a results file.
    Report(crate::cli_reports::ReportArgs),
    /// Replay one strategy and write its trade list.
    Trades(crate::cli_reports::TradesArgs),
}

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

/// `K/N`, or `N` with K from the job-array engine's environment.
pub fn parse_shard(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<(usize, usize), String> {
    let number = |s: &str, what: &str| -> Result<usize, String> {
        s.trim()
            .parse()
            .map_err(|_| format!("--shard {spec}: {what} {s:?} is not a whole number"))
    };
    let (k, n) = match spec.split_once('/') {
        Some((k, n)) => (number(k, "K")?, number(n, "N")?),
        None => {
            let n = number(spec, "N")?;
            let (var, k) = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"]
                .iter()
                .find_map(|v| env(v).map(|k| (*v, k)))
                .ok_or_else(|| {
                    format!("--shard {spec}: give K/N, or set JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID")
                })?;
            (number(&k, var)?, n)
        }
    };
    if n == 0 || k >= n {
        return Err(format!("--shard {spec}: K must be in 0..N, got K = {k}, N = {n}"));
    }
    Ok((k, n))
}

/// How to read data files: the flags every command that reads data shares (`--repair` too,
/// but its wording differs per command, so each declares it).
#[derive(Debug, Clone, Args)]
pub struct ReadFlags {
    /// Force the data format instead of sniffing it (histdata, mt4, mt5, dukascopy, csv, parquet).
    #[arg(long)]
    pub format: Option<String>,
    /// Time zone of formats without one (MetaTrader broker time): an IANA name or +HH:MM.
    #[arg(long)]
    pub tz: Option<String>,
    /// Decimal digits of the quotes (default: from the symbol in the file name, else 5).
    #[arg(long)]
    pub digits: Option<u32>,
}

impl ReadFlags {
    /// These flags and `--repair` as load options, with errors that name the flag (no cache:
    /// commands that want one set it).
    pub fn load_options(&self, repair: bool) -> Result<LoadOptions, String> {
        Ok(LoadOptions {
            format: self
                .format
                .as_deref()
                .map(|f| f.parse::<Format>().map_err(|e| format!("--format {f}: {e}")))
                .transpose()?,
            tz: self
                .tz
                .as_deref()
                .map(|t| t.parse::<TzSpec>().map_err(|e| format!("--tz {t}: {e}")))
                .transpose()?,
            digits: self.digits,
            repair,
            cache_dir: None,
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Data files (one series, joined in time order). Default: the bundled 2018 EURUSD M1 year.
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadFlags,
    /// Drop duplicated bars (keeping the first) and sort, instead of refusing the data.
    #[arg(long)]
    pub repair: bool,
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
    /// Spread in points (overrides the grid's costs).
    #[arg(long)]
    pub spread: Option<i64>,
    /// Commission in USD per lot per round turn (overrides the grid's costs).
    #[arg(long)]
    pub commission: Option<f64>,
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
    /// Progress display: a live bar on a terminal and lines otherwise (auto), or forced.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressArg,
    /// Split the data at this date (UTC, `YYYY-MM-DD`): run in-sample (before) and out-of-sample
    /// (from it on), and show how the in-sample best did out of sample.
    #[arg(long)]
    pub split: Option<String>,
    #[command(flatten)]
    pub ranking: crate::cli_reports::RankArgs,
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

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// A component (.wasm) of the stratbox:backtest world.
    pub component: PathBuf,
    /// Largest component accepted, MiB.
    #[arg(long, default_value_t = 64)]
    pub max_component_mib: usize,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Format, rows, span (UTC), bar interval, gaps, defects and price range of a data set.
    Check(DataCheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DataCheckArgs {
    /// Data files (one series, joined in time order).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadFlags,
    /// Report what `--repair` would change instead of failing on duplicates and disorder.
    #[arg(long)]
    pub repair: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

impl DataCheckArgs {
    pub fn load_options(&self) -> Result<LoadOptions, String> {
        self.read.load_options(self.repair)
    }
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Part files written by `stratbox batch`.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Merged results file.
    #[arg(long, short)]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct GridArgs {
    /// Grid TOML file. Default: the bundled MVT grid.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// How many strategies to list.
    #[arg(long, default_value_t = 5)]
    pub rows: u64,
}

impl GridArgs {
    pub fn load(&self) -> Result<Grid, String> {
        load_grid(self.grid.as_ref())
    }
}

fn load_grid(path: Option<&PathBuf>) -> Result<Grid, String> {
    match path {
        Some(p) => Grid::from_file(p).map_err(|e| e.to_string()),
        None => Ok(Grid::default_grid()),
    }
}

impl RunArgs {
    /// Validates the flags into a run configuration.
    pub fn to_config(&self, range: Option<Range<u64>>) -> Result<RunConfig, String> {
        let this = self.clone();
        this.into_config_owned(range)
    }

    fn into_config_owned(self, range: Option<Range<u64>>) -> Result<RunConfig, String> {
        let mut grid = load_grid(self.grid.as_ref())?;
        if let Some(spread) = self.spread {
            if spread < 0 {
                return Err(format!("--spread {spread}: must be >= 0 points"));
            }
            grid.costs.spread_points = spread;
        }
        if let Some(c) = self.commission {
            if !(c >= 0.0 && c.is_finite()) {
                return Err(format!("--commission {c}: must be >= 0"));
            }
            grid.costs.commission_per_lot = c;
        }
        if self.batch_size == 0 {
            return Err("--batch-size must be at least 1".into());
        }
        let jobs = match self.jobs {
            Some(0) => return Err("--jobs must be at least 1".into()),
            Some(j) => j,
            None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        };
        if !(self.compile_secs > 0.0 && self.compile_secs.is_finite()) {
            return Err(format!("--compile-secs {}: must be positive", self.compile_secs));
        }
        if !(self.deadline_secs > 0.0 && self.deadline_secs.is_finite()) {
            return Err(format!(
                "--deadline-secs {}: must be positive",
                self.deadline_secs
            ));
        }
        if self.memory_mib == 0 || self.memory_mib > 4096 {
            return Err(format!(
                "--memory-mib {}: must be 1..=4096 (wasm32 addresses 4 GiB)",
                self.memory_mib
            ));
        }
        let cache_dir = if self.no_cache {
            None
        } else {
            stratbox::component::default_cache_dir()
        };
        let mut load = self.read.load_options(self.repair)?;
        load.cache_dir = cache_dir.as_ref().map(|d| d.join("data"));
        let component = match &self.strategy {
            Some(path) => ComponentSource {
                bytes: std::fs::read(path)
                    .map_err(|e| format!("cannot read component {}: {e}", path.display()))?,
                origin: path.display().to_string(),
            },
            None => ComponentSource::default_component(),
        };
        for p in &self.data {
            if !p.exists() {
                return Err(format!("data file {} does not exist", p.display()));
            }
        }
        Ok(RunConfig {
            data: self.data,
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
                deadline: Duration::from_secs_f64(self.deadline_secs),
                fuel: self.fuel,
                reply_bytes: self.reply_mib << 20,
                output_bytes: self.output_cap_kib << 10,
                component_bytes: self.max_component_mib << 20,
                compile_time: Duration::from_secs_f64(self.compile_secs),
            },
            cache_dir,
            resident_columns: !self.copy_columns,
            batch_size: self.batch_size,
            jobs,
            range,
            window: None,
            shard: self
                .shard
                .as_deref()
                .map(|s| parse_shard(s, |v| std::env::var(v).ok()))
                .transpose()?,
            fresh: self.fresh,
            output: self.output,
        })
    }
}
