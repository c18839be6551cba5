#!/usr/bin/env bats
# Process and thread attributes (the ATTRS section): each target sets some
# up, checks them after restore and exits nonzero if one is lost.

load test_helper

@test "attrs: oom_score_adj, subreaper, THP disable, membarrier, loginuid; per thread timer slack, ioprio, no_new_privs" {
	skip_unless_ptrace
	start_target attrs
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'attrs: ok' "$T/out"
}
