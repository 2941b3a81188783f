#!/usr/bin/env bash
# Issue 3, membership: `peer add` (in the issue's word order, in `storemesh id`'s, and
# straight from `$(storemesh id ...)`), `peer remove` and `peers` (text and --json),
# with and without a running node. Bad words and the node itself are refused with
# exit 2 and a clear message, and leave the table as it was; concurrent adds lose
# nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

a=$SM_TMP/a
b=$SM_TMP/b
c=$SM_TMP/c
# Ports no other process test uses, for when nodes listen on them.
node_init "$a" branch-a "$SM_RULES" --listen tcp://127.0.0.1:7471
node_init "$b" branch-b "$SM_RULES" --listen tcp://127.0.0.1:7472
node_init "$c" cloud "$SM_RULES" --listen tcp://127.0.0.1:7473

expect 0 id --data "$a"
a_id=$OUT
read -r a_name a_key a_endpoint <<<"$a_id"
expect 0 id --data "$b"
read -r b_name b_key b_endpoint <<<"$OUT"
expect 0 id --data "$c"
c_id=$OUT
read -r c_name c_key c_endpoint <<<"$c_id"

# peers_json DIR: prints `peers --json` (must succeed and be a JSON array).
peers_json()
{
    expect 0 peers --data "$1" --json
    jq -e 'type == "array"' >/dev/null <<<"$OUT" || fail "peers --json is not a JSON array: $OUT"
    printf '%s\n' "$OUT"
}

# refused WORD ARGS...: ARGS must exit 2 with a message containing WORD, print
# nothing on stdout, and leave $a's peers.yaml as it was.
refused()
{
    local word=$1
    shift
    local before
    before=$(cat "$a/peers.yaml" 2>/dev/null || echo "(no file)")
    expect 2 "$@"
    assert_err_clear
    assert_contains "$ERR" "$word" "message for: $*"
    assert_eq "$(cat "$a/peers.yaml" 2>/dev/null || echo "(no file)")" "$before" \
        "peers.yaml after: $*"
}

sm_log "no peers yet"
jq_eq "$(peers_json "$a")" '.' '[]' "empty table"
expect 0 peers --data "$a"
assert_contains "$OUT" "no peers" "plain peers with an empty table"

sm_log "peer add NAME ENDPOINT PUBLIC_KEY, no node running"
expect 0 peer add --data "$a" "$b_name" "$b_endpoint" "$b_key"
assert_contains "$ERR" "added" "peer add says what it did"
[[ -z $OUT ]] || fail "peer add printed on stdout: $OUT"
json=$(peers_json "$a")
jq_eq "$json" 'length' 1 "one peer"
jq_eq "$json" '.[0]|keys' \
    '["connected","endpoint","last_exchange","name","public_key","they_owe","we_owe"]' "peer keys"
jq_eq "$json" '.[0].name' "\"$b_name\"" "peer name"
jq_eq "$json" '.[0].endpoint' "\"$b_endpoint\"" "peer endpoint"
jq_eq "$json" '.[0].public_key' "\"$b_key\"" "peer key"
jq_eq "$json" '[.[0].connected, .[0].last_exchange, .[0].we_owe, .[0].they_owe]' \
    '[null,null,null,null]' "live columns without a node"
expect 0 peers --data "$a"
assert_contains "$OUT" "$b_name $b_endpoint $b_key" "plain peers: NAME ENDPOINT KEY"
assert_contains "$OUT" "unknown (node not running)" "plain peers: live columns"

sm_log "peer add straight from \$(storemesh id) (NAME PUBLIC_KEY ENDPOINT)"
# shellcheck disable=SC2086 # word splitting intended: id prints three words
expect 0 peer add --data "$a" $c_id
json=$(peers_json "$a")
jq_eq "$json" '[.[].name]' "[\"$b_name\",\"$c_name\"]" "peers in the order added"
jq_eq "$json" '.[1].endpoint' "\"$c_endpoint\"" "endpoint taken from id's last word"
jq_eq "$json" '.[1].public_key' "\"$c_key\"" "key taken from id's middle word"
grep -qF "$c_key" "$a/peers.yaml" || fail "peers.yaml does not hold the key"

sm_log "adding a known name replaces its entry"
expect 0 peer add --data "$a" "$c_name" tcp://127.0.0.1:7499 "$c_key"
assert_contains "$ERR" "updated" "peer add on a known name"
json=$(peers_json "$a")
jq_eq "$json" 'length' 2 "still two peers"
jq_eq "$json" '.[1].endpoint' '"tcp://127.0.0.1:7499"' "endpoint replaced"
expect 0 peer add --data "$a" "$c_name" "$c_key" "$c_endpoint"
jq_eq "$(peers_json "$a")" '.[1].endpoint' "\"$c_endpoint\"" "endpoint restored"

