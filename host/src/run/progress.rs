//! Progress of a run, for people and for programs.
//!
//! - [`Lines`] prints the seed's per-batch lines (`Batch  3/24:  400-600  ok 0.12s | ...`), for
//!   logs and pipes.
//! - [`Bar`] draws a live status line on a terminal: batches done, strategies per second, ETA,
//!   RSS, failures. Redrawn in place; the per-batch detail of failures still prints above it.
//! - [`Json`] writes one JSON object per event on stdout, for other programs.
//! - [`Quiet`] prints nothing.

use std::io::Write;
use std::time::{Duration, Instant};

use super::failures::by_reason;
use super::scheduler::{BatchOutcome, Stopped};
use crate::sys;
use crate::util::text::untrusted;

/// What a run tells its progress sink.
pub trait Progress {
    /// The run starts: `total` batches to do, `skipped` of them already done by an earlier,
    /// interrupted run of the same command.
    fn started(&mut self, _headline: &str, _total: usize, _skipped: usize, _strategies: u64) {}
    /// One batch finished (`done` counts this run's and the resumed ones).
    fn batch_done(&mut self, _outcome: &BatchOutcome, _done: usize, _total: usize) {}
    /// The run ends (also when interrupted).
    fn finished(&mut self) {}
}

/// Prints nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// One line per batch.
pub struct Lines<W: Write> {
    pub out: W,
}

fn status(o: &BatchOutcome) -> String {
    let n = o.range.end - o.range.start;
    let failed = o.failed();
    match &o.stopped {
        Some(Stopped::Broken) => "STOPPED: the component fails on every strategy tried".to_string(),
        Some(Stopped::Abandoned) => "abandoned (the run stopped)".to_string(),
        None if failed == 0 && o.attempts == 1 => "ok".to_string(),
        None if failed == 0 => format!("ok after {} attempts", o.attempts),
        None => format!("FAILED {failed} of {n}"),
    }
}

/// What a batch that did not simply succeed adds to its line: its first error and how many
/// distinct reasons its failures have. One line, bounded: a broken component's batches must
/// not flood the terminal (every detail is in the run log and the failures file).
fn detail(o: &BatchOutcome) -> Option<String> {
    let first = o.first_error.as_ref()?;
    let first: String = first.to_string().chars().take(160).collect();
    let reasons = by_reason(&o.failures).len();
    Some(match reasons {
        0 | 1 => format!(" | first error: {first}"),
        n => format!(" | {n} reasons, first error: {first}"),
    })
}

/// The run's headline, and whether it resumes an earlier one.
fn opening(out: &mut impl Write, headline: &str, skipped: usize) {
    let _ = writeln!(out, "{headline}");
    if skipped > 0 {
        let _ = writeln!(out, "Resuming: {skipped} batches already done by an earlier run");
    }
}

impl<W: Write> Progress for Lines<W> {
    fn started(&mut self, headline: &str, _total: usize, skipped: usize, _strategies: u64) {
        opening(&mut self.out, headline, skipped);
    }

    fn batch_done(&mut self, o: &BatchOutcome, _done: usize, total: usize) {
        let width = total.to_string().len();
        let _ = writeln!(
            self.out,
            "Batch {:>width$}/{total}: {:>6}-{:<6} {} {:.2}s | {} strategies | RSS {}{}",
            o.index + 1,
            o.range.start,
            o.range.end,
            status(o),
            o.elapsed.as_secs_f64(),
            o.range.end - o.range.start,
            sys::mib(sys::current_rss()),
            detail(o).unwrap_or_default(),
        );
    }
}

/// A live status line on a terminal.
pub struct Bar<W: Write> {
    out: W,
    start: Instant,
    total: usize,
    skipped: usize,
    strategies_done: u64,
    failed: u64,
}

impl<W: Write> Bar<W> {
    pub fn new(out: W) -> Bar<W> {
        Bar {
            out,
            start: Instant::now(),
            total: 0,
            skipped: 0,
            strategies_done: 0,
            failed: 0,
        }
    }
}

