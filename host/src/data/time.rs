//! Time zones, civil-date arithmetic and the timestamp shapes of the supported formats.
//!
//! Dates are turned into seconds with Howard Hinnant's days-from-civil formula rather than
//! through chrono, because it is a handful of integer operations per row: a year of M1 bars is
//! 372,607 rows and must load in well under half a second. chrono-tz is consulted once per
//! local day (see [`ToUtc`]), not once per row.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, Offset, TimeZone};

use super::error::ParseOptionError;

pub const SECS_PER_DAY: i64 = 86_400;

pub use crate::util::time::{civil_from_days, readable_utc as format_utc};

/// The zone a file's timestamps are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TzSpec {
    /// A fixed offset, seconds east of UTC (HistData's EST is `Fixed(-18000)`).
    Fixed(i32),
    /// An IANA zone with its daylight-saving rules.
    Named(chrono_tz::Tz),
}

impl TzSpec {
    pub const UTC: TzSpec = TzSpec::Fixed(0);
}

impl FromStr for TzSpec {
    type Err = ParseOptionError;

    /// Accepts `UTC`, `GMT`, `Z`, `+03:00`, `-0500`, `+3`, `UTC+02:00`, and IANA names such as
    /// `Europe/Athens`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let upper = t.to_ascii_uppercase();
        if matches!(upper.as_str(), "UTC" | "GMT" | "Z") {
            return Ok(TzSpec::UTC);
        }
        let rest = upper
            .strip_prefix("UTC")
            .or_else(|| upper.strip_prefix("GMT"))
            .unwrap_or(&upper);
        if rest.starts_with(['+', '-']) {
            return parse_offset(rest.as_bytes()).map(TzSpec::Fixed).ok_or_else(|| {
                ParseOptionError(format!(
                    "time zone offset {t:?} is not of the form +HH:MM, +HHMM or +HH (at most 15 hours)"
                ))
            });
        }
        chrono_tz::Tz::from_str(t).map(TzSpec::Named).map_err(|_| {
            ParseOptionError(format!(
                "unknown time zone {t:?}: use UTC, an offset like +03:00, or an IANA name like Europe/Athens"
            ))
        })
    }
}

impl fmt::Display for TzSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TzSpec::Fixed(0) => write!(f, "UTC"),
            TzSpec::Fixed(s) => {
                let sign = if *s < 0 { '-' } else { '+' };
                let a = s.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)?;
                if a % 60 != 0 {
                    write!(f, ":{:02}", a % 60)?;
                }
                Ok(())
            }
            TzSpec::Named(tz) => write!(f, "{}", tz.name()),
        }
    }
}

/// `+HH:MM`, `+HHMM`, `+HH`, `+H` (sign required); seconds east of UTC.
pub(crate) fn parse_offset(b: &[u8]) -> Option<i32> {
    let (&sign, rest) = b.split_first()?;
    let neg = match sign {
        b'+' => false,
        b'-' => true,
        _ => return None,
    };
    let (h, m) = match rest.len() {
        1 => (digits(rest)?, 0),
        2 => (digits(rest)?, 0),
        4 => (digits(&rest[..2])?, digits(&rest[2..])?),
        5 if rest[2] == b':' => (digits(&rest[..2])?, digits(&rest[3..])?),
        _ => return None,
    };
    if h > 15 || m > 59 {
        return None;
    }
    let secs = (h * 3600 + m * 60) as i32;
    Some(if neg { -secs } else { secs })
}

/// Converts local wall-clock seconds (seconds since 1970-01-01 00:00 *local*) to UTC.
///
/// For a named zone the offset of a whole local day is looked up once and reused while rows stay
/// on that day; only the two days a year on which the offset changes are resolved row by row.
#[derive(Debug)]
pub(crate) struct ToUtc {
    zone: TzSpec,
    day: i64,
    /// `Some(offset)` if `day` has one offset all day long, `None` on a transition day.
    day_offset: Option<i64>,
}

/// Why a local time has no UTC equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nonexistent;

impl ToUtc {
    pub fn new(zone: TzSpec) -> Self {
        ToUtc {
            zone,
            day: i64::MIN,
            day_offset: None,
        }
    }

