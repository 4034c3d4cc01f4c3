//! An etcd client over the v3 JSON gateway (`/v3/kv/range`, `/v3/kv/put`,
//! `/v3/kv/txn`; keys and values base64).
//!
//! HTTP is done with blocking `ureq` on tokio's blocking pool, one operation
//! at a time per client, under one deadline per operation: every request's
//! timeout is what remains of the runner's op timeout (less a small margin),
//! so no request outlives the timeout that records its operation as `info`.
//! Every value is
//! stored as its JSON text, so what a read returns is exactly what a write
//! wrote.
//!
//! How an outcome is classified (the history's honesty depends on it):
//! - reads have no effect, so any error on a read is `fail`;
//! - a write whose TCP connection could not even be opened is `fail`
//!   (nothing was sent); a failed compare (cas, or a txn that lost a race)
//!   is `fail`;
//! - anything else after the request may have left — a timeout, a reset,
//!   an error status such as "request timed out" or "leader changed" — is
//!   `info`: it may yet take effect.
//!
//! Operations:
//! - register `read` / `write` / `cas [expected, new]` on key `<prefix><key>`;
//! - set `add v` puts `<prefix><key>/<json v>`; set `read` ranges over the
//!   prefix and returns every element;
//! - `txn` with micro-ops `["append", k, v]`, `["r", k, null]`, `["w", k, v]`:
//!   one linearizable (or serializable) range txn reads every key, then one
//!   txn writes the new values guarded by every key's mod revision. A read-only
//!   txn completes at the first step.

use crate::client::{Client, ClientFactory, Completion, Invocation};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How much earlier than the runner's op timeout a client gives up, so its
/// last request has ended when the runner records the op as `info`.
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

/// Settings shared by every client.
#[derive(Clone, Debug)]
pub struct EtcdClientOptions {
    /// Serializable reads (served locally, possibly stale) instead of
    /// linearizable ones.
    pub serializable: bool,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// The runner's per-operation timeout: every operation (all its
    /// requests) ends before it.
    pub op_timeout: Duration,
    /// Prepended to every key.
    pub key_prefix: String,
    /// `read` means "read the whole set" (set workloads) rather than
    /// "read the register".
    pub set_reads: bool,
}

impl Default for EtcdClientOptions {
    fn default() -> Self {
        EtcdClientOptions {
            serializable: false,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            op_timeout: Duration::from_secs(5),
            key_prefix: "faultline/".into(),
            set_reads: false,
        }
    }
}

/// Opens [`EtcdClient`]s for nodes by name.
#[derive(Clone, Debug)]
pub struct EtcdClientFactory {
    /// node → `http://address:port`
    pub endpoints: BTreeMap<String, String>,
    pub options: EtcdClientOptions,
}

impl EtcdClientFactory {
    pub fn new(endpoints: BTreeMap<String, String>, options: EtcdClientOptions) -> Self {
        EtcdClientFactory { endpoints, options }
    }

    /// A client bound to `node`, usable without an async trait object.
    pub fn client(&self, node: &str) -> anyhow::Result<EtcdClient> {
        let base = self
            .endpoints
            .get(node)
            .ok_or_else(|| anyhow::anyhow!("no etcd endpoint for node {node}"))?;
        Ok(EtcdClient::new(base, self.options.clone()))
    }
}

#[async_trait::async_trait]
impl ClientFactory for EtcdClientFactory {
    async fn open(&self, node: &str, _process: i64) -> anyhow::Result<Box<dyn Client>> {
        Ok(Box::new(self.client(node)?))
    }
}

/// One worker's connection to one etcd node.
#[derive(Clone, Debug)]
pub struct EtcdClient {
    base: String,
    agent: ureq::Agent,
    opts: EtcdClientOptions,
}

/// Why a request did not produce a response body.
#[derive(Debug)]
enum HttpError {
    /// The request certainly never reached the server.
    NotSent(String),
    /// It may have been processed.
    Unknown(String),
}

impl HttpError {
    fn message(&self) -> &str {
        match self {
            HttpError::NotSent(m) | HttpError::Unknown(m) => m,
        }
    }
}

fn b64(s: &str) -> String {
    B64.encode(s.as_bytes())
}

fn unb64(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    let bytes = B64.decode(s).ok()?;
    String::from_utf8(bytes).ok()
}

