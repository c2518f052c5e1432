//! SPEC section 7 (`stratbox luck`) against independent expectations: the golden numbers of an
//! independent implementation on the bundled year, arch's SPA on the same matrix, and toy
//! matrices worked by hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use stratbox::Exit;
use stratbox::luck::spa::{SpaSettings, spa_pvalue};
use stratbox::luck::walkforward::{Series, Windows, walk_forward};
use stratbox::luck::{Trials, dsr, pbo};
use stratbox::results::daily::{Calendar, daily_path, day_number};

use crate::common::{shared, stratbox, text};

/// `n` consecutive days from 2018-01-01.
fn calendar(n: i32) -> Calendar {
    let d0 = day_number(chrono::NaiveDate::from_ymd_opt(2018, 1, 1).unwrap());
    Calendar {
        days: (d0..d0 + n).collect(),
    }
}

/// PBO worked by hand: every block of 2 days repeats the same pattern, so every half of every
/// split gives each trial the same Sharpe. Trial 0 ([1, 3]: Sharpe 2/sqrt(2)) beats trial 1
/// ([-1, 3]: 1/sqrt(8)) in every in-sample half and every out-of-sample half: rank 2 of 2,
/// w = 2/3, lambda = ln 2 in all 12,870 splits, PBO 0, never a loss out of sample. Swap the
/// halves' patterns (trial 0 good only in the first 8 blocks) and the picture turns.
#[test]
fn pbo_of_a_toy_matrix_worked_by_hand() {
    let a: Vec<f64> = (0..32).map(|t| if t % 2 == 0 { 1.0 } else { 3.0 }).collect();
    let b: Vec<f64> = (0..32).map(|t| if t % 2 == 0 { -1.0 } else { 3.0 }).collect();
    let trials = Trials::from_dense(vec![0, 1], 0.1, calendar(32), &[a, b]);
    let r = pbo::pbo(&trials, 2);
    assert_eq!(r.lambdas.len(), 12_870);
    assert!(r.lambdas.iter().all(|&l| (l - 2f64.ln()).abs() < 1e-15));
    assert_eq!((r.pbo, r.oos_loss), (0.0, 0.0));
    assert!((r.median_lambda - 2f64.ln()).abs() < 1e-15);

    // Trial 0 earns (1, 3) in blocks 0-7 and loses (-3, -1) in blocks 8-15; trial 1 is flat
    // (Sharpe 0). A split with k of the 8 good blocks in sample: trial 0's IS mean is
    // (2k - 2(8-k))/8, so it is picked when k > 4 (k = 4: IS Sharpe 0 ties, trial 0 has the
    // lower id and is picked too) and then its OOS half holds 8-k good blocks and loses: rank 1,
    // w = 1/3, lambda = -ln 2. With k < 4 trial 1 is picked: OOS Sharpe 0 below trial 0's:
    // rank 1, lambda -ln 2 too. k = 4: both halves tie at 0 exactly: ranks 1.5 each, lambda 0.
    // So every split has lambda <= 0: PBO = 1. Trial 0 loses OOS when picked with k > 4:
    // sum over k = 5..8 of C(8,k) C(8,8-k) = 3136 + 784 + 64 + 1 = 3985 splits.
    let a: Vec<f64> = (0..32)
        .map(|t| match (t < 16, t % 2) {
            (true, 0) => 1.0,
            (true, _) => 3.0,
            (false, 0) => -3.0,
            (false, _) => -1.0,
        })
        .collect();
    let trials = Trials::from_dense(vec![0, 1], 0.1, calendar(32), &[a, vec![0.0; 32]]);
    let r = pbo::pbo(&trials, 1);
    assert_eq!(r.pbo, 1.0);
    assert_eq!(r.oos_loss, 3985.0 / 12_870.0);
    // Splits with k = 4 (C(8,4)^2 = 4900) have lambda 0, the rest -ln 2: the median is -ln 2.
    assert_eq!(r.lambdas.iter().filter(|&&l| l == 0.0).count(), 4900);
    assert!((r.median_lambda + 2f64.ln()).abs() < 1e-15);
}

