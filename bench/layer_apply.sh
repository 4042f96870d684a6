#!/bin/bash
# Layer apply throughput: `berth __layer-apply` (unpack + diff ID + digest)
# against plain `tar -x` of the same ~200 MB random-data layer, in the same
# run, interleaved so both see the same machine load. Prints the median
# wall time of each, the throughput ratio tar-time/berth-time (>= 1: berth
# is at least as fast) and the median CPU time (user+sys, for tar -xz with
# its gzip child), which is what counts on a loaded machine.
#
#   bench/layer_apply.sh [RUNS] [SIZE_MB]      (as root; uses $TMPDIR)
# BERTH=path/to/berth overrides the binary (default: build/berth).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-7}
SIZE_MB=${2:-200}
BERTH=${BERTH:-$PWD/build/berth}
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-layer.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The layer: SIZE_MB in 2 MB files plus 500 small files in a few dirs.
mkdir -p "$work/src/data" "$work/src/small/a" "$work/src/small/b"
for i in $(seq 1 $((SIZE_MB / 2))); do
  head -c 2000000 /dev/urandom >"$work/src/data/f$i"
done
for i in $(seq 1 250); do
  head -c 3000 /dev/urandom >"$work/src/small/a/s$i"
  head -c 3000 /dev/urandom >"$work/src/small/b/s$i"
done
tar -cf "$work/layer.tar" -C "$work/src" .
gzip -1 -c "$work/layer.tar" >"$work/layer.tar.gz"
rm -rf "$work/src"
echo "layer: $(stat -c %s "$work/layer.tar") bytes tar, $(stat -c %s "$work/layer.tar.gz") bytes gzip; $RUNS runs each"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# timed CMD...: appends "wall cpu(user+sys)" of CMD to $work/t.<who>
timed() {
  local who=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$work/one" "$@" >/dev/null
  awk '{printf "%s %.2f\n", $1, $2 + $3}' "$work/one" >>"$work/t.$who"
}

run_pair() { # name tar-flags source
  local name=$1 tflags=$2 src=$3
  rm -f "$work/t.tar" "$work/t.berth"
  for r in $(seq 1 "$RUNS"); do
    # alternate which one goes first, so neither always follows the other's writeback
    for who in $( ((r % 2)) && echo "tar berth" || echo "berth tar"); do
      rm -rf "$work/x"; sync
      if [ "$who" = tar ]; then
        mkdir "$work/x"
        timed tar tar "$tflags" "$src" -C "$work/x"
      else
        timed berth "$BERTH" __layer-apply "$src" "$work/x"
      fi
    done
  done
  rm -rf "$work/x"
  local wt wb ct cb
  wt=$(cut -d' ' -f1 "$work/t.tar" | median); wb=$(cut -d' ' -f1 "$work/t.berth" | median)
  ct=$(cut -d' ' -f2 "$work/t.tar" | median); cb=$(cut -d' ' -f2 "$work/t.berth" | median)
  printf '%-6s wall: tar -x %.3fs, berth %.3fs, ratio %.2f | cpu: tar -x %.2fs, berth %.2fs\n' \
    "$name" "$wt" "$wb" "$(echo "$wt / $wb" | bc -l)" "$ct" "$cb"
}

run_pair plain -xf "$work/layer.tar"
run_pair gzip -xzf "$work/layer.tar.gz"
