#!/usr/bin/env bash
# zap.sh - channel zapping.  How fast a host that joins
# gets its stream, how fast a host that leaves stops getting it, and what a
# storm of zapping hosts costs, for xigmp's XDP path, xigmp's TC path, and
# the Linux bridge's own IGMP snooping on the same topology (the baseline
# every kernel has), all in one run.
#
# Single host (`single`, bench/e2e/zap.py):
#   [U] uo 10.93.0.2 ── veth ── po [P] pi ── veth ── hi 10.94.0.2 [H]
# U runs bench/e2e/zap_tool.c `source` (compiled here with cc): a warm group
# flowing at FIRST_PPS from the start, and a cold prefix whose groups it
# starts sending only when a report reaching uo joins them (and stops on a
# leave).  Every frame carries its CLOCK_MONOTONIC send time; every instant
# is a kernel timestamp (SO_TIMESTAMPNS) of an AF_PACKET socket, converted
# between the clocks by REALTIME - MONOTONIC read back to back.
#   join_first_packet     (warm) H joins the flowing group: the first frame
#                         SENT AFTER the join (payload stamp >= join instant)
#                         arriving on hi, minus the join instant = H's report
#                         (IGMPv3 TO_EX) leaving hi, seen by a socket on hi.
#   cold_join_first_packet  H joins a fresh group of the cold prefix: report
#                         -> forwarder -> upstream (starts the group) -> first
#                         frame -> forwarder -> hi.
#   leave_stop            H leaves: the last frame of the group arriving on hi
#                         (no frame for 0.3 s after it) minus H's leave (TO_IN{})
#                         leaving hi; with fast leave on and off.  Off: the
#                         querier's group-specific queries, lastMemberQueryInterval
#                         LMQI (100ms) x count 2, the bridge likewise
#                         (mcast_last_member_interval 10 cs, count 2).
#   leave_upstream_stop   H's leave on hi -> the first report leaving the group
#                         heard on uo (xigmp's own; the bridge forwards H's to
#                         its router port po): the upstream stops sending.
# Storm (`storm`): STORM_HOSTS hosts, STORM_CHANNELS channels at STORM_PPS
# each flowing into po, every host zapping ZAPS_PER_S times a second for
# STORM_SECONDS (zap_tool storm: each host is its own veth into P, pi1..piN
# ── h1..hN, each with its own address and MAC; all h* in one namespace S,
# where the kernel keeps IGMP state per interface, so they are N hosts to
# IGMP, and one capture socket sees them all).  A host per veth on the
# forwarder rather than a bridge between: per-port delivery is then exact
# (xigmp's entries name each port; the bridge baseline's ports are the same
# veths with per-port fast leave), instead of a second snooping bridge
# deciding what each host gets.  Misses: a zap whose new channel's first
# fresh frame arrives more than 50 ms after the join report (or never), and,
# with fast leave on only, a frame of the old channel arriving more than 5 ms
# after the leave report.  (At 1000 pps a channel's next frame is up to
# 1 ms away, so storm join figures carry up to 1 ms of waiting; a leave
# figure of 0 means no frame arrived after the leave report.)  Also: reports
# heard on uo per zap, the daemon's CPU (/proc/PID/stat), the upstream
# sender's (its sends carry the forwarding and delivery the kernel does
# inline), the machine's (/proc/stat, and the sum of every process's CPU:
# this VM's /proc/stat books about half the elapsed ticks) and what other
# work ran on the VM meanwhile, over the storm; and the forwarder's route
# map (xigmp's control socket `routes`; the bridge's `bridge mdb`) sampled
# every 0.1 s against the channels watched.  Storms run with fast leave
# off, and again with it on where the configuration has it.
#
# Configurations (ZAP_IMPLS, default "xdp tc bridge"):
#   xdp     xigmp, membership: track, forwarding: {mode: xdp}, xdpMode auto
#           (generic XDP on veth): entries on the "xdp" path (devmap redirect)
#   tc      the same with xdpMode: native; the hosts' veths run no NAPI, so
#           pi* cannot take XDP frames and entries take the "tc" path (TC
#           ingress on po, bpf_clone_redirect per egress)
#   bridge  no xigmp: po and pi* in a Linux bridge with IGMP snooping
#           (mcast_igmp_version 3), the bridge as querier, po a permanent
#           router port, fast leave per port (`bridge link set ... fastleave`)
# The path xigmp took is read back from `xigmp routes --json` (`paths`).
# Fast leave on xigmp is `querier: {inside: {fastLeave: true}}` when this
# build has it (`xigmp run --config-reference`); otherwise its fast-leave
# figures are null with the reason.
# igmpproxy needs CONFIG_IP_MROUTE (`xigmp doctor --json`
# capabilities.ip_mroute); without it its figures are null with the reason.
#
# Needs root, cc, bridge (iproute2).  One JSON object on stdout, progress on
# stderr; every wait is bounded.  Env: JOINS (20), COLD_JOINS (10),
# FIRST_PPS (10000), LMQI (100ms), STORM_SECONDS (30), STORM_HOSTS (50),
# STORM_CHANNELS (20), STORM_PPS (1000), ZAPS_PER_S (5), ZAP_IMPLS,
# ZAP_PHASES ("single storm"), SAMPLE_EVERY (route sampling, 0.1 s),
# QUIET_WAIT (s, 60; 10 with BENCH_QUICK) and QUIET_BUSY (%, 10): before each
# phase, wait that long at most for the VM to be that quiet; ZAP_KEEP=1
# keeps the temp dir (every capture, log and sample); BENCH_QUICK=1 (6 joins,
# 3 cold, 8 s storm).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
XIGMP=${XIGMP:-.build/release/xigmp}
source netns-tests/lib.sh   # namespaces, the daemon, teardown at exit
CC=${CC:-cc}
if [ -n "${BENCH_QUICK:-}" ]; then
	JOINS=${JOINS:-6} COLD_JOINS=${COLD_JOINS:-3} STORM_SECONDS=${STORM_SECONDS:-8} QUIET_WAIT=${QUIET_WAIT:-10}
