//! `luck`: SPEC section 7's statistics of a results file and its daily file, as text or JSON.

use std::path::PathBuf;

use clap::Args;
use stratbox::Exit;
use stratbox::luck::{self, LuckError, Windows, spa::SpaSettings};
use stratbox::report::replay::Replayer;

use super::error::Error;
use super::flags::{DataArgs, RankArgs};

#[derive(Debug, Clone, Args)]
pub struct LuckArgs {
    /// A results file written by `discover`, with its `.daily.parquet` beside it.
    pub results: PathBuf,
    /// Print one JSON object (SPEC section 7) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also report a walk-forward of TRAIN:TEST whole months (e.g. 6:1).
    #[arg(long)]
    pub walk_forward: Option<Windows>,
    /// Trades a strategy must close in a train window to be picked.
    #[arg(long, default_value_t = 10)]
    pub wf_min_trades: u32,
    #[command(flatten)]
    pub ranking: RankArgs,
    /// The run's data, to replay the top strategy's trades for the Monte Carlo.
    #[command(flatten)]
    pub data: DataArgs,
}

pub fn luck(args: &LuckArgs) -> Result<Exit, Error> {
    let (table, daily) = luck::open(&args.results)?;
    let ranking = args.ranking.ranking();
    let (trials, ranked) = luck::trials(&table, &daily, &ranking)?;
    let wf = args
        .walk_forward
        .map(|w| luck::walk_forward(&daily, trials.lots, w, args.wf_min_trades))
        .transpose()?;
    let top: Vec<u64> = ranked.iter().map(|&r| table.strategy_id[r]).collect();
    let mut report = luck::analyse(&trials, &top, &SpaSettings::default());
    if let Some(&best) = top.first() {
        let bands = args
            .data
            .load()
            .and_then(|(bars, loaded)| Replayer::from_results(&table, &bars, &loaded))
            .and_then(|r| luck::monte_carlo(&r, best, &table.lot_sizes()));
        match bands {
            Ok(b) => report.montecarlo = b,
            Err(e) => eprintln!("warning: no Monte Carlo of the trade order: {e}"),
        }
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
        if let Some(wf) = &wf {
            print!("{}", luck_walk_forward_text(wf));
        }
    }
    Ok(Exit::Ok)
}

/// The walk-forward in words.
pub fn luck_walk_forward_text(wf: &luck::WalkForward) -> String {
    let mut s = format!(
        "\nWalk-forward {}:{} (pick the best of the past {} months, trade it blind for the next {}):\n",
        wf.windows.train, wf.windows.test, wf.windows.train, wf.windows.test
    );
    for f in &wf.folds {
        s += &format!(
            "  train {}..{}  test {}..{}  pick {:>6}  in-sample {:>10.2} USD  out-of-sample {:>10.2} USD\n",
            luck::walkforward::month_text(f.train_start),
            luck::walkforward::month_text(f.test_start - 1),
            luck::walkforward::month_text(f.test_start),
            luck::walkforward::month_text(f.test_end - 1),
            f.pick.map_or("none".to_string(), |id| id.to_string()),
            f.in_sample_usd,
            f.out_of_sample_usd
        );
    }
    s += &format!(
        "  stitched out-of-sample P&L {:.2} USD; walk-forward efficiency {}\n",
        wf.stitched_oos_usd,
        wf.efficiency
            .map_or("undefined".to_string(), |e| format!("{e:.2}"))
    );
    s
}

impl From<LuckError> for Error {
    fn from(e: LuckError) -> Error {
        Error::Luck(e)
    }
}
