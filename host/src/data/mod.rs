//! Loading bars: sniffing the format, parsing, converting to UTC and integer points, and
//! finding every defect (SPEC section 1).
//!
//! [`load`] reads every file fully and collects *all* defects before deciding, so one run tells
//! the user everything that is wrong with their data instead of one problem per attempt. Bars
//! are only returned when nothing is wrong (after `--repair` has fixed what it may fix).

mod archive;
mod cache;
pub mod check;
mod csv;
pub mod error;
pub mod format;
mod input;
mod parquet;
pub mod price;
pub mod time;
pub mod validate;

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

pub use error::{DataError, Defect, DefectKind, ParseOptionError, Unit};
pub use format::Format;
pub use input::Input;
pub use price::{MAX_DIGITS, digits_for_path, format_points, symbol_in_name};
pub use time::{TzSpec, format_utc};
pub use validate::{Gap, GapStats, Repair, RepairAction, Repairs};

use error::Defects;
use validate::{FileSpan, Rows};

/// A validated series of bars: UTC times and integer-point bid prices, strictly increasing in
/// time, every bar with `low <= min(open, close)` and `high >= max(open, close)`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bars {
    /// Bar open time, seconds since the Unix epoch, UTC.
    pub time: Vec<i64>,
    pub open: Vec<i64>,
    pub high: Vec<i64>,
    pub low: Vec<i64>,
    pub close: Vec<i64>,
    /// Decimal digits of the points (`price = points / 10^digits`).
    pub digits: u32,
}

impl Bars {
    /// The bars whose time lies in `window` (UTC seconds, end excluded), as if the data held only
    /// those: a windowed run's features start afresh at the window's first bar, so a split run is
    /// the same as two runs on two files cut at the split.
    pub fn window(&self, window: &std::ops::Range<i64>) -> Bars {
        let a = self.time.partition_point(|&t| t < window.start);
        let b = self.time.partition_point(|&t| t < window.end).max(a);
        Bars {
            time: self.time[a..b].to_vec(),
            open: self.open[a..b].to_vec(),
            high: self.high[a..b].to_vec(),
            low: self.low[a..b].to_vec(),
            close: self.close[a..b].to_vec(),
            digits: self.digits,
        }
    }

    pub fn len(&self) -> usize {
        self.close.len()
    }
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }
}

/// What was read: one entry per input file, for the results' metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceFile {
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
    pub format: String,
    pub rows: usize,
    /// The zone the file's local times were read in, and why (format rule, `--tz`, default).
    pub zone: String,
}

/// How to read the files. The default sniffs the format, requires `--tz` only where the format
/// does not fix the zone, takes digits from the file name, and does not repair.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Force this format instead of sniffing (for a zip: the format of the file inside).
    pub format: Option<Format>,
    /// Zone of timestamps that carry none. Required for MT4/MT5; for generic CSV and Parquet,
    /// UTC when absent; ignored by HistData (fixed EST) and Dukascopy (zone in the header),
    /// whose zones are part of the format.
    pub tz: Option<TzSpec>,
    /// Decimal digits of a price; else from the symbol in the file name (JPY pairs 3, others
    /// 5), else 5.
    pub digits: Option<u32>,
    /// Drop duplicated timestamps (keeping the first) and sort each file by time, reporting what
    /// changed, instead of failing on those two defects.
    pub repair: bool,
    /// Keep parsed data here and reuse it when the same files are loaded the same way again
    /// (see `cache.rs`); `None` parses every time.
    pub cache_dir: Option<PathBuf>,
}

/// What a successful load found besides the bars.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadReport {
    /// The files in series order (by first bar).
    pub files: Vec<SourceFile>,
    pub digits: u32,
    pub repairs: Repairs,
    pub gaps: GapStats,
    /// The bar interval: the most common step between bars, in seconds (0 for a single bar).
    pub interval_secs: i64,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: usize = self.files.iter().map(|s| s.rows).sum();
        writeln!(
            f,
            "{rows} bars from {} file{}, {} digits, interval {} s",
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" },
            self.digits,
            self.interval_secs
        )?;
        for s in &self.files {
            writeln!(
                f,
                "  {} ({}, {} rows, times in {}) sha256 {}",
                s.path.display(),
                s.format,
                s.rows,
                s.zone,
                s.sha256
            )?;
        }
        if !self.repairs.is_empty() {
            writeln!(f, "{}", self.repairs)?;
        }
        write!(f, "{}", self.gaps)
    }
}

/// One file after parsing and its own checks.
struct Loaded {
    source: SourceFile,
    name: String,
    unit: Unit,
    rows: Rows,
}

/// Loads inputs (files, or bytes named like one) as one series of bars (see [`LoadOptions`] and
/// SPEC section 1).
///
/// Every defect in every file is collected before returning [`DataError::Defects`]; the files
/// are joined in time order and must not overlap.
pub fn load(inputs: &[Input], opts: &LoadOptions) -> Result<(Bars, LoadReport), DataError> {
    if inputs.is_empty() {
        return Err(DataError::NoInput);
    }
    let digits = match opts.digits {
        Some(d) if d > MAX_DIGITS => {
            return Err(DataError::Options(format!(
                "--digits {d} is more than {MAX_DIGITS}"
            )));
        }
        Some(d) => d,
        None => inputs.iter().find_map(|i| digits_for_path(i.path())).unwrap_or(5),
    };
    // Each file is read and hashed on its own and let go before the next: the digests are the
    // cache key, and holding every file's bytes at once (500 MB for 25 years of HistData CSV)
    // only to find the parsed bars in the cache would double the peak memory of a long run.
    let mut digests = Vec::with_capacity(inputs.len());
    for input in inputs {
        digests.push(crate::util::digest::sha256_hex(&input.read()?));
    }
    let cache = opts.cache_dir.as_deref().map(|dir| {
        let files: Vec<(String, String)> = inputs
            .iter()
            .zip(&digests)
            .map(|(input, sha)| (input.path().display().to_string(), sha.clone()))
            .collect();
        (dir, cache::key(&files, opts))
    });
    if let Some((dir, key)) = &cache
        && let Some(hit) = cache::read(dir, key)
    {
        return Ok(hit);
    }
    let loaded = parse_files(inputs, digests, opts, digits)?;
    if let Some((dir, key)) = &cache {
        cache::write(dir, key, &loaded);
    }
    Ok(loaded)
}

