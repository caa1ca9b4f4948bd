#!/usr/bin/env bash
# The daemon against real peers: Linux hosts inside, queriers outside, over
# the XDP datapath. Modes on and off, unicast translation, alt switching at
# runtime, no loop in full-proxy mode on a reflecting segment, clean
# shutdown, bad configs refused with nothing attached.
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root

U=xgt-du-$$ U2=xgt-du2-$$ P=xgt-dp-$$ H=xgt-dh-$$
for ns in $U $U2 $P $H; do new_ns "$ns"; done
veth_pair "$U" uo 10.1.0.1/24 "$P" po 10.1.0.2/24
veth_pair "$U2" ua 10.3.0.1/24 "$P" pa 10.3.0.2/24
veth_pair "$P" pi 10.2.0.1/24 "$H" hi 10.2.0.2/24
ip netns exec "$H" sysctl -qw net.ipv4.conf.hi.force_igmp_version=3
tmp_dir TMP
DAEMON_NS=$P
SOCK=$TMP/control.sock

config() { # config FILE MODES...
	local f=$1; shift
	{ echo "interfaces: {outside: po, alt: pa, inside: pi}"
	  echo "control: {socket: $SOCK}"
	  echo "metrics: {listen: \"127.0.0.1:19741\"}"
	  echo "modes:"; for m in "$@"; do echo "  $m: true"; done; } >"$f"
}

