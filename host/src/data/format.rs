//! The supported file formats, recognising them from their first lines, and mapping a header to
//! columns.
//!
//! Sniffing looks at content, never at the file name: HistData and MetaTrader files are both
//! `.csv`, and what matters (separator, timestamp shape, header) is all in the first two lines.

use std::fmt;
use std::str::FromStr;

use super::error::ParseOptionError;
use super::time::{TzSpec, parse_date, parse_dukascopy, parse_histdata};

/// A file layout (SPEC section 1). A `.zip` is a container, not a format: its inner file has one
/// of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `YYYYMMDD HHMMSS;open;high;low;close;volume`, no header, fixed EST (UTC-5).
    HistDataAscii,
    /// `YYYY.MM.DD,HH:MM,open,high,low,close,volume`, no header, broker time.
    Mt4,
    /// Tab-separated with a `<DATE>\t<TIME>\t<OPEN>...` header, broker time.
    Mt5,
    /// `Gmt time,...` (UTC) or `Time (EET),...` (Europe/Athens rules) header,
    /// `dd.mm.yyyy HH:MM:SS.mmm`.
    Dukascopy,
    /// Header naming `timestamp`/`time`/`date`, `open`, `high`, `low`, `close`; ISO timestamps.
    GenericCsv,
    /// Columns as [`Format::GenericCsv`].
    Parquet,
}

impl Format {
    /// Formats whose timestamps are in an unstated local time, so `--tz` is required.
    pub fn needs_tz(self) -> bool {
        matches!(self, Format::Mt4 | Format::Mt5)
    }

    /// The `--format` value.
    pub fn name(self) -> &'static str {
        match self {
            Format::HistDataAscii => "histdata",
            Format::Mt4 => "mt4",
            Format::Mt5 => "mt5",
            Format::Dukascopy => "dukascopy",
            Format::GenericCsv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = ParseOptionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "histdata" | "histdata-ascii" | "ascii" => Format::HistDataAscii,
            "mt4" | "metatrader4" => Format::Mt4,
            "mt5" | "metatrader5" => Format::Mt5,
            "dukascopy" => Format::Dukascopy,
            "csv" | "generic" | "generic-csv" => Format::GenericCsv,
            "parquet" => Format::Parquet,
            other => {
                return Err(ParseOptionError(format!(
                    "unknown format {other:?}: expected one of histdata, mt4, mt5, dukascopy, csv, parquet"
                )));
            }
        })
    }
}

/// A zip archive starts with a local file header.
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// A Parquet file starts (and ends) with `PAR1`.
pub(crate) fn is_parquet(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PAR1")
}

/// The bytes without a UTF-8 byte-order mark (spreadsheet exports add one).
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// The first `n` lines (without `\r\n`), skipping blank lines.
fn first_lines(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    strip_bom(bytes)
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.trim_ascii().is_empty())
        .take(n)
        .collect()
}

/// The format of a file from its content.
pub(crate) fn sniff(bytes: &[u8]) -> Result<Format, String> {
    if is_parquet(bytes) {
        return Ok(Format::Parquet);
    }
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let lines = first_lines(head, 2);
    let Some(&first) = lines.first() else {
        return Err("the file is empty".into());
    };
    let first_field = |l: &[u8]| -> Vec<u8> {
        let end = l
            .iter()
            .position(|&c| matches!(c, b',' | b';' | b'\t'))
            .unwrap_or(l.len());
        l[..end].trim_ascii().to_ascii_lowercase()
    };
    let f0 = first_field(first);
    if f0.starts_with(b"<date>") || f0.starts_with(b"\"<date>") {
        return Ok(Format::Mt5);
    }
    if f0.iter().any(|c| c.is_ascii_alphabetic()) {
        // A header. Dukascopy's is recognised by its time column and its row shape.
        let row_is_dukascopy = lines
            .get(1)
            .and_then(|l| l.split(|&c| c == b',').next())
            .is_some_and(|t| parse_dukascopy(t.trim_ascii()).is_some());
        if dukascopy_zone(&f0).is_some() && row_is_dukascopy {
            return Ok(Format::Dukascopy);
        }
        return Ok(Format::GenericCsv);
    }
    if first.len() > 16 && first[15] == b';' && parse_histdata(&first[..15]).is_some() {
        return Ok(Format::HistDataAscii);
    }
    if first.len() > 16 && first[10] == b',' && first[13] == b':' && parse_date(&first[..10]).is_some() {
        return Ok(Format::Mt4);
    }
    let shown = String::from_utf8_lossy(&first[..first.len().min(80)]).into_owned();
    Err(format!(
        "the first line {shown:?} is neither a header nor a HistData (`YYYYMMDD HHMMSS;...`) or \
         MetaTrader 4 (`YYYY.MM.DD,HH:MM,...`) row"
    ))
}

/// The zone named by a Dukascopy time column header (lower-case): `gmt time` is UTC,
/// `time (eet)` is Eastern European Time with daylight saving, i.e. Europe/Athens rules.
/// `None` if the header is not a Dukascopy time column or names an unknown zone.
pub(crate) fn dukascopy_zone(header: &[u8]) -> Option<TzSpec> {
    let h = header.trim_ascii();
    if h == b"gmt time" || h == b"utc time" {
        return Some(TzSpec::UTC);
    }
    let inner = h.strip_prefix(b"time (")?.strip_suffix(b")")?;
    match inner {
        b"eet" => Some(TzSpec::Named(chrono_tz::Europe::Athens)),
        b"gmt" | b"utc" => Some(TzSpec::UTC),
        other => std::str::from_utf8(other).ok()?.parse().ok(),
    }
}

