#!/usr/bin/env bash
# A two-minute soak: hosts joining and leaving, a source sending to their
# groups (forwarding on, the XDP and the TC path), SIGHUPs, control-socket
# abuse, a metrics slowloris and CLI calls, all at once. The daemon ends
# alive and answering; after a 30 s warm-up its descriptors and BPF objects
# are the same in number at the end, and its RSS grows less than 2 MB from
# minute 1 to minute 2. Then kill -9 at three points (while attaching, under
# load, right after a SIGHUP) leaves no program, link, filter or qdisc of
# ours.
#
#   U: [ubr querier 10.1.0.1] uo ── po [P: xigmp] pi ── hi (H, 10.2.0.2)
#      source of 239.77.0.1-6,                    dk0 (a bridge in P, like docker0)
#      232.77.0.1-2, 232.9.9.9                        ├─ h4 (H4, 10.5.0.4)
#                                                     └─ h5 (H5, 10.5.0.5)
#
# SOAK_SECONDS (default 120) shortens it for debugging: the warm-up is a
# quarter of it, the first RSS sample at half. SOAK_LEAK (debugging the test
# itself, see leak_before_end_sample) makes a check see a leak.
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root
command -v bpftool >/dev/null || { echo "FAIL: bpftool missing: make test installs it (scripts/deps.sh test)" >&2; exit 1; }

SOAK=${SOAK_SECONDS:-120}
WARM=$((SOAK / 4)) HALF=$((SOAK / 2))
LEAK=${SOAK_LEAK:-}
U=xgt-su-$$ P=xgt-sp-$$ H=xgt-sh-$$ H4=xgt-sh4-$$ H5=xgt-sh5-$$
for ns in $U $P $H $H4 $H5; do new_ns "$ns"; done
# The upstream: a bridge that is the IGMPv3 querier (queries every 5 s),
# and the multicast source.
ip -n "$U" link add ubr type bridge mcast_snooping 1 mcast_querier 1 mcast_igmp_version 3 \
	mcast_query_interval 500 mcast_query_response_interval 100 mcast_startup_query_count 1 mcast_query_use_ifaddr 1
ip -n "$U" addr add 10.1.0.1/24 dev ubr
ip -n "$U" link add uo type veth peer name po netns "$P"
ip -n "$U" link set uo master ubr up
ip -n "$U" link set ubr up
ip netns exec "$U" bridge link set dev uo mcast_router 2
ip -n "$U" route add default via 10.1.0.2
ip -n "$P" addr add 10.1.0.2/24 dev po
ip -n "$P" link set po up
veth_pair "$P" pi 10.2.0.1/24 "$H" hi 10.2.0.2/24
ip -n "$P" link add dk0 type bridge
ip -n "$P" addr add 10.5.0.1/24 dev dk0
bridge_port "$P" dk0 d4 "$H4" h4 10.5.0.4/24
bridge_port "$P" dk0 d5 "$H5" h5 10.5.0.5/24
ip -n "$P" link set dk0 up
ip -n "$H" route add default via 10.2.0.1
for ns in $H4 $H5; do ip -n "$ns" route add default via 10.5.0.1; done
for ns in $H $H4 $H5; do ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.force_igmp_version=3; done

