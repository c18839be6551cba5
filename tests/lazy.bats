#!/usr/bin/env bats
# Restore through userfaultfd: lazy (the process runs at once, its memory
# filled as it runs) and eager (--no-lazy: every page before it runs).
#
# Tests tagged arch-independent (compressed blocks, chains, damaged blocks,
# trees, and the process ending with a killed ckpt (EXITKILL): the same C on
# both; the guest fills through userfaultfd, lazily and eagerly, with huge
# pages) run on the host only: the arm64 guest leaves them out
# (tests/run-checks.sh).

load test_helper

skip_unless_uffd() {
	"$CKPT" check | grep -q "^userfaultfd restore *ok" || skip "no userfaultfd restore here"
}

# restore -v IMG [options]: the verdict of the target, and what ckpt said
restore_v() {
	touch "$T/go"
	run timeout 120 "$CKPT" -v restore "$T/img" "$@"
	echo "$output"
	echo "--- target stderr:"
	cat "$T/err"
}

@test "lazy: every page right, with threads faulting at once, mremap, MADV_DONTNEED, munmap and fork during the fill" {
	skip_unless_ptrace
	skip_unless_uffd
	start_target lazy 64 8
	dump_kill --compress none
	restore_v --lazy
	[ "$status" -eq 0 ]
	[[ "$output" == *"lazy restore: every page in"* ]]
}

# The process moves its memory (mremap) while ckpt still copies into it.
# A copy into the range just moved, its event not read yet, fails with
# ENOENT on this kernel (the mapping is looked up before the pending
# event is tested): taken for "unmapped, done", the block's pages reached
# the process as zeros where they now are, in it and in any child it forked
# (once in lazy.bats's first test; restore/lazy.c uffd_copy).  The target
# moves its two halves 16 times, ~1 ms apart, from right after the release;
# then it and its forked child check every byte.  Without the fix: 20 of
# 20 restores failed idle, 18 of 20 under two busy loops; three restores
# here.
@test "lazy: a region moved again and again while it is filled: every byte right in the process and its forked child" {
	skip_unless_ptrace
	skip_unless_uffd
	start_target lazy_move 64 16 0
	dump_kill --compress none
	local i seen=0
	for i in 1 2 3; do
		restore_v --lazy
		[ "$status" -eq 0 ]
		# the moves came while ckpt was filling (it followed them); a
		# process that read every page itself and ended before the fill
		# did leaves no such line (1 restore in ~30 here): one of three
		[[ "$output" =~ "every page in after "[^$'\n']*", "[1-9][0-9]*" moves followed" ]] &&
			seen=$((seen + 1))
	done
	[ "$seen" -ge 1 ]
}

# mprotect of one page inside a block splits its mapping in three, and no
# event says so: one copy of the whole block fails (ENOENT: not within one
# mapping), and was taken for done (every page of those blocks read zero,
# 5 of 5 without the fix); it is copied in pieces now.
@test "lazy: a block whose mapping the process split (mprotect) while it is filled: every byte right" {
	skip_unless_ptrace
	skip_unless_uffd
	start_target lazy_move 16 0 1
	dump_kill --compress none
	restore_v --lazy
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "lazy: compressed blocks too" {
	skip_unless_ptrace
	skip_unless_uffd
	start_target lazy 32 4
	dump_kill --compress lz4
	restore_v --lazy
	[ "$status" -eq 0 ]
	[[ "$output" == *"lazy restore: every page in"* ]]
}

@test "by default (--no-lazy) every page goes in through userfaultfd before the process runs" {
	skip_unless_ptrace
	skip_unless_uffd
	start_target lazy 32 4
	dump_kill --compress zstd
	restore_v
	[ "$status" -eq 0 ]
	[[ "$output" == *"blocks copied in"* ]]
	[[ "$output" != *"lazy restore"* ]]
}

# bats test_tags=arch-independent
@test "lazy: pages of every image of an incremental chain" {
	skip_unless_ptrace
	skip_unless_uffd
	start_target dirty 32 1
	"$CKPT" dump "$TPID" --track -o "$T/a.img"
	sleep 0.2
	"$CKPT" dump "$TPID" --parent "$T/a.img" -o "$T/b.img"
	sleep 0.2
	run "$CKPT" dump "$TPID" --parent "$T/b.img" -o "$T/img" --kill
	[ "$status" -eq 0 ]
	reap "$TPID"
	restore_v --lazy
	[ "$status" -eq 0 ]
	# (it may check out and exit before every page is in)
	[[ "$output" == *"lazy restore: "*" blocks to copy"* ]]
}

@test "lazy --detach: a server of ckpt's fills the process and exits; the process checks out" {
	skip_unless_ptrace
	skip_unless_uffd
	start_target lazy 64 8
	dump_kill
	touch "$T/go"
	run --separate-stderr timeout 60 "$CKPT" restore --detach --lazy "$T/img"
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9]+$ ]]
	local pid=$output i
	PIDS+=("$pid")
	for i in $(seq 1200); do
		[ -d "/proc/$pid" ] && [ "$(proc_state "$pid")" != Z ] || break
		sleep 0.05
	done
	cat "$T/err"
	[ -z "$(grep FAIL "$T/err")" ]
	# and no ckpt is left serving it (from /proc: no pgrep on arm64)
	local f
	for f in /proc/[0-9]*/cmdline; do
		[[ "$(tr '\0' ' ' <"$f" 2>/dev/null)" != *"restore --detach --lazy $T/img"* ]]
	done
}

