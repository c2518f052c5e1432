//! Hand-written parsers for the text formats (HistData ASCII, MT4, MT5, Dukascopy, generic CSV).
//!
//! One pass over the bytes splits lines and fields together, with no allocation per line: the
//! 20 MB HistData year would otherwise spend most of its load time in `String`s and a CSV
//! crate's generality. Quoting is limited to stripping `"..."` around a field, which is all
//! these exports ever use. A volume column, when present, is not read: bars carry no volume.

use super::error::{Defect, DefectKind, Defects, Unit};
use super::format::{Columns, Format, TimeCols, dukascopy_zone, header_name, resolve_columns, strip_bom};
use super::price::{PriceError, parse_points};
use super::time::{
    Nonexistent, SECS_PER_DAY, ToUtc, TzSpec, parse_clock, parse_date, parse_dukascopy, parse_histdata,
    parse_iso,
};
use super::validate::{Rows, check_prices};

/// Fields beyond this many in a line are kept together in the last one (never needed: the
/// widest format, MT5, has 9).
const MAX_FIELDS: usize = 32;

/// HistData's "EST": UTC-5 all year, no daylight saving.
const HISTDATA_EST: TzSpec = TzSpec::Fixed(-5 * 3600);

/// What the caller knows about the file.
pub(crate) struct TextInput<'a> {
    /// Display name for messages (`archive.zip:inner.csv` inside a zip).
    pub name: &'a str,
    pub bytes: &'a [u8],
    pub format: Format,
    pub digits: u32,
    /// `--tz`, if given.
    pub tz: Option<TzSpec>,
}

/// Why a text file could not be parsed at all (as opposed to per-row defects).
#[derive(Debug)]
pub(crate) enum TextError {
    /// The header or first line does not fit the format.
    Layout(String),
    /// The format keeps broker time and no `--tz` was given.
    MissingTimezone,
}

/// Parsed rows, and a description of the zone their times were read in.
pub(crate) struct TextOutput {
    pub rows: Rows,
    pub zone: String,
}

/// How the timestamp text is shaped.
#[derive(Debug, Clone, Copy)]
enum Shape {
    HistData,
    Dukascopy,
    /// ISO-like, optionally with an offset; or a date column plus a time column.
    Iso,
}

struct Layout {
    sep: u8,
    header: bool,
    unquote: bool,
    shape: Shape,
    time: TimeCols,
    time_name: String,
    prices: [usize; 4],
    /// Zone of times written without an offset.
    zone: TzSpec,
}

/// Parses a whole text file. Row defects go to `defects`; rows whose time could be read are
/// returned (even if a price is bad) so that ordering can still be checked.
pub(crate) fn parse_text(inp: &TextInput, defects: &mut Defects) -> Result<TextOutput, TextError> {
    let bytes = strip_bom(inp.bytes);
    let (layout, zone) = layout(inp, bytes)?;
    let rows = parse_rows(inp, bytes, &layout, defects);
    Ok(TextOutput { rows, zone })
}

/// The first non-blank line (the header for formats that have one).
fn header_line(bytes: &[u8]) -> &[u8] {
    bytes
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or(&[])
}