tmp_dir TMP
# One binary for the whole soak: a rebuild meanwhile rewrites the file in
# place ("Text file busy" for the next CLI call).
cp "$XIGMP" "$TMP/xigmp" && XIGMP=$TMP/xigmp
DAEMON_NS=$P
LOADS=() BURSTS=()
stop_loads() {
	local p
	for p in "${LOADS[@]}" "${BURSTS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${LOADS[@]}" "${BURSTS[@]}"; do wait "$p" 2>/dev/null; done
	LOADS=() BURSTS=()
}
kill_daemon() { [ -n "$DAEMON" ] && kill -KILL "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null; DAEMON=; }
T_CLEANUP_HOOKS+=(stop_loads)
SOCK=$TMP/control.sock
PORT=19761
LOAD=netns-tests/soak_load.py
ABUSE=netns-tests/abuse_clients.py
ASM=(239.77.0.1 239.77.0.2 239.77.0.3 239.77.0.4 239.77.0.5 239.77.0.6)
SSM=(232.77.0.1@10.1.0.1 232.77.0.2@10.1.0.1)
config() { # config FILE SOCKET [EXTRA-MODES]: the soak's daemon
	cat >"$1" <<EOF
interfaces: {outside: po, inside: [pi, dk0]}
control: {socket: $2}
metrics: {listen: "127.0.0.1:$PORT"}
modes: {queryNotify: true${3:-}}
membership: track
egressFilter: {allow: [239.0.0.0/8]}
querier:
  inside: {queryInterval: 5s, queryResponseInterval: 1s, lastMemberQueryInterval: 200ms}
forwarding: {mode: xdp}
routes:
  - {group: 232.9.9.9, source: 10.1.0.1, out: [pi]}
EOF
}
# The load that runs through the whole soak (and the kill -9 under load):
# the source, and three hosts joining and leaving.
start_loads() {
	ip netns exec "$U" $PY $LOAD source 100 "${ASM[@]}" 232.77.0.1 232.77.0.2 232.9.9.9 & LOADS+=($!)
	ip netns exec "$H" $PY $LOAD member 0.4 1 "${ASM[@]}" "${SSM[@]}" >"$TMP/mh.json" 2>>"$TMP/member.err" & LOADS+=($!)
	ip netns exec "$H4" $PY $LOAD member 0.5 4 "${ASM[@]:0:4}" >"$TMP/mh4.json" 2>>"$TMP/member.err" & LOADS+=($!)
	ip netns exec "$H5" $PY $LOAD member 0.7 5 "${ASM[@]:2:4}" >"$TMP/mh5.json" 2>>"$TMP/member.err" & LOADS+=($!)
}
# held PID [FILE]: its descriptors and BPF objects, "fds progs links maps"
# (their ids to FILE).
held() { $PY $LOAD held "$@" 2>/dev/null; }
BASE=$($PY $LOAD baseline)   # the highest prog, link and map ids before any daemon of ours
leftover() { # what no process holds: "P progs, L links, M maps" (details in $TMP/left.json)
	# shellcheck disable=SC2086
	$PY $LOAD ours $BASE "$TMP/left.json"
}
TCX=yes
has_feature tcx || TCX=
crash_report() { # crash_report LOG: how a daemon that died ended (a Swift crash report starts with its cause)
	local re='Fatal error|Simultaneous accesses|Program crashed'
	echo "    its log, from the cause:"
	if grep -qE "$re" "$1"; then awk -v re="$re" '$0 ~ re {on=1} on && n++ < 25' "$1"; else tail -10 "$1"; fi | sed 's/^/      /'
}
# SOAK_LEAK makes checks see a leak, to show they can fail (each named one
# must FAIL, the others pass): fd, a control connection held open over the
# end sample (a real descriptor more in the daemon); unheld, an XDP program
# of our name attached the legacy way (no process holds it) to h4 over the
# end sample; kill, the same on po after the kill -9 under load and a
# clsact qdisc after the one after a SIGHUP; bpf and rss add a program and
# 2 MB to the end figures (no way to put them into the daemon).
leak_before_end_sample() {
	case $LEAK in
	fd) $PY $ABUSE hold-unix "$SOCK" 1 3 >"$TMP/leak.out" & BURSTS+=($!)
	    for _ in $(seq 40); do grep -q holding "$TMP/leak.out" 2>/dev/null && break; sleep 0.05; done ;;
	unheld) ip -n "$H4" link set dev h4 xdpgeneric obj build/bpf/xdp_pass.bpf.o sec xdp ;;
	esac
}
leak_after_end_sample() { [ "$LEAK" != unheld ] || ip -n "$H4" link set dev h4 xdpgeneric off; }
leak_after_kill() {
	[ "$LEAK" = kill ] || return 0
	case $1 in
	xdp) ip -n "$P" link set dev po xdpgeneric obj build/bpf/xdp_pass.bpf.o sec xdp ;;
	clsact) tc -n "$P" qdisc add dev po clsact ;;
	esac
}

