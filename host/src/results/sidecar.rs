//! The files beside a results file: `NAME.failures.csv` (one line per strategy that got no
//! rows, with the reason) and `NAME.log.jsonl` (the run log, one JSON line per finished batch).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::run::FailedRange;
use crate::util::fs::write_bytes_atomic;

use super::ResultsError;

/// `results.parquet` -> `results.failures.csv`.
pub fn failures_path(output: &Path) -> PathBuf {
    output.with_extension("failures.csv")
}

/// `results.parquet` -> `results.log.jsonl`.
pub fn log_path(output: &Path) -> PathBuf {
    output.with_extension("log.jsonl")
}

/// The failures file's text: `strategy_id,reason`, one line per strategy, reasons quoted.
pub(crate) fn failures_csv(failures: &[FailedRange]) -> String {
    let mut text = String::from("strategy_id,reason\n");
    for f in failures {
        let reason = f.reason.to_string().replace('"', "\"\"");
        for id in f.range.clone() {
            text += &format!("{id},\"{reason}\"\n");
        }
    }
    text
}

/// Writes the failures file of `output`, or removes it when a run has none, so a stale list
/// never outlives a clean rerun.
pub(crate) fn write_failures(output: &Path, failures: &[FailedRange]) -> Result<(), ResultsError> {
    let path = failures_path(output);
    if failures.is_empty() {
        let _ = std::fs::remove_file(&path);
        return Ok(());
    }
    write_bytes_atomic(&path, failures_csv(failures).as_bytes())
        .map_err(|source| ResultsError::Io { path, source })
}

/// The run log. A resumed run appends to it. Best effort: a log that cannot be written does
/// not stop a run (the results and the checkpoint are what count).
pub(crate) struct RunLog {
    file: Option<std::fs::File>,
}

impl RunLog {
    pub(crate) fn open(output: &Path, append: bool) -> RunLog {
        let path = log_path(output);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(&path)
            .ok();
        RunLog { file }
    }

    pub(crate) fn write(&mut self, event: &serde_json::Value) {
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "{event}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::BatchError;

    #[test]
    fn one_line_per_strategy_with_quotes_doubled() {
        let failures = [
            FailedRange {
                range: 7..9,
                reason: BatchError::Guest("bad \"x\"".into()),
            },
            FailedRange {
                range: 20..21,
                reason: BatchError::StackOverflow,
            },
        ];
        assert_eq!(
            failures_csv(&failures),
            "strategy_id,reason\n7,\"returned an error: bad \"\"x\"\"\"\n8,\"returned an error: bad \"\"x\"\"\"\n20,\"overflowed its stack\"\n"
        );
        assert_eq!(
            failures_path(Path::new("r/a.parquet")),
            Path::new("r/a.failures.csv")
        );
    }
}
