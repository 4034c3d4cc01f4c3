//! A native Redis client (the `redis` crate on tokio), one multiplexed
//! connection per worker, bound to its node's `redis-server`: a worker on a
//! replica has its writes refused (`READONLY`), a worker on a primary cut
//! off from the sentinels keeps writing to it, which is what a failover
//! test needs to see.
//!
//! Operations:
//! - register: `read` is `GET`, `write` is `SET`, `cas [old, new]` a Lua
//!   script that sets only when the value is `old`;
//! - set: `add` is `SADD`, `read` is `SMEMBERS` (sorted);
//! - list-append: `txn` is one `MULTI`/`EXEC` of `RPUSH` (append) and
//!   `LRANGE 0 -1` (read); a read of an absent key is `[]`.
//!
//! Values are stored as JSON text. How an outcome is classified:
//! - a read, or anything Redis answered with an error (`READONLY`,
//!   `EXECABORT`, `LOADING`...), is `fail`: nothing was applied;
//! - a write that got no answer (connection lost, deadline) is `info`.
//!
//! Every operation runs under one deadline, the runner's op timeout less a
//! margin; a connection that timed out or broke is dropped and reopened.

use crate::client::{Client, ClientFactory, Completion, Invocation};
use crate::workload::WorkloadKind;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// How much earlier than the runner's op timeout an operation gives up.
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

/// Sets a key to ARGV[2] when it holds ARGV[1]; 1 when it did.
const CAS_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                          redis.call('SET', KEYS[1], ARGV[2]) return 1 else return 0 end";

/// Opens [`RedisClient`]s for nodes by name.
#[derive(Clone, Debug)]
pub struct RedisClientFactory {
    /// node → `redis://address:port/`
    pub urls: BTreeMap<String, String>,
    pub workload: WorkloadKind,
    pub op_timeout: Duration,
    /// Prepended to every key.
    pub key_prefix: String,
}

impl RedisClientFactory {
    pub async fn connect(&self, node: &str) -> anyhow::Result<RedisClient> {
        let url = self
            .urls
            .get(node)
            .ok_or_else(|| anyhow::anyhow!("no Redis endpoint for node {node}"))?;
        let mut c = RedisClient {
            url: url.clone(),
            conn: None,
            workload: self.workload,
            op_timeout: self.op_timeout,
            key_prefix: self.key_prefix.clone(),
        };
        c.conn = Some(c.open().await?);
        Ok(c)
    }
}

#[async_trait::async_trait]
impl ClientFactory for RedisClientFactory {
    async fn open(&self, node: &str, _process: i64) -> anyhow::Result<Box<dyn Client>> {
        Ok(Box::new(self.connect(node).await?))
    }
}

/// One worker's connection to one Redis server.
pub struct RedisClient {
    url: String,
    conn: Option<MultiplexedConnection>,
    workload: WorkloadKind,
    op_timeout: Duration,
    key_prefix: String,
}

/// How a request ended without a result.
enum Outcome {
    /// Redis answered with an error: nothing was applied.
    Refused(String),
    /// No answer: it may have been applied.
    Unknown(String),
}

fn classify(e: RedisError) -> Outcome {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
        Outcome::Unknown(e.to_string())
    } else {
        Outcome::Refused(e.to_string())
    }
}

fn from_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

impl RedisClient {
    async fn open(&self) -> anyhow::Result<MultiplexedConnection> {
        let budget = self.op_timeout.saturating_sub(DEADLINE_MARGIN);
        let client = redis::Client::open(self.url.as_str())?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(budget))
            .set_response_timeout(Some(budget));
        let conn = tokio::time::timeout(
            budget,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {} timed out", self.url))??;
        Ok(conn)
    }

    fn key(&self, k: &Option<Value>, default: &str) -> String {
        let k = match k {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => default.to_string(),
        };
        format!("{}{k}", self.key_prefix)
    }

