//! The standard normal distribution: `Phi` and its inverse, to double precision.
//!
//! Why here: the deflated Sharpe ratio needs both, and neither is in `std`. `Phi` comes from
//! `erfc` (libm, a port of FreeBSD's msun); the inverse is Wichura's AS 241 (PPND16), accurate
//! to about 1e-16, which is what SciPy's `norm.ppf` agrees with to float rounding.
// AS 241's coefficients are kept digit for digit as Wichura published them, so that they can be
// checked against the paper; some digits are beyond f64's precision.
#![allow(clippy::excessive_precision)]

/// `Phi(x)`, the probability that a standard normal is at most `x`.
pub fn cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// `Phi^-1(p)` for `0 < p < 1` (infinite at 0 and 1, NaN outside).
pub fn inverse_cdf(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * poly(&A, r) / poly(&B, r);
    }
    let r = if q < 0.0 { p } else { 1.0 - p };
    let r = (-r.ln()).sqrt();
    let x = if r <= 5.0 {
        let r = r - 1.6;
        poly(&C, r) / poly(&D, r)
    } else {
        let r = r - 5.0;
        poly(&E, r) / poly(&F, r)
    };
    if q < 0.0 { -x } else { x }
}

/// `c[0] + c[1] x + ... + c[7] x^7` by Horner's rule.
fn poly(c: &[f64; 8], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

const A: [f64; 8] = [
    3.387_132_872_796_366_5,
    133.141_667_891_784_38,
    1_971.590_950_306_551_4,
    13_731.693_765_509_461,
    45_921.953_931_549_87,
    67_265.770_927_008_7,
    33_430.575_583_588_13,
    2_509.080_928_730_122_7,
];
const B: [f64; 8] = [
    1.0,
    42.313_330_701_600_91,
    687.187_007_492_057_9,
    5_394.196_021_424_751,
    21_213.794_301_586_597,
    39_307.895_800_092_71,
    28_729.085_735_721_943,
    5_226.495_278_852_545,
];
const C: [f64; 8] = [
    1.423_437_110_749_683_5,
    4.630_337_846_156_546,
    5.769_497_221_460_691,
    3.647_848_324_763_204_5,
    1.270_458_252_452_368_4,
    0.241_780_725_177_450_6,
    0.022_723_844_989_269_184,
    7.745_450_142_783_414e-4,
];
const D: [f64; 8] = [
    1.0,
    2.053_191_626_637_759,
    1.676_384_830_183_803_8,
    0.689_767_334_985_1,
    0.148_103_976_427_480_08,
    0.015_198_666_563_616_457,
    5.475_938_084_995_345e-4,
    1.050_750_071_644_416_9e-9,
];
const E: [f64; 8] = [
    6.657_904_643_501_103,
    5.463_784_911_164_114,
    1.784_826_539_917_291_3,
    0.296_560_571_828_504_9,
    0.026_532_189_526_576_124,
    0.001_242_660_947_388_078_4,
    2.711_555_568_743_487_6e-5,
    2.010_334_399_292_288_1e-7,
];
const F: [f64; 8] = [
    1.0,
    0.599_832_206_555_888,
    0.136_929_880_922_735_8,
    0.014_875_361_290_850_615,
    7.868_691_311_456_133e-4,
    1.846_318_317_510_054_8e-5,
    1.421_511_758_316_446e-7,
    2.044_263_103_389_939_7e-15,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // scipy.stats.norm.cdf / ppf.
        assert!((cdf(0.0) - 0.5).abs() < 1e-16);
        assert!((cdf(1.96) - 0.975_002_104_851_779_5).abs() < 1e-15);
        assert!((cdf(-3.0) - 0.001_349_898_031_630_093_3).abs() < 1e-17);
        assert!((inverse_cdf(0.975) - 1.959_963_984_540_054).abs() < 1e-14);
        assert!((inverse_cdf(1.0 - 1.0 / 3367.0) - 3.434_339_102_437_340_4).abs() < 1e-13);
        for p in [1e-10, 0.01, 0.3, 0.5, 0.7, 0.99, 1.0 - 1e-9] {
            assert!((cdf(inverse_cdf(p)) - p).abs() < 1e-14 * p.max(1e-3), "{p}");
        }
    }
}
