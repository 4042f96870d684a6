#!/bin/bash
# berth's container lifecycle against the references, in one run:
#   1. `berth run --rm --network none busybox true` vs `crun run` of a bare
#      busybox bundle and the `unshare ... chroot` floor
#      (+ docker / podman when installed)
#   2. `berth exec C true` into a running container
#   3. `berth ps` and `berth inspect C` with 100 containers
#   4. starting 100 detached `sleep` containers one after another
#   5. RSS of one berth-monitor
# Usage: bench/run.sh [hyperfine args...]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-$PWD/build/berth}
[ -x "$BERTH" ] || { echo "build berth first (ninja -C build)" >&2; exit 1; }
for t in hyperfine crun; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install $t)" >&2; exit 1; }
done
# crun refuses hybrid hosts while cgroup2 holds a controller: run everything
# (every engine alike) in a mount namespace where cgroup2's list reads empty,
# as bench/runtime.sh does.
if [ -z "${BERTH_BENCH_INNER:-}" ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
  exec unshare -m --propagation slave env BERTH_BENCH_INNER=1 bash -c \
    'mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec "$0" "$@"' "$0" "$@"
fi
tmp=$(mktemp -d /tmp/berth-bench-run.XXXXXX)
B="$BERTH --root $tmp/root --runroot $tmp/run"
cleanup() {
  ids=$($B ps -aq 2>/dev/null || true)
  [ -n "$ids" ] && $B rm -f $ids >/dev/null 2>&1 || true
  crun --root "$tmp/state-crun" delete -f bench >/dev/null 2>&1 || true
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
HF=(hyperfine -N --warmup 3 ${HYPERFINE_ARGS:---min-runs 20} "$@")

echo "== 1. run --rm true"
cmds=(-n berth "$B run --rm --network none busybox true"
      -n crun "crun --root $tmp/state-crun run --bundle $b bench"
      -n floor "unshare -m -u -i -p -n -f chroot $b/rootfs /bin/true")
command -v podman >/dev/null && podman image exists busybox 2>/dev/null &&
  cmds+=(-n podman "podman run --rm --network none busybox true")
command -v docker >/dev/null && docker info >/dev/null 2>&1 &&
  cmds+=(-n docker "docker run --rm --network none busybox true")
"${HF[@]}" "${cmds[@]}"

echo "== 2. exec"
$B run -d --name benchexec busybox sleep 1000 >/dev/null
"${HF[@]}" -n "berth exec" "$B exec benchexec true"

echo "== 4. start 100 detached sleep containers (one after another)"
start=$(date +%s.%N)
for i in $(seq 99); do $B run -d --network none busybox sleep 1000 >/dev/null; done
end=$(date +%s.%N)
echo "  99 more containers in $(echo "$end - $start" | bc) s (plus benchexec = 100)"

echo "== 3. ps / inspect with 100 containers"
"${HF[@]}" -n "berth ps" "$B ps" -n "berth ps -a" "$B ps -a" -n "berth inspect" "$B inspect benchexec"

echo "== 5. berth-monitor RSS"
id=$($B inspect -f '{{.Id}}' benchexec)
mon=$(sed -n 's/^monitor_pid=//p' "$tmp/root/containers/$id/state")
grep VmRSS /proc/$mon/status
