#!/usr/bin/env python3
"""A tiny in-memory client for faultline's process protocol (no database).

Each copy keeps its own store in memory, so run it with concurrency = 1 (or
expect different workers to see different data). It exists to try the
protocol, docs/process-protocol.md, without a database:

    stdin:  {"f": "write", "key": 3, "value": 7, "process": 0}
    stdout: {"type": "ok", "value": 7}

Options: --crash-after N exits (without answering) on the N+1-th operation,
to show what a crashing client looks like in the history (an `info` op and
a fresh process id).
"""
import json
import sys


def main():
    crash_after = None
    if len(sys.argv) == 3 and sys.argv[1] == "--crash-after":
        crash_after = int(sys.argv[2])
    store = {}
    served = 0
    for line in sys.stdin:
        if crash_after is not None and served >= crash_after:
            sys.exit(3)
        served += 1
        try:
            op = json.loads(line)
        except ValueError as e:
            print(json.dumps({"type": "fail", "error": "bad request: %s" % e}), flush=True)
            continue
        print(json.dumps(apply(store, op)), flush=True)


def apply(store, op):
    f, key, value = op.get("f"), json.dumps(op.get("key")), op.get("value")
    if f == "read":
        v = store.get(key)
        if v is None and isinstance(value, list):
            v = []
        return {"type": "ok", "value": v}
    if f == "write":
        store[key] = value
        return {"type": "ok", "value": value}
    if f == "cas":
        expected, new = value
        if store.get(key) != expected:
            return {"type": "fail", "value": value, "error": "cas mismatch"}
        store[key] = new
        return {"type": "ok", "value": value}
    if f == "add":
        s = store.setdefault(key, [])
        if value not in s:
            s.append(value)
        return {"type": "ok", "value": value}
    if f == "txn":
        out = []
        for mf, k, v in value:
            k = json.dumps(k)
            if mf in ("r", "read"):
                out.append([mf, json.loads(k), store.get(k)])
            elif mf in ("w", "write"):
                store[k] = v
                out.append([mf, json.loads(k), v])
            elif mf == "append":
                store.setdefault(k, []).append(v)
                out.append([mf, json.loads(k), v])
            else:
                return {"type": "fail", "value": value, "error": "unknown micro-op %s" % mf}
        return {"type": "ok", "value": out}
    return {"type": "fail", "value": value, "error": "unknown f %r" % f}


if __name__ == "__main__":
    main()
