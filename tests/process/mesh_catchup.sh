#!/usr/bin/env bash
# Issue 3, acceptance 3: catch-up. branch-b, stopped while branch-a writes 100,000
# operations, catches up after its restart. Then branch-a writes 50,000 more while b
# is stopped, and b is killed with SIGKILL in the middle of that catch-up (when its
# status shows between 10% and 90% of the new operations): restarted, it resumes
# from its durable cursor and ends with exactly branch-a's operations, no duplicate
# (the counters would be too high) and no gap (too low).
#
# Timing (optimised build, 2 cores): writing 100,000 takes 0.6 s, catching them up
# 1.6 s, the whole script about 9 s. Scaling: round 1 is divided by
# SM_CATCHUP_DIVISOR, 1 for the optimised build and 4 by default when $STOREMESH is
# under a build-asan tree (ASan's `submit --batch` is about 3.6x slower: 1.4 s against
# 0.39 s for 100,000 operations), so the ASan run stays about as short. Round 2 keeps
# its 50,000 in both builds: the kill needs a catch-up long enough for a status
# reading to land inside it (50,000 take about 70 ms here, read every 6-9 ms).
set -euo pipefail
SM_TEST_WAIT_S=${SM_TEST_WAIT_S:-140} # lib.sh's watchdog, under CTest's TIMEOUT (150)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"

if mesh_is_asan; then
    SM_CATCHUP_DIVISOR=${SM_CATCHUP_DIVISOR:-4}
fi
DIVISOR=${SM_CATCHUP_DIVISOR:-1}
ROUND1_OPS=$((100000 / DIVISOR))
ROUND2_OPS=50000
KEYS=10               # the operations add 1 to sku-0 .. sku-9 in turn
CATCHUP_WAIT_S=60     # bound on each catch-up (about 1.5 s for 100,000 here)
KILL_ATTEMPTS_MAX=4   # rounds of ROUND2_OPS tried to catch b in the middle
SM_CMD_TIMEOUT_S=60   # a 100,000-line `submit --batch` is one CLI call

a=$SM_TMP/branch-a
b=$SM_TMP/branch-b

# The example rules refuse new work at 100,000 queued operations, and with no cloud
# every operation of branch-a stays queued: the same rules with a higher limit.
rules=$SM_TMP/rules.yaml
sed 's/^\(  max_queue_depth:\) *[0-9]*/\1 10000000/' "$SM_RULES" >"$rules"
grep -q '^  max_queue_depth: 10000000' "$rules" || fail "could not raise max_queue_depth in $rules"

mesh_node_init "$a" "$(mesh_port 2 0)" "$rules"
mesh_node_init "$b" "$(mesh_port 2 1)" "$rules"
mesh_link "$a" "$b"
node_start "$a"
node_start "$b"
wait_for 20 "a and b linked" check_connected "$a" branch-b

# write_batch ID_PREFIX COUNT: branch-a accepts COUNT stock adds with command IDs
# ID_PREFIX-000001 ..., one `submit --batch`; logs its speed.
write_batch()
{
    local id_prefix=$1 count=$2
    local file=$SM_TMP/$id_prefix.jsonl
    awk -v prefix="$id_prefix" -v count="$count" -v keys="$KEYS" 'BEGIN {
        for (i = 1; i <= count; i++)
            printf "{\"command_id\":\"%s-%06d\",\"source\":\"loader\",\"type\":\"stock\"," \
                   "\"key\":\"sku-%d\",\"field\":\"on_hand\",\"op\":\"add\",\"value\":1}\n",
                   prefix, i, i % keys
    }' >"$file"
    local start=$EPOCHREALTIME
    expect 0 submit --data "$a" --batch "$file"
    assert_eq "$(grep -c . <<<"$OUT")" "$count" "audit IDs for $file"
    sm_log "branch-a: $count operations written in $(mesh_elapsed "$start") s"
    # The first and the last, to look up on b afterwards.
    head -n 1 <<<"$OUT" >>"$SM_TMP/sample-ids.txt"
    tail -n 1 <<<"$OUT" >>"$SM_TMP/sample-ids.txt"
}

