#!/usr/bin/env bash
# The CLI contract of issue 2: exit codes for a missing or busy node, the identity
# line, the JSON shapes of get and status for every merge kind, audit lookups, and
# a digest that survives a restart.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$SM_TMP/a

# ---- no node yet ----
sm_log "commands without a running node exit 3 and say how to start one"
node_init "$dir" branch-a "$SM_RULES" --listen tcp://127.0.0.1:7401
expect 3 submit --data "$dir" stock sku-1 on_hand add 1
assert_contains "$ERR" "storemesh run" "message when no node runs"
assert_contains "$ERR" "$dir" "message names the data directory"
for read_command in "get --data $dir stock sku-1" "status --data $dir" "digest --data $dir"; do
    # shellcheck disable=SC2086 # word splitting intended: paths have no spaces
    expect 3 $read_command
    assert_contains "$ERR" "storemesh run" "message when no node runs"
done

sm_log "init refuses an existing non-empty directory"
sm init --data "$dir" --name other --rules "$SM_RULES"
((RC == 1 || RC == 2)) || fail "init on a non-empty directory: expected exit 1 or 2, got $RC"
assert_contains "$ERR" "$dir" "message names the directory"

sm_log "id prints NAME PUBKEY ENDPOINT"
expect 0 id --data "$dir"
assert_eq "$(wc -l <<<"$OUT")" 1 "id prints one line"
read -r id_name id_key id_endpoint id_extra <<<"$OUT"
assert_eq "$id_name" branch-a "id name"
assert_match "$id_key" '^[A-Za-z0-9+/=._:-]{32,}$' "id public key"
assert_eq "$id_endpoint" tcp://127.0.0.1:7401 "id endpoint"
assert_eq "${id_extra:-}" "" "nothing after the endpoint"
id_line=$OUT

sm_log "run on a missing directory exits 1 and creates nothing"
expect 1 run --data "$SM_TMP/missing/dir"
[[ ! -e $SM_TMP/missing ]] || fail "run created $SM_TMP/missing"
assert_contains "$ERR" "$SM_TMP/missing/dir" "message names the directory"

# ---- one node ----
node_start "$dir"
sm_log "a second run on the same directory exits 1 while the first keeps serving"
expect 1 run --data "$dir"
assert_contains "$ERR" "$dir" "message names the directory"
expect 0 status --data "$dir"
expect 0 id --data "$dir"
assert_eq "$OUT" "$id_line" "id while the node runs"

sm_log "get --json shapes, every merge kind"
accepted=0
stock_id=$(submit_ok "$dir" stock sku-1 on_hand add 5)
accepted=$((accepted + 1))
submit_ok "$dir" stock sku-1 on_hand add -2 >/dev/null
accepted=$((accepted + 1))
json=$(get_json "$dir" stock sku-1)
jq_eq "$json" '.type' '"stock"' "get type"
jq_eq "$json" '.key' '"sku-1"' "get key"
jq_eq "$json" '.fields.on_hand' 3 "counter is a JSON integer"
jq_eq "$json" '.fields.on_hand|type' '"number"' "counter type"

# OP left out: "a@example.com" is taken as the OP, which no merge kind knows.
expect 2 submit --data "$dir" customer c-1 email a@example.com
assert_err_clear
submit_ok "$dir" customer c-1 email set a@example.com >/dev/null
submit_ok "$dir" customer c-1 email set b@example.com >/dev/null
submit_ok "$dir" customer c-1 tags add vip >/dev/null
submit_ok "$dir" customer c-1 tags add gold >/dev/null
submit_ok "$dir" customer c-1 tags add bronze >/dev/null
submit_ok "$dir" customer c-1 tags remove bronze >/dev/null
submit_ok "$dir" customer c-1 phone set 555-0100 >/dev/null
accepted=$((accepted + 7))
json=$(get_json "$dir" customer c-1)
jq_eq "$json" '.fields.email' '"b@example.com"' "last-writer-wins is a string"
jq_eq "$json" '.fields.tags' '["gold","vip"]' "add-wins-set is a sorted array"
jq_eq "$json" '.fields.phone' '["555-0100"]' "keep-both is a sorted array"
jq_eq "$json" '.fields|keys' '["email","phone","tags"]' "customer fields"

