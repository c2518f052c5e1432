//! Tests of the summary, `stratbox trades`, `stratbox report` and `discover --split`.