# A ckpt killed (SIGKILL) at its first step once the process runs its own
# code while ckpt still fills it: a kill point by name (common/killpoint.h),
# not a race to win.  The process must die with ckpt (EXITKILL, and the
# keeper holds the uffd until then: guard.h), never run on to see a zero
# where the image had data.
# bats test_tags=arch-independent
@test "lazy: a ckpt killed while it fills takes the process with it (never zeros)" {
	skip_unless_ptrace
	skip_unless_uffd
	start_target lazy 256 2
	dump_kill --compress zstd
	touch "$T/go"
	# The reaper waits for the orphaned process too, and says how it
	# ended: without EXITKILL it runs on without ckpt, its pages not yet
	# in read as zeros, and it dies of SIGSEGV (a zeroed stack) or says
	# a page is wrong.
	run --separate-stderr env REAPER_LOG="$T/reaped" \
		CKPT_KILLPOINT="restore: lazily filling, the process running" \
		timeout 120 "$CKPT_TARGETS/reaper" "$CKPT" -vv restore --lazy "$T/img"
	echo "status $status"
	grep -E "killed at kill point|every page in|blocks to copy" <<<"$stderr" || true
	cat "$T/reaped" "$T/err"
	[ "$status" -eq 137 ]
	[[ "$stderr" == *"killed at kill point "*": restore: lazily filling, the process running"* ]]
	# (restore keeps the PID) killed with ckpt, never ran on
	grep -qx "$TPID signal 9" "$T/reaped"
	[ -z "$(grep -E 'FAIL|is wrong' "$T/err")" ]
}

# bats test_tags=arch-independent
@test "lazy: a damaged block kills the process with one line; never a wrong page" {
	skip_unless_ptrace
	skip_unless_uffd
	start_target lazy 32 4
	dump_kill --compress none
	# one bit in the middle of the page data
	local size off
	size=$(stat -c %s "$T/img")
	off=$(( size / 2 ))
	printf '\x55' | dd of="$T/img" bs=1 seek="$off" conv=notrunc 2>/dev/null
	touch "$T/go"
	# --trust: root's image is signed, and its MAC would find the damage
	# before the process runs (the whole image, or the DIGESTS table that
	# no longer names this block's header); vouched for, it runs at once
	# and lazy.c finds the damage by the block's CRC
	run --separate-stderr timeout 120 "$CKPT" restore --lazy --trust "$T/img"
	echo "$status: $stderr"
	cat "$T/err"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"checksum mismatch"* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ -z "$(grep 'is wrong' "$T/err")" ]
}

# bats test_tags=arch-independent
@test "lazy: a tree of processes is restored as it is read, with a warning that says so" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_basic
	dump_kill
	restore_go --lazy
	[ "$status" -eq 0 ]
	[[ "$output" == *"cannot restore lazily: it is a tree of processes"* ]]
	grep -qx 'tree_basic: ok' "$T/out"
}

# UFFDIO_COPY makes small pages only: huge pages come back through
# MADV_COLLAPSE after the fill (restore/thp.h); the target checks its
# AnonHugePages and every byte.
start_thp() {
	start_target thp "$@"
	grep -q "^no huge pages here" "$T/err" && skip "no transparent huge pages for the target here: $(cat "$T/err")"
	return 0
}

@test "transparent huge pages come back after the userfaultfd fill (eager), never where MADV_NOHUGEPAGE" {
	skip_unless_ptrace
	skip_unless_uffd
	start_thp
	dump_kill
	# the MADV_HUGEPAGE mapping flagged, never the NOHUGEPAGE one (the
	# unadvised one too where THP is "always", as in the arm64 guest)
	"$CKPT" inspect "$T/img" | grep -E '[ ,]thp(,| |$)' | grep -qw hugepage
	[ -z "$("$CKPT" inspect "$T/img" | grep -E '[ ,]thp(,| |$)' | grep -w nohugepage)" ]
	restore_v
	[ "$status" -eq 0 ]
	[[ "$output" == *"blocks copied in"* ]]
	all_made_again
}

# -v said every range was collapsed, at least the 64 MiB's 32
all_made_again() {
	[[ "$output" =~ "transparent huge pages: "([0-9]+)" of "([0-9]+)" made again" ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	[ "${BASH_REMATCH[1]}" -ge 32 ]
}

@test "lazy: transparent huge pages come back once every page is in" {
	skip_unless_ptrace
	skip_unless_uffd
	start_thp wait
	dump_kill
	restore_v --lazy
	[ "$status" -eq 0 ]
	all_made_again
}
