//! faultline's native format: one JSON object per line (see DESIGN.md).
//!
//! Blank lines are allowed. `index` may be omitted, in which case the
//! event's position is used, so hand-written histories stay short.

use super::{HistoryError, Op};

/// Parses JSON Lines text; errors name `file`, the line and the column.
pub fn parse(text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    let mut ops = Vec::with_capacity(text.len() / 64);
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            HistoryError::parse(file, lineno, e.column(), format!("invalid JSON: {e}"))
        })?;
        let Some(obj) = v.as_object_mut() else {
            return Err(HistoryError::parse(
                file,
                lineno,
                1,
                "expected a JSON object (one operation per line)",
            ));
        };
        if !obj.contains_key("index") {
            obj.insert("index".into(), serde_json::Value::from(ops.len() as u64));
        }
        // Jepsen's "no time" is -1.
        if obj.get("time").and_then(serde_json::Value::as_i64) == Some(-1) {
            obj.remove("time");
        }
        // Elle's transactions may omit `f`: the value is the micro-ops.
        if !obj.contains_key("f") && obj.get("value").is_some_and(super::is_txn_value) {
            obj.insert("f".into(), serde_json::Value::from(super::TXN));
        }
        let mut op: Op = serde_json::from_value(v).map_err(|e| {
            HistoryError::parse(
                file,
                lineno,
                1,
                format!("not an operation: {e} (expected fields index, process, type, f, value)"),
            )
        })?;
        op.line = lineno;
        ops.push(op);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};

    #[test]
    fn reads_ops_and_fills_index() {
        let ops = parse(
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":3,\"key\":\"x\"}\n\n{\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"start\",\"value\":null}\n",
            "a.jsonl",
        )
        .unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].index, 0);
        assert_eq!(ops[0].op_type, OpType::Invoke);
        assert_eq!(ops[0].key, Some(serde_json::json!("x")));
        assert_eq!(ops[1].process, Some(Process::Name("nemesis".into())));
        assert_eq!(ops[1].line, 3);
    }

    #[test]
    fn bad_json_names_line_and_column() {
        let e = parse(
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":0,",
            "b.jsonl",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("b.jsonl:2:"), "{s}");
    }

    #[test]
    fn bad_type_is_an_error() {
        let e = parse(
            "{\"process\":0,\"type\":\"done\",\"f\":\"read\"}",
            "c.jsonl",
        )
        .unwrap_err();
        assert!(e.to_string().contains("c.jsonl:1:"), "{e}");
    }
}
