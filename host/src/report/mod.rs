//! Reading results back for people: summaries, rankings, trade lists and the HTML report.
