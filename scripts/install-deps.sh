#!/bin/bash
# Install the Debian 12 packages berth needs to build and test. Idempotent:
# does nothing when everything is already installed.
set -euo pipefail
PKGS=(
  # build
  gcc clang meson ninja-build pkg-config clang-format
  libsqlite3-dev libjansson-dev libcurl4-openssl-dev libssl-dev libarchive-dev
  libyaml-dev libseccomp-dev libcap-dev libmnl-dev libnftables-dev libnftnl-dev
  libmicrohttpd-dev libzstd-dev zlib1g-dev
  libcrypt-dev
  # run time helpers and the offline base image
  busybox-static iproute2 nftables ca-certificates
  musl-tools
  # tests
  python3 python3-pytest python3-pytest-xdist python3-jsonschema python3-docker
  sqlite3 curl skopeo docker-registry crun containerd apache2-utils
  openssl zstd hyperfine
  runc time
  strace
  cppcheck
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
