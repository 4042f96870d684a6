#!/bin/bash
# berth build, cold (--no-cache) and fully cached, side by side with
# DOCKER_BUILDKIT=0 docker build and podman build where they work here.
# The Dockerfile: FROM busybox; four RUN steps writing files; COPY of a
# directory of 1,000 small files; ENV; WORKDIR; EXPOSE; CMD.
# Goals (issue 6): cached >= 10x faster than docker's, cold >= 2x faster
# than docker's classic builder.
# Usage: bench/build.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
berth=${BERTH:-./build/berth}
work=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
B="$berth --root $work/root --runroot $work/run"
scripts/make-busybox-rootfs.sh "$work/rootfs.tar"
$B import -c 'CMD ["/bin/sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
ctx=$work/ctx
mkdir -p "$ctx/files"
for i in $(seq 1 1000); do echo "file $i" > "$ctx/files/f$i.txt"; done
cat > "$ctx/Dockerfile" <<'EOF'
FROM busybox
RUN echo one > /one
RUN echo two > /two
RUN mkdir -p /data && echo three > /data/three
RUN echo four > /four
COPY files /files
ENV APP=bench
WORKDIR /files
EXPOSE 8080
CMD ["cat", "/one"]
EOF
sleep 0.1
$B build -q -t bench:1 "$ctx" >/dev/null   # warm the cache for the cached runs

cmds=(-n "berth build (cold, --no-cache)" "$B build -q --no-cache -t bench:1 $ctx"
      -n "berth build (cached)" "$B build -q -t bench:1 $ctx")
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker pull -q busybox >/dev/null 2>&1 || true
  DOCKER_BUILDKIT=0 docker build -q -t berth-bench:1 "$ctx" >/dev/null
  cmds+=(-n "docker build, classic (cold)" "env DOCKER_BUILDKIT=0 docker build -q --no-cache -t berth-bench:1 $ctx"
         -n "docker build, classic (cached)" "env DOCKER_BUILDKIT=0 docker build -q -t berth-bench:1 $ctx")
else
  echo "docker: no daemon here, skipped" >&2
fi
if command -v podman >/dev/null && podman info >/dev/null 2>&1; then
  podman build -q -t berth-bench:1 "$ctx" >/dev/null
  cmds+=(-n "podman build (cold)" "podman build -q --no-cache -t berth-bench:1 $ctx"
         -n "podman build (cached)" "podman build -q -t berth-bench:1 $ctx")
else
  echo "podman: not installed, skipped" >&2
fi
hyperfine --warmup 3 --runs "$runs" -N "${cmds[@]}" \
  -n "true (process start)" "/bin/true"
