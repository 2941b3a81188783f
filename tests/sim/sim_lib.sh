# sim_lib.sh: helpers for the simulator tests. Sourced after `set -euo pipefail`.
# Environment (tests.cmake): STOREMESH_SIM, the binary; SM_SOURCE_DIR, the tree.
: "${STOREMESH_SIM:?set STOREMESH_SIM to the storemesh-sim binary}"
: "${SM_SOURCE_DIR:?set SM_SOURCE_DIR to the source tree}"
SIM_TEST_NAME=$(basename "$0" .sh)
SIM_SCENARIOS=$SM_SOURCE_DIR/sim/scenarios
SIM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sm-${SIM_TEST_NAME}.XXXXXX")
trap 'rc=$?; rm -rf "$SIM_TMP"; if ((rc == 0)); then echo "PASS: $SIM_TEST_NAME"; fi; exit $rc' EXIT

sim_fail()
{
    echo "FAIL: $SIM_TEST_NAME: $*" >&2
    exit 1
}

# sim_hash FILE: the event-log hash printed in a text report.
sim_hash()
{
    sed -n 's/.*event log hash \([0-9a-f]\{64\}\).*/\1/p' "$1" | head -n 1
}
