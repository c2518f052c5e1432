//! The series' bars as streamed batches read them (`series.read-bars`, protocol 6), each range
//! encoded once per run and shared by every batch that asks for it.
//!
//! Why: every batch of a run walks the same blocks (the same `start, count` for each block of
//! entry bars), and encoding one afresh per call cost a ~10 MB copy plus as many fresh pages
//! each time: 4-5 % of a run's CPU on the bundled year, in the workers that bound the run.
//! An encoded block is handed to wasmtime as an `Arc<[u8]>`, which it lowers into the guest's
//! memory as the list itself, so a cached block costs one copy (into the instance), not two.
//!
//! What a guest can make it hold: the guest chooses the ranges, so the cache keeps at most
//! [`BarsCache::capacity`] bytes (a few blocks of the run), and a range larger than that is
//! encoded for its call alone, as before.

use std::sync::{Arc, Mutex};

use stratbox_engine::ColumnsRef;
use stratbox_engine::protocol::encode_bars;

/// Encoded ranges of one run's series, the most recently used last.
pub struct BarsCache {
    entries: Mutex<Vec<Entry>>,
    capacity: usize,
}

struct Entry {
    range: (u64, u64),
    bytes: Arc<[u8]>,
}

/// Blocks of the run's usual size the cache holds: each of two workers reading its block, and
/// the one each will read next.
const BLOCKS: usize = 4;

impl BarsCache {
    /// A cache for batches that read `block_bars` entry bars at a time with `lookahead_bars`
    /// after them (and the strategies' lookback before: a little more room per block).
    pub fn new(block_bars: u64, lookahead_bars: u64) -> BarsCache {
        let per_block = encoded_size(2 * (block_bars + lookahead_bars));
        BarsCache {
            entries: Mutex::new(Vec::new()),
            capacity: per_block.saturating_mul(BLOCKS),
        }
    }

    /// The most bytes of encoded bars the cache keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bars `start..start + count` of `bars`, encoded as [`encode_bars`] does: from the cache,
    /// or encoded now (and kept, when they fit, in place of the least recently used).
    pub fn read(&self, bars: &ColumnsRef, start: u64, count: u64) -> Result<Arc<[u8]>, String> {
        let range = (start, count);
        if let Some(bytes) = self.take(range) {
            return Ok(bytes);
        }
        // Encoded outside the lock: another worker asking for another range need not wait.
        let bytes: Arc<[u8]> = encode_bars(bars, start, count)?.into();
        if bytes.len() <= self.capacity {
            let mut entries = self.lock();
            if !entries.iter().any(|e| e.range == range) {
                let mut held: usize = entries.iter().map(|e| e.bytes.len()).sum();
                while held + bytes.len() > self.capacity {
                    held -= entries.remove(0).bytes.len();
                }
                entries.push(Entry {
                    range,
                    bytes: bytes.clone(),
                });
            }
        }
        Ok(bytes)
    }

    /// The cached bytes of `range`, marked most recently used.
    fn take(&self, range: (u64, u64)) -> Option<Arc<[u8]>> {
        let mut entries = self.lock();
        let i = entries.iter().position(|e| e.range == range)?;
        let entry = entries.remove(i);
        let bytes = entry.bytes.clone();
        entries.push(entry);
        Some(bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        // The entries are whole after every step that changes them, so a panic elsewhere while
        // the lock was held leaves nothing half-done.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes the cache holds now.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.lock().iter().map(|e| e.bytes.len()).sum()
    }
}

/// Bytes [`encode_bars`] writes for `count` bars: the 8-byte header, and eight columns of an
/// 8-byte length and 8-byte values.
fn encoded_size(count: u64) -> usize {
    usize::try_from(count.saturating_mul(64).saturating_add(72)).unwrap_or(usize::MAX)
}

/// A series of `n` bars a minute apart (leaked: tests only), for the tests of the `series`
/// import.
#[cfg(test)]
pub(crate) fn test_series(n: usize) -> ColumnsRef<'static> {
    let time: &'static [i64] = Box::leak((0..n as i64).map(|i| 60 * i).collect());
    let prices: &'static [i64] = Box::leak((0..n as i64).collect());
    let features: &'static [f64] = Box::leak((0..n).map(|i| i as f64 / 7.0).collect());
    ColumnsRef {
        time,
        open: prices,
        high: prices,
        low: prices,
        close: prices,
        momentum: features,
        volatility: features,
        trend: features,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize) -> ColumnsRef<'static> {
        test_series(n)
    }

    /// A cached range gives the bytes a fresh encoding would, and is the same allocation the
    /// second time (encoded once).
    #[test]
    fn a_range_is_encoded_once_and_gives_the_encoders_bytes() {
        let bars = series(1000);
        let cache = BarsCache::new(100, 12);
        let a = cache.read(&bars, 10, 200).unwrap();
        assert_eq!(&a[..], &encode_bars(&bars, 10, 200).unwrap()[..]);
        let b = cache.read(&bars, 10, 200).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = cache.read(&bars, 10, 201).unwrap();
        assert_eq!(&c[..], &encode_bars(&bars, 10, 201).unwrap()[..]);
        assert!(!Arc::ptr_eq(&a, &c));
    }

    /// The cache never holds more than its capacity: the least recently used range goes first,
    /// and a range larger than the capacity is answered but not kept.
    #[test]
    fn it_holds_at_most_its_capacity_dropping_the_least_recently_used() {
        let bars = series(5000);
        let cache = BarsCache::new(100, 12);
        let size = |count| encode_bars(&bars, 0, count).unwrap().len();
        assert_eq!(size(224), encoded_size(224));
        // Four ranges of the block's size fill it; a fifth evicts the least recently used.
        let ranges: Vec<u64> = (0..5).map(|i| i * 100).collect();
        let first: Vec<Arc<[u8]>> = ranges[..4]
            .iter()
            .map(|&s| cache.read(&bars, s, 224).unwrap())
            .collect();
        assert!(cache.held() <= cache.capacity());
        // Range 0 used again, so range 100 is now the least recently used.
        assert!(Arc::ptr_eq(&first[0], &cache.read(&bars, 0, 224).unwrap()));
        for _ in 0..3 {
            cache.read(&bars, ranges[4], 224).unwrap();
            assert!(
                cache.held() <= cache.capacity(),
                "{} > {}",
                cache.held(),
                cache.capacity()
            );
        }
        assert!(Arc::ptr_eq(&first[0], &cache.read(&bars, 0, 224).unwrap()));
        assert!(!Arc::ptr_eq(&first[1], &cache.read(&bars, 100, 224).unwrap()));
        // A hostile guest asking for the whole series gets it, and the cache stays bounded.
        let whole = cache.read(&bars, 0, 5000).unwrap();
        assert_eq!(&whole[..], &encode_bars(&bars, 0, 5000).unwrap()[..]);
        assert!(whole.len() > cache.capacity());
        assert!(cache.held() <= cache.capacity());
        // Refusals are the encoder's.
        let e = cache.read(&bars, 4999, 2).unwrap_err();
        assert!(e.contains("lie outside the series of 5000 bars"), "{e}");
    }
}
