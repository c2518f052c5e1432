//! One run, end to end: load -> features -> grid -> batches -> sandbox -> rows -> Parquet.
//!
//! The library side of `stratbox discover` and `stratbox batch`: no printing except through the
//! [`Progress`] sink, typed errors, and a [`RunSummary`] the CLI turns into an exit code.
//!
//! - `source`: the built-in component, the bundled data, the engine kinds.
//! - `plan`: which batches a run (or a shard of it) executes.
//! - `job`: the batch inputs every batch shares, and the check of each reply.
//! - `scheduler`: running batches, with retry and narrowing, several at once.
//! - `failures`: the strategies that got no rows, and their summary by reason.
//! - `checkpoint`: finished batches on disk, so a killed run resumes.
//! - `assemble`: the finished batches' rows in strategy order, their daily P&L into its file.
//! - `progress`: what a run shows while it runs.
//! - `provenance`: the results' metadata and the checkpoint's manifest.

mod assemble;
mod blocks;
mod checkpoint;
mod failures;
mod job;
mod plan;
mod progress;
mod provenance;
mod scheduler;
mod source;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use stratbox_engine::{Mvt, Strategy};

pub use checkpoint::{CheckpointError, parts_dir};
pub use failures::{FailedRange, ReasonCount, by_reason, summary_lines};
pub use job::Job;
pub use plan::Shard;
pub use progress::{Bar, Json, Lines, Progress, Quiet, batch_json};
pub use scheduler::{Backend, BatchOutcome, run_batch};
pub use source::{
    BUNDLED_DATA, BUNDLED_DATA_NAME, COMPONENTS_DIR, ComponentSource, DEFAULT_COMPONENT, EngineKind,
    bundled_data, data_inputs,
};

pub(crate) use source::is_builtin_family;

use assemble::{Assembled, Assembler};
pub use blocks::{BLOCK_BARS, Blocks, CapTooSmall};
use checkpoint::{BatchRecord, Checkpoint};
use plan::plan;
use scheduler::run_all;

use crate::cache::Cache;
use crate::data::{self, Bars, DataError, LoadOptions, LoadReport};
use crate::exit::Exit;
use crate::features;
use crate::grid::{Grid, GridError};
use crate::results::daily::{self, Calendar, DailyWriter};
use crate::results::{self, ResultsError, keys, sidecar};
use crate::sandbox::{ComponentInfo, Limits, LoadError, Sandbox};
use crate::sys;
use crate::util::time::iso_utc;

/// Everything a run needs, already validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Data files; empty means the bundled data set.
    pub data: Vec<PathBuf>,
    pub load: LoadOptions,
    pub grid: Grid,
    pub component: ComponentSource,
    pub engine: EngineKind,
    /// The sandbox's caps; `limits.instances` is also how many batches run at once.
    pub limits: Limits,
    pub batch_size: u64,
    /// Only these strategy ids (a worker's share); `None` for the whole grid.
    pub range: Option<Range<u64>>,
    /// Only bars whose time (UTC seconds) is in this range, e.g. the in-sample part of a split.
    pub window: Option<Range<i64>>,
    /// Only this shard of the batches.
    pub shard: Option<Shard>,
    /// Delete an existing checkpoint of the output instead of resuming it.
    pub fresh: bool,
    /// Stop the run once more than this many strategies have failed in it (`None`: never).
    pub max_failures: Option<u64>,
    /// Where compiled components are cached; `None` compiles every run.
    pub cache: Option<Cache>,
    /// Put the columns into the component's memory image once (protocol 3) when the component
    /// reads them there, instead of copying them into every instance.
    pub resident_columns: bool,
    pub output: PathBuf,
}

impl RunConfig {
    /// Batches run at once.
    pub fn jobs(&self) -> usize {
        self.limits.instances
    }
}

