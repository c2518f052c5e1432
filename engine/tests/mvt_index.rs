//! The MVT entry index (byte levels, vector scan) gives exactly the trades of the rule evaluated
//! bar by bar, for long and short, strict and loose thresholds, in batches of mixed strategies.

use stratbox_engine::sim::{Exits, Side, TradeLog, simulate};
use stratbox_engine::{Columns, Mvt, Strategy};

mod common;
use common::walk;

fn naive(cols: &Columns, s: &Mvt) -> TradeLog {
    let mut log = TradeLog::default();
    simulate(
        &cols.view(),
        3,
        |from| {
            (from..cols.len())
                .find(|&i| s.signal(&cols.view(), i))
                .map(|i| (i, s.side, s.exits))
        },
        &mut log,
    );
    log
}

#[test]
fn index_matches_the_rule_bar_by_bar() {
    let cols = walk(20_000, 7);
    let moms = [0.0, 0.00005, 0.0003, 0.001, 0.0019];
    let vols = [0.0001, 0.0002, 0.0005];
    let trends = [0.0, 3.0, 15.0];
    let mut batch = Vec::new();
    for (d, side) in [Side::Long, Side::Short].into_iter().enumerate() {
        for &mom_th in &moms {
            for &vol_max in &vols {
                for &trend_th in &trends {
                    let exits = Exits {
                        sl_points: 50 + 10 * d as i64,
                        tp_points: 120,
                        max_bars: 30,
                    };
                    batch.push(Mvt {
                        mom_th,
                        vol_max,
                        trend_th,
                        side,
                        exits,
                    });
                }
            }
        }
    }
    let view = cols.view();
    let index = Mvt::build_index(&view, &batch);
    let mut total = 0;
    for s in &batch {
        let mut fast = TradeLog::default();
        simulate(&view, 3, s.entries(&index, &view), &mut fast);
        assert_eq!(fast, naive(&cols, s), "{s:?}");
        total += fast.trades.len();
    }
    assert!(total > 5_000, "the batch must trade a lot, got {total}");
}

/// Regression: the two-level scan skipped an entry in the last whole block when the search
/// started less than 16 bars before the end, so a strategy lost its final (open) position. Every
/// series length around a block boundary, and exits every few bars so that searches start
/// everywhere near the end.
#[test]
fn entries_near_the_end_of_the_series_are_found_for_every_length() {
    for n in 4000..4000 + 33 {
        let cols = walk(n, n as u64);
        let batch: Vec<Mvt> = [(0.0, 0.0006, 0.0), (0.0003, 0.0005, 0.0), (0.001, 0.0002, 3.0)]
            .into_iter()
            .flat_map(|(mom_th, vol_max, trend_th)| {
                [Side::Long, Side::Short].map(|side| Mvt {
                    mom_th,
                    vol_max,
                    trend_th,
                    side,
                    exits: Exits {
                        sl_points: 30,
                        tp_points: 30,
                        max_bars: 3,
                    },
                })
            })
            .collect();
        let view = cols.view();
        let index = Mvt::build_index(&view, &batch);
        for s in &batch {
            let mut fast = TradeLog::default();
            simulate(&view, 0, s.entries(&index, &view), &mut fast);
            let mut slow = TradeLog::default();
            simulate(
                &view,
                0,
                |from| {
                    (from..n)
                        .find(|&i| s.signal(&view, i))
                        .map(|i| (i, s.side, s.exits))
                },
                &mut slow,
            );
            assert_eq!(fast, slow, "{n} bars, {s:?}");
        }
    }
}

