//! Hansen's test of superior predictive ability (the "reality check"), SPEC section 7: could
//! the best trial's average daily P&L come from trials that on average make nothing?
//!
//! The reference is `arch.bootstrap.SPA(benchmark=0, models=-pnl, block_size=10, reps=1000,
//! bootstrap="stationary", studentize=True)`, consistent p-value, and this follows it step for
//! step: loss differentials `d = 0 - (-pnl) = pnl`; their long-run variances by the stationary
//! bootstrap's kernel (Politis and Romano's weights `kappa_i`); a trial enters the
//! re-centring only if its mean is above `-sqrt(var / T * 2 ln ln T)` (Hansen's rule, the
//! "consistent" choice); each replication's statistic is the largest re-centred bootstrap mean;
//! the p-value is the share of replications whose statistic exceeds the largest sample mean.
//! (As in arch 8, the variances enter only that rule, not the statistic itself.) The generator
//! differs from numpy's, so the p-value agrees with arch's up to bootstrap noise.
//!
//! Memory: trials are taken a chunk at a time (a dense T x 256 block); every chunk sees the same
//! resampled days (drawn once, as multiplicities of each day), so the result does not depend on
//! the chunking and a 10x grid never needs its whole matrix.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::simd::avx_kernel;
use super::trials::Trials;

/// The reference settings of SPEC section 7.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpaSettings {
    pub block_size: usize,
    pub reps: usize,
    pub seed: u64,
}

impl Default for SpaSettings {
    fn default() -> Self {
        SpaSettings {
            block_size: 10,
            reps: 1000,
            seed: 0,
        }
    }
}

/// Trials per dense chunk.
const CHUNK: usize = 256;

/// Replications accumulated together over one pass of a chunk's days.
const REPS_AT_ONCE: usize = 8;

/// For each replication, how often each of the `t` days is drawn by a stationary bootstrap
/// with mean block length `block_size`.
pub fn resample_counts(t: usize, settings: &SpaSettings) -> Vec<Vec<u32>> {
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let p = 1.0 / settings.block_size as f64;
    (0..settings.reps)
        .map(|_| {
            let mut counts = vec![0u32; t];
            let mut at = rng.random_range(0..t);
            counts[at] += 1;
            for _ in 1..t {
                if rng.random::<f64>() < p {
                    at = rng.random_range(0..t);
                } else {
                    at = (at + 1) % t;
                }
                counts[at] += 1;
            }
            counts
        })
        .collect()
}

/// The consistent SPA p-value of `trials`, on up to `threads` threads.
pub fn spa_pvalue(trials: &Trials, settings: &SpaSettings, threads: usize) -> f64 {
    let t = trials.days();
    let counts = resample_counts(t, settings);
    let chunks: Vec<std::ops::Range<usize>> = (0..trials.len())
        .step_by(CHUNK)
        .map(|a| a..(a + CHUNK).min(trials.len()))
        .collect();
    let threads = threads.max(1);
    let mut best_mean = f64::NEG_INFINITY;
    let mut max_sim = vec![f64::NEG_INFINITY; settings.reps];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let (chunks, counts) = (&chunks, &counts);
                scope.spawn(move || {
                    let mut best = f64::NEG_INFINITY;
                    let mut sims = vec![f64::NEG_INFINITY; counts.len()];
                    for range in chunks.iter().skip(w).step_by(threads) {
                        let (b, s) = chunk_statistics(trials, range.clone(), counts, settings.block_size);
                        best = best.max(b);
                        for (acc, v) in sims.iter_mut().zip(s) {
                            *acc = acc.max(v);
                        }
                    }
                    (best, sims)
                })
            })
            .collect();
        for h in handles {
            let (b, s) = h.join().expect("an SPA thread panicked");
            best_mean = best_mean.max(b);
            for (acc, v) in max_sim.iter_mut().zip(s) {
                *acc = acc.max(v);
            }
        }
    });
    max_sim.iter().filter(|&&v| v > best_mean).count() as f64 / settings.reps as f64
}

