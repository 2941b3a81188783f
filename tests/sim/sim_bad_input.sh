#!/usr/bin/env bash
# Bad input to storemesh-sim: a clear message and exit 2, never a crash.
set -euo pipefail
source "$(dirname "$0")/sim_lib.sh"

expect_exit()
{
    local want=$1
    local pattern=$2
    shift 2
    local rc=0
    "$STOREMESH_SIM" "$@" >"$SIM_TMP/out" 2>&1 || rc=$?
    ((rc == want)) || sim_fail "storemesh-sim $* exited $rc, want $want: $(cat "$SIM_TMP/out")"
    grep -q -- "$pattern" "$SIM_TMP/out" || sim_fail "storemesh-sim $*: no '$pattern' in: $(cat "$SIM_TMP/out")"
}

small=$SIM_SCENARIOS/small.yaml
expect_exit 2 "name a scenario file"
expect_exit 2 "unknown planted bug 'nope'" "$small" --plant nope
expect_exit 2 "A..B" "$small" --seeds 5..2
expect_exit 2 "whole number" "$small" --seed -3
expect_exit 2 "for one seed" "$small" --seeds 1..2 --json
expect_exit 2 "number of threads from 1 to" "$small" --threads 0
expect_exit 2 "number of threads from 1 to" "$small" --threads 99
expect_exit 3 "" "$SIM_TMP/missing.yaml"
printf 'name: x\nduration: 1h\ntopology:\n  nodes: [a]\nbogus: 1\n' >"$SIM_TMP/bad.yaml"
expect_exit 2 "bad.yaml:5" "$SIM_TMP/bad.yaml"
sed 's/cloud: cloud/cloud: hq/' "$small" >"$SIM_TMP/wrong-cloud.yaml"
sed -i "s#rules: .*#rules: $SM_SOURCE_DIR/docs/examples/retail-rules.yaml#" "$SIM_TMP/wrong-cloud.yaml"
expect_exit 2 "authority" "$SIM_TMP/wrong-cloud.yaml"
