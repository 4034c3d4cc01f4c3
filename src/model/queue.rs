//! A first-in, first-out queue: `enqueue v` appends `v`; `dequeue` removes
//! and returns the oldest element.
//!
//! An `ok` dequeue whose value is null found the queue empty (so null cannot
//! itself be enqueued). An indeterminate dequeue, if it happened, removed
//! the oldest element, whatever it was.

use super::{reported, unknown_f, Model, ModelConfig, NilRead, Val};
use crate::history::Operation;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueOp {
    Enqueue(Val),
    /// Dequeued this value.
    Dequeue(Val),
    /// Found the queue empty.
    DequeueEmpty,
    /// Returned, but what is not known: removed the head if there was one.
    DequeueUnknown,
    /// Indeterminate: removed the head, if it happened at all.
    DequeueMaybe,
}

pub type Pending = Arc<VecDeque<Val>>;

#[derive(Clone, Debug)]
pub struct FifoQueue {
    pub initial: Pending,
    pub nil_read: NilRead,
}

impl FifoQueue {
    /// `--initial` is a list (head first) or null (empty).
    pub fn new(cfg: &ModelConfig) -> Result<FifoQueue, String> {
        let initial = match &cfg.initial {
            Value::Null => VecDeque::new(),
            Value::Array(items) => items.iter().map(Val::from_json).collect(),
            other => {
                return Err(format!(
                "the fifo-queue model's initial value is a list (head first) or null; got {other}"
            ))
            }
        };
        Ok(FifoQueue {
            initial: Arc::new(initial),
            nil_read: cfg.nil_read,
        })
    }
}

impl Model for FifoQueue {
    type Op = QueueOp;
    type State = Pending;

    fn name(&self) -> &'static str {
        "fifo-queue"
    }
    fn init(&self) -> Pending {
        self.initial.clone()
    }
    fn parse(&self, op: &Operation) -> Result<QueueOp, String> {
        match op.f.as_str() {
            "enqueue" => {
                if op.input.is_null() {
                    return Err(
                        "enqueue needs a non-null value (a null dequeue means the queue was empty)"
                            .into(),
                    );
                }
                Ok(QueueOp::Enqueue(Val::of(&op.input)))
            }
            "dequeue" => Ok(match reported(op) {
                None => QueueOp::DequeueMaybe,
                Some(crate::history::Val::Nil) if self.nil_read == NilRead::Unknown => {
                    QueueOp::DequeueUnknown
                }
                Some(crate::history::Val::Nil) => QueueOp::DequeueEmpty,
                Some(v) => QueueOp::Dequeue(Val::of(v)),
            }),
            _ => Err(unknown_f(self.name(), op, "enqueue or dequeue")),
        }
    }
    fn step(&self, q: &Pending, op: &QueueOp) -> Option<Pending> {
        let pop = |q: &Pending| {
            let mut next = (**q).clone();
            next.pop_front();
            Arc::new(next)
        };
        match op {
            QueueOp::Enqueue(v) => {
                let mut next = (**q).clone();
                next.push_back(v.clone());
                Some(Arc::new(next))
            }
            QueueOp::Dequeue(v) => (q.front() == Some(v)).then(|| pop(q)),
            QueueOp::DequeueEmpty => q.is_empty().then(|| q.clone()),
            QueueOp::DequeueUnknown if q.is_empty() => Some(q.clone()),
            QueueOp::DequeueUnknown => Some(pop(q)),
            QueueOp::DequeueMaybe => (!q.is_empty()).then(|| pop(q)),
        }
    }
    fn is_read_only(&self, op: &QueueOp) -> bool {
        matches!(op, QueueOp::DequeueEmpty)
    }
    fn show_state(&self, q: &Pending) -> String {
        if q.is_empty() {
            return "empty".into();
        }
        let parts: Vec<String> = q.iter().map(|v| v.to_string()).collect();
        format!("[{}] (head first)", parts.join(", "))
    }
    fn state_heap_bytes(&self, q: &Pending) -> usize {
        32 + q.iter().map(|v| 24 + v.heap_bytes()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use crate::model::test_op;
    use serde_json::json;

    #[test]
    fn first_in_first_out() {
        let m = FifoQueue::new(&ModelConfig::default()).unwrap();
        let enq = |v: i64| {
            m.parse(&test_op("enqueue", json!(v), json!(v), Outcome::Ok))
                .unwrap()
        };
        let deq = |v: Value| {
            m.parse(&test_op("dequeue", Value::Null, v, Outcome::Ok))
                .unwrap()
        };
        let s = m.step(&m.init(), &enq(1)).unwrap();
        let s = m.step(&s, &enq(2)).unwrap();
        assert!(m.step(&s, &deq(json!(2))).is_none());
        let s = m.step(&s, &deq(json!(1))).unwrap();
        assert!(m.step(&s, &deq(Value::Null)).is_none());
        let s = m.step(&s, &deq(json!(2))).unwrap();
        assert!(m.step(&s, &deq(Value::Null)).is_some());
        let maybe = m
            .parse(&test_op(
                "dequeue",
                Value::Null,
                json!("timeout"),
                Outcome::Info,
            ))
            .unwrap();
        assert_eq!(maybe, QueueOp::DequeueMaybe);
        assert!(m.step(&s, &maybe).is_none());
        assert_eq!(
            m.show_state(&m.step(&s, &enq(4)).unwrap()),
            "[4] (head first)"
        );
    }

    #[test]
    fn null_enqueue_is_rejected() {
        let m = FifoQueue::new(&ModelConfig::default()).unwrap();
        let e = m
            .parse(&test_op("enqueue", Value::Null, Value::Null, Outcome::Ok))
            .unwrap_err();
        assert!(e.contains("non-null"), "{e}");
    }
}
