//! Jepsen log lines, the format of Jepsen's `jepsen.log` and of the etcd
//! histories that Porcupine and other checkers ship:
//!
//! ```text
//! INFO  jepsen.util - 3  :invoke  :cas  [3 0]
//! 2017-05-19 15:30:01,234{GMT}  INFO  [jepsen worker 0] jepsen.util: 0  :ok  :read  nil
//! ```
//!
//! Jepsen logs each event as process, type, f and value (printed as EDN),
//! separated by tabs (shown as spaces above), optionally followed by the error. Everything else in a
//! log (other loggers, timestamps, stack traces, free-form `jepsen.util`
//! messages) is skipped. A line that has the shape of an event — a process
//! (integer or keyword) followed by a keyword — but is malformed is an error:
//! silently dropping an event would change the verdict.
//!
//! A file that has text but not a single event is an error too, so that a
//! file detected as a log by mistake is not checked as an empty (and so
//! trivially valid) history.

use super::{edn, HistoryError, Op, OpType, Process};
use serde_json::Value;

/// The logger name that precedes every event.
const LOGGER: &str = "jepsen.util";

/// Parses a Jepsen log; errors name `file`, the line and the column.
pub fn parse(text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    let mut ops = Vec::with_capacity(text.len() / 40 + 1);
    let mut meaningful_lines = 0usize;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        meaningful_lines += 1;
        if let Some(op) = parse_line(line, lineno, file, ops.len())? {
            ops.push(op);
        }
    }
    if ops.is_empty() && meaningful_lines > 0 {
        return Err(HistoryError::parse(
            file,
            1,
            1,
            format!(
                "no Jepsen events found: expected lines like `INFO jepsen.util - 3 :invoke :read nil` ({meaningful_lines} lines of other text)"
            ),
        ));
    }
    Ok(ops)
}

/// 1-based character column of byte offset `at` in `line`.
fn column(line: &str, at: usize) -> usize {
    line.get(..at).map_or(at, |s| s.chars().count()) + 1
}

/// Splits off the next whitespace-separated field of `line` starting at
/// byte `from`; returns the field and its start.
fn field(line: &str, from: usize) -> Option<(&str, usize)> {
    let rest = line.get(from..)?;
    let trimmed = rest.trim_start();
    if trimmed.is_empty() {
        return None;
    }
    let start = from + (rest.len() - trimmed.len());
    let end = trimmed
        .find(|c: char| c.is_whitespace())
        .unwrap_or(trimmed.len());
    Some((&trimmed[..end], start))
}

/// Reads one line: `Ok(None)` for lines that are not events.
fn parse_line(
    line: &str,
    lineno: usize,
    file: &str,
    position: usize,
) -> Result<Option<Op>, HistoryError> {
    let Some(at) = line.find(LOGGER) else {
        return Ok(None);
    };
    // After the logger: " - " (log4j's default layout) or ": " (Jepsen's own).
    let mut rest = at + LOGGER.len();
    let after = &line[rest..];
    let sep = after.trim_start();
    let sep_at = rest + (after.len() - sep.len());
    if let Some(s) = sep.strip_prefix('-').or_else(|| sep.strip_prefix(':')) {
        if !s.starts_with(char::is_whitespace) {
            return Ok(None);
        }
        rest = sep_at + 1;
    } else {
        return Ok(None);
    }
    let err =
        |at: usize, message: String| HistoryError::parse(file, lineno, column(line, at), message);

    let Some((proc_tok, proc_at)) = field(line, rest) else {
        return Ok(None);
    };
    let process = if let Some(name) = proc_tok.strip_prefix(':') {
        if name.is_empty() {
            return Ok(None);
        }
        Process::Name(name.to_string())
    } else if let Ok(id) = proc_tok.parse::<i64>() {
        Process::Id(id)
    } else {
        // Free-form message from jepsen.util, not an event.
        return Ok(None);
    };
    let Some((type_tok, type_at)) = field(line, proc_at + proc_tok.len()) else {
        return Ok(None);
    };
    let Some(type_name) = type_tok.strip_prefix(':') else {
        return Ok(None);
    };
    let op_type = OpType::parse(type_name).ok_or_else(|| {
        err(
            type_at,
            format!("expected the event type :invoke, :ok, :fail or :info, found `{type_tok}`"),
        )
    })?;
    let Some((f_tok, f_at)) = field(line, type_at + type_tok.len()) else {
        return Err(err(
            line.len(),
            "expected the function (such as :read) after the event type, found end of line"
                .to_string(),
        ));
    };
    let f = f_tok.strip_prefix(':').unwrap_or(f_tok);
    if f.is_empty() {
        return Err(err(
            f_at,
            format!("expected a function name, found `{f_tok}`"),
        ));
    }

    let value_from = f_at + f_tok.len();
    let value_text = &line[value_from..];
    let (value, error) = if value_text.trim().is_empty() {
        (Value::Null, None)
    } else {
        let (value, used) = edn::parse_value_prefix(value_text, file).map_err(|e| match e {
            HistoryError::Parse {
                column, message, ..
            } => HistoryError::parse(
                file,
                lineno,
                column + column_offset(line, value_from),
                format!("in the event's value: {message}"),
            ),
            other => other,
        })?;
        // Anything after the value is the error, printed by Jepsen with
        // `str` rather than as EDN, so it is kept as text.
        let tail = value_text[used..].trim();
        let error = (!tail.is_empty()).then(|| {
            edn::parse_value(tail, file).unwrap_or_else(|_| Value::String(tail.to_string()))
        });
        (value, error)
    };

    let mut op = Op::new(position as u64, process, op_type, f, value);
    op.error = error;
    op.line = lineno;
    Ok(Some(op))
}

