//! Jepsen log lines. Placeholder: filled in by the readers work.
use super::{HistoryError, Op};

pub fn parse(_text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    Err(HistoryError::parse(
        file,
        1,
        1,
        "Jepsen log reader not yet built",
    ))
}
