#!/usr/bin/env bash
# Runs every libFuzzer target of a SM_FUZZ build for a bounded time on the checked-in
# seed corpus (tests/fuzz/corpus/<target>/), and fails on any crash, leak, timeout or
# sanitizer report. New inputs go to a scratch directory, never into the corpus.
#
# usage: tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]   (default 12: 60 s in all)
# A finding is saved as BUILD_DIR/fuzz-artifacts/<target>-crash-<sha1> (or leak-,
# timeout-, oom-); the log says how to replay it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR [SECONDS_PER_TARGET]}" && pwd)
seconds=${2:-12}
targets=(fuzz_peer_message fuzz_peer_signed fuzz_control_request fuzz_operation fuzz_batch_line)

work=$(mktemp -d "${TMPDIR:-/tmp}/sm-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"
# The fixture's RocksDB directories go here too, so a crashed run leaves nothing behind.
export TMPDIR=$work
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for target in "${targets[@]}"; do
    binary=$build/tests/fuzz/$target
    seeds=$here/corpus/$target
    log=$build/fuzz-$target.log
    [[ -x $binary ]] || { echo "storemesh: $binary is missing; build the fuzz_all target" >&2; exit 1; }
    [[ -d $seeds ]] || { echo "storemesh: no seed corpus in $seeds" >&2; exit 1; }
    mkdir -p "$work/$target"
    rc=0
    # Saved findings first (crashes/README.md): files in name order, one process.
    mapfile -t findings < <(find "$here/crashes/$target" -type f 2>/dev/null | sort)
    if ((${#findings[@]} > 0)); then
        "$binary" "${findings[@]}" >"$log.replay" 2>&1 || {
            echo "storemesh: $target fails on a saved finding again; the log is $log.replay:" >&2
            awk '/ERROR: |runtime error: /{on=1} on{print} /^SUMMARY: /{exit}' "$log.replay" |
                head -n 80 >&2
            status=1
            continue
        }
    fi
    "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$target-" "$work/$target" "$seeds" >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    added=$(find "$work/$target" -type f | wc -l)
    cover=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
    echo "$target: ${runs:-?} runs (${speed:-?}/s, limit ${seconds}s), $(find "$seeds" -type f | wc -l)" \
         "seeds + $added new inputs, ${cover:-no coverage line}, exit $rc"
    if ((rc != 0)) || grep -qE 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error: |ERROR: libFuzzer' "$log"; then
        echo "storemesh: $target found a problem; the log is $log:" >&2
        # The report from its first line to its summary, without the shadow-byte map.
        awk '/ERROR: |runtime error: /{on=1} on{print} /^SUMMARY: /{exit}' "$log" | head -n 80 >&2
        tail -n 5 "$log" >&2
        grep -E 'Test unit written to' "$log" >&2 || true
        echo "storemesh: replay with: $binary $artifacts/$target-<file> (add earlier inputs" \
             "before it when the crash needs the state they leave)" >&2
        status=1
    fi
done
exit "$status"
