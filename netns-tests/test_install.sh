#!/usr/bin/env bash
# make install / make uninstall into a staging DESTDIR: every file where it
# belongs, the unit pointing at the installed binary and clean for
# systemd-analyze, completions that know the subcommands, the example
# config valid, an edited config kept; uninstall leaves only that.
# Installs $XIGMP (the binary under test), not a fresh release build.
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root

tmp_dir D
tmp_dir TMP
mk() { make --no-print-directory -s XIGMP="$XIGMP" DESTDIR="$D" "$@" >"$TMP/make.out" 2>&1 || { cat "$TMP/make.out"; return 1; }; }

echo "== make install DESTDIR PREFIX=/usr"
check "make install succeeds" mk install PREFIX=/usr
BIN=$D/usr/bin/xigmp UNIT=$D/usr/lib/systemd/system/xigmp.service CONF=$D/etc/xigmp/xigmp.yaml
BASH_C=$D/usr/share/bash-completion/completions/xigmp
ZSH_C=$D/usr/share/zsh/site-functions/_xigmp
FISH_C=$D/usr/share/fish/vendor_completions.d/xigmp.fish
for f in "$BIN" "$UNIT" "$CONF" "$BASH_C" "$ZSH_C" "$FISH_C"; do
	check "installed ${f#"$D"}" test -f "$f"
done
check "the binary is the one built, executable" bash -c "cmp -s '$XIGMP' '$BIN' && test -x '$BIN'"
expect_eq "the unit's ExecStart runs the installed binary on the installed config" \
	"ExecStart=/usr/bin/xigmp run --config /etc/xigmp/xigmp.yaml" "$(grep '^ExecStart=' "$UNIT")"
check "no /usr/local path left in the unit" bash -c "! grep -q /usr/local '$UNIT'"
check "the unit is Type=notify with a watchdog and SIGHUP reload" \
	bash -c "grep -qx Type=notify '$UNIT' && grep -qx NotifyAccess=main '$UNIT' && grep -q '^WatchdogSec=' '$UNIT' && grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' '$UNIT'"
check "the unit keeps its capabilities and MEMLOCK limit" \
	bash -c "grep -qx 'AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_NET_RAW' '$UNIT' && grep -qx LimitMEMLOCK=infinity '$UNIT'"
if command -v systemd-analyze >/dev/null; then
	# Verified on this root with ExecStart at the staged binary (verify
	# checks that the command exists and is executable).
	mkdir "$TMP/unit"
	sed "s|^ExecStart=/usr/bin/xigmp |ExecStart=$BIN |" "$UNIT" >"$TMP/unit/xigmp.service"
	out=$(systemd-analyze verify --man=no "$TMP/unit/xigmp.service" 2>&1); rc=$?
	check "systemd-analyze verify: clean (${out:-no output})" test "$rc" = 0 -a -z "$out"
else
	skip "no systemd-analyze (apt-get install systemd)" "systemd-analyze verify of the unit"
fi
for f in "$BASH_C" "$ZSH_C" "$FISH_C"; do
	check "completion ${f##*/} is non-empty and knows 'routes'" bash -c "test -s '$f' && grep -q routes '$f'"
done
check "the bash completion loads in bash and registers xigmp" \
	bash -c "source '$BASH_C' && complete -p xigmp >/dev/null"

echo "== the example config is valid (interfaces named as in it: eth0, docker0)"
N=xgt-inst-$$ H=xgt-insth-$$
new_ns "$N"; new_ns "$H"
veth_pair "$N" eth0 10.1.0.2/24 "$H" up0 10.1.0.1/24
veth_pair "$N" docker0 10.2.0.1/24 "$H" in0 10.2.0.2/24
"$BIN" --netns "$N" run --config "$CONF" --check >"$TMP/check.out" 2>&1; rc=$?
check "xigmp run --config ${CONF#"$D"} --check: OK (exit $rc)" bash -c "test $rc = 0 && grep -q ': OK$' '$TMP/check.out'"
[ "$rc" = 0 ] || cat "$TMP/check.out"

echo "== an edited config survives install and uninstall"
echo "# edited" >>"$CONF"
check "make install again" mk install PREFIX=/usr
check "the edited config was not replaced" grep -qx "# edited" "$CONF"
check "make uninstall" mk uninstall PREFIX=/usr
expect_eq "only the edited config is left" "/etc/xigmp/xigmp.yaml" "$(cd "$D" && find . ! -type d | sed 's|^\.||')"
check "uninstall said it kept it" grep -q "kept $CONF" "$TMP/make.out"

echo "== the example config unchanged: uninstall leaves nothing"
cp contrib/xigmp.example.yaml "$CONF"
check "make uninstall" mk uninstall PREFIX=/usr
expect_eq "no file left" "" "$(cd "$D" && find . ! -type d)"
check "and no /etc/xigmp directory" test ! -e "$D/etc/xigmp"

echo "== default PREFIX is /usr/local"
check "make install (no PREFIX)" mk install
expect_eq "ExecStart with PREFIX=/usr/local" "ExecStart=/usr/local/bin/xigmp run --config /etc/xigmp/xigmp.yaml" \
	"$(grep '^ExecStart=' "$D/usr/local/lib/systemd/system/xigmp.service" 2>/dev/null)"
check "zsh completion under /usr/local" test -s "$D/usr/local/share/zsh/site-functions/_xigmp"
check "make uninstall (no PREFIX)" mk uninstall
expect_eq "no file left" "" "$(cd "$D" && find . ! -type d)"
finish
