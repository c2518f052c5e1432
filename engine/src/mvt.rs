//! The default family of SPEC section 3: momentum, volatility and trend filters (MVT).
//!
//! Entry on bar i when flat: long if `momentum > mom_th && trend > trend_th && volatility <
//! vol_max`; short if `momentum < -mom_th && trend < -trend_th && volatility < vol_max`.
//!
//! Why an index: walking every bar for every strategy costs bars x strategies comparisons. The
//! thresholds of one batch take few distinct values, so each bar is reduced once per batch to
//! three small *levels* (how many distinct thresholds it passes), and for each momentum level
//! the bars that pass it are listed once. A strategy then walks only its own list, comparing two
//! small integers per candidate, and jumps from each exit straight to the next candidate. The
//! comparisons behind the levels are the exact f64 comparisons of the rule, so the result is
//! the same as the naive loop (the tests check both against each other).

use crate::protocol::Columns;
use crate::sim::{Exits, Side};
use crate::strategy::{Strategy, pips_to_points, whole_bars};

/// One MVT strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mvt {
    pub mom_th: f64,
    pub vol_max: f64,
    pub trend_th: f64,
    pub side: Side,
    pub exits: Exits,
}

impl Mvt {
    /// The rule itself, bar by bar: the reference the index is tested against.
    pub fn signal(&self, cols: &Columns, i: usize) -> bool {
        let (m, v, t) = (cols.momentum[i], cols.volatility[i], cols.trend[i]);
        match self.side {
            Side::Long => m > self.mom_th && t > self.trend_th && v < self.vol_max,
            Side::Short => m < -self.mom_th && t < -self.trend_th && v < self.vol_max,
        }
    }
}

/// A bar that passes some momentum level, with its trend and volatility levels.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    bar: u32,
    /// Number of the batch's distinct trend thresholds this bar passes.
    trend_level: u16,
    /// Number of the batch's distinct vol_max values this bar fails (`vol >= vol_max`).
    vol_level: u16,
}

/// The entry index of one direction.
#[derive(Debug, Default)]
struct DirectionIndex {
    mom: Vec<f64>,
    trend: Vec<f64>,
    vol: Vec<f64>,
    /// `lists[k]`: bars passing the k-th smallest momentum threshold (and the loosest trend and
    /// volatility ones), in bar order.
    lists: Vec<Vec<Candidate>>,
}

/// Batch-wide entry index: one per direction.
#[derive(Debug, Default)]
pub struct MvtIndex {
    long: DirectionIndex,
    short: DirectionIndex,
}

fn sorted_distinct(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// How many of the sorted `thresholds` lie strictly below `x` (0 for NaN).
#[inline]
fn passed(thresholds: &[f64], x: f64) -> usize {
    thresholds.partition_point(|&th| th < x)
}

impl DirectionIndex {
    fn build(cols: &Columns, strategies: &[&Mvt], side: Side) -> DirectionIndex {
        if strategies.is_empty() {
            return DirectionIndex::default();
        }
        let mom = sorted_distinct(strategies.iter().map(|s| s.mom_th));
        let trend = sorted_distinct(strategies.iter().map(|s| s.trend_th));
        let vol = sorted_distinct(strategies.iter().map(|s| s.vol_max));
        assert!(trend.len() < u16::MAX as usize && vol.len() < u16::MAX as usize);
        let mut lists: Vec<Vec<Candidate>> = vec![Vec::new(); mom.len()];
        let sign = match side {
            Side::Long => 1.0,
            Side::Short => -1.0,
        };
        for i in 0..cols.len() {
            // Short: `momentum < -th` is `th < -momentum`, exact because negation is exact.
            let m_level = passed(&mom, sign * cols.momentum[i]);
            if m_level == 0 {
                continue;
            }
            let t_level = passed(&trend, sign * cols.trend[i]);
            if t_level == 0 {
                continue;
            }
            let v = cols.volatility[i];
            // `v < vol_max` fails for the first `v_level` sorted values (all of them for NaN).
            let v_level = vol.partition_point(|&max| !(v < max));
            if v_level == vol.len() {
                continue;
            }
            let c = Candidate {
                bar: i as u32,
                trend_level: t_level as u16,
                vol_level: v_level as u16,
            };
            for list in &mut lists[..m_level] {
                list.push(c);
            }
        }
        DirectionIndex {
            mom,
            trend,
            vol,
            lists,
        }
    }
}

impl Strategy for Mvt {
    const NAME: &'static str = "mvt";
    const VERSION: &'static str = "1.0.0";
    const PARAMS: &'static [&'static str] = &[
        "mom_th",
        "vol_max",
        "trend_th",
        "direction",
        "sl_pips",
        "tp_pips",
        "max_bars",
    ];

    type Index = MvtIndex;

    fn from_params(values: &[f64], pip_points: i64) -> Result<Self, String> {
        let [mom_th, vol_max, trend_th, direction, sl_pips, tp_pips, max_bars] = values else {
            return Err(format!("expected 7 parameter values, got {}", values.len()));
        };
        for (name, v) in [("mom_th", mom_th), ("vol_max", vol_max), ("trend_th", trend_th)] {
            if v.is_nan() {
                return Err(format!("{name} is NaN"));
            }
        }
        Ok(Mvt {
            mom_th: *mom_th,
            vol_max: *vol_max,
            trend_th: *trend_th,
            side: Side::from_param(*direction)?,
            exits: Exits {
                sl_points: pips_to_points("sl_pips", *sl_pips, pip_points)?,
                tp_points: pips_to_points("tp_pips", *tp_pips, pip_points)?,
                max_bars: whole_bars("max_bars", *max_bars)?,
            },
        })
    }

    fn build_index(cols: &Columns, strategies: &[Self]) -> MvtIndex {
        assert!(cols.len() <= u32::MAX as usize, "more than 2^32 bars");
        let of_side = |side| -> Vec<&Mvt> { strategies.iter().filter(|s| s.side == side).collect() };
        MvtIndex {
            long: DirectionIndex::build(cols, &of_side(Side::Long), Side::Long),
            short: DirectionIndex::build(cols, &of_side(Side::Short), Side::Short),
        }
    }

    fn entries<'a>(
        &'a self,
        index: &'a MvtIndex,
        _cols: &'a Columns,
    ) -> impl FnMut(usize) -> Option<(usize, Side, Exits)> + 'a {
        let dir = match self.side {
            Side::Long => &index.long,
            Side::Short => &index.short,
        };
        // The strategy's own thresholds are among the index's distinct values.
        let k_mom = dir.mom.partition_point(|&x| x < self.mom_th);
        let k_trend = dir.trend.partition_point(|&x| x < self.trend_th);
        let k_vol = dir.vol.partition_point(|&x| x < self.vol_max);
        debug_assert_eq!(dir.mom[k_mom], self.mom_th);
        let list: &[Candidate] = &dir.lists[k_mom];
        let (side, exits) = (self.side, self.exits);
        let mut p = 0;
        move |from| {
            p += list[p..].partition_point(|c| (c.bar as usize) < from);
            while let Some(c) = list.get(p) {
                // Passes trend threshold k iff k < trend_level; vol_max k iff k >= vol_level.
                if k_trend < c.trend_level as usize && k_vol >= c.vol_level as usize {
                    return Some((c.bar as usize, side, exits));
                }
                p += 1;
            }
            None
        }
    }
}
