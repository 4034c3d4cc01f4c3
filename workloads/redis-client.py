#!/usr/bin/env python3
"""A faultline process-protocol client for Redis, standard library only.

It speaks RESP (Redis's wire protocol) over a plain socket, so nothing needs
to be installed. The node to talk to comes from FAULTLINE_NODE ("host:port",
default 127.0.0.1:6379); the workload from FAULTLINE_WORKLOAD.

Operations: register read (GET), write (SET), cas (a Lua script, atomic on
the server); set add (SADD) and read (SMEMBERS); list-append transactions
(MULTI/EXEC with RPUSH and LRANGE). Keys are prefixed with FAULTLINE_PREFIX
(default "faultline:").

What it answers when things go wrong: a connection that could not be made
means the command was certainly not sent (fail); an error after sending
means it may have run (info); a Redis error reply means the command did not
run (fail).
"""
import json
import os
import socket
import sys

CAS = (
    "local v = redis.call('GET', KEYS[1]) "
    "if ARGV[3] == '1' then if v then return 0 end "
    "elseif v ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[2]) return 1"
)


class RedisError(Exception):
    pass


class Conn:
    def __init__(self, node):
        host, _, port = node.rpartition(":")
        self.sock = socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=5)
        self.file = self.sock.makefile("rb")

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))

    def reply(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2].decode()
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self.reply() for _ in range(n)]
        raise ConnectionError("unexpected reply %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.reply()


def num(v):
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        return v


def perform(conn, op, workload, prefix):
    f, value = op["f"], op.get("value")
    key = prefix + json.dumps(op.get("key"))
    if f == "read" and workload == "set":
        return {"type": "ok", "value": sorted(num(x) for x in conn.call("SMEMBERS", key))}
    if f == "read":
        return {"type": "ok", "value": num(conn.call("GET", key))}
    if f == "write":
        conn.call("SET", key, value)
        return {"type": "ok", "value": value}
    if f == "cas":
        expected, new = value
        nil = "1" if expected is None else "0"
        ok = conn.call("EVAL", CAS, 1, key, "" if expected is None else expected, new, nil)
        if ok == 1:
            return {"type": "ok", "value": value}
        return {"type": "fail", "value": value, "error": "cas mismatch"}
    if f == "add":
        conn.call("SADD", key, value)
        return {"type": "ok", "value": value}
    if f == "txn":
        conn.send("MULTI")
        conn.reply()
        for mf, k, v in value:
            kk = prefix + json.dumps(k)
            if mf in ("r", "read"):
                conn.send("LRANGE", kk, 0, -1)
            elif mf == "append":
                conn.send("RPUSH", kk, v)
            else:
                conn.send("DISCARD")
                return {"type": "fail", "value": value, "error": "unsupported micro-op " + mf}
            conn.reply()  # QUEUED
        results = conn.call("EXEC")
        out = []
        for (mf, k, v), r in zip(value, results):
            out.append([mf, k, [num(x) for x in r] if mf in ("r", "read") else v])
        return {"type": "ok", "value": out}
    return {"type": "fail", "value": value, "error": "unsupported f " + str(f)}


def main():
    node = os.environ.get("FAULTLINE_NODE", "127.0.0.1:6379")
    workload = os.environ.get("FAULTLINE_WORKLOAD", "register")
    prefix = os.environ.get("FAULTLINE_PREFIX", "faultline:")
    conn = None
    for line in sys.stdin:
        op = json.loads(line)
        if conn is None:
            try:
                conn = Conn(node)
            except OSError as e:
                # Nothing was sent: certainly not executed.
                print(json.dumps({"type": "fail", "value": op.get("value"), "error": "connect: %s" % e}), flush=True)
                continue
        try:
            answer = perform(conn, op, workload, prefix)
        except RedisError as e:
            answer = {"type": "fail", "value": op.get("value"), "error": str(e)}
        except (OSError, ConnectionError, ValueError) as e:
            # Sent, but we do not know what happened.
            answer = {"type": "info", "value": op.get("value"), "error": str(e)}
            conn = None
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
