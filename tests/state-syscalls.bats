#!/usr/bin/env bats
# Threads blocked in syscalls when dumped: after restore each wait goes
# on and completes normally (tests/targets/syscalls.c says what each
# mode checks).

load test_helper

# restore_stdin [FILE]: like restore_go, with "hello-ckpt" arriving on ckpt
# restore's stdin (which the process gets for its pipe) a second later, or
# once FILE exists (the target made it: not a time).
restore_stdin() {
	touch "$T/go"
	run bash -c '{ if [ -n "$3" ]; then
			for i in $(seq 6000); do [ ! -e "$3" ] || break; sleep 0.05; done
		else
			sleep 1
		fi
		echo hello-ckpt; } | timeout 300 "$1" restore "$2"' _ "$CKPT" "$T/img" "${1:-}"
	echo "$output"
	echo "--- target stderr:"
	cat "$T/err"
}

@test "syscalls: relative nanosleep loop sleeps its full time; absolute clock_nanosleep returns 0 on time" {
	skip_unless_ptrace
	start_target syscalls nanosleep
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'syscalls nanosleep: done' "$T/out"
}

@test "syscalls: a single sleep(3) (no EINTR loop) sleeps its 3 s and returns 0" {
	skip_unless_ptrace
	start_target syscalls sleep
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'syscalls sleep: done' "$T/out"
}

@test "syscalls: futex waits (cond_wait, cond_timedwait woken and timing out, mutex_lock) complete" {
	skip_unless_ptrace
	start_target syscalls futex
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'syscalls futex: done' "$T/out"
}

@test "syscalls: read() on a stdin pipe gets the data fed to ckpt restore" {
	skip_unless_ptrace
	start_target syscalls read
	dump_kill
	restore_stdin
	[ "$status" -eq 0 ]
	grep -qx 'syscalls read: done' "$T/out"
}

@test "syscalls: read() with an SA_RESTART handler: restarted after the signal, then gets the data" {
	skip_unless_ptrace
	# the data only once the restored thread has had the signal: a
	# restore slower than a fixed delay (arm64 guest) had it first
	SYSCALLS_SIGNALLED=$T/signalled start_target syscalls read-restart
	dump_kill
	restore_stdin "$T/signalled"
	[ "$status" -eq 0 ]
	grep -qx 'syscalls read-restart: done' "$T/out"
}

@test "syscalls: sigsuspend() waits on, then puts the thread's own signal mask back" {
	skip_unless_ptrace
	start_target syscalls sigsuspend
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'syscalls sigsuspend: done' "$T/out"
}

@test "syscalls: poll() without timeout on stdin does not fail with EINTR" {
	skip_unless_ptrace
	start_target syscalls poll
	dump_kill
	restore_stdin
	[ "$status" -eq 0 ]
	grep -qx 'syscalls poll: done' "$T/out"
}

@test "syscalls: poll() with a timeout (on stdin, and with no fds) does not fail with EINTR" {
	skip_unless_ptrace
	start_target syscalls poll-timeout
	dump_kill
	restore_stdin
	[ "$status" -eq 0 ]
	grep -qx 'syscalls poll-timeout: done' "$T/out"
}

@test "syscalls: poll() survives a dump without --kill, then a dump --kill and restore" {
	skip_unless_ptrace
	start_target syscalls poll-timeout
	# The first dump leaves the waits in restart_syscall(2), as a
	# SIGSTOP and SIGCONT would: the second dump finds them there.
	run "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 0 ]
	sleep 0.2
	dump_kill
	restore_stdin
	[ "$status" -eq 0 ]
	grep -qx 'syscalls poll-timeout: done' "$T/out"
}
