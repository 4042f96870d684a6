#!/bin/bash
# `berth images` and `berth image inspect` with 50 images (goal < 3 ms each).
# Usage: bench/images.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
berth=${BERTH:-./build/berth}
work=$(mktemp -d /var/tmp/berth-bench-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
B="$berth --root $work/root --runroot $work/run"
scripts/make-busybox-rootfs.sh "$work/rootfs.tar"
for i in $(seq 1 "$n"); do
  $B import -c "LABEL n=$i" -m "image $i" "$work/rootfs.tar" "bench/img$i:v$i" >/dev/null
done
$B images | head -3
hyperfine --warmup 20 --runs 200 -N \
  -n "berth images" "$B images" \
  -n "berth image inspect" "$B image inspect bench/img25:v25" \
  -n "berth images --format json" "$B images --format json" \
  -n "true (process start)" "/bin/true"
