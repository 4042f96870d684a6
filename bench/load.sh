#!/bin/bash
# Load a ~200 MB single-layer image (random data) and compare berth's time
# with plain `tar -x` of the same layer tar and with `sha256sum` of it, in
# the same run. Goal: berth load >= 0.8x the throughput of tar -x.
# Usage: bench/load.sh [MB] [RUNS]   (needs root: berth writes owners)
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-200}
runs=${2:-5}
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
# Each run of tar -x and berth load writes into a new directory and nothing
# is deleted until the end: on ext4 without a journal, files created right
# after many deletions in the same block group pay for skipping the
# recently deleted inodes, which would add noise to whichever ran next.
# sync (untimed) writes back the previous run's data first.
fresh="d=\$(mktemp -d $work/run.XXXXXX) && echo \$d >$work/cur && sync"
hyperfine --runs "$runs" --warmup 1 --export-json "$work/h.json" \
  --prepare "$fresh" \
  -n "tar -x" "tar -xf $work/layer.tar -C \$(cat $work/cur)" \
  -n "sha256sum" "sha256sum $work/layer.tar" \
  -n "berth load" "$berth --root \$(cat $work/cur)/root --runroot \$(cat $work/cur)/run load -q -i $work/image.tar"
python3 - "$work/h.json" "$size" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
med = {x["command"]: x["median"] for x in res}
low = {x["command"]: x["min"] for x in res}
cpu = {x["command"]: x["user"] + x["system"] for x in res}  # means over the runs
size = int(sys.argv[2])
print("%-12s %9s %9s %10s %9s" % ("", "median", "min", "MB/s(med)", "cpu"))
for k in med:
    print("%-12s %7.3f s %7.3f s %10.1f %7.3f s" % (k, med[k], low[k], size / med[k] / 1e6, cpu[k]))
print("berth load throughput / tar -x throughput: median %.2f, min %.2f (goal >= 0.8)"
      % (med["tar -x"] / med["berth load"], low["tar -x"] / low["berth load"]))
print("berth load throughput / sha256sum throughput: median %.2f, min %.2f"
      % (med["sha256sum"] / med["berth load"], low["sha256sum"] / low["berth load"]))
print("cpu time ratio tar -x / berth load = %.2f" % (cpu["tar -x"] / cpu["berth load"]))
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
