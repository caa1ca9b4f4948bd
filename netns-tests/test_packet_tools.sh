#!/usr/bin/env bash
# Packet tools against real peers: a Linux host's kernel answers xigmp's
# queries and its v2/v3 reports are decoded by `xigmp dump` over both
# datapaths; every frame xigmp sends passes tshark; unicast reaches its
# target; IGMP on each of 4 RX queues is received; pcap round trip; a tun
# device (no Ethernet) is served by the kernel path.
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root
command -v tshark >/dev/null || { echo "FAIL: tshark missing: make test installs it"; exit 1; }

A=xgt-pa-$$ B=xgt-pb-$$
new_ns "$A"; new_ns "$B"
ip -n "$A" link add va numtxqueues 4 numrxqueues 4 type veth peer name vb numtxqueues 4 numrxqueues 4 netns "$B"
ip -n "$A" addr add 10.77.0.1/24 dev va; ip -n "$B" addr add 10.77.0.2/24 dev vb
ip -n "$A" link set va up; ip -n "$B" link set vb up
X() { "$XIGMP" --netns "$A" "$@"; }
tmp_dir TMP

# Everything on B's wire goes to a capture, judged by tshark at the end.
ip netns exec "$B" tshark -q -i vb -F pcap -w "$TMP/wire.pcap" -f igmp >/dev/null 2>&1 &
TSHARK=$!
sleep 1.5
ip netns exec "$B" sysctl -qw net.ipv4.conf.vb.force_igmp_version=3
ip -n "$B" addr add 239.5.5.5/32 dev vb autojoin
sleep 1

# IGMPv3 first: once B hears a v2 query it stays in v2 compatibility mode
# for the Older Version Querier Present interval (RFC 3376 §7.2.1).
echo "== dump over the kernel path: B (IGMPv3) answers a query sent over XDP"
X dump --iface va --datapath kernel --json --count 1 >"$TMP/k.json" 2>"$TMP/k.err" &
D=$!; sleep 1.5
X query --iface va --datapath xdp --igmp-version 3 --max-resp 500ms >"$TMP/q2.out" 2>&1
wait $D
cat "$TMP/k.json"
expect_eq "kernel dump: a v3 report with is_ex{} for 239.5.5.5" "v3_report is_ex 239.5.5.5 True" \
	"$(jsonq -f "$TMP/k.json" --lines first type records/0/type records/0/group checksum_ok)"
check "the query went out over XDP" grep -q "\[xdp\]" "$TMP/q2.out"
check "no classifier left behind by the tools" bash -c "! ip -n $A -d link show va | grep -q prog/xdp"

echo "== dump over XDP: B's kernel answers a v2 query with a v2 report"
ip netns exec "$B" sysctl -qw net.ipv4.conf.vb.force_igmp_version=2
X dump --iface va --datapath xdp --json --count 1 >"$TMP/xdp.json" 2>"$TMP/xdp.err" &
D=$!; sleep 1.5
check "ALLMULTI held while the XDP port is open" bash -c "ip -n $A -d link show va | grep -q 'allmulti [1-9]'"
X query --iface va --igmp-version 2 --max-resp 500ms >"$TMP/q1.out" 2>&1
wait $D
cat "$TMP/xdp.json"
expect_eq "xdp dump: a v2 report for 239.5.5.5 from B" "v2_report 239.5.5.5 10.77.0.2 True True" \
	"$(jsonq -f "$TMP/xdp.json" --lines first type group src router_alert checksum_ok)"
check "xdp dump reports the RX queue" grep -q '"queue":' "$TMP/xdp.json"
check "ALLMULTI restored when the port closed" bash -c "ip -n $A -d link show va | grep -q 'allmulti 0'"
check "query fell back to the kernel path while dump held the AF_XDP queue" grep -q "\[kernel\]" "$TMP/q1.out"

echo "== reports and leaves, multicast over XDP and unicast"
X report --iface va --datapath xdp --group 239.6.6.6 --igmp-version 2 >/dev/null
X report --iface va --datapath xdp --group 239.6.6.7 --igmp-version 3 --record allow --source 10.9.9.9 >/dev/null
X leave --iface va --datapath xdp --group 239.6.6.6 --igmp-version 2 >/dev/null
X report --iface va --datapath xdp --group 239.6.6.8 --igmp-version 2 --to 10.77.0.2 >/dev/null
X leave --iface va --datapath kernel --group 239.6.6.8 --igmp-version 3 --to 10.77.0.2 >/dev/null
sleep 1