/// Where the time comes from in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeCols {
    /// One column holding date and time (or only a date).
    One(usize),
    /// A date column and a time-of-day column.
    DateAndTime(usize, usize),
}

/// Column positions of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    pub time: TimeCols,
    /// Name of the single time column as written (for messages).
    pub time_name: String,
    /// open, high, low, close.
    pub prices: [usize; 4],
}

/// Normalises a header cell: trimmed, unquoted, lower-case, without MetaTrader's `<...>`.
pub(crate) fn header_name(cell: &[u8]) -> String {
    let c = cell.trim_ascii();
    let c = c
        .strip_prefix(b"\"")
        .and_then(|c| c.strip_suffix(b"\""))
        .unwrap_or(c);
    let c = c
        .strip_prefix(b"<")
        .and_then(|c| c.strip_suffix(b">"))
        .unwrap_or(c);
    String::from_utf8_lossy(c.trim_ascii()).to_ascii_lowercase()
}

/// Maps header names (already [`header_name`]d) to columns. The time column is the first of
/// `timestamp`, `datetime`, `date_time`; else `date` with `time` as two columns; else `time` or
/// `date` alone; else a Dukascopy-style `gmt time` / `time (zone)`.
pub(crate) fn resolve_columns(names: &[String], raw: &[String]) -> Result<Columns, String> {
    let find = |want: &str| names.iter().position(|n| n == want);
    for (i, n) in names.iter().enumerate() {
        if !n.is_empty() && names[..i].contains(n) {
            return Err(format!("the header names column {n:?} twice"));
        }
    }
    let single = ["timestamp", "datetime", "date_time", "date time"]
        .iter()
        .find_map(|w| find(w));
    let time = match (single, find("date"), find("time")) {
        (Some(i), _, _) => TimeCols::One(i),
        (None, Some(d), Some(t)) => TimeCols::DateAndTime(d, t),
        (None, Some(i), None) | (None, None, Some(i)) => TimeCols::One(i),
        (None, None, None) => match names.iter().position(|n| dukascopy_zone(n.as_bytes()).is_some()) {
            Some(i) => TimeCols::One(i),
            None => {
                return Err(format!(
                    "the header {raw:?} has no timestamp, time or date column"
                ));
            }
        },
    };
    let mut prices = [0; 4];
    for (slot, want) in prices.iter_mut().zip(["open", "high", "low", "close"]) {
        *slot = find(want).ok_or_else(|| format!("the header {raw:?} has no {want:?} column"))?;
    }
    let time_name = match time {
        TimeCols::One(i) => raw[i].clone(),
        TimeCols::DateAndTime(..) => "date".into(),
    };
    Ok(Columns {
        time,
        time_name,
        prices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in [
            Format::HistDataAscii,
            Format::Mt4,
            Format::Mt5,
            Format::Dukascopy,
            Format::GenericCsv,
            Format::Parquet,
        ] {
            assert_eq!(f.to_string().parse::<Format>(), Ok(f));
        }
        assert!("xls".parse::<Format>().is_err());
    }

    #[test]
    fn sniffs_each_layout() {
        assert_eq!(
            sniff(b"20180101 170000;1.200370;1.201000;1.200370;1.201000;0\n"),
            Ok(Format::HistDataAscii)
        );
        assert_eq!(
            sniff(b"2022.08.15,10:06,1.02340,1.02359,1.02340,1.02348,105\r\n"),
            Ok(Format::Mt4)
        );
        assert_eq!(
            sniff(b"<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"),
            Ok(Format::Mt5)
        );
        assert_eq!(
            sniff(b"Time (EET),Open,High,Low,Close,Volume\n20.02.2023 00:00:00.000,1,1,1,1,1"),
            Ok(Format::Dukascopy)
        );
        assert_eq!(
            sniff(b"\xEF\xBB\xBFtimestamp,open,high,low,close\n2020-01-01T00:00:00Z,1,1,1,1\n"),
            Ok(Format::GenericCsv)
        );
        assert_eq!(sniff(b"PAR1...."), Ok(Format::Parquet));
        assert!(sniff(b"1;2;3\n").is_err());
        assert!(sniff(b"").is_err());
    }

    #[test]
    fn header_resolution() {
        let raw: Vec<String> = ["Date", "Time", "Open", "High", "Low", "Close"]
            .map(String::from)
            .to_vec();
        let names: Vec<String> = raw.iter().map(|r| header_name(r.as_bytes())).collect();
        let c = resolve_columns(&names, &raw).unwrap();
        assert_eq!(c.time, TimeCols::DateAndTime(0, 1));
        assert_eq!(c.prices, [2, 3, 4, 5]);
        let raw: Vec<String> = ["open", "high", "low", "close"].map(String::from).to_vec();
        assert!(resolve_columns(&raw, &raw).is_err());
        assert_eq!(header_name(b" <TICKVOL> "), "tickvol");
    }
}
