# Reference engines for the benchmarks, started privately so they never
# touch the host's firewall or state.  Source this file, then call
#   ref_docker_start [netns|hostnet]   sets DOCKER_HOST and REF_DOCKER_NETNS
#   ref_docker_stop                    (also run by ref_cleanup)
#   ref_podman_setup                   sets PODMAN (a podman command line)
# netns (default): dockerd runs in a network namespace of its own
#   (nsenter --net, so /sys and the cgroup mounts stay visible): its bridge,
#   veths and iptables rules exist only there.  Clients that must reach a
#   docker container's published port run under `ref_in_docker_net CMD...`.
# hostnet: dockerd in the host's namespace with --iptables=false
#   --ip-forward=false --bridge=none, for benchmarks that need no container
#   networking but must reach a registry on the host's 127.0.0.1.
# Data lives under /var/lib/berth-bench-docker.PID and /tmp, removed by ref_cleanup.

REF_DOCKER_NETNS=
REF_DOCKER_DIR=
REF_DOCKER_DATA=
REF_PODMAN_DIR=

ref_docker_start() {
	local mode=${1:-netns}
	command -v dockerd >/dev/null || { echo "docker: dockerd not installed (apt-get install docker.io), skipped" >&2; return 1; }
	REF_DOCKER_DIR=$(mktemp -d /tmp/berth-bench-docker.XXXXXX)
	REF_DOCKER_DATA=/var/lib/berth-bench-docker.$$
	local data=$REF_DOCKER_DATA
	local args=(--data-root "$data" --exec-root "$REF_DOCKER_DIR/exec"
		--pidfile "$REF_DOCKER_DIR/docker.pid" -H "unix://$REF_DOCKER_DIR/docker.sock")
	local pre=()
	if [ "$mode" = netns ]; then
		REF_DOCKER_NETNS=berth-bench-dk$$
		ip netns add "$REF_DOCKER_NETNS"
		ip -n "$REF_DOCKER_NETNS" link set lo up
		pre=(nsenter --net=/run/netns/$REF_DOCKER_NETNS)
	else
		args+=(--iptables=false --ip6tables=false --ip-forward=false --bridge=none)
	fi
	"${pre[@]}" dockerd "${args[@]}" >"$REF_DOCKER_DIR/log" 2>&1 &
	export DOCKER_HOST=unix://$REF_DOCKER_DIR/docker.sock
	local i
	for i in $(seq 100); do
		docker info >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "docker: dockerd did not start, see $REF_DOCKER_DIR/log" >&2
	tail -3 "$REF_DOCKER_DIR/log" >&2
	ref_docker_stop
	return 1
}

ref_in_docker_net() {
	if [ -n "$REF_DOCKER_NETNS" ]; then
		nsenter --net=/run/netns/$REF_DOCKER_NETNS "$@"
	else
		"$@"
	fi
}

ref_docker_stop() {
	[ -n "$REF_DOCKER_DIR" ] || return 0
	if [ -f "$REF_DOCKER_DIR/docker.pid" ]; then
		local ids
		ids=$(docker ps -aq 2>/dev/null || true)
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
		kill "$(cat "$REF_DOCKER_DIR/docker.pid")" 2>/dev/null || true
		local i
		for i in $(seq 100); do
			[ -e "$REF_DOCKER_DIR/docker.pid" ] || break
			kill -0 "$(cat "$REF_DOCKER_DIR/docker.pid" 2>/dev/null)" 2>/dev/null || break
			sleep 0.1
		done
	fi
	# (|| true: callers run with set -e, and an EXIT trap that fails here
	# would skip the rm below, leaving the data root behind)
	if [ -n "$REF_DOCKER_NETNS" ]; then
		ip netns del "$REF_DOCKER_NETNS" 2>/dev/null || true
	fi
	umount -R "$REF_DOCKER_DATA" 2>/dev/null || true
	rm -rf "$REF_DOCKER_DATA" "$REF_DOCKER_DIR"
	REF_DOCKER_DIR= REF_DOCKER_NETNS=
	unset DOCKER_HOST
}

# podman as root here needs default_ulimits this VM can grant (it cannot
# raise rlimits above the hard limit).
ref_podman_setup() {
	command -v podman >/dev/null || { echo "podman: not installed (apt-get install podman), skipped" >&2; return 1; }
	REF_PODMAN_DIR=$(mktemp -d /tmp/berth-bench-podman.XXXXXX)
	cat >"$REF_PODMAN_DIR/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
CONF
	export CONTAINERS_CONF=$REF_PODMAN_DIR/containers.conf
	PODMAN="podman --root $REF_PODMAN_DIR/root --runroot $REF_PODMAN_DIR/run --storage-driver overlay"
}

ref_podman_stop() {
	[ -n "$REF_PODMAN_DIR" ] || return 0
	$PODMAN rm -af >/dev/null 2>&1 || true
	$PODMAN system reset -f >/dev/null 2>&1 || true
	umount -R "$REF_PODMAN_DIR/root" 2>/dev/null || true
	rm -rf "$REF_PODMAN_DIR"
	REF_PODMAN_DIR=
}

ref_cleanup() {
	ref_docker_stop
	ref_podman_stop
}
