//! The queries behind the row browser: sort, filter (parameter values, metric ranges, lot
//! size) and page a results table on the server, so that a 138,600-row file of a 10x grid never
//! goes to the browser whole.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::report::table::ResultsTable;
use crate::results::METRIC_COLUMNS;

/// Most rows one page may ask for.
pub const MAX_PAGE: usize = 500;

/// One request of the row browser, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RowQuery {
    /// `strategy_id`, `lots`, a parameter or a metric.
    pub sort: String,
    pub desc: bool,
    pub page: usize,
    pub size: usize,
    pub lots: Option<f64>,
    /// Parameter name and the value (as the results show it) rows must have.
    pub params: Vec<(String, String)>,
    /// Metric name and the inclusive range its value must lie in (null values never do).
    pub ranges: Vec<(String, Option<f64>, Option<f64>)>,
}

impl RowQuery {
    /// From the URL's query pairs: `sort`, `desc`, `page`, `size`, `lots`, `p.NAME=VALUE`,
    /// `min.METRIC=X`, `max.METRIC=X`. Unknown names are refused, so a typo is not a silent
    /// "no filter".
    pub fn parse(pairs: &HashMap<String, String>, table: &ResultsTable) -> Result<RowQuery, String> {
        let number = |k: &str, v: &str| -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("{k}={v}: not a number"))
        };
        let whole = |k: &str, v: &str| -> Result<usize, String> {
            v.parse().map_err(|_| format!("{k}={v}: not a whole number"))
        };
        let is_param = |n: &str| table.params.iter().any(|p| p.name == n);
        let is_metric = |n: &str| METRIC_COLUMNS.contains(&n) && table.metric(n).is_some();
        let mut q = RowQuery {
            sort: "strategy_id".into(),
            desc: false,
            page: 0,
            size: 50,
            lots: None,
            params: Vec::new(),
            ranges: Vec::new(),
        };
        let mut keys: Vec<&String> = pairs.keys().collect();
        keys.sort();
        for k in keys {
            let v = &pairs[k];
            match k.as_str() {
                "token" => {}
                "sort" if v == "strategy_id" || v == "lots" || is_param(v) || is_metric(v) => {
                    q.sort = v.clone()
                }
                "sort" => return Err(format!("sort={v}: no such column")),
                "desc" => q.desc = v == "1" || v == "true",
                "page" => q.page = whole(k, v)?,
                "size" => q.size = whole(k, v)?.clamp(1, MAX_PAGE),
                "lots" if v.is_empty() => {}
                "lots" => q.lots = Some(number(k, v)?),
                _ => {
                    if let Some(name) = k.strip_prefix("p.").filter(|n| is_param(n)) {
                        if !v.is_empty() {
                            q.params.push((name.to_string(), v.clone()));
                        }
                    } else if let Some(name) = k.strip_prefix("min.").filter(|n| is_metric(n)) {
                        if !v.is_empty() {
                            q.ranges.push((name.to_string(), Some(number(k, v)?), None));
                        }
                    } else if let Some(name) = k.strip_prefix("max.").filter(|n| is_metric(n)) {
                        if !v.is_empty() {
                            q.ranges.push((name.to_string(), None, Some(number(k, v)?)));
                        }
                    } else {
                        return Err(format!("{k}: no such query field or column"));
                    }
                }
            }
        }
        Ok(q)
    }
}

/// The value `row` has in column `name`, as a number for sorting (`None` for null or text).
fn sort_key(table: &ResultsTable, name: &str, row: usize) -> (Option<f64>, String) {
    match name {
        "strategy_id" => (Some(table.strategy_id[row] as f64), String::new()),
        "lots" => (Some(table.lots[row]), String::new()),
        _ => match table.params.iter().find(|p| p.name == name) {
            Some(p) => (p.number(row), p.text(row)),
            None => (table.metric(name).and_then(|m| m[row]), String::new()),
        },
    }
}

/// Runs `q` over `table`: `{"total": rows matching, "page", "size", "columns": [...], "rows": [[...]]}`.
/// Nulls sort last in both directions; ties go to (strategy_id, lots), so pages never overlap.
pub fn query(table: &ResultsTable, q: &RowQuery) -> Value {
    let matches = |r: usize| -> bool {
        q.lots.is_none_or(|l| table.lots[r] == l)
            && q.params
                .iter()
                .all(|(n, v)| table.params.iter().any(|p| p.name == *n && p.text(r) == *v))
            && q.ranges.iter().all(|(n, lo, hi)| {
                table
                    .metric(n)
                    .and_then(|m| m[r])
                    .is_some_and(|x| lo.is_none_or(|lo| x >= lo) && hi.is_none_or(|hi| x <= hi))
            })
    };
    let mut rows: Vec<usize> = (0..table.len()).filter(|&r| matches(r)).collect();
    let keys: Vec<(Option<f64>, String)> = (0..table.len()).map(|r| sort_key(table, &q.sort, r)).collect();
    rows.sort_by(|&a, &b| {
        let (ka, kb) = (&keys[a], &keys[b]);
        let primary = match (ka.0, kb.0) {
            (Some(x), Some(y)) => {
                let o = x.total_cmp(&y);
                if q.desc { o.reverse() } else { o }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => {
                let o = ka.1.cmp(&kb.1);
                if q.desc { o.reverse() } else { o }
            }
        };
        primary
            .then(table.strategy_id[a].cmp(&table.strategy_id[b]))
            .then(table.lots[a].total_cmp(&table.lots[b]))
    });
    let mut columns: Vec<String> = vec!["strategy_id".into()];
    columns.extend(table.params.iter().map(|p| p.name.clone()));
    columns.push("lots".into());
    let metrics: Vec<&str> = METRIC_COLUMNS
        .iter()
        .copied()
        .filter(|m| table.metric(m).is_some())
        .collect();
    columns.extend(metrics.iter().map(|m| m.to_string()));
    let page: Vec<Value> = rows
        .iter()
        .skip(q.page.saturating_mul(q.size))
        .take(q.size)
        .map(|&r| {
            let mut cells = vec![json!(table.strategy_id[r])];
            cells.extend(table.params.iter().map(|p| match p.number(r) {
                Some(x) if !p.is_text() => json!(x),
                _ => json!(p.text(r)),
            }));
            cells.push(json!(table.lots[r]));
            cells.extend(metrics.iter().map(|m| json!(table.metric(m).expect("listed")[r])));
            Value::Array(cells)
        })
        .collect();
    let mut out = Map::new();
    out.insert("total".into(), json!(rows.len()));
    out.insert("page".into(), json!(q.page));
    out.insert("size".into(), json!(q.size));
    out.insert("columns".into(), json!(columns));
    out.insert("rows".into(), Value::Array(page));
    Value::Object(out)
}
