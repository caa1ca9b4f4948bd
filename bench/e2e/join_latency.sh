#!/usr/bin/env bash
# join_latency.sh - join propagation, xigmp versus igmpproxy.
#
#   [H] hi 10.81.0.2 ── veth ── pi 10.81.0.1 [P: proxy] po 10.82.0.1 ── veth ── uo 10.82.0.2 [U]
#
# H's kernel joins groups one at a time (`ip addr add G/32 dev hi autojoin`);
# per group, the time from H's report on the inside wire (captured leaving
# hi) to the proxy's report naming the group on the outside wire (captured
# arriving on uo), both with kernel timestamps (bench/e2e/join_latency.py).
# Each proxy runs alone in P, one after the other, each with fresh groups:
#   xigmp-xdp      `xigmp run`, modes {proxyInToOut}, datapath xdp (headline)
#   xigmp-kernel   the same on the kernel datapath
#   igmpproxy-default   Debian's igmpproxy, P's igmp_max_memberships untouched (20)
#   igmpproxy      igmpproxy after raising P's net.ipv4.igmp_max_memberships
# U runs no querier: neither proxy needs one to join upstream (igmpproxy
# acts on the first report; its upstream joins are the P kernel's
# unsolicited reports). H's own net.ipv4.igmp_max_memberships is raised: its
# autojoins all go through one kernel socket too (that is the host, not the
# proxy).
#
# Needs root and igmpproxy (scripts/deps.sh bench); on a kernel without
# CONFIG_IP_MROUTE (xigmp doctor --json) igmpproxy cannot start, and its
# figures are null with "<key>_reason". One JSON object on stdout, progress
# on stderr. Env: GROUPS_N (default 60), SPACING (s, 0.15).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
XIGMP=${XIGMP:-.build/release/xigmp}
source netns-tests/lib.sh   # namespaces, veths, the daemon, teardown at exit
IGMPPROXY=${IGMPPROXY:-$(command -v igmpproxy || echo /usr/sbin/igmpproxy)}
N=${GROUPS_N:-60}
SPACING=${SPACING:-0.15}
log() { echo "join_latency: $*" >&2; }
[ "$(id -u)" == 0 ] || { log "needs root (namespaces, XDP): sudo $0"; exit 1; }
[ -x "$XIGMP" ] || { log "$XIGMP missing: run make build"; exit 1; }

TAG=xgbj-$$
H=$TAG-h P=$TAG-p U=$TAG-u
tmp_dir TMP /tmp/xigmp-join.XXXXXX
# The proxy under test, xigmp or igmpproxy, one at a time: DAEMON.
DAEMON_NS=$P SOCK=$TMP/xigmp.sock DAEMON_WAIT=10
stop_proxy() { stop_daemon 5 || true; }

for ns in $H $P $U; do new_ns "$ns"; done
veth_pair "$H" hi 10.81.0.2/24 "$P" pi 10.81.0.1/24
veth_pair "$P" po 10.82.0.1/24 "$U" uo 10.82.0.2/24
H_MAXMEM=$((N + 64))
ip netns exec "$H" sysctl -qw net.ipv4.igmp_max_memberships=$H_MAXMEM
P_DEFAULT_MAXMEM=$(ip netns exec "$P" sysctl -n net.ipv4.igmp_max_memberships)

RUNS=()
measure() { # measure LABEL GROUP_BASE [COUNT]
	log "$1: ${3:-$N} groups from $2, one every ${SPACING}s"
	$PY bench/e2e/join_latency.py measure --label "$1" --group-base "$2" --count "${3:-$N}" --spacing "$SPACING" \
		--inside-ns "$H" --inside-if hi --inside-src 10.81.0.2 \
		--outside-ns "$U" --outside-if uo --outside-src 10.82.0.1 >"$TMP/$1.json" || { log "$1: capture failed"; return 1; }
	RUNS+=("$TMP/$1.json")
	$PY bench/e2e/join_latency.py report "$TMP/$1.json"
}
leave_all() { # the host leaves every group it joined (while no proxy runs)
	ip -n "$H" -4 addr show dev hi | awk '/inet 2(2[4-9]|3[0-9])\./ {print "addr del", $2, "dev hi"}' |
		ip -n "$H" -batch - 2>/dev/null
	sleep 0.5
}

# ---- xigmp, both datapaths
xigmp_notes=()
for dp in xdp kernel; do
	cat >"$TMP/xigmp-$dp.yaml" <<YAML
