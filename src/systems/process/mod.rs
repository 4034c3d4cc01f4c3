//! The process protocol (`db = "process"`): any program can be a client.
//!
//! Each worker starts the user's command once and keeps it running. For every
//! operation faultline writes one JSON object on a line to its stdin,
//! `{"f": .., "key": .., "value": .., "process": ..}`, and reads one JSON
//! object on a line from its stdout, `{"type": "ok"|"fail"|"info", "value":
//! .., "error": ..}`. The command learns its node from `FAULTLINE_NODE` and its
//! first process id from `FAULTLINE_PROCESS`. Anything unexpected (the program
//! exits, prints garbage, answers `invoke`) makes the operation `info`: it may
//! or may not have happened. The full description is docs/process-protocol.md.

use super::Backend;
use crate::client::{Client, ClientFactory, Completion, Invocation};
use crate::history::OpType;
use crate::workload::Workload;
use anyhow::Context;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Starts one copy of the command per client.
pub struct ProcessClientFactory {
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    dir: Option<PathBuf>,
}

impl ProcessClientFactory {
    /// `argv[0]` is looked up on PATH unless it contains a `/`; relative
    /// paths in `argv` that exist relative to `base` are resolved there.
    pub fn new(
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        base: Option<PathBuf>,
    ) -> ProcessClientFactory {
        let argv = argv
            .into_iter()
            .map(|a| match &base {
                Some(b) if a.contains('/') || a.ends_with(".py") => {
                    let p = PathBuf::from(&a);
                    if p.is_relative() && b.join(&p).exists() {
                        b.join(&p).display().to_string()
                    } else {
                        a
                    }
                }
                _ => a,
            })
            .collect();
        ProcessClientFactory {
            argv,
            env,
            dir: None,
        }
    }
}

#[async_trait::async_trait]
impl ClientFactory for ProcessClientFactory {
    async fn open(&self, node: &str, process: i64) -> anyhow::Result<Box<dyn Client>> {
        let Some((prog, args)) = self.argv.split_first() else {
            anyhow::bail!("the process command is empty");
        };
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .env("FAULTLINE_NODE", node)
            .env("FAULTLINE_PROCESS", process.to_string())
            .envs(&self.env)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start the client command {:?}", self.argv))?;
        let stdin = child.stdin.take().context("client command has no stdin")?;
        let stdout = child
            .stdout
            .take()
            .context("client command has no stdout")?;
        Ok(Box::new(ProcessClient {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            line: String::new(),
            process,
        }))
    }
}

pub struct ProcessClient {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
    process: i64,
}

/// Parses one answer line into a completion; an unusable answer is `info`.
pub fn parse_answer(line: &str, op: &Invocation) -> Completion {
    let v: Value = match serde_json::from_str(line.trim()) {
        Ok(v) => v,
        Err(e) => {
            return Completion::info(
                op.value.clone(),
                format!(
                    "client answered something that is not JSON ({e}): {}",
                    line.trim()
                ),
            )
        }
    };
    let t = v
        .get("type")
        .and_then(|t| t.as_str())
        .and_then(OpType::parse);
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    let error = v.get("error").cloned().filter(|e| !e.is_null());
    match t {
        Some(OpType::Ok) => Completion {
            op_type: OpType::Ok,
            value,
            error,
        },
        Some(t @ (OpType::Fail | OpType::Info)) => Completion {
            op_type: t,
            value: if value.is_null() {
                op.value.clone()
            } else {
                value
            },
            error: Some(error.unwrap_or_else(|| json!("no error given"))),
        },
        _ => Completion::info(
            op.value.clone(),
            format!(
                "client answer needs \"type\": \"ok\", \"fail\" or \"info\": {}",
                line.trim()
            ),
        ),
    }
}

#[async_trait::async_trait]
impl Client for ProcessClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let mut req = serde_json::to_string(&json!({
            "f": op.f,
            "key": op.key,
            "value": op.value,
            "process": self.process,
        }))
        .unwrap_or_default();
        req.push('\n');
        if let Err(e) = self.stdin.write_all(req.as_bytes()).await {
            return Completion::info(op.value.clone(), format!("client command's stdin: {e}"));
        }
        if let Err(e) = self.stdin.flush().await {
            return Completion::info(op.value.clone(), format!("client command's stdin: {e}"));
        }
        self.line.clear();
        match self.stdout.read_line(&mut self.line).await {
            Ok(0) => Completion::info(op.value.clone(), "client command exited"),
            Ok(_) => parse_answer(&self.line, op),
            Err(e) => Completion::info(op.value.clone(), format!("client command's stdout: {e}")),
        }
    }

    async fn close(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The backend for `db = "process"`: the `[process]` command is the client;
/// it has no nemesis and no automation.
pub fn backend(w: &Workload) -> anyhow::Result<Backend> {
    let Some(p) = &w.process else {
        anyhow::bail!("db = \"process\" needs a [process] table with a `command`");
    };
    let base = w
        .path
        .as_ref()
        .and_then(|p| p.parent())
        .map(|d| d.to_path_buf());
    let mut env = p.env.clone();
    env.insert(
        "FAULTLINE_WORKLOAD".to_string(),
        w.workload.as_str().to_string(),
    );
    Ok(Backend {
        clients: Arc::new(ProcessClientFactory::new(p.command.clone(), env, base)),
        nemesis: None,
        db: None,
        keep_alive: None,
        provocation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> Invocation {
        Invocation {
            f: "write".into(),
            key: Some(json!(1)),
            value: json!(3),
        }
    }

    #[test]
    fn answers_map_to_completions() {
        let c = parse_answer("{\"type\":\"ok\",\"value\":3}\n", &op());
        assert_eq!(c, Completion::ok(json!(3)));
        let c = parse_answer("{\"type\":\"fail\",\"error\":\"nope\"}", &op());
        assert_eq!(c.op_type, OpType::Fail);
        assert_eq!(c.error, Some(json!("nope")));
        assert_eq!(c.value, json!(3));
        for bad in ["garbage", "{\"type\":\"invoke\"}", "{\"value\":1}", "[]"] {
            assert_eq!(parse_answer(bad, &op()).op_type, OpType::Info, "{bad}");
        }
    }
}
