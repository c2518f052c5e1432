//! Joining part files (from `stratbox batch` workers or shards) into one results file, after
//! proving that they belong to the same run and cover every strategy exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::grid::Grid;
use crate::results::{self, ResultsError, keys};

/// What a merge wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub output: PathBuf,
    pub parts: usize,
    pub rows: usize,
    pub strategies: u64,
}

/// Describes the first few ids of a list, for messages.
fn some_ids(ids: &[u64]) -> String {
    let shown: Vec<String> = ids.iter().take(10).map(|i| i.to_string()).collect();
    if ids.len() > 10 {
        format!("{} ... ({} in all)", shown.join(", "), ids.len())
    } else {
        shown.join(", ")
    }
}

/// Merges `parts` into `output`. Every part must carry the same run metadata (grid, data,
/// component, costs); together they must hold every strategy id of the grid exactly once, each
/// at every lot size.
pub fn merge(parts: &[PathBuf], output: &Path) -> Result<Merged, ResultsError> {
    if parts.is_empty() {
        return Err(ResultsError::Merge("no part files given".into()));
    }
    let mut reference: Option<(PathBuf, BTreeMap<String, String>)> = None;
    let mut frames = Vec::new();
    for path in parts {
        let (df, mut meta) = results::read_parquet(path)?;
        meta.remove(keys::RANGE);
        meta.remove(keys::SHARD);
        match &reference {
            None => reference = Some((path.clone(), meta)),
            Some((first, expected)) => {
                let differing: Vec<&str> = expected
                    .keys()
                    .chain(meta.keys())
                    .filter(|k| expected.get(*k) != meta.get(*k))
                    .map(String::as_str)
                    .collect();
                if !differing.is_empty() {
                    return Err(ResultsError::Merge(format!(
                        "{} and {} come from different runs: they differ in {}",
                        first.display(),
                        path.display(),
                        differing.join(", ")
                    )));
                }
            }
        }
        frames.push(df);
    }
    let (_, meta) = reference.expect("at least one part");
    let grid_text = meta.get(keys::GRID).ok_or_else(|| {
        ResultsError::Merge(format!(
            "{} has no {} metadata: not a stratbox file",
            parts[0].display(),
            keys::GRID
        ))
    })?;
    let grid = Grid::parse(grid_text, "the parts' grid").map_err(|e| ResultsError::Merge(e.to_string()))?;
    let n_lots = grid.lots.len();

    let mut all = frames.remove(0);
    for df in &frames {
        all.vstack_mut(df)
            .map_err(|e| ResultsError::Merge(format!("parts have different columns: {e}")))?;
    }
    let mut all = all
        .sort(["strategy_id", "lots"], SortMultipleOptions::default())
        .map_err(|e| ResultsError::Merge(e.to_string()))?;

    let ids = all
        .column("strategy_id")
        .and_then(|c| c.i64().cloned())
        .map_err(|e| ResultsError::Merge(format!("strategy_id column: {e}")))?;
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for id in ids.iter().flatten() {
        *counts.entry(id as u64).or_default() += 1;
    }
    let missing: Vec<u64> = (0..grid.size()).filter(|id| !counts.contains_key(id)).collect();
    let duplicated: Vec<u64> = counts
        .iter()
        .filter(|(_, n)| **n > n_lots)
        .map(|(id, _)| *id)
        .collect();
    let partial: Vec<u64> = counts
        .iter()
        .filter(|(_, n)| **n < n_lots)
        .map(|(id, _)| *id)
        .collect();
    let outside: Vec<u64> = counts.keys().copied().filter(|id| *id >= grid.size()).collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "{} strategies missing: {}",
            missing.len(),
            some_ids(&missing)
        ));
    }
    if !duplicated.is_empty() {
        problems.push(format!(
            "{} strategies in more than one part: {}",
            duplicated.len(),
            some_ids(&duplicated)
        ));
    }
    if !partial.is_empty() {
        problems.push(format!(
            "{} strategies without all {n_lots} lot sizes: {}",
            partial.len(),
            some_ids(&partial)
        ));
    }
    if !outside.is_empty() {
        problems.push(format!(
            "{} ids outside the grid's 0..{}: {}",
            outside.len(),
            grid.size(),
            some_ids(&outside)
        ));
    }
    if !problems.is_empty() {
        return Err(ResultsError::Merge(format!(
            "the {} parts do not cover the grid exactly once: {}",
            parts.len(),
            problems.join("; ")
        )));
    }
    let rows = all.height();
    results::write_parquet(output, &mut all, &meta)?;
    Ok(Merged {
        output: output.to_owned(),
        parts: parts.len(),
        rows,
        strategies: grid.size(),
    })
}
