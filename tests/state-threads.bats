#!/usr/bin/env bats
# Threads: many of them at work while dumped, rseq, and their identity.

load test_helper

@test "threads: 8 threads on a mutex and condvars, dumped at work, finish with exact totals and names" {
	skip_unless_ptrace
	start_target threads
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -q '^threads: [0-9]* items$' "$T/out"
}

@test "threads: dump without --kill leaves all 8 threads working correctly" {
	skip_unless_ptrace
	start_target threads
	run "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID"
	grep -q '^threads: [0-9]* items$' "$T/out"
}

# A thread caught running (not in a syscall: no restart state) is asked
# in one trip (ptrace/trip.c), whose last rt_sigreturn gives it its
# registers from the signal frame ckpt wrote: x87, SSE, AVX (AVX-512)
# state included.  The thread checks them itself once it is let go.
@test "threads: a second thread's x87, SSE, AVX registers are as before after a dump without --kill" {
	skip_unless_ptrace
	start_target fpu_regs spin thread
	run "$CKPT" -v dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"1 of 2 threads asked in one trip each"* ]] || [ -n "${CKPT_ARM64:-}" ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/out" "$T/err"; return 1; }
}

# A signal sent to a frozen thread before ckpt asks it its syscalls (by a
# child process the dump leaves out, which keeps sending): dequeued before
# the one its trip ends with, it stops the thread there instead, and must
# be delivered at the release, to the handler, with the thread's mask as
# it was.  Every other dump --no-fork: its tracing thread lets the threads
# go by its exit (dump/tracer.c), which delivers the kept signal.
@test "threads: a signal that reaches a frozen thread before its trip is delivered after the dump" {
	skip_unless_ptrace
	local i seen=0 nofork=0 how
	start_target sigrace
	for i in 1 2 3 4 5 6; do
		how=()
		[ $((i % 2)) = 0 ] || how=(--no-fork)
		run "$CKPT" -vv dump "$TPID" --single "${how[@]}" -o "$T/img"
		[ "$status" -eq 0 ] || { echo "$output"; return 1; }
		[[ $output != *"its signal 10 came before ours"* ]] || seen=$((seen + 1))
		[[ $output != *"its signal 10 came before ours"* ]] || [ ${#how[@]} = 0 ] ||
			nofork=$((nofork + 1))
	done
	echo "the case arose in $seen of 6 dumps ($nofork of 3 --no-fork)" >&3
	# aarch64 has no trip yet (no arch_code.call): its threads are borrowed.
	[ "$seen" -gt 0 ] || [ -n "${CKPT_ARM64:-}" ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; return 1; }
	grep -qx "sigrace: ok" "$T/out"
}

# A thread that raises SIGTRAP (int3, brk) in a loop: a freeze that lands
# between the trap and its delivery leaves the signal pending in it, and a
# trip (ptrace/trip.c) would meet it at its end before its own, take it for
# a fault of the chain (the dump failed: "Bad address") and drop it (the
# target counts one lost).  Such a thread is borrowed instead.  Before that:
# 1 dump in 30 failed and the target lost a SIGTRAP; after, 0 in 130.
@test "threads: a signal the thread raised itself, pending at the freeze, is neither taken for ckpt's nor lost" {
	skip_unless_ptrace
	local i how
	start_target trapping
	for i in $(seq 1 100); do
		# half of them --no-fork: released by the tracing thread's exit
		how=()
		[ $((i % 2)) = 0 ] || how=(--no-fork)
		run "$CKPT" dump "$TPID" "${how[@]}" -o "$T/img"
		[ "$status" -eq 0 ] || { echo "dump $i: $output"; return 1; }
	done
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; return 1; }
	grep -qx "trapping: ok" "$T/out"
}

@test "rseq: every thread's rseq area stays registered; sched_getcpu and getcpu agree" {
	skip_unless_ptrace
	start_target rseq
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'rseq: ok' "$T/out"
}

@test "ids: same PID and TIDs after restore; the parent is ckpt restore" {
	skip_unless_ptrace
	skip_unless_root
	start_target ids
	dump_kill
	touch "$T/go"
	"$CKPT" restore "$T/img" >"$T/restore.log" 2>&1 &
	local rpid=$! st=0
	PIDS+=("$rpid")
	wait "$rpid" || st=$?
	cat "$T/restore.log" "$T/err"
	[ "$st" -eq 0 ]
	grep -qx "ppid $rpid" "$T/out"
	! grep -q 'new PID\|restored as thread' "$T/restore.log" || false
}

@test "churn: threads start and end all the time; 200 dumps in a row succeed, then it restores" {
	skip_unless_ptrace
	start_target churn
	local i
	for i in $(seq 200); do
		run "$CKPT" dump "$TPID" -o "$T/img"
		[ "$status" -eq 0 ] || { echo "dump $i of 200: $output"; return 1; }
	done
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'churn: ok' "$T/out"
}

@test "leader_exit: the main thread ended with pthread_exit, the others run on: dump and restore" {
	skip_unless_ptrace
	start_target leader_exit
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'leader_exit: ok' "$T/out"
}

@test "sched: per-thread CPU affinity, nice value and scheduling policy survive" {
	skip_unless_ptrace
	start_target sched
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'sched: ok' "$T/out"
}

@test "sched: SCHED_DEADLINE runtime, deadline, period and reset-on-fork of two threads survive" {
	skip_unless_ptrace
	skip_unless_root
	start_target sched_deadline
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'sched_deadline: ok' "$T/out"
}

# The scale case of the freeze (issue 14): 1,000 threads (a tenth in the
# emulated arm64 guest), each with state of its own (targets/threads_many.c).
many_threads() {
	if [ -n "${CKPT_ARM64:-}" ]; then echo 100; else echo 1000; fi
}

@test "many: a dump without --kill of 1,000 threads leaves none stopped or traced, and each goes on with its own state" {
	skip_unless_ptrace
	local n
	n=$(many_threads)
	start_target threads_many "$n"
	run "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(ls /proc/"$TPID"/task | wc -l)" -eq $((n + 1)) ]
	! grep -l '^State:.[tT]' /proc/"$TPID"/task/*/status || false
	! grep -H '^TracerPid:' /proc/"$TPID"/task/*/status | grep -v 'TracerPid:.0$' || false
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; return 1; }
	grep -qx "threads_many: ok $n" "$T/out"
}