fi
JOINS=${JOINS:-20}
COLD_JOINS=${COLD_JOINS:-10}
FIRST_PPS=${FIRST_PPS:-10000}
LMQI=${LMQI:-100ms}
STORM_SECONDS=${STORM_SECONDS:-30}
STORM_HOSTS=${STORM_HOSTS:-50}
STORM_CHANNELS=${STORM_CHANNELS:-20}
STORM_PPS=${STORM_PPS:-1000}
ZAPS_PER_S=${ZAPS_PER_S:-5}
ZAP_IMPLS=${ZAP_IMPLS:-xdp tc bridge}
ZAP_PHASES=${ZAP_PHASES:-single storm}
SRC=10.93.0.2 WARM=239.2.0.1 COLD=239.3.0.0/16
NO_MROUTE="kernel lacks CONFIG_IP_MROUTE"
log() { echo "zap: $*" >&2; }
[ "$(id -u)" == 0 ] || { log "needs root (namespaces, XDP, TC, bridges): sudo $0"; exit 1; }
[ -x "$XIGMP" ] || { log "$XIGMP missing: run make build"; exit 1; }
command -v bridge >/dev/null || { log "bridge (iproute2) missing"; exit 1; }
# The upstream source stands for another machine: it runs at real-time
# priority (SCHED_FIFO; it sleeps between ticks) so that the forwarder, the
# host and the captures sharing this VM's 2 cores cannot hold its frames
# back.  Without it a join's turn in xigmp's loop delayed the source's next
# frames by 300-700 us, which the join figure then counted (the bridge,
# with no daemon, was not held back alike).
RT=()
if command -v chrt >/dev/null && chrt -f 50 true 2>/dev/null; then RT=(chrt -f 50); else log "chrt -f unavailable: the source runs at normal priority"; fi
[ "$STORM_HOSTS" -ge 1 ] && [ "$STORM_HOSTS" -le 250 ] || { log "STORM_HOSTS 1..250"; exit 1; }

