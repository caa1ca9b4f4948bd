#!/usr/bin/env bash
# run-tests.sh - `make test`: the Swift tests (unit, BPF_PROG_TEST_RUN,
# namespaces), then the namespace integration tests, then one line that
# counts passed, failed and skipped by reason. Both suites always run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
swift test --skip-build ${SWIFT_FLAGS:-} 2>&1 | tee "$logs/unit.log"
unit_rc=${PIPESTATUS[0]}
XIGMP=${XIGMP:-.build/debug/xigmp} netns-tests/run.sh 2>&1 | tee "$logs/integration.log"
integ_rc=${PIPESTATUS[0]}
scripts/test-summary.sh "$logs/unit.log" "$logs/integration.log"
[ "$unit_rc" == 0 ] && [ "$integ_rc" == 0 ]
