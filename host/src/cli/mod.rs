//! The binary's side: the command line (clap's raw structs, step one), its validation into the
//! library's configs (step two, once per flag group in [`flags`]), one file per command family,
//! and the one error type that knows each failure's exit code.

/// `print!` to stdout through [`out::stdout`] (quiet on a closed pipe).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::stdout(format_args!($($arg)*)) };
}

/// `println!` through [`out::stdout`].
macro_rules! outln {
    () => { $crate::cli::out::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::out::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` through [`out::stderr`] (never panics).
macro_rules! errln {
    ($($arg:tt)*) => { $crate::cli::out::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

mod data;
mod discover;
mod error;
mod flags;
mod grid;
mod inspect;
mod luck;
mod merge;
mod out;
mod reports;
mod serve;

use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};
use stratbox::Exit;

pub use error::Error;

#[derive(Debug, Parser)]
#[command(
    name = "stratbox",
    version,
    about = "Sandboxed forex strategy discovery: thousands of backtests in WebAssembly, one Parquet file"
)]
pub struct Cli {
    /// Print no progress lines, only errors and the closing summary.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a whole grid on a data set and write one results file.
    Discover(discover::RunArgs),
    /// Run one range of strategy ids and write a part file (a worker's share).
    Batch(discover::BatchArgs),
    /// Join part files into one results file, checking every strategy appears exactly once.
    Merge(merge::MergeArgs),
    /// Print a grid's size and its first strategies.
    Grid(grid::GridArgs),
    /// Show a component's name, version, parameters, imports and exports, and whether stratbox
    /// would run it.
    Inspect(inspect::InspectArgs),
    /// Inspect data files without running anything.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Write a self-contained HTML report of a results file.
    Report(reports::ReportArgs),
    /// Replay one strategy and write its trade list.
    Trades(reports::TradesArgs),
    /// Is it luck? Trials, deflated Sharpe, overfitting probability (PBO), reality check (SPA)
    /// and a Monte Carlo of the top strategy, from a results file and its daily file.
    Luck(luck::LuckArgs),
    /// Serve a results file's report and every row (sortable, filterable, paged) over HTTP.
    Serve(serve::ServeArgs),
}

/// Runs the command.
pub fn dispatch(cli: &Cli) -> Result<Exit, Error> {
    match &cli.command {
        Command::Discover(a) => discover::discover(a, cli.quiet),
        Command::Batch(a) => discover::batch(a, cli.quiet),
        Command::Merge(a) => merge::merge(a),
        Command::Grid(a) => grid::grid(a),
        Command::Inspect(a) => inspect::inspect(a),
        Command::Data(c) => data::data(c),
        Command::Report(a) => reports::report(a),
        Command::Trades(a) => reports::trades(a),
        Command::Luck(a) => luck::luck(a),
        Command::Serve(a) => serve::serve(a),
    }
}

/// Prints the error that ended the command.
pub fn report(e: &Error) {
    errln!("error: {e:#}");
}

/// Set by the first Ctrl-C: no new batch starts; running ones finish and are saved. A second
/// Ctrl-C exits at once (finished batches are on disk already; nothing half-written is left
/// under a final name).
static STOP: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler that sets [`STOP`].
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            errln!("\ninterrupted again: abandoning running batches; run the same command to resume");
            std::process::exit(Exit::Interrupted.code());
        }
        errln!("\ninterrupt: finishing the running batches (Ctrl-C again to abandon them)...");
    });
}
