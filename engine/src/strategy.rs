//! What a strategy family implements, and the batch runner that drives any of them.
//!
//! A family decides only *entries* (which bar, which side, which exit levels). Fills, exits,
//! costs, ruin and metrics are the engine's, identical for every family, so a contributed
//! strategy cannot get the accounting wrong and its results compare with everyone else's.

use crate::metrics::{Account, utc_day};
use crate::protocol::{
    BatchInput, BatchTail, ColumnsRef, Costs, PROTOCOL_DAILY, PROTOCOL_RESIDENT, PROTOCOL_RESIDENT_DAILY,
    PROTOCOL_STREAMED, PROTOCOL_VERSION, ResidentHeader, ResultRow, StrategyParams, StreamedDays,
    StreamedHeader, decode_batch_input, decode_resident_input, decode_streamed_input, encode_reply,
    is_resident, view_resident_columns,
};
use crate::sim::{Cursor, ExitMemo, Exits, Side, Span, Trade, TradeLog, Walker, simulate, sweep_span};

/// A parameterised strategy family.
pub trait Strategy: Sized {
    /// Family name, reported by `describe()`.
    const NAME: &'static str;
    /// Family version, reported by `describe()`.
    const VERSION: &'static str;
    /// Parameter names, in the order a strategy row carries its values.
    const PARAMS: &'static [&'static str];

    /// Work shared by every strategy of one batch (for example, the bars where an entry signal
    /// can hold at all). Families without such work use `()`.
    type Index;

    /// Builds one strategy from its parameter values (in [`Strategy::PARAMS`] order), refusing
    /// values it cannot use. `pip_points` converts pip parameters to points.
    fn from_params(values: &[f64], pip_points: i64) -> Result<Self, String>;

    /// How many bars before bar `i` this strategy's index and entry finder read to decide on
    /// bar `i` (0 when they read only bar `i` itself, as the built-in family does: its features
    /// are the host's). `None`, the default, means anything before, so a streamed batch
    /// ([`crate::protocol::PROTOCOL_STREAMED`]) loads the whole series at once for it, as the
    /// older protocols do. With `Some(n)`, the index and finder are made over stretches of the
    /// series (bar 0 of `cols` is then not the series' first) and must give, for every bar at
    /// least `n` into the stretch, the answer they give over the whole series.
    fn lookback(&self) -> Option<usize> {
        None
    }

    /// Precomputes the batch-wide index once per batch (per loaded stretch when streamed).
    fn build_index(cols: &ColumnsRef, strategies: &[Self]) -> Self::Index;

    /// An entry finder for this strategy: called with `from`, it returns the first bar `>= from`
    /// on which the strategy enters while flat, with the side and the exit levels. Calls come
    /// with increasing `from`, so the finder may keep a cursor.
    fn entries<'a>(
        &'a self,
        index: &'a Self::Index,
        cols: &'a ColumnsRef<'a>,
    ) -> impl FnMut(usize) -> Option<(usize, Side, Exits)> + 'a;
}

/// Converts a pip count parameter to integer points, refusing values that are not whole points.
pub fn pips_to_points(name: &str, pips: f64, pip_points: i64) -> Result<i64, String> {
    let points = pips * pip_points as f64;
    if !points.is_finite() || points <= 0.0 || points.fract() != 0.0 || points > 1e12 {
        return Err(format!(
            "{name} = {pips} pips is not a positive whole number of points (1 pip = {pip_points} points)"
        ));
    }
    Ok(points as i64)
}

/// Converts a bar count parameter, refusing zero, fractions and negatives.
pub fn whole_bars(name: &str, value: f64) -> Result<usize, String> {
    if !value.is_finite() || value < 1.0 || value.fract() != 0.0 || value > 1e9 {
        return Err(format!("{name} = {value} is not a whole number of bars >= 1"));
    }
    Ok(value as usize)
}

/// Runs every strategy of `input` at every lot size and returns rows in
/// (strategy order, lots order).
pub fn run_batch<S: Strategy>(input: &BatchInput) -> Result<Vec<ResultRow>, String> {
    check_protocol(input.protocol, &[PROTOCOL_VERSION, PROTOCOL_DAILY])?;
    let batch = Batch {
        cols: input.columns.view(),
        param_names: &input.param_names,
        strategies: &input.strategies,
        lots: &input.lots,
        costs: &input.costs,
    };
    batch.run::<S>()
}

