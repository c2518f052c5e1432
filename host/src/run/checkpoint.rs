//! Checkpoints: every finished batch is its own file next to a run manifest, so a killed run
//! loses nothing that was finished and the same command resumes where it stopped.
//!
//! Layout, for `--output results/results.parquet`:
//! - `results/results.parquet.parts/manifest.json`: what the run is (digests of data, grid and
//!   component; batch size; limits; costs; shard; window). A resume must match it exactly.
//! - `results/results.parquet.parts/batch-000017.bin`: batch 17's rows and failures (bincode),
//!   written to a temporary name and renamed, so a file that exists is complete.
//!
//! The final Parquet is built from the batch files, so a resumed run writes the very bytes an
//! uninterrupted one would. The parts directory is removed once the final file is in place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stratbox_engine::ResultRow;

use super::failures::FailedRange;
use crate::util::fs::write_bytes_atomic;

/// What one finished batch left on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub index: usize,
    pub start: u64,
    pub end: u64,
    pub rows: Vec<ResultRow>,
    pub failures: Vec<FailedRange>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot use the checkpoint directory {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(
        "{dir} holds a checkpoint of a different run ({differences}); run the same command as before to resume it, or add --fresh to start over"
    )]
    Mismatch { dir: PathBuf, differences: String },
    #[error("checkpoint file {path} is damaged ({message}); add --fresh to start over")]
    Damaged { path: PathBuf, message: String },
}

impl CheckpointError {
    /// A checkpoint of another run is the user's to resolve (same command, or `--fresh`); a
    /// directory that cannot be used or a damaged file is stratbox's failure.
    pub fn exit(&self) -> crate::Exit {
        match self {
            CheckpointError::Mismatch { .. } => crate::Exit::BadInput,
            CheckpointError::Io { .. } | CheckpointError::Damaged { .. } => crate::Exit::Failure,
        }
    }
}

/// The run's identity: everything that changes results. Keys are sorted, so two manifests are
/// equal exactly when their JSON texts are.
pub type Manifest = BTreeMap<String, String>;

/// What differs between a stored manifest and this run's, key by key (`None` when nothing
/// does): `key: was OLD, now NEW`, long values cut to 40 characters.
pub(crate) fn differences(old: &Manifest, new: &Manifest) -> Option<String> {
    let show = |v: Option<&String>| match v {
        Some(v) if v.chars().count() <= 40 => v.clone(),
        Some(v) => format!("{}...", v.chars().take(37).collect::<String>()),
        None => "(none)".into(),
    };
    let found: Vec<String> = old
        .keys()
        .chain(new.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| format!("{k}: was {}, now {}", show(old.get(k)), show(new.get(k))))
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

/// The checkpoint directory of a run.
pub struct Checkpoint {
    dir: PathBuf,
}

/// `results.parquet` -> `results.parquet.parts`.
pub fn parts_dir(output: &Path) -> PathBuf {
    let mut name = output.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".parts");
    output.with_file_name(name)
}

