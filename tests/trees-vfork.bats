#!/usr/bin/env bats
# A process in vfork() (docs/trees.md 2.1, step 4): it waits in the kernel
# for its child, which shares its memory, to exec or exit, and no ptrace
# stop comes before.  A dump lets the child run on to its exec and waits
# for the parent, at most 2 s; then it fails naming both, and the tree runs
# on untouched.  The target is tests/targets/vforker.c (vfork + execve in
# a loop, as shells, awk's system() and posix_spawn do).  ckpt run's side
# is in run.bats.
#
# Tests tagged arch-independent (a dump refused within its bound:
# ptrace/vfork.c reads /proc, the same C on both; the guest dumps a process
# that vforks all the time) run on the host only: the arm64 guest leaves them
# out (tests/run-checks.sh).

load test_helper

# vfork_child PID: PID's child while PID is in vfork (its only child).
vfork_child() {
	local f st
	for f in /proc/[0-9]*/stat; do
		read -r -a st <"$f" 2>/dev/null || continue
		[ "${st[3]}" = "$1" ] && echo "${st[0]}"
	done
	return 0
}

@test "vfork: a process that vforks all the time is dumped again and again as it runs on, then with --kill, and restored it goes on" {
	skip_unless_ptrace
	start_target vforker 0
	local i
	for i in 1 2 3 4 5; do
		run timeout 120 "$CKPT" dump "$TPID" -o "$T/img$i"
		echo "$output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	vforker_ok "$T/out"
}

# bats test_tags=arch-independent
@test "vfork: a vfork child that does not exec: the dump fails within the bound naming parent and child; the tree runs on, neither stopped nor traced" {
	skip_unless_ptrace
	# round 1's child waits 10 s before its exec
	start_target vforker 0 10000
	wait_for 120 eval '[ "$(proc_state "$TPID")" = D ]'
	local child start
	child=$(vfork_child "$TPID")
	[ -n "$child" ]
	start=$SECONDS
	run timeout 120 "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "ckpt: dump $TPID: process vforker (PID $TPID) is in vfork(): its child $child has not called exec or _exit in 2 s" ]
	# still waiting for its child: not in a stop of ours, nobody traces it
	[ "$(proc_state "$TPID")" = D ]
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$TPID/status"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$child/status"
	[ ! -e "$T/img" ]
	# once the child has exec'd it goes on, and a dump works again
	wait_for 120 eval '[ "$(proc_state "$TPID")" != D ]'
	wait_for 120 grep -q '^round 50$' "$T/out"
	run timeout 120 "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID"
	vforker_ok "$T/out"
	echo "dump refused after $((SECONDS - start)) s"
}

# bats test_tags=arch-independent
@test "vfork: --single of a process in vfork is refused the same way" {
	skip_unless_ptrace
	start_target vforker 0 10000
	wait_for 120 eval '[ "$(proc_state "$TPID")" = D ]'
	local child
	child=$(vfork_child "$TPID")
	run --separate-stderr timeout 120 "$CKPT" dump "$TPID" --single -o "$T/img"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: dump $TPID: the process is in vfork(): its child $child has not called exec or _exit in 2 s" ]
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$TPID/status"
	touch "$T/go"
	wait "$TPID"
	vforker_ok "$T/out"
}
