//! SPEC section 1 (data in), against the real files in `../shared/data` and small broken files
//! written to a temporary directory.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use stratbox::data::*;

const HISTDATA_ZIP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/histdata/HISTDATA_COM_ASCII_EURUSD_M12018.zip"
);
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
    load(&[path.into()], opts)
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

// ---------------------------------------------------------------------------------------------
// The real files.

#[test]
fn histdata_zip_year_loads_in_full() {
    let (bars, rep) = load1(HISTDATA_ZIP, &LoadOptions::default()).unwrap();
    assert_eq!(bars.len(), 372_607);
    assert_eq!(bars.digits, 5);
    // 2018-01-01 17:00 EST (UTC-5, no DST) is 22:00 UTC; 2018-12-31 16:59 EST is 21:59 UTC.
    assert_eq!(bars.time[0], utc(2018, 1, 1, 22, 0));
    assert_eq!(*bars.time.last().unwrap(), utc(2018, 12, 31, 21, 59));
    // First row: 1.200370;1.201000;1.200370;1.201000.
    assert_eq!(
        (bars.open[0], bars.high[0], bars.low[0], bars.close[0]),
        (120_037, 120_100, 120_037, 120_100)
    );
    assert!(bars.time.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(rep.interval_secs, 60);
    assert!(rep.repairs.is_empty());
    // PROVENANCE: 797 gaps under an hour, 52 weekend gaps, a 14-hour Christmas gap: 850 steps
    // longer than a minute.
    assert_eq!(rep.gaps.count, 797 + 52 + 1);
    assert_eq!(rep.files.len(), 1);
    let f = &rep.files[0];
    assert_eq!(
        f.sha256,
        "fda959b1bc8cb6e0b9f0f4b86d8097ab7f7c0476d52c8bf2c80696227d8ea751"
    );
    assert_eq!(f.rows, 372_607);
    assert_eq!(f.format, "histdata (zip)");
}

#[test]
fn mt4_with_tz_shows_the_32_day_hole() {
    let opts = LoadOptions {
        tz: Some("+03:00".parse().unwrap()),
        ..Default::default()
    };
    let (bars, rep) = load1(MT4, &opts).unwrap();
    assert_eq!(bars.len(), 34_342);
    // 2022.08.15 10:06 broker time (UTC+3).
    assert_eq!(bars.time[0], utc(2022, 8, 15, 7, 6));
    assert_eq!((bars.open[0], bars.close[0]), (102_340, 102_348));
    assert_eq!(rep.interval_secs, 60);
    assert_eq!(rep.gaps.count, 140);
    let big = rep.gaps.largest[0];
    assert_eq!(big.start, utc(2022, 8, 19, 20, 58));
    assert_eq!(big.end, utc(2022, 9, 21, 0, 56));
    assert!(big.secs() > 32 * 86_400);
    // The 6.5-day hole is second.
    assert_eq!(rep.gaps.largest[1].start, utc(2022, 10, 4, 5, 3));
    assert_eq!(rep.gaps.largest.len(), 5);
    assert_eq!(
        rep.files[0].sha256,
        "b5e68b5106773b898685c03aec257936e581e181843a0a27a0eee9bb7877c6f6"
    );
}

#[test]
fn mt4_without_tz_is_missing_timezone() {
    let err = load1(MT4, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::MissingTimezone {
                format: Format::Mt4,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--tz"), "{err}");
}

#[test]
fn dukascopy_eet_follows_athens_dst() {
    let (bars, rep) = load1(DUKASCOPY, &LoadOptions::default()).unwrap();
    assert_eq!(bars.len(), 12_521);
    assert_eq!(rep.interval_secs, 3600);
    // Winter, EET = UTC+2: line 2 `20.02.2023 00:00:00.000`.
    assert_eq!(bars.time[0], utc(2023, 2, 19, 22, 0));
    assert_eq!(bars.open[0], 106_840);
    // Summer, EEST = UTC+3: line 2293 `03.07.2023 10:00:00.000,1.08900,...`.
    let i = bars
        .time
        .iter()
        .position(|&t| t == utc(2023, 7, 3, 7, 0))
        .unwrap();
    assert_eq!(bars.open[i], 108_900);
    // Winter again: line 5543 `10.01.2024 12:00:00.000,1.09459,...`.
    let i = bars
        .time
        .iter()
        .position(|&t| t == utc(2024, 1, 10, 10, 0))
        .unwrap();
    assert_eq!(bars.open[i], 109_459);
    // The last line has no newline and is still read: `21.02.2025 21:00:00.000,1.04605,...`.
    assert_eq!(*bars.time.last().unwrap(), utc(2025, 2, 21, 19, 0));
    assert_eq!(*bars.close.last().unwrap(), 104_570);
    assert!(rep.files[0].zone.starts_with("Europe/Athens"));
}

// ---------------------------------------------------------------------------------------------
// Every defect kind, with its line.

#[test]
fn defect_unparsable_field() {
    let d = tmp();
    let text = GOOD3.replace("1.200830", "1.2008x0");
    let (def, msg) = one_defect(d.path(), "a.csv", &text, &LoadOptions::default());
    assert!(matches!(def.kind, DefectKind::Unparsable { .. }));
    assert!(
        msg.ends_with("a.csv line 2, field open: 1.2008x0 is not a decimal number"),
        "{msg}"
    );
    // A bad time, too.
    let text = GOOD3.replace("20180101 170200", "20180132 170200");
    let (def, msg) = one_defect(d.path(), "b.csv", &text, &LoadOptions::default());
    assert_eq!((def.line, def.field.as_str()), (3, "time"));
    assert!(
        msg.contains("b.csv line 3, field time: 20180132 170200 is not a time"),
        "{msg}"
    );
}

#[test]
fn defect_missing_field() {
    let d = tmp();
    let text = GOOD3.replace(";1.200400;0\n", "\n");
    let (def, msg) = one_defect(d.path(), "a.csv", &text, &LoadOptions::default());
    assert_eq!(def.kind, DefectKind::Missing);
    assert!(msg.ends_with("a.csv line 3, field close: missing"), "{msg}");
}

#[test]
fn defect_nan() {
    let d = tmp();
    let text = GOOD3.replace("1.200500", "NaN");
    let (def, msg) = one_defect(d.path(), "a.csv", &text, &LoadOptions::default());
    assert_eq!(def.kind, DefectKind::NaN);
    assert!(
        msg.ends_with("a.csv line 3, field high: NaN is not a number (NaN)"),
        "{msg}"
    );
}

#[test]
fn defect_non_positive_price() {
    let d = tmp();
    let text = GOOD3.replace("1.200170", "0.000000");
    let (def, msg) = one_defect(d.path(), "a.csv", &text, &LoadOptions::default());
    assert_eq!(def.kind, DefectKind::NonPositive);
    assert!(
        msg.ends_with("a.csv line 2, field low: 0.000000 is not a positive price"),
        "{msg}"
    );
}

#[test]
fn defect_high_below_max_open_close() {
    let d = tmp();
    let text = "20180101 170000;1.200370;1.201000;1.200370;1.201000;0\n\
                20180101 170100;1.20050;1.20011;1.20001;1.20020;0\n";
    let (def, msg) = one_defect(
        d.path(),
        "DAT_ASCII_EURUSD_M1_2018.csv",
        text,
        &LoadOptions::default(),
    );
    assert_eq!(
        def.kind,
        DefectKind::HighBelowMax {
            max: "1.20050".into()
        }
    );
    assert!(
        msg.ends_with(
            "DAT_ASCII_EURUSD_M1_2018.csv line 2, field high: 1.20011 is below max(open, close) 1.20050"
        ),
        "{msg}"
    );
}

#[test]
fn defect_low_above_min_open_close() {
    let d = tmp();
    let text = GOOD3.replace("1.200200", "1.200350");
    let (_, msg) = one_defect(d.path(), "a.csv", &text, &LoadOptions::default());
    assert!(
        msg.ends_with("a.csv line 3, field low: 1.200350 is above min(open, close) 1.20030"),
        "{msg}"
    );
}

#[test]
fn defect_duplicated_timestamp() {
    let d = tmp();
    let text = GOOD3.replace("20180101 170200", "20180101 170100");
    let (def, msg) = one_defect(d.path(), "a.csv", &text, &LoadOptions::default());
    assert_eq!(def.kind, DefectKind::Duplicate { first_line: 2 });
    assert!(
        msg.ends_with("a.csv line 3, field time: 2018-01-01 22:01:00 UTC repeats the timestamp of line 2"),
        "{msg}"
    );
}

#[test]
fn defect_timestamp_going_backwards() {
    let d = tmp();
    let text = GOOD3.replace("20180101 170200", "20180101 165900");
    let (def, msg) = one_defect(d.path(), "a.csv", &text, &LoadOptions::default());
    assert!(matches!(def.kind, DefectKind::Backwards { previous_line: 2, .. }));
    assert!(
        msg.contains("a.csv line 3, field time: 2018-01-01 21:59:00 UTC goes backwards"),
        "{msg}"
    );
}

#[test]
fn defect_overlap_between_files() {
    let d = tmp();
    let a = write(d.path(), "a.csv", GOOD3);
    let b = write(
        d.path(),
        "b.csv",
        "20180101 170200;1.200300;1.200500;1.200200;1.200400;0\n\
         20180101 170300;1.200300;1.200500;1.200200;1.200400;0\n",
    );
    // Overlap is an error even with --repair: files are joined, never merged.
    for repair in [false, true] {
        let opts = LoadOptions {
            repair,
            ..Default::default()
        };
        let (count, list, _) = defects(load(&[b.clone(), a.clone()], &opts));
        assert_eq!(count, 1);
        let msg = list[0].to_string();
        assert!(matches!(list[0].kind, DefectKind::Overlap { .. }));
        assert!(
            msg.contains("b.csv line 1, field time: 2018-01-01 22:02:00 UTC overlaps")
                && msg.contains("a.csv, which runs to 2018-01-01 22:02:00 UTC"),
            "{msg}"
        );
    }
}

#[test]
fn defect_price_finer_than_digits() {
    let d = tmp();
    let text = GOOD3.replace("1.200950", "1.200955");
    let (def, msg) = one_defect(d.path(), "EURUSD.csv", &text, &LoadOptions::default());
    assert_eq!(def.kind, DefectKind::TooFine { digits: 5 });
    assert!(
        msg.contains("EURUSD.csv line 2, field high: 1.200955 has more than 5 decimals"),
        "{msg}"
    );
    // With --digits 6 the same file loads.
    let opts = LoadOptions {
        digits: Some(6),
        ..Default::default()
    };
    let (bars, _) = load1(d.path().join("EURUSD.csv"), &opts).unwrap();
    assert_eq!(bars.high[1], 1_200_955);
}

#[test]
fn all_defects_are_collected_and_the_message_lists_20() {
    let d = tmp();
    let mut text = String::new();
    for m in 0..25 {
        // Every row's high is below its close.
        writeln!(text, "20180101 17{m:02}00;1.10000;1.10000;1.09000;1.10010;0").unwrap();
    }
    let (count, list, msg) = defects(load1(write(d.path(), "a.csv", &text), &LoadOptions::default()));
    assert_eq!(count, 25);
    assert_eq!(list.len(), 25);
    assert_eq!(list[24].line, 25);
    assert!(msg.starts_with("25 defects"), "{msg}");
    assert!(msg.contains("a.csv line 20, field high"), "{msg}");
    assert!(!msg.contains("a.csv line 21,"), "{msg}");
    assert!(msg.trim_end().ends_with("... and 5 more"), "{msg}");
}

#[test]
fn defects_inside_a_zip_name_the_inner_file_and_its_lines() {
    let d = tmp();
    let text = GOOD3.replace("1.200170", "-1.200170");
    let z = write_zip(d.path(), "archive.zip", &[("inner.csv", text.as_bytes())]);
    let (_, list, _) = defects(load1(z, &LoadOptions::default()));
    let msg = list[0].to_string();
    assert!(
        msg.contains("archive.zip:inner.csv line 2, field low: -1.200170 is not a positive price"),
        "{msg}"
    );
    // A HistData-style zip with a .txt report next to the CSV still has one data file.
    let z = write_zip(
        d.path(),
        "two.zip",
        &[("DAT.csv", GOOD3.as_bytes()), ("DAT.txt", b"gap report")],
    );
    assert_eq!(load1(z, &LoadOptions::default()).unwrap().0.len(), 3);
    // Two CSVs: which one?
    let z = write_zip(
        d.path(),
        "three.zip",
        &[("a.csv", GOOD3.as_bytes()), ("b.csv", GOOD3.as_bytes())],
    );
    let err = load1(z, &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::Zip { .. }), "{err}");
}

#[test]
fn parquet_defects_name_rows() {
    let d = tmp();
    let t0 = utc(2018, 1, 1, 22, 0) * 1000;
    let path = d.path().join("bad.parquet");
    write_parquet(
        &path,
        &[t0, t0 + 60_000, t0 + 120_000],
        [
            vec![1.2, 1.2, 1.2],
            vec![1.3, 1.3, 1.3],
            vec![1.1, 1.1, 1.25],
            vec![1.2, f64::NAN, 1.2],
        ],
    );
    let (count, list, _) = defects(load1(&path, &LoadOptions::default()));
    assert_eq!(count, 2, "{list:#?}");
    assert_eq!(
        list[0].to_string(),
        format!("{} row 2, field close: NaN is not a number (NaN)", path.display())
    );
    assert_eq!(
        list[1].to_string(),
        format!(
            "{} row 3, field low: 1.25 is above min(open, close) 1.20000",
            path.display()
        )
    );
}

#[test]
fn unknown_or_empty_files_are_errors() {
    let d = tmp();
    let err = load1(
        write(d.path(), "x.csv", "hello world\n1;2;3\n"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::UnknownFormat { .. }), "{err}");
    let err = load1(write(d.path(), "y.csv", "a,b\n1,2\n"), &LoadOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("no \"open\" column") || err.to_string().contains("timestamp"),
        "{err}"
    );
    let err = load1(
        write(d.path(), "z.csv", "timestamp,open,high,low,close\n"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    let err = load1(write(d.path(), "zero.csv", ""), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    let err = load1(d.path().join("missing.csv"), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err}");
}

#[test]
fn digits_come_from_the_symbol_or_the_option() {
    let d = tmp();
    let text = "timestamp,open,high,low,close\n2020-01-02T00:00:00Z,108.5,108.61,108.4,108.52\n";
    let (bars, rep) = load1(write(d.path(), "USDJPY_H1.csv", text), &LoadOptions::default()).unwrap();
    assert_eq!((rep.digits, bars.close[0]), (3, 108_520));
    let (bars, _) = load1(write(d.path(), "bars.csv", text), &LoadOptions::default()).unwrap();
    assert_eq!((bars.digits, bars.close[0]), (5, 10_852_000));
    let opts = LoadOptions {
        digits: Some(2),
        ..Default::default()
    };
    let (bars, _) = load1(d.path().join("USDJPY_H1.csv"), &opts).unwrap();
    assert_eq!(bars.close[0], 10_852);
}

// ---------------------------------------------------------------------------------------------
// Several files, several formats, repair.

/// The inner CSV of the HistData zip.
fn histdata_text() -> String {
    let mut z = zip::ZipArchive::new(std::fs::File::open(HISTDATA_ZIP).unwrap()).unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut z.by_index(0).unwrap(), &mut s).unwrap();
    s
}

#[test]
fn monthly_files_join_to_the_single_file() {
    let text = histdata_text();
    let d = tmp();
    let quarter: String = text
        .lines()
        .filter(|l| l.starts_with("201801") || l.starts_with("201802") || l.starts_with("201803"))
        .map(|l| format!("{l}\n"))
        .collect();
    let single = write(d.path(), "DAT_ASCII_EURUSD_M1_2018Q1.csv", &quarter);
    let months: Vec<PathBuf> = ["201801", "201802", "201803"]
        .iter()
        .map(|m| {
            let part: String = quarter
                .lines()
                .filter(|l| l.starts_with(m))
                .map(|l| format!("{l}\n"))
                .collect();
            write(d.path(), &format!("DAT_ASCII_EURUSD_M1_{m}.csv"), &part)
        })
        .collect();
    let (one, one_rep) = load1(&single, &LoadOptions::default()).unwrap();
    // Given out of order: the series order comes from the data.
    let shuffled = vec![months[2].clone(), months[0].clone(), months[1].clone()];
    let (joined, rep) = load(&shuffled, &LoadOptions::default()).unwrap();
    assert_eq!(one.len(), 32_067 + 28_751 + 31_151);
    assert_eq!(joined, one);
    assert_eq!(rep.gaps, one_rep.gaps);
    let order: Vec<&Path> = rep.files.iter().map(|f| f.path.as_path()).collect();
    assert_eq!(
        order,
        vec![months[0].as_path(), months[1].as_path(), months[2].as_path()]
    );
}

fn ts(t: i64, fmt: &str) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .naive_utc()
        .format(fmt)
        .to_string()
}

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

#[test]
fn the_same_bars_in_every_format_load_identically() {
    // Dukascopy's EET hours cross four DST changes: a good test of every zone path.
    let (src, _) = load1(DUKASCOPY, &LoadOptions::default()).unwrap();
    let d = tmp();
    let p = |k: usize, i: usize| {
        let v = [&src.open, &src.high, &src.low, &src.close][k][i];
        format_points(v, 5)
    };
    let row = |i: usize, sep: &str| (0..4).map(|k| p(k, i)).collect::<Vec<_>>().join(sep);
    let n = src.len();
    let athens = |t: i64| {
        use chrono::TimeZone;
        chrono_tz::Europe::Athens
            .timestamp_opt(t, 0)
            .unwrap()
            .naive_local()
            .and_utc()
            .timestamp()
    };
    let mut generic = String::from("timestamp,open,high,low,close,volume\n");
    let mut histdata = String::new();
    let mut mt4 = String::new();
    let mut mt5 =
        String::from("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n");
    let mut gmt = String::from("Gmt time,Open,High,Low,Close,Volume\n");
    let mut eet = String::from("Time (EET),Open,High,Low,Close,Volume\n");
    let mut iso_offset = String::from("Date,Time,Open,High,Low,Close\n");
    for i in 0..n {
        let t = src.time[i];
        writeln!(generic, "{},{},12.5", ts(t, "%Y-%m-%dT%H:%M:%SZ"), row(i, ",")).unwrap();
        writeln!(
            histdata,
            "{};{};0",
            ts(t - 5 * 3600, "%Y%m%d %H%M%S"),
            row(i, ";")
        )
        .unwrap();
        write!(
            mt4,
            "{},{},7\r\n",
            ts(t + 3 * 3600, "%Y.%m.%d,%H:%M"),
            row(i, ",")
        )
        .unwrap();
        writeln!(
            mt5,
            "{}\t{}\t7\t0\t2",
            ts(athens(t), "%Y.%m.%d\t%H:%M:%S"),
            row(i, "\t")
        )
        .unwrap();
        writeln!(gmt, "{},{},1.5", ts(t, "%d.%m.%Y %H:%M:%S.000"), row(i, ",")).unwrap();
        write!(
            eet,
            "{},{},1.5",
            ts(athens(t), "%d.%m.%Y %H:%M:%S.000"),
            row(i, ",")
        )
        .unwrap();
        if i + 1 < n {
            eet.push('\n');
        }
        writeln!(
            iso_offset,
            "{},{}",
            ts(t - 4 * 3600, "%Y/%m/%d,%H:%M"),
            row(i, ",")
        )
        .unwrap();
    }
    let plain = LoadOptions::default();
    let tz = |s: &str| LoadOptions {
        tz: Some(s.parse().unwrap()),
        ..Default::default()
    };
    let cases: Vec<(PathBuf, LoadOptions, &str)> = vec![
        (write(d.path(), "g.csv", &generic), plain.clone(), "csv"),
        (write(d.path(), "h.csv", &histdata), plain.clone(), "histdata"),
        (write(d.path(), "m4.csv", &mt4), tz("+03:00"), "mt4"),
        (write(d.path(), "m5.csv", &mt5), tz("Europe/Athens"), "mt5"),
        (write(d.path(), "gmt.csv", &gmt), plain.clone(), "dukascopy"),
        (write(d.path(), "eet.csv", &eet), plain.clone(), "dukascopy"),
        (write(d.path(), "dt.csv", &iso_offset), tz("-04:00"), "csv"),
        (
            write_zip(d.path(), "h.zip", &[("h.csv", histdata.as_bytes())]),
            plain.clone(),
            "histdata (zip)",
        ),
        (
            {
                let path = d.path().join("b.parquet");
                let f = |v: &Vec<i64>| v.iter().map(|&x| x as f64 / 1e5).collect::<Vec<f64>>();
                let ms: Vec<i64> = src.time.iter().map(|t| t * 1000).collect();
                write_parquet(
                    &path,
                    &ms,
                    [f(&src.open), f(&src.high), f(&src.low), f(&src.close)],
                );
                path
            },
            plain.clone(),
            "parquet",
        ),
    ];
    for (path, opts, fmt) in cases {
        let (bars, rep) = load1(&path, &opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(rep.files[0].format, fmt, "{}", path.display());
        assert!(bars == src, "{} loads different bars", path.display());
        // Forcing the format gives the same.
        let forced = LoadOptions {
            format: Some(fmt.trim_end_matches(" (zip)").parse().unwrap()),
            ..opts
        };
        assert!(
            load1(&path, &forced).unwrap().0 == src,
            "{} forced",
            path.display()
        );
    }
}

#[test]
fn repair_drops_duplicates_sorts_and_reports() {
    let d = tmp();
    let lines: Vec<&str> = GOOD3.lines().collect();
    let later = "20180101 170300;1.200300;1.200500;1.200200;1.200400;0";
    let changed_dup = "20180101 170100;1.200300;1.200500;1.200200;1.200400;0";
    // lines: 1 t0, 2 t3, 3 t1, 4 t1 (identical dup), 5 t2, 6 t1 (different dup)
    let text = [lines[0], later, lines[1], lines[1], lines[2], changed_dup].join("\n");
    let path = write(d.path(), "r.csv", &text);
    let (count, list, _) = defects(load1(&path, &LoadOptions::default()));
    assert_eq!(count, 3, "{list:#?}");
    assert_eq!(list.iter().map(|d| d.line).collect::<Vec<_>>(), vec![3, 4, 6]);

    let opts = LoadOptions {
        repair: true,
        ..Default::default()
    };
    let (bars, rep) = load1(&path, &opts).unwrap();
    let t0 = utc(2018, 1, 1, 22, 0);
    assert_eq!(bars.time, vec![t0, t0 + 60, t0 + 120, t0 + 180]);
    assert_eq!(bars.close, vec![120_100, 120_030, 120_040, 120_040]);
    assert_eq!((rep.repairs.dropped, rep.repairs.moved), (2, 1));
    let changes: Vec<(usize, RepairAction)> = rep
        .repairs
        .changes
        .iter()
        .map(|r| (r.line, r.action.clone()))
        .collect();
    assert_eq!(
        changes,
        vec![
            (2, RepairAction::Moved),
            (
                4,
                RepairAction::DroppedDuplicate {
                    kept_line: 3,
                    identical: true
                }
            ),
            (
                6,
                RepairAction::DroppedDuplicate {
                    kept_line: 3,
                    identical: false
                }
            ),
        ]
    );
    assert_eq!(rep.files[0].rows, 4);
    assert!(
        rep.repairs
            .to_string()
            .contains("dropped 2 duplicated rows, moved 1 row")
    );
    // Repair does not excuse other defects.
    let bad = text.replace("1.201000;1.200370", "1.201000;1.209990");
    let (count, list, _) = defects(load1(write(d.path(), "r2.csv", &bad), &opts));
    assert_eq!(count, 1);
    assert!(matches!(list[0].kind, DefectKind::LowAboveMin { .. }));
}

#[test]
fn generic_csv_zones() {
    let d = tmp();
    let text = "time;open;high;low;close\n\
                \"2024-03-31 02:30\";1;1;1;1\n\
                2024-03-31T06:30:00+03:00;1;1;1;1\n";
    // No offset and no --tz: UTC.
    let (bars, rep) = load1(write(d.path(), "a.csv", text), &LoadOptions::default()).unwrap();
    assert_eq!(bars.time, vec![utc(2024, 3, 31, 2, 30), utc(2024, 3, 31, 3, 30)]);
    assert!(rep.files[0].zone.starts_with("UTC"));
    // A local time in the spring-forward hour does not exist in Athens.
    let text = "time;open;high;low;close\n2024-03-31 03:30;1;1;1;1\n";
    let opts = LoadOptions {
        tz: Some("Europe/Athens".parse().unwrap()),
        ..Default::default()
    };
    let (_, msg) = one_defect(d.path(), "b.csv", text, &opts);
    assert!(
        msg.contains(
            "b.csv line 2, field time: 2024-03-31 03:30 is not a local time that exists in Europe/Athens"
        ),
        "{msg}"
    );
    // The same in an MT4 file with separate date and time fields.
    let text = "2024.03.31,02:59,1.1,1.1,1.1,1.1,1\n2024.03.31,03:00,1.1,1.1,1.1,1.1,1\n";
    let (def, msg) = one_defect(d.path(), "c.csv", text, &opts);
    assert_eq!(def.line, 2);
    assert!(
        msg.contains("c.csv line 2, field time: 2024.03.31 03:00 is not a local time"),
        "{msg}"
    );
}

/// The parsed-data cache: a second load of the same file is read from the entry (shown by
/// planting a doctored entry with a valid checksum), a damaged entry is ignored, a changed file
/// is a different key, and data that fails to load is never cached.
#[test]
fn parsed_data_cache_is_used_only_when_it_matches_and_checks_out() {
    use sha2::{Digest, Sha256};
    let d = tmp();
    let cache = d.path().join("cache");
    let file = crate::common::year_slice(d.path(), 500);
    let opts = LoadOptions {
        cache_dir: Some(cache.clone()),
        ..LoadOptions::default()
    };
    let parsed = load1(&file, &LoadOptions::default()).unwrap();
    assert_eq!(
        load1(&file, &opts).unwrap(),
        parsed,
        "first load: parsed, entry written"
    );
    let entries: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];

    // A doctored entry whose checksum is right is what the next load returns: the cache is read.
    let mut doctored = parsed.clone();
    doctored.0.close[0] += 1;
    let mut body = bincode::serialize(&doctored).unwrap();
    let digest = Sha256::digest(&body);
    body.extend_from_slice(&digest);
    std::fs::write(entry, &body).unwrap();
    assert_eq!(load1(&file, &opts).unwrap(), doctored);

    // A damaged entry (checksum wrong) is ignored, and replaced by a good one.
    let last = body.len() - 40;
    body[last] ^= 1;
    std::fs::write(entry, &body).unwrap();
    assert_eq!(load1(&file, &opts).unwrap(), parsed);
    assert_eq!(load1(&file, &opts).unwrap(), parsed);

    // Same path, other contents: another key, so the old entry is not used.
    let lines = &crate::common::year_lines()[..499];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (bars, _) = load1(&file, &opts).unwrap();
    assert_eq!(bars.len(), 499);
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2);

    // Bad data is reported every time and leaves no entry.
    let bad = write(
        d.path(),
        "DAT_ASCII_EURUSD_M1_bad.csv",
        "20180101 170000;1.2;1.1;1.3;1.2;0\n",
    );
    assert!(load1(&bad, &opts).is_err());
    assert!(load1(&bad, &opts).is_err());
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2);
}
