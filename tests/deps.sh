#!/usr/bin/env bash
# Installs the Debian packages storemesh needs to build, run and test, when missing.
# Used by node/demo.sh and tests/run_all.sh; safe to run again.
set -euo pipefail
# clang and libclang-rt-dev (libFuzzer's runtime, libclang_rt.fuzzer) build the fuzz
# targets; iproute2 and iptables make and cut the network namespaces of netns_partition.
packages=(build-essential cmake pkg-config libzmq3-dev libczmq-dev librocksdb-dev
          libprotobuf-c-dev protobuf-c-compiler libsodium-dev libcriterion-dev
          libyaml-dev libjson-c-dev jq clang libclang-rt-dev iproute2 iptables)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "storemesh: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
