//! One run's batch inputs: what every batch shares (the columns, the grid, the account rules),
//! encoded into a worker's reused buffer, and each reply checked against what was asked.

use std::ops::Range;

use stratbox_engine::metrics::utc_day;
use stratbox_engine::protocol::{self, PROTOCOL_VERSION, ResidentHeader};
use stratbox_engine::{ColumnsRef, Costs, ResultRow, StrategyParams};

use crate::grid::Grid;
use crate::sandbox::BatchError;

/// One worker's input buffer: the header and the columns are written once, and each batch
/// rewrites only its own fields behind them. Why: a year's columns are ~24 MB, and building a
/// fresh buffer per batch cost a copy plus ~6,000 fresh pages every time.
pub(crate) struct Encoder<'j> {
    pub(crate) job: &'j Job<'j>,
    buf: Vec<u8>,
    /// Bytes of `buf` that every batch shares (header and columns).
    prefix: usize,
}

impl Encoder<'_> {
    /// The bincode `BatchInput` of strategies `range`, valid until the next call.
    pub(crate) fn encode(&mut self, range: &Range<u64>) -> &[u8] {
        let tail = self.job.tail(range);
        self.buf.truncate(self.prefix);
        self.buf.extend_from_slice(&tail);
        &self.buf
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
    /// Ask for rows with their daily P&L (protocols 4 and 5), for a component that books it.
    daily: bool,
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
            daily: false,
        }
    }

    /// Inputs ask for rows with their daily P&L (protocol 4, or 5 with resident columns), for a
    /// component that declares it books it ([`crate::sandbox::books_daily`]).
    pub fn with_daily_pnl(mut self, daily: bool) -> Job<'a> {
        self.daily = daily;
        self
    }

    /// Whether replies carry daily P&L.
    pub fn books_daily(&self) -> bool {
        self.daily
    }

    /// Inputs say where the columns already are (`header`) instead of carrying them: for a
    /// sandbox whose component has them in its memory image ([`crate::sandbox::Sandbox::embed_columns`]).
    pub fn with_resident_columns(mut self, header: Option<ResidentHeader>) -> Job<'a> {
        self.resident = header;
        self
    }

    /// The protocol version of this job's inputs and replies.
    fn protocol(&self) -> u32 {
        let layout = self.resident.map_or(PROTOCOL_VERSION, |h| h.protocol);
        if self.daily {
            protocol::with_daily(layout)
        } else {
            layout
        }
    }

    /// The bincode `BatchInput` of strategies `range`.
    pub fn encode(&self, range: &Range<u64>) -> Vec<u8> {
        let mut encoder = self.encoder();
        encoder.encode(range);
        encoder.buf
    }

    /// An [`Encoder`] for one worker. bincode encodes a struct as its fields back to back, so
    /// the fields every batch shares, `(protocol, 0, columns)`, are written here once
    /// and each batch appends only its own.
    pub(crate) fn encoder(&self) -> Encoder<'_> {
        let buf = match &self.resident {
            Some(header) => protocol::encode(&ResidentHeader {
                protocol: self.protocol(),
                ..*header
            }),
            None => {
                let mut buf = protocol::encode(&(self.protocol(), 0u32));
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

    /// A row's daily P&L must be what the engine books: days ascending inside the data's span,
    /// at least one trade each, as many trades in all as the row has, finite P&L.
    fn check_daily(&self, row: &ResultRow) -> Result<(), String> {
        let (Some(&first), Some(&last)) = (self.columns.time.first(), self.columns.time.last()) else {
            return Ok(());
        };
        let span = utc_day(first)..=utc_day(last);
        let mut trades = 0u64;
        let mut previous = None;
        for d in &row.daily {
            if !span.contains(&d.day) || previous.is_some_and(|p| p >= d.day) {
                return Err(format!(
                    "daily P&L on day {} is out of order or outside the data's days {}..={}",
                    d.day,
                    span.start(),
                    span.end()
                ));
            }
            if d.n_trades == 0 || !d.pnl_usd.is_finite() {
                return Err(format!(
                    "daily P&L on day {} has {} trades and {} USD",
                    d.day, d.n_trades, d.pnl_usd
                ));
            }
            previous = Some(d.day);
            trades += u64::from(d.n_trades);
        }
        if trades != u64::from(row.n_trades) {
            return Err(format!(
                "its daily P&L counts {trades} trades, the row {}",
                row.n_trades
            ));
        }
        Ok(())
    }

    /// Decodes a reply and checks that it holds exactly the expected rows, in order.
    pub fn check_reply(&self, range: &Range<u64>, bytes: &[u8]) -> Result<Vec<ResultRow>, BatchError> {
        let out = protocol::decode_reply(bytes).map_err(|e| BatchError::malformed(&e))?;
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
            if self.daily {
                self.check_daily(row).map_err(|e| {
                    BatchError::Malformed(format!("row {k} (strategy {id}, lots {lot}): {e}"))
                })?;
            }
        }
        Ok(out.rows)
    }
}
