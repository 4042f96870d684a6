#!/bin/bash
# Set berth up on a fresh Debian 12 machine (as root) and run its main job:
# build the offline busybox base image, then run a container from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/make-busybox-rootfs.sh "$tmp/busybox.tar"
./build/berth import -c 'CMD ["/bin/sh"]' "$tmp/busybox.tar" busybox:latest
./build/berth images busybox
./build/berth run --rm busybox echo "hello from a berth container"
