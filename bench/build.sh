#!/bin/bash
# berth build, cold (--no-cache) and fully cached, side by side in one run
# with DOCKER_BUILDKIT=0 docker build (docker's classic builder), BuildKit
# (DOCKER_BUILDKIT=1, when a docker client here can drive it) and podman
# build (with runc), all building the same Dockerfile from the same busybox rootfs:
# FROM busybox; four RUN steps writing files; COPY of a directory of 1,000
# small files; ENV; WORKDIR; EXPOSE; CMD.
# Goals (issue 6): cached >= 10x faster than docker's, cold >= 2x faster
# than docker's classic builder -- printed below as ratios of this run.
# The references are started privately by bench/lib/refs.sh: dockerd in a
# network namespace of its own (its RUN steps use its bridge there), podman
# with a private root. podman's RUN steps use --network=host (its default
# would create a netavark bridge with firewall rules on the host); berth's
# RUN steps use the host network by default too.
# Usage: bench/build.sh [RUNS]   (BERTH=path/to/berth, NO_REFS=1: berth only)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
berth=${BERTH:-$PWD/build/berth}
source bench/lib/refs.sh
work=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
cleanup() {
	set +e # a failing umount of something not mounted must not stop the cleanup
	# what refs.sh may leave: podman's overlay mount below its root, a
	# data root dockerd was still writing to when it was removed
	local left=("$REF_PODMAN_DIR" "$REF_DOCKER_DATA" "$REF_DOCKER_DIR")
	ref_cleanup
	local d m
	for d in "${left[@]}"; do
		[ -n "$d" ] || continue
		for m in $(awk -v d="$d/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
			umount -l "$m" 2>/dev/null
		done
		rm -rf "$d"
	done
	rm -rf "$work"
}
trap cleanup EXIT
B="$berth --root $work/root --runroot $work/run"
scripts/make-busybox-rootfs.sh "$work/rootfs.tar"
$B import -c 'CMD ["/bin/sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
ctx=$work/ctx
mkdir -p "$ctx/files"
for i in $(seq 1 1000); do echo "file $i" >"$ctx/files/f$i.txt"; done
cat >"$ctx/Dockerfile" <<'EOF'
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

# name|cold command|cached command (the cached one is warmed first)
engines=("berth|$B build -q --no-cache -t bench:1 $ctx|$B build -q -t bench:1 $ctx")
if [ -z "${NO_REFS:-}" ] && ref_docker_start netns; then
	docker import -c 'CMD ["/bin/sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
	engines+=("docker-classic|env DOCKER_BUILDKIT=0 docker build -q --no-cache -t berth-bench:1 $ctx|env DOCKER_BUILDKIT=0 docker build -q -t berth-bench:1 $ctx")
	# BuildKit: the docker client in PATH may lack buildx; Debian's 20.10
	# client (/usr/bin/docker) drives the daemon's BuildKit without it.
	bk=
	for cli in docker /usr/bin/docker; do
		if DOCKER_BUILDKIT=1 $cli build -q -t berth-bench-bk:1 "$ctx" >/dev/null 2>"$work/bk.err"; then
			bk=$cli
			break
		fi
	done
	if [ -n "$bk" ]; then
		engines+=("docker-buildkit|env DOCKER_BUILDKIT=1 $bk build -q --no-cache -t berth-bench-bk:1 $ctx|env DOCKER_BUILDKIT=1 $bk build -q -t berth-bench-bk:1 $ctx")
	else
		echo "docker BuildKit: no client here drives it, skipped ($(tail -1 "$work/bk.err"))" >&2
	fi
fi
if [ -z "${NO_REFS:-}" ] && ref_podman_setup; then
	# crun refuses this machine's hybrid cgroup layout: podman runs with runc
	P="$PODMAN --runtime runc"
	$P import -q -c 'CMD ["/bin/sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
	engines+=("podman|$P build -q --network=host --no-cache -t berth-bench:1 $ctx|$P build -q --network=host -t berth-bench:1 $ctx")
fi

cmds=()
for e in "${engines[@]}"; do
	IFS='|' read -r name cold cached <<<"$e"
	# warm the cache (and check it works; docker's deprecation notice is noise)
	$cached >/dev/null 2>"$work/warm.err" || { cat "$work/warm.err" >&2; exit 1; }
	cmds+=(-n "$name cold" "$cold" -n "$name cached" "$cached")
done
uptime
hyperfine --warmup 2 --runs "$runs" -N --export-json "$work/h.json" "${cmds[@]}" \
	-n "true (process start)" "/bin/true"

# Figures (ms, min and median) and ratios against berth, from this run.
jq -r '
  def ms: . * 1000 * 100 | round / 100;
  (.results | map({key: .command, value: .}) | from_entries) as $r
  | "\nengine            cold min / median      cached min / median",
    (["berth","docker-classic","docker-buildkit","podman"][] as $e
     | select($r[$e + " cold"])
     | "\($e | .+"                 " | .[0:16])  \($r[$e+" cold"].min|ms) / \($r[$e+" cold"].median|ms) ms     \($r[$e+" cached"].min|ms) / \($r[$e+" cached"].median|ms) ms"),
    "\nratios (reference / berth; goal: docker-classic cold >= 2, docker cached >= 10)",
    (["docker-classic","docker-buildkit","podman"][] as $e
     | select($r[$e + " cold"])
     | "\($e | .+"                 " | .[0:16])  cold x\(($r[$e+" cold"].median / $r["berth cold"].median * 100 | round) / 100) (min x\(($r[$e+" cold"].min / $r["berth cold"].min * 100 | round) / 100))   cached x\(($r[$e+" cached"].median / $r["berth cached"].median * 100 | round) / 100) (min x\(($r[$e+" cached"].min / $r["berth cached"].min * 100 | round) / 100))")
' "$work/h.json"
