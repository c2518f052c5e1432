//! The WebAssembly sandbox: one wasmtime `Engine`, one compiled `Component` and one
//! `InstancePre`, reused; a fresh `Store` (and so a fresh instance and linear memory) per batch,
//! dropped when the batch ends, so nothing a batch allocates outlives it.
//!
//! What a guest gets: the ~13 `wasi:cli`/`wasi:io`/... interfaces a Rust std guest imports,
//! linked but granting nothing: no preopened directory, no environment, no arguments, no network,
//! a wall clock stopped at a fixed instant, a monotonic clock that never moves, random bytes from
//! a fixed seed, stdin empty, stdout/stderr captured into capped buffers.
//!
//! What bounds it: linear memory (`StoreLimits`, growth past the cap traps), wall-clock time per
//! batch (epoch interruption, a ticker thread advances the epoch), optionally instructions (fuel),
//! the reply size (hostcall fuel, checked by wasmtime while lifting the reply), captured output.
//! Every breach comes back as a [`BatchError`] that names the limit and the value seen.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stratbox_engine::protocol::{PROTOCOL_RESIDENT, ResidentHeader};
use wasmtime::component::{Component, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use crate::component::{self, Compiled, Surface};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod bindings {
    wasmtime::component::bindgen!({
        world: "backtester",
        path: "wit",
    });
}

use bindings::{Backtester, BacktesterPre};

/// How often the epoch ticks: the resolution of the per-batch deadline.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits of one batch. Defaults are generous for the default grid and small enough that
/// a hostile guest cannot hurt the machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Linear memory cap per instance, bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline per batch.
    pub deadline: Duration,
    /// Optional instruction budget per batch (wasmtime fuel units, about one per instruction).
    pub fuel: Option<u64>,
    /// Largest reply accepted from a guest, bytes.
    pub reply_bytes: usize,
    /// Captured stdout and stderr cap, bytes each.
    pub output_bytes: usize,
    /// Largest component accepted, bytes.
    pub component_bytes: usize,
    /// Longest compilation accepted.
    pub compile_time: Duration,
    /// Most instances alive at once (a run's `--jobs`): the size of the instance pool.
    pub instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 << 20,
            deadline: Duration::from_secs(60),
            fuel: None,
            reply_bytes: 64 << 20,
            output_bytes: 1 << 20,
            component_bytes: 64 << 20,
            compile_time: Duration::from_secs(60),
            instances: 16,
        }
    }
}

/// A component that cannot be used at all (before any batch runs).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot set up the wasm engine: {0}")]
    Engine(String),
    #[error("component {origin} is not a valid stratbox backtester: {reason}")]
    Invalid { origin: String, reason: String },
    #[error(
        "component {origin} needs {needs_mib} MiB of linear memory to start, more than the cap of \
         {cap_mib} MiB (--memory-mib)"
    )]
    MemoryCap {
        origin: String,
        needs_mib: u64,
        cap_mib: usize,
    },
}

/// The starting memory size in wasmtime's refusal of a memory larger than the cap, if that is
/// what `text` is (the pooling allocator says "minimum byte size of N").
fn memory_minimum(text: &str) -> Option<u64> {
    let after = text.split("minimum byte size of ").nth(1)?;
    after.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Why one batch failed, in plain words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    #[error("exceeded the deadline of {limit:?} (ran {seen:.2?})")]
    Deadline { limit: Duration, seen: Duration },
    #[error("exhausted the instruction budget of {limit} fuel")]
    Fuel { limit: u64 },
    #[error("hit the memory cap of {limit} MiB (tried to grow to {seen})")]
    Memory { limit: usize, seen: String },
    #[error("reply larger than the cap of {limit} bytes")]
    ReplyTooLarge { limit: usize },
    #[error("wrote more than the {limit}-byte cap to its {stream}")]
    OutputCap { stream: &'static str, limit: usize },
    #[error("panicked: {message}")]
    Panic { message: String },
    #[error("overflowed its stack")]
    StackOverflow,
    #[error("trapped: {trap}{}", stderr_tail(.stderr))]
    Trap { trap: String, stderr: String },
    #[error("returned an error: {0}")]
    Guest(String),
    #[error("sent a malformed reply: {0}")]
    Malformed(String),
}

fn stderr_tail(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        // The last 400 characters on one line: a Rust guest's panic message ends its stderr.
        let one_line = s.lines().map(str::trim).collect::<Vec<_>>().join(" / ");
        let tail: String = one_line
            .chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!(" (guest stderr: {tail})")
    }
}

