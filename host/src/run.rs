//! One run, end to end: load -> features -> grid -> batches -> sandbox -> rows -> Parquet.
//!
//! The library side of `stratbox discover` and `stratbox batch`: no printing except through the
//! [`Progress`] sink, typed errors, and a [`RunSummary`] the CLI turns into an exit code.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use stratbox_engine::{Columns, ColumnsRef, Mvt, Strategy};

use crate::checkpoint::{BatchRecord, Checkpoint, CheckpointError, FailedRange, Manifest};
use crate::data::{self, Bars, DataError, LoadOptions, LoadReport};
use crate::features;
use crate::grid::{Grid, GridError};
use crate::results::{self, ResultsError, keys};
use crate::sandbox::{ComponentInfo, Limits, LoadError, Sandbox};
use crate::scheduler::{self, Backend, Job};
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

pub fn hex(bytes: &[u8]) -> String {
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
    /// Only shard `K` of `N` (`(K, N)`): batch `i` belongs to shard `i % N`.
    pub shard: Option<(usize, usize)>,
    /// Delete an existing checkpoint of the output instead of resuming it.
    pub fresh: bool,
    /// Where compiled components are cached; `None` compiles every run.
    pub cache_dir: Option<PathBuf>,
    /// Put the columns into the component's memory image once (protocol 3) when the component
    /// reads them there, instead of copying them into every instance.
    pub resident_columns: bool,
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
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "interrupted after {done} of {total} batches; finished batches are saved in {}: run the same command again to resume",
        parts.display()
    )]
    Interrupted {
        done: usize,
        total: usize,
        parts: PathBuf,
    },
}

impl RunError {
    /// Bad input (data, grid, component, arguments) as opposed to a failure while running.
    pub fn is_bad_input(&self) -> bool {
        match self {
            RunError::Data(_) | RunError::Grid(_) | RunError::Component(_) | RunError::Invalid(_) => true,
            RunError::Checkpoint(e) => matches!(e, CheckpointError::Mismatch { .. }),
            RunError::Results(_) | RunError::Interrupted { .. } => false,
        }
    }
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub output: PathBuf,
    pub rows_written: usize,
    pub strategies: u64,
    pub batches: usize,
    /// Batches found finished by an earlier, interrupted run and not computed again.
    pub resumed: usize,
    pub failures: Vec<FailedRange>,
    pub elapsed: Duration,
    pub phases: Vec<(&'static str, Duration)>,
    pub peak_rss: Option<u64>,
    pub sandbox_overhead: Duration,
}

pub use crate::progress::{Lines, Progress, Quiet};

/// Loads bars and computes the feature columns the guests receive.
pub fn prepare_columns(bars: &Bars, grid: &Grid) -> Columns {
    let f = features::compute(&bars.close, &grid.windows);
    // Owned copies, for callers that keep the columns beyond the bars; a run borrows them
    // instead ([`columns_of`]).
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

/// The bars and their features as the engine reads them, borrowed (no copy of ~15 MB of bars).
pub fn columns_of<'a>(bars: &'a Bars, f: &'a features::Features) -> ColumnsRef<'a> {
    ColumnsRef {
        time: &bars.time,
        open: &bars.open,
        high: &bars.high,
        low: &bars.low,
        close: &bars.close,
        momentum: &f.momentum,
        volatility: &f.volatility,
        trend: &f.trend,
    }
}

/// Loads the configured data (the bundled set when none is given), cut to the run's window.
pub fn load_data(cfg: &RunConfig) -> Result<(Bars, LoadReport), RunError> {
    let paths = if cfg.data.is_empty() {
        vec![bundled_data()]
    } else {
        cfg.data.clone()
    };
    let (bars, report) = data::load(&paths, &cfg.load)?;
    let Some(w) = &cfg.window else {
        return Ok((bars, report));
    };
    let cut = bars.window(w);
    if cut.is_empty() {
        return Err(RunError::Invalid(format!(
            "no bars between {} and {}",
            iso_utc(w.start),
            iso_utc(w.end)
        )));
    }
    Ok((cut, report))
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
                "zone": f.zone,
                "rows": f.rows,
            })
        })
        .collect();
    m.insert(keys::DATA.into(), serde_json::Value::Array(files).to_string());
    let changes: Vec<String> = report.repairs.changes.iter().map(|c| c.to_string()).collect();
    m.insert(
        keys::REPAIRS.into(),
        serde_json::json!({
            "dropped": report.repairs.dropped,
            "moved": report.repairs.moved,
            "changes": changes,
        })
        .to_string(),
    );
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
        m.insert(
            keys::WINDOW.into(),
            format!("{}/{}", iso_utc(w.start), iso_utc(w.end)),
        );
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
    let sandbox = Sandbox::with_cache(
        &cfg.component.bytes,
        &cfg.component.origin,
        cfg.limits,
        cfg.cache_dir.as_deref(),
    )?;
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

