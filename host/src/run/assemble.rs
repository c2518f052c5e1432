//! The rows of finished batches, taken in strategy order while the run goes on: each batch's
//! daily P&L goes into the daily file (and its Sharpe and Sortino into the ratios) as soon as
//! every batch before it is done, and is let go.
//!
//! Why while the run goes on, not after its last batch: the daily file's row groups take polars
//! ~15 ms each to encode (0.13 s for the bundled year's 2.1 M entries, on a thread of their
//! own), which after the batches was the longest part of a run's write phase; handed over
//! batch by batch, the encoding overlaps the batches still running.
//!
//! Why a batch that finishes early is read back from its checkpoint when its turn comes, and
//! not held: with one slow batch at the front, holding the others would hold the whole daily
//! table (52.7 M entries for 25 years), which the run must never need at once. The checkpoint
//! was just written, so it is read from the page cache.

use std::collections::BTreeSet;
use std::ops::Range;

use stratbox_engine::ResultRow;

use super::RunError;
use super::checkpoint::{BatchRecord, Checkpoint};
use super::failures::FailedRange;
use crate::results::daily::DailyWriter;
use crate::results::ratios::Ratios;
use crate::results::{self, ResultsError};

/// What the finished batches come to once all are taken: the rows (strategy order, without
/// their daily P&L), their ratios when the run books daily P&L, the failures, and the daily
/// file still to finish.
pub(crate) struct Assembled {
    pub rows: Vec<ResultRow>,
    pub ratios: Option<Vec<Ratios>>,
    pub failures: Vec<FailedRange>,
    pub daily: Option<DailyWriter>,
}

/// Takes the batches of a run in the order of their ranges, each once every batch before it is
/// saved.
pub(crate) struct Assembler {
    /// All batches of the run, by range start.
    in_order: Vec<(usize, Range<u64>)>,
    /// How many of `in_order` are taken.
    next: usize,
    /// Batches saved in the checkpoint (earlier runs' and this one's).
    saved: BTreeSet<usize>,
    days: usize,
    out: Assembled,
}

impl Assembler {
    /// `batches` of the run, `saved` those an earlier run left in the checkpoint, `daily` the
    /// daily file to fill (none for a component without daily P&L) over a calendar of `days`.
    pub(crate) fn new(
        batches: &[(usize, Range<u64>)],
        saved: BTreeSet<usize>,
        daily: Option<DailyWriter>,
        days: usize,
        rows: usize,
    ) -> Assembler {
        let mut in_order = batches.to_vec();
        in_order.sort_by_key(|(_, range)| range.start);
        let ratios = daily.as_ref().map(|_| Vec::with_capacity(rows));
        Assembler {
            in_order,
            next: 0,
            saved,
            days,
            out: Assembled {
                rows: Vec::with_capacity(rows),
                ratios,
                failures: Vec::new(),
                daily,
            },
        }
    }

    /// Takes the batches an earlier run saved whose turn has come (all of them up to the first
    /// that is still to run).
    pub(crate) fn saved_before(&mut self, checkpoint: &Checkpoint) -> Result<(), RunError> {
        self.advance(checkpoint, None)
    }

    /// Takes `record`, just saved in `checkpoint`, if its turn has come, and every saved batch
    /// after it whose turn then comes (read back from the checkpoint).
    pub(crate) fn saved(&mut self, checkpoint: &Checkpoint, record: BatchRecord) -> Result<(), RunError> {
        self.saved.insert(record.index);
        self.advance(checkpoint, Some(record))
    }

    fn advance(&mut self, checkpoint: &Checkpoint, mut record: Option<BatchRecord>) -> Result<(), RunError> {
        while let Some((index, range)) = self.in_order.get(self.next).cloned() {
            if !self.saved.contains(&index) {
                break;
            }
            let batch = match record.take_if(|r| r.index == index) {
                Some(r) => r,
                None => checkpoint.load(index, &range)?,
            };
            self.take(batch)?;
            self.next += 1;
        }
        Ok(())
    }

    /// Takes the batches not taken yet, all saved by now, and hands over what they come to.
    pub(crate) fn finish(mut self, checkpoint: &Checkpoint) -> Result<Assembled, RunError> {
        let rest: Vec<usize> = self.in_order[self.next..].iter().map(|(i, _)| *i).collect();
        self.saved.extend(rest);
        self.advance(checkpoint, None)?;
        self.out.failures.sort_by_key(|f| f.range.start);
        Ok(self.out)
    }

