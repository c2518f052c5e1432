//! What a guest's world looks like from inside: the ~13 `wasi:cli`/`wasi:io`/... interfaces a
//! Rust std guest imports, linked but granting nothing: no preopened directory, no environment,
//! no arguments, no network, a wall clock stopped at a fixed instant, a monotonic clock that
//! never moves, timers that fire at once, random bytes from a fixed seed, stdin empty,
//! stdout/stderr captured into capped buffers. The one stratbox interface a guest may import,
//! `series`, which reads the batch's bars and takes its complete days (protocol 6). And the per-batch `Store` that holds it.

use std::sync::Arc;
use std::time::Duration;

use stratbox_engine::ColumnsRef;
use stratbox_engine::protocol::{StreamedDays, decode};
use wasmtime::component::{Component, Linker, Resource, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bars::BarsCache;
use super::bindings::BacktesterPre;
use super::engine::deadline_ticks;
use super::limits::Limits;

/// One batch's host state.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) meter: Meter,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
    /// What a streamed batch (protocol 6) reads and writes through the `series` import, lent
    /// for one call: see [`State::lend`].
    series: Option<Lent>,
}

/// A streamed batch's series and the days it has handed over.
pub(crate) struct Lent {
    bars: ColumnsRef<'static>,
    cache: &'static BarsCache,
    /// What `write-days` took, in call order.
    pub(crate) days: StreamedDays,
    /// Day entries taken so far, and the most the batch can have: its rows times the days the
    /// series spans. More is a malformed batch, refused before the host holds it.
    entries: usize,
    max_entries: usize,
}

impl State {
    /// Lends `series` to the guest's `series` import for the call about to be made: its bars
    /// (read through its cache), taking at most its `max_day_entries` day entries through
    /// `write-days`.
    ///
    /// # Safety
    /// The store that holds this state must be dropped before the columns and the cache
    /// `series` borrows are: the lifetimes are erased because a `Store` holds only `'static`
    /// data. [`super::Sandbox::run_batch`] makes and drops its store inside the borrow.
    pub(crate) unsafe fn lend(&mut self, series: super::Series<'_>) {
        // SAFETY: the caller keeps the columns and the cache alive for as long as this state
        // can read them.
        let (bars, cache) = unsafe {
            (
                std::mem::transmute::<ColumnsRef<'_>, ColumnsRef<'static>>(*series.bars),
                std::mem::transmute::<&BarsCache, &'static BarsCache>(series.cache),
            )
        };
        self.series = Some(Lent {
            bars,
            cache,
            days: Vec::new(),
            entries: 0,
            max_entries: series.max_day_entries,
        });
    }

    /// The days the batch handed over through `write-days`.
    pub(crate) fn take_days(&mut self) -> StreamedDays {
        self.series
            .as_mut()
            .map(|l| std::mem::take(&mut l.days))
            .unwrap_or_default()
    }
}

/// The store's resource limiter: the memory cap and the rest of [`StoreLimits`], and the most
/// linear memory the instance asked for and got (its high-water mark, for the run log).
pub(crate) struct Meter {
    limits: StoreLimits,
    pub(crate) peak_memory: usize,
}

