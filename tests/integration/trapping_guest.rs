//! A guest that fails on one strategy: that batch is reported with its range and reason, the
//! strategies around the bad one still get rows, the other batches' rows are written, and the
//! exit code says the run was partial.

use stratbox::Exit;

use crate::common::{self, discover_hostile, text};

/// A grid for the hostile component: strategies k = 0..20, the one with k = 7 misbehaves.
fn hostile_grid(dir: &std::path::Path, mode: u32) -> std::path::PathBuf {
    let path = dir.join(format!("hostile-{mode}.toml"));
    let toml = format!(
        "lots = [0.01, 1.0]\n\
         [[axes]]\nparams = [\"k\"]\nvalues = [{}]\n\
         [[axes]]\nparams = [\"bad_k\"]\nvalues = [7]\n\
         [[axes]]\nparams = [\"mode\"]\nvalues = [{mode}]\n",
        (0..20).map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
    );
    std::fs::write(&path, toml).unwrap();
    path
}

#[test]
fn a_panicking_strategy_fails_alone_and_the_run_is_partial() {
    let dir = tempfile::tempdir().unwrap();
    let grid = hostile_grid(dir.path(), 4);
    let (o, out, _) = discover_hostile(dir.path(), &grid, &["--batch-size", "5"]);
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(Exit::Partial.code()),
        "expected Exit::Partial; stderr:\n{err}"
    );
    // The batch holding strategy 7 (ids 5..10, batch 2 of 4) is reported, with the reason.
    let line = err
        .lines()
        .find(|l| l.starts_with("Batch 2/4"))
        .unwrap_or_else(|| panic!("no line for batch 2:\n{err}"));
    assert!(line.contains("5-10") && line.contains("FAILED 1 of 5"), "{line}");
    assert!(
        err.contains("1 strategy (7): panicked: hostile strategy panicked on purpose"),
        "{err}"
    );
    for b in ["Batch 1/4", "Batch 3/4", "Batch 4/4"] {
        assert!(
            err.lines().any(|l| l.starts_with(b) && l.contains(" ok ")),
            "{b} not ok:\n{err}"
        );
    }
    // Every other strategy's rows are written: 19 strategies x 2 lot sizes.
    let (df, _) = stratbox::results::read_parquet(&out).unwrap();
    assert_eq!(df.height(), 38);
    let ids: Vec<i64> = df
        .column("strategy_id")
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert!(!ids.contains(&7) && ids.contains(&6) && ids.contains(&8));
    // The failures file lists the failed strategy with its reason.
    let failures = std::fs::read_to_string(stratbox::results::sidecar::failures_path(&out)).unwrap();
    let lines: Vec<&str> = failures.lines().collect();
    assert_eq!(lines.len(), 2, "{failures}");
    assert!(
        lines[1].starts_with("7,\"panicked: hostile strategy panicked on purpose"),
        "{failures}"
    );
    let _ = common::shared;
}
