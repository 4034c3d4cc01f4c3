//! Choosing checkers: by explicit name (`--checker`), by workload
//! (`--workload`), by model (`--model`), or, when nothing is said, by what
//! the history contains.
//!
//! This is the one place that maps names to checker values; the CLI and the
//! runner both come here.

use crate::checker::{graph_register, linearizable, Budget, CheckResult, Checker};
use crate::history::{Format, History};
use crate::model::{ModelConfig, ModelKind, NilRead};

/// `a, b, c`: the variant lists in help and error messages.
pub fn join_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().collect::<Vec<_>>().join(", ")
}

/// A checker by name: what `--checker` and a workload file's `checkers`
/// select.
///
/// Parsed where the name enters (clap for the command line, serde for
/// workload files, [`std::str::FromStr`] elsewhere), so a misspelt checker
/// is an error naming the argument or field before anything runs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum CheckerKind {
    /// Linearizability against a sequential model (the search, or the
    /// graph checker for registers with unique writes).
    Linearizable,
    /// The polynomial graph checker for registers with unique writes.
    GraphRegister,
    /// Reads that returned a value already overwritten when they began.
    StaleRead,
    /// Acknowledged writes that reads stop showing (Jepsen's set-full on
    /// sets; `set-full` is accepted for it).
    #[value(alias = "set-full")]
    #[serde(alias = "set-full")]
    LostWrite,
    /// Per-session guarantees: read-your-writes, monotonic reads/writes,
    /// writes-follow-reads.
    Session,
    /// Elle-style transactional anomalies (list-append, rw-register).
    Elle,
    /// Jepsen's counter: every read between the acknowledged and the
    /// attempted sums of adds.
    Counter,
    /// Jepsen's set: the final read holds every acknowledged add and
    /// nothing never attempted.
    Set,
    /// Jepsen's queue: every dequeue from an unordered queue of what was
    /// enqueued and not yet dequeued.
    Queue,
    /// Jepsen's total-queue: every acknowledged enqueue dequeued, nothing
    /// invented.
    TotalQueue,
    /// Jepsen's unique-ids: no id generated twice.
    UniqueIds,
}

impl CheckerKind {
    /// Every checker, in the order help and errors list them.
    pub const ALL: &'static [CheckerKind] = &[
        CheckerKind::Linearizable,
        CheckerKind::GraphRegister,
        CheckerKind::StaleRead,
        CheckerKind::LostWrite,
        CheckerKind::Session,
        CheckerKind::Elle,
        CheckerKind::Counter,
        CheckerKind::Set,
        CheckerKind::Queue,
        CheckerKind::TotalQueue,
        CheckerKind::UniqueIds,
    ];

    /// The name `--checker` takes, and the name results carry.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckerKind::Linearizable => "linearizable",
            CheckerKind::GraphRegister => "graph-register",
            CheckerKind::StaleRead => "stale-read",
            CheckerKind::LostWrite => "lost-write",
            CheckerKind::Session => "session",
            CheckerKind::Elle => "elle",
            CheckerKind::Counter => "counter",
            CheckerKind::Set => "set",
            CheckerKind::Queue => "queue",
            CheckerKind::TotalQueue => "total-queue",
            CheckerKind::UniqueIds => "unique-ids",
        }
    }

    /// Every checker name, comma-separated, for messages.
    pub fn names() -> String {
        join_names(Self::ALL.iter().map(|c| c.as_str()))
    }
}

impl std::fmt::Display for CheckerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CheckerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<CheckerKind, String> {
        CheckerKind::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s || (s == "set-full" && *c == CheckerKind::LostWrite))
            .ok_or_else(|| {
                format!(
                    "unknown checker `{s}`; the checkers are: {}",
                    CheckerKind::names()
                )
            })
    }
}

/// What kind of history `check --workload` is told it reads; it picks the
/// checkers. The runner's [`crate::workload::WorkloadKind`] maps onto it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum CheckWorkload {
    /// Reads, writes and cas on registers.
    Register,
    /// Adds of unique elements and reads of the whole set.
    Set,
    /// Elle's list-append transactions.
    ListAppend,
    /// Elle's rw-register transactions.
    RwRegister,
    /// Adds to and reads of a counter (Jepsen's counter workload).
    Counter,
    /// Enqueues, dequeues and a final drain (Jepsen's queue workloads).
    Queue,
    /// Id generation (Jepsen's unique-ids workload).
    UniqueIds,
}

