#!/usr/bin/env bash
# The main job: builds storemesh and runs a mesh on loopback with the built-in
# defaults (docs/examples/retail-rules.yaml): a cloud and three branches linked
# over CurveZMQ; then a cut (the cloud goes away and branch-a is cut off from the
# other branches), sales and a double voucher redemption during it, the heal, and
# the status of each node before and after. Everything runs in a temporary
# directory and stops at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j "${SM_JOBS:-2}" --target storemesh >/dev/null
sm="$root/build/node/storemesh"
rules="$root/docs/examples/retail-rules.yaml"
work=$(mktemp -d /tmp/storemesh-demo.XXXXXX)
nodes=(cloud branch-a branch-b branch-c)
port_base=${SM_DEMO_PORT_BASE:-27400}
declare -A pid

cleanup() {
  for node in "${!pid[@]}"; do kill "${pid[$node]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ storemesh %s\033[0m\n' "${*//$work\//}"; "$sm" "$@" || echo "(exit code $?)"; }
dir() { echo "$work/$1"; }
start() { "$sm" run --data "$(dir "$1")" 2>>"$work/$1.log" & pid[$1]=$!; }
stop() { kill "${pid[$1]}"; wait "${pid[$1]}" 2>/dev/null || true; unset "pid[$1]"; }
link() { "$sm" peer add --data "$(dir "$1")" $("$sm" id --data "$(dir "$2")") 2>/dev/null; }
unlink() { "$sm" peer remove --data "$(dir "$1")" "$2" 2>/dev/null; }
digests() { for node in "$@"; do "$sm" digest --data "$(dir "$node")"; done | sort -u | wc -l; }
wait_converged() { # NODES...: until they print one digest (at most 30 s)
  for _ in $(seq 1 150); do [ "$(digests "$@")" = 1 ] && return 0; sleep 0.2; done
  echo "not converged after 30 s: see $work/*.log" >&2; return 1
}
status_all() { for node in "$@"; do run status --data "$(dir "$node")"; done; }

say "four nodes: a cloud (head office) and three branches"
for i in "${!nodes[@]}"; do
  node=${nodes[$i]}
  "$sm" init --data "$(dir "$node")" --name "$node" --rules "$rules" \
    --listen "tcp://127.0.0.1:$((port_base + i))" 2>/dev/null
  run id --data "$(dir "$node")"
done
for a in "${nodes[@]}"; do for b in "${nodes[@]}"; do [ "$a" = "$b" ] || link "$a" "$b"; done; done
for node in "${nodes[@]}"; do start "$node"; done
sleep 1.5
run submit --data "$(dir cloud)" --command-id price-sku42 price sku-42 amount set 4.99
run submit --data "$(dir branch-a)" --command-id a-delivery-1 stock sku-42 on_hand add 50
wait_converged "${nodes[@]}"
say "before the cut: every node agrees"
status_all cloud branch-a
run peers --data "$(dir branch-a)"

say "the cut: the cloud is unreachable, and branch-a is cut off from the other branches"
stop cloud
unlink branch-a branch-b; unlink branch-a branch-c; unlink branch-b branch-a; unlink branch-c branch-a
sleep 1.5

say "sales go on everywhere; voucher v-77 is redeemed at branch-a AND at branch-b"
run submit --data "$(dir branch-a)" --command-id a-till1-0001 --source till-1 stock sku-42 on_hand add -2
run submit --data "$(dir branch-b)" --command-id b-till1-0001 --source till-1 stock sku-42 on_hand add -3
run submit --data "$(dir branch-c)" --command-id c-till2-0001 --source till-2 stock sku-42 on_hand add -1
run submit --data "$(dir branch-a)" --command-id a-redeem-v77 voucher v-77 redeemed_by set branch-a-till-1
run submit --data "$(dir branch-b)" --command-id b-redeem-v77 voucher v-77 redeemed_by set branch-b-till-3
run submit --data "$(dir branch-c)" customer c-1001 tags add vip
wait_converged branch-b branch-c
for _ in $(seq 1 50); do # a branch calls itself offline 5 s after it last heard the cloud
  "$sm" status --data "$(dir branch-a)" --json | grep -q '"offline_seconds":[0-5],' || break
  sleep 0.2
done
say "during the cut: branch-b and branch-c agree with each other, branch-a works alone"
status_all branch-a branch-b
run get --data "$(dir branch-a)" stock sku-42
run get --data "$(dir branch-b)" stock sku-42

say "the heal: links restored, the cloud is back"
link branch-a branch-b; link branch-a branch-c; link branch-b branch-a; link branch-c branch-a
start cloud
wait_converged "${nodes[@]}"
for _ in $(seq 1 50); do # the cloud's acknowledgement comes with its next Hello
  queued=$(for node in branch-a branch-b branch-c; do "$sm" status --data "$(dir "$node")" --json; done |
    grep -o '"queue_depth":[0-9]*' | grep -vc '"queue_depth":0' || true)
  [ "$queued" = 0 ] && break; sleep 0.2
done
for _ in $(seq 1 75); do # healed links redial with backoff (at most 5 s apart)
  down=$(for node in "${nodes[@]}"; do "$sm" status --data "$(dir "$node")" --json; done |
    grep -o '"connected":false' | wc -l || true)
  [ "$down" = 0 ] && break; sleep 0.2
done
say "after the heal: one truth everywhere (the same digest), queues empty"
for node in "${nodes[@]}"; do printf '%-9s ' "$node"; "$sm" digest --data "$(dir "$node")"; done
status_all branch-a branch-b branch-c
run get --data "$(dir cloud)" stock sku-42
say "the double redemption: the first stands everywhere, the second is a conflict to refund"
run get --data "$(dir cloud)" voucher v-77
run get --data "$(dir branch-c)" voucher v-77 --json
audit_id=$("$sm" submit --data "$(dir branch-b)" --command-id b-redeem-v77 voucher v-77 redeemed_by set branch-b-till-3)
run audit --data "$(dir cloud)" "$audit_id"
say "stopping the mesh"