    /// Local time -> UTC. A time repeated when clocks go back takes its first (earlier)
    /// meaning; a time skipped when clocks go forward does not exist and is an error.
    #[inline]
    pub fn convert(&mut self, local: i64) -> Result<i64, Nonexistent> {
        let tz = match self.zone {
            TzSpec::Fixed(off) => return Ok(local - off as i64),
            TzSpec::Named(tz) => tz,
        };
        let day = local.div_euclid(SECS_PER_DAY);
        if day != self.day {
            self.day = day;
            let start = day * SECS_PER_DAY;
            self.day_offset = match (
                local_offset(tz, start),
                local_offset(tz, start + SECS_PER_DAY - 1),
            ) {
                (LocalResult::Single(a), LocalResult::Single(b)) if a == b => Some(a),
                _ => None,
            };
        }
        if let Some(off) = self.day_offset {
            return Ok(local - off);
        }
        match local_offset(tz, local) {
            LocalResult::Single(off) | LocalResult::Ambiguous(off, _) => Ok(local - off),
            LocalResult::None => Err(Nonexistent),
        }
    }
}

/// Offset(s) (seconds east of UTC) that local time `local` can have in `tz`. chrono's
/// `Ambiguous(earliest, latest)` is kept in that order.
fn local_offset(tz: chrono_tz::Tz, local: i64) -> LocalResult<i64> {
    let Some(naive) = DateTime::from_timestamp(local, 0).map(|d| d.naive_utc()) else {
        return LocalResult::None;
    };
    tz.offset_from_local_datetime(&naive)
        .map(|o| o.fix().local_minus_utc() as i64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
#[inline]
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[inline]
fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Value of an all-digit slice (at most 9 digits), `None` if any byte is not a digit.
#[inline]
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u32;
    }
    Some(v)
}

/// Checked date -> days since the epoch.
#[inline]
fn date(y: u32, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y as i64, m) {
        return None;
    }
    Some(days_from_civil(y as i64, m, d))
}

/// Checked time of day -> seconds.
#[inline]
fn clock(h: u32, m: u32, s: u32) -> Option<i64> {
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some((h * 3600 + m * 60 + s) as i64)
}

/// HistData ASCII: `YYYYMMDD HHMMSS` -> local seconds.
#[inline]
pub(crate) fn parse_histdata(b: &[u8]) -> Option<i64> {
    if b.len() != 15 || b[8] != b' ' {
        return None;
    }
    let day = date(digits(&b[0..4])?, digits(&b[4..6])?, digits(&b[6..8])?)?;
    let secs = clock(digits(&b[9..11])?, digits(&b[11..13])?, digits(&b[13..15])?)?;
    Some(day * SECS_PER_DAY + secs)
}

/// Dukascopy: `dd.mm.yyyy HH:MM:SS.mmm` (milliseconds must be zero) -> local seconds.
#[inline]
pub(crate) fn parse_dukascopy(b: &[u8]) -> Option<i64> {
    if b.len() < 19 || b[2] != b'.' || b[5] != b'.' || b[10] != b' ' {
        return None;
    }
    let day = date(digits(&b[6..10])?, digits(&b[3..5])?, digits(&b[0..2])?)?;
    Some(day * SECS_PER_DAY + parse_clock(&b[11..])?)
}

