//! The `stratbox` command: a thin layer over the library. Flags are parsed in two steps (clap's
//! raw [`args::Cli`], then validated into library configs), errors become one clear message and
//! a documented exit code.
//!
//! Exit codes (also in the README):
//! - 0: everything ran and was written.
//! - 1: stratbox itself failed (cannot write the output, an internal error).
//! - 2: bad input: arguments, data file, grid, component; nothing was run, nothing written.
//! - 3: partial: some strategies failed (listed); every other row was written.
//! - 4: interrupted (Ctrl-C): finished batches are saved; the same command resumes.

mod args;
mod cli_reports;

use std::io::IsTerminal;

use sha2::Digest;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use stratbox::progress::{Bar, Json, Lines, Progress, Quiet};
use stratbox::run::{self, RunError};
use stratbox::sys;

/// Documented exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const PARTIAL: u8 = 3;
    pub const INTERRUPTED: u8 = 4;
}

fn main() -> ExitCode {
    let cli = <args::Cli as clap::Parser>::parse();
    install_interrupt_handler();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

/// An error with its exit code, ready for the user.
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub(crate) fn bad_input(message: impl std::fmt::Display) -> Failure {
        Failure {
            code: exit::BAD_INPUT,
            message: message.to_string(),
        }
    }
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Failure {
        let code = match &e {
            RunError::Interrupted { .. } => exit::INTERRUPTED,
            e if e.is_bad_input() => exit::BAD_INPUT,
            _ => exit::FAILURE,
        };
        Failure {
            code,
            message: format!("{e:#}"),
        }
    }
}

/// Set by the first Ctrl-C: no new batch starts; running ones finish and are saved. A second
/// Ctrl-C exits at once (finished batches are on disk already; nothing half-written is left
/// under a final name).
static STOP: AtomicBool = AtomicBool::new(false);

fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: abandoning running batches; run the same command to resume");
            std::process::exit(exit::INTERRUPTED as i32);
        }
        eprintln!("\ninterrupt: finishing the running batches (Ctrl-C again to abandon them)...");
    });
}

