//! The WebAssembly sandbox: one wasmtime `Engine`, one compiled `Component` and one
//! `InstancePre`, reused; a fresh `Store` (and so a fresh instance and linear memory) per batch,
//! dropped when the batch ends, so nothing a batch allocates outlives it.
//!
//! What bounds a batch: linear memory (`StoreLimits`, growth past the cap traps), wall-clock
//! time (epoch interruption, a ticker thread advances the epoch), optionally instructions
//! (fuel), the reply size (hostcall fuel, checked by wasmtime while lifting the reply), captured
//! output. Every breach comes back as a [`BatchError`] that names the limit and the value seen.
//!
//! One concept a file:
//! - [`limits`]: the caps.
//! - `engine`: the wasmtime configuration, the instance pool and the epoch ticker.
//! - `wasi`: the guest's world (WASI granting nothing) and the per-batch store.
//! - `component`: compile under caps, the import allowlist, cached artifacts.
//! - `image`: the data set's columns compiled into the component's memory image (protocol 3),
//!   and the custom sections by which a component says which protocols it speaks.
//! - `fault`: load and batch errors, and the classification of wasmtime's errors.
//! - `bars`: the series' blocks streamed batches read, encoded once per run.

mod bars;
mod component;
mod engine;
mod fault;
mod image;
mod limits;
mod wasi;

use std::time::{Duration, Instant};

use stratbox_engine::ColumnsRef;
use stratbox_engine::protocol::{PROTOCOL_RESIDENT, ResidentHeader, StreamedDays};
use wasmtime::{Engine, Store, Trap};

pub use bars::BarsCache;
pub use component::{ALLOWED_IMPORTS, Compiled, Surface};
pub use fault::{BatchError, LoadError, Stream};
pub use image::{books_daily, streams_bars};

pub use limits::Limits;

use crate::cache::Cache;
use crate::util::text::{escape_untrusted, untrusted};
use engine::Ticker;
use fault::Evidence;
use wasi::{LinkError, State};

mod bindings {
    wasmtime::component::bindgen!({
        world: "backtester",
        path: "wit",
    });
}

use bindings::{Backtester, BacktesterPre};

/// What `describe()` says about a component, escaped and bounded (it is the component's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    pub name: String,
    pub version: String,
    pub params: Vec<String>,
}

/// A reply and what the guest printed while producing it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Time spent creating the store and instance (the sandbox's fixed cost per batch).
    pub instantiate: Duration,
    /// Time in the guest call itself, including copying the input in and the reply out.
    pub call: Duration,
    /// The most linear memory the instance had (its high-water mark), bytes; 0 natively.
    pub peak_memory: usize,
    /// The complete days' P&L a streamed batch handed over (protocol 6), in call order.
    pub days: StreamedDays,
}

/// What a streamed batch (protocol 6) is lent: the series, the run's encoded blocks of it, and
/// how many day entries it may hand over (its rows times the days the series spans).
#[derive(Clone, Copy)]
pub struct Series<'c> {
    pub bars: &'c ColumnsRef<'c>,
    pub cache: &'c BarsCache,
    pub max_day_entries: usize,
}

impl LinkError {
    /// As a load error, the component's fault worded by `invalid`.
    fn load_error(self, invalid: impl Fn(String) -> LoadError) -> LoadError {
        match self {
            LinkError::Engine(e) => LoadError::Engine(e),
            LinkError::Component(e) => invalid(e),
        }
    }
}

/// One compiled component, ready to be instantiated once per batch.
pub struct Sandbox {
    engine: Engine,
    pre: BacktesterPre<State>,
    limits: Limits,
    info: ComponentInfo,
    surface: Surface,
    compiled: Compiled,
    _ticker: Ticker,
}

impl Sandbox {
    /// Compiles `bytes` (a component of the `stratbox:backtest` world), links WASI granting
    /// nothing, and asks it to `describe()` itself. `origin` names it in errors.
    pub fn new(bytes: &[u8], origin: &str, limits: Limits) -> Result<Sandbox, LoadError> {
        Sandbox::with_cache(bytes, origin, limits, None)
    }

    /// [`Sandbox::new`], keeping compiled artifacts in `cache`.
    pub fn with_cache(
        bytes: &[u8],
        origin: &str,
        limits: Limits,
        cache: Option<&Cache>,
    ) -> Result<Sandbox, LoadError> {
        let invalid = |reason: String| LoadError::refused(origin, limits.memory_bytes, reason);
        let engine = engine::new_engine(&limits)?;
        let (component, compiled) =
            component::compile(&engine, bytes, limits.component_bytes, limits.compile_time, cache)
                .map_err(invalid)?;
        let surface = Surface::of(&engine, &component);
        let refused = surface.refused_imports();
        if !refused.is_empty() {
            return Err(invalid(format!(
                "it imports {}, which stratbox does not grant (allowed: {})",
                refused.join(", "),
                ALLOWED_IMPORTS.join(", ")
            )));
        }
        let pre = wasi::link(&engine, &component).map_err(|e| e.load_error(invalid))?;
        let ticker = Ticker::start(&engine)?;
        let mut sandbox = Sandbox {
            engine,
            pre,
            limits,
            info: ComponentInfo {
                name: String::new(),
                version: String::new(),
                params: Vec::new(),
            },
            surface,
            compiled,
            _ticker: ticker,
        };
        let (mut store, instance) = sandbox.instantiate().map_err(|e| invalid(e.to_string()))?;
        let t = Instant::now();
        let info = instance
            .stratbox_backtest_strategy()
            .call_describe(&mut store)
            .map_err(|e| {
                invalid(format!(
                    "describe() failed: {}",
                    sandbox.explain(e, &store, t.elapsed())
                ))
            })?;
        // What describe() says is the component's text: escaped and bounded here, once, so the
        // terminal, logs, metadata and report only ever see the safe form. (A parameter name with
        // a control character or a backslash then matches no grid's, and is refused as such.)
        sandbox.info = ComponentInfo {
            name: untrusted(&info.name),
            version: untrusted(&info.version),
            params: info.params.iter().map(|p| escape_untrusted(p, 100)).collect(),
        };
        Ok(sandbox)
    }

