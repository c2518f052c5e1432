//! SPEC section 2: the feature columns, computed once by the host in a fixed evaluation order.
//!
//! Why no rolling sums for the float features: a running sum drifts from the windowed sum in
//! the last bits, and SPEC fixes the order (`sum of ret1[k], k ascending`) so that independent
//! implementations agree bit for bit. The integer sums of `trend` are exact, so those do roll.
//! No `mul_add` anywhere: a fused multiply-add rounds once instead of twice.

use serde::{Deserialize, Serialize};
use stratbox_engine::{Columns, ColumnsRef};

use crate::data::Bars;

/// Window lengths, in bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    pub n_mom: usize,
    pub n_vol: usize,
    pub n_fast: usize,
    pub n_slow: usize,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            n_mom: 10,
            n_vol: 20,
            n_fast: 10,
            n_slow: 50,
        }
    }
}

impl Windows {
    /// Refuses windows the formulas cannot use (a variance needs two values).
    pub fn check(&self) -> Result<(), String> {
        if self.n_mom < 1 || self.n_vol < 2 || self.n_fast < 1 || self.n_slow < 1 {
            return Err(format!(
                "feature windows need n_mom >= 1, n_vol >= 2, n_fast >= 1, n_slow >= 1; got {self:?}"
            ));
        }
        Ok(())
    }
}

/// The feature columns, one value per bar, NaN before the window is full.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    pub ret1: Vec<f64>,
    pub momentum: Vec<f64>,
    pub volatility: Vec<f64>,
    pub trend: Vec<f64>,
}

/// `ret1[i] = c[i] / c[i-1] - 1`.
pub fn ret1(close: &[i64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; close.len()];
    for i in 1..close.len() {
        out[i] = close[i] as f64 / close[i - 1] as f64 - 1.0;
    }
    out
}

/// `momentum[i] = c[i] / c[i-n] - 1`.
pub fn momentum(close: &[i64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; close.len()];
    for i in n..close.len() {
        out[i] = close[i] as f64 / close[i - n] as f64 - 1.0;
    }
    out
}

/// Sample standard deviation of the last `n` values of `ret1`, summed in ascending order.
pub fn volatility(ret1: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; ret1.len()];
    // ret1[0] is NaN, so the first full window ends at bar n.
    for i in n..ret1.len() {
        let window = &ret1[i + 1 - n..=i];
        let mut sum = 0.0;
        for &r in window {
            sum += r;
        }
        let mean = sum / n as f64;
        let mut sq = 0.0;
        for &r in window {
            let d = r - mean;
            sq += d * d;
        }
        out[i] = (sq / (n - 1) as f64).sqrt();
    }
    out
}

/// Fast-minus-slow moving average in basis points of the close, with exact integer sums:
/// `num = S_f * n_slow - S_s * n_fast`, `trend = (num * 10000) / (n_fast * n_slow * c)`.
pub fn trend(close: &[i64], n_fast: usize, n_slow: usize) -> Vec<f64> {
    let len = close.len();
    let mut out = vec![f64::NAN; len];
    let full = n_fast.max(n_slow);
    if len < full {
        return out;
    }
    let (mut s_fast, mut s_slow) = (0i64, 0i64);
    for i in 0..len {
        s_fast += close[i];
        s_slow += close[i];
        if i >= n_fast {
            s_fast -= close[i - n_fast];
        }
        if i >= n_slow {
            s_slow -= close[i - n_slow];
        }
        if i + 1 >= full {
            let num = s_fast * n_slow as i64 - s_slow * n_fast as i64;
            out[i] = (num as f64 * 10000.0) / ((n_fast * n_slow) as f64 * close[i] as f64);
        }
    }
    out
}

/// All features of SPEC section 2 for one close series.
pub fn compute(close: &[i64], w: &Windows) -> Features {
    let ret1 = ret1(close);
    Features {
        momentum: momentum(close, w.n_mom),
        volatility: volatility(&ret1, w.n_vol),
        trend: trend(close, w.n_fast, w.n_slow),
        ret1,
    }
}

impl Features {
    /// `bars` and these features as the engine reads them, borrowed: a run keeps the bars, so
    /// nothing of the ~15 MB of a year's bars is copied.
    pub fn columns<'a>(&'a self, bars: &'a Bars) -> ColumnsRef<'a> {
        ColumnsRef {
            time: &bars.time,
            open: &bars.open,
            high: &bars.high,
            low: &bars.low,
            close: &bars.close,
            momentum: &self.momentum,
            volatility: &self.volatility,
            trend: &self.trend,
        }
    }
}

/// Owned columns of `bars` and their features, for callers that keep them beyond the bars (the
/// replays of the report and `trades`).
pub fn owned_columns(bars: &Bars, windows: &Windows) -> Columns {
    let f = compute(&bars.close, windows);
    Columns {
        time: bars.time.clone(),
        open: bars.open.clone(),
        high: bars.high.clone(),
        low: bars.low.clone(),
        close: bars.close.clone(),
        momentum: f.momentum,
        volatility: f.volatility,
        trend: f.trend,
    }
}
