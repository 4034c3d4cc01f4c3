//! EDN histories (Jepsen, Knossos, Elle, Porcupine kv). Placeholder: filled in by the readers work.
use super::{HistoryError, Op};

pub fn parse_history(_text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    Err(HistoryError::parse(file, 1, 1, "EDN reader not yet built"))
}
