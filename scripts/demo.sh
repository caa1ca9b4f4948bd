#!/usr/bin/env bash
# demo.sh - xigmp as an IGMP proxy between an upstream network and a
# docker-like bridge, on self-made namespaces:
#
#   [up] bridge upbr, IGMPv3 querier 10.10.0.1
#     |  veth
#   [proxy] out0 10.10.0.2 --- xigmp run --- dockerbr 10.20.0.1 (bridge)
#                                              |            |
#                                     [c1] 10.20.0.11   [c2] 10.20.0.12
#                                     kernel joins      membership-reporter,
#                                     239.1.1.1          unicast to the proxy
#                                                        (translation) 239.2.2.2
#   act 2 adds a second inside interface: vc3 10.30.0.1 (veth) --- [c3] 10.30.0.13
#
# Act 1 shows, side by side, what is heard upstream and inside, the upstream
# querier's membership table, and the proxy's stats. Act 2 runs the same edge
# as an RFC 4605 proxy (xigmp the inside's querier, one member upstream) that
# forwards an upstream source's multicast data to the containers that joined,
# on two inside interfaces (dockerbr with c1 and c2, the veth vc3 to c3).
# Act 3 runs xigmp with `inside: "br-*"` before any such bridge exists; a
# docker-like network (bridge + container) is created, deleted while the
# container is a member, and re-created: the stream follows, with the
# interface-up -> first query and report -> first datagram figures.
# Tears everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
XIGMP=${XIGMP:-.build/release/xigmp}
REPORTER=${REPORTER:-$(dirname "$XIGMP")/membership-reporter}
source netns-tests/lib.sh   # namespaces, veths, the daemon, teardown at exit
[ "$(id -u)" == 0 ] || { echo "demo: needs root (namespaces, XDP): sudo make demo" >&2; exit 1; }
for b in "$XIGMP" "$REPORTER"; do [ -x "$b" ] || { echo "demo: $b missing: run make demo" >&2; exit 1; }; done

UP=xgdemo-up-$$ PX=xgdemo-px-$$ C1=xgdemo-c1-$$ C2=xgdemo-c2-$$ C3=xgdemo-c3-$$ C4=xgdemo-c4-$$
tmp_dir TMP
DAEMON_NS=$PX SOCK=$TMP/xigmp.sock
PIDS=()   # dumps, the reporter, the source: ended at exit, then every child awaited
T_CLEANUP_HOOKS+=('for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; stop_daemon 5; wait')
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "topology"
for ns in $UP $PX $C1 $C2 $C3; do new_ns "$ns"; done
ip -n "$UP" link add upbr type bridge mcast_snooping 1 mcast_querier 1 mcast_igmp_version 3 \
	mcast_query_interval 500 mcast_query_response_interval 100 mcast_startup_query_count 1 \
	mcast_last_member_interval 50 mcast_membership_interval 1200
ip -n "$UP" addr add 10.10.0.1/24 dev upbr
veth_pair "$PX" out0 10.10.0.2/24 "$UP" uo
ip -n "$UP" link set uo master upbr
ip -n "$UP" link set upbr up
ip -n "$PX" link add dockerbr type bridge mcast_snooping 0
ip -n "$PX" addr add 10.20.0.1/24 dev dockerbr
ip -n "$PX" link set dockerbr up
i=1
for c in $C1 $C2; do
	veth_pair "$c" eth0 10.20.0.1$i/24 "$PX" vc$i
	ip -n "$PX" link set vc$i master dockerbr
	i=$((i + 1))
done
ip netns exec "$C1" sysctl -qw net.ipv4.conf.all.igmpv3_unsolicited_report_interval=500
# A second inside interface for act 2: a plain veth to c3 (a VM tap, say).
veth_pair "$PX" vc3 10.30.0.1/24 "$C3" eth0 10.30.0.13/24
cat >"$TMP/xigmp.yaml" <<YAML
# the demo's proxy: both directions, plus unicast translation for c2
interfaces: {outside: out0, inside: dockerbr}
datapath: auto
modes: {proxyOutToIn: true, proxyInToOut: true, unicastProxyInToOut: true}
control: {socket: $TMP/xigmp.sock}
metrics: {listen: "127.0.0.1:9740"}
YAML
echo "up: querier bridge 10.10.0.1 | proxy: out0 10.10.0.2, dockerbr 10.20.0.1 | c1 10.20.0.11 | c2 10.20.0.12"

