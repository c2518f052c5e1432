//! Parsed data kept on disk between runs, so that a run on files it has seen skips the parse.
//!
//! Why: unzipping and parsing the bundled year (372,607 lines) takes ~0.2 s, as long as all the
//! batches of the default grid once the engine is fast, and every run repeats it. An entry holds
//! the validated bars and the load report, found by a key that covers everything the result
//! depends on: each file's path and SHA-256 (a run reads and hashes its files anyway: the digests
//! go into the results), the load options, the stratbox version and a digest of the loader's
//! own sources. A changed file or loader is a different key, never a stale hit.
//!
//! Entries are kept by [`crate::cache`], as compiled components are: private directory, atomic
//! writes, a digest checked before use, so a damaged entry is ignored (and rewritten), never
//! trusted. Only loads that succeeded are cached; failing data is parsed, and reported, every
//! time.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Bars, LoadOptions, LoadReport};
use crate::cache::Cache;
use crate::util::digest::hex;

/// Bumped when the entry layout changes (2: the digest beside the entry, as `crate::cache` keeps it).
const LAYOUT: u32 = 2;

/// The key of a load of `files` (path, SHA-256 of the bytes) with `opts`.
pub(crate) fn key(files: &[(String, String)], opts: &LoadOptions) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "stratbox-data-cache {LAYOUT} {} {} format={:?} tz={:?} digits={:?} repair={}\n",
        env!("CARGO_PKG_VERSION"),
        env!("STRATBOX_LOADER_DIGEST"),
        opts.format,
        opts.tz,
        opts.digits,
        opts.repair
    ));
    for (path, sha256) in files {
        h.update(format!("{} {path}\n", sha256.len()));
        h.update(sha256.as_bytes());
    }
    hex(&h.finalize())
}

fn entry(key: &str) -> String {
    format!("{key}.bars")
}

/// The cached load of `key`, if there is one and it checks out.
pub(crate) fn read(dir: &Path, key: &str) -> Option<(Bars, LoadReport)> {
    let body = Cache::at(dir).read(&entry(key))?;
    bincode::deserialize(&body).ok()
}

/// Stores a successful load. Failing to (a read-only disk, say) only costs the next run a parse.
pub(crate) fn write(dir: &Path, key: &str, loaded: &(Bars, LoadReport)) {
    if let Ok(body) = bincode::serialize(loaded) {
        let _ = Cache::at(dir).store(&entry(key), &body);
    }
}
