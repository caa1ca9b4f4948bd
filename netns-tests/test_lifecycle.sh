#!/usr/bin/env bash
# Interfaces that come and go under a running daemon (rtnetlink-driven, no
# restart): a docker-like bridge (`br-*`) created after the daemon starts,
# deleted while a host is a member and re-created; two insides holding one
# group; an inside renumbered; link down/up; the outside losing its carrier
# with an alt and `activeOutside: auto`; 50 delete/re-create cycles without
# a leak; kill -9 during a re-creation storm. Real Linux hosts join with
# their own IGMP stack; the upstream is watched with an AF_PACKET sniffer.
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root

U=xgt-lu-$$ P=xgt-lp-$$ H=xgt-lh-$$ J=xgt-lj-$$ A=xgt-la-$$
for ns in $U $P $H $J $A; do new_ns "$ns"; done
veth_pair "$U" uo 10.1.0.1/24 "$P" po 10.1.0.2/24
veth_pair "$A" ua 10.7.0.1/24 "$P" pa 10.7.0.2/24
ip -n "$U" route add default via 10.1.0.2
for ns in $H $J; do ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.force_igmp_version=3; done
tmp_dir TMP
DAEMON_NS=$P
SNIFFERS=()
T_CLEANUP_HOOKS+=('for s in "${SNIFFERS[@]}"; do kill "$s" 2>/dev/null; done')
[ -z "${KEEP_LOG:-}" ] || T_CLEANUP_HOOKS+=('cp "$TMP/daemon.log" "$KEEP_LOG"')   # KEEP_LOG=FILE: the daemon's log kept
SOCK=$TMP/control.sock
SNIFF=netns-tests/igmp_sniff.py
TOOL=netns-tests/mcast_tool.py

# sniff NS IF SECONDS NAME [PREFIX]: IGMP on IF into $TMP/NAME.jsonl, awaited;
# with PREFIX only reports for groups starting with it (queries: none given).
sniff() {
	rm -f "$TMP/$4.jsonl"   # an earlier sniff's "ready" must not pass for this one's
	ip netns exec "$1" $PY $SNIFF "$2" "$3" ${5:-} >"$TMP/$4.jsonl" 2>/dev/null &
	SNIFFERS+=($!)
	for _ in $(seq 60); do grep -q ready "$TMP/$4.jsonl" 2>/dev/null && return; sleep 0.05; done
}
# heard NAME CONDITION: lines of $TMP/NAME.jsonl matching (CONDITION: a Python
# expression over d, the line; type 0x22 = v3 report).
heard() { jsonl_count "$TMP/$1.jsonl" "$2"; }
# wait_heard NAME PYEXPR SECONDS: until one such line is there.
wait_heard() {
	local i
	for i in $(seq $(( $3 * 20 ))); do [ "$(heard "$1" "$2")" -ge 1 ] && return 0; sleep 0.05; done
	return 1
}
# delivered NS IF GROUP: datagrams of 30 sent from upstream to GROUP that reach IF in NS.
delivered() {
	rm -f "$TMP/flow.json"   # the last flow's "ready" must not pass for this one's
	ip netns exec "$1" $PY $TOOL sniff "$2" 2.5 >"$TMP/flow.json" & local sn=$!
	for _ in $(seq 200); do grep -q ready "$TMP/flow.json" 2>/dev/null && break; sleep 0.05; done
	ip netns exec "$U" $PY $TOOL send "$3" 30 10.1.0.1
	wait $sn
	jsonq -f "$TMP/flow.json" --lines last --default 0 "10.1.0.1>$3/count"
}
# routed GROUP IF: until the daemon's entry for (*,GROUP) goes out IF (5 s).
routed() {
	local i
	for i in $(seq 100); do
		"$XIGMP" routes --socket "$SOCK" --json 2>/dev/null | jsonq --test "routes/[group=$1,out/*=$2]" && return 0
		sleep 0.05
	done
	return 1
}
status_json() { "$XIGMP" status --socket "$SOCK" --json; }
# status_field [JSONQ-OPTIONS] PATH...: from status --json (jsonq.py)
status_field() { status_json | jsonq "$@"; }
# role_down_with IFACE TEXT: True when IFACE's role is down for a reason saying TEXT
role_down_with() { status_field --test "daemon/roles/[interface=$1,up=False,reason~=$2]" && echo True || echo False; }
# mkhost HOSTNS HOSTIF HOSTADDR PORT: a host's veth, its other end PORT in P (not enslaved yet).
mkhost() {
	ip -n "$1" link del "$2" 2>/dev/null
	veth_pair "$1" "$2" "$3" "$P" "$4"
}
# mkbr NAME ADDR PORT: a bridge in P with that port, up (as docker makes one).
mkbr() {
	ip -n "$P" link add "$1" type bridge mcast_snooping 0
	ip -n "$P" addr add "$2" dev "$1"
	ip -n "$P" link set "$3" master "$1"
	ip -n "$P" link set "$1" up
}
# mkbridge NAME ADDR HOSTNS HOSTIF HOSTADDR PORT: both.
mkbridge() { mkhost "$3" "$4" "$5" "$6"; mkbr "$1" "$2" "$6"; }