TAG=xgz-$$
U=$TAG-u P=$TAG-p H=$TAG-h S=$TAG-s
tmp_dir TMP /tmp/xigmp-zap.XXXXXX
[ -z "${ZAP_KEEP:-}" ] || T_CLEANUP_HOOKS+=('log "kept $TMP"; T_TMPDIRS=()')
# xigmp, one at a time (DAEMON); the upstream source; the route sampler.
DAEMON_NS=$P SOCK=$TMP/xigmp.sock DAEMON_WAIT=15
SOURCE= SAMPLER=
stop_source() { stop_pid "$SOURCE" 5; SOURCE=; }
stop_sampler() { touch "$TMP/sample.stop"; stop_pid "$SAMPLER" 5; SAMPLER=; }
teardown() { del_ns "${T_NETNS[@]}"; }   # this phase's namespaces
T_CLEANUP_HOOKS+=(stop_source stop_sampler)

TOOL=$TMP/zap_tool
$CC -O2 -o "$TOOL" bench/e2e/zap_tool.c || { log "cannot compile bench/e2e/zap_tool.c with $CC"; exit 1; }

# What this kernel and this build can do.
new_ns "$TAG-doc"
if "$XIGMP" --netns "$TAG-doc" doctor --json >"$TMP/doctor.json" 2>"$TMP/doctor.err"; then
	IP_MROUTE=$(feature_state ip_mroute <"$TMP/doctor.json")
else
	echo '{}' >"$TMP/doctor.json"
	IP_MROUTE=unknown
fi
teardown
FAST_LEAVE=no
"$XIGMP" run --config-reference 2>/dev/null | grep -q fastLeave && FAST_LEAVE=yes
log "kernel $(uname -r): ip_mroute $IP_MROUTE; xigmp fastLeave: $FAST_LEAVE"

# build_single: U ── P ── H.  build_storm N: U ── P ── S with pi1..piN ── h1..hN.
build_up() {
	new_ns "$U" && new_ns "$P" || return 1
	ip -n "$U" link add uo type veth peer name po netns "$P" || return 1
	ip -n "$U" addr add $SRC/24 dev uo
	ip -n "$P" addr add 10.93.0.1/24 dev po
	ip -n "$U" link set uo up; ip -n "$P" link set po up
}
build_single() {
	build_up && new_ns "$H" || return 1
	ip -n "$P" link add pi type veth peer name hi netns "$H" || return 1
	ip -n "$P" addr add 10.94.0.1/24 dev pi
	ip -n "$H" addr add 10.94.0.2/24 dev hi
	ip -n "$P" link set pi up; ip -n "$H" link set hi up
}
build_storm() {
	local i n=$1
	build_up && new_ns "$S" || return 1
	{
		for i in $(seq "$n"); do
			echo "link add pi$i type veth peer name h$i netns $S"
			echo "addr add 10.95.$i.1/24 dev pi$i"
			echo "link set pi$i up"
		done
	} | ip -n "$P" -batch - || return 1
	{
		for i in $(seq "$n"); do
			echo "addr add 10.95.$i.2/24 dev h$i"
			echo "link set h$i up"
		done
	} | ip -n "$S" -batch - || return 1

}

