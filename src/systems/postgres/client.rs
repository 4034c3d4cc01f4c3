//! Transactions on PostgreSQL with `tokio-postgres` (async, one connection
//! per worker).
//!
//! A `txn` op is one SQL transaction at the configured isolation level:
//! `BEGIN ISOLATION LEVEL ..`, one statement per micro-op, `COMMIT`.
//! - `["append", k, v]`: `INSERT .. ON CONFLICT DO UPDATE SET v = v || x` on
//!   `lists` (an array of JSON texts);
//! - `["r", k, _]`: the list (list-append) or the register (rw-register),
//!   `null` when the key has no row;
//! - `["w", k, v]`: an upsert on `regs`.
//!
//! How an outcome is classified (the history's honesty depends on it):
//! - any error before `COMMIT` was sent is `fail`: the transaction is open
//!   on the server and can only roll back (the connection is dropped when in
//!   doubt, which aborts it);
//! - an error *response* to `COMMIT` (a serialization failure, SQLSTATE
//!   40001, or a deadlock, 40P01) is `fail`: the server rolled it back;
//! - a `COMMIT` with no response (connection lost, deadline) is `info`.
//!
//! The whole transaction runs under one deadline, the runner's op timeout
//! less a margin, so the client answers before the runner gives up on it.

use super::Isolation;
use crate::client::{Client, ClientFactory, Completion, Invocation};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_postgres::{NoTls, Statement};

/// How much earlier than the runner's op timeout a transaction gives up.
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

/// Opens [`PgClient`]s for nodes by name.
#[derive(Clone, Debug)]
pub struct PgClientFactory {
    /// node → (address, port)
    pub endpoints: BTreeMap<String, (String, u16)>,
    pub isolation: Isolation,
    pub op_timeout: Duration,
    /// List-append (reads read `lists`) rather than rw-register (`regs`).
    pub lists: bool,
}

impl PgClientFactory {
    /// A connected client for `node`.
    pub async fn connect(&self, node: &str) -> anyhow::Result<PgClient> {
        let (host, port) = self
            .endpoints
            .get(node)
            .ok_or_else(|| anyhow::anyhow!("no PostgreSQL endpoint for node {node}"))?;
        let conn = Conn::open(host, *port, self.op_timeout).await?;
        Ok(PgClient {
            conn: Some(conn),
            host: host.clone(),
            port: *port,
            isolation: self.isolation,
            op_timeout: self.op_timeout,
            lists: self.lists,
        })
    }
}

#[async_trait::async_trait]
impl ClientFactory for PgClientFactory {
    async fn open(&self, node: &str, _process: i64) -> anyhow::Result<Box<dyn Client>> {
        Ok(Box::new(self.connect(node).await?))
    }
}

/// One connection with its prepared statements.
struct Conn {
    client: tokio_postgres::Client,
    task: tokio::task::JoinHandle<()>,
    read_list: Statement,
    append: Statement,
    read_reg: Statement,
    write_reg: Statement,
}

impl Conn {
    async fn open(host: &str, port: u16, timeout: Duration) -> anyhow::Result<Conn> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(host)
            .port(port)
            .user("postgres")
            .dbname("postgres")
            .connect_timeout(timeout);
        let connect = config.connect(NoTls);
        let (client, connection) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| anyhow::anyhow!("connecting to {host}:{port} timed out"))??;
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        let prepare = async {
            Ok::<_, tokio_postgres::Error>((
                client.prepare("SELECT v FROM lists WHERE k = $1").await?,
                client
                    .prepare(
                        "INSERT INTO lists AS l (k, v) VALUES ($1, ARRAY[$2::text]) \
                         ON CONFLICT (k) DO UPDATE SET v = l.v || $2::text",
                    )
                    .await?,
                client.prepare("SELECT v FROM regs WHERE k = $1").await?,
                client
                    .prepare(
                        "INSERT INTO regs AS r (k, v) VALUES ($1, $2) \
                         ON CONFLICT (k) DO UPDATE SET v = $2",
                    )
                    .await?,
            ))
        };
        match tokio::time::timeout(timeout, prepare).await {
            Ok(Ok((read_list, append, read_reg, write_reg))) => Ok(Conn {
                client,
                task,
                read_list,
                append,
                read_reg,
                write_reg,
            }),
            Ok(Err(e)) => {
                task.abort();
                Err(anyhow::anyhow!("preparing statements: {e}"))
            }
            Err(_) => {
                task.abort();
                Err(anyhow::anyhow!("preparing statements timed out"))
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Closing the socket aborts whatever transaction is open on it.
        self.task.abort();
    }
}

/// One worker's connection to one PostgreSQL server.
pub struct PgClient {
    conn: Option<Conn>,
    host: String,
    port: u16,
    isolation: Isolation,
    op_timeout: Duration,
    lists: bool,
}

/// A parsed micro-op.
#[derive(Clone, Debug, PartialEq)]
enum Micro {
    Read(Value),
    Append(Value, Value),
    Write(Value, Value),
}

fn parse_micro_ops(v: &Value) -> Result<Vec<Micro>, String> {
    let Some(mops) = v.as_array() else {
        return Err("txn value must be a list of micro-ops".into());
    };
    mops.iter()
        .map(|m| match m.as_array().map(|a| a.as_slice()) {
            Some([f, k, v]) => match f.as_str() {
                Some("r" | "read") => Ok(Micro::Read(k.clone())),
                Some("append") => Ok(Micro::Append(k.clone(), v.clone())),
                Some("w" | "write") => Ok(Micro::Write(k.clone(), v.clone())),
                _ => Err(format!("bad micro-op {m}")),
            },
            _ => Err(format!("bad micro-op {m}")),
        })
        .collect()
}

