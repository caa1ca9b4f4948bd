#!/usr/bin/env bash
# Fast leave with explicit host tracking (querier.inside.fastLeave): two
# IGMPv3 hosts watch one group through xigmp; when one leaves the other
# keeps receiving with no gap over 20 ms; a spoofed leave from a third
# address, and one naming a watching host from another MAC, change nothing;
# when the last host leaves, the data stops within 5 ms of its leave on the
# wire. The same run with fastLeave off keeps the RFC's last-member queries.
#
#   U (10.1.0.1) uo ── po [P: xigmp] dk0 (a bridge in P, snooping off) ── h1 (H1 10.5.0.11)
#                                                                       ── h2 (H2 10.5.0.12)
#                                                                       ── h3 (H3 10.5.0.13, the spoofer)
# The bridge floods (snooping off), so what H2's wire carries is what xigmp
# forwards: nothing in the bridge keeps or cuts the group on its own.
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root

U=xgt-lu-$$ P=xgt-lp-$$ H1=xgt-l1-$$ H2=xgt-l2-$$ H3=xgt-l3-$$
for ns in $U $P $H1 $H2 $H3; do new_ns "$ns"; done
veth_pair "$U" uo 10.1.0.1/24 "$P" po 10.1.0.2/24
ip -n "$U" route add default via 10.1.0.2
ip -n "$P" link add dk0 type bridge mcast_snooping 0
ip -n "$P" addr add 10.5.0.1/24 dev dk0
bridge_port "$P" dk0 d1 "$H1" h1 10.5.0.11/24
bridge_port "$P" dk0 d2 "$H2" h2 10.5.0.12/24
bridge_port "$P" dk0 d3 "$H3" h3 10.5.0.13/24
ip -n "$P" link set dk0 up
for ns in $H1 $H2 $H3; do
	ip -n "$ns" route add default via 10.5.0.1
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.force_igmp_version=3
done

tmp_dir TMP
DAEMON_NS=$P
SENDER=
T_CLEANUP_HOOKS+=('[ -z "$SENDER" ] || kill $SENDER 2>/dev/null')
SOCK=$TMP/control.sock
TOOL=netns-tests/leave_tool.py
G=239.7.7.7

config() { # config FASTLEAVE
	cat >"$TMP/xigmp.yaml" <<YAML
interfaces: {outside: po, inside: dk0}
control: {socket: $SOCK}
membership: track
modes: {queryNotify: true}
querier:
  inside: {fastLeave: $1, queryInterval: 20s, queryResponseInterval: 1s, lastMemberQueryInterval: 1s}
forwarding: {mode: xdp}
YAML
}
groups_json() { "$XIGMP" groups --socket "$SOCK" --json; }
hosts_of() { # hosts_of GROUP: the tracked hosts' addresses, comma-separated
	groups_json | jsonq --join , --default '' "interfaces/*/groups/[group=$1]/hosts/*/address"
}
counter_of() { # counter_of NAME: the inside's membership counter
	groups_json | jsonq --sum "counters/*/$1"
}
field() { jsonq -f "$1" --lines last --default None "$2"; }   # field FILE KEY: from its last line
# stopped_within MS LIMIT: no frame after the leave (None), or the last one within LIMIT ms
stopped_within() { [ "$1" = None ] || num_cmp "$1" '<=' "$2"; }
watch() { # watch NS IF NAME LEAVE_AT: in the background
	rm -f "$TMP/$3.json"   # not the last case's: ready and done_ read this file
	ip netns exec "$1" $PY $TOOL watch "$2" $G "$(scaled 10)" "$(scaled "$4")" >"$TMP/$3.json" &
}
ready() { for _ in $(seq 200); do grep -q ready "$TMP/$1.json" 2>/dev/null && return 0; sleep 0.05; done; }
done_() { for _ in $(seq 300); do [ "$(grep -c . "$TMP/$1.json" 2>/dev/null)" -ge 2 ] && return 0; sleep 0.05; done; }

run_case() { # run_case FASTLEAVE
	config "$1"
	start_daemon "$TMP/xigmp.yaml" || exit 1
	sl 1.5   # fast leave acts once the startup query's response interval is over
	ip netns exec "$U" $PY netns-tests/mcast_tool.py send $G 12000 - 0.0008 &
	SENDER=$!
	watch "$H1" h1 w1 3; watch "$H2" h2 w2 8
	ready w1; ready w2
}

echo "== fast leave on: one of two hosts leaves, then spoofed leaves, then the last host"
run_case true
sl 2
expect_eq "both hosts are tracked, by IP (xigmp groups)" "10.5.0.11,10.5.0.12" "$(hosts_of $G)"
MAC2=$(ip netns exec "$H2" cat /sys/class/net/h2/address)
has_mac() { groups_json | grep -q "\"$1\""; }
check "and with their MACs" has_mac "$MAC2"
sl 2   # H1 has left (at 3 s)
expect_eq "after H1's leave only H2 is tracked" "10.5.0.12" "$(hosts_of $G)"
ip netns exec "$H3" $PY $TOOL spoof h3 10.5.0.13 "$(ip netns exec "$H3" cat /sys/class/net/h3/address)" $G
ip netns exec "$H3" $PY $TOOL spoof h3 10.5.0.12 02:00:00:00:00:99 $G
sl 0.3
expect_eq "a leave from a third address and one naming H2 from another MAC leave H2 tracked" "10.5.0.12" "$(hosts_of $G)"
check "the MAC mismatch is counted (leave_mac_mismatch)" test "$(counter_of leave_mac_mismatch)" -ge 1
done_ w1; done_ w2
expect_eq "H2 saw H1's leave go out and its own" "True True" "$(field "$TMP/w1.json" left) $(field "$TMP/w2.json" left)"
gap=$(field "$TMP/w2.json" max_gap_ms) lost=$(field "$TMP/w2.json" max_missing_run)
# The sender sends every 0.8 ms: 20 ms is 25 datagrams in a row. (The
# largest gap in time is shown, not judged: it includes the sender's own
# pauses on a busy machine.)
check "H2 kept receiving through H1's leave and the spoofs: no 20 ms of the stream lost (longest run lost: ${lost} datagrams; largest gap ${gap} ms; $(field "$TMP/w2.json" packets_before_leave) frames)" \
	num_cmp "$lost" '<' 25
last=$(field "$TMP/w2.json" last_after_leave_ms)
check "after the last host's leave the data stopped within 5 ms (last frame ${last} ms after the leave)" \
	stopped_within "$last" 5
expect_eq "one fast leave cut the group (fast_leave; H1's leave cut nothing)" 1 "$(counter_of fast_leave)"
expect_eq "the group is gone from the table" "" "$(hosts_of $G)"
kill $SENDER 2>/dev/null; wait $SENDER 2>/dev/null; SENDER=
stop_daemon
check "the daemon exits 0" test $? -eq 0

echo "== fast leave off (the default): the last leave waits for the last-member queries"
run_case false
done_ w1; done_ w2
last=$(field "$TMP/w2.json" last_after_leave_ms)
check "the data went on after the last leave until the queries ran out (${last} ms; lastMemberQueryInterval 1 s × 2)" \
	num_cmp "$last" '>=' 500
expect_eq "no fast leave counted" 0 "$(counter_of fast_leave)"
kill $SENDER 2>/dev/null; wait $SENDER 2>/dev/null; SENDER=
stop_daemon
check "the daemon exits 0" test $? -eq 0
finish