/// Why a run could not start or finish. Each knows its exit code ([`RunError::exit`]).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Grid(#[from] GridError),
    #[error(transparent)]
    Component(#[from] LoadError),
    #[error("the grid and the component disagree: {0}")]
    Params(String),
    #[error("the grid {grid} is written for strategy {family:?}, but the component is {component:?}")]
    WrongFamily {
        grid: String,
        family: String,
        component: String,
    },
    #[error(
        "--engine native runs only the built-in {} family; {origin} is {name:?}",
        Mvt::NAME
    )]
    NativeNeedsBuiltin { origin: String, name: String },
    #[error("strategy range {}..{} is empty or outside the grid's 0..{grid_size}", range.start, range.end)]
    RangeOutsideGrid { range: Range<u64>, grid_size: u64 },
    #[error("no bars between {} and {}", iso_utc(window.start), iso_utc(window.end))]
    NoBarsInWindow { window: Range<i64> },
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    CapTooSmall(#[from] CapTooSmall),
    #[error(
        "component {component} failed on every strategy tried ({tried} of {tried} in {batches} {}): {reason}; \
         the other {not_run} were not run. Finished batches are saved in {}: the same command runs \
         the rest again (add --fresh after changing the component or its limits)",
        if *batches == 1 { "batch" } else { "batches" },
        parts.display()
    )]
    BrokenComponent {
        component: String,
        tried: u64,
        batches: usize,
        /// Boxed: the error type stays small on every platform (clippy::result_large_err).
        reason: Box<crate::sandbox::BatchError>,
        not_run: u64,
        parts: PathBuf,
    },
    #[error(
        "{failed} strategies failed in this run, more than --max-failures {max}; the other {not_run} \
         were not run. Finished batches are saved in {}: the same command runs the rest",
        parts.display()
    )]
    TooManyFailures {
        failed: u64,
        max: u64,
        not_run: u64,
        parts: PathBuf,
    },
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
    /// The exit code: bad input (data, grid, component, a checkpoint of another run) is the
    /// user's to fix; a run stopped by failing strategies is partial (its finished batches are
    /// saved); an interrupted run resumes; anything else is stratbox's failure.
    pub fn exit(&self) -> Exit {
        match self {
            RunError::Data(_)
            | RunError::Grid(_)
            | RunError::Component(_)
            | RunError::Params(_)
            | RunError::WrongFamily { .. }
            | RunError::NativeNeedsBuiltin { .. }
            | RunError::RangeOutsideGrid { .. }
            | RunError::NoBarsInWindow { .. }
            | RunError::CapTooSmall(_) => Exit::BadInput,
            RunError::Checkpoint(e) => e.exit(),
            RunError::Results(e) => e.exit(),
            RunError::BrokenComponent { .. } | RunError::TooManyFailures { .. } => Exit::Partial,
            RunError::Interrupted { .. } => Exit::Interrupted,
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
    /// The most linear memory any instance of this run had, bytes (0 natively).
    pub peak_instance_memory: usize,
}

impl RunSummary {
    /// Strategies that got no rows.
    pub fn failed(&self) -> u64 {
        self.failures.iter().map(FailedRange::len).sum()
    }

    /// [`Exit::Partial`] when some strategies failed, else [`Exit::Ok`].
    pub fn exit(&self) -> Exit {
        if self.failed() > 0 {
            Exit::Partial
        } else {
            Exit::Ok
        }
    }
}

/// Loads the configured data (the bundled set when none is given), cut to the run's window.
pub fn load_data(cfg: &RunConfig) -> Result<(Bars, LoadReport), RunError> {
    let (bars, report) = data::load(&data_inputs(&cfg.data), &cfg.load)?;
    let Some(w) = &cfg.window else {
        return Ok((bars, report));
    };
    let cut = bars.window(w);
    if cut.is_empty() {
        return Err(RunError::NoBarsInWindow { window: w.clone() });
    }
    Ok((cut, report))
}

/// The backend a run uses, and the parameter names batches carry.
fn backend(cfg: &RunConfig) -> Result<(Backend, ComponentInfo), RunError> {
    // The component is loaded even for native runs: its describe() is the parameter contract
    // and its digest goes into the metadata.
    let sandbox = Sandbox::with_cache(
        &cfg.component.bytes,
        &cfg.component.origin,
        cfg.limits,
        cfg.cache.as_ref(),
    )?;
    let info = sandbox.info().clone();
    match cfg.engine {
        EngineKind::Sandbox => Ok((Backend::Sandbox(Box::new(sandbox)), info)),
        EngineKind::Native if is_builtin_family(&info.name, &info.params) => Ok((Backend::Native, info)),
        EngineKind::Native => Err(RunError::NativeNeedsBuiltin {
            origin: cfg.component.origin.clone(),
            name: info.name,
        }),
    }
}

/// Strategies of `batches` whose batch is saved in `checkpoint`.
fn strategies_done(checkpoint: &Checkpoint, batches: &[(usize, Range<u64>)]) -> Result<u64, RunError> {
    let done = checkpoint.done()?;
    Ok(batches
        .iter()
        .filter(|(i, _)| done.contains(i))
        .map(|(_, r)| r.end - r.start)
        .sum())
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
    let param_order = cfg.grid.match_params(&info.params).map_err(RunError::Params)?;
    if let Some(family) = &cfg.grid.strategy
        && *family != info.name
    {
        return Err(RunError::WrongFamily {
            grid: cfg.grid.name.clone(),
            family: family.clone(),
            component: info.name.clone(),
        });
    }
    let batches = plan(cfg.grid.size(), cfg.range.clone(), cfg.batch_size, cfg.shard)?;
    phases.push(("component", t.elapsed()));

    let t = Instant::now();
    let (bars, report) = load_data(cfg)?;
    phases.push(("load", t.elapsed()));

    let t = Instant::now();
    let features = features::compute(&bars.close, &cfg.grid.windows);
    let columns = features.columns(&bars);
    let costs = cfg.grid.engine_costs(bars.digits);
    let mut meta = provenance::metadata(cfg, &bars, &report, &info);
    phases.push(("features", t.elapsed()));

    let t = Instant::now();
    // A component that reads the bars through the host gets them a block at a time (protocol
    // 6) when the series is longer than one block: its memory then does not grow with the
    // series, and no memory image is built. A shorter series is no larger than a block, and
    // goes into the memory image (or is copied in) as before, the cheapest way for it.
    let streamed = match cfg.resident_columns && crate::sandbox::streams_bars(&cfg.component.bytes) {
        true => match Blocks::for_cap(cfg.limits.memory_bytes as u64) {
            Ok(blocks) => Some(blocks).filter(|b| b.streams(columns.len())),
            // Too small a cap for one window refuses only a series that would stream.
            Err(_) if !Blocks::smallest().streams(columns.len()) => None,
            Err(e) => return Err(e.into()),
        },
        false => None,
    };
    let resident = match &mut backend {
        Backend::Sandbox(sandbox) if cfg.resident_columns && streamed.is_none() => {
            sandbox.embed_columns(&cfg.component.bytes, &columns, cfg.cache.as_ref())?
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
    .with_resident_columns(resident)
    .with_daily_pnl(crate::sandbox::books_daily(&cfg.component.bytes))
    .with_streamed_bars(streamed);
    if resident.is_some() {
        phases.push(("image", t.elapsed()));
    }

    let checkpoint = Checkpoint::open(
        &cfg.output,
        &provenance::manifest(cfg, &meta, batches.len(), job.books_daily()),
        cfg.fresh,
    )?;
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
            cfg.jobs()
        ),
        batches.len(),
        skipped,
        strategies,
    );

    let calendar = Calendar::of_bars(&bars.time);
    let books_daily = job.books_daily();
    if let Some(shard) = cfg.shard {
        meta.insert(keys::SHARD.into(), shard.to_string());
    }
    // The batches' rows are taken in strategy order as they finish (`assemble`): each row's
    // daily P&L goes straight into the daily file (and its Sharpe and Sortino into the ratios)
    // and is let go, so the run never holds the whole daily table (the issue of 25 years: 52.7
    // M entries), and the file's encoding overlaps the batches still running.
    let daily = match books_daily {
        true => Some(DailyWriter::create_in(
            &cfg.output,
            checkpoint.dir(),
            &calendar,
            &meta,
        )?),
        false => {
            daily::remove_stale(&cfg.output);
            None
        }
    };
    let rows = strategies as usize * cfg.grid.lots.len();
    let mut assembler = Assembler::new(&batches, done_before, daily, calendar.len(), rows);
    assembler.saved_before(&checkpoint)?;

    let t = Instant::now();
    let mut done = skipped;
    let mut overhead = Duration::ZERO;
    let mut peak_instance_memory = 0usize;
    let mut save_error = None;
    let mut take_error = None;
    let mut failed_here = 0u64;
    let mut stopped = (0usize, 0u64);
    let mut log = sidecar::RunLog::open(&cfg.output, skipped > 0);
    let verdict = run_all(&backend, &job, &todo, cfg.jobs(), stop, |mut outcome| {
        overhead += outcome.instantiate;
        peak_instance_memory = peak_instance_memory.max(outcome.peak_memory);
        if !outcome.finished() {
            // Not saved: a rerun of the same command runs it again.
            stopped = (
                stopped.0 + 1,
                stopped.1 + (outcome.range.end - outcome.range.start),
            );
            log.write(&batch_json(&outcome, done, batches.len()));
            progress.batch_done(&outcome, done, batches.len());
            return false;
        }
        done += 1;
        failed_here += outcome.failed();
        log.write(&batch_json(&outcome, done, batches.len()));
        progress.batch_done(&outcome, done, batches.len());
        // Moved, not copied: with daily P&L the rows are most of a batch's bytes.
        let record = BatchRecord {
            index: outcome.index,
            start: outcome.range.start,
            end: outcome.range.end,
            failures: std::mem::take(&mut outcome.failures),
            rows: std::mem::take(&mut outcome.rows),
        };
        if let Err(e) = checkpoint.save(&record) {
            save_error = Some(e);
            return false;
        }
        if let Err(e) = assembler.saved(&checkpoint, record) {
            take_error = Some(e);
            return false;
        }
        cfg.max_failures.is_none_or(|max| failed_here <= max)
    });
    progress.finished();
    if let Some(e) = save_error {
        return Err(e.into());
    }
    if let Some(e) = take_error {
        return Err(e);
    }
    phases.push(("batches", t.elapsed()));
    let saved: u64 = strategies_done(&checkpoint, &batches)?;
    if let Some(reason) = verdict {
        let verdict = serde_json::json!({
            "event": "verdict",
            "component": cfg.component.origin,
            "reason": reason.to_string(),
            "kind": reason.kind(),
            "batches": stopped.0,
            "strategies": stopped.1,
        });
        log.write(&verdict);
        return Err(RunError::BrokenComponent {
            component: cfg.component.origin.clone(),
            tried: stopped.1,
            batches: stopped.0,
            reason: Box::new(reason),
            not_run: strategies - saved - stopped.1,
            parts: checkpoint.dir().to_owned(),
        });
    }
    if let Some(max) = cfg.max_failures
        && failed_here > max
    {
        return Err(RunError::TooManyFailures {
            failed: failed_here,
            max,
            not_run: strategies - saved,
            parts: checkpoint.dir().to_owned(),
        });
    }
    if done < batches.len() {
        return Err(RunError::Interrupted {
            done,
            total: batches.len(),
            parts: checkpoint.dir().to_owned(),
        });
    }

    let t = Instant::now();
    // Writing needs neither the series nor the component: let them go before the last rows
    // come back from the checkpoints.
    drop(job);
    drop(backend);
    drop(bars);
    let Assembled {
        rows,
        ratios,
        failures,
        daily,
    } = assembler.finish(&checkpoint)?;
    let mut df = results::to_frame(&cfg.grid, &param_order, &rows, ratios.as_deref()).map_err(|e| {
        ResultsError::Write {
            path: cfg.output.clone(),
            source: std::io::Error::other(e),
        }
    })?;
    if let Some(daily) = daily {
        daily.finish()?;
    }
    results::write_parquet(&cfg.output, &mut df, &meta)?;
    sidecar::write_failures(&cfg.output, &failures)?;
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
        peak_instance_memory,
    })
}
