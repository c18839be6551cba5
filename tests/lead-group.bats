#!/usr/bin/env bats
# A process that led its own process group or session leads one again
# after restore: of its own PID, and of a new PID when it is restored
# under another (its own in use), not ckpt restore's group (where its
# kill(0, sig) would reach ckpt restore and the test).

load test_helper

@test "a process group leader restored with its PID leads its group again; kill(0) reaches it alone" {
	skip_unless_ptrace
	skip_unless_root
	start_target lead_group
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'lead_group: ok' "$T/out"
}

@test "a session leader restored with its PID leads its session again; kill(0) reaches it alone" {
	skip_unless_ptrace
	skip_unless_root
	start_target lead_group session
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'lead_group: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "a process group leader restored under another PID (its own in use) leads a group of its new PID; kill(0) reaches it alone" {
	restore_under_new_pid lead_group
	[[ "$output" == *"the process gets a new PID (it leads a process group of it, as it led its own)"* ]]
}

# bats test_tags=arch-independent
@test "a session leader restored under another PID (its own in use) leads a session of its new PID; kill(0) reaches it alone" {
	restore_under_new_pid lead_group session
	[[ "$output" == *"the process gets a new PID (it leads a session of it, as it led its own)"* ]]
}
