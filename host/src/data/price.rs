//! Prices as integer points, parsed from the decimal text itself.
//!
//! Going through `f64` would make `1.20011` become `120010.99999999999` before rounding, and
//! would hide a value finer than the instrument's digits; reading the digits directly is both
//! exact and faster. Only Parquet float columns need a float conversion (see
//! [`points_from_f64`]), and there it is checked to round-trip.

use std::path::Path;

/// Largest accepted `digits`: keeps `price * 10^digits` comfortably inside `i64`.
pub const MAX_DIGITS: u32 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PriceError {
    Missing,
    Unparsable,
    NaN,
    TooFine,
}

/// `10^d` for `d <= MAX_DIGITS`.
#[inline]
pub(crate) fn pow10(d: u32) -> i64 {
    10i64.pow(d)
}

/// Parses `[+-]digits[.digits]` into points (`round(price * 10^digits)`, which is exact here).
/// Decimals beyond `digits` must be zeros (`1.200370` is fine at 5 digits; `1.200375` is
/// [`PriceError::TooFine`]). Surrounding spaces are ignored; `nan` in any case is `NaN`.
#[inline]
pub(crate) fn parse_points(b: &[u8], digits: u32) -> Result<i64, PriceError> {
    let b = b.trim_ascii();
    if b.is_empty() {
        return Err(PriceError::Missing);
    }
    let (neg, body) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let mut int: i64 = 0;
    let mut i = 0;
    let mut n_digits = 0;
    while i < body.len() && body[i].is_ascii_digit() {
        // Overflow (here or when scaling below) is an unparsable value, not a panic.
        int = int
            .checked_mul(10)
            .and_then(|v| v.checked_add((body[i] - b'0') as i64))
            .ok_or(PriceError::Unparsable)?;
        i += 1;
        n_digits += 1;
    }
    let mut frac: i64 = 0;
    let mut n_frac = 0u32;
    let mut too_fine = false;
    if i < body.len() && body[i] == b'.' {
        i += 1;
        while i < body.len() && body[i].is_ascii_digit() {
            let d = (body[i] - b'0') as i64;
            if n_frac < digits {
                frac = frac * 10 + d;
                n_frac += 1;
            } else if d != 0 {
                too_fine = true;
            }
            i += 1;
            n_digits += 1;
        }
    }
    if i != body.len() || n_digits == 0 {
        if body.eq_ignore_ascii_case(b"nan") {
            return Err(PriceError::NaN);
        }
        return Err(PriceError::Unparsable);
    }
    if too_fine {
        return Err(PriceError::TooFine);
    }
    let v = int
        .checked_mul(pow10(digits))
        .and_then(|v| v.checked_add(frac * pow10(digits - n_frac)))
        .ok_or(PriceError::Unparsable)?;
    Ok(if neg { -v } else { v })
}

/// Points of a float price: `round(price * 10^digits)`, accepted only if dividing back gives
/// the very same float (i.e. the float is the nearest double to a decimal with at most
/// `digits` decimals).
pub(crate) fn points_from_f64(v: f64, digits: u32) -> Result<i64, PriceError> {
    if v.is_nan() {
        return Err(PriceError::NaN);
    }
    let scale = pow10(digits) as f64;
    let p = (v * scale).round();
    if !p.is_finite() || p.abs() >= 9.0e15 {
        return Err(PriceError::Unparsable);
    }
    if p / scale != v {
        return Err(PriceError::TooFine);
    }
    Ok(p as i64)
}

/// Same for `f32` columns, checking the round trip in `f32`.
pub(crate) fn points_from_f32(v: f32, digits: u32) -> Result<i64, PriceError> {
    if v.is_nan() {
        return Err(PriceError::NaN);
    }
    let scale = pow10(digits) as f64;
    let p = (v as f64 * scale).round();
    if !p.is_finite() || p.abs() >= 9.0e15 {
        return Err(PriceError::Unparsable);
    }
    if (p / scale) as f32 != v {
        return Err(PriceError::TooFine);
    }
    Ok(p as i64)
}

