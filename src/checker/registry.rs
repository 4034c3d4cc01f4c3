//! Choosing checkers: by explicit name (`--checker`), by workload
//! (`--workload`), by model (`--model`), or, when nothing is said, by what
//! the history contains.
//!
//! This is the one place that maps names to checker values; the CLI and the
//! runner both come here.

use crate::checker::{graph_register, linearizable, Budget, CheckResult, Checker};
use crate::history::History;
use crate::model::{ModelConfig, MODEL_NAMES};

/// Every checker name `--checker` accepts.
pub const CHECKER_NAMES: &[&str] = &[
    "linearizable",
    "graph-register",
    "stale-read",
    "lost-write",
    "session",
    "elle",
];
/// Every workload name `--workload` accepts.
pub const WORKLOAD_NAMES: &[&str] = &["register", "set", "list-append", "rw-register"];

/// What the user asked `check` to decide.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// `--model`: a sequential specification for the linearizable checker.
    pub model: Option<String>,
    pub model_config: ModelConfig,
    /// `--workload`: register, set, list-append, rw-register.
    pub workload: Option<String>,
    /// `--checker`: explicit checker names.
    pub checkers: Option<Vec<String>>,
    /// `--consistency-model` for the transactional checker (comma-separated).
    pub consistency_model: Option<String>,
    /// `--anomalies`, `--wfr-keys`, ... for the transactional checker.
    pub elle: crate::checker::elle::ElleFlags,
}

/// An error in the request (bad names) or in the input (ops that do not fit
/// the chosen model): exit code 254.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SelectError(pub String);

/// The checkers a workload kind calls for.
pub fn checkers_for_workload(workload: &str) -> Result<Vec<String>, SelectError> {
    let names: &[&str] = match workload {
        "register" => &["linearizable", "stale-read", "session"],
        "set" => &["lost-write"],
        "list-append" => &["elle", "lost-write"],
        "rw-register" => &["elle"],
        other => {
            return Err(SelectError(format!(
                "unknown workload `{other}`; the workloads are: {}",
                WORKLOAD_NAMES.join(", ")
            )))
        }
    };
    Ok(names.iter().map(|s| s.to_string()).collect())
}

