//! The default family of SPEC section 3: momentum, volatility and trend filters (MVT).
//!
//! Entry on bar i when flat: long if `momentum > mom_th && trend > trend_th && volatility <
//! vol_max`; short if `momentum < -mom_th && trend < -trend_th && volatility < vol_max`.
//!
//! Why an index: walking every bar for every strategy costs bars x strategies comparisons. The
//! thresholds of one batch take few distinct values, so each bar is reduced once per batch to
//! three small *levels* (how many of the distinct thresholds it passes), stored as byte columns.
//! A strategy's rule is then three byte comparisons, and finding its next entry after an exit is
//! a scan over 16 bars per step. Bars inside a trade are never looked at. The comparisons behind
//! the levels are the exact f64 comparisons of the rule, so the result is the same as the naive
//! loop (tests check both).

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

/// The entry index of one direction: each bar reduced to three small levels, stored as byte
/// columns so that finding a strategy's next entry is a scan that compares 16 bars at a time.
#[derive(Debug, Default)]
struct DirectionIndex {
    mom: Vec<f64>,
    trend: Vec<f64>,
    vol: Vec<f64>,
    /// Number of the distinct mom_th values the bar's momentum passes (0 when none or NaN).
    m: Vec<u8>,
    /// Number of the distinct trend_th values the bar's trend passes.
    t: Vec<u8>,
    /// Number of the distinct vol_max values the bar's volatility fails (`v >= vol_max`).
    v: Vec<u8>,
}

/// Batch-wide entry index: one per direction.
#[derive(Debug, Default)]
pub struct MvtIndex {
    long: DirectionIndex,
    short: DirectionIndex,
}

/// Most distinct values of one threshold a batch can index (levels are bytes); a batch with more
/// falls back to evaluating the rule bar by bar.
const MAX_LEVELS: usize = 254;

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
    /// Position of `strategy`'s thresholds among the distinct values.
    fn levels(&self, s: &Mvt) -> (u8, u8, u8) {
        (
            self.mom.partition_point(|&x| x < s.mom_th) as u8,
            self.trend.partition_point(|&x| x < s.trend_th) as u8,
            self.vol.partition_point(|&x| x < s.vol_max) as u8,
        )
    }

    fn usable(&self) -> bool {
        !self.m.is_empty()
    }

    fn build(cols: &Columns, strategies: &[&Mvt], side: Side) -> DirectionIndex {
        let mut index = DirectionIndex {
            mom: sorted_distinct(strategies.iter().map(|s| s.mom_th)),
            trend: sorted_distinct(strategies.iter().map(|s| s.trend_th)),
            vol: sorted_distinct(strategies.iter().map(|s| s.vol_max)),
            ..DirectionIndex::default()
        };
        if strategies.is_empty()
            || [&index.mom, &index.trend, &index.vol]
                .iter()
                .any(|v| v.len() > MAX_LEVELS)
        {
            return index;
        }
        let n = cols.len();
        let (mut m, mut t, mut v) = (vec![0u8; n], vec![0u8; n], vec![0u8; n]);
        let sign = match side {
            Side::Long => 1.0,
            Side::Short => -1.0,
        };
        for i in 0..n {
            // Short: `momentum < -th` is `th < -momentum`, exact because negation is exact.
            m[i] = passed(&index.mom, sign * cols.momentum[i]) as u8;
            if m[i] == 0 {
                continue;
            }
            t[i] = passed(&index.trend, sign * cols.trend[i]) as u8;
            if t[i] == 0 {
                continue;
            }
            let x = cols.volatility[i];
            // `x < vol_max` fails for the first `v[i]` sorted values (all of them for NaN, where
            // the comparison is false: hence the negation, not `>=`).
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let failed = index.vol.partition_point(|&max| !(x < max));
            v[i] = failed as u8;
        }
        (index.m, index.t, index.v) = (m, t, v);
        index
    }
}

