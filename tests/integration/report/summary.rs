//! The summary `discover` prints after a run: counts and the ranked top strategies, checked
//! against the results file; and a ranking metric that does not exist, refused before running.

use std::collections::BTreeSet;

use stratbox::Exit;

use super::{fixture, rows, s, workdir};
use crate::common::{stratbox, text};

#[test]
fn summary_after_discover_counts_and_ranks_like_the_file() {
    let f = fixture();
    let r = rows(&f.results);
    let out = &f.stdout;
    let ids: BTreeSet<u64> = r.id.iter().copied().collect();
    let traded: BTreeSet<u64> = (0..r.id.len())
        .filter(|&k| r.n_trades[k] > 0)
        .map(|k| r.id[k])
        .collect();
    assert_eq!(ids.len(), 4620);
    let expected = format!(
        "4620 strategies: 4620 run, 0 failed, {} with no trades",
        ids.len() - traded.len()
    );
    assert!(out.contains(&expected), "lacks {expected:?}:\n{out}");
    for lots in [0.01, 0.1, 1.0] {
        let at: Vec<usize> = (0..r.id.len()).filter(|&k| r.lots[k] == lots).collect();
        let line = format!(
            "at {lots:?} lots: {} profitable, {} losing, {} ruined, {} with >= 40 trades",
            at.iter().filter(|&&k| r.net[k] > 0.0).count(),
            at.iter().filter(|&&k| r.net[k] < 0.0).count(),
            at.iter().filter(|&&k| r.ruined[k]).count(),
            at.iter().filter(|&&k| r.n_trades[k] >= 40).count(),
        );
        assert!(out.contains(&line), "lacks {line:?}:\n{out}");
    }
    // The top 5 by profit factor at the default 0.1 lots, >= 40 trades, in order.
    let top = r.top(0.1, 40, |k| r.profit_factor[k]);
    assert!(top.len() > 5);
    let header = format!(
        "Top 5 by profit_factor at 0.1 lots (of {} with >= 40 trades):",
        top.len()
    );
    let after = out
        .split(&header)
        .nth(1)
        .unwrap_or_else(|| panic!("lacks {header:?}:\n{out}"));
    let listed: Vec<u64> = after
        .lines()
        .skip(2)
        .take(5)
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .unwrap()
                .trim_end_matches('!')
                .parse()
                .unwrap()
        })
        .collect();
    let want: Vec<u64> = top[..5].iter().map(|&k| r.id[k]).collect();
    assert_eq!(listed, want, "{out}");
    // Each line carries the strategy's parameters: the best one's direction and trade count.
    let first = after.lines().nth(2).unwrap();
    assert!(
        first.contains(&r.direction[top[0]]) && first.contains(&format!(" {} ", r.n_trades[top[0]])),
        "{first}"
    );
}

#[test]
fn unknown_rank_metric_is_refused_before_anything_runs() {
    let dir = workdir("rank-refused");
    let out = dir.join("r.parquet");
    let o = stratbox(&["discover", "--rank-by", "sharpe", "--output", s(&out)]);
    assert_eq!(o.status.code(), Some(Exit::BadInput.code()));
    let err = text(&o.stderr);
    assert!(
        err.contains("sharpe") && err.contains("net_pnl_usd") && err.contains("profit_factor"),
        "{err}"
    );
    assert!(!out.exists());
}
