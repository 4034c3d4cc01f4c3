//! A client that follows the primary: `tokio-postgres` with every node
//! listed and `target_session_attrs = read-write`, as libpq does it: the
//! nodes are tried in turn (the worker's own first) and the first that
//! says `transaction_read_only = off` is kept. Nothing is re-checked while
//! the connection lives, so a worker on a primary that has been cut off
//! from the other nodes keeps writing to it, as an application would,
//! until PostgreSQL there stops or refuses; then the connection is dropped
//! and the next operation looks for the primary again.
//!
//! Operations, one autocommit statement each:
//! - set: `add` inserts a row `(key, element)` into `elems`, `read` selects
//!   the key's elements;
//! - register: `write` is an upsert into `regs`, `read` a select, `cas
//!   [old, new]` an `UPDATE .. WHERE v = old` that must touch one row.
//!
//! With `reads = "local"` reads go to the worker's own node instead, over a
//! second connection that takes any role (a hot standby answers from what
//! it has replayed).
//!
//! How an outcome is classified:
//! - a read that did not answer is `fail` (it changed nothing);
//! - a write refused with an `ERROR` (read-only standby, failed compare,
//!   ...) is `fail`: PostgreSQL rolled the statement back;
//! - a write that got no answer, or a `FATAL`/`PANIC`, or an error of class
//!   08 (connection) or 57 (operator intervention), is `info`: a server
//!   shutting down ends backends that were waiting for a synchronous
//!   standby *after* their commit was written locally, so such an error
//!   does not say the write was not applied;
//! - no node accepting writes is `fail` (nothing was sent).
//!
//! Every operation, connecting included, runs under one deadline, the
//! runner's op timeout less a margin; a connection that timed out is
//! dropped, and its connection task with it.

use super::ReadsFrom;
use crate::client::{Client, ClientFactory, Completion, Invocation};
use crate::workload::WorkloadKind;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_postgres::config::TargetSessionAttrs;
use tokio_postgres::NoTls;

/// How much earlier than the runner's op timeout an operation gives up.
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

/// How long one node may take to accept a connection before the next is
/// tried.
const PER_NODE_CONNECT: Duration = Duration::from_millis(700);

/// Opens [`PatroniClient`]s for nodes by name.
#[derive(Clone, Debug)]
pub struct PatroniClientFactory {
    /// node → (address, port)
    pub endpoints: BTreeMap<String, (String, u16)>,
    pub workload: WorkloadKind,
    pub op_timeout: Duration,
    pub reads: ReadsFrom,
}

impl PatroniClientFactory {
    /// A client for a worker on `node`; it connects at its first operation,
    /// so a worker opened while no node accepts writes still runs.
    pub fn client(&self, node: &str) -> anyhow::Result<PatroniClient> {
        let own = self
            .endpoints
            .get(node)
            .ok_or_else(|| anyhow::anyhow!("no PostgreSQL endpoint for node {node}"))?
            .clone();
        // Own node first, then the others in order after it.
        let names: Vec<&String> = self.endpoints.keys().collect();
        let at = names.iter().position(|n| *n == node).unwrap_or(0);
        let order = names[at..]
            .iter()
            .chain(names[..at].iter())
            .filter_map(|n| self.endpoints.get(*n).cloned())
            .collect();
        Ok(PatroniClient {
            all: order,
            own,
            primary: None,
            local: None,
            workload: self.workload,
            op_timeout: self.op_timeout,
            reads: self.reads,
        })
    }
}

#[async_trait::async_trait]
impl ClientFactory for PatroniClientFactory {
    async fn open(&self, node: &str, _process: i64) -> anyhow::Result<Box<dyn Client>> {
        Ok(Box::new(self.client(node)?))
    }
}

/// A connection and the task that drives it (aborted with it).
struct Conn {
    client: tokio_postgres::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects to the first of `hosts` that fits `attrs`.
async fn connect(
    hosts: &[(String, u16)],
    attrs: TargetSessionAttrs,
    budget: Duration,
) -> Result<Conn, String> {
    let mut config = tokio_postgres::Config::new();
    for (h, p) in hosts {
        config.host(h).port(*p);
    }
    config
        .user("postgres")
        .dbname("postgres")
        .connect_timeout(PER_NODE_CONNECT.min(budget))
        .target_session_attrs(attrs);
    let (client, connection) = config.connect(NoTls).await.map_err(|e| describe(&e))?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Conn { client, task })
}

fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Whether a failed write may have been applied: only a plain `ERROR`
/// answer, outside the connection (08) and operator intervention (57)
/// classes, says it was not.
pub fn write_may_have_applied(severity: Option<&str>, sqlstate: Option<&str>) -> bool {
    match (severity, sqlstate) {
        (Some("ERROR"), Some(code)) => code.starts_with("08") || code.starts_with("57"),
        _ => true,
    }
}