fn layout(inp: &TextInput, bytes: &[u8]) -> Result<(Layout, String), TextError> {
    let broker_zone = || -> Result<(TzSpec, String), TextError> {
        let tz = inp.tz.ok_or(TextError::MissingTimezone)?;
        Ok((tz, format!("{tz} (--tz)")))
    };
    let fixed = |sep, shape, time, zone| Layout {
        sep,
        header: false,
        unquote: false,
        shape,
        time,
        time_name: "time".into(),
        prices: [1, 2, 3, 4],
        zone,
    };
    Ok(match inp.format {
        Format::HistDataAscii => (
            fixed(b';', Shape::HistData, TimeCols::One(0), HISTDATA_EST),
            format!("{HISTDATA_EST} (HistData: fixed EST, no daylight saving)"),
        ),
        Format::Mt4 => {
            let (zone, desc) = broker_zone()?;
            let mut l = fixed(b',', Shape::Iso, TimeCols::DateAndTime(0, 1), zone);
            l.prices = [2, 3, 4, 5];
            (l, desc)
        }
        Format::Mt5 | Format::GenericCsv | Format::Dukascopy => {
            let head = header_line(bytes);
            let sep = match inp.format {
                Format::Mt5 => b'\t',
                Format::Dukascopy => b',',
                _ => guess_separator(head),
            };
            let raw: Vec<String> = head
                .split(|&c| c == sep)
                .map(|c| String::from_utf8_lossy(c.trim_ascii()).into_owned())
                .collect();
            let names: Vec<String> = raw.iter().map(|r| header_name(r.as_bytes())).collect();
            let cols = resolve_columns(&names, &raw).map_err(TextError::Layout)?;
            let Columns {
                time,
                time_name,
                prices,
            } = cols;
            let (shape, zone, desc) = match inp.format {
                Format::Mt5 => {
                    let (z, d) = broker_zone()?;
                    (Shape::Iso, z, d)
                }
                Format::Dukascopy => {
                    let TimeCols::One(i) = time else {
                        return Err(TextError::Layout("a Dukascopy file has one time column".into()));
                    };
                    let z = dukascopy_zone(names[i].as_bytes()).ok_or_else(|| {
                        TextError::Layout(format!(
                            "the time column {:?} names no known zone (expected `Gmt time` or `Time (EET)`)",
                            raw[i]
                        ))
                    })?;
                    (
                        Shape::Dukascopy,
                        z,
                        format!("{z} (Dukascopy header {:?})", raw[i]),
                    )
                }
                _ => match inp.tz {
                    Some(tz) => (
                        Shape::Iso,
                        tz,
                        format!("{tz} (--tz) for timestamps without an offset"),
                    ),
                    None => (
                        Shape::Iso,
                        TzSpec::UTC,
                        "UTC (assumed: no --tz) for timestamps without an offset".into(),
                    ),
                },
            };
            (
                Layout {
                    sep,
                    header: true,
                    unquote: true,
                    shape,
                    time,
                    time_name,
                    prices,
                    zone,
                },
                desc,
            )
        }
        Format::Parquet => {
            return Err(TextError::Layout("a Parquet file is not text".into()));
        }
    })
}

/// The most frequent of `,`, `;` and tab in a header line.
fn guess_separator(head: &[u8]) -> u8 {
    let count = |s: u8| head.iter().filter(|&&c| c == s).count();
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|&s| count(s))
        .unwrap_or(b',')
}

#[inline]
fn unquote(f: &[u8]) -> &[u8] {
    let f = f.trim_ascii();
    if f.len() >= 2 && f[0] == b'"' && f[f.len() - 1] == b'"' {
        &f[1..f.len() - 1]
    } else {
        f
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b.trim_ascii()).into_owned()
}

const PRICE_NAMES: [&str; 4] = ["open", "high", "low", "close"];

/// The row loop: one pass finding separators and line ends together.
fn parse_rows(inp: &TextInput, bytes: &[u8], l: &Layout, defects: &mut Defects) -> Rows {
    // ~50 bytes a row in every format: reserve once instead of growing.
    let mut rows = Rows::with_capacity(bytes.len() / 48 + 1);
    let mut to_utc = ToUtc::new(l.zone);
    let mut fields: [&[u8]; MAX_FIELDS] = [&[]; MAX_FIELDS];
    let mut line_no: usize = 0;
    let mut header_pending = l.header;
    let mut blank_lines: Vec<usize> = Vec::new();
    let sep = l.sep;
    let len = bytes.len();
    let mut pos = 0;
    let defect = |line, field: &str, value: String, kind| Defect {
        file: inp.name.to_string(),
        line,
        unit: Unit::Line,
        field: field.to_string(),
        value,
        kind,
    };
    while pos < len {
        line_no += 1;
        let mut n = 0;
        let mut start = pos;
        let mut i = pos;
        while i < len {
            let c = bytes[i];
            if c == b'\n' {
                break;
            }
            if c == sep && n < MAX_FIELDS - 1 {
                fields[n] = &bytes[start..i];
                n += 1;
                start = i + 1;
            }
            i += 1;
        }
        let line = &bytes[pos..i];
        let mut last = &bytes[start..i];
        if let Some(s) = last.strip_suffix(b"\r") {
            last = s;
        }
        fields[n] = last;
        n += 1;
        pos = i + 1;

        if line.trim_ascii().is_empty() {
            blank_lines.push(line_no);
            continue;
        }
        if header_pending {
            header_pending = false;
            blank_lines.clear();
            continue;
        }
        // Blank lines are only reported when data follows them; trailing ones are harmless.
        for b in blank_lines.drain(..) {
            defects.push(defect(b, &l.time_name, String::new(), DefectKind::Missing));
        }
        let get = |k: usize| -> Option<&[u8]> {
            (k < n).then(|| if l.unquote { unquote(fields[k]) } else { fields[k] })
        };

        // Time.
        let time = match read_time(l, &get, &mut to_utc) {
            Ok(t) => Some(t),
            Err((field, value, kind)) => {
                defects.push(defect(line_no, field, value, kind));
                None
            }
        };

        // Prices.
        let read = std::array::from_fn(|k| match get(l.prices[k]) {
            Some(f) if !f.is_empty() => parse_points(f, inp.digits).map_err(|e| price_defect(e, inp.digits)),
            _ => Err(DefectKind::Missing),
        });
        let p = check_prices(read, inp.digits, |k, kind| {
            let value = get(l.prices[k]).map(text).unwrap_or_default();
            defects.push(defect(line_no, PRICE_NAMES[k], value, kind));
        });
        if let Some(t) = time {
            rows.push(t, p, line_no as u32);
        }
    }
    rows
}