echo "== full proxy: joins go up, queries come down"
config "$TMP/full.yaml" proxyOutToIn proxyInToOut unicastProxyInToOut
start_daemon "$TMP/full.yaml" || exit 1
# The control socket exists before its thread and the loop's have started
# and named themselves: wait for the names (5 s, scaled) before judging.
thread_names() { cat /proc/"$DAEMON"/task/*/comm 2>/dev/null | grep '^xigmp-' | sort | tr '\n' ' ' | sed 's/ $//'; }
for ((i = 0; i < $(scaled 50 | cut -d. -f1); i++)); do
	[ "$(thread_names)" = "xigmp-control xigmp-loop xigmp-metrics" ] && break
	sleep 0.1
done
expect_eq "the daemon's threads carry their names in the kernel (top -H, ps -L, perf)" \
	"xigmp-control xigmp-loop xigmp-metrics" "$(thread_names)"
listen "$U" uo 6; listen "$H" hi 6; sleep 1
ip -n "$H" addr add 239.8.8.8/32 dev hi autojoin
sleep 1
"$XIGMP" --netns "$U" query --iface uo --datapath kernel --igmp-version 3 --max-resp 1s >/dev/null
sleep 4
expect_eq "H's join reached upstream from the proxy's outside address" yes \
	"$([ "$(seen "$U" "d.get('src')=='10.1.0.2' and d.get('type')=='v3_report' and any(r['group']=='239.8.8.8' for r in d['records'])")" -ge 2 ] && echo yes)"
expect_eq "the upstream query reached H from the proxy's inside address" 1 \
	"$(seen "$H" "d.get('src')=='10.2.0.1' and d.get('type')=='query'")"

echo "== unicast translation: a report sent to the proxy's inside address goes up as multicast, once"
listen "$U" uo 3; sleep 1
"$XIGMP" --netns "$H" report --iface hi --datapath kernel --igmp-version 2 --group 239.9.9.9 --to 10.2.0.1 >/dev/null
sleep 2
expect_eq "translated v2 report to its group, exactly once" 1 \
	"$(seen "$U" "d.get('type')=='v2_report' and d.get('group')=='239.9.9.9' and d.get('dst')=='239.9.9.9' and d.get('src')=='10.1.0.2'")"

echo "== client API (membership-reporter in H): reports and a leave through the proxy, answers to queries"
REPORTER=$(dirname "$XIGMP")/membership-reporter
listen "$U" uo 9; sleep 1
ip netns exec "$H" "$REPORTER" --iface hi --proxy 10.2.0.1 --group 239.6.6.6 --igmp-version 2 \
	--interval 2 --duration 6 >"$TMP/reporter.log" 2>&1 &
R=$!; sleep 3
"$XIGMP" --netns "$U" query --iface uo --datapath kernel --igmp-version 2 --max-resp 500ms >/dev/null
wait $R; sleep 1
cat "$TMP/reporter.log" | sed 's/^/    /'
check "reporter answered the query proxied inside (queryNotify)" grep -q "query from 10.2.0.1" "$TMP/reporter.log"
expect_eq "its unicast reports went up translated, as v2 reports to the group" yes \
	"$([ "$(seen "$U" "d.get('type')=='v2_report' and d.get('group')=='239.6.6.6' and d.get('src')=='10.1.0.2'")" -ge 3 ] && echo yes)"
expect_eq "its leave at exit went up to 224.0.0.2" 1 \
	"$(seen "$U" "d.get('type')=='v2_leave' and d.get('group')=='239.6.6.6' and d.get('dst')=='224.0.0.2'")"

echo "== alt switching at runtime"
out=$("$XIGMP" outside alt --socket "$SOCK" 2>&1)
check "xigmp outside alt" grep -q "active outside: alt (pa)" <<<"$out"
check "status shows alt active" bash -c "'$XIGMP' --netns $P status --socket $SOCK | grep -q 'active outside alt (pa)'"
listen "$U" uo 4; listen "$U2" ua 4; listen "$H" hi 4; sleep 1
"$XIGMP" --netns "$U" query --iface uo --datapath kernel --igmp-version 3 --max-resp 1s >/dev/null
"$XIGMP" --netns "$U2" query --iface ua --datapath kernel --igmp-version 3 --group 239.8.8.8 --max-resp 1s >/dev/null
sleep 3
expect_eq "query from the inactive primary is not proxied inside" 0 \
	"$(seen "$H" "d.get('type')=='query' and d.get('group') is None")"
expect_eq "query from the active alt is proxied inside" 1 \
	"$(seen "$H" "d.get('type')=='query' and d.get('group')=='239.8.8.8'")"
expect_eq "H's answer leaves through alt" yes \
	"$([ "$(seen "$U2" "d.get('src')=='10.3.0.2' and d.get('type')=='v3_report'")" -ge 1 ] && echo yes)"
expect_eq "nothing leaves through the inactive primary" 0 "$(seen "$U" "d.get('src')=='10.1.0.2'")"
"$XIGMP" outside primary --socket "$SOCK" >/dev/null

echo "== metrics"
m=$(ip netns exec "$P" $PY netns-tests/http_get.py http://127.0.0.1:19741/metrics)
check "per-mode forwarded counters" grep -qE 'xigmp_forwarded_total\{mode="proxyInToOut",role="outside",ifname="po"\} [1-9]' <<<"$m"
check "query->report latency histogram" grep -qE 'xigmp_query_to_report_seconds_count [1-9]' <<<"$m"
check "policy counters (inactive outside dropped)" grep -qE 'xigmp_policy_total\{counter="dropped_inactive_outside"\} [1-9]' <<<"$m"

echo "== SIGTERM: everything detached"
stop_daemon; rc=$?
expect_eq "daemon exits 0 on SIGTERM" 0 "$rc"
for i in po pa pi; do check "no XDP left on $i" bash -c "! ip -n $P -d link show $i | grep -q prog/xdp"; done
check "ALLMULTI released on po" bash -c "ip -n $P -d link show po | grep -q 'allmulti 0'"
check "control socket removed" test ! -e "$SOCK"

echo "== a mode off is a mode absent: only unicast translation"
config "$TMP/xlate.yaml" unicastProxyInToOut
start_daemon "$TMP/xlate.yaml" || exit 1
listen "$U" uo 4; listen "$H" hi 4; sleep 1
ip -n "$H" addr add 239.8.8.9/32 dev hi autojoin
"$XIGMP" --netns "$U" query --iface uo --datapath kernel --igmp-version 3 --max-resp 1s >/dev/null
"$XIGMP" --netns "$H" report --iface hi --datapath kernel --igmp-version 3 --group 239.9.9.8 --to 10.2.0.1 >/dev/null
sleep 3
expect_eq "proxyInToOut off: H's multicast join stays inside" 0 \
	"$(seen "$U" "d.get('type')=='v3_report' and any(r['group']=='239.8.8.9' for r in d['records'])")"
expect_eq "proxyOutToIn off: the query stays outside" 0 "$(seen "$H" "d.get('type')=='query'")"
expect_eq "unicastProxyInToOut on: the unicast v3 report goes up to 224.0.0.22" 1 \
	"$(seen "$U" "d.get('type')=='v3_report' and d.get('dst')=='224.0.0.22' and any(r['group']=='239.9.9.8' for r in d['records'])")"
stop_daemon

echo "== and the other way round: proxyInToOut only, unicast translation off"
config "$TMP/inout.yaml" proxyInToOut
start_daemon "$TMP/inout.yaml" || exit 1
listen "$U" uo 4; sleep 1
ip -n "$H" addr add 239.8.8.10/32 dev hi autojoin
"$XIGMP" --netns "$H" report --iface hi --datapath kernel --igmp-version 3 --group 239.9.9.7 --to 10.2.0.1 >/dev/null
sleep 3
expect_eq "proxyInToOut on: H's multicast join goes up" yes \
	"$([ "$(seen "$U" "d.get('type')=='v3_report' and any(r['group']=='239.8.8.10' for r in d['records'])")" -ge 1 ] && echo yes)"
expect_eq "unicastProxyInToOut off: the unicast report stays inside" 0 \
	"$(seen "$U" "d.get('type')=='v3_report' and any(r['group']=='239.9.9.7' for r in d['records'])")"
stop_daemon

echo "== full proxy on a reflecting segment: bounded, no loop"
# outside and inside on the same bridge: every frame the proxy sends on one
# side comes back in on the other. The own-frame filter must stop it.
S=xgt-ds-$$; new_ns "$S"
ip netns exec "$S" ip link add br0 type bridge mcast_snooping 0
ip -n "$S" link set br0 up
for p in po pi; do ip -n "$P" link set "$p" down; done
ip -n "$P" link add ro type veth peer name sro netns "$S"
ip -n "$P" link add ri type veth peer name sri netns "$S"
ip -n "$P" addr add 10.5.0.2/24 dev ro; ip -n "$P" addr add 10.5.0.3/24 dev ri
for p in ro ri; do ip -n "$P" link set "$p" up; ip -n "$S" link set "s$p" master br0 up; done
ip -n "$S" link add sq type veth peer name q0 netns "$U"
ip -n "$S" link set sq master br0 up; ip -n "$U" addr add 10.5.0.1/24 dev q0; ip -n "$U" link set q0 up
cat >"$TMP/loop.yaml" <<YAML
interfaces: {outside: ro, inside: ri}
control: {socket: $SOCK}
modes: {proxyOutToIn: true, proxyInToOut: true, unicastProxyInToOut: true}
YAML
start_daemon "$TMP/loop.yaml" || exit 1
listen "$U" q0 11; sleep 1
"$XIGMP" --netns "$U" query --iface q0 --datapath kernel --igmp-version 3 --max-resp 1s >/dev/null
"$XIGMP" --netns "$U" report --iface q0 --datapath kernel --igmp-version 2 --group 239.7.7.7 >/dev/null
sleep 10
n=$(grep -c . "$TMP/$U.json")
echo "  IGMP frames on the segment in 10 s: $n"
check "bounded (< 20 frames in 10 s)" test "$n" -lt 20
stop_daemon

echo "== bad configs: message with file:line, exit 2, nothing attached"
bad() { # bad NAME PATTERN YAML
	printf '%s\n' "$3" >"$TMP/$1.yaml"
	expect_exit "$1" 2 "$2" timeout 20 "$XIGMP" --netns "$P" run --config "$TMP/$1.yaml"
	check "$1: nothing attached" bash -c "! ip -n $P -d link show | grep -q prog/xdp"
}
bad unknown-key "unknown-key.yaml:[0-9]+.*modes.proxyOutToInn.*did you mean" "$(printf 'interfaces: {outside: po, inside: pi}\nmodes:\n  proxyOutToInn: true')"
bad wrong-type "wrong-type.yaml:2.*modes.proxyOutToIn" "$(printf 'interfaces: {outside: po, inside: pi}\nmodes: {proxyOutToIn: maybe}')"
bad missing-required "missing-required.yaml:1.*interfaces.required.*no interface named 'nope0'" "$(printf 'interfaces: {outside: nope0, inside: pi, required: [nope0]}\nmodes: {proxyOutToIn: true}')"
bad alt-not-set "alt-not-set.yaml.*activeOutside" "$(printf 'interfaces: {outside: po, inside: pi}\nactiveOutside: alt\nmodes: {proxyOutToIn: true}')"
bad syntax "syntax.yaml:[0-9]+" "$(printf 'interfaces: {outside: po, inside: pi\nmodes: [')"

finish
