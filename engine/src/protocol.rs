//! The host/guest wire contract: what `run-batch` takes and returns, as bincode 1.x bytes.
//!
//! Both sides compile this one module, so a change here is a change to both at once. The byte
//! layout (documented for guests in other languages in `wit/PROTOCOL.md`) is bincode 1.x with
//! its default options: little-endian, fixed-width integers, `u64` lengths before sequences and
//! strings, `Option` as a `u8` tag (0 = None, 1 = Some) then the value, `bool` as one byte.
//! Fields are encoded in declaration order with nothing between them.

use serde::{Deserialize, Serialize};

/// Bumped whenever the layout below changes; the guest refuses a batch with another version.
///
/// 2: an 8-byte header (`protocol`, `reserved`), so the columns lie on 8-byte boundaries.
pub const PROTOCOL_VERSION: u32 = 2;

/// Version 2's input, answered with rows that carry their daily P&L ([`ResultRow::daily`],
/// SPEC section 7). Spoken only by components that declare it (custom section
/// [`DAILY_PNL_SECTION`]); versions 2 and 3 stay as they were, with [`LegacyRow`] replies, so
/// components built before it still run (their results then have no daily file).
pub const PROTOCOL_DAILY: u32 = 4;

/// Version 3's input (columns resident in the guest's memory), answered as version 4.
pub const PROTOCOL_RESIDENT_DAILY: u32 = 5;

/// Name of the custom section by which a component's core module declares that it answers
/// versions [`PROTOCOL_DAILY`] and [`PROTOCOL_RESIDENT_DAILY`]. The guest SDK emits it.
pub const DAILY_PNL_SECTION: &str = "stratbox:daily-pnl";

/// The batch's strategies and account rules only: the guest reads the bars a stretch at a time
/// through the host's `stratbox:backtest/series` import ([`StreamedHeader`]), so its memory does
/// not grow with the series. Answered as version 4 (rows with daily P&L), with this version.
/// Spoken only by components that declare it (custom section [`STREAMED_COLUMNS_SECTION`]).
pub const PROTOCOL_STREAMED: u32 = 6;

/// Name of the custom section by which a component's core module declares that it answers
/// [`PROTOCOL_STREAMED`] (and reads the bars through the `series` import). The guest SDK emits it.
pub const STREAMED_COLUMNS_SECTION: &str = "stratbox:streamed-columns";

/// The first 32 bytes of a [`PROTOCOL_STREAMED`] input; the [`BatchTail`] follows.
///
/// `bars` is the series' length. The guest asks for bars `lo..hi` with `series.read-bars(lo, hi - lo)`
/// and gets them laid out as [`encode_resident_columns`] writes them. It moves through the
/// series `block_bars` entry bars at a time, loading with each block the bars its strategies
/// look back on and `lookahead_bars` after it (more when a position's time exit lies further),
/// so its memory follows the block, not the series. The host sizes the block to the memory cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamedHeader {
    pub protocol: u32,
    pub reserved: u32,
    pub bars: u64,
    pub block_bars: u64,
    pub lookahead_bars: u64,
}

/// What a streamed batch hands the host through `write-days`: per row of the batch (its index in
/// the reply's order), the daily P&L of days that are complete, ascending. The host puts a row's
/// days from successive calls, then the days its reply row carries, one after the other.
pub type StreamedDays = Vec<(u32, Vec<DayPnl>)>;

/// Bytes of a [`StreamedHeader`].
pub const STREAMED_HEADER_BYTES: usize = 32;

/// Splits a [`PROTOCOL_STREAMED`] input into its header and tail.
pub fn decode_streamed_input(input: &[u8]) -> Result<(StreamedHeader, BatchTail), String> {
    split_header(input, STREAMED_HEADER_BYTES)
}

/// An input of a fixed-size header of `len` bytes followed by the [`BatchTail`].
fn split_header<'a, H: Deserialize<'a>>(input: &'a [u8], len: usize) -> Result<(H, BatchTail), String> {
    let head = input
        .get(..len)
        .ok_or("malformed bincode: io error: unexpected end of file")?;
    Ok((decode(head)?, decode(&input[len..])?))
}

