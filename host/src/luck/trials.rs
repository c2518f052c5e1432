//! The trials of SPEC section 7: the ranked strategies' daily P&L over the calendar.
//!
//! Kept sparse (the days on which trades closed, per trial), because a strategy trades on a
//! fraction of the days and a 10x grid's dense T x N matrix is what must not be needed at once:
//! each statistic asks for what it needs (block sums, a dense chunk of a few hundred trials).

use super::LuckError;
use crate::results::daily::{Calendar, Daily};
use crate::results::ratios::sharpe_per_day;

/// The trials' daily P&L, in strategy_id order.
#[derive(Debug, Clone)]
pub struct Trials {
    /// Strategy ids, ascending.
    pub ids: Vec<u64>,
    /// The lot size of the ranked rows.
    pub lots: f64,
    pub calendar: Calendar,
    /// Trial `k`'s entries are `offsets[k]..offsets[k + 1]` of `day` and `pnl`.
    offsets: Vec<usize>,
    /// Calendar positions, ascending within a trial.
    day: Vec<u32>,
    pnl: Vec<f64>,
}

impl Trials {
    /// The trials `ids` (ascending) at `lots`, read from `daily`. Errors name a day outside the
    /// calendar or rows out of order.
    pub fn from_daily(ids: Vec<u64>, lots: f64, daily: &Daily) -> Result<Trials, LuckError> {
        let bad = |message: String| LuckError::Bad {
            path: daily.path.clone(),
            message,
        };
        let mut offsets = vec![0usize; ids.len() + 1];
        let mut day = Vec::new();
        let mut pnl = Vec::new();
        let mut k = 0usize;
        // A row group at a time: the file's other lot sizes and untraded strategies are never
        // held, only the trials' own entries.
        daily.for_each_chunk(|c| {
            for i in 0..c.len() {
                if c.lots[i].to_bits() != lots.to_bits() {
                    continue;
                }
                let id = u64::from(c.strategy_id[i]);
                while k < ids.len() && ids[k] < id {
                    k += 1;
                    offsets[k] = day.len();
                }
                if k == ids.len() {
                    return Ok(false);
                }
                if ids[k] != id {
                    continue;
                }
                let t = daily.calendar.index(c.day[i]).ok_or_else(|| {
                    bad(format!(
                        "strategy {id} has P&L on {}, which is not a day of the calendar",
                        crate::results::daily::iso_date(c.day[i])
                    ))
                })?;
                if day.len() > offsets[k] && *day.last().expect("an entry") >= t as u32 {
                    return Err(bad(format!("the rows of strategy {id} are not sorted by day")));
                }
                day.push(t as u32);
                pnl.push(c.pnl_usd[i]);
            }
            Ok(true)
        })?;
        while k < ids.len() {
            k += 1;
            offsets[k] = day.len();
        }
        Ok(Trials {
            ids,
            lots,
            calendar: daily.calendar.clone(),
            offsets,
            day,
            pnl,
        })
    }

    /// Trials from dense rows (`series[k]` is trial `k`'s P&L on each of the calendar's days).
    pub fn from_dense(ids: Vec<u64>, lots: f64, calendar: Calendar, series: &[Vec<f64>]) -> Trials {
        let mut offsets = vec![0];
        let (mut day, mut pnl) = (Vec::new(), Vec::new());
        for s in series {
            assert_eq!(s.len(), calendar.len(), "one value per calendar day");
            for (t, &p) in s.iter().enumerate() {
                if p != 0.0 {
                    day.push(t as u32);
                    pnl.push(p);
                }
            }
            offsets.push(day.len());
        }
        Trials {
            ids,
            lots,
            calendar,
            offsets,
            day,
            pnl,
        }
    }

    /// N.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// T.
    pub fn days(&self) -> usize {
        self.calendar.len()
    }

    /// Trial `k`'s non-zero days: (calendar position, P&L).
    pub fn entries(&self, k: usize) -> impl Iterator<Item = (usize, f64)> + Clone + '_ {
        let r = self.offsets[k]..self.offsets[k + 1];
        self.day[r.clone()]
            .iter()
            .map(|&d| d as usize)
            .zip(self.pnl[r].iter().copied())
    }

    /// Trials `range` as a dense day-major block: `out[t * range.len() + j]` is trial
    /// `range.start + j` on day `t`.
    pub fn dense(&self, range: std::ops::Range<usize>, out: &mut Vec<f64>) {
        let w = range.len();
        out.clear();
        out.resize(self.days() * w, 0.0);
        for (j, k) in range.enumerate() {
            for (t, p) in self.entries(k) {
                out[t * w + j] = p;
            }
        }
    }

    /// Per-day Sharpe ratio over all T days (0 without one: no trades or sd 0).
    pub fn sharpe(&self, k: usize) -> f64 {
        sharpe_per_day(self.entries(k).map(|(_, p)| p), self.days()).unwrap_or(0.0)
    }

    /// Population skewness and (non-excess) kurtosis of trial `k`'s T daily P&Ls.
    pub fn moments(&self, k: usize) -> (f64, f64) {
        let t = self.days() as f64;
        let listed = self.offsets[k + 1] - self.offsets[k];
        let zeros = (self.days() - listed) as f64;
        let mean = self.entries(k).map(|(_, p)| p).sum::<f64>() / t;
        let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
        for (_, p) in self.entries(k) {
            let d = p - mean;
            m2 += d * d;
            m3 += d * d * d;
            m4 += d * d * d * d;
        }
        m2 = (m2 + zeros * mean * mean) / t;
        m3 = (m3 - zeros * mean * mean * mean) / t;
        m4 = (m4 + zeros * mean * mean * mean * mean) / t;
        (m3 / m2.powf(1.5), m4 / (m2 * m2))
    }
}
