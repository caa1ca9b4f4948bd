#!/usr/bin/env bash
# systemd's notify protocol, end to end: `xigmp run` under NOTIFY_SOCKET (a
# listener standing in for systemd) says READY=1 once up, RELOADING=1 and
# READY=1 around a SIGHUP, STOPPING=1 at SIGTERM, all from its main PID,
# and WATCHDOG=1 from the proxy loop at least every WATCHDOG_USEC/2. An
# abstract '@name' socket works across --netns; a NOTIFY_SOCKET nobody
# listens on costs one warning, nothing else.
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root

U=xgt-nu-$$ P=xgt-np-$$ H=xgt-nh-$$
for ns in $U $P $H; do new_ns "$ns"; done
veth_pair "$U" uo 10.1.0.1/24 "$P" po 10.1.0.2/24
veth_pair "$P" pi 10.2.0.1/24 "$H" hi 10.2.0.2/24
tmp_dir TMP
DAEMON_NS=$P
LISTENER=
T_CLEANUP_HOOKS+=('[ -z "$LISTENER" ] || kill "$LISTENER" 2>/dev/null')
SOCK=$TMP/control.sock
LOG=$TMP/notify.jsonl
cat >"$TMP/d.yaml" <<EOF
interfaces: {outside: po, inside: pi}
control: {socket: $SOCK}
modes: {proxyOutToIn: true, proxyInToOut: true}
EOF

# listen ADDRESS: the stand-in for systemd, recording into $LOG.
listen_notify() {
	: >"$LOG"
	$PY netns-tests/notify_listener.py "$1" "$LOG" 120 >"$TMP/listener.out" 2>&1 &
	LISTENER=$!
	for _ in $(seq 50); do grep -q listening "$TMP/listener.out" 2>/dev/null && return 0; sleep 0.1; done
	echo "the notify listener did not start:"; cat "$TMP/listener.out"; return 1
}
stop_listener() { kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null; LISTENER=; }
# wait_for N TEXT SECONDS: until the log holds N datagrams equal to TEXT
# or starting with TEXT followed by a newline.
count_msg() { $PY netns-tests/notify_log.py count "$LOG" "$1"; }
wait_for() {
	local end=$(( $(date +%s%N) + $(scaled "$3") * 1000000000 ))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		[ "$(count_msg "$2")" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

WD_USEC=2000000
echo "== READY, RELOADING, READY, STOPPING and the watchdog (WATCHDOG_USEC=$WD_USEC)"
listen_notify "$TMP/notify.sock" || exit 1
export NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=$WD_USEC
start_daemon "$TMP/d.yaml" || exit 1
unset NOTIFY_SOCKET WATCHDOG_USEC
PID=$DAEMON
check "READY=1 once the daemon is up" wait_for 1 READY=1 5
sl 3.5
kill -HUP "$PID"
check "READY=1 again after the SIGHUP reload" wait_for 2 READY=1 5
sl 1.5
stop_daemon
check "the daemon exits 0 after SIGTERM" test $? -eq 0
sl 0.3
stop_listener

# One line per fact: KEY VALUE.
$PY netns-tests/notify_log.py facts "$LOG" >"$TMP/facts"
fact() { sed -n "s/^$1 //p" "$TMP/facts"; }
expect_eq "in order: READY=1, RELOADING=1, READY=1, STOPPING=1 (WATCHDOG=1 aside)" \
	"READY RELOADING READY STOPPING" "$(fact order)"
expect_eq "every datagram from the daemon's PID (NotifyAccess=main)" "$PID" "$(fact senders)"
expect_eq "READY=1 names MAINPID" "$PID" "$(fact mainpid)"
expect_eq "READY=1 says what runs in STATUS=" "proxy running: outside po, inside pi" "$(fact status)"
expect_eq "RELOADING=1 carries MONOTONIC_USEC=, CLOCK_MONOTONIC in µs" ok "$(fact monotonic)"
# WATCHDOG_USEC/2 = 1 s, give or take one turn of the loop (it wakes at
# least every 200 ms) and scheduling: 1.25 s.
limit=$(scaled 1.25)
gap=$(fact maxgap)
check "WATCHDOG=1 pings arrive ($(fact pings) of them)" test "$(fact pings)" -ge 4
check "WATCHDOG=1 at least every WATCHDOG_USEC/2 until STOPPING (largest gap ${gap} s, limit $limit s)" \
	num_cmp "$gap" '<=' "$limit"
check "the first WATCHDOG=1 within WATCHDOG_USEC/2 of READY=1 ($(fact firstping) s)" \
	num_cmp "$(fact firstping)" '<=' "$limit"

echo "== an abstract '@name' NOTIFY_SOCKET, with the daemon in another netns"
listen_notify "@xigmp-notify-test-$$" || exit 1
export NOTIFY_SOCKET=@xigmp-notify-test-$$
start_daemon "$TMP/d.yaml" || exit 1
unset NOTIFY_SOCKET
check "READY=1 reaches the abstract socket (made before --netns is entered)" wait_for 1 READY=1 5
stop_daemon
check "and STOPPING=1" wait_for 1 STOPPING=1 2
stop_listener

echo "== NOTIFY_SOCKET where nobody listens: one warning, the daemon runs on"
export NOTIFY_SOCKET=$TMP/nobody.sock WATCHDOG_USEC=$WD_USEC
start_daemon "$TMP/d.yaml" || exit 1
unset NOTIFY_SOCKET WATCHDOG_USEC
sl 2.5
check "the daemon lives" kill -0 "$DAEMON"
check "and answers status" bash -c "timeout 3 '$XIGMP' status --socket '$SOCK' --json >/dev/null"
expect_eq "the failure is logged once, naming the socket" 1 "$(grep -c "cannot notify systemd at NOTIFY_SOCKET=$TMP/nobody.sock" "$TMP/daemon.log")"
stop_daemon
check "and exits 0 at SIGTERM" test $? -eq 0
finish
