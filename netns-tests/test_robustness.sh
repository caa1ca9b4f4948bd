#!/usr/bin/env bash
# The daemon never dies and never goes silent: clients that hang up early,
# stall or drip; a metrics slowloris; out-of-range numbers; inputs that are
# not config files; an interface or program taken away under it; signals
# while it starts.
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root

U=xgt-ru-$$ P=xgt-rp-$$ H=xgt-rh-$$
for ns in $U $P $H; do new_ns "$ns"; done
veth_pair "$U" uo 10.1.0.1/24 "$P" po 10.1.0.2/24
veth_pair "$P" pi 10.2.0.1/24 "$H" hi 10.2.0.2/24
tmp_dir TMP
DAEMON_NS=$P
SOCK=$TMP/control.sock
ABUSE=netns-tests/abuse_clients.py
PORT=19757
cat >"$TMP/d.yaml" <<EOF
interfaces: {outside: po, inside: pi}
control: {socket: $SOCK}
metrics: {listen: "127.0.0.1:$PORT"}
modes: {proxyOutToIn: true, proxyInToOut: true}
EOF
status_ok() { timeout 3 "$XIGMP" status --socket "$SOCK" --json >/dev/null 2>&1; }

echo "== control clients that hang up, stall or drip"
start_daemon "$TMP/d.yaml" || exit 1
$PY $ABUSE hangup "$SOCK" 5
sleep 0.3
check "5 clients closing before reading the reply: the daemon lives (no SIGPIPE)" kill -0 "$DAEMON"
check "and still answers" status_ok
$PY $ABUSE hold-unix "$SOCK" 18 4 >"$TMP/hold.out" & HOLDER=$!
for _ in $(seq 40); do grep -q holding "$TMP/hold.out" 2>/dev/null && break; sleep 0.05; done
t0=$(date +%s%N); status_ok; rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "18 silent connections open: status still answers, in ${ms} ms (< 1000)" test "$rc" = 0 -a "$ms" -lt 1000
$PY $ABUSE drip-unix "$SOCK" 4 >"$TMP/drip.out" & DRIPPER=$!
sleep 0.3
t0=$(date +%s%N); status_ok; rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a byte-dripping client does not stall another: status in ${ms} ms (< 1000)" test "$rc" = 0 -a "$ms" -lt 1000
wait $HOLDER $DRIPPER 2>/dev/null

echo "== metrics slowloris"
ip netns exec "$P" $PY $ABUSE slowloris 127.0.0.1 $PORT 50 4 >"$TMP/slow.out" & SLOW=$!
for _ in $(seq 60); do grep -q holding "$TMP/slow.out" 2>/dev/null && break; sleep 0.05; done
read -r secs line < <(ip netns exec "$P" $PY $ABUSE scrape 127.0.0.1 $PORT)
scraped() { num_cmp "$1" '<' 1 && [[ $2 == *200* ]]; }   # scraped SECONDS LINE: within 1 s, 200
check "50 slow clients: a scrape still answers within 1 s ($secs s, $line)" scraped "$secs" "$line"
wait $SLOW 2>/dev/null
check "the daemon lives after the abuse" kill -0 "$DAEMON"

echo "== nothing fails silently: the inside's XDP program detached, then the interface gone"
expect_exit "unload on the daemon's interface is refused, naming the daemon" 1 "an xigmp daemon \\(pid $DAEMON, control socket $SOCK\\) runs on pi" "$XIGMP" --netns "$P" unload --iface pi
"$XIGMP" --netns "$P" unload --iface pi --force >/dev/null 2>&1
sleep 1.5
st=$("$XIGMP" status --socket "$SOCK" --json 2>/dev/null)
status_has() { jsonq --test "$1" <<<"$st"; }   # status_has PATH: the last status --json has a true value there
check "status --json shows the inside down, saying the program was detached" \
	status_has 'daemon/roles/[role=inside,up=False,reason^=the XDP classifier was detached]'
up=$(ip netns exec "$P" $PY netns-tests/http_get.py "http://127.0.0.1:$PORT/metrics" --timeout 3 |
	grep '^xigmp_role_up{' | grep 'role="inside"' | awk '{print $2}')
expect_eq "xigmp_role_up{role=inside} is 0" 0 "${up%.0}"
check "the log says so at once, with the cause" grep -q 'inside pi: DOWN: the XDP classifier was detached' "$TMP/daemon.log"
ip -n "$P" link del pi
sleep 1.5
check "the interface gone: the daemon lives" kill -0 "$DAEMON"
check "the log says its port closed, with the cause" grep -qE 'inside pi: port closed: pi (\(ifindex [0-9]+\) is gone|has no IPv4 address left)' "$TMP/daemon.log"
st=$("$XIGMP" status --socket "$SOCK" --json 2>/dev/null)
check "status says it waits for pi again" status_has 'daemon/waiting/[=pi]'
stop_daemon
check "the daemon exits 0 after losing its inside" test $? -eq 0
veth_pair "$P" pi 10.2.0.1/24 "$H" hi 10.2.0.2/24

echo "== numbers out of range and inputs that are not config files"
cat >"$TMP/big.yaml" <<EOF
interfaces: {outside: po, inside: pi}
control: {socket: $SOCK}
membership: track
querier:
  inside: {queryInterval: 10000000000s, lastMemberQueryInterval: 99999999999999ms}
EOF
expect_exit "queryInterval 10000000000s: a FILE:LINE error, exit 2 (not a trap)" 2 "big.yaml:5: .*expected a duration from 0 to 24h" \
	"$XIGMP" --netns "$P" run --config "$TMP/big.yaml" --check
