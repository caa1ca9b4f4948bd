#!/usr/bin/env bash
# run.sh - every namespace integration test; prints "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
total_pass=0 total_fail=0
for t in tests/integration/test_*.sh; do
	echo "### $t"
	out=$(bash "$t" 2>&1); rc=$?
	echo "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -1)
	if [ -z "$line" ]; then
		echo "  FAIL: $t ended without a result line (exit $rc)"
		total_fail=$((total_fail + 1))
		continue
	fi
	p=${line%% passed*}; f=${line#*, }; f=${f%% failed}
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
	[ "$rc" == 0 ] || [ "$f" != 0 ] || { echo "  FAIL: $t exited $rc"; total_fail=$((total_fail + 1)); }
done
echo "integration: $total_pass passed, $total_fail failed"
[ "$total_fail" == 0 ]
