#!/usr/bin/env bash
# demo.sh - xigmp's classifier on a self-made namespace topology:
#
#   h1 (IGMPv2 host) --veth-- [rv1]            router namespace:
#                                  br0 (bridge, IGMP snooping + querier)
#   h2 (IGMPv3 host) --veth-- [rv2]            xigmp on rv1 and rv2
#
# Real Linux hosts join and leave groups; the bridge's querier asks; the
# XDP classifier counts every report, leave and query it sees while live
# stats print. Everything is torn down on exit, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
XIGMP=${XIGMP:-.build/release/xigmp}
source netns-tests/lib.sh   # namespaces, teardown at exit
[ "$(id -u)" == 0 ] || { echo "demo: needs root (namespaces, XDP): sudo make demo" >&2; exit 1; }
[ -x "$XIGMP" ] || { echo "demo: $XIGMP missing: run make demo" >&2; exit 1; }

R=xgdemo-rtr-$$; H1=xgdemo-h1-$$; H2=xgdemo-h2-$$
WATCH_PID=
T_CLEANUP_HOOKS+=('[ -z "$WATCH_PID" ] || kill "$WATCH_PID" 2>/dev/null')
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "topology: $H1 (IGMPv2) and $H2 (IGMPv3) on bridge br0 in $R"
for ns in $R $H1 $H2; do new_ns "$ns"; done
ip -n "$R" link add br0 type bridge mcast_snooping 1 mcast_querier 1 \
	mcast_igmp_version 3 mcast_query_interval 400 mcast_query_response_interval 100 mcast_startup_query_count 1
ip -n "$R" addr add 10.88.0.1/24 dev br0
i=1
for h in $H1 $H2; do
	veth_pair "$h" eth0 10.88.0.1$i/24 "$R" rv$i
	ip -n "$R" link set rv$i master br0
	i=$((i + 1))
done
ip -n "$R" link set br0 up
# Faster unsolicited reports so the demo fits in a minute (RFC default 10 s / 1 s).
ip netns exec "$H1" sysctl -qw net.ipv4.conf.eth0.force_igmp_version=2 net.ipv4.conf.all.igmpv2_unsolicited_report_interval=500
ip netns exec "$H2" sysctl -qw net.ipv4.conf.eth0.force_igmp_version=3 net.ipv4.conf.all.igmpv3_unsolicited_report_interval=500

step "xigmp load on the bridge ports (pinned bpf_link, IGMP action: pass)"
"$XIGMP" --netns "$R" load --iface rv1 --action pass
"$XIGMP" --netns "$R" load --iface rv2 --action pass
"$XIGMP" --netns "$R" status

step "live stats every second while hosts join and leave"
"$XIGMP" --netns "$R" stats --watch 1 --count 14 &
WATCH_PID=$!
sleep 1
echo ">> $H1 joins 239.1.1.1 and 239.1.1.2 (IGMPv2), $H2 joins 239.2.2.1 (IGMPv3)"
ip -n "$H1" addr add 239.1.1.1/32 dev eth0 autojoin
ip -n "$H1" addr add 239.1.1.2/32 dev eth0 autojoin
ip -n "$H2" addr add 239.2.2.1/32 dev eth0 autojoin
sleep 5
echo ">> the bridge learned (snooping):"
bridge -n "$R" mdb show | sed 's/^/   /'
echo ">> $H1 leaves 239.1.1.1 (v2 leave), $H2 leaves 239.2.2.1 (v3 TO_IN{})"
ip -n "$H1" addr del 239.1.1.1/32 dev eth0
ip -n "$H2" addr del 239.2.2.1/32 dev eth0
wait "$WATCH_PID" || true
WATCH_PID=

step "final counters (JSON)"
json=$("$XIGMP" --netns "$R" stats --json)
echo "$json"
get() { jsonq "interfaces/[ifname=$1]/counters/$2" <<<"$json"; }   # get IFACE COUNTER
v2r=$(get rv1 v2_report); v2l=$(get rv1 v2_leave); v3r=$(get rv2 v3_report); q=$(get rv1 query)
echo "rv1: $v2r v2 reports, $v2l v2 leaves; rv2: $v3r v3 reports (queries leave the bridge through rv1/rv2, so ingress XDP sees none there: $q)"
ok=1
[ "$v2r" -ge 2 ] || { echo "demo: expected >= 2 v2 reports on rv1" >&2; ok=0; }
[ "$v2l" -ge 1 ] || { echo "demo: expected a v2 leave on rv1" >&2; ok=0; }
[ "$v3r" -ge 2 ] || { echo "demo: expected >= 2 v3 reports on rv2" >&2; ok=0; }

step "unload and tear down"
"$XIGMP" --netns "$R" unload --all
[ "$ok" == 1 ] && echo "demo: done" || { echo "demo: counters did not show the expected IGMP" >&2; exit 1; }