# start_xigmp IMPL INSIDE FASTLEAVE(yes|no) LOG
start_xigmp() {
	local mode=auto fl=
	[ "$1" = tc ] && mode=native
	[ "$3" = yes ] && fl=", fastLeave: true"
	cat >"$TMP/xigmp.yaml" <<YAML
interfaces: {outside: po, inside: "$2"}
control: {socket: $TMP/xigmp.sock}
modes: {queryNotify: true}
membership: track
querier:
  inside: {queryInterval: 10s, queryResponseInterval: 1s, lastMemberQueryInterval: $LMQI$fl}
logLevel: notice
xdpMode: $mode
forwarding: {mode: xdp}
YAML
	DAEMON_LOG=$4 start_daemon "$TMP/xigmp.yaml" || { log "xigmp ($1) did not start"; return 1; }
	# Startup queries answered, every inside taken; with fast leave, past
	# the first query response interval (1 s), during which xigmp keeps
	# fast leave off (it has not heard every host yet).
	if [ "$3" = yes ]; then sleep 1.6; else sleep 1; fi
}
# start_bridge PORTS FASTLEAVE(on|off): po and PORTS in br0, the bridge as querier
start_bridge() {
	local p ports=$1
	ip -n "$P" link add br0 type bridge mcast_snooping 1 mcast_igmp_version 3 \
		mcast_query_interval 1000 mcast_query_response_interval 100 \
		mcast_last_member_interval 10 mcast_last_member_count 2 || return 1
	ip -n "$P" addr add 10.96.0.1/16 dev br0
	for p in po $ports; do
		ip -n "$P" addr flush dev "$p"
		ip -n "$P" link set "$p" master br0 || return 1
	done
	{ for p in $ports; do echo "link set dev $p fastleave $2"; done; echo "link set dev po mcast_router 2"; } |
		bridge -n "$P" -batch - || return 1
	ip -n "$P" link set br0 up
	# The querier set with the ports in and the bridge up (set at creation it
	# never counts as present, and the bridge floods every group to every
	# port: measured), then its first response interval (1 s) waited out:
	# until then a snooping bridge floods.
	ip -n "$P" link set br0 type bridge mcast_querier 1 || return 1
	sleep 1.5
}
route_paths() { # the paths of xigmp's entries now
	"$XIGMP" routes --socket "$TMP/xigmp.sock" --json 2>/dev/null |
		jsonq --set --join , --default none 'routes/*/path' 2>/dev/null || echo unknown
}

ERRORS=() UNAVAILABLE=() PATHS=() FILES=() QUIET=()
# wait_quiet LABEL: before a phase starts its traffic, up to QUIET_WAIT s (60) for the
# VM to be at most QUIET_BUSY % busy (10) over a second (other work on a
# 2-core VM moves every figure here); the busy share found is recorded.
wait_quiet() {
	local busy
	busy=$($PY bench/e2e/zap.py quiet --busy "${QUIET_BUSY:-10}" --timeout "${QUIET_WAIT:-60}") ||
		log "$1: the machine is still ${busy} % busy after ${QUIET_WAIT:-60} s; measuring anyway"
	QUIET+=("$1=$busy")
}
note_error() { ERRORS+=("$1=$2"); log "$1: $2"; }

if [ "$IP_MROUTE" != yes ]; then
	why=$NO_MROUTE
	[ "$IP_MROUTE" = no ] || why="xigmp doctor --json gave no ip_mroute: $(tail -1 "$TMP/doctor.err" 2>/dev/null)"
	for k in join_first_packet_p50_us join_first_packet_p99_us cold_join_first_packet_p50_us \
		leave_stop_fast_leave_on_p50_us leave_stop_fast_leave_off_p50_us leave_upstream_stop_fast_leave_off_p50_us \
		storm_misses storm_upstream_reports_per_zap storm_cpu_pct; do
		UNAVAILABLE+=("igmpproxy_$k=$why")
	done
else
	note_error igmpproxy "the kernel routes multicast here, but zap.sh has no igmpproxy baseline yet"
fi

# ---- single host
single_run() { # single_run IMPL FL(yes|no) COLD_N
	local impl=$1 fl=$2 label=$1-single-fl_$([ "$2" = yes ] && echo on || echo off)
	if [ "$impl" = bridge ] && ip -n "$P" link show br0 >/dev/null 2>&1; then
		bridge -n "$P" link set dev pi fastleave "$([ "$fl" = yes ] && echo on || echo off)" ||
			{ note_error "$label" "bridge link set dev pi fastleave failed"; return 1; }
	elif [ "$impl" = bridge ]; then
		start_bridge pi "$([ "$fl" = yes ] && echo on || echo off)" 2>"$TMP/$label.log" ||
			{ note_error "$label" "bridge setup failed: $(tail -1 "$TMP/$label.log")"; return 1; }
	else
		start_xigmp "$impl" pi "$fl" "$TMP/$label.log" || { note_error "$label" "xigmp did not start"; return 1; }
	fi
	log "$label: $JOINS warm joins at $FIRST_PPS pps, $3 cold"
	timeout $((JOINS * 20 + $3 * 20 + 30)) $PY bench/e2e/zap.py single --label "$label" \
		--host-ns "$H" --host-if hi --up-ns "$U" --up-if uo --warm-group $WARM --cold-base 239.3.0.0 \
		--joins "$JOINS" --cold-joins "$3" >"$TMP/$label.json" || log "$label: zap.py single failed"
	if [ "$impl" != bridge ]; then	# which path: one more join, read back
		ip -n "$H" addr add $WARM/32 dev hi autojoin
		local path=none
		for _ in $(seq 30); do path=$(route_paths); [ "$path" != none ] && break; sleep 0.1; done
		ip -n "$H" addr del $WARM/32 dev hi
		PATHS+=("$label=$path")
		[ "$path" = "$impl" ] || note_error "$label" "xigmp routes --json says path $path, not $impl"
		stop_daemon 5
	fi
	[ -s "$TMP/$label.json" ] && FILES+=("$TMP/$label.json") &&
		$PY bench/e2e/zap.py report-single "$TMP/$label.json"
}