soak() {
	echo "== soak: ${SOAK} s of joins, leaves, forwarding, SIGHUPs, control-socket abuse and a metrics slowloris"
	config "$TMP/a.yaml" "$SOCK"
	config "$TMP/b.yaml" "$SOCK" ", membershipReportFromNetwork: true"
	cp "$TMP/a.yaml" "$TMP/d.yaml"
	start_daemon "$TMP/d.yaml" || exit 1
	start_loads
	cli_ok=0 cli_bad=0 hups=0 bursts=0
	cli() { # one CLI call against the control socket: only its exit status counts
		if timeout 5 "$XIGMP" "$@" --socket "$SOCK" >/dev/null 2>>"$TMP/cli.err"; then
			cli_ok=$((cli_ok + 1))
		else
			cli_bad=$((cli_bad + 1)); echo "    $(date +%T) xigmp $* failed" >>"$TMP/cli.err"
		fi
	}
	burst() { # burst N: one round of abuse (in the background, at most 4 s)
		case $(($1 % 3)) in
		0)  # 40 slow clients (past the 32 served at once: the oldest make
		    # room), then a scrape while they hold.
		    (
			ip netns exec "$P" $PY $ABUSE slowloris 127.0.0.1 $PORT 40 3 >"$TMP/slow.out" 2>&1 & s=$!
			for _ in $(seq 40); do grep -q holding "$TMP/slow.out" 2>/dev/null && break; sleep 0.05; done
			ip netns exec "$P" $PY $ABUSE scrape 127.0.0.1 $PORT >>"$TMP/scrapes.txt" 2>&1
			wait $s
		    ) & BURSTS+=($!) ;;
		1)  $PY $ABUSE hangup "$SOCK" 5 >/dev/null 2>&1 & BURSTS+=($!)
		    $PY $ABUSE hold-unix "$SOCK" 16 3 >/dev/null 2>&1 & BURSTS+=($!) ;;
		2)  $PY $ABUSE drip-unix "$SOCK" 3 >/dev/null 2>&1 & BURSTS+=($!)
		    $PY $ABUSE hangup "$SOCK" 5 >/dev/null 2>&1 & BURSTS+=($!) ;;
		esac
		bursts=$((bursts + 1))
	}
	quiesce() { # no burst, SIGHUP or CLI call in flight; the daemon's 2 s deadline past
		local p
		for p in "${BURSTS[@]}"; do wait "$p" 2>/dev/null; done
		BURSTS=()
		sleep 2.5
	}
	sample() { # sample NAME: the daemon's descriptors and BPF objects, settled (two equal reads)
		local a b
		a=$(held "$DAEMON" "$TMP/$1.ids")
		for _ in $(seq 10); do
			sleep 0.5
			b=$(held "$DAEMON" "$TMP/$1.ids")
			[ "$a" = "$b" ] && break
			a=$b
		done
		echo "$a" >"$TMP/$1.held"
		leftover >"$TMP/$1.left"
		echo "    $(date +%T) $1: fds progs links maps = $a; held by no process: $(cat "$TMP/$1.left")"
	}
	rss() { awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON/status" 2>/dev/null || echo 0; }
	t0=$(date +%s)
	tick=0 warm_done= half_done= rss1=0
	while :; do
		now=$(($(date +%s) - t0))
		[ "$now" -ge "$SOAK" ] && break
		kill -0 "$DAEMON" 2>/dev/null || { echo "    $(date +%T) the daemon died at ${now} s"; break; }
		if [ -z "$warm_done" ] && [ "$now" -ge "$WARM" ]; then
			quiesce; sample warm; warm_done=1
			continue
		fi
		if [ -z "$half_done" ] && [ "$now" -ge "$HALF" ]; then
			quiesce; rss1=$(rss); half_done=1
			echo "    $(date +%T) RSS at ${now} s: $rss1 kB"
			continue
		fi
		case $((tick % 3)) in
		0) cli status ;;
		1) cli groups --json ;;
		2) cli routes ;;
		esac
		[ $((tick % 4)) = 1 ] && cli status --json
		if [ $((tick % 3)) = 2 ]; then
			# Alternate the modes; every third reload is a bad file, which is
			# reported and leaves the running config.
			case $((hups % 3)) in
			0) cp "$TMP/b.yaml" "$TMP/d.yaml" ;;
			1) cp "$TMP/a.yaml" "$TMP/d.yaml" ;;
			2) printf 'querier:\n  inside: {queryInterval: 10000000000s}\n' >>"$TMP/d.yaml" ;;
			esac
			kill -HUP "$DAEMON"; hups=$((hups + 1))
		fi
		if [ $((tick % 5)) = 0 ]; then
			for p in "${BURSTS[@]}"; do wait "$p" 2>/dev/null; done
			BURSTS=()
			burst "$((tick / 5))"
		fi
		tick=$((tick + 1))
		sleep 1
	done
	quiesce
	cp "$TMP/a.yaml" "$TMP/d.yaml"
	alive=no; kill -0 "$DAEMON" 2>/dev/null && alive=yes
	if [ $alive = yes ]; then
		leak_before_end_sample
		sample end
		leak_after_end_sample
		rss2=$(rss)
		echo "    $(date +%T) RSS at the end: $rss2 kB"
	fi
	# The hosts print what they did on SIGTERM.
	for p in "${LOADS[@]:1}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${LOADS[@]:1}"; do wait "$p" 2>/dev/null; done
	stop_loads
	expect_eq "after ${SOAK} s of load the daemon is alive" yes "$alive"
	[ $alive = yes ] || crash_report "$TMP/daemon.log"
	check "and answers status" bash -c "timeout 5 '$XIGMP' status --socket '$SOCK' >/dev/null"
	expect_eq "every CLI call during the soak exited 0 ($cli_ok calls, $hups SIGHUPs, $bursts abuse bursts)" 0 "$cli_bad"
	[ "$cli_bad" = 0 ] || tail -5 "$TMP/cli.err"
	touch "$TMP/scrapes.txt"
	scrapes=$(grep -c . "$TMP/scrapes.txt") ok200=$(grep -c ' 200 ' "$TMP/scrapes.txt")
	check "every scrape during a 40-client slowloris answered 200 ($ok200 of $scrapes, slowest $(grep ' 200 ' "$TMP/scrapes.txt" | sort -n | tail -1 | cut -d' ' -f1) s)" \
		test "$scrapes" -gt 0 -a "$scrapes" = "$ok200"
	received=$($PY $LOAD tally "$TMP/mh.json" "$TMP/mh4.json" "$TMP/mh5.json")
	read -r nhosts rx joins leaves <<<"$received"
	echo "    hosts: $joins joins, $leaves leaves, $rx datagrams received"
	check "forwarding was on: the 3 hosts ($joins joins, $leaves leaves) received forwarded data ($rx datagrams)" \
		test "${nhosts:-0}" = 3 -a "${rx:-0}" -gt 0
	if [ $alive = yes ]; then
		read -r w_fds w_progs w_links w_maps <"$TMP/warm.held"
		read -r e_fds e_progs e_links e_maps <"$TMP/end.held"
		[ "$LEAK" = bpf ] && e_progs=$((e_progs + 1))
		expect_eq "descriptors after the ${WARM} s warm-up and at the end" "$w_fds" "$e_fds"
		expect_eq "BPF programs, links, maps held after the warm-up and at the end" \
			"$w_progs $w_links $w_maps" "$e_progs $e_links $e_maps"
		same=$($PY $LOAD same "$TMP/warm.ids" "$TMP/end.ids")
		echo "    their kernel ids at the warm-up and at the end: $same"
		expect_eq "no program, link or map of ours held by no process (after the warm-up; at the end)" \
			"0 progs, 0 links, 0 maps; 0 progs, 0 links, 0 maps" "$(cat "$TMP/warm.left"); $(cat "$TMP/end.left")"
		[ "$LEAK" = rss ] && rss2=$((rss2 + 2048))
		check "RSS grows less than 2048 kB from ${HALF} s to ${SOAK} s ($rss1 kB → $rss2 kB: $((rss2 - rss1)) kB)" \
			test "$rss1" -gt 0 -a $((rss2 - rss1)) -lt 2048
	fi
	stop_daemon
	check "the daemon exits 0 on SIGTERM after the soak" test $? -eq 0
	for _ in $(seq 50); do [ "$(leftover)" = "0 progs, 0 links, 0 maps" ] && break; sleep 0.1; done
	expect_eq "after the clean exit nothing of ours is left" "0 progs, 0 links, 0 maps" "$(leftover)"
}
# SOAK_SECONDS=0: only the kill -9 part (debugging).
[ "$SOAK" = 0 ] || soak