impl ResourceLimiter for Meter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let granted = self.limits.memory_growing(current, desired, maximum)?;
        if granted {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(granted)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// Where the host's `stratbox:backtest/series` interface is linked (the WIT package's version).
const SERIES: &str = "stratbox:backtest/series@0.1.0";

/// `series.read-bars(start, count)`: the lent series' bars `start..start + count`, laid out as
/// the resident block of protocol 3 is ([`stratbox_engine::protocol::encode_bars`]), from the
/// run's [`BarsCache`]. The guest chooses the range, so it is checked; what one call costs the
/// host is bounded by the series (one encoding, freed when the call returns unless it fits the
/// cache's bounded room), and what the guest keeps of it by its memory cap.
fn read_bars(series: Option<&Lent>, (start, count): (u64, u64)) -> Result<Arc<[u8]>, String> {
    let Some(lent) = series else {
        return Err(NOT_STREAMED.into());
    };
    lent.cache.read(&lent.bars, start, count)
}

/// `series.write-days(days)`: keeps the complete days' P&L a batch hands over, refusing bytes
/// that are not [`StreamedDays`] and more entries than the batch can have (so a guest cannot
/// make the host hold more than its honest reply would). Whether the days make sense (rows,
/// order, counts) is checked with the reply, like the days the reply carries.
fn write_days(series: Option<&mut Lent>, days: &[u8]) -> Result<(), String> {
    let Some(lent) = series else {
        return Err(NOT_STREAMED.into());
    };
    let days: StreamedDays = decode(days).map_err(|e| format!("write-days: {e}"))?;
    let entries = lent.entries + days.iter().map(|(_, d)| d.len()).sum::<usize>();
    if entries > lent.max_entries {
        return Err(format!(
            "write-days: {entries} day entries, more than the batch's rows times the series' days ({})",
            lent.max_entries
        ));
    }
    lent.entries = entries;
    lent.days.extend(days);
    Ok(())
}

const NOT_STREAMED: &str = "this batch is not streamed: its bars came with the input";

fn link_series(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    let mut series = linker.instance(SERIES)?;
    series.func_wrap(
        "read-bars",
        |store: wasmtime::StoreContextMut<'_, State>, args: (u64, u64)| {
            Ok((read_bars(store.data().series.as_ref(), args),))
        },
    )?;
    series.func_wrap(
        "write-days",
        |mut store: wasmtime::StoreContextMut<'_, State>, (days,): (Vec<u8>,)| {
            Ok((write_days(store.data_mut().series.as_mut(), &days),))
        },
    )?;
    Ok(())
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
    link_series(&mut linker).map_err(|e| LinkError::Engine(format!("{e:#}")))?;
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
            meter: Meter {
                limits: store_limits,
                peak_memory: 0,
            },
            stdout,
            stderr,
            series: None,
        },
    );
    store.limiter(|s| &mut s.meter);
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

#[cfg(test)]
mod tests {
    //! The `series` import's refusals, as a hostile guest would meet them: the host's answers
    //! are errors the guest gets back, never a panic, and nothing refused is kept.
    use super::*;
    use stratbox_engine::protocol::{DayPnl, encode};

    fn lent(bars: ColumnsRef<'static>, max_entries: usize) -> Lent {
        Lent {
            bars,
            cache: Box::leak(Box::new(BarsCache::new(2, 1))),
            days: Vec::new(),
            entries: 0,
            max_entries,
        }
    }

    fn days(row: u32, n: usize) -> StreamedDays {
        let d = DayPnl {
            day: 17532,
            n_trades: 1,
            pnl_usd: 1.5,
        };
        vec![(row, vec![d; n])]
    }

    #[test]
    fn write_days_refuses_garbage_and_more_entries_than_the_batch_can_have() {
        let mut l = lent(ColumnsRef::default(), 4);
        let e = write_days(Some(&mut l), b"this is not bincode at all").unwrap_err();
        assert!(e.starts_with("write-days: "), "{e}");
        write_days(Some(&mut l), &encode(&days(0, 3))).unwrap();
        let e = write_days(Some(&mut l), &encode(&days(1, 2))).unwrap_err();
        assert_eq!(
            e,
            "write-days: 5 day entries, more than the batch's rows times the series' days (4)"
        );
        // The refused call kept nothing, and the count did not move: one more entry still fits.
        assert_eq!(l.days, days(0, 3));
        write_days(Some(&mut l), &encode(&days(1, 1))).unwrap();
        assert_eq!(l.days.len(), 2);
        assert_eq!(write_days(None, &encode(&days(0, 1))).unwrap_err(), NOT_STREAMED);
    }

    #[test]
    fn read_bars_refuses_a_range_outside_the_series_even_one_that_overflows() {
        let bars = super::super::bars::test_series(3);
        let l = lent(bars, 0);
        assert!(read_bars(Some(&l), (1, 2)).is_ok());
        for range in [(2, 2), (u64::MAX, 2), (0, u64::MAX)] {
            let e = read_bars(Some(&l), range).unwrap_err();
            assert!(e.contains("lie outside the series of 3 bars"), "{range:?}: {e}");
        }
        assert_eq!(read_bars(None, (0, 1)).unwrap_err(), NOT_STREAMED);
    }
}
