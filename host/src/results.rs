//! Result rows to Parquet (SPEC section 5): one row per (strategy, lots), sorted by
//! (strategy_id, lots), with the run's provenance in the file's key-value metadata.
//!
//! Files are written to a temporary name in the target directory and renamed into place, so a
//! reader (or a killed run) never sees half a file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use stratbox_engine::ResultRow;

use crate::grid::{Grid, ParamKind};

/// Metadata keys written by stratbox.
pub mod keys {
    pub const VERSION: &str = "stratbox.version";
    pub const GRID: &str = "stratbox.grid";
    pub const DATA: &str = "stratbox.data";
    /// What `--repair` changed: `{"dropped": N, "moved": N, "changes": [...]}`.
    pub const REPAIRS: &str = "stratbox.repairs";
    pub const BARS: &str = "stratbox.bars";
    pub const SPAN: &str = "stratbox.span";
    pub const COMPONENT: &str = "stratbox.component";
    pub const COSTS: &str = "stratbox.costs";
    /// Present when the run used only part of the data (`discover --split`): `start/end` UTC.
    pub const WINDOW: &str = "stratbox.window";
    /// Present on shard files only: `K/N`.
    pub const SHARD: &str = "stratbox.shard";
    /// Present on part files only: the id range `start..end` the part covers.
    pub const RANGE: &str = "stratbox.range";
}

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write Parquet {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("cannot read results {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{0}")]
    Merge(String),
}

/// The metric columns, in SPEC order, after `strategy_id`, the parameters and `lots`.
pub const METRIC_COLUMNS: &[&str] = &[
    "n_trades",
    "n_wins",
    "n_losses",
    "n_sl",
    "n_tp",
    "n_time",
    "gross_profit_usd",
    "gross_loss_usd",
    "net_pnl_usd",
    "profit_factor",
    "win_rate",
    "expectancy_usd",
    "max_drawdown_usd",
    "max_drawdown_pct",
    "return_pct",
    "avg_bars_held",
    "ruined",
    "open_at_end",
    "open_pnl_usd",
];

/// Sorts rows by (strategy_id, lots): the file's order whatever the batching was.
pub fn sort_rows(rows: &mut [ResultRow]) {
    rows.sort_by(|a, b| a.strategy_id.cmp(&b.strategy_id).then(a.lots.total_cmp(&b.lots)));
}

/// Builds the results table. `param_order` lists grid parameter positions in column order.
pub fn to_frame(grid: &Grid, param_order: &[usize], rows: &[ResultRow]) -> Result<DataFrame, PolarsError> {
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
    DataFrame::new(n, columns)
}

/// A temporary sibling of `path`, in the same directory so the rename is atomic.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<(), String>,
) -> Result<(), ResultsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ResultsError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = File::create(&tmp).map_err(|e| e.to_string())?;
        write(&mut file)?;
        file.flush().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    })();
    result.map_err(|message| {
        let _ = std::fs::remove_file(&tmp);
        ResultsError::Write {
            path: path.to_owned(),
            message,
        }
    })
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
            .map_err(|e| e.to_string())
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
    let mut metadata = BTreeMap::new();
    for kv in meta.key_value_metadata.iter().flatten() {
        if kv.key.starts_with("stratbox.")
            && let Some(v) = &kv.value
        {
            metadata.insert(kv.key.clone(), v.clone());
        }
    }
    let df = reader.finish().map_err(|e| err(e.to_string()))?;
    Ok((df, metadata))
}
