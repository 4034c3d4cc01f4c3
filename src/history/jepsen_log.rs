//! Jepsen log lines and Jepsen's `history.txt`.
//!
//! Jepsen logs each event through the `jepsen.util` logger as process,
//! type, f and value (the value printed as EDN), separated by tabs (shown
//! as spaces below), optionally followed by the error (printed as text).
//! The same text,
//! without the log prefix, is one line of the `history.txt` a Jepsen run
//! stores beside `history.edn`. Every layout Jepsen has used is read:
//!
//! ```text
//! INFO  jepsen.util - 3  :invoke  :cas  [3 0]                        (log4j, 2014-2016)
//! 2014-10-09 12:00:00,000 INFO jepsen.util - 3 :invoke :cas [3 0]     (timestamped)
//! 2017-05-19 15:30:01,234{GMT}  INFO  [jepsen worker 0] jepsen.util: 0  :ok  :read  nil
//! INFO [2020-06-02 15:33:51,841] jepsen worker 1 - jepsen.util 1  :invoke  :txn  [[:r 1 nil]]
//! 3  :invoke  :read  nil                                            (history.txt)
//! ```
//!
//! In a log, the event starts after the logger name and its separator
//! (` - `, `: ` or plain whitespace). Everything else in a log — other
//! loggers, stack traces, free-form `jepsen.util` messages, and the
//! checker's report that a console log prints after the run (`{:valid?
//! false ...}`) — is skipped, because none of it follows `jepsen.util`
//! with a process and an event type. A line that has the shape of an event
//! — a process (integer or keyword) followed by a keyword — but is
//! malformed is an error: silently dropping an event would change the
//! verdict. A value that does not close on its line (a multi-line value)
//! continues on the following lines, up to the next log record.
//!
//! In `history.txt` every line is an event, except that the text of a
//! multi-line error continues on the lines after it.
//!
//! A file that has text but not a single event is an error too, so that a
//! file detected as a log by mistake is not checked as an empty (and so
//! trivially valid) history.

use super::{edn, HistoryError, Op, OpType, Process};
use serde_json::Value;

/// The logger name that precedes every event.
const LOGGER: &str = "jepsen.util";

/// How many lines a multi-line value may span.
const MAX_VALUE_LINES: usize = 1000;

/// Parses a Jepsen log; errors name `file`, the line and the column.
pub fn parse(text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    parse_lines(text, file, Layout::Log)
}

/// Parses a Jepsen `history.txt`; errors name `file`, the line and the column.
pub fn parse_history_txt(text: &str, file: &str) -> Result<Vec<Op>, HistoryError> {
    parse_lines(text, file, Layout::HistoryTxt)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Log,
    HistoryTxt,
}

fn parse_lines(text: &str, file: &str, layout: Layout) -> Result<Vec<Op>, HistoryError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut ops: Vec<Op> = Vec::with_capacity(text.len() / 40 + 1);
    let mut meaningful_lines = 0usize;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let lineno = i + 1;
        i += 1;
        if line.trim().is_empty() {
            continue;
        }
        meaningful_lines += 1;
        let body = match layout {
            Layout::Log => match event_start(line) {
                Some(at) => at,
                None => continue,
            },
            Layout::HistoryTxt => 0,
        };
        match parse_event(&lines, lineno, body, file, ops.len())? {
            Some((op, used)) => {
                i = lineno - 1 + used;
                ops.push(op);
            }
            None if layout == Layout::HistoryTxt => {
                // The text of a multi-line error continues the event before.
                match ops.last_mut() {
                    Some(prev) if prev.error().is_some() => {
                        let mut text = match prev.take_error() {
                            Some(Value::String(s)) => s,
                            Some(other) => other.to_string(),
                            None => String::new(),
                        };
                        text.push('\n');
                        text.push_str(line);
                        prev.set_error(Some(Value::String(text)));
                    }
                    _ => {
                        return Err(HistoryError::parse(
                            file,
                            lineno,
                            1,
                            "expected an event: PROCESS, :TYPE, :F and VALUE separated by tabs (such as `3\t:invoke\t:read\tnil`)",
                        ))
                    }
                }
            }
            None => {}
        }
    }
    if ops.is_empty() && meaningful_lines > 0 {
        return Err(HistoryError::parse(
            file,
            1,
            1,
            format!(
                "no Jepsen events found: expected lines like `INFO jepsen.util - 3 :invoke :read nil` or `3\t:invoke\t:read\tnil` ({meaningful_lines} lines of other text)"
            ),
        ));
    }
    Ok(ops)
}

/// True when `line` starts like a `history.txt` event: a process (an
/// integer or a keyword) and an event type (`:invoke`, `:ok`, `:fail`,
/// `:info`), separated by whitespace.
pub(crate) fn looks_like_event(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let process = words.next().unwrap_or("");
    let is_process = process.parse::<i64>().is_ok()
        || process
            .strip_prefix(':')
            .is_some_and(|n| !n.is_empty() && !n.starts_with(':'));
    is_process
        && words
            .next()
            .and_then(|t| t.strip_prefix(':'))
            .and_then(OpType::parse)
            .is_some()
}