step "xigmp run (config below)"
grep -v '^#' "$TMP/xigmp.yaml"
start_daemon "$TMP/xigmp.yaml" || { echo "demo: the daemon did not start" >&2; exit 1; }
"$XIGMP" --netns "$PX" status --socket "$TMP/xigmp.sock"

# What each side hears, for the side-by-side view at the end.
"$XIGMP" --netns "$UP" dump --iface upbr --datapath kernel --json >"$TMP/up.json" 2>/dev/null &
PIDS+=($!)
"$XIGMP" --netns "$C1" dump --iface eth0 --datapath kernel --json >"$TMP/in.json" 2>/dev/null &
PIDS+=($!)
sleep 1

step "c1 joins 239.1.1.1 through its kernel; c2 joins 239.2.2.2 with membership-reporter (unicast to the proxy)"
ip -n "$C1" addr add 239.1.1.1/32 dev eth0 autojoin
mkfifo "$TMP/reporter.in"
ip netns exec "$C2" "$REPORTER" --iface eth0 --proxy 10.20.0.1 --group 239.2.2.2 --igmp-version 2 \
	--interval 3 <"$TMP/reporter.in" >"$TMP/reporter.log" 2>&1 &
PIDS+=($!)
exec 7>"$TMP/reporter.in"
sleep 7
step "the upstream querier's table (bridge mdb on up): both groups, learned through the proxy"
bridge -n "$UP" mdb show | sed 's/^/   /'
bridge -n "$UP" mdb show | grep -q 239.1.1.1 && bridge -n "$UP" mdb show | grep -q 239.2.2.2 ||
	{ echo "demo: upstream did not learn both groups" >&2; exit 1; }

step "c1 leaves 239.1.1.1; c2 no longer wants 239.2.2.2"
ip -n "$C1" addr del 239.1.1.1/32 dev eth0
echo "-239.2.2.2" >&7
sleep 4
echo "upstream table now:"; bridge -n "$UP" mdb show | sed 's/^/   /'; echo "   (end)"
exec 7>&-

step "heard upstream (on upbr) | heard inside (on c1 eth0)"
$PY scripts/demo_views.py heard "$TMP/up.json" "$TMP/in.json"

step "membership-reporter in c2"
sed 's/^/   /' "$TMP/reporter.log"

step "proxy stats"
"$XIGMP" --netns "$PX" stats
ip netns exec "$PX" $PY netns-tests/http_get.py http://127.0.0.1:9740/metrics |
	grep -E '^xigmp_(forwarded_total\{mode="(proxyOutToIn|proxyInToOut|unicastProxyInToOut)".*\} [1-9]|query_to_report_seconds_(count|sum)|policy_total.* [1-9])' | sed 's/^/   /'

step "shutdown"
stop_daemon || true
tail -2 "$TMP/daemon.log"
ip -n "$PX" -d link show | grep -q prog/xdp && { echo "demo: XDP left attached" >&2; exit 1; }

# ---- act 2: the same edge as an RFC 4605 proxy that forwards the data ----
TOOL=netns-tests/mcast_tool.py
step "act 2: membership tracking (RFC 4605) and multicast data forwarding, two inside interfaces (config below)"
echo "   what this kernel offers (xigmp doctor):"
"$XIGMP" doctor | grep -E '^(kernel|tcx|clsact|ip_mroute|forwarding)' | sed 's/^/   /'
cat >"$TMP/edge.yaml" <<YAML
interfaces: {outside: out0, inside: [dockerbr, vc3]}
modes: {queryNotify: true}
membership: track
querier:
  inside: {queryInterval: 10s, queryResponseInterval: 2s, lastMemberQueryInterval: 300ms}
limits: {maxGroupsPerHost: 64, reportsPerSecondPerHost: 500}
forwarding: {mode: xdp, unmatched: drop}
routes:
  - {group: 232.5.5.5, source: 10.10.0.1, out: [dockerbr]}
