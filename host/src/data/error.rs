//! Typed errors of the loader, and the [`Defect`] record that names one bad value.
//!
//! A defect carries enough to find the value again in the file (file, line, field, the text as
//! written) because the user's next step is to open the file at that line; the message wording
//! is part of the contract (SPEC section 1: "reported with file, line and value").

use std::fmt;
use std::path::PathBuf;

use super::format::Format;

/// Defects beyond this many are counted but not kept: a file read with the wrong layout can have
/// one defect per row, and nobody reads a list of 372,607 of them.
pub const MAX_KEPT_DEFECTS: usize = 1000;

/// How many defects the error message spells out before "... and N more".
pub const SHOWN_DEFECTS: usize = 20;

/// Everything that can stop a load.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("no input files given")]
    NoInput,

    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{}: unknown format: {why} (use --format to force one of histdata, mt4, mt5, dukascopy, csv, parquet)",
        path.display()
    )]
    UnknownFormat { path: PathBuf, why: String },

    #[error("{}", defects_message(*count, list))]
    Defects { count: usize, list: Vec<Defect> },

    #[error(
        "{}: {format} files carry the broker's local time and no time zone; pass --tz with the \
         zone the file was written in (e.g. --tz +03:00 or --tz Europe/Athens)",
        path.display()
    )]
    MissingTimezone { path: PathBuf, format: Format },

    #[error("{}: bad zip archive: {why}", path.display())]
    Zip { path: PathBuf, why: String },

    #[error("{}: bad Parquet file: {why}", path.display())]
    Parquet { path: PathBuf, why: String },

    #[error("{}: holds no bars", path.display())]
    Empty { path: PathBuf },

    #[error("invalid option: {0}")]
    Options(String),
}

fn defects_message(count: usize, list: &[Defect]) -> String {
    use fmt::Write;
    let mut s = format!(
        "{count} defect{} in the data (nothing was loaded; --repair fixes only duplicated and \
         out-of-order timestamps):",
        if count == 1 { "" } else { "s" }
    );
    for d in list.iter().take(SHOWN_DEFECTS) {
        let _ = write!(s, "\n  {d}");
    }
    let shown = list.len().min(SHOWN_DEFECTS);
    if count > shown {
        let _ = write!(s, "\n  ... and {} more", count - shown);
    }
    s
}

/// Error of the `FromStr` implementations of the command-line option types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseOptionError(pub String);

/// Whether [`Defect::line`] counts text lines (1-based, header included) or Parquet rows
/// (1-based, data rows only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Unit {
    Line,
    Row,
}

/// One bad value, located precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defect {
    /// The file as the user named it; `archive.zip:inner.csv` for a file inside a zip.
    pub file: String,
    /// 1-based; see [`Defect::unit`].
    pub line: usize,
    pub unit: Unit,
    /// Canonical field name: `time`, `date`, `open`, `high`, `low`, `close` (or the header's
    /// name of the time column).
    pub field: String,
    /// The offending value as written in the file (for order defects, the UTC time).
    pub value: String,
    pub kind: DefectKind,
}

/// What is wrong with a value (SPEC section 1 lists these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefectKind {
    /// The text is not what the field must hold; `expected` says what would be.
    Unparsable {
        expected: String,
    },
    /// The line ends before this field (or the field is empty / null).
    Missing,
    NaN,
    NonPositive,
    /// `high < max(open, close)`; `max` is that maximum, written like the prices.
    HighBelowMax {
        max: String,
    },
    /// `low > min(open, close)`.
    LowAboveMin {
        min: String,
    },
    /// The same timestamp already appeared on `first_line` of the same file.
    Duplicate {
        first_line: usize,
    },
    /// Earlier than the previous row (`previous`, on `previous_line`).
    Backwards {
        previous: String,
        previous_line: usize,
    },
    /// This file's first bar is not after the last bar of `other_file`.
    Overlap {
        other_file: String,
        other_last: String,
    },
    /// Non-zero decimals beyond the instrument's digits.
    TooFine {
        digits: u32,
    },
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Line => "line",
            Unit::Row => "row",
        };
        write!(f, "{} {unit} {}, field {}: ", self.file, self.line, self.field)?;
        let v = if self.value.is_empty() {
            "\"\""
        } else {
            self.value.as_str()
        };
        match &self.kind {
            DefectKind::Unparsable { expected } => write!(f, "{v} is not {expected}"),
            DefectKind::Missing => write!(f, "missing"),
            DefectKind::NaN => write!(f, "{v} is not a number (NaN)"),
            DefectKind::NonPositive => write!(f, "{v} is not a positive price"),
            DefectKind::HighBelowMax { max } => write!(f, "{v} is below max(open, close) {max}"),
            DefectKind::LowAboveMin { min } => write!(f, "{v} is above min(open, close) {min}"),
            DefectKind::Duplicate { first_line } => {
                write!(f, "{v} repeats the timestamp of {unit} {first_line}")
            }
            DefectKind::Backwards {
                previous,
                previous_line,
            } => write!(
                f,
                "{v} goes backwards: the previous {unit} ({previous_line}) is at {previous}"
            ),
            DefectKind::Overlap {
                other_file,
                other_last,
            } => write!(
                f,
                "{v} overlaps {other_file}, which runs to {other_last} (files are joined, not merged)"
            ),
            DefectKind::TooFine { digits } => write!(
                f,
                "{v} has more than {digits} decimals (pass --digits if the instrument has more)"
            ),
        }
    }
}

/// Collects defects: counts all of them, keeps the first [`MAX_KEPT_DEFECTS`].
#[derive(Debug, Default)]
pub(crate) struct Defects {
    pub count: usize,
    pub list: Vec<Defect>,
}

impl Defects {
    pub fn push(&mut self, d: Defect) {
        self.count += 1;
        if self.list.len() < MAX_KEPT_DEFECTS {
            self.list.push(d);
        }
    }

    /// Appends another collector, keeping the cap.
    pub fn append(&mut self, other: Defects) {
        let extra = other.count - other.list.len();
        for d in other.list {
            self.push(d);
        }
        self.count += extra;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn into_error(self) -> DataError {
        DataError::Defects {
            count: self.count,
            list: self.list,
        }
    }
}