expect_exit "/dev/zero is refused at once as not a regular file" 2 "not a regular file" timeout 5 "$XIGMP" run --config /dev/zero --check
mkfifo "$TMP/fifo"
expect_exit "a FIFO is refused, not waited on" 2 "not a regular file" timeout 5 "$XIGMP" run --config "$TMP/fifo" --check
head -c 2000000 /dev/zero | tr '\0' 'a' >"$TMP/huge.yaml"
expect_exit "a 2 MB file is refused with the cap named" 2 "larger than 1024 KiB" timeout 5 "$XIGMP" run --config "$TMP/huge.yaml" --check
{ echo 'interfaces: {outside: po, inside: pi}'; seq 0 99999 | sed 's/.*/k&: 1/'; } >"$TMP/keys.yaml"
out=$(timeout 30 "$XIGMP" run --config "$TMP/keys.yaml" --check 2>&1); rc=$?
expect_eq "100,000 unknown keys: exit 2 within 30 s, at most 51 lines, the rest counted" "2 yes yes" \
	"$rc $([ "$(wc -l <<<"$out")" -le 52 ] && echo yes) $(grep -qE '… and 999[0-9]{2} more' <<<"$out" && echo yes)"

echo "== SIGHUP with an out-of-range duration: reported, the running config stays"
start_daemon "$TMP/d.yaml" || exit 1
cp "$TMP/d.yaml" "$TMP/d.orig"
printf 'membership: track\nquerier:\n  inside: {queryInterval: 10000000000s}\n' >>"$TMP/d.yaml"
kill -HUP "$DAEMON"
for _ in $(seq 50); do grep -q 'expected a duration from 0 to 24h' "$TMP/daemon.log" && break; sleep 0.1; done
check "the daemon lives after SIGHUP with 10000000000s" kill -0 "$DAEMON"
check "and said why it kept the running config" grep -q 'expected a duration from 0 to 24h' "$TMP/daemon.log"
cp "$TMP/d.orig" "$TMP/d.yaml"
stop_daemon

echo "== control protocol: versions and exit statuses (README: Exit status)"
FAKE=netns-tests/fake_daemon.py
start_daemon "$TMP/d.yaml" || exit 1
reply=$($PY $FAKE ask "$SOCK" '{"protocol":"2.0","cmd":"status"}')
check "the daemon refuses a client of protocol 2.0, naming both versions" \
	grep -q '"kind":"version".*client speaks control protocol 2.0, this daemon 1.3' <<<"$reply"
check "and serves a request of a newer minor (1.9)" grep -q '"ok":true' <<<"$($PY $FAKE ask "$SOCK" '{"protocol":"1.9","cmd":"status"}')"
expect_exit "an unknown command: a refusal listing the commands, exit 1" 1 "unknown command 'reboot' \(ping, status" \
	$PY $FAKE ask "$SOCK" '{"cmd":"reboot"}'
stop_daemon
expect_exit "groups with no daemon: says so, exit 3" 3 "no xigmp daemon is running" "$XIGMP" groups --socket "$TMP/none.sock"
expect_exit "status with no daemon: the classifier part alone, exit 0" 0 "" "$XIGMP" status --socket "$TMP/none.sock"
$PY $FAKE serve "$TMP/v2.sock" '{"protocol":"2.0","ok":true,"status":{}}' >"$TMP/fake.out" & FAKEPID=$!
for _ in $(seq 40); do grep -q serving "$TMP/fake.out" 2>/dev/null && break; sleep 0.05; done
expect_exit "a daemon of protocol 2.0: the CLI names both versions, exit 3" 3 "speaks control protocol 2.0, this xigmp 1.3" \
	"$XIGMP" status --socket "$TMP/v2.sock"
kill $FAKEPID 2>/dev/null; wait $FAKEPID 2>/dev/null
$PY $FAKE serve "$TMP/mute.sock" --silent >"$TMP/fake.out" & FAKEPID=$!
for _ in $(seq 40); do grep -q serving "$TMP/fake.out" 2>/dev/null && break; sleep 0.05; done
expect_exit "a daemon that never answers: the CLI says so after 5 s, exit 3" 3 "did not answer within 5 s" \
	timeout 10 "$XIGMP" routes --socket "$TMP/mute.sock"
kill $FAKEPID 2>/dev/null; wait $FAKEPID 2>/dev/null

echo "== SIGTERM while starting: a clean exit, nothing left"
left=0 bad=0
for delay in 0.01 0.03 0.05 0.08 0.12 0.2; do
	"$XIGMP" --netns "$P" run --config "$TMP/d.yaml" >"$TMP/early.log" 2>&1 & E=$!
	sleep $delay; kill -TERM $E; wait $E; rc=$?
	if [ $rc = 143 ] && ! grep -q . "$TMP/early.log"; then
		echo "    after ${delay}s: ended before main (nothing logged, nothing set up)"
	elif [ $rc != 0 ]; then
		bad=$((bad + 1)); echo "    after ${delay}s: exit $rc"; tail -2 "$TMP/early.log" | sed 's/^/      /'
	fi
	[ -e "$SOCK" ] && left=$((left + 1))
	ip -n "$P" link show | grep -q 'prog/xdp' && left=$((left + 1))
	tc -n "$P" filter show dev po egress 2>/dev/null | grep -q xigmp && left=$((left + 1))
done
expect_eq "6 SIGTERMs at 10-200 ms: every run that reached main exits 0 (143 only before main, with nothing set up)" 0 "$bad"
expect_eq "and leaves no socket file, XDP program or tc filter" 0 "$left"
finish
