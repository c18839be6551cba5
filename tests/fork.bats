#!/usr/bin/env bats
# dump --fork: the process runs on while its image is written from a
# copy-on-write child; nothing of that shows in the process.

load test_helper

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
	start_target forkcheck
	"$CKPT" dump "$TPID" --fork -o "$T/img"
	kill -KILL "$TPID"
	reap "$TPID"
	restore_go
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

@test "--fork with --kill is a usage error" {
	run "$CKPT" dump 1 --fork --kill
	[ "$status" -eq 2 ]
}
