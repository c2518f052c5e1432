//! The `stratbox` command: a thin entry over the library. Parse (clap), install the Ctrl-C
//! handler, dispatch to the command (`cli/`), print the error if there is one, exit with its
//! documented code ([`stratbox::Exit`]).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <cli::Cli as clap::Parser>::parse();
    cli::install_interrupt_handler();
    match cli::dispatch(&args) {
        Ok(exit) => exit.into(),
        Err(e) => {
            cli::report(&e);
            e.exit().into()
        }
    }
}
