//! `stratbox data check`: what a data set is, without running anything.

use serde_json::{Value, json};

use super::{Bars, LoadReport, format_points, format_utc};

/// The facts `data check` reports, as JSON (the text form is derived from it).
pub fn summary(bars: &Bars, report: &LoadReport) -> Value {
    let files: Vec<Value> = report
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path.display().to_string(),
                "format": f.format,
                "rows": f.rows,
                "zone": f.zone,
                "sha256": f.sha256,
            })
        })
        .collect();
    let gaps: Vec<Value> = report
        .gaps
        .largest
        .iter()
        .map(|g| json!({"after": format_utc(g.start), "until": format_utc(g.end), "seconds": g.secs()}))
        .collect();
    let low = bars.low.iter().min().copied();
    let high = bars.high.iter().max().copied();
    json!({
        "files": files,
        "bars": bars.len(),
        "digits": report.digits,
        "first": bars.time.first().map(|&t| format_utc(t)),
        "last": bars.time.last().map(|&t| format_utc(t)),
        "interval_seconds": report.interval_secs,
        "gaps": {"count": report.gaps.count, "largest": gaps},
        "repairs": {"dropped": report.repairs.dropped, "moved": report.repairs.moved},
        "defects": 0,
        "price_range": {
            "low": low.map(|p| format_points(p, report.digits)),
            "high": high.map(|p| format_points(p, report.digits)),
        },
    })
}

/// The text form of [`summary`].
pub fn text(s: &Value) -> String {
    let mut out = String::new();
    let str_of = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    for f in s["files"].as_array().into_iter().flatten() {
        out += &format!(
            "{}: {}, {} rows, times in {}\n  sha256 {}\n",
            str_of(&f["path"]),
            str_of(&f["format"]),
            f["rows"],
            str_of(&f["zone"]),
            str_of(&f["sha256"])
        );
    }
    out += &format!(
        "{} bars, {} .. {}, interval {} s, {} digits\n",
        s["bars"],
        str_of(&s["first"]),
        str_of(&s["last"]),
        s["interval_seconds"],
        s["digits"]
    );
    out += &format!(
        "prices {} .. {}\n",
        str_of(&s["price_range"]["low"]),
        str_of(&s["price_range"]["high"])
    );
    out += &format!(
        "gaps: {} (normal: weekends, holidays); largest:\n",
        s["gaps"]["count"]
    );
    for g in s["gaps"]["largest"].as_array().into_iter().flatten() {
        let secs = g["seconds"].as_i64().unwrap_or(0);
        out += &format!(
            "  {} -> {}  ({}h {:02}m)\n",
            str_of(&g["after"]),
            str_of(&g["until"]),
            secs / 3600,
            secs % 3600 / 60
        );
    }
    out += &format!(
        "repairs: {} duplicates dropped, {} rows moved\ndefects: none\n",
        s["repairs"]["dropped"], s["repairs"]["moved"]
    );
    out
}
