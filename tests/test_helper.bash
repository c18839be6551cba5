bats_require_minimum_version 1.5.0

# Shared by the bats files.  Targets follow tests/targets/target.h:
# they create $T/ready when set up and wait for $T/go before checking.

: "${CKPT_TOP:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${CKPT:=$CKPT_TOP/ckpt}"
: "${CKPT_TARGETS:=$CKPT_TOP/build/$(uname -m | sed 's/arm64/aarch64/')/targets}"
# Root's images are signed with a key of this run's, not the machine's
# /var/lib/ckpt/key (docs/security.md).
export CKPT_KEY_FILE=${CKPT_KEY_FILE:-${BATS_RUN_TMPDIR:-/tmp}/ckpt.key}

setup() {
	T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ckpt-test.XXXXXX")
	PIDS=()
}

teardown() {
	local p m
	# A network lock a test's dump --kill left (a restore refused, an image
	# not restored, a test failed half way): it would hold a listener's
	# port for good, and a later test may be given that port.  Its image
	# names it: each image of the test's (two levels, by its magic).
	if command -v nft >/dev/null && [ -n "$(lock_tables)" ]; then
		for p in "$T"/* "$T"/*/*; do
			[ -f "$p" ] && LC_ALL=C read -r -n 5 m <"$p" 2>/dev/null && [[ "$m" == *CKPT ]] &&
				{ "$CKPT" unlock "$p" >/dev/null 2>&1 || true; }
		done
	fi
	# Every process this test started, by PID; then reap our children.
	for p in "${PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$T"
}

skip_unless_ptrace() {
	if [ -r /proc/sys/kernel/yama/ptrace_scope ] &&
	   [ "$(cat /proc/sys/kernel/yama/ptrace_scope)" = 3 ]; then
		skip "ptrace disabled (yama ptrace_scope=3)"
	fi
}

skip_unless_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

# Time limits here only catch a test that hangs: they are minutes, for a
# busy machine and the emulated arm64 guest (a test that works is done in
# seconds anyway); work a test waits for is sized to the machine instead.

