//! Running batches: on a backend (the sandbox or the trusted native engine), with retry and
//! narrowing of failures, several at once.
//!
//! Failure containment: a failed batch is retried once (a fault may be transient); if it fails
//! again it is split in halves, each half run on its own and split again on failure, down to
//! single strategies. Only strategies that fail alone go without rows, and each is reported with
//! its reason.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use stratbox_engine::protocol::{StreamedDays, decode, encode_bars};
use stratbox_engine::{ColumnsRef, ResultRow};

use super::failures::FailedRange;
use super::job::{Encoder, Job};
use crate::sandbox::{BatchError, Reply, Sandbox};

/// Where batches run.
pub enum Backend {
    /// A fresh wasm instance per batch (the default).
    Sandbox(Box<Sandbox>),
    /// The same engine compiled into the host: trusted code only, used to measure the sandbox's
    /// cost and to cross-check its results.
    Native,
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sandbox(_) => "sandbox",
            Backend::Native => "native",
        }
    }

    /// Runs one batch's `input` of strategies `range` of `job` (whose series a streamed batch
    /// reads).
    fn run(&self, input: &[u8], job: &Job, range: &Range<u64>) -> Result<Reply, BatchError> {
        let series = job.series(range);
        match self {
            Backend::Sandbox(sandbox) => sandbox.run_batch(input, series),
            Backend::Native => {
                let t = Instant::now();
                let mut days = Vec::new();
                let bytes = match series {
                    // The guest's path, the `series` import answered from the host's columns.
                    Some(series) => stratbox_engine::run_batch_bytes_streamed::<stratbox_engine::Mvt>(
                        &mut input.to_vec(),
                        &mut NativeSeries {
                            bars: series.bars,
                            days: &mut days,
                        },
                    ),
                    None => stratbox_engine::run_batch_bytes::<stratbox_engine::Mvt>(input),
                }
                .map_err(|e| BatchError::guest(&e))?;
                Ok(Reply {
                    bytes,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    instantiate: Duration::ZERO,
                    call: t.elapsed(),
                    peak_memory: 0,
                    days,
                })
            }
        }
    }
}

/// A streamed batch's `series` natively: the host's columns, and a vector for the days.
struct NativeSeries<'a> {
    bars: &'a ColumnsRef<'a>,
    days: &'a mut StreamedDays,
}

impl stratbox_engine::Stream for NativeSeries<'_> {
    fn read_bars(&mut self, start: u64, count: u64) -> Result<Vec<u8>, String> {
        encode_bars(self.bars, start, count)
    }

    fn write_days(&mut self, days: &[u8]) -> Result<(), String> {
        self.days.extend(decode::<StreamedDays>(days)?);
        Ok(())
    }
}

/// What the batches of one run have shown about the component so far, shared by its workers.
///
/// Why: narrowing turns one bad strategy into a few extra attempts, but a component that fails
/// whatever the strategy (an endless loop, a panic on every input, a data set too large for the
/// memory cap) into thousands: every strategy alone, each up to a deadline, hours to write no
/// row. So while nothing has succeeded in the run yet, a failed batch first tries a few single
/// strategies of its own (its first, middle and last: [`probe_ids`]). When [`BROKEN_AFTER`]
/// of them in a row have failed the same way and none has succeeded, the component is judged
/// broken: the run stops with that verdict after a few deadlines, whatever the batch and grid
/// size. One success anywhere and the probes stop: strategy-specific failures are narrowed and
/// named exactly, as before.
#[derive(Debug, Default)]
pub(crate) struct Health {
    succeeded: AtomicBool,
    state: Mutex<Evidence>,
}

#[derive(Debug, Default)]
struct Evidence {
    /// The failed probes in a row, all of one kind: the first of them and how many.
    streak: Option<(BatchError, usize)>,
    verdict: Option<BatchError>,
}

/// Failed probes in a row, of one kind and with no success anywhere, that make a verdict.
pub(crate) const BROKEN_AFTER: usize = 3;

impl Health {
    fn success(&self) {
        self.succeeded.store(true, Ordering::SeqCst);
    }

    fn any_success(&self) -> bool {
        self.succeeded.load(Ordering::SeqCst)
    }

    /// Whether a verdict has ended the run.
    fn halted(&self) -> bool {
        self.state.lock().is_ok_and(|s| s.verdict.is_some())
    }

    /// The verdict, if one was reached: the first failure of the streak that made it.
    pub(crate) fn verdict(&self) -> Option<BatchError> {
        self.state.lock().ok().and_then(|s| s.verdict.clone())
    }

