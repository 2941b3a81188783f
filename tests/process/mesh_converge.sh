#!/usr/bin/env bash
# Issue 3, acceptance 1: three branches and a cloud, each linked to every other, on
# 127.0.0.1. With the cloud stopped the branches all write (stock, customer fields, an
# order, and one voucher redeemed on two branches at once) and converge among
# themselves while their queues wait for the cloud; the cloud rejoins; all four print
# the same digest, hold every acknowledged audit ID, agree on the voucher's winner and
# conflict, and the branches' queues empty as the cloud acknowledges.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"

CONVERGE_WAIT_S=30 # a few Hello rounds (1 s each) are enough; this is the bound

a=$SM_TMP/branch-a
b=$SM_TMP/branch-b
c=$SM_TMP/branch-c
cloud=$SM_TMP/cloud # the rules file's authority
branches=("$a" "$b" "$c")
nodes=("$a" "$b" "$c" "$cloud")
ids=$SM_TMP/audit-ids.txt # every acknowledged audit ID
: >"$ids"

sm_log "four nodes, each linked to every other"
for i in "${!nodes[@]}"; do
    mesh_node_init "${nodes[$i]}" "$(mesh_port 0 "$i")"
done
for i in "${!nodes[@]}"; do
    for ((j = i + 1; j < ${#nodes[@]}; j++)); do
        mesh_link "${nodes[$i]}" "${nodes[$j]}"
    done
done
for dir in "${nodes[@]}"; do
    node_start "$dir"
done
wait_for 20 "every node sees every other connected" check_all_linked "${nodes[@]}"

sm_log "the cloud goes away"
node_stop "$cloud"

# write DIR ARGS...: a submit on DIR that must succeed; keeps its audit ID.
write()
{
    local dir=$1
    shift
    submit_ok "$dir" "$@" >>"$ids"
}

sm_log "every branch writes while the cloud is away"
for dir in "${branches[@]}"; do
    name=$(basename "$dir")
    write "$dir" --command-id "$name-till-0001" --source till-1 stock sku-1 on_hand add 10
    write "$dir" --command-id "$name-till-0002" --source till-1 stock sku-1 on_hand add -3
    write "$dir" --command-id "$name-till-0003" --source till-2 stock "sku-$name" on_hand add 7
    write "$dir" --command-id "$name-app-0001" --source app customer cust-1 tags add "seen-$name"
done
write "$a" --command-id branch-a-app-0002 customer cust-1 email set anna@example.org
write "$c" --command-id branch-c-app-0002 customer cust-1 email set anna@example.com
write "$a" --command-id branch-a-app-0003 customer cust-1 phone set "+41 21 000 00 01"
write "$b" --command-id branch-b-app-0003 customer cust-1 phone set "+41 21 000 00 02"
write "$b" --command-id branch-b-app-0004 customer cust-1 tags add vip
write "$c" --command-id branch-c-web-0001 --source web order order-c-1 status set created

# redeem_on_both KEY: redeems voucher KEY on branch-a and branch-b at the same time;
# true when both accepted it (a conflict), false when one was refused because the
# other's redemption reached it first (exit 4: nothing applied). Each `submit --batch`
# is started first and reads its line from a FIFO, so that process start-up does not
# put one redemption milliseconds behind the other.
redeem_on_both()
{
    local key=$1 dir rc fd
    local -a pids=() rcs=() fds=()
    for dir in "$a" "$b"; do
        rm -f "$dir.fifo"
        mkfifo "$dir.fifo"
        timeout -k 2 "$SM_CMD_TIMEOUT_S" "$STOREMESH" submit --data "$dir" --batch - \
            <"$dir.fifo" >"$dir.redeem" 2>>"$SM_TMP/redeem.log" &
        pids+=("$!")
    done
    # Opened only now, so that neither submit inherits the other's FIFO (and waits
    # for the other to exit before it sees the end of its input).
    for dir in "$a" "$b"; do
        exec {fd}>"$dir.fifo"
        fds+=("$fd")
    done
    for i in 0 1; do
        dir=${nodes[$i]}
        printf '{"command_id":"%s-pos-%s","type":"voucher","key":"%s","field":"redeemed_by","op":"set","value":"receipt-%s"}\n' \
            "$(basename "$dir")" "$key" "$key" "$(basename "$dir")" >&"${fds[$i]}"
    done
    for fd in "${fds[@]}"; do
        exec {fd}>&-
    done
    for i in 0 1; do
        rc=0
        wait "${pids[$i]}" || rc=$?
        rcs+=("$rc")
    done
    sm_log "voucher $key: exit codes ${rcs[*]} (branch-a, branch-b)"
    for i in 0 1; do
        case ${rcs[$i]} in
        0) assert_match "$(cat "${nodes[$i]}.redeem")" "$AUDIT_ID_RE" "redemption audit ID" ;;
        4) ;;
        *) fail "voucher $key: redemption exit code ${rcs[$i]}: $(cat "$SM_TMP/redeem.log")" ;;
        esac
    done
    for i in 0 1; do
        if ((rcs[i] == 0)); then
            cat "${nodes[$i]}.redeem" >>"$ids"
        fi
    done
    ((rcs[0] == 0 && rcs[1] == 0))
}

