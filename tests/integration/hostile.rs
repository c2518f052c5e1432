//! The hostile-guest suite: a component built for the tests (guest/hostile) misbehaves in one
//! strategy of a batch in each way an untrusted strategy could. For each: the host survives,
//! names the right reason for the right strategy, and every other strategy's rows are intact.

use std::time::{Duration, Instant};

use stratbox::grid::Grid;
use stratbox::run::{self, Backend, Job};
use stratbox::sandbox::{BatchError, Limits, Sandbox, Stream};
use stratbox_engine::metrics::summarise;
use stratbox_engine::sim::TradeLog;

use crate::common::{component, first_bars};

const BAD: u64 = 3;

fn grid(mode: u32) -> Grid {
    let toml = format!(
        "lots = [0.1, 1.0]\n[[axes]]\nparams = [\"k\"]\nvalues = [0, 1, 2, 3, 4, 5]\n\
         [[axes]]\nparams = [\"bad_k\"]\nvalues = [{BAD}]\n[[axes]]\nparams = [\"mode\"]\nvalues = [{mode}]\n"
    );
    Grid::parse(&toml, "hostile grid").unwrap()
}

/// Runs the 6-strategy batch whose strategy 3 misbehaves as `mode`; checks that exactly
/// strategy 3 failed and the others have their honest rows; returns the failure reason.
fn run_mode(sandbox: &Backend, mode: u32) -> BatchError {
    let g = grid(mode);
    let cols = first_bars(2000);
    let names: Vec<String> = ["k", "bad_k", "mode"].map(String::from).to_vec();
    let order = g.match_params(&names).unwrap();
    let costs = g.engine_costs(5);
    let job = Job::new(&g, names, order, cols.view(), costs);
    let outcome = run::run_batch(sandbox, &job, 0, 0..6);
    assert_eq!(outcome.failures.len(), 1, "mode {mode}: {:?}", outcome.failures);
    assert_eq!(
        outcome.failures[0].range,
        BAD..BAD + 1,
        "mode {mode}: the wrong strategy failed"
    );
    // Every other strategy's rows, intact and in order.
    let mut expected = Vec::new();
    for id in (0..6).filter(|&id| id != BAD) {
        for &lots in &g.lots {
            expected.push(summarise(id, &TradeLog::default(), lots, &costs, &[]));
        }
    }
    let mut rows = outcome.rows.clone();
    rows.sort_by_key(|r| r.strategy_id);
    assert_eq!(rows, expected, "mode {mode}: rows of the good strategies");
    outcome.failures[0].reason.clone()
}

