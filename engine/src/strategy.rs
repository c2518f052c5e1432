//! What a strategy family implements, and the batch runner that drives any of them.
//!
//! A family decides only *entries* (which bar, which side, which exit levels). Fills, exits,
//! costs, ruin and metrics are the engine's, identical for every family, so a contributed
//! strategy cannot get the accounting wrong and its results compare with everyone else's.

use crate::metrics::{Account, utc_day};
use crate::protocol::{
    BatchInput, BatchTail, ColumnsRef, Costs, PROTOCOL_DAILY, PROTOCOL_RESIDENT, PROTOCOL_RESIDENT_DAILY,
    PROTOCOL_VERSION, ResidentHeader, ResultRow, StrategyParams, decode_batch_input, decode_resident_input,
    encode_reply, is_resident, view_resident_columns,
};
use crate::sim::{ExitMemo, Exits, Side, TradeLog, Walker, simulate, sweep};

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

    /// Precomputes the batch-wide index once per batch.
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
        self.cols.check_lengths()?;
        if self.costs.pip_points <= 0 {
            return Err(format!(
                "pip_points must be positive, got {}",
                self.costs.pip_points
            ));
        }
        let strategies = self
            .strategies
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
            .collect::<Result<Vec<S>, String>>()?;
        let cols = &self.cols;
        let index = S::build_index(cols, &strategies);
        let mut memo = ExitMemo::new(cols.len());
        let mut walkers: Vec<_> = strategies
            .iter()
            .map(|s| Walker::new(s.entries(&index, cols)))
            .collect();
        // Accounts strategy-major: strategy `i` at lot `j` is `accounts[i * lots + j]`.
        let per = self.lots.len();
        let mut accounts: Vec<Account> = (0..strategies.len())
            .flat_map(|_| self.lots.iter().map(|&lots| Account::new(lots, self.costs)))
            .collect();
        sweep(
            cols,
            self.costs.spread_points,
            &mut memo,
            &mut walkers,
            |i, trade| {
                let day = utc_day(cols.time[trade.exit_bar]);
                let mut open = false;
                for account in &mut accounts[i * per..(i + 1) * per] {
                    open |= account.add(trade, day);
                }
                open
            },
        );
        let mut rows = Vec::with_capacity(accounts.len());
        let mut accounts = accounts.into_iter();
        for (params, walker) in self.strategies.iter().zip(&walkers) {
            for account in accounts.by_ref().take(per) {
                rows.push(account.into_row(params.id, walker.open.as_ref(), self.costs));
            }
        }
        Ok(rows)
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