    /// Records a failed probe; true when it completes a verdict (or one was already reached).
    fn failed_probe(&self, reason: &BatchError) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.verdict.is_some() {
            return true;
        }
        if self.any_success() {
            return false;
        }
        let count = match &state.streak {
            Some((first, n)) if first.kind() == reason.kind() => n + 1,
            _ => 1,
        };
        let first = match state.streak.take() {
            Some((first, _)) if count > 1 => first,
            _ => reason.clone(),
        };
        if count >= BROKEN_AFTER {
            state.verdict = Some(first.clone());
        }
        state.streak = Some((first, count));
        state.verdict.is_some()
    }
}

/// The single strategies a failed batch probes: its first, middle and last (fewer when the
/// batch is smaller). Spread out, so that a run of bad neighbours does not look like a broken
/// component.
pub(crate) fn probe_ids(range: &Range<u64>) -> Vec<u64> {
    let mut ids = vec![
        range.start,
        range.start + (range.end - range.start) / 2,
        range.end - 1,
    ];
    ids.dedup();
    ids.retain(|id| range.contains(id));
    ids
}

/// Why a batch did not finish.
#[derive(Debug, Clone, PartialEq)]
pub enum Stopped {
    /// This batch's probes completed the verdict that the component is broken.
    Broken,
    /// Another batch's verdict ended the run while this one was narrowing.
    Abandoned,
}

/// What one batch produced.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub index: usize,
    pub range: Range<u64>,
    pub rows: Vec<ResultRow>,
    pub failures: Vec<FailedRange>,
    /// Reason of the first failed attempt, when the batch needed retries.
    pub first_error: Option<BatchError>,
    pub attempts: u32,
    pub elapsed: Duration,
    /// Sandbox fixed cost (instantiation) summed over attempts.
    pub instantiate: Duration,
    /// The most linear memory any attempt's instance had, bytes (0 natively).
    pub peak_memory: usize,
    /// Guest output, if it printed anything.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Set when the batch did not finish: its rows and failures are incomplete and it is not
    /// saved; a rerun of the same command runs it again.
    pub stopped: Option<Stopped>,
}

impl BatchOutcome {
    /// Whether every strategy of the batch has rows or a failure of its own.
    pub fn finished(&self) -> bool {
        self.stopped.is_none()
    }

    /// Strategies that failed alone.
    pub fn failed(&self) -> u64 {
        self.failures.iter().map(FailedRange::len).sum()
    }
}

fn attempt(
    backend: &Backend,
    encoder: &mut Encoder,
    range: &Range<u64>,
    out: &mut BatchOutcome,
    health: &Health,
) -> Result<Vec<ResultRow>, BatchError> {
    out.attempts += 1;
    let job = encoder.job;
    let reply = backend.run(encoder.encode(range), job, range)?;
    out.instantiate += reply.instantiate;
    out.peak_memory = out.peak_memory.max(reply.peak_memory);
    out.stdout.extend_from_slice(&reply.stdout);
    out.stderr.extend_from_slice(&reply.stderr);
    let rows = job.check_reply(range, &reply.bytes, reply.days)?;
    health.success();
    Ok(rows)
}

/// Runs `range` alone; on failure splits it in halves until single strategies. Stops (the
/// batch abandoned) once a verdict has ended the run.
fn narrow(
    backend: &Backend,
    encoder: &mut Encoder,
    range: Range<u64>,
    out: &mut BatchOutcome,
    health: &Health,
) {
    if out.stopped.is_some() {
        return;
    }
    if health.halted() {
        out.stopped = Some(Stopped::Abandoned);
        return;
    }
    match attempt(backend, encoder, &range, out, health) {
        Ok(rows) => out.rows.extend(rows),
        Err(reason) if range.end - range.start == 1 => out.failures.push(FailedRange { range, reason }),
        Err(_) => {
            let mid = range.start + (range.end - range.start) / 2;
            narrow(backend, encoder, range.start..mid, out, health);
            narrow(backend, encoder, mid..range.end, out, health);
        }
    }
}

/// Tries the [`probe_ids`] of a failed batch alone; `Some` when the run stops: this batch's
/// probes completed the verdict, or another batch's verdict came first. What the probes compute
/// is not kept: narrowing runs those strategies again, so a batch's rows never depend on whether
/// it was probed.
fn probe(
    backend: &Backend,
    encoder: &mut Encoder,
    range: &Range<u64>,
    out: &mut BatchOutcome,
    health: &Health,
) -> Option<Stopped> {
    for id in probe_ids(range) {
        if health.halted() {
            return Some(Stopped::Abandoned);
        }
        match attempt(backend, encoder, &(id..id + 1), out, health) {
            Ok(_) => return None,
            Err(reason) if health.failed_probe(&reason) => return Some(Stopped::Broken),
            Err(_) => {}
        }
    }
    None
}