    pub fn info(&self) -> &ComponentInfo {
        &self.info
    }

    /// Puts `columns` into the memory image of `component` (the bytes this sandbox was made
    /// from), so that batches read them there instead of receiving them (protocol 3, see
    /// `image`). Returns the header every batch input then starts with, or `None`, leaving the
    /// sandbox as it was, when the component does not read resident columns, when the columns
    /// would take more than half the memory cap, on Windows (below), or when there is no
    /// `cache`: the rewritten component is compiled once per data set and kept there, and
    /// compiling it on every run would cost more than it saves.
    pub fn embed_columns(
        &mut self,
        component: &[u8],
        columns: &stratbox_engine::ColumnsRef,
        cache: Option<&Cache>,
    ) -> Result<Option<ResidentHeader>, LoadError> {
        let Some(cache) = cache else {
            return Ok(None);
        };
        // wasmtime maps memory images (copy-on-write, from the cached artifact's file) on Linux
        // and macOS only; on Windows it would copy the image into every instance, which costs
        // what copying the columns in does, so the compile would buy nothing there.
        if !cfg!(any(target_os = "linux", target_os = "macos")) {
            return Ok(None);
        }
        let invalid = |reason: String| LoadError::Invalid {
            origin: "the component with the columns in its memory image".into(),
            reason: format!("{reason} (--copy-columns sends the columns with every batch instead)"),
        };
        #[cfg(target_endian = "little")]
        let with = image::compile_with_columns(
            &self.engine,
            component,
            columns,
            self.limits.memory_bytes / 2,
            self.limits.compile_time,
            cache,
        )
        .map_err(invalid)?;
        #[cfg(not(target_endian = "little"))]
        let with: Option<image::WithColumns> = {
            let _ = (component, columns, cache);
            None
        };
        let Some(with) = with else {
            return Ok(None);
        };
        self.pre = wasi::link(&self.engine, &with.component).map_err(|e| e.load_error(invalid))?;
        self.compiled = with.compiled;
        Ok(Some(ResidentHeader {
            protocol: PROTOCOL_RESIDENT,
            columns_at: with.columns_at,
            columns_len: with.columns_len,
        }))
    }

    /// The component's imports and exports.
    pub fn surface(&self) -> &Surface {
        &self.surface
    }

    /// Whether the component was compiled now or loaded from the cache.
    pub fn compiled(&self) -> Compiled {
        self.compiled
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn instantiate(&self) -> Result<(Store<State>, Backtester), BatchError> {
        let mut store = wasi::new_store(&self.engine, &self.limits);
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.explain(e, &store, Duration::ZERO))?;
        Ok((store, instance))
    }

    /// Runs one batch in a fresh instance, lending it `series` to read and write through the
    /// `series` import when the batch is streamed (protocol 6). The store, and with it the instance's memory
    /// and the lent bars, is dropped before this returns.
    pub fn run_batch(&self, input: &[u8], series: Option<Series>) -> Result<Reply, BatchError> {
        let t0 = Instant::now();
        let (mut store, instance) = self.instantiate()?;
        if let Some(series) = series {
            // SAFETY: `store` is a local of this function, dropped on every path out of it, so
            // it cannot read the bars after their borrow ends.
            unsafe { store.data_mut().lend(series) };
        }
        // Handles on the capture pipes that outlive the store.
        let (stdout, stderr) = (store.data().stdout.clone(), store.data().stderr.clone());
        let instantiate = t0.elapsed();
        let t1 = Instant::now();
        let result = instance
            .stratbox_backtest_strategy()
            .call_run_batch(&mut store, input);
        let call = t1.elapsed();
        let result = match result {
            Ok(r) => r,
            Err(e) => return Err(self.explain(e, &store, call)),
        };
        let peak_memory = store.data().meter.peak_memory;
        let days = store.data_mut().take_days();
        drop(store);
        // A full pipe refuses further writes; the guest may have carried on regardless (or given
        // up with an error), but its output was cut, and the cap is a limit like the others.
        for (stream, pipe) in [(Stream::Stdout, &stdout), (Stream::Stderr, &stderr)] {
            if pipe.contents().len() >= self.limits.output_bytes {
                return Err(BatchError::OutputCap {
                    stream,
                    limit: self.limits.output_bytes,
                });
            }
        }
        let reply = result.map_err(|e| BatchError::guest(&e))?;
        Ok(Reply {
            bytes: reply,
            stdout: stdout.contents().to_vec(),
            stderr: stderr.contents().to_vec(),
            instantiate,
            call,
            peak_memory,
            days,
        })
    }

    /// Turns a wasmtime error into the limit or fault it stands for (see `fault`).
    fn explain(&self, e: wasmtime::Error, store: &Store<State>, ran: Duration) -> BatchError {
        let text = format!("{e:#}");
        let state = store.data();
        let (out, err) = (state.stdout.contents(), state.stderr.contents());
        let stderr = String::from_utf8_lossy(&err);
        fault::classify(
            &Evidence {
                trap: e.downcast_ref::<Trap>().copied(),
                text: &text,
                stderr: &stderr,
                written: (out.len(), err.len()),
                ran,
            },
            &self.limits,
        )
    }
}
