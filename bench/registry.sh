#!/bin/bash
# Registry push/pull speed, in one run against a local Debian docker-registry:
#   - a 212 MB image (busybox + one 200 MiB random layer) and a 10-layer
#     50 MB image, and a 65 MB image of compressible text: berth push/pull vs docker (Debian's docker.io, started
#     privately by bench/lib/refs.sh in the host network without iptables)
#     vs skopeo copy;
#   - the raw limit of a pull: curl of the big layer | sha256sum + tar -x;
#   - 16 concurrent pulls (manifest + blobs with curl) of the 212 MB image
#     from `berth registry serve` vs docker-registry;
#   - bytes on disk after a pull (du of berth's blobs/ + layers/, docker's
#     image/ + overlay2/ under its data root) against the image's layers.
# Prints wall times (min and median of RUNS) and the ratios the issue asks
# about (from the minimums).
#
#   bench/registry.sh [RUNS]        (as root; uses $TMPDIR or /var/tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
berth=$(realpath "${BERTH:-./build/berth}")
work=$(mktemp -d "${TMPDIR:-/var/tmp}/berth-bench-registry.XXXXXX")
pids=()
source bench/lib/refs.sh
cleanup() {
  set +e   # a failing step (refs.sh's umount, netns) must not skip the rest
  ref_cleanup
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait "${pids[@]}" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now() { date +%s.%N; }
best() { sort -n | head -1; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

# --- the images, as docker-save archives ---
scripts/make-busybox-rootfs.sh "$work/busybox.tar" >/dev/null
python3 - "$work" <<'EOF'
import hashlib, io, json, os, sys, tarfile
work = sys.argv[1]
def layer_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()
def save(path, layers, tag):
    diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids},
                      "history": [{"created_by": "bench"} for _ in layers]}).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    with tarfile.open(path, "w") as t:
        def add(name, data):
            ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
        names = []
        for l, d in zip(layers, diff_ids):
            n = d[7:] + "/layer.tar"; names.append(n); add(n, l)
        add(cid + ".json", cfg)
        add("manifest.json", json.dumps([{"Config": cid + ".json", "RepoTags": [tag],
                                          "Layers": names}]).encode())
bb = open(os.path.join(work, "busybox.tar"), "rb").read()
save(os.path.join(work, "big.tar"), [bb, layer_tar([("big.bin", os.urandom(200 << 20))])],
     "bench/big:latest")
save(os.path.join(work, "ten.tar"),
     [layer_tar([("f%d.bin" % i, os.urandom(5 << 20))]) for i in range(10)], "bench/ten:latest")
# compressible, as most real layers are (gzip makes about a third of it)
import random
rnd = random.Random(7)
words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9)))
         for _ in range(5000)]
def text(n):
    out = []
    size = 0
    while size < n:
        line = " ".join(rnd.choice(words) for _ in range(12)) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]
save(os.path.join(work, "txt.tar"),
     [bb, layer_tar([("doc/t%d.txt" % i, text(1 << 20)) for i in range(60)])], "bench/txt:latest")
EOF
ls -l "$work"/big.tar "$work"/ten.tar "$work"/txt.tar | awk '{print "image archive:", $NF, $5, "bytes"}'

# --- docker-registry: a fresh one per run, so that every push uploads ---
start_dreg() {
  local port dir
  port=$(free_port)
  dir=$(mktemp -d "$work/dreg.XXXXXX")
  cat >"$dir.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir
http:
  addr: 127.0.0.1:$port
EOF
  /usr/bin/docker-registry serve "$dir.yml" >/dev/null 2>&1 &
  pids+=($!)
  REG=127.0.0.1:$port
  for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.05; done
}

B="$berth --root $work/broot --runroot $work/brun"
$B load -i "$work/big.tar" >/dev/null
$B load -i "$work/ten.tar" >/dev/null
$B load -i "$work/txt.tar" >/dev/null

have_docker=0
if ref_docker_start hostnet; then have_docker=1; fi

declare -A T D
measure() { # key command...
  local key=$1; shift
  local s e
  s=$(now); "$@" >/dev/null 2>&1; e=$(now)
  python3 -c "print($e - $s)" >>"$work/t.$key"
}