/// Whether replies to inputs of version `protocol` carry daily P&L.
pub fn books_daily(protocol: u32) -> bool {
    matches!(
        protocol,
        PROTOCOL_DAILY | PROTOCOL_RESIDENT_DAILY | PROTOCOL_STREAMED
    )
}

/// Whether inputs of version `protocol` find their columns resident in the guest's memory.
pub fn is_resident(protocol: u32) -> bool {
    matches!(protocol, PROTOCOL_RESIDENT | PROTOCOL_RESIDENT_DAILY)
}

/// The version that asks for the same input layout as `protocol` (2 or 3) with daily P&L in the
/// reply (4 or 5); other versions are returned as they are.
pub fn with_daily(protocol: u32) -> u32 {
    match protocol {
        PROTOCOL_VERSION => PROTOCOL_DAILY,
        PROTOCOL_RESIDENT => PROTOCOL_RESIDENT_DAILY,
        other => other,
    }
}

/// The same batch with the columns already in the guest's memory (see [`ResidentHeader`]): the
/// input carries only a 16-byte header and the [`BatchTail`]. Spoken only by components that
/// declare it (custom section [`RESIDENT_COLUMNS_SECTION`]); the reply is as for version 2,
/// with this version in it.
pub const PROTOCOL_RESIDENT: u32 = 3;

/// Name of the custom section by which a component's core module declares that it reads
/// resident columns ([`PROTOCOL_RESIDENT`]). The guest SDK emits it.
pub const RESIDENT_COLUMNS_SECTION: &str = "stratbox:resident-columns";

/// The first 16 bytes of a [`PROTOCOL_RESIDENT`] (or [`PROTOCOL_RESIDENT_DAILY`]) input: where
/// the columns lie in the guest's linear memory. At `columns_at` there are `columns_len` bytes
/// laid out like the start of a version-2 input without its tail: `protocol` (3), `reserved`
/// (0), then the eight columns as bincode `Vec`s ([`encode_resident_columns`]). The host puts them there as a data segment of
/// the component, so they are mapped copy-on-write into every instance instead of copied in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentHeader {
    pub protocol: u32,
    pub columns_at: u32,
    pub columns_len: u64,
}

/// Bytes of a [`ResidentHeader`].
pub const RESIDENT_HEADER_BYTES: usize = 16;

/// The block of columns a [`PROTOCOL_RESIDENT`] guest finds in its memory: this header, then
/// the columns as [`encode_columns_into`] writes them.
pub const RESIDENT_COLUMNS_HEADER: [u8; 8] = [3, 0, 0, 0, 0, 0, 0, 0];
const _: () = assert!(RESIDENT_COLUMNS_HEADER[0] as u32 == PROTOCOL_RESIDENT);

/// What `read-bars(start, count)` answers over the series `cols` ([`PROTOCOL_STREAMED`]): bars
/// `start .. start + count` laid out as [`encode_resident_columns`] writes them, or why not.
pub fn encode_bars(cols: &ColumnsRef, start: u64, count: u64) -> Result<Vec<u8>, String> {
    let n = cols.len() as u64;
    match start.checked_add(count) {
        Some(end) if end <= n => Ok(encode_resident_columns(&cols.range(start as usize..end as usize))),
        _ => Err(format!(
            "bars {start}..{start}+{count} lie outside the series of {n} bars"
        )),
    }
}

/// The whole block of columns a [`PROTOCOL_RESIDENT`] guest finds in its memory.
pub fn encode_resident_columns(columns: &ColumnsRef) -> Vec<u8> {
    let mut out = RESIDENT_COLUMNS_HEADER.to_vec();
    encode_columns_into(columns, &mut out);
    out
}

