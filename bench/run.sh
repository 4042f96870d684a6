#!/bin/bash
# berth's container lifecycle against the references, side by side in one
# run (issue 4, "Performance"):
#   1. `run --rm --network none busybox true`: berth vs `crun run` of a bare
#      busybox bundle, the `unshare ... chroot` floor, docker and podman
#   2. `exec C true` into a running container: berth, docker, podman
#   3. `ps` and `inspect C` with 100 containers: berth, docker, podman
#   4. starting 100 detached `sleep` containers one after another: berth,
#      docker, podman
#   5. RSS of one berth-monitor (and of podman's conmon, docker's shim)
# Every engine runs the same busybox root filesystem (imported into each).
# Each figure: mean, median and min of hyperfine runs, and the ratio
# against the reference named on the line.
# Usage: bench/run.sh [hyperfine args...]   (as root)
#   BERTH_BENCH_REFS=none   skip docker and podman
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-$PWD/build/berth}
[ -x "$BERTH" ] || { echo "build berth first (ninja -C build)" >&2; exit 1; }
for t in hyperfine crun python3; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install $t)" >&2; exit 1; }
done
# crun refuses hybrid hosts while cgroup2 holds a controller: run everything
# (every engine alike) in a mount namespace where cgroup2's list reads empty,
# as bench/runtime.sh does.
if [ -z "${BERTH_BENCH_INNER:-}" ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
  exec unshare -m --propagation slave env BERTH_BENCH_INNER=1 bash -c \
    'mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec "$0" "$@"' "$0" "$@"
fi
source bench/lib/refs.sh
source bench/lib/berthnet.sh
tmp=$(mktemp -d /tmp/berth-bench-run.XXXXXX)
berth_net_config "$tmp/berth.json"
B="$BERTH --root $tmp/root --runroot $tmp/run --config $tmp/berth.json"
DOCKER= PODMAN=
cleanup() {
  local ids
  ids=$($B ps -aq 2>/dev/null || true)
  [ -n "$ids" ] && $B rm -f $ids >/dev/null 2>&1 || true
  crun --root "$tmp/state-crun" delete -f bench >/dev/null 2>&1 || true
  ref_cleanup >/dev/null 2>&1 || true
  berth_net_cleanup $B
  rm -rf "$tmp"
}
trap cleanup EXIT

scripts/make-busybox-rootfs.sh "$tmp/rootfs.tar"
$B import -c 'CMD ["/bin/sh"]' "$tmp/rootfs.tar" busybox:latest >/dev/null
b=$tmp/bundle
mkdir -p "$b/rootfs"
tar -C "$b/rootfs" -xf "$tmp/rootfs.tar"
(cd "$b" && crun spec)
python3 - "$b/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["true"]
c["process"]["terminal"] = False
json.dump(c, open(p, "w"), indent=2)
PY

if [ "${BERTH_BENCH_REFS:-}" != none ]; then
  if ref_docker_start netns; then
    DOCKER=docker
    docker import -c 'CMD ["/bin/sh"]' "$tmp/rootfs.tar" busybox:latest >/dev/null
  fi
  if ref_podman_setup; then
    $PODMAN import -c 'CMD ["/bin/sh"]' "$tmp/rootfs.tar" busybox:latest >/dev/null 2>&1 ||
      PODMAN=
  fi
fi

HF=(hyperfine -N --warmup 3 ${HYPERFINE_ARGS:---min-runs 20} "$@")
# hf SUBJ NAME CMD [NAME CMD...]: hyperfine, then one line per command with
# mean / median / min, and on the others' lines the ratio of SUBJ's median
# to theirs (SUBJ/NAME below 1: SUBJ is faster).
hf() {
  local ref=$1
  shift
  local args=() json=$tmp/hf.json
  while [ $# -gt 0 ]; do
    args+=(-n "$1" "$2")
    shift 2
  done
  "${HF[@]}" --style none --export-json "$json" "${args[@]}" >/dev/null
  python3 - "$json" "$ref" <<'PY'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
ref = sys.argv[2]
med = {r["command"]: statistics.median(r["times"]) for r in res}
for r in res:
    n = r["command"]
    line = "  %-16s mean %7.1f ms  median %7.1f ms  min %7.1f ms" % (
        n, r["mean"] * 1e3, med[n] * 1e3, r["min"] * 1e3)
    if n != ref and ref in med:
        line += "   %s/%s %.2f" % (ref, n, med[ref] / med[n])
    print(line)
PY
}

echo "== 1. run --rm --network none busybox true"
cmds=(berth "$B run --rm --network none busybox true"
      crun "crun --root $tmp/state-crun run --bundle $b bench"
      floor "unshare -m -u -i -p -n -f chroot $b/rootfs /bin/true")
[ -n "$PODMAN" ] && cmds+=(podman "$PODMAN run --rm --network none busybox true")
[ -n "$DOCKER" ] && cmds+=(docker "docker run --rm --network none busybox true")
hf berth "${cmds[@]}"

echo "== 2. exec C true"
$B run -d --name benchexec busybox sleep 100000 >/dev/null
cmds=(berth "$B exec benchexec true")
if [ -n "$PODMAN" ]; then
  # --network none: podman's default network would add netavark's iptables
  # tables to the host (exec does not depend on the network mode)
  $PODMAN run -d --network none --name benchexec busybox sleep 100000 >/dev/null
  cmds+=(podman "$PODMAN exec benchexec true")
fi
if [ -n "$DOCKER" ]; then
  docker run -d --name benchexec busybox sleep 100000 >/dev/null
  cmds+=(docker "docker exec benchexec true")
fi
hf berth "${cmds[@]}"

echo "== 4. start 99 more detached sleep containers one after another (100 in all)"
start_many() {
  local s e
  s=$(date +%s%N)
  for _ in $(seq 99); do "$@" run -d --network none busybox sleep 100000 >/dev/null; done
  e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}
t_berth=$(start_many $B)
echo "  berth   $t_berth ms"
if [ -n "$DOCKER" ]; then
  t_docker=$(start_many docker)
  echo "  docker  $t_docker ms   docker/berth $(echo "scale=1; $t_docker / $t_berth" | bc)x"
fi
if [ -n "$PODMAN" ]; then
  t_podman=$(start_many $PODMAN)
  echo "  podman  $t_podman ms   podman/berth $(echo "scale=1; $t_podman / $t_berth" | bc)x"
fi

echo "== 3. ps / inspect with 100 containers"
cmds=(berth "$B ps")
[ -n "$DOCKER" ] && cmds+=(docker "docker ps")
[ -n "$PODMAN" ] && cmds+=(podman "$PODMAN ps")
hf berth "${cmds[@]}"
cmds=("berth ps -a" "$B ps -a")
hf "berth ps -a" "${cmds[@]}"
cmds=("berth inspect" "$B inspect benchexec")
[ -n "$DOCKER" ] && cmds+=("docker inspect" "docker inspect benchexec")
[ -n "$PODMAN" ] && cmds+=("podman inspect" "$PODMAN inspect benchexec")
hf "berth inspect" "${cmds[@]}"

echo "== 5. RSS of the per-container supervisor"
id=$($B inspect -f '{{.Id}}' benchexec)
mon=$(sed -n 's/^monitor_pid=//p' "$tmp/root/containers/$id/state")
echo "  berth-monitor    $(awk '/VmRSS/ {print $2, $3}' /proc/$mon/status)"
for p in $(pgrep -x conmon | head -1) $(pgrep -f containerd-shim | head -1); do
  echo "  $(tr -d '\0' </proc/$p/comm | head -c 16)  $(awk '/VmRSS/ {print $2, $3}' /proc/$p/status)"
done
