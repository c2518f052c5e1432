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
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stratbox_engine::ResultRow;

use crate::results::write_atomic;

/// A strategy range that failed, with the reason in words (as stored in the batch file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRange {
    pub range: Range<u64>,
    pub reason: String,
}

impl FailedRange {
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
}

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

/// The run's identity: everything that changes results. Keys are sorted, so two manifests are
/// equal exactly when their JSON texts are.
pub type Manifest = BTreeMap<String, String>;

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
            if &old != manifest {
                let differences: Vec<String> = old
                    .keys()
                    .chain(manifest.keys())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .filter(|k| old.get(*k) != manifest.get(*k))
                    .map(|k| {
                        let show = |v: Option<&String>| match v {
                            Some(v) if v.len() <= 40 => v.clone(),
                            Some(v) => format!(
                                "{}...",
                                &v[..v.char_indices().nth(37).map_or(v.len(), |(i, _)| i)]
                            ),
                            None => "(none)".into(),
                        };
                        format!("{k}: was {}, now {}", show(old.get(k)), show(manifest.get(k)))
                    })
                    .collect();
                return Err(CheckpointError::Mismatch {
                    dir,
                    differences: differences.join("; "),
                });
            }
        } else {
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
            let text = serde_json::to_string_pretty(manifest).expect("a string map serialises");
            write_atomic(&manifest_path, |f| {
                use std::io::Write;
                f.write_all(text.as_bytes()).map_err(|e| e.to_string())
            })
            .map_err(|e| io(&manifest_path, e))?;
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
        write_atomic(&path, |f| {
            use std::io::Write;
            f.write_all(&bytes).map_err(|e| e.to_string())
        })
        .map_err(|e| io(&path, e))
    }

    /// Reads a finished batch back.
    pub fn load(&self, index: usize) -> Result<BatchRecord, CheckpointError> {
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
        Ok(record)
    }

    /// Removes the directory once the final file is written.
    pub fn finish(self) -> Result<(), CheckpointError> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| io(&self.dir, e))
    }
}
