//! Runs a bincode batch file through the native engine and prints the time: a quick profiling
//! aid (`cargo run --release -p stratbox-engine --example run_batch_file -- batch.bin`).

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: run_batch_file BATCH.bin [REPEATS]");
    let repeats: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(3);
    let bytes = std::fs::read(&path).expect("read batch");
    for _ in 0..repeats {
        let t = std::time::Instant::now();
        let input: stratbox_engine::BatchInput = stratbox_engine::protocol::decode(&bytes).unwrap();
        let decoded = t.elapsed();
        if std::env::var_os("PHASES").is_some() {
            phases(&input);
        }
        let t = std::time::Instant::now();
        let rows = stratbox_engine::run_batch::<stratbox_engine::Mvt>(&input).unwrap();
        let trades: u64 = rows.iter().map(|r| r.n_trades as u64).sum();
        println!(
            "{path}: decode {decoded:?}, run_batch {:?}, {} rows, {trades} trades, rows digest {:016x}",
            t.elapsed(),
            rows.len(),
            digest(&stratbox_engine::protocol::encode(&rows))
        );
    }
}

#[allow(dead_code)]
fn phases(input: &stratbox_engine::BatchInput) {
    use stratbox_engine::{Mvt, Strategy, sim};
    let t = std::time::Instant::now();
    let strategies: Vec<Mvt> = input
        .strategies
        .iter()
        .map(|s| Mvt::from_params(&s.values, 10).unwrap())
        .collect();
    let cols = input.columns.view();
    let index = Mvt::build_index(&cols, &strategies);
    let t_index = t.elapsed();
    let mut log = sim::TradeLog::default();
    let mut memo = sim::ExitMemo::new(input.columns.len());
    let mut n = 0;
    let t = std::time::Instant::now();
    for s in &strategies {
        let entries = s.entries(&index, &cols);
        sim::simulate_with(&cols, 0, entries, &mut memo, &mut log);
        n += log.trades.len();
    }
    println!("index {t_index:?}, simulate {:?} ({n} trades)", t.elapsed());
}

/// FNV-1a over the encoded rows: enough to see that two builds agree.
fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}