control: {socket: $TMP/xigmp.sock}
YAML
cat "$TMP/edge.yaml"
DAEMON_LOG=$TMP/edge.log start_daemon "$TMP/edge.yaml" || { echo "demo: the daemon did not start" >&2; exit 1; }
sleep 0.5

step "c1, c2 (on dockerbr) and c3 (on vc3) join 239.3.3.3, c3 also 239.6.6.6; xigmp is their querier and reports once upstream"
ip -n "$C1" addr add 239.3.3.3/32 dev eth0 autojoin
ip -n "$C2" addr add 239.3.3.3/32 dev eth0 autojoin
ip -n "$C3" addr add 239.3.3.3/32 dev eth0 autojoin
ip -n "$C3" addr add 239.6.6.6/32 dev eth0 autojoin
sleep 2
"$XIGMP" --netns "$PX" groups --socket "$TMP/xigmp.sock" | sed 's/^/   /'
echo "upstream querier's table:"; bridge -n "$UP" mdb show | grep 239.3.3.3 | sed 's/^/   /'

step "a source upstream (10.10.0.1) sends 200 datagrams each to 239.3.3.3, 239.6.6.6 and 239.4.4.4 (not joined), TTL 8"
for c in $C1 $C2 $C3; do ip netns exec "$c" $PY $TOOL sniff eth0 3 >"$TMP/$c.data" & done
sleep 0.4
for g in 239.3.3.3 239.6.6.6 239.4.4.4; do ip netns exec "$UP" $PY $TOOL send $g 200 10.10.0.1; done
sleep 3
for c in $C1 $C2 $C3; do
	$PY scripts/demo_views.py flows "$TMP/$c.data" "$c"
done
for c in $C1 $C3; do
	grep -q '"10.10.0.1>239.3.3.3": {"count": 200' "$TMP/$c.data" || { echo "demo: $c did not get the 239.3.3.3 stream" >&2; exit 1; }
done
grep -q '"10.10.0.1>239.6.6.6": {"count": 200' "$TMP/$C3.data" || { echo "demo: c3 did not get the 239.6.6.6 stream" >&2; exit 1; }
grep -q '239.6.6.6' "$TMP/$C1.data" && { echo "demo: 239.6.6.6 reached dockerbr, which never joined it" >&2; exit 1; }
grep -q '239.4.4.4' "$TMP/$C1.data" "$TMP/$C3.data" && { echo "demo: an unjoined group was forwarded" >&2; exit 1; }
"$XIGMP" --netns "$PX" routes --socket "$TMP/xigmp.sock" | sed 's/^/   /'
echo "   (239.6.6.6 goes only to the veth vc3: the XDP path. 239.3.3.3 also goes to dockerbr, a"
echo "    bridge with no XDP transmit: the TC path clones it into the bridge, installed at join"
echo "    time, no kernel multicast routing needed; with unmatched: drop XDP passes that entry's"
echo "    traffic on to TC. See README: Forwarding)"

step "everyone leaves: last-member queries, the entries go, the upstream hears the leaves"
ip -n "$C1" addr del 239.3.3.3/32 dev eth0
ip -n "$C2" addr del 239.3.3.3/32 dev eth0
ip -n "$C3" addr del 239.3.3.3/32 dev eth0
ip -n "$C3" addr del 239.6.6.6/32 dev eth0
sleep 2
"$XIGMP" --netns "$PX" routes --socket "$TMP/xigmp.sock" | sed 's/^/   /'
echo "upstream querier's table for 239.3.3.3:"; bridge -n "$UP" mdb show | grep 239.3.3.3 | sed 's/^/   /' || echo "   (gone)"

step "shutdown"
stop_daemon || true
tail -2 "$TMP/edge.log"
ip -n "$PX" -d link show | grep -q prog/xdp && { echo "demo: XDP left attached" >&2; exit 1; }
ip netns exec "$PX" ip mroute show 2>/dev/null | grep -q . && { echo "demo: multicast routes left behind" >&2; exit 1; }
tc -n "$PX" filter show dev out0 ingress 2>/dev/null | grep -q xigmp && { echo "demo: a TC filter left behind" >&2; exit 1; }

