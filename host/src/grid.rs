//! Parameter grids: a TOML file of axes, lot sizes, costs and feature windows (SPEC section 3).
//!
//! A grid is a list of *axes*, fastest-varying first. An axis sets one parameter, or several
//! together (`params = ["sl_pips", "tp_pips"]`, values as pairs), so that combinations that make
//! no sense are never generated. A strategy's id is the mixed-radix number of its axis indices,
//! first axis least significant; for the default grid that is exactly SPEC's
//! `(((d*6 + s)*5 + t)*7 + v)*11 + m`. So an id never depends on batching, sharding or threads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use stratbox_engine::Costs;

use crate::features::Windows;

/// The default grid of SPEC section 3, shipped inside the binary.
pub const DEFAULT_GRID_TOML: &str = include_str!("../../grids/default.toml");

/// A grid that cannot be used, with the file it came from.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    #[error("cannot read grid {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("grid {origin}: {message}")]
    Toml { origin: String, message: String },
    #[error("grid {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// How a parameter is stored in the results: the narrowest type that holds all its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Every value a whole number: an Int64 column.
    Int,
    Float,
    /// `"long"` / `"short"` (0 / 1 on the wire): a string column.
    Direction,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrid {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    strategy: Option<String>,
    lots: Vec<f64>,
    #[serde(default)]
    costs: RawCosts,
    #[serde(default)]
    features: Option<Windows>,
    axes: Vec<RawAxis>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCosts {
    #[serde(default)]
    spread_points: i64,
    #[serde(default)]
    commission_per_lot: f64,
    #[serde(default = "default_balance")]
    initial_balance: f64,
}

impl Default for RawCosts {
    fn default() -> Self {
        RawCosts {
            spread_points: 0,
            commission_per_lot: 0.0,
            initial_balance: default_balance(),
        }
    }
}

fn default_balance() -> f64 {
    10_000.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAxis {
    params: Vec<String>,
    values: Vec<toml::Value>,
}

/// One axis: parameter positions (into [`Grid::param_names`]) and its value tuples.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    params: Vec<usize>,
    values: Vec<Vec<f64>>,
}

/// Account rules and costs of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostRules {
    pub spread_points: i64,
    pub commission_per_lot: f64,
    pub initial_balance: f64,
}

/// A parsed, validated grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub name: String,
    /// The family the grid was written for, when it says (checked against `describe()`).
    pub strategy: Option<String>,
    pub lots: Vec<f64>,
    pub costs: CostRules,
    pub windows: Windows,
    /// Parameter names in the order the axes first mention them.
    param_names: Vec<String>,
    kinds: Vec<ParamKind>,
    axes: Vec<Axis>,
    size: u64,
    /// The TOML text, stored in the results' metadata.
    pub source: String,
}

fn value_to_f64(v: &toml::Value) -> Result<(f64, ParamKind), String> {
    match v {
        toml::Value::Integer(i) => Ok((*i as f64, ParamKind::Int)),
        toml::Value::Float(f) if f.is_finite() => Ok((*f, ParamKind::Float)),
        toml::Value::String(s) if s == "long" => Ok((0.0, ParamKind::Direction)),
        toml::Value::String(s) if s == "short" => Ok((1.0, ParamKind::Direction)),
        other => Err(format!("value {other} is not a number, \"long\" or \"short\"")),
    }
}

impl Grid {
    /// The default grid of SPEC section 3.
    pub fn default_grid() -> Grid {
        Grid::parse(DEFAULT_GRID_TOML, "default grid").expect("the bundled default grid is valid")
    }