echo "== kill -9 at three points: nothing of ours left behind"
NONE="0 progs, 0 links, 0 maps"
# What our namespace shows: XDP on an interface, a clsact qdisc, a tc filter.
ns_left() {
	local n=0 dev
	n=$((n + $(ip -n "$P" -d link show | grep -c 'prog/xdp')))
	n=$((n + $(tc -n "$P" qdisc show | grep -c clsact)))
	for dev in po pi dk0; do
		n=$((n + $(tc -n "$P" filter show dev "$dev" ingress | grep -c .)))
		n=$((n + $(tc -n "$P" filter show dev "$dev" egress | grep -c .)))
	done
	echo "$n"
}
tc_filters() { # the tc filters in the namespace, on one line
	local dev
	for dev in po pi dk0; do
		tc -n "$P" filter show dev "$dev" ingress | grep -o 'xigmp[a-z_]*' | sed "s/^/$dev ingress /"
		tc -n "$P" filter show dev "$dev" egress | grep -o 'xigmp[a-z_]*' | sed "s/^/$dev egress /"
	done | sort -u | paste -sd, -
}
only_tc_left() { # no tcx: what is left is clsact filters' programs only, no XDP
	$PY $LOAD only-tc "$TMP/left.json" &&
		! ip -n "$P" -d link show | grep -q prog/xdp
}
# kill_now WHAT: the daemon must still live (it must not have died on its
# own); kill -9 it.
kill_now() {
	local alive=no
	kill -0 "$DAEMON" 2>/dev/null && alive=yes
	expect_eq "kill -9 $1: the daemon lived until then" yes "$alive"
	if [ $alive = no ]; then
		wait "$DAEMON"; echo "    it had exited with status $?"
		crash_report "$2"
	fi
	kill_daemon
}
# after_kill WHAT: the kernel frees a dead process's objects a moment
# later: poll (5 s at most) until nothing of ours is left.
after_kill() {
	local left ns procs until=$((SECONDS + $(scaled 5 | cut -d. -f1)))
	while :; do
		left=$(leftover); ns=$(ns_left)
		if [ -n "$TCX" ]; then
			[ "$left" = "$NONE" ] && [ "$ns" = 0 ] && break
		else
			only_tc_left && break
		fi
		[ $SECONDS -ge $until ] && break
		sleep 0.1
	done
	procs=$(ip netns pids "$P" | wc -l)
	expect_eq "kill -9 $1: no process left in the namespace" 0 "$procs"
	if [ -n "$TCX" ]; then
		expect_eq "kill -9 $1 (tcx): no program, link or map of ours (bpftool, by name)" "$NONE" "$left"
		expect_eq "kill -9 $1 (tcx): no XDP program, clsact qdisc or tc filter in the namespace" 0 "$ns"
		[ "$left" = "$NONE" ] || { cat "$TMP/left.json"; echo; }
	else
		# Without tcx the TC programs are clsact filters, which outlive the
		# process: only those may be left, and the next start must take them.
		check "kill -9 $1 (no tcx: clsact filters outlive a crash): only TC programs are left ($left: $(tc_filters))" only_tc_left
		config "$TMP/k.yaml" "$TMP/k.sock"
		SOCK=$TMP/k.sock start_daemon "$TMP/k.yaml" && sl 1
		stop_daemon
		until=$((SECONDS + $(scaled 5 | cut -d. -f1)))
		while [ "$(leftover)" != "$NONE" ] && [ $SECONDS -lt $until ]; do sleep 0.1; done
		left=$(leftover)
		expect_eq "kill -9 $1 (no tcx): after the next start and a clean stop, no program, link or map of ours" "$NONE" "$left"
		[ "$left" = "$NONE" ] || { cat "$TMP/left.json"; echo; }
		expect_eq "kill -9 $1 (no tcx): and no tc filter of ours (the crashed run's clsact qdisc may stay)" "" "$(tc_filters)"
		# The next kill starts clean.
		for dev in po pi dk0; do tc -n "$P" qdisc del dev "$dev" clsact 2>/dev/null; done
	fi
	[ "$LEAK" = kill ] && { ip -n "$P" link set dev po xdpgeneric off; tc -n "$P" qdisc del dev po clsact; } 2>/dev/null
	rm -f "$TMP"/k*.sock
}
# 1. While attaching: at the first bpf_link (the first interface's XDP).
config "$TMP/k1.yaml" "$TMP/k1.sock"
"$XIGMP" --netns "$P" run --config "$TMP/k1.yaml" >"$TMP/k1.log" 2>&1 & DAEMON=$!
seen=
for _ in $(seq 2000); do
	ls -l "/proc/$DAEMON/fd" 2>/dev/null | grep -q 'anon_inode:bpf_link' && { seen=1; break; }
	kill -0 "$DAEMON" 2>/dev/null || break
