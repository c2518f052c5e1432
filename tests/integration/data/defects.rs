//! Every defect kind, each with its file, line and field in the message; all defects collected
//! (the message lists 20); defects inside a zip and in Parquet rows.

use std::fmt::Write as _;

use stratbox::data::{DataError, DefectKind, Input, LoadOptions, load};

use super::{GOOD3, defects, load1, one_defect, tmp, utc, write, write_parquet, write_zip};

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
        let (count, list, _) = defects(load(&[Input::from(&b), Input::from(&a)], &opts));
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