impl<W: Write> Progress for Bar<W> {
    fn started(&mut self, headline: &str, total: usize, skipped: usize, _strategies: u64) {
        opening(&mut self.out, headline, skipped);
        (self.total, self.skipped, self.start) = (total, skipped, Instant::now());
    }

    fn batch_done(&mut self, o: &BatchOutcome, done: usize, total: usize) {
        if o.finished() {
            self.strategies_done += o.range.end - o.range.start;
        }
        self.failed += o.failed();
        if let Some(detail) = detail(o) {
            let _ = writeln!(
                self.out,
                "\r\x1b[2KBatch {}/{total}: {}-{} {}{detail}",
                o.index + 1,
                o.range.start,
                o.range.end,
                status(o)
            );
        }
        let elapsed = self.start.elapsed().as_secs_f64().max(1e-9);
        let rate = self.strategies_done as f64 / elapsed;
        let this_run = done - self.skipped;
        let left = total - done;
        let eta = if this_run > 0 {
            Duration::from_secs_f64(elapsed / this_run as f64 * left as f64)
        } else {
            Duration::ZERO
        };
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        let _ = write!(
            self.out,
            "\r\x1b[2K[{}{}] {done}/{total} batches | {rate:.0} strategies/s | ETA {:.0}s | RSS {} | {} failed",
            "=".repeat(filled),
            " ".repeat(width - filled),
            eta.as_secs_f64(),
            sys::mib(sys::current_rss()),
            self.failed
        );
        let _ = self.out.flush();
    }

    fn finished(&mut self) {
        let _ = writeln!(self.out);
    }
}

/// One JSON object per line on stdout: `{"event":"batch",...}`.
pub struct Json<W: Write> {
    pub out: W,
}

impl<W: Write> Progress for Json<W> {
    fn started(&mut self, headline: &str, total: usize, skipped: usize, strategies: u64) {
        let event = serde_json::json!({
            "event": "start", "message": headline, "batches": total, "resumed": skipped, "strategies": strategies,
        });
        let _ = writeln!(self.out, "{event}");
    }

    fn batch_done(&mut self, o: &BatchOutcome, done: usize, total: usize) {
        let _ = writeln!(self.out, "{}", batch_json(o, done, total));
        let _ = self.out.flush();
    }
}

/// A batch as a JSON object: the `--progress json` event and the run log's line.
pub fn batch_json(o: &BatchOutcome, done: usize, total: usize) -> serde_json::Value {
    let failures: Vec<serde_json::Value> = o
        .failures
        .iter()
        .map(|f| serde_json::json!({"start": f.range.start, "end": f.range.end, "reason": f.reason.to_string()}))
        .collect();
    let outcome = match (&o.stopped, o.failures.is_empty()) {
        (Some(Stopped::Broken), _) => "stopped",
        (Some(Stopped::Abandoned), _) => "abandoned",
        (None, true) => "ok",
        (None, false) => "failed",
    };
    // Captured guest output is the component's text: escaped and bounded like its errors.
    let captured = |bytes: &[u8]| (!bytes.is_empty()).then(|| untrusted(&String::from_utf8_lossy(bytes)));
    serde_json::json!({
        "event": "batch",
        "batch": o.index,
        "start": o.range.start,
        "end": o.range.end,
        "seconds": o.elapsed.as_secs_f64(),
        "attempts": o.attempts,
        "outcome": outcome,
        "first_error": o.first_error.as_ref().map(|e| e.to_string()),
        "failures": failures,
        "guest_stdout": captured(&o.stdout),
        "guest_stderr": captured(&o.stderr),
        "instance_memory_bytes": o.peak_memory,
        "rss_bytes": sys::current_rss(),
        "peak_rss_bytes": sys::peak_rss(),
        "done": done,
        "total": total,
    })
}
