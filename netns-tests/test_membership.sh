#!/usr/bin/env bash
# membership: track (RFC 4605) against real peers. Linux hosts (IGMPv2 and
# IGMPv3) on a Linux bridge inside join and leave through xigmp's membership
# table; the upstream sees xigmp's own reports. xigmp's querier and the
# bridge's querier elect the lower address; a membership survives query
# cycles and expires on silence within the group membership interval.
#
#   U (10.1.0.1, upstream) uo ── po [P: xigmp] pi ── si [S: br0] ── h2 (H2, IGMPv2 host)
#                                                              └── h3 (H3, IGMPv3 host)
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root

U=xgt-mu-$$ P=xgt-mp-$$ S=xgt-ms-$$ H2=xgt-mh2-$$ H3=xgt-mh3-$$
for ns in $U $P $S $H2 $H3; do new_ns "$ns"; done
veth_pair "$U" uo 10.1.0.1/24 "$P" po 10.1.0.2/24
ip -n "$P" link add pi type veth peer name si netns "$S"
ip -n "$P" addr add 10.2.0.10/24 dev pi
ip -n "$H2" link add h2 type veth peer name s2 netns "$S"
ip -n "$H3" link add h3 type veth peer name s3 netns "$S"
ip -n "$H2" addr add 10.2.0.2/24 dev h2
ip -n "$H3" addr add 10.2.0.3/24 dev h3
make_bridge() { # make_bridge [QUERIER-ADDRESS]: br0 afresh, querying from that address every 2 s
	ip -n "$S" link del br0 2>/dev/null
	if [ -n "${1:-}" ]; then
		ip -n "$S" link add br0 type bridge mcast_querier 1 mcast_query_use_ifaddr 1 mcast_query_interval 200 \
			mcast_query_response_interval 100 mcast_startup_query_interval 100 mcast_querier_interval 600
		ip -n "$S" addr add "$1/24" dev br0
	else
		ip -n "$S" link add br0 type bridge
	fi
	for p in si s2 s3; do ip -n "$S" link set "$p" master br0; ip -n "$S" link set "$p" up; done
	ip -n "$S" link set br0 up
	# xigmp's port is a permanent multicast router port: with snooping on, the
	# bridge forwards reports only to router ports, and a non-querier proxy
	# must still hear them (RFC 4605 §4).
	ip netns exec "$S" bridge link set dev si mcast_router 2
}
make_bridge
ip -n "$P" link set pi up; ip -n "$H2" link set h2 up; ip -n "$H3" link set h3 up
ip netns exec "$H2" sysctl -qw net.ipv4.conf.h2.force_igmp_version=2
ip netns exec "$H3" sysctl -qw net.ipv4.conf.h3.force_igmp_version=3

tmp_dir TMP
DAEMON_NS=$P
JOINER=
T_CLEANUP_HOOKS+=('[ -z "$JOINER" ] || kill $JOINER 2>/dev/null')
SOCK=$TMP/control.sock

groups_json() { "$XIGMP" groups --socket "$SOCK" --json; }
group_fields() { # group_fields GROUP PATH...: values of GROUP's entry in the inside table
	local g=$1 p paths=()
	shift
	for p in "$@"; do paths+=("interfaces/[role=inside]/groups/[group=$g]/$p"); done
	groups_json | jsonq "${paths[@]}"
}
has_group() { # has_group GROUP: yes when the inside table has it, else no
	groups_json | jsonq --test "interfaces/[role=inside]/groups/[group=$1]" && echo yes || echo no
}

cat >"$TMP/track.yaml" <<EOF
interfaces: {outside: po, inside: pi}
control: {socket: $SOCK}
modes: {queryNotify: true}
membership: track
querier:
  inside:
    queryInterval: 4s
    queryResponseInterval: 1s
    startupQueryInterval: 1s
    lastMemberQueryInterval: 500ms
EOF

echo "== track: Linux v2 and v3 hosts join through xigmp's table; the upstream hears xigmp"
start_daemon "$TMP/track.yaml" || exit 1
listen "$U" uo 5 up1; sleep 0.5
ip -n "$H2" addr add 239.5.5.2/32 dev h2 autojoin
# An IGMPv3 source-specific join (INCLUDE {10.1.0.1}) held by a process.
ip netns exec "$H3" $PY netns-tests/mcast_tool.py hold 232.5.5.3 10.1.0.1 600 10.2.0.3 &
JOINER=$!
sleep 4.5
expect_eq "H2's v2 join went upstream as xigmp's TO_EX from 10.1.0.2 (with its retransmission)" 2 \
	"$(seen up1 "d.get('src')=='10.1.0.2' and d.get('type')=='v3_report' and any(r['group']=='239.5.5.2' and r['type']=='to_ex' for r in (d.get('records') or []))")"
