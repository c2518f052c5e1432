//! The fill rules of SPEC section 4, in exact integer points.
//!
//! A strategy's trades do not depend on its lot size until the account is ruined, and ruin only
//! cuts the list short (no more entries). So the simulation runs once per strategy in points,
//! and [`crate::metrics`] replays the trade list per lot size, stopping at ruin. That is the same
//! result as one sequential simulation per (strategy, lots), for a third of the work.

use crate::protocol::ColumnsRef;

/// Long buys at the ask and sells at the bid; short the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Long,
    Short,
}

impl Side {
    /// The wire encoding of a `direction` parameter: 0 = long, 1 = short.
    pub fn from_param(value: f64) -> Result<Side, String> {
        if value == 0.0 {
            Ok(Side::Long)
        } else if value == 1.0 {
            Ok(Side::Short)
        } else {
            Err(format!("direction must be 0 (long) or 1 (short), got {value}"))
        }
    }

    /// Profit in points of a position entered at `entry` and closed (or marked) at `exit`.
    #[inline]
    pub fn points(self, entry: i64, exit: i64) -> i64 {
        match self {
            Side::Long => exit - entry,
            Side::Short => entry - exit,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Long => "long",
            Side::Short => "short",
        }
    }
}

/// Exit levels and holding limit of one strategy, in points and bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exits {
    pub sl_points: i64,
    pub tp_points: i64,
    pub max_bars: usize,
}

/// Why a trade closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitReason {
    StopLoss,
    TakeProfit,
    Time,
}

impl ExitReason {
    /// The reasons in the order of [`ExitReason::index`].
    pub const ALL: [ExitReason; 3] = [ExitReason::StopLoss, ExitReason::TakeProfit, ExitReason::Time];

    /// 0, 1, 2 for stop loss, take profit, time: a small integer for tables and counters.
    pub fn index(self) -> usize {
        match self {
            ExitReason::StopLoss => 0,
            ExitReason::TakeProfit => 1,
            ExitReason::Time => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::StopLoss => "sl",
            ExitReason::TakeProfit => "tp",
            ExitReason::Time => "time",
        }
    }
}

/// One closed trade, prices in points on the side the fill happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade {
    pub side: Side,
    pub entry_bar: usize,
    pub exit_bar: usize,
    pub entry_price: i64,
    pub exit_price: i64,
    /// Profit in points: `exit - entry` long, `entry - exit` short.
    pub points: i64,
    pub reason: ExitReason,
}

/// A position still open when the data ends: marked at the last close, not a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenPosition {
    pub side: Side,
    pub entry_bar: usize,
    pub entry_price: i64,
    pub mark_price: i64,
    pub points: i64,
}

/// Everything one strategy did, independent of lot size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradeLog {
    pub trades: Vec<Trade>,
    pub open: Option<OpenPosition>,
}

impl TradeLog {
    pub fn clear(&mut self) {
        self.trades.clear();
        self.open = None;
    }
}

/// Index of the first bar with `low <= lo` or `high >= hi`, or `low.len()` if none.
///
/// The hot loop of the engine (every trade walks up to `max_bars` bars): four bars per step with
/// branch-free compares, and a scalar pass only inside the block that holds the touch.
#[inline]
fn first_touch(low: &[i64], high: &[i64], lo: i64, hi: i64) -> usize {
    let len = low.len().min(high.len());
    let mut k = 0;
    while k + 4 <= len {
        if touch4(&low[k..k + 4], &high[k..k + 4], lo, hi) {
            break;
        }
        k += 4;
    }
    while k < len && low[k] > lo && high[k] < hi {
        k += 1;
    }
    k
}

/// Whether any of 4 bars has `low <= lo` or `high >= hi`: two 64-bit lanes per compare in the
/// wasm guest (simd128 has 64-bit compares; Cranelift does not vectorise the scalar form).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn touch4(l: &[i64], h: &[i64], lo: i64, hi: i64) -> bool {
    use core::arch::wasm32::*;
    assert!(l.len() >= 4 && h.len() >= 4);
    // SAFETY: both slices hold at least 4 values (checked above); v128_load is unaligned.
    let (l0, l1, h0, h1) = unsafe {
        (
            v128_load(l.as_ptr() as *const v128),
            v128_load(l.as_ptr().add(2) as *const v128),
            v128_load(h.as_ptr() as *const v128),
            v128_load(h.as_ptr().add(2) as *const v128),
        )
    };
    let (lo, hi) = (i64x2_splat(lo), i64x2_splat(hi));
    let hit = v128_or(
        v128_or(i64x2_le(l0, lo), i64x2_le(l1, lo)),
        v128_or(i64x2_ge(h0, hi), i64x2_ge(h1, hi)),
    );
    v128_any_true(hit)
}

