//! `stratbox merge`: part files into one results file, proven complete.

use std::path::PathBuf;

use clap::Args;
use stratbox::Exit;

use super::error::Error;

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Part files written by `stratbox batch`.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Merged results file.
    #[arg(long, short)]
    pub output: PathBuf,
}

pub fn merge(args: &MergeArgs) -> Result<Exit, Error> {
    let merged = stratbox::results::merge(&args.parts, &args.output)?;
    outln!(
        "merged {} parts: {} rows, {} strategies, complete -> {}",
        merged.parts,
        merged.rows,
        merged.strategies,
        merged.output.display()
    );
    Ok(Exit::Ok)
}
