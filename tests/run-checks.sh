#!/bin/bash
# make check's runner: unit tests, then the bats suite; prints a summary
# whose last line is "N passed, M failed" (CI reads it).
# Usage: tests/run-checks.sh BUILD_DIR [BATS_FILE...]
set -u
O=${1:?build dir}
shift
top=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
pass=0 fail=0 skip=0

count() {	# count a TAP stream from stdin
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		"ok "*"# skip"*) skip=$((skip + 1)) ;;
		"ok "*) pass=$((pass + 1)) ;;
		"not ok "*) fail=$((fail + 1)) ;;
		esac
	done
}

for u in "$top/$O"/unit/test_*; do
	[ -x "$u" ] || continue
	count < <("$u" 2>&1)
done

export CKPT="$top/$O/ckpt" CKPT_TARGETS="$top/$O/targets" CKPT_TOP="$top"
if [ $# -eq 0 ]; then set -- "$top"/tests/*.bats; fi
count < <(bats --tap "$@" 2>&1)

echo "$skip skipped"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
