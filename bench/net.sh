#!/bin/bash
# Network benchmarks, berth side by side with docker (dockerd from Debian's
# docker.io, started by bench/lib/refs.sh in a private network namespace
# with its own bridge and iptables rules):
#   1. start-up cost of the default bridge over --network none
#      (`run --rm busybox true`; goal: berth's extra < 5 ms; docker here
#      was 274 vs 200 ms). Commands run interleaved, round by round, so
#      that load changes on a shared machine hit every command alike.
#   2. TCP throughput host -> container, 1 GiB, through a published port
#      and directly to the container's address (goal: published >= 0.90x
#      direct, and at least docker's published throughput; docker's
#      default userland proxy serves its 127.0.0.1 ports)
#   3. connections a second to a published port (ab against busybox httpd,
#      goal: 1,000/s without error)
# Prints berth/docker ratios. Without dockerd, berth's figures only.
# Usage: bench/net.sh [BUILD_DIR]   (root; private --root/--runroot/config)
# Env: ROUNDS (start-up rounds, 100), TRIES (throughput tries, best of, 3)
# Talks only to loopback and the containers it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${ROUNDS:-100}
tries=${TRIES:-3}
berth_bin=$(realpath "$build/berth")
tmp=$(mktemp -d /tmp/berth-bench-net.XXXXXX)
source bench/lib/berthnet.sh
berth_net_config "$tmp/berth.json"
B=("$berth_bin" --root "$tmp/root" --runroot "$tmp/run" --config "$tmp/berth.json")
source bench/lib/refs.sh
sinks=()
cleanup() {
	set +e
	for p in "${sinks[@]}"; do kill "$p" 2>/dev/null || true; done
	for c in $("${B[@]}" ps -aq 2>/dev/null); do "${B[@]}" rm -f "$c" >/dev/null 2>&1 || true; done
	berth_net_cleanup "${B[@]}"
	ref_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
scripts/make-busybox-rootfs.sh "$tmp/busybox.tar"
"${B[@]}" import -c 'CMD ["/bin/sh"]' "$tmp/busybox.tar" busybox:latest >/dev/null

have_docker=0
if ref_docker_start netns; then
	have_docker=1
	docker import -c 'CMD ["/bin/sh"]' "$tmp/busybox.tar" busybox:latest >/dev/null
fi
DK="docker -H $DOCKER_HOST"
[ $have_docker = 1 ] || DK=

ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b) if b else 'n/a')" "$1" "$2"; }

echo "== 1. start-up: default bridge vs --network none ($rounds rounds, interleaved)"
cmds=("berth_none=${B[*]} run --rm --network none busybox true"
	"berth_bridge=${B[*]} run --rm busybox true")
if [ $have_docker = 1 ]; then
	cmds+=("docker_none=$DK run --rm --network none busybox true"
		"docker_bridge=$DK run --rm busybox true")
fi
python3 bench/lib/interleave.py "$rounds" 3 "${cmds[@]}" >"$tmp/start.json"
python3 - "$tmp/start.json" <<'P'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
def show(eng):
    n, b = d[eng + "_none"], d[eng + "_bridge"]
    paired = statistics.median(y - x for x, y in zip(n["times"], b["times"]))
    extra = b["median"] - n["median"]
    print("%-6s none   min %6.1f  median %6.1f ms" % (eng, n["min"], n["median"]))
    print("%-6s bridge min %6.1f  median %6.1f ms" % (eng, b["min"], b["median"]))
    print("%-6s extra: median %.2f ms, paired median %.2f ms, min %.2f ms"
          % (eng, extra, paired, b["min"] - n["min"]))
    return extra, paired
be, bp = show("berth")
print("berth  extra %.2f ms (goal < 5 ms): %s" % (bp, "met" if bp < 5 else "NOT met"))
if "docker_none" in d:
    de, dp = show("docker")
    print("ratio berth/docker: extra cost %.2f (paired %.2f), bridge start %.2f"
          % (be / de if de else float("nan"), bp / dp if dp else float("nan"),
             d["berth_bridge"]["median"] / d["docker_bridge"]["median"]))
P

