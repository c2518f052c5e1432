//! Probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey,
//! Borwein, Lopez de Prado and Zhu, 2015), SPEC section 7.
//!
//! Why block sums: a trial's per-day Sharpe on a half needs only the sum and the sum of squares
//! of its days, and a half is 8 of 16 blocks. So each trial is reduced once to 16 (sum, sum of
//! squares) pairs, and those to the sums over every subset of each group of 4 blocks; each of
//! the 12,870 splits then costs 4 lookups per trial and half, not a pass over its days, and the
//! T x N matrix is never formed. (Sharpe from sums differs from a two-pass computation only in
//! float rounding; equal series still give equal values, so ties stay ties.)

use super::simd::avx_kernel;
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

/// Blocks in a group: the 16 blocks are 4 groups of 4, and every subset of a group is summed
/// once, so that each half of a split is 4 lookups per trial instead of 8 additions.
const GROUP: usize = 4;
const GROUPS: usize = BLOCKS / GROUP;
const SUBSETS: usize = 1 << GROUP;

/// Every trial's sums over every subset of every group of blocks, `[(group * 16 + subset) *
/// n + trial]`: sums and sums of squares, 4 x 16 x N each (at 46,200 trials 47 MB in all, less
/// than half of the daily matrix they replace); and the days of a half.
struct GroupSums {
    n: usize,
    s: Vec<f64>,
    q: Vec<f64>,
    days_per_half: f64,
}

impl GroupSums {
    fn new(trials: &Trials) -> GroupSums {
        let len = trials.days() / BLOCKS;
        let used = len * BLOCKS;
        let n = trials.len();
        // Block sums first: [block * n + trial].
        let mut bs = vec![0.0; BLOCKS * n];
        let mut bq = vec![0.0; BLOCKS * n];
        for k in 0..n {
            for (t, p) in trials.entries(k) {
                if t < used {
                    bs[t / len * n + k] += p;
                    bq[t / len * n + k] += p * p;
                }
            }
        }
        let mut s = vec![0.0; GROUPS * SUBSETS * n];
        let mut q = vec![0.0; GROUPS * SUBSETS * n];
        for g in 0..GROUPS {
            for u in 1..SUBSETS {
                // The subset without its highest block, plus that block: blocks are added in
                // ascending order within a group.
                let top = (usize::BITS - 1 - u.leading_zeros()) as usize;
                let rest = (g * SUBSETS + (u & !(1 << top))) * n;
                let block = (g * GROUP + top) * n;
                let at = (g * SUBSETS + u) * n;
                for k in 0..n {
                    s[at + k] = s[rest + k] + bs[block + k];
                    q[at + k] = q[rest + k] + bq[block + k];
                }
            }
        }
        GroupSums {
            n,
            s,
            q,
            days_per_half: (len * BLOCKS / 2) as f64,
        }
    }

    /// Every trial's per-day Sharpe over the blocks of `mask`, into `out`. One pass over
    /// eight contiguous rows, so the compiler vectorises it (sqrt and division included).
    fn half(&self, mask: u16, out: &mut [f64]) {
        let n = self.n;
        let rows = self.rows(mask);
        let s = rows.map(|r| &self.s[r..r + n]);
        let q = rows.map(|r| &self.q[r..r + n]);
        half_sharpes(s, q, self.days_per_half, out);
    }

    /// The row offsets of the four group subsets that make up the blocks of `mask`.
    fn rows(&self, mask: u16) -> [usize; GROUPS] {
        std::array::from_fn(|g| (g * SUBSETS + ((mask as usize >> (g * GROUP)) & (SUBSETS - 1))) * self.n)
    }
}

avx_kernel! {
    /// Per-day Sharpes from the four group rows of sums `s` and of squares `q`, into `out`.
    fn half_sharpes(s: [&[f64]; GROUPS], q: [&[f64]; GROUPS], days: f64, out: &mut [f64]) = half_sharpes_lanes
}

#[inline(always)]
fn half_sharpes_lanes(s: [&[f64]; GROUPS], q: [&[f64]; GROUPS], days: f64, out: &mut [f64]) {
    // Cut to one length, so the loop has no bounds checks and vectorises.
    let n = out.len();
    let [s0, s1, s2, s3] = s.map(|r| &r[..n]);
    let [q0, q1, q2, q3] = q.map(|r| &r[..n]);
    for (k, out) in out.iter_mut().enumerate() {
        // Summed in group order from 0.0, as one trial at a time would.
        let sum = 0.0 + s0[k] + s1[k] + s2[k] + s3[k];
        let squares = 0.0 + q0[k] + q1[k] + q2[k] + q3[k];
        *out = sharpe(sum, squares, days);
    }
}

/// Lambda of a split whose in-sample half gave the Sharpes `is` and whose other half gave
/// `oos`, and whether its pick lost out of sample. The pick is the first best in-sample trial.
fn judge(is: &[f64], oos: &[f64]) -> (f64, bool) {
    let mut best = 0;
    let mut best_sr = f64::NEG_INFINITY;
    for (k, &sr) in is.iter().enumerate() {
        if sr > best_sr {
            best_sr = sr;
            best = k;
        }
    }
    let pick = oos[best];
    let (mut below, mut equal) = (0usize, 0usize);
    for &sr in oos {
        below += (sr < pick) as usize;
        equal += (sr == pick) as usize;
    }
    let n = oos.len() as f64;
    let rank = below as f64 + (equal as f64 + 1.0) / 2.0;
    let w = rank / (n + 1.0);
    ((w / (1.0 - w)).ln(), pick < 0.0)
}

/// Per-day Sharpe of a half of `days` days from its sum and sum of squares (0 where sd = 0).
#[inline]
fn sharpe(sum: f64, squares: f64, days: f64) -> f64 {
    let mean = sum / days;
    let var = (squares - sum * mean) / (days - 1.0);
    if var > 0.0 { mean / var.sqrt() } else { 0.0 }
}

/// CSCV over all splits, on up to `threads` threads. Needs at least 2 trials and 32 days.
///
/// A split's out-of-sample half is the in-sample half of its complement, which is a split too;
/// so the splits are taken in complementary pairs, each half's Sharpes computed once and
/// judged both ways: half the work, the same numbers.
pub fn pbo(trials: &Trials, threads: usize) -> Pbo {
    let sums = GroupSums::new(trials);
    let masks = splits();
    // The pairs' first members: the masks without block 15 (their complements have it).
    let firsts: Vec<u16> = masks.iter().copied().filter(|m| m & 0x8000 == 0).collect();
    let threads = threads.clamp(1, 16);
    let chunk = firsts.len().div_ceil(threads);
    let mut out: Vec<(f64, bool)> = vec![(0.0, false); masks.len()];
    let position = |m: u16| masks.binary_search(&m).expect("a split's complement is a split");
    std::thread::scope(|scope| {
        let handles: Vec<_> = firsts
            .chunks(chunk)
            .map(|part| {
                let sums = &sums;
                scope.spawn(move || {
                    let (mut a, mut b) = (vec![0.0; sums.n], vec![0.0; sums.n]);
                    part.iter()
                        .map(|&m| {
                            sums.half(m, &mut a);
                            sums.half(!m, &mut b);
                            (m, judge(&a, &b), judge(&b, &a))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (m, first, second) in h.join().expect("a CSCV thread panicked") {
                out[position(m)] = first;
                out[position(!m)] = second;
            }
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