/// DSR worked by hand (the Phi values from scipy.stats.norm): two trials with per-day Sharpe
/// 0.3 and 0.1: V = 0.02; SR0 = sqrt(0.02) * ((1 - g) * Phi^-1(1/2) + g * Phi^-1(1 - 1/(2e)))
/// = 0.07350450569975131; with g3 = 0.5, g4 = 4, T = 32:
/// DSR = Phi((0.3 - SR0) * sqrt(31) / sqrt(1 - 0.15 + 0.0675)) = 0.9060052561393661.
#[test]
fn dsr_worked_by_hand() {
    let v = dsr::variance(&[0.3, 0.1]);
    assert!((v - 0.02).abs() < 1e-17);
    let sr0 = dsr::expected_max_sharpe(v, 2);
    assert!((sr0 - 0.07350450569975131).abs() < 1e-15, "{sr0}");
    let d = dsr::deflated_sharpe(0.3, 0.5, 4.0, 32, sr0);
    assert!((d - 0.9060052561393661).abs() < 1e-14, "{d}");
}

/// A deterministic toy matrix (an LCG; a few trials with a small edge).
fn toy_matrix(n: usize, t: usize) -> Vec<Vec<f64>> {
    let mut x: u64 = 12345;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    (0..n)
        .map(|k| {
            (0..t)
                .map(|_| next() * 10.0 + if k % 7 == 0 { 0.4 } else { 0.0 })
                .collect()
        })
        .collect()
}

