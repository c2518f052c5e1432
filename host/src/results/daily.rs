//! The daily P&L file beside a results file (SPEC section 7): `results.parquet` ->
//! `results.daily.parquet`, one row per (strategy, lots, day) with at least one closed trade,
//! sorted by (strategy_id, lots, day), and the calendar in its key-value metadata.
//!
//! Why a file of its own: the luck statistics (`stratbox luck`) need every trial's daily
//! series, which is ~100x the results table; kept apart, the results file stays small and the
//! daily file is read only by what needs it. It carries the results' provenance metadata too,
//! so a daily file from another run is refused rather than silently mixed in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use stratbox_engine::ResultRow;
use stratbox_engine::metrics::utc_day;

use super::{ResultsError, keys, read_parquet, write_parquet};

/// `results.parquet` -> `results.daily.parquet`.
pub fn daily_path(output: &Path) -> PathBuf {
    output.with_extension("daily.parquet")
}

/// The results files among `paths` (the parts of a merge, as a shell glob such as
/// `results/shard-*.parquet` gives them): the daily file of a listed part is dropped, since it
/// is merged with its part; a daily file without its results file is refused, naming both.
pub fn results_parts(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let dailies: Vec<PathBuf> = paths.iter().map(|p| daily_path(p)).collect();
    let mut parts = Vec::with_capacity(paths.len());
    for p in paths {
        let is_daily = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".daily.parquet"));
        if !is_daily {
            parts.push(p.clone());
        } else if !dailies.contains(p) {
            let name = p.to_string_lossy();
            let results = format!("{}.parquet", &name[..name.len() - ".daily.parquet".len()]);
            return Err(format!(
                "{} is the daily P&L file of {results}, which is not among the parts: give the results files (their daily files are merged with them)",
                p.display()
            ));
        }
    }
    Ok(parts)
}

/// The UTC dates on which the data has at least one bar, ascending, as days since 1970-01-01.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub days: Vec<i32>,
}

impl Calendar {
    /// The calendar of bars opening at `times` (Unix seconds, ascending).
    pub fn of_bars(times: &[i64]) -> Calendar {
        let mut days: Vec<i32> = Vec::new();
        for &t in times {
            let d = utc_day(t);
            if days.last() != Some(&d) {
                days.push(d);
            }
        }
        Calendar { days }
    }

    pub fn len(&self) -> usize {
        self.days.len()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// Position of `day` in the calendar.
    pub fn index(&self, day: i32) -> Option<usize> {
        self.days.binary_search(&day).ok()
    }

    /// The JSON list of ISO dates stored as `stratbox.calendar`.
    pub fn to_json(&self) -> String {
        let dates: Vec<String> = self.days.iter().map(|&d| iso_date(d)).collect();
        serde_json::to_string(&dates).expect("strings serialise")
    }

    /// Reads `stratbox.calendar`; `None` if it is not a JSON list of ascending ISO dates.
    pub fn from_json(text: &str) -> Option<Calendar> {
        let dates: Vec<String> = serde_json::from_str(text).ok()?;
        let days = dates
            .iter()
            .map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(day_number))
            .collect::<Option<Vec<i32>>>()?;
        days.windows(2).all(|w| w[0] < w[1]).then_some(Calendar { days })
    }
}

/// The date of day number `day` (days since 1970-01-01).
pub fn date(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + EPOCH_CE).expect("a day of a bar's timestamp")
}

/// `YYYY-MM-DD` of day number `day`.
pub fn iso_date(day: i32) -> String {
    date(day).format("%Y-%m-%d").to_string()
}

/// Day number (since 1970-01-01) of `date`.
pub fn day_number(date: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&date) - EPOCH_CE
}

/// `num_days_from_ce` of 1970-01-01.
const EPOCH_CE: i32 = 719_163;

/// The daily table of `rows` (already sorted by (strategy_id, lots); each row's days ascend).
pub fn daily_frame(rows: &[ResultRow]) -> Result<DataFrame, PolarsError> {
    let n: usize = rows.iter().map(|r| r.daily.len()).sum();
    let mut ids = Vec::with_capacity(n);
    let mut lots = Vec::with_capacity(n);
    let mut days = Vec::with_capacity(n);
    let mut pnl = Vec::with_capacity(n);
    let mut trades = Vec::with_capacity(n);
    for r in rows {
        for d in &r.daily {
            ids.push(r.strategy_id as u32);
            lots.push(r.lots);
            days.push(d.day);
            pnl.push(d.pnl_usd);
            trades.push(d.n_trades);
        }
    }
    let day = Int32Chunked::from_vec("day".into(), days)
        .into_date()
        .into_column();
    DataFrame::new(
        n,
        vec![
            Column::new("strategy_id".into(), ids),
            Column::new("lots".into(), lots),
            day,
            Column::new("pnl_usd".into(), pnl),
            Column::new("n_trades".into(), trades),
        ],
    )
}