/// One batch: the whole data set's columns, the strategies to run on it and the account rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchInput {
    /// Must equal [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// Always 0, ignored. Why it exists: it makes the header 8 bytes, so in an 8-aligned buffer
    /// every column's values start on an 8-byte boundary and a guest can read them where they
    /// lie (see [`view_batch_input`]); with a 4-byte header they all sat 4 bytes off and had
    /// to be moved first, which cost more than the host's copy of them into the sandbox.
    pub reserved: u32,
    pub columns: Columns,
    /// Parameter names in the order every [`StrategyParams::values`] carries them.
    pub param_names: Vec<String>,
    pub strategies: Vec<StrategyParams>,
    /// Lot sizes; every strategy is run once per lot size, rows in this order.
    pub lots: Vec<f64>,
    pub costs: Costs,
}

/// Bar and feature columns, all of the same length, bar `i` at index `i`.
///
/// Prices are integer points (`round(price * 10^digits)`), bid side. Features follow SPEC
/// section 2 and are NaN until their window is full.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Columns {
    /// Bar open time, seconds since the Unix epoch, UTC.
    pub time: Vec<i64>,
    pub open: Vec<i64>,
    pub high: Vec<i64>,
    pub low: Vec<i64>,
    pub close: Vec<i64>,
    pub momentum: Vec<f64>,
    pub volatility: Vec<f64>,
    pub trend: Vec<f64>,
}

impl Columns {
    pub fn len(&self) -> usize {
        self.close.len()
    }

    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// The borrowed view the engine reads.
    pub fn view(&self) -> ColumnsRef<'_> {
        ColumnsRef {
            time: &self.time,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            momentum: &self.momentum,
            volatility: &self.volatility,
            trend: &self.trend,
        }
    }

    /// Checks that every column has the same length, so indexing by bar never goes out of range.
    pub fn check_lengths(&self) -> Result<(), String> {
        self.view().check_lengths()
    }
}

/// [`Columns`] borrowed: what the engine reads. The guest borrows it straight from its input
/// buffer ([`view_batch_input`]) instead of copying ~24 MB per batch; owned columns lend one
/// with [`Columns::view`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ColumnsRef<'a> {
    pub time: &'a [i64],
    pub open: &'a [i64],
    pub high: &'a [i64],
    pub low: &'a [i64],
    pub close: &'a [i64],
    pub momentum: &'a [f64],
    pub volatility: &'a [f64],
    pub trend: &'a [f64],
}

impl<'a> ColumnsRef<'a> {
    pub fn len(&self) -> usize {
        self.close.len()
    }

    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// Bars `r` of these columns. Panics when `r` is not inside them.
    pub fn range(&self, r: std::ops::Range<usize>) -> ColumnsRef<'a> {
        ColumnsRef {
            time: &self.time[r.clone()],
            open: &self.open[r.clone()],
            high: &self.high[r.clone()],
            low: &self.low[r.clone()],
            close: &self.close[r.clone()],
            momentum: &self.momentum[r.clone()],
            volatility: &self.volatility[r.clone()],
            trend: &self.trend[r],
        }
    }

    /// Checks that every column has the same length, so indexing by bar never goes out of range.
    pub fn check_lengths(&self) -> Result<(), String> {
        let n = self.close.len();
        let lens = [
            ("time", self.time.len()),
            ("open", self.open.len()),
            ("high", self.high.len()),
            ("low", self.low.len()),
            ("momentum", self.momentum.len()),
            ("volatility", self.volatility.len()),
            ("trend", self.trend.len()),
        ];
        for (name, len) in lens {
            if len != n {
                return Err(format!("column {name} has {len} values, close has {n}"));
            }
        }
        Ok(())
    }
}

/// One strategy of the grid: its id and its parameter values (in `param_names` order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyParams {
    pub id: u64,
    pub values: Vec<f64>,
}

/// Account and cost rules of SPEC section 4.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    /// Ask = bid + spread, in points.
    pub spread_points: i64,
    /// USD per lot per round turn.
    pub commission_per_lot: f64,
    pub initial_balance: f64,
    /// Value of one point in price units: `10^-digits` (1e-5 for EURUSD).
    pub point_size: f64,
    /// Points in one pip: 10 for 5- and 3-digit quotes, else 1.
    pub pip_points: i64,
    /// Units of the base currency in one lot (100,000).
    pub units_per_lot: f64,
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            spread_points: 0,
            commission_per_lot: 0.0,
            initial_balance: 10_000.0,
            point_size: 1e-5,
            pip_points: 10,
            units_per_lot: 100_000.0,
        }
    }
}