storm_run() { # storm_run IMPL FL(yes|no)
	local impl=$1 fl=$2 label=$1-storm-fl_$([ "$2" = yes ] && echo on || echo off) i groups= inside
	for i in $(seq "$STORM_CHANNELS"); do groups+="${groups:+,}239.5.0.$i"; done
	wait_quiet "$label"
	build_storm "$STORM_HOSTS" || { note_error "$label" "cannot build the storm topology"; teardown; return 1; }
	ip netns exec "$U" "${RT[@]}" "$TOOL" source uo $SRC "$STORM_PPS" $((STORM_SECONDS + 120)) --warm "$groups" \
		--log "$TMP/$label-up.log" >"$TMP/$label-source.json" 2>>"$TMP/source.err" &
	SOURCE=$!
	local ports=
	for i in $(seq "$STORM_HOSTS"); do ports+=" pi$i"; done
	if [ "$impl" = bridge ]; then
		start_bridge "$ports" "$([ "$fl" = yes ] && echo on || echo off)" 2>"$TMP/$label.log" ||
			{ note_error "$label" "bridge setup failed: $(tail -1 "$TMP/$label.log")"; stop_source; teardown; return 1; }
		rm -f "$TMP/sample.stop"
		$PY bench/e2e/zap.py sample --out "$TMP/$label-samples.jsonl" --stop "$TMP/sample.stop" --bridge-ns "$P" --every 0.1 &
		SAMPLER=$!
		pid=
	else
		start_xigmp "$impl" "pi*" "$fl" "$TMP/$label.log" || { note_error "$label" "xigmp did not start"; stop_source; teardown; return 1; }
		# every inside taken (the glob's interfaces come through rtnetlink)
		for _ in $(seq 100); do
			n=$("$XIGMP" status --socket "$TMP/xigmp.sock" --json 2>/dev/null |
				jsonq --count 'daemon/roles/[up,role=inside]' 2>/dev/null || echo 0)
			[ "$n" -ge "$STORM_HOSTS" ] && break
			sleep 0.2
		done
		[ "$n" -ge "$STORM_HOSTS" ] || log "$label: only $n of $STORM_HOSTS insides up"
		rm -f "$TMP/sample.stop"
		$PY bench/e2e/zap.py sample --out "$TMP/$label-samples.jsonl" --stop "$TMP/sample.stop" --socket "$TMP/xigmp.sock" --every "${SAMPLE_EVERY:-0.1}" &
		SAMPLER=$!
		pid=$DAEMON
	fi
	log "$label: $STORM_HOSTS hosts, $STORM_CHANNELS channels at $STORM_PPS pps, $ZAPS_PER_S zaps/s each for $STORM_SECONDS s, fast leave $fl"
	local offset
	offset=$($PY bench/e2e/zap.py offset)
	: >"$TMP/$label-cpu.jsonl"
	[ -n "$pid" ] || pid=$$
	$PY bench/e2e/zap.py cpusnap "$pid" >>"$TMP/$label-cpu.jsonl"
	timeout $((STORM_SECONDS + 60)) ip netns exec "$S" "$TOOL" storm h "$STORM_HOSTS" "$STORM_SECONDS" "$ZAPS_PER_S" \
		"$TMP/$label-zaps.log" "$groups" --seed $((RANDOM + 1)) >"$TMP/$label-tool.json" 2>"$TMP/$label-tool.err" ||
		log "$label: zap_tool storm failed: $(tail -1 "$TMP/$label-tool.err")"
	$PY bench/e2e/zap.py cpusnap "$pid" >>"$TMP/$label-cpu.jsonl"
	stop_sampler
	stop_source
	local slack=500
	[ "$fl" = yes ] && slack=50
	$PY bench/e2e/zap.py storm --label "$label" --tool-out "$TMP/$label-tool.json" --tool-log "$TMP/$label-zaps.log" \
		--up-log "$TMP/$label-up.log" --samples "$TMP/$label-samples.jsonl" --cpu "$TMP/$label-cpu.jsonl" \
		--groups "$groups" --offset "$offset" --slack-ms $slack --source-out "$TMP/$label-source.json" \
		$([ "$fl" = yes ] && echo --fast-leave) $([ "$impl" != bridge ] && echo --daemon) >"$TMP/$label.json"
	FILES+=("$TMP/$label.json")
	if [ "$impl" != bridge ]; then	# the paths xigmp's entries took during the storm
		local path
		path=$(jsonq -f "$TMP/$label.json" --default unknown paths 2>/dev/null)
		PATHS+=("$label=$path")
		[ "$path" = "$impl" ] || note_error "$label" "xigmp routes said path $path during the storm, not $impl"
	fi
	$PY bench/e2e/zap.py report-storm "$TMP/$label.json"
	stop_daemon 5
	teardown
}

