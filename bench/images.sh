#!/bin/bash
# `berth images` and `berth image inspect` with 50 images (goal < 3 ms
# each), side by side with `docker images` / `docker image inspect` of the
# same 50 images (saved by berth, loaded into a private dockerd) when
# docker.io is installed.
# Usage: bench/images.sh [N]     BERTH=path/to/berth, BENCH_NO_DOCKER=1
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
berth=${BERTH:-./build/berth}
[ -x "$berth" ] || { echo "build berth first (ninja -C build)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "missing hyperfine (apt-get install hyperfine)" >&2; exit 1; }
source bench/lib/refs.sh
work=$(mktemp -d /var/tmp/berth-bench-images.XXXXXX)
cleanup() {
  ref_cleanup || true
  rm -rf "$work"
}
trap cleanup EXIT
B="$berth --root $work/root --runroot $work/run"
scripts/make-busybox-rootfs.sh "$work/rootfs.tar"
refs=()
for i in $(seq 1 "$n"); do
  $B import -c "LABEL n=$i" -m "image $i" "$work/rootfs.tar" "bench/img$i:v$i" >/dev/null
  refs+=("bench/img$i:v$i")
done
mid=bench/img$(((n + 1) / 2)):v$(((n + 1) / 2))
$B images | sed -n 1,3p

cmds=(-n "berth images" "$B images"
      -n "berth image inspect" "$B image inspect $mid"
      -n "berth images --format json" "$B images --format json")
docker=
if [ -z "${BENCH_NO_DOCKER:-}" ] && ref_docker_start hostnet; then
  $B save -o "$work/all.tar" "${refs[@]}"
  docker load -i "$work/all.tar" >/dev/null
  [ "$(docker images -q | wc -l)" -eq "$n" ] || { echo "docker did not load $n images" >&2; exit 1; }
  docker images | sed -n 1,3p
  # the same image: same ID in both engines
  [ "$($B image inspect -f '{{.Id}}' "$mid")" = "$(docker image inspect -f '{{.Id}}' "$mid")" ]
  d=$(command -v docker)
  cmds+=(-n "docker images" "$d images"
         -n "docker image inspect" "$d image inspect $mid"
         -n "docker images --format json" "$d images --format json")
  docker=1
else
  echo "(no docker: berth only)"
fi
cmds+=(-n "true (process start)" "/bin/true")

hyperfine -N --warmup 20 --runs "${RUNS:-200}" --export-json "$work/times.json" "${cmds[@]}"

python3 - "$work/times.json" "$docker" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
docker = sys.argv[2] == "1"
print("\n%-28s %8s %8s   goal < 3 ms (min and median, ms)" % ("", "min", "median"))
for name in ("berth images", "berth image inspect", "berth images --format json",
             "true (process start)"):
    x = r[name]
    ok = "" if name.startswith("true") else ("  ok" if x["median"] < 0.003 else "  OVER")
    print("%-28s %8.2f %8.2f%s" % (name, x["min"] * 1e3, x["median"] * 1e3, ok))
if docker:
    print("\nberth / docker (median; lower is better for berth):")
    for what in ("images", "image inspect", "images --format json"):
        b, d = r["berth " + what], r["docker " + what]
        print("  %-22s berth %6.2f ms  docker %6.2f ms  ratio %.2fx (docker is %.1fx slower)"
              % (what, b["median"] * 1e3, d["median"] * 1e3, b["median"] / d["median"],
                 d["median"] / b["median"]))
PY
