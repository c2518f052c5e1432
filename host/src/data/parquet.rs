//! Parquet input, read with polars: the columns of the generic CSV, with the timestamp as a
//! datetime, a date or ISO text, and prices as floats, decimal text or integers.
//!
//! Defects are located by 1-based data row. Float prices are the one place a float becomes
//! points; [`points_from_f64`] refuses a float that is not exactly a `digits`-decimal price.

use std::io::Cursor;

use polars::prelude::{DataType, ParquetReader, SerReader, Series, TimeUnit};

use super::csv::price_defect;
use super::error::{Defect, DefectKind, Defects, Unit};
use super::format::{TimeCols, header_name, resolve_columns};
use super::price::{PriceError, parse_points, points_from_f32, points_from_f64, pow10};
use super::time::{SECS_PER_DAY, ToUtc, TzSpec, parse_iso};
use super::validate::{Rows, check_prices};

/// Rows of a Parquet file and the zone naive times were read in.
pub(crate) struct ParquetOutput {
    pub rows: Rows,
    pub zone: String,
}

/// A timestamp column's values, per row.
enum Times {
    /// Whole seconds; `utc` when the column carries a time zone (then values are instants).
    Seconds {
        v: Vec<Option<i64>>,
        per_sec: i64,
        utc: bool,
    },
    Days(Vec<Option<i32>>),
    Text(Vec<Option<String>>),
}

/// A price column's values, per row.
enum Prices {
    F64(Vec<Option<f64>>),
    F32(Vec<Option<f32>>),
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
}

