//! Batches: splitting the grid into id ranges, encoding each batch, running it on a backend
//! (the sandbox or the trusted native engine), checking the reply, retrying and narrowing
//! failures, and running several batches at once.
//!
//! Failure containment: a failed batch is retried once (a fault may be transient); if it fails
//! again it is split in halves, each half run on its own and split again on failure, down to
//! single strategies. Only strategies that fail alone go without rows, and each is reported with
//! its reason.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use stratbox_engine::protocol::{self, BatchOutput, PROTOCOL_VERSION, ResidentHeader};
use stratbox_engine::{ColumnsRef, Costs, ResultRow, StrategyParams};

use crate::grid::Grid;
use crate::sandbox::{BatchError, Reply, Sandbox};

/// One worker's input buffer: the header and the columns are written once, and each batch
/// rewrites only its own fields behind them. Why: a year's columns are ~24 MB, and building a
/// fresh buffer per batch cost a copy plus ~6,000 fresh pages every time.
pub struct Encoder<'j> {
    job: &'j Job<'j>,
    buf: Vec<u8>,
    /// Bytes of `buf` that every batch shares (header and columns).
    prefix: usize,
}

impl Encoder<'_> {
    /// The bincode `BatchInput` of strategies `range`, valid until the next call.
    pub fn encode(&mut self, range: &Range<u64>) -> &[u8] {
        let tail = self.job.tail(range);
        self.buf.truncate(self.prefix);
        self.buf.extend_from_slice(&tail);
        &self.buf
    }
}

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

/// Everything every batch shares: the columns, the grid and the account rules.
pub struct Job<'a> {
    pub grid: &'a Grid,
    /// Grid positions of the component's parameters, in the component's order.
    pub param_order: Vec<usize>,
    /// The component's parameter names.
    pub param_names: Vec<String>,
    pub costs: Costs,
    /// Borrowed, not encoded: each worker's [`Encoder`] writes them once into its own buffer, so
    /// the ~24 MB are written once per worker (in parallel) and never copied from a shared one.
    columns: ColumnsRef<'a>,
    /// Set when the columns are in the component's memory image: inputs then carry this header
    /// instead of the columns (protocol 3).
    resident: Option<ResidentHeader>,
}

impl<'a> Job<'a> {
    pub fn new(
        grid: &'a Grid,
        param_names: Vec<String>,
        param_order: Vec<usize>,
        columns: ColumnsRef<'a>,
        costs: Costs,
    ) -> Job<'a> {
        Job {
            grid,
            param_order,
            param_names,
            costs,
            columns,
            resident: None,
        }
    }

    /// Inputs say where the columns already are (`header`) instead of carrying them: for a
    /// sandbox whose component has them in its memory image ([`Sandbox::embed_columns`]).
    pub fn with_resident_columns(mut self, header: Option<ResidentHeader>) -> Job<'a> {
        self.resident = header;
        self
    }

    /// The protocol version of this job's inputs and replies.
    fn protocol(&self) -> u32 {
        self.resident.map_or(PROTOCOL_VERSION, |h| h.protocol)
    }

    /// The bincode `BatchInput` of strategies `range`.
    pub fn encode(&self, range: &Range<u64>) -> Vec<u8> {
        let mut encoder = self.encoder();
        encoder.encode(range);
        encoder.buf
    }

    /// An [`Encoder`] for one worker. bincode encodes a struct as its fields back to back, so
    /// the fields every batch shares, `(PROTOCOL_VERSION, 0, columns)`, are written here once
    /// and each batch appends only its own.
    pub fn encoder(&self) -> Encoder<'_> {
        let buf = match &self.resident {
            Some(header) => protocol::encode(header),
            None => {
                let mut buf = protocol::encode(&(PROTOCOL_VERSION, 0u32));
                protocol::encode_columns_into(&self.columns, &mut buf);
                buf
            }
        };
        Encoder {
            job: self,
            prefix: buf.len(),
            buf,
        }
    }

    /// The per-batch fields after the shared prefix.
    fn tail(&self, range: &Range<u64>) -> Vec<u8> {
        let strategies: Vec<StrategyParams> = range
            .clone()
            .map(|id| {
                let values = self.grid.values(id);
                StrategyParams {
                    id,
                    values: self.param_order.iter().map(|&p| values[p]).collect(),
                }
            })
            .collect();
        protocol::encode(&(&self.param_names, &strategies, &self.grid.lots, &self.costs))
    }

    /// Decodes a reply and checks that it holds exactly the expected rows, in order.
    pub fn check_reply(&self, range: &Range<u64>, bytes: &[u8]) -> Result<Vec<ResultRow>, BatchError> {
        let out: BatchOutput = protocol::decode(bytes).map_err(BatchError::Malformed)?;
        if out.protocol != self.protocol() {
            return Err(BatchError::Malformed(format!(
                "protocol version {} (expected {})",
                out.protocol,
                self.protocol()
            )));
        }
        let lots = &self.grid.lots;
        let expected = (range.end - range.start) as usize * lots.len();
        if out.rows.len() != expected {
            return Err(BatchError::Malformed(format!(
                "{} rows, expected {expected}",
                out.rows.len()
            )));
        }
        for (k, row) in out.rows.iter().enumerate() {
            let id = range.start + (k / lots.len()) as u64;
            let lot = lots[k % lots.len()];
            if row.strategy_id != id || row.lots.to_bits() != lot.to_bits() {
                return Err(BatchError::Malformed(format!(
                    "row {k} is (strategy {}, lots {}), expected (strategy {id}, lots {lot})",
                    row.strategy_id, row.lots
                )));
            }
        }
        Ok(out.rows)
    }
}

/// The id ranges of a run: `[k*size, (k+1)*size)` clipped to the grid.
pub fn batches(total: u64, batch_size: u64) -> Vec<Range<u64>> {
    assert!(batch_size > 0);
    (0..total.div_ceil(batch_size))
        .map(|k| k * batch_size..((k + 1) * batch_size).min(total))
        .collect()
}

/// Strategies that failed even when run alone (or a whole range, if narrowing was off).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub range: Range<u64>,
    pub reason: BatchError,
}

/// What one batch produced.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub index: usize,
    pub range: Range<u64>,
    pub rows: Vec<ResultRow>,
    pub failures: Vec<Failure>,
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
        Err(reason) if range.end - range.start == 1 => out.failures.push(Failure { range, reason }),
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
            out.first_error = Some(first.clone());
            match attempt(backend, encoder, &range, &mut out) {
                Ok(rows) => out.rows = rows,
                Err(second) if range.end - range.start == 1 => out.failures.push(Failure {
                    range: range.clone(),
                    reason: second,
                }),
                Err(_) => {
                    let mid = range.start + (range.end - range.start) / 2;
                    narrow(backend, encoder, range.start..mid, &mut out);
                    narrow(backend, encoder, mid..range.end, &mut out);
                }
            }
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
