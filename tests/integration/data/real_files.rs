//! The real files load as PROVENANCE describes them: the HistData 2018 zip in full and the MT4
//! file with its 32-day hole (rows, first and last bars, gaps, checksums), and the HistData year
//! cut into monthly files joins back into the same series.

use std::path::{Path, PathBuf};

use stratbox::data::{Input, LoadOptions, load};

use super::{MT4, load1, tmp, utc, write};

const HISTDATA_ZIP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/histdata/HISTDATA_COM_ASCII_EURUSD_M12018.zip"
);

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
    let shuffled: Vec<Input> = [&months[2], &months[0], &months[1]].map(Input::from).into();
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