cat >"$TMP/d.yaml" <<EOF
interfaces: {outside: po, inside: "br-*", exclude: ["br-ignored"]}
membership: track
modes: {queryNotify: true}
querier: {inside: {queryInterval: 20s, queryResponseInterval: 2s, startupQueryInterval: 1s, lastMemberQueryInterval: 200ms}}
forwarding: {mode: xdp}
control: {socket: $SOCK}
EOF

bpf_ours() { bpftool -j prog show 2>/dev/null | jsonq --count '[name^=xigmp]'; }
bpf_base=$(bpf_ours)

echo "== the inside bridge does not exist yet: the daemon starts and waits"
start_daemon "$TMP/d.yaml" || exit 1
check "the daemon runs without its inside" kill -0 "$DAEMON"
expect_eq "status says what it waits for" "['br-*']" "$(status_field --default None daemon/waiting)"
check "the log says it once" test "$(grep -c 'waiting for br-\*' "$TMP/daemon.log")" = 1

echo "== br-one (name matched by br-*) and its host appear 1 s later; the host joins"
sl 1
sniff "$U" uo 20 up1 239.
t0=$(date +%s.%N)
mkbridge br-one 10.2.0.1/24 "$H" hi 10.2.0.2/24 vh
ip -n "$P" link add br-ignored type bridge; ip -n "$P" addr add 10.9.0.1/24 dev br-ignored; ip -n "$P" link set br-ignored up
ip -n "$H" addr add 239.1.1.1/32 dev hi autojoin
check "the upstream hears xigmp's report for 239.1.1.1 from 10.1.0.2" \
	wait_heard up1 "d['src']=='10.1.0.2' and d['type']==0x22 and '239.1.1.1' in d['groups']" 5
roles=$(status_field --sort 'daemon/roles/*/interface')
expect_eq "br-one took the inside role; its enslaved port vh and the excluded br-ignored did not" "br-one po" "$roles"
expect_eq "nothing is waited for any more" "[]" "$(status_field --default None daemon/waiting)"
routed 239.1.1.1 br-one
expect_eq "the host receives the group's data from upstream" 30 "$(delivered "$H" hi 239.1.1.1)"

echo "== br-one deleted while the host is a member: the upstream hears the leave within 1 s"
sniff "$U" uo 10 up2 239.
t1=$(date +%s.%N)
ip -n "$P" link del br-one
check "TO_IN({}) for 239.1.1.1 upstream within 1 s" \
	wait_heard up2 "d['src']=='10.1.0.2' and d['type']==0x22 and '239.1.1.1' in d['groups'] and d['t'] - $t1 < 1.0" 2
