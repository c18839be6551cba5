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

# not_bash PID: PID runs another program than this shell.
not_bash() {
	[ "$(readlink "/proc/$1/exe")" != "$(readlink /proc/$$/exe)" ]
}

# run_program SCRIPT LINE K: start the script (it is its own target), dump
# it while it computes, restore, and check its final line: LINE with SUM
# and then N for the total it came to and the number it counted to (the
# scripts size their work to the machine, tests/targets/loop.sh); SUM must
# be K * N(N+1)/2.
run_program() {
	local script=$1 want=$2 k=$3 re n sum
	CKPT_TARGETS=$CKPT_TOP/tests/targets start_target "$script"
	# Busy, not waiting for GO yet (sleeping, state S).
	running "$TPID"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	cat "$T/out"
	re=${want//N/([0-9]+)}
	re="^${re//SUM/([0-9]+)}\$"
	[[ $(cat "$T/out") =~ $re ]]
	sum=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]}
	echo "counted to $n, total $sum"
	[ "$sum" -eq $((k * n * (n + 1) / 2)) ]
	[ "$n" -ge 1000 ]
}

@test "python3: a loop over objects and a dict, dumped while running, prints the right totals" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	run_program loop.py 'python: total SUM words 1000 n N' 1
}

@test "perl: a loop over blessed hashes, dumped while running, prints the right totals" {
	skip_unless_ptrace
	[ -x /usr/bin/perl ] || skip "no /usr/bin/perl"
	run_program loop.pl 'perl: total SUM words 1000 n N' 1
}

@test "bash: an arithmetic loop with arrays, dumped while running, then forks sleep(1) after restore" {
	skip_unless_ptrace
	run_program loop.sh 'bash: total SUM words 100 n N' 1
}

@test "python3 threads: producers and consumers on a queue.Queue, dumped at work, exact totals" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	run_program loop_threads.py 'python threads: [0-9]+ items, sum SUM n N' 3
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
	wait_for 60 not_bash "$TPID"
	sleep 0.5
	dump_kill
	run timeout 300 "$CKPT" restore "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	t=${EPOCHREALTIME/[.,]/}
	echo "took $(( (t - t0) / 1000 )) ms"
	[ $(( t - t0 )) -ge 3000000 ]
}
