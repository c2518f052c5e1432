//! Strategies that got no rows, and why: the record every consumer shares (checkpoint, summary,
//! failures file, run log), and the summary of many of them by reason.
//!
//! Why a summary: a component that fails the same way on thousands of strategies would print
//! the same reason thousands of times. People need each distinct reason once, with how many
//! strategies it hit and where; the failures file keeps every line.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::sandbox::BatchError;

/// Strategies that failed even when run alone, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRange {
    pub range: Range<u64>,
    pub reason: BatchError,
}

impl FailedRange {
    /// How many strategies failed.
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
}

/// One distinct reason: how many strategies it hit, and their id ranges (adjacent ones joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonCount {
    pub reason: String,
    pub strategies: u64,
    pub ranges: Vec<Range<u64>>,
}

/// `failures` grouped by reason (the reason's text), most strategies first (then by first id).
pub fn by_reason(failures: &[FailedRange]) -> Vec<ReasonCount> {
    let mut groups: BTreeMap<String, Vec<Range<u64>>> = BTreeMap::new();
    for f in failures {
        groups
            .entry(f.reason.to_string())
            .or_default()
            .push(f.range.clone());
    }
    let mut counts: Vec<ReasonCount> = groups
        .into_iter()
        .map(|(reason, mut ranges)| {
            ranges.sort_by_key(|r| r.start);
            let mut joined: Vec<Range<u64>> = Vec::new();
            for r in ranges {
                match joined.last_mut() {
                    Some(last) if last.end == r.start => last.end = r.end,
                    _ => joined.push(r),
                }
            }
            ReasonCount {
                strategies: joined.iter().map(|r| r.end - r.start).sum(),
                reason,
                ranges: joined,
            }
        })
        .collect();
    counts.sort_by(|a, b| {
        b.strategies
            .cmp(&a.strategies)
            .then(a.ranges[0].start.cmp(&b.ranges[0].start))
    });
    counts
}

/// Id ranges as text, at most `max` of them: `17, 3000..3002, 4100 and 5 more ranges`.
fn ranges_text(ranges: &[Range<u64>], max: usize) -> String {
    let shown: Vec<String> = ranges
        .iter()
        .take(max)
        .map(|r| {
            if r.end - r.start == 1 {
                r.start.to_string()
            } else {
                format!("{}..{}", r.start, r.end)
            }
        })
        .collect();
    let mut text = shown.join(", ");
    if ranges.len() > max {
        text += &format!(" and {} more ranges", ranges.len() - max);
    }
    text
}

/// The summary lines of `failures`: one per distinct reason, at most `max_reasons`, then one
/// saying how many reasons were left out.
pub fn summary_lines(failures: &[FailedRange], max_reasons: usize) -> Vec<String> {
    let counts = by_reason(failures);
    let mut lines: Vec<String> = counts
        .iter()
        .take(max_reasons)
        .map(|c| {
            let what = if c.strategies == 1 {
                "strategy"
            } else {
                "strategies"
            };
            format!(
                "{} {what} ({}): {}",
                c.strategies,
                ranges_text(&c.ranges, 8),
                c.reason
            )
        })
        .collect();
    if counts.len() > max_reasons {
        let rest = &counts[max_reasons..];
        lines.push(format!(
            "and {} more reasons ({} strategies)",
            rest.len(),
            rest.iter().map(|c| c.strategies).sum::<u64>()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(range: Range<u64>, message: &str) -> FailedRange {
        FailedRange {
            range,
            reason: BatchError::Guest(message.into()),
        }
    }

    #[test]
    fn one_line_per_reason_with_counts_and_joined_ranges() {
        let failures = vec![
            failed(17..18, "a"),
            failed(3000..3001, "b"),
            failed(3001..3002, "b"),
            failed(3002..3003, "b"),
            failed(4100..4101, "b"),
        ];
        assert_eq!(
            summary_lines(&failures, 20),
            vec![
                "4 strategies (3000..3003, 4100): returned an error: b",
                "1 strategy (17): returned an error: a",
            ]
        );
    }

    #[test]
    fn reasons_past_the_cap_are_counted_not_listed() {
        let failures: Vec<FailedRange> = (0..25)
            .map(|i| failed(i * 10..i * 10 + 1, &format!("r{i:02}")))
            .collect();
        let lines = summary_lines(&failures, 20);
        assert_eq!(lines.len(), 21);
        assert_eq!(lines[0], "1 strategy (0): returned an error: r00");
        assert_eq!(lines[20], "and 5 more reasons (5 strategies)");
        let many: Vec<FailedRange> = (0..12).map(|i| failed(i * 2..i * 2 + 1, "same")).collect();
        assert_eq!(
            summary_lines(&many, 20),
            vec!["12 strategies (0, 2, 4, 6, 8, 10, 12, 14 and 4 more ranges): returned an error: same"]
        );
    }
}
