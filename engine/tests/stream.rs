//! A streamed batch (protocol 6: the bars handed out a stretch at a time) gives exactly the
//! rows of the same batch over the whole series, whatever the block and lookahead sizes: across
//! block boundaries, with time exits that reach past the loaded stretch, with ruin, and with
//! positions still open at the end. Also: what it asks the host for stays the size of a block.

use stratbox_engine::protocol::{
    BatchInput, Costs, DayPnl, PROTOCOL_DAILY, PROTOCOL_STREAMED, StrategyParams, StreamedDays,
    StreamedHeader, decode, decode_reply, encode, encode_bars,
};
use stratbox_engine::{Columns, Mvt, ResultRow, Strategy, Stream, run_batch_bytes, run_batch_bytes_streamed};

mod common;
use common::walk;

/// Both sides, several thresholds, holding limits from 25 bars to past the whole series.
fn strategies() -> Vec<StrategyParams> {
    let mut out = Vec::new();
    for direction in [0.0, 1.0] {
        for mom_th in [0.0, 0.0003, 0.0015] {
            for (sl, tp, max_bars) in [
                (4.0, 9.0, 25.0),
                (40.0, 90.0, 5_000.0),
                (1000.0, 1000.0, 90_000.0),
            ] {
                out.push(StrategyParams {
                    id: out.len() as u64,
                    values: vec![mom_th, 0.0005, 2.0, direction, sl, tp, max_bars],
                });
            }
        }
    }
    out
}

fn input(cols: Columns) -> BatchInput {
    assert_eq!(Mvt::PARAMS.len(), 7, "the strategies above give 7 values");
    BatchInput {
        protocol: PROTOCOL_DAILY,
        reserved: 0,
        columns: cols,
        param_names: Mvt::PARAMS.iter().map(|p| p.to_string()).collect(),
        strategies: strategies(),
        // 20 lots ruin some accounts, after a few trades or many; 0.01 never does.
        lots: vec![0.01, 20.0],
        costs: Costs {
            spread_points: 3,
            commission_per_lot: 7.0,
            initial_balance: 10_000.0,
            point_size: 1e-5,
            pip_points: 10,
            units_per_lot: 100_000.0,
        },
    }
}

/// A host for a streamed batch: the series, the largest stretch asked for, the days handed over.
struct Host<'a> {
    cols: &'a Columns,
    largest: usize,
    days: StreamedDays,
}

impl Stream for Host<'_> {
    fn read_bars(&mut self, start: u64, count: u64) -> Result<Vec<u8>, String> {
        assert!(
            start + count <= self.cols.len() as u64,
            "asked for bars past the series"
        );
        self.largest = self.largest.max(count as usize);
        encode_bars(&self.cols.view(), start, count)
    }

    fn write_days(&mut self, days: &[u8]) -> Result<(), String> {
        self.days.extend(decode::<StreamedDays>(days)?);
        Ok(())
    }
}

/// The streamed rows (each with the days it handed over put before its own) and the largest
/// stretch it asked for.
fn streamed(input: &BatchInput, block: u64, lookahead: u64) -> (Vec<ResultRow>, usize, usize) {
    let header = StreamedHeader {
        protocol: PROTOCOL_STREAMED,
        reserved: 0,
        bars: input.columns.len() as u64,
        block_bars: block,
        lookahead_bars: lookahead,
    };
    let mut bytes = encode(&header);
    bytes.extend(encode(&(
        &input.param_names,
        &input.strategies,
        &input.lots,
        &input.costs,
    )));
    let mut host = Host {
        cols: &input.columns,
        largest: 0,
        days: Vec::new(),
    };
    let reply = decode_reply(&run_batch_bytes_streamed::<Mvt>(&mut bytes, &mut host).unwrap()).unwrap();
    assert_eq!(reply.protocol, PROTOCOL_STREAMED);
    let mut rows = reply.rows;
    let handed = host.days.iter().map(|(_, d)| d.len()).sum();
    let mut before: Vec<Vec<DayPnl>> = vec![Vec::new(); rows.len()];
    for (row, days) in host.days {
        before[row as usize].extend(days);
    }
    for (row, mut days) in rows.iter_mut().zip(before) {
        days.append(&mut row.daily);
        row.daily = days;
    }
    (rows, host.largest, handed)
}

#[test]
fn streamed_rows_equal_the_whole_series_rows_for_every_block_size() {
    let input = input(walk(40_000, 5));
    let whole = decode_reply(&run_batch_bytes::<Mvt>(&encode(&input)).unwrap()).unwrap();
    assert!(whole.rows.iter().any(|r| r.ruined), "some account is ruined");
    assert!(
        whole.rows.iter().any(|r| r.open_at_end),
        "some position is open at the end"
    );
    assert!(whole.rows.iter().filter(|r| r.n_trades > 10).count() > whole.rows.len() / 4);
    for (block, lookahead) in [
        (1, 0),
        (777, 0),
        (2048, 100),
        (6000, 5000),
        (40_000, 0),
        (1 << 20, 0),
    ] {
        let (rows, largest, handed) = streamed(&input, block, lookahead);
        // 40,000 minute bars are 28 days: with blocks shorter than that, days are handed over.
        assert_eq!(
            handed > 0,
            block < 20_000,
            "block {block}: {handed} days handed over"
        );
        // Rows hold f64s (and NaN-free ones here): compare encodings, bit for bit.
        assert_eq!(
            encode(&rows),
            encode(&whole.rows),
            "block {block}, lookahead {lookahead}"
        );
        assert!(largest <= 40_000);
    }
}

#[test]
fn a_streamed_batch_asks_for_a_block_not_the_series() {
    // Without the 90,000-bar holds (they need their whole horizon loaded), and over a series
    // ten times longer: the largest stretch asked for stays the block plus the holds.
    let mut small = input(walk(200_000, 9));
    small.strategies.retain(|s| s.values[6] <= 5_000.0);
    let (_, largest, _) = streamed(&small, 4096, 1024);
    assert!(largest <= 4096 + 5_000 + 1, "asked for {largest} bars at once");
    let whole = decode_reply(&run_batch_bytes::<Mvt>(&encode(&small)).unwrap()).unwrap();
    let (rows, _, _) = streamed(&small, 4096, 1024);
    assert_eq!(encode(&rows), encode(&whole.rows));
}
