#!/usr/bin/env bash
# Acceptance 3 (the sweep): small.yaml for SM_SIM_SWEEP_SEEDS seeds (1,000 in the
# release build). Every seed must pass, and every rare path the scenario exists
# for must be reached at least once in the sweep.
set -euo pipefail
source "$(dirname "$0")/sim_lib.sh"

seeds=${SM_SIM_SWEEP_SEEDS:-1000}
"$STOREMESH_SIM" "$SIM_SCENARIOS/small.yaml" --seeds "1..$seeds" --jobs 2 | tee "$SIM_TMP/sweep" ||
    sim_fail "the sweep failed (see above for each failing seed and its replay command)"
grep -q "$seeds passed, 0 failed" "$SIM_TMP/sweep" || sim_fail "not every seed passed"