for impl in $ZAP_IMPLS; do
	case $impl in xdp | tc | bridge) ;; *) note_error "$impl" "unknown configuration"; continue ;; esac
	impl_fl=$FAST_LEAVE
	[ "$impl" = bridge ] && impl_fl=yes
	if [[ " $ZAP_PHASES " == *" single "* ]]; then
		wait_quiet "$impl-single"
		if build_single; then
			# --drift-ppm: the frames' phase to the host's reports varies
			# from join to join as between two machines (zap_tool.c).
			ip netns exec "$U" "${RT[@]}" "$TOOL" source uo $SRC "$FIRST_PPS" 3600 --warm $WARM --cold $COLD --drift-ppm 1000 \
				--log "$TMP/$impl-single-up.log" >"$TMP/$impl-single-source.json" 2>>"$TMP/source.err" &
			SOURCE=$!
			single_run "$impl" no "$COLD_JOINS"
			[ "$impl_fl" = yes ] && single_run "$impl" yes 0
			stop_source
		else
			note_error "$impl-single" "cannot build the single-host topology"
		fi
		teardown
	fi
	if [[ " $ZAP_PHASES " == *" storm "* ]]; then
		# A storm with fast leave off, and one with it on where the
		# configuration has it (the leave-side bound is only checked then).
		storm_run "$impl" no
		[ "$impl_fl" = yes ] && storm_run "$impl" yes
	fi
done

meta=$($PY bench/e2e/zap.py meta --errors "${ERRORS[@]}" --unavailable "${UNAVAILABLE[@]}" --paths "${PATHS[@]}" \
	--quiet "${QUIET[@]}" --doctor "$TMP/doctor.json" --ip-mroute "$IP_MROUTE" --fast-leave "$FAST_LEAVE" \
	--impls "$ZAP_IMPLS" --joins "$JOINS" --cold-joins "$COLD_JOINS" --stream-pps "$FIRST_PPS" --lmqi "$LMQI" \
	--storm-seconds "$STORM_SECONDS" --storm-hosts "$STORM_HOSTS" --storm-channels "$STORM_CHANNELS" \
	--storm-pps "$STORM_PPS" --zaps-per-s "$ZAPS_PER_S" --kernel "$(uname -r)" \
	--cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
	--binary "$XIGMP" --sha256 "$(sha256sum "$XIGMP" | cut -c1-16)" \
	--commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)")
$PY bench/e2e/zap.py summarize --meta "$meta" "${FILES[@]}"
