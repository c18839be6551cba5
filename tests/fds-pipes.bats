#!/usr/bin/env bats
# Pipes and FIFOs across dump and restore: buffered bytes, sizes, flags,
# packets, closed ends, FIFOs reopened by path; and a job whose threads
# talk through a pipe, dumped mid-work.
#
# Tests tagged arch-independent (a dump without --kill, inspect) run on the
# host only: the arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

@test "pipes: buffered bytes, 256 KiB pipe size, O_NONBLOCK, packets, closed ends, dups, self-pipe" {
	skip_unless_ptrace
	start_target fd_pipe
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "pipes: a dump that does not kill leaves every pipe holding exactly what it held" {
	skip_unless_ptrace
	start_target fd_pipe
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
	# and the image restores the same state a second time
	restore_go
	[ "$status" -eq 0 ]
}

@test "FIFOs: O_RDWR, read and write ends with bytes, deleted, a thread waiting in open for a writer" {
	skip_unless_ptrace
	mkdir "$T/d"
	start_target fd_fifo "$T/d"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	# the deleted FIFO was made again for the restore and is gone again
	[ "$(ls "$T/d")" = "$(printf 'one\nrw\nwait')" ]
}

# bats test_tags=arch-independent
@test "inspect: each end of each pipe, its buffered bytes, and what lies where" {
	skip_unless_ptrace
	start_target fd_pipe
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"the read end of a pipe with both ends in the process; pipe "*", 262144 bytes, read end, 200000 bytes buffered"* ]]
	[[ "$output" == *"3105 bytes buffered in 3 packets"* ]]
	[[ "$output" == *"the read end of a pipe whose write end is closed"* ]]
	[[ "$output" == *"(dup of 11)"* ]]
}

# running PID: some thread of PID is on a CPU (state R) or in a pipe wait
# it will leave: the job is at work, not finished.
at_work() {
	local i
	for i in $(seq 100); do
		[ -e "/proc/$1/task" ] && [ "$(ls /proc/$1/task | wc -l)" -ge 3 ] && return 0
		sleep 0.01
	done
	return 1
}

@test "a job whose threads talk through a pipe, dumped mid-work: the same total as an uninterrupted run" {
	skip_unless_ptrace
	local n=150000000
	[ "$(uname -m)" = x86_64 ] || n=20000000
	start_target pipe_threads $n
	at_work "$TPID"
	sleep 0.2
	dump_kill
	[ ! -s "$T/out" ]	# still at work when it was dumped
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "pipe threads: $n items, sum $((n * (n + 1) / 2))" ]
}
