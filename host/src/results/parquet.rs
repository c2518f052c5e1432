//! Result rows to a Parquet file with key-value metadata, and back.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use stratbox_engine::ResultRow;

use super::ratios::Ratios;
use super::{METRIC_COLUMNS, ResultsError};
use crate::grid::{Grid, ParamKind};
use crate::util::fs::write_atomic;

/// Sorts rows by (strategy_id, lots): the file's order whatever the batching was.
pub fn sort_rows(rows: &mut [ResultRow]) {
    rows.sort_by(|a, b| a.strategy_id.cmp(&b.strategy_id).then(a.lots.total_cmp(&b.lots)));
}

/// Builds the results table. `param_order` lists grid parameter positions in column order.
/// `ratios` are each row's `sharpe` and `sortino` ([`Ratios::of`]) when the run booked daily
/// P&L, `None` when it did not (both columns null).
pub fn to_frame(
    grid: &Grid,
    param_order: &[usize],
    rows: &[ResultRow],
    ratios: Option<&[Ratios]>,
) -> Result<DataFrame, PolarsError> {
    let n = rows.len();
    let mut columns: Vec<Column> = Vec::with_capacity(3 + param_order.len() + METRIC_COLUMNS.len());
    columns.push(Column::new(
        "strategy_id".into(),
        rows.iter().map(|r| r.strategy_id as i64).collect::<Vec<i64>>(),
    ));
    let values: Vec<Vec<f64>> = rows.iter().map(|r| grid.values(r.strategy_id)).collect();
    for &p in param_order {
        let name: PlSmallStr = grid.param_names()[p].as_str().into();
        let col = match grid.kind(p) {
            ParamKind::Int => Column::new(name, values.iter().map(|v| v[p] as i64).collect::<Vec<i64>>()),
            ParamKind::Float => Column::new(name, values.iter().map(|v| v[p]).collect::<Vec<f64>>()),
            ParamKind::Direction => Column::new(
                name,
                values
                    .iter()
                    .map(|v| if v[p] == 0.0 { "long" } else { "short" })
                    .collect::<Vec<&str>>(),
            ),
        };
        columns.push(col);
    }
    columns.push(Column::new(
        "lots".into(),
        rows.iter().map(|r| r.lots).collect::<Vec<f64>>(),
    ));
    macro_rules! col {
        ($name:literal, $f:expr, $t:ty) => {
            columns.push(Column::new(
                $name.into(),
                rows.iter().map($f).collect::<Vec<$t>>(),
            ))
        };
    }
    col!("n_trades", |r| r.n_trades, u32);
    col!("n_wins", |r| r.n_wins, u32);
    col!("n_losses", |r| r.n_losses, u32);
    col!("n_sl", |r| r.n_sl, u32);
    col!("n_tp", |r| r.n_tp, u32);
    col!("n_time", |r| r.n_time, u32);
    col!("gross_profit_usd", |r| r.gross_profit_usd, f64);
    col!("gross_loss_usd", |r| r.gross_loss_usd, f64);
    col!("net_pnl_usd", |r| r.net_pnl_usd, f64);
    col!("profit_factor", |r| r.profit_factor, Option<f64>);
    col!("win_rate", |r| r.win_rate, Option<f64>);
    col!("expectancy_usd", |r| r.expectancy_usd, Option<f64>);
    col!("max_drawdown_usd", |r| r.max_drawdown_usd, f64);
    col!("max_drawdown_pct", |r| r.max_drawdown_pct, f64);
    col!("return_pct", |r| r.return_pct, f64);
    col!("avg_bars_held", |r| r.avg_bars_held, Option<f64>);
    col!("ruined", |r| r.ruined, bool);
    col!("open_at_end", |r| r.open_at_end, bool);
    col!("open_pnl_usd", |r| r.open_pnl_usd, f64);
    let none = vec![Ratios::default(); if ratios.is_some() { 0 } else { n }];
    let ratios = ratios.unwrap_or(&none);
    assert_eq!(ratios.len(), n, "one pair of ratios per row");
    columns.push(Column::new(
        "sharpe".into(),
        ratios.iter().map(|r| r.sharpe).collect::<Vec<Option<f64>>>(),
    ));
    columns.push(Column::new(
        "sortino".into(),
        ratios.iter().map(|r| r.sortino).collect::<Vec<Option<f64>>>(),
    ));
    DataFrame::new(n, columns)
}

/// Writes a results table with `metadata` to `path` (atomically).
pub fn write_parquet(
    path: &Path,
    df: &mut DataFrame,
    metadata: &BTreeMap<String, String>,
) -> Result<(), ResultsError> {
    let kv: Vec<(String, String)> = metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    write_atomic(path, |file| {
        ParquetWriter::new(file)
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(kv)))
            .set_parallel(false)
            .finish(df)
            .map(|_| ())
            .map_err(std::io::Error::other)
    })
    .map_err(|source| ResultsError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Reads a results file and its stratbox metadata.
pub fn read_parquet(path: &Path) -> Result<(DataFrame, BTreeMap<String, String>), ResultsError> {
    let err = |message: String| ResultsError::Read {
        path: path.to_owned(),
        message,
    };
    let file = File::open(path).map_err(|e| err(e.to_string()))?;
    let mut reader = ParquetReader::new(file);
    let meta = reader.get_metadata().map_err(|e| err(e.to_string()))?.clone();
    let metadata = stratbox_metadata(&meta);
    let df = reader.finish().map_err(|e| err(e.to_string()))?;
    Ok((df, metadata))
}

/// The `stratbox.` key-value metadata of a Parquet file.
pub(crate) fn stratbox_metadata(meta: &FileMetadataRef) -> BTreeMap<String, String> {
    let mut metadata = BTreeMap::new();
    for kv in meta.key_value_metadata.iter().flatten() {
        if kv.key.starts_with("stratbox.")
            && let Some(v) = &kv.value
        {
            metadata.insert(kv.key.clone(), v.clone());
        }
    }
    metadata
}
