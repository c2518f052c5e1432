//! The daily P&L file beside a results file (SPEC section 7): `results.parquet` ->
//! `results.daily.parquet`, one row per (strategy, lots, day) with at least one closed trade,
//! sorted by (strategy_id, lots, day), and the calendar in its key-value metadata.
//!
//! Why a file of its own: the luck statistics (`stratbox luck`) need every trial's daily
//! series, which is ~100x the results table; kept apart, the results file stays small and the
//! daily file is read only by what needs it. It carries the results' provenance metadata too,
//! so a daily file from another run is refused rather than silently mixed in.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use stratbox_engine::ResultRow;
use stratbox_engine::metrics::utc_day;
use stratbox_engine::protocol::DayPnl;

use super::daily_encoding::DailyEncoder;
use super::row_groups::RowGroupWriter;
use super::{ResultsError, keys};
use crate::util::fs::AtomicFile;

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

/// Rows of a daily file per Parquet row group (polars' default size). Every writer of daily
/// files (a run, a merge) cuts its groups here, whatever the batches or parts were, so the file
/// is byte-identical across batch sizes, jobs, shards and merges, and a writer holds at most
/// one group of it at a time.
pub const ROW_GROUP_ROWS: usize = 512 * 512;

/// The columns of a daily table as plain vectors: strategy ids, lots, day numbers, P&L.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DailyColumns {
    pub strategy_id: Vec<u32>,
    pub lots: Vec<f64>,
    pub day: Vec<i32>,
    pub pnl_usd: Vec<f64>,
    pub n_trades: Vec<u32>,
}

impl DailyColumns {
    pub fn len(&self) -> usize {
        self.strategy_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strategy_id.is_empty()
    }

    /// The columns of a daily table, nulls refused.
    fn of_frame(df: &DataFrame) -> Result<DailyColumns, String> {
        let get = |name: &str| df.column(name).map_err(|e| e.to_string());
        fn no_nulls<T>(name: &str, v: Vec<Option<T>>) -> Result<Vec<T>, String> {
            v.into_iter()
                .collect::<Option<Vec<T>>>()
                .ok_or_else(|| format!("column {name} has nulls"))
        }
        let u32s = |name: &str| -> Result<Vec<u32>, String> {
            let v = get(name)?.u32().map_err(|e| e.to_string())?.iter().collect();
            no_nulls(name, v)
        };
        let f64s = |name: &str| -> Result<Vec<f64>, String> {
            let v = get(name)?.f64().map_err(|e| e.to_string())?.iter().collect();
            no_nulls(name, v)
        };
        let day = get("day")?.cast(&DataType::Int32).map_err(|e| e.to_string())?;
        let day = no_nulls("day", day.i32().map_err(|e| e.to_string())?.iter().collect())?;
        Ok(DailyColumns {
            strategy_id: u32s("strategy_id")?,
            lots: f64s("lots")?,
            day,
            pnl_usd: f64s("pnl_usd")?,
            n_trades: u32s("n_trades")?,
        })
    }
}

/// Writes a daily file a row group at a time, from rows handed over in file order (strategy_id,
/// lots, day ascending): the run hands each checkpointed batch's rows and lets them go, so the
/// whole table (52.7 M entries for 25 years of the default grid) is never in memory.
pub struct DailyWriter {
    path: PathBuf,
    /// Declared before `file`, so that on an error its thread and its handle are closed before
    /// the temporary file is removed.
    writer: RowGroupWriter<DailyColumns>,
    file: AtomicFile,
    buffer: DailyColumns,
    last: Option<EntryKey>,
}

/// Where an entry sorts in a daily file: (strategy_id, lots, day).
pub(crate) type EntryKey = (u32, f64, i32);

/// The file order of entries (lots by `total_cmp`, so the order is total).
pub(crate) fn entry_order(a: &EntryKey, b: &EntryKey) -> std::cmp::Ordering {
    a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2))
}

impl DailyWriter {
    /// Starts the daily file of the results file `output` (under a temporary name until
    /// [`DailyWriter::finish`]), with `calendar` and the results' `metadata`.
    pub fn create(
        output: &Path,
        calendar: &Calendar,
        metadata: &BTreeMap<String, String>,
    ) -> Result<DailyWriter, ResultsError> {
        DailyWriter::open(output, None, calendar, metadata)
    }

