//! SPEC section 1 (data in), against the real files in `../shared/data` and small broken files
//! written to a temporary directory. This module holds the paths of the real files and the
//! helpers that write small files and load them.

mod cache;
mod defects;
mod formats;
mod real_files;
mod repair;
mod zones;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use stratbox::data::{Bars, DataError, Defect, Input, LoadOptions, LoadReport, load};

const MT4: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/mt4/EURUSD1.csv");
const DUKASCOPY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/dukascopy/EURUSD_Candlestick_1_Hour_BID_20.02.2023-22.02.2025.csv"
);

/// UTC seconds of a civil date and time.
fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
        .and_utc()
        .timestamp()
}

fn load1(path: impl Into<PathBuf>, opts: &LoadOptions) -> Result<(Bars, LoadReport), DataError> {
    load(&[Input::File(path.into())], opts)
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn write_zip(dir: &Path, name: &str, inner: &[(&str, &[u8])]) -> PathBuf {
    let p = dir.join(name);
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    for (n, bytes) in inner {
        z.start_file(*n, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
    p
}

/// The defects of a load that must fail with them.
fn defects(r: Result<(Bars, LoadReport), DataError>) -> (usize, Vec<Defect>, String) {
    match r {
        Err(e @ DataError::Defects { .. }) => {
            let msg = e.to_string();
            let DataError::Defects { count, list } = e else {
                unreachable!()
            };
            (count, list, msg)
        }
        Err(e) => panic!("expected defects, got {e}"),
        Ok((bars, _)) => panic!("expected defects, loaded {} bars", bars.len()),
    }
}

/// A load with one defect: that defect's message.
fn one_defect(dir: &Path, name: &str, content: &str, opts: &LoadOptions) -> (Defect, String) {
    let (count, list, _) = defects(load1(write(dir, name, content), opts));
    assert_eq!(count, 1, "{list:#?}");
    let d = list.into_iter().next().unwrap();
    let msg = d.to_string();
    (d, msg)
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

const GOOD3: &str = "20180101 170000;1.200370;1.201000;1.200370;1.201000;0\n\
                     20180101 170100;1.200830;1.200950;1.200170;1.200300;0\n\
                     20180101 170200;1.200300;1.200500;1.200200;1.200400;0\n";

fn write_parquet(path: &Path, millis: &[i64], prices: [Vec<f64>; 4]) {
    use polars::prelude::*;
    let n = millis.len();
    let time = Int64Chunked::from_vec("timestamp".into(), millis.to_vec())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_series();
    let mut cols = vec![Column::from(time)];
    for (name, v) in ["open", "high", "low", "close"].iter().zip(prices) {
        cols.push(Column::new((*name).into(), v));
    }
    let mut df = DataFrame::new(n, cols).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut df)
        .unwrap();
}
