#!/usr/bin/env bash
# Acceptance 4 (CLI part): the example rules load; each kind of bad rules file is
# refused at init with FILE:LINE; owner rules are enforced at submit time with a
# message that names the owner and quotes the rule's explain sentence.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# bad_rules NAME SED_SCRIPT LINE_REGEX [WORD...]: init with a copy of the retail rules
# edited by SED_SCRIPT must exit 2, report FILE:LINE (LINE matching LINE_REGEX) and
# mention each WORD (what is wrong, the valid choices), and leave no data behind.
bad_rules()
{
    local name=$1 script=$2 line_regex=$3
    shift 3
    local file=$SM_TMP/$name.yaml dir=$SM_TMP/bad-$name
    sed -e "$script" "$SM_RULES" >"$file"
    cmp -s "$file" "$SM_RULES" && fail "$name: the sed script changed nothing"
    sm_log "bad rules: $name"
    expect 2 init --data "$dir" --name branch-a --rules "$file"
    assert_err_clear
    assert_match "$ERR" "$file:($line_regex)[^0-9]" "$name: error names FILE:LINE"
    local word
    for word in "$@"; do
        assert_contains "$ERR" "$word" "$name: error message"
    done
    if [[ -e $dir && -n $(ls -A "$dir") ]]; then
        fail "$name: a refused init left files in $dir"
    fi
}

bad_rules unknown-merge 's/merge: last-writer-wins/merge: last-write-wins/' 32 \
    last-write-wins last-writer-wins add-wins-set
bad_rules unknown-entity-key 's/^    explain: "A loyalty customer."/    explian: "A loyalty customer."/' \
    29 explian
bad_rules unknown-top-key 's/^mesh:/mash:/' 3 mash
bad_rules unknown-field-key 's/^        explain: "The most recent/        explains: "The most recent/' \
    33 explains
bad_rules field-without-merge '/merge: counter/d' '16|17' on_hand
bad_rules owner-without-owner '/^    owner: cloud/d' '2[0-5]' owner
bad_rules bad-max-offline 's/max_offline: 72h/max_offline: 72 hours/' 7 max_offline
bad_rules bad-queue-depth 's/max_queue_depth: 100000/max_queue_depth: lots/' 8 max_queue_depth
bad_rules bad-warn-at 's/warn_at: 80%/warn_at: 180%/' 9 warn_at
bad_rules bad-at-limit 's/at_limit: refuse-new-work/at_limit: panic/' 10 \
    panic refuse-new-work warn-only
bad_rules yaml-syntax 's/"Prices are set by head office."/"Prices are set by head office./' \
    '[0-9]+'

sm_log "the example rules load"
branch=$SM_TMP/branch
cloud=$SM_TMP/cloud
node_init "$branch" branch-a
node_init "$cloud" cloud
node_start "$branch"
node_start "$cloud"

sm_log "a branch's write to a cloud-owned price is refused with the explain sentence"
submit_ok "$branch" stock sku-1 on_hand add 1 >/dev/null
digest_before=$(digest_of "$branch")
expect 4 submit --data "$branch" price p-1 amount set 9.99
assert_err_clear
assert_contains "$ERR" "Only head office changes a price" "refusal quotes the explain sentence"
assert_contains "$ERR" "cloud" "refusal names the owner"
assert_eq "$(digest_of "$branch")" "$digest_before" "digest after the refusal"
jq_eq "$(get_json "$branch" price p-1)" '.fields' '{}' "refused price not applied"

sm_log "the node named cloud sets prices"
submit_ok "$cloud" price p-1 amount set 9.99 >/dev/null
jq_eq "$(get_json "$cloud" price p-1)" '.fields.amount' '"9.99"' "price set by cloud"
submit_ok "$cloud" price p-1 amount set 10.49 >/dev/null
jq_eq "$(get_json "$cloud" price p-1)" '.fields.amount' '"10.49"' "price changed by cloud"

sm_log "owner: origin - the branch that created an order changes its status"
submit_ok "$branch" order o-1 status set open >/dev/null
submit_ok "$branch" order o-1 status set packed >/dev/null
jq_eq "$(get_json "$branch" order o-1)" '.fields.status' '"packed"' "order status by its creator"
submit_ok "$cloud" order o-2 status set open >/dev/null
jq_eq "$(get_json "$cloud" order o-2)" '.fields.status' '"open"' "order status on cloud"

sm_log "a refused batch line is reported with its line number; the good line applies"
batch=$SM_TMP/prices.jsonl
cat >"$batch" <<'EOF'
{"command_id":"r-1","type":"stock","key":"sku-2","field":"on_hand","op":"add","value":"4"}
{"command_id":"r-2","type":"price","key":"p-2","field":"amount","op":"set","value":"1.00"}
EOF
expect 4 submit --data "$branch" --batch "$batch"
assert_eq "$(wc -l <<<"$OUT")" 1 "one audit ID for the one accepted line"
assert_match "$OUT" "$AUDIT_ID_RE" "audit ID of the accepted line"
assert_contains "$ERR" "$batch:2:" "refused line reported by number"
assert_not_contains "$ERR" "$batch:1:" "accepted line not reported"
assert_contains "$ERR" "Only head office changes a price" "batch refusal quotes the rule"
assert_eq "$(field_of "$branch" stock sku-2 on_hand)" 4 "accepted line applied"
jq_eq "$(get_json "$branch" price p-2)" '.fields' '{}' "refused line not applied"

sm_log "a refused command sent again is refused again"
expect 4 submit --data "$branch" --command-id r-2 price p-2 amount set 1.00
assert_contains "$ERR" "Only head office changes a price" "second refusal"
node_stop "$branch"
node_stop "$cloud"