/// Whether any of 4 bars has `low <= lo` or `high >= hi`, branch-free.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn touch4(l: &[i64], h: &[i64], lo: i64, hi: i64) -> bool {
    (l[0] <= lo)
        | (h[0] >= hi)
        | (l[1] <= lo)
        | (h[1] >= hi)
        | (l[2] <= lo)
        | (h[2] >= hi)
        | (l[3] <= lo)
        | (h[3] >= hi)
}

/// Finds the position's exit: the first bar after `entry_bar` whose prices reach a level, else
/// the time exit `max_bars` after entry; `None` if the data ends first.
///
/// Checks per bar, in SPEC order. Long (bid): `o <= SL` fills at o (gap), `l <= SL` at SL,
/// `o >= TP` at o, `h >= TP` at TP. Short (ask = bid + spread): `o >= SL` at o, `h >= SL` at SL,
/// `o <= TP` at o, `l <= TP` at TP. Because a valid bar has `l <= o <= h`, "no level reached"
/// is just `l > SL && h < TP` (long), which keeps the common path to two compares.
#[inline]
pub fn find_exit(
    cols: &ColumnsRef,
    side: Side,
    entry_bar: usize,
    sl: i64,
    tp: i64,
    max_bars: usize,
    spread: i64,
) -> Option<(usize, i64, ExitReason)> {
    let n = cols.close.len();
    let last = entry_bar.saturating_add(max_bars).min(n.saturating_sub(1));
    if entry_bar < last {
        let first = entry_bar + 1;
        let (open, high, low) = (
            &cols.open[first..=last],
            &cols.high[first..=last],
            &cols.low[first..=last],
        );
        // Bid-side levels: a short position's ask-side levels shifted down by the spread, so
        // `h + spread >= SL` becomes `h >= SL - spread`, exact in integers.
        let (lo_level, hi_level) = match side {
            Side::Long => (sl, tp),
            Side::Short => (tp - spread, sl - spread),
        };
        let k = first_touch(low, high, lo_level, hi_level);
        if k < low.len() {
            let (i, o, l, h) = (first + k, open[k], low[k], high[k]);
            return Some(match side {
                Side::Long => {
                    if o <= sl {
                        (i, o, ExitReason::StopLoss)
                    } else if l <= sl {
                        (i, sl, ExitReason::StopLoss)
                    } else if o >= tp {
                        (i, o, ExitReason::TakeProfit)
                    } else {
                        debug_assert!(h >= tp);
                        (i, tp, ExitReason::TakeProfit)
                    }
                }
                Side::Short => {
                    let (sl_bid, tp_bid) = (hi_level, lo_level);
                    if o >= sl_bid {
                        (i, o + spread, ExitReason::StopLoss)
                    } else if h >= sl_bid {
                        (i, sl, ExitReason::StopLoss)
                    } else if o <= tp_bid {
                        (i, o + spread, ExitReason::TakeProfit)
                    } else {
                        debug_assert!(l <= tp_bid);
                        (i, tp, ExitReason::TakeProfit)
                    }
                }
            });
        }
    }
    if entry_bar + max_bars < n {
        let c = cols.close[entry_bar + max_bars];
        let price = match side {
            Side::Long => c,
            Side::Short => c + spread,
        };
        Some((entry_bar + max_bars, price, ExitReason::Time))
    } else {
        None
    }
}

/// Exits already found in one batch, by (side, exit rule) and entry bar.
///
/// Why: a position's exit depends only on its entry bar, side and exit rule (and the batch's
/// spread), never on which strategy opened it, and the strategies of a batch keep entering on
/// the same bars: on the bundled year, a 200-strategy batch opens 473,684 trades on only 27,008
/// distinct (rule, bar) pairs. So each exit is searched for once per batch and looked up after.
/// A table holds 8 bytes per bar for each exit rule the batch uses (3 MB per rule for a year of
/// minute bars), allocated when the rule is first seen.
#[derive(Debug, Default)]
pub struct ExitMemo {
    /// Bars the tables cover; 0 for no memo (every entry bar is then past the tables).
    bars: usize,
    tables: Vec<(Side, Exits, Vec<Slot>)>,
}