/// What went wrong with a time: field name, value text, kind.
type TimeDefect<'n> = (&'n str, String, DefectKind);

fn unparsable(expected: &str) -> DefectKind {
    DefectKind::Unparsable {
        expected: expected.to_string(),
    }
}

#[inline]
fn read_time<'n, 'b>(
    l: &'n Layout,
    get: &impl Fn(usize) -> Option<&'b [u8]>,
    to_utc: &mut ToUtc,
) -> Result<i64, TimeDefect<'n>> {
    let missing = |name: &'n str| (name, String::new(), DefectKind::Missing);
    let nonexistent = |name: &'n str, v: &[u8], _: Nonexistent| {
        (
            name,
            text(v),
            unparsable(&format!(
                "a local time that exists in {} (it falls in the daylight-saving jump)",
                l.zone
            )),
        )
    };
    match l.time {
        TimeCols::One(k) => {
            let name = l.time_name.as_str();
            let v = get(k).filter(|v| !v.is_empty()).ok_or_else(|| missing(name))?;
            let (local, offset) = match l.shape {
                Shape::HistData => (parse_histdata(v), None),
                Shape::Dukascopy => (parse_dukascopy(v), None),
                Shape::Iso => match parse_iso(v) {
                    Some((t, off)) => (Some(t), off),
                    None => (None, None),
                },
            };
            let Some(local) = local else {
                let expected = match l.shape {
                    Shape::HistData => "a time `YYYYMMDD HHMMSS`",
                    Shape::Dukascopy => "a time `dd.mm.yyyy HH:MM:SS.000`",
                    Shape::Iso => "a timestamp `YYYY-MM-DD[ HH:MM[:SS]][Z|+HH:MM]`",
                };
                return Err((name, text(v), unparsable(expected)));
            };
            match offset {
                Some(off) => Ok(local - off as i64),
                None => to_utc.convert(local).map_err(|e| nonexistent(name, v, e)),
            }
        }
        TimeCols::DateAndTime(d, t) => {
            let dv = get(d).filter(|v| !v.is_empty()).ok_or_else(|| missing("date"))?;
            let tv = get(t).filter(|v| !v.is_empty()).ok_or_else(|| missing("time"))?;
            let day = parse_date(dv).ok_or_else(|| ("date", text(dv), unparsable("a date `YYYY.MM.DD`")))?;
            let secs = parse_clock(tv)
                .ok_or_else(|| ("time", text(tv), unparsable("a time of day `HH:MM[:SS]`")))?;
            to_utc.convert(day * SECS_PER_DAY + secs).map_err(|e| {
                let both = [dv.trim_ascii(), tv.trim_ascii()].join(&b' ');
                nonexistent("time", &both, e)
            })
        }
    }
}

/// The defect kind of a price that did not parse.
pub(crate) fn price_defect(e: PriceError, digits: u32) -> DefectKind {
    match e {
        PriceError::Missing => DefectKind::Missing,
        PriceError::NaN => DefectKind::NaN,
        PriceError::TooFine => DefectKind::TooFine { digits },
        PriceError::Unparsable => unparsable("a decimal number"),
    }
}
