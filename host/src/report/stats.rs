//! Spearman's rank correlation: does the in-sample order of strategies survive out of sample?
//!
//! Rank correlation rather than Pearson because P&L is heavy-tailed: a few huge winners or
//! ruined accounts would dominate a linear correlation, while the question is only whether
//! strategies that ranked high in one period still rank high in the other.

/// Ranks of `values`, 1 = smallest; tied values share the mean of the ranks they span (so
/// `[10, 20, 20, 30]` ranks `[1, 2.5, 2.5, 4]`).
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Positions i..=j (0-based) hold ranks i+1..=j+1; their mean is (i + j) / 2 + 1.
        let shared = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = shared;
        }
        i = j + 1;
    }
    out
}

/// Pearson's correlation of `x` and `y`; `None` with fewer than two pairs or when either side
/// is constant (the correlation is undefined, not zero).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "pearson needs pairs");
    let n = x.len();
    if n < 2 {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Spearman's rho: Pearson's correlation of the ranks (ties averaged), so it stays exact with
/// ties, where the `1 - 6 sum d^2 / (n (n^2 - 1))` shortcut does not.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&ranks(x), &ranks(y))
}
