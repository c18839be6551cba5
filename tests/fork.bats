#!/usr/bin/env bats
# dump --fork: the process runs on while its image is written from a
# copy-on-write child; nothing of that shows in the process.
#
# Tests tagged arch-independent (usage errors, shared memory copied at the
# fork and madvise state as read without --fork: the same C on both; the guest
# dumps from copies made by an injected clone) run on the host only: the arm64
# guest leaves them out (tests/run-checks.sh).

load test_helper

# fork_dump_restore TARGET [ARGS]: dump it with -v --fork (the output in
# $dumped), kill the original, restore the image and let it check itself.
fork_dump_restore() {
	start_target "$@"
	run "$CKPT" -v dump "$TPID" --fork -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	dumped=$output
	kill -KILL "$TPID"
	reap "$TPID"
	restore_go
}

@test "--fork: the original runs on unaware (no SIGCHLD, no child, no zombie)" {
	skip_unless_ptrace
	start_target forkcheck
	run "$CKPT" -v dump "$TPID" --fork -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"forked copy"* ]]
	# its children, zombies included, as the kernel lists them
	[ -z "$(cat /proc/$TPID/task/*/children)" ]
	touch "$T/go"
	wait "$TPID"
}

@test "--fork: the image is one consistent instant of memory that kept changing" {
	skip_unless_ptrace
	fork_dump_restore forkcheck
	[ "$status" -eq 0 ]
}

@test "--fork with --track and --parent: incremental images from forked copies" {
	skip_unless_ptrace
	start_target dirty 16 1
	"$CKPT" dump "$TPID" --fork --track -o "$T/a.img"
	sleep 0.2
	"$CKPT" dump "$TPID" --fork --parent "$T/a.img" -o "$T/b.img"
	sleep 0.2
	"$CKPT" dump "$TPID" --parent "$T/b.img" -o "$T/img" --kill
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "--fork with --kill is a usage error" {
	run "$CKPT" dump 1 --fork --kill
	[ "$status" -eq 2 ]
}

# bats test_tags=arch-independent
@test "--fork: shared memory is stored as it was at the fork, not as the process went on writing it" {
	skip_unless_ptrace
	fork_dump_restore forkshared
	[ "$status" -eq 0 ]
	# VmFlags and the page plan came from the copy, after the release
	# (which needs PAGEMAP_SCAN: without it, the pause reads them, as
	# ckpt says; the arm64 guest's 6.1 kernel)
	if "$CKPT" check | grep -q '^PAGEMAP_SCAN *ok'; then
		[[ "$dumped" == *"after the release"* ]]
	else
		[[ "$dumped" == *"read while the process is frozen"* ]]
	fi
}

# bats test_tags=arch-independent
@test "--fork: madvise and mlock state (DONTFORK, WIPEONFORK, DONTDUMP...) as without --fork" {
	skip_unless_ptrace
	fork_dump_restore mem_madv
	[ "$status" -eq 0 ]
}

# Without mlock, the copy's VmSize (status) tells that the DONTFORK
# mapping is missing from it (dump/dump.c fork_frozen): VmFlags are read
# while frozen; were it missed, the copy's smaps after the release would
# lack a mapping and the dump fail.
# bats test_tags=arch-independent
@test "--fork: a MADV_DONTFORK mapping without mlock is seen (VmSize) and every madvise state honoured" {
	skip_unless_ptrace
	fork_dump_restore mem_madv nolock
	[ "$status" -eq 0 ]
	[[ "$dumped" == *"a mapping is not in the forked copy"* ]]
}

@test "--fork: MAP_SHARED anonymous memory kept and still shared" {
	skip_unless_ptrace
	fork_dump_restore mem_shared
	[ "$status" -eq 0 ]
}