    /// [`DailyWriter::create`] with the temporary file in the directory `staging` (a run's
    /// checkpoint directory, on the output's file system), for a file filled while the run's
    /// batches go on.
    pub fn create_in(
        output: &Path,
        staging: &Path,
        calendar: &Calendar,
        metadata: &BTreeMap<String, String>,
    ) -> Result<DailyWriter, ResultsError> {
        DailyWriter::open(output, Some(staging), calendar, metadata)
    }

    fn open(
        output: &Path,
        staging: Option<&Path>,
        calendar: &Calendar,
        metadata: &BTreeMap<String, String>,
    ) -> Result<DailyWriter, ResultsError> {
        let path = daily_path(output);
        let io = |source: std::io::Error| ResultsError::Write {
            path: path.clone(),
            source,
        };
        let mut meta = metadata.clone();
        meta.insert(keys::CALENDAR.into(), calendar.to_json());
        let kv: Vec<(String, String)> = meta.into_iter().collect();
        let mut file = match staging {
            Some(dir) => AtomicFile::create_at(&path, dir.join("daily.parquet.tmp")),
            None => AtomicFile::create(&path),
        }
        .map_err(io)?;
        let encoder = DailyEncoder::new(file.file().try_clone().map_err(io)?, kv)
            .map_err(|e| io(std::io::Error::other(e)))?;
        let writer = RowGroupWriter::spawn(encoder).map_err(io)?;
        Ok(DailyWriter {
            path,
            file,
            writer,
            buffer: DailyColumns::default(),
            last: None,
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> ResultsError {
        ResultsError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(e.to_string()),
        }
    }

    /// Appends one entry, refusing one out of file order (a run's invariant, so a bug rather
    /// than bad input).
    fn push(&mut self, id: u32, lots: f64, day: &DayPnl) -> Result<(), ResultsError> {
        let key = (id, lots, day.day);
        if let Some(last) = self.last
            && entry_order(&last, &key) != std::cmp::Ordering::Less
        {
            return Err(self.error(format!(
                "daily P&L out of order: strategy {id} lots {lots} day {} after strategy {} lots {} day {}",
                iso_date(day.day),
                last.0,
                last.1,
                iso_date(last.2)
            )));
        }
        self.last = Some(key);
        let b = &mut self.buffer;
        b.strategy_id.push(id);
        b.lots.push(lots);
        b.day.push(day.day);
        b.pnl_usd.push(day.pnl_usd);
        b.n_trades.push(day.n_trades);
        if b.len() == ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends the daily P&L of one (strategy, lots) row.
    pub fn push_row(&mut self, row: &ResultRow) -> Result<(), ResultsError> {
        let id = u32::try_from(row.strategy_id)
            .map_err(|_| self.error(format!("strategy id {} exceeds u32", row.strategy_id)))?;
        for d in &row.daily {
            self.push(id, row.lots, d)?;
        }
        Ok(())
    }

    /// Appends entry `i` of a daily table (a merge's parts), in file order.
    pub fn push_entry(&mut self, c: &DailyColumns, i: usize) -> Result<(), ResultsError> {
        let d = DayPnl {
            day: c.day[i],
            n_trades: c.n_trades[i],
            pnl_usd: c.pnl_usd[i],
        };
        self.push(c.strategy_id[i], c.lots[i], &d)
    }

    fn flush(&mut self) -> Result<(), ResultsError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let group = std::mem::take(&mut self.buffer);
        self.writer.write(group).map_err(|e| self.error(e))
    }

    /// Writes the last row group and the footer, and renames the file into place.
    pub fn finish(mut self) -> Result<(), ResultsError> {
        self.flush()?;
        // Joins the thread, which closes its handle: the file is whole before the rename.
        self.writer.close().map_err(|e| self.error(e))?;
        let DailyWriter { path, file, .. } = self;
        file.commit()
            .map_err(|source| ResultsError::Write { path, source })
    }
}

/// Writes the daily file of `output` from `rows` (sorted by (strategy_id, lots); each row's
/// days ascending), `calendar` and the results' `metadata`.
pub fn write_daily(
    output: &Path,
    rows: &[ResultRow],
    calendar: &Calendar,
    metadata: &BTreeMap<String, String>,
) -> Result<(), ResultsError> {
    let mut w = DailyWriter::create(output, calendar, metadata)?;
    for r in rows {
        w.push_row(r)?;
    }
    w.finish()
}

/// Removes the daily file of `output`, if any: a run that booked no daily P&L leaves none
/// behind from an earlier run, so a daily file never outlives the results it belonged to.
pub fn remove_stale(output: &Path) {
    let _ = std::fs::remove_file(daily_path(output));
}

/// A daily file opened: its calendar, metadata (calendar key removed) and row groups. The
/// table is read a row group at a time ([`Daily::for_each_chunk`]), so a reader holds one group
/// of it, not the file.
#[derive(Clone)]
pub struct Daily {
    pub path: PathBuf,
    pub calendar: Calendar,
    pub metadata: BTreeMap<String, String>,
    parquet: FileMetadataRef,
}

impl std::fmt::Debug for Daily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daily")
            .field("path", &self.path)
            .field("days", &self.calendar.len())
            .field("row_groups", &self.parquet.row_groups.len())
            .finish()
    }
}

