//! Checkpoints, resume, shards and merge (issue: use every core, survive kills, scale out).
//!
//! The reference is an uninterrupted single-process run of the same grid on the same real
//! bars; every other way of computing it must give the byte-identical file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stratbox::Exit;
use stratbox::results::daily::daily_path;

use crate::common::{stratbox, text, year_slice};

/// 30,000 real bars (three weeks of 2018) and the full default grid: fast enough to run many
/// times, long enough to have real trades in every batch.
struct Setup {
    dir: tempfile::TempDir,
    data: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data = year_slice(dir.path(), 30_000);
    Setup { dir, data }
}

impl Setup {
    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn discover(&self, out: &Path, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "discover",
            "--data",
            self.data.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        stratbox(&args)
    }

    /// The reference file: one process, default batching, no interruption.
    fn reference(&self) -> Vec<u8> {
        let out = self.out("reference.parquet");
        let o = self.discover(&out, &["--jobs", "1", "--batch-size", "100"]);
        assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
        std::fs::read(&out).unwrap()
    }

    /// The daily P&L file beside `out` equals the reference run's, byte for byte (call after
    /// [`Setup::reference`]).
    fn assert_same_daily(&self, out: &Path) {
        let theirs = std::fs::read(daily_path(&self.out("reference.parquet"))).unwrap();
        let ours = std::fs::read(daily_path(out)).unwrap();
        assert!(ours == theirs, "{}: the daily file differs", out.display());
    }
}

#[test]
fn jobs_1_and_2_give_the_same_bytes() {
    let s = setup();
    let reference = s.reference();
    let out = s.out("jobs2.parquet");
    let o = s.discover(&out, &["--jobs", "2", "--batch-size", "100"]);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    assert!(std::fs::read(&out).unwrap() == reference);
    s.assert_same_daily(&out);
}

/// Batch files in the checkpoint of `out`.
fn saved_batches(out: &Path) -> usize {
    let parts = stratbox::run::parts_dir(out);
    std::fs::read_dir(&parts)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("batch-"))
                .count()
        })
        .unwrap_or(0)
}

