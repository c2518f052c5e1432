//! stratbox's on-disk cache: compiled components (`*.cwasm`, [`crate::sandbox`]) and parsed
//! data sets (`data/*.bars`, [`crate::data`]), in one directory private to the user, with one
//! integrity format.
//!
//! Why one owner: both caches hold things that are trusted once loaded (native code wasmtime
//! runs unchecked; bars that skip validation), so both need the same guarantees: the directory
//! is private to the user (0700, refused if others can write to it), every entry `NAME` is
//! written to a temporary name and renamed, and its digest `NAME.sha256` (the SHA-256 of the
//! SHA-256s of its two halves, hashed on two threads: [`crate::util::digest::halves_digest`]) is
//! written after it and checked before any use. An entry without a matching digest is a miss,
//! never an error: the caller computes the value again and stores it anew.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::util::digest::{file_halves_digest, halves_digest};
use crate::util::fs::{private_dir, write_bytes_atomic};

/// A cache directory (or a subdirectory of one, for one kind of entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The user's cache: `$STRATBOX_CACHE_DIR`, else the platform's user cache directory plus
    /// `stratbox`, else none (no caching).
    pub fn user() -> Option<Cache> {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let dir = if let Some(dir) = env("STRATBOX_CACHE_DIR") {
            Some(dir)
        } else if cfg!(windows) {
            env("LOCALAPPDATA").map(|d| d.join("stratbox").join("cache"))
        } else if cfg!(target_os = "macos") {
            env("HOME").map(|d| d.join("Library").join("Caches").join("stratbox"))
        } else {
            env("XDG_CACHE_HOME")
                .or_else(|| env("HOME").map(|h| h.join(".cache")))
                .map(|d| d.join("stratbox"))
        };
        dir.map(Cache::at)
    }

    /// The cache in `dir` (created, private, on the first store).
    pub fn at(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    /// The subdirectory `name` of this cache, for one kind of entry.
    pub fn sub(&self, name: &str) -> Cache {
        Cache::at(self.dir.join(name))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn digest_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.sha256"))
    }

    fn recorded_digest(&self, name: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.digest_of(name)).ok()?;
        Some(text.trim().to_string())
    }

    /// The path of entry `name` if it is there and its bytes match its digest (read in place,
    /// for entries that are mapped rather than read).
    pub fn verified_path(&self, name: &str) -> Option<PathBuf> {
        let path = self.entry(name);
        let recorded = self.recorded_digest(name)?;
        (file_halves_digest(&path)? == recorded).then_some(path)
    }

    /// The bytes of entry `name` if it is there and they match its digest.
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        let recorded = self.recorded_digest(name)?;
        let bytes = std::fs::read(self.entry(name)).ok()?;
        (halves_digest(&bytes) == recorded).then_some(bytes)
    }

    /// Stores `bytes` as entry `name`: the entry, then its digest, each atomically.
    pub fn store(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        private_dir(&self.dir)?;
        // A digest left from an earlier entry of this name must not vouch for the new bytes
        // while they are being written.
        let _ = std::fs::remove_file(self.digest_of(name));
        write_bytes_atomic(&self.entry(name), bytes)?;
        write_bytes_atomic(&self.digest_of(name), halves_digest(bytes).as_bytes())
    }

    /// Marks entry `name` as just used (its modification time), for [`Cache::evict`].
    pub fn touch(&self, name: &str) {
        if let Ok(f) = std::fs::File::options().append(true).open(self.entry(name)) {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    /// Removes all but the `keep` most recently used entries whose names start with `prefix`
    /// and end with `suffix` (with their digests).
    pub fn evict(&self, prefix: &str, suffix: &str, keep: usize) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut found: Vec<(SystemTime, String)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name.starts_with(prefix) && name.ends_with(suffix))
                    .then_some(e)
                    .zip(Some(name))
            })
            .filter_map(|(e, name)| Some((e.metadata().ok()?.modified().ok()?, name)))
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (_, name) in found.into_iter().skip(keep) {
            let _ = std::fs::remove_file(self.digest_of(&name));
            let _ = std::fs::remove_file(self.entry(&name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_used_only_while_it_matches_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().join("c"));
        assert_eq!(cache.read("a.bin"), None);
        cache.store("a.bin", b"some bytes").unwrap();
        assert_eq!(cache.read("a.bin").as_deref(), Some(&b"some bytes"[..]));
        assert_eq!(
            cache.verified_path("a.bin"),
            Some(dir.path().join("c").join("a.bin"))
        );
        // One flipped byte: a miss, whether read or checked in place.
        std::fs::write(dir.path().join("c").join("a.bin"), b"some bytez").unwrap();
        assert_eq!(cache.read("a.bin"), None);
        assert_eq!(cache.verified_path("a.bin"), None);
        // No digest: a miss too.
        cache.store("b.bin", b"x").unwrap();
        std::fs::remove_file(dir.path().join("c").join("b.bin.sha256")).unwrap();
        assert_eq!(cache.read("b.bin"), None);
    }

    #[test]
    fn eviction_keeps_the_most_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        for (i, name) in ["columns-a.cwasm", "columns-b.cwasm", "columns-c.cwasm"]
            .iter()
            .enumerate()
        {
            cache.store(name, b"x").unwrap();
            let f = std::fs::File::options()
                .append(true)
                .open(dir.path().join(name))
                .unwrap();
            f.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i as u64))
                .unwrap();
        }
        cache.store("plain.cwasm", b"y").unwrap();
        cache.touch("columns-a.cwasm");
        cache.evict("columns-", ".cwasm", 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "columns-a.cwasm",
                "columns-a.cwasm.sha256",
                "columns-c.cwasm",
                "columns-c.cwasm.sha256",
                "plain.cwasm",
                "plain.cwasm.sha256"
            ]
        );
    }
}