/// The first bar `>= from` whose levels satisfy the thresholds `km, kt, kv`: momentum passes
/// (`m > km`), trend passes (`t > kt`), volatility passes (`v <= kv`).
///
/// This scan is the engine's inner loop for strict strategies (it may cross the whole series), so
/// it compares 16 bars per step with explicit vector instructions: simd128 in the wasm guest,
/// SSE2 natively. LLVM does not vectorise the scalar form of this loop by itself.
#[inline]
fn next_signal(idx: &DirectionIndex, from: usize, km: u8, kt: u8, kv: u8) -> Option<usize> {
    let (m, t, v) = (&idx.m[..], &idx.t[..], &idx.v[..]);
    let n = m.len().min(t.len()).min(v.len());
    let mut i = from;
    while i + 16 <= n {
        let mask = simd::block_mask(&m[i..i + 16], &t[i..i + 16], &v[i..i + 16], km, kt, kv);
        if mask != 0 {
            return Some(i + mask.trailing_zeros() as usize);
        }
        i += 16;
    }
    (i..n).find(|&j| m[j] > km && t[j] > kt && v[j] <= kv)
}

/// `block_mask`: bit j set iff bar j of a 16-bar block satisfies the levels.
mod simd {
    #[cfg(target_arch = "wasm32")]
    #[cfg(target_feature = "simd128")]
    #[inline(always)]
    pub fn block_mask(m: &[u8], t: &[u8], v: &[u8], km: u8, kt: u8, kv: u8) -> u32 {
        use core::arch::wasm32::*;
        assert!(m.len() >= 16 && t.len() >= 16 && v.len() >= 16);
        // SAFETY: each slice holds at least 16 bytes (checked above); v128_load is unaligned.
        let (mv, tv, vv) = unsafe {
            (
                v128_load(m.as_ptr() as *const v128),
                v128_load(t.as_ptr() as *const v128),
                v128_load(v.as_ptr() as *const v128),
            )
        };
        let hit = v128_and(
            v128_and(u8x16_gt(mv, u8x16_splat(km)), u8x16_gt(tv, u8x16_splat(kt))),
            u8x16_le(vv, u8x16_splat(kv)),
        );
        u8x16_bitmask(hit) as u32
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub fn block_mask(m: &[u8], t: &[u8], v: &[u8], km: u8, kt: u8, kv: u8) -> u32 {
        use core::arch::x86_64::*;
        assert!(m.len() >= 16 && t.len() >= 16 && v.len() >= 16);
        // SAFETY: SSE2 is part of the x86_64 baseline; each slice holds at least 16 bytes
        // (checked above) and the loads are unaligned loads.
        unsafe {
            let mv = _mm_loadu_si128(m.as_ptr() as *const __m128i);
            let tv = _mm_loadu_si128(t.as_ptr() as *const __m128i);
            let vv = _mm_loadu_si128(v.as_ptr() as *const __m128i);
            // Unsigned byte compares from SSE2's unsigned min/max: x > k  <=>  max(x, k+1) == x
            // (k < 255 always: levels are capped below 255), x <= k  <=>  min(x, k) == x.
            let m_ok = _mm_cmpeq_epi8(_mm_max_epu8(mv, _mm_set1_epi8((km + 1) as i8)), mv);
            let t_ok = _mm_cmpeq_epi8(_mm_max_epu8(tv, _mm_set1_epi8((kt + 1) as i8)), tv);
            let v_ok = _mm_cmpeq_epi8(_mm_min_epu8(vv, _mm_set1_epi8(kv as i8)), vv);
            _mm_movemask_epi8(_mm_and_si128(_mm_and_si128(m_ok, t_ok), v_ok)) as u32
        }
    }

    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    #[inline(always)]
    pub fn block_mask(m: &[u8], t: &[u8], v: &[u8], km: u8, kt: u8, kv: u8) -> u32 {
        let mut mask = 0u32;
        for j in 0..16 {
            mask |= ((m[j] > km && t[j] > kt && v[j] <= kv) as u32) << j;
        }
        mask
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
        cols: &'a Columns,
    ) -> impl FnMut(usize) -> Option<(usize, Side, Exits)> + 'a {
        let dir = match self.side {
            Side::Long => &index.long,
            Side::Short => &index.short,
        };
        let (km, kt, kv) = dir.levels(self);
        let (side, exits) = (self.side, self.exits);
        move |from| {
            let bar = if dir.usable() {
                next_signal(dir, from, km, kt, kv)
            } else {
                (from..cols.len()).find(|&i| self.signal(cols, i))
            };
            bar.map(|bar| (bar, side, exits))
        }
    }
}