/// Starts a run and kills it with SIGKILL once `after` has passed or `batches` batch files are
/// saved, whichever comes first; returns how many batch files it left.
fn kill_at(s: &Setup, out: &Path, after: Duration, batches: usize) -> usize {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratbox"))
        .args([
            "discover",
            "--data",
            s.data.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .args(["--jobs", "1", "--batch-size", "100", "--progress", "lines"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while t.elapsed() < after && saved_batches(out) < batches {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill(); // SIGKILL on unix, TerminateProcess on Windows: no chance to clean up
    let _ = child.wait();
    saved_batches(out)
}

#[test]
fn killed_runs_resume_to_the_identical_file_without_recomputing() {
    let s = setup();
    let reference = s.reference();
    // Kill at several points: while starting up (before any batch), after the first batch,
    // midway, near the end; each time resume with the same command.
    let mut partial = 0;
    for (k, (ms, batches)) in [(150u64, usize::MAX), (60_000, 1), (60_000, 20), (60_000, 44)]
        .into_iter()
        .enumerate()
    {
        let out = s.out(&format!("killed-{k}.parquet"));
        let saved = kill_at(&s, &out, Duration::from_millis(ms), batches);
        if (1..47).contains(&saved) {
            partial += 1;
        }
        let o = s.discover(
            &out,
            &["--jobs", "1", "--batch-size", "100", "--progress", "lines"],
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{err}");
        let computed = err.lines().filter(|l| l.starts_with("Batch ")).count();
        // 4620 strategies / 100 = 47 batches: the resumed run computes only what was missing.
        if saved > 0 {
            assert!(
                err.contains(&format!("Resuming: {saved} batches")),
                "saved {saved}:\n{err}"
            );
        }
        assert_eq!(
            computed,
            47 - saved,
            "batches computed again after the kill:\n{err}"
        );
        assert!(
            std::fs::read(&out).unwrap() == reference,
            "kill {k} ({saved} batches saved): resumed file differs"
        );
        s.assert_same_daily(&out);
        assert!(
            !stratbox::run::parts_dir(&out).exists(),
            "the checkpoint is removed at the end"
        );
    }
    assert!(
        partial >= 2,
        "at least two kills must land mid-run, got {partial}"
    );
}

#[test]
fn a_checkpoint_of_another_run_is_refused_with_what_differs() {
    let s = setup();
    let out = s.out("mismatch.parquet");
    // A checkpoint left by a run with another batch size.
    let parts = stratbox::run::parts_dir(&out);
    std::fs::create_dir_all(&parts).unwrap();
    std::fs::write(
        parts.join("manifest.json"),
        r#"{"batch_size": "7", "engine": "Sandbox"}"#,
    )
    .unwrap();
    let o = s.discover(&out, &["--batch-size", "100"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()), "{err}");
    assert!(
        err.contains("different run") && err.contains("batch_size: was 7, now 100"),
        "{err}"
    );
    assert!(err.contains("--fresh"), "{err}");
    // --fresh starts over and succeeds.
    let o = s.discover(&out, &["--batch-size", "100", "--fresh"]);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
}

#[test]
fn three_shards_in_separate_processes_merge_to_the_single_run() {
    let s = setup();
    let reference = s.reference();
    let mut parts = Vec::new();
    for k in 0..3 {
        let out = s.out(&format!("shard-{k}.parquet"));
        // Shard 1 takes K from the environment, as a Kubernetes Indexed Job would.
        let o = if k == 1 {
            Command::new(env!("CARGO_BIN_EXE_stratbox"))
                .args([
                    "discover",
                    "--data",
                    s.data.to_str().unwrap(),
                    "--output",
                    out.to_str().unwrap(),
                ])
                .args(["--batch-size", "100", "--shard", "3"])
                .env("JOB_COMPLETION_INDEX", "1")
                .output()
                .unwrap()
        } else {
            s.discover(&out, &["--batch-size", "100", "--shard", &format!("{k}/3")])
        };
        assert_eq!(
            o.status.code(),
            Some(Exit::Ok.code()),
            "shard {k}: {}",
            text(&o.stderr)
        );
        parts.push(out);
    }
    let merged = s.out("merged.parquet");
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--output", merged.to_str().unwrap()]);
    let o = stratbox(&args);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    assert!(
        std::fs::read(&merged).unwrap() == reference,
        "merged shards differ from the single run"
    );
    s.assert_same_daily(&merged);

    // The parts as `shard-*.parquet` lists them, daily files among them (sorted, as a shell
    // does): the same merged files.
    let mut globbed: Vec<std::path::PathBuf> =
        parts.iter().flat_map(|p| [p.clone(), daily_path(p)]).collect();
    globbed.sort();
    let again = s.out("merged-glob.parquet");
    let mut args = vec!["merge"];
    args.extend(globbed.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--output", again.to_str().unwrap()]);
    let o = stratbox(&args);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    assert!(std::fs::read(&again).unwrap() == reference);
    assert!(std::fs::read(daily_path(&again)).unwrap() == std::fs::read(daily_path(&merged)).unwrap());
    // A daily file without its results file is refused, naming both.
    let o = stratbox(&[
        "merge",
        parts[0].to_str().unwrap(),
        daily_path(&parts[1]).to_str().unwrap(),
        "--output",
        s.out("bad-daily.parquet").to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()), "{err}");
    assert!(
        err.contains("shard-1.daily.parquet is the daily P&L file of"),
        "{err}"
    );

    // A missing shard is detected, with the missing ids.
    let o = stratbox(&[
        "merge",
        parts[0].to_str().unwrap(),
        parts[2].to_str().unwrap(),
        "--output",
        s.out("bad.parquet").to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()), "{err}");
    assert!(
        err.contains("strategies missing") && err.contains("100, 101"),
        "{err}"
    );
    assert!(!s.out("bad.parquet").exists());
    assert!(!daily_path(&s.out("bad.parquet")).exists());

    // A part whose daily file is gone is refused, and nothing is written.
    std::fs::remove_file(daily_path(&parts[1])).unwrap();
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    let bad = s.out("bad2.parquet");
    args.extend(["--output", bad.to_str().unwrap()]);
    let o = stratbox(&args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()), "{err}");
    assert!(
        err.contains("has no daily P&L file") && err.contains("shard-1.daily.parquet"),
        "{err}"
    );
    assert!(!bad.exists() && !daily_path(&bad).exists());
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_and_says_how_to_resume() {
    let s = setup();
    let reference = s.reference();
    let out = s.out("interrupted.parquet");
    let child = Command::new(env!("CARGO_BIN_EXE_stratbox"))
        .args([
            "discover",
            "--data",
            s.data.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .args(["--jobs", "1", "--batch-size", "100", "--progress", "lines"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while saved_batches(&out) < 3 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(Exit::Interrupted.code()),
        "expected Exit::Interrupted; stderr:\n{err}"
    );
    assert!(err.contains("run the same command again to resume"), "{err}");
    assert!(!out.exists(), "no results file from an interrupted run");
    let saved = saved_batches(&out);
    assert!((3..47).contains(&saved), "saved {saved}");
    // Nothing half-written: only complete batch files and the manifest in the checkpoint.
    for e in std::fs::read_dir(stratbox::run::parts_dir(&out))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            name == "manifest.json" || (name.starts_with("batch-") && name.ends_with(".bin")),
            "{name}"
        );
    }
    let o = s.discover(&out, &["--jobs", "1", "--batch-size", "100"]);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    assert!(std::fs::read(&out).unwrap() == reference);
}
