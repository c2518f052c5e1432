//! Joining part files (from `stratbox batch` workers or shards) into one results file, after
//! proving that they belong to the same run and cover every strategy exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::daily::{Daily, DailyColumns, DailyWriter, EntryKey, daily_path, entry_order, read_daily};
use super::{ResultsError, keys, read_parquet, write_parquet};
use crate::grid::Grid;

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

/// What is wrong with rows of strategy `ids` as a cover of a grid of `grid_size` strategies at
/// `n_lots` lot sizes each (`None`: every id exactly once, at every lot size).
pub(crate) fn coverage(ids: impl Iterator<Item = u64>, grid_size: u64, n_lots: usize) -> Option<String> {
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for id in ids {
        *counts.entry(id).or_default() += 1;
    }
    let missing: Vec<u64> = (0..grid_size).filter(|id| !counts.contains_key(id)).collect();
    let with = |keep: fn(usize, usize) -> bool| -> Vec<u64> {
        counts
            .iter()
            .filter(|(_, n)| keep(**n, n_lots))
            .map(|(id, _)| *id)
            .collect()
    };
    let duplicated = with(|n, lots| n > lots);
    let partial = with(|n, lots| n < lots);
    let outside: Vec<u64> = counts.keys().copied().filter(|id| *id >= grid_size).collect();
    let mut problems = Vec::new();
    for (ids, what) in [
        (&missing, "strategies missing".to_string()),
        (&duplicated, "strategies in more than one part".to_string()),
        (&partial, format!("strategies without all {n_lots} lot sizes")),
        (&outside, format!("ids outside the grid's 0..{grid_size}")),
    ] {
        if !ids.is_empty() {
            problems.push(format!("{} {what}: {}", ids.len(), some_ids(ids)));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
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
        let (df, mut meta) = read_parquet(path)?;
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
    if let Some(problems) = coverage(ids.iter().flatten().map(|id| id as u64), grid.size(), n_lots) {
        return Err(ResultsError::Merge(format!(
            "the {} parts do not cover the grid exactly once: {problems}",
            parts.len()
        )));
    }
    let rows = all.height();
    merge_daily(parts, output, &meta)?;
    write_parquet(output, &mut all, &meta)?;
    Ok(Merged {
        output: output.to_owned(),
        parts: parts.len(),
        rows,
        strategies: grid.size(),
    })
}

/// Merges the parts' daily files (SPEC section 7) into `output`'s: all parts have one or none
/// has; their calendars must agree. Rows are sorted by (strategy_id, lots, day), so the file is
/// byte-identical to a single run's. Without daily files a stale merged one is removed.
fn merge_daily(
    parts: &[PathBuf],
    output: &Path,
    meta: &BTreeMap<String, String>,
) -> Result<(), ResultsError> {
    let (with, without): (Vec<&PathBuf>, Vec<&PathBuf>) = parts.iter().partition(|p| daily_path(p).exists());
    if with.is_empty() {
        let _ = std::fs::remove_file(daily_path(output));
        return Ok(());
    }
    if let Some(missing) = without.first() {
        return Err(ResultsError::Merge(format!(
            "{} has no daily P&L file {} but {} has: merge parts of one run",
            missing.display(),
            daily_path(missing).display(),
            with[0].display()
        )));
    }
    let mut dailies: Vec<Daily> = Vec::with_capacity(with.len());
    for part in with {
        let d = read_daily(&daily_path(part))?;
        if let Some(first) = dailies.first()
            && first.calendar != d.calendar
        {
            return Err(ResultsError::Merge(format!(
                "{} and {} have different calendars ({} and {} days)",
                first.path.display(),
                d.path.display(),
                first.calendar.len(),
                d.calendar.len()
            )));
        }
        dailies.push(d);
    }
    // A k-way merge of the parts, each sorted already, a row group of each at a time: the
    // merged file is never in memory, and its row groups fall where a single run puts them.
    let mut writer = DailyWriter::create(output, &dailies[0].calendar, meta)?;
    let mut cursors = dailies
        .iter()
        .map(PartCursor::open)
        .collect::<Result<Vec<_>, _>>()?;
    loop {
        let next = cursors
            .iter()
            .enumerate()
            .filter_map(|(k, c)| c.key().map(|key| (k, key)))
            .min_by(|a, b| entry_order(&a.1, &b.1));
        let Some((k, _)) = next else { break };
        let c = &mut cursors[k];
        writer.push_entry(&c.columns, c.at)?;
        c.advance()?;
    }
    writer.finish()
}

/// Where a merge stands in one part's daily file: a row group read, and the entry next.
struct PartCursor<'a> {
    daily: &'a Daily,
    group: usize,
    columns: DailyColumns,
    at: usize,
}

impl<'a> PartCursor<'a> {
    fn open(daily: &'a Daily) -> Result<PartCursor<'a>, ResultsError> {
        let mut c = PartCursor {
            daily,
            group: 0,
            columns: DailyColumns::default(),
            at: 0,
        };
        c.fill()?;
        Ok(c)
    }

    /// Reads row groups from `group` on until one has entries (or none is left).
    fn fill(&mut self) -> Result<(), ResultsError> {
        while self.at >= self.columns.len() && self.group < self.daily.row_groups() {
            self.columns = self.daily.read_group(self.group)?;
            self.group += 1;
            self.at = 0;
        }
        Ok(())
    }

    fn key(&self) -> Option<EntryKey> {
        let (c, i) = (&self.columns, self.at);
        (i < c.len()).then(|| (c.strategy_id[i], c.lots[i], c.day[i]))
    }

    fn advance(&mut self) -> Result<(), ResultsError> {
        self.at += 1;
        self.fill()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_names_missing_duplicated_partial_and_outside_ids() {
        let twice = |ids: &[u64]| ids.iter().flat_map(|&i| [i, i]).collect::<Vec<u64>>();
        assert_eq!(coverage(twice(&[0, 1, 2]).into_iter(), 3, 2), None);
        let mut ids = twice(&[0, 2, 2, 3]);
        ids.push(1);
        assert_eq!(
            coverage(ids.into_iter(), 3, 2).unwrap(),
            "1 strategies in more than one part: 2; 1 strategies without all 2 lot sizes: 1; \
             1 ids outside the grid's 0..3: 3"
        );
        let missing = coverage(twice(&[0]).into_iter(), 13, 2).unwrap();
        assert_eq!(
            missing,
            "12 strategies missing: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ... (12 in all)"
        );
    }
}
