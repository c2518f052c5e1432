//! Series-level checks: time order within a file (duplicates, going backwards) and its repair,
//! overlaps between files, and gap statistics.
//!
//! Row-level checks (unparsable, missing, NaN, non-positive, high/low) happen in the parsers,
//! where the text is at hand; these need the whole series.

use std::fmt;

use super::error::{Defect, DefectKind, Defects, Unit};
use super::price::format_points;
use super::time::format_utc;

/// Repair entries beyond this many are counted but not listed.
pub const MAX_LISTED_REPAIRS: usize = 1000;

/// Rows of one file as parsed, before validation: UTC seconds, points, and where each row came
/// from (line, or Parquet row).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Rows {
    pub time: Vec<i64>,
    pub open: Vec<i64>,
    pub high: Vec<i64>,
    pub low: Vec<i64>,
    pub close: Vec<i64>,
    pub line: Vec<u32>,
}

impl Rows {
    pub fn with_capacity(n: usize) -> Self {
        Rows {
            time: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            line: Vec::with_capacity(n),
        }
    }

    #[inline]
    pub fn push(&mut self, time: i64, [o, h, l, c]: [i64; 4], line: u32) {
        self.time.push(time);
        self.open.push(o);
        self.high.push(h);
        self.low.push(l);
        self.close.push(c);
        self.line.push(line);
    }

    pub fn len(&self) -> usize {
        self.time.len()
    }

    fn prices(&self, i: usize) -> [i64; 4] {
        [self.open[i], self.high[i], self.low[i], self.close[i]]
    }

    /// The rows at `idx`, in that order.
    fn select(&self, idx: &[u32]) -> Rows {
        let pick = |v: &Vec<i64>| idx.iter().map(|&i| v[i as usize]).collect();
        Rows {
            time: pick(&self.time),
            open: pick(&self.open),
            high: pick(&self.high),
            low: pick(&self.low),
            close: pick(&self.close),
            line: idx.iter().map(|&i| self.line[i as usize]).collect(),
        }
    }
}

/// What `--repair` changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Repairs {
    /// Rows dropped because their timestamp had already appeared (the first is kept).
    pub dropped: usize,
    /// Rows that had to move to put the series in time order: the fewest rows whose removal
    /// leaves the rest in order (so one late block of 3 rows counts 3, not every row it skips).
    pub moved: usize,
    /// The individual changes, in file and line order (the first [`MAX_LISTED_REPAIRS`]).
    pub changes: Vec<Repair>,
}

impl Repairs {
    pub fn is_empty(&self) -> bool {
        self.dropped == 0 && self.moved == 0
    }

    fn record(&mut self, r: Repair) {
        match r.action {
            RepairAction::DroppedDuplicate { .. } => self.dropped += 1,
            RepairAction::Moved => self.moved += 1,
        }
        if self.changes.len() < MAX_LISTED_REPAIRS {
            self.changes.push(r);
        }
    }
}

impl fmt::Display for Repairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "repair: dropped {} duplicated row{}, moved {} row{} into time order",
            self.dropped,
            if self.dropped == 1 { "" } else { "s" },
            self.moved,
            if self.moved == 1 { "" } else { "s" }
        )
    }
}

/// One row changed by `--repair`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Repair {
    pub file: String,
    pub line: usize,
    pub unit: Unit,
    /// The row's time, UTC seconds.
    pub time: i64,
    pub action: RepairAction,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RepairAction {
    /// Dropped: the same timestamp is on `kept_line`; `identical` if the prices were too.
    DroppedDuplicate { kept_line: usize, identical: bool },
    /// Kept but moved to its place in time.
    Moved,
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Line => "line",
            Unit::Row => "row",
        };
        write!(
            f,
            "{} {unit} {} ({}): ",
            self.file,
            self.line,
            format_utc(self.time)
        )?;
        match &self.action {
            RepairAction::DroppedDuplicate { kept_line, identical } => write!(
                f,
                "dropped, duplicate of {unit} {kept_line} ({} prices)",
                if *identical { "same" } else { "different" }
            ),
            RepairAction::Moved => write!(f, "moved into time order"),
        }
    }
}

