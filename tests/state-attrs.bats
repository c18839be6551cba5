#!/usr/bin/env bats
# Process and thread attributes (the ATTRS section): each target sets some
# up, checks them after restore and exits nonzero if one is lost.

load test_helper

@test "attrs: oom_score_adj, subreaper, THP disable, membarrier, loginuid, memory-error kill policy; per thread timer slack, ioprio, no_new_privs, parent-death signal" {
	skip_unless_ptrace
	start_target attrs
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'attrs: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "chroot: the root directory and the working directory in it come back" {
	skip_unless_ptrace
	skip_unless_root
	start_target chroot_root "$T"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'chroot_root: ok' "$T/out"
}

@test "capabilities: uid 65534 with a permitted, effective, inheritable and ambient set, a smaller bounding set, securebits" {
	skip_unless_ptrace
	skip_unless_root
	# The target is uid 65534 when it says READY, and when its output
	# files are reopened at restore.
	chmod 777 "$T"
	touch "$T/out" "$T/err"
	chown 65534:65534 "$T/out" "$T/err"
	start_target caps
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'caps: ok' "$T/out"
}

@test "seccomp: two filters (one with SECCOMP_FILTER_FLAG_LOG) on two threads still act, and stay shared (TSYNC works)" {
	skip_unless_ptrace
	skip_unless_root
	start_target seccomp
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'seccomp: ok' "$T/out"
}

@test "seccomp strict mode: dump refuses in one line naming it, the process runs on" {
	skip_unless_ptrace
	skip_unless_root
	start_target seccomp strict
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: dump $TPID: thread $TPID is in seccomp strict mode: cannot be restored" ]
	[ ! -e "$T/img" ]
	kill -0 "$TPID"
}

# bats test_tags=arch-independent
@test "RLIMIT_NOFILE below its hard limit comes back exactly, to one process and to each of a tree's (not ckpt's raised one)" {
	skip_unless_ptrace
	local how
	# A tree keeps its PIDs only for root.
	for how in one tree; do
		[ "$how" = one ] || [ "$(id -u)" = 0 ] || continue
		rm -f "$T/ready" "$T/go" "$T/out"
		start_target nofile 300 "$how"
		grep -q '^Max open files *300 ' "/proc/$TPID/limits"
		dump_kill
		restore_go
		[ "$status" -eq 0 ]
		grep -qx 'nofile: ok' "$T/out"
	done
}