/// One memo entry in 8 bytes: the low 32 bits are 0 while unknown, 1 when the data ends first,
/// else `(exit bar - entry bar + 1) << 2 | reason`; the high 32 bits are the exit price minus the
/// entry bar's close, as an `i32`. An exit that does not fit (2^30 bars later, or 2^31 points
/// away) is not memoised but searched for each time. A plain integer, so that a new table is one
/// zeroed allocation (fresh pages, nothing written) rather than a loop; 8 bytes rather than 16
/// halve the memory a batch touches for its tables (6 MB -> 3 MB each on the bundled year).
type Slot = u64;

impl ExitMemo {
    /// A memo for a batch over `bars` bars.
    pub fn new(bars: usize) -> ExitMemo {
        ExitMemo {
            bars,
            ..ExitMemo::default()
        }
    }

    /// No memo: every exit is searched for (a single strategy gains nothing from one).
    pub fn off() -> ExitMemo {
        ExitMemo::default()
    }

    /// The exit of a position opened on `entry_bar` (see [`find_exit`]), from the table when
    /// this batch already met it. `table` is the caller's guess of which table holds its exit
    /// rule (a strategy keeps one rule), updated when wrong.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn exit(
        &mut self,
        table: &mut usize,
        cols: &ColumnsRef,
        side: Side,
        exits: Exits,
        entry_bar: usize,
        sl: i64,
        tp: i64,
        spread: i64,
    ) -> Option<(usize, i64, ExitReason)> {
        if entry_bar >= self.bars {
            return find_exit(cols, side, entry_bar, sl, tp, exits.max_bars, spread);
        }
        let same = |t: &(Side, Exits, Vec<Slot>)| t.0 == side && t.1 == exits;
        if !self.tables.get(*table).is_some_and(same) {
            *table = match self.tables.iter().position(same) {
                Some(i) => i,
                None => {
                    self.tables.push((side, exits, vec![0; self.bars]));
                    self.tables.len() - 1
                }
            };
        }
        let base = cols.close[entry_bar];
        let slot = &mut self.tables[*table].2[entry_bar];
        if *slot == 0 {
            let exit = find_exit(cols, side, entry_bar, sl, tp, exits.max_bars, spread);
            match exit {
                None => *slot = 1,
                Some((bar, price, reason)) => {
                    let code = u32::try_from(bar - entry_bar + 1)
                        .ok()
                        .filter(|&d| d < 1 << 30)
                        .map(|d| (d << 2) | reason.index() as u32);
                    match (code, i32::try_from(price - base)) {
                        (Some(code), Ok(delta)) => *slot = code as u64 | (delta as u32 as u64) << 32,
                        _ => return exit,
                    }
                }
            }
        }
        let code = *slot as u32;
        if code == 1 {
            return None;
        }
        let price = base + (*slot >> 32) as u32 as i32 as i64;
        let reason = ExitReason::ALL[(code & 3) as usize];
        Some((entry_bar + (code >> 2) as usize - 1, price, reason))
    }
}

/// Runs one strategy over all bars.
///
/// `next_entry(from)` returns the first bar `>= from` on which the strategy wants to enter while
/// flat, with the side and exit levels; the simulation asks again from the bar after each exit
/// (no re-entry on the exit bar). Ruin is not decided here: it depends on the lot size, and
/// [`crate::metrics::summarise`] cuts the log at the trade that ruins the account.
pub fn simulate<F>(cols: &ColumnsRef, spread: i64, next_entry: F, log: &mut TradeLog)
where
    F: FnMut(usize) -> Option<(usize, Side, Exits)>,
{
    simulate_with(cols, spread, next_entry, &mut ExitMemo::off(), log);
}

/// [`simulate`] with the batch's [`ExitMemo`]: the same trades, each exit searched for once
/// per batch. `memo` must have been made for these `cols` and `spread`.
pub fn simulate_with<F>(
    cols: &ColumnsRef,
    spread: i64,
    mut next_entry: F,
    memo: &mut ExitMemo,
    log: &mut TradeLog,
) where
    F: FnMut(usize) -> Option<(usize, Side, Exits)>,
{
    log.clear();
    let n = cols.close.len();
    let mut from = 0;
    let mut table = 0;
    while from < n {
        let Some((e, side, exits)) = next_entry(from) else {
            break;
        };
        debug_assert!(e >= from && e < n);
        match open_position(cols, spread, memo, &mut table, e, side, exits) {
            Ok(trade) => {
                from = trade.exit_bar + 1;
                log.trades.push(trade);
            }
            Err(open) => {
                log.open = Some(open);
                break;
            }
        }
    }
}