/// One result row: SPEC section 5 without the parameters (the host joins those by id), and
/// the daily P&L of section 7 (the host derives `sharpe` and `sortino` from it and the
/// calendar, which it knows and a batch need not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub strategy_id: u64,
    pub lots: f64,
    pub n_trades: u32,
    pub n_wins: u32,
    pub n_losses: u32,
    pub n_sl: u32,
    pub n_tp: u32,
    pub n_time: u32,
    pub gross_profit_usd: f64,
    pub gross_loss_usd: f64,
    pub net_pnl_usd: f64,
    pub profit_factor: Option<f64>,
    pub win_rate: Option<f64>,
    pub expectancy_usd: Option<f64>,
    pub max_drawdown_usd: f64,
    pub max_drawdown_pct: f64,
    pub return_pct: f64,
    pub avg_bars_held: Option<f64>,
    pub ruined: bool,
    pub open_at_end: bool,
    pub open_pnl_usd: f64,
    /// The days on which trades closed, ascending: each day's P&L summed in trade order from
    /// 0.0, and its count. Nothing after ruin. Empty in replies of versions 2 and 3.
    pub daily: Vec<DayPnl>,
}

/// The trades of one (strategy, lots) that closed on one UTC day (SPEC section 7).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DayPnl {
    /// The exit bar's UTC date as days since 1970-01-01 (`time.div_euclid(86_400)`).
    pub day: i32,
    pub n_trades: u32,
    pub pnl_usd: f64,
}

/// A [`ResultRow`] as replies of versions 2 and 3 carry it: without `daily`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegacyRow {
    pub strategy_id: u64,
    pub lots: f64,
    pub n_trades: u32,
    pub n_wins: u32,
    pub n_losses: u32,
    pub n_sl: u32,
    pub n_tp: u32,
    pub n_time: u32,
    pub gross_profit_usd: f64,
    pub gross_loss_usd: f64,
    pub net_pnl_usd: f64,
    pub profit_factor: Option<f64>,
    pub win_rate: Option<f64>,
    pub expectancy_usd: Option<f64>,
    pub max_drawdown_usd: f64,
    pub max_drawdown_pct: f64,
    pub return_pct: f64,
    pub avg_bars_held: Option<f64>,
    pub ruined: bool,
    pub open_at_end: bool,
    pub open_pnl_usd: f64,
}

impl From<&ResultRow> for LegacyRow {
    fn from(r: &ResultRow) -> LegacyRow {
        LegacyRow {
            strategy_id: r.strategy_id,
            lots: r.lots,
            n_trades: r.n_trades,
            n_wins: r.n_wins,
            n_losses: r.n_losses,
            n_sl: r.n_sl,
            n_tp: r.n_tp,
            n_time: r.n_time,
            gross_profit_usd: r.gross_profit_usd,
            gross_loss_usd: r.gross_loss_usd,
            net_pnl_usd: r.net_pnl_usd,
            profit_factor: r.profit_factor,
            win_rate: r.win_rate,
            expectancy_usd: r.expectancy_usd,
            max_drawdown_usd: r.max_drawdown_usd,
            max_drawdown_pct: r.max_drawdown_pct,
            return_pct: r.return_pct,
            avg_bars_held: r.avg_bars_held,
            ruined: r.ruined,
            open_at_end: r.open_at_end,
            open_pnl_usd: r.open_pnl_usd,
        }
    }
}