sm_log "one voucher redeemed on two branches at once (branch-a cut off from the others)"
# Cut branch-a from branch-b and branch-c both ways, so neither redemption can reach
# the other branch before it is made: a fast replication (the optimised build)
# would otherwise turn the second into a local refusal, not a conflict.
for other in "$b" "$c"; do
    expect 0 peer remove --data "$a" "$(basename "$other")"
    expect 0 peer remove --data "$other" "$(basename "$a")"
done
sleep 2 # the nodes reload their peer tables within a second
voucher=
for attempt in 1 2 3 4 5; do
    if redeem_on_both "gift-$attempt"; then
        voucher=gift-$attempt
        break
    fi
done
[[ -n $voucher ]] || fail "no voucher was accepted on both branches in 5 simultaneous attempts"
for other in "$b" "$c"; do
    mesh_link "$a" "$other"
done

sort -u "$ids" | cmp -s - <(sort "$ids") || fail "two commands got one audit ID: $(sort "$ids" | uniq -d)"
total=$(wc -l <"$ids")

sm_log "queues wait for the cloud"
for dir in "${branches[@]}"; do
    depth=$(status_value "$dir" .queue_depth)
    ((depth > 0)) || fail "$(basename "$dir"): queue_depth $depth while the cloud is away"
    sm_log "$(basename "$dir"): queue_depth $depth"
done

wait_for "$CONVERGE_WAIT_S" "the branches converge without the cloud ($total operations)" \
    check_converged "$total" "${branches[@]}"
for dir in "${branches[@]}"; do
    depth=$(status_value "$dir" .queue_depth)
    ((depth > 0)) || fail "$(basename "$dir"): queue_depth $depth before the cloud is back"
done

sm_log "the cloud rejoins"
node_start "$cloud"
wait_for "$CONVERGE_WAIT_S" "all four converge ($total operations)" \
    check_converged "$total" "${nodes[@]}"
assert_audits_everywhere "$ids" "${nodes[@]}"
wait_for "$CONVERGE_WAIT_S" "the cloud's acknowledgement empties every branch queue" \
    check_queue_empty "${branches[@]}"

sm_log "the same state everywhere"
for dir in "${nodes[@]}"; do
    where=$(basename "$dir")
    assert_eq "$(field_of "$dir" stock sku-1 on_hand)" 21 "$where: sku-1 (7 from each branch)"
    for name in branch-a branch-b branch-c; do
        assert_eq "$(field_of "$dir" stock "sku-$name" on_hand)" 7 "$where: sku-$name"
    done
    assert_eq "$(field_of "$dir" customer cust-1 tags)" \
        '["seen-branch-a","seen-branch-b","seen-branch-c","vip"]' "$where: tags"
    assert_eq "$(field_of "$dir" customer cust-1 email)" '"anna@example.com"' \
        "$where: the later e-mail wins"
    # Both phones are kept only if neither branch had seen the other's when it wrote.
    assert_match "$(field_of "$dir" customer cust-1 phone)" \
        '^\["\+41 21 000 00 0[12]"(,"\+41 21 000 00 02")?\]$' "$where: phone"
    assert_eq "$(field_of "$dir" order order-c-1 status)" '"created"' "$where: order"
done

sm_log "voucher $voucher: one winner and one conflict, the same on every node"
voucher_json=$(get_json "$a" voucher "$voucher")
# winner, the number of conflicts, and the conflicting value (after ORIGIN:SEQ=)
summary=$(jq -c '[.fields.redeemed_by, (.conflicts.redeemed_by | length),
    (.conflicts.redeemed_by[0] // "" | sub("^[^=]*="; ""))]' <<<"$voucher_json")
case $summary in
'["receipt-branch-a",1,"receipt-branch-b"]' | '["receipt-branch-b",1,"receipt-branch-a"]') ;;
*) fail "voucher $voucher: expected one winner and the other redemption as a conflict: $voucher_json" ;;
esac
sm_log "voucher $voucher: $summary"
for dir in "${nodes[@]}"; do
    assert_eq "$(get_json "$dir" voucher "$voucher")" "$voucher_json" \
        "voucher $voucher on $(basename "$dir")"
done

for dir in "${nodes[@]}"; do
    node_stop "$dir"
done