/// Runs one batch with its retry and narrowing (and, while nothing has succeeded, its probes).
pub fn run_batch(backend: &Backend, job: &Job, index: usize, range: Range<u64>) -> BatchOutcome {
    run_batch_with(backend, &mut job.encoder(), index, range, &Health::default())
}

/// [`run_batch`] with a worker's reused [`Encoder`] and the run's [`Health`].
fn run_batch_with(
    backend: &Backend,
    encoder: &mut Encoder,
    index: usize,
    range: Range<u64>,
    health: &Health,
) -> BatchOutcome {
    let t = Instant::now();
    let mut out = BatchOutcome {
        index,
        range: range.clone(),
        rows: Vec::new(),
        failures: Vec::new(),
        first_error: None,
        attempts: 0,
        elapsed: Duration::ZERO,
        instantiate: Duration::ZERO,
        peak_memory: 0,
        stdout: Vec::new(),
        stderr: Vec::new(),
        stopped: None,
    };
    match attempt(backend, encoder, &range, &mut out, health) {
        Ok(rows) => out.rows = rows,
        Err(first) => {
            out.first_error = Some(first);
            if !health.any_success() {
                out.stopped = probe(backend, encoder, &range, &mut out, health);
            }
            // The retry is the first step of narrowing: the whole range once more, then halves.
            narrow(backend, encoder, range, &mut out, health);
        }
    }
    if out.stopped.is_some() {
        out.rows.clear();
        out.failures.clear();
    }
    out.elapsed = t.elapsed();
    out
}

/// Runs `ranges` on `jobs` threads and hands each outcome to `on_done` as it completes (on the
/// calling thread, so printing and writing need no locks). Outcomes arrive in completion order;
/// callers sort rows by id, so the result does not depend on it.
///
/// No new batch starts once `stop` is set (Ctrl-C), `on_done` returns false, or the component
/// is judged broken ([`Health`]); batches already running finish (or are abandoned, after a
/// verdict) and are handed over. Returns the verdict, if one was reached.
pub(crate) fn run_all(
    backend: &Backend,
    job: &Job,
    ranges: &[(usize, Range<u64>)],
    jobs: usize,
    stop: &AtomicBool,
    mut on_done: impl FnMut(BatchOutcome) -> bool,
) -> Option<BatchError> {
    let next = AtomicUsize::new(0);
    let refused = AtomicBool::new(false);
    let health = Health::default();
    let (tx, rx) = mpsc::channel::<BatchOutcome>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(ranges.len().max(1)) {
            let tx = tx.clone();
            let (next, refused, health) = (&next, &refused, &health);
            scope.spawn(move || {
                let mut encoder = job.encoder();
                loop {
                    if stop.load(Ordering::SeqCst) || refused.load(Ordering::SeqCst) || health.halted() {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some((index, range)) = ranges.get(k) else {
                        break;
                    };
                    if tx
                        .send(run_batch_with(
                            backend,
                            &mut encoder,
                            *index,
                            range.clone(),
                            health,
                        ))
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for outcome in rx {
            if !on_done(outcome) {
                refused.store(true, Ordering::SeqCst);
            }
        }
    });
    health.verdict()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_the_first_middle_and_last_strategy() {
        assert_eq!(probe_ids(&(1000..1500)), vec![1000, 1250, 1499]);
        assert_eq!(probe_ids(&(7..9)), vec![7, 8]);
        assert_eq!(probe_ids(&(7..8)), vec![7]);
    }

    #[test]
    fn a_verdict_needs_three_failures_of_one_kind_in_a_row_and_no_success() {
        let deadline = BatchError::Deadline {
            limit: Duration::from_secs(1),
            seen: Duration::from_secs(1),
        };
        let panic = BatchError::Panic { message: "x".into() };
        let h = Health::default();
        assert!(!h.failed_probe(&deadline));
        assert!(!h.failed_probe(&panic), "another kind starts the streak again");
        assert!(!h.failed_probe(&panic));
        assert!(h.failed_probe(&panic));
        assert_eq!(h.verdict(), Some(panic.clone()));
        assert!(h.halted());

        let h = Health::default();
        h.failed_probe(&panic);
        h.failed_probe(&panic);
        h.success();
        assert!(
            !h.failed_probe(&panic),
            "a success anywhere means the failures are the strategies'"
        );
        assert_eq!(h.verdict(), None);
    }
}
