//! Components that fail everywhere end the run in a few deadlines with one verdict; components
//! that fail on a few strategies still get rows for all the others; whatever a component says
//! (errors, captured output, its name) never reaches a terminal, log, file or page raw; and a
//! closed stdout ends a command quietly.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use stratbox::Exit;

use crate::common::{discover_hostile as discover, hostile, stratbox, text};

/// A 4,620-strategy grid for the hostile component (the default grid's size): strategy `i`
/// has `k = i` and misbehaves as `mode` when `bad(i)`.
fn grid_4620(dir: &Path, mode: u32, bad: impl Fn(u64) -> bool) -> PathBuf {
    let pairs: Vec<String> = (0..4620u64)
        .map(|i| format!("[{i}, {}]", if bad(i) { i as i64 } else { -1 }))
        .collect();
    let toml = format!(
        "lots = [0.01, 1.0]\n[[axes]]\nparams = [\"k\", \"bad_k\"]\nvalues = [{}]\n\
         [[axes]]\nparams = [\"mode\"]\nvalues = [{mode}]\n",
        pairs.join(", ")
    );
    let path = dir.join(format!("grid-{mode}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

/// Without the verdict every one of the 4,620 strategies would hit the 1 s deadline alone
/// (over an hour); with it the run costs a few deadlines per worker. The bound below is far
/// from both, so a loaded machine cannot make it flaky.
#[test]
fn a_looping_component_ends_the_run_in_a_few_deadlines_with_one_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_4620(dir.path(), 1, |_| true);
    let (o, out, took) = discover(
        dir.path(),
        &grid,
        &["--deadline-secs", "1", "--batch-size", "500"],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::Partial.code()), "{err}");
    assert!(took < Duration::from_secs(60), "took {took:?}:\n{err}");
    let verdict = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        verdict.contains("hostile.wasm failed on every strategy tried (")
            && verdict.contains("exceeded the deadline of 1s")
            && verdict.contains("were not run"),
        "{verdict}"
    );
    // No results file (it would look complete); the checkpoint stays for a rerun.
    assert!(!out.exists());
    assert!(stratbox::run::parts_dir(&out).join("manifest.json").exists());
    // The run log ends with the verdict.
    let log = std::fs::read_to_string(stratbox::results::sidecar::log_path(&out)).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "verdict", "{log}");
    assert_eq!(last["kind"], "deadline");
}

#[test]
fn a_component_that_panics_on_every_batch_prints_a_bounded_number_of_lines() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_4620(dir.path(), 4, |_| true);
    let (o, _, _) = discover(dir.path(), &grid, &["--batch-size", "2310"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::Partial.code()), "{err}");
    assert!(err.lines().count() <= 8, "{} lines:\n{err}", err.lines().count());
    assert!(
        err.contains("panicked: hostile strategy panicked on purpose"),
        "{err}"
    );
}

#[test]
fn a_component_failing_on_two_strategies_still_gets_rows_for_the_other_4618() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_4620(dir.path(), 4, |i| i == 17 || i == 3000);
    let (o, out, _) = discover(dir.path(), &grid, &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::Partial.code()), "{err}");
    let (df, _) = stratbox::results::read_parquet(&out).unwrap();
    assert_eq!(df.height(), 4618 * 2);
    let failures = std::fs::read_to_string(stratbox::results::sidecar::failures_path(&out)).unwrap();
    let ids: Vec<&str> = failures
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, ["17", "3000"], "{failures}");
    // One summary line for the one reason, naming both.
    assert!(
        err.lines()
            .any(|l| l.contains("2 strategies (17, 3000): panicked: hostile strategy panicked on purpose")),
        "{err}"
    );
}

/// No control character (ESC, BEL, CR, ...) but the line feeds of the text itself.
fn assert_no_raw_controls(what: &str, s: &str) {
    if let Some(c) = s.chars().find(|c| c.is_control() && *c != '\n') {
        panic!("{what} holds a raw {c:?}:\n{}", s.escape_debug());
    }
}

#[test]
fn guest_text_with_control_characters_is_shown_escaped_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    // 20 strategies, number 7 returns the forged text as its error (and prints it).
    let toml = "lots = [0.01, 1.0]\n[[axes]]\nparams = [\"k\"]\nvalues = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]\n\
                [[axes]]\nparams = [\"bad_k\"]\nvalues = [7]\n[[axes]]\nparams = [\"mode\"]\nvalues = [14]\n";
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, toml).unwrap();
    let (o, out, _) = discover(dir.path(), &grid, &["--batch-size", "5"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::Partial.code()), "{err}");
    assert_no_raw_controls("stderr", &err);
    assert_no_raw_controls("stdout", &text(&o.stdout));
    assert!(
        err.contains(r"returned an error: \e]0;pwned\u{7}\e[2J\r\e[32mDone: 4620 of 4620"),
        "{err}"
    );
    let failures = std::fs::read_to_string(stratbox::results::sidecar::failures_path(&out)).unwrap();
    assert_no_raw_controls("failures file", &failures);
    // The run log and the JSON progress decode to escaped text, not to the controls.
    let log = std::fs::read_to_string(stratbox::results::sidecar::log_path(&out)).unwrap();
    let (json, _, _) = discover(
        dir.path(),
        &grid,
        &["--batch-size", "5", "--fresh", "--progress", "json"],
    );
    for line in log.lines().chain(text(&json.stdout).lines()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_no_raw_controls("a JSON event", &decoded_strings(&v));
    }
    assert!(log.contains("guest_stderr"), "{log}");
    // The results' metadata and the report: the component's name is escaped too.
    let (_, meta) = stratbox::results::read_parquet(&out).unwrap();
    let component = &meta["stratbox.component"];
    let decoded: serde_json::Value = serde_json::from_str(component).unwrap();
    assert_eq!(decoded["name"], r"hostile\e[31m\u{7}\r");
    let html = dir.path().join("r.html");
    let r = stratbox(&[
        "report",
        out.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
        "--curves",
        "0",
    ]);
    assert_eq!(r.status.code(), Some(Exit::Ok.code()), "{}", text(&r.stderr));
    assert_no_raw_controls("the report", &std::fs::read_to_string(&html).unwrap());
    // inspect shows the name escaped.
    let i = stratbox(&["inspect", hostile().to_str().unwrap()]);
    assert_no_raw_controls("inspect", &text(&i.stdout));
    assert!(
        text(&i.stdout).contains(r"name:    hostile\e[31m\u{7}\r"),
        "{}",
        text(&i.stdout)
    );
}

/// Every string in a JSON value, decoded, one per line.
fn decoded_strings(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("{s}\n"),
        serde_json::Value::Array(a) => a.iter().map(decoded_strings).collect(),
        serde_json::Value::Object(o) => o.values().map(decoded_strings).collect(),
        _ => String::new(),
    }
}

/// `stratbox grid --rows 4620 | head -1`: the reader goes after one line, the rest of the
/// ~280 KB cannot be written. The command ends quietly (ripgrep's behaviour), not with
/// "failed printing to stdout: Broken pipe" and a panic.
#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratbox"))
        .args(["grid", "--rows", "4620"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!first.is_empty());
    assert_eq!(text(&o.stderr), "");
    assert_eq!(o.status.code(), Some(Exit::Ok.code()));
}