/// The consistent SPA p-value agrees with arch's `SPA` on the same matrix within bootstrap
/// noise (two generators, 1,000 replications each: a standard error of at most 0.016).
#[test]
fn spa_agrees_with_arch_on_the_same_matrix() {
    let (n, t) = (40, 250);
    let m = toy_matrix(n, t);
    let trials = Trials::from_dense((0..n as u64).collect(), 0.1, calendar(t as i32), &m);
    let ours = spa_pvalue(&trials, &SpaSettings::default(), 2);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("pnl.csv");
    let rows: Vec<String> = (0..t)
        .map(|d| {
            m.iter()
                .map(|s| format!("{:?}", s[d]))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    std::fs::write(&csv, rows.join("\n")).unwrap();
    let script = format!(
        "import numpy as np\nfrom arch.bootstrap import SPA\nx = np.loadtxt({:?}, delimiter=',')\n\
         s = SPA(np.zeros(x.shape[0]), -x, block_size=10, reps=1000, bootstrap='stationary', studentize=True, seed=0)\n\
         s.compute()\nprint(repr(float(s.pvalues['consistent'])))\n",
        csv.display().to_string()
    );
    let o = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 with arch (pip install arch)");
    assert!(o.status.success(), "arch: {}", text(&o.stderr));
    let theirs: f64 = text(&o.stdout).trim().parse().unwrap();
    assert!((ours - theirs).abs() < 0.06, "ours {ours}, arch {theirs}");
    assert!(
        theirs > 0.0 && theirs < 1.0,
        "a matrix whose p-value is not trivial: {theirs}"
    );
}

/// Walk-forward worked by hand on a toy series. Days: 2018-01-01 .. 2018-04-30 (120 days, every
/// day a calendar day). Windows 2:1: m0 = January (the first day is the 1st); fold 0 trains on
/// Jan-Feb, tests March; fold 1 trains on Feb-Mar, tests April; fold 2 would test May: past
/// the data. Strategy 5 makes 10 USD a day in January (31 trades), nothing after; strategy 3
/// makes 1 a day all along (one trade a day); strategy 9 makes 1 a day too but trades only
/// from March on.
/// Fold 0: sums Jan-Feb: 5 -> 310 (31 trades), 3 -> 59, 9 -> 0 (0 trades, not eligible): pick
/// 5; OOS March: 0. Fold 1: Feb-Mar: 5 -> 0 (0 trades), 3 -> 59, 9 -> 31 (31 trades): pick 3;
/// OOS April: 30. Stitched 30; WFE = 30 / (310 * 31/59 + 59 * 30/59).
#[test]
fn walk_forward_picks_worked_by_hand() {
    let cal = calendar(120);
    let d0 = cal.days[0];
    let jan = |d: i32| d - d0 < 31;
    let march_on = |d: i32| d - d0 >= 59;
    let series = vec![
        Series {
            strategy_id: 3,
            days: cal.days.iter().map(|&d| (d, 1.0, 1)).collect(),
        },
        Series {
            strategy_id: 5,
            days: cal
                .days
                .iter()
                .filter(|&&d| jan(d))
                .map(|&d| (d, 10.0, 1))
                .collect(),
        },
        Series {
            strategy_id: 9,
            days: cal
                .days
                .iter()
                .filter(|&&d| march_on(d))
                .map(|&d| (d, 1.0, 1))
                .collect(),
        },
    ];
    let wf = walk_forward(&cal.days, &series, Windows { train: 2, test: 1 }, 10).unwrap();
    assert_eq!(wf.folds.len(), 2);
    let f = &wf.folds;
    assert_eq!(
        (f[0].pick, f[0].in_sample_usd, f[0].out_of_sample_usd),
        (Some(5), 310.0, 0.0)
    );
    assert_eq!((f[0].train_days, f[0].test_days), (59, 31));
    assert_eq!(
        (f[1].pick, f[1].in_sample_usd, f[1].out_of_sample_usd),
        (Some(3), 59.0, 30.0)
    );
    assert_eq!((f[1].train_days, f[1].test_days), (59, 30));
    assert_eq!(wf.stitched_oos_usd, 30.0);
    let expected = 30.0 / (310.0 * 31.0 / 59.0 + 59.0 * 30.0 / 59.0);
    assert!((wf.efficiency.unwrap() - expected).abs() < 1e-15);
    // The stitched equity over March and April: fold 0's pick (5) earns nothing in March,
    // fold 1's (3) 1 a day in April; the hindsight best (3) earns 1 a day in both.
    let st = stratbox::luck::walkforward::stitched(&wf, &cal.days, &series, Some(3));
    assert_eq!(st.days.len(), 31 + 30);
    assert_eq!((st.oos[30], st.oos[31], st.oos[60]), (0.0, 1.0, 30.0));
    assert_eq!((st.hindsight[0], st.hindsight[60]), (1.0, 61.0));
    // The CSV says how it was made.
    let csv = stratbox::luck::walkforward::to_csv(&wf, 10, &|id| format!("p=\"{id}\""));
    assert_eq!(
        stratbox::luck::walkforward::settings_of_csv(&csv),
        Some((Windows { train: 2, test: 1 }, 10))
    );
    assert!(csv.contains(",10,5,\"p=\"\"5\"\"\",310.0,0.0\n"), "{csv}");
    // 4 + 1 months do not fit into 4.
    let e = walk_forward(&cal.days, &series, Windows { train: 4, test: 1 }, 10).unwrap_err();
    assert_eq!(e.months, 4);
}

fn golden_luck() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(shared("golden/luck-2018.json")).unwrap()).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

/// The default grid on the bundled year through the CLI, with a 6:1 walk-forward: shared by
/// the luck tests and the report's browser test. The native engine: the sandbox gives the same
/// bytes (tests in `sandbox_vs_native` and `batching`), in less time here.
pub struct YearRun {
    pub dir: PathBuf,
    pub results: PathBuf,
    pub stdout: String,
}

pub fn year_run() -> &'static YearRun {
    static RUN: OnceLock<YearRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("luck-year")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let results = dir.join("results.parquet");
        let o = stratbox(&[
            "discover",
            "--engine",
            "native",
            "--walk-forward",
            "6:1",
            "--output",
            results.to_str().unwrap(),
            "--quiet",
        ]);
        assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
        YearRun {
            dir,
            results,
            stdout: text(&o.stdout),
        }
    })
}

