//! `stratbox grid`: a grid's axes, size and first strategies.

use std::path::PathBuf;

use clap::Args;
use stratbox::Exit;

use super::error::Error;
use super::flags::load_grid;

#[derive(Debug, Clone, Args)]
pub struct GridArgs {
    /// Grid TOML file. Default: the bundled MVT grid.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// How many strategies to list.
    #[arg(long, default_value_t = 5)]
    pub rows: u64,
}

pub fn grid(args: &GridArgs) -> Result<Exit, Error> {
    let grid = load_grid(args.grid.as_deref())?;
    outln!("{grid}");
    let names = grid.param_names();
    let shown = args.rows.min(grid.size());
    if shown > 0 {
        outln!("\nfirst {shown} strategies:");
        outln!("  {:>6}  {}", "id", names.join("  "));
        for id in 0..shown {
            let v = grid.values(id);
            let cells: Vec<String> = (0..names.len())
                .map(|p| format!("{:>w$}", grid.format_value(p, v[p]), w = names[p].len()))
                .collect();
            outln!("  {id:>6}  {}", cells.join("  "));
        }
    }
    Ok(Exit::Ok)
}
