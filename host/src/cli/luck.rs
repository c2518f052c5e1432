//! `luck`: SPEC section 7's statistics of a results file and its daily file, as text or JSON.

use std::path::PathBuf;

use clap::Args;
use stratbox::Exit;
use stratbox::luck::{self, LuckError, spa::SpaSettings};
use stratbox::report::replay::Replayer;

use super::error::Error;
use super::flags::{DataArgs, RankArgs, WalkForwardArgs};

#[derive(Debug, Clone, Args)]
pub struct LuckArgs {
    /// A results file written by `discover`, with its `.daily.parquet` beside it.
    pub results: PathBuf,
    /// Print one JSON object (SPEC section 7) instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub walk_forward: WalkForwardArgs,
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
        .walk_forward
        .map(|w| luck::walk_forward(&daily, trials.lots, w, args.walk_forward.wf_min_trades))
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
            print!("{}", wf.render_text());
        }
    }
    Ok(Exit::Ok)
}

impl From<LuckError> for Error {
    fn from(e: LuckError) -> Error {
        Error::Luck(e)
    }
}
