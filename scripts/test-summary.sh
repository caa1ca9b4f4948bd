#!/usr/bin/env bash
# test-summary.sh UNIT_LOG INTEGRATION_LOG - one closing line for `make
# test`: passed, failed and skipped over the Swift tests and the namespace
# tests, skips counted by the reason each gave (the feature it lacks).
set -uo pipefail
unit=$1 integ=$2
declare -A reasons=()
# Swift Testing: "✔ Test ... passed", "✘ Test ... failed", and
# '➜ Test "name" skipped: "reason"' (suites that skip are not counted, their
# tests are).
up=$(grep -cE '^✔ Test .* passed after' "$unit")
uf=$(grep -cE '^✘ Test .* failed after' "$unit")
us=0
while IFS= read -r r; do
	reasons[$r]=$(( ${reasons[$r]:-0} + 1 )); us=$((us + 1))
done < <(grep -E '^➜ Test .* skipped: "' "$unit" | sed -E 's/.* skipped: "(.*)"$/\1/')
line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed' "$integ" | tail -1)
if [ -z "$line" ]; then
	ip=0 if_=1 is=0
	echo "the namespace tests printed no result line" >&2
else
	read -r _ ip _ if_ _ is _ <<<"${line//,/}"
fi
while IFS= read -r r; do
	n=${r%%:*}; why=${r#*: }
	reasons[$why]=$(( ${reasons[$why]:-0} + n ))
done < <(grep -E '^integration skipped [0-9]+: ' "$integ" | sed -E 's/^integration skipped //')
echo "unit: $up passed, $uf failed, $us skipped; namespace: $ip passed, $if_ failed, ${is:-0} skipped"
why=""
for r in "${!reasons[@]}"; do why+="${why:+; }skipped ${reasons[$r]}: $r"; done
echo "total: $((up + ip)) passed, $((uf + if_)) failed, $((us + ${is:-0})) skipped${why:+ ($why)}"
