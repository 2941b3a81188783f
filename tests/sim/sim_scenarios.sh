#!/usr/bin/env bash
# Acceptance 3 (the shipped scenarios): each runs once on its own seed and passes.
# Under the sanitizers the two long ones (cloud-outage-3d, chain-200) are left to
# the release build: they run the same code, about ten times slower.
set -euo pipefail
source "$(dirname "$0")/sim_lib.sh"

for scenario in "$SIM_SCENARIOS"/*.yaml; do
    name=$(basename "$scenario" .yaml)
    if [[ ${SM_SANITIZE:-0} == 1 ]] && [[ $name == cloud-outage-3d || $name == chain-200 ]]; then
        echo "skip $name under the sanitizers (the release build runs it)"
        continue
    fi
    if ! "$STOREMESH_SIM" "$scenario" --plot "$SIM_TMP/$name.svg" >"$SIM_TMP/$name.txt"; then
        cat "$SIM_TMP/$name.txt"
        sim_fail "scenario $name failed"
    fi
    head -n 1 "$SIM_TMP/$name.txt"
    grep -q "PASSED" "$SIM_TMP/$name.txt" || sim_fail "$name: no PASSED line"
    grep -q "<svg" "$SIM_TMP/$name.svg" || sim_fail "$name: no plot written"
done
