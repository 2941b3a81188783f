# lib.sh: helpers for the process tests, which start real `storemesh run` nodes and
# drive them through the CLI. Sourced by each tests/process/*.sh script after
# `set -euo pipefail`.
#
# Environment (set by tests.cmake): STOREMESH, the binary under test; SM_SOURCE_DIR,
# the source tree (for docs/examples/retail-rules.yaml).
#
# Every test gets its own temporary directory ($SM_TMP, under ${TMPDIR:-/tmp}), so
# CTest may run the scripts in parallel. On exit, for any reason, every node the
# script started is killed and the directory removed. A watchdog ends the script
# before CTest's own timeout would, so that cleanup always runs.

: "${STOREMESH:?set STOREMESH to the storemesh binary}"
: "${SM_SOURCE_DIR:?set SM_SOURCE_DIR to the source tree}"
command -v jq >/dev/null || {
    echo "FAIL: jq is needed by the process tests; install it: apt-get install jq" >&2
    exit 1
}

SM_TEST_NAME=$(basename "$0" .sh)
SM_RULES=$SM_SOURCE_DIR/docs/examples/retail-rules.yaml
SM_CMD_TIMEOUT_S=${SM_CMD_TIMEOUT_S:-20} # one CLI call; a hang is a failure, not a stall
SM_START_WAIT_S=${SM_START_WAIT_S:-10}   # a node answers `status` within this
SM_STOP_WAIT_S=${SM_STOP_WAIT_S:-10}     # a node exits after SIGTERM within this
SM_TEST_WAIT_S=${SM_TEST_WAIT_S:-100}    # the whole script (CTest's TIMEOUT is larger)

SM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sm-${SM_TEST_NAME}.XXXXXX")
declare -A SM_NODE_PID=() # data dir -> pid of its `storemesh run`
declare -A SM_NODE_PREFIX=() # data dir -> command its node runs under (node_start)
SM_WATCHDOG_PID=
SM_EXIT_HOOKS=() # commands run at exit after the nodes are gone (sm_on_exit)

# sm_on_exit COMMAND: runs COMMAND (eval'd) at exit, after every node is killed and
# before the temporary directory is removed (to unmount a file system in it).
sm_on_exit()
{
    SM_EXIT_HOOKS+=("$1")
}

sm_cleanup()
{
    local rc=$?
    local dir
    for dir in "${!SM_NODE_PID[@]}"; do
        kill -KILL "${SM_NODE_PID[$dir]}" 2>/dev/null || true
        wait "${SM_NODE_PID[$dir]}" 2>/dev/null || true
    done
    local hook
    for hook in "${SM_EXIT_HOOKS[@]}"; do
        eval "$hook" || true
    done
    if [[ -n $SM_WATCHDOG_PID ]]; then
        kill -TERM "$SM_WATCHDOG_PID" 2>/dev/null || true
        wait "$SM_WATCHDOG_PID" 2>/dev/null || true
    fi
    rm -rf "$SM_TMP" || true
    if ((rc == 0)); then
        echo "PASS: $SM_TEST_NAME"
    fi
    exit "$rc"
}
trap sm_cleanup EXIT
trap 'echo "FAIL: $SM_TEST_NAME: interrupted (watchdog after ${SM_TEST_WAIT_S}s?)" >&2; exit 1' \
    INT TERM

# The watchdog holds no pipe of ours, so CTest never waits on it.
(
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$SM_TEST_WAIT_S" &
    sleeper=$!
    wait "$sleeper"
    kill -TERM $$
) </dev/null >/dev/null 2>&1 &
SM_WATCHDOG_PID=$!

# ---- reporting ----

# The last CLI call, for failure reports.
SM_LAST_CMD=
RC=0
OUT=
ERR=

sm_log()
{
    echo "# $*" >&2
}

# Prints what failed, the last command with its output, the node logs, and exits 1.
fail()
{
    {
        echo "FAIL: $SM_TEST_NAME: $*"
        if [[ -n $SM_LAST_CMD ]]; then
            echo "  last command: $SM_LAST_CMD"
            echo "  exit code: $RC"
            echo "  stdout ($(wc -l <<<"$OUT") lines): $(head -n 5 <<<"$OUT" | head -c 1000)"
            echo "  stderr ($(wc -l <<<"$ERR") lines): $(head -n 10 <<<"$ERR" | head -c 2000)"
        fi
        local log
        while IFS= read -r log; do
            echo "  --- tail of $log ---"
            tail -n 20 "$log" | sed 's/^/  /'
        done < <(find "$SM_TMP" -maxdepth 2 -name '*.log' -type f 2>/dev/null)
    } >&2
    exit 1
}

# ---- running the CLI ----

# sm ARGS...: runs storemesh with a bounded wait; sets RC, OUT and ERR. Never fails.
sm()
{
    SM_LAST_CMD="storemesh $*"
    local out_file=$SM_TMP/.out err_file=$SM_TMP/.err
    RC=0
    timeout -k 2 "$SM_CMD_TIMEOUT_S" "$STOREMESH" "$@" >"$out_file" 2>"$err_file" </dev/null ||
        RC=$?
    OUT=$(cat "$out_file")
    ERR=$(cat "$err_file")
    if ((RC == 124)); then
        fail "storemesh did not finish within ${SM_CMD_TIMEOUT_S}s"
    fi
}

# expect RC ARGS...: runs storemesh and fails unless it exits with RC.
expect()
{
    local want=$1
    shift
    sm "$@"
    if ((RC != want)); then
        fail "expected exit code $want, got $RC"
    fi
}

# ---- assertions ----

assert_eq()
{
    local actual=$1 expected=$2 what=$3
    if [[ $actual != "$expected" ]]; then
        fail "$what: expected '$expected', got '$actual'"
    fi
}

