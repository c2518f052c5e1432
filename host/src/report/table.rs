//! A results file as plain typed columns plus its provenance metadata.
//!
//! Every reader here (summary, ranking, heatmaps, split comparison) needs the same few columns
//! by row index, many times over. Converting the DataFrame once into vectors keeps that code
//! simple and fast (13,860 rows convert in milliseconds) and independent of the grid: the
//! parameters are whatever columns sit between `strategy_id` and `lots`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Deserialize;

use crate::grid::Grid;
use crate::results::{self, METRIC_COLUMNS, keys};

use super::ReportError;

/// One parameter column, in the type the results file stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValues {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Text(Vec<String>),
}

/// A parameter: its name and one value per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub values: ParamValues,
}

impl Param {
    /// The value of `row` as the results show it (`0.0005`, `20`, `long`).
    pub fn text(&self, row: usize) -> String {
        match &self.values {
            ParamValues::Int(v) => v[row].to_string(),
            ParamValues::Float(v) => v[row].to_string(),
            ParamValues::Text(v) => v[row].clone(),
        }
    }

    /// The value of `row` as a number; `None` for a text parameter.
    pub fn number(&self, row: usize) -> Option<f64> {
        match &self.values {
            ParamValues::Int(v) => Some(v[row] as f64),
            ParamValues::Float(v) => Some(v[row]),
            ParamValues::Text(_) => None,
        }
    }

    pub fn is_text(&self) -> bool {
        matches!(self.values, ParamValues::Text(_))
    }

    /// Distinct values as text, in ascending order (numbers numerically).
    pub fn distinct(&self) -> Vec<String> {
        match &self.values {
            ParamValues::Int(v) => {
                let mut d = v.clone();
                d.sort_unstable();
                d.dedup();
                d.iter().map(ToString::to_string).collect()
            }
            ParamValues::Float(v) => {
                let mut d = v.clone();
                d.sort_by(f64::total_cmp);
                d.dedup();
                d.iter().map(ToString::to_string).collect()
            }
            ParamValues::Text(v) => {
                let mut d = v.clone();
                d.sort();
                d.dedup();
                d
            }
        }
    }
}

/// One data file the run read, as its metadata records it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DataFile {
    pub file: Option<String>,
    pub sha256: String,
    pub format: String,
    pub rows: usize,
}

/// The component that produced the rows, as its metadata records it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ComponentMeta {
    pub name: String,
    pub version: String,
    pub params: Vec<String>,
    pub sha256: String,
}

/// The account rules and point arithmetic of the run, as its metadata records them (after any
/// `--spread`/`--commission` overrides, which the grid text does not show).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct CostsMeta {
    pub spread_points: i64,
    pub commission_per_lot: f64,
    pub initial_balance: f64,
    pub point_size: f64,
    pub pip_points: i64,
    pub units_per_lot: f64,
    pub digits: u32,
}

impl CostsMeta {
    pub fn engine(&self) -> stratbox_engine::Costs {
        stratbox_engine::Costs {
            spread_points: self.spread_points,
            commission_per_lot: self.commission_per_lot,
            initial_balance: self.initial_balance,
            point_size: self.point_size,
            pip_points: self.pip_points,
            units_per_lot: self.units_per_lot,
        }
    }
}

/// A results file, read.
#[derive(Debug, Clone)]
pub struct ResultsTable {
    pub path: PathBuf,
    pub metadata: BTreeMap<String, String>,
    pub strategy_id: Vec<u64>,
    pub params: Vec<Param>,
    pub lots: Vec<f64>,
    /// Every numeric metric column of SPEC section 5 as `f64` (counts exactly), null as `None`.
    metrics: BTreeMap<&'static str, Vec<Option<f64>>>,
    pub ruined: Vec<bool>,
    pub open_at_end: Vec<bool>,
}

