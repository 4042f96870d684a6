# A private network set-up for a benchmark's berth root: its own bridge name
# and a free /24, so a benchmark never shares (or leaves) the default berth0
# or another root's nftables table. Source this file, then
#   berth_net_config FILE   writes a berth config there; sets BERTH_BRIDGE
#   berth_net_cleanup CMD...  removes the root's bridge network's table and
#                             the bridge (CMD: the berth command line)
BERTH_BRIDGE=

berth_net_config() {
	BERTH_BRIDGE="bn$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	local subnet="" s
	# a /24 no route uses
	for _ in $(seq 100); do
		s="10.$((200 + RANDOM % 55)).$((RANDOM % 256)).0/24"
		if ! ip -4 route show table all | grep -q "${s%.0/24}\."; then
			subnet=$s
			break
		fi
	done
	[ -n "$subnet" ] || { echo "no free subnet" >&2; return 1; }
	cat >"$1" <<J
{"bridge": "$BERTH_BRIDGE", "default-subnet": "$subnet", "dns": ["127.0.0.1:1"]}
J
}

berth_net_cleanup() {
	"$@" network inspect -f '{{.Id}}' bridge 2>/dev/null | cut -c1-12 |
		while read -r id; do nft delete table inet "berth_$id" 2>/dev/null || true; done
	[ -n "$BERTH_BRIDGE" ] && ip link del "$BERTH_BRIDGE" 2>/dev/null || true
}