/// Writes the daily file of the results file `output`: `rows`' daily P&L, `calendar` and the
/// results' `metadata` in its key-value metadata.
pub fn write_daily(
    output: &Path,
    rows: &[ResultRow],
    calendar: &Calendar,
    metadata: &BTreeMap<String, String>,
) -> Result<(), ResultsError> {
    let path = daily_path(output);
    let mut df = daily_frame(rows).map_err(|e| ResultsError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    write_frame(&path, &mut df, calendar, metadata)
}

/// Writes the daily file of `output` when the run booked daily P&L (`rows`), else removes a
/// stale one, so a daily file never outlives the results it belonged to.
pub fn write_or_remove(
    output: &Path,
    rows: Option<&[ResultRow]>,
    calendar: &Calendar,
    metadata: &BTreeMap<String, String>,
) -> Result<(), ResultsError> {
    match rows {
        Some(rows) => write_daily(output, rows, calendar, metadata),
        None => {
            let _ = std::fs::remove_file(daily_path(output));
            Ok(())
        }
    }
}

/// Writes a daily table with its calendar and the run's metadata.
pub(crate) fn write_frame(
    path: &Path,
    df: &mut DataFrame,
    calendar: &Calendar,
    metadata: &BTreeMap<String, String>,
) -> Result<(), ResultsError> {
    let mut meta = metadata.clone();
    meta.insert(keys::CALENDAR.into(), calendar.to_json());
    write_parquet(path, df, &meta)
}

/// A daily file read back: its table, calendar and metadata (calendar key removed).
#[derive(Debug, Clone)]
pub struct Daily {
    pub path: PathBuf,
    pub frame: DataFrame,
    pub calendar: Calendar,
    pub metadata: BTreeMap<String, String>,
}

/// Reads `path` as a daily file, refusing one without a valid calendar or with other columns.
pub fn read_daily(path: &Path) -> Result<Daily, ResultsError> {
    let err = |message: String| ResultsError::Read {
        path: path.to_owned(),
        message,
    };
    let (frame, mut metadata) = read_parquet(path)?;
    let calendar = metadata
        .remove(keys::CALENDAR)
        .as_deref()
        .and_then(Calendar::from_json)
        .ok_or_else(|| {
            err(format!(
                "no valid {} metadata: not a daily P&L file",
                keys::CALENDAR
            ))
        })?;
    let names: Vec<&str> = frame.get_column_names().iter().map(|s| s.as_str()).collect();
    if names != ["strategy_id", "lots", "day", "pnl_usd", "n_trades"] {
        return Err(err(format!(
            "columns {names:?}, expected strategy_id, lots, day, pnl_usd, n_trades"
        )));
    }
    Ok(Daily {
        path: path.to_owned(),
        frame,
        calendar,
        metadata,
    })
}

/// The columns of a daily table as plain vectors: strategy ids, lots, day numbers, P&L.
pub struct DailyColumns {
    pub strategy_id: Vec<u32>,
    pub lots: Vec<f64>,
    pub day: Vec<i32>,
    pub pnl_usd: Vec<f64>,
    pub n_trades: Vec<u32>,
}

impl Daily {
    /// The table's columns, nulls refused.
    pub fn columns(&self) -> Result<DailyColumns, ResultsError> {
        let err = |message: String| ResultsError::Read {
            path: self.path.clone(),
            message,
        };
        let df = &self.frame;
        let get = |name: &str| df.column(name).map_err(|e| err(e.to_string()));
        fn no_nulls<T>(name: &str, v: Vec<Option<T>>) -> Result<Vec<T>, String> {
            v.into_iter()
                .collect::<Option<Vec<T>>>()
                .ok_or_else(|| format!("column {name} has nulls"))
        }
        let u32s = |name: &str| -> Result<Vec<u32>, ResultsError> {
            let c = get(name)?;
            let v = c.u32().map_err(|e| err(e.to_string()))?.iter().collect();
            no_nulls(name, v).map_err(err)
        };
        let f64s = |name: &str| -> Result<Vec<f64>, ResultsError> {
            let c = get(name)?;
            let v = c.f64().map_err(|e| err(e.to_string()))?.iter().collect();
            no_nulls(name, v).map_err(err)
        };
        let day = get("day")?
            .cast(&DataType::Int32)
            .map_err(|e| err(e.to_string()))?;
        let day =
            no_nulls("day", day.i32().map_err(|e| err(e.to_string()))?.iter().collect()).map_err(err)?;
        Ok(DailyColumns {
            strategy_id: u32s("strategy_id")?,
            lots: f64s("lots")?,
            day,
            pnl_usd: f64s("pnl_usd")?,
            n_trades: u32s("n_trades")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_of_parts_keeps_the_results_files_and_drops_their_daily_files() {
        let p = |s: &str| PathBuf::from(s);
        let listed = [
            p("r/shard-0.daily.parquet"),
            p("r/shard-0.parquet"),
            p("r/shard-1.parquet"),
            p("r/shard-1.daily.parquet"),
        ];
        assert_eq!(
            results_parts(&listed).unwrap(),
            vec![p("r/shard-0.parquet"), p("r/shard-1.parquet")]
        );
        let e = results_parts(&[p("r/shard-0.parquet"), p("r/shard-1.daily.parquet")]).unwrap_err();
        assert!(
            e.contains("r/shard-1.daily.parquet is the daily P&L file of r/shard-1.parquet"),
            "{e}"
        );
    }

    #[test]
    fn day_numbers_and_dates_agree() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(17532), "2018-01-01");
        assert_eq!(day_number(NaiveDate::from_ymd_opt(2018, 1, 1).unwrap()), 17532);
        assert_eq!(utc_day(-1), -1);
    }

    #[test]
    fn the_calendar_is_the_days_with_bars_and_round_trips_as_json() {
        let h = 3600;
        let cal = Calendar::of_bars(&[22 * h, 23 * h, 24 * h + 5, 3 * 86_400]);
        assert_eq!(cal.days, vec![0, 1, 3]);
        assert_eq!(cal.to_json(), r#"["1970-01-01","1970-01-02","1970-01-04"]"#);
        assert_eq!(Calendar::from_json(&cal.to_json()), Some(cal));
        assert_eq!(Calendar::from_json(r#"["1970-01-02","1970-01-01"]"#), None);
    }
}
