#!/bin/bash
# The suite on aarch64, in the qemu-system-aarch64 guest of ../shared/arm64
# (README there); tests/run-checks.sh runs this and counts what it prints
# (make check, make check-arm64).  Output: TAP lines only.
#
#  1. cross-build ckpt, the test targets and the unit tests (make
#     ARCH=aarch64), and stage them with tests/ at the same relative paths
#     as here, plus stand-ins for commands busybox lacks (tests/arm64-guest);
#  2. dump a process here with this machine's ckpt: a real image from
#     another architecture for tests/arch.bats in the guest;
#  3. run tests/run-checks.sh in the guest; its TAP comes back on the
#     console; then the guest dumps a process and prints that image;
#  4. run tests/arch.bats here with the guest's image.
# A build or harness failure is one failed test.
# Only what depends on the architecture runs in the guest: tests tagged
# arch-independent and the unit tests of arch-independent C are the host's
# (tests/run-checks.sh, guest_unit below).
# Usage: tests/arm64-check.sh [BATS_FILE...]   (files for the guest)
#   environment: ARM64_DIR (the harness), MAKE, JOBS, CKPT_ARM64_TIMEOUT (all
#   of the guest's run, 4 h), CKPT_ARM64_IDLE (its console silent, 10 min),
#   CKPT_ARM64_ALL=1 (every test in the guest, arch-independent ones too)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
ARM64=${ARM64_DIR:-$top/../shared/arm64}
MAKE=${MAKE:-make}
host=$(uname -m)
stage=$top/build/arm64-stage
foreign=$top/build/foreign
log=$top/build/arm64-build.log
out=$top/build/arm64-console.log
times=$top/build/arm64-times.log
CROSS=aarch64-linux-gnu-

mkdir -p "$top/build"
# The cross build must not inherit an outer make's variables (O=...).
xmake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$MAKE" -C "$top" -j"${JOBS:-2}" ARCH=aarch64 "$@"
}
if ! xmake all targets >"$log" 2>&1; then
	grep -E 'error|Error' "$log" | head -20 | sed 's/^/# /'
	echo "not ok 1 aarch64: cross build failed (make ARCH=aarch64, log in $log)"
	exit 1
fi
if ! xmake -k units >"$log.units" 2>&1; then
	grep -E 'error|Error' "$log.units" | head -10 | sed 's/^/# /'
	echo "not ok 1 aarch64: unit tests do not build (log in $log.units)"
fi

# Unit tests of C that is the same on both stay on the host, which runs
# them (as tagged bats tests do; CKPT_ARM64_ALL=1: all of them here too):
# the image format and reader (every restore here reads a real arm64
# image), the fuzz inputs (x86-64 images, refused here at the machine
# check), /proc parsing, the harness, inspect's file opening, streams and
# fd_tcp_local.  The rest (arch_find_code, the CRC32C and SHA-256 CPU
# paths, and any new one) runs here.
guest_unit() {
	[ "${CKPT_ARM64_ALL:-0}" = 1 ] && return 0
	case ${1##*/} in
	test_format | test_fuzz_regress | test_proc | test_harness | test_inspect_files | \
		test_read_streams | test_tcp_local) return 1 ;;
	esac
	return 0
}

# Everything staged goes into the guest's RAM: no debug info.
rm -rf "$stage" "$foreign"
mkdir -p "$stage/build/aarch64/targets" "$stage/build/aarch64/unit" "$stage/bin" \
	"$stage/build/foreign" "$foreign"
