//! The wasmtime `Engine`: its configuration (deterministic floats, epoch interruption, fuel
//! only when asked), the pooling allocator that keeps instance memory resident, and the epoch
//! ticker that turns the per-batch deadline into a trap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine};

use super::fault::LoadError;
use super::limits::Limits;

/// How often the epoch ticks: the resolution of the per-batch deadline.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

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
fn config(limits: &Limits) -> Config {
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

/// The engine: pooled (see [`KEEP_RESIDENT`]) where the system grants the address space, else
/// mapping memory per instance (the same results, slower batches).
pub(crate) fn new_engine(limits: &Limits) -> Result<Engine, LoadError> {
    let mut pooled = config(limits);
    pooled.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling(limits)));
    Engine::new(&pooled)
        .or_else(|_| Engine::new(&config(limits)))
        .map_err(|e| LoadError::Engine(format!("{e:#}")))
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until dropped.
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    pub(crate) fn start(engine: &Engine) -> Result<Ticker, LoadError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("stratbox-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| LoadError::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(Ticker { stop })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Epoch ticks in `deadline` (at least one).
pub(crate) fn deadline_ticks(deadline: Duration) -> u64 {
    (deadline.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64
}