/// Checks names in `opts` before any file is read.
pub fn validate(opts: &CheckOptions) -> Result<(), SelectError> {
    if let Some(m) = &opts.model {
        if !MODEL_NAMES.contains(&m.as_str()) {
            return Err(SelectError(format!(
                "--model: unknown model `{m}`; the models are: {}",
                MODEL_NAMES.join(", ")
            )));
        }
    }
    if let Some(w) = &opts.workload {
        checkers_for_workload(w)?;
    }
    if let Some(m) = &opts.consistency_model {
        crate::checker::elle::parse_consistency_models(m)
            .map_err(|e| SelectError(format!("--consistency-model: {e}")))?;
    }
    if let Some(names) = &opts.checkers {
        for n in names {
            if !CHECKER_NAMES.contains(&n.as_str()) {
                return Err(SelectError(format!(
                    "--checker: unknown checker `{n}`; the checkers are: {}",
                    CHECKER_NAMES.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The model to use for `linearizable` when `--model` is not given: guessed
/// from the functions in the history.
pub fn infer_model(history: &History) -> &'static str {
    let has = |f: &str| history.ops.iter().any(|o| o.f == f);
    if has("txn") {
        "multi-register"
    } else if has("cas") {
        "cas-register"
    } else if has("acquire") || has("release") {
        "mutex"
    } else if has("enqueue") || has("dequeue") {
        "fifo-queue"
    } else if has("add") {
        "set"
    } else if has("get") || has("put") || has("append") {
        "kv"
    } else {
        "register"
    }
}

/// The checker names to run: explicit, by workload, or inferred.
fn checker_names(history: &History, opts: &CheckOptions) -> Result<Vec<String>, SelectError> {
    if let Some(names) = &opts.checkers {
        return Ok(names.clone());
    }
    if let Some(w) = &opts.workload {
        return checkers_for_workload(w);
    }
    if opts.model.is_some() {
        return Ok(vec!["linearizable".to_string()]);
    }
    // Nothing said: transactions go to the Elle-style checker, set adds to
    // lost-write, everything else to linearizability with a guessed model.
    let name = if history.ops.iter().any(|o| o.f == "txn")
        && !history.ops.iter().any(|o| o.f == "read" || o.f == "write")
    {
        "elle"
    } else {
        match infer_model(history) {
            "set" => "lost-write",
            _ => "linearizable",
        }
    };
    Ok(vec![name.to_string()])
}

/// Runs the checkers `opts` asks for on `history`. Errors are about the
/// request or the input (exit 254); verdicts are in the results.
pub fn run_checks(
    history: &History,
    opts: &CheckOptions,
    budget: &Budget,
) -> Result<Vec<CheckResult>, SelectError> {
    validate(opts)?;
    let names = checker_names(history, opts)?;
    // Pairing errors are input errors. Only the Elle-style checker reads
    // histories without invoke/completion pairs (Elle's completions-only form).
    if names.iter().any(|n| n != "elle") {
        history
            .operations()
            .map_err(|e| SelectError(e.to_string()))?;
    }
    let mut results = Vec::new();
    for name in names {
        let r = match name.as_str() {
            "linearizable" => {
                let model = opts
                    .model
                    .clone()
                    .unwrap_or_else(|| infer_model(history).to_string());
                check_linearizable(history, &model, opts, budget)?
            }
            other => {
                let c = build(other, opts)?;
                c.check(history, budget)
            }
        };
        results.push(r);
    }
    Ok(results)
}

/// Linearizability for `model`. Registers whose written values are unique
/// per key are decided in polynomial time by the graph checker; everything
/// else goes to the search.
fn check_linearizable(
    history: &History,
    model: &str,
    opts: &CheckOptions,
    budget: &Budget,
) -> Result<CheckResult, SelectError> {
    if matches!(model, "register" | "cas-register") {
        let ops = history
            .operations()
            .map_err(|e| SelectError(e.to_string()))?;
        if graph_register::qualifies_with(&ops, &opts.model_config) {
            let mut r =
                graph_register::GraphRegisterChecker::with_config(opts.model_config.clone())
                    .check(history, budget);
            r.checker = "linearizable".to_string();
            r.summary = format!("{} [graph checker: unique writes]", r.summary);
            return Ok(r);
        }
    }
    linearizable::check(history, model, &opts.model_config, budget)
        .map_err(|e| SelectError(e.to_string()))
}

/// A checker by name, for callers (the runner) that hold no history yet.
pub fn build(name: &str, opts: &CheckOptions) -> Result<Box<dyn Checker>, SelectError> {
    match name {
        "linearizable" => Ok(Box::new(linearizable::LinearizableChecker {
            model: opts.model.clone().unwrap_or_else(|| "register".into()),
            config: opts.model_config.clone(),
        })),
        "graph-register" => Ok(Box::new(
            crate::checker::graph_register::GraphRegisterChecker::with_config(
                opts.model_config.clone(),
            ),
        )),
        "stale-read" => Ok(Box::new(
            crate::checker::stale_read::StaleReadChecker::with_config(opts.model_config.clone()),
        )),
        "lost-write" => Ok(Box::new(crate::checker::lost_write::LostWriteChecker {
            workload: match opts.workload.as_deref() {
                Some("set") => crate::checker::lost_write::Workload::Set,
                Some("list-append") => crate::checker::lost_write::Workload::ListAppend,
                Some("register") => crate::checker::lost_write::Workload::Register,
                _ => crate::checker::lost_write::Workload::Auto,
            },
            config: opts.model_config.clone(),
        })),
        "session" => Ok(Box::new(
            crate::checker::session::SessionChecker::with_config(opts.model_config.clone()),
        )),
        "elle" => {
            let kind = match opts.workload.as_deref() {
                Some("list-append") => Some(crate::checker::elle::ElleKind::ListAppend),
                Some("rw-register") => Some(crate::checker::elle::ElleKind::RwRegister),
                _ => None,
            };
            let c = crate::checker::elle::ElleChecker::from_flags(
                opts.consistency_model.as_deref(),
                kind,
                &opts.elle,
            )
            .map_err(SelectError)?;
            Ok(Box::new(c))
        }
        other => Err(SelectError(format!(
            "unknown checker `{other}`; the checkers are: {}",
            CHECKER_NAMES.join(", ")
        ))),
    }
}
