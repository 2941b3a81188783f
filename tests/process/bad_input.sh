#!/usr/bin/env bash
# Acceptance 5: bad input gets exit 2, a clear message, and changes nothing; in a
# --batch file, bad lines are reported by line number and skipped while the good
# lines apply.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$SM_TMP/a
node_init "$dir" branch-a
node_start "$dir"
submit_ok "$dir" stock sku-1 on_hand add 7 >/dev/null
submit_ok "$dir" customer c-1 email set a@example.com >/dev/null
digest_before=$(digest_of "$dir")
queue_before=$(jq -c .queue_depth <<<"$(status_json "$dir")")

# rejected WORD ARGS...: submit ARGS must exit 2 with a message mentioning WORD and
# leave the state alone.
rejected()
{
    local word=$1
    shift
    expect 2 submit --data "$dir" "$@"
    assert_err_clear
    if [[ -n $word ]]; then
        assert_contains "$ERR" "$word" "message for: $*"
    fi
    assert_eq "$(digest_of "$dir")" "$digest_before" "digest after: $*"
}

big_value=$(head -c 1025 /dev/zero | tr '\0' x)
max_value=$(head -c 1024 /dev/zero | tr '\0' y)

sm_log "unknown type or field"
rejected widget widget w-1 name set x
rejected colour stock sku-1 colour set red
rejected emial customer c-1 emial set b@example.com

sm_log "wrong OP for the merge kind"
rejected set stock sku-1 on_hand set 5
rejected remove stock sku-1 on_hand remove 5
rejected add customer c-1 email add b@example.com
rejected remove customer c-1 email remove a@example.com
rejected set customer c-1 tags set vip
rejected add customer c-1 phone add 555-0100
rejected add voucher v-1 redeemed_by add c-1
rejected frobnicate customer c-1 tags frobnicate vip

sm_log "counter deltas that are not integers"
rejected 1.5 stock sku-1 on_hand add 1.5
rejected abc stock sku-1 on_hand add abc
rejected 12abc stock sku-1 on_hand add 12abc
rejected 0x10 stock sku-1 on_hand add 0x10
rejected 99999999999999999999 stock sku-1 on_hand add 99999999999999999999
rejected "" stock sku-1 on_hand add ""
rejected "" stock sku-1 on_hand add

sm_log "missing value for a register or set"
rejected "" customer c-1 email set
rejected "" customer c-1 tags add

sm_log "a value over the 1024-byte limit"
rejected 1024 customer c-1 email set "$big_value"
rejected 1024 customer c-1 tags add "$big_value"
rejected 1024 customer c-1 phone set "$big_value"

sm_log "bad usage"
for args in "submit --data $dir stock sku-1 on_hand" "submit --data $dir stock" \
    "submit --data $dir --no-such-option stock sku-1 on_hand add 1" "no-such-command --data $dir" \
    "submit stock sku-1 on_hand add 1"; do
    # shellcheck disable=SC2086 # word splitting intended: paths have no spaces
    expect 2 $args
    assert_err_clear
done
expect 2
expect 2 get --data "$dir" widget w-1
assert_err_clear
assert_contains "$ERR" widget "get of an unknown type"
assert_eq "$(digest_of "$dir")" "$digest_before" "digest after bad usage"
jq_eq "$(status_json "$dir")" '.queue_depth' "$queue_before" "queue_depth after bad input"

sm_log "a value of exactly 1024 bytes is accepted"
submit_ok "$dir" customer c-1 email set "$max_value" >/dev/null
jq_eq "$(get_json "$dir" customer c-1)" '.fields.email|length' 1024 "1024-byte value stored"

sm_log "malformed --batch lines: reported by number, skipped; good lines applied"
batch=$SM_TMP/mixed.jsonl
{
    echo '{"command_id":"b-1","type":"stock","key":"sku-b","field":"on_hand","op":"add","value":"2"}'
    echo '{"command_id":"b-2","type":"stock",'
    echo '{"command_id":"b-3","type":"widget","key":"w-1","field":"name","op":"set","value":"x"}'
    echo '{"command_id":"b-4","source":"till-2","type":"customer","key":"c-b","field":"tags","op":"add","value":"new"}'
    echo '{"command_id":"b-5","type":"stock","key":"sku-b5","field":"on_hand","op":"add","value":"1.5"}'
    echo '[1,2,3]'
    echo '{"command_id":"b-7","type":"stock","key":"sku-b7","field":"on_hand","value":"1"}'
    echo "{\"command_id\":\"b-8\",\"type\":\"customer\",\"key\":\"c-b8\",\"field\":\"email\",\"op\":\"set\",\"value\":\"$big_value\"}"
    echo '{"command_id":"b-9","type":"stock","key":"sku-b9","field":"on_hand","op":"set","value":"1"}'
    echo '{"type":"stock","key":"sku-b","field":"on_hand","op":"add","value":"3"}'
    echo 'not json at all'
    echo '{"command_id":"b-12","type":"stock","key":"sku-b","field":"on_hand","op":"add","value":4}'
    echo '{"command_id":"b-13","type":"stock","key":"sku-b13","field":"on_hand","op":"add","value":"1"} x'
    echo '{"command_id":"b-14","type":"stock","key":"sku-b14","field":"on_hand","op":"add","value":"1"}{"command_id":"b-14b","type":"stock","key":"sku-b14","field":"on_hand","op":"add","value":"5"}'
} >"$batch"
expect 2 submit --data "$dir" --batch "$batch"
for line in 2 3 5 6 7 8 9 11 13 14; do
    assert_contains "$ERR" "$batch:$line:" "bad line $line reported"
done
for line in 1 4 10 12; do
    assert_not_contains "$ERR" "$batch:$line:" "good line $line not reported"
done
mapfile -t ids <<<"$OUT"
assert_eq "${#ids[@]}" 4 "one audit ID per good line"
for id in "${ids[@]}"; do
    assert_match "$id" "$AUDIT_ID_RE" "batch output line"
done
assert_eq "$(field_of "$dir" stock sku-b on_hand)" 9 "good counter lines applied (2+3+4)"
jq_eq "$(get_json "$dir" customer c-b)" '.fields.tags' '["new"]' "good set line applied"
for key in sku-b5 sku-b7 sku-b9 sku-b13 sku-b14; do
    jq_eq "$(get_json "$dir" stock "$key")" '.fields' '{}' "bad line for $key not applied"
done
jq_eq "$(get_json "$dir" customer c-b8)" '.fields' '{}' "oversized line not applied"

sm_log "a bad line's command ID stays free for the corrected command"
submit_ok "$dir" --command-id b-5 stock sku-b5 on_hand add 1 >/dev/null
assert_eq "$(field_of "$dir" stock sku-b5 on_hand)" 1 "corrected command applied"

sm_log "a batch file that does not exist"
sm submit --data "$dir" --batch "$SM_TMP/no-such-file.jsonl"
((RC == 1 || RC == 2)) || fail "missing batch file: expected exit 1 or 2, got $RC"
assert_contains "$ERR" "no-such-file.jsonl" "message names the file"
node_stop "$dir"
