#!/usr/bin/env bash
# Acceptance 1 (determinism): the same scenario and seed give the same event log,
# byte for byte (its hash and the full trace); another seed gives another run.
set -euo pipefail
source "$(dirname "$0")/sim_lib.sh"

scenario=$SIM_SCENARIOS/small.yaml
for run in a b; do
    "$STOREMESH_SIM" "$scenario" --seed 42 --trace "$SIM_TMP/trace-$run" >"$SIM_TMP/report-$run" ||
        sim_fail "seed 42 did not pass: $(cat "$SIM_TMP/report-$run")"
done
"$STOREMESH_SIM" "$scenario" --seed 43 --trace "$SIM_TMP/trace-c" >"$SIM_TMP/report-c" ||
    sim_fail "seed 43 did not pass: $(cat "$SIM_TMP/report-c")"

hash_a=$(sim_hash "$SIM_TMP/report-a")
hash_b=$(sim_hash "$SIM_TMP/report-b")
hash_c=$(sim_hash "$SIM_TMP/report-c")
[[ -n $hash_a ]] || sim_fail "the report shows no event log hash"
[[ $hash_a == "$hash_b" ]] || sim_fail "seed 42 twice gave event hashes $hash_a and $hash_b"
cmp -s "$SIM_TMP/trace-a" "$SIM_TMP/trace-b" || sim_fail "seed 42 twice gave different traces"
[[ $(wc -l <"$SIM_TMP/trace-a") -gt 1000 ]] || sim_fail "the trace is too short to mean anything"
[[ $hash_a != "$hash_c" ]] || sim_fail "seeds 42 and 43 gave the same event hash $hash_a"
cmp -s "$SIM_TMP/trace-a" "$SIM_TMP/trace-c" && sim_fail "seeds 42 and 43 gave the same trace"
# The whole report, JSON included, is the same on a replay.
"$STOREMESH_SIM" "$scenario" --seed 42 --json >"$SIM_TMP/json-a"
"$STOREMESH_SIM" "$scenario" --seed 42 --json >"$SIM_TMP/json-b"
jq -e '.passed == true and .seed == 42' "$SIM_TMP/json-a" >/dev/null || sim_fail "JSON report: $(head -c 400 "$SIM_TMP/json-a")"
diff <(jq -S 'del(.speed)' "$SIM_TMP/json-a") <(jq -S 'del(.speed)' "$SIM_TMP/json-b") >/dev/null ||
    sim_fail "two JSON reports of seed 42 differ"
# A sweep's results do not depend on how many processes run it.
"$STOREMESH_SIM" "$scenario" --seeds 1..40 --jobs 1 | grep -v "wall s" >"$SIM_TMP/sweep-1" ||
    sim_fail "sweep 1..40 on one process failed: $(cat "$SIM_TMP/sweep-1")"
"$STOREMESH_SIM" "$scenario" --seeds 1..40 --jobs 2 | grep -v "wall s" >"$SIM_TMP/sweep-2" ||
    sim_fail "sweep 1..40 on two processes failed: $(cat "$SIM_TMP/sweep-2")"
grep -q "rare paths reached: gap-filled-by-relay [1-9]" "$SIM_TMP/sweep-1" ||
    sim_fail "the one-process sweep counted no rare paths: $(cat "$SIM_TMP/sweep-1")"
cmp -s "$SIM_TMP/sweep-1" "$SIM_TMP/sweep-2" ||
    sim_fail "--jobs 1 and --jobs 2 counted differently: $(diff "$SIM_TMP/sweep-1" "$SIM_TMP/sweep-2")"
