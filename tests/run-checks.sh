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

# CKPT_CHECK_ARM64=1 (make check-arm64, make check CHECK_ARM64=1): the
# suite once more on aarch64, in an emulated guest, when its toolchain can
# be set up (tests/arm64-check.sh).  It runs beside the host's tests (its
# cross build and the guest are CPU work, while most host tests wait on
# the processes they dump); its lines are counted after the host's, so the
# output is the same as when it ran after them.  Its own process group, so
# that it is stopped whole when this script ends early.
# BATS_FILE arguments go to the guest too, as paths from the project's
# root (its /test there).
arm64=
if [ "${CKPT_CHECK_ARM64:-0}" = 1 ]; then
	gfiles=()
	for f in "$@"; do
		f=$(realpath "$f")
		gfiles+=("${f#"$top"/}")
	done
	setsid bash -c 't0=$SECONDS
		"$1/tests/arm64-deps.sh" >"$2/arm64-deps" 2>&1 || exit 3
		"$1/tests/arm64-check.sh" "${@:3}" >"$2/arm64" 2>&1
		st=$?
		echo "$((SECONDS - t0))" >"$2/arm64-time"
		exit "$st"' arm64 "$top" "$log" "${gfiles[@]}" </dev/null &
	arm64=$!
	trap '[ -z "$arm64" ] || kill -TERM -- "-$arm64" 2>/dev/null; rm -rf "$log"' EXIT
fi

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
	opts=()
	if [ -n "${CKPT_ARM64:-}" ] && [ "${CKPT_ARM64_ALL:-0}" != 1 ]; then
		opts=(--filter-tags '!arch-independent')
		# bats reads (preprocesses) every file it is given before it
		# filters, at ~1/12 of the host's speed there: files tagged
		# whole (file_tags before their first test, none after) are
		# left out before.  The same tests run: bats --count agrees.
		files=()
		for f in "$@"; do
			awk '/^[[:blank:]]*@test/ { t = 1 }
				/^[[:blank:]]*#[[:blank:]]*bats[[:blank:]]+file_tags=/ {
					if (t) late = 1
					else if ($0 ~ /[=,][[:blank:]]*arch-independent[[:blank:]]*(,|$)/) all = 1
				}
				END { exit !(all && !late) }' "$f" || files+=("$f")
		done
		set -- "${files[@]}"
	fi
	# CKPT_CHECK_TIMING=1: each result says how long its test took.
	[ "${CKPT_CHECK_TIMING:-0}" != 1 ] || opts+=(--timing)
	count < <(bats --tap "${opts[@]}" "$@" 2>&1)
fi

# The aarch64 part started above: its tests count here like the others.
if [ -n "$arm64" ]; then
	wait "$arm64"
	st=$?
	arm64=
	if [ "$st" != 3 ]; then
		echo "# aarch64: the suite in qemu-system-aarch64 (../shared/arm64)"
		count <"$log/arm64"
		# arm64-check.sh reports its own failures as tests (a failed
		# cross build too, then exits 1): this line is for a failure it
		# said nothing of, as when it was killed, counted once.
		[ "$st" = 0 ] || grep -q '^not ok ' "$log/arm64" || {
			echo "not ok $((pass + fail + skip + 1)) aarch64: tests/arm64-check.sh ended with status $st"
			fail=$((fail + 1))
		}
		echo "# aarch64: $(cat "$log/arm64-time" 2>/dev/null || echo ?) s (beside the host's tests)"
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
