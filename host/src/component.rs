//! Getting from component bytes to a compiled, vetted `Component`, before any batch runs:
//! size cap, validation and compilation under a time cap, the import allowlist, and the on-disk
//! cache of compiled artifacts.
//!
//! Why a cache: compiling the component with Cranelift takes longer than running a whole batch
//! of the default grid, and it is the same work every run. The cache is keyed by the component's
//! SHA-256, wasmtime's version and the engine settings (wasmtime's own compatibility hash), so a
//! changed component, wasmtime or setting never reuses an artifact.
//!
//! Why it is safe: a compiled artifact is native code that wasmtime loads without checking it,
//! so only artifacts this host wrote are loaded: the cache directory is created private to the
//! user (0700 on unix, and refused if group or others can write to it), every artifact carries a
//! SHA-256 of its bytes next to it, written after the artifact and checked before loading, and
//! anything that does not check out is compiled again from the component bytes.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Interfaces a backtester may import. These are what a Rust std guest imports even when it uses
/// none of them; all are linked to implementations that grant nothing (no preopened directory, no
/// environment, fixed clocks and random, captured output). Sockets, HTTP and anything else are
/// refused before the component runs.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// What a component asks for and offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surface {
    /// Import names with their version (`wasi:cli/stdout@0.2.6`).
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl Surface {
    /// Imports outside [`ALLOWED_IMPORTS`] (version ignored).
    pub fn refused_imports(&self) -> Vec<&str> {
        self.imports
            .iter()
            .map(String::as_str)
            .filter(|name| {
                let bare = name.split('@').next().unwrap_or(name);
                !ALLOWED_IMPORTS.contains(&bare)
            })
            .collect()
    }
}

/// Lists a compiled component's imports and exports.
pub fn surface(engine: &Engine, component: &Component) -> Surface {
    let ty = component.component_type();
    Surface {
        imports: ty.imports(engine).map(|(n, _)| n.to_string()).collect(),
        exports: ty.exports(engine).map(|(n, _)| n.to_string()).collect(),
    }
}

/// Where compiled artifacts are kept: `$STRATBOX_CACHE_DIR`, else the platform's user cache
/// directory plus `stratbox`, else none (no caching).
pub fn default_cache_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = env("STRATBOX_CACHE_DIR") {
        return Some(dir);
    }
    if cfg!(windows) {
        return env("LOCALAPPDATA").map(|d| d.join("stratbox").join("cache"));
    }
    if cfg!(target_os = "macos") {
        return env("HOME").map(|d| d.join("Library").join("Caches").join("stratbox"));
    }
    env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("stratbox"))
}

use crate::run::hex;

/// The cache key: component digest + wasmtime's compatibility hash of this engine's settings.
fn cache_key(engine: &Engine, bytes: &[u8]) -> String {
    key_of(engine, &[&Sha256::digest(bytes)])
}

/// A cache key from digests of what went into an artifact and this engine's settings.
fn key_of(engine: &Engine, digests: &[&[u8]]) -> String {
    use std::hash::{Hash, Hasher};
    struct ShaHasher(Sha256);
    impl Hasher for ShaHasher {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut h = ShaHasher(Sha256::new());
    for d in digests {
        h.write(d);
    }
    engine.precompile_compatibility_hash().hash(&mut h);
    hex(&h.0.finalize())
}

/// Creates the cache directory private to the user, or checks that an existing one is.
pub(crate) fn private_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .map_err(|e| e.to_string())?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| e.to_string())?;
            let mode = std::fs::metadata(dir)
                .map_err(|e| e.to_string())?
                .permissions()
                .mode();
            if mode & 0o022 != 0 {
                return Err(format!(
                    "{} is writable by others (mode {:o})",
                    dir.display(),
                    mode & 0o777
                ));
            }
        }
    }
    Ok(())
}