#[test]
fn hostile_guests_fail_alone_with_the_right_reason() {
    let t = Instant::now();
    // A generous deadline, so that a loaded machine does not turn a memory or reply fault into a
    // timeout; a short one for the endless loop.
    let limits = Limits {
        deadline: Duration::from_secs(20),
        memory_bytes: 400 << 20,
        ..Limits::default()
    };
    let hostile = component("hostile.wasm").bytes;
    let sandbox = |limits| Backend::Sandbox(Box::new(Sandbox::new(&hostile, "hostile", limits).unwrap()));
    let backend = sandbox(limits);
    let quick = sandbox(Limits {
        deadline: Duration::from_millis(500),
        ..limits
    });
    let check_on = |backend: &Backend, mode: u32, ok: &dyn Fn(&BatchError) -> bool| {
        let reason = run_mode(backend, mode);
        assert!(
            ok(&reason),
            "mode {mode}: unexpected reason {reason:?} ({reason})"
        );
        reason
    };
    let check = |mode: u32, ok: &dyn Fn(&BatchError) -> bool| check_on(&backend, mode, ok);
    // 1: loops forever -> the deadline, naming the limit and the time seen.
    let r = check_on(
        &quick,
        1,
        &|r| matches!(r, BatchError::Deadline { limit, .. } if *limit == Duration::from_millis(500)),
    );
    assert!(r.to_string().contains("deadline of 500ms"), "{r}");
    // 2: grows memory until refused -> the memory cap, naming it and the size asked for.
    let r = check(2, &|r| matches!(r, BatchError::Memory { limit: 400, .. }));
    assert!(r.to_string().contains("400 MiB"), "{r}");
    // 3: recurses until the stack overflows.
    check(3, &|r| matches!(r, BatchError::StackOverflow));
    // 4: panics -> the panic message.
    check(
        4,
        &|r| matches!(r, BatchError::Panic { message } if message.contains("hostile strategy panicked on purpose")),
    );
    // 5: a 300 MiB reply -> the reply cap, and the host did not take it in.
    check(
        5,
        &|r| matches!(r, BatchError::ReplyTooLarge { limit } if *limit == 64 << 20),
    );
    // 6: garbage bytes -> malformed.
    check(6, &|r| matches!(r, BatchError::Malformed(_)));
    // 7: well-formed rows with wrong ids -> malformed, saying which.
    check(
        7,
        &|r| matches!(r, BatchError::Malformed(m) if m.contains("strategy 1003")),
    );
    // 8: one row too few -> malformed.
    check(
        8,
        &|r| matches!(r, BatchError::Malformed(m) if m.contains("1 rows, expected 2")),
    );
    // 9: opens a file -> there are no files.
    check(
        9,
        &|r| matches!(r, BatchError::Guest(m) if m.contains("file: Err(")),
    );
    // 10: reads the environment and arguments -> empty.
    check(
        10,
        &|r| matches!(r, BatchError::Guest(m) if m == "env: [] args: []"),
    );
    // 11: reads the clock and random -> fixed values: 2000-01-01, no time passing, and the same
    // "random" number every run.
    let first = check(
        11,
        &|r| matches!(r, BatchError::Guest(m) if m.contains("clock: Ok(946684800) elapsed: 0ns")),
    );
    assert_eq!(
        run_mode(&backend, 11),
        first,
        "random must be seeded: the same every run"
    );
    // 12: writes 100 MB to stdout -> the output cap.
    check(
        12,
        &|r| matches!(r, BatchError::OutputCap { stream: Stream::Stdout, limit } if *limit == 1 << 20),
    );
    // 13: sleeps 30 s in a host call (poll on a clock timer): timers fire at once, since the
    // guest's clock does not move; the batch is not held past its deadline.
    let t13 = Instant::now();
    check(13, &|r| matches!(r, BatchError::Guest(m) if m == "slept"));
    assert!(
        t13.elapsed() < Duration::from_secs(5),
        "a sleeping guest held the host for {:?}",
        t13.elapsed()
    );
    // With an instruction budget, the endless loop runs out of fuel instead of time.
    let fueled = Limits {
        fuel: Some(50_000_000),
        ..limits
    };
    let backend = Backend::Sandbox(Box::new(
        Sandbox::new(&component("hostile.wasm").bytes, "hostile", fueled).unwrap(),
    ));
    let r = run_mode(&backend, 1);
    assert!(matches!(r, BatchError::Fuel { limit: 50_000_000 }), "{r:?}");
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "the suite took {:?}",
        t.elapsed()
    );
}

#[test]
fn components_that_ask_for_too_much_are_refused_before_running() {
    let mvt = component("mvt.wasm").bytes;
    // Over the size cap.
    let small = Limits {
        component_bytes: 1000,
        ..Limits::default()
    };
    let e = Sandbox::new(&mvt, "mvt.wasm", small)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("over the component size cap of 1000 bytes"), "{e}");
    // Not a component at all.
    let e = Sandbox::new(b"\0asm garbage", "junk.wasm", Limits::default())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("junk.wasm") && e.contains("not a valid stratbox backtester"),
        "{e}"
    );
    // A component that imports sockets: built here from WAT, exporting nothing useful.
    let wat = r#"(component
        (import "wasi:sockets/tcp@0.2.0" (instance))
    )"#;
    let bytes = wat_to_wasm(wat);
    let e = Sandbox::new(&bytes, "sockets.wasm", Limits::default())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("wasi:sockets/tcp@0.2.0") && e.contains("does not grant"),
        "{e}"
    );
}

/// The text format of a component, compiled by wasmtime's own parser.
fn wat_to_wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("valid WAT")
}
