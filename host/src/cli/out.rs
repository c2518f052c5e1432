//! Writing the command's own output. `println!` panics when stdout is a pipe whose reader has
//! gone (`stratbox grid | head -1`: "failed printing to stdout: Broken pipe"); here a closed
//! stdout ends the process quietly with exit 0, as ripgrep does: the reader has what it wanted.
//! Errors writing to stderr are ignored: there is nowhere left to say anything, and the exit
//! code still tells what happened.

use std::fmt;
use std::io::{self, Write};

/// Writes to stdout; a closed pipe exits the process with 0, another write error with 1.
pub fn stdout(args: fmt::Arguments) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        let code = if e.kind() == io::ErrorKind::BrokenPipe {
            stratbox::Exit::Ok
        } else {
            stratbox::Exit::Failure
        };
        std::process::exit(code.code());
    }
}

/// Writes to stderr, ignoring errors.
pub fn stderr(args: fmt::Arguments) {
    let _ = io::stderr().lock().write_fmt(args);
}