/// The position entered on bar `e`: the trade that closes it, or, when the data ends first,
/// the position still open, marked at the last close.
#[inline(always)]
fn open_position(
    cols: &ColumnsRef,
    spread: i64,
    memo: &mut ExitMemo,
    table: &mut usize,
    e: usize,
    side: Side,
    exits: Exits,
) -> Result<Trade, OpenPosition> {
    let n = cols.close.len();
    let c = cols.close[e];
    let (entry_price, sl, tp) = match side {
        Side::Long => {
            let entry = c + spread;
            (entry, entry - exits.sl_points, entry + exits.tp_points)
        }
        Side::Short => (c, c + exits.sl_points, c - exits.tp_points),
    };
    match memo.exit(table, cols, side, exits, e, sl, tp, spread) {
        Some((x, exit_price, reason)) => Ok(Trade {
            side,
            entry_bar: e,
            exit_bar: x,
            entry_price,
            exit_price,
            points: side.points(entry_price, exit_price),
            reason,
        }),
        None => {
            let c_last = cols.close[n - 1];
            let mark = match side {
                Side::Long => c_last,
                Side::Short => c_last + spread,
            };
            Err(OpenPosition {
                side,
                entry_bar: e,
                entry_price,
                mark_price: mark,
                points: side.points(entry_price, mark),
            })
        }
    }
}

/// Bars a [`sweep`] advances every strategy by before moving on: small enough that the stretch
/// of closes, exit tables and signal levels they read stays in a core's L2 cache (2048 bars
/// are ~16 KB per 8-byte column), large enough that the round over the strategies costs little.
pub const SWEEP_WINDOW: usize = 2048;

/// Where one strategy stands in a [`sweep`], in bars of the whole series. Kept apart from its
/// entry finder so that a streamed batch ([`crate::strategy`]) can carry it from one loaded
/// stretch of the series to the next, where the finder is made anew over the new stretch.
#[derive(Debug, Clone, Default)]
pub struct Cursor {
    /// The bar the next entry is searched from (the bar after the last exit).
    from: usize,
    /// An entry already found but not yet reached by the sweep.
    pending: Option<(usize, Side, Exits)>,
    /// Which exit table of the memo this strategy's rule was last found in.
    table: usize,
    /// Finished: no more entries, ruined, or a position open at the end of the data.
    pub done: bool,
    /// Bars of the series (counted from 0) that must be loaded before this strategy's pending
    /// entry can be followed to its exit; 0 when nothing waits for more bars.
    pub needs: usize,
    /// The position still open when the data ended, if any.
    pub open: Option<OpenPosition>,
}

/// One strategy's place in a [`sweep`]: its entry finder and its [`Cursor`].
pub struct Walker<F> {
    next_entry: F,
    pub cursor: Cursor,
}

impl<F> Walker<F>
where
    F: FnMut(usize) -> Option<(usize, Side, Exits)>,
{
    /// A strategy about to start at bar 0; `next_entry` as in [`simulate`].
    pub fn new(next_entry: F) -> Walker<F> {
        Walker::resume(next_entry, Cursor::default())
    }

    /// A strategy carried on from `cursor`, its entry finder made over the stretch of bars now
    /// loaded (it answers in that stretch's bars).
    pub fn resume(next_entry: F, cursor: Cursor) -> Walker<F> {
        Walker { next_entry, cursor }
    }
}

/// The bars a [`sweep_span`] sees: `cols` holds bars `lo..lo + cols.len()` of a series of
/// `total` bars. The whole series is `lo = 0, total = cols.len()`.
#[derive(Clone, Copy)]
pub struct Span<'c> {
    pub cols: ColumnsRef<'c>,
    pub lo: usize,
    pub total: usize,
}

