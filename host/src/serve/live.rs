//! What the live page shows of a run, kept as the run goes: a [`Progress`] sink that updates a
//! snapshot (counts, rate, ETA, memory, failures, a leaderboard from the finished batches, the
//! timeline of batches) and broadcasts every event as the same JSON object `--progress json`
//! prints, for the server-sent events of `/events`.
//!
//! Why a wrapper: the run knows nothing of HTTP; it tells its progress sink what happened, and
//! this sink tells both the terminal (the sink it wraps) and the browser. Keeping the state is a
//! few microseconds a batch; the server reads it on its own threads.

use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};
use stratbox_engine::ResultRow;
use tokio::sync::broadcast;

use crate::report::rank::{Metric, Ranking};
use crate::run::{BatchOutcome, Progress, batch_json};
use crate::sys;

/// Failures and timeline entries kept for the page (the run log has them all).
const KEEP: usize = 2_000;
/// Strategies on the leaderboard.
const LEADERS: usize = 20;

/// A strategy's row as the leaderboard ranks it.
#[derive(Debug, Clone)]
struct Leader {
    strategy_id: u64,
    lots: f64,
    value: f64,
    n_trades: u32,
    net_pnl_usd: f64,
}

/// The run as the page shows it.
#[derive(Debug, Default)]
struct Snapshot {
    headline: String,
    total: usize,
    resumed: usize,
    done: usize,
    strategies: u64,
    strategies_done: u64,
    failed: u64,
    started: Option<Instant>,
    finished: bool,
    failures: Vec<Value>,
    timeline: Vec<Value>,
    leaders: Vec<Leader>,
}

/// The shared state of one live run.
pub struct Live {
    snapshot: Mutex<Snapshot>,
    events: broadcast::Sender<String>,
    ranking: Ranking,
    lots: f64,
    describe: Box<dyn Fn(u64) -> String + Send + Sync>,
}

/// A metric's value in a row, for the leaderboard (the metrics `--rank-by` accepts).
fn value(row: &ResultRow, metric: Metric) -> Option<f64> {
    match metric.name {
        "net_pnl_usd" => Some(row.net_pnl_usd),
        "return_pct" => Some(row.return_pct),
        "profit_factor" => row.profit_factor,
        "expectancy_usd" => row.expectancy_usd,
        "win_rate" => row.win_rate,
        "gross_profit_usd" => Some(row.gross_profit_usd),
        "gross_loss_usd" => Some(row.gross_loss_usd),
        "n_trades" => Some(row.n_trades as f64),
        "max_drawdown_usd" => Some(row.max_drawdown_usd),
        "max_drawdown_pct" => Some(row.max_drawdown_pct),
        _ => None,
    }
}

impl Live {
    /// A live run ranked by `ranking` at `lots`; `describe` gives a strategy's parameters.
    pub fn new(ranking: Ranking, lots: f64, describe: Box<dyn Fn(u64) -> String + Send + Sync>) -> Live {
        Live {
            snapshot: Mutex::new(Snapshot::default()),
            events: broadcast::channel(1024).0,
            ranking,
            lots,
            describe,
        }
    }

    /// A receiver of the events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.events.subscribe()
    }

    fn publish(&self, event: &Value) {
        // No receiver (no browser open) is not an error.
        let _ = self.events.send(event.to_string());
    }

    /// The run so far, as `/api/state` serves it.
    pub fn state(&self) -> Value {
        let s = self.snapshot.lock().expect("the snapshot lock is never poisoned");
        let elapsed = s.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let this_run = s.done.saturating_sub(s.resumed);
        let rate = if elapsed > 0.0 {
            s.strategies_done as f64 / elapsed
        } else {
            0.0
        };
        let eta = (this_run > 0 && !s.finished)
            .then(|| elapsed / this_run as f64 * (s.total.saturating_sub(s.done)) as f64);
        let leaders: Vec<Value> = s
            .leaders
            .iter()
            .map(|l| {
                json!({"strategy_id": l.strategy_id, "lots": l.lots, "value": l.value,
                       "n_trades": l.n_trades, "net_pnl_usd": l.net_pnl_usd, "params": (self.describe)(l.strategy_id)})
            })
            .collect();
        json!({
            "event": "state",
            "headline": s.headline,
            "total": s.total,
            "resumed": s.resumed,
            "done": s.done,
            "strategies": s.strategies,
            "strategies_done": s.strategies_done,
            "failed": s.failed,
            "seconds": elapsed,
            "strategies_per_second": rate,
            "eta_seconds": eta,
            "rss_bytes": sys::current_rss(),
            "finished": s.finished,
            "rank_by": self.ranking.metric.name,
            "rank_lots": self.lots,
            "min_trades": self.ranking.min_trades,
            "leaderboard": leaders,
            "failures": s.failures,
            "timeline": s.timeline,
        })
    }

    /// The run has ended; `done` is the closing event (the same as `--progress json`'s).
    pub fn finish(&self, done: Value) {
        self.snapshot.lock().expect("never poisoned").finished = true;
        self.publish(&done);
    }

    fn record(&self, o: &BatchOutcome, done: usize, total: usize) -> Value {
        let event = batch_json(o, done, total);
        let mut s = self.snapshot.lock().expect("never poisoned");
        s.done = done;
        if o.finished() {
            s.strategies_done += o.range.end - o.range.start;
        }
        s.failed += o.failed();
        for f in event["failures"].as_array().into_iter().flatten() {
            if s.failures.len() < KEEP {
                s.failures.push(f.clone());
            }
        }
        if s.timeline.len() < KEEP {
            s.timeline.push(
                json!({"batch": o.index, "start": o.range.start, "end": o.range.end,
                                   "seconds": o.elapsed.as_secs_f64(), "outcome": event["outcome"]}),
            );
        }
        let metric = self.ranking.metric;
        let candidates = o
            .rows
            .iter()
            .filter(|r| r.lots == self.lots && r.n_trades >= self.ranking.min_trades);
        for row in candidates {
            if let Some(v) = value(row, metric).filter(|v| v.is_finite()) {
                s.leaders.push(Leader {
                    strategy_id: row.strategy_id,
                    lots: row.lots,
                    value: v,
                    n_trades: row.n_trades,
                    net_pnl_usd: row.net_pnl_usd,
                });
            }
        }
        s.leaders.sort_by(|a, b| {
            metric
                .cmp_values(a.value, b.value)
                .then(a.strategy_id.cmp(&b.strategy_id))
        });
        s.leaders.truncate(LEADERS);
        event
    }
}

/// A progress sink that shows the run on the terminal (`inner`) and to the browser (`live`).
pub struct LiveProgress<'a> {
    pub inner: Box<dyn Progress>,
    pub live: &'a Live,
}

impl Progress for LiveProgress<'_> {
    fn started(&mut self, headline: &str, total: usize, skipped: usize, strategies: u64) {
        self.inner.started(headline, total, skipped, strategies);
        {
            let mut s = self.live.snapshot.lock().expect("never poisoned");
            s.headline = headline.to_string();
            (s.total, s.resumed, s.done, s.strategies) = (total, skipped, skipped, strategies);
            s.started = Some(Instant::now());
        }
        self.live.publish(&json!({
            "event": "start", "message": headline, "batches": total, "resumed": skipped, "strategies": strategies,
        }));
    }

    fn batch_done(&mut self, outcome: &BatchOutcome, done: usize, total: usize) {
        self.inner.batch_done(outcome, done, total);
        let event = self.live.record(outcome, done, total);
        self.live.publish(&event);
    }

    fn finished(&mut self) {
        self.inner.finished();
    }
}