fn dispatch(cli: args::Cli) -> Result<u8, Failure> {
    match cli.command {
        args::Command::Discover(a) => {
            let cfg = a.to_config(None).map_err(Failure::bad_input)?;
            if let Some(split) = &a.split {
                return cli_reports::discover_split(cfg, split, &a.ranking, cli.quiet);
            }
            let (code, summary) = run_and_report(&cfg, cli.quiet, a.progress)?;
            if a.progress == args::ProgressArg::Json {
                // stdout carries only JSON events for programs: the closing one, not a table.
                let failed: u64 = summary.failures.iter().map(|f| f.len()).sum();
                let event = serde_json::json!({
                    "event": "done",
                    "output": summary.output.display().to_string(),
                    "rows": summary.rows_written,
                    "strategies": summary.strategies,
                    "failed": failed,
                    "seconds": summary.elapsed.as_secs_f64(),
                    "peak_rss_bytes": summary.peak_rss,
                });
                println!("{event}");
            } else {
                cli_reports::after_discover(&cfg, &summary, &a.ranking)?;
            }
            Ok(code)
        }
        args::Command::Batch(a) => {
            let range = a.start..a.end;
            let cfg = a.run.to_config(Some(range)).map_err(Failure::bad_input)?;
            Ok(run_and_report(&cfg, cli.quiet, a.run.progress)?.0)
        }
        args::Command::Merge(a) => {
            let merged = stratbox::merge::merge(&a.parts, &a.output).map_err(|e| Failure {
                code: match e {
                    stratbox::results::ResultsError::Merge(_)
                    | stratbox::results::ResultsError::Read { .. } => exit::BAD_INPUT,
                    _ => exit::FAILURE,
                },
                message: e.to_string(),
            })?;
            println!(
                "merged {} parts: {} rows, {} strategies, complete -> {}",
                merged.parts,
                merged.rows,
                merged.strategies,
                merged.output.display()
            );
            Ok(exit::OK)
        }
        args::Command::Data(args::DataCommand::Check(a)) => {
            let opts = a.load_options().map_err(Failure::bad_input)?;
            match stratbox::data::load(&a.files, &opts) {
                Ok((bars, report)) => {
                    let summary = stratbox::data::check::summary(&bars, &report);
                    if a.json {
                        println!("{summary}");
                    } else {
                        print!("{}", stratbox::data::check::text(&summary));
                    }
                    Ok(exit::OK)
                }
                Err(e) if a.json => {
                    let defects = match &e {
                        stratbox::data::DataError::Defects { count, .. } => *count,
                        _ => 0,
                    };
                    println!(
                        "{}",
                        serde_json::json!({"error": e.to_string(), "defects": defects})
                    );
                    Ok(exit::BAD_INPUT)
                }
                Err(e) => Err(Failure::bad_input(e)),
            }
        }
        args::Command::Inspect(a) => {
            let bytes = std::fs::read(&a.component)
                .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", a.component.display())))?;
            let limits = stratbox::sandbox::Limits {
                component_bytes: a.max_component_mib << 20,
                ..Default::default()
            };
            let origin = a.component.display().to_string();
            let sandbox =
                stratbox::sandbox::Sandbox::new(&bytes, &origin, limits).map_err(Failure::bad_input)?;
            let info = sandbox.info();
            println!(
                "{origin}: {} bytes, sha256 {}",
                bytes.len(),
                run::hex(&sha2::Sha256::digest(&bytes))
            );
            println!("name:    {}", info.name);
            println!("version: {}", info.version);
            println!("params:  {}", info.params.join(", "));
            println!(
                "imports ({}, all granted as nothing: no files, env, network; fixed clock and random):",
                sandbox.surface().imports.len()
            );
            for i in &sandbox.surface().imports {
                println!("  {i}");
            }
            println!("exports:");
            for e in &sandbox.surface().exports {
                println!("  {e}");
            }
            println!("ok: stratbox would run it");
            Ok(exit::OK)
        }
        args::Command::Report(a) => cli_reports::report(a),
        args::Command::Trades(a) => cli_reports::trades(a),
        args::Command::Grid(a) => {
            let grid = a.load().map_err(Failure::bad_input)?;
            println!("{grid}");
            let names = grid.param_names();
            let shown = a.rows.min(grid.size());
            if shown > 0 {
                println!("\nfirst {shown} strategies:");
                println!("  {:>6}  {}", "id", names.join("  "));
                for id in 0..shown {
                    let v = grid.values(id);
                    let cells: Vec<String> = (0..names.len())
                        .map(|p| format!("{:>w$}", grid.format_value(p, v[p]), w = names[p].len()))
                        .collect();
                    println!("  {id:>6}  {}", cells.join("  "));
                }
            }
            Ok(exit::OK)
        }
    }
}

fn run_and_report(
    cfg: &run::RunConfig,
    quiet: bool,
    mode: args::ProgressArg,
) -> Result<(u8, run::RunSummary), Failure> {
    let mut progress: Box<dyn Progress> = match mode {
        _ if quiet => Box::new(Quiet),
        args::ProgressArg::Json => Box::new(Json {
            out: std::io::stdout(),
        }),
        args::ProgressArg::Lines => Box::new(Lines {
            out: std::io::stderr(),
        }),
        args::ProgressArg::Bar => Box::new(Bar::new(std::io::stderr())),
        args::ProgressArg::Auto if std::io::stderr().is_terminal() => Box::new(Bar::new(std::io::stderr())),
        args::ProgressArg::Auto => Box::new(Lines {
            out: std::io::stderr(),
        }),
    };
    let summary = run::run_until(cfg, progress.as_mut(), &STOP)?;
    let failed: u64 = summary.failures.iter().map(|f| f.len()).sum();
    let phases: Vec<String> = summary
        .phases
        .iter()
        .map(|(name, d)| format!("{name} {:.2}s", d.as_secs_f64()))
        .collect();
    let resumed = if summary.resumed > 0 {
        format!(" | {} batches resumed from a checkpoint", summary.resumed)
    } else {
        String::new()
    };
    eprintln!(
        "Done in {:.2}s ({}) | {} rows written | {} of {} strategies failed | peak RSS {}{resumed} -> {}",
        summary.elapsed.as_secs_f64(),
        phases.join(", "),
        summary.rows_written,
        failed,
        summary.strategies,
        sys::mib(summary.peak_rss),
        summary.output.display()
    );
    if failed > 0 {
        eprintln!("Failed strategies (no rows written for them):");
        for f in &summary.failures {
            eprintln!("  {}..{}: {}", f.range.start, f.range.end, f.reason);
        }
        return Ok((exit::PARTIAL, summary));
    }
    Ok((exit::OK, summary))
}