for r in $(seq "$runs"); do
  start_dreg
  for img in big ten txt; do
    # berth: push to a new repository, then pull into an empty store
    $B tag bench/$img:latest $REG/berth-$img-$r:latest
    measure berth-push-$img $B push $REG/berth-$img-$r:latest
    rm -rf "$work/proot" "$work/prun"
    P="$berth --root $work/proot --runroot $work/prun"
    measure berth-pull-$img $P pull $REG/berth-$img-$r:latest
    [ "$r" = 1 ] && D[berth-$img]=$(du -sb "$work/proot/blobs" "$work/proot/layers" | awk '{s+=$1} END {print s}')
    # skopeo: archive -> registry, registry -> dir (download + verify, no unpack)
    measure skopeo-push-$img skopeo copy -q --dest-tls-verify=false \
      docker-archive:"$work/$img.tar" docker://$REG/skopeo-$img-$r:latest
    rm -rf "$work/sdir"
    measure skopeo-pull-$img skopeo copy -q --src-tls-verify=false \
      docker://$REG/skopeo-$img-$r:latest dir:"$work/sdir"
    if [ $have_docker = 1 ]; then
      # docker: load, push to a new repository, forget the image (and its
      # layers: nothing else uses them), pull it back for real
      docker load -i "$work/$img.tar" >/dev/null
      docker tag bench/$img:latest $REG/docker-$img-$r:latest
      measure docker-push-$img docker push $REG/docker-$img-$r:latest
      docker rmi -f $REG/docker-$img-$r:latest bench/$img:latest >/dev/null
      [ -z "$(docker images -q)" ] || { echo "docker still has images" >&2; exit 1; }
      measure docker-pull-$img docker pull $REG/docker-$img-$r:latest
      [ "$r" = 1 ] && D[docker-$img]=$(du -sb "$REF_DOCKER_DATA/image" "$REF_DOCKER_DATA/overlay2" | awk '{s+=$1} END {print s}')
      docker rmi -f $REG/docker-$img-$r:latest >/dev/null
    fi
  done
done

# --- raw limit: curl + sha256 + tar -x of the big layer as berth pushed it ---
man=$(curl -fs -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  http://$REG/v2/berth-big-$runs/manifests/latest)
bigdigest=$(python3 -c 'import json,sys;print(max(json.loads(sys.argv[1])["layers"],key=lambda l:l["size"])["digest"])' "$man")
for r in $(seq "$runs"); do
  rm -rf "$work/raw"; mkdir "$work/raw"
  measure raw-pull-big bash -c "curl -fs http://$REG/v2/berth-big-$runs/blobs/$bigdigest | tee >(sha256sum >/dev/null) | tar -xzf - -C $work/raw"
done

# --- 16 concurrent pulls: berth registry serve vs docker-registry ---
$berth registry serve --addr 127.0.0.1:0 --root "$work/breg" >"$work/breg.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q Listening "$work/breg.out" 2>/dev/null && break; sleep 0.05; done
BREG=$(awk '{print $3}' "$work/breg.out")
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
  docker://$REG/skopeo-big-$runs:latest docker://$BREG/big:latest
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
  docker://$REG/skopeo-big-$runs:latest docker://$REG/big:latest
pull16() { # registry
  local reg=$1
  local m blobs
  m=$(curl -fs -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' http://$reg/v2/big/manifests/latest)
  blobs=$(python3 -c 'import json,sys;m=json.loads(sys.argv[1]);print(" ".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"]]))' "$m")
  local ps=()
  for i in $(seq 16); do
    (for b in $blobs; do curl -fs -o /dev/null http://$reg/v2/big/blobs/$b; done) &
    ps+=($!)
  done
  wait "${ps[@]}"   # not the servers started above
}
for r in $(seq "$runs"); do
  measure serve16-docker-registry pull16 $REG
  measure serve16-berth pull16 $BREG
done

echo
printf '%-28s %8s %8s\n' "measure ($runs runs, seconds)" "min" "median"
for f in "$work"/t.*; do
  k=${f##*/t.}
  T[$k]=$(best <"$f")
  printf '%-28s %8.3f %8.3f\n' "$k" "${T[$k]}" "$(median <"$f")"
done
echo
for img in big ten txt; do
  echo "$img: berth push is $(ratio "${T[skopeo-push-$img]}" "${T[berth-push-$img]}")x skopeo's speed, pull $(ratio "${T[skopeo-pull-$img]}" "${T[berth-pull-$img]}")x skopeo's (skopeo does not unpack)"
  if [ $have_docker = 1 ]; then
    echo "$img: berth push is $(ratio "${T[docker-push-$img]}" "${T[berth-push-$img]}")x docker's speed (goal 3), pull $(ratio "${T[docker-pull-$img]}" "${T[berth-pull-$img]}")x (goal 2)"
  fi
done
[ $have_docker = 1 ] || echo "docker: dockerd would not start here, not measured"
for img in big ten txt; do
  l=$(python3 -c 'import json,sys,tarfile
t=tarfile.open(sys.argv[1]); m=json.load(t.extractfile("manifest.json"))[0]
print(sum(t.getmember(n).size for n in m["Layers"]))' "$work/$img.tar")
  echo "$img: bytes on disk after pull: berth ${D[berth-$img]} ($(ratio "${D[berth-$img]}" "$l")x the layer tars)${D[docker-$img]:+, docker ${D[docker-$img]} ($(ratio "${D[docker-$img]}" "$l")x; berth/docker $(ratio "${D[berth-$img]}" "${D[docker-$img]}"))}"
done
echo "big: berth pull / raw limit (curl|sha256|tar -x) = $(ratio "${T[berth-pull-big]}" "${T[raw-pull-big]}") (goal <= 1.5)"
echo "16 concurrent pulls: docker-registry / berth registry serve = $(ratio "${T[serve16-docker-registry]}" "${T[serve16-berth]}") (goal >= 1)"
