#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds twice (optimised, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) with warnings as errors, and runs
# every Criterion and process test under CTest in both builds; then builds the
# simulator with ThreadSanitizer and runs it on two threads (tests/sim/sim_tsan.sh);
# then builds the libFuzzer targets with clang and fuzzes each decoder for a
# bounded time (SM_FUZZ_SECONDS per target, 12 by default: 60 s in all over five
# targets).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/deps.sh"
jobs=${SM_JOBS:-2}

# Runs ctest verbosely into a log, prints its summary, and fails on a failed test
# or on any sanitizer report (a leak found after a Criterion test passed does not
# change that test's verdict, so the log is searched as well).
run_tests() {
  local dir=$1 log="$1/ctest.log" status=0
  (cd "$dir" && ctest -V --timeout 600 -j "$jobs") >"$log" 2>&1 || status=$?
  grep -E '^ *[0-9]+/[0-9]+ Test +#' "$log" || true
  grep -E 'tests passed|Total Test time' "$log" || true
  if grep -nE 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error: ' "$log"; then
    echo "storemesh: sanitizer reports in $log (lines above)" >&2
    status=1
  fi
  if [ "$status" -ne 0 ]; then
    echo "storemesh: tests failed in $dir; the full log is $log. Failing output:" >&2
    (cd "$dir" && ctest --rerun-failed --output-on-failure --timeout 600) >&2 || true
  fi
  return "$status"
}

run_build() {
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -DSM_WERROR=ON -DSM_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  run_tests "$dir"
}

echo "== build and test: release (RelWithDebInfo, assertions on) =="
run_build "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSM_SIM_SWEEP_SEEDS=1000
echo "== build and test: AddressSanitizer + UndefinedBehaviorSanitizer =="
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The simulator's sweep runs its 1,000 seeds here too (about two minutes); its two
# longest scenarios are left to the release build (tests/sim/sim_scenarios.sh).
run_build "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DSM_SANITIZE=ON -DSM_SIM_SWEEP_SEEDS=1000
echo "== build and run: the simulator on two threads under ThreadSanitizer =="
# Only storemesh-sim and what it links: its parallel windows are the only code that
# runs on more than one thread of ours.
cmake -S "$root" -B "$root/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSM_WERROR=ON \
    -DCMAKE_C_FLAGS="-fsanitize=thread" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$root/build-tsan" -j "$jobs" --target storemesh-sim
bash "$root/tests/sim/sim_tsan.sh" "$root/build-tsan"
echo "== build and fuzz: clang, libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer =="
# Only the fuzz targets and what they link; tests/fuzz/run.sh fails on any finding.
cmake -S "$root" -B "$root/build-fuzz" -DCMAKE_C_COMPILER=clang -DSM_FUZZ=ON -DSM_BUILD_TESTS=ON \
    -DSM_WERROR=ON >/dev/null
cmake --build "$root/build-fuzz" -j "$jobs" --target fuzz_all
bash "$root/tests/fuzz/run.sh" "$root/build-fuzz" "${SM_FUZZ_SECONDS:-12}"
echo "storemesh: all tests passed in both builds, the simulator showed no data race, and the fuzz targets found nothing"
