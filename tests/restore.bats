#!/usr/bin/env bats
# Dump, kill, restore and check, one kind of process state per test.

load test_helper

@test "counter: dump, kill, restore; the loop finishes with the right sum" {
	skip_unless_ptrace
	start_target counter
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'counter: 4499798217088' "$T/out"
}

@test "dump leaves the process running exactly as before" {
	skip_unless_ptrace
	start_target counter
	run "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 0 ]
	[ -s "$T/img" ]
	touch "$T/go"
	wait "$TPID"
	grep -qx 'counter: 4499798217088' "$T/out"
}
