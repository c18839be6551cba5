#!/usr/bin/env bats
# Incremental checkpoints of a process tree (issues 12 and 13, docs/trees.md
# 2.5): --track and --parent of a tree whose processes come and go, the
# chain restored, merged, verified and inspected; ckpt run of a pipeline
# with periodic incremental checkpoints.
#
# Tests tagged arch-independent (chains of trees: image logic in C; the guest
# tracks and restores one) run on the host only: the arm64 guest leaves them
# out (tests/run-checks.sh).

load test_helper

# tree_incr's two phases: a --track dump of the first, then (the tree
# changed: E gone, B new) the incremental dump of the second with ARGS.
# TREE_INCR_MODE=alone: A exits too and no B is made.
two_dumps() {
	start_target tree_incr "$T" ${TREE_INCR_MODE:-}
	"$CKPT" dump "$TPID" --track -o "$T/img1"
	touch "$T/step2"
	wait_file "$T/ready2"
	run "$CKPT" -v dump "$TPID" --parent "$T/img1" -o "$T/img" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
}

# The children of tree_incr, so that teardown kills them.
track_tree() {
	local f st
	for f in /proc/[0-9]*/stat; do
		read -r -a st 2>/dev/null <"$f" || continue
		[ "${st[3]}" = "$TPID" ] && PIDS+=("${st[0]}")
	done
	return 0
}

@test "tree incremental: a process gone, one new, COW and shared memory: the chain restores every page of each" {
	skip_unless_ptrace
	skip_unless_root	# COW pages are found by frame number (root only)
	two_dumps --kill
	reap "$TPID"
	# Each process found in the parent by PID and start time: the new
	# one stored in full, the others with what they wrote since.
	[[ "$output" == *"is not in the parent image: its pages are all stored"* ]]
	[[ "$output" == *"PAGEMAP_SCAN"* ]] || [[ "$output" == *"comparing page hashes"* ]]
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_incr: ok' "$T/out"
	# The incremental image holds what changed: far less than the first
	# (4 MiB of private memory stored once, for the parent).
	local full incr
	full=$(stat -c %s "$T/img1")
	incr=$(stat -c %s "$T/img")
	echo "full $full, incremental $incr"
	[ "$incr" -lt $((full / 2)) ]
}

# bats test_tags=arch-independent
@test "tree incremental: a parent that is not the latest image: each process compares page hashes with its own" {
	skip_unless_ptrace
	skip_unless_root
	two_dumps
	track_tree
	# img1's uffds moved on with img: against img1 again, hashes.
	run "$CKPT" -v dump "$TPID" --parent "$T/img1" -o "$T/img3" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
	[[ "$output" == *"comparing page hashes"* ]]
	[[ "$output" != *"PAGEMAP_SCAN with the uffd"* ]] || false
	rm "$T/img"
	mv "$T/img3" "$T/img"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_incr: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree incremental: a single process whose parent image is a tree's: only its own pages of the parent" {
	skip_unless_ptrace
	TREE_INCR_MODE=alone two_dumps --kill
	reap "$TPID"
	run "$CKPT" inspect "$T/img"
	[ "$(grep -c '^process ' <<<"$output")" -eq 1 ]
	# the default fill (userfaultfd, eager) and --lazy
	cp "$T/img" "$T/img.keep"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_incr: ok' "$T/out"
	: >"$T/out"
	run timeout 300 "$CKPT" restore --lazy --ignore-file-changes "$T/img.keep"
	echo "$output"
	cat "$T/err"
	[ "$status" -eq 0 ]
	grep -qx 'tree_incr: ok' "$T/out"
}

# each_has_one_uffd PID...: every PID holds exactly one userfaultfd
each_has_one_uffd() {
	local p
	for p in "$@"; do
		[ "$(uffds "$p")" -eq 1 ] || return 1
	done
}

# bats test_tags=arch-independent
@test "tree incremental: a --track dump killed in its second process: the guardian takes every process's new uffd out; the chain is still right" {
	skip_unless_ptrace
	skip_unless_root
	# --track keeps a userfaultfd only where write-protect is asynchronous
	# (Linux 6.7+; the arm64 guest's 6.1 compares page hashes, no uffd)
	"$CKPT" check | grep -q "^userfaultfd WP async *ok" || skip "no userfaultfd WP async here: --track keeps no userfaultfd"
	start_target tree_incr "$T"
	track_tree
	"$CKPT" dump "$TPID" --track -o "$T/img1"
	local procs=("${PIDS[@]}")
	each_has_one_uffd "${procs[@]}"
	# killed when the second process's new uffd is made: the first has one
	# more too by then (the guardian journals each process's)
	CKPT_KILLPOINT="track: uffd made#2" run "$CKPT" dump "$TPID" --track -o "$T/imgx"
	[ "$status" -eq 137 ]
	wait_for 60 each_has_one_uffd "${procs[@]}"
	touch "$T/step2"
	wait_file "$T/ready2"
	run "$CKPT" -v dump "$TPID" --parent "$T/img1" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_incr: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree incremental: merged into one full image, which restores the same and is larger" {
	skip_unless_ptrace
	skip_unless_root
	two_dumps --kill
	reap "$TPID"
	run "$CKPT" merge "$T/img" -o "$T/merged"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$T/merged")" -gt "$(stat -c %s "$T/img")" ]
	rm "$T/img1" "$T/img"
	mv "$T/merged" "$T/img"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_incr: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree incremental: without --kill the tree runs on; verify and inspect cover every process of the chain" {
	skip_unless_ptrace
	two_dumps
	track_tree
	run "$CKPT" verify "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"in the parent image"* ]]
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	# the tree: the parent, A and B (E exited between the dumps)
	[ "$(grep -c '^process ' <<<"$output")" -eq 3 ]
	[[ "$output" == *"in the parent image"* ]]
	run "$CKPT" inspect --json "$T/img"
	[ "$status" -eq 0 ]
	# (no python3 in the arm64 guest: there the JSON goes unparsed)
	if command -v python3 >/dev/null; then
		python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["tree"]) == 3, d["tree"]' <<<"$output"
	fi
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_incr: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree incremental: a damaged parent is named at restore; nothing is restored with zeros" {
	skip_unless_ptrace
	skip_unless_root
	two_dumps --kill
	reap "$TPID"
	# The parent replaced by another image of the same tree: not the one
	# the incremental image was made from.
	printf 'X' | dd of="$T/img1" bs=1 seek=4000 conv=notrunc 2>/dev/null
	run timeout 300 "$CKPT" restore "$T/img"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"parent image"* ]]
}
