//! What a strategy family implements, and the batch runner that drives any of them.
//!
//! A family decides only *entries* (which bar, which side, which exit levels). Fills, exits,
//! costs, ruin and metrics are the engine's, identical for every family, so a contributed
//! strategy cannot get the accounting wrong and its results compare with everyone else's.

use crate::metrics::summarise;
use crate::protocol::{
    BatchInput, BatchOutput, Columns, PROTOCOL_VERSION, ResultRow, decode_batch_input, encode,
};
use crate::sim::{Exits, Side, TradeLog, simulate};

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
    fn build_index(cols: &Columns, strategies: &[Self]) -> Self::Index;

    /// An entry finder for this strategy: called with `from`, it returns the first bar `>= from`
    /// on which the strategy enters while flat, with the side and the exit levels. Calls come
    /// with increasing `from`, so the finder may keep a cursor.
    fn entries<'a>(
        &'a self,
        index: &'a Self::Index,
        cols: &'a Columns,
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
    if input.protocol != PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {} not supported (this engine speaks {PROTOCOL_VERSION})",
            input.protocol
        ));
    }
    if input
        .param_names
        .iter()
        .map(String::as_str)
        .ne(S::PARAMS.iter().copied())
    {
        return Err(format!(
            "parameter names {:?} do not match {}'s {:?}",
            input.param_names,
            S::NAME,
            S::PARAMS
        ));
    }
    input.columns.check_lengths()?;
    if input.costs.pip_points <= 0 {
        return Err(format!(
            "pip_points must be positive, got {}",
            input.costs.pip_points
        ));
    }
    let strategies = input
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
            S::from_params(&s.values, input.costs.pip_points).map_err(|e| format!("strategy {}: {e}", s.id))
        })
        .collect::<Result<Vec<S>, String>>()?;
    let cols = &input.columns;
    let index = S::build_index(cols, &strategies);
    let mut rows = Vec::with_capacity(strategies.len() * input.lots.len());
    let mut log = TradeLog::default();
    for (params, strategy) in input.strategies.iter().zip(&strategies) {
        simulate(
            cols,
            input.costs.spread_points,
            strategy.entries(&index, cols),
            &mut log,
        );
        for &lots in &input.lots {
            rows.push(summarise(params.id, &log, lots, &input.costs));
        }
    }
    Ok(rows)
}

/// The guest's whole `run-batch`: bincode in, bincode out.
pub fn run_batch_bytes<S: Strategy>(input: &[u8]) -> Result<Vec<u8>, String> {
    let input: BatchInput = decode_batch_input(input)?;
    let rows = run_batch::<S>(&input)?;
    Ok(encode(&BatchOutput {
        protocol: PROTOCOL_VERSION,
        rows,
    }))
}

/// Replays one strategy and returns its trade log (for `stratbox trades` and tests).
pub fn replay<S: Strategy>(cols: &Columns, strategy: &S, spread_points: i64) -> TradeLog {
    let index = S::build_index(cols, std::slice::from_ref(strategy));
    let mut log = TradeLog::default();
    simulate(cols, spread_points, strategy.entries(&index, cols), &mut log);
    log
}
