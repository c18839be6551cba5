#!/usr/bin/env bats
# Processes with more mappings, and more mapped files, than restore may
# have descriptors open (tests/targets/mem_many.c), alone and as a tree.  vm.max_map_count is
# 65530 by default: the process, and the restore stub in its place, stay
# below it.  Restore runs with a descriptor limit of its own (4096; 256
# in the arm64 guest), whatever this machine's is.
#
# Tests tagged arch-independent (madvise flags among many mappings, a tree of
# them; the guest restores 60,000 mappings and 5,000 files) run on the host
# only: the arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

# Fewer in the emulated arm64 guest, where each mapping costs far more.
many() {
	if [ -n "${CKPT_ARM64:-}" ]; then echo "$2"; else echo "$1"; fi
}

# timed CMD...: run it, and say how long it took on the TAP stream.
timed() {
	local t0=$SECONDS
	"$@"
	echo "# $*: $((SECONDS - t0)) s" >&3
}

LIMIT=$(many 4096 256)

restore_limited() {
	touch "$T/go"
	run timeout 600 bash -c 'ulimit -n "$0" && ulimit -Hn "$0" && exec "$@"' "$LIMIT" \
		"$CKPT" restore "$T/img"
	echo "$output"
	echo "--- target stderr:"
	cat "$T/err"
}

@test "mappings: 60,000 anonymous ones, every other read-only, restored under a descriptor limit of 4096" {
	skip_unless_ptrace
	n=$(many 60000 4000)
	start_target mem_many "$n" 0 0 "$T"
	[ "$(wc -l </proc/"$TPID"/maps)" -gt "$n" ]
	timed dump_kill
	timed restore_limited
	[ "$status" -eq 0 ]
	grep -qx 'mem_many: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "mappings: MADV_DONTDUMP, MADV_WIPEONFORK and MADV_HUGEPAGE on three of 60,000 are honoured" {
	skip_unless_ptrace
	n=$(many 60000 4000)
	start_target mem_many "$n" 0 0 "$T" 0 1
	timed dump_kill
	timed restore_limited
	[ "$status" -eq 0 ]
	grep -qx 'mem_many: ok' "$T/out"
}

# The default dump forks: which of the 60,000 one-page mappings the copy
# lacks pages of (the MADV_WIPEONFORK one) is found by one page-map scan of
# all of them (dump/pages.c dump_mark_not_forked), and that page is read
# from the process; the copy's VmFlags (smaps after the release) give the
# rest.
# bats test_tags=arch-independent
@test "mappings: the default (forked) dump of 60,000 with MADV_DONTDUMP, MADV_WIPEONFORK and MADV_HUGEPAGE on three honours them" {
	skip_unless_ptrace
	n=$(many 60000 4000)
	start_target mem_many "$n" 0 0 "$T" 0 1
	dump_forked_kill
	timed restore_limited
	[ "$status" -eq 0 ]
	grep -qx 'mem_many: ok' "$T/out"
}

@test "mappings: 5,000 files and 55,000 mappings of one more, restored under a descriptor limit of 4096" {
	skip_unless_ptrace
	files=$(many 5000 400) same=$(many 55000 3000)
	start_target mem_many 0 "$files" "$same" "$T"
	timed dump_kill
	timed restore_limited
	[ "$status" -eq 0 ]
	grep -qx 'mem_many: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "mappings: a tree, parent and child each with 5,000 files and 55,000 mappings of one more, under a descriptor limit of 4096" {
	skip_unless_ptrace
	files=$(many 5000 400) same=$(many 55000 3000)
	start_target mem_many 0 "$files" "$same" "$T" 1
	timed dump_kill
	timed restore_limited
	[ "$status" -eq 0 ]
	grep -qx 'mem_many: ok' "$T/out"
}

# A --no-fork dump may read smaps while the job runs, and keep its VmFlags
# if no thread of the job made a syscall from before that read to the
# freeze (dump/quiet.c: perf tracepoint counts, root only).  madv_late
# spins without syscalls; given a trigger file, its LATE mapping goes
# under MADV_DONTDUMP once the file's first byte is 'x', which the race
# tests write while ckpt is stopped between the read and the freeze
# (CKPT_KILLSIG=SIGSTOP at the kill point).
#
# What is counted is not the same everywhere: x86-64 leaves out syscalls
# that change no mapping (arch/x86_64/quiet.c), aarch64 counts every one
# (arch/aarch64/quiet.c).  So on aarch64 the tests that need the early
# read taken (the first two, the stack grown) would take it only when the
# targets' getppid (after a 2 ms gap in their clock: a preemption on a
# busy guest) falls outside the window: flaky there, tagged
# arch-independent, not run there.  The madvise race and the CLONE_VM
# sharer run there too: the madvise is counted either way (here, exactly
# one: the x86-64 filter itself checked), and the sharer is refused
# before any read.
syscalls_countable() {
	[ -r /sys/kernel/tracing/events/raw_syscalls/sys_enter/id ] ||
		[ -r /sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id ] ||
		skip "no raw_syscalls tracepoint to count syscalls with"
}

stopped() {
	[ "$(proc_state "$1")" = T ]
}