    pub fn from_file(path: &Path) -> Result<Grid, GridError> {
        let text = std::fs::read_to_string(path).map_err(|source| GridError::Io {
            path: path.to_owned(),
            source,
        })?;
        Grid::parse(&text, &path.display().to_string())
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Grid, GridError> {
        let invalid = |message: String| GridError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let raw: RawGrid = toml::from_str(text).map_err(|e| GridError::Toml {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        if raw.lots.is_empty() {
            return Err(invalid("lots is empty".into()));
        }
        for &l in &raw.lots {
            if !(l.is_finite() && l > 0.0) {
                return Err(invalid(format!("lot size {l} is not a positive number")));
            }
        }
        if raw.axes.is_empty() {
            return Err(invalid("no [[axes]]".into()));
        }
        let costs = CostRules {
            spread_points: raw.costs.spread_points,
            commission_per_lot: raw.costs.commission_per_lot,
            initial_balance: raw.costs.initial_balance,
        };
        if costs.spread_points < 0 || costs.commission_per_lot.is_nan() || costs.commission_per_lot < 0.0 {
            return Err(invalid(format!(
                "costs must be non-negative (spread_points {}, commission_per_lot {})",
                costs.spread_points, costs.commission_per_lot
            )));
        }
        if !(costs.initial_balance.is_finite() && costs.initial_balance > 0.0) {
            return Err(invalid(format!(
                "initial_balance {} is not positive",
                costs.initial_balance
            )));
        }
        let windows = raw.features.unwrap_or_default();
        windows.check().map_err(invalid)?;

        let mut param_names: Vec<String> = Vec::new();
        let mut kinds: Vec<Option<ParamKind>> = Vec::new();
        let mut axes = Vec::new();
        let mut size: u64 = 1;
        for (a, raw_axis) in raw.axes.iter().enumerate() {
            let axis_no = a + 1;
            if raw_axis.params.is_empty() {
                return Err(invalid(format!("axis {axis_no} names no parameter")));
            }
            if raw_axis.values.is_empty() {
                return Err(invalid(format!(
                    "axis {axis_no} ({}) has no values",
                    raw_axis.params.join(", ")
                )));
            }
            let mut positions = Vec::new();
            for p in &raw_axis.params {
                if param_names.contains(p) {
                    return Err(invalid(format!("parameter {p} is set by more than one axis")));
                }
                param_names.push(p.clone());
                kinds.push(None);
                positions.push(param_names.len() - 1);
            }
            let width = positions.len();
            let mut tuples = Vec::with_capacity(raw_axis.values.len());
            for (j, v) in raw_axis.values.iter().enumerate() {
                let items: Vec<&toml::Value> = match (width, v) {
                    (1, toml::Value::Array(_)) => {
                        return Err(invalid(format!(
                            "axis {axis_no} ({}) value {} is a list; this axis takes single values",
                            raw_axis.params[0],
                            j + 1
                        )));
                    }
                    (1, v) => vec![v],
                    (w, toml::Value::Array(items)) if items.len() == w => items.iter().collect(),
                    (w, v) => {
                        return Err(invalid(format!(
                            "axis {axis_no} ({}) value {} is {v}; expected a list of {w} values",
                            raw_axis.params.join(", "),
                            j + 1
                        )));
                    }
                };
                let mut tuple = Vec::with_capacity(width);
                for (k, item) in items.into_iter().enumerate() {
                    let pos = positions[k];
                    let (x, kind) = value_to_f64(item)
                        .map_err(|e| invalid(format!("parameter {}: {e}", param_names[pos])))?;
                    let merged = match (kinds[pos], kind) {
                        (None, k) => k,
                        (Some(a), b) if a == b => a,
                        (Some(ParamKind::Int), ParamKind::Float)
                        | (Some(ParamKind::Float), ParamKind::Int) => ParamKind::Float,
                        _ => {
                            return Err(invalid(format!(
                                "parameter {} mixes \"long\"/\"short\" with numbers",
                                param_names[pos]
                            )));
                        }
                    };
                    kinds[pos] = Some(merged);
                    tuple.push(x);
                }
                if tuples.contains(&tuple) {
                    return Err(invalid(format!(
                        "axis {axis_no} ({}) repeats the value {}",
                        raw_axis.params.join(", "),
                        raw_axis.values[j]
                    )));
                }
                tuples.push(tuple);
            }
            size = size
                .checked_mul(tuples.len() as u64)
                .ok_or_else(|| invalid("grid size overflows u64".into()))?;
            axes.push(Axis {
                params: positions,
                values: tuples,
            });
        }
        let kinds = kinds.into_iter().map(|k| k.unwrap_or(ParamKind::Float)).collect();
        Ok(Grid {
            name: raw.name.unwrap_or_else(|| origin.to_string()),
            strategy: raw.strategy,
            lots: raw.lots,
            costs,
            windows,
            param_names,
            kinds,
            axes,
            size,
            source: text.to_string(),
        })
    }

    /// Number of strategies (not counting lot sizes).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Parameter names in grid order.
    pub fn param_names(&self) -> &[String] {
        &self.param_names
    }

    pub fn kind(&self, param: usize) -> ParamKind {
        self.kinds[param]
    }

    /// Checks the grid against a component's parameter names (from `describe()`) and returns,
    /// for each of the component's parameters in its order, the grid's position of it.
    pub fn match_params(&self, component: &[String]) -> Result<Vec<usize>, String> {
        let missing: Vec<&String> = component
            .iter()
            .filter(|p| !self.param_names.contains(p))
            .collect();
        let extra: Vec<&String> = self
            .param_names
            .iter()
            .filter(|p| !component.contains(p))
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(format!(
                "the grid's parameters do not match the strategy's: missing {missing:?}, unknown {extra:?} (the strategy takes {component:?})"
            ));
        }
        Ok(component
            .iter()
            .map(|p| {
                self.param_names
                    .iter()
                    .position(|q| q == p)
                    .expect("checked above")
            })
            .collect())
    }

    /// Parameter values of strategy `id`, in grid order.
    pub fn values(&self, id: u64) -> Vec<f64> {
        assert!(id < self.size, "strategy id {id} out of range 0..{}", self.size);
        let mut out = vec![0.0; self.param_names.len()];
        let mut rest = id;
        for axis in &self.axes {
            let n = axis.values.len() as u64;
            let tuple = &axis.values[(rest % n) as usize];
            rest /= n;
            for (&pos, &v) in axis.params.iter().zip(tuple) {
                out[pos] = v;
            }
        }
        out
    }

    /// Cost rules as the engine takes them, for a series quoted with `digits` decimals.
    pub fn engine_costs(&self, digits: u32) -> Costs {
        Costs {
            spread_points: self.costs.spread_points,
            commission_per_lot: self.costs.commission_per_lot,
            initial_balance: self.costs.initial_balance,
            // 10^d is exact and one division rounds once: the same value as the literal 1e-d.
            point_size: 1.0 / 10f64.powi(digits as i32),
            pip_points: pip_points(digits),
            units_per_lot: 100_000.0,
        }
    }

    /// A parameter value as text, as the results show it.
    pub fn format_value(&self, param: usize, v: f64) -> String {
        match self.kinds[param] {
            ParamKind::Direction => if v == 0.0 { "long" } else { "short" }.to_string(),
            ParamKind::Int => format!("{}", v as i64),
            ParamKind::Float => format!("{v}"),
        }
    }
}

/// Points in one pip: 10 for 5- and 3-digit quotes (fractional pips), else 1.
pub fn pip_points(digits: u32) -> i64 {
    if digits == 5 || digits == 3 { 10 } else { 1 }
}

impl fmt::Display for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut per_param: BTreeMap<usize, usize> = BTreeMap::new();
        for axis in &self.axes {
            for &p in &axis.params {
                per_param.insert(p, axis.values.len());
            }
        }
        writeln!(
            f,
            "grid {}: {} strategies x {} lot sizes = {} rows",
            self.name,
            self.size,
            self.lots.len(),
            self.size * self.lots.len() as u64
        )?;
        for axis in &self.axes {
            let names: Vec<&str> = axis
                .params
                .iter()
                .map(|&p| self.param_names[p].as_str())
                .collect();
            let vals: Vec<String> = axis
                .values
                .iter()
                .map(|t| {
                    let parts: Vec<String> = axis
                        .params
                        .iter()
                        .zip(t)
                        .map(|(&p, &v)| self.format_value(p, v))
                        .collect();
                    if parts.len() == 1 {
                        parts[0].clone()
                    } else {
                        format!("({})", parts.join(", "))
                    }
                })
                .collect();
            writeln!(
                f,
                "  {:<24} {:>3} values: {}",
                names.join(", "),
                axis.values.len(),
                vals.join(" ")
            )?;
        }
        write!(f, "  lots: {:?}", self.lots)
    }
}