impl CheckWorkload {
    /// Every workload, in the order help and errors list them.
    pub const ALL: &'static [CheckWorkload] = &[
        CheckWorkload::Register,
        CheckWorkload::Set,
        CheckWorkload::ListAppend,
        CheckWorkload::RwRegister,
        CheckWorkload::Counter,
        CheckWorkload::Queue,
        CheckWorkload::UniqueIds,
    ];

    /// The name `--workload` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckWorkload::Register => "register",
            CheckWorkload::Set => "set",
            CheckWorkload::ListAppend => "list-append",
            CheckWorkload::RwRegister => "rw-register",
            CheckWorkload::Counter => "counter",
            CheckWorkload::Queue => "queue",
            CheckWorkload::UniqueIds => "unique-ids",
        }
    }

    /// Every workload name, comma-separated, for messages.
    pub fn names() -> String {
        join_names(Self::ALL.iter().map(|w| w.as_str()))
    }

    /// The checkers this kind of history calls for.
    pub fn checkers(self) -> Vec<CheckerKind> {
        use CheckerKind as C;
        match self {
            CheckWorkload::Register => vec![C::Linearizable, C::StaleRead, C::Session],
            CheckWorkload::Set => vec![C::LostWrite],
            CheckWorkload::ListAppend => vec![C::Elle, C::LostWrite],
            CheckWorkload::RwRegister => vec![C::Elle],
            CheckWorkload::Counter => vec![C::Counter],
            CheckWorkload::Queue => vec![C::Queue, C::TotalQueue],
            CheckWorkload::UniqueIds => vec![C::UniqueIds],
        }
    }
}

impl std::fmt::Display for CheckWorkload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CheckWorkload {
    type Err = String;
    fn from_str(s: &str) -> Result<CheckWorkload, String> {
        CheckWorkload::ALL
            .iter()
            .copied()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown workload `{s}`; the workloads are: {}",
                    CheckWorkload::names()
                )
            })
    }
}

impl From<crate::workload::WorkloadKind> for CheckWorkload {
    fn from(w: crate::workload::WorkloadKind) -> CheckWorkload {
        use crate::workload::WorkloadKind as W;
        match w {
            W::Register => CheckWorkload::Register,
            W::Set => CheckWorkload::Set,
            W::ListAppend => CheckWorkload::ListAppend,
            W::RwRegister => CheckWorkload::RwRegister,
        }
    }
}

/// What the user asked `check` to decide. Every selecting name is already
/// parsed; only the consistency model stays text, validated by
/// [`crate::checker::elle::parse_consistency_model`] (the Elle checker owns
/// its grammar).
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// `--model`: a sequential specification for the linearizable checker.
    pub model: Option<ModelKind>,
    pub model_config: ModelConfig,
    /// `--nil-read` was not given: the register models read an `ok` read
    /// of null as Jepsen and Knossos do in an EDN history (value unknown),
    /// and as `model_config` says in any other.
    pub nil_read_by_format: bool,
    /// `--workload`: which checkers, and how to read the history.
    pub workload: Option<CheckWorkload>,
    /// `--checker`: explicit checkers.
    pub checkers: Option<Vec<CheckerKind>>,
    /// `--consistency-model` for the transactional checker (comma-separated).
    pub consistency_model: Option<String>,
    /// `--linearizable`: set-full (lost-write on sets) fails on stale
    /// elements, as Jepsen's `:linearizable?` option.
    pub linearizable: bool,
    /// `--anomalies`, `--wfr-keys`, ... for the transactional checker.
    pub elle: crate::checker::elle::ElleFlags,
}

/// An error in the request (bad names) or in the input (ops that do not fit
/// the chosen model): exit code 254.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SelectError(pub String);

/// Checks what `opts` holds as text before any file is read.
pub fn validate(opts: &CheckOptions) -> Result<(), SelectError> {
    if let Some(m) = &opts.consistency_model {
        crate::checker::elle::parse_consistency_models(m)
            .map_err(|e| SelectError(format!("--consistency-model: {e}")))?;
    }
    Ok(())
}

/// The model to use for `linearizable` when `--model` is not given: guessed
/// from the functions in the history.
pub fn infer_model(history: &History) -> ModelKind {
    let fs = history.functions();
    let has = |f: &str| fs.iter().any(|n| n == f);
    if has("txn") {
        ModelKind::MultiRegister
    } else if has("cas") {
        ModelKind::CasRegister
    } else if has("acquire") || has("release") {
        ModelKind::Mutex
    } else if has("enqueue") || has("dequeue") {
        ModelKind::FifoQueue
    } else if has("add") {
        ModelKind::Set
    } else if has("get") || has("put") || has("append") {
        ModelKind::Kv
    } else {
        ModelKind::Register
    }
}

