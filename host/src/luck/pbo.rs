//! Probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey,
//! Borwein, Lopez de Prado and Zhu, 2015), SPEC section 7.
//!
//! Why block sums: a trial's per-day Sharpe on a half needs only the sum and the sum of squares
//! of its days, and a half is 8 of 16 blocks. So each trial is reduced once to 16 (sum, sum of
//! squares) pairs and each of the 12,870 splits costs 32 additions per trial, not a pass over
//! its days; the T x N matrix is never formed. (Sharpe from sums differs from a two-pass
//! computation only in float rounding; equal series still give equal values, so ties stay ties.)

use super::trials::Trials;

/// Blocks the days are cut into.
pub const BLOCKS: usize = 16;

/// What CSCV found.
#[derive(Debug, Clone, PartialEq)]
pub struct Pbo {
    /// Share of splits whose in-sample best ranks in the lower half out of sample.
    pub pbo: f64,
    pub median_lambda: f64,
    /// Share of splits in which the in-sample best loses money out of sample (Sharpe < 0).
    pub oos_loss: f64,
    /// Every split's logit, in the order of the splits (in-sample block sets ascending as
    /// 16-bit masks).
    pub lambdas: Vec<f64>,
}

/// The 12,870 in-sample block sets: every 16-bit mask with 8 bits set, ascending.
pub fn splits() -> Vec<u16> {
    (0..=u16::MAX).filter(|m| m.count_ones() == 8).collect()
}

/// Block sums of every trial: `[block][trial]` sums and sums of squares, and the days a block.
fn block_sums(trials: &Trials) -> (Vec<Vec<f64>>, Vec<Vec<f64>>, usize) {
    let len = trials.days() / BLOCKS;
    let used = len * BLOCKS;
    let n = trials.len();
    let mut s = vec![vec![0.0; n]; BLOCKS];
    let mut q = vec![vec![0.0; n]; BLOCKS];
    for k in 0..n {
        for (t, p) in trials.entries(k) {
            if t < used {
                s[t / len][k] += p;
                q[t / len][k] += p * p;
            }
        }
    }
    (s, q, len)
}

/// Per-day Sharpe of a half of `days` days from its sum and sum of squares (0 where sd = 0).
#[inline]
fn sharpe(sum: f64, squares: f64, days: f64) -> f64 {
    let mean = sum / days;
    let var = (squares - sum * mean) / (days - 1.0);
    if var > 0.0 { mean / var.sqrt() } else { 0.0 }
}

/// CSCV over all splits, on up to `threads` threads. Needs at least 2 trials and 32 days.
pub fn pbo(trials: &Trials, threads: usize) -> Pbo {
    let (s, q, len) = block_sums(trials);
    let masks = splits();
    let threads = threads.clamp(1, 16);
    let chunk = masks.len().div_ceil(threads);
    let mut out: Vec<(f64, bool)> = Vec::with_capacity(masks.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = masks
            .chunks(chunk)
            .map(|part| {
                let (s, q) = (&s, &q);
                scope.spawn(move || {
                    let mut work = Work::new(s[0].len());
                    part.iter().map(|&m| work.split(s, q, len, m)).collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            out.extend(h.join().expect("a CSCV thread panicked"));
        }
    });
    let n_splits = out.len() as f64;
    let lambdas: Vec<f64> = out.iter().map(|&(l, _)| l).collect();
    let pbo = lambdas.iter().filter(|&&l| l <= 0.0).count() as f64 / n_splits;
    let oos_loss = out.iter().filter(|&&(_, loss)| loss).count() as f64 / n_splits;
    Pbo {
        pbo,
        median_lambda: median(&lambdas),
        oos_loss,
        lambdas,
    }
}

/// The median (mean of the middle two for an even count), as numpy's.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One thread's buffers.
struct Work {
    is_s: Vec<f64>,
    is_q: Vec<f64>,
    oos_s: Vec<f64>,
    oos_q: Vec<f64>,
}

impl Work {
    fn new(n: usize) -> Work {
        Work {
            is_s: vec![0.0; n],
            is_q: vec![0.0; n],
            oos_s: vec![0.0; n],
            oos_q: vec![0.0; n],
        }
    }

    /// Lambda of the split with in-sample blocks `mask`, and whether its pick lost out of
    /// sample.
    fn split(&mut self, s: &[Vec<f64>], q: &[Vec<f64>], len: usize, mask: u16) -> (f64, bool) {
        for v in [&mut self.is_s, &mut self.is_q, &mut self.oos_s, &mut self.oos_q] {
            v.fill(0.0);
        }
        for b in 0..BLOCKS {
            let (ts, tq) = if mask & (1 << b) != 0 {
                (&mut self.is_s, &mut self.is_q)
            } else {
                (&mut self.oos_s, &mut self.oos_q)
            };
            for (acc, v) in ts.iter_mut().zip(&s[b]) {
                *acc += v;
            }
            for (acc, v) in tq.iter_mut().zip(&q[b]) {
                *acc += v;
            }
        }
        let days = (len * BLOCKS / 2) as f64;
        let mut best = 0;
        let mut best_sr = f64::NEG_INFINITY;
        for k in 0..self.is_s.len() {
            let sr = sharpe(self.is_s[k], self.is_q[k], days);
            if sr > best_sr {
                best_sr = sr;
                best = k;
            }
        }
        let pick = sharpe(self.oos_s[best], self.oos_q[best], days);
        let (mut below, mut equal) = (0usize, 0usize);
        for k in 0..self.oos_s.len() {
            let sr = sharpe(self.oos_s[k], self.oos_q[k], days);
            below += (sr < pick) as usize;
            equal += (sr == pick) as usize;
        }
        let n = self.oos_s.len() as f64;
        let rank = below as f64 + (equal as f64 + 1.0) / 2.0;
        let w = rank / (n + 1.0);
        ((w / (1.0 - w)).ln(), pick < 0.0)
    }
}
