#!/bin/bash
# Load a ~200 MB single-layer image (random data) and compare berth's time
# with plain `tar -x` of the same layer tar and with `sha256sum` of it, in
# the same run. Goal: berth load >= 0.8x the throughput of tar -x.
# Usage: bench/load.sh [MB] [ROUNDS]   (needs root: berth writes owners)
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-200}
runs=${2:-7}
berth=${BERTH:-./build/berth}
work=$(mktemp -d /var/tmp/berth-bench-load.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$mb" <<'PY'
import hashlib, io, json, os, sys, tarfile
work, mb = sys.argv[1], int(sys.argv[2])
layer = os.path.join(work, "layer.tar")
with tarfile.open(layer, "w", format=tarfile.USTAR_FORMAT) as t:
    # a few big files plus many small ones, like a real layer
    for i in range(4):
        data = os.urandom(mb * 1000 * 1000 // 4)
        ti = tarfile.TarInfo("data/big%d.bin" % i); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    for i in range(500):
        data = os.urandom(1000)
        ti = tarfile.TarInfo("data/small/%03d" % i); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
h = hashlib.sha256(open(layer, "rb").read()).hexdigest()
cfg = json.dumps({"architecture": "amd64", "config": {}, "created": "2026-01-01T00:00:00Z",
                  "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + h]}}).encode()
cid = hashlib.sha256(cfg).hexdigest()
with tarfile.open(os.path.join(work, "image.tar"), "w") as t:
    t.add(layer, "l1/layer.tar")
    ti = tarfile.TarInfo(cid + ".json"); ti.size = len(cfg); t.addfile(ti, io.BytesIO(cfg))
    m = json.dumps([{"Config": cid + ".json", "RepoTags": ["bench:1"],
                     "Layers": ["l1/layer.tar"]}]).encode()
    ti = tarfile.TarInfo("manifest.json"); ti.size = len(m); t.addfile(ti, io.BytesIO(m))
PY
size=$(stat -c %s "$work/layer.tar")
cat "$work/image.tar" "$work/layer.tar" >/dev/null # warm the page cache
# The three commands run interleaved, in a rotating order, one round after
# another (not all runs of one, then all of the next, as hyperfine does):
# on this shared machine the cost of creating files drifts during a
# session (page cache growth, ext4's inode allocator skipping recently
# deleted inodes), and whatever ran later paid for it. Each tar -x and
# berth run writes into a new directory (spread over block groups by
# chattr +T), nothing is deleted until the end, and sync (untimed) writes
# the previous run's data back first. The first round is a warm-up.
chattr +T "$work" 2>/dev/null || true
python3 - "$work" "$size" "$runs" "$berth" <<'PY'
import os, statistics, subprocess, sys, tempfile, time
work, size, runs, berth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
layer, image = os.path.join(work, "layer.tar"), os.path.join(work, "image.tar")
cmds = {
    "tar -x": lambda d: ["tar", "-xf", layer, "-C", d],
    "sha256sum": lambda d: ["sha256sum", layer],
    "berth load": lambda d: [berth, "--root", d + "/root", "--runroot", d + "/run",
                             "load", "-q", "-i", image],
}
names = list(cmds)
wall = {k: [] for k in names}
cpu = {k: [] for k in names}
for rnd in range(runs + 1):
    order = names[rnd % 3:] + names[:rnd % 3]
    for k in order:
        d = tempfile.mkdtemp(dir=work, prefix="run.")
        subprocess.run(["sync"], check=True)
        t0 = time.perf_counter()
        p = subprocess.Popen(cmds[k](d), stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        t = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit("%s failed" % k)
        if rnd > 0:
            wall[k].append(t)
            cpu[k].append(ru.ru_utime + ru.ru_stime)
med = {k: statistics.median(v) for k, v in wall.items()}
low = {k: min(v) for k, v in wall.items()}
print("%d rounds, %d MB layer" % (runs, size // 1000000))
print("%-12s %9s %9s %10s %9s" % ("", "median", "min", "MB/s(med)", "cpu"))
for k in names:
    print("%-12s %7.3f s %7.3f s %10.1f %7.3f s" % (k, med[k], low[k], size / med[k] / 1e6,
                                                   statistics.mean(cpu[k])))
print("berth load throughput / tar -x throughput: median %.2f, min %.2f (goal >= 0.8)"
      % (med["tar -x"] / med["berth load"], low["tar -x"] / low["berth load"]))
print("berth load throughput / sha256sum throughput: median %.2f, min %.2f"
      % (med["sha256sum"] / med["berth load"], low["sha256sum"] / low["berth load"]))
print("per round, berth/tar -x time: %s" % " ".join(
    "%.2f" % (b / t) for b, t in zip(wall["berth load"], wall["tar -x"])))
print("cpu time ratio tar -x / berth load = %.2f"
      % (statistics.mean(cpu["tar -x"]) / statistics.mean(cpu["berth load"])))
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
