#!/usr/bin/env bash
# Issue 3, acceptance 5 at process level: a node whose key is not on the allow-list
# gets no data and sends none. `intruder` lists branch-a as its peer (so it knows
# branch-a's public key, the CURVE server key) but branch-a does not list it: the
# ZAP handler refuses it, logs its key and counts it; for several seconds of retries
# neither side receives an operation of the other. Forged, altered and dropped
# operations are tested at core level (tests/node/replicate_test.c).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"

# Ed25519 public key (hex) -> its X25519 form, u = (1 + y) / (1 - y) mod 2^255 - 19.
ED25519_TO_X25519='
import sys
p = 2**255 - 19
y = int.from_bytes(bytes.fromhex(sys.argv[1]), "little") & (2**255 - 1)
print(((1 + y) * pow(1 - y, p - 2, p) % p).to_bytes(32, "little").hex())'
TRY_S=5 # "several seconds": the intruder is up this long, retrying, before the checks

a=$SM_TMP/branch-a
b=$SM_TMP/branch-b # a's real peer, so that a binds and replicates meanwhile
intruder=$SM_TMP/intruder
nodes=("$a" "$b" "$intruder")

for i in "${!nodes[@]}"; do
    mesh_node_init "${nodes[$i]}" "$(mesh_port 3 "$i")"
done
mesh_link "$a" "$b"
mesh_add_peer "$intruder" "$a"
expect 0 id --data "$intruder"
read -r _ intruder_key _ <<<"$OUT"

for dir in "${nodes[@]}"; do
    node_start "$dir"
done
wait_for 20 "a and b linked" check_connected "$a" branch-b

sm_log "everyone writes"
ids_mesh=$SM_TMP/ids-mesh.txt
ids_intruder=$SM_TMP/ids-intruder.txt
for i in 1 2 3; do
    submit_ok "$a" --command-id "a-till-000$i" stock sku-1 on_hand add "$i" >>"$ids_mesh"
done
submit_ok "$b" --command-id b-till-0001 stock sku-2 on_hand add 4 >>"$ids_mesh"
submit_ok "$intruder" --command-id x-till-0001 stock sku-1 on_hand add 100 >>"$ids_intruder"
submit_ok "$intruder" --command-id x-app-0001 customer cust-1 tags add intruded >>"$ids_intruder"
intruder_ops=$(wc -l <"$ids_intruder")
mesh_ops=$(wc -l <"$ids_mesh")
intruder_digest=$(digest_of "$intruder")

# check_refused_for_a_while: the intruder has been up TRY_S seconds and branch-a has
# counted refused link attempts.
check_refused_for_a_while()
{
    local uptime refused
    uptime=$(status_value "$intruder" .uptime_seconds)
    refused=$(status_value "$a" .links_refused)
    MESH_STATE="intruder up ${uptime}s, branch-a links_refused $refused"
    if ((uptime >= TRY_S && refused > 0)); then
        MESH_OK=1
    fi
    return 0
}
wait_for $((TRY_S + 20)) "branch-a refuses the intruder for ${TRY_S}s" check_refused_for_a_while
sm_log "$MESH_STATE"

sm_log "the mesh holds none of the intruder's operations"
wait_for 20 "a and b converge ($mesh_ops operations)" check_converged "$mesh_ops" "$a" "$b"
for dir in "$a" "$b"; do
    while IFS= read -r id; do
        expect 4 audit --data "$dir" "$id"
    done <"$ids_intruder"
done
assert_eq "$(field_of "$a" stock sku-1 on_hand)" 6 "branch-a: sku-1 without the intruder's add"
assert_eq "$(field_of "$a" customer cust-1 tags)" null "branch-a: no intruder tag"

sm_log "the intruder holds none of the mesh's operations"
assert_eq "$(status_value "$intruder" .operations)" "$intruder_ops" "intruder's operations"
assert_eq "$(digest_of "$intruder")" "$intruder_digest" "intruder's digest after ${TRY_S}s"
while IFS= read -r id; do
    expect 4 audit --data "$intruder" "$id"
done <"$ids_mesh"
assert_eq "$(field_of "$intruder" stock sku-1 on_hand)" 100 "intruder: sku-1, its own add only"
assert_eq "$(field_of "$intruder" stock sku-2 on_hand)" null "intruder: nothing of b's"
expect 0 peers --data "$intruder" --json
jq_eq "$OUT" 'map(select(.name == "branch-a"))[0].connected' false "intruder's link to a"

sm_log "branch-a counted and logged the refusal"
refused=$(status_value "$a" .links_refused)
((refused > 0)) || fail "branch-a's links_refused is $refused"
grep -qE 'refused a link from unknown key [0-9a-f]{64}' "$a.log" ||
    fail "branch-a's log has no line about the refused key"
# The node logs the key in its CURVE (X25519) form; `storemesh id --curve` on the
# intruder prints the same, so an operator can tell whose it is.
expect 0 id --data "$intruder" --curve
intruder_curve=$(awk '{print $2}' <<<"$OUT")
[[ $intruder_curve =~ ^[0-9a-f]{64}$ ]] || fail "id --curve printed '$OUT'"
if command -v python3 >/dev/null; then # checked against the curve arithmetic itself
    assert_eq "$intruder_curve" "$(python3 -c "$ED25519_TO_X25519" "$intruder_key")" \
        "id --curve is the X25519 form of the key id prints"
fi
grep -qF "refused a link from unknown key $intruder_curve" "$a.log" ||
    fail "branch-a's log does not name the intruder's key as id --curve prints it ($intruder_curve)"
assert_eq "$(status_value "$b" .links_refused)" 0 "branch-b's links_refused"

for dir in "${nodes[@]}"; do
    node_stop "$dir"
done