/// A stored value back as JSON (strings not written by us stay strings).
fn decode_value(v: &Value) -> Value {
    match unb64(v) {
        Some(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        None => Value::Null,
    }
}

/// int64 fields come as strings in the gateway's JSON; absent means 0.
fn int_field(v: &Value, name: &str) -> i64 {
    match v.get(name) {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl EtcdClient {
    /// A client for the gateway at `base` (`http://host:port`).
    pub fn new(base: &str, opts: EtcdClientOptions) -> EtcdClient {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(opts.connect_timeout)
            .timeout(opts.request_timeout)
            // A fresh connection per request: a pooled connection that died
            // silently would blur "not sent" and "maybe applied".
            .max_idle_connections(0)
            .build();
        EtcdClient {
            base: base.trim_end_matches('/').to_string(),
            agent,
            opts,
        }
    }

    fn full_key(&self, key: &Option<Value>, default: &str) -> String {
        let k = key.as_ref().map(key_text).unwrap_or_else(|| default.into());
        format!("{}{}", self.opts.key_prefix, k)
    }

    /// POSTs JSON to a gateway path (blocking), giving up at `deadline`.
    fn post(&self, path: &str, body: &Value, deadline: Instant) -> Result<Value, HttpError> {
        let url = format!("{}{}", self.base, path);
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HttpError::NotSent(
                "op deadline passed before sending".into(),
            ));
        }
        let request = self
            .agent
            .post(&url)
            .timeout(left.min(self.opts.request_timeout));
        match request.send_json(body.clone()) {
            Ok(resp) => resp
                .into_json::<Value>()
                .map_err(|e| HttpError::Unknown(format!("reading response: {e}"))),
            Err(ureq::Error::Status(code, resp)) => {
                let text = resp.into_string().unwrap_or_default();
                let msg = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
                    .unwrap_or(text);
                Err(HttpError::Unknown(format!("HTTP {code}: {msg}")))
            }
            Err(ureq::Error::Transport(t)) => match t.kind() {
                ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => {
                    Err(HttpError::NotSent(t.to_string()))
                }
                _ => Err(HttpError::Unknown(t.to_string())),
            },
        }
    }

    fn range_request(&self, key: &str) -> Value {
        let mut r = json!({ "key": b64(key) });
        if self.opts.serializable {
            r["serializable"] = json!(true);
        }
        r
    }

    /// Performs one operation (blocking), within the op timeout from now.
    pub fn invoke_blocking(&self, op: &Invocation) -> Completion {
        let deadline = Instant::now() + self.opts.op_timeout.saturating_sub(DEADLINE_MARGIN);
        self.invoke_until(op, deadline)
    }

    /// Performs one operation (blocking); no request goes on past `deadline`.
    pub fn invoke_until(&self, op: &Invocation, deadline: Instant) -> Completion {
        let d = deadline;
        match op.f.as_str() {
            "read" if self.opts.set_reads => self.set_read(op, d),
            "read" => self.read(op, d),
            "write" => self.write(op, d),
            "cas" => self.cas(op, d),
            "add" => self.add(op, d),
            "txn" => self.txn(op, d),
            other => Completion::fail(op.value.clone(), format!("unsupported operation {other}")),
        }
    }

    fn read(&self, op: &Invocation, deadline: Instant) -> Completion {
        let key = self.full_key(&op.key, "r");
        match self.post("/v3/kv/range", &self.range_request(&key), deadline) {
            Ok(resp) => {
                let v = resp
                    .get("kvs")
                    .and_then(|k| k.get(0))
                    .and_then(|kv| kv.get("value"))
                    .map(decode_value)
                    .unwrap_or(Value::Null);
                Completion::ok(v)
            }
            Err(e) => Completion::fail(Value::Null, e.message()),
        }
    }

    fn write_outcome(&self, r: Result<Value, HttpError>, value: &Value) -> Completion {
        match r {
            Ok(_) => Completion::ok(value.clone()),
            Err(HttpError::NotSent(m)) => Completion::fail(value.clone(), m),
            Err(HttpError::Unknown(m)) => Completion::info(value.clone(), m),
        }
    }

    fn write(&self, op: &Invocation, deadline: Instant) -> Completion {
        let key = self.full_key(&op.key, "r");
        let body = json!({ "key": b64(&key), "value": b64(&op.value.to_string()) });
        self.write_outcome(self.post("/v3/kv/put", &body, deadline), &op.value)
    }

    fn cas(&self, op: &Invocation, deadline: Instant) -> Completion {
        let Some([expected, new]) = op
            .value
            .as_array()
            .and_then(|a| <&[Value; 2]>::try_from(a.as_slice()).ok())
        else {
            return Completion::fail(op.value.clone(), "cas needs [expected, new]");
        };
        let key = self.full_key(&op.key, "r");
        let body = json!({
            "compare": [{
                "key": b64(&key), "target": "VALUE", "result": "EQUAL",
                "value": b64(&expected.to_string()),
            }],
            "success": [{ "request_put": { "key": b64(&key), "value": b64(&new.to_string()) } }],
        });
        match self.post("/v3/kv/txn", &body, deadline) {
            Ok(resp) if resp.get("succeeded").and_then(Value::as_bool) == Some(true) => {
                Completion::ok(op.value.clone())
            }
            Ok(_) => Completion::fail(op.value.clone(), "compare failed"),
            Err(HttpError::NotSent(m)) => Completion::fail(op.value.clone(), m),
            Err(HttpError::Unknown(m)) => Completion::info(op.value.clone(), m),
        }
    }

    fn set_prefix(&self, op: &Invocation) -> String {
        format!("{}/", self.full_key(&op.key, "set"))
    }

    fn add(&self, op: &Invocation, deadline: Instant) -> Completion {
        let key = format!("{}{}", self.set_prefix(op), op.value);
        let body = json!({ "key": b64(&key), "value": b64(&op.value.to_string()) });
        self.write_outcome(self.post("/v3/kv/put", &body, deadline), &op.value)
    }

    fn set_read(&self, op: &Invocation, deadline: Instant) -> Completion {
        let prefix = self.set_prefix(op);
        // The end of the prefix range: the prefix with its last byte + 1
        // ('/' + 1 = '0').
        let end = format!("{}0", &prefix[..prefix.len() - 1]);
        let mut body = self.range_request(&prefix);
        body["range_end"] = json!(b64(&end));
        match self.post("/v3/kv/range", &body, deadline) {
            Ok(resp) => {
                let mut items: Vec<Value> = resp
                    .get("kvs")
                    .and_then(Value::as_array)
                    .map(|kvs| {
                        kvs.iter()
                            .filter_map(|kv| kv.get("value").map(decode_value))
                            .collect()
                    })
                    .unwrap_or_default();
                items.sort_by_key(|v| v.to_string());
                Completion::ok(Value::Array(items))
            }
            Err(e) => Completion::fail(Value::Null, e.message()),
        }
    }

    fn txn(&self, op: &Invocation, deadline: Instant) -> Completion {
        let Some(mops) = op.value.as_array() else {
            return Completion::fail(op.value.clone(), "txn value must be a list of micro-ops");
        };
        // Parse micro-ops: (f, key, value).
        let mut parsed = Vec::new();
        for m in mops {
            let Some(parts) = m.as_array().filter(|p| p.len() == 3) else {
                return Completion::fail(op.value.clone(), format!("bad micro-op {m}"));
            };
            let f = match parts[0].as_str() {
                Some("append") => "append",
                Some("r" | "read") => "r",
                Some("w" | "write") => "w",
                _ => return Completion::fail(op.value.clone(), format!("bad micro-op {m}")),
            };
            parsed.push((f, parts[1].clone(), parts[2].clone()));
        }
        let mut keys: Vec<Value> = Vec::new();
        for (_, k, _) in &parsed {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        let full = |k: &Value| format!("{}{}", self.opts.key_prefix, key_text(k));

        // 1. Read every key at one revision.
        let reads: Vec<Value> = keys
            .iter()
            .map(|k| json!({ "request_range": self.range_request(&full(k)) }))
            .collect();
        let resp = match self.post("/v3/kv/txn", &json!({ "success": reads }), deadline) {
            Ok(r) => r,
            Err(e) => return Completion::fail(op.value.clone(), e.message()),
        };
        let responses = resp
            .get("responses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if responses.len() != keys.len() {
            return Completion::fail(op.value.clone(), "unexpected txn response");
        }
        // key index → (current value, mod revision)
        let mut state: Vec<(Value, i64)> = responses
            .iter()
            .map(|r| {
                let kv = r
                    .get("response_range")
                    .and_then(|rr| rr.get("kvs"))
                    .and_then(|k| k.get(0));
                match kv {
                    Some(kv) => (
                        kv.get("value").map(decode_value).unwrap_or(Value::Null),
                        int_field(kv, "mod_revision"),
                    ),
                    None => (Value::Null, 0),
                }
            })
            .collect();
        let revisions: Vec<i64> = state.iter().map(|(_, r)| *r).collect();

        // 2. Apply the micro-ops locally.
        let mut dirty = vec![false; keys.len()];
        let mut done = Vec::new();
        for (f, k, v) in &parsed {
            let i = keys.iter().position(|x| x == k).unwrap_or(0);
            match *f {
                "r" => {
                    let cur = state[i].0.clone();
                    done.push(json!(["r", k, cur]));
                }
                "w" => {
                    state[i].0 = v.clone();
                    dirty[i] = true;
                    done.push(json!(["w", k, v]));
                }
                _ => {
                    let mut list = match &state[i].0 {
                        Value::Array(a) => a.clone(),
                        Value::Null => Vec::new(),
                        other => {
                            return Completion::fail(
                                op.value.clone(),
                                format!("key {k} holds a non-list {other}"),
                            )
                        }
                    };
                    list.push(v.clone());
                    state[i].0 = Value::Array(list);
                    dirty[i] = true;
                    done.push(json!(["append", k, v]));
                }
            }
        }
        if !dirty.iter().any(|d| *d) {
            return Completion::ok(Value::Array(done));
        }

        // 3. Write, if nothing changed since the read.
        let compare: Vec<Value> = keys
            .iter()
            .zip(&revisions)
            .map(|(k, rev)| {
                json!({ "key": b64(&full(k)), "target": "MOD", "result": "EQUAL", "mod_revision": rev.to_string() })
            })
            .collect();
        let puts: Vec<Value> = keys
            .iter()
            .zip(&state)
            .zip(&dirty)
            .filter(|(_, d)| **d)
            .map(|((k, (v, _)), _)| {
                json!({ "request_put": { "key": b64(&full(k)), "value": b64(&v.to_string()) } })
            })
            .collect();
        match self.post(
            "/v3/kv/txn",
            &json!({ "compare": compare, "success": puts }),
            deadline,
        ) {
            Ok(r) if r.get("succeeded").and_then(Value::as_bool) == Some(true) => {
                Completion::ok(Value::Array(done))
            }
            Ok(_) => Completion::fail(
                op.value.clone(),
                "conflict: a key changed since it was read",
            ),
            Err(HttpError::NotSent(m)) => Completion::fail(op.value.clone(), m),
            Err(HttpError::Unknown(m)) => Completion::info(op.value.clone(), m),
        }
    }
}

#[async_trait::async_trait]
impl Client for EtcdClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        // The deadline is taken here, before the blocking pool picks the
        // work up, so queueing there counts against it too.
        let deadline = Instant::now() + self.opts.op_timeout.saturating_sub(DEADLINE_MARGIN);
        let me = self.clone();
        let op2 = op.clone();
        match tokio::task::spawn_blocking(move || me.invoke_until(&op2, deadline)).await {
            Ok(c) => c,
            Err(e) => Completion::info(op.value.clone(), format!("client task failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_gateway_fields() {
        assert_eq!(decode_value(&json!(b64("[1,2]"))), json!([1, 2]));
        assert_eq!(decode_value(&json!(b64("plain"))), json!("plain"));
        assert_eq!(decode_value(&json!("%%%")), Value::Null);
        assert_eq!(
            int_field(&json!({"mod_revision": "42"}), "mod_revision"),
            42
        );
        assert_eq!(int_field(&json!({}), "mod_revision"), 0);
        assert_eq!(key_text(&json!(3)), "3");
        assert_eq!(key_text(&json!("x")), "x");
    }

    #[test]
    fn refused_connection_is_a_definite_failure() {
        // Port 1 on loopback: nothing listens, the connection is refused,
        // so a write certainly did not happen.
        let c = EtcdClient::new("http://127.0.0.1:1", EtcdClientOptions::default());
        let w = c.invoke_blocking(&Invocation {
            f: "write".into(),
            key: None,
            value: json!(1),
        });
        assert_eq!(w.op_type, crate::history::OpType::Fail, "{w:?}");
        let bad = c.invoke_blocking(&Invocation {
            f: "cas".into(),
            key: None,
            value: json!(1),
        });
        assert_eq!(bad.op_type, crate::history::OpType::Fail);
    }
}