/// The run's identity for its checkpoint: everything that changes its results.
pub fn manifest(cfg: &RunConfig, meta: &BTreeMap<String, String>, batches: usize) -> Manifest {
    let mut m: Manifest = meta.clone();
    m.remove(keys::VERSION);
    m.insert("batch_size".into(), cfg.batch_size.to_string());
    m.insert("batches".into(), batches.to_string());
    m.insert("stratbox_version".into(), env!("CARGO_PKG_VERSION").into());
    let l = &cfg.limits;
    m.insert(
        "limits".into(),
        format!(
            "memory {} B, deadline {:?}, fuel {:?}, reply {} B, output {} B",
            l.memory_bytes, l.deadline, l.fuel, l.reply_bytes, l.output_bytes
        ),
    );
    m.insert("engine".into(), format!("{:?}", cfg.engine));
    if let Some((k, n)) = cfg.shard {
        m.insert("shard".into(), format!("{k}/{n}"));
    }
    m
}

/// The batches of a run: its id range cut into `batch_size` pieces, numbered from 0, and of
/// those only shard `k`'s when sharded (batch `i` belongs to shard `i % n`, so every shard gets
/// long and short strategies alike).
pub fn plan(cfg: &RunConfig) -> Result<Vec<(usize, Range<u64>)>, RunError> {
    let all = 0..cfg.grid.size();
    let range = cfg.range.clone().unwrap_or(all.clone());
    if range.start >= range.end || range.end > all.end {
        return Err(RunError::Invalid(format!(
            "strategy range {}..{} is empty or outside the grid's 0..{}",
            range.start, range.end, all.end
        )));
    }
    if let Some((k, n)) = cfg.shard
        && (n == 0 || k >= n)
    {
        return Err(RunError::Invalid(format!("shard {k}/{n}: K must be in 0..N")));
    }
    Ok(scheduler::batches(range.end - range.start, cfg.batch_size)
        .into_iter()
        .map(|r| r.start + range.start..r.end + range.start)
        .enumerate()
        .filter(|(i, _)| cfg.shard.is_none_or(|(k, n)| i % n == k))
        .collect())
}

/// Runs the configured grid (or range, or shard) and writes the results file.
///
/// Finished batches are checkpointed as they complete; an earlier run of the same command that
/// was killed or interrupted is resumed (its finished batches are not computed again).
pub fn run(cfg: &RunConfig, progress: &mut dyn Progress) -> Result<RunSummary, RunError> {
    run_until(cfg, progress, &AtomicBool::new(false))
}

