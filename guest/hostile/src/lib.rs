//! A hostile backtester component for the sandbox's tests. Parameters: `k`, `bad_k`, `mode`.
//! The strategy with `k == bad_k` misbehaves as `mode` says; the others get honest rows (no
//! trades), so tests can check that their rows survive the bad one.
//!
//! Modes: 1 loop forever, 2 grow memory until refused, 3 recurse until the stack overflows,
//! 4 panic, 5 reply of 300 MiB, 6 garbage reply, 7 rows with wrong ids, 8 one row too few,
//! 9 open a file, 10 read the environment, 11 read the clock and random, 12 write 100 MB to
//! stdout, 13 sleep for 30 s (a blocking host call), 14 print and return terminal control
//! sequences (retitle the window, clear the screen, a fake "Done" line, cursor up). Modes 9-11
//! report what the guest saw as an error string, so tests can read it. Its name carries control
//! characters too: everything a component says is untrusted text.

wit_bindgen::generate!({
    world: "backtester",
    path: "../../wit",
});

use exports::stratbox::backtest::strategy::{Guest, Info};
use stratbox_engine::metrics::summarise;
use stratbox_engine::protocol::{BatchInput, PROTOCOL_VERSION, decode, encode_reply};
use stratbox_engine::sim::TradeLog;

struct Component;

/// What a hostile component would like a terminal to show: a new window title, a cleared
/// screen, a fake success line and the cursor moved up over the real output.
const FORGED: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{1b}[32mDone: 4620 of 4620 strategies ok\u{1b}[0m\u{1b}[1A";

// Unbounded on purpose: this is the stack-overflow test.
#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: u64, buf: &mut [u8; 256]) -> u64 {
    buf[(depth % 256) as usize] = depth as u8;
    let mut local = [0u8; 256];
    local.copy_from_slice(buf);
    recurse(depth + 1, &mut local) + local[0] as u64
}

fn misbehave(mode: u64, rows: &mut Vec<stratbox_engine::ResultRow>) -> Result<Option<Vec<u8>>, String> {
    match mode {
        1 => {
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        2 => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut chunk = vec![0u8; 16 << 20];
                chunk[0] = 1;
                hoard.push(std::hint::black_box(chunk));
            }
        }
        3 => {
            let mut buf = [0u8; 256];
            let n = recurse(0, &mut buf);
            Err(format!("recursion ended at {n}"))
        }
        4 => panic!("hostile strategy panicked on purpose"),
        5 => Ok(Some(vec![7u8; 300 << 20])),
        6 => Ok(Some(b"this is not bincode at all".to_vec())),
        7 => {
            for r in rows.iter_mut() {
                r.strategy_id += 1000;
            }
            Ok(None)
        }
        8 => {
            rows.pop();
            Ok(None)
        }
        9 => Err(format!(
            "file: {:?}",
            std::fs::read("/etc/passwd")
                .map(|b| b.len())
                .map_err(|e| e.kind())
        )),
        10 => Err(format!(
            "env: {:?} args: {:?}",
            std::env::vars().collect::<Vec<_>>(),
            std::env::args().collect::<Vec<_>>()
        )),
        11 => {
            use std::hash::{BuildHasher, Hasher};
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs());
            let t0 = std::time::Instant::now();
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(42);
            Err(format!(
                "clock: {now:?} elapsed: {:?} random: {}",
                t0.elapsed(),
                h.finish()
            ))
        }
        12 => {
            use std::io::Write;
            let line = vec![b'x'; 1 << 20];
            let mut out = std::io::stdout();
            for _ in 0..100 {
                out.write_all(&line).map_err(|e| format!("stdout: {e}"))?;
            }
            Ok(None)
        }
        13 => {
            // Blocks in a host call (poll on a monotonic-clock deadline) instead of computing.
            std::thread::sleep(std::time::Duration::from_secs(30));
            Err("slept".into())
        }
        14 => {
            eprint!("{FORGED}");
            print!("{FORGED}");
            Err(FORGED.to_string())
        }
        other => Err(format!("unknown mode {other}")),
    }
}

impl Guest for Component {
    fn describe() -> Info {
        Info {
            name: "hostile\u{1b}[31m\u{7}\r".into(),
            version: "0.1.0".into(),
            params: vec!["k".into(), "bad_k".into(), "mode".into()],
        }
    }

    fn run_batch(input: Vec<u8>) -> Result<Vec<u8>, String> {
        let input: BatchInput = decode(&input)?;
        let log = TradeLog::default();
        let mut rows = Vec::new();
        let mut bad_mode = None;
        for s in &input.strategies {
            if s.values[0] == s.values[1] {
                bad_mode = Some(s.values[2] as u64);
            }
            for &lots in &input.lots {
                rows.push(summarise(s.id, &log, lots, &input.costs, &input.columns.time));
            }
        }
        if let Some(mode) = bad_mode
            && let Some(raw) = misbehave(mode, &mut rows)?
        {
            return Ok(raw);
        }
        Ok(encode_reply(PROTOCOL_VERSION, &rows))
    }
}

export!(Component);
