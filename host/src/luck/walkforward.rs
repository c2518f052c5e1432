//! Walk-forward (SPEC section 7, `discover --walk-forward TRAIN:TEST`): pick the best strategy
//! on TRAIN months, trade it blind on the TEST months after, roll forward by TEST, and stitch
//! the blind months together. What survives this is what a trader re-optimising every TEST
//! months would actually have earned.

use chrono::Datelike;

use crate::results::daily::date;

/// `TRAIN:TEST` in whole calendar months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub train: u32,
    pub test: u32,
}

impl std::str::FromStr for Windows {
    type Err = String;

    fn from_str(s: &str) -> Result<Windows, String> {
        let bad = || format!("--walk-forward {s:?}: expected TRAIN:TEST in whole months, e.g. 6:1");
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        let (train, test) = (
            a.trim().parse::<u32>().map_err(|_| bad())?,
            b.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if train == 0 || test == 0 {
            return Err(bad());
        }
        Ok(Windows { train, test })
    }
}

/// One strategy's closed trades by day: (day number, P&L, trades), days ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub strategy_id: u64,
    pub days: Vec<(i32, f64, u32)>,
}

/// One fold.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    /// Months as `year * 12 + month0`: train `[train_start, test_start)`, test
    /// `[test_start, test_end)`.
    pub train_start: i32,
    pub test_start: i32,
    pub test_end: i32,
    pub pick: Option<u64>,
    pub in_sample_usd: f64,
    pub out_of_sample_usd: f64,
    /// Calendar days (days with bars) in each window.
    pub train_days: usize,
    pub test_days: usize,
}

/// All folds, the stitched out-of-sample P&L and the walk-forward efficiency.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkForward {
    pub windows: Windows,
    pub folds: Vec<Fold>,
    pub stitched_oos_usd: f64,
    /// `sum(OOS) / sum(IS * test_days / train_days)`; `None` when the denominator is 0.
    pub efficiency: Option<f64>,
}

/// The month index (`year * 12 + month0`) of day number `day`.
pub fn month(day: i32) -> i32 {
    let d = date(day);
    d.year() * 12 + d.month0() as i32
}

/// `YYYY-MM` of a month index.
pub fn month_text(m: i32) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// Why the windows do not fit the data.
#[derive(Debug, Clone, PartialEq)]
pub struct TooLong {
    pub windows: Windows,
    /// Whole months available from the first full month to the last bar's month.
    pub months: i32,
}

/// The folds of `windows` over a calendar (`calendar` day numbers, ascending) for `series`
/// (all strategies at the ranked lot size), picking in each train window the highest P&L among
/// strategies with at least `min_trades` trades closed in it (lowest id on ties).
pub fn walk_forward(
    calendar: &[i32],
    series: &[Series],
    windows: Windows,
    min_trades: u32,
) -> Result<WalkForward, TooLong> {
    let (first, last) = (calendar[0], calendar[calendar.len() - 1]);
    let m0 = if date(first).day() == 1 {
        month(first)
    } else {
        month(first) + 1
    };
    let last_month = month(last);
    let (train, test) = (windows.train as i32, windows.test as i32);
    let mut folds = Vec::new();
    let mut k = 0;
    while m0 + k * test + train + test - 1 <= last_month {
        let train_start = m0 + k * test;
        let test_start = train_start + train;
        let test_end = test_start + test;
        let in_months = |d: i32, a: i32, b: i32| (a..b).contains(&month(d));
        let days_in = |a: i32, b: i32| calendar.iter().filter(|&&d| in_months(d, a, b)).count();
        let mut pick: Option<(u64, f64)> = None;
        for s in series {
            let (mut pnl, mut n) = (0.0, 0u32);
            for &(d, p, c) in &s.days {
                if in_months(d, train_start, test_start) {
                    pnl += p;
                    n += c;
                }
            }
            if n >= min_trades
                && pick.is_none_or(|(id, best)| pnl > best || (pnl == best && s.strategy_id < id))
            {
                pick = Some((s.strategy_id, pnl));
            }
        }
        let oos = pick.map_or(0.0, |(id, _)| {
            series.iter().find(|s| s.strategy_id == id).map_or(0.0, |s| {
                s.days
                    .iter()
                    .filter(|(d, _, _)| in_months(*d, test_start, test_end))
                    .map(|(_, p, _)| p)
                    .sum()
            })
        });
        folds.push(Fold {
            train_start,
            test_start,
            test_end,
            pick: pick.map(|(id, _)| id),
            in_sample_usd: pick.map_or(0.0, |(_, p)| p),
            out_of_sample_usd: oos,
            train_days: days_in(train_start, test_start),
            test_days: days_in(test_start, test_end),
        });
        k += 1;
    }
    if folds.is_empty() {
        return Err(TooLong {
            windows,
            months: (last_month - m0 + 1).max(0),
        });
    }
    let stitched: f64 = folds.iter().map(|f| f.out_of_sample_usd).sum();
    let scaled: f64 = folds
        .iter()
        .filter(|f| f.train_days > 0)
        .map(|f| f.in_sample_usd * f.test_days as f64 / f.train_days as f64)
        .sum();
    Ok(WalkForward {
        windows,
        folds,
        stitched_oos_usd: stitched,
        efficiency: (scaled != 0.0).then(|| stitched / scaled),
    })
}

/// Every strategy's series at `lots` in a daily file, ids ascending.
pub fn series_from_daily(
    daily: &crate::results::daily::Daily,
    lots: f64,
) -> Result<Vec<Series>, super::LuckError> {
    let c = daily.columns()?;
    let mut out: Vec<Series> = Vec::new();
    for i in 0..c.strategy_id.len() {
        if c.lots[i].to_bits() != lots.to_bits() {
            continue;
        }
        let id = u64::from(c.strategy_id[i]);
        if out.last().is_none_or(|s| s.strategy_id != id) {
            out.push(Series {
                strategy_id: id,
                days: Vec::new(),
            });
        }
        let s = out.last_mut().expect("pushed");
        s.days.push((c.day[i], c.pnl_usd[i], c.n_trades[i]));
    }
    Ok(out)
}

/// The walk-forward CSV: one line per fold, with the pick's parameters (`describe(id)`).
pub fn to_csv(wf: &WalkForward, describe: &dyn Fn(u64) -> String) -> String {
    let mut s = String::from(
        "fold,train_start,train_end,test_start,test_end,train_days,test_days,strategy_id,params,in_sample_pnl_usd,out_of_sample_pnl_usd\n",
    );
    for (k, f) in wf.folds.iter().enumerate() {
        s += &format!(
            "{k},{},{},{},{},{},{},{},\"{}\",{:?},{:?}\n",
            month_text(f.train_start),
            month_text(f.test_start - 1),
            month_text(f.test_start),
            month_text(f.test_end - 1),
            f.train_days,
            f.test_days,
            f.pick.map(|id| id.to_string()).unwrap_or_default(),
            f.pick.map(describe).unwrap_or_default(),
            f.in_sample_usd,
            f.out_of_sample_usd
        );
    }
    s
}

/// `results.parquet` -> `results.walkforward.csv`.
pub fn csv_path(output: &std::path::Path) -> std::path::PathBuf {
    output.with_extension("walkforward.csv")
}