/// Checks that a file's rows strictly increase in time. Without `repair`, each duplicated
/// timestamp and each step backwards is a defect. With `repair`, duplicates are dropped (the
/// first kept), the rest sorted, and every change recorded.
pub(crate) fn check_order(
    rows: Rows,
    file: &str,
    unit: Unit,
    repair: bool,
    defects: &mut Defects,
    repairs: &mut Repairs,
) -> Rows {
    if rows.time.windows(2).all(|w| w[0] < w[1]) {
        return rows;
    }
    let n = rows.len();
    let t = &rows.time;
    // Sorted by (time, position): equal times are adjacent, the first in the file leading.
    let mut sorted: Vec<u32> = (0..n as u32).collect();
    sorted.sort_unstable_by_key(|&i| (t[i as usize], i));
    let mut dup_of: Vec<Option<u32>> = vec![None; n];
    let mut group_first = sorted.first().copied().unwrap_or(0);
    for w in sorted.windows(2) {
        if t[w[0] as usize] == t[w[1] as usize] {
            dup_of[w[1] as usize] = Some(group_first);
        } else {
            group_first = w[1];
        }
    }
    let line = |i: usize| rows.line[i] as usize;

    if !repair {
        let mut prev: Option<usize> = None;
        for i in 0..n {
            let kind = if let Some(first) = dup_of[i] {
                Some(DefectKind::Duplicate {
                    first_line: line(first as usize),
                })
            } else {
                let back = prev.filter(|&p| t[i] < t[p]).map(|p| DefectKind::Backwards {
                    previous: format_utc(t[p]),
                    previous_line: line(p),
                });
                prev = Some(i);
                back
            };
            if let Some(kind) = kind {
                defects.push(Defect {
                    file: file.to_string(),
                    line: line(i),
                    unit,
                    field: "time".into(),
                    value: format_utc(t[i]),
                    kind,
                });
            }
        }
        return rows;
    }

    let kept: Vec<usize> = (0..n).filter(|&i| dup_of[i].is_none()).collect();
    let kept_times: Vec<i64> = kept.iter().map(|&i| t[i]).collect();
    let mut in_order = vec![false; kept.len()];
    for k in longest_increasing(&kept_times) {
        in_order[k] = true;
    }
    let mut moved = in_order.iter().map(|&b| !b);
    for i in 0..n {
        let action = match dup_of[i] {
            Some(first) => Some(RepairAction::DroppedDuplicate {
                kept_line: line(first as usize),
                identical: rows.prices(i) == rows.prices(first as usize),
            }),
            None => moved.next().unwrap_or(false).then_some(RepairAction::Moved),
        };
        if let Some(action) = action {
            repairs.record(Repair {
                file: file.to_string(),
                line: line(i),
                unit,
                time: t[i],
                action,
            });
        }
    }
    sorted.retain(|&i| dup_of[i as usize].is_none());
    rows.select(&sorted)
}

/// Indices of one longest strictly increasing subsequence of `v` (patience sorting,
/// O(n log n)).
fn longest_increasing(v: &[i64]) -> Vec<usize> {
    // tails[k]: index of the smallest tail of an increasing run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = vec![usize::MAX; v.len()];
    for i in 0..v.len() {
        let k = tails.partition_point(|&j| v[j] < v[i]);
        if k > 0 {
            prev[i] = tails[k - 1];
        }
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut cur = tails.last().copied().unwrap_or(usize::MAX);
    while cur != usize::MAX {
        out.push(cur);
        cur = prev[cur];
    }
    out.reverse();
    out
}

/// The checks of one bar once its four prices (open, high, low, close) have been read: each
/// must be positive, `high >= max(open, close)` and `low <= min(open, close)`. Each defect is
/// reported with the index of the price it concerns; the prices are returned (0 where unread).
#[inline]
pub(crate) fn check_prices(
    read: [Result<i64, DefectKind>; 4],
    digits: u32,
    mut report: impl FnMut(usize, DefectKind),
) -> [i64; 4] {
    let mut p = [0i64; 4];
    let mut ok = [false; 4];
    for (k, r) in read.into_iter().enumerate() {
        match r {
            Ok(v) if v > 0 => (p[k], ok[k]) = (v, true),
            Ok(_) => report(k, DefectKind::NonPositive),
            Err(kind) => report(k, kind),
        }
    }
    let [o, h, l, c] = p;
    if ok[0] && ok[1] && ok[3] && h < o.max(c) {
        let max = format_points(o.max(c), digits);
        report(1, DefectKind::HighBelowMax { max });
    }
    if ok[0] && ok[2] && ok[3] && l > o.min(c) {
        let min = format_points(o.min(c), digits);
        report(2, DefectKind::LowAboveMin { min });
    }
    p
}

/// A file's rows with its name, for the cross-file check.
pub(crate) struct FileSpan<'a> {
    pub file: &'a str,
    pub unit: Unit,
    pub rows: &'a Rows,
}

/// Files are one series, not a merge: after ordering them by first bar, each must start after
/// every earlier file has ended. Returns the order (indices into `files`); files without rows
/// come last.
pub(crate) fn order_files(files: &[FileSpan], defects: &mut Defects) -> Vec<usize> {
    let span = |f: &FileSpan| -> Option<(i64, usize, i64)> {
        let t = &f.rows.time;
        let (imin, &min) = t.iter().enumerate().min_by_key(|&(i, &v)| (v, i))?;
        Some((min, imin, *t.iter().max()?))
    };
    let spans: Vec<_> = files.iter().map(span).collect();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| (spans[i].is_none(), spans[i].map(|s| s.0)));
    // The file reaching furthest so far: (its last time, its index).
    let mut reach: Option<(i64, usize)> = None;
    for &i in &order {
        let Some((min, imin, max)) = spans[i] else {
            continue;
        };
        if let Some((last, j)) = reach
            && min <= last
        {
            defects.push(Defect {
                file: files[i].file.to_string(),
                line: files[i].rows.line[imin] as usize,
                unit: files[i].unit,
                field: "time".into(),
                value: format_utc(min),
                kind: DefectKind::Overlap {
                    other_file: files[j].file.to_string(),
                    other_last: format_utc(last),
                },
            });
        }
        if reach.is_none_or(|(last, _)| max > last) {
            reach = Some((max, i));
        }
    }
    order
}