impl From<LegacyRow> for ResultRow {
    fn from(r: LegacyRow) -> ResultRow {
        ResultRow {
            strategy_id: r.strategy_id,
            lots: r.lots,
            n_trades: r.n_trades,
            n_wins: r.n_wins,
            n_losses: r.n_losses,
            n_sl: r.n_sl,
            n_tp: r.n_tp,
            n_time: r.n_time,
            gross_profit_usd: r.gross_profit_usd,
            gross_loss_usd: r.gross_loss_usd,
            net_pnl_usd: r.net_pnl_usd,
            profit_factor: r.profit_factor,
            win_rate: r.win_rate,
            expectancy_usd: r.expectancy_usd,
            max_drawdown_usd: r.max_drawdown_usd,
            max_drawdown_pct: r.max_drawdown_pct,
            return_pct: r.return_pct,
            avg_bars_held: r.avg_bars_held,
            ruined: r.ruined,
            open_at_end: r.open_at_end,
            open_pnl_usd: r.open_pnl_usd,
            daily: Vec::new(),
        }
    }
}

/// The guest's reply to one batch: rows in (strategy order, lots order). On the wire, versions
/// 2 and 3 carry [`LegacyRow`]s (see [`encode_reply`] and [`decode_reply`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOutput {
    pub protocol: u32,
    pub rows: Vec<ResultRow>,
}

/// The bytes of the reply to an input of version `protocol`: rows with their daily P&L for
/// versions 4 and 5, without it (the layout those guests and hosts know) for the others.
pub fn encode_reply(protocol: u32, rows: &[ResultRow]) -> Vec<u8> {
    if books_daily(protocol) {
        encode(&(protocol, rows))
    } else {
        let legacy: Vec<LegacyRow> = rows.iter().map(LegacyRow::from).collect();
        encode(&(protocol, legacy))
    }
}

/// Reads a reply of any version, [`LegacyRow`]s becoming rows without daily P&L. The version
/// is the reply's first four bytes; whether it is the one asked for is the caller's check.
pub fn decode_reply(bytes: &[u8]) -> Result<BatchOutput, String> {
    let protocol = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or("malformed bincode: io error: unexpected end of file")?;
    if books_daily(protocol) {
        decode(bytes)
    } else {
        let (protocol, rows): (u32, Vec<LegacyRow>) = decode(bytes)?;
        Ok(BatchOutput {
            protocol,
            rows: rows.into_iter().map(ResultRow::from).collect(),
        })
    }
}

/// Encodes any protocol value with the contract's bincode options.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serialize(value).expect("bincode serialisation of plain data cannot fail")
}

/// Appends the bincode of `columns` to `out`: the same bytes as [`encode`], written as whole
/// little-endian arrays instead of value by value through serde (the mirror of
/// [`decode_batch_input`]'s column reader).
pub fn encode_columns_into(columns: &ColumnsRef, out: &mut Vec<u8>) {
    out.reserve(columns.len() * 64 + 64);
    #[cfg(target_endian = "little")]
    for (len, values) in column_pieces(columns) {
        out.extend_from_slice(&len);
        out.extend_from_slice(values);
    }
    #[cfg(not(target_endian = "little"))]
    {
        fn put<T: Copy, const N: usize>(out: &mut Vec<u8>, values: &[T], le: fn(T) -> [u8; N]) {
            out.extend_from_slice(&(values.len() as u64).to_le_bytes());
            for &v in values {
                out.extend_from_slice(&le(v));
            }
        }
        for c in [
            columns.time,
            columns.open,
            columns.high,
            columns.low,
            columns.close,
        ] {
            put(out, c, i64::to_le_bytes);
        }
        for c in [columns.momentum, columns.volatility, columns.trend] {
            put(out, c, f64::to_le_bytes);
        }
    }
}