/// Where the event starts in a log line: just after `jepsen.util` and its
/// separator (` - `, `: ` or whitespace). `None` when the line has no such
/// logger.
fn event_start(line: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = line[from..].find(LOGGER) {
        let end = from + found + LOGGER.len();
        let after = &line[end..];
        let trimmed = after.trim_start();
        if trimmed.len() < after.len() {
            // Whitespace after the logger; then maybe `-` or `:` and more.
            let sep_at = end + (after.len() - trimmed.len());
            for sep in ['-', ':'] {
                if let Some(rest) = trimmed.strip_prefix(sep) {
                    if rest.starts_with(char::is_whitespace) {
                        return Some(sep_at + 1);
                    }
                }
            }
            return Some(end);
        }
        if let Some(rest) = after.strip_prefix(':') {
            if rest.starts_with(char::is_whitespace) {
                return Some(end + 1);
            }
        }
        from = end;
    }
    None
}

/// True when `line` starts a new log record (a level or a timestamp
/// first), which ends a multi-line value.
fn starts_log_record(line: &str) -> bool {
    let t = line.trim_start();
    ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
        .iter()
        .any(|l| t.starts_with(l))
        || t.as_bytes().first().is_some_and(u8::is_ascii_digit) && t.contains(LOGGER)
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

/// True for an EDN error that ran out of text inside a value.
fn unclosed(e: &HistoryError) -> bool {
    matches!(e, HistoryError::Parse { message, .. } if message.ends_with("found end of input"))
}

/// Reads the event that starts at byte `from` of line `lineno` (1-based)
/// of `lines`: `Ok(None)` when the text there is not an event; otherwise
/// the event and the number of lines it took (more than one for a value
/// that continues on the following lines).
fn parse_event(
    lines: &[&str],
    lineno: usize,
    from: usize,
    file: &str,
    position: usize,
) -> Result<Option<(Op, usize)>, HistoryError> {
    let line = lines[lineno - 1];
    let err =
        |at: usize, message: String| HistoryError::parse(file, lineno, column(line, at), message);

    let Some((proc_tok, proc_at)) = field(line, from) else {
        return Ok(None);
    };
    let process = if let Some(name) = proc_tok.strip_prefix(':') {
        if name.is_empty() {
            return Ok(None);
        }
        Process::name(super::Name::new(name))
    } else if let Ok(id) = proc_tok.parse::<i64>() {
        Process::id(id)
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
    let mut used_lines = 1;
    let (value, error) = if value_text.trim().is_empty() {
        (Value::Null, None)
    } else {
        let located = |e: HistoryError| match e {
            HistoryError::Parse {
                column, message, ..
            } => HistoryError::parse(
                file,
                lineno,
                column + column_offset(line, value_from),
                format!("in the event's value: {message}"),
            ),
            other => other,
        };
        let mut joined: Option<String> = None;
        let (value, used) = loop {
            let text = joined.as_deref().unwrap_or(value_text);
            match edn::parse_value_prefix(text, file) {
                Ok(found) => break found,
                Err(e) if unclosed(&e) => {
                    // A multi-line value: take the next line, unless it is
                    // a new log record or the value has gone on too long.
                    let next = lineno - 1 + used_lines;
                    match lines.get(next) {
                        Some(more) if used_lines < MAX_VALUE_LINES && !starts_log_record(more) => {
                            let mut t = joined.take().unwrap_or_else(|| value_text.to_string());
                            t.push('\n');
                            t.push_str(more);
                            joined = Some(t);
                            used_lines += 1;
                        }
                        _ => {
                            // Report where the value began, on this line.
                            return Err(located(
                                edn::parse_value_prefix(value_text, file).err().unwrap_or(e),
                            ));
                        }
                    }
                }
                Err(e) => {
                    return Err(if joined.is_some() {
                        HistoryError::parse(
                            file,
                            lineno,
                            column(line, value_from),
                            format!(
                                "in the event's value (which continues over {used_lines} lines): {e}"
                            ),
                        )
                    } else {
                        located(e)
                    })
                }
            }
        };
        let text = joined.as_deref().unwrap_or(value_text);
        // Anything after the value is the error, printed by Jepsen with
        // `str` rather than as EDN, so it is kept as text.
        let tail = text[used..].trim();
        let error = (!tail.is_empty()).then(|| {
            edn::parse_value(tail, file).unwrap_or_else(|_| Value::String(tail.to_string()))
        });
        (value, error)
    };

    let mut op = Op::new(position as u64, process, op_type, f, value);
    op.set_error(error);
    op.line = (lineno) as u32;
    Ok(Some((op, used_lines)))
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
        assert_eq!(ops[0].process, Some(Process::id(0)));
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
        assert_eq!(ops[1].process, Some(Process::name("nemesis")));
        assert_eq!(ops[1].value, json!("Cut off {:n1 #{:n2}}"));
        assert_eq!(ops[1].index, 1);
        assert_eq!(ops[2].op_type, OpType::Info);
        assert_eq!(ops[2].error(), Some(&json!("indeterminate: timeout")));
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
    fn reads_todays_layout_where_the_logger_is_followed_by_a_space() {
        let text = "\
INFO [2020-06-02 15:33:51,800] jepsen test runner - jepsen.core Relative time begins now
INFO [2020-06-02 15:33:51,841] jepsen worker 1 - jepsen.util 1 :invoke :txn [[:r 1 nil]]
INFO [2020-06-02 15:33:51,842] jepsen nemesis - jepsen.util :nemesis\t:info\t:start\t[:isolated {\"n1\" #{}}]
INFO [2020-06-02 15:33:51,845] jepsen worker 1 - jepsen.util 1\t:ok\t:txn\t[[:r 1 [2]]]
WARN [2020-06-02 15:33:51,846] jepsen worker 0 - jepsen.util Process 0 crashed
";
        let ops = parse(text, "j.log").unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!((ops[0].line, ops[0].f.as_str()), (2, "txn"));
        assert_eq!(ops[0].value, json!([["r", 1, null]]));
        assert_eq!(ops[1].process, Some(Process::name("nemesis")));
        assert_eq!(ops[1].value, json!(["isolated", {"n1": []}]));
        assert_eq!(ops[2].value, json!([["r", 1, [2]]]));
    }

    #[test]
    fn a_value_may_continue_on_the_next_lines() {
        let text = "\
INFO  jepsen.util - :nemesis\t:info\t:start\t{:n1 [:n2
  :n3],
 :n2 [:n1]}
INFO  jepsen.util - 0\t:invoke\t:read\tnil
INFO  jepsen.util - 0\t:ok\t:read\t[1
INFO  jepsen.util - 1\t:invoke\t:read\tnil
";
        let e = parse(text, "m.log").unwrap_err().to_string();
        // The first value spans lines 1-3; the second never closes.
        assert!(
            e.starts_with("m.log:5:") && e.contains("end of input"),
            "{e}"
        );
        let ops = parse(&text.replace("[1\n", "[1]\n"), "m.log").unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(ops[0].value, json!({"n1": ["n2", "n3"], "n2": ["n1"]}));
        assert_eq!(
            ops.iter().map(|o| o.line).collect::<Vec<_>>(),
            vec![1, 4, 5, 6]
        );
    }

    #[test]
    fn a_console_log_stops_at_events_not_at_the_report() {
        let text = "\
lein test jepsen.etcd-test
INFO  jepsen.core - Worker 0 starting
INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.core - Run complete, writing
INFO  jepsen.core - Analyzing...
{:valid? false,
 :configs ({:model {:value 1}, :last-op {:process 0, :type :ok, :f :write, :value 1}}),
 :op {:process 1, :type :ok, :f :read, :value 3}}
Analysis invalid! (x_x)
";
        let ops = parse(text, "c.log").unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[1].line, 4);
    }

    #[test]
    fn reads_history_txt() {
        let text = "\
:nemesis\t:info\t:start-partition\t:majorities-ring
1\t:invoke\t:add\t3
2\t:invoke\t:read\tnil
1\t:info\t:add\t3\tindeterminate: java.net.SocketTimeoutException: Read timed out
\tat java.net.SocketInputStream.socketRead0(Native Method)
2\t:ok\t:read\t#{3}
";
        let ops = parse_history_txt(text, "history.txt").unwrap();
        assert_eq!(ops.len(), 5);
        assert_eq!(ops[0].value, json!("majorities-ring"));
        assert_eq!(ops[3].op_type, OpType::Info);
        assert_eq!(
            ops[3].error(),
            Some(&json!("indeterminate: java.net.SocketTimeoutException: Read timed out\n\tat java.net.SocketInputStream.socketRead0(Native Method)"))
        );
        assert_eq!(ops[4].value, json!([3]));
        assert_eq!(ops[4].line, 6);
        let e = parse_history_txt("1\t:invoke\t:add\t3\nhello\n", "h.txt")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("h.txt:2:1:") && e.contains("expected an event"),
            "{e}"
        );
        assert!(looks_like_event("3\t:invoke\t:read\tnil"));
        assert!(looks_like_event(":nemesis :info :start nil"));
        assert!(!looks_like_event("3 :done :read nil"));
        assert!(!looks_like_event("INFO jepsen.util - 3 :invoke :read nil"));
    }

    #[test]
    fn text_without_events_is_an_error() {
        let e = parse("hello\nworld\n", "x.txt").unwrap_err().to_string();
        assert!(e.contains("no Jepsen events found"), "{e}");
    }
}
