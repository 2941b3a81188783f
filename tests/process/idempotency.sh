#!/usr/bin/env bash
# Acceptance 3: the same command ID, sent three times (once after a restart), gives
# one audit ID and one effect; the same ID with different content is bad input.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$SM_TMP/a
node_init "$dir" branch-a
node_start "$dir"

sm_log "the same command ID twice, then once more after a restart"
first=$(submit_ok "$dir" --command-id till-1-0001 --source till-1 stock sku-9 on_hand add 3)
digest_once=$(digest_of "$dir")
second=$(submit_ok "$dir" --command-id till-1-0001 --source till-1 stock sku-9 on_hand add 3)
assert_eq "$second" "$first" "audit ID of the repeat"
assert_eq "$(field_of "$dir" stock sku-9 on_hand)" 3 "counter after the repeat"
assert_eq "$(digest_of "$dir")" "$digest_once" "digest after the repeat"

node_restart "$dir"
third=$(submit_ok "$dir" --command-id till-1-0001 --source till-1 stock sku-9 on_hand add 3)
assert_eq "$third" "$first" "audit ID of the repeat after a restart"
assert_eq "$(field_of "$dir" stock sku-9 on_hand)" 3 "counter after three submissions"
assert_eq "$(digest_of "$dir")" "$digest_once" "digest after three submissions"
jq_eq "$(status_json "$dir")" '.queue_depth' 1 "one operation in the queue"
expect 0 audit --data "$dir" "$first"

sm_log "the same command ID with different content is bad input"
expect 2 submit --data "$dir" --command-id till-1-0001 --source till-1 stock sku-9 on_hand add 4
assert_err_clear
assert_contains "$ERR" "till-1-0001" "message names the command ID"
expect 2 submit --data "$dir" --command-id till-1-0001 --source till-1 stock sku-10 on_hand add 3
assert_err_clear
assert_eq "$(field_of "$dir" stock sku-9 on_hand)" 3 "counter after a conflicting reuse"
assert_eq "$(field_of "$dir" stock sku-10 on_hand)" null "other key after a conflicting reuse"
assert_eq "$(digest_of "$dir")" "$digest_once" "digest after a conflicting reuse"

sm_log "a batch line repeating a known command ID answers its audit ID"
batch=$SM_TMP/repeat.jsonl
cat >"$batch" <<'EOF'
{"command_id":"till-1-0001","source":"till-1","type":"stock","key":"sku-9","field":"on_hand","op":"add","value":"3"}
{"command_id":"till-1-0002","source":"till-1","type":"stock","key":"sku-9","field":"on_hand","op":"add","value":"-1"}
{"command_id":"till-1-0002","source":"till-1","type":"stock","key":"sku-9","field":"on_hand","op":"add","value":"-1"}
EOF
expect 0 submit --data "$dir" --batch "$batch"
mapfile -t ids <<<"$OUT"
assert_eq "${#ids[@]}" 3 "one audit ID per batch line"
assert_eq "${ids[0]}" "$first" "batch repeat of till-1-0001"
assert_match "${ids[1]}" "$AUDIT_ID_RE" "audit ID of till-1-0002"
assert_eq "${ids[2]}" "${ids[1]}" "a command ID repeated inside one batch"
[[ ${ids[1]} != "$first" ]] || fail "a new command got an old audit ID"
assert_eq "$(field_of "$dir" stock sku-9 on_hand)" 2 "counter after the batch"

sm_log "the whole batch again, after a restart, changes nothing"
digest_batch=$(digest_of "$dir")
node_restart "$dir"
expect 0 submit --data "$dir" --batch "$batch"
assert_eq "$OUT" "$(printf '%s\n' "${ids[@]}")" "audit IDs of the repeated batch"
assert_eq "$(digest_of "$dir")" "$digest_batch" "digest after the repeated batch"
jq_eq "$(status_json "$dir")" '.queue_depth' 2 "two operations in the queue"

sm_log "commands without a command ID are distinct commands"
a=$(submit_ok "$dir" stock sku-11 on_hand add 1)
b=$(submit_ok "$dir" stock sku-11 on_hand add 1)
[[ $a != "$b" ]] || fail "two commands without a command ID got one audit ID"
assert_eq "$(field_of "$dir" stock sku-11 on_hand)" 2 "counter after two anonymous adds"
node_stop "$dir"