/// Characters before byte `at` in `line`.
fn column_offset(line: &str, at: usize) -> usize {
    column(line, at) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_events_with_tabs_or_spaces() {
        let text = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 2   :invoke :cas    [3 0]\nINFO  jepsen.util - 0\t:ok\t:read\t3\nINFO  jepsen.util - 2\t:fail\t:cas\t[3 0]\n";
        let ops = parse(text, "e.log").unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(ops[0].process, Some(Process::Id(0)));
        assert_eq!(ops[0].op_type, OpType::Invoke);
        assert_eq!(ops[0].f, "read");
        assert_eq!(ops[0].value, Value::Null);
        assert_eq!(ops[1].value, json!([3, 0]));
        assert_eq!(ops[1].f, "cas");
        assert_eq!(ops[2].value, json!(3));
        assert_eq!(ops[3].op_type, OpType::Fail);
        assert_eq!(
            ops.iter().map(|o| (o.index, o.line)).collect::<Vec<_>>(),
            vec![(0, 1), (1, 2), (2, 3), (3, 4)]
        );
    }

    #[test]
    fn skips_other_log_output_and_reads_timestamped_lines() {
        let text = "\
2017-05-19 15:30:00,001{GMT}\tINFO\t[main] jepsen.core: Running test
2017-05-19 15:30:00,002{GMT}\tINFO\t[main] jepsen.util: Relative time begins now
2017-05-19 15:30:01,234{GMT}\tINFO\t[jepsen worker 0] jepsen.util: 0\t:invoke\t:read\tnil
java.lang.RuntimeException: boom
\tat jepsen.util$foo.invoke(util.clj:12)
2017-05-19 15:30:01,240{GMT}\tINFO\t[jepsen nemesis] jepsen.util: :nemesis\t:info\t:start\t\"Cut off {:n1 #{:n2}}\"
2017-05-19 15:30:01,300{GMT}\tINFO\t[jepsen worker 0] jepsen.util: 0\t:info\t:read\tnil\tindeterminate: timeout
";
        let ops = parse(text, "j.log").unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].line, 3);
        assert_eq!(ops[1].process, Some(Process::Name("nemesis".into())));
        assert_eq!(ops[1].value, json!("Cut off {:n1 #{:n2}}"));
        assert_eq!(ops[1].index, 1);
        assert_eq!(ops[2].op_type, OpType::Info);
        assert_eq!(ops[2].error, Some(json!("indeterminate: timeout")));
    }

    #[test]
    fn malformed_event_lines_are_errors() {
        let e = parse("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 3\t:done\t:read\tnil\n", "e.log")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("e.log:2:23:") && e.contains("`:done`"), "{e}");
        let e = parse("INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0\n", "e.log")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("e.log:1:") && e.contains("in the event's value"),
            "{e}"
        );
        let e = parse("INFO  jepsen.util - 3\t:invoke\n", "e.log")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected the function"), "{e}");
    }

    #[test]
    fn empty_file_is_an_empty_history() {
        assert!(parse("", "empty.log").unwrap().is_empty());
        assert!(parse("\n\n", "empty.log").unwrap().is_empty());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(s in "(INFO  jepsen.util - [:0-9a-z]{0,3}[ \t]{1,2}[:a-z]{0,7}[ \t][:a-z]{0,5}[ \t]?[\\[\\]{}#\"0-9 é]{0,8}\n){0,4}") {
            let _ = parse(&s, "p.log");
        }
    }

    #[test]
    fn text_without_events_is_an_error() {
        let e = parse("hello\nworld\n", "x.txt").unwrap_err().to_string();
        assert!(e.contains("no Jepsen events found"), "{e}");
    }
}
