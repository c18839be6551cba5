#!/usr/bin/env bats
# Real programs nobody here wrote: Debian's python3, perl and bash running
# loop scripts (tests/targets/loop.*), dumped while they compute.

load test_helper

# run_program SCRIPT TOTAL-LINE: start the script (it is its own target),
# dump it while it computes, restore, and check its final line.
run_program() {
	local script=$1 want=$2 state
	CKPT_TARGETS=$CKPT_TOP/tests/targets start_target "$script"
	# Busy in its loop, not waiting for GO yet (that would be 'S').
	state=$(cat "/proc/$TPID/stat")
	state=${state##*) }
	echo "state before the dump: ${state%% *}"
	[ "${state%% *}" != S ]
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
