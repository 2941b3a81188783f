#!/usr/bin/env bash
# Every seed in sim/regressions.txt (seeds that once failed) must pass, every run.
# Under the sanitizers the long scenarios are left to the release build.
set -euo pipefail
source "$(dirname "$0")/sim_lib.sh"

count=0
while read -r scenario seed rest; do
    [[ -z $scenario || $scenario == \#* ]] && continue
    if [[ ${SM_SANITIZE:-0} == 1 && $scenario == cloud-outage-3d.yaml ]]; then
        echo "skip $scenario $seed under the sanitizers (the release build runs it)"
        continue
    fi
    plant=()
    if [[ $rest == --plant* ]]; then
        read -r _ bug _ <<<"$rest"
        plant=(--plant "$bug")
    fi
    if ! "$STOREMESH_SIM" "$SIM_SCENARIOS/$scenario" --seed "$seed" "${plant[@]}" --quiet \
        >"$SIM_TMP/out" 2>&1; then
        cat "$SIM_TMP/out"
        sim_fail "regression $scenario seed $seed failed again (${rest#-- })"
    fi
    count=$((count + 1))
done <"$SM_SOURCE_DIR/sim/regressions.txt"
((count >= 4)) || sim_fail "only $count regressions ran; is sim/regressions.txt there?"
echo "$count regression seeds passed"