/// A Rust guest keeps its data stack in linear memory, growing down towards address 0: deep
/// recursion runs the stack pointer below 0 and the next store faults out of bounds. wasmtime
/// reports that as a plain memory fault, so recognise it by its shape: a fault at the top of the
/// 32-bit address space, or a backtrace that is one function calling itself over and over.
fn looks_like_stack_overflow(text: &str) -> bool {
    if text.contains("memory fault at wasm address 0xffff") {
        return true;
    }
    let frames: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(" - ").map(|(_, f)| f.trim_end_matches(|c| c != '>')))
        .collect();
    frames.len() >= 16 && frames.windows(2).filter(|w| w[0] == w[1]).count() >= frames.len() - 2
}

/// `MESSAGE (at FILE:LINE:COL)` from a Rust panic report
/// (`thread '..' panicked at FILE:LINE:COL:\nMESSAGE\nnote: ...`).
fn panic_message(stderr: &str) -> String {
    let Some(start) = stderr.rfind("panicked at ") else {
        return stderr.trim().to_string();
    };
    let report = &stderr[start + "panicked at ".len()..];
    let (location, rest) = report.split_once('\n').unwrap_or((report, ""));
    let message: Vec<&str> = rest.lines().take_while(|l| !l.starts_with("note: ")).collect();
    format!(
        "{} (at {})",
        message.join(" / ").trim(),
        location.trim_end_matches(':')
    )
}

/// What `describe()` says about a component.
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
}

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A wall clock stopped at 2000-01-01T00:00:00Z: guests see time, never the real time.
struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(946_684_800)
    }
}

/// A monotonic clock that never advances.
struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A `wasi:io/poll` pollable that is always ready.
struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