done
kill_now "while attaching" "$TMP/k1.log"
seen=${seen:+at its first XDP link}
echo "    killed ${seen:-before any link (it never reached one)}; its log ends: $(tail -1 "$TMP/k1.log")"
after_kill "while attaching"
# 2. Under load: joins on both insides (the TC path attached), forwarding,
# held control and metrics connections.
config "$TMP/k2.yaml" "$TMP/k2.sock"
SOCK=$TMP/k2.sock start_daemon "$TMP/k2.yaml" || exit 1
start_loads
$PY $ABUSE hold-unix "$TMP/k2.sock" 10 10 >/dev/null 2>&1 & BURSTS+=($!)
ip netns exec "$P" $PY $ABUSE slowloris 127.0.0.1 $PORT 20 10 >/dev/null 2>&1 & BURSTS+=($!)
tc_path_on() { # the TC forwarding path attached (a second tcx link on po, or a tc filter)
	if [ -n "$TCX" ]; then [ "$(held "$DAEMON" | cut -d' ' -f3)" -ge 5 ] 2>/dev/null
	else tc -n "$P" filter show dev po ingress | grep -q xigmp_fwd_tc; fi
}
until=$((SECONDS + $(scaled 10 | cut -d. -f1)))
while ! tc_path_on && [ $SECONDS -lt $until ]; do sleep 0.1; done
sl 1
echo "    under load: fds progs links maps = $(held "$DAEMON"); TC path on: $(tc_path_on && echo yes || echo no)"
kill_now "under load" "$TMP/daemon.log"
cp "$TMP/daemon.log" "$TMP/k2.log"
stop_loads
leak_after_kill xdp
after_kill "under load"
# 3. Right after a SIGHUP (while it reloads).
config "$TMP/k3.yaml" "$TMP/k3.sock"
SOCK=$TMP/k3.sock start_daemon "$TMP/k3.yaml" || exit 1
sl 1
kill -HUP "$DAEMON"; sleep 0.005
kill_now "right after a SIGHUP" "$TMP/daemon.log"
leak_after_kill clsact
after_kill "right after a SIGHUP"
finish