/// Points written back as a decimal price with exactly `digits` decimals (`120050` -> `1.20050`).
pub fn format_points(p: i64, digits: u32) -> String {
    if digits == 0 {
        return p.to_string();
    }
    let scale = pow10(digits);
    let sign = if p < 0 { "-" } else { "" };
    let a = p.unsigned_abs();
    format!(
        "{sign}{}.{:0w$}",
        a / scale as u64,
        a % scale as u64,
        w = digits as usize
    )
}

/// ISO 4217 codes that appear in forex (and metal) symbols.
const CURRENCIES: &[&[u8; 3]] = &[
    b"EUR", b"USD", b"JPY", b"GBP", b"CHF", b"AUD", b"NZD", b"CAD", b"SEK", b"NOK", b"DKK", b"SGD", b"HKD",
    b"ZAR", b"MXN", b"TRY", b"PLN", b"HUF", b"CZK", b"CNH", b"RUB", b"XAU", b"XAG",
];

/// The symbol (e.g. `EURUSD`) found in a file name: the first six letters that are two currency
/// codes, in any case (`DAT_ASCII_EURUSD_M1_2018.csv`, `usdjpy-h1.csv`).
pub fn symbol_in_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().to_ascii_uppercase();
    let b = name.as_bytes();
    (0..b.len().saturating_sub(5)).find_map(|i| {
        let (base, quote) = (&b[i..i + 3], &b[i + 3..i + 6]);
        let known = |c: &[u8]| CURRENCIES.iter().any(|k| k.as_slice() == c);
        (known(base) && known(quote) && base != quote)
            .then(|| String::from_utf8_lossy(&b[i..i + 6]).into_owned())
    })
}

/// Digits implied by a file name's symbol: JPY pairs are quoted to 3 decimals, the others to 5.
pub fn digits_for_path(path: &Path) -> Option<u32> {
    symbol_in_name(path).map(|s| if s.contains("JPY") { 3 } else { 5 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_to_points() {
        assert_eq!(parse_points(b"1.20011", 5), Ok(120_011));
        assert_eq!(parse_points(b"1.2", 5), Ok(120_000));
        assert_eq!(parse_points(b"1.200370", 5), Ok(120_037));
        assert_eq!(parse_points(b" 110.5 ", 3), Ok(110_500));
        assert_eq!(parse_points(b"2", 5), Ok(200_000));
        assert_eq!(parse_points(b".5", 5), Ok(50_000));
        assert_eq!(parse_points(b"-0.1", 5), Ok(-10_000));
        assert_eq!(parse_points(b"1.200375", 5), Err(PriceError::TooFine));
        assert_eq!(parse_points(b"", 5), Err(PriceError::Missing));
        assert_eq!(parse_points(b"NaN", 5), Err(PriceError::NaN));
        assert_eq!(parse_points(b"1.2x", 5), Err(PriceError::Unparsable));
        assert_eq!(parse_points(b"1e5", 5), Err(PriceError::Unparsable));
        assert_eq!(parse_points(b".", 5), Err(PriceError::Unparsable));
        assert_eq!(
            parse_points(b"99999999999999999999", 5),
            Err(PriceError::Unparsable)
        );
    }

    #[test]
    fn floats_must_round_trip() {
        assert_eq!(points_from_f64(1.20011, 5), Ok(120_011));
        assert_eq!(points_from_f64(1.200115, 5), Err(PriceError::TooFine));
        assert_eq!(points_from_f32(1.20011f32, 5), Ok(120_011));
        assert_eq!(points_from_f64(f64::NAN, 5), Err(PriceError::NaN));
    }

    #[test]
    fn points_format_and_symbols() {
        assert_eq!(format_points(120_050, 5), "1.20050");
        assert_eq!(format_points(110_500, 3), "110.500");
        assert_eq!(format_points(-5, 5), "-0.00005");
        assert_eq!(
            digits_for_path(Path::new("x/DAT_ASCII_EURUSD_M1_2018.csv")),
            Some(5)
        );
        assert_eq!(digits_for_path(Path::new("usdjpy-h1.csv")), Some(3));
        assert_eq!(digits_for_path(Path::new("bars.csv")), None);
    }
}
