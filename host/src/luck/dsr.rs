//! The deflated Sharpe ratio (Bailey and Lopez de Prado, 2014), SPEC section 7: the
//! probability that a strategy's true Sharpe ratio beats the best one N trials of pure luck
//! would be expected to show, given the length and the skew and fat tails of its record.

use super::normal::{cdf, inverse_cdf};

/// The Euler-Mascheroni constant, as SPEC writes it.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// `SR0`: the expected maximum of `n` per-day Sharpe ratios with variance `v` and no skill.
pub fn expected_max_sharpe(v: f64, n: usize) -> f64 {
    let n = n as f64;
    let g = EULER_GAMMA;
    v.sqrt()
        * ((1.0 - g) * inverse_cdf(1.0 - 1.0 / n) + g * inverse_cdf(1.0 - 1.0 / (n * std::f64::consts::E)))
}

/// DSR of per-day Sharpe `sr` over `t` days with skewness `g3` and kurtosis `g4` (normal = 3),
/// against `sr0` ([`expected_max_sharpe`]).
pub fn deflated_sharpe(sr: f64, g3: f64, g4: f64, t: usize, sr0: f64) -> f64 {
    let denominator = (1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr * sr).sqrt();
    cdf((sr - sr0) * ((t - 1) as f64).sqrt() / denominator)
}

/// Variance (ddof 1) of the trials' per-day Sharpe ratios.
pub fn variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)
}
