#!/usr/bin/env bash
# Whole-process benchmark of `faultline check`: wall time and peak RSS of the
# CLI on large generated histories and on the Porcupine etcd corpus.
#
#   scripts/bench-whole-process.sh [--10m] [--runs N] [DIR]
#
# Builds the release binary and the `bench_histories` example, writes the
# histories into DIR (default /tmp/faultline-bench; with --10m also the
# 10,000,000-operation register history), then runs `faultline check` on each
# N times (default 5) under /usr/bin/time and prints the median wall seconds
# and the median peak RSS in MiB beside the exit code.
#
# The generated histories are all valid (exit 0 expected). The etcd corpus
# (../shared/corpus/porcupine/etcd next to the repository, or $FAULTLINE_CORPUS)
# is checked as one run of all its files; each file's verdict is compared
# with the corpus table expected.tsv (an empty file is linearizable), and the
# run's exit code must be 1 since the corpus holds invalid histories.
# Exits non-zero if any verdict or exit code differs from the expected one.
# This is a benchmark, not a test: it is not part of the test suite.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir=/tmp/faultline-bench
runs=5
ten_million=0
while [ $# -gt 0 ]; do
    case "$1" in
        --10m) ten_million=1 ;;
        --runs) runs="$2"; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) dir="$1" ;;
    esac
    shift
done
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time (GNU time) is required: apt-get install time" >&2; exit 2; }
corpus="${FAULTLINE_CORPUS:-$root/../shared/corpus/porcupine}"

cd "$root"
cargo build --release --bin faultline --example bench_histories >&2
bin="$root/target/release/faultline"
mkdir -p "$dir"
if [ "$ten_million" = 1 ]; then
    "$root/target/release/examples/bench_histories" "$dir" --10m
else
    "$root/target/release/examples/bench_histories" "$dir"
fi

failures=0
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# bench NAME EXPECTED_EXIT WORKDIR FILE... : runs the check $runs times and
# prints one table row; the output of the last run is kept in $dir/NAME.out
# (NAME with anything but letters, digits, '.' and '-' replaced by '_').
bench() {
    local name="$1" expected="$2" workdir="$3"
    shift 3
    local times=() rss=() codes=() i
    local log="$dir/${name//[^A-Za-z0-9.-]/_}"
    for ((i = 0; i < runs; i++)); do
        local code=0
        (cd "$workdir" && /usr/bin/time -f '%e %M' -o "$dir/time.txt" "$bin" check "$@" >"$log.out" 2>"$log.err") || code=$?
        # GNU time writes "Command exited with non-zero status N" first.
        read -r t m < <(tail -n 1 "$dir/time.txt")
        times+=("$t"); rss+=("$m"); codes+=("$code")
    done
    local t m verdict="ok"
    t=$(printf '%s\n' "${times[@]}" | median)
    m=$(printf '%s\n' "${rss[@]}" | median)
    for c in "${codes[@]}"; do
        if [ "$c" != "$expected" ]; then
            verdict="WRONG (exit $c, expected $expected)"
        fi
    done
    [ "$verdict" = ok ] || failures=$((failures + 1))
    printf '%-26s %10s %10s %6s  %s\n' "$name" "$t" "$((m / 1024))" "${codes[-1]}" "$verdict"
}

printf '%-26s %10s %10s %6s  %s\n' history "wall s" "RSS MiB" exit verdict
bench register-1m.jsonl 0 "$dir" register-1m.jsonl
bench register-1m.edn 0 "$dir" register-1m.edn
bench list-append-100k.jsonl 0 "$dir" list-append-100k.jsonl
bench list-append-100k.edn 0 "$dir" list-append-100k.edn
if [ -d "$corpus/etcd" ]; then
    mapfile -t etcd < <(cd "$corpus" && ls etcd/*.log)
    bench "etcd (${#etcd[@]} files)" 1 "$corpus" "${etcd[@]}"
    # Each file's verdict against the corpus table (the CLI prints
    # "etcd/etcd_000.log: INVALID" first for each file).
    out="$dir/etcd__${#etcd[@]}_files_.out"
    wrong=0
    while IFS=$'\t' read -r file _model expected; do
        case "$file" in etcd/*) ;; *) continue ;; esac
        case "$expected" in
            linearizable) want=VALID ;;
            not-linearizable) want=INVALID ;;
            *) echo "unknown expectation '$expected' for $file" >&2; wrong=$((wrong + 1)); continue ;;
        esac
        [ -s "$corpus/$file" ] || want=VALID # an empty history is linearizable
        got=$(grep -m1 "^$file: " "$out" | sed 's/^[^:]*: //' || true)
        if [ "$got" != "$want" ]; then
            echo "  $file: expected $want, got '${got:-nothing}'" >&2
            wrong=$((wrong + 1))
        fi
    done < <(tail -n +2 "$corpus/expected.tsv")
    if [ "$wrong" != 0 ]; then
        echo "  $wrong etcd verdicts differ from $corpus/expected.tsv" >&2
        failures=$((failures + 1))
    fi
else
    echo "!!! the etcd corpus is ABSENT at $corpus/etcd: its row is NOT measured (set FAULTLINE_CORPUS)" >&2
    failures=$((failures + 1))
fi
if [ "$ten_million" = 1 ]; then
    bench register-10m.jsonl 0 "$dir" register-10m.jsonl
fi
echo "(median of $runs runs; load: $(uptime | sed 's/.*load average: //'))"
if [ "$failures" != 0 ]; then
    echo "$failures row(s) with a wrong verdict or missing input" >&2
    exit 1
fi