/// A batch's fields, the columns borrowed (from owned columns or from the guest's input bytes).
struct Batch<'a> {
    cols: ColumnsRef<'a>,
    param_names: &'a [String],
    strategies: &'a [StrategyParams],
    lots: &'a [f64],
    costs: &'a Costs,
}

/// Refuses an input of a version this reader does not handle.
fn check_protocol(found: u32, speaks: &[u32]) -> Result<(), String> {
    if speaks.contains(&found) {
        return Ok(());
    }
    let speaks: Vec<String> = speaks.iter().map(u32::to_string).collect();
    Err(format!(
        "protocol version {found} not supported (this engine speaks {})",
        speaks.join(" and ")
    ))
}

impl Batch<'_> {
    /// Runs the batch; its `protocol` has been checked by whoever read the input.
    fn run<S: Strategy>(&self) -> Result<Vec<ResultRow>, String> {
        self.cols.check_lengths()?;
        let strategies = self.strategies::<S>()?;
        let cols = &self.cols;
        let index = S::build_index(cols, &strategies);
        let mut memo = ExitMemo::new(cols.len());
        let mut walkers: Vec<_> = strategies
            .iter()
            .map(|s| Walker::new(s.entries(&index, cols)))
            .collect();
        let mut accounts = self.accounts(strategies.len());
        let all = (0..walkers.len()).collect();
        self.sweep_books(
            &Span::whole(*cols),
            0..cols.len(),
            &mut memo,
            &mut walkers,
            all,
            &mut accounts,
        );
        let cursors: Vec<Cursor> = walkers.into_iter().map(|w| w.cursor).collect();
        Ok(self.rows(accounts, &cursors))
    }

    /// The strategies of the batch, built from their parameter values (checked first).
    fn strategies<S: Strategy>(&self) -> Result<Vec<S>, String> {
        if self
            .param_names
            .iter()
            .map(String::as_str)
            .ne(S::PARAMS.iter().copied())
        {
            return Err(format!(
                "parameter names {:?} do not match {}'s {:?}",
                self.param_names,
                S::NAME,
                S::PARAMS
            ));
        }
        if self.costs.pip_points <= 0 {
            return Err(format!(
                "pip_points must be positive, got {}",
                self.costs.pip_points
            ));
        }
        self.strategies
            .iter()
            .map(|s| {
                if s.values.len() != S::PARAMS.len() {
                    return Err(format!(
                        "strategy {} has {} parameter values, expected {}",
                        s.id,
                        s.values.len(),
                        S::PARAMS.len()
                    ));
                }
                S::from_params(&s.values, self.costs.pip_points)
                    .map_err(|e| format!("strategy {}: {e}", s.id))
            })
            .collect()
    }

    /// One account per (strategy, lots), strategy-major: strategy `i` at lot `j` is
    /// `accounts[i * lots + j]`.
    fn accounts(&self, strategies: usize) -> Vec<Account> {
        (0..strategies)
            .flat_map(|_| self.lots.iter().map(|&lots| Account::new(lots, self.costs)))
            .collect()
    }

    /// [`sweep_span`] booking every trade on its strategy's accounts. Why one function for
    /// both the whole series and the streamed blocks: `sweep_span` is then compiled once per
    /// strategy family, not once per caller, and LLVM inlines the booking and the entry finder
    /// into its loop (with two copies the finder stayed out of line: batches 0.39 s, not 0.33 s).
    fn sweep_books<F>(
        &self,
        span: &Span,
        entries: std::ops::Range<usize>,
        memo: &mut ExitMemo,
        walkers: &mut [Walker<F>],
        active: Vec<usize>,
        accounts: &mut [Account],
    ) where
        F: FnMut(usize) -> Option<(usize, Side, Exits)>,
    {
        let per = self.lots.len();
        sweep_span(
            span,
            entries,
            self.costs.spread_points,
            memo,
            walkers,
            active,
            |i, trade, time| book(&mut accounts[i * per..(i + 1) * per], trade, time),
        );
    }

    /// The rows, in (strategy order, lots order).
    fn rows(&self, accounts: Vec<Account>, cursors: &[Cursor]) -> Vec<ResultRow> {
        let per = self.lots.len();
        let mut rows = Vec::with_capacity(accounts.len());
        let mut accounts = accounts.into_iter();
        for (params, cursor) in self.strategies.iter().zip(cursors) {
            for account in accounts.by_ref().take(per) {
                rows.push(account.into_row(params.id, cursor.open.as_ref(), self.costs));
            }
        }
        rows
    }

    /// Runs the batch over a series of `header.bars` bars that `stream` hands out a
    /// stretch at a time ([`PROTOCOL_STREAMED`]): the same rows as [`Batch::run`] over the
    /// whole series, in memory that follows `header.block_bars`, not the series.
    ///
    /// Each block of entry bars `b0..b1` is swept over bars `b0 - lookback .. b1 + lookahead`;
    /// a position whose time exit lies past that is held until the stretch is loaded further
    /// (bars after `b1` only, the start stays), and its strategy swept again. Every strategy
    /// sees its finder answer for the same bars as over the whole series (its lookback is
    /// loaded), and every exit is searched for over the same bars, so the trades are the same.
    /// After each block but the last, the days before the block's last bar's day are complete
    /// (every later trade closes on a later bar) and go to `stream.write_days`, so the rows'
    /// daily P&L does not pile up in the guest either; the rows carry the days after them.
    #[cfg(target_endian = "little")]
    fn run_streamed<S: Strategy>(
        &self,
        header: &StreamedHeader,
        stream: &mut dyn Stream,
    ) -> Result<Vec<ResultRow>, String> {
        let strategies = self.strategies::<S>()?;
        let total = usize::try_from(header.bars).map_err(|_| "more bars than this guest can address")?;
        let lookback = strategies
            .iter()
            .map(S::lookback)
            .try_fold(0usize, |most, l| l.map(|l| most.max(l)));
        // A family that cannot say what it looks back on gets the whole series at once.
        let (block, lookahead) = match lookback {
            Some(_) => (
                (header.block_bars as usize).max(1),
                header.lookahead_bars as usize,
            ),
            None => (total.max(1), 0),
        };
        let lookback = lookback.unwrap_or(0);
        let mut accounts = self.accounts(strategies.len());
        let mut cursors = vec![Cursor::default(); strategies.len()];
        let mut b0 = 0;
        while b0 < total && cursors.iter().any(|c| !c.done) {
            let b1 = b0.saturating_add(block).min(total);
            let lo = b0.saturating_sub(lookback);
            let mut hi = b1.saturating_add(lookahead).min(total);
            let mut active: Vec<usize> = (0..cursors.len()).filter(|&i| !cursors[i].done).collect();
            while !active.is_empty() {
                let bytes = Aligned::from(stream.read_bars(lo as u64, (hi - lo) as u64)?);
                let cols = view_resident_columns(bytes.as_bytes())
                    .map_err(|e| format!("bars {lo}..{hi} from the host: {e}"))?;
                if cols.len() != hi - lo {
                    return Err(format!(
                        "asked the host for bars {lo}..{hi}, got {} bars",
                        cols.len()
                    ));
                }
                cols.check_lengths()?;
                let index = S::build_index(&cols, &strategies);
                let mut memo = ExitMemo::new(cols.len());
                let mut walkers: Vec<_> = strategies
                    .iter()
                    .zip(&mut cursors)
                    .map(|(s, c)| Walker::resume(s.entries(&index, &cols), std::mem::take(c)))
                    .collect();
                let span = Span { cols, lo, total };
                self.sweep_books(&span, b0..b1, &mut memo, &mut walkers, active, &mut accounts);
                for (c, w) in cursors.iter_mut().zip(walkers) {
                    *c = w.cursor;
                }
                active = (0..cursors.len()).filter(|&i| cursors[i].needs > 0).collect();
                hi = active.iter().map(|&i| cursors[i].needs).max().unwrap_or(hi);
                for &i in &active {
                    cursors[i].needs = 0;
                }
                if active.is_empty() && b1 < total {
                    write_complete_days(&mut accounts, utc_day(cols.time[b1 - 1 - lo]), stream)?;
                }
            }
            b0 = b1;
        }
        Ok(self.rows(accounts, &cursors))
    }
}

