#!/usr/bin/env bats
# Real programs whose event loops hold pipes, eventfds, epoll instances
# and unix sockets, dumped mid-work, killed, restored: the same result as
# an uninterrupted run.

load test_helper

# program_mid_work WANT CMD...: start CMD (it says READY at once), dump
# it at work, restore, and compare its one line of output with WANT.
program_mid_work() {
	local want=$1
	shift
	CKPT_TARGETS=$(dirname "$1") start_target "$(basename "$1")" "${@:2}"
	sleep 0.5
	dump_kill
	[ ! -s "$T/out" ]	# still at work when it was dumped
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "$want" ]
}

@test "node: timers, promises and a worker thread on its event loop (epoll, eventfd, pipes), dumped mid-work" {
	skip_unless_ptrace
	local node
	node=$(command -v node || command -v nodejs) || skip "no node (apt-get install nodejs; tests/deps.sh)"
	program_mid_work "node: 150 ticks, total 1136275, worker 150" \
		"$node" "$CKPT_TOP/tests/targets/loop_timers.js"
}

@test "python3: a selector loop (epoll) on a self-pipe fed by threads, signal wakeup fd, dumped mid-work" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	program_mid_work "python selector loop: 400 jobs, sum 64240200, alarms ok" \
		/usr/bin/python3 "$CKPT_TOP/tests/targets/loop_selector.py"
}

@test "python3: asyncio (its self-pipe a socketpair, streams over a unix socketpair, threads), dumped mid-work" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	program_mid_work "python asyncio: 300 lines, sum 45150, 400 thread results, sum 21413400" \
		/usr/bin/python3 "$CKPT_TOP/tests/targets/loop_asyncio.py"
}
