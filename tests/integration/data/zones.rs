//! Time zones: a format without one needs `--tz`, Dukascopy's EET follows Athens's DST, and
//! generic CSV times are UTC unless they carry an offset or `--tz` names a zone (in which a
//! local time that does not exist is a defect).

use stratbox::data::{DataError, Format, LoadOptions};

use super::{DUKASCOPY, MT4, load1, one_defect, tmp, utc, write};

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