interfaces: {outside: po, inside: pi}
datapath: $dp
modes: {proxyInToOut: true}
control: {socket: $TMP/xigmp.sock}
logLevel: warning
YAML
	DAEMON_LOG=$TMP/xigmp-$dp.log start_daemon "$TMP/xigmp-$dp.yaml" || { log "xigmp ($dp) did not start"; exit 1; }
	sleep 0.3
	base=239.$([ $dp == xdp ] && echo 10 || echo 11).0.1
	measure "xigmp-$dp" "$base"
	stop_proxy
	leave_all
done
xigmp_maxmem=$(ip netns exec "$P" sysctl -n net.ipv4.igmp_max_memberships)

# ---- igmpproxy: it needs the kernel's multicast routing (MRT_INIT) to start
# at all; whether the kernel has it is asked of `xigmp doctor --json` in P.
ip_mroute=$("$XIGMP" --netns "$P" doctor --json 2>/dev/null | feature_state ip_mroute)
igmpproxy_reason=
if [ "$ip_mroute" = no ]; then
	igmpproxy_reason="kernel lacks CONFIG_IP_MROUTE"
	log "igmpproxy: n/a ($igmpproxy_reason; xigmp doctor)"
	igmpproxy_notes="igmpproxy not run: $igmpproxy_reason (it cannot start without MRT_INIT)"
elif [ ! -x "$IGMPPROXY" ]; then
	log "igmpproxy not installed (scripts/deps.sh bench installs it): skipping it"
	igmpproxy_notes="igmpproxy not installed"
else
	cat >"$TMP/igmpproxy.conf" <<CONF
# join_latency.sh: upstream po (towards U), downstream pi (towards H)
quickleave
phyint po upstream ratelimit 0 threshold 1
phyint pi downstream ratelimit 0 threshold 1
phyint lo disabled
CONF
	start_igmpproxy() { # start_igmpproxy LOG
		ip netns exec "$P" "$IGMPPROXY" -n -d -v "$TMP/igmpproxy.conf" >"$1" 2>&1 &
		DAEMON=$!
		sleep 1.5 # its start-up: VIFs, MRT_INIT, first queries downstream
		kill -0 "$DAEMON" 2>/dev/null || { log "igmpproxy exited at start:"; tail -5 "$1" >&2; return 1; }
	}
	# 1. as installed: the upstream joins ride one kernel socket, capped by
	#    net.ipv4.igmp_max_memberships.
	LIMIT_N=$((P_DEFAULT_MAXMEM + 10))
	start_igmpproxy "$TMP/igmpproxy-default.log" && {
		measure igmpproxy-default 239.12.0.1 "$LIMIT_N"
		stop_proxy
	}
	leave_all
	cap_errors=$(grep -ciE "no buffer space|ENOBUFS|errno\(105\)" "$TMP/igmpproxy-default.log")
	cap_line=$(grep -iE "no buffer space|ENOBUFS|errno\(105\)" "$TMP/igmpproxy-default.log" | head -1 | tr -d '"\\' | cut -c1-160)
	# 2. past the cap: raise the sysctl in P's namespace (per-netns).
	P_MAXMEM=$((N + 64))
	ip netns exec "$P" sysctl -qw net.ipv4.igmp_max_memberships=$P_MAXMEM
	start_igmpproxy "$TMP/igmpproxy.log" && {
		measure igmpproxy 239.13.0.1
		stop_proxy
	}
	ip netns exec "$P" sysctl -qw net.ipv4.igmp_max_memberships="$P_DEFAULT_MAXMEM"
	prop_default=$(jsonq -f "$TMP/igmpproxy-default.json" --join / propagated groups 2>/dev/null)
	igmpproxy_notes="$(dpkg-query -W -f='igmpproxy ${Version}' igmpproxy 2>/dev/null || echo igmpproxy): with P's net.ipv4.igmp_max_memberships at its default $P_DEFAULT_MAXMEM only $prop_default groups reached upstream (the cap counts every membership of its one socket, so fewer than the cap; log: $cap_errors membership errors, e.g. '$cap_line'); it needed 'sysctl -w net.ipv4.igmp_max_memberships=$P_MAXMEM' in P's namespace for $N groups. Each upstream join is an IP_ADD_MEMBERSHIP on one socket, so P's kernel sends the report from its IGMP timer. xigmp ran with the sysctl at $xigmp_maxmem and forwarded all groups (it re-sends the host's report, no socket membership per group). No querier upstream (neither needs one); igmpproxy queries downstream itself."
fi

meta=$($PY bench/e2e/join_latency.py meta --igmpproxy-notes "${igmpproxy_notes:-}" --host-max-memberships "$H_MAXMEM" \
	--spacing "$SPACING" --proxy-default-max-memberships "$P_DEFAULT_MAXMEM" --ip-mroute "$ip_mroute" \
	--igmpproxy-unavailable "$igmpproxy_reason")
$PY bench/e2e/join_latency.py summarize --meta "$meta" "${RUNS[@]}"
