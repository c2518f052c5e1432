//! `stratbox merge`: part files into one results file, proven complete.

use std::path::PathBuf;

use clap::Args;
use stratbox::Exit;

use stratbox::results::daily::results_parts;

use super::error::{Error, usage};

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Part files written by `stratbox batch` or `discover --shard`. Their daily P&L files are
    /// merged with them; listed too (as `shard-*.parquet` lists them), they are skipped.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Merged results file.
    #[arg(long, short)]
    pub output: PathBuf,
}

pub fn merge(args: &MergeArgs) -> Result<Exit, Error> {
    let parts = results_parts(&args.parts).map_err(usage)?;
    let merged = stratbox::results::merge(&parts, &args.output)?;
    outln!(
        "merged {} parts: {} rows, {} strategies, complete -> {}",
        merged.parts,
        merged.rows,
        merged.strategies,
        merged.output.display()
    );
    Ok(Exit::Ok)
}
