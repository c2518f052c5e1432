//! Our results against `../shared/golden`, computed by an independent implementation of SPEC
//! on the 2018 year: features bit for bit, 120 result rows, and every trade of three strategies.

use std::collections::HashMap;

use stratbox::grid::Grid;
use stratbox_engine::protocol::{BatchInput, PROTOCOL_VERSION, StrategyParams};
use stratbox_engine::strategy::replay;
use stratbox_engine::{Mvt, ResultRow, Strategy};

use crate::common::{self, shared, year, year_columns};

/// Rows of a golden CSV as maps from column name to text.
fn golden_csv(name: &str) -> Vec<HashMap<String, String>> {
    common::csv_rows(&shared(&format!("golden/{name}")))
}

/// Python's `repr` of an f64 parses back to the same bits; `NaN` to NaN.
fn py_float(s: &str) -> f64 {
    if s == "NaN" {
        f64::NAN
    } else {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }
}

fn same_bits(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

#[test]
fn features_match_golden_bit_for_bit() {
    let cols = year_columns();
    let rows = golden_csv("features-2018.csv");
    assert!(rows.len() > 120);
    for r in &rows {
        let i: usize = r["bar"].parse().unwrap();
        assert_eq!(cols.close[i].to_string(), r["close_points"], "close of bar {i}");
        for (name, ours) in [
            ("momentum", cols.momentum[i]),
            ("volatility", cols.volatility[i]),
            ("trend", cols.trend[i]),
        ] {
            let theirs = py_float(&r[name]);
            assert!(
                same_bits(ours, theirs),
                "{name} of bar {i}: ours {ours:?}, golden {theirs:?}"
            );
        }
    }
}

/// EST wall time `YYYYMMDDHHMMSS` of bar `i` (HistData's zone: UTC-5).
fn est(i: usize) -> String {
    chrono::DateTime::from_timestamp(year().time[i] - 5 * 3600, 0)
        .unwrap()
        .format("%Y%m%d%H%M%S")
        .to_string()
}

#[test]
fn bar_times_are_utc_from_fixed_est() {
    // First bar: 2018-01-01 17:00 EST = 22:00 UTC.
    assert_eq!(
        stratbox::util::time::iso_utc(year().time[0]),
        "2018-01-01T22:00:00Z"
    );
    assert_eq!(est(0), "20180101170000");
}

fn mvt_strategy(grid: &Grid, id: u64) -> (Vec<f64>, Mvt) {
    let names: Vec<String> = Mvt::PARAMS.iter().map(|s| s.to_string()).collect();
    let order = grid.match_params(&names).unwrap();
    let v = grid.values(id);
    let values: Vec<f64> = order.iter().map(|&p| v[p]).collect();
    let mvt = Mvt::from_params(&values, 10).unwrap();
    (values, mvt)
}

#[test]
fn trades_match_golden_for_three_strategies() {
    let grid = Grid::default_grid();
    let golden = golden_csv("trades-2018.csv");
    for id in [0u64, 2400, 1234] {
        let (_, mvt) = mvt_strategy(&grid, id);
        let log = replay(&year_columns().view(), &mvt, 0);
        let theirs: Vec<&HashMap<String, String>> = golden
            .iter()
            .filter(|r| r["strategy_id"] == id.to_string())
            .collect();
        assert!(!theirs.is_empty());
        assert_eq!(log.trades.len(), theirs.len(), "trade count of strategy {id}");
        for (t, g) in log.trades.iter().zip(&theirs) {
            let ours = (
                t.entry_bar.to_string(),
                t.exit_bar.to_string(),
                est(t.entry_bar),
                est(t.exit_bar),
                t.points.to_string(),
                t.reason.as_str().to_string(),
            );
            let expected = (
                g["entry_bar"].clone(),
                g["exit_bar"].clone(),
                g["entry_ts_est"].clone(),
                g["exit_ts_est"].clone(),
                g["points"].clone(),
                g["reason"].clone(),
            );
            assert_eq!(ours, expected, "strategy {id}");
        }
    }
}

fn golden_opt(s: &str) -> Option<f64> {
    if s.is_empty() { None } else { Some(py_float(s)) }
}

#[test]
fn results_match_golden_rows() {
    let grid = Grid::default_grid();
    let golden = golden_csv("results-2018.csv");
    let mut ids: Vec<u64> = golden.iter().map(|r| r["strategy_id"].parse().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    let strategies: Vec<StrategyParams> = ids
        .iter()
        .map(|&id| StrategyParams {
            id,
            values: mvt_strategy(&grid, id).0,
        })
        .collect();
    let input = BatchInput {
        protocol: PROTOCOL_VERSION,
        reserved: 0,
        columns: year_columns().clone(),
        param_names: Mvt::PARAMS.iter().map(|s| s.to_string()).collect(),
        strategies,
        lots: grid.lots.clone(),
        costs: grid.engine_costs(5),
    };
    let rows = stratbox_engine::run_batch::<Mvt>(&input).unwrap();
    let ours: HashMap<(u64, u64), &ResultRow> = rows
        .iter()
        .map(|r| ((r.strategy_id, r.lots.to_bits()), r))
        .collect();
    for g in &golden {
        let id: u64 = g["strategy_id"].parse().unwrap();
        let lots = py_float(&g["lots"]);
        // The grid maps the id to the same parameters as the golden implementation.
        let v = grid.values(id);
        let names = grid.param_names();
        for (p, name) in names.iter().enumerate() {
            assert_eq!(
                grid.format_value(p, v[p]),
                grid.format_value(
                    p,
                    if name == "direction" {
                        (g[name] == "short") as u8 as f64
                    } else {
                        py_float(&g[name])
                    }
                ),
                "{name} of strategy {id}"
            );
        }
        let r = ours[&(id, lots.to_bits())];
        let ctx = format!("strategy {id} lots {lots}");
        let counts = [r.n_trades, r.n_wins, r.n_losses, r.n_sl, r.n_tp, r.n_time].map(|n| n.to_string());
        let expected = ["n_trades", "n_wins", "n_losses", "n_sl", "n_tp", "n_time"].map(|k| g[k].clone());
        assert_eq!(counts, expected, "{ctx}: counts");
        for (name, ours) in [
            ("gross_profit_usd", r.gross_profit_usd),
            ("gross_loss_usd", r.gross_loss_usd),
            ("net_pnl_usd", r.net_pnl_usd),
            ("max_drawdown_usd", r.max_drawdown_usd),
            ("max_drawdown_pct", r.max_drawdown_pct),
            ("return_pct", r.return_pct),
            ("open_pnl_usd", r.open_pnl_usd),
        ] {
            assert!(
                same_bits(ours, py_float(&g[name])),
                "{ctx}: {name} ours {ours:?} golden {}",
                g[name]
            );
        }
        for (name, ours) in [
            ("profit_factor", r.profit_factor),
            ("win_rate", r.win_rate),
            ("expectancy_usd", r.expectancy_usd),
            ("avg_bars_held", r.avg_bars_held),
        ] {
            let theirs = golden_opt(&g[name]);
            let same = match (ours, theirs) {
                (None, None) => true,
                (Some(a), Some(b)) => same_bits(a, b),
                _ => false,
            };
            assert!(same, "{ctx}: {name} ours {ours:?} golden {theirs:?}");
        }
        assert_eq!(
            (r.ruined, r.open_at_end),
            (g["ruined"] == "True", g["open_at_end"] == "True"),
            "{ctx}: flags"
        );
    }
    let _ = common::text;
}

/// SHA-256 of the engine's reply rows (the bincode `Vec<ResultRow>` after the 4-byte protocol
/// version) for the whole default grid on the bundled year, recorded with the engine of 462327f,
/// before the exit memo and the block scan (whose whole reply hashed to d9b35f9e...). Every
/// optimisation since must leave every bit of every row as it was. Since protocol 4 rows also
/// carry their daily P&L; the digest is of the fields rows had before (`LegacyRow`, exactly the
/// bytes of a version-2 reply), so it still holds the engine to the same bits.
const FULL_GRID_ROWS_SHA256: &str = "2b657a4b999c96e4128cee482a930707c324c3d53479c1bad5026ca622b43753";

fn rows_digest(reply: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    use stratbox_engine::protocol::{LegacyRow, decode_reply, encode};
    let rows = decode_reply(reply).unwrap().rows;
    let legacy: Vec<LegacyRow> = rows.iter().map(LegacyRow::from).collect();
    Sha256::digest(encode(&legacy))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn full_grid_job(grid: &Grid) -> stratbox::run::Job<'_> {
    let names: Vec<String> = Mvt::PARAMS.iter().map(|s| s.to_string()).collect();
    let order = grid.match_params(&names).unwrap();
    stratbox::run::Job::new(grid, names, order, year_columns().view(), grid.engine_costs(5))
}

/// SPEC section 7 on every row of the full grid: the daily P&L sums to `net_pnl_usd` and counts
/// its trades. Days are summed in day order and trades within a day in time order, so the sum is
/// not the row's left-to-right sum over trades; the golden README's 1e-9 relative tolerance
/// (relative to the sum of absolute daily P&L) allows for that, counts must be exact.
fn assert_daily_sums_to_rows(rows: &[ResultRow]) {
    let mut with_trades = 0;
    for r in rows {
        let n: u32 = r.daily.iter().map(|d| d.n_trades).sum();
        assert_eq!(
            n, r.n_trades,
            "strategy {} lots {}: trades",
            r.strategy_id, r.lots
        );
        let sum: f64 = r.daily.iter().map(|d| d.pnl_usd).sum();
        let scale: f64 = r.daily.iter().map(|d| d.pnl_usd.abs()).sum::<f64>().max(1.0);
        assert!(
            (sum - r.net_pnl_usd).abs() <= 1e-9 * scale,
            "strategy {} lots {}: daily sum {sum} vs net {}",
            r.strategy_id,
            r.lots,
            r.net_pnl_usd
        );
        with_trades += (r.n_trades > 0) as usize;
    }
    assert!(with_trades > rows.len() / 2);
}

#[test]
fn full_grid_rows_are_bit_identical_to_the_pre_optimisation_engine() {
    use stratbox_engine::protocol::{PROTOCOL_DAILY, decode_reply};
    let grid = Grid::default_grid();
    let job = full_grid_job(&grid);
    let reply = stratbox_engine::run_batch_bytes::<Mvt>(&job.encode(&(0..grid.size()))).unwrap();
    assert_eq!(reply[..4], PROTOCOL_VERSION.to_le_bytes());
    assert_eq!(
        Sha256Hex::of(&reply[4..]),
        FULL_GRID_ROWS_SHA256,
        "a version-2 reply is as before"
    );
    // With daily P&L (protocol 4): the same rows, and a daily series that adds up to each.
    let job = job.with_daily_pnl(true);
    let reply = stratbox_engine::run_batch_bytes::<Mvt>(&job.encode(&(0..grid.size()))).unwrap();
    assert_eq!(reply[..4], PROTOCOL_DAILY.to_le_bytes());
    assert_eq!(rows_digest(&reply), FULL_GRID_ROWS_SHA256);
    let rows = job.check_reply(&(0..grid.size()), &reply, Vec::new()).unwrap();
    assert_daily_sums_to_rows(&rows);
    assert_eq!(decode_reply(&reply).unwrap().rows, rows);
}

/// Hex SHA-256 of raw bytes.
struct Sha256Hex;

impl Sha256Hex {
    fn of(bytes: &[u8]) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The daily P&L of ten strategies at every lot size equals the golden daily file row for row
/// and bit for bit (both sum a day's trades in time order from 0), and the calendar is the
/// golden calendar.
#[test]
fn daily_pnl_matches_golden_sample_and_calendar() {
    use stratbox::results::daily::{Calendar, iso_date};
    let grid = Grid::default_grid();
    let golden = golden_csv("daily-2018-sample.csv");
    let mut ids: Vec<u64> = golden.iter().map(|r| r["strategy_id"].parse().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids, [0, 1, 852, 1237, 1622, 2007, 2310, 3866, 4251, 4619]);
    let input = BatchInput {
        protocol: stratbox_engine::protocol::PROTOCOL_DAILY,
        reserved: 0,
        columns: year_columns().clone(),
        param_names: Mvt::PARAMS.iter().map(|s| s.to_string()).collect(),
        strategies: ids
            .iter()
            .map(|&id| StrategyParams {
                id,
                values: mvt_strategy(&grid, id).0,
            })
            .collect(),
        lots: grid.lots.clone(),
        costs: grid.engine_costs(5),
    };
    let rows = stratbox_engine::run_batch::<Mvt>(&input).unwrap();
    let ours: Vec<(String, String, String, String, String)> = rows
        .iter()
        .flat_map(|r| {
            r.daily.iter().map(move |d| {
                (
                    r.strategy_id.to_string(),
                    format!("{:?}", r.lots),
                    iso_date(d.day),
                    format!("{:?}", d.pnl_usd),
                    d.n_trades.to_string(),
                )
            })
        })
        .collect();
    let theirs: Vec<(String, String, String, String, String)> = golden
        .iter()
        .map(|g| {
            (
                g["strategy_id"].clone(),
                format!("{:?}", py_float(&g["lots"])),
                g["day"].clone(),
                format!("{:?}", py_float(&g["pnl_usd"])),
                g["n_trades"].clone(),
            )
        })
        .collect();
    assert_eq!(ours.len(), theirs.len(), "daily rows");
    for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "daily row {k}");
    }
    assert_daily_sums_to_rows(&rows);

    let calendar = Calendar::of_bars(&year_columns().time);
    let text = std::fs::read_to_string(shared("golden/calendar-2018.json")).unwrap();
    let golden_days: Vec<String> = serde_json::from_str(&text).unwrap();
    assert_eq!(calendar.len(), 313);
    let ours: Vec<String> = calendar.days.iter().map(|&d| iso_date(d)).collect();
    assert_eq!(ours, golden_days);
}

/// The sandboxed engine reading the year's columns from its memory image (protocol 3) gives the
/// same rows, bit for bit; the input no longer carries the columns; and a second sandbox finds
/// the compiled component in the cache.
#[test]
fn full_grid_rows_from_columns_in_the_memory_image_are_the_golden_rows() {
    use stratbox::run::ComponentSource;
    use stratbox::sandbox::Compiled;
    use stratbox::sandbox::{Limits, Sandbox};
    use stratbox_engine::protocol::PROTOCOL_RESIDENT;
    let grid = Grid::default_grid();
    let bytes = ComponentSource::default_component().bytes;
    let cache = tempfile::tempdir().unwrap();
    let mut sandbox = Sandbox::new(&bytes, "mvt", Limits::default()).unwrap();
    let header = sandbox
        .embed_columns(
            &bytes,
            &year_columns().view(),
            Some(&stratbox::cache::Cache::at(cache.path())),
        )
        .unwrap()
        .expect("the built-in component reads resident columns");
    assert_eq!(header.protocol, PROTOCOL_RESIDENT);
    assert_eq!(sandbox.compiled(), Compiled::Fresh);
    let job = full_grid_job(&grid)
        .with_resident_columns(Some(header))
        .with_daily_pnl(true);
    let input = job.encode(&(0..grid.size()));
    assert!(
        input.len() < 1 << 20,
        "{} bytes: the columns were sent",
        input.len()
    );
    let reply = sandbox.run_batch(&input, None).unwrap().bytes;
    // Protocol 5: resident columns, rows with their daily P&L.
    assert_eq!(
        reply[..4],
        stratbox_engine::protocol::PROTOCOL_RESIDENT_DAILY.to_le_bytes()
    );
    assert_eq!(rows_digest(&reply), FULL_GRID_ROWS_SHA256);
    let rows = job.check_reply(&(0..grid.size()), &reply, Vec::new()).unwrap();
    assert_daily_sums_to_rows(&rows);

    let mut again = Sandbox::new(&bytes, "mvt", Limits::default()).unwrap();
    let header_again = again
        .embed_columns(
            &bytes,
            &year_columns().view(),
            Some(&stratbox::cache::Cache::at(cache.path())),
        )
        .unwrap();
    assert_eq!(header_again, Some(header));
    assert_eq!(again.compiled(), Compiled::FromCache);
}

/// A host bug or a hostile caller that points a protocol-3 input outside the instance's memory
/// gets a refusal from the guest, not a read of whatever lies there.
#[test]
fn a_resident_header_pointing_outside_the_memory_is_refused_by_the_guest() {
    use stratbox::run::ComponentSource;
    use stratbox::sandbox::{BatchError, Limits, Sandbox};
    use stratbox_engine::protocol::{PROTOCOL_RESIDENT, ResidentHeader};
    let grid = Grid::default_grid();
    let bytes = ComponentSource::default_component().bytes;
    let sandbox = Sandbox::new(&bytes, "mvt", Limits::default()).unwrap();
    let header = ResidentHeader {
        protocol: PROTOCOL_RESIDENT,
        columns_at: 3 << 30,
        columns_len: 1 << 20,
    };
    let job = full_grid_job(&grid).with_resident_columns(Some(header));
    match sandbox.run_batch(&job.encode(&(0..3)), None) {
        Err(BatchError::Guest(message)) => {
            assert!(message.contains("lie outside this instance's"), "{message}")
        }
        other => panic!(
            "expected the guest to refuse, got {:?}",
            other.map(|r| r.bytes.len())
        ),
    }
}
