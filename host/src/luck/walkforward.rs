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

impl Fold {
    /// `YYYY-MM` of the first and last train month and the first and last test month.
    pub fn months(&self) -> [String; 4] {
        [
            self.train_start,
            self.test_start - 1,
            self.test_start,
            self.test_end - 1,
        ]
        .map(month_text)
    }

    /// The pick's id, or `none`.
    pub fn pick_text(&self) -> String {
        self.pick.map_or("none".to_string(), |id| id.to_string())
    }
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

/// The first whole month of data whose first day is `first`: its month if that is the 1st,
/// else the next.
fn first_month(first: i32) -> i32 {
    if date(first).day() == 1 {
        month(first)
    } else {
        month(first) + 1
    }
}

/// Whether `windows` give at least one fold over data from day `first` to day `last`: checked
/// before a run so that windows longer than the data are refused before any batch runs.
pub fn check(windows: Windows, first: i32, last: i32) -> Result<(), TooLong> {
    let months = month(last) - first_month(first) + 1;
    if months < (windows.train + windows.test) as i32 {
        return Err(TooLong {
            windows,
            months: months.max(0),
        });
    }
    Ok(())
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
    check(windows, first, last)?;
    let m0 = first_month(first);
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
                    // From +0.0: an empty f64 sum is -0.0, which the CSV would show.
                    .fold(0.0, |a, (_, p, _)| a + p)
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

impl WalkForward {
    /// The folds in words.
    pub fn render_text(&self) -> String {
        let (train, test) = (self.windows.train, self.windows.test);
        let mut s = format!(
            "\nWalk-forward {train}:{test} (pick the best of the past {train} months, trade it blind for the next {test}):\n"
        );
        for f in &self.folds {
            let m = f.months();
            s += &format!(
                "  train {}..{}  test {}..{}  pick {:>6}  in-sample {:>10.2} USD  out-of-sample {:>10.2} USD\n",
                m[0],
                m[1],
                m[2],
                m[3],
                f.pick_text(),
                f.in_sample_usd,
                f.out_of_sample_usd
            );
        }
        s += &format!(
            "  stitched out-of-sample P&L {:.2} USD; walk-forward efficiency {}\n",
            self.stitched_oos_usd,
            self.efficiency
                .map_or("undefined".to_string(), |e| format!("{e:.2}"))
        );
        s
    }
}

/// Every strategy's series at `lots` in a daily file, ids ascending.
pub fn series_from_daily(
    daily: &crate::results::daily::Daily,
    lots: f64,
) -> Result<Vec<Series>, super::LuckError> {
    let mut out: Vec<Series> = Vec::new();
    daily.for_each_chunk(|c| {
        for i in 0..c.len() {
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
        Ok::<bool, super::LuckError>(true)
    })?;
    Ok(out)
}

/// The walk-forward CSV: one line per fold, with the pick's parameters (`describe(id)`) and the
/// minimum trades a pick needed, so that the file alone says how it was made (the report reads
/// the windows back with [`settings_of_csv`]).
pub fn to_csv(wf: &WalkForward, min_trades: u32, describe: &dyn Fn(u64) -> String) -> String {
    let mut s = String::from(CSV_HEADER);
    s.push('\n');
    for (k, f) in wf.folds.iter().enumerate() {
        let m = f.months();
        s += &format!(
            "{k},{},{},{},{},{},{},{min_trades},{},\"{}\",{:?},{:?}\n",
            m[0],
            m[1],
            m[2],
            m[3],
            f.train_days,
            f.test_days,
            f.pick.map(|id| id.to_string()).unwrap_or_default(),
            f.pick.map(describe).unwrap_or_default().replace('"', "\"\""),
            f.in_sample_usd,
            f.out_of_sample_usd
        );
    }
    s
}

const CSV_HEADER: &str = "fold,train_start,train_end,test_start,test_end,train_days,test_days,min_trades,strategy_id,params,in_sample_pnl_usd,out_of_sample_pnl_usd";

/// `YYYY-MM` as a month index.
fn parse_month(text: &str) -> Option<i32> {
    let (y, m) = text.split_once('-')?;
    let (y, m) = (y.parse::<i32>().ok()?, m.parse::<i32>().ok()?);
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

/// The windows and minimum trades a walk-forward CSV written by [`to_csv`] was made with, from
/// its first fold; `None` for any other text.
pub fn settings_of_csv(text: &str) -> Option<(Windows, u32)> {
    let mut lines = text.lines();
    if lines.next()? != CSV_HEADER {
        return None;
    }
    let f: Vec<&str> = lines.next()?.splitn(9, ',').collect();
    let m = |i: usize| parse_month(f.get(i)?);
    let (a, b, c, d) = (m(1)?, m(2)?, m(3)?, m(4)?);
    let windows = Windows {
        train: u32::try_from(b - a + 1).ok()?,
        test: u32::try_from(d - c + 1).ok()?,
    };
    let min_trades = f.get(7)?.parse().ok()?;
    (windows.train > 0 && windows.test > 0 && c == b + 1).then_some((windows, min_trades))
}

/// The stitched out-of-sample equity next to the in-sample one, day by day over the test
/// windows: `oos` adds each fold's pick's P&L in its test window; `hindsight` adds, on the same
/// days, the P&L of the strategy that is best over the whole data (picked knowing the future,
/// which is what a plain backtest's top does). Both start at 0.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stitched {
    /// Day numbers (days since 1970-01-01) of the test windows' calendar days.
    pub days: Vec<i32>,
    pub oos: Vec<f64>,
    pub hindsight: Vec<f64>,
    pub hindsight_id: Option<u64>,
}

/// [`Stitched`] of `wf` over `calendar`, with `series` as given to [`walk_forward`].
pub fn stitched(
    wf: &WalkForward,
    calendar: &[i32],
    series: &[Series],
    hindsight_id: Option<u64>,
) -> Stitched {
    let find = |id: u64| series.iter().find(|s| s.strategy_id == id);
    let pnl_on = |s: Option<&Series>, day: i32| {
        s.and_then(|s| {
            s.days
                .binary_search_by_key(&day, |d| d.0)
                .ok()
                .map(|i| s.days[i].1)
        })
        .unwrap_or(0.0)
    };
    let best = hindsight_id.and_then(find);
    let mut out = Stitched {
        days: Vec::new(),
        oos: Vec::new(),
        hindsight: Vec::new(),
        hindsight_id,
    };
    let (mut oos, mut hind) = (0.0, 0.0);
    for f in &wf.folds {
        let pick = f.pick.and_then(find);
        for &d in calendar
            .iter()
            .filter(|&&d| (f.test_start..f.test_end).contains(&month(d)))
        {
            oos += pnl_on(pick, d);
            hind += pnl_on(best, d);
            out.days.push(d);
            out.oos.push(oos);
            out.hindsight.push(hind);
        }
    }
    out
}

/// `results.parquet` -> `results.walkforward.csv`.
pub fn csv_path(output: &std::path::Path) -> std::path::PathBuf {
    output.with_extension("walkforward.csv")
}