/// SHA-256 of a byte stream given in pieces, computed as two halves on two threads:
/// `SHA-256(SHA-256(first half) || SHA-256(second half))`, split at the piece boundary nearest
/// the middle. Why: artifacts with a data set's columns in them are ~25 MB, and hashing them on
/// one core took longer than the batches it saves.
pub(crate) fn split_digest(pieces: &[&[u8]]) -> [u8; 32] {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut seen = 0;
    let split = pieces
        .iter()
        .position(|p| {
            seen += p.len();
            seen * 2 >= total
        })
        .map_or(pieces.len(), |i| i + 1);
    let hash = |part: &[&[u8]]| {
        let mut h = Sha256::new();
        part.iter().for_each(|p| h.update(p));
        h.finalize()
    };
    let (a, b) = pieces.split_at(split);
    let (da, db) = std::thread::scope(|s| {
        let other = s.spawn(|| hash(b));
        (hash(a), other.join().expect("hashing does not panic"))
    });
    let mut h = Sha256::new();
    h.update(da);
    h.update(db);
    h.finalize().into()
}

/// The integrity digest of an artifact file's bytes: [`split_digest`] of its two halves.
fn artifact_digest(artifact: &[u8]) -> String {
    let (a, b) = artifact.split_at(artifact.len() / 2);
    hex(&split_digest(&[a, b]))
}

/// [`artifact_digest`] of a file, read in place: each half by its own thread through a small
/// buffer, so a 25 MB artifact is neither held in memory nor hashed on one core.
fn file_digest(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let half = len / 2;
    let hash = |from: u64, to: u64| -> Option<[u8; 32]> {
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut at = from;
        while at < to {
            let want = ((to - at) as usize).min(buf.len());
            let got = read_at(&file, &mut buf[..want], at).ok()?;
            if got == 0 {
                return None;
            }
            h.update(&buf[..got]);
            at += got as u64;
        }
        Some(h.finalize().into())
    };
    let (a, b) = std::thread::scope(|s| {
        let other = s.spawn(|| hash(half, len));
        (hash(0, half), other.join().ok().flatten())
    });
    let mut h = Sha256::new();
    h.update(a?);
    h.update(b?);
    Some(hex(&h.finalize()))
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, at)
}

/// Loads a cached artifact if it is there and checks out.
fn load_cached(engine: &Engine, dir: &Path, key: &str) -> Option<Component> {
    let path = dir.join(format!("{key}.cwasm"));
    let digest = std::fs::read_to_string(dir.join(format!("{key}.sha256"))).ok()?;
    if Some(digest.trim()) != file_digest(&path).as_deref() {
        return None;
    }
    // SAFETY: the file is an artifact this host serialised itself (see the module docs: private
    // directory, digest written after the artifact and checked above), for an engine with the
    // same compatibility hash (part of the key). Mapped from the file rather than copied: then
    // wasmtime also maps a memory image straight from it.
    unsafe { Component::deserialize_file(engine, &path) }.ok()
}

fn store_cached(dir: &Path, key: &str, artifact: &[u8]) -> Result<(), String> {
    private_dir(dir)?;
    let write = |name: String, bytes: &[u8]| {
        crate::results::write_atomic(&dir.join(name), |f| {
            use std::io::Write;
            f.write_all(bytes).map_err(|e| e.to_string())
        })
        .map_err(|e| e.to_string())
    };
    write(format!("{key}.cwasm"), artifact)?;
    write(format!("{key}.sha256"), artifact_digest(artifact).as_bytes())
}

/// How a component got compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiled {
    Fresh,
    FromCache,
}

/// Compiles `bytes` (or loads the cached artifact), refusing components over `max_bytes` and
/// compilations that take longer than `timeout`. Errors are plain sentences.
pub fn compile(
    engine: &Engine,
    bytes: &[u8],
    max_bytes: usize,
    timeout: Duration,
    cache: Option<&Path>,
) -> Result<(Component, Compiled), String> {
    if bytes.len() > max_bytes {
        return Err(format!(
            "it is {} bytes, over the component size cap of {max_bytes} bytes",
            bytes.len()
        ));
    }
    let key = cache.map(|_| cache_key(engine, bytes));
    if let (Some(dir), Some(key)) = (cache, &key)
        && let Some(component) = load_cached(engine, dir, key)
    {
        return Ok((component, Compiled::FromCache));
    }
    // Compilation cannot be interrupted, so it runs on its own thread and is abandoned (and the
    // component refused) when it takes too long.
    let (tx, rx) = mpsc::channel();
    {
        let (engine, bytes) = (engine.clone(), bytes.to_vec());
        std::thread::Builder::new()
            .name("stratbox-compile".into())
            .spawn(move || {
                let _ = tx.send(Component::new(&engine, &bytes).map_err(|e| format!("{e:#}")));
            })
            .map_err(|e| format!("cannot start the compile thread: {e}"))?;
    }
    let component = match rx.recv_timeout(timeout) {
        Ok(result) => result?,
        Err(_) => return Err(format!("compiling it took longer than the cap of {timeout:?}")),
    };
    if let (Some(dir), Some(key)) = (cache, &key)
        && let Ok(artifact) = component.serialize()
    {
        // A cache that cannot be written only costs the next run a compile.
        let _ = store_cached(dir, key, &artifact);
    }
    Ok((component, Compiled::Fresh))
}

