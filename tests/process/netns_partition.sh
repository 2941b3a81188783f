#!/usr/bin/env bash
# Issue 3, acceptance 4: three nodes, each in a network namespace of its own that the
# test creates, linked through a bridge in a fourth namespace (10.231.0.0/24, nothing
# in the root namespace, nothing routed anywhere else). All write and converge; node 3
# is cut off, first by taking its link down, then by iptables drops inside its
# namespace; both sides write; nodes 1 and 2 converge without node 3 and node 3 keeps
# only its own writes; the cut heals; all three print the same digest within a bound.
#
# Needs root (or CAP_NET_ADMIN) and iproute2; iptables for the second cut (tests/deps.sh
# installs both). Skips with exit 77 where it cannot create namespaces. The CLI reaches
# each node through the ipc socket in its data directory, so status and digest run
# from the root namespace.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NETNS_CONVERGE_WAIT_S=30 # a few Hello rounds (1 s) and a redial (5 s at most) fit well within
NETNS_HOLD_S=3           # a cut must hold this long: three Hello rounds
NETNS_POLL_S=0.2
NETNS_PORT=7400
NETNS_SUBNET=10.231.0 # /24, only inside the test's namespaces

ns_prefix=smnp$$ # namespace names are global: the pid keeps parallel runs apart
ns_bridge=$ns_prefix-br
ns_names=()
NETNS_CREATED=() # deleted at exit, whatever happened

skip()
{
    echo "SKIP: $SM_TEST_NAME: $*" >&2
    exit 77
}

netns_cleanup()
{
    local ns
    for ns in "${NETNS_CREATED[@]}"; do
        ip netns delete "$ns" 2>/dev/null || echo "# could not delete namespace $ns" >&2
    done
}
sm_on_exit netns_cleanup # runs after lib.sh has killed the nodes inside them

# ---- the network ----

# in_ns NS COMMAND...: runs an ip/iptables command, failing the test when it fails.
in_ns()
{
    local ns=$1
    shift
    local out
    out=$(ip netns exec "$ns" "$@" 2>&1) || fail "in namespace $ns: '$*' failed: $out"
}

# The bridge namespace and its bridge: the first things that need CAP_NET_ADMIN, so a
# failure here means this environment cannot run the test.
network_probe()
{
    command -v ip >/dev/null || skip "no 'ip' command; install iproute2 (tests/deps.sh)"
    local err
    err=$(ip netns add "$ns_bridge" 2>&1) ||
        skip "cannot create a network namespace (needs root or CAP_NET_ADMIN): $err"
    NETNS_CREATED+=("$ns_bridge")
    err=$(ip -n "$ns_bridge" link add br0 type bridge 2>&1) ||
        skip "cannot create a bridge in a namespace (needs CAP_NET_ADMIN and bridge support): $err"
}

# Namespace i with eth0 at $NETNS_SUBNET.i, its peer port v<i> on the bridge.
network_add_node()
{
    local i=$1
    local ns=$ns_prefix-$i
    local err
    err=$(ip netns add "$ns" 2>&1) || fail "cannot create namespace $ns: $err"
    NETNS_CREATED+=("$ns")
    ns_names[i]=$ns
    in_ns "$ns" ip link set lo up
    err=$(ip link add eth0 netns "$ns" type veth peer name "v$i" netns "$ns_bridge" 2>&1) ||
        skip "cannot create a veth pair between namespaces (needs CAP_NET_ADMIN and veth support): $err"
    in_ns "$ns_bridge" ip link set "v$i" master br0
    in_ns "$ns_bridge" ip link set "v$i" up
    in_ns "$ns" ip addr add "$NETNS_SUBNET.$i/24" dev eth0
    in_ns "$ns" ip link set eth0 up
}

network_setup()
{
    network_probe
    in_ns "$ns_bridge" ip link set lo up
    in_ns "$ns_bridge" ip link set br0 up
    local i
    for i in 1 2 3; do
        network_add_node "$i"
    done
}

# ---- the nodes ----

dirs=()

nodes_setup()
{
    local i j name key endpoint
    for i in 1 2 3; do
        dirs[i]=$SM_TMP/branch-$i
        node_init "${dirs[i]}" "branch-$i" "$SM_RULES" --listen "tcp://$NETNS_SUBNET.$i:$NETNS_PORT"
    done
    for i in 1 2 3; do
        for j in 1 2 3; do
            ((i != j)) || continue
            expect 0 id --data "${dirs[j]}"
            read -r name key endpoint <<<"$OUT"
            expect 0 peer add --data "${dirs[i]}" "$name" "$endpoint" "$key"
        done
    done
    for i in 1 2 3; do
        node_start "${dirs[i]}" ip netns exec "${ns_names[i]}"
    done
}

# ---- waiting and checking ----

NETNS_SEEN='' # what the last check saw, for the failure message

# node_state I: sets NODE_OPS and NODE_DIGEST from node i's status and digest.
NODE_OPS=
NODE_DIGEST=
node_state()
{
    expect 0 status --data "${dirs[$1]}" --json
    NODE_OPS=$(jq -er .operations <<<"$OUT") || fail "status --json has no operations: $OUT"
    expect 0 digest --data "${dirs[$1]}"
    NODE_DIGEST=$OUT
}