/// `stratbox luck --json` on the default run of the bundled year against the golden file of an
/// independent implementation; the summary after `discover` says the same in words; and the
/// bad inputs, each refused with exit 2 naming the file and the numbers.
#[test]
fn luck_on_the_bundled_year_matches_golden_and_refuses_bad_input() {
    let run = year_run();
    let (dir, out) = (&run.dir, &run.results);
    assert!(daily_path(out).exists());
    let o = stratbox(&["luck", out.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(Exit::Ok.code()), "{}", text(&o.stderr));
    let ours: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let g = golden_luck();
    assert_eq!(ours["trials"], g["trials"]);
    assert_eq!(ours["days"], g["days"]);
    for key in ["pbo", "pbo_median_lambda", "pbo_oos_loss"] {
        let (a, b) = (ours[key].as_f64().unwrap(), g[key].as_f64().unwrap());
        assert!(close(a, b, 1e-9), "{key}: ours {a}, golden {b}");
    }
    let (a, b) = (
        ours["spa_pvalue"].as_f64().unwrap(),
        g["spa_pvalue"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 0.02, "spa: ours {a}, golden {b}");
    let (ours_dsr, golden_dsr) = (ours["dsr"].as_array().unwrap(), g["dsr"].as_array().unwrap());
    assert_eq!(ours_dsr.len(), 10);
    for (a, b) in ours_dsr.iter().zip(golden_dsr) {
        assert_eq!(a["strategy_id"], b["strategy_id"]);
        assert_eq!(a["lots"], b["lots"]);
        for key in ["sharpe", "dsr"] {
            let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
            assert!(
                close(x, y, 1e-9),
                "{} {key}: ours {x}, golden {y}",
                a["strategy_id"]
            );
        }
    }
    // The summary after discover: the golden numbers in words (PBO 0.577, SPA 0.996, the top
    // DSR 0.0118).
    assert!(
        run.stdout.contains(
            "Is it luck? The best strategy does not stand out from luck: deflated Sharpe 0.01 (needs 0.95), reality-check p 0.99"
        ) && run.stdout.contains("overfitting probability (PBO) 58 % over 3367 trials"),
        "{}",
        run.stdout
    );

    let refuse = |args: &[&str], needles: &[&str]| {
        let o = stratbox(args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(Exit::BadInput.code()), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: {err} lacks {n}");
        }
        assert!(o.stdout.is_empty(), "nothing printed: {}", text(&o.stdout));
    };
    let p = out.to_str().unwrap();
    let dir = dir.as_path();
    refuse(
        &["luck", p, "--min-trades", "100000"],
        &[
            "results.parquet",
            "0 ranked strategies",
            "100000 trades",
            "at least 2",
        ],
    );
    refuse(
        &["luck", p, "--walk-forward", "12:1"],
        &["12:1", "13 whole months", "12"],
    );
    let moved = dir.join("alone.parquet");
    std::fs::copy(out, &moved).unwrap();
    refuse(
        &["luck", moved.to_str().unwrap()],
        &["alone.parquet", "alone.daily.parquet"],
    );
    refuse_short_run(dir);
}

/// Results of 20 days of bars: fewer than 32 calendar days.
fn refuse_short_run(dir: &Path) {
    let data = crate::common::year_slice(dir, 20 * 1400);
    let out = dir.join("short.parquet");
    let cfg = crate::batching::config(&data, &out, 4620, 2, stratbox::run::EngineKind::Native);
    stratbox::run::run(&cfg, &mut stratbox::run::Quiet).unwrap();
    let o = stratbox(&["luck", out.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()), "{err}");
    assert!(
        err.contains("short.daily.parquet") && err.contains("at least 32"),
        "{err}"
    );
}

/// The walk-forward `discover --walk-forward 6:1` wrote, against the daily file summed here
/// month by month: folds testing July to December 2018, each pick the highest train-window sum
/// among strategies with >= 10 trades in it (lowest id on ties), its P&L in the test month.
#[test]
fn walk_forward_of_the_bundled_year_matches_the_daily_file() {
    use polars::prelude::*;
    use stratbox::luck::walkforward::{csv_path, settings_of_csv};
    let run = year_run();
    let (df, _) = stratbox::results::read_parquet(&daily_path(&run.results)).unwrap();
    let col = |n: &str| df.column(n).unwrap().cast(&DataType::Float64).unwrap();
    let (ids, lots, pnl, trades) = (col("strategy_id"), col("lots"), col("pnl_usd"), col("n_trades"));
    let days = df.column("day").unwrap().cast(&DataType::Int32).unwrap();
    let month_of = |d: i32| {
        let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(d.into());
        chrono::Datelike::month(&date)
    };
    // (month, strategy) -> (P&L, trades) at 0.1 lots.
    let mut by_month: BTreeMap<(u32, u64), (f64, u32)> = BTreeMap::new();
    for i in 0..df.height() {
        if lots.f64().unwrap().get(i) != Some(0.1) {
            continue;
        }
        let e = by_month
            .entry((
                month_of(days.i32().unwrap().get(i).unwrap()),
                ids.f64().unwrap().get(i).unwrap() as u64,
            ))
            .or_default();
        e.0 += pnl.f64().unwrap().get(i).unwrap();
        e.1 += trades.f64().unwrap().get(i).unwrap() as u32;
    }
    let csv = std::fs::read_to_string(csv_path(&run.results)).unwrap();
    assert_eq!(settings_of_csv(&csv), Some((Windows { train: 6, test: 1 }, 10)));
    let lines: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(lines.len(), 6, "{csv}");
    for (k, line) in lines.iter().enumerate() {
        let k = k as u32;
        let mut train: BTreeMap<u64, (f64, u32)> = BTreeMap::new();
        for m in 1 + k..7 + k {
            for (&(_, id), &(p, n)) in by_month.range((m, 0)..(m + 1, 0)) {
                let e = train.entry(id).or_default();
                e.0 += p;
                e.1 += n;
            }
        }
        let (pick, is) = train
            .iter()
            .filter(|(_, (_, n))| *n >= 10)
            .fold(None::<(u64, f64)>, |best, (&id, &(p, _))| match best {
                Some((_, b)) if b >= p => best,
                _ => Some((id, p)),
            })
            .unwrap();
        let oos = by_month.get(&(7 + k, pick)).map_or(0.0, |e| e.0);
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[3], format!("2018-{:02}", 7 + k), "{line}");
        assert_eq!(f[8], pick.to_string(), "fold {k}: {line}");
        let n = f.len();
        let (got_is, got_oos): (f64, f64) = (f[n - 2].parse().unwrap(), f[n - 1].parse().unwrap());
        assert!((got_is - is).abs() < 1e-6, "fold {k}: {got_is} vs {is}");
        assert!((got_oos - oos).abs() < 1e-6, "fold {k}: {got_oos} vs {oos}");
    }
    assert!(run.stdout.contains("Walk-forward 6:1"), "{}", run.stdout);
}

/// Walk-forward windows longer than the data are refused before any batch runs: exit 2, the
/// numbers named, no results file.
#[test]
fn discover_refuses_walk_forward_windows_longer_than_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = crate::common::year_slice(dir.path(), 20 * 1400);
    let out = dir.path().join("r.parquet");
    let o = stratbox(&[
        "discover",
        "--data",
        data.to_str().unwrap(),
        "--walk-forward",
        "1:1",
        "--output",
        out.to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()), "{err}");
    assert!(
        err.contains("--walk-forward 1:1 needs 2 whole months") && err.contains("has 1 ("),
        "{err}"
    );
    assert!(!out.exists() && !daily_path(&out).exists());
}