# assert_contains TEXT NEEDLE WHAT: a fixed-string, case-sensitive search.
assert_contains()
{
    local text=$1 needle=$2 what=$3
    if ! grep -qF -- "$needle" <<<"$text"; then
        fail "$what: expected it to contain '$needle'"
    fi
}

assert_not_contains()
{
    local text=$1 needle=$2 what=$3
    if grep -qF -- "$needle" <<<"$text"; then
        fail "$what: expected it not to contain '$needle'"
    fi
}

assert_match()
{
    local text=$1 regex=$2 what=$3
    if ! [[ $text =~ $regex ]]; then
        fail "$what: '$text' does not match /$regex/"
    fi
}

# assert_err_clear: the last command failed with a message on stderr and said
# nothing on stdout (no audit ID for something that did not happen).
assert_err_clear()
{
    if [[ -z ${ERR//[[:space:]]/} ]]; then
        fail "expected an error message on stderr, got none"
    fi
    if [[ -n $OUT ]]; then
        fail "expected nothing on stdout for a refused command"
    fi
}

# jq_eq JSON FILTER EXPECTED WHAT: compares jq -c output of FILTER on JSON.
jq_eq()
{
    local json=$1 filter=$2 expected=$3 what=$4
    local actual
    actual=$(jq -c "$filter" <<<"$json" 2>&1) || fail "$what: jq '$filter' failed on '$json': $actual"
    assert_eq "$actual" "$expected" "$what ($filter)"
}

AUDIT_ID_RE='^[a-z0-9][a-z0-9._-]*-[0-9]+-[A-Za-z]$'

# ---- nodes ----

# node_init DIR NAME [RULES [EXTRA ARGS...]]: `storemesh init`, must succeed.
node_init()
{
    local dir=$1 name=$2 rules=${3:-$SM_RULES}
    shift 3 2>/dev/null || shift $#
    expect 0 init --data "$dir" --name "$name" --rules "$rules" "$@"
}

# node_start DIR [PREFIX...]: starts `storemesh run --data DIR` in the background
# (stderr to DIR.log) and waits until `storemesh status` answers. With a PREFIX (words
# without spaces, e.g. `ip netns exec NS`), the node runs under it, which must exec it
# (the pid is the node's); node_restart keeps the prefix.
node_start()
{
    local dir=$1
    shift
    if (($# > 0)); then
        SM_NODE_PREFIX[$dir]="$*"
    fi
    local -a prefix=()
    read -r -a prefix <<<"${SM_NODE_PREFIX[$dir]:-}"
    local log=$dir.log
    echo "--- node_start $(date +%T.%N)" >>"$log"
    "${prefix[@]}" "$STOREMESH" run --data "$dir" </dev/null >/dev/null 2>>"$log" &
    local pid=$!
    SM_NODE_PID[$dir]=$pid
    local deadline=$((SECONDS + SM_START_WAIT_S))
    while ((SECONDS < deadline)); do
        if ! pid_running "$pid"; then
            local status=0
            wait "$pid" || status=$?
            unset "SM_NODE_PID[$dir]"
            fail "node on $dir exited with status $status while starting"
        fi
        sm status --data "$dir"
        if ((RC == 0)); then
            return 0
        fi
        sleep 0.1
    done
    fail "node on $dir did not answer status within ${SM_START_WAIT_S}s"
}

# pid_running PID: true while PID exists and is not a zombie (no procps needed).
pid_running()
{
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) } # after the command name, which may hold spaces
    [[ ${stat%% *} != Z ]]
}

# node_stop DIR: SIGTERM, then waits; the node must exit 0 within SM_STOP_WAIT_S.
node_stop()
{
    local dir=$1
    local pid=${SM_NODE_PID[$dir]:?no node started on $dir}
    kill -TERM "$pid"
    local deadline=$((SECONDS + SM_STOP_WAIT_S))
    while pid_running "$pid" && ((SECONDS < deadline)); do
        sleep 0.1
    done
    if pid_running "$pid"; then
        fail "node on $dir still running ${SM_STOP_WAIT_S}s after SIGTERM"
    fi
    local status=0
    wait "$pid" || status=$?
    unset "SM_NODE_PID[$dir]"
    if ((status != 0)); then
        SM_LAST_CMD=
        fail "node on $dir exited with status $status after SIGTERM (expected 0)"
    fi
}

node_restart()
{
    node_stop "$1"
    node_start "$1"
}

# ---- reads ----

# digest_of DIR: prints the node's digest (must succeed).
digest_of()
{
    expect 0 digest --data "$1"
    assert_match "$OUT" '^[0-9a-f]{64}$' "digest output"
    printf '%s\n' "$OUT"
}

# get_json DIR TYPE KEY: prints `get --json` (must succeed and be JSON).
get_json()
{
    expect 0 get --data "$1" "$2" "$3" --json
    jq -e . >/dev/null <<<"$OUT" || fail "get --json is not JSON: $OUT"
    printf '%s\n' "$OUT"
}

# field_of DIR TYPE KEY FIELD: prints the field's value as compact JSON (null when unset).
field_of()
{
    local json
    json=$(get_json "$1" "$2" "$3")
    jq -c --arg f "$4" '.fields[$f]' <<<"$json"
}

status_json()
{
    expect 0 status --data "$1" --json
    jq -e . >/dev/null <<<"$OUT" || fail "status --json is not JSON: $OUT"
    printf '%s\n' "$OUT"
}

# submit_ok DIR ARGS...: submit that must succeed; prints the audit ID.
submit_ok()
{
    local dir=$1
    shift
    expect 0 submit --data "$dir" "$@"
    assert_match "$OUT" "$AUDIT_ID_RE" "submit output (one audit ID)"
    printf '%s\n' "$OUT"
}