/// The bincode of `columns` in pieces, in order: each column's `u64` length and its values'
/// bytes, borrowed. Writing or hashing them piece by piece saves building ~24 MB first.
#[cfg(target_endian = "little")]
pub fn column_pieces<'c>(columns: &ColumnsRef<'c>) -> [([u8; 8], &'c [u8]); 8] {
    fn piece<T>(values: &[T]) -> ([u8; 8], &[u8]) {
        // SAFETY: `T` is `i64` or `f64` here: plain bytes without padding, so the values are
        // `size_of_val(values)` initialised bytes, and on this target already little-endian.
        let bytes = unsafe {
            std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
        };
        ((values.len() as u64).to_le_bytes(), bytes)
    }
    [
        piece(columns.time),
        piece(columns.open),
        piece(columns.high),
        piece(columns.low),
        piece(columns.close),
        piece(columns.momentum),
        piece(columns.volatility),
        piece(columns.trend),
    ]
}

/// Bytes before the first column: `protocol` and `reserved`.
pub const HEADER_BYTES: usize = 8;

/// Where a [`BatchInput`]'s parts lie in its bytes: the protocol version, `(start, count)` of
/// each column's values in field order, and where the fields after the columns begin. Shared by
/// both column readers below; any layout error is reported like bincode's.
struct Layout {
    protocol: u32,
    reserved: u32,
    columns: [(usize, usize); 8],
    tail: usize,
}

fn layout(bytes: &[u8]) -> Result<Layout, String> {
    let eof = || "malformed bincode: io error: unexpected end of file".to_string();
    let too_long = || "malformed bincode: column too long".to_string();
    let word = |at: usize| -> Result<u32, String> {
        let b = bytes.get(at..at + 4).ok_or_else(eof)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let (protocol, reserved) = (word(0)?, word(4)?);
    let mut columns = [(0usize, 0usize); 8];
    let mut at = HEADER_BYTES;
    for column in &mut columns {
        let count = bytes.get(at..at + 8).ok_or_else(eof)?;
        let n = usize::try_from(u64::from_le_bytes(count.try_into().expect("8 bytes")))
            .map_err(|_| too_long())?;
        let len = n.checked_mul(8).ok_or_else(too_long)?;
        let end = (at + 8)
            .checked_add(len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(eof)?;
        *column = (at + 8, n);
        at = end;
    }
    Ok(Layout {
        protocol,
        reserved,
        columns,
        tail: at,
    })
}

/// Decodes a [`BatchInput`]: the same bytes as [`decode`] accepts, read faster.
///
/// Why by hand: serde reads a `Vec<i64>` element by element through a visitor, which for the
/// ~3 million column values of a year of minute bars costs more than the whole copy into the
/// sandbox. The columns are plain little-endian arrays behind a `u64` count in bincode's layout,
/// so they are read as such (a memcpy on little-endian machines, which wasm is); the small rest
/// goes through bincode as usual.
pub fn decode_batch_input(bytes: &[u8]) -> Result<BatchInput, String> {
    let l = layout(bytes)?;
    fn column<T>(bytes: &[u8], (start, n): (usize, usize), from: fn([u8; 8]) -> T) -> Vec<T> {
        bytes[start..start + n * 8]
            .chunks_exact(8)
            .map(|c| from(c.try_into().expect("8 bytes")))
            .collect()
    }
    let [time, open, high, low, close, momentum, volatility, trend] = l.columns;
    let columns = Columns {
        time: column(bytes, time, i64::from_le_bytes),
        open: column(bytes, open, i64::from_le_bytes),
        high: column(bytes, high, i64::from_le_bytes),
        low: column(bytes, low, i64::from_le_bytes),
        close: column(bytes, close, i64::from_le_bytes),
        momentum: column(bytes, momentum, f64::from_le_bytes),
        volatility: column(bytes, volatility, f64::from_le_bytes),
        trend: column(bytes, trend, f64::from_le_bytes),
    };
    let tail: BatchTail = decode(&bytes[l.tail..])?;
    Ok(BatchInput {
        protocol: l.protocol,
        reserved: l.reserved,
        columns,
        param_names: tail.param_names,
        strategies: tail.strategies,
        lots: tail.lots,
        costs: tail.costs,
    })
}

/// The fields of a [`BatchInput`] after its columns (bincode encodes a struct's fields back to
/// back, so they decode on their own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchTail {
    pub param_names: Vec<String>,
    pub strategies: Vec<StrategyParams>,
    pub lots: Vec<f64>,
    pub costs: Costs,
}

/// Reads a [`BatchInput`]'s columns *in place*: the same bytes as [`decode_batch_input`]
/// accepts, but the columns are borrowed from `bytes` rather than copied. Returns the protocol
/// version, the columns and the rest.
///
/// Every column's values start a multiple of 8 bytes into the buffer (an 8-byte header, then
/// `u64` counts before `8n`-byte columns), so in an 8-aligned buffer, which is what a guest's
/// allocator hands the canonical ABI for a large `list<u8>`, they are read where they lie. In
/// a buffer that is not 8-aligned the bytes after the header are first moved down by the
/// misalignment (one `memmove`; an `i64` slice must be aligned). `bytes` may be modified:
/// decode it only once.
///
/// Little-endian targets only (the values are used as they lie); wasm is little-endian.
#[cfg(target_endian = "little")]
pub fn view_batch_input(bytes: &mut [u8]) -> Result<(u32, ColumnsRef<'_>, BatchTail), String> {
    let l = layout(bytes)?;
    let tail: BatchTail = decode(&bytes[l.tail..])?;
    let first = l.columns[0].0;
    let shift = (bytes.as_ptr() as usize + first) % 8;
    if shift != 0 {
        bytes.copy_within(first..l.tail, first - shift);
    }
    let bytes: &[u8] = bytes;
    Ok((l.protocol, columns_at(bytes, &l, shift), tail))
}

/// The columns of `l` borrowed from `bytes`, each moved `shift` bytes down from where `l` says
/// (see [`view_batch_input`]). The values must lie on 8-byte boundaries.
#[cfg(target_endian = "little")]
fn columns_at<'b>(bytes: &'b [u8], l: &Layout, shift: usize) -> ColumnsRef<'b> {
    let raw = |k: usize| -> &[u8] {
        let (start, n) = l.columns[k];
        &bytes[start - shift..start - shift + n * 8]
    };
    fn ints(raw: &[u8]) -> &[i64] {
        // SAFETY: every bit pattern is a valid i64; `align_to` puts only whole, aligned values
        // in the middle part, and the caller aligned the start, so nothing is left over.
        let (head, values, rest) = unsafe { raw.align_to::<i64>() };
        assert!(head.is_empty() && rest.is_empty(), "column aligned in place");
        values
    }
    fn floats(raw: &[u8]) -> &[f64] {
        // SAFETY: as for `ints`; every bit pattern is a valid f64.
        let (head, values, rest) = unsafe { raw.align_to::<f64>() };
        assert!(head.is_empty() && rest.is_empty(), "column aligned in place");
        values
    }
    ColumnsRef {
        time: ints(raw(0)),
        open: ints(raw(1)),
        high: ints(raw(2)),
        low: ints(raw(3)),
        close: ints(raw(4)),
        momentum: floats(raw(5)),
        volatility: floats(raw(6)),
        trend: floats(raw(7)),
    }
}

