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

use crate::protocol::ColumnsRef;
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
    pub fn signal(&self, cols: &ColumnsRef, i: usize) -> bool {
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
    /// Per block of [`BLOCK`] bars: the largest `m`, the largest `t` and the smallest `v` in it.
    /// A block none of whose bars can pass shows it here (a necessary condition), so a scan
    /// skips 16 blocks, 256 bars, per vector compare where entries are rare.
    block_m: Vec<u8>,
    block_t: Vec<u8>,
    block_v: Vec<u8>,
}

/// Bars per block of the entry scan, and blocks per step of the block summary scan.
const BLOCK: usize = 16;

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

/// Bars per step of the level computation: a fixed width that LLVM turns into vector compares
/// (f64x2 in the guest), with every threshold compared and no branch per bar.
const LANES: usize = 8;

/// `out[i]` = `level(k)`, where `k` is how many `thresholds` satisfy `pass(threshold, x[i])`.
fn levels(
    thresholds: &[f64],
    x: &[f64],
    pass: impl Fn(f64, f64) -> bool,
    level: impl Fn(u64) -> u8,
    out: &mut [u8],
) {
    let (x_blocks, x_rest) = x.as_chunks::<LANES>();
    let (out_blocks, out_rest) = out.as_chunks_mut::<LANES>();
    for (xs, out) in x_blocks.iter().zip(out_blocks) {
        let mut count = [0u64; LANES];
        for &th in thresholds {
            for j in 0..LANES {
                count[j] += pass(th, xs[j]) as u64;
            }
        }
        for j in 0..LANES {
            out[j] = level(count[j]);
        }
    }
    for (&x, out) in x_rest.iter().zip(out_rest) {
        *out = level(thresholds.iter().filter(|&&th| pass(th, x)).count() as u64);
    }
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

    fn build(cols: &ColumnsRef, strategies: &[&Mvt], side: Side) -> DirectionIndex {
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
        // How many thresholds the bar passes (0 for NaN). Short: `momentum < -th` is
        // `th < -momentum`, exact because negation is exact.
        let passed = |th: f64, x: f64| th < sign * x;
        levels(&index.mom, cols.momentum, passed, |k| k as u8, &mut m);
        levels(&index.trend, cols.trend, passed, |k| k as u8, &mut t);
        // How many vol_max values the bar fails: `len - #(x < vol_max)` (all of them for NaN,
        // where every comparison is false).
        let all = index.vol.len() as u64;
        levels(
            &index.vol,
            cols.volatility,
            |max, x| x < max,
            |k| (all - k) as u8,
            &mut v,
        );
        let blocks = n / BLOCK;
        let (mb, tb, vb) = (
            m.as_chunks::<BLOCK>().0,
            t.as_chunks::<BLOCK>().0,
            v.as_chunks::<BLOCK>().0,
        );
        index.block_m = mb.iter().map(|b| b.iter().copied().max().unwrap_or(0)).collect();
        index.block_t = tb.iter().map(|b| b.iter().copied().max().unwrap_or(0)).collect();
        index.block_v = vb.iter().map(|b| b.iter().copied().min().unwrap_or(0)).collect();
        debug_assert_eq!(index.block_m.len(), blocks);
        (index.m, index.t, index.v) = (m, t, v);
        index
    }
}

/// The first bar `>= from` whose levels satisfy the thresholds `km, kt, kv`: momentum passes
/// (`m > km`), trend passes (`t > kt`), volatility passes (`v <= kv`).
///
/// This scan is the engine's inner loop for strict strategies (it may cross the whole series), so
/// it compares 16 values per step with explicit vector instructions (simd128 in the wasm guest,
/// SSE2 natively; LLVM does not vectorise the scalar form by itself), and it runs on two levels:
/// the block summaries first, 256 bars per step, then the bars of a block that may hold an entry.
#[inline]
fn next_signal(idx: &DirectionIndex, from: usize, km: u8, kt: u8, kv: u8) -> Option<usize> {
    let (m, t, v) = (&idx.m[..], &idx.t[..], &idx.v[..]);
    let n = m.len().min(t.len()).min(v.len());
    let in_block = |c: usize| -> Option<usize> {
        let r = c * BLOCK..c * BLOCK + BLOCK;
        let mask = simd::block_mask(&m[r.clone()], &t[r.clone()], &v[r], km, kt, kv);
        (mask != 0).then(|| c * BLOCK + mask.trailing_zeros() as usize)
    };
    // The 16 bars from `from` (not aligned to a block), then whole blocks from the first one
    // starting at or after `from` (it may overlap those 16 bars: checking a bar twice is harmless).
    if from + BLOCK > n {
        return (from..n).find(|&j| m[j] > km && t[j] > kt && v[j] <= kv);
    }
    let r = from..from + BLOCK;
    let mask = simd::block_mask(&m[r.clone()], &t[r.clone()], &v[r], km, kt, kv);
    if mask != 0 {
        return Some(from + mask.trailing_zeros() as usize);
    }
    let (bm, bt, bv) = (&idx.block_m[..], &idx.block_t[..], &idx.block_v[..]);
    let blocks = bm.len().min(bt.len()).min(bv.len()).min(n / BLOCK);
    let mut b = from.div_ceil(BLOCK);
    while b + BLOCK <= blocks {
        let r = b..b + BLOCK;
        let mut candidates = simd::block_mask(&bm[r.clone()], &bt[r.clone()], &bv[r], km, kt, kv);
        while candidates != 0 {
            if let Some(bar) = in_block(b + candidates.trailing_zeros() as usize) {
                return Some(bar);
            }
            candidates &= candidates - 1;
        }
        b += BLOCK;
    }
    while b < blocks {
        if bm[b] > km
            && bt[b] > kt
            && bv[b] <= kv
            && let Some(bar) = in_block(b)
        {
            return Some(bar);
        }
        b += 1;
    }
    (from.max(blocks * BLOCK)..n).find(|&j| m[j] > km && t[j] > kt && v[j] <= kv)
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

    fn build_index(cols: &ColumnsRef, strategies: &[Self]) -> MvtIndex {
        assert!(cols.len() <= u32::MAX as usize, "more than 2^32 bars");
        let of_side = |side| -> Vec<&Mvt> { strategies.iter().filter(|s| s.side == side).collect() };
        MvtIndex {
            long: DirectionIndex::build(cols, &of_side(Side::Long), Side::Long),
            short: DirectionIndex::build(cols, &of_side(Side::Short), Side::Short),
        }
    }

    /// The features are the host's, over the whole series: the entry on bar `i` reads bar `i`.
    fn lookback(&self) -> Option<usize> {
        Some(0)
    }

    fn entries<'a>(
        &'a self,
        index: &'a MvtIndex,
        cols: &'a ColumnsRef<'a>,
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
