//! Reading results back for people: summaries, rankings, trade lists and the HTML report.
//!
//! A results file answers nothing by itself: 13,860 rows need a ranking, counts, a view of how
//! robust the best are to their parameters, and their equity. Everything here starts from a
//! results file ([`table::ResultsTable`]) and, where trades are needed, replays strategies with
//! the native engine under the run's own rules ([`replay`]), checked against the file so that a
//! chart never shows a different run than the table.
//!
//! - [`table`]: the results file as typed columns, and its provenance metadata.
//! - [`rank`]: ranking metrics and the ranked rows at one lot size.
//! - [`summary`]: the counts and the top strategies, as terminal text.
//! - [`stats`]: Spearman's rank correlation.
//! - [`split`]: in-sample / out-of-sample runs and how the in-sample best did out of sample.
//! - [`replay`]: one strategy's trades at a lot size, and the trade list files.
//! - [`charts`]: the numbers behind the report's charts (heatmaps, distribution, equity).
//! - [`luck`]: the report's "Is it luck?" section (SPEC section 7).
//! - [`html`]: the self-contained HTML report.

pub mod charts;
pub mod html;
pub mod luck;
pub mod rank;
pub mod replay;
pub mod split;
pub mod stats;
pub mod summary;
pub mod table;

/// Why a report, summary or trade list could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The user's to fix: a flag, a results file, data.
    #[error("{0}")]
    Input(String),
    /// stratbox could not write its output.
    #[error("{0}")]
    Output(String),
}

impl ReportError {
    pub fn exit(&self) -> crate::Exit {
        match self {
            ReportError::Input(_) => crate::Exit::BadInput,
            ReportError::Output(_) => crate::Exit::Failure,
        }
    }
}
