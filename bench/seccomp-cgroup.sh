#!/bin/bash
# Times the runtime's seccomp compile (Docker's default profile, 3 x86 ABIs)
# uncached vs through seccomp_compile_cached, and cgroup create+apply+destroy
# across this host's hierarchies vs the floor of a bare mkdir+rmdir in each.
# Needs root and a built tree (ninja -C build).
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -O2 -D_GNU_SOURCE -Isrc bench/seccomp-cgroup.c build/libberth.a \
  $(pkg-config --cflags --libs jansson libseccomp libcrypto) -lm -o "$out/drv"
n=${N:-40}
for m in compile cached cgroup mkdir; do BENCH_CACHE="$out/cache" "$out/drv" $m "$n"; done