/// What a streamed batch ([`PROTOCOL_STREAMED`]) asks of whoever runs it: in a guest, the
/// host's `stratbox:backtest/series` import; natively, the host's columns and a vector.
pub trait Stream {
    /// Bars `start .. start + count` of the series, laid out as
    /// [`encode_resident_columns`](crate::protocol::encode_resident_columns) writes them.
    fn read_bars(&mut self, start: u64, count: u64) -> Result<Vec<u8>, String>;
    /// Takes the daily P&L of complete days: the bincode of [`StreamedDays`].
    fn write_days(&mut self, days: &[u8]) -> Result<(), String>;
}

/// Hands the days before `day` of every account to `stream` (in one call, when there are any).
fn write_complete_days(accounts: &mut [Account], day: i32, stream: &mut dyn Stream) -> Result<(), String> {
    let days: StreamedDays = accounts
        .iter_mut()
        .enumerate()
        .filter_map(|(row, a)| {
            let days = a.take_days_before(day);
            (!days.is_empty()).then_some((row as u32, days))
        })
        .collect();
    if days.is_empty() {
        return Ok(());
    }
    stream.write_days(&crate::protocol::encode(&days))
}

/// Books one trade closed at `time` on a strategy's accounts (one per lot size); false when
/// every one of them is ruined, so the strategy stops.
///
/// Why `inline(always)` here, on [`Account::add`] and on `sim::open_position`: LLVM kept these
/// out of line in the guest once the daily P&L and the streamed blocks made them bigger, and
/// each call then spilled the sweep's registers; inlined (with [`Batch::sweep_books`]), the
/// batches of the bundled year took 0.33 s instead of 0.60 s (same results).
#[inline(always)]
fn book(accounts: &mut [Account], trade: &Trade, time: i64) -> bool {
    let day = utc_day(time);
    let mut open = false;
    for account in accounts {
        open |= account.add(trade, day);
    }
    open
}

