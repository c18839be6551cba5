#!/usr/bin/env bats
# Real programs nobody here wrote: Debian's python3, perl and bash running
# loop scripts (tests/targets/loop.*), dumped while they compute.

load test_helper

# running PID: some thread of PID is running (state R), in one of a few
# looks (python's threads take turns).
running() {
	local i t s
	for i in 1 2 3 4 5; do
		for t in /proc/"$1"/task/*/stat; do
			s=$(cat "$t" 2>/dev/null) || continue
			s=${s##*) }
			[ "${s%% *}" != R ] || return 0
		done
		sleep 0.01
	done
	return 1
}

# run_program SCRIPT TOTAL-LINE: start the script (it is its own target),
# dump it while it computes, restore, and check its final line.
run_program() {
	local script=$1 want=$2
	CKPT_TARGETS=$CKPT_TOP/tests/targets start_target "$script"
	# Busy, not waiting for GO yet (sleeping, state S).
	running "$TPID"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "$want" ]
}

@test "python3: a loop over objects and a dict, dumped while running, prints the right totals" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	run_program loop.py 'python: total 98000007000000 words 1000'
}

@test "perl: a loop over blessed hashes, dumped while running, prints the right totals" {
	skip_unless_ptrace
	[ -x /usr/bin/perl ] || skip "no /usr/bin/perl"
	run_program loop.pl 'perl: total 18000003000000 words 1000'
}

@test "bash: an arithmetic loop with arrays, dumped while running, then forks sleep(1) after restore" {
	skip_unless_ptrace
	run_program loop.sh 'bash: total 80000200000 words 100'
}

@test "python3 threads: producers and consumers on a queue.Queue, dumped at work, exact totals" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	run_program loop_threads.py 'python threads: 1800000 items, sum 540000900000'
}

@test "coreutils sleep 3, dumped asleep, sleeps out its 3 seconds after restore" {
	skip_unless_ptrace
	local t0=${EPOCHREALTIME/[.,]/} t
	# sleep knows nothing of READY: say it for it, start_target does the rest.
	touch "$T/ready"
	# (/usr/bin/sleep; busybox's /bin/sleep in the arm64 guest)
	CKPT_TARGETS=$(dirname "$(command -v sleep)") start_target sleep 3
	# until it is sleep, no longer the subshell that execs it (which takes
	# a while under emulation: the arm64 guest)
	for i in $(seq 100); do
		[ "$(readlink /proc/$TPID/exe)" = "$(readlink /proc/$$/exe)" ] || break
		sleep 0.05
	done
	sleep 0.5
	dump_kill
	run timeout 60 "$CKPT" restore "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	t=${EPOCHREALTIME/[.,]/}
	echo "took $(( (t - t0) / 1000 )) ms"
	[ $(( t - t0 )) -ge 3000000 ]
}