sm_log "bad words exit 2, say what is wrong, and change nothing"
refused "public key" peer add --data "$a" x tcp://127.0.0.1:1 abc
refused "public key" peer add --data "$a" x tcp://127.0.0.1:1 "${c_key:1}"
refused "public key" peer add --data "$a" x tcp://127.0.0.1:1 "${c_key%?}g"
refused "public key" peer add --data "$a" x "${c_key}00" tcp://127.0.0.1:1
refused "endpoint" peer add --data "$a" x udp://127.0.0.1:1 "$c_key"
refused "endpoint" peer add --data "$a" x tcp://127.0.0.1:0 "$c_key"
refused "endpoint" peer add --data "$a" x tcp://127.0.0.1:65536 "$c_key"
refused "endpoint" peer add --data "$a" x tcp://127.0.0.1 "$c_key"
refused "endpoint" peer add --data "$a" x 127.0.0.1:7400 "$c_key"
refused "cannot be dialled" peer add --data "$a" x 'tcp://*:7400' "$c_key"
refused "not valid" peer add --data "$a" 'bad name' tcp://127.0.0.1:1 "$c_key"
refused "not valid" peer add --data "$a" origin tcp://127.0.0.1:1 "$c_key"
refused "already belongs to peer '$b_name'" peer add --data "$a" alias tcp://127.0.0.1:1 "$b_key"
refused "usage" peer add --data "$a" x tcp://127.0.0.1:1
refused "usage" peer add --data "$a"
refused "add" peer frob --data "$a"
refused "usage" peers --data "$a" extra

sm_log "adding the node itself is refused"
# shellcheck disable=SC2086 # word splitting intended
refused "this node itself" peer add --data "$a" $a_id
refused "this node itself" peer add --data "$a" "$a_name" tcp://127.0.0.1:1 "$c_key"
refused "this node itself" peer add --data "$a" other-name "$a_endpoint" "$a_key"

sm_log "peer remove"
refused "ghost" peer remove --data "$a" ghost
assert_contains "$ERR" "$b_name, $c_name" "remove of an unknown peer lists the known ones"
refused "usage" peer remove --data "$a"
expect 0 peer remove --data "$a" "$c_name"
assert_contains "$ERR" "removed" "peer remove says what it did"
jq_eq "$(peers_json "$a")" '[.[].name]' "[\"$b_name\"]" "one peer left"

sm_log "a missing data directory is exit 1 and nothing is created"
expect 1 peers --data "$SM_TMP/none"
assert_contains "$ERR" "$SM_TMP/none" "message names the directory"
# shellcheck disable=SC2086 # word splitting intended
expect 1 peer add --data "$SM_TMP/none" $c_id
expect 1 peer remove --data "$SM_TMP/none" x
[[ ! -e $SM_TMP/none ]] || fail "a peer command created $SM_TMP/none"

sm_log "with a running node: add, list, remove"
node_start "$a"
# shellcheck disable=SC2086 # word splitting intended
expect 0 peer add --data "$a" $c_id
assert_contains "$ERR" "running node" "peer add mentions the running node"
json=$(peers_json "$a")
jq_eq "$json" '[.[].name]' "[\"$b_name\",\"$c_name\"]" "peers while running"
# Live columns: the node's answer when it gives one, else null (never missing).
jq_eq "$json" 'map(.connected == null or (.connected|type) == "boolean")|all' true \
    "connected is a boolean or null"
jq_eq "$json" 'map(.last_exchange == null or (.last_exchange|type) == "string")|all' true \
    "last_exchange is a string or null"
jq_eq "$json" 'map(.we_owe == null or (.we_owe|type) == "number")|all' true \
    "we_owe is a number or null"
jq_eq "$json" 'map(.they_owe == null or (.they_owe|type) == "number")|all' true \
    "they_owe is a number or null"
expect 0 peers --data "$a"
assert_contains "$OUT" "$c_name $c_endpoint $c_key" "plain peers while running"
# shellcheck disable=SC2086 # word splitting intended
refused "this node itself" peer add --data "$a" $a_id
expect 0 peer remove --data "$a" "$c_name"
expect 0 status --data "$a"
node_stop "$a"
jq_eq "$(peers_json "$a")" '[.[].name]' "[\"$b_name\"]" "table after the node stopped"

sm_log "concurrent peer adds lose nothing"
writers=8
pids=()
for i in $(seq 1 "$writers"); do
    key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    timeout -k 2 "$SM_CMD_TIMEOUT_S" "$STOREMESH" peer add --data "$b" "p$i" \
        "tcp://127.0.0.1:$((7500 + i))" "$key" </dev/null >/dev/null 2>>"$SM_TMP/writers.log" &
    pids+=("$!")
done
for pid in "${pids[@]}"; do
    wait "$pid" || fail "a concurrent peer add failed: $(cat "$SM_TMP/writers.log")"
done
json=$(peers_json "$b")
jq_eq "$json" '[.[].name]|sort' "$(seq 1 "$writers" | jq -Rsc 'split("\n")[:-1]|map("p" + .)|sort')" \
    "every concurrent add is in the table"

sm_log "a bad peers.yaml is refused with its line, and not overwritten"
printf 'peers:\n  - name: x\n    colour: red\n' >"$c/peers.yaml"
expect 2 peers --data "$c"
assert_contains "$ERR" "peers.yaml:3:" "bad file: FILE:LINE"
assert_contains "$ERR" "colour" "bad file: names the key"
# shellcheck disable=SC2086 # word splitting intended
expect 2 peer add --data "$c" $a_id
assert_contains "$ERR" "peers.yaml:3:" "peer add on a bad file"
grep -qF colour "$c/peers.yaml" || fail "peer add overwrote a bad peers.yaml"