/// Replaces the monotonic clock's timers with ones that are ready at once.
///
/// Why: the epoch deadline interrupts wasm code, not a host call, and WASI's stock timers sleep in
/// the host for real time, so `std::thread::sleep(one day)` in a guest would hold a batch far past
/// its deadline. The guest's clock is fixed anyway (no time passes for it), so a timer that fires
/// at once is the consistent answer; a guest that busy-waits on the clock instead spins in wasm,
/// where the deadline stops it.
fn never_sleep(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    fn ready(mut store: wasmtime::StoreContextMut<'_, State>) -> wasmtime::Result<(Resource<DynPollable>,)> {
        let table = &mut store.data_mut().table;
        let r = table.push(Ready)?;
        Ok((subscribe(table, r)?,))
    }
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("subscribe-duration", |store, (_,): (u64,)| ready(store))?;
    clock.func_wrap("subscribe-instant", |store, (_,): (u64,)| ready(store))?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The monotonic-clock interface as wasmtime-wasi 48 links it (guests importing any 0.2.x
/// version resolve to it).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Seed of the guest's random generators: fixed, so runs are reproducible.
const RANDOM_SEED: u64 = 0x5354_5241_5442_4f58; // "STRATBOX"

/// One compiled component, ready to be instantiated once per batch.
pub struct Sandbox {
    engine: Engine,
    pre: BacktesterPre<State>,
    limits: Limits,
    info: ComponentInfo,
    surface: Surface,
    compiled: Compiled,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Linear memory kept mapped and resident between the instances of one pool slot.
///
/// Why: with memory mapped anew per instance, every page a batch touches faults in (and is
/// zeroed by the kernel) on every batch; on this machine kind that was half the cost of a
/// one-strategy batch when the columns were copied in (34 ms -> 17 ms in the guest call). Kept
/// resident, a slot's pages are reset with a memset of what was used instead (on Linux 6.7+
/// only the pages the batch wrote, found with `PAGEMAP_SCAN`; pages of the memory image that
/// were only read, such as resident columns, are not touched at all). The instance still starts
/// from a fresh memory: isolation between batches is unchanged.
const KEEP_RESIDENT: usize = 64 << 20;

/// The pooling allocator's sizing: a slot per instance alive at once, and generous limits per
/// component, because a limit here would refuse a contributed component for a reason that has
/// nothing to do with the sandbox's own limits. Slots are only reserved address space until used.
fn pooling(limits: &Limits) -> wasmtime::PoolingAllocationConfig {
    let slots = limits.instances.clamp(1, 4096) as u32;
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(slots)
        .total_core_instances(slots * 32)
        .total_memories(slots * 4)
        .total_tables(slots * 32)
        .max_memories_per_module(4)
        .max_tables_per_module(8)
        .table_elements(100_000)
        .max_core_instance_size(8 << 20)
        .max_component_instance_size(8 << 20)
        .max_memory_size(limits.memory_bytes)
        .linear_memory_keep_resident(KEEP_RESIDENT.min(limits.memory_bytes))
        .pagemap_scan(wasmtime::Enabled::Auto);
    pool
}

/// The engine configuration: deterministic floats, epoch interruption, fuel only when asked.
fn engine_config(limits: &Limits) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(limits.fuel.is_some());
    // Same bits on every platform: canonical NaNs, deterministic relaxed SIMD (threads are not
    // compiled into this wasmtime build at all).
    config.cranelift_nan_canonicalization(true);
    config.relaxed_simd_deterministic(true);
    config.max_wasm_stack(1 << 20);
    // For profiling the guest: built with `--features profiling`, `STRATBOX_PERFMAP=1 perf
    // record ...` names its functions (a guest built without `strip` gives them Rust names).
    #[cfg(feature = "profiling")]
    if let Some(how) = std::env::var_os("STRATBOX_PERFMAP") {
        config.profiler(if how == "jitdump" {
            wasmtime::ProfilingStrategy::JitDump
        } else {
            wasmtime::ProfilingStrategy::PerfMap
        });
    }
    config
}

/// Why linking failed: the host's fault, or the component's.
enum LinkError {
    Engine(String),
    Component(String),
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

/// Links WASI granting nothing (plus the no-op sleep) and pre-instantiates `component`.
fn link(engine: &Engine, component: &Component) -> Result<BacktesterPre<State>, LinkError> {
    let mut linker: Linker<State> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| LinkError::Engine(format!("{e:#}")))?;
    never_sleep(&mut linker).map_err(|e| LinkError::Engine(format!("{e:#}")))?;
    let instance_pre = linker
        .instantiate_pre(component)
        .map_err(|e| LinkError::Component(format!("{e:#}")))?;
    BacktesterPre::new(instance_pre).map_err(|e| LinkError::Component(format!("{e:#}")))
}

/// The engine: pooled (see [`KEEP_RESIDENT`]) where the system grants the address space, else
/// mapping memory per instance (the same results, slower batches).
fn new_engine(limits: &Limits) -> Result<Engine, LoadError> {
    let mut pooled = engine_config(limits);
    pooled.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling(limits)));
    Engine::new(&pooled)
        .or_else(|_| Engine::new(&engine_config(limits)))
        .map_err(|e| LoadError::Engine(format!("{e:#}")))
}

impl Sandbox {
    /// Compiles `bytes` (a component of the `stratbox:backtest` world), links WASI granting
    /// nothing, and asks it to `describe()` itself. `origin` names it in errors.
    pub fn new(bytes: &[u8], origin: &str, limits: Limits) -> Result<Sandbox, LoadError> {
        Sandbox::with_cache(bytes, origin, limits, None)
    }