fn batch_input() -> stratbox_engine::BatchInput {
    use stratbox_engine::protocol::{BatchInput, Costs, PROTOCOL_VERSION, StrategyParams};
    BatchInput {
        protocol: PROTOCOL_VERSION,
        reserved: 0,
        columns: walk(1000, 3),
        param_names: vec!["a".into(), "b".into()],
        strategies: vec![
            StrategyParams {
                id: 7,
                values: vec![0.5, -1.0],
            },
            StrategyParams {
                id: 9,
                values: vec![2.0, f64::MIN],
            },
        ],
        lots: vec![0.01, 1.0],
        costs: Costs {
            spread_points: 3,
            commission_per_lot: 7.5,
            ..Costs::default()
        },
    }
}

#[test]
fn fast_batch_decoding_reads_exactly_what_bincode_wrote() {
    use stratbox_engine::protocol::{BatchInput, decode, decode_batch_input, encode};
    let input = batch_input();
    let bytes = encode(&input);
    let mut columns = Vec::new();
    stratbox_engine::protocol::encode_columns_into(&input.columns.view(), &mut columns);
    assert_eq!(
        columns,
        encode(&input.columns),
        "the fast column writer writes bincode's bytes"
    );
    let fast = decode_batch_input(&bytes).unwrap();
    let slow: BatchInput = decode(&bytes).unwrap();
    // NaN != NaN, so compare the encodings.
    assert_eq!(encode(&fast), bytes);
    assert_eq!(encode(&slow), bytes);
    // Truncated or padded input is refused, as bincode refuses it.
    assert!(decode_batch_input(&bytes[..bytes.len() - 1]).is_err());
    assert!(decode_batch_input(&bytes[..100]).is_err());
    let mut padded = bytes.clone();
    padded.push(0);
    assert!(decode_batch_input(&padded).is_err());
}

/// The guest reads its columns in place after moving them onto an 8-byte boundary: whatever the
/// buffer's alignment, it must see exactly the columns and fields that were encoded.
#[test]
fn in_place_view_reads_exactly_what_bincode_wrote_at_every_alignment() {
    use stratbox_engine::protocol::{BatchTail, encode, view_batch_input};
    let input = batch_input();
    let bytes = encode(&input);
    for offset in 0..8 {
        // A u64 buffer is 8-aligned, so `offset` sets the misalignment of the bytes.
        let mut store = vec![0u64; bytes.len() / 8 + 2];
        // SAFETY: viewing initialised u64s as bytes, within the allocation.
        let raw = unsafe { std::slice::from_raw_parts_mut(store.as_mut_ptr() as *mut u8, store.len() * 8) };
        let buf = &mut raw[offset..offset + bytes.len()];
        buf.copy_from_slice(&bytes);
        let start = buf.as_ptr() as usize;
        let (protocol, cols, tail) = view_batch_input(buf).unwrap();
        assert_eq!(protocol, input.protocol);
        if offset == 0 {
            // Aligned: read where they lie (header, then the count), nothing moved.
            assert_eq!(cols.time.as_ptr() as usize, start + 16);
        }
        let c = &input.columns;
        assert_eq!(
            (cols.time, cols.open, cols.high),
            (&c.time[..], &c.open[..], &c.high[..])
        );
        assert_eq!((cols.low, cols.close), (&c.low[..], &c.close[..]));
        for (ours, theirs) in [
            (cols.momentum, &c.momentum),
            (cols.volatility, &c.volatility),
            (cols.trend, &c.trend),
        ] {
            assert!(ours.iter().zip(theirs).all(|(a, b)| a.to_bits() == b.to_bits()));
            assert_eq!(ours.len(), theirs.len());
        }
        let expected = BatchTail {
            param_names: input.param_names.clone(),
            strategies: input.strategies.clone(),
            lots: input.lots.clone(),
            costs: input.costs,
        };
        assert_eq!(tail, expected, "offset {offset}");
    }
    // Truncated or padded input is refused.
    assert!(view_batch_input(&mut bytes[..bytes.len() - 1].to_vec()).is_err());
    assert!(view_batch_input(&mut bytes[..100].to_vec()).is_err());
    let mut padded = bytes.clone();
    padded.push(0);
    assert!(view_batch_input(&mut padded).is_err());
}
