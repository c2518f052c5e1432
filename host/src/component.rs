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
    h.write(&Sha256::digest(bytes));
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

/// Loads a cached artifact if it is there and checks out.
fn load_cached(engine: &Engine, dir: &Path, key: &str) -> Option<Component> {
    let artifact = std::fs::read(dir.join(format!("{key}.cwasm"))).ok()?;
    let digest = std::fs::read_to_string(dir.join(format!("{key}.sha256"))).ok()?;
    if digest.trim() != hex(&Sha256::digest(&artifact)) {
        return None;
    }
    // SAFETY: the bytes are an artifact this host serialised itself (see the module docs: private
    // directory, digest written after the artifact and checked above), for an engine with the
    // same compatibility hash (part of the key).
    unsafe { Component::deserialize(engine, &artifact) }.ok()
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
    write(format!("{key}.sha256"), hex(&Sha256::digest(artifact)).as_bytes())
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
