//! The command's one error type: every failure a command can end with, each knowing its exit
//! code, with its cause kept as the source.

use stratbox::Exit;
use stratbox::data::DataError;
use stratbox::grid::GridError;
use stratbox::report::ReportError;
use stratbox::results::ResultsError;
use stratbox::run::RunError;
use stratbox::sandbox::LoadError;
use stratbox::serve::ServeError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or argument that fails validation (after clap's own parsing).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Grid(#[from] GridError),
    #[error(transparent)]
    Component(#[from] LoadError),
    #[error(transparent)]
    Luck(stratbox::luck::LuckError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// A file stratbox just wrote reads back wrong, or a replay disagrees with its results row:
    /// stratbox's own failure.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Data(_) | Error::Grid(_) | Error::Component(_) => Exit::BadInput,
            Error::Run(e) => e.exit(),
            Error::Results(e) => e.exit(),
            Error::Report(e) => e.exit(),
            Error::Luck(e) => e.exit(),
            Error::Serve(e) => e.exit(),
            Error::Internal(_) => Exit::Failure,
        }
    }
}

/// A validation failure of the user's flags.
pub fn usage(message: impl std::fmt::Display) -> Error {
    Error::Usage(message.to_string())
}