fn column<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column, String> {
    df.column(name).map_err(|_| format!("it has no {name:?} column"))
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, String> {
    let c = column(df, name)?;
    let cast = c
        .cast(&DataType::Float64)
        .map_err(|e| format!("column {name:?}: {e}"))?;
    Ok(cast
        .f64()
        .map_err(|e| format!("column {name:?}: {e}"))?
        .iter()
        .collect())
}

fn bools(df: &DataFrame, name: &str) -> Result<Vec<bool>, String> {
    Ok(column(df, name)?
        .bool()
        .map_err(|e| format!("column {name:?}: {e}"))?
        .iter()
        .map(|b| b.unwrap_or(false))
        .collect())
}

fn param(df: &DataFrame, name: &str) -> Result<Param, String> {
    let c = column(df, name)?;
    let bad = |e: PolarsError| format!("parameter column {name:?}: {e}");
    let values = match c.dtype() {
        DataType::String => ParamValues::Text(
            c.str()
                .map_err(bad)?
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect(),
        ),
        DataType::Float64 | DataType::Float32 => ParamValues::Float(
            c.cast(&DataType::Float64)
                .map_err(bad)?
                .f64()
                .map_err(bad)?
                .iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect(),
        ),
        d if d.is_integer() => ParamValues::Int(
            c.cast(&DataType::Int64)
                .map_err(bad)?
                .i64()
                .map_err(bad)?
                .iter()
                .map(|v| v.unwrap_or_default())
                .collect(),
        ),
        other => return Err(format!("parameter column {name:?} has type {other}")),
    };
    Ok(Param {
        name: name.to_string(),
        values,
    })
}

impl ResultsTable {
    /// Reads a results file written by `discover`, `batch` or `merge`.
    pub fn read(path: &Path) -> Result<ResultsTable, ReportError> {
        let (df, metadata) = results::read_parquet(path).map_err(|e| ReportError::Input(e.to_string()))?;
        Self::from_frame(path, &df, metadata).map_err(|e| {
            ReportError::Input(format!("{} is not a stratbox results file: {e}", path.display()))
        })
    }

    /// Builds the table from a results DataFrame and its metadata.
    pub fn from_frame(
        path: &Path,
        df: &DataFrame,
        metadata: BTreeMap<String, String>,
    ) -> Result<ResultsTable, String> {
        let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
        let id_pos = names.iter().position(|n| n == "strategy_id");
        let lots_pos = names.iter().position(|n| n == "lots");
        let (Some(id_pos), Some(lots_pos)) = (id_pos, lots_pos) else {
            return Err("it lacks the strategy_id or lots column".into());
        };
        if id_pos + 1 > lots_pos {
            return Err("its lots column comes before strategy_id".into());
        }
        let strategy_id = floats(df, "strategy_id")?
            .into_iter()
            .map(|v| v.map(|x| x as u64).ok_or("a null strategy_id"))
            .collect::<Result<Vec<u64>, _>>()?;
        let params = names[id_pos + 1..lots_pos]
            .iter()
            .map(|n| param(df, n))
            .collect::<Result<Vec<Param>, String>>()?;
        let lots = floats(df, "lots")?
            .into_iter()
            .map(|v| v.ok_or("a null lot size"))
            .collect::<Result<Vec<f64>, _>>()?;
        let mut metrics = BTreeMap::new();
        for &name in METRIC_COLUMNS {
            // Files written before SPEC section 7 have no sharpe and sortino: read as null.
            let optional = matches!(name, "sharpe" | "sortino") && df.column(name).is_err();
            if optional {
                metrics.insert(name, vec![None; strategy_id.len()]);
            } else if name != "ruined" && name != "open_at_end" {
                metrics.insert(name, floats(df, name)?);
            }
        }
        Ok(ResultsTable {
            path: path.to_owned(),
            metadata,
            strategy_id,
            params,
            lots,
            metrics,
            ruined: bools(df, "ruined")?,
            open_at_end: bools(df, "open_at_end")?,
        })
    }

    pub fn len(&self) -> usize {
        self.strategy_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strategy_id.is_empty()
    }

    /// A numeric metric column by its SPEC name, `None` for an unknown name.
    pub fn metric(&self, name: &str) -> Option<&[Option<f64>]> {
        self.metrics.get(name).map(Vec::as_slice)
    }

    /// Trades of `row` (lot-specific: a ruined account stops trading).
    pub fn n_trades(&self, row: usize) -> u32 {
        self.metrics["n_trades"][row].unwrap_or(0.0) as u32
    }

    pub fn net_pnl(&self, row: usize) -> f64 {
        self.metrics["net_pnl_usd"][row].unwrap_or(0.0)
    }

    /// The lot sizes present, ascending.
    pub fn lot_sizes(&self) -> Vec<f64> {
        let mut l = self.lots.clone();
        l.sort_by(f64::total_cmp);
        l.dedup();
        l
    }

    /// Rows at lot size `lots`, in file order (ascending strategy id).
    pub fn rows_at(&self, lots: f64) -> Vec<usize> {
        (0..self.len()).filter(|&r| self.lots[r] == lots).collect()
    }

    /// The row of (`id`, `lots`), if the file has it.
    /// The parameters of `row` as `name=value`, space-separated.
    pub fn describe(&self, row: usize) -> String {
        let pairs: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}={}", p.name, p.text(row)))
            .collect();
        pairs.join(" ")
    }

    pub fn find(&self, id: u64, lots: f64) -> Option<usize> {
        // Rows are sorted by (strategy_id, lots): a binary search on the id, then a short walk.
        let start = self.strategy_id.partition_point(|&s| s < id);
        (start..self.len())
            .take_while(|&r| self.strategy_id[r] == id)
            .find(|&r| self.lots[r] == lots)
    }

    /// The grid the run used, from the metadata's TOML text.
    pub fn grid(&self) -> Result<Grid, String> {
        let text = self
            .metadata
            .get(keys::GRID)
            .ok_or("its metadata holds no grid")?;
        Grid::parse(text, &format!("grid of {}", self.path.display())).map_err(|e| e.to_string())
    }

    /// How many strategies the run was asked for: the part's id range, else the whole grid.
    pub fn expected_strategies(&self) -> Option<u64> {
        if let Some(r) = self.metadata.get(keys::RANGE)
            && let Some((a, b)) = r.split_once("..")
            && let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>())
        {
            return Some(b.saturating_sub(a));
        }
        self.grid().ok().map(|g| g.size())
    }

    pub fn data_files(&self) -> Result<Vec<DataFile>, String> {
        let text = self
            .metadata
            .get(keys::DATA)
            .ok_or("its metadata lists no data files")?;
        serde_json::from_str(text).map_err(|e| format!("its data file list is unreadable: {e}"))
    }

    pub fn component(&self) -> Result<ComponentMeta, String> {
        let text = self
            .metadata
            .get(keys::COMPONENT)
            .ok_or("its metadata names no component")?;
        serde_json::from_str(text).map_err(|e| format!("its component record is unreadable: {e}"))
    }

    pub fn costs(&self) -> Result<CostsMeta, String> {
        let text = self
            .metadata
            .get(keys::COSTS)
            .ok_or("its metadata records no costs")?;
        serde_json::from_str(text).map_err(|e| format!("its costs record is unreadable: {e}"))
    }

    /// The bar window of a split run (`stratbox.window`), in UTC seconds.
    pub fn window(&self) -> Result<Option<Range<i64>>, String> {
        let Some(text) = self.metadata.get(keys::WINDOW) else {
            return Ok(None);
        };
        let parse = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ")
                .map(|t| t.and_utc().timestamp())
                .map_err(|e| format!("its window {text:?} is unreadable: {e}"))
        };
        let (a, b) = text
            .split_once('/')
            .ok_or_else(|| format!("its window {text:?} is not start/end"))?;
        Ok(Some(parse(a)?..parse(b)?))
    }
}