@test "many: 1,000 threads dumped and restored each keep their name, signal mask, alternate stack, timer slack, thread-local value and tid address" {
	skip_unless_ptrace
	local n
	n=$(many_threads)
	start_target threads_many "$n"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx "threads_many: ok $n" "$T/out"
}

# The threads' /proc files a dump reads while frozen stay open until the
# release (ptrace/taskfiles.c, 3 a thread), beside the copy dump/fd.c takes
# of each of the job's files: where RLIMIT_NOFILE's hard limit has no room
# for both, they are closed before the copies, not the dump refused.
# bats test_tags=arch-independent
@test "many: 1,000 threads and 1,200 open files dumped under a hard limit of 4,000 fds" {
	skip_unless_ptrace
	command -v prlimit >/dev/null || skip "no prlimit"
	start_target threads_many 1000 1200
	run prlimit --nofile=1024:4000 "$CKPT" dump "$TPID" --no-fork -o "$T/img"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; return 1; }
	grep -qx "threads_many: ok 1000" "$T/out"
}

# Threads on stacks carved next to each other (user-level threads,
# goroutines: stack pointers 1 KiB apart here), closer than the signal
# frames a dump writes below a thread's stack pointer to run syscalls in
# it (ptrace/trip.c, borrow.c): written at once, one thread's frames would
# overwrite another's, which would then run them and come back with the
# other's registers, or a thread's saved "original" bytes would be
# another's frames, left in its stack at the end.  Each way of dumping
# runs code in the threads; the threads check their registers, stack
# bytes and identity after GO.
# adjacent_stacks: threads on small stacks next to each other, as
# user-level threads or goroutines have them.  To run syscalls in a thread
# ckpt writes signal frames a few KiB below its stack pointer
# (ptrace/borrow.c): on 1 KiB stacks that is the top of a neighbour's live
# stack, which a kill of ckpt before the bytes are put back would leave
# corrupted (docs/kill-safety.md 1).  So the dump refuses, naming two of
# the threads, before anything is written; the job runs on untouched.
refused_crowded() {
	local tid other
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output =~ thread\ ([0-9]+):\ its\ stack\ pointer\ is\ 1024\ bytes\ above\ thread\ ([0-9]+)\'s,\ less\ than\ the\ [0-9]+\ bytes\ ckpt\ writes\ below\ it ]]
	tid=${BASH_REMATCH[1]} other=${BASH_REMATCH[2]}
	# Threads of the job, by the ids they have there.
	[ -d "/proc/$TPID/task/$tid" ] && [ -d "/proc/$TPID/task/$other" ]
	[[ $output == *"write over thread $other's stack (79 of the 81 threads are that close)"* ]]
	[ ! -e "$T/img" ]
	kill -0 "$TPID"
}

@test "threads: 80 threads on adjacent 1 KiB stacks: every dump refuses by name, and they run on whole" {
	skip_unless_ptrace
	local mode
	start_target adjacent_stacks
	for mode in "" --no-fork --fork --snapshot --kill; do
		run "$CKPT" dump "$TPID" $mode -o "$T/img"
		echo "dump $mode:"
		refused_crowded
		[ "$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$TPID/status")" = 0 ]
	done
	touch "$T/go"
	wait "$TPID" || { echo "exit $?"; cat "$T/err"; return 1; }
	grep -qx "adjacent_stacks: ok" "$T/out"
}

# Stacks 16 KiB apart: the frames fit between the neighbours (a few KiB),
# so such threads are dumped, by the trip or borrowed, as before.
@test "threads: 80 threads on adjacent 16 KiB stacks keep their registers and stacks through dumps and a restore" {
	skip_unless_ptrace
	local mode
	start_target adjacent_stacks 80 16384
	for mode in "" --no-fork --fork --snapshot; do
		run "$CKPT" -v dump "$TPID" $mode -o "$T/img"
		[ "$status" -eq 0 ] || { echo "dump $mode: $output"; return 1; }
		kill -0 "$TPID"
	done
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx "adjacent_stacks: ok" "$T/out"
}
