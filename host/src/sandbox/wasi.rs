//! What a guest's world looks like from inside: the ~13 `wasi:cli`/`wasi:io`/... interfaces a
//! Rust std guest imports, linked but granting nothing: no preopened directory, no environment,
//! no arguments, no network, a wall clock stopped at a fixed instant, a monotonic clock that
//! never moves, timers that fire at once, random bytes from a fixed seed, stdin empty,
//! stdout/stderr captured into capped buffers. And the per-batch `Store` that holds it.

use std::time::Duration;

use wasmtime::component::{Component, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::BacktesterPre;
use super::engine::deadline_ticks;
use super::limits::Limits;

/// One batch's host state.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
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

/// The monotonic-clock interface as wasmtime-wasi 48 links it (guests importing any 0.2.x
/// version resolve to it).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Seed of the guest's random generators: fixed, so runs are reproducible.
const RANDOM_SEED: u64 = 0x5354_5241_5442_4f58; // "STRATBOX"

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

/// Why linking failed: the host's fault, or the component's.
pub(crate) enum LinkError {
    Engine(String),
    Component(String),
}

/// Links WASI granting nothing (plus the no-op sleep) and pre-instantiates `component`.
pub(crate) fn link(engine: &Engine, component: &Component) -> Result<BacktesterPre<State>, LinkError> {
    let mut linker: Linker<State> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| LinkError::Engine(format!("{e:#}")))?;
    never_sleep(&mut linker).map_err(|e| LinkError::Engine(format!("{e:#}")))?;
    let instance_pre = linker
        .instantiate_pre(component)
        .map_err(|e| LinkError::Component(format!("{e:#}")))?;
    BacktesterPre::new(instance_pre).map_err(|e| LinkError::Component(format!("{e:#}")))
}

/// A fresh store for one batch: the empty WASI context, the memory cap, the deadline, fuel and
/// the reply cap (hostcall fuel, checked by wasmtime while lifting the reply).
pub(crate) fn new_store(engine: &Engine, limits: &Limits) -> Store<State> {
    let stdout = MemoryOutputPipe::new(limits.output_bytes);
    let stderr = MemoryOutputPipe::new(limits.output_bytes);
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
    let store_limits = StoreLimitsBuilder::new()
        .memory_size(limits.memory_bytes)
        .trap_on_grow_failure(true)
        .instances(16)
        .memories(4)
        .tables(16)
        .build();
    let mut store = Store::new(
        engine,
        State {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: store_limits,
            stdout,
            stderr,
        },
    );
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(deadline_ticks(limits.deadline));
    store.epoch_deadline_trap();
    if let Some(fuel) = limits.fuel {
        store
            .set_fuel(fuel)
            .expect("fuel is enabled in the engine config");
    }
    store.set_hostcall_fuel(limits.reply_bytes);
    store
}
