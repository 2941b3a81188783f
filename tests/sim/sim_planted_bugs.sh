#!/usr/bin/env bash
# Acceptance 2: the checkers catch real bugs. Each planted bug (a deliberately
# broken variant of the core, compiled only into storemesh-sim) must make the
# simulator fail with the checker that names it, within a few seeds, while the
# real code passes the same seeds.
set -euo pipefail
source "$(dirname "$0")/sim_lib.sh"

seeds=1..10
export TMPDIR=$SIM_TMP # where a failing seed's event trace is written

# expect_caught SCENARIO BUG CHECK...: the sweep fails and names one of the checks.
expect_caught()
{
    local scenario=$SIM_SCENARIOS/$1.yaml
    local bug=$2
    shift 2
    local out=$SIM_TMP/$bug
    "$STOREMESH_SIM" "$scenario" --seeds $seeds --jobs 2 --no-marks >"$SIM_TMP/clean-$bug" ||
        sim_fail "the real code fails $scenario seeds $seeds: $(tail -n 5 "$SIM_TMP/clean-$bug")"
    if "$STOREMESH_SIM" "$scenario" --seeds $seeds --jobs 2 --no-marks --plant "$bug" >"$out" 2>&1; then
        sim_fail "planted bug $bug was not caught in seeds $seeds: $(tail -n 3 "$out")"
    fi
    local check
    for check in "$@"; do
        if grep -q "FAIL $check:" "$out"; then
            grep -q "replay: storemesh-sim .* --plant $bug --seed [0-9]*" "$out" ||
                sim_fail "the failure of $bug prints no replay command: $(head -n 5 "$out")"
            # The failing run's trace is written, and is the replay's trace exactly.
            local line seed trace
            line=$(grep -m1 ": trace: " "$out") || sim_fail "the failure of $bug wrote no trace"
            seed=${line%%:*}
            seed=${seed#seed }
            trace=${line##*: trace: }
            [[ -s $trace ]] || sim_fail "the trace $trace of $bug is missing or empty"
            "$STOREMESH_SIM" "$scenario" --plant "$bug" --seed "$seed" --quiet \
                --trace "$SIM_TMP/replay.trace" >/dev/null 2>&1 || true
            cmp -s "$trace" "$SIM_TMP/replay.trace" ||
                sim_fail "the trace written for $bug seed $seed differs from its replay's"
            echo "caught $bug with $check: $(grep -m1 "FAIL $check:" "$out")"
            return 0
        fi
    done
    sim_fail "planted bug $bug failed, but not with $*: $(head -n 5 "$out")"
}

expect_caught small merge-by-arrival converged quiet-points
# A relay matters only where nodes have no direct link: a line of branches.
expect_caught flapping-link relay-drops-one converged acknowledged-not-lost
expect_caught small ack-before-sync acknowledged-not-lost
expect_caught small no-dedup applied-exactly-once