expect_eq "status: br-* waited for again" "['br-*']" "$(status_field --default None daemon/waiting)"
check "the routes went with it" bash -c "'$XIGMP' routes --socket '$SOCK' --json | grep -q '\"routes\":\[\]'"

echo "== re-created (a new ifindex): startup queries, the host re-joins, data flows again"
sniff "$U" uo 10 up3 239.
mkhost "$H" hi 10.2.0.2/24 vh
sniff "$H" hi 10 host3
mkbr br-one 10.2.0.1/24 vh
ip -n "$H" addr add 239.1.1.1/32 dev hi autojoin 2>/dev/null
check "a startup query reaches the host from 10.2.0.1" wait_heard host3 "d['src']=='10.2.0.1' and d['type']==0x11" 5
check "the host's re-join goes upstream" \
	wait_heard up3 "d['src']=='10.1.0.2' and d['type']==0x22 and '239.1.1.1' in d['groups']" 5
# (that report may be the leave's retransmission: the entry says the join is in)
check "the entry for the re-created bridge is installed" routed 239.1.1.1 br-one
got=$(delivered "$H" hi 239.1.1.1)
expect_eq "data flows to the re-created bridge" 30 "$got"
[ "$got" = 30 ] || { "$XIGMP" routes --socket "$SOCK"; ip -n "$P" -br link; }

echo "== two insides hold 239.1.1.1; one is deleted: the upstream hears nothing for it"
mkbridge br-two 10.3.0.1/24 "$J" hj 10.3.0.2/24 vj
ip -n "$J" addr add 239.1.1.1/32 dev hj autojoin
sl 1.5
sniff "$U" uo 3 up4 239.
ip -n "$P" link del br-two
sleep 2.5
expect_eq "no report for 239.1.1.1 upstream after br-two went" 0 "$(heard up4 "'239.1.1.1' in d['groups']")"

echo "== br-one renumbered to 10.4.0.0/24: queries from the new address, joins from the new subnet accepted"
sniff "$H" hi 6 host5
ip -n "$H" addr flush dev hi scope global
ip -n "$H" addr add 10.4.0.2/24 dev hi
ip -n "$P" addr add 10.4.0.1/24 dev br-one
ip -n "$P" addr del 10.2.0.1/24 dev br-one
check "the next query comes from 10.4.0.1" wait_heard host5 "d['src']=='10.4.0.1' and d['type']==0x11" 4
sniff "$U" uo 6 up5 239.
ip -n "$H" addr add 239.1.1.5/32 dev hi autojoin
check "a join from 10.4.0.2 goes upstream" wait_heard up5 "d['type']==0x22 and '239.1.1.5' in d['groups']" 4

echo "== link down/up on the inside: startup queries on up"
sniff "$H" hi 6 host6
ip -n "$P" link set br-one down
sl 0.5
expect_eq "status shows br-one down with the link" "True" "$(role_down_with br-one 'link down')"
t2=$(date +%s.%N)
ip -n "$P" link set br-one up
check "a query within 2 s of link up" wait_heard host6 "d['src']=='10.4.0.1' and d['type']==0x11 and d['t'] > $t2" 3