/// [`run`], stopping early once `stop` is set: no new batch starts, running ones finish and are
/// saved, and the run returns [`RunError::Interrupted`].
pub fn run_until(
    cfg: &RunConfig,
    progress: &mut dyn Progress,
    stop: &AtomicBool,
) -> Result<RunSummary, RunError> {
    let t0 = Instant::now();
    let mut phases = Vec::new();

    let t = Instant::now();
    let (mut backend, info) = backend(cfg)?;
    let param_order = cfg.grid.match_params(&info.params).map_err(RunError::Invalid)?;
    if let Some(family) = &cfg.grid.strategy
        && *family != info.name
    {
        return Err(RunError::Invalid(format!(
            "the grid {} is written for strategy {family:?}, but the component is {:?}",
            cfg.grid.name, info.name
        )));
    }
    let batches = plan(cfg)?;
    phases.push(("component", t.elapsed()));

    let t = Instant::now();
    let (bars, report) = load_data(cfg)?;
    phases.push(("load", t.elapsed()));

    let t = Instant::now();
    let features = features::compute(&bars.close, &cfg.grid.windows);
    let columns = columns_of(&bars, &features);
    let costs = cfg.grid.engine_costs(bars.digits);
    let mut meta = metadata(cfg, &bars, &report, &info);
    phases.push(("features", t.elapsed()));

    let t = Instant::now();
    let resident = match &mut backend {
        Backend::Sandbox(sandbox) if cfg.resident_columns => {
            sandbox.embed_columns(&cfg.component.bytes, &columns, cfg.cache_dir.as_deref())?
        }
        _ => None,
    };
    let job = Job::new(
        &cfg.grid,
        info.params.clone(),
        param_order.clone(),
        columns,
        costs,
    )
    .with_resident_columns(resident);
    if resident.is_some() {
        phases.push(("image", t.elapsed()));
    }

    let checkpoint = Checkpoint::open(&cfg.output, &manifest(cfg, &meta, batches.len()), cfg.fresh)?;
    let done_before = checkpoint.done()?;
    let todo: Vec<(usize, Range<u64>)> = batches
        .iter()
        .filter(|(i, _)| !done_before.contains(i))
        .cloned()
        .collect();
    let skipped = batches.len() - todo.len();
    let strategies: u64 = batches.iter().map(|(_, r)| r.end - r.start).sum();
    progress.started(
        &format!(
            "stratbox: {strategies} strategies x {} lots on {} bars, {} batches of up to {}, {} engine, {} jobs",
            cfg.grid.lots.len(),
            bars.len(),
            batches.len(),
            cfg.batch_size,
            backend.name(),
            cfg.jobs
        ),
        batches.len(),
        skipped,
        strategies,
    );

    let t = Instant::now();
    let mut done = skipped;
    let mut overhead = Duration::ZERO;
    let mut save_error = None;
    let mut log = RunLog::open(&cfg.output, skipped > 0);
    scheduler::run_all(&backend, &job, &todo, cfg.jobs, stop, |outcome| {
        done += 1;
        overhead += outcome.instantiate;
        log.write(&crate::progress::batch_json(&outcome, done, batches.len()));
        let record = BatchRecord {
            index: outcome.index,
            start: outcome.range.start,
            end: outcome.range.end,
            failures: outcome
                .failures
                .iter()
                .map(|f| FailedRange {
                    range: f.range.clone(),
                    reason: f.reason.to_string(),
                })
                .collect(),
            rows: outcome.rows.clone(),
        };
        progress.batch_done(&outcome, done, batches.len());
        match checkpoint.save(&record) {
            Ok(()) => true,
            Err(e) => {
                save_error = Some(e);
                false
            }
        }
    });
    progress.finished();
    if let Some(e) = save_error {
        return Err(e.into());
    }
    phases.push(("batches", t.elapsed()));
    if done < batches.len() {
        return Err(RunError::Interrupted {
            done,
            total: batches.len(),
            parts: checkpoint.dir().to_owned(),
        });
    }

    let t = Instant::now();
    let mut rows = Vec::with_capacity(strategies as usize * cfg.grid.lots.len());
    let mut failures = Vec::new();
    for (index, _) in &batches {
        let record = checkpoint.load(*index)?;
        rows.extend(record.rows);
        failures.extend(record.failures);
    }
    results::sort_rows(&mut rows);
    failures.sort_by_key(|f| f.range.start);
    let mut df = results::to_frame(&cfg.grid, &param_order, &rows).map_err(|e| {
        RunError::Results(ResultsError::Write {
            path: cfg.output.clone(),
            message: e.to_string(),
        })
    })?;
    if let Some((k, n)) = cfg.shard {
        meta.insert(keys::SHARD.into(), format!("{k}/{n}"));
    }
    results::write_parquet(&cfg.output, &mut df, &meta)?;
    write_failures(&cfg.output, &failures)?;
    checkpoint.finish()?;
    phases.push(("write", t.elapsed()));

    Ok(RunSummary {
        output: cfg.output.clone(),
        rows_written: rows.len(),
        strategies,
        batches: batches.len(),
        resumed: skipped,
        failures,
        elapsed: t0.elapsed(),
        phases,
        peak_rss: sys::peak_rss(),
        sandbox_overhead: overhead,
    })
}

/// `results.parquet` -> `results.failures.csv`: one line per strategy that got no rows, with the
/// reason (removed when a run has none, so a stale list never outlives a clean rerun).
pub fn failures_path(output: &Path) -> PathBuf {
    output.with_extension("failures.csv")
}

fn write_failures(output: &Path, failures: &[FailedRange]) -> Result<(), RunError> {
    let path = failures_path(output);
    if failures.is_empty() {
        let _ = std::fs::remove_file(&path);
        return Ok(());
    }
    let mut text = String::from("strategy_id,reason\n");
    for f in failures {
        let reason = f.reason.replace('"', "\"\"");
        for id in f.range.clone() {
            text += &format!("{id},\"{reason}\"\n");
        }
    }
    results::write_atomic(&path, |file| {
        file.write_all(text.as_bytes()).map_err(|e| e.to_string())
    })?;
    Ok(())
}

/// The run log: one JSON line per finished batch, next to the results
/// (`results.parquet` -> `results.log.jsonl`). A resumed run appends to it.
struct RunLog {
    file: Option<std::fs::File>,
}

impl RunLog {
    fn open(output: &Path, append: bool) -> RunLog {
        let path = output.with_extension("log.jsonl");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(&path)
            .ok();
        RunLog { file }
    }

    fn write(&mut self, event: &serde_json::Value) {
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "{event}");
        }
    }
}