    fn take(&mut self, record: BatchRecord) -> Result<(), ResultsError> {
        let mut batch = record.rows;
        results::sort_rows(&mut batch);
        let out = &mut self.out;
        for mut row in batch {
            if let (Some(daily), Some(ratios)) = (&mut out.daily, &mut out.ratios) {
                ratios.push(Ratios::of(&row.daily, self.days));
                daily.push_row(&row)?;
            }
            row.daily = Vec::new();
            out.rows.push(row);
        }
        out.failures.extend(record.failures);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use stratbox_engine::protocol::DayPnl;

    use super::*;
    use crate::results::daily::{Calendar, daily_path};

    const BATCHES: [(usize, Range<u64>); 3] = [(0, 0..2), (1, 2..4), (2, 4..6)];

    fn row(id: u64, lots: f64) -> ResultRow {
        // Strategy `id` trades on days id and id + 2, more at the larger lot size.
        let daily = vec![
            DayPnl {
                day: id as i32,
                n_trades: 1,
                pnl_usd: 10.0 * lots - id as f64,
            },
            DayPnl {
                day: id as i32 + 2,
                n_trades: 2,
                pnl_usd: -3.0 * lots,
            },
        ];
        ResultRow {
            strategy_id: id,
            lots,
            n_trades: 3,
            n_wins: 1,
            n_losses: 2,
            n_sl: 1,
            n_tp: 1,
            n_time: 1,
            gross_profit_usd: 10.0 * lots,
            gross_loss_usd: -6.0 * lots - id as f64,
            net_pnl_usd: daily.iter().map(|d| d.pnl_usd).sum(),
            profit_factor: None,
            win_rate: None,
            expectancy_usd: None,
            max_drawdown_usd: 0.0,
            max_drawdown_pct: 0.0,
            return_pct: 0.0,
            avg_bars_held: None,
            ruined: false,
            open_at_end: false,
            open_pnl_usd: 0.0,
            daily,
        }
    }

    /// Batch `k`'s record, its rows in reverse order (a batch's rows are sorted when taken).
    fn record(k: usize) -> BatchRecord {
        let range = BATCHES[k].1.clone();
        let rows = range
            .clone()
            .flat_map(|id| [row(id, 0.1), row(id, 0.2)])
            .rev()
            .collect();
        BatchRecord {
            index: k,
            start: range.start,
            end: range.end,
            rows,
            failures: Vec::new(),
        }
    }

    fn calendar() -> Calendar {
        Calendar {
            days: (0..10).collect(),
        }
    }

    fn assembler(output: &Path, checkpoint: &Checkpoint, saved: BTreeSet<usize>) -> Assembler {
        let daily = DailyWriter::create_in(output, checkpoint.dir(), &calendar(), &BTreeMap::new()).unwrap();
        Assembler::new(&BATCHES, saved, Some(daily), calendar().len(), 12)
    }

    /// Batches saved in `order`: the daily file's bytes and the rows.
    fn assemble(order: &[usize]) -> (Vec<u8>, Vec<ResultRow>, usize) {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("r.parquet");
        let checkpoint = Checkpoint::open(&output, &BTreeMap::new(), false).unwrap();
        let mut a = assembler(&output, &checkpoint, BTreeSet::new());
        let mut taken_after_first = 0;
        for (n, &k) in order.iter().enumerate() {
            checkpoint.save(&record(k)).unwrap();
            a.saved(&checkpoint, record(k)).unwrap();
            if n == 0 {
                taken_after_first = a.next;
            }
        }
        let out = a.finish(&checkpoint).unwrap();
        assert_eq!(out.ratios.as_ref().map(Vec::len), Some(12));
        out.daily.unwrap().finish().unwrap();
        let bytes = std::fs::read(daily_path(&output)).unwrap();
        (bytes, out.rows, taken_after_first)
    }

    #[test]
    fn batches_finishing_out_of_order_give_the_file_of_batches_in_order() {
        let (in_order, rows, taken) = assemble(&[0, 1, 2]);
        assert_eq!(taken, 1);
        let keys: Vec<(u64, f64)> = rows.iter().map(|r| (r.strategy_id, r.lots)).collect();
        let expected: Vec<(u64, f64)> = (0..6).flat_map(|id| [(id, 0.1), (id, 0.2)]).collect();
        assert_eq!(keys, expected);
        assert!(rows.iter().all(|r| r.daily.is_empty()), "daily P&L let go");
        for order in [[2, 0, 1], [1, 2, 0], [2, 1, 0]] {
            let (bytes, again, taken) = assemble(&order);
            assert_eq!(bytes, in_order, "{order:?}");
            assert_eq!(again, rows, "{order:?}");
            // A batch saved before its turn is not taken (nor held): it is read back later.
            assert_eq!(taken, (order[0] == 0) as usize, "{order:?}");
        }
    }

    #[test]
    fn an_earlier_runs_batches_are_taken_first_and_a_run_that_stops_leaves_no_daily_file() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("r.parquet");
        let checkpoint = Checkpoint::open(&output, &BTreeMap::new(), false).unwrap();
        checkpoint.save(&record(0)).unwrap();
        let mut a = assembler(&output, &checkpoint, BTreeSet::from([0]));
        a.saved_before(&checkpoint).unwrap();
        assert_eq!(a.next, 1);
        checkpoint.save(&record(2)).unwrap();
        a.saved(&checkpoint, record(2)).unwrap();
        assert_eq!(a.next, 1, "batch 1 is still to run");
        // The run stops here (interrupted, or a broken component): nothing beside the results,
        // and the daily file's temporary, in the checkpoint directory, is gone with it.
        drop(a);
        assert!(!daily_path(&output).exists());
        let mut left: Vec<_> = std::fs::read_dir(checkpoint.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["batch-000000.bin", "batch-000002.bin", "manifest.json"]);
    }
}
