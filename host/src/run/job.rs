//! One run's batch inputs: what every batch shares (the columns, the grid, the account rules),
//! encoded into a worker's reused buffer, and each reply checked against what was asked.

use std::ops::Range;

use stratbox_engine::metrics::utc_day;
use stratbox_engine::protocol::{
    self, DayPnl, PROTOCOL_VERSION, ResidentHeader, StreamedDays, StreamedHeader,
};
use stratbox_engine::{ColumnsRef, Costs, ResultRow, StrategyParams};

use super::blocks::Blocks;
use crate::grid::Grid;
use crate::sandbox::{BarsCache, BatchError, Series};

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
    /// Set when batches read the bars through the `series` import a block at a time instead of
    /// receiving them (protocol 6).
    streamed: Option<Blocks>,
    /// The blocks streamed batches read, encoded once for all of them.
    bars_cache: Option<BarsCache>,
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
            streamed: None,
            bars_cache: None,
        }
    }

    /// Batches read the bars through the `series` import, a block at a time (protocol 6), for a
    /// component that declares it ([`crate::sandbox::streams_bars`]); replies carry daily P&L.
    pub fn with_streamed_bars(mut self, blocks: Option<Blocks>) -> Job<'a> {
        self.streamed = blocks;
        self.bars_cache = blocks.map(|b| BarsCache::new(b.block_bars, b.lookahead_bars));
        if blocks.is_some() {
            self.daily = true;
        }
        self
    }

    /// Whether batches are streamed.
    pub fn streamed(&self) -> Option<Blocks> {
        self.streamed
    }

    /// What a streamed batch of strategies `range` is lent (`None` when not streamed): the
    /// series, and at most its rows times the days the series spans of day entries.
    pub fn series(&self, range: &Range<u64>) -> Option<Series<'_>> {
        let cache = self.bars_cache.as_ref()?;
        let days = match (self.columns.time.first(), self.columns.time.last()) {
            (Some(&a), Some(&b)) => (utc_day(b) - utc_day(a)) as usize + 1,
            _ => 0,
        };
        let rows = (range.end - range.start) as usize * self.grid.lots.len();
        Some(Series {
            bars: &self.columns,
            cache,
            max_day_entries: rows.saturating_mul(days),
        })
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
        if self.streamed.is_some() {
            return protocol::PROTOCOL_STREAMED;
        }
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
        let buf = match (&self.streamed, &self.resident) {
            (Some(blocks), _) => protocol::encode(&StreamedHeader {
                protocol: self.protocol(),
                reserved: 0,
                bars: self.columns.len() as u64,
                block_bars: blocks.block_bars,
                lookahead_bars: blocks.lookahead_bars,
            }),
            (None, Some(header)) => protocol::encode(&ResidentHeader {
                protocol: self.protocol(),
                ..*header
            }),
            (None, None) => {
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
    /// A streamed batch's complete days (`days`, from `write-days`) go before the days its rows
    /// carry, and are checked with them.
    pub fn check_reply(
        &self,
        range: &Range<u64>,
        bytes: &[u8],
        days: StreamedDays,
    ) -> Result<Vec<ResultRow>, BatchError> {
        let mut out = protocol::decode_reply(bytes).map_err(|e| BatchError::malformed(&e))?;
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
        if !days.is_empty() {
            let mut before: Vec<Vec<DayPnl>> = vec![Vec::new(); out.rows.len()];
            for (row, d) in days {
                let Some(b) = before.get_mut(row as usize) else {
                    return Err(BatchError::Malformed(format!(
                        "write-days gave days for row {row} of {}",
                        out.rows.len()
                    )));
                };
                b.extend(d);
            }
            for (row, mut b) in out.rows.iter_mut().zip(before) {
                b.append(&mut row.daily);
                row.daily = b;
            }
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
