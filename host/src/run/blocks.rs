//! How a streamed batch (protocol 6) moves through the series: the size of the block of entry
//! bars it loads at a time, chosen against the instance's memory cap before any batch runs.
//!
//! Why a fixed block and not the whole series: an instance then needs the same memory for one
//! year of minute bars and for twenty-five (the columns of a block, its exit memo and its index),
//! and 20 years no longer hit the 512 MiB cap as whole-series inputs did. Why 2^17 bars (about
//! three months of minute bars, ~8 MiB of columns): per block the guest rebuilds its index over
//! the block and the bars around it, and asks the host for them once; at this size that is a
//! small share of a batch, and the block is still small against the default cap.

use stratbox_engine::sim::SWEEP_WINDOW;

/// Entry bars per block when the cap allows.
pub const BLOCK_BARS: u64 = 1 << 17;

/// What the guest holds per loaded bar, bytes, by this estimate: the eight 8-byte columns, an
/// 8-byte exit memo slot for one exit rule, the index, and as much again for the exit rules,
/// index and reply that grow with the batch (measured on the default grid: see the README).
pub const BYTES_PER_BAR: u64 = 2 * (64 + 8 + 8);

/// Linear memory a guest has before it loads any bar (its stack and static data; the SDK's
/// guests link with 1 MiB of stack and ~0.2 MiB of data), rounded up.
pub const GUEST_BASE_BYTES: u64 = 2 << 20;

/// How a streamed batch moves through the series: entry bars `block_bars` at a time, each
/// block loaded with `lookahead_bars` after it (more where a time exit lies further).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocks {
    pub block_bars: u64,
    pub lookahead_bars: u64,
}

/// The memory cap cannot hold one window of bars: the run is refused before any batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--memory-mib {cap_mib} is too small for a streamed batch: one window of {window} bars needs \
     about {needed_mib} MiB of instance memory (raise --memory-mib to at least {needed_mib})"
)]
pub struct CapTooSmall {
    pub cap_mib: u64,
    pub window: u64,
    pub needed_mib: u64,
}

impl Blocks {
    /// The bars a block loads besides the block's own, after it.
    fn lookahead(block_bars: u64) -> u64 {
        block_bars / 8
    }

    /// Whether a series of `bars` is longer than one block and its lookahead, so that reading it
    /// a block at a time keeps an instance's memory below what the whole series would take.
    pub fn streams(&self, bars: usize) -> bool {
        bars as u64 > self.block_bars + self.lookahead_bars
    }

    /// The smallest blocks: one sweep window. A series that even these would not stream goes
    /// whole, so a cap too small for them matters only for a longer one.
    pub fn smallest() -> Blocks {
        let window = SWEEP_WINDOW as u64;
        Blocks {
            block_bars: window,
            lookahead_bars: Blocks::lookahead(window),
        }
    }

    /// Bytes of instance memory a block of `block_bars` is estimated to need.
    pub fn needs(block_bars: u64) -> u64 {
        GUEST_BASE_BYTES + (block_bars + Blocks::lookahead(block_bars)) * BYTES_PER_BAR
    }

    /// The largest block (a power of two, at most [`BLOCK_BARS`], at least one sweep window)
    /// whose estimate fits in half of `cap_bytes`, the other half left to what the estimate
    /// does not see; refused when not even one window fits.
    pub fn for_cap(cap_bytes: u64) -> Result<Blocks, CapTooSmall> {
        let window = SWEEP_WINDOW as u64;
        let mut block = BLOCK_BARS;
        while block > window && Blocks::needs(block) > cap_bytes / 2 {
            block /= 2;
        }
        if Blocks::needs(block) > cap_bytes / 2 {
            return Err(CapTooSmall {
                cap_mib: cap_bytes >> 20,
                window,
                needed_mib: (2 * Blocks::needs(window)).div_ceil(1 << 20),
            });
        }
        Ok(Blocks {
            block_bars: block,
            lookahead_bars: Blocks::lookahead(block),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_gets_the_full_block_and_small_caps_smaller_ones() {
        let full = Blocks::for_cap(512 << 20).unwrap();
        assert_eq!(
            full,
            Blocks {
                block_bars: 1 << 17,
                lookahead_bars: 1 << 14
            }
        );
        // 2 MiB + 147,456 bars x 160 bytes = 24.5 MiB: a cap of 49 MiB holds it, 48 does not.
        assert_eq!(Blocks::needs(1 << 17), (2 << 20) + 147_456 * 160);
        assert_eq!(Blocks::needs(1 << 17), 49 << 19);
        assert_eq!(Blocks::for_cap(49 << 20).unwrap().block_bars, 1 << 17);
        assert_eq!(Blocks::for_cap(48 << 20).unwrap().block_bars, 1 << 16);
        // 4 MiB of 8: 2 MiB + 9,216 x 160 = 3.4 MiB fits, 2 MiB + 18,432 x 160 = 4.8 MiB not.
        assert_eq!(Blocks::for_cap(8 << 20).unwrap().block_bars, 8192);
    }

    #[test]
    fn a_cap_below_one_window_is_refused_with_the_flag_and_the_numbers() {
        // One window: 2 MiB + 2,304 bars x 160 bytes = 2.35 MiB, twice that is 4.7 MiB.
        let e = Blocks::for_cap(4 << 20).unwrap_err();
        assert_eq!(
            e,
            CapTooSmall {
                cap_mib: 4,
                window: 2048,
                needed_mib: 5
            }
        );
        assert_eq!(
            e.to_string(),
            "--memory-mib 4 is too small for a streamed batch: one window of 2048 bars needs about \
             5 MiB of instance memory (raise --memory-mib to at least 5)"
        );
    }
}
