//! One run, end to end: load -> features -> grid -> batches -> sandbox -> rows -> Parquet.
//!
//! The library side of `stratbox discover` and `stratbox batch`: no printing except through the
//! [`Progress`] sink, typed errors, and a [`RunSummary`] the CLI turns into an exit code.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use stratbox_engine::{Columns, Mvt, Strategy};

use crate::data::{self, Bars, DataError, LoadOptions, LoadReport};
use crate::features;
use crate::grid::{Grid, GridError};
use crate::results::{self, ResultsError, keys};
use crate::sandbox::{ComponentInfo, Limits, LoadError, Sandbox};
use crate::scheduler::{self, Backend, BatchOutcome, Failure, Job};
use crate::sys;

/// The default backtester component, built from `guest/` by the build script.
pub const DEFAULT_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mvt.wasm"));

/// Where the build script put every component it built (the default one and the test ones).
pub const COMPONENTS_DIR: &str = env!("OUT_DIR");

/// The bundled data set: the 2018 EURUSD M1 year (see `data/PROVENANCE.md`).
pub fn bundled_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("HISTDATA_COM_ASCII_EURUSD_M12018.zip")
}

/// Where batches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Sandbox,
    Native,
}

/// A component to run: its bytes and a name for messages.
#[derive(Debug, Clone)]
pub struct ComponentSource {
    pub bytes: Vec<u8>,
    pub origin: String,
}

impl ComponentSource {
    pub fn default_component() -> ComponentSource {
        ComponentSource {
            bytes: DEFAULT_COMPONENT.to_vec(),
            origin: "built-in mvt component".into(),
        }
    }

    pub fn sha256(&self) -> String {
        hex(&Sha256::digest(&self.bytes))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything a run needs, already validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Data files; empty means the bundled data set.
    pub data: Vec<PathBuf>,
    pub load: LoadOptions,
    pub grid: Grid,
    pub component: ComponentSource,
    pub engine: EngineKind,
    pub limits: Limits,
    pub batch_size: u64,
    pub jobs: usize,
    /// Only these strategy ids (a worker's share); `None` for the whole grid.
    pub range: Option<Range<u64>>,
    /// Only bars whose time (UTC seconds) is in this range, e.g. the in-sample part of a split.
    pub window: Option<Range<i64>>,
    pub output: PathBuf,
}

/// Why a run could not start or finish. The variants map onto the CLI's exit codes.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Grid(#[from] GridError),
    #[error(transparent)]
    Component(#[from] LoadError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Results(#[from] ResultsError),
}

impl RunError {
    /// Bad input (data, grid, component, arguments) as opposed to a failure while running.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, RunError::Results(_))
    }
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub output: PathBuf,
    pub rows_written: usize,
    pub strategies: u64,
    pub batches: usize,
    pub failures: Vec<Failure>,
    pub elapsed: Duration,
    pub phases: Vec<(&'static str, Duration)>,
    pub peak_rss: Option<u64>,
    pub sandbox_overhead: Duration,
}

/// Receives progress as batches finish.
pub trait Progress {
    fn started(&mut self, _what: &str) {}
    fn batch_done(&mut self, _outcome: &BatchOutcome, _done: usize, _total: usize) {}
}

/// Prints nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// The seed's per-batch lines on stderr:
/// `Batch  3/24:  400-600  ok 0.12s | 200 strategies | RSS 85 MiB`.
pub struct Lines<W: Write> {
    pub out: W,
}

impl<W: Write> Progress for Lines<W> {
    fn started(&mut self, what: &str) {
        let _ = writeln!(self.out, "{what}");
    }