/// Artifacts with a data set's columns in them kept in the cache (each is as large as its
/// columns, ~25 MB for a year of minute bars); storing another removes the least recently used.
const KEEP_COLUMN_ARTIFACTS: usize = 8;

/// A component compiled with a data set's columns in its memory image.
pub struct WithColumns {
    pub component: Component,
    /// Where the columns start in each instance's linear memory.
    pub columns_at: u32,
    /// Bytes of the block of columns there.
    pub columns_len: u64,
    pub compiled: Compiled,
}

/// `component` with `columns` in its memory image (see [`crate::image`]), loaded from `cache`
/// or compiled and stored there. `Ok(None)` when the component does not read resident columns,
/// or when they would end beyond `max_end` bytes of its memory.
///
/// The key is the component's digest, the columns' digest and the engine's settings. The
/// columns are hashed where they lie, in pieces on two threads (~8 ms for a year), and the
/// ~24 MB block is only built, and the component only rewritten and compiled, on a miss.
#[cfg(target_endian = "little")]
pub fn compile_with_columns(
    engine: &Engine,
    component: &[u8],
    columns: &stratbox_engine::ColumnsRef,
    max_end: usize,
    timeout: Duration,
    cache: &Path,
) -> Result<Option<WithColumns>, String> {
    use stratbox_engine::protocol::{RESIDENT_COLUMNS_HEADER, column_pieces, encode_resident_columns};
    let Some(columns_at) = crate::image::columns_at(component) else {
        return Ok(None);
    };
    let pieces = column_pieces(columns);
    let mut parts: Vec<&[u8]> = vec![&RESIDENT_COLUMNS_HEADER];
    for (len, values) in &pieces {
        parts.push(len);
        parts.push(values);
    }
    let columns_len: u64 = parts.iter().map(|p| p.len() as u64).sum();
    if columns_at as u64 + columns_len > max_end as u64 {
        return Ok(None);
    }
    let key = format!(
        "columns-{}",
        key_of(engine, &[&Sha256::digest(component), &split_digest(&parts)])
    );
    let found = |component, compiled| {
        Some(WithColumns {
            component,
            columns_at,
            columns_len,
            compiled,
        })
    };
    if let Some(c) = load_cached(engine, cache, &key) {
        touch(&cache.join(format!("{key}.cwasm")));
        return Ok(found(c, Compiled::FromCache));
    }
    let block = encode_resident_columns(columns);
    let Some(embedded) = crate::image::embed_columns(component, &block) else {
        return Ok(None);
    };
    drop(block);
    let (c, _) = compile(engine, &embedded.bytes, embedded.bytes.len(), timeout, None)?;
    drop(embedded);
    if let Ok(artifact) = c.serialize() {
        // A cache that cannot be written only costs the next run a compile.
        if store_cached(cache, &key, &artifact).is_ok() {
            evict_column_artifacts(cache, KEEP_COLUMN_ARTIFACTS);
        }
    }
    Ok(found(c, Compiled::Fresh))
}

/// Marks a cached artifact as just used (its modification time), for [`evict_column_artifacts`].
fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Removes all but the `keep` most recently used artifacts with columns in them.
fn evict_column_artifacts(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("columns-") && name.ends_with(".cwasm")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, path) in found.into_iter().skip(keep) {
        let _ = std::fs::remove_file(path.with_extension("sha256"));
        let _ = std::fs::remove_file(&path);
    }
}
