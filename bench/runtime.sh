#!/bin/bash
# OCI runtimes side by side: `crun run`, `runc run`, `berth runtime run` of
# the same busybox bundle (from `berth runtime spec`, process `true`), and
# the floor `unshare ... chroot ROOTFS /bin/true`; then peak RSS of each.
# Usage: bench/runtime.sh [hyperfine args...]   (as root)
#   BENCH_NO_SECCOMP=1: drop linux.seccomp from the bundle (crun and runc
#   compile the filter on every run; berth caches the compiled filter).
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-$PWD/build/berth}
[ -x "$BERTH" ] || { echo "build berth first (ninja -C build)" >&2; exit 1; }
for t in hyperfine crun runc; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install $t)" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/berth-bench-rt.XXXXXX)
mounted_hugetlb=
cleanup() {
  for r in crun runc; do $r --root "$tmp/state-$r" delete -f bench >/dev/null 2>&1 || true; done
  "$BERTH" runtime --root "$tmp/state-berth" delete -f bench >/dev/null 2>&1 || true
  [ -n "$mounted_hugetlb" ] && umount /sys/fs/cgroup/hugetlb 2>/dev/null && rmdir /sys/fs/cgroup/hugetlb 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# crun 1.8.1 refuses hybrid hosts while cgroup2 holds a controller (here:
# hugetlb). Give hugetlb a v1 hierarchy if it has none; when the kernel
# refuses (hugetlb in use under cgroup2), run the whole benchmark - every
# runtime alike - in a private mount namespace where cgroup2's controller
# list reads empty.
if [ -z "${BERTH_BENCH_INNER:-}" ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
  if ! grep -q " /sys/fs/cgroup/hugetlb " /proc/self/mountinfo; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null && mounted_hugetlb=1
  fi
  if [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    rm -rf "$tmp"
    trap - EXIT
    exec unshare -m --propagation slave env BERTH_BENCH_INNER=1 bash -c \
      'mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec "$0" "$@"' "$0" "$@"
  fi
fi
scripts/make-busybox-rootfs.sh "$tmp/rootfs.tar"
b=$tmp/bundle
mkdir -p "$b/rootfs"
tar -C "$b/rootfs" -xf "$tmp/rootfs.tar"
"$BERTH" runtime spec --bundle "$b"
python3 - "$b/config.json" <<'PY'
import json, os, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["true"]
if os.environ.get("BENCH_NO_SECCOMP"):
    del c["linux"]["seccomp"]
json.dump(c, open(p, "w"), indent=2)
PY
cd "$b"
crun_cmd="crun --root $tmp/state-crun run bench"
runc_cmd="runc --root $tmp/state-runc run bench"
berth_cmd="$BERTH runtime --root $tmp/state-berth run bench"
floor_cmd="unshare -m -u -i -p -n -f chroot $b/rootfs /bin/true"
hyperfine -N --warmup 5 ${HYPERFINE_ARGS:---min-runs 50} --export-json "$tmp/times.json" "$@" \
  -n crun "$crun_cmd" -n runc "$runc_cmd" -n berth "$berth_cmd" -n floor "$floor_cmd"
python3 - "$tmp/times.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
crun = r["crun"]["median"]
print("\nmedians (ms) and ratio to crun:")
for n in ("crun", "runc", "berth", "floor"):
    m = r[n]["median"]
    print("  %-6s %7.2f  %.2fx" % (n, m * 1000, m / crun))
PY
echo
echo "peak RSS (KB, /usr/bin/time, max of 10 runs):"
for n in crun runc berth floor; do
  eval cmd=\$${n}_cmd
  max=0
  for i in $(seq 10); do
    kb=$(/usr/bin/time -f "%M" $cmd 2>&1 >/dev/null | tail -1)
    [ "$kb" -gt "$max" ] && max=$kb
  done
  printf "  %-6s %s\n" "$n" "$max"
done
