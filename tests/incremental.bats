#!/usr/bin/env bats
# Incremental checkpoints: --track, --parent, chains, fallbacks.
#
# Tests tagged arch-independent (chains, parents and merge: image logic in C;
# the guest tracks and restores chains) run on the host only: the arm64 guest
# leaves them out (tests/run-checks.sh).

load test_helper

# the image $2 is less than a quarter of the full image $1
smaller_than_quarter() {
	local a b
	a=$(stat -c %s "$1")
	b=$(stat -c %s "$2")
	echo "full $a, incremental $b"
	[ "$b" -lt $(( a / 4 )) ]
}

# three generations of a process whose memory keeps changing
dump_chain() {
	"$CKPT" dump "$TPID" --track -o "$T/a.img" "$@"
	sleep 0.2
	"$CKPT" dump "$TPID" --parent "$T/a.img" -o "$T/b.img" "$@"
	sleep 0.2
	run "$CKPT" -v dump "$TPID" --parent "$T/b.img" -o "$T/img" --kill "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
}

@test "a chain of three images restores exactly (PAGEMAP_SCAN + uffd)" {
	skip_unless_ptrace
	"$CKPT" check | grep -q '^PAGEMAP_SCAN *ok' || skip "no PAGEMAP_SCAN here"
	start_target dirty 32 1 4
	dump_chain
	[[ "$output" == *"PAGEMAP_SCAN"* ]]
	smaller_than_quarter "$T/a.img" "$T/b.img"
	restore_go
	[ "$status" -eq 0 ]
}

@test "a chain of three images dumped frozen (--no-fork: tracking armed while frozen) restores exactly" {
	skip_unless_ptrace
	"$CKPT" check | grep -q '^PAGEMAP_SCAN *ok' || skip "no PAGEMAP_SCAN here"
	start_target dirty 32 1 4
	dump_chain --no-fork
	[[ "$output" == *"PAGEMAP_SCAN"* ]]
	smaller_than_quarter "$T/a.img" "$T/b.img"
	restore_go
	[ "$status" -eq 0 ]
}

@test "a frozen chain of a process big enough to ready the page writing during smaps restores exactly" {
	skip_unless_ptrace
	"$CKPT" check | grep -q '^PAGEMAP_SCAN *ok' || skip "no PAGEMAP_SCAN here"
	# 80 MiB resident (>= 64): the slot buffers of b.img's in-order writing
	# (tracked: HASHES too) are made while smaps is read (dump/pagewrite.c
	# ring_alloc); the restore takes b.img's pages the last dump left
	start_target dirty 160 1 4
	"$CKPT" dump "$TPID" --track --no-fork -o "$T/a.img"
	sleep 0.2
	run "$CKPT" -v dump "$TPID" --parent "$T/a.img" --no-fork -o "$T/b.img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"readied while smaps is read"* ]]
	smaller_than_quarter "$T/a.img" "$T/b.img"
	sleep 0.2
	"$CKPT" dump "$TPID" --parent "$T/b.img" --no-fork -o "$T/img" --kill
	reap "$TPID"
	run "$CKPT" verify "$T/img"
	echo "$output"
	[[ "$output" == *" in the parent image"* ]]
	restore_go
	[ "$status" -eq 0 ]
}

@test "a frozen incremental dump stores the pages written since its parent, and only those" {
	skip_unless_ptrace
	"$CKPT" check | grep -q '^PAGEMAP_SCAN *ok' || skip "no PAGEMAP_SCAN here"
	start_target dirty 32 1 4
	"$CKPT" dump "$TPID" --track --no-fork -o "$T/a.img"
	sleep 0.3
	run "$CKPT" -v dump "$TPID" --parent "$T/a.img" --no-fork -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
	run "$CKPT" verify "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	# the target rewrites pages of its 4 hot MiB all the time: some, not all 8,192
	[[ "$output" =~ \(([0-9]+)\ sections,\ ([0-9]+)\ pages,\ ([0-9]+)\ in\ the\ parent ]]
	[ "${BASH_REMATCH[2]}" -gt 0 ]
	[ "${BASH_REMATCH[3]}" -gt 0 ]
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "a parent that is not the latest image: page hashes are compared instead" {
	skip_unless_ptrace
	start_target dirty 32
	"$CKPT" dump "$TPID" --track -o "$T/a.img"
	sleep 0.2
	"$CKPT" dump "$TPID" --parent "$T/a.img" -o "$T/b.img"
	sleep 0.2
	run "$CKPT" -v dump "$TPID" --parent "$T/a.img" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"comparing page hashes"* ]]
	reap "$TPID"
	[ "$(stat -c %s "$T/img")" -lt "$(stat -c %s "$T/a.img")" ]
	restore_go
	[ "$status" -eq 0 ]
}