/// Reads, parses and joins `inputs`, one file's bytes at a time; `digests` are their SHA-256s
/// as first read, and a file whose bytes have changed since is refused (its digest would not
/// describe the bars).
fn parse_files(
    inputs: &[Input],
    digests: Vec<String>,
    opts: &LoadOptions,
    digits: u32,
) -> Result<(Bars, LoadReport), DataError> {
    let mut defects = Defects::default();
    let mut repairs = validate::Repairs::default();
    let mut loaded = Vec::with_capacity(inputs.len());
    for (input, sha256) in inputs.iter().zip(digests) {
        let path = input.path();
        let bytes = input.read()?;
        if crate::util::digest::sha256_hex(&bytes) != sha256 {
            return Err(DataError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other("the file changed while stratbox was reading it"),
            });
        }
        loaded.push(load_file(
            path,
            bytes,
            sha256,
            opts,
            digits,
            &mut defects,
            &mut repairs,
        )?);
    }

    let spans: Vec<FileSpan> = loaded
        .iter()
        .map(|l| FileSpan {
            file: &l.name,
            unit: l.unit,
            rows: &l.rows,
        })
        .collect();
    let order = validate::order_files(&spans, &mut defects);
    if !defects.is_empty() {
        return Err(defects.into_error());
    }

    let n: usize = loaded.iter().map(|l| l.rows.len()).sum();
    let mut bars = Bars {
        time: Vec::with_capacity(n),
        open: Vec::with_capacity(n),
        high: Vec::with_capacity(n),
        low: Vec::with_capacity(n),
        close: Vec::with_capacity(n),
        digits,
    };
    let mut files = Vec::with_capacity(loaded.len());
    let mut loaded: Vec<Option<Loaded>> = loaded.into_iter().map(Some).collect();
    for i in order {
        let Some(l) = loaded[i].take() else { continue };
        bars.time.extend_from_slice(&l.rows.time);
        bars.open.extend_from_slice(&l.rows.open);
        bars.high.extend_from_slice(&l.rows.high);
        bars.low.extend_from_slice(&l.rows.low);
        bars.close.extend_from_slice(&l.rows.close);
        files.push(l.source);
    }
    let (interval_secs, gaps) = validate::gap_stats(&bars.time);
    let report = LoadReport {
        files,
        digits,
        repairs,
        gaps,
        interval_secs,
    };
    Ok((bars, report))
}

/// Unzips, sniffs, parses and order-checks one file.
fn load_file(
    path: &std::path::Path,
    bytes: Cow<'static, [u8]>,
    sha256: String,
    opts: &LoadOptions,
    digits: u32,
    defects: &mut Defects,
    repairs: &mut Repairs,
) -> Result<Loaded, DataError> {
    let (name, content, zipped) = if format::is_zip(&bytes) {
        let (inner, content) = archive::read_single(&bytes).map_err(|why| DataError::Zip {
            path: path.to_path_buf(),
            why,
        })?;
        (format!("{}:{inner}", path.display()), Cow::Owned(content), true)
    } else {
        (path.display().to_string(), bytes, false)
    };
    let named = || PathBuf::from(&name);
    if format::strip_bom(&content).trim_ascii().is_empty() {
        return Err(DataError::Empty { path: named() });
    }
    let format = match opts.format {
        Some(f) => f,
        None => format::sniff(&content).map_err(|why| DataError::UnknownFormat { path: named(), why })?,
    };

    let mut own = Defects::default();
    let (rows, zone, unit) = if format == Format::Parquet {
        let out = parquet::parse_parquet(&name, &content, digits, opts.tz, &mut own)
            .map_err(|why| DataError::Parquet { path: named(), why })?;
        (out.rows, out.zone, Unit::Row)
    } else {
        let input = csv::TextInput {
            name: &name,
            bytes: &content,
            format,
            digits,
            tz: opts.tz,
        };
        let out = csv::parse_text(&input, &mut own).map_err(|e| match e {
            csv::TextError::Layout(why) => DataError::UnknownFormat {
                path: named(),
                why: format!("not a {format} file: {why}"),
            },
            csv::TextError::MissingTimezone => DataError::MissingTimezone {
                path: named(),
                format,
            },
        })?;
        (out.rows, out.zone, Unit::Line)
    };
    if rows.len() == 0 && own.is_empty() {
        return Err(DataError::Empty { path: named() });
    }
    let rows = validate::check_order(rows, &name, unit, opts.repair, &mut own, repairs);
    // Row defects were found in line order and order defects after them: interleave by line.
    own.list.sort_by_key(|d| d.line);
    defects.append(own);
    Ok(Loaded {
        source: SourceFile {
            path: path.to_path_buf(),
            sha256,
            format: if zipped {
                format!("{format} (zip)")
            } else {
                format.to_string()
            },
            rows: rows.len(),
            zone,
        },
        name,
        unit,
        rows,
    })
}