/// One chunk: the largest sample mean, and per replication the largest re-centred bootstrap
/// mean.
fn chunk_statistics(
    trials: &Trials,
    range: std::ops::Range<usize>,
    counts: &[Vec<u32>],
    block_size: usize,
) -> (f64, Vec<f64>) {
    let t = trials.days();
    let w = range.len();
    let mut x = Vec::new();
    trials.dense(range, &mut x);
    let tf = t as f64;
    let mut mean = vec![0.0; w];
    for row in x.chunks_exact(w) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in &mut mean {
        *m /= tf;
    }
    let centre = recentring(&x, &mean, t, block_size);
    // Replications are taken REPS_AT_ONCE at a time, so each day's row of the chunk is read
    // from memory once for all of them (it stays in L1 while their accumulators take it);
    // each accumulator still adds its days in ascending order, so the sums are the same.
    let mut sims = Vec::with_capacity(counts.len());
    let mut acc = vec![0.0; REPS_AT_ONCE * w];
    for group in counts.chunks(REPS_AT_ONCE) {
        accumulate(&mut acc, group, &x, w);
        for a in acc.chunks_exact(w).take(group.len()) {
            let max = a
                .iter()
                .zip(&centre)
                .map(|(a, c)| a / tf - c)
                .fold(f64::NEG_INFINITY, f64::max);
            sims.push(max);
        }
    }
    (mean.iter().copied().fold(f64::NEG_INFINITY, f64::max), sims)
}

avx_kernel! {
    /// `acc[r]` (the `w` accumulators of replication `group[r]`) = the sum over days of each
    /// day's multiplicity times its row of `x`, days in ascending order.
    fn accumulate(acc: &mut [f64], group: &[Vec<u32>], x: &[f64], w: usize) = accumulate_lanes
}

#[inline(always)]
fn accumulate_lanes(acc: &mut [f64], group: &[Vec<u32>], x: &[f64], w: usize) {
    acc.fill(0.0);
    for (t, row) in x.chunks_exact(w).enumerate() {
        for (c, a) in group.iter().zip(acc.chunks_exact_mut(w)) {
            let n = c[t];
            if n == 0 {
                continue;
            }
            let n = n as f64;
            for (a, v) in a.iter_mut().zip(row) {
                *a += n * v;
            }
        }
    }
}

avx_kernel! {
    /// The stationary bootstrap's long-run variance of each column of the day-major `d`
    /// (`var.len()` columns): the mean square plus `2 kappa_i` times each lag's mean cross
    /// product. Each column's sums run over days in ascending order, lag after lag.
    fn long_run_variances(var: &mut [f64], d: &[f64], kappa: &[f64], tf: f64) = long_run_lanes
}

#[inline(always)]
fn long_run_lanes(var: &mut [f64], d: &[f64], kappa: &[f64], tf: f64) {
    let m = var.len();
    let t = d.len() / m;
    var.fill(0.0);
    for row in d.chunks_exact(m) {
        for (v, x) in var.iter_mut().zip(row) {
            *v += x * x;
        }
    }
    for v in var.iter_mut() {
        *v /= tf;
    }
    let lag0 = var.to_vec();
    let mut cross = vec![0.0; m];
    for (i, &kappa) in kappa.iter().enumerate().take(t).skip(1) {
        if negligible(kappa, &lag0, var) {
            continue;
        }
        cross.fill(0.0);
        for s in 0..t - i {
            let (a, b) = (&d[s * m..(s + 1) * m], &d[(s + i) * m..(s + i + 1) * m]);
            for ((c, x), y) in cross.iter_mut().zip(a).zip(b) {
                *c += x * y;
            }
        }
        for (v, c) in var.iter_mut().zip(&cross) {
            *v += 2.0 * kappa * c / tf;
        }
    }
}

/// Whether adding lag `kappa`'s term `2 kappa c / T` would leave every column's running
/// variance `var` as it is, whatever its cross product `c`: then the lag is skipped, and the
/// sums keep their bits. With `T` = 6,500 days (25 years) the kernel's weights fall below that
/// after a few hundred lags, and the `T^2 / 2` products per trial that were most of `luck`'s
/// time become a few hundred times `T`.
///
/// Why it is exact: `|c| <= sum(d^2) = T lag0` (Cauchy-Schwarz; float rounding adds far less
/// than the factor 2 spared for it), so `|term| <= 4 kappa lag0`; and `v + x` rounds back to
/// `v` when `|x|` is below half the spacing of the doubles next to a normal `v > 0`, which is
/// at least `v 2^-54`.
#[inline(always)]
fn negligible(kappa: f64, lag0: &[f64], var: &[f64]) -> bool {
    const HALF_SPACING: f64 = 1.0 / (1u64 << 55) as f64;
    let bound = 4.0 * kappa;
    var.iter()
        .zip(lag0)
        .all(|(&v, &v0)| v >= f64::MIN_POSITIVE && bound * v0 < v * HALF_SPACING)
}

