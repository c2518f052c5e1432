//! UTC time as text, from Unix seconds: one conversion (proleptic Gregorian, no time zone
//! database), two spellings.

const SECS_PER_DAY: i64 = 86_400;

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn parts(t: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (y, m, d) = civil_from_days(t.div_euclid(SECS_PER_DAY));
    let s = t.rem_euclid(SECS_PER_DAY);
    (y, m, d, s / 3600, s % 3600 / 60, s % 60)
}

/// `2018-01-01T22:00:00Z`: metadata, file names, machine-readable output.
pub fn iso_utc(t: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `2018-01-01 22:00:00`: a data file's own spelling (CSV exports).
pub fn plain_utc(t: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// `2018-01-01 22:00:00 UTC`: messages and reports for people.
pub fn readable_utc(t: i64) -> String {
    format!("{} UTC", plain_utc(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_instants() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        // 2018-01-01 is 17,532 days after 1970-01-01; 22:00 is 79,200 s into it.
        assert_eq!(iso_utc(17_532 * 86_400 + 79_200), "2018-01-01T22:00:00Z");
        assert_eq!(readable_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(plain_utc(-1), "1969-12-31 23:59:59");
    }

    #[test]
    fn agrees_with_chrono_over_centuries() {
        for t in (-5_000_000_000i64..10_000_000_000).step_by(86_399 * 97) {
            let c = chrono::DateTime::from_timestamp(t, 0).unwrap();
            assert_eq!(iso_utc(t), c.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "{t}");
        }
    }
}
