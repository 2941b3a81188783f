# mesh_lib.sh: helpers for the mesh process tests (mesh_*.sh), which link several
# real nodes over CurveZMQ on 127.0.0.1. Sourced after lib.sh.
#
# Ports: each mesh script owns one block of 10 ports (mesh_port BLOCK INDEX) from
# 27600, so CTest may run the scripts in parallel; a binary under a build-asan tree
# uses the blocks from 27650, so both builds' test runs may overlap too. Nodes with
# no peers do not bind.
#
# Waits: wait_for polls a check every 0.2 s up to a deadline, never a fixed sleep.

MESH_POLL_S=0.2
MESH_OK=0     # set by a check: 1 when its condition holds
MESH_STATE='' # set by a check: what it saw, for the failure message

# mesh_port BLOCK INDEX: prints port INDEX (0-9) of the script's BLOCK (0-4).
mesh_port()
{
    local asan_offset=0
    if [[ $STOREMESH == */build-asan/* ]]; then
        asan_offset=50
    fi
    echo $((27600 + asan_offset + 10 * $1 + $2))
}

# mesh_is_asan: true when the binary under test is the ASan build (slower).
mesh_is_asan()
{
    [[ $STOREMESH == */build-asan/* ]]
}

# mesh_node_init DIR PORT [RULES]: init a node named after DIR's last component,
# listening on tcp://127.0.0.1:PORT.
mesh_node_init()
{
    local dir=$1 port=$2 rules=${3:-$SM_RULES}
    node_init "$dir" "$(basename "$dir")" "$rules" --listen "tcp://127.0.0.1:$port"
}

# mesh_add_peer DIR OTHER [none]: DIR lists OTHER as a peer (straight from
# `storemesh id` on OTHER); with `none`, as a key-only entry (no link).
mesh_add_peer()
{
    local dir=$1 other=$2 endpoint_override=${3:-}
    local name key endpoint
    expect 0 id --data "$other"
    read -r name key endpoint <<<"$OUT"
    expect 0 peer add --data "$dir" "$name" "${endpoint_override:-$endpoint}" "$key"
}

# mesh_link A B: A and B list each other, so they link once running.
mesh_link()
{
    mesh_add_peer "$1" "$2"
    mesh_add_peer "$2" "$1"
}

# node_kill DIR: SIGKILL the node on DIR and reap it (a crash, not a stop).
node_kill()
{
    local dir=$1
    local pid=${SM_NODE_PID[$dir]:?no node started on $dir}
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    unset "SM_NODE_PID[$dir]"
}

# wait_for SECONDS WHAT CHECK [ARGS...]: runs CHECK ARGS every 0.2 s until it sets
# MESH_OK=1; after SECONDS fails naming WHAT and what CHECK saw last. Prints nothing;
# logs the time it took.
wait_for()
{
    local seconds=$1 what=$2
    shift 2
    local start=$EPOCHREALTIME
    local deadline=$((SECONDS + seconds))
    while :; do
        MESH_OK=0
        MESH_STATE=''
        "$@"
        if ((MESH_OK)); then
            sm_log "$what: after $(mesh_elapsed "$start") s"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            # shellcheck disable=SC2034 # read by lib.sh's fail: no command to show
            SM_LAST_CMD=
            fail "$what: not within ${seconds}s; last seen: $MESH_STATE"
        fi
        sleep "$MESH_POLL_S"
    done
}

# mesh_elapsed START: seconds since START (an $EPOCHREALTIME), to 0.1 s.
mesh_elapsed()
{
    local now=$EPOCHREALTIME
    local ms=$(((${now/./} - ${1/./}) / 1000))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# status_value DIR FILTER: prints jq -r FILTER of `status --json` (a running node).
status_value()
{
    expect 0 status --data "$1" --json
    jq -er "$2" <<<"$OUT" || fail "status --json: no '$2' in: $OUT"
}

# ---- checks for wait_for: each sets MESH_OK and MESH_STATE, and returns 0 ----

# check_converged WANT_OPS DIR...: every node prints the same digest and holds the
# same number of operations (WANT_OPS of them, unless WANT_OPS is empty).
check_converged()
{
    local want_ops=$1
    shift
    local dir ops digest
    local -A digests=() counts=()
    for dir in "$@"; do
        expect 0 digest --data "$dir"
        digest=$OUT
        ops=$(status_value "$dir" .operations)
        digests[$digest]=1
        counts[$ops]=1
        MESH_STATE+="$(basename "$dir"): $ops operations, digest ${digest:0:16}; "
    done
    if ((${#digests[@]} == 1 && ${#counts[@]} == 1)) &&
        [[ -z $want_ops || ${!counts[*]} == "$want_ops" ]]; then
        MESH_OK=1
    fi
    return 0
}

# check_connected DIR PEER_NAME...: DIR's `peers --json` shows each PEER_NAME connected.
check_connected()
{
    local dir=$1
    shift
    expect 0 peers --data "$dir" --json
    local json=$OUT name connected
    MESH_OK=1
    for name in "$@"; do
        connected=$(jq -c --arg n "$name" 'map(select(.name == $n))[0].connected' <<<"$json")
        MESH_STATE+="$(basename "$dir") -> $name: connected $connected; "
        if [[ $connected != true ]]; then
            MESH_OK=0
        fi
    done
    return 0
}

# check_all_linked DIR...: every node shows every other node connected (the names
# are the directories' last components).
check_all_linked()
{
    local dir other
    local -a others
    local all_ok=1
    for dir in "$@"; do
        others=()
        for other in "$@"; do
            if [[ $other != "$dir" ]]; then
                others+=("$(basename "$other")")
            fi
        done
        check_connected "$dir" "${others[@]}"
        all_ok=$((all_ok & MESH_OK))
    done
    MESH_OK=$all_ok
    return 0
}

# check_queue_empty DIR...: every node's status shows queue_depth 0.
check_queue_empty()
{
    local dir depth
    MESH_OK=1
    for dir in "$@"; do
        depth=$(status_value "$dir" .queue_depth)
        MESH_STATE+="$(basename "$dir"): queue_depth $depth; "
        if ((depth != 0)); then
            MESH_OK=0
        fi
    done
    return 0
}

# ---- assertions ----

# assert_audits_everywhere IDS_FILE DIR...: every audit ID in IDS_FILE (one a line)
# is found by `storemesh audit` on every node.
assert_audits_everywhere()
{
    local ids_file=$1
    shift
    local dir id count
    count=$(grep -c . "$ids_file")
    for dir in "$@"; do
        while IFS= read -r id; do
            expect 0 audit --data "$dir" "$id"
        done <"$ids_file"
    done
    sm_log "$count audit IDs found on each of $# nodes"
}
