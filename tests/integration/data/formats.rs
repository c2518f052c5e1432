//! Formats: the same bars written in every supported format load identically, detected or
//! forced; price digits come from the symbol or `--digits`; unknown, empty and missing files are
//! errors.

use std::fmt::Write as _;
use std::path::PathBuf;

use stratbox::data::{DataError, LoadOptions, format_points};

use super::{DUKASCOPY, load1, tmp, write, write_parquet, write_zip};

fn ts(t: i64, fmt: &str) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .naive_utc()
        .format(fmt)
        .to_string()
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
