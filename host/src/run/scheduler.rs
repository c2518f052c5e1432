//! Running batches: on a backend (the sandbox or the trusted native engine), with retry and
//! narrowing of failures, several at once.
//!
//! Failure containment: a failed batch is retried once (a fault may be transient); if it fails
//! again it is split in halves, each half run on its own and split again on failure, down to
//! single strategies. Only strategies that fail alone go without rows, and each is reported with
//! its reason.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stratbox_engine::ResultRow;

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

    fn run(&self, input: &[u8]) -> Result<Reply, BatchError> {
        match self {
            Backend::Sandbox(sandbox) => sandbox.run_batch(input),
            Backend::Native => {
                let t = Instant::now();
                let bytes = stratbox_engine::run_batch_bytes::<stratbox_engine::Mvt>(input)
                    .map_err(BatchError::Guest)?;
                Ok(Reply {
                    bytes,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    instantiate: Duration::ZERO,
                    call: t.elapsed(),
                })
            }
        }
    }
}

/// Strategies that got no rows, and why: the ones that failed even when run alone. The same
/// record goes to the checkpoint, the summary, the failures file and the run log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRange {
    pub range: Range<u64>,
    pub reason: BatchError,
}

impl FailedRange {
    /// How many strategies failed.
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
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
    /// Guest output, if it printed anything.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

fn attempt(
    backend: &Backend,
    encoder: &mut Encoder,
    range: &Range<u64>,
    out: &mut BatchOutcome,
) -> Result<Vec<ResultRow>, BatchError> {
    out.attempts += 1;
    let job = encoder.job;
    let reply = backend.run(encoder.encode(range))?;
    out.instantiate += reply.instantiate;
    out.stdout.extend_from_slice(&reply.stdout);
    out.stderr.extend_from_slice(&reply.stderr);
    job.check_reply(range, &reply.bytes)
}

/// Runs `range` alone; on failure splits it in halves until single strategies.
fn narrow(backend: &Backend, encoder: &mut Encoder, range: Range<u64>, out: &mut BatchOutcome) {
    match attempt(backend, encoder, &range, out) {
        Ok(rows) => out.rows.extend(rows),
        Err(reason) if range.end - range.start == 1 => out.failures.push(FailedRange { range, reason }),
        Err(_) => {
            let mid = range.start + (range.end - range.start) / 2;
            narrow(backend, encoder, range.start..mid, out);
            narrow(backend, encoder, mid..range.end, out);
        }
    }
}

/// Runs one batch with its retry and narrowing.
pub fn run_batch(backend: &Backend, job: &Job, index: usize, range: Range<u64>) -> BatchOutcome {
    run_batch_with(backend, &mut job.encoder(), index, range)
}

/// [`run_batch`] with a worker's reused [`Encoder`].
fn run_batch_with(backend: &Backend, encoder: &mut Encoder, index: usize, range: Range<u64>) -> BatchOutcome {
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
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    match attempt(backend, encoder, &range, &mut out) {
        Ok(rows) => out.rows = rows,
        Err(first) => {
            // The retry is the first step of narrowing: the whole range once more, then halves.
            out.first_error = Some(first);
            narrow(backend, encoder, range, &mut out);
        }
    }
    out.elapsed = t.elapsed();
    out
}

/// Runs `ranges` on `jobs` threads and hands each outcome to `on_done` as it completes (on the
/// calling thread, so printing and writing need no locks). Outcomes arrive in completion order;
/// callers sort rows by id, so the result does not depend on it.
///
/// No new batch starts once `stop` is set (Ctrl-C) or `on_done` returns false; batches already
/// running finish and are handed over.
pub fn run_all(
    backend: &Backend,
    job: &Job,
    ranges: &[(usize, Range<u64>)],
    jobs: usize,
    stop: &AtomicBool,
    mut on_done: impl FnMut(BatchOutcome) -> bool,
) {
    let next = AtomicUsize::new(0);
    let refused = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<BatchOutcome>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(ranges.len().max(1)) {
            let tx = tx.clone();
            let (next, refused) = (&next, &refused);
            scope.spawn(move || {
                let mut encoder = job.encoder();
                loop {
                    if stop.load(Ordering::SeqCst) || refused.load(Ordering::SeqCst) {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some((index, range)) = ranges.get(k) else {
                        break;
                    };
                    if tx
                        .send(run_batch_with(backend, &mut encoder, *index, range.clone()))
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
}
