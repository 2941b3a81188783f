#!/usr/bin/env bash
# A full disk: commands the node cannot store are answered "failed" (exit 1, a
# message that says the disk is full), the node keeps running and answering, and
# nothing acknowledged before is lost; after space is freed and the node restarted,
# retrying the same batch finishes the work without applying anything twice.
# Needs root to mount a small tmpfs; skipped (exit 77) where that is not possible.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mnt=$SM_TMP/disk
mkdir "$mnt"
# 16 MiB: room for a few group commits of the 24 MB batch below (one is up to 4,000
# of its commands, 2.7 MB), so some are acknowledged before the disk is full.
if [[ $(id -u) != 0 ]] || ! mount -t tmpfs -o size=16M tmpfs "$mnt" 2>/dev/null; then
    echo "SKIP: disk_full needs root and a tmpfs mount"
    exit 77
fi
sm_on_exit "umount '$mnt'"

dir=$mnt/n
node_init "$dir" branch-a
node_start "$dir"

sm_log "fill the disk with one batch"
batch=$SM_TMP/fill.jsonl
filler=$(head -c 600 /dev/zero | tr '\0' x)
for ((i = 0; i < 40000; i++)); do
    printf '{"command_id":"fill-%d","type":"customer","key":"c-%d","field":"email","op":"set","value":"%s"}\n' \
        "$i" "$i" "$filler"
done >"$batch"
expect 1 submit --data "$dir" --batch "$batch"
mapfile -t acked <<<"$OUT"
[[ -n ${acked[0]} ]] || fail "nothing was acknowledged before the disk filled up"
((${#acked[@]} < 40000)) || fail "the disk never filled up"
if ! grep -qiE 'space|disk' <<<"$ERR"; then
    fail "the failure should say the disk is full"
fi
sm_log "${#acked[@]} commands acknowledged before the disk was full"

sm_log "the node keeps running and answering"
pid=${SM_NODE_PID[$dir]}
pid_running "$pid" || fail "the node died when the disk filled up (see $dir.log)"
expect 0 status --data "$dir"
jq_eq "$(status_json "$dir")" '.write_failures >= 1' true "status counts the write the disk refused"
expect 1 submit --data "$dir" --command-id after-full stock sku-1 on_hand add 1
assert_err_clear
expect 0 audit --data "$dir" "${acked[0]}"
expect 0 audit --data "$dir" "${acked[-1]}"

sm_log "free space, restart: everything acknowledged is there; the retry finishes the work"
mount -o remount,size=256M "$mnt"
node_restart "$dir"
jq_eq "$(status_json "$dir")" '.last_seq' "${#acked[@]}" "operations after the restart"
for id in "${acked[0]}" "${acked[$((${#acked[@]} / 2))]}" "${acked[-1]}"; do
    expect 0 audit --data "$dir" "$id"
done
expect 0 submit --data "$dir" --batch "$batch"
mapfile -t all <<<"$OUT"
assert_eq "${#all[@]}" 40000 "audit IDs after the retry"
assert_eq "${all[0]}" "${acked[0]}" "first command answered with its first audit ID"
assert_eq "${all[${#acked[@]} - 1]}" "${acked[-1]}" "last acknowledged command, same audit ID"
jq_eq "$(status_json "$dir")" '.last_seq' 40000 "one operation per command"
node_stop "$dir"
