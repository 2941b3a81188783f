#!/usr/bin/env bash
# Issue 3, acceptance 2: store-and-forward. branch-a and branch-c have no link to each
# other, only to branch-b; each knows the other's key only (a key-only peer entry,
# endpoint `none`) to verify its relayed operations. What a and c write reaches the
# other through b: same digest on all three, each one's audit IDs found on the other.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"

a=$SM_TMP/branch-a
b=$SM_TMP/branch-b # the relay
c=$SM_TMP/branch-c
nodes=("$a" "$b" "$c")

sm_log "a - b - c: a and c linked only to b, and know each other's key only"
for i in "${!nodes[@]}"; do
    mesh_node_init "${nodes[$i]}" "$(mesh_port 1 "$i")"
done
mesh_link "$a" "$b"
mesh_link "$c" "$b"
mesh_add_peer "$a" "$c" none
mesh_add_peer "$c" "$a" none
expect 0 peers --data "$a" --json
jq_eq "$OUT" 'map(select(.name == "branch-c"))[0].endpoint' '"none"' "a's entry for c is key-only"

for dir in "${nodes[@]}"; do
    node_start "$dir"
done
wait_for 20 "a sees b connected" check_connected "$a" branch-b
wait_for 20 "c sees b connected" check_connected "$c" branch-b
wait_for 20 "b sees a and c connected" check_connected "$b" branch-a branch-c

sm_log "a, b and c write"
ids_a=$SM_TMP/ids-a.txt
ids_c=$SM_TMP/ids-c.txt
all_ids=$SM_TMP/ids-all.txt
for i in 1 2 3; do
    submit_ok "$a" --command-id "a-till-000$i" stock sku-1 on_hand add "$i" >>"$ids_a"
    submit_ok "$c" --command-id "c-till-000$i" stock sku-1 on_hand add "-$i" >>"$ids_c"
done
submit_ok "$a" --command-id a-app-0001 customer cust-1 tags add from-a >>"$ids_a"
submit_ok "$c" --command-id c-app-0001 customer cust-1 tags add from-c >>"$ids_c"
submit_ok "$c" --command-id c-web-0001 order order-c-1 status set created >>"$ids_c"
cat "$ids_a" "$ids_c" >"$all_ids"
submit_ok "$b" --command-id b-till-0001 stock sku-2 on_hand add 5 >>"$all_ids"
total=$(wc -l <"$all_ids")

wait_for 30 "a, b and c converge through b ($total operations)" \
    check_converged "$total" "${nodes[@]}"
assert_audits_everywhere "$ids_a" "$c"
assert_audits_everywhere "$ids_c" "$a"
assert_audits_everywhere "$all_ids" "${nodes[@]}"
for dir in "$a" "$c"; do
    where=$(basename "$dir")
    assert_eq "$(field_of "$dir" stock sku-1 on_hand)" 0 "$where: sku-1 (+6 on a, -6 on c)"
    assert_eq "$(field_of "$dir" customer cust-1 tags)" '["from-a","from-c"]' "$where: tags"
    assert_eq "$(field_of "$dir" order order-c-1 status)" '"created"' "$where: c's order"
done

sm_log "a's links: b connected, c never (key-only)"
expect 0 peers --data "$a" --json
peers_a=$OUT
jq_eq "$peers_a" 'map(select(.name == "branch-b"))[0].connected' true "a's link to b"
jq_eq "$peers_a" 'map(select(.name == "branch-c"))[0].connected != true' true "a's entry for c"
expect 0 peers --data "$c" --json
jq_eq "$OUT" 'map(select(.name == "branch-a"))[0].connected != true' true "c's entry for a"

for dir in "${nodes[@]}"; do
    node_stop "$dir"
done
