//! The command line as a user meets it: exit codes, messages, and no output left behind on error.

use stratbox::Exit;

use crate::common::{stratbox, text, year_lines};

#[test]
fn grid_prints_the_default_size() {
    let o = stratbox(&["grid"]);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()));
    let out = text(&o.stdout);
    assert!(
        out.contains("4620 strategies x 3 lot sizes = 13860 rows"),
        "{out}"
    );
    // id 1 is the second mom_th value, everything else at its first value.
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("1 ") && l.contains("0.00005")),
        "{out}"
    );
}

/// Writes the first 100 bars of the year with `edit` applied to line `line` (1-based).
fn broken_file(dir: &std::path::Path, line: usize, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let mut lines: Vec<String> = year_lines()[..100].to_vec();
    lines[line - 1] = edit(&lines[line - 1]);
    let path = dir.join("DAT_ASCII_EURUSD_M1_broken.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn assert_refused(case: &str, path: &std::path::Path, expect: &[&str]) {
    let out = path.with_file_name(format!("out-{case}.parquet"));
    let o = stratbox(&[
        "discover",
        "--data",
        path.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(Exit::BadInput.code()),
        "{case}: expected Exit::BadInput; stderr:\n{err}"
    );
    for e in expect {
        assert!(err.contains(e), "{case}: message lacks {e:?}:\n{err}");
    }
    assert!(!out.exists(), "{case}: an output file was left behind");
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{case}: temp files left: {leftovers:?}");
}

#[test]
fn bad_data_is_refused_with_the_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    // Line 10 loses its close and volume fields.
    let p = broken_file(dir.path(), 10, |l| l.rsplitn(3, ';').nth(2).unwrap().to_string());
    assert_refused("missing field", &p, &["line 10"]);
    // Line 20: high below low (and so below open and close).
    let p = broken_file(dir.path(), 20, |l| {
        let f: Vec<&str> = l.split(';').collect();
        format!("{};{};{};{};{};{}", f[0], f[1], "1.00000", f[3], f[4], f[5])
    });
    assert_refused("high < low", &p, &["line 20", "high"]);
    // Line 30 repeats line 29's timestamp.
    let lines = year_lines();
    let p = broken_file(dir.path(), 30, |l| {
        let ts = lines[28].split(';').next().unwrap();
        format!("{ts};{}", l.split_once(';').unwrap().1)
    });
    assert_refused("duplicated timestamp", &p, &["line 30"]);
    // Line 40 goes back in time to line 1's timestamp.
    let p = broken_file(dir.path(), 40, |l| {
        let ts = lines[0].split(';').next().unwrap();
        format!("{ts};{}", l.split_once(';').unwrap().1)
    });
    assert_refused("time going backwards", &p, &["line 40"]);
}

#[test]
fn a_missing_data_file_is_bad_input() {
    let o = stratbox(&[
        "discover",
        "--data",
        "/nonexistent/EURUSD.csv",
        "--output",
        "/tmp/never.parquet",
    ]);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()));
    assert!(text(&o.stderr).contains("/nonexistent/EURUSD.csv"));
}

/// The built-in component starts with 64 MiB of linear memory (guest/.cargo/config.toml); a cap
/// below that used to be reported as "not a valid stratbox backtester" with wasmtime's pooling
/// words. It is the user's cap that is too small, and the message says so in MiB.
#[test]
fn a_memory_cap_below_the_components_starting_memory_names_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.parquet");
    let o = stratbox(&["discover", "--memory-mib", "1", "--output", out.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()), "{err}");
    // The built-in guest starts with its 1 MiB stack plus static data, so a bit over 1 MiB.
    assert!(
        err.contains("needs 2 MiB of linear memory to start, more than the cap of 1 MiB (--memory-mib)"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_grid_that_does_not_fit_the_strategy_is_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("g.toml");
    std::fs::write(
        &grid,
        "lots = [1.0]\n[[axes]]\nparams = [\"mom_th\"]\nvalues = [0.0]\n",
    )
    .unwrap();
    let out = dir.path().join("o.parquet");
    let o = stratbox(&[
        "discover",
        "--grid",
        grid.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()), "{err}");
    assert!(err.contains("missing") && err.contains("vol_max"), "{err}");
    assert!(!out.exists());
}

#[test]
fn data_check_summarises_the_real_files() {
    // No file: the bundled year.
    let o = stratbox(&["data", "check"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    assert!(out.contains("histdata"), "{out}");
    assert!(
        out.contains("372607 bars, 2018-01-01 22:00:00 UTC .. 2018-12-31 21:59:00 UTC, interval 60 s"),
        "{out}"
    );
    assert!(out.contains("gaps: 850"), "{out}");

    // MetaTrader broker time needs --tz, and the error says so.
    let mt4 = crate::common::shared("data/mt4/EURUSD1.csv");
    let o = stratbox(&["data", "check", mt4.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()));
    assert!(text(&o.stderr).contains("--tz"), "{}", text(&o.stderr));

    // JSON: the 32-day hole is the largest gap (server time UTC+3: 2022-08-19 23:58 -> 20:58 UTC).
    let o = stratbox(&["data", "check", "--json", "--tz", "+03:00", mt4.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bars"], 34342);
    assert_eq!(v["files"][0]["format"], "mt4");
    let hole = &v["gaps"]["largest"][0];
    assert_eq!(hole["after"], "2022-08-19 20:58:00 UTC");
    assert!(hole["seconds"].as_i64().unwrap() > 32 * 86_400);
}

/// The default data comes from inside the binary, not from the checkout it was built in: run
/// from an empty directory with no cargo variables, the bundled year is reported under its bare
/// file name, which names no file there (the loader reports a file by the path it opened), with
/// the digest of the checkout's file (so results record what a run on that file records). That
/// the checkout is not read at all, with it hidden, is `.ci/standalone-test.sh`'s to show.
#[test]
fn the_bundled_year_is_inside_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stratbox"))
        .args(["data", "check", "--json"])
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let file = &summary["files"][0];
    let name = stratbox::run::BUNDLED_DATA_NAME;
    assert_eq!(file["path"], name, "{summary}");
    assert!(!dir.path().join(name).exists());
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    let digest = stratbox::util::digest::sha256_hex(&std::fs::read(checkout).unwrap());
    assert_eq!(file["sha256"], digest.as_str());
    assert_eq!(summary["bars"], 372_607);
}

#[test]
fn json_progress_keeps_stdout_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let data = crate::common::year_slice(dir.path(), 5_000);
    let out = dir.path().join("o.parquet");
    let o = stratbox(&[
        "discover",
        "--data",
        data.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--batch-size",
        "1000",
        "--progress",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    let events: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(events.first().unwrap()["event"], "start");
    let batches: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "batch").collect();
    assert_eq!(batches.len(), 5, "4620 strategies in batches of 1000");
    assert!(batches.iter().all(|b| b["outcome"] == "ok"));
    let done = events.last().unwrap();
    assert_eq!(
        (done["event"].as_str(), done["rows"].as_u64()),
        (Some("done"), Some(13_860))
    );
}
