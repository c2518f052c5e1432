//! The exit codes of the `stratbox` command: a documented public type, so that scripts, job
//! arrays and tests name them instead of repeating numbers (the README's table is this file).

/// What the process's exit status says about a run. The numbers are part of the public interface
/// and never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Exit {
    /// Everything ran and was written.
    Ok = 0,
    /// stratbox itself failed (for example the output cannot be written).
    Failure = 1,
    /// Bad input: arguments, data file, grid or component refused; nothing was run or written.
    BadInput = 2,
    /// Partial: some strategies failed (listed, with reasons); every other row was written.
    Partial = 3,
    /// Interrupted (Ctrl-C): finished batches are saved; the same command resumes.
    Interrupted = 4,
}

impl Exit {
    /// The number the process exits with.
    pub const fn code(self) -> i32 {
        self as i32
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