/// Bytes from the host, moved once onto an 8-byte boundary if they do not lie on one (the
/// columns are read as `i64`/`f64` where they lie).
#[cfg(target_endian = "little")]
enum Aligned {
    Bytes(Vec<u8>),
    Words(Vec<u64>, usize),
}

#[cfg(target_endian = "little")]
impl From<Vec<u8>> for Aligned {
    fn from(bytes: Vec<u8>) -> Aligned {
        if (bytes.as_ptr() as usize).is_multiple_of(8) {
            return Aligned::Bytes(bytes);
        }
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_le_bytes(b);
        }
        Aligned::Words(words, bytes.len())
    }
}

#[cfg(target_endian = "little")]
impl Aligned {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Aligned::Bytes(b) => b,
            // SAFETY: a u64 slice is 8-aligned, its bytes are initialised, and `len` is at most
            // its length in bytes.
            Aligned::Words(w, len) => unsafe { core::slice::from_raw_parts(w.as_ptr() as *const u8, *len) },
        }
    }
}

/// The reply to an input of version `protocol`.
fn reply(protocol: u32, rows: Vec<ResultRow>) -> Vec<u8> {
    encode_reply(protocol, &rows)
}

/// `run-batch` on bytes: bincode in, bincode out, the input copied into owned columns (the
/// host's native engine).
pub fn run_batch_bytes<S: Strategy>(input: &[u8]) -> Result<Vec<u8>, String> {
    let input: BatchInput = decode_batch_input(input)?;
    Ok(reply(input.protocol, run_batch::<S>(&input)?))
}

