//! What bounds one batch in the sandbox, and the component before any batch runs.

use std::time::Duration;

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
    /// Most instances alive at once: the size of the instance pool, and so the number of
    /// batches a run executes at once (`--jobs`; the one place that number lives).
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
