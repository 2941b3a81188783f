#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds twice (optimised, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) with warnings as errors, and runs
# every Criterion and process test under CTest in both builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/deps.sh"
jobs=${SM_JOBS:-2}

run_build() {
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -DSM_WERROR=ON -DSM_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j "$jobs")
}

echo "== build and test: release (RelWithDebInfo, assertions on) =="
run_build "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build and test: AddressSanitizer + UndefinedBehaviorSanitizer =="
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_build "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DSM_SANITIZE=ON
echo "storemesh: all tests passed in both builds"