    fn batch_done(&mut self, o: &BatchOutcome, done: usize, total: usize) {
        let width = total.to_string().len();
        let n = o.range.end - o.range.start;
        let failed: u64 = o.failures.iter().map(|f| f.range.end - f.range.start).sum();
        let status = if failed == 0 && o.attempts == 1 {
            "ok".to_string()
        } else if failed == 0 {
            format!("ok after {} attempts", o.attempts)
        } else {
            format!("FAILED {failed} of {n}")
        };
        let _ = writeln!(
            self.out,
            "Batch {:>width$}/{total}: {:>6}-{:<6} {status} {:.2}s | {n} strategies | RSS {}",
            o.index + 1,
            o.range.start,
            o.range.end,
            o.elapsed.as_secs_f64(),
            sys::mib(sys::current_rss()),
        );
        if let Some(first) = &o.first_error {
            let _ = writeln!(self.out, "    first attempt: {first}");
        }
        for f in &o.failures {
            let _ = writeln!(
                self.out,
                "    strategies {}..{}: {}",
                f.range.start, f.range.end, f.reason
            );
        }
        if !o.stderr.is_empty() {
            let text = String::from_utf8_lossy(&o.stderr);
            let _ = writeln!(
                self.out,
                "    guest stderr: {}",
                text.trim().chars().take(500).collect::<String>()
            );
        }
        let _ = done;
    }
}

/// Loads bars and computes the feature columns the guests receive.
pub fn prepare_columns(bars: &Bars, grid: &Grid) -> Columns {
    let f = features::compute(&bars.close, &grid.windows);
    Columns {
        time: bars.time.clone(),
        open: bars.open.clone(),
        high: bars.high.clone(),
        low: bars.low.clone(),
        close: bars.close.clone(),
        momentum: f.momentum,
        volatility: f.volatility,
        trend: f.trend,
    }
}

/// Loads the configured data (the bundled set when none is given).
pub fn load_data(cfg: &RunConfig) -> Result<(Bars, LoadReport), DataError> {
    let paths = if cfg.data.is_empty() {
        vec![bundled_data()]
    } else {
        cfg.data.clone()
    };
    data::load(&paths, &cfg.load)
}

/// The run's provenance, stored in the Parquet key-value metadata.
pub fn metadata(
    cfg: &RunConfig,
    bars: &Bars,
    report: &LoadReport,
    info: &ComponentInfo,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert(keys::VERSION.into(), env!("CARGO_PKG_VERSION").into());
    m.insert(keys::GRID.into(), cfg.grid.source.clone());
    let files: Vec<serde_json::Value> = report
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                // The file name only: paths differ between machines, contents do not.
                "file": f.path.file_name().map(|n| n.to_string_lossy().into_owned()),
                "sha256": f.sha256,
                "format": f.format,
                "rows": f.rows,
            })
        })
        .collect();
    m.insert(keys::DATA.into(), serde_json::Value::Array(files).to_string());
    m.insert(keys::BARS.into(), bars.len().to_string());
    if let (Some(first), Some(last)) = (bars.time.first(), bars.time.last()) {
        m.insert(
            keys::SPAN.into(),
            format!("{}/{}", iso_utc(*first), iso_utc(*last)),
        );
    }
    m.insert(
        keys::COMPONENT.into(),
        serde_json::json!({
            "name": info.name,
            "version": info.version,
            "params": info.params,
            "sha256": cfg.component.sha256(),
        })
        .to_string(),
    );
    let costs = cfg.grid.engine_costs(bars.digits);
    m.insert(
        keys::COSTS.into(),
        serde_json::json!({
            "spread_points": costs.spread_points,
            "commission_per_lot": costs.commission_per_lot,
            "initial_balance": costs.initial_balance,
            "point_size": costs.point_size,
            "pip_points": costs.pip_points,
            "units_per_lot": costs.units_per_lot,
            "digits": bars.digits,
        })
        .to_string(),
    );
    if let Some(r) = &cfg.range {
        m.insert(keys::RANGE.into(), format!("{}..{}", r.start, r.end));
    }
    if let Some(w) = &cfg.window {
        m.insert(keys::WINDOW.into(), format!("{}/{}", iso_utc(w.start), iso_utc(w.end)));
    }
    m
}

