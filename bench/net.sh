#!/bin/bash
# Network benchmarks, side by side with docker when a docker daemon runs:
#   1. start-up cost of the default bridge over --network none
#      (berth run --rm busybox true, hyperfine)
#   2. TCP throughput host -> container through a published port, against a
#      direct connection to the container's address (busybox nc, 1 GiB)
#   3. 1,000 connections a second to a published port (ab against busybox
#      httpd), counting failures
# Usage: bench/net.sh [BUILD_DIR]   (root; private --root/--runroot/config)
# Talks only to loopback and the containers it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
berth_bin=$(realpath "$build/berth")
tmp=$(mktemp -d /tmp/berth-bench-net.XXXXXX)
bridge="bn$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# a /24 no route uses
subnet=""
for _ in $(seq 100); do
  s="10.$((200 + RANDOM % 55)).$((RANDOM % 256)).0/24"
  if ! ip -4 route show table all | grep -q "${s%.0/24}\."; then subnet=$s; break; fi
done
[ -n "$subnet" ] || { echo "no free subnet" >&2; exit 1; }
cat > "$tmp/berth.json" <<J
{"bridge": "$bridge", "default-subnet": "$subnet", "dns": ["127.0.0.1:1"]}
J
B=("$berth_bin" --root "$tmp/root" --runroot "$tmp/run" --config "$tmp/berth.json")
cleanup() {
  for c in $("${B[@]}" ps -aq 2>/dev/null); do "${B[@]}" rm -f "$c" >/dev/null 2>&1 || true; done
  "${B[@]}" network inspect -f '{{.Id}}' bridge 2>/dev/null | cut -c1-12 |
    while read -r id; do nft delete table inet "berth_$id" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
scripts/make-busybox-rootfs.sh "$tmp/busybox.tar"
"${B[@]}" import -c 'CMD ["/bin/sh"]' "$tmp/busybox.tar" busybox:latest >/dev/null

have_docker=0
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  have_docker=1
  docker image inspect busybox >/dev/null 2>&1 || docker load -i "$tmp/busybox.tar" >/dev/null 2>&1 || true
fi

echo "== 1. start-up: default bridge vs --network none"
hf=(hyperfine -N --warmup 3 --runs 30 --export-json "$tmp/start.json")
cmds=("${B[*]} run --rm --network none busybox true" "${B[*]} run --rm busybox true")
if [ $have_docker = 1 ]; then
  cmds+=("docker run --rm --network none busybox true" "docker run --rm busybox true")
fi
"${hf[@]}" "${cmds[@]}" >/dev/null
python3 - "$tmp/start.json" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
ms = [x["mean"] * 1000 for x in r]
print("berth  none %.1f ms  bridge %.1f ms  extra %.2f ms (budget 5 ms)" % (ms[0], ms[1], ms[1] - ms[0]))
if len(ms) == 4:
    print("docker none %.1f ms  bridge %.1f ms  extra %.2f ms" % (ms[2], ms[3], ms[3] - ms[2]))
P

echo "== 2. TCP throughput, 1 GiB, host -> container"
port=$((20000 + RANDOM % 20000))
send() { # host port -> MiB/s (1 GiB; the receiver must take all of it)
  python3 - "$1" "$2" <<'P'
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
buf = memoryview(bytes(1 << 20))
t0 = time.monotonic()
for _ in range(1024):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR)
s.recv(1)  # the receiver closes after reading everything
print("%.0f" % (1024 / (time.monotonic() - t0)))
P
}
cid=$("${B[@]}" run -d -p "127.0.0.1:$port:5001" busybox sh -c 'while true; do nc -l -p 5001 < /dev/null > /dev/null; done')
ip=$("${B[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' "$cid")
sleep 0.3
direct=$(send "$ip" 5001)
published=$(send 127.0.0.1 "$port")
echo "berth  direct $direct MiB/s  published $published MiB/s  ratio $(python3 -c "print('%.2f' % ($published / $direct))") (>= 0.90)"
"${B[@]}" rm -f "$cid" >/dev/null
if [ $have_docker = 1 ]; then
  dc=$(docker run -d -p "127.0.0.1:$port:5001" busybox sh -c 'while true; do nc -l -p 5001 < /dev/null > /dev/null; done')
  dip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' "$dc")
  sleep 0.3
  dd_=$(send "$dip" 5001); dp=$(send 127.0.0.1 "$port")
  echo "docker direct $dd_ MiB/s  published $dp MiB/s  berth/docker published $(python3 -c "print('%.2f' % ($published / $dp))")"
  docker rm -f "$dc" >/dev/null
fi

echo "== 3. 1,000 connections/s to a published port"
port=$((20000 + RANDOM % 20000))
cid=$("${B[@]}" run -d -p "127.0.0.1:$port:80" busybox sh -c 'echo hi > /var/www/index.html; httpd -f -h /var/www')
sleep 0.3
ab -q -n 5000 -c 10 "http://127.0.0.1:$port/index.html" > "$tmp/ab.txt" 2>&1 || true
grep -E "Complete requests|Failed requests|Requests per second" "$tmp/ab.txt"
"${B[@]}" rm -f "$cid" >/dev/null