# trigger_byte N C: byte N (from 1) of madv_late's trigger file is C
trigger_byte() {
	[ "$(head -c "$1" "$T/trigger" | tail -c 1)" = "$2" ]
}

# dump_early: dump $TPID --no-fork until ckpt says it took the VmFlags
# read before the freeze (the target may still be leaving the syscalls of
# its setup: at most 5 dumps), then kill it; the last image restores it.
dump_early() {
	local i
	for i in 1 2 3 4 5; do
		run "$CKPT" -v dump "$TPID" -o "$T/img" --no-fork
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" != *"VmFlags read before the freeze: the process made no syscall since"* ]] || break
	done
	[[ "$output" == *"VmFlags read before the freeze: the process made no syscall since"* ]]
	kill -KILL "$TPID"
	reap "$TPID"
}

# bats test_tags=arch-independent
@test "mappings: --no-fork takes VmFlags read before the freeze from a job that made no syscall since, and honours them" {
	skip_unless_ptrace
	skip_unless_root
	syscalls_countable
	start_target madv_late
	# a few mappings: not worth the counts (their close costs ~0.1 s)
	run "$CKPT" -v dump "$TPID" -o "$T/img" --no-fork
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"VmFlags read while the process is frozen: "*" mappings, fewer than 10000"* ]]
	export CKPT_EARLY_SMAPS_MIN=0
	dump_early
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'madv_late: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "mappings: every madvise and mlock state taken from smaps read before the freeze comes back (mem_madv)" {
	skip_unless_ptrace
	skip_unless_root
	syscalls_countable
	start_target mem_madv spin
	export CKPT_EARLY_SMAPS_MIN=0	# (a few mappings)
	dump_early
	restore_go
	[ "$status" -eq 0 ]
}

# race_dump MODE DUMP-ARGS...: madv_late (MODE: "", sharer or grow) dumped
# with DUMP-ARGS, its trigger written while ckpt is stopped between the
# early smaps read and the freeze; the dump's output in $T/dump.out, the
# target reaped.
race_dump() {
	local mode=$1 st=0
	shift
	export CKPT_EARLY_SMAPS_MIN=0	# (a few mappings)
	head -c 4096 /dev/zero >"$T/trigger"
	start_target madv_late "$T/trigger" $mode
	wait_for 120 trigger_byte 3 s	# out of target_ready's open and close
	CKPT_KILLSIG=19 CKPT_KILLPOINT="dump: before the freeze" \
		"$CKPT" -v dump "$TPID" -o "$T/img" "$@" >"$T/dump.out" 2>&1 &
	ck=$!
	PIDS+=("$ck")
	wait_for 120 stopped "$ck"
	# The madvise, with no other syscall or signal in the target: it
	# polls the byte through a shared mapping and answers the same way.
	printf x | dd of="$T/trigger" conv=notrunc status=none
	wait_for 120 trigger_byte 2 y
	kill -CONT "$ck"
	wait "$ck" || st=$?
	cat "$T/dump.out"
	[ "$st" -eq 0 ]
	reap "$TPID"
}

@test "mappings: a whole mapping put under MADV_DONTDUMP between the early smaps read and the freeze is dumped as such" {
	skip_unless_ptrace
	skip_unless_root
	syscalls_countable
	race_dump "" --kill
	# x86-64: one syscall entered (the madvise), by the target's one
	# thread; aarch64 counts its getppid too, during the read or after
	if [ "$(uname -m)" = aarch64 ]; then
		grep -Eq "thread $TPID (entered|left) a syscall \([0-9]+\) (since|while) smaps was read: VmFlags read while the process is frozen" "$T/dump.out"
	else
		grep -q "thread $TPID entered a syscall (1) since smaps was read: VmFlags read while the process is frozen" "$T/dump.out"
	fi
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'madv_late: ok' "$T/out"
}

# A process sharing the memory without being a thread (clone(CLONE_VM)):
# its syscalls are not counted, so the early read must not be taken.  Here
# the sharer is the target's child, and --single leaves it out of the dump.
@test "mappings: a mapping madvised by another process sharing the memory (CLONE_VM) between the early smaps read and the freeze is dumped as such" {
	skip_unless_ptrace
	skip_unless_root
	syscalls_countable
	race_dump sharer --kill --single
	grep -q "VmFlags read while the process is frozen: process [0-9]* shares its memory" "$T/dump.out"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'madv_late: ok' "$T/out"
}

# A stack grown by a fault between the early read and the freeze (no
# syscall): maps read frozen differs from the early layout, so smaps is
# read again frozen (ahead.c same_layout) and the present pages scanned
# again over maps (dump.c collect_proc); the grown frame is checked after
# the restore.  With the early smaps kept anyway the dump fails ("mapping
# ... changed during the dump"); without the rescan it passes: the early
# scan covered the whole address range (pages.c plan_vmas takes it only as
# a superset), so that rescan is a second guard.
# bats test_tags=arch-independent
@test "mappings: a stack grown by a fault between the early smaps read and the freeze has its VmFlags and pages taken again" {
	skip_unless_ptrace
	skip_unless_root
	syscalls_countable
	race_dump grow --kill
	grep -q "the mappings changed since smaps was read: VmFlags read while the process is frozen" "$T/dump.out"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'madv_late: ok' "$T/out"
}