/// `2018-01-01T22:00:00Z` from Unix seconds.
pub fn iso_utc(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// The backend a run uses, and the parameter names batches carry.
pub fn backend(cfg: &RunConfig) -> Result<(Backend, ComponentInfo), RunError> {
    // The component is loaded even for native runs: its describe() is the parameter contract
    // and its digest goes into the metadata.
    let sandbox = Sandbox::new(&cfg.component.bytes, &cfg.component.origin, cfg.limits)?;
    let info = sandbox.info().clone();
    match cfg.engine {
        EngineKind::Sandbox => Ok((Backend::Sandbox(Box::new(sandbox)), info)),
        EngineKind::Native => {
            if info.name != Mvt::NAME
                || info
                    .params
                    .iter()
                    .map(String::as_str)
                    .ne(Mvt::PARAMS.iter().copied())
            {
                return Err(RunError::Invalid(format!(
                    "--engine native runs only the built-in {} family; {} is {:?}",
                    Mvt::NAME,
                    cfg.component.origin,
                    info.name
                )));
            }
            Ok((Backend::Native, info))
        }
    }
}

/// Runs the configured grid (or range) and writes the results file.
pub fn run(cfg: &RunConfig, progress: &mut dyn Progress) -> Result<RunSummary, RunError> {
    let t0 = Instant::now();
    let mut phases = Vec::new();

    let t = Instant::now();
    let (backend, info) = backend(cfg)?;
    let param_order = cfg.grid.match_params(&info.params).map_err(RunError::Invalid)?;
    if let Some(family) = &cfg.grid.strategy
        && *family != info.name
    {
        return Err(RunError::Invalid(format!(
            "the grid {} is written for strategy {family:?}, but the component is {:?}",
            cfg.grid.name, info.name
        )));
    }
    phases.push(("component", t.elapsed()));

    let t = Instant::now();
    let (bars, report) = load_data(cfg)?;
    phases.push(("load", t.elapsed()));

    let t = Instant::now();
    let columns = prepare_columns(&bars, &cfg.grid);
    let costs = cfg.grid.engine_costs(bars.digits);
    let job = Job::new(
        &cfg.grid,
        info.params.clone(),
        param_order.clone(),
        &columns,
        costs,
    );
    phases.push(("features", t.elapsed()));

    let all = 0..cfg.grid.size();
    let range = cfg.range.clone().unwrap_or(all.clone());
    if range.start >= range.end || range.end > all.end {
        return Err(RunError::Invalid(format!(
            "strategy range {}..{} is empty or outside the grid's 0..{}",
            range.start, range.end, all.end
        )));
    }
    let ranges: Vec<(usize, Range<u64>)> = scheduler::batches(range.end - range.start, cfg.batch_size)
        .into_iter()
        .map(|r| r.start + range.start..r.end + range.start)
        .enumerate()
        .collect();
    progress.started(&format!(
        "stratbox: {} strategies x {} lots on {} bars, {} batches of up to {}, {} engine, {} jobs",
        range.end - range.start,
        cfg.grid.lots.len(),
        bars.len(),
        ranges.len(),
        cfg.batch_size,
        backend.name(),
        cfg.jobs
    ));

    let t = Instant::now();
    let mut rows = Vec::with_capacity(((range.end - range.start) as usize) * cfg.grid.lots.len());
    let mut failures = Vec::new();
    let mut done = 0;
    let mut overhead = Duration::ZERO;
    scheduler::run_all(&backend, &job, &ranges, cfg.jobs, |outcome| {
        done += 1;
        progress.batch_done(&outcome, done, ranges.len());
        overhead += outcome.instantiate;
        rows.extend(outcome.rows);
        failures.extend(outcome.failures);
        true
    });
    phases.push(("batches", t.elapsed()));

    let t = Instant::now();
    results::sort_rows(&mut rows);
    failures.sort_by_key(|f: &Failure| f.range.start);
    let mut df = results::to_frame(&cfg.grid, &param_order, &rows).map_err(|e| {
        RunError::Results(ResultsError::Write {
            path: cfg.output.clone(),
            message: e.to_string(),
        })
    })?;
    results::write_parquet(&cfg.output, &mut df, &metadata(cfg, &bars, &report, &info))?;
    phases.push(("write", t.elapsed()));

    Ok(RunSummary {
        output: cfg.output.clone(),
        rows_written: rows.len(),
        strategies: range.end - range.start,
        batches: ranges.len(),
        failures,
        elapsed: t0.elapsed(),
        phases,
        peak_rss: sys::peak_rss(),
        sandbox_overhead: overhead,
    })
}