# wait_for SECONDS CMD...: until CMD succeeds, at most SECONDS.
wait_for() {
	local i max=$(($1 * 20))
	shift
	for ((i = 0; i < max; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

# uffds PID: how many userfaultfds PID holds
uffds() {
	local f n=0
	for f in /proc/$1/fd/*; do
		[ "$(readlink "$f")" != "anon_inode:[userfaultfd]" ] || n=$((n + 1))
	done
	echo "$n"
}

# wait_file FILE [SECONDS]
wait_file() {
	wait_for "${2:-120}" test -e "$1"
}

# start_target NAME [ARGS...]: run a test target in the background as
# our child (so we can reap it), wait until it is ready; sets TPID.
# TARGET_PREP (here and in start_target_as_nobody): shell code the
# target's subshell runs just before the exec (a cgroup to be born in, a
# ulimit).
start_target() {
	local name=$1
	shift
	(
		# Only 0-2: bats's own descriptors must not leak into targets.
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		eval "${TARGET_PREP:-}"
		exec "$CKPT_TARGETS/$name" "$@" </dev/null >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready" || { cat "$T/err" >&2; return 1; }
}

# Reap a killed target so its PID is free again (PID 1 reaps late).
# Bounded (REAP_S, 120 s): a dump --kill that failed leaves the target
# running, waiting for GO for good; it is then killed here, by PID, and
# reap fails.
reap() {
	local i max=$(( ${REAP_S:-120} * 20 ))
	for ((i = 0; i < max; i++)); do
		not_running "$1" && break
		sleep 0.05
	done
	if ! not_running "$1"; then
		echo "reap: PID $1 still runs after ${REAP_S:-120} s (was it killed?): killed now" >&2
		kill -KILL "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
		return 1
	fi
	wait "$1" 2>/dev/null || true
}

# start_target_as_nobody NAME [ARGS...]: start_target, the target run as
# uid and gid 65534 (setpriv; $T open to it).
start_target_as_nobody() {
	local name=$1
	shift
	chmod 1777 "$T"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		eval "${TARGET_PREP:-}"
		exec setpriv --reuid=65534 --regid=65534 --clear-groups "$CKPT_TARGETS/$name" "$@" \
			</dev/null >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready"
}

# dump_kill: dump $TPID with --kill into $T/img and reap it.
# The option dump --kill needs where it cannot lock the network (no nft,
# as in the arm64 guest): for tests whose peer outside sends nothing while
# the process is down (tests/fds-tcp-lock.bats tests the lock itself).
netlock_or_skip() {
	nft list tables >/dev/null 2>&1 || echo --network-lock=skip
}

# The tests of the network lock itself need nft (the arm64 guest has none).
skip_unless_nft() {
	command -v nft >/dev/null || [ -x /usr/sbin/nft ] ||
		skip "nft is not installed (Debian's nftables, tests/deps.sh installs it)"
	nft list tables >/dev/null 2>&1 || skip "nft cannot list tables here (no nf_tables?)"
}

# The network lock tables there are (ckpt_ and an image_id in hex, the
# name ckpt unlock prints), one a line.
lock_tables() {
	nft list tables 2>/dev/null | grep -o 'ckpt_[0-9a-f]*' || true
}
dump_kill() {
	run "$CKPT" dump "$TPID" -o "$T/img" --kill "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
}

# dump_default_kill SAYS: the default dump of $TPID, whose -v output must
# say SAYS (where it read the memory from: "memory is read from the forked
# copy", "not from a forked copy: WHY"), then the job killed and reaped
# (the image restores it).
dump_default_kill() {
	run "$CKPT" -v dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$1"* ]]
	kill -KILL "$TPID"
	reap "$TPID"
}

# dump_forked_kill: dump_default_kill, the memory read from a forked copy.
dump_forked_kill() {
	dump_default_kill "memory is read from the forked copy"
}

# dump_stop_kill: dump the tree of $TPID with --stop (left as it was,
# stopped: what it writes after the dump would be written twice), then
# kill every process the test tracks and wait until none runs (the root
# reaped; orphans, which PID 1 reaps late, at least zombies): they would
# still hold what the restore must take again (a listener's name, say).
dump_stop_kill() {
	local p
	run "$CKPT" dump "$TPID" -o "$T/img" --stop
	echo "$output"
	[ "$status" -eq 0 ]
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	reap "$TPID"
	for p in "${PIDS[@]}"; do
		wait_for 30 not_running "$p"
	done
}

# not_running PID: gone, or a zombie.
not_running() {
	local s
	# (errors.bats has its own proc_state, which fails when it is gone)
	s=$(proc_state "$1" 2>/dev/null) || s=
	[ -z "$s" ] || [ "$s" = Z ] || [ "$s" = X ]
}

# restore_go [ARGS]: let the restored target check itself; its verdict is
# ckpt restore's exit status.
restore_go() {
	touch "$T/go"
	run timeout 300 "$CKPT" restore "$T/img" "$@"
	echo "$output"
	echo "--- target stderr:"
	cat "$T/err"
}

# restore_under_new_pid TARGET [ARGS]: dump TARGET, restore it once (it takes its
# PID; stopped, so that it neither sees GO nor ends and frees the PID),
# then again: the second gets a new PID and must pass its own checks
# (TARGET prints "TARGET: ok").
restore_under_new_pid() {
	skip_unless_ptrace
	skip_unless_root
	start_target "$@"
	dump_kill
	run "$CKPT" restore --detach "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	kill -STOP "$TPID"
	restore_go
	[ "$status" -eq 0 ]
	[[ "$output" == *"PID $TPID is in use: the process gets a new PID"* ]]
	grep -qx "$1: ok" "$T/out"
}

# proc_state PID: the state letter in /proc/PID/stat (empty when gone).
proc_state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}

# file_of_kind KIND IMG: the first FILE section (type 11) of kind KIND
# in IMG, as "SEC FILE STATE": the offsets of the section, of its struct
# ckpt_file and of the kind's state after the path (needs python3).
file_of_kind() {
	"$CKPT_TARGETS/imgtool" sections "$2" | python3 -c '
import struct, sys
kind, img = int(sys.argv[1]), open(sys.argv[2], "rb").read()
for line in sys.stdin:
    f = line.split()
    if f[0] == "eof" or f[1] != "11":
        continue
    p = int(f[0]) + 24
    if struct.unpack_from("<I", img, p + 4)[0] == kind:
        print(f[0], p, p + 96 + struct.unpack_from("<I", img, p + 76)[0])
        break
' "$1" "$2"
}

# vforker_ok FILE: tests/targets/vforker.c's last line "result N SUM" holds
# (SUM: the sum of i % 100 for i = 1..N, each a child's exit status), N >= 1.
vforker_ok() {
	local n sum
	read -r _ n sum < <(grep '^result ' "$1" | tail -n 1)
	echo "vforker: $n rounds, sum $sum"
	[ "$n" -ge 1 ] && [ "$sum" -eq $(((n / 100) * 4950 + (n % 100) * (n % 100 + 1) / 2)) ]
}

# children_to_clean: $TPID's children in PIDS too, for the teardown,
# should the test fail half way (a tree target's workers).
children_to_clean() {
	local f st
	for f in /proc/[0-9]*/stat; do
		read -r -a st <"$f" 2>/dev/null || continue
		[ "${st[3]}" != "$TPID" ] || PIDS+=("${st[0]}")
	done
}
