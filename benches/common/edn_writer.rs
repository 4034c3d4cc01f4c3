//! A small writer of Jepsen-style EDN histories (one op map per line), shared
//! by the ingest benchmark and the `bench_histories` example (included with
//! `#[path]`), so both measure the reader on the same text.

use faultline::history::{History, Val};
use std::fmt::Write as _;

/// EDN text for a value: micro-op names become keywords, as Elle writes them.
fn edn_value(v: &Val, out: &mut String) {
    match v {
        Val::Nil => out.push_str("nil"),
        list if list.is_array() => {
            let xs = list.as_array().unwrap_or_default();
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                match x {
                    Val::Str(s) if i == 0 && (*s == "append" || *s == "r" || *s == "w") => {
                        out.push(':');
                        out.push_str(s);
                    }
                    _ => edn_value(x, out),
                }
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Appends one op map per event of `h` to `out`, as Jepsen writes histories.
pub fn write_edn(h: &History, out: &mut String) {
    for op in h.ops() {
        let _ = write!(out, "{{:index {}", op.index);
        if let Some(t) = op.time.get() {
            let _ = write!(out, ", :time {t}");
        }
        if let Some(p) = &op.process {
            let _ = write!(out, ", :process {p}");
        }
        let _ = write!(out, ", :type :{}, :f :{}", op.op_type, op.f);
        if let Some(k) = &op.key {
            out.push_str(", :key ");
            edn_value(k, out);
        }
        out.push_str(", :value ");
        edn_value(&op.value, out);
        out.push_str("}\n");
    }
}