fn text_values(s: &Series) -> Result<Vec<Option<String>>, String> {
    Ok(s.str()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

fn times(s: &Series) -> Result<Times, String> {
    Ok(match s.dtype() {
        DataType::Datetime(unit, tz) => {
            let per_sec = match unit {
                TimeUnit::Nanoseconds => 1_000_000_000,
                TimeUnit::Microseconds => 1_000_000,
                TimeUnit::Milliseconds => 1_000,
            };
            let ca = s.datetime().map_err(|e| e.to_string())?;
            Times::Seconds {
                v: ca.physical().iter().collect(),
                per_sec,
                utc: tz.is_some(),
            }
        }
        DataType::Date => Times::Days(s.date().map_err(|e| e.to_string())?.physical().iter().collect()),
        DataType::String => Times::Text(text_values(s)?),
        other => {
            return Err(format!(
                "column {:?} has type {other}; expected a datetime, a date or ISO text",
                s.name().as_str()
            ));
        }
    })
}

fn prices(s: &Series) -> Result<Prices, String> {
    let e = |e: polars::error::PolarsError| e.to_string();
    Ok(match s.dtype() {
        DataType::Float64 => Prices::F64(s.f64().map_err(e)?.iter().collect()),
        DataType::Float32 => Prices::F32(s.f32().map_err(e)?.iter().collect()),
        DataType::String => Prices::Text(text_values(s)?),
        d if d.is_integer() => Prices::Int(
            s.cast(&DataType::Int64)
                .map_err(e)?
                .i64()
                .map_err(e)?
                .iter()
                .collect(),
        ),
        other => {
            return Err(format!(
                "column {:?} has type {other}; expected floats, decimal text or integers",
                s.name().as_str()
            ));
        }
    })
}

/// Reads the file. `Err` is a file-level problem (not Parquet, missing columns, wrong types);
/// row problems go to `defects`.
pub(crate) fn parse_parquet(
    name: &str,
    bytes: &[u8],
    digits: u32,
    tz: Option<TzSpec>,
    defects: &mut Defects,
) -> Result<ParquetOutput, String> {
    let df = ParquetReader::new(Cursor::new(bytes))
        .finish()
        .map_err(|e| e.to_string())?;
    let raw: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let names: Vec<String> = raw.iter().map(|r| header_name(r.as_bytes())).collect();
    let cols = resolve_columns(&names, &raw)?;
    let TimeCols::One(ti) = cols.time else {
        return Err(
            "separate date and time columns are not supported in Parquet; store one timestamp column".into(),
        );
    };
    let column = |i: usize| -> Result<&Series, String> {
        df.column(&raw[i])
            .map(|c| c.as_materialized_series())
            .map_err(|e| e.to_string())
    };
    let time = times(column(ti)?)?;
    let price_cols = cols
        .prices
        .iter()
        .map(|&i| prices(column(i)?))
        .collect::<Result<Vec<_>, String>>()?;

    let (zone, zone_desc) = match tz {
        Some(z) => (z, format!("{z} (--tz) for timestamps without a zone")),
        None => (
            TzSpec::UTC,
            "UTC (assumed: no --tz) for timestamps without a zone".to_string(),
        ),
    };
    let mut to_utc = ToUtc::new(zone);
    let time_name = cols.time_name.as_str();
    let mut rows = Rows::with_capacity(df.height());
    for i in 0..df.height() {
        let row = i + 1;
        let defect = |field: &str, value: String, kind| Defect {
            file: name.to_string(),
            line: row,
            unit: Unit::Row,
            field: field.to_string(),
            value,
            kind,
        };
        let unparsable = |expected: &str| DefectKind::Unparsable {
            expected: expected.into(),
        };
        // (local or UTC seconds, whether already UTC) or a defect.
        let t: Result<(i64, bool), (String, DefectKind)> = match &time {
            Times::Seconds { v, per_sec, utc } => match v[i] {
                None => Err((String::new(), DefectKind::Missing)),
                Some(x) if x % per_sec != 0 => {
                    Err((format!("{x} (1/{per_sec} s)"), unparsable("a whole second")))
                }
                Some(x) => Ok((x / per_sec, *utc)),
            },
            Times::Days(v) => match v[i] {
                None => Err((String::new(), DefectKind::Missing)),
                Some(d) => Ok((d as i64 * SECS_PER_DAY, false)),
            },
            Times::Text(v) => match &v[i] {
                None => Err((String::new(), DefectKind::Missing)),
                Some(s) => match parse_iso(s.trim().as_bytes()) {
                    Some((local, Some(off))) => Ok((local - off as i64, true)),
                    Some((local, None)) => Ok((local, false)),
                    None => Err((
                        s.clone(),
                        unparsable("a timestamp `YYYY-MM-DD[ HH:MM[:SS]][Z|+HH:MM]`"),
                    )),
                },
            },
        };
        let t = t.and_then(|(secs, utc)| {
            if utc {
                Ok(secs)
            } else {
                to_utc.convert(secs).map_err(|_| {
                    (
                        crate::util::time::plain_utc(secs),
                        unparsable(&format!(
                            "a local time that exists in {zone} (it falls in the daylight-saving jump)"
                        )),
                    )
                })
            }
        });
        let t = match t {
            Ok(t) => Some(t),
            Err((value, kind)) => {
                defects.push(defect(time_name, value, kind));
                None
            }
        };

        let value_text = |k: usize| -> String {
            match &price_cols[k] {
                Prices::F64(v) => v[i].map(|x| x.to_string()),
                Prices::F32(v) => v[i].map(|x| x.to_string()),
                Prices::Text(v) => v[i].clone(),
                Prices::Int(v) => v[i].map(|x| x.to_string()),
            }
            .unwrap_or_default()
        };
        let read = std::array::from_fn(|k| {
            let r = match &price_cols[k] {
                Prices::F64(v) => v[i].map_or(Err(PriceError::Missing), |x| points_from_f64(x, digits)),
                Prices::F32(v) => v[i].map_or(Err(PriceError::Missing), |x| points_from_f32(x, digits)),
                Prices::Text(v) => v[i]
                    .as_deref()
                    .map_or(Err(PriceError::Missing), |s| parse_points(s.as_bytes(), digits)),
                Prices::Int(v) => v[i].map_or(Err(PriceError::Missing), |x| {
                    x.checked_mul(pow10(digits)).ok_or(PriceError::Unparsable)
                }),
            };
            r.map_err(|e| price_defect(e, digits))
        });
        let p = check_prices(read, digits, |k, kind| {
            defects.push(defect(["open", "high", "low", "close"][k], value_text(k), kind));
        });
        if let Some(t) = t {
            rows.push(t, p, row as u32);
        }
    }
    Ok(ParquetOutput {
        rows,
        zone: zone_desc,
    })
}