expect_eq "H3's source-specific join went upstream as ALLOW(10.1.0.1)" yes \
	"$([ "$(seen up1 "d.get('src')=='10.1.0.2' and any(r['group']=='232.5.5.3' and r['type']=='allow' and r['sources']==['10.1.0.1'] for r in (d.get('records') or []))")" -ge 1 ] && echo yes)"
expect_eq "no host's own report reached the upstream (xigmp reports, hosts don't pass)" 0 \
	"$(seen up1 "d.get('src','').startswith('10.2.0.')")"
expect_eq "no link-local group went upstream" 0 \
	"$(seen up1 "any(r['group'].startswith('224.0.0.') for r in (d.get('records') or []))")"
expect_eq "groups: 239.5.5.2 is EXCLUDE in IGMPv2 compatibility, reported by H2" "exclude v2 10.2.0.2" \
	"$(group_fields 239.5.5.2 filter_mode compatibility last_reporter)"
expect_eq "groups: 232.5.5.3 is INCLUDE with source 10.1.0.1 forwarding" "include 10.1.0.1" \
	"$(group_fields 232.5.5.3 filter_mode 'sources/[forwarding=True]/address')"
"$XIGMP" groups --socket "$SOCK" >"$TMP/groups.txt"
check "groups prints the table for a person" grep -q "239.5.5.2 *exclude" "$TMP/groups.txt"

echo "== an upstream query is answered from the table, not forwarded inside"
listen "$U" uo 3 up2; listen "$H2" h2 3 h2q; sleep 0.5
"$XIGMP" --netns "$U" query --iface uo --datapath kernel --igmp-version 3 --max-resp 1s >/dev/null
sleep 2.5
expect_eq "xigmp answered with IS_EX(239.5.5.2) and IS_IN(232.5.5.3)" 1 \
	"$(seen up2 "d.get('src')=='10.1.0.2' and {(r['group'],r['type']) for r in (d.get('records') or [])}=={('239.5.5.2','is_ex'),('232.5.5.3','is_in')}")"
expect_eq "the upstream query did not reach the inside hosts" 0 "$(seen h2q "d.get('type')=='query' and d.get('src')=='10.1.0.1'")"

echo "== the membership survives query cycles (hosts answer xigmp's queries)"
sleep 10
expect_eq "after 3 query intervals 239.5.5.2 is still there" yes "$(has_group 239.5.5.2)"

echo "== a v2 leave: last-member queries, then TO_IN({}) upstream"
listen "$U" uo 4 up3; listen "$H2" h2 4 h2l; sleep 0.5
ip -n "$H2" addr del 239.5.5.2/32 dev h2
sleep 3
expect_eq "xigmp sent group-specific queries for 239.5.5.2" yes \
	"$([ "$(seen h2l "d.get('type')=='query' and d.get('group')=='239.5.5.2' and d.get('src')=='10.2.0.10'")" -ge 2 ] && echo yes)"
expect_eq "the leave went upstream as TO_IN({})" yes \
	"$([ "$(seen up3 "d.get('src')=='10.1.0.2' and any(r['group']=='239.5.5.2' and r['type']=='to_in' and not r['sources'] for r in (d.get('records') or []))")" -ge 1 ] && echo yes)"
expect_eq "the group is gone from the table" no "$(has_group 239.5.5.2)"

echo "== silence: a host that vanishes without a leave expires within the group membership interval"
# GMI = robustness 2 x 4 s + 1 s = 9 s after the last report.
ip -n "$S" link set s3 down
t0=$(date +%s.%N)
gone=
for _ in $(seq 140); do
	if [ "$(has_group 232.5.5.3)" = no ]; then gone=$(date +%s.%N); break; fi
	sleep 0.1
done
if [ -n "$gone" ]; then
	secs=$(awk -v a="$gone" -v b="$t0" 'BEGIN { printf "%.1f\n", a - b }')
	# The last report was up to one query interval (4 s) before the link went
	# down, so expiry is due 5–9 s later; 0.6 s of slack for the polling.
	in_window() { num_cmp "$1" '>=' 4.4 && num_cmp "$1" '<=' 9.6; }
	check "232.5.5.3 expired ${secs} s after H3 went silent (GMI 9 s after its last report)" in_window "$secs"
else
	fail "232.5.5.3 never expired after H3 went silent"
fi
kill $JOINER 2>/dev/null; JOINER=
stop_daemon
check "the daemon's log has no warnings or errors" bash -c "! grep -E ' (warning|error|critical) ' '$TMP/daemon.log'"

echo "== querier election against the Linux bridge querier"
cat >"$TMP/querier.yaml" <<EOF
interfaces: {outside: po, inside: pi}
control: {socket: $SOCK}
modes: {queryNotify: true}
membership: track
querier:
  inside: {queryInterval: 2s, queryResponseInterval: 1s, startupQueryInterval: 500ms}