    /// Runs one request under the op deadline.
    async fn request<T: redis::FromRedisValue>(
        &mut self,
        req: impl FnOnce(
            MultiplexedConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, RedisError>> + Send>,
        >,
    ) -> Result<T, Outcome> {
        let budget = self.op_timeout.saturating_sub(DEADLINE_MARGIN);
        let deadline = tokio::time::Instant::now() + budget;
        if self.conn.is_none() {
            match tokio::time::timeout_at(deadline, self.open()).await {
                Ok(Ok(c)) => self.conn = Some(c),
                // Nothing was sent.
                Ok(Err(e)) => return Err(Outcome::Refused(format!("{e:#}"))),
                Err(_) => return Err(Outcome::Refused("connecting timed out".into())),
            }
        }
        let Some(conn) = self.conn.clone() else {
            return Err(Outcome::Refused("not connected".into()));
        };
        match tokio::time::timeout_at(deadline, req(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let o = classify(e);
                if matches!(o, Outcome::Unknown(_)) {
                    self.conn = None;
                }
                Err(o)
            }
            Err(_) => {
                self.conn = None;
                Err(Outcome::Unknown("timeout".into()))
            }
        }
    }

    fn write_completion(r: Result<(), Outcome>, value: &Value) -> Completion {
        match r {
            Ok(()) => Completion::ok(value.clone()),
            Err(Outcome::Refused(m)) => Completion::fail(value.clone(), m),
            Err(Outcome::Unknown(m)) => Completion::info(value.clone(), m),
        }
    }

    fn read_completion(r: Result<Value, Outcome>) -> Completion {
        match r {
            Ok(v) => Completion::ok(v),
            Err(Outcome::Refused(m)) | Err(Outcome::Unknown(m)) => Completion::fail(Value::Null, m),
        }
    }

    async fn register(&mut self, op: &Invocation) -> Completion {
        let key = self.key(&op.key, "r");
        match op.f.as_str() {
            "read" => {
                let r = self
                    .request(move |mut c| {
                        Box::pin(async move {
                            redis::cmd("GET")
                                .arg(&key)
                                .query_async::<Option<String>>(&mut c)
                                .await
                        })
                    })
                    .await;
                Self::read_completion(r.map(|v| v.map(|s| from_text(&s)).unwrap_or(Value::Null)))
            }
            "write" => {
                let v = op.value.to_string();
                let r = self
                    .request(move |mut c| {
                        Box::pin(async move {
                            redis::cmd("SET")
                                .arg(&key)
                                .arg(v)
                                .query_async::<()>(&mut c)
                                .await
                        })
                    })
                    .await;
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
                let (old, new) = (old.to_string(), new.to_string());
                let r = self
                    .request(move |mut c| {
                        Box::pin(async move {
                            redis::cmd("EVAL")
                                .arg(CAS_SCRIPT)
                                .arg(1)
                                .arg(&key)
                                .arg(old)
                                .arg(new)
                                .query_async::<i64>(&mut c)
                                .await
                        })
                    })
                    .await;
                match r {
                    Ok(1) => Completion::ok(op.value.clone()),
                    Ok(_) => Completion::fail(op.value.clone(), "compare failed"),
                    Err(Outcome::Refused(m)) => Completion::fail(op.value.clone(), m),
                    Err(Outcome::Unknown(m)) => Completion::info(op.value.clone(), m),
                }
            }
            other => Completion::fail(op.value.clone(), format!("unsupported operation {other}")),
        }
    }

    async fn set(&mut self, op: &Invocation) -> Completion {
        let key = self.key(&op.key, "set");
        match op.f.as_str() {
            "add" => {
                let v = op.value.to_string();
                let r = self
                    .request(move |mut c| {
                        Box::pin(async move {
                            redis::cmd("SADD")
                                .arg(&key)
                                .arg(v)
                                .query_async::<()>(&mut c)
                                .await
                        })
                    })
                    .await;
                Self::write_completion(r, &op.value)
            }
            "read" => {
                let r = self
                    .request(move |mut c| {
                        Box::pin(async move {
                            redis::cmd("SMEMBERS")
                                .arg(&key)
                                .query_async::<Vec<String>>(&mut c)
                                .await
                        })
                    })
                    .await;
                Self::read_completion(r.map(|items| {
                    let mut v: Vec<Value> = items.iter().map(|s| from_text(s)).collect();
                    v.sort_by_key(|x| x.to_string());
                    Value::Array(v)
                }))
            }
            other => Completion::fail(op.value.clone(), format!("unsupported operation {other}")),
        }
    }

    async fn txn(&mut self, op: &Invocation) -> Completion {
        let Some(mops) = op.value.as_array() else {
            return Completion::fail(op.value.clone(), "txn value must be a list of micro-ops");
        };
        let mut parsed = Vec::new();
        for m in mops {
            match m.as_array().map(|a| a.as_slice()) {
                Some([f, k, v]) if matches!(f.as_str(), Some("append")) => {
                    parsed.push((true, k.clone(), v.clone()))
                }
                Some([f, k, _]) if matches!(f.as_str(), Some("r" | "read")) => {
                    parsed.push((false, k.clone(), Value::Null))
                }
                _ => return Completion::fail(op.value.clone(), format!("bad micro-op {m}")),
            }
        }
        let writes = parsed.iter().any(|(a, _, _)| *a);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (append, k, v) in &parsed {
            let key = self.key(&Some(k.clone()), "l");
            if *append {
                pipe.cmd("RPUSH").arg(key).arg(v.to_string());
            } else {
                pipe.cmd("LRANGE").arg(key).arg(0).arg(-1);
            }
        }
        let r = self
            .request(move |mut c| {
                Box::pin(async move { pipe.query_async::<Vec<redis::Value>>(&mut c).await })
            })
            .await;
        match r {
            Ok(results) if results.len() == parsed.len() => {
                let mut done = Vec::new();
                for ((append, k, v), res) in parsed.iter().zip(results) {
                    if *append {
                        done.push(json!(["append", k, v]));
                    } else {
                        let items: Vec<String> = match redis::from_redis_value(res) {
                            Ok(i) => i,
                            Err(e) => {
                                return Completion::fail(
                                    op.value.clone(),
                                    format!("unexpected LRANGE answer: {e}"),
                                )
                            }
                        };
                        let list: Vec<Value> = items.iter().map(|s| from_text(s)).collect();
                        done.push(json!(["r", k, list]));
                    }
                }
                Completion::ok(Value::Array(done))
            }
            Ok(results) => {
                let m = format!(
                    "EXEC answered {} results for {} commands",
                    results.len(),
                    parsed.len()
                );
                if writes {
                    Completion::info(op.value.clone(), m)
                } else {
                    Completion::fail(op.value.clone(), m)
                }
            }
            Err(Outcome::Refused(m)) => Completion::fail(op.value.clone(), m),
            Err(Outcome::Unknown(m)) if writes => Completion::info(op.value.clone(), m),
            Err(Outcome::Unknown(m)) => Completion::fail(op.value.clone(), m),
        }
    }
}

#[async_trait::async_trait]
impl Client for RedisClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        match self.workload {
            WorkloadKind::Register => self.register(op).await,
            WorkloadKind::Set => self.set(op).await,
            WorkloadKind::ListAppend if op.f == "txn" => self.txn(op).await,
            _ => Completion::fail(
                op.value.clone(),
                format!(
                    "db = \"redis\" does not run `{}` in a {} workload",
                    op.f,
                    self.workload.as_str()
                ),
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

    #[tokio::test]
    async fn refused_connection_is_not_a_client() {
        // Port 1 on loopback: nothing listens.
        let f = RedisClientFactory {
            urls: [("n1".to_string(), "redis://127.0.0.1:1/".to_string())].into(),
            workload: WorkloadKind::Set,
            op_timeout: Duration::from_secs(1),
            key_prefix: String::new(),
        };
        assert!(f.connect("n1").await.is_err());
        assert!(f.connect("n9").await.is_err());
        assert_eq!(from_text("[1]"), json!([1]));
        assert_eq!(from_text("x"), json!("x"));
    }
}
