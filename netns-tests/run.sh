#!/usr/bin/env bash
# run.sh - every namespace integration test; prints "N passed, N failed,
# N skipped", skips counted by reason ("SKIP: ... [reason]" lines).
cd "$(dirname "$0")/.." || exit 1
total_pass=0 total_fail=0 total_skip=0
declare -A reasons=()
for t in netns-tests/test_*.sh; do
	echo "### $t"
	out=$(bash "$t" 2>&1); rc=$?
	echo "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' <<<"$out" | tail -1)
	if [ -z "$line" ]; then
		echo "  FAIL: $t ended without a result line (exit $rc)"
		total_fail=$((total_fail + 1))
		continue
	fi
	read -r p _ f _ s _ <<<"${line//,/}"
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + ${s:-0}))
	while IFS= read -r r; do
		reasons[$r]=$(( ${reasons[$r]:-0} + 1 ))
	done < <(grep -oE '^  SKIP: .*\[[^]]+\]$' <<<"$out" | sed -E 's/.*\[([^]]+)\]$/\1/')
	[ "$rc" == 0 ] || [ "$f" != 0 ] || { echo "  FAIL: $t exited $rc"; total_fail=$((total_fail + 1)); }
done
for r in "${!reasons[@]}"; do echo "integration skipped ${reasons[$r]}: $r"; done
echo "integration: $total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" == 0 ]