fn from_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// How a statement ended without a result.
enum Outcome {
    /// Certainly not applied (or a read: nothing to apply).
    Refused(String),
    /// It may have been applied.
    Unknown(String),
}

/// What a statement does.
enum Stmt {
    Read,
    Write,
}

/// One worker's connections.
pub struct PatroniClient {
    /// Every node, the worker's own first.
    all: Vec<(String, u16)>,
    own: (String, u16),
    primary: Option<Conn>,
    local: Option<Conn>,
    workload: WorkloadKind,
    op_timeout: Duration,
    reads: ReadsFrom,
}

impl PatroniClient {
    /// Runs `sql` with `params` on the primary (or, for a read with local
    /// reads, on the worker's own node) under the op deadline: the rows
    /// (for a query) or the rows touched.
    async fn run(
        &mut self,
        stmt: Stmt,
        sql: &str,
        params: &[String],
    ) -> Result<Result<Vec<tokio_postgres::Row>, u64>, Outcome> {
        let budget = self.op_timeout.saturating_sub(DEADLINE_MARGIN);
        let deadline = tokio::time::Instant::now() + budget;
        let local = matches!(stmt, Stmt::Read) && self.reads == ReadsFrom::Local;
        let slot_empty = if local {
            self.local.as_ref().is_none_or(|c| c.client.is_closed())
        } else {
            self.primary.as_ref().is_none_or(|c| c.client.is_closed())
        };
        if slot_empty {
            let (hosts, attrs, what) = if local {
                (
                    vec![self.own.clone()],
                    TargetSessionAttrs::Any,
                    "the worker's node",
                )
            } else {
                (
                    self.all.clone(),
                    TargetSessionAttrs::ReadWrite,
                    "a node that accepts writes",
                )
            };
            let c = match tokio::time::timeout_at(deadline, connect(&hosts, attrs, budget)).await {
                Ok(Ok(c)) => c,
                // Nothing was sent.
                Ok(Err(e)) => return Err(Outcome::Refused(format!("connecting to {what}: {e}"))),
                Err(_) => return Err(Outcome::Refused(format!("connecting to {what} timed out"))),
            };
            if local {
                self.local = Some(c);
            } else {
                self.primary = Some(c);
            }
        }
        let slot = if local {
            &mut self.local
        } else {
            &mut self.primary
        };
        let Some(conn) = slot.as_ref() else {
            return Err(Outcome::Refused("not connected".into()));
        };
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let r = match stmt {
            Stmt::Read => tokio::time::timeout_at(deadline, conn.client.query(sql, &refs))
                .await
                .map(|r| r.map(Ok)),
            Stmt::Write => tokio::time::timeout_at(deadline, conn.client.execute(sql, &refs))
                .await
                .map(|r| r.map(Err)),
        };
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                // Whatever went wrong, the next operation starts afresh
                // (a refused write may mean this node is no longer primary).
                *slot = None;
                let db = e.as_db_error();
                let may =
                    write_may_have_applied(db.map(|d| d.severity()), db.map(|d| d.code().code()));
                Err(match stmt {
                    Stmt::Write if may => Outcome::Unknown(describe(&e)),
                    _ => Outcome::Refused(describe(&e)),
                })
            }
            Err(_) => {
                *slot = None;
                Err(match stmt {
                    Stmt::Write => Outcome::Unknown("timeout".into()),
                    Stmt::Read => Outcome::Refused("timeout".into()),
                })
            }
        }
    }

    fn key(op: &Invocation) -> String {
        op.key
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_else(|| "null".into())
    }

    fn write_completion(r: Result<(), Outcome>, value: &Value) -> Completion {
        match r {
            Ok(()) => Completion::ok(value.clone()),
            Err(Outcome::Refused(m)) => Completion::fail(value.clone(), m),
            Err(Outcome::Unknown(m)) => Completion::info(value.clone(), m),
        }
    }

    async fn set(&mut self, op: &Invocation) -> Completion {
        let key = Self::key(op);
        match op.f.as_str() {
            "add" => {
                let r = self
                    .run(
                        Stmt::Write,
                        "INSERT INTO elems (k, v) VALUES ($1, $2)",
                        &[key, op.value.to_string()],
                    )
                    .await
                    .map(|_| ());
                Self::write_completion(r, &op.value)
            }
            "read" => {
                let r = self
                    .run(Stmt::Read, "SELECT v FROM elems WHERE k = $1", &[key])
                    .await;
                match r {
                    Ok(Ok(rows)) => {
                        let mut items = Vec::with_capacity(rows.len());
                        for row in rows {
                            match row.try_get::<_, String>(0) {
                                Ok(s) => items.push(from_text(&s)),
                                Err(e) => {
                                    return Completion::fail(Value::Null, format!("bad row: {e}"))
                                }
                            }
                        }
                        items.sort_by(|a, b| {
                            (a.as_i64(), a.to_string()).cmp(&(b.as_i64(), b.to_string()))
                        });
                        Completion::ok(Value::Array(items))
                    }
                    Ok(Err(_)) => Completion::fail(Value::Null, "a read returned no rows"),
                    Err(Outcome::Refused(m)) | Err(Outcome::Unknown(m)) => {
                        Completion::fail(Value::Null, m)
                    }
                }
            }
            other => Completion::fail(op.value.clone(), format!("unsupported operation {other}")),
        }
    }

    async fn register(&mut self, op: &Invocation) -> Completion {
        let key = Self::key(op);
        match op.f.as_str() {
            "read" => {
                let r = self
                    .run(Stmt::Read, "SELECT v FROM regs WHERE k = $1", &[key])
                    .await;
                match r {
                    Ok(Ok(rows)) => match rows.first().map(|r| r.try_get::<_, String>(0)) {
                        None => Completion::ok(Value::Null),
                        Some(Ok(s)) => Completion::ok(from_text(&s)),
                        Some(Err(e)) => Completion::fail(Value::Null, format!("bad row: {e}")),
                    },
                    Ok(Err(_)) => Completion::fail(Value::Null, "a read returned no rows"),
                    Err(Outcome::Refused(m)) | Err(Outcome::Unknown(m)) => {
                        Completion::fail(Value::Null, m)
                    }
                }
            }
            "write" => {
                let r = self
                    .run(
                        Stmt::Write,
                        "INSERT INTO regs AS r (k, v) VALUES ($1, $2) \
                         ON CONFLICT (k) DO UPDATE SET v = $2",
                        &[key, op.value.to_string()],
                    )
                    .await
                    .map(|_| ());
                Self::write_completion(r, &op.value)
            }
            "cas" => {
                let Some([old, new]) = op
                    .value
                    .as_array()
                    .and_then(|a| <&[Value; 2]>::try_from(a.as_slice()).ok())
                else {
                    return Completion::fail(op.value.clone(), "cas needs [expected, new]");
                };
                let r = self
                    .run(
                        Stmt::Write,
                        "UPDATE regs SET v = $3 WHERE k = $1 AND v = $2",
                        &[key, old.to_string(), new.to_string()],
                    )
                    .await;
                match r {
                    Ok(Err(1)) => Completion::ok(op.value.clone()),
                    Ok(Err(0)) => Completion::fail(op.value.clone(), "compare failed"),
                    Ok(Err(n)) => Completion::info(
                        op.value.clone(),
                        format!("cas updated {n} rows of one key"),
                    ),
                    Ok(Ok(_)) => Completion::info(op.value.clone(), "cas answered rows"),
                    Err(Outcome::Refused(m)) => Completion::fail(op.value.clone(), m),
                    Err(Outcome::Unknown(m)) => Completion::info(op.value.clone(), m),
                }
            }
            other => Completion::fail(op.value.clone(), format!("unsupported operation {other}")),
        }
    }
}