/// Opens `path` as a daily file, refusing one without a valid calendar or with other columns.
pub fn read_daily(path: &Path) -> Result<Daily, ResultsError> {
    let err = |message: String| ResultsError::Read {
        path: path.to_owned(),
        message,
    };
    let file = File::open(path).map_err(|e| err(e.to_string()))?;
    let mut reader = ParquetReader::new(file);
    let parquet = reader.get_metadata().map_err(|e| err(e.to_string()))?.clone();
    let mut metadata = super::parquet::stratbox_metadata(&parquet);
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
    let schema = reader.schema().map_err(|e| err(e.to_string()))?;
    let names: Vec<&str> = schema.iter_names().map(|s| s.as_str()).collect();
    if names != ["strategy_id", "lots", "day", "pnl_usd", "n_trades"] {
        return Err(err(format!(
            "columns {names:?}, expected strategy_id, lots, day, pnl_usd, n_trades"
        )));
    }
    Ok(Daily {
        path: path.to_owned(),
        calendar,
        metadata,
        parquet,
    })
}

impl Daily {
    /// Entries in the file.
    pub fn len(&self) -> usize {
        self.parquet.num_rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row groups in the file.
    pub fn row_groups(&self) -> usize {
        self.parquet.row_groups.len()
    }

    /// Row group `g`'s columns, nulls and non-finite numbers refused.
    pub fn read_group(&self, g: usize) -> Result<DailyColumns, ResultsError> {
        let err = |message: String| ResultsError::Read {
            path: self.path.clone(),
            message,
        };
        let groups = &self.parquet.row_groups;
        let offset: usize = groups[..g].iter().map(|r| r.num_rows()).sum();
        let file = File::open(&self.path).map_err(|e| err(e.to_string()))?;
        let mut reader = ParquetReader::new(file).with_slice(Some((offset, groups[g].num_rows())));
        reader.set_metadata(self.parquet.clone());
        let df = reader.finish().map_err(|e| err(e.to_string()))?;
        let c = DailyColumns::of_frame(&df).map_err(err)?;
        // A NaN or an infinity (a damaged or hand-made file; the engine books neither) would
        // turn every mean, variance and maximum that reads it into NaN without a word: refused
        // here, where every reader (luck, walk-forward, report, merge) reads.
        let bad = (0..c.len()).find(|&i| !c.lots[i].is_finite() || !c.pnl_usd[i].is_finite());
        if let Some(i) = bad {
            let (field, value) = match c.lots[i].is_finite() {
                true => ("pnl_usd", c.pnl_usd[i]),
                false => ("lots", c.lots[i]),
            };
            return Err(err(format!(
                "row {} (strategy {}, {}): {field} is {value}, not a finite number",
                offset + i + 1,
                c.strategy_id[i],
                iso_date(c.day[i])
            )));
        }
        Ok(c)
    }

    /// Calls `f` with each row group's columns in file order; stops at the first error, or
    /// when `f` answers `Ok(false)` (it needs no more).
    pub fn for_each_chunk<E: From<ResultsError>>(
        &self,
        mut f: impl FnMut(&DailyColumns) -> Result<bool, E>,
    ) -> Result<(), E> {
        for g in 0..self.row_groups() {
            if !f(&self.read_group(g)?)? {
                break;
            }
        }
        Ok(())
    }

    /// The whole table, for tests and small files (readers of real runs go a group at a time).
    pub fn columns(&self) -> Result<DailyColumns, ResultsError> {
        let mut all = DailyColumns::default();
        self.for_each_chunk(|c| {
            all.strategy_id.extend_from_slice(&c.strategy_id);
            all.lots.extend_from_slice(&c.lots);
            all.day.extend_from_slice(&c.day);
            all.pnl_usd.extend_from_slice(&c.pnl_usd);
            all.n_trades.extend_from_slice(&c.n_trades);
            Ok::<bool, ResultsError>(true)
        })?;
        Ok(all)
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

    #[test]
    fn the_writer_cuts_fixed_row_groups_and_the_reader_reads_them_back_a_group_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("r.parquet");
        let n = 2 * ROW_GROUP_ROWS + 1000;
        let c = DailyColumns {
            strategy_id: (0..n).map(|i| (i / 1000) as u32).collect(),
            lots: vec![0.1; n],
            day: (0..n).map(|i| (i % 1000) as i32).collect(),
            pnl_usd: (0..n).map(|i| i as f64 * 0.5 - 7.0).collect(),
            n_trades: (0..n).map(|i| (i % 3) as u32 + 1).collect(),
        };
        let calendar = Calendar {
            days: (0..1000).collect(),
        };
        let meta = BTreeMap::from([(keys::GRID.to_string(), "g".to_string())]);
        let mut w = DailyWriter::create(&output, &calendar, &meta).unwrap();
        for i in 0..n {
            w.push_entry(&c, i).unwrap();
        }
        w.finish().unwrap();
        let d = read_daily(&daily_path(&output)).unwrap();
        assert_eq!(d.calendar, calendar);
        assert_eq!(d.metadata, meta);
        assert_eq!((d.len(), d.row_groups()), (n, 3));
        let sizes: Vec<usize> = (0..3).map(|g| d.read_group(g).unwrap().len()).collect();
        assert_eq!(sizes, vec![ROW_GROUP_ROWS, ROW_GROUP_ROWS, 1000]);
        assert_eq!(d.columns().unwrap(), c);
        // Stopping early reads no further group.
        let mut seen = 0;
        d.for_each_chunk(|_| {
            seen += 1;
            Ok::<bool, ResultsError>(false)
        })
        .unwrap();
        assert_eq!(seen, 1);
    }

    /// A daily file with a NaN or an infinity in it (written here: the writer takes what it is
    /// given) is refused by every read, naming the file, the row, the field and the value.
    #[test]
    fn a_number_that_is_not_finite_is_refused_naming_row_field_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let calendar = Calendar { days: vec![0, 1] };
        let case = |name: &str, lots: f64, pnl: f64| {
            let output = dir.path().join(format!("{name}.parquet"));
            let c = DailyColumns {
                strategy_id: vec![3, 3, 5],
                lots: vec![0.1, 0.1, lots],
                day: vec![0, 1, 1],
                pnl_usd: vec![1.0, -2.5, pnl],
                n_trades: vec![1; 3],
            };
            let mut w = DailyWriter::create(&output, &calendar, &BTreeMap::new()).unwrap();
            for i in 0..c.len() {
                w.push_entry(&c, i).unwrap();
            }
            w.finish().unwrap();
            let d = read_daily(&daily_path(&output)).unwrap();
            let e = d.columns().unwrap_err();
            assert_eq!(e.exit(), crate::Exit::BadInput);
            e.to_string()
        };
        let e = case("nan", 0.1, f64::NAN);
        assert!(
            e.contains("nan.daily.parquet")
                && e.contains("row 3 (strategy 5, 1970-01-02): pnl_usd is NaN, not a finite number"),
            "{e}"
        );
        let e = case("inf", 0.1, f64::NEG_INFINITY);
        assert!(
            e.contains("row 3 (strategy 5, 1970-01-02): pnl_usd is -inf"),
            "{e}"
        );
        let e = case("lots", f64::INFINITY, 1.0);
        assert!(e.contains("row 3 (strategy 5, 1970-01-02): lots is inf"), "{e}");
    }

    #[test]
    fn an_entry_out_of_order_is_refused_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("r.parquet");
        let calendar = Calendar { days: vec![0, 1] };
        let c = DailyColumns {
            strategy_id: vec![3, 3, 2],
            lots: vec![0.1; 3],
            day: vec![0, 1, 0],
            pnl_usd: vec![1.0; 3],
            n_trades: vec![1; 3],
        };
        let mut w = DailyWriter::create(&output, &calendar, &BTreeMap::new()).unwrap();
        w.push_entry(&c, 0).unwrap();
        w.push_entry(&c, 1).unwrap();
        let e = w.push_entry(&c, 2).unwrap_err().to_string();
        assert!(
            e.contains("out of order: strategy 2 lots 0.1 day 1970-01-01 after strategy 3"),
            "{e}"
        );
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
