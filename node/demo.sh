#!/usr/bin/env bash
# The main job: builds storemesh and runs a one-node branch demo on the built-in
# defaults (docs/examples/retail-rules.yaml): init, run, submits of every merge
# kind, an idempotent retry, a refused price change, get, status, audit, digest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j "${SM_JOBS:-2}" --target storemesh >/dev/null
sm="$root/build/node/storemesh"
work=$(mktemp -d /tmp/storemesh-demo.XXXXXX)
data="$work/branch-north"
node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
show() { step "storemesh ${*/$data/DIR}"; "$sm" "$@" || echo "(exit code $?)"; }

step "storemesh init --data DIR --name branch-north --rules docs/examples/retail-rules.yaml"
"$sm" init --data "$data" --name branch-north --rules "$root/docs/examples/retail-rules.yaml"
show id --data "$data"
step "storemesh run --data DIR &"
"$sm" run --data "$data" 2>"$work/node.log" &
node_pid=$!
for _ in $(seq 1 100); do "$sm" status --data "$data" >/dev/null 2>&1 && break; sleep 0.1; done
cat "$work/node.log"

show submit --data "$data" --command-id till1-sale-0001 --source till-1 stock sku-42 on_hand add -3
show submit --data "$data" --command-id delivery-0007 --source backoffice stock sku-42 on_hand add 24
step "retry of till1-sale-0001 (the till lost the answer): same audit ID, no second effect"
"$sm" submit --data "$data" --command-id till1-sale-0001 --source till-1 stock sku-42 on_hand add -3
show submit --data "$data" customer c-1001 email set ana@example.com
show submit --data "$data" customer c-1001 email set ana.silva@example.com
show submit --data "$data" customer c-1001 tags add vip
show submit --data "$data" customer c-1001 tags add newsletter
show submit --data "$data" customer c-1001 tags remove newsletter
show submit --data "$data" customer c-1001 phone set "+351 210 000 000"
show submit --data "$data" --command-id redeem-v-77-till1 voucher v-77 redeemed_by set till-1
step "the same voucher redeemed again at till-2: refused at once (first redemption stands), exit code 4"
show submit --data "$data" --command-id redeem-v-77-till2 voucher v-77 redeemed_by set till-2
show submit --data "$data" order o-5001 status set paid
step "a branch tries to change a price (head office owns prices): refused, exit code 4"
show submit --data "$data" price sku-42 amount set 9.99

show get --data "$data" stock sku-42
show get --data "$data" customer c-1001
show get --data "$data" customer c-1001 --json
show get --data "$data" voucher v-77
show get --data "$data" order o-5001 --json
show status --data "$data"
show status --data "$data" --json
audit_id=$("$sm" submit --data "$data" --command-id till1-sale-0001 --source till-1 stock sku-42 on_hand add -3)
show audit --data "$data" "$audit_id"
show digest --data "$data"
step "stopping the node (SIGTERM)"
kill "$node_pid"; wait "$node_pid" 2>/dev/null || true; node_pid=""
tail -n 1 "$work/node.log"