#[async_trait::async_trait]
impl Client for PatroniClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        match self.workload {
            WorkloadKind::Set => self.set(op).await,
            WorkloadKind::Register => self.register(op).await,
            _ => Completion::fail(
                op.value.clone(),
                format!(
                    "db = \"patroni\" does not run `{}` in a {} workload",
                    op.f,
                    self.workload.as_str()
                ),
            ),
        }
    }

    async fn close(&mut self) {
        self.primary = None;
        self.local = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_error_says_not_applied() {
        // Read-only standby, failed constraint: rolled back.
        assert!(!write_may_have_applied(Some("ERROR"), Some("25006")));
        assert!(!write_may_have_applied(Some("ERROR"), Some("23505")));
        // Shutdown while waiting for the synchronous standby: the commit
        // record may already be written.
        assert!(write_may_have_applied(Some("FATAL"), Some("57P01")));
        assert!(write_may_have_applied(Some("ERROR"), Some("57014")));
        assert!(write_may_have_applied(Some("ERROR"), Some("08006")));
        // No answer at all.
        assert!(write_may_have_applied(None, None));
    }

    #[tokio::test]
    async fn no_node_accepting_writes_is_a_failed_write() {
        // Port 1 on loopback: nothing listens.
        let f = PatroniClientFactory {
            endpoints: [("n1".to_string(), ("127.0.0.1".to_string(), 1))].into(),
            workload: WorkloadKind::Set,
            op_timeout: Duration::from_secs(1),
            reads: ReadsFrom::Primary,
        };
        assert!(f.client("n9").is_err());
        let mut c = f.client("n1").unwrap();
        let add = Invocation {
            f: "add".into(),
            key: Some(serde_json::json!(0)),
            value: serde_json::json!(7),
        };
        let done = c.invoke(&add).await;
        assert_eq!(done.op_type, crate::history::OpType::Fail, "{done:?}");
        let read = Invocation {
            f: "read".into(),
            key: Some(serde_json::json!(0)),
            value: Value::Null,
        };
        let done = c.invoke(&read).await;
        assert_eq!(done.op_type, crate::history::OpType::Fail, "{done:?}");
    }
}
