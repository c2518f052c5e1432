//! Getting from component bytes to a compiled, vetted `Component`, before any batch runs:
//! size cap, validation and compilation under a time cap, the import allowlist, and the cached
//! artifacts of earlier compiles.
//!
//! Why a cache: compiling the component with Cranelift takes longer than running a whole batch
//! of the default grid, and it is the same work every run. The key is the component's SHA-256
//! and wasmtime's compatibility hash of the engine settings (which covers wasmtime's version),
//! so a changed component, wasmtime or setting never reuses an artifact. Why it is safe: a
//! compiled artifact is native code that wasmtime loads without checking it, so only entries
//! whose digest checks out are loaded ([`crate::cache`]); anything else is compiled again.

use std::sync::mpsc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::cache::Cache;
use crate::util::digest::hex;

/// Interfaces a backtester may import. The `wasi:` ones are what a Rust std guest imports even
/// when it uses none of them; all are linked to implementations that grant nothing (no preopened
/// directory, no environment, fixed clocks and random, captured output). `stratbox:backtest/series`
/// reads the batch's own bars and takes its daily P&L (protocol 6), and nothing else. Sockets, HTTP and anything else are
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
    "stratbox:backtest/series",
];

/// What a component asks for and offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surface {
    /// Import names with their version (`wasi:cli/stdout@0.2.6`).
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl Surface {
    /// Lists a compiled component's imports and exports.
    pub(crate) fn of(engine: &Engine, component: &Component) -> Surface {
        let ty = component.component_type();
        // The names are the component's text: escaped, so `inspect` and refusals show them safely.
        let safe = |n: &str| crate::util::text::escape_untrusted(n, 200);
        Surface {
            imports: ty.imports(engine).map(|(n, _)| safe(n)).collect(),
            exports: ty.exports(engine).map(|(n, _)| safe(n)).collect(),
        }
    }

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

/// A cache key from digests of what went into an artifact and this engine's settings.
pub(crate) fn key_of(engine: &Engine, digests: &[&[u8]]) -> String {
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

/// Loads the cached artifact `name` if it is there and checks out.
pub(crate) fn load_cached(engine: &Engine, cache: &Cache, name: &str) -> Option<Component> {
    let path = cache.verified_path(name)?;
    // SAFETY: the file is an artifact this host serialised itself (see `crate::cache`: private
    // directory, digest written after the artifact and checked just now), for an engine with the
    // same compatibility hash (part of the key). Mapped from the file rather than copied: then
    // wasmtime also maps a memory image straight from it.
    unsafe { Component::deserialize_file(engine, &path) }.ok()
}

/// Stores `component`'s artifact as `name`. A cache that cannot be written only costs the next
/// run a compile, so failing to is not an error.
pub(crate) fn store_cached(cache: &Cache, name: &str, component: &Component) -> bool {
    component
        .serialize()
        .is_ok_and(|artifact| cache.store(name, &artifact).is_ok())
}

/// How a component got compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiled {
    Fresh,
    FromCache,
}

/// Compiles `bytes` (or loads the cached artifact), refusing components over `max_bytes` and
/// compilations that take longer than `timeout`. Errors are plain sentences.
pub(crate) fn compile(
    engine: &Engine,
    bytes: &[u8],
    max_bytes: usize,
    timeout: Duration,
    cache: Option<&Cache>,
) -> Result<(Component, Compiled), String> {
    if bytes.len() > max_bytes {
        return Err(format!(
            "it is {} bytes, over the component size cap of {max_bytes} bytes",
            bytes.len()
        ));
    }
    let name = cache.map(|_| format!("{}.cwasm", key_of(engine, &[&Sha256::digest(bytes)])));
    if let (Some(cache), Some(name)) = (cache, &name)
        && let Some(component) = load_cached(engine, cache, name)
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
    if let (Some(cache), Some(name)) = (cache, &name) {
        store_cached(cache, name, &component);
    }
    Ok((component, Compiled::Fresh))
}