# ---- act 3: a docker-like network created after xigmp starts, deleted, re-created ----
step "act 3: docker-style networks come and go (inside: \"br-*\"); xigmp runs first and waits"
new_ns "$C4"
ip netns exec "$C4" sysctl -qw net.ipv4.conf.all.force_igmp_version=3
cat >"$TMP/docker.yaml" <<YAML
interfaces: {outside: out0, inside: "br-*"}
modes: {queryNotify: true}
membership: track
querier:
  inside: {queryInterval: 10s, queryResponseInterval: 1s, startupQueryInterval: 1s, lastMemberQueryInterval: 300ms}
forwarding: {mode: xdp}
control: {socket: $TMP/docker.sock}
YAML
cat "$TMP/docker.yaml"
SOCK=$TMP/docker.sock DAEMON_LOG=$TMP/docker.log start_daemon "$TMP/docker.yaml" ||
	{ echo "demo: the daemon did not start" >&2; exit 1; }
"$XIGMP" --netns "$PX" status --socket "$TMP/docker.sock" | grep -E 'daemon|waiting|inside' | sed 's/^/   /'
# A source upstream, about 400 packets/s to 239.7.7.7, for the whole act.
ip netns exec "$UP" $PY $TOOL send 239.7.7.7 40000 10.10.0.1 >/dev/null 2>&1 &
PIDS+=($!)
network() { # network: `docker network create` + a container on it, as docker does it
	ip -n "$C4" link del eth0 2>/dev/null || true
	ip -n "$PX" link add vc4 type veth peer name eth0 netns "$C4"
	ip -n "$C4" addr add 10.40.0.14/24 dev eth0; ip -n "$C4" link set eth0 up
	ip netns exec "$C4" $PY netns-tests/igmp_sniff.py eth0 6 >"$TMP/c4.igmp" &
	ip netns exec "$C4" $PY $TOOL sniff eth0 6 >"$TMP/c4.data" &
	sleep 0.5
	T_UP=$(date +%s.%N)
	ip -n "$PX" link add br-c4 type bridge mcast_snooping 0
	ip -n "$PX" addr add 10.40.0.1/24 dev br-c4
	ip -n "$PX" link set vc4 master br-c4 up
	ip -n "$PX" link set br-c4 up
	# The container starts on the network a moment after it exists (a join
	# sent in the same instant can meet a bridge port not yet forwarding).
	sleep 0.3
	ip -n "$C4" addr add 239.7.7.7/32 dev eth0 autojoin 2>/dev/null || true
	sleep 5.3
}
figures() { # what c4 saw: interface up -> first startup query; its report -> first datagram
	$PY scripts/demo_views.py figures "$TMP/c4.igmp" "$TMP/c4.data" "$T_UP"
}
step "docker network create: br-c4 with container c4 (10.40.0.14), which joins 239.7.7.7"
network
figures || { echo "demo: c4 did not get its group on the new bridge" >&2; exit 1; }
"$XIGMP" --netns "$PX" routes --socket "$TMP/docker.sock" | sed 's/^/   /'
step "docker network rm: br-c4 deleted while c4 is a member; the upstream hears the leave at once"
ip -n "$PX" link del br-c4
sleep 0.5
"$XIGMP" --netns "$PX" status --socket "$TMP/docker.sock" | grep -E 'waiting|inside' | sed 's/^/   /'
echo "upstream querier's table for 239.7.7.7:"; bridge -n "$UP" mdb show | grep 239.7.7.7 | sed 's/^/   /' || echo "   (gone)"
step "re-created (a new ifindex): startup queries, c4 re-joins, the stream resumes"
network
figures || { echo "demo: c4 did not get its group on the re-created bridge" >&2; exit 1; }
grep -E 'port closed|br-c4: xdp|waiting for' "$TMP/docker.log" | sed 's/^.*\] /   log: /'
stop_daemon || true
ip -n "$PX" -d link show | grep -q prog/xdp && { echo "demo: XDP left attached" >&2; exit 1; }

echo "demo: done (nothing left attached; namespaces removed on exit)"