echo "== 2. TCP throughput, 1 GiB, host -> container (best of $tries)"
cat >"$tmp/send.py" <<'P'
# host port -> MiB/s (1 GiB; the receiver must take all of it)
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
send() { python3 "$tmp/send.py" "$@"; }
best() { # CMD... -> best of $tries MiB/s
	local b=0 v
	for _ in $(seq "$tries"); do
		v=$("$@")
		[ "$v" -gt "$b" ] && b=$v
	done
	echo "$b"
}
# The receiver is the host's python in the container's network namespace
# (nsenter --net): busybox nc reads in 1 KiB chunks and would measure
# itself, not the path (veth, bridge, NAT) that differs between engines.
cat >"$tmp/sink.py" <<'P'
import socket
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 5001))
s.listen(8)
buf = bytearray(1 << 20)
while True:
    c, _ = s.accept()
    while c.recv_into(buf):
        pass
    c.close()
P
sink_in() { # PID: start the receiver in PID's network namespace
	nsenter --net=/proc/"$1"/ns/net python3 "$tmp/sink.py" &
	sinks+=($!)
	sleep 0.3
}
port=$((20000 + RANDOM % 20000))
cid=$("${B[@]}" run -d -p "127.0.0.1:$port:5001" busybox sleep 600)
ip=$("${B[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' "$cid")
sink_in "$("${B[@]}" inspect -f '{{.State.Pid}}' "$cid")"
direct=$(best send "$ip" 5001)
published=$(best send 127.0.0.1 "$port")
echo "berth  direct $direct MiB/s  published $published MiB/s  published/direct $(ratio "$published" "$direct") (goal >= 0.90)"
"${B[@]}" rm -f "$cid" >/dev/null
if [ $have_docker = 1 ]; then
	dc=$($DK run -d -p "127.0.0.1:$port:5001" busybox sleep 600)
	dip=$($DK inspect -f '{{.NetworkSettings.IPAddress}}' "$dc")
	sink_in "$($DK inspect -f '{{.State.Pid}}' "$dc")"
	ddirect=$(best ref_in_docker_net python3 "$tmp/send.py" "$dip" 5001)
	dpub=$(best ref_in_docker_net python3 "$tmp/send.py" 127.0.0.1 "$port")
	echo "docker direct $ddirect MiB/s  published $dpub MiB/s  published/direct $(ratio "$dpub" "$ddirect")"
	echo "ratio berth/docker: published throughput $(ratio "$published" "$dpub") (goal >= 1.00), direct $(ratio "$direct" "$ddirect")"
	$DK rm -f "$dc" >/dev/null
fi
for p in "${sinks[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${sinks[@]}" 2>/dev/null || true
sinks=()

echo "== 3. connections/s to a published port (ab -n 5000 -c 10)"
web='echo hi > /var/www/index.html; httpd -f -h /var/www'
cat >"$tmp/ab.sh" <<'S'
# URL -> "rps failed complete"
ab -q -n 5000 -c 10 "$1" 2>&1 | awk '/Complete requests/ {c=$3} /Failed requests/ {f=$3}
	/Requests per second/ {r=$4} END {printf "%s %s %s\n", r, f, c}'
S
abrun() { bash "$tmp/ab.sh" "$@"; }
port=$((20000 + RANDOM % 20000))
cid=$("${B[@]}" run -d -p "127.0.0.1:$port:80" busybox sh -c "$web")
sleep 0.3
read -r brps bfail bdone < <(abrun "http://127.0.0.1:$port/index.html")
echo "berth  $brps conn/s, $bfail failed of $bdone (goal >= 1000/s, 0 failed)"
"${B[@]}" rm -f "$cid" >/dev/null
if [ $have_docker = 1 ]; then
	dc=$($DK run -d -p "127.0.0.1:$port:80" busybox sh -c "$web")
	sleep 0.3
	read -r drps dfail ddone < <(ref_in_docker_net bash "$tmp/ab.sh" "http://127.0.0.1:$port/index.html")
	echo "docker $drps conn/s, $dfail failed of $ddone"
	echo "ratio berth/docker: connections/s $(ratio "$brps" "$drps")"
	$DK rm -f "$dc" >/dev/null
fi