/// A stretch longer than the bar interval with no bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gap {
    /// Time of the last bar before the gap (UTC seconds).
    pub start: i64,
    /// Time of the first bar after it.
    pub end: i64,
}

impl Gap {
    pub fn secs(&self) -> i64 {
        self.end - self.start
    }
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.secs();
        write!(
            f,
            "{} -> {} ({}d {:02}h {:02}m)",
            format_utc(self.start),
            format_utc(self.end),
            s / 86_400,
            s % 86_400 / 3600,
            s % 3600 / 60
        )
    }
}

/// Gaps are normal (weekends, holidays): counted and shown, never errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GapStats {
    /// Bar-to-bar steps longer than the interval.
    pub count: usize,
    /// The five longest, longest first (earlier first on ties).
    pub largest: Vec<Gap>,
}

impl fmt::Display for GapStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} gap{}", self.count, if self.count == 1 { "" } else { "s" })?;
        if !self.largest.is_empty() {
            write!(f, "; longest:")?;
            for g in &self.largest {
                write!(f, "\n  {g}")?;
            }
        }
        Ok(())
    }
}

/// How many of the longest gaps a report keeps.
pub const LARGEST_GAPS: usize = 5;

/// The bar interval (the most common step; the shortest among equally common ones) and the
/// gaps longer than it. A series of fewer than two bars has interval 0 and no gaps.
pub(crate) fn gap_stats(time: &[i64]) -> (i64, GapStats) {
    let mut steps: Vec<i64> = time.windows(2).map(|w| w[1] - w[0]).collect();
    if steps.is_empty() {
        return (0, GapStats::default());
    }
    steps.sort_unstable();
    let (mut interval, mut best) = (steps[0], 0usize);
    let mut k = 0;
    while k < steps.len() {
        let run = steps[k..].partition_point(|&s| s == steps[k]);
        if run > best {
            (interval, best) = (steps[k], run);
        }
        k += run;
    }
    let mut stats = GapStats::default();
    for w in time.windows(2) {
        if w[1] - w[0] > interval {
            stats.count += 1;
            let g = Gap {
                start: w[0],
                end: w[1],
            };
            let pos = stats.largest.partition_point(|x| x.secs() >= g.secs());
            if pos < LARGEST_GAPS {
                stats.largest.insert(pos, g);
                stats.largest.truncate(LARGEST_GAPS);
            }
        }
    }
    (interval, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(times: &[i64]) -> Rows {
        let mut r = Rows::default();
        for (i, &t) in times.iter().enumerate() {
            r.push(t, [10, 12, 9, 11], i as u32 + 1);
        }
        r
    }

    #[test]
    fn lis_picks_the_fewest_moves() {
        let v = [1, 2, 3, 10, 11, 12, 4, 5, 6, 13];
        let lis = longest_increasing(&v);
        assert_eq!(lis.len(), 7);
        assert!(lis.windows(2).all(|w| v[w[0]] < v[w[1]]));
    }

    #[test]
    fn order_defects_and_repair() {
        let r = rows(&[1, 2, 2, 5, 3, 4, 6]);
        let mut d = Defects::default();
        let mut rep = Repairs::default();
        let out = check_order(r.clone(), "f", Unit::Line, false, &mut d, &mut rep);
        assert_eq!(out, r);
        assert_eq!(d.count, 2, "{:?}", d.list);
        assert_eq!(d.list[0].kind, DefectKind::Duplicate { first_line: 2 });
        assert_eq!(d.list[0].line, 3);
        assert!(matches!(
            d.list[1].kind,
            DefectKind::Backwards { previous_line: 4, .. }
        ));

        let mut d = Defects::default();
        let out = check_order(r, "f", Unit::Line, true, &mut d, &mut rep);
        assert!(d.is_empty());
        assert_eq!(out.time, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(out.line, vec![1, 2, 5, 6, 4, 7]);
        assert_eq!((rep.dropped, rep.moved), (1, 1));
    }

    #[test]
    fn gaps_and_interval() {
        let (interval, g) = gap_stats(&[0, 60, 120, 600, 660, 4000, 4060]);
        assert_eq!(interval, 60);
        assert_eq!(g.count, 2);
        assert_eq!(
            g.largest,
            vec![
                Gap {
                    start: 660,
                    end: 4000
                },
                Gap { start: 120, end: 600 }
            ]
        );
    }
}