/// The consistent re-centring: each trial's mean if it passes Hansen's rule, else 0.
fn recentring(x: &[f64], mean: &[f64], t: usize, block_size: usize) -> Vec<f64> {
    let w = mean.len();
    let tf = t as f64;
    let threshold_scale = 2.0 * tf.ln().ln() / tf;
    let p = 1.0 / block_size as f64;
    let mut out = mean.to_vec();
    // Only a trial with a negative mean can fail the rule; its variance decides.
    let negative: Vec<usize> = (0..w).filter(|&j| mean[j] < 0.0).collect();
    if negative.is_empty() {
        return out;
    }
    // The kernel's weights depend only on the lag: computed once, not once per trial.
    let kappa: Vec<f64> = (0..t)
        .map(|i| {
            let fi = i as f64;
            (1.0 - fi / tf) * (1.0 - p).powi(i as i32) + (fi / tf) * (1.0 - p).powi((t - i) as i32)
        })
        .collect();
    // Their deviations from the mean, day-major (`d[s * m + jj]`), so that one lag's products
    // of all of them are one contiguous, vectorised pass.
    let m = negative.len();
    let mut d = vec![0.0; t * m];
    for (s, row) in d.chunks_exact_mut(m).enumerate() {
        for (v, &j) in row.iter_mut().zip(&negative) {
            *v = x[s * w + j] - mean[j];
        }
    }
    let mut var = vec![0.0; m];
    long_run_variances(&mut var, &d, &kappa, tf);
    for (v, &j) in var.iter().zip(&negative) {
        let threshold = -(v * threshold_scale).sqrt();
        if mean[j] < threshold {
            out[j] = 0.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The long-run variances summed over every lag, as before lags were skipped.
    fn every_lag(d: &[f64], m: usize, kappa: &[f64], tf: f64) -> Vec<f64> {
        let t = d.len() / m;
        let mut var = vec![0.0; m];
        for row in d.chunks_exact(m) {
            for (v, x) in var.iter_mut().zip(row) {
                *v += x * x;
            }
        }
        for v in var.iter_mut() {
            *v /= tf;
        }
        for (i, &kappa) in kappa.iter().enumerate().take(t).skip(1) {
            let mut cross = vec![0.0; m];
            for s in 0..t - i {
                for j in 0..m {
                    cross[j] += d[s * m + j] * d[(s + i) * m + j];
                }
            }
            for (v, c) in var.iter_mut().zip(&cross) {
                *v += 2.0 * kappa * c / tf;
            }
        }
        var
    }

    #[test]
    fn skipping_negligible_lags_keeps_every_bit() {
        // 3 trials over 3,000 days (a losing drift, a spiky one, one of mostly zeros), from a
        // fixed LCG, with the kernel of block size 10.
        let (t, m) = (3000usize, 3usize);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut d = vec![0.0; t * m];
        for s in 0..t {
            d[s * m] = next() - 0.01;
            d[s * m + 1] = if s % 97 == 0 { 40.0 * next() } else { next() * 1e-3 };
            d[s * m + 2] = if s % 13 == 0 { next() } else { 0.0 };
        }
        let tf = t as f64;
        let p: f64 = 0.1;
        let kappa: Vec<f64> = (0..t)
            .map(|i| {
                let fi = i as f64;
                (1.0 - fi / tf) * (1.0 - p).powi(i as i32) + (fi / tf) * (1.0 - p).powi((t - i) as i32)
            })
            .collect();
        let mut var = vec![0.0; m];
        long_run_variances(&mut var, &d, &kappa, tf);
        let want = every_lag(&d, m, &kappa, tf);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        assert_eq!(bits(&var), bits(&want));
        // And lags are skipped: far ones are negligible, the first is not.
        let lag0: Vec<f64> = (0..m)
            .map(|j| (0..t).map(|s| d[s * m + j].powi(2)).sum::<f64>() / tf)
            .collect();
        assert!(negligible(kappa[t / 2], &lag0, &want));
        assert!(!negligible(kappa[1], &lag0, &want));
    }
}