    /// [`Sandbox::new`], keeping compiled artifacts in `cache` (see [`crate::component`]).
    pub fn with_cache(
        bytes: &[u8],
        origin: &str,
        limits: Limits,
        cache: Option<&std::path::Path>,
    ) -> Result<Sandbox, LoadError> {
        let cap_mib = limits.memory_bytes >> 20;
        let invalid = |reason: String| match memory_minimum(&reason) {
            Some(bytes) => LoadError::MemoryCap {
                origin: origin.to_string(),
                needs_mib: bytes.div_ceil(1 << 20),
                cap_mib,
            },
            None => LoadError::Invalid {
                origin: origin.to_string(),
                reason,
            },
        };
        let engine = new_engine(&limits)?;
        let (component, compiled) =
            component::compile(&engine, bytes, limits.component_bytes, limits.compile_time, cache)
                .map_err(invalid)?;
        let surface = component::surface(&engine, &component);
        let refused = surface.refused_imports();
        if !refused.is_empty() {
            return Err(invalid(format!(
                "it imports {}, which stratbox does not grant (allowed: {})",
                refused.join(", "),
                component::ALLOWED_IMPORTS.join(", ")
            )));
        }
        let pre = link(&engine, &component).map_err(|e| e.load_error(invalid))?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker_stop.clone();
            std::thread::Builder::new()
                .name("stratbox-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| LoadError::Engine(format!("cannot start the epoch thread: {e}")))?;
        }
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
            ticker_stop,
        };
        let (mut store, instance) = sandbox.instantiate().map_err(|e| invalid(e.to_string()))?;
        let info = instance
            .stratbox_backtest_strategy()
            .call_describe(&mut store)
            .map_err(|e| {
                invalid(format!(
                    "describe() failed: {}",
                    sandbox.explain(e, &store, Duration::ZERO)
                ))
            })?;
        sandbox.info = ComponentInfo {
            name: info.name,
            version: info.version,
            params: info.params,
        };
        Ok(sandbox)
    }

    pub fn info(&self) -> &ComponentInfo {
        &self.info
    }

    /// Puts `columns` into the memory image of `component` (the bytes this sandbox was made
    /// from), so that batches read them there instead of receiving them (see [`crate::image`]).
    /// Returns the header every batch input then starts with, or `None`, leaving the sandbox as
    /// it was, when the component does not read resident columns, when the columns would take
    /// more than half the memory cap, on Windows (below), or when there is no `cache`: the
    /// rewritten component is compiled once per data set and kept there, and compiling it on
    /// every run would cost more than it saves.
    pub fn embed_columns(
        &mut self,
        component: &[u8],
        columns: &stratbox_engine::ColumnsRef,
        cache: Option<&std::path::Path>,
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
        let with = component::compile_with_columns(
            &self.engine,
            component,
            columns,
            self.limits.memory_bytes / 2,
            self.limits.compile_time,
            cache,
        )
        .map_err(invalid)?;
        #[cfg(not(target_endian = "little"))]
        let with: Option<component::WithColumns> = {
            let _ = (component, columns, cache);
            None
        };
        let Some(with) = with else {
            return Ok(None);
        };
        self.pre = link(&self.engine, &with.component).map_err(|e| e.load_error(invalid))?;
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

    fn new_store(&self) -> Store<State> {
        let stdout = MemoryOutputPipe::new(self.limits.output_bytes);
        let stderr = MemoryOutputPipe::new(self.limits.output_bytes);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FixedWallClock)
            .monotonic_clock(FixedMonotonicClock)
            .secure_random(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(
                RANDOM_SEED,
            ))
            .insecure_random(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(
                RANDOM_SEED + 1,
            ))
            .insecure_random_seed(RANDOM_SEED as u128)
            .allow_blocking_current_thread(false)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .trap_on_grow_failure(true)
            .instances(16)
            .memories(4)
            .tables(16)
            .build();
        let mut store = Store::new(
            &self.engine,
            State {
                wasi: wasi.build(),
                table: ResourceTable::new(),
                limits,
                stdout: stdout.clone(),
                stderr: stderr.clone(),
            },
        );
        store.limiter(|s| &mut s.limits);
        let ticks = (self.limits.deadline.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        if let Some(fuel) = self.limits.fuel {
            store
                .set_fuel(fuel)
                .expect("fuel is enabled in the engine config");
        }
        store.set_hostcall_fuel(self.limits.reply_bytes);
        store
    }

    fn instantiate(&self) -> Result<(Store<State>, Backtester), BatchError> {
        let mut store = self.new_store();
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.explain(e, &store, Duration::ZERO))?;
        Ok((store, instance))
    }

    /// Runs one batch in a fresh instance. The store, and with it the instance's memory, is
    /// dropped before this returns.
    pub fn run_batch(&self, input: &[u8]) -> Result<Reply, BatchError> {
        let t0 = Instant::now();
        let (mut store, instance) = self.instantiate()?;
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
        drop(store);
        // A full pipe refuses further writes; the guest may have carried on regardless (or given
        // up with an error), but its output was cut, and the cap is a limit like the others.
        for (stream, pipe) in [("stdout", &stdout), ("stderr", &stderr)] {
            if pipe.contents().len() >= self.limits.output_bytes {
                return Err(BatchError::OutputCap {
                    stream,
                    limit: self.limits.output_bytes,
                });
            }
        }
        let reply = result.map_err(BatchError::Guest)?;
        Ok(Reply {
            bytes: reply,
            stdout: stdout.contents().to_vec(),
            stderr: stderr.contents().to_vec(),
            instantiate,
            call,
        })
    }

    /// Turns a wasmtime error into the limit or fault it stands for.
    fn explain(&self, e: wasmtime::Error, store: &Store<State>, ran: Duration) -> BatchError {
        let text = format!("{e:#}");
        let state = store.data();
        let stderr = String::from_utf8_lossy(&state.stderr.contents()).into_owned();
        if let Some(trap) = e.downcast_ref::<Trap>() {
            return match trap {
                Trap::Interrupt => BatchError::Deadline {
                    limit: self.limits.deadline,
                    seen: ran,
                },
                Trap::OutOfFuel => BatchError::Fuel {
                    limit: self.limits.fuel.unwrap_or(0),
                },
                Trap::StackOverflow => BatchError::StackOverflow,
                Trap::MemoryOutOfBounds if looks_like_stack_overflow(&text) => BatchError::StackOverflow,
                // A Rust guest's panic prints its message to stderr, then aborts (`unreachable`).
                Trap::UnreachableCodeReached if stderr.contains("panicked at") => BatchError::Panic {
                    message: panic_message(&stderr),
                },
                // The trap's own words ("out of bounds memory access", ...), not the backtrace.
                _ => BatchError::Trap {
                    trap: trap.to_string(),
                    stderr,
                },
            };
        }
        if text.contains("forcing trap when growing memory") || text.contains("memory minimum size") {
            let seen = text
                .split("to ")
                .nth(1)
                .map(|s| s.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|| "more".into());
            return BatchError::Memory {
                limit: self.limits.memory_bytes >> 20,
                seen,
            };
        }
        if text.contains("hostcalls has been exhausted") || text.contains("too much data is being copied") {
            return BatchError::ReplyTooLarge {
                limit: self.limits.reply_bytes,
            };
        }
        if text.contains("write beyond capacity of MemoryOutputPipe") {
            // The pipe that refused the write is the fuller one.
            let stream = if state.stderr.contents().len() > state.stdout.contents().len() {
                "stderr"
            } else {
                "stdout"
            };
            return BatchError::OutputCap {
                stream,
                limit: self.limits.output_bytes,
            };
        }
        BatchError::Trap {
            trap: text.lines().next().unwrap_or_default().to_string(),
            stderr,
        }
    }
}