echo "== 4 RX queues: reports from 64 sources spread over the queues, all received"
# Native mode: on veth, generic XDP reads the RX queue from the skb's
# queue_mapping, which at that point still holds the sender's TX queue
# (off by one: TX queue 3 reads as RX queue 2), so queue 3 would never
# see traffic; native XDP runs per RX queue (NAPI).
X dump --iface va --datapath xdp --xdp-mode native --json --count 64 >"$TMP/mq.json" 2>/dev/null &
D=$!; sleep 1.5
ip netns exec "$B" $PY netns-tests/scapy_send.py spread vb 239.7.7.7 10.77.1 64
timeout 10 tail --pid=$D -f /dev/null
expect_eq "64 reports received" 64 "$(grep -c v2_report "$TMP/mq.json")"
expect_eq "seen on all 4 RX queues" "0 1 2 3" \
	"$(jsonq -f "$TMP/mq.json" --lines all --set '*/queue')"

echo "== tshark judges every frame xigmp sent"
sleep 0.5; kill $TSHARK; wait $TSHARK 2>/dev/null
tshark -r "$TMP/wire.pcap" -o ip.check_checksum:TRUE -Y "ip.src == 10.77.0.1" -T fields \
	-e ip.dst -e ip.ttl -e ip.dsfield -e ip.opt.type -e igmp.type -e ip.checksum.status -e igmp.checksum.status \
	-e _ws.malformed >"$TMP/fields.tsv" 2>/dev/null
cat "$TMP/fields.tsv"
# tshark checksum status: 1 good, 0 bad, 2 unverified.
bad=$(awk -F'\t' '$2 != 1 || $3 != "0xc0" || $4 !~ /148/ || $6 != 1 || $7 != 1 || $8 != ""' "$TMP/fields.tsv")
expect_eq "every frame from A: TTL 1, TOS 0xc0, Router Alert, good checksums, not malformed" "" "$bad"
have() { grep -qP "$2" "$TMP/fields.tsv" && pass "$1" || fail "$1"; }
have "v2 general query to 224.0.0.1" '^224\.0\.0\.1\t.*\t0x11\t'
have "v2 report went to its group" '^239\.6\.6\.6\t.*\t0x16\t'
have "v2 leave went to 224.0.0.2" '^224\.0\.0\.2\t.*\t0x17\t'
have "v3 reports went to 224.0.0.22" '^224\.0\.0\.22\t.*\t0x22\t'
have "unicast v2 report reached B (10.77.0.2)" '^10\.77\.0\.2\t.*\t0x16\t'
have "unicast v3 leave reached B" '^10\.77\.0\.2\t.*\t0x22\t'

echo "== pcap: dump --write, dump --read, query --write"
X query --write "$TMP/q.pcap" --igmp-version 3 --group 239.1.2.3 --source 10.0.0.1 --max-resp 2s >/dev/null
out=$(X dump --read "$TMP/q.pcap")
check "dump --read decodes a crafted query" grep -q "igmp query v3 \[gaddr 239.1.2.3 { 10.0.0.1 }\] \[max resp time 2.0s\]" <<<"$out"
expect_eq "tshark reads the crafted file cleanly (no malformed, no expert notes)" "" \
	"$(tshark -r "$TMP/q.pcap" -T fields -e _ws.malformed -e _ws.expert 2>/dev/null | tr -d '[:space:]')"
X dump --read "$TMP/wire.pcap" --json >"$TMP/wire.json"
check "dump --read of tshark's capture decodes frames" test "$(grep -c '"type"' "$TMP/wire.json")" -ge 10
expect_eq "dump --read of tshark's capture: no decode errors" 0 "$(grep -c '"error"' "$TMP/wire.json")"
X dump --iface va --datapath kernel --count 1 --write "$TMP/live.pcap" >/dev/null 2>&1 &
D=$!; sleep 1
X query --iface va --datapath xdp --igmp-version 3 --max-resp 500ms >/dev/null 2>&1
wait $D
check "dump --write then --read shows B's report" grep -q "report 239.5.5.5\|gaddr 239.5.5.5" <<<"$(X dump --read "$TMP/live.pcap")"
expect_exit "missing pcap: message and exit 1" 1 "cannot open /nonexistent.pcap" X dump --read /nonexistent.pcap
expect_exit "v1 group-specific query refused with a reason" 64 "IGMPv1 has only general queries" X query --iface va --igmp-version 1 --group 239.1.1.1
expect_exit "a duration needs a unit" 64 "max-resp" X query --iface va --max-resp 10
expect_exit "v1 has no leave" 64 "IGMPv1 has no leave" X leave --iface va --group 239.1.1.1 --igmp-version 1

echo "== tun (no Ethernet): auto picks the kernel path"
ip netns exec "$A" $PY netns-tests/tun_feed.py "$XIGMP" >"$TMP/tun.out" 2>&1
rc=$?; cat "$TMP/tun.out"
expect_eq "tun feed script" 0 "$rc"

finish