/// Reads a [`PROTOCOL_RESIDENT`] input: the header, the columns from `block` (the bytes the
/// header points at, which the caller has located) and the tail. Refuses a block that is not
/// 8-aligned, not laid out as [`encode_resident_columns`] writes, or not of the stated length.
#[cfg(target_endian = "little")]
pub fn view_resident_columns<'b>(block: &'b [u8]) -> Result<ColumnsRef<'b>, String> {
    let l = layout(block)?;
    if l.protocol != PROTOCOL_RESIDENT || l.reserved != 0 {
        return Err(format!(
            "resident columns start with protocol {} / reserved {}, expected {PROTOCOL_RESIDENT} / 0",
            l.protocol, l.reserved
        ));
    }
    if l.tail != block.len() {
        return Err(format!(
            "resident columns take {} bytes, the header says {}",
            l.tail,
            block.len()
        ));
    }
    if !(block.as_ptr() as usize).is_multiple_of(8) {
        return Err("resident columns are not 8-byte aligned".into());
    }
    Ok(columns_at(block, &l, 0))
}

/// Splits a [`PROTOCOL_RESIDENT`] input into its header and tail.
pub fn decode_resident_input(input: &[u8]) -> Result<(ResidentHeader, BatchTail), String> {
    split_header(input, RESIDENT_HEADER_BYTES)
}

/// Decodes a protocol value, refusing trailing bytes (a sign of a layout mismatch).
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
        .deserialize(bytes)
        .map_err(|e| format!("malformed bincode: {e}"))
}