submit_ok "$dir" voucher v-1 redeemed_by set c-1 >/dev/null
accepted=$((accepted + 1))
sm submit --data "$dir" voucher v-1 redeemed_by set c-2
case $RC in
0) accepted=$((accepted + 1)) ;;
4) assert_err_clear ;;
*) fail "a second redemption: expected exit 0 (kept as a conflict) or 4, got $RC" ;;
esac
jq_eq "$(get_json "$dir" voucher v-1)" '.fields.redeemed_by' '"c-1"' "first-writer-wins keeps the first"

submit_ok "$dir" order o-1 status set open >/dev/null
submit_ok "$dir" order o-1 status set packed >/dev/null
accepted=$((accepted + 2))
jq_eq "$(get_json "$dir" order o-1)" '.fields.status' '"packed"' "owner register is a string"

jq_eq "$(get_json "$dir" stock sku-never)" '.fields' '{}' "an unwritten key has no fields"

sm_log "get without --json speaks plain text"
expect 0 get --data "$dir" customer c-1
assert_contains "$OUT" "b@example.com" "plain get"

sm_log "status --json keys"
json=$(status_json "$dir")
for key in node state queue_depth offline_seconds limits actions peers; do
    jq -e --arg k "$key" 'has($k)' >/dev/null <<<"$json" || fail "status --json lacks '$key': $json"
done
jq_eq "$json" '.node' '"branch-a"' "status node"
jq_eq "$json" '.state' '"ok"' "status state"
jq_eq "$json" '.queue_depth' "$accepted" "status queue_depth counts every local operation"
jq_eq "$json" '.offline_seconds|type' '"number"' "status offline_seconds"
jq_eq "$json" '.limits|type' '"object"' "status limits"
jq_eq "$json" '.limits|tostring|contains("100000")' true "status limits show max_queue_depth"
jq_eq "$json" '.actions|type' '"array"' "status actions"
jq_eq "$json" '.peers' '[]' "status peers"
jq_eq "$json" "(.writes >= 1) and (.writes <= $accepted)" true "status writes: at least one, at most one a command"
jq_eq "$json" '.write_failures' 0 "status write_failures"
expect 0 status --data "$dir"
assert_contains "$OUT" "branch-a" "plain status names the node"

sm_log "audit finds an audit ID; a misread check letter is bad input"
expect 0 audit --data "$dir" "$stock_id" --json
jq -e . >/dev/null <<<"$OUT" || fail "audit --json is not JSON"
assert_contains "$OUT" "$stock_id" "audit --json names the audit ID"
assert_contains "$OUT" "sku-1" "audit --json shows the operation"
expect 0 audit --data "$dir" "$stock_id"
assert_contains "$OUT" "$stock_id" "plain audit"
check=${stock_id: -1}
if [[ $check == A ]]; then other=B; else other=A; fi
expect 2 audit --data "$dir" "${stock_id%?}$other"
assert_err_clear
expect 2 audit --data "$dir" not-an-audit-id
assert_err_clear

sm_log "digest is stable across a restart"
digest_before=$(digest_of "$dir")
assert_eq "$(digest_of "$dir")" "$digest_before" "digest twice"
node_restart "$dir"
assert_eq "$(digest_of "$dir")" "$digest_before" "digest after restart"
jq_eq "$(get_json "$dir" customer c-1)" '.fields.tags' '["gold","vip"]' "state after restart"
jq_eq "$(status_json "$dir")" '.queue_depth' "$accepted" "queue_depth after restart"
expect 0 audit --data "$dir" "$stock_id"

sm_log "a new command changes the digest"
submit_ok "$dir" stock sku-1 on_hand add 1 >/dev/null
[[ $(digest_of "$dir") != "$digest_before" ]] || fail "digest unchanged after a new command"
node_stop "$dir"
