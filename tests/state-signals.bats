#!/usr/bin/env bats
# Signal state: actions, per-thread masks, pending signals (process-wide
# and per thread), alternate signal stacks.

load test_helper

@test "signals: handlers, flags and sa_mask; per-thread masks; queued and thread-private pending signals" {
	skip_unless_ptrace
	start_target signals
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'signals: ok' "$T/out"
}

@test "signals: dump without --kill delivers the pending signals exactly once" {
	skip_unless_ptrace
	start_target signals
	run "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 0 ]
	touch "$T/go"
	local st=0
	wait "$TPID" || st=$?
	cat "$T/err"
	[ "$st" -eq 0 ]
}

@test "altstack: per-thread sigaltstacks (SS_AUTODISARM, dumped inside a handler on it) survive; SA_ONSTACK handlers run on them" {
	skip_unless_ptrace
	start_target altstack
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'altstack: ok' "$T/out"
}

@test "timers: a periodic setitimer(ITIMER_REAL) and a POSIX timer keep ticking after restore" {
	skip_unless_ptrace
	start_target timers
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'timers: ok' "$T/out"
}

@test "a blocked SIGTRAP pending for the process and for a thread: both still there after restore, with their values; its handler kept" {
	skip_unless_ptrace
	start_target sigtrap
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'sigtrap: ok' "$T/out"
}