@test "a parent dumped without --track: pages are compared with its stored pages" {
	skip_unless_ptrace
	# 32 MiB, about 1,000 pages written a second, all within the first 4 MiB
	# (at most an eighth of the image can change, however slow the dumps)
	start_target dirty 32 1 4
	"$CKPT" dump "$TPID" -o "$T/a.img" --compress none
	sleep 0.2
	run "$CKPT" -v dump "$TPID" --parent "$T/a.img" -o "$T/img" --kill --compress none
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"comparing page hashes"* ]]
	reap "$TPID"
	smaller_than_quarter "$T/a.img" "$T/img"
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "a parent that left its unchanged pages to its own parent: their hashes come from there" {
	skip_unless_ptrace
	start_target dirty 32 1 4
	"$CKPT" dump "$TPID" --track -o "$T/a.img"
	sleep 0.2
	# b has hashes of the pages written since a only (with PAGEMAP_SCAN)
	"$CKPT" dump "$TPID" --parent "$T/a.img" -o "$T/b.img"
	sleep 0.2
	"$CKPT" dump "$TPID" --parent "$T/b.img" -o "$T/c.img"
	sleep 0.2
	# b is not the latest image now: hashes, b's and a's
	run "$CKPT" -v dump "$TPID" --parent "$T/b.img" -o "$T/d.img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"comparing page hashes"* ]]
	smaller_than_quarter "$T/a.img" "$T/d.img"
	sleep 0.2
	# and the next one is tracked again from d (the uffd left for c is gone)
	run "$CKPT" -v dump "$TPID" --parent "$T/d.img" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	if "$CKPT" check | grep -q '^PAGEMAP_SCAN *ok'; then
		[[ "$output" == *"PAGEMAP_SCAN"* ]]
	fi
	reap "$TPID"
	smaller_than_quarter "$T/a.img" "$T/img"
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "only the latest image's tracking is trusted, whatever order parents are used in" {
	skip_unless_ptrace
	start_target dirty 32 1
	"$CKPT" dump "$TPID" --track -o "$T/a.img"
	for step in "b a" "c b" "d b" "e c"; do
		set -- $step
		sleep 0.2
		"$CKPT" dump "$TPID" --parent "$T/$2.img" -o "$T/$1.img"
	done
	sleep 0.2
	# e re-protected the memory after d: d's own tracking, were it still
	# there, would miss what was written between d and e
	run "$CKPT" -v dump "$TPID" --parent "$T/d.img" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"comparing page hashes"* ]]
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
}

# The program's own async write-protect uffd over a mapping: ckpt's cannot
# register it (EBUSY), and PAGEMAP_SCAN's check then passes on the
# program's uffd, whose protection the program sets again after writing.
@test "a mapping under the program's own write-protect userfaultfd is compared, not taken from the scan" {
	skip_unless_ptrace
	"$CKPT" check | grep -q '^userfaultfd WP async *ok' || skip "no userfaultfd WP async here"
	start_target uffd_own 64
	"$CKPT" dump "$TPID" --track --allow-lost-fds -o "$T/a.img"
	sleep 0.3
	run "$CKPT" -v dump "$TPID" --parent "$T/a.img" --allow-lost-fds -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"write-protected by another userfaultfd of the process"* ]]
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
}

@test "the uffd ckpt leaves in the process is not part of its image" {
	skip_unless_ptrace
	"$CKPT" check | grep -q '^userfaultfd WP async *ok' || skip "no userfaultfd WP async here"
	start_target dirty 8
	"$CKPT" dump "$TPID" --track -o "$T/a.img"
	ls -l /proc/$TPID/fd | grep -q userfaultfd
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	[[ "$output" != *userfaultfd* ]]
}

# bats test_tags=arch-independent
@test "a missing parent: restore fails naming it, nothing is created" {
	skip_unless_ptrace
	start_target dirty 8
	dump_chain
	rm "$T/b.img"
	touch "$T/go"
	run --separate-stderr "$CKPT" restore "$T/img"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"parent image"*"b.img"*"missing"* ]]
	! kill -0 "$TPID" 2>/dev/null || false
}

# bats test_tags=arch-independent
@test "a replaced parent: restore refuses it" {
	skip_unless_ptrace
	start_target dirty 8
	dump_chain
	cp "$T/a.img" "$T/b.img"
	touch "$T/go"
	run --separate-stderr "$CKPT" restore "$T/img"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"is not the one"* ]]
}

# bats test_tags=arch-independent
@test "parent of another process is refused at dump" {
	skip_unless_ptrace
	start_target dirty 8
	"$CKPT" dump "$TPID" -o "$T/a.img"
	first=$TPID
	rm -f "$T/ready"
	start_target dirty 8
	run --separate-stderr "$CKPT" dump "$TPID" --parent "$T/a.img" -o "$T/b.img"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"another process"* ]]
	[ ! -e "$T/b.img" ]
}

# bats test_tags=arch-independent
@test "images in one directory can be moved together" {
	skip_unless_ptrace
	start_target dirty 8
	dump_chain
	mkdir "$T/moved"
	mv "$T/a.img" "$T/b.img" "$T/img" "$T/moved/"
	touch "$T/go"
	run timeout 300 "$CKPT" restore "$T/moved/img"
	echo "$output"
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "merge flattens a chain into one full image that restores alone" {
	skip_unless_ptrace
	start_target dirty 16 2
	dump_chain
	run "$CKPT" merge "$T/img" -o "$T/full.img"
	echo "$output"
	[ "$status" -eq 0 ]
	rm "$T/a.img" "$T/b.img" "$T/img"
	mv "$T/full.img" "$T/img"
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "merge without -o is a usage error" {
	run "$CKPT" merge foo
	[ "$status" -eq 2 ]
}