impl<'c> Span<'c> {
    /// The whole series: every bar loaded.
    pub fn whole(cols: ColumnsRef<'c>) -> Span<'c> {
        Span {
            cols,
            lo: 0,
            total: cols.len(),
        }
    }

    /// One past the last bar loaded.
    pub fn hi(&self) -> usize {
        self.lo + self.cols.len()
    }
}

/// Runs many strategies together, each exactly as [`simulate_with`] runs it, handing every
/// trade to `on_trade(strategy index, trade, exit bar's time)` as it closes; a strategy whose
/// `on_trade` returns false (all its accounts ruined) is stopped. Positions still open at the
/// end are left in the walkers' cursors.
///
/// Why together: one strategy at a time reads the closes and the exit memo at its entry bars
/// scattered over the whole data set (3 MB per column for a year), so almost every trade missed
/// the cache twice; that was most of the engine's time. Here every strategy advances through the
/// same window of [`SWEEP_WINDOW`] bars before any goes further, so the strategies of a batch,
/// which keep entering on the same bars, find those lines already cached. Each strategy still
/// sees the same calls in the same order, so its trades are the same.
pub fn sweep<F, G>(
    cols: &ColumnsRef,
    spread: i64,
    memo: &mut ExitMemo,
    walkers: &mut [Walker<F>],
    on_trade: G,
) where
    F: FnMut(usize) -> Option<(usize, Side, Exits)>,
    G: FnMut(usize, &Trade, i64) -> bool,
{
    let span = Span::whole(*cols);
    let active: Vec<usize> = (0..walkers.len()).collect();
    sweep_span(&span, 0..cols.len(), spread, memo, walkers, active, on_trade);
}

/// [`sweep`] over a stretch of a longer series: the strategies `active` enter on bars of
/// `entries` only (global bars, inside the span), and follow each position to its exit inside
/// the span. Trades reach `on_trade` in global bars. After it, each cursor is in one of four
/// states: `done`; waiting for an entry at or after `entries.end` (pending, or searched through
/// the span's end); or, when the span does not reach the series' end and a position's exit
/// could lie past it, `needs` the bars up to where it could lie (its entry kept pending), for
/// the caller to load and sweep again. The memo must be made for `span.cols`.
pub fn sweep_span<F, G>(
    span: &Span,
    entries: std::ops::Range<usize>,
    spread: i64,
    memo: &mut ExitMemo,
    walkers: &mut [Walker<F>],
    mut active: Vec<usize>,
    mut on_trade: G,
) where
    F: FnMut(usize) -> Option<(usize, Side, Exits)>,
    G: FnMut(usize, &Trade, i64) -> bool,
{
    let (cols, lo, hi, total) = (&span.cols, span.lo, span.hi(), span.total);
    let at_end = hi == total;
    debug_assert!(lo <= entries.start && entries.end <= hi);
    let mut end = entries.start;
    while !active.is_empty() && end < entries.end {
        end = end.saturating_add(SWEEP_WINDOW).min(entries.end);
        active.retain(|&i| {
            let Walker {
                next_entry,
                cursor: c,
            } = &mut walkers[i];
            loop {
                let (e, side, exits) = match c.pending.take() {
                    Some(entry) => entry,
                    None if c.from >= total => {
                        c.done = true;
                        return false;
                    }
                    // Nothing loaded from here on: wait for the next span.
                    None if c.from >= hi => return false,
                    None => match next_entry(c.from - lo) {
                        Some((e, side, exits)) => {
                            // An entry finder that answers past the data breaks its contract;
                            // stop here rather than wait for a window that never comes.
                            assert!(e < cols.len(), "entry on bar {e} of {}", cols.len());
                            (e + lo, side, exits)
                        }
                        None if at_end => {
                            c.done = true;
                            return false;
                        }
                        None => {
                            c.from = hi;
                            return false;
                        }
                    },
                };
                debug_assert!(e >= c.from);
                if e >= end {
                    c.pending = Some((e, side, exits));
                    return true;
                }
                // Its exit may lie up to `max_bars` later: unless the span reaches the end of
                // the data, those bars must be loaded first, or "the data ends" would be wrong.
                if !at_end && e.saturating_add(exits.max_bars) >= hi {
                    c.pending = Some((e, side, exits));
                    c.needs = e.saturating_add(exits.max_bars).saturating_add(1).min(total);
                    return false;
                }
                match open_position(cols, spread, memo, &mut c.table, e - lo, side, exits) {
                    Ok(mut trade) => {
                        let time = cols.time[trade.exit_bar];
                        trade.entry_bar += lo;
                        trade.exit_bar += lo;
                        c.from = trade.exit_bar + 1;
                        if !on_trade(i, &trade, time) {
                            c.done = true;
                            return false;
                        }
                    }
                    Err(mut open) => {
                        open.entry_bar += lo;
                        c.open = Some(open);
                        c.done = true;
                        return false;
                    }
                }
            }
        });
    }
}