# same_state WANT_OPS I...: true when the nodes hold WANT_OPS operations each and print
# one digest.
same_state()
{
    local want=$1
    shift
    local i first=''
    local ok=0
    NETNS_SEEN=''
    for i in "$@"; do
        node_state "$i"
        NETNS_SEEN+="node $i: $NODE_OPS operations, digest ${NODE_DIGEST:0:16}; "
        [[ $NODE_OPS == "$want" ]] || ok=1
        [[ -z $first || $NODE_DIGEST == "$first" ]] || ok=1
        first=${first:-$NODE_DIGEST}
    done
    return "$ok"
}

# wait_same SECONDS WHAT WANT_OPS I...: waits until same_state holds; logs how long it took.
wait_same()
{
    local seconds=$1 what=$2
    shift 2
    local start=$SECONDS deadline=$((SECONDS + seconds))
    until same_state "$@"; do
        if ((SECONDS >= deadline)); then
            # shellcheck disable=SC2034 # read by lib.sh's fail: no command to show
            SM_LAST_CMD=
            fail "$what: not within ${seconds}s; last seen: $NETNS_SEEN"
        fi
        sleep "$NETNS_POLL_S"
    done
    sm_log "$what: after $((SECONDS - start)) s ($NETNS_SEEN)"
}

# ---- writes ----

total=0   # operations every node holds once all have converged
majority=0 # operations on nodes 1 and 2 during a cut
minority=0 # operations on node 3 during a cut
stock=0   # the expected stock of sku-1

# write I ARGS...: a submit on node i that must succeed.
write()
{
    local i=$1
    shift
    submit_ok "${dirs[i]}" "$@" >/dev/null
}

# writes_on I TAG: node i writes a counter (shared with the other side), its own tag
# in a shared set, a contested e-mail, and a stock of its own.
writes_on()
{
    local i=$1 tag=$2
    write "$i" --command-id "$tag-$i-1" stock sku-1 on_hand add "$i"
    write "$i" --command-id "$tag-$i-2" customer cust-1 tags add "$tag-seen-$i"
    write "$i" --command-id "$tag-$i-3" customer cust-1 email set "$tag-$i@example.org"
    write "$i" --command-id "$tag-$i-4" stock "sku-$tag-$i" on_hand add 5
    stock=$((stock + i))
}
NETNS_WRITES_PER_NODE=4

# ---- the cuts ----

cut_link_down()
{
    in_ns "${ns_names[3]}" ip link set eth0 down
}
heal_link_down()
{
    in_ns "${ns_names[3]}" ip link set eth0 up
}

# iptables drops every packet in and out of node 3's eth0 (loopback untouched).
cut_iptables()
{
    in_ns "${ns_names[3]}" iptables -w -A INPUT -i eth0 -j DROP
    in_ns "${ns_names[3]}" iptables -w -A OUTPUT -o eth0 -j DROP
}
heal_iptables()
{
    in_ns "${ns_names[3]}" iptables -w -D INPUT -i eth0 -j DROP
    in_ns "${ns_names[3]}" iptables -w -D OUTPUT -o eth0 -j DROP
}

# partition NAME CUT HEAL: cut node 3 off, write on both sides, check the sides
# diverge and hold, heal, check all converge.
partition()
{
    local name=$1 cut=$2 heal=$3
    sm_log "cut ($name): node 3 is cut off from nodes 1 and 2"
    "$cut"
    writes_on 1 "$name"
    writes_on 2 "$name"
    writes_on 3 "$name"
    majority=$((total + 2 * NETNS_WRITES_PER_NODE))
    minority=$((total + NETNS_WRITES_PER_NODE))
    total=$((total + 3 * NETNS_WRITES_PER_NODE))
    wait_same "$NETNS_CONVERGE_WAIT_S" "$name: nodes 1 and 2 converge without node 3" \
        "$majority" 1 2
    sleep "$NETNS_HOLD_S"
    same_state "$majority" 1 2 || fail "$name: nodes 1 and 2 drifted during the cut: $NETNS_SEEN"
    same_state "$minority" 3 || fail "$name: node 3 got operations through the cut: $NETNS_SEEN"
    node_state 1
    local majority_digest=$NODE_DIGEST
    node_state 3
    [[ $NODE_DIGEST != "$majority_digest" ]] ||
        fail "$name: node 3 prints the same digest as node 1 during the cut"
    sm_log "$name: during the cut nodes 1 and 2 hold $majority operations, node 3 $minority"
    sm_log "heal ($name)"
    "$heal"
    wait_same "$NETNS_CONVERGE_WAIT_S" "$name: all three converge after the heal" "$total" 1 2 3
    local i value
    for i in 1 2 3; do
        value=$(field_of "${dirs[i]}" stock sku-1 on_hand)
        assert_eq "$value" "$stock" "$name: node $i's stock of sku-1 (every side's writes count)"
    done
}

# ---- the test ----

network_setup
sm_log "three namespaces on a bridge: ${ns_names[*]} (bridge in $ns_bridge)"
nodes_setup

sm_log "every node writes; all converge"
for i in 1 2 3; do
    writes_on "$i" start
done
total=$((3 * NETNS_WRITES_PER_NODE))
wait_same "$NETNS_CONVERGE_WAIT_S" "all three converge" "$total" 1 2 3

partition link-down cut_link_down heal_link_down
if command -v iptables >/dev/null && ip netns exec "${ns_names[3]}" iptables -w -S >/dev/null 2>&1
then
    partition iptables cut_iptables heal_iptables
else
    echo "# SKIPPED the iptables cut: iptables is missing or does not work in a namespace;" \
        "install iptables (tests/deps.sh)" >&2
fi

sm_log "every node stops cleanly"
for i in 1 2 3; do
    node_stop "${dirs[i]}"
done