cp -R "$top/tests" "$top/completions" "$top/README.md" "$top/ckpt.1" "$stage/"
rm -rf "$stage/tests/unit" "$stage/tests/targets"/*.c "$stage/tests/targets/aarch64"
ln -s build/aarch64/ckpt "$stage/ckpt"
for f in "$top"/build/aarch64/ckpt "$top"/build/aarch64/targets/* "$top"/build/aarch64/unit/test_*; do
	case $f in *.d|*\*) continue ;; */unit/*) guest_unit "$f" || continue ;; esac
	to=$stage/build/aarch64/${f#"$top"/build/aarch64/}
	${CROSS}strip --strip-debug -o "$to" "$f" || { echo "not ok 1 aarch64: cannot strip $f"; exit 1; }
done
cp "$top/tests/arm64-guest/getconf" "$stage/bin/"
if ! ${CROSS}gcc -static -O2 -Wall -Wextra -Werror -o "$stage/bin/setpriv" \
		"$top/tests/arm64-guest/setpriv.c" 2>"$log.setpriv"; then
	sed 's/^/# /' "$log.setpriv"
	echo "not ok 1 aarch64: cannot build tests/arm64-guest/setpriv.c"
	exit 1
fi

# An image of this machine's for the guest (tests/arch.bats).
"$top/tests/arm64-guest/foreign-image" "$top/build/$host/ckpt" "$top/build/$host/targets/counter" \
	"$stage/build/foreign/$host.img" >"$log.foreign" 2>&1 ||
	{ sed 's/^/# /' "$log.foreign"; echo "not ok 1 aarch64: cannot dump a $host process for the guest"; }
echo "# aarch64: cross build and staging $SECONDS s"

{
	# As on any system, /root is for root only (tests/targets/creds.c).
	echo 'mkdir -p /root && chmod 700 /root'
	echo "PATH=/test/bin:\$PATH CKPT_FOREIGN=/test/build/foreign CKPT_UNIT_TIMEOUT=900 CKPT_ARM64_ALL=${CKPT_ARM64_ALL:-0} \\"
	printf '\tbash tests/run-checks.sh build/aarch64'
	[ $# -eq 0 ] || printf ' %q' "$@"
	printf '\nst=$?\n'
	echo 'sh tests/arm64-guest/foreign-image build/aarch64/ckpt build/aarch64/targets/counter /tmp/aarch64.img >/tmp/foreign.log 2>&1 &&'
	echo '	{ echo "--- ckpt aarch64 image"; base64 /tmp/aarch64.img; echo "--- end"; }'
	echo 'exit $st'
} >"$stage/check.sh"

# A hang shows as silence, not as a long run: on a busy host the whole
# suite may take hours under emulation (a 40-minute limit stopped it at
# load 20-100).  The guest is stopped when its console has said nothing for
# CKPT_ARM64_IDLE seconds (10 minutes: twice the longest limit a test
# gives itself, 300 s for a restore, so a test that hangs
# is reported by the test, and a guest that hangs elsewhere stops well
# inside CI's 30 minutes), or after CKPT_ARM64_TIMEOUT in all (4 hours).
idle=${CKPT_ARM64_IDLE:-600}
pidfile=$top/build/arm64-run.pid
rm -f "$pidfile" "$out"
watchdog() {
	local size=-1 now last=$SECONDS
	while sleep 10; do
		[ -s "$pidfile" ] || continue
		kill -0 "$(cat "$pidfile")" 2>/dev/null || return 0
		now=$(stat -c %s "$out" 2>/dev/null || echo 0)
		if [ "$now" != "$size" ]; then
			size=$now last=$SECONDS
		elif ((SECONDS - last >= idle)); then
			kill -TERM "$(cat "$pidfile")"
			return 0
		fi
	done
}
watchdog &
wd=$!
# Where the guest's time goes: each result line with the seconds since the
# guest was started, in $times (the console has no clock of its own).
stamp() {
	local line t0=${EPOCHREALTIME/./} t
	while IFS= read -r line; do
		case $line in "ok "* | "not ok "* | run:*) ;; *) continue ;; esac
		t=$(((${EPOCHREALTIME/./} - t0) / 100000))
		printf '%d.%d %s\n' $((t / 10)) $((t % 10)) "$line"
	done
}
# The guest's own summary lines are left out: run-checks.sh counts.
# sock_diag for unix and TCP sockets (dump/fd-unix.c, dump/fd-inet.c):
# modules in Debian's kernel, which the guest loads only when asked.
export CKPT_ARM64_MODULES="${CKPT_ARM64_MODULES:-} unix_diag inet_diag tcp_diag"
( "$ARM64/run" "$stage" check.sh "${CKPT_ARM64_TIMEOUT:-14400}" & echo $! >"$pidfile"; wait $! ) |
	tee "$out" >(stamp >"$times") | sed -u '/^--- ckpt aarch64 image$/,/^--- end$/d' |
	grep --line-buffered -Ev '^[0-9]+ skipped$|^[0-9]+ passed, [0-9]+ failed$'
st=${PIPESTATUS[0]}
kill "$wd" 2>/dev/null
wait "$wd" 2>/dev/null
case $st in
0|1) ;;
124) echo "not ok 1 aarch64: the guest timed out (../shared/arm64/run status 124)" ;;
143) echo "not ok 1 aarch64: the guest said nothing for $idle s: stopped (a test hangs?)" ;;
*) echo "not ok 1 aarch64: the guest run failed (../shared/arm64/run status $st)" ;;
esac

# The guest's image, here.
sed -n '/^--- ckpt aarch64 image$/,/^--- end$/p' "$out" | sed '1d;$d' | base64 -d >"$foreign/aarch64.img" 2>/dev/null
[ -s "$foreign/aarch64.img" ] || { rm -f "$foreign/aarch64.img"; echo "not ok 1 aarch64: the guest made no image"; }
CKPT=$top/build/$host/ckpt CKPT_TOP=$top CKPT_FOREIGN=$foreign bats --tap "$top/tests/arch.bats" 2>&1 |
	sed 's/^\(ok\|not ok\) [0-9]* /&'"$host"': /'
exit 0
