#!/usr/bin/env bash
# ThreadSanitizer over the simulator's parallel windows (sim/sim_window.c): the
# storemesh-sim of a ThreadSanitizer build (tests/run_all.sh makes it) runs two
# scenarios on two threads, and any data race it reports fails the run. Usage:
# sim_tsan.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sim=$1/sim/storemesh-sim
[[ -x $sim ]] || { echo "sim_tsan: no $sim; build it first" >&2; exit 1; }
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1"
# crash-chaos: power losses in the middle of writes (bands and restarts from a
# worker); fibre-cut: 17 nodes, windows large enough for both threads.
for scenario in crash-chaos fibre-cut; do
    out=$(mktemp)
    if ! "$sim" "$root/sim/scenarios/$scenario.yaml" --seed 7 --threads 2 >"$out" 2>&1; then
        cat "$out" >&2
        echo "sim_tsan: $scenario on two threads failed under ThreadSanitizer" >&2
        rm -f "$out"
        exit 1
    fi
    head -n 1 "$out"
    rm -f "$out"
done
echo "sim_tsan: no data race on two threads"