/// A date `YYYY.MM.DD`, `YYYY-MM-DD` or `YYYY/MM/DD` -> days since the epoch.
#[inline]
pub(crate) fn parse_date(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || !matches!(b[4], b'.' | b'-' | b'/') || b[7] != b[4] {
        return None;
    }
    date(digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// A time of day `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff` (fraction must be zero: bars are whole
/// seconds) -> seconds.
#[inline]
pub(crate) fn parse_clock(b: &[u8]) -> Option<i64> {
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let (h, m) = (digits(&b[0..2])?, digits(&b[3..5])?);
    let s = match b.len() {
        5 => 0,
        8 if b[5] == b':' => digits(&b[6..8])?,
        n if n > 9 && b[5] == b':' && matches!(b[8], b'.' | b',') => {
            if !b[9..].iter().all(|&c| c == b'0') {
                return None;
            }
            digits(&b[6..8])?
        }
        _ => return None,
    };
    clock(h, m, s)
}

/// ISO-like timestamp: a [`parse_date`] date, optionally followed by `T` or a space and a
/// [`parse_clock`] time, optionally followed by `Z` or an offset (`+03:00`, `-0500`; a space
/// before it is allowed). Returns local seconds and the offset if one was written.
pub(crate) fn parse_iso(b: &[u8]) -> Option<(i64, Option<i32>)> {
    let day = parse_date(b.get(..10)?)?;
    let local = day * SECS_PER_DAY;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some((local, None));
    }
    if !matches!(rest[0], b'T' | b' ') {
        return None;
    }
    let rest = &rest[1..];
    // The clock ends where an offset starts.
    let end = rest
        .iter()
        .position(|&c| matches!(c, b'Z' | b'z' | b'+' | b'-' | b' '))
        .unwrap_or(rest.len());
    let secs = parse_clock(&rest[..end])?;
    let mut tail = &rest[end..];
    if tail.first() == Some(&b' ') {
        tail = &tail[1..];
    }
    let offset = match tail {
        [] => None,
        [b'Z' | b'z'] => Some(0),
        b"UTC" | b"GMT" => Some(0),
        _ => Some(parse_offset(tail)?),
    };
    Some((local + secs, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in [-800_000i64, -1, 0, 1, 17_532, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2018, 1, 1), 17_532);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn shapes() {
        let t = days_from_civil(2018, 1, 1) * SECS_PER_DAY + 17 * 3600;
        assert_eq!(parse_histdata(b"20180101 170000"), Some(t));
        assert_eq!(parse_histdata(b"20180230 170000"), None);
        assert_eq!(parse_histdata(b"20180101 240000"), None);
        assert_eq!(parse_dukascopy(b"01.01.2018 17:00:00.000"), Some(t));
        assert_eq!(parse_dukascopy(b"01.01.2018 17:00:00.500"), None);
        assert_eq!(parse_iso(b"2018-01-01T17:00:00Z"), Some((t, Some(0))));
        assert_eq!(parse_iso(b"2018-01-01 17:00"), Some((t, None)));
        assert_eq!(
            parse_iso(b"2018-01-01T19:00:00+02:00"),
            Some((t + 7200, Some(7200)))
        );
        assert_eq!(
            parse_iso(b"2018-01-01 17:00:00.000 -0500"),
            Some((t, Some(-18000)))
        );
        assert_eq!(parse_iso(b"2018-01-01"), Some((t - 17 * 3600, None)));
        assert_eq!(parse_iso(b"2018-01-01X"), None);
    }

    #[test]
    fn tz_spec_parse_and_display() {
        assert_eq!("UTC".parse::<TzSpec>(), Ok(TzSpec::Fixed(0)));
        assert_eq!("+03:00".parse::<TzSpec>(), Ok(TzSpec::Fixed(10_800)));
        assert_eq!("-05:00".parse::<TzSpec>(), Ok(TzSpec::Fixed(-18_000)));
        assert_eq!("-0530".parse::<TzSpec>(), Ok(TzSpec::Fixed(-19_800)));
        assert_eq!("UTC+2".parse::<TzSpec>(), Ok(TzSpec::Fixed(7_200)));
        assert_eq!(
            "Europe/Athens".parse::<TzSpec>(),
            Ok(TzSpec::Named(chrono_tz::Europe::Athens))
        );
        assert!("+25:00".parse::<TzSpec>().is_err());
        assert!("Mars/Olympus".parse::<TzSpec>().is_err());
        assert_eq!(TzSpec::Fixed(-18_000).to_string(), "-05:00");
        assert_eq!(TzSpec::Fixed(0).to_string(), "UTC");
    }

    #[test]
    fn named_zone_handles_dst_days() {
        let mut z = ToUtc::new(TzSpec::Named(chrono_tz::Europe::Athens));
        let local = |y, m, d, h: i64| days_from_civil(y, m, d) * SECS_PER_DAY + h * 3600;
        // Winter: UTC+2; summer: UTC+3.
        assert_eq!(z.convert(local(2024, 1, 10, 12)), Ok(local(2024, 1, 10, 10)));
        assert_eq!(z.convert(local(2024, 7, 10, 12)), Ok(local(2024, 7, 10, 9)));
        // 2024-03-31: 03:00 local jumps to 04:00.
        assert_eq!(z.convert(local(2024, 3, 31, 2)), Ok(local(2024, 3, 31, 0)));
        assert_eq!(z.convert(local(2024, 3, 31, 3)), Err(Nonexistent));
        assert_eq!(z.convert(local(2024, 3, 31, 4)), Ok(local(2024, 3, 31, 1)));
        // 2024-10-27: 04:00 local goes back to 03:00; 03:xx is ambiguous, first meaning wins.
        assert_eq!(z.convert(local(2024, 10, 27, 3)), Ok(local(2024, 10, 27, 0)));
        assert_eq!(z.convert(local(2024, 10, 27, 5)), Ok(local(2024, 10, 27, 3)));
    }
}
