#!/usr/bin/env bash
# Acceptance 6: with max_queue_depth 5, the sixth new command is refused (exit 4,
# the message says the queue is at its limit), status shows "warn" from 80% and then
# "limit" with an action, and every earlier command stays intact, also across a
# restart. Repeats of known command IDs are still answered at the limit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rules=$SM_TMP/rules-depth-5.yaml
sed -e 's/max_queue_depth: 100000/max_queue_depth: 5/' "$SM_RULES" >"$rules"
grep -q 'max_queue_depth: 5 ' "$rules" || fail "could not lower max_queue_depth in $rules"

dir=$SM_TMP/a
node_init "$dir" branch-a "$rules"
node_start "$dir"

json=$(status_json "$dir")
jq_eq "$json" '.state' '"ok"' "state of an empty node"
jq_eq "$json" '.limits|tostring|contains("5")' true "limits show max_queue_depth"

declare -a ids=()
for n in 1 2 3 4 5; do
    ids+=("$(submit_ok "$dir" --command-id l-$n stock sku-l on_hand add 1)")
    json=$(status_json "$dir")
    jq_eq "$json" '.queue_depth' "$n" "queue_depth after $n commands"
    case $n in
    1 | 2 | 3) jq_eq "$json" '.state' '"ok"' "state at $n of 5" ;;
    4)
        jq_eq "$json" '.state' '"warn"' "state at 4 of 5 (80%)"
        jq_eq "$json" '.actions|length > 0' true "an action accompanies the warning"
        jq_eq "$json" '.actions|map(type)|unique' '["string"]' "actions are plain strings"
        ;;
    esac
done
digest_full=$(digest_of "$dir")

sm_log "the sixth command is refused"
expect 4 submit --data "$dir" --command-id l-6 stock sku-l on_hand add 1
assert_err_clear
if ! grep -qi queue <<<"$ERR"; then
    fail "refusal at the limit should say the queue is full"
fi
assert_contains "$ERR" 5 "refusal names the limit"
json=$(status_json "$dir")
jq_eq "$json" '.state' '"limit"' "state at the limit"
jq_eq "$json" '.actions|length > 0' true "an action at the limit"
jq_eq "$json" '.queue_depth' 5 "queue_depth at the limit"
expect 0 status --data "$dir"
if ! grep -qi limit <<<"$OUT"; then
    fail "plain status should show the limit: $OUT"
fi

sm_log "other kinds of command and batches are refused too; nothing changes"
expect 4 submit --data "$dir" customer c-1 email set a@example.com
batch=$SM_TMP/late.jsonl
cat >"$batch" <<'EOF'
{"command_id":"l-7","type":"stock","key":"sku-l","field":"on_hand","op":"add","value":"1"}
{"command_id":"l-8","type":"customer","key":"c-1","field":"tags","op":"add","value":"vip"}
EOF
expect 4 submit --data "$dir" --batch "$batch"
assert_eq "$OUT" "" "no audit ID for refused batch lines"
assert_contains "$ERR" "$batch:1:" "refused batch line 1 reported"
assert_contains "$ERR" "$batch:2:" "refused batch line 2 reported"
assert_eq "$(digest_of "$dir")" "$digest_full" "digest after refusals"

sm_log "a repeat of an accepted command is still answered at the limit"
assert_eq "$(submit_ok "$dir" --command-id l-3 stock sku-l on_hand add 1)" "${ids[2]}" \
    "audit ID of a repeat at the limit"

sm_log "every earlier command is intact, also after a restart"
check_intact()
{
    assert_eq "$(field_of "$dir" stock sku-l on_hand)" 5 "counter holds the five commands"
    local id
    for id in "${ids[@]}"; do
        expect 0 audit --data "$dir" "$id"
    done
    assert_eq "$(digest_of "$dir")" "$digest_full" "digest"
}
check_intact
node_restart "$dir"
check_intact
jq_eq "$(status_json "$dir")" '.state' '"limit"' "state at the limit after a restart"
expect 4 submit --data "$dir" --command-id l-6 stock sku-l on_hand add 1
assert_contains "$ERR" "5" "refusal after a restart names the limit"
check_intact
node_stop "$dir"