/// A stored JSON text back as JSON (other text stays a string).
fn from_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// Why a transaction did not commit, and whether it may have.
enum TxnError {
    /// Certainly not committed.
    Failed(String),
    /// The COMMIT was sent and no answer came.
    Unknown(String),
}

fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Runs the micro-ops as one transaction. `commit_sent` is set just before
/// COMMIT is issued, so a caller that gave up can tell the two cases apart.
async fn run_txn(
    c: &Conn,
    iso: Isolation,
    kind_lists: bool,
    mops: &[Micro],
    commit_sent: &mut bool,
) -> Result<Vec<Value>, TxnError> {
    let fail = |e: tokio_postgres::Error| TxnError::Failed(describe(&e));
    c.client.batch_execute(iso.begin()).await.map_err(fail)?;
    let mut done = Vec::with_capacity(mops.len());
    for m in mops {
        match m {
            Micro::Read(k) => {
                let key = k.to_string();
                let v = if kind_lists {
                    let row = c
                        .client
                        .query_opt(&c.read_list, &[&key])
                        .await
                        .map_err(fail)?;
                    match row {
                        Some(r) => {
                            let items: Vec<String> = r.try_get(0).map_err(fail)?;
                            Value::Array(items.iter().map(|s| from_text(s)).collect())
                        }
                        None => Value::Null,
                    }
                } else {
                    let row = c
                        .client
                        .query_opt(&c.read_reg, &[&key])
                        .await
                        .map_err(fail)?;
                    match row {
                        Some(r) => {
                            let s: String = r.try_get(0).map_err(fail)?;
                            from_text(&s)
                        }
                        None => Value::Null,
                    }
                };
                done.push(json!(["r", k, v]));
            }
            Micro::Append(k, v) => {
                c.client
                    .execute(&c.append, &[&k.to_string(), &v.to_string()])
                    .await
                    .map_err(fail)?;
                done.push(json!(["append", k, v]));
            }
            Micro::Write(k, v) => {
                c.client
                    .execute(&c.write_reg, &[&k.to_string(), &v.to_string()])
                    .await
                    .map_err(fail)?;
                done.push(json!(["w", k, v]));
            }
        }
    }
    *commit_sent = true;
    match c.client.batch_execute("COMMIT").await {
        Ok(()) => Ok(done),
        // The server answered: it rolled the transaction back.
        Err(e) if e.as_db_error().is_some() => Err(TxnError::Failed(describe(&e))),
        Err(e) => Err(TxnError::Unknown(describe(&e))),
    }
}

impl PgClient {
    async fn txn(&mut self, op: &Invocation) -> Completion {
        let mops = match parse_micro_ops(&op.value) {
            Ok(m) => m,
            Err(e) => return Completion::fail(op.value.clone(), e),
        };
        let budget = self.op_timeout.saturating_sub(DEADLINE_MARGIN);
        let deadline = tokio::time::Instant::now() + budget;
        if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            self.conn = None;
            match tokio::time::timeout_at(deadline, Conn::open(&self.host, self.port, budget)).await
            {
                Ok(Ok(c)) => self.conn = Some(c),
                Ok(Err(e)) => return Completion::fail(op.value.clone(), format!("{e:#}")),
                Err(_) => return Completion::fail(op.value.clone(), "connecting timed out"),
            }
        }
        let Some(conn) = self.conn.as_ref() else {
            return Completion::fail(op.value.clone(), "not connected");
        };
        let mut sent = false;
        let r = tokio::time::timeout_at(
            deadline,
            run_txn(conn, self.isolation, self.lists, &mops, &mut sent),
        )
        .await;
        match r {
            Ok(Ok(done)) => Completion::ok(Value::Array(done)),
            Ok(Err(TxnError::Failed(m))) => {
                // Leave the connection clean for the next transaction; when
                // that fails too, drop it (which aborts the transaction).
                let rolled_back = tokio::time::timeout_at(deadline, async {
                    conn.client.batch_execute("ROLLBACK").await.is_ok()
                })
                .await
                .unwrap_or(false);
                if !rolled_back {
                    self.conn = None;
                }
                Completion::fail(op.value.clone(), m)
            }
            Ok(Err(TxnError::Unknown(m))) => {
                self.conn = None;
                Completion::info(op.value.clone(), m)
            }
            Err(_) => {
                self.conn = None;
                if sent {
                    Completion::info(op.value.clone(), "timeout waiting for COMMIT")
                } else {
                    Completion::fail(
                        op.value.clone(),
                        "timeout before COMMIT (connection dropped, transaction aborted)",
                    )
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Client for PgClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        match op.f.as_str() {
            "txn" => self.txn(op).await,
            other => Completion::fail(
                op.value.clone(),
                format!("db = \"postgres\" runs transactions (`txn`), not `{other}`"),
            ),
        }
    }

    async fn close(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_ops_parse_strictly() {
        let m = parse_micro_ops(&json!([["r", 1, null], ["append", 1, 3], ["w", "x", 4]])).unwrap();
        assert_eq!(
            m,
            vec![
                Micro::Read(json!(1)),
                Micro::Append(json!(1), json!(3)),
                Micro::Write(json!("x"), json!(4))
            ]
        );
        assert!(parse_micro_ops(&json!([["cas", 1, 2]])).is_err());
        assert!(parse_micro_ops(&json!([["r", 1]])).is_err());
        assert!(parse_micro_ops(&json!(3)).is_err());
        assert_eq!(from_text("[1,2]"), json!([1, 2]));
        assert_eq!(from_text("7"), json!(7));
        assert_eq!(from_text("plain"), json!("plain"));
    }
}
