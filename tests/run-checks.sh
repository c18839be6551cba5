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

# CKPT_CHECK_HOST=0 (make check-arm64): only the aarch64 part below.
if [ "${CKPT_CHECK_HOST:-1}" = 1 ]; then
	for u in "$top/$O"/unit/test_*; do
		[ -x "$u" ] || continue
		count < <("$u" 2>&1)
	done

	export CKPT="$top/$O/ckpt" CKPT_TARGETS="$top/$O/targets" CKPT_TOP="$top"
	if [ $# -eq 0 ]; then set -- "$top"/tests/*.bats; fi
	# In the arm64 guest (CKPT_ARM64, tests/arm64-check.sh) only what
	# depends on the architecture: tests and files tagged
	# arch-independent (# bats test_tags / file_tags) are the host's
	# alone.  CKPT_ARM64_ALL=1: all of them there too.
	tags=()
	[ -z "${CKPT_ARM64:-}" ] || [ "${CKPT_ARM64_ALL:-0}" = 1 ] ||
		tags=(--filter-tags '!arch-independent')
	count < <(bats --tap "${tags[@]}" "$@" 2>&1)
fi

# CKPT_CHECK_ARM64=1 (make check-arm64, make check CHECK_ARM64=1): the
# suite once more on aarch64, in an emulated guest, when its toolchain can
# be set up (tests/arm64-check.sh).  Its tests count here like the others.
if [ "${CKPT_CHECK_ARM64:-0}" = 1 ]; then
	t0=$SECONDS
	if "$top/tests/arm64-deps.sh" >"$log/arm64-deps" 2>&1; then
		echo "# aarch64: the suite in qemu-system-aarch64 (../shared/arm64)"
		count < <("$top/tests/arm64-check.sh" 2>&1)
		echo "# aarch64: $((SECONDS - t0)) s"
	else
		# No harness (../shared/arm64) or no apt: counted as one skip.
		echo "ok $((pass + fail + skip + 1)) aarch64 suite # skip its toolchain could not be set up (tests/arm64-deps.sh):"
		tail -n 3 "$log/arm64-deps" | sed 's/^/#   /'
		skip=$((skip + 1))
	fi
fi

echo "$skip skipped"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