echo "== 50 delete/re-create cycles: nothing leaks"
counts() { # fds, BPF progs and links held by the daemon
	local fds progs links
	fds=$(ls /proc/"$DAEMON"/fd | wc -l)
	progs=$(grep -l '^prog_id' /proc/"$DAEMON"/fdinfo/* 2>/dev/null | wc -l)
	links=$(grep -l '^link_id' /proc/"$DAEMON"/fdinfo/* 2>/dev/null | wc -l)
	echo "$fds $progs $links"
}
cycle() { ip -n "$P" link del br-one; mkbridge br-one 10.4.0.1/24 "$H" hi 10.4.0.2/24 vh; }
cycle; sl 0.5
before=$(counts); rss0=$(awk '/VmRSS/ {print $2}' /proc/"$DAEMON"/status); bpf0=$(bpf_ours)
for _ in $(seq 49); do cycle; sleep 0.1; done
sl 1
after=$(counts); rss1=$(awk '/VmRSS/ {print $2}' /proc/"$DAEMON"/status); bpf1=$(bpf_ours)
echo "  fds/progs/links before $before, after $after; RSS ${rss0} -> ${rss1} kB; xigmp programs in the kernel $bpf0 -> $bpf1"
expect_eq "fd, program and link counts equal after 50 cycles" "$before" "$after"
expect_eq "xigmp programs in the kernel (bpftool) equal" "$bpf0" "$bpf1"
check "RSS within 2 MB ($rss0 -> $rss1 kB)" test $((rss1 - rss0)) -lt 2048
check "the daemon still runs" kill -0 "$DAEMON"
expect_eq "and br-one is its inside again" "br-one po" "$(status_field --sort 'daemon/roles/*/interface')"
stop_daemon
expect_eq "SIGTERM: exit 0" 0 "$?"

echo "== the outside loses its carrier, with alt and activeOutside: auto"
cat >"$TMP/auto.yaml" <<EOF
interfaces: {outside: po, alt: pa, inside: "br-*"}
activeOutside: auto
failbackHoldDown: 2s
membership: track
modes: {queryNotify: true}
querier: {inside: {queryInterval: 20s, queryResponseInterval: 2s, startupQueryInterval: 1s}}
control: {socket: $SOCK}
EOF
ip -n "$H" addr add 239.1.1.5/32 dev hi autojoin   # hi was re-created by the cycles
start_daemon "$TMP/auto.yaml" || exit 1
sl 3
sniff "$A" ua 12 alt1 239.
t3=$(date +%s.%N)
ip -n "$U" link set uo down
check "the alt upstream hears the union (239.1.1.5) within 1 s" \
	wait_heard alt1 "d['src']=='10.7.0.2' and d['type']==0x22 and '239.1.1.5' in d['groups'] and d['t'] - $t3 < 1.0" 2
expect_eq "status: the alt is active" "alt" "$(status_field daemon/active_outside)"
sniff "$U" uo 8 up7 239.
ip -n "$U" link set uo up
sl 1
expect_eq "1 s after the primary is back: still on alt (hold-down 2 s)" "alt" "$(status_field daemon/active_outside)"
sl 2
expect_eq "after the hold-down: back on the primary" "primary" "$(status_field daemon/active_outside)"
check "the primary upstream hears the union again" wait_heard up7 "d['src']=='10.1.0.2' and '239.1.1.5' in d['groups']" 3
check "failovers are counted" bash -c "grep -q 'activeOutside auto: failed over to the alt' '$TMP/daemon.log'"
echo "== the upstream address changes: the union is reported from the new one"
sniff "$U" uo 6 up8 239.
ip -n "$P" addr add 10.11.0.3/24 dev po
ip -n "$P" addr del 10.1.0.2/24 dev po
check "a report for 239.1.1.5 from 10.11.0.3" wait_heard up8 "d['src']=='10.11.0.3' and '239.1.1.5' in d['groups']" 3
stop_daemon

echo "== kill -9 during a re-creation storm, then start again"
start_daemon "$TMP/d.yaml" || exit 1
( for _ in $(seq 30); do cycle 2>/dev/null; done ) & STORM=$!
sleep 0.7
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null; DAEMON=
wait $STORM
rm -f "$SOCK"
check "nothing of ours left: no XDP program on the proxy's interfaces" bash -c "! ip -n '$P' link show | grep -q 'prog/xdp'"
if has_feature tcx; then
	expect_eq "no xigmp program left in the kernel (bpftool: XDP and tcx links die with the process)" "$bpf_base" "$(bpf_ours)"
else
	skip "kernel lacks tcx (Linux 6.6+)" "no xigmp program left after kill -9 (clsact filters outlive a crash; the next start replaces them)"
fi
start_daemon "$TMP/d.yaml" || exit 1
sl 1
stop_daemon
expect_eq "the next run exits 0 at SIGTERM" 0 "$?"
finish