/// The guest's whole `run-batch`: [`run_batch_bytes`] reading the columns where they already
/// are, so the batch's ~24 MB of columns are not copied a second time inside the sandbox:
/// in place in `input` (version 2, see [`crate::protocol::view_batch_input`]; `input` may be
/// modified), or in the instance's memory where the host put them (version 3,
/// [`crate::protocol::PROTOCOL_RESIDENT`]; wasm only).
pub fn run_batch_bytes_in_place<S: Strategy>(input: &mut [u8]) -> Result<Vec<u8>, String> {
    let version = input
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    let version = version.unwrap_or(0);
    check_protocol(
        version,
        &[
            PROTOCOL_VERSION,
            PROTOCOL_RESIDENT,
            PROTOCOL_DAILY,
            PROTOCOL_RESIDENT_DAILY,
        ],
    )?;
    #[cfg(target_endian = "little")]
    if is_resident(version) {
        let (header, tail) = decode_resident_input(input)?;
        let cols = view_resident_columns(resident_block(&header)?)?;
        return Ok(reply(header.protocol, tail_batch(cols, &tail).run::<S>()?));
    }
    #[cfg(target_endian = "little")]
    {
        let (protocol, cols, tail) = crate::protocol::view_batch_input(input)?;
        Ok(reply(protocol, tail_batch(cols, &tail).run::<S>()?))
    }
    #[cfg(not(target_endian = "little"))]
    run_batch_bytes::<S>(input)
}

/// The guest's whole `run-batch` for a component that can read the bars through the host's
/// `stream` import: a [`PROTOCOL_STREAMED`] input runs streamed, asking `stream` for
/// the bars a stretch at a time and handing it the complete days' P&L ([`Stream`]); every other
/// version runs as [`run_batch_bytes_in_place`].
/// The native engine uses it too, `fetch` then reading the host's columns.
pub fn run_batch_bytes_streamed<S: Strategy>(
    input: &mut [u8],
    stream: &mut dyn Stream,
) -> Result<Vec<u8>, String> {
    let version = input
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    if version != Some(PROTOCOL_STREAMED) {
        return run_batch_bytes_in_place::<S>(input);
    }
    #[cfg(target_endian = "little")]
    {
        let (header, tail) = decode_streamed_input(input)?;
        let batch = tail_batch(ColumnsRef::default(), &tail);
        Ok(reply(header.protocol, batch.run_streamed::<S>(&header, stream)?))
    }
    #[cfg(not(target_endian = "little"))]
    {
        let _ = stream;
        Err("streamed bars (protocol 6) need a little-endian engine".into())
    }
}

fn tail_batch<'a>(cols: ColumnsRef<'a>, tail: &'a BatchTail) -> Batch<'a> {
    Batch {
        cols,
        param_names: &tail.param_names,
        strategies: &tail.strategies,
        lots: &tail.lots,
        costs: &tail.costs,
    }
}

/// The bytes a [`PROTOCOL_RESIDENT`] header points at in this instance's linear memory.
#[cfg(target_arch = "wasm32")]
fn resident_block(header: &ResidentHeader) -> Result<&'static [u8], String> {
    let memory = core::arch::wasm32::memory_size(0) as u64 * 65_536;
    let (at, len) = (header.columns_at as u64, header.columns_len);
    if at == 0 || at.checked_add(len).is_none_or(|end| end > memory) {
        return Err(format!(
            "resident columns at {at}..{} lie outside this instance's {memory} bytes of memory",
            at.saturating_add(len)
        ));
    }
    // SAFETY: the range is inside linear memory (checked above) and not at address 0. The host
    // placed the columns there as a data segment above the memory this module was linked with,
    // where neither the stack, nor static data, nor the allocator (which only takes memory it
    // grows) ever write, so nothing changes these bytes while the slice lives.
    Ok(unsafe { core::slice::from_raw_parts(at as usize as *const u8, len as usize) })
}

#[cfg(not(target_arch = "wasm32"))]
fn resident_block(_: &ResidentHeader) -> Result<&'static [u8], String> {
    Err("resident columns (protocol 3) exist only inside a wasm guest".into())
}

/// Replays one strategy and returns its trade log (for `stratbox trades` and tests).
pub fn replay<S: Strategy>(cols: &ColumnsRef, strategy: &S, spread_points: i64) -> TradeLog {
    let index = S::build_index(cols, std::slice::from_ref(strategy));
    let mut log = TradeLog::default();
    simulate(cols, spread_points, strategy.entries(&index, cols), &mut log);
    log
}