/// The checkers to run: explicit, by workload, or inferred.
fn checker_kinds(history: &History, opts: &CheckOptions) -> Vec<CheckerKind> {
    if let Some(kinds) = &opts.checkers {
        return kinds.clone();
    }
    if let Some(w) = opts.workload {
        return w.checkers();
    }
    if opts.model.is_some() {
        return vec![CheckerKind::Linearizable];
    }
    // Nothing said: transactions go to the Elle-style checker, set adds to
    // lost-write, everything else to linearizability with a guessed model.
    let fs = history.functions();
    let kind = if fs.iter().any(|f| f == "txn") && !fs.iter().any(|f| f == "read" || f == "write") {
        CheckerKind::Elle
    } else {
        match infer_model(history) {
            ModelKind::Set => CheckerKind::LostWrite,
            _ => CheckerKind::Linearizable,
        }
    };
    vec![kind]
}

/// Runs the checkers `opts` asks for on `history`. Errors are about the
/// request or the input (exit 254); verdicts are in the results.
pub fn run_checks(
    history: &History,
    opts: &CheckOptions,
    budget: &Budget,
) -> Result<Vec<CheckResult>, SelectError> {
    validate(opts)?;
    let kinds = checker_kinds(history, opts);
    // Pairing errors are input errors. Only the Elle-style checker reads
    // histories without invoke/completion pairs (Elle's completions-only form).
    if kinds.iter().any(|k| *k != CheckerKind::Elle) {
        history
            .operations()
            .map_err(|e| SelectError(e.to_string()))?;
    }
    let mut results = Vec::new();
    for kind in kinds {
        let r = match kind {
            CheckerKind::Linearizable => {
                let model = opts.model.unwrap_or_else(|| infer_model(history));
                check_linearizable(history, model, opts, budget)?
            }
            other => build(other, opts)?.check(history, budget),
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
    model: ModelKind,
    opts: &CheckOptions,
    budget: &Budget,
) -> Result<CheckResult, SelectError> {
    let mut config = opts.model_config.clone();
    if opts.nil_read_by_format
        && history.source.format == Some(Format::Edn)
        && matches!(
            model,
            ModelKind::Register | ModelKind::CasRegister | ModelKind::MultiRegister
        )
    {
        config.nil_read = NilRead::Unknown;
    }
    if matches!(model, ModelKind::Register | ModelKind::CasRegister) {
        let ops = history
            .operations()
            .map_err(|e| SelectError(e.to_string()))?;
        if graph_register::qualifies_with(ops, &config) {
            let mut r = graph_register::GraphRegisterChecker::with_config(config.clone())
                .check(history, budget);
            r.checker = CheckerKind::Linearizable.as_str().to_string();
            r.summary = format!("{} [graph checker: unique writes]", r.summary);
            return Ok(r);
        }
    }
    linearizable::check(history, model, &config, budget).map_err(|e| SelectError(e.to_string()))
}

/// A checker by kind, for callers (the runner) that hold no history yet.
pub fn build(kind: CheckerKind, opts: &CheckOptions) -> Result<Box<dyn Checker>, SelectError> {
    use crate::checker::lost_write;
    match kind {
        CheckerKind::Linearizable => Ok(Box::new(linearizable::LinearizableChecker {
            model: opts.model.unwrap_or(ModelKind::Register),
            config: opts.model_config.clone(),
        })),
        CheckerKind::GraphRegister => Ok(Box::new(
            graph_register::GraphRegisterChecker::with_config(opts.model_config.clone()),
        )),
        CheckerKind::StaleRead => Ok(Box::new(
            crate::checker::stale_read::StaleReadChecker::with_config(opts.model_config.clone()),
        )),
        CheckerKind::LostWrite => Ok(Box::new(lost_write::LostWriteChecker {
            workload: match opts.workload {
                Some(CheckWorkload::Set) => lost_write::Workload::Set,
                Some(CheckWorkload::ListAppend) => lost_write::Workload::ListAppend,
                Some(CheckWorkload::Register) => lost_write::Workload::Register,
                _ => lost_write::Workload::Auto,
            },
            config: opts.model_config.clone(),
            linearizable: opts.linearizable,
        })),
        CheckerKind::Session => Ok(Box::new(
            crate::checker::session::SessionChecker::with_config(opts.model_config.clone()),
        )),
        CheckerKind::Elle => {
            let kind = match opts.workload {
                Some(CheckWorkload::ListAppend) => Some(crate::checker::elle::ElleKind::ListAppend),
                Some(CheckWorkload::RwRegister) => Some(crate::checker::elle::ElleKind::RwRegister),
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
        CheckerKind::Counter => Ok(Box::new(crate::checker::counter::CounterChecker)),
        CheckerKind::Set => Ok(Box::new(crate::checker::set::SetChecker)),
        CheckerKind::Queue => Ok(Box::new(crate::checker::queue::QueueChecker)),
        CheckerKind::TotalQueue => Ok(Box::new(crate::checker::total_queue::TotalQueueChecker)),
        CheckerKind::UniqueIds => Ok(Box::new(crate::checker::unique_ids::UniqueIdsChecker)),
    }
}