EOF
# The bridge at 10.2.0.200 (higher than xigmp's 10.2.0.10): xigmp wins, the bridge goes quiet.
make_bridge 10.2.0.200
listen "$H2" h2 1.8 el0; sleep 2
expect_eq "the bridge querier runs (queries from 10.2.0.200 before xigmp starts)" yes \
	"$([ "$(seen el0 "d.get('type')=='query' and d.get('src')=='10.2.0.200'")" -ge 1 ] && echo yes)"
start_daemon "$TMP/querier.yaml" || exit 1
sleep 5
listen "$H2" h2 8 el1; sleep 8.5
expect_eq "bridge 10.2.0.200 vs xigmp 10.2.0.10: no query from the bridge after the election" 0 \
	"$(seen el1 "d.get('type')=='query' and d.get('src')=='10.2.0.200'")"
expect_eq "xigmp keeps querying (every 2 s)" yes \
	"$([ "$(seen el1 "d.get('type')=='query' and d.get('src')=='10.2.0.10'")" -ge 3 ] && echo yes)"
stop_daemon
# The bridge at 10.2.0.5 (lower): the bridge wins, xigmp goes quiet.
make_bridge 10.2.0.5
start_daemon "$TMP/querier.yaml" || exit 1
sleep 4
listen "$H2" h2 8 el2; sleep 8.5
expect_eq "bridge 10.2.0.5 vs xigmp 10.2.0.10: no query from xigmp after the election" 0 \
	"$(seen el2 "d.get('type')=='query' and d.get('src')=='10.2.0.10'")"
expect_eq "the bridge keeps querying" yes \
	"$([ "$(seen el2 "d.get('type')=='query' and d.get('src')=='10.2.0.5'")" -ge 3 ] && echo yes)"
expect_eq "groups shows xigmp as non-querier with 10.2.0.5 the querier" "non-querier 10.2.0.5" \
	"$(groups_json | jsonq --default None interfaces/0/querier/role interfaces/0/querier/querier)"
# A member still reaches the upstream through the quiet proxy.
listen "$U" uo 3 up4; sleep 0.5
ip -n "$H2" addr add 239.5.5.9/32 dev h2 autojoin
sleep 2.5
expect_eq "a join under the bridge's querier still goes upstream" yes \
	"$([ "$(seen up4 "d.get('src')=='10.1.0.2' and any(r['group']=='239.5.5.9' for r in (d.get('records') or []))")" -ge 1 ] && echo yes)"
stop_daemon

echo "== the TC egress filter: the proxy host's own kernel may report allowed groups only"
cat >"$TMP/egress.yaml" <<EOF
interfaces: {outside: po, inside: pi}
control: {socket: $SOCK}
modes: {queryNotify: true}
membership: track
egressFilter: {allow: [239.1.0.0/16]}
EOF
start_daemon "$TMP/egress.yaml" || exit 1
sleep 0.5
listen "$U" uo 3 eg; sleep 0.5
ip -n "$P" addr add 239.1.2.3/32 dev po autojoin
sleep 1.5   # its retransmission is done before the next join
ip -n "$P" addr add 239.9.9.9/32 dev po autojoin
sleep 1.5
expect_eq "the host's report for 239.1.2.3 left (allowed)" yes \
	"$([ "$(seen eg "any(r['group']=='239.1.2.3' for r in (d.get('records') or []))")" -ge 1 ] && echo yes)"
expect_eq "nothing about 239.9.9.9 left" 0 \
	"$(seen eg "any(r['group']=='239.9.9.9' for r in (d.get('records') or [])) or d.get('group')=='239.9.9.9'")"
expect_eq "groups counts the egress drops" yes \
	"$(groups_json | jsonq --default 0 counters/po/egress_dropped counters/po/egress_allowed | {
		read -r dropped allowed
		[ "$dropped" -ge 1 ] && [ "$allowed" -ge 1 ] && echo yes || echo "egress_dropped $dropped, egress_allowed $allowed"
	})"
stop_daemon
check "the egress filter is gone after the daemon stops" bash -c "[ -z \"\$(ip netns exec $P tc filter show dev po egress)\" ]"

echo "== bad membership configs are refused with file:line"
cat >"$TMP/bad.yaml" <<EOF
interfaces: {outside: po, inside: pi}
control: {socket: $SOCK}
modes: {proxyInToOut: true}
membership: track
querier:
  inside: {queryInterval: 5s, queryResponseInterval: 10s}
EOF
out=$("$XIGMP" --netns "$P" run --config "$TMP/bad.yaml" 2>&1); rc=$?
expect_eq "exit status 2" 2 "$rc"
check "the forwarding mode is named with its line" grep -q "bad.yaml:3: modes.proxyInToOut" <<<"$out"
check "the interval rule is named with its line" grep -q "bad.yaml:6: querier.inside: query response interval must be shorter" <<<"$out"

finish
