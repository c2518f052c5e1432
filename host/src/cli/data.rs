//! `stratbox data check`: a data set's format, span, gaps and defects, without running anything.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use stratbox::Exit;
use stratbox::data::{self, DataError};
use stratbox::run::data_inputs;

use super::error::Error;
use super::flags::ReadFlags;

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Format, rows, span (UTC), bar interval, gaps, defects and price range of a data set.
    Check(DataCheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DataCheckArgs {
    /// Data files (one series, joined in time order). Default: the bundled 2018 EURUSD M1 year.
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadFlags,
    /// Report what `--repair` would change instead of failing on duplicates and disorder.
    #[arg(long)]
    pub repair: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn data(command: &DataCommand) -> Result<Exit, Error> {
    let DataCommand::Check(args) = command;
    let opts = args.read.load_options(args.repair)?;
    match data::load(&data_inputs(&args.files), &opts) {
        Ok((bars, report)) => {
            let summary = data::check::summary(&bars, &report);
            if args.json {
                outln!("{summary}");
            } else {
                out!("{}", data::check::text(&summary));
            }
            Ok(Exit::Ok)
        }
        Err(e) if args.json => {
            let defects = match &e {
                DataError::Defects { count, .. } => *count,
                _ => 0,
            };
            outln!(
                "{}",
                serde_json::json!({"error": e.to_string(), "defects": defects})
            );
            Ok(Exit::BadInput)
        }
        Err(e) => Err(e.into()),
    }
}