fn io(path: &Path, e: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

impl Checkpoint {
    /// Opens (resuming) or creates the checkpoint of `output` for `manifest`. With `fresh`, an
    /// existing checkpoint is deleted first; without it, one of another run is refused with
    /// what differs.
    pub fn open(output: &Path, manifest: &Manifest, fresh: bool) -> Result<Checkpoint, CheckpointError> {
        let dir = parts_dir(output);
        let manifest_path = dir.join("manifest.json");
        if fresh && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        if manifest_path.exists() {
            let text = std::fs::read_to_string(&manifest_path).map_err(|e| io(&manifest_path, e))?;
            let old: Manifest = serde_json::from_str(&text).map_err(|e| CheckpointError::Damaged {
                path: manifest_path.clone(),
                message: e.to_string(),
            })?;
            if let Some(differences) = differences(&old, manifest) {
                return Err(CheckpointError::Mismatch { dir, differences });
            }
        } else {
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
            let text = serde_json::to_string_pretty(manifest).expect("a string map serialises");
            write_bytes_atomic(&manifest_path, text.as_bytes()).map_err(|e| io(&manifest_path, e))?;
        }
        Ok(Checkpoint { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn batch_path(&self, index: usize) -> PathBuf {
        self.dir.join(format!("batch-{index:06}.bin"))
    }

    /// Indices of the batches already finished.
    pub fn done(&self) -> Result<BTreeSet<usize>, CheckpointError> {
        let mut done = BTreeSet::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| io(&self.dir, e))? {
            let name = entry.map_err(|e| io(&self.dir, e))?.file_name();
            let name = name.to_string_lossy();
            if let Some(k) = name.strip_prefix("batch-").and_then(|s| s.strip_suffix(".bin"))
                && let Ok(k) = k.parse()
            {
                done.insert(k);
            }
        }
        Ok(done)
    }

    /// Stores a finished batch (atomically).
    pub fn save(&self, record: &BatchRecord) -> Result<(), CheckpointError> {
        let path = self.batch_path(record.index);
        let bytes = stratbox_engine::protocol::encode(record);
        write_bytes_atomic(&path, &bytes).map_err(|e| io(&path, e))
    }

    /// Reads finished batch `index`, which must cover `range`: its rows lie inside it, so
    /// batches loaded in the order of their ranges give the rows in strategy order.
    pub fn load(&self, index: usize, range: &std::ops::Range<u64>) -> Result<BatchRecord, CheckpointError> {
        let path = self.batch_path(index);
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let record: BatchRecord =
            stratbox_engine::protocol::decode(&bytes).map_err(|message| CheckpointError::Damaged {
                path: path.clone(),
                message,
            })?;
        if record.index != index {
            return Err(CheckpointError::Damaged {
                path,
                message: format!("holds batch {}", record.index),
            });
        }
        let outside = record.rows.iter().find(|r| !range.contains(&r.strategy_id));
        if (record.start..record.end) != *range || outside.is_some() {
            return Err(CheckpointError::Damaged {
                path,
                message: format!(
                    "holds strategies {}..{}{}, not batch {index}'s {}..{}",
                    record.start,
                    record.end,
                    outside.map_or(String::new(), |r| format!(
                        " (a row of strategy {})",
                        r.strategy_id
                    )),
                    range.start,
                    range.end
                ),
            });
        }
        Ok(record)
    }

    /// Removes the directory once the final file is written.
    pub fn finish(self) -> Result<(), CheckpointError> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| io(&self.dir, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(pairs: &[(&str, &str)]) -> Manifest {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn differences_name_each_changed_added_and_removed_key() {
        let old = manifest(&[("batch_size", "500"), ("grid", "a"), ("shard", "0/3")]);
        assert_eq!(differences(&old, &old), None);
        let new = manifest(&[("batch_size", "200"), ("grid", "a"), ("engine", "Native")]);
        assert_eq!(
            differences(&old, &new).unwrap(),
            "batch_size: was 500, now 200; engine: was (none), now Native; shard: was 0/3, now (none)"
        );
        let long = "x".repeat(41);
        let cut = differences(&manifest(&[("data", &long)]), &manifest(&[("data", "é")])).unwrap();
        assert_eq!(cut, format!("data: was {}..., now é", "x".repeat(37)));
    }

    #[test]
    fn a_checkpoint_resumes_its_own_run_and_refuses_another() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("r.parquet");
        let m = manifest(&[("batch_size", "500")]);
        let cp = Checkpoint::open(&output, &m, false).unwrap();
        assert_eq!(cp.dir(), parts_dir(&output));
        let record = BatchRecord {
            index: 3,
            start: 1500,
            end: 2000,
            rows: Vec::new(),
            failures: vec![FailedRange {
                range: 1700..1701,
                reason: crate::sandbox::BatchError::StackOverflow,
            }],
        };
        cp.save(&record).unwrap();
        let again = Checkpoint::open(&output, &m, false).unwrap();
        assert_eq!(again.done().unwrap(), BTreeSet::from([3]));
        assert_eq!(again.load(3, &(1500..2000)).unwrap(), record);
        // Loaded as another batch's range: refused, not mixed into the wrong place.
        let e = again.load(3, &(1000..1500)).unwrap_err().to_string();
        assert!(
            e.contains("holds strategies 1500..2000, not batch 3's 1000..1500"),
            "{e}"
        );
        let other = manifest(&[("batch_size", "200")]);
        assert!(matches!(
            Checkpoint::open(&output, &other, false),
            Err(CheckpointError::Mismatch { .. })
        ));
        let fresh = Checkpoint::open(&output, &other, true).unwrap();
        assert!(fresh.done().unwrap().is_empty());
        fresh.finish().unwrap();
        assert!(!parts_dir(&output).exists());
    }
}
