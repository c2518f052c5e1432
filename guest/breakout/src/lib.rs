//! Channel breakout, a contributed-style strategy family.
//!
//! Long on bar i when `close[i] > max(high[i-lookback .. i]) + buffer`; short when
//! `close[i] < min(low[i-lookback .. i]) - buffer` (the channel excludes bar i itself; strict
//! comparisons; integer points). Exits are the engine's: stop, target, time.
//!
//! Batch index: the rolling channel of every distinct lookback in the batch, computed once per
//! batch with a monotonic deque (O(bars) per lookback), shared by all strategies with that
//! lookback.

use std::collections::{BTreeMap, VecDeque};

use stratbox_guest_sdk::{ColumnsRef, Exits, Side, Strategy, export_strategy, pips_to_points, whole_bars};

pub struct Breakout {
    lookback: usize,
    buffer_points: i64,
    side: Side,
    exits: Exits,
}

/// For each lookback: the channel high and low *before* each bar (`None` until full).
pub struct Channels {
    by_lookback: BTreeMap<usize, (Vec<i64>, Vec<i64>)>,
}

/// `out[i]` = max (or min, with `better = <`) of `x[i-n .. i]`, i64::MIN/MAX where not full.
fn rolling(x: &[i64], n: usize, better: fn(i64, i64) -> bool, empty: i64) -> Vec<i64> {
    let mut out = vec![empty; x.len()];
    let mut window: VecDeque<usize> = VecDeque::new();
    for i in 0..x.len() {
        if i >= n {
            out[i] = x[*window.front().expect("a full window is not empty")];
        }
        while window.back().is_some_and(|&j| !better(x[j], x[i])) {
            window.pop_back();
        }
        window.push_back(i);
        if window.front().is_some_and(|&j| j + n <= i) {
            window.pop_front();
        }
    }
    out
}

impl Strategy for Breakout {
    const NAME: &'static str = "breakout";
    const VERSION: &'static str = "1.0.0";
    const PARAMS: &'static [&'static str] = &[
        "lookback",
        "buffer_pips",
        "direction",
        "sl_pips",
        "tp_pips",
        "max_bars",
    ];

    type Index = Channels;

    fn from_params(values: &[f64], pip_points: i64) -> Result<Self, String> {
        let [lookback, buffer_pips, direction, sl_pips, tp_pips, max_bars] = values else {
            return Err(format!("expected 6 parameter values, got {}", values.len()));
        };
        let buffer = buffer_pips * pip_points as f64;
        if !(buffer >= 0.0 && buffer.fract() == 0.0 && buffer < 1e12) {
            return Err(format!(
                "buffer_pips = {buffer_pips} is not a whole number of points >= 0"
            ));
        }
        Ok(Breakout {
            lookback: whole_bars("lookback", *lookback)?,
            buffer_points: buffer as i64,
            side: Side::from_param(*direction)?,
            exits: Exits {
                sl_points: pips_to_points("sl_pips", *sl_pips, pip_points)?,
                tp_points: pips_to_points("tp_pips", *tp_pips, pip_points)?,
                max_bars: whole_bars("max_bars", *max_bars)?,
            },
        })
    }

    /// The channel on bar `i` is the high and low of the `lookback` bars before it.
    fn lookback(&self) -> Option<usize> {
        Some(self.lookback)
    }

    fn build_index(cols: &ColumnsRef, strategies: &[Self]) -> Channels {
        let mut by_lookback = BTreeMap::new();
        for s in strategies {
            by_lookback.entry(s.lookback).or_insert_with(|| {
                (
                    rolling(cols.high, s.lookback, |a, b| a > b, i64::MAX),
                    rolling(cols.low, s.lookback, |a, b| a < b, i64::MIN),
                )
            });
        }
        Channels { by_lookback }
    }

    fn entries<'a>(
        &'a self,
        index: &'a Channels,
        cols: &'a ColumnsRef<'a>,
    ) -> impl FnMut(usize) -> Option<(usize, Side, Exits)> + 'a {
        let (upper, lower) = &index.by_lookback[&self.lookback];
        let (side, exits, buffer) = (self.side, self.exits, self.buffer_points);
        move |from| {
            let hit =
                match side {
                    // i64::MAX / MIN where the channel is not full: the comparison cannot hold.
                    Side::Long => (from..cols.len())
                        .find(|&i| upper[i] != i64::MAX && cols.close[i] > upper[i] + buffer),
                    Side::Short => (from..cols.len())
                        .find(|&i| lower[i] != i64::MIN && cols.close[i] < lower[i] - buffer),
                };
            hit.map(|i| (i, side, exits))
        }
    }
}

export_strategy!(Breakout);