# ops_of DIR: prints the node's status operations, without jq (a fast poll).
ops_of()
{
    expect 0 status --data "$1" --json
    [[ $OUT =~ \"operations\":([0-9]+) ]] || fail "status --json has no operations: $OUT"
    printf '%s\n' "${BASH_REMATCH[1]}"
}

# assert_counters WANT: every counter on a and b equals WANT (each key got WANT adds).
assert_counters()
{
    local want=$1 dir i
    for dir in "$a" "$b"; do
        for ((i = 0; i < KEYS; i++)); do
            assert_eq "$(field_of "$dir" stock "sku-$i" on_hand)" "$want" \
                "$(basename "$dir"): sku-$i"
        done
    done
}

sm_log "round 1: b stopped while a writes $ROUND1_OPS operations"
node_stop "$b"
write_batch r1 "$ROUND1_OPS"
total=$(ops_of "$a")
assert_eq "$total" "$ROUND1_OPS" "branch-a's operations"
node_start "$b"
wait_for "$CATCHUP_WAIT_S" "b caught up $total operations" check_converged "$total" "$a" "$b"
assert_counters $((total / KEYS))

# catch_and_kill ROUND: writes ROUND2_OPS more on a while b is stopped, starts b and
# SIGKILLs it once a status reading shows it between 10% and 90% of the way. True
# when b was killed there, false when its readings jumped past 90% (b is then left
# running, caught up or nearly).
catch_and_kill()
{
    local round=$1
    node_stop "$b"
    write_batch "r2-$round" "$ROUND2_OPS"
    local base=$total
    total=$(ops_of "$a")
    local low=$((base + ROUND2_OPS / 10)) high=$((base + ROUND2_OPS * 9 / 10))
    node_start "$b"
    local deadline=$((SECONDS + CATCHUP_WAIT_S)) ops readings=()
    while ((SECONDS < deadline)); do
        ops=$(ops_of "$b") # as fast as the CLI answers: a catch-up is quick
        if ((ops >= low && ops <= high)); then
            node_kill "$b"
            sm_log "b killed at $ops of $total operations (readings before: ${readings[*]: -5})"
            return 0
        fi
        if ((ops > high)); then
            sm_log "b read $ops of $total: past 90% (readings before: ${readings[*]: -5})"
            return 1
        fi
        if ((${#readings[@]} == 0)) || ((readings[-1] != ops)); then
            readings+=("$ops")
        fi
    done
    SM_LAST_CMD=
    fail "b did not reach 10% of its catch-up within ${CATCHUP_WAIT_S}s: at $ops of $total"
}

sm_log "round 2: b killed with SIGKILL in the middle of a catch-up of $ROUND2_OPS"
rounds=0
killed=0
while ((rounds < KILL_ATTEMPTS_MAX)); do
    rounds=$((rounds + 1))
    if catch_and_kill "$rounds"; then
        node_start "$b"
        held=$(ops_of "$b")
        sm_log "b restarted holding $held of $total operations"
        if ((held < total)); then
            killed=1
            break
        fi
        sm_log "the kill landed after b had written everything; another round"
    fi
done
((killed)) || fail "b was not caught between 10% and 90% of its catch-up in $rounds rounds"
wait_for "$CATCHUP_WAIT_S" "b resumed and caught up $total operations" \
    check_converged "$total" "$a" "$b"

sm_log "no duplicates, no gaps"
assert_eq "$(ops_of "$b")" "$(ops_of "$a")" "b's operations"
assert_eq "$total" $((ROUND1_OPS + rounds * ROUND2_OPS)) "operations written"
assert_counters $((total / KEYS))
while IFS= read -r id; do
    expect 0 audit --data "$b" "$id"
done <"$SM_TMP/sample-ids.txt"

node_stop "$a"
node_stop "$b"
