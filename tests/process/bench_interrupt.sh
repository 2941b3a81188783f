#!/usr/bin/env bash
# A benchmark stopped by SIGTERM (a supervisor's timeout, a closed terminal) or
# SIGINT stops the nodes it started, says where it kept the data, and ends by that
# signal: before, its nodes kept running, with their Hellos and open databases, for
# good. `bench mesh` starts two nodes per backlog; the signal comes while they run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# bench_interrupted_by SIGNAL: starts `bench mesh` in $SM_TMP/SIGNAL, sends it SIGNAL
# once one of its nodes runs, and checks what follows.
bench_interrupted_by()
{
    local signal=$1 dir=$SM_TMP/$1
    mkdir -p "$dir"
    "$STOREMESH" bench mesh --ops 1000 --dir "$dir" >"$dir/out" 2>"$dir/err" &
    local bench=$!
    local tries
    for ((tries = 0; tries < 300; tries++)); do # 30 s at most
        pgrep -f "run --data $dir/" >/dev/null && break
        kill -0 "$bench" 2>/dev/null || fail "bench mesh ended before any node ran: $(cat "$dir/err")"
        sleep 0.1
    done
    pgrep -f "run --data $dir/" >/dev/null || fail "no node of bench mesh ran within 30 s"
    kill -"$signal" "$bench"
    local rc=0
    wait "$bench" || rc=$?
    local expected=$((128 + $(kill -l "$signal")))
    assert_eq "$rc" "$expected" "bench mesh ends by SIG$signal"
    for ((tries = 0; tries < 100; tries++)); do # its nodes stop within 10 s
        pgrep -f "run --data $dir/" >/dev/null || break
        sleep 0.1
    done
    if pgrep -af "run --data $dir/"; then
        pkill -KILL -f "run --data $dir/" || true
        fail "nodes of the interrupted bench mesh still ran 10 s after SIG$signal (above)"
    fi
    grep -q "interrupted; its nodes were told to stop; data kept in $dir/storemesh-bench." \
        "$dir/err" || fail "no word of where the data was kept: $(cat "$dir/err")"
}

bench_interrupted_by TERM
bench_interrupted_by INT
