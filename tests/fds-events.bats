#!/usr/bin/env bats
# eventfd, signalfd, timerfd and epoll across dump and restore.
#
# Tests tagged arch-independent (dumps without --kill, refusals and inspect;
# the guest dumps and restores each kind) run on the host only: the arm64
# guest leaves them out (tests/run-checks.sh).

load test_helper

@test "eventfd, signalfd, timerfd: counts, semaphore, mask, pending signal, time left, unread expirations, absolute date" {
	skip_unless_ptrace
	start_target fd_event
	dump_kill
	# an absolute timer stays due at its date; one restarted from the
	# time left would now be 2 s late
	sleep 2
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "eventfd, signalfd, timerfd: a dump that does not kill changes none of them" {
	skip_unless_ptrace
	start_target fd_event
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

@test "epoll: pipes, eventfd, timerfd, signalfd, a nested epoll; EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE; the same registrations and events" {
	skip_unless_ptrace
	start_target fd_epoll
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "epoll: a dump that does not kill changes no registration and consumes no event" {
	skip_unless_ptrace
	start_target fd_epoll
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

# bats test_tags=arch-independent
@test "epoll watching a file no longer open at the fd it was registered under: dump refuses, naming it" {
	skip_unless_ptrace
	start_target fd_epoll stale
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: fd 18 (anon_inode:[eventpoll], an epoll instance watching a file no longer at fd 20): cannot be restored: "* ]]
	[ ! -e "$T/img" ]
}

# bats test_tags=arch-independent
@test "inspect: each epoll registration, counts, masks and timers" {
	skip_unless_ptrace
	start_target fd_epoll
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"7 registered: fd 10 events 0x19 data 0x1111"* ]] ||
		[[ "$output" == *"7 registered:"*"fd 10 events 0x19 data 0x1111"* ]]
	[[ "$output" == *"fd 16 events 0x10000019 data 0x6666"* ]]
	[[ "$output" == *"count 1"* ]]
	run "$CKPT" inspect --json "$T/img"
	[[ "$output" == *'"kind": "epoll"'* ]]
	[[ "$output" == *'"registered": ['* ]]
}
