//! A run's provenance: what went into its results (data digests, grid, component, costs, the
//! part of the grid and of the data it covers), written into the results file's metadata, and
//! the run's identity for its checkpoint (that plus what changes how it runs).

use std::collections::BTreeMap;

use super::RunConfig;
use super::checkpoint::Manifest;
use crate::data::{Bars, LoadReport};
use crate::results::keys;
use crate::sandbox::ComponentInfo;
use crate::util::time::iso_utc;

/// The run's provenance, stored in the Parquet key-value metadata.
pub(crate) fn metadata(
    cfg: &RunConfig,
    bars: &Bars,
    report: &LoadReport,
    info: &ComponentInfo,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert(keys::VERSION.into(), env!("CARGO_PKG_VERSION").into());
    m.insert(keys::GRID.into(), cfg.grid.source.clone());
    let files: Vec<serde_json::Value> = report
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                // The file name only: paths differ between machines, contents do not.
                "file": f.path.file_name().map(|n| n.to_string_lossy().into_owned()),
                "sha256": f.sha256,
                "format": f.format,
                "zone": f.zone,
                "rows": f.rows,
            })
        })
        .collect();
    m.insert(keys::DATA.into(), serde_json::Value::Array(files).to_string());
    let changes: Vec<String> = report.repairs.changes.iter().map(|c| c.to_string()).collect();
    m.insert(
        keys::REPAIRS.into(),
        serde_json::json!({
            "dropped": report.repairs.dropped,
            "moved": report.repairs.moved,
            "changes": changes,
        })
        .to_string(),
    );
    m.insert(keys::BARS.into(), bars.len().to_string());
    if let (Some(first), Some(last)) = (bars.time.first(), bars.time.last()) {
        m.insert(
            keys::SPAN.into(),
            format!("{}/{}", iso_utc(*first), iso_utc(*last)),
        );
    }
    m.insert(
        keys::COMPONENT.into(),
        serde_json::json!({
            "name": info.name,
            "version": info.version,
            "params": info.params,
            "sha256": cfg.component.sha256(),
        })
        .to_string(),
    );
    let costs = cfg.grid.engine_costs(bars.digits);
    m.insert(
        keys::COSTS.into(),
        serde_json::json!({
            "spread_points": costs.spread_points,
            "commission_per_lot": costs.commission_per_lot,
            "initial_balance": costs.initial_balance,
            "point_size": costs.point_size,
            "pip_points": costs.pip_points,
            "units_per_lot": costs.units_per_lot,
            "digits": bars.digits,
        })
        .to_string(),
    );
    if let Some(r) = &cfg.range {
        m.insert(keys::RANGE.into(), format!("{}..{}", r.start, r.end));
    }
    if let Some(w) = &cfg.window {
        m.insert(
            keys::WINDOW.into(),
            format!("{}/{}", iso_utc(w.start), iso_utc(w.end)),
        );
    }
    m
}

/// The run's identity for its checkpoint: everything that changes its results. `daily`: the
/// batches' rows carry daily P&L (so a checkpoint saved without it is not resumed with it).
pub(crate) fn manifest(
    cfg: &RunConfig,
    meta: &BTreeMap<String, String>,
    batches: usize,
    daily: bool,
) -> Manifest {
    let mut m: Manifest = meta.clone();
    m.insert("daily_pnl".into(), daily.to_string());
    m.remove(keys::VERSION);
    m.insert("batch_size".into(), cfg.batch_size.to_string());
    m.insert("batches".into(), batches.to_string());
    m.insert("stratbox_version".into(), env!("CARGO_PKG_VERSION").into());
    let l = &cfg.limits;
    m.insert(
        "limits".into(),
        format!(
            "memory {} B, deadline {:?}, fuel {:?}, reply {} B, output {} B",
            l.memory_bytes, l.deadline, l.fuel, l.reply_bytes, l.output_bytes
        ),
    );
    m.insert("engine".into(), format!("{:?}", cfg.engine));
    if let Some(shard) = cfg.shard {
        m.insert("shard".into(), shard.to_string());
    }
    m
}
