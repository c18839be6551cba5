#!/usr/bin/env bats
# inotify and fanotify instances, pidfds and files of its own /proc
# across dump and restore.
#
# Tests tagged arch-independent (variants, refusals, forged images, inspect
# and programs; the guest dumps and restores inotify, fanotify, a pidfd and
# /proc files) run on the host only: the arm64 guest leaves them out
# (tests/run-checks.sh).

load test_helper

# A filesystem of the test's own (fanotify's mount and filesystem marks
# see nobody else's events there), unmounted after the test's processes
# are gone.
eval "helper_$(declare -f teardown)"
teardown() {
	[ -z "${MNT:-}" ] || umount -l "$MNT" 2>/dev/null || true
	helper_teardown
}

# W: the directory an inotify test watches: in $T, or on a tmpfs where
# $T's filesystem cannot open a file from its handle (ramfs, as the arm64
# guest's root may be): dump finds watched files' paths that way, as root.
watched_dir() {
	skip_unless_root
	W=$T/watched
	if [ "$(stat -f -c %T "$T" 2>/dev/null)" = ramfs ]; then
		mount_tmpfs
		W=$MNT/watched
	fi
}

mount_tmpfs() {
	MNT=$T/mnt
	mkdir "$MNT"
	mount -t tmpfs -o size=1m none "$MNT" || skip "cannot mount a tmpfs here"
}

@test "inotify: every watch comes back with its wd (a gap kept), mask and flags; events arrive with the original wds" {
	skip_unless_ptrace
	watched_dir
	start_target fd_inotify "$W"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "inotify: a dump that does not kill changes no watch and consumes no event" {
	skip_unless_ptrace
	watched_dir
	start_target fd_inotify "$W"
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

# bats test_tags=arch-independent
@test "inotify: events queued unread at the dump: dump refuses, naming the fd" {
	skip_unless_ptrace
	watched_dir
	start_target fd_inotify "$W" pending
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: fd 10 (anon_inode:inotify, an inotify instance with 96 bytes of events not read yet): cannot be restored: the kernel cannot queue its unread events again; --allow-lost-fds dumps it without its events, --lose-fd 10 without it" ]]
	[ ! -e "$T/img" ]
	kill -0 "$TPID"
}

# bats test_tags=arch-independent
@test "inotify: events queued unread, --allow-lost-fds: restored with its watches, without those events, and restore says so" {
	skip_unless_ptrace
	watched_dir
	start_target fd_inotify "$W" pending
	dump_kill --allow-lost-fds
	restore_go
	[ "$status" -eq 0 ]
	[[ "$output" == *"fd 10 (anon_inode:inotify, an inotify instance with 96 bytes of events not read yet): the events it had not read at the dump were not saved (--allow-lost-fds): they are lost"* ]]
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"its unread events lost at the dump, 4 watches: 1 "* ]]
	run "$CKPT" inspect --json "$T/img"
	[[ "$output" == *'"events_lost": true'* ]]
}

# bats test_tags=arch-independent
@test "inspect: each inotify watch with its wd, path and mask" {
	skip_unless_ptrace
	watched_dir
	start_target fd_inotify "$W"
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"4 watches: 1 \"$W\" mask 0x300, 3 \"$W/b\" mask 0xfff, 4 \"$W/c\" mask 0x8, 5 \"$W/f\" mask 0x80000002"* ]]
	[[ "$output" == *"1 watch: 1 \"$W\" mask 0x4000100"* ]]
	run "$CKPT" inspect --json "$T/img"
	[[ "$output" == *'"kind": "inotify"'* ]]
	[[ "$output" == *'"watches": ['* ]]
}

# bats test_tags=arch-independent
@test "inotifywait -m (inotify-tools): dumped while watching, killed, restored: it reports a file made after the restore" {
	skip_unless_ptrace
	command -v inotifywait >/dev/null || skip "no inotifywait (apt-get install inotify-tools; tests/deps.sh)"
	watched_dir
	mkdir "$W"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec inotifywait -m -e create --format '%w%f %e' "$W" </dev/null >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	local i
	for i in $(seq 300); do
		grep -q "Watches established" "$T/err" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "Watches established" "$T/err"
	touch "$W/before"
	for i in $(seq 100); do
		[ -s "$T/out" ] && break
		sleep 0.1
	done
	[ "$(cat "$T/out")" = "$W/before CREATE" ]
	dump_kill
	"$CKPT" restore "$T/img" >"$T/restore.out" 2>&1 &
	local rpid=$!
	PIDS+=("$rpid")
	# restored once its process is there again
	for i in $(seq 300); do
		[ -e "/proc/$TPID" ] && [ "$(readlink "/proc/$TPID/fd/3" 2>/dev/null)" = "anon_inode:inotify" ] && break
		sleep 0.1
	done
	touch "$W/after"
	for i in $(seq 100); do
		[ "$(wc -l <"$T/out")" -ge 2 ] && break
		sleep 0.1
	done
	cat "$T/restore.out"
	cat "$T/out"
	[ "$(cat "$T/out")" = "$W/before CREATE
$W/after CREATE" ]
	kill "$TPID"
	wait "$rpid" || true
}

# bats test_tags=arch-independent
@test "tail -f (coreutils, which follows with inotify): dumped while following a file, killed, restored: it prints a line appended after the restore" {
	skip_unless_ptrace
	watched_dir
	mkdir "$W"
	echo "before" >"$W/log"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec tail -f "$W/log" </dev/null >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	local i
	for i in $(seq 300); do
		ls -l "/proc/$TPID/fd" 2>/dev/null | grep -q "anon_inode:inotify" && [ -s "$T/out" ] && break
		sleep 0.1
	done
	ls -l "/proc/$TPID/fd" | grep -q "anon_inode:inotify" ||
		skip "this tail does not follow with inotify"
	dump_kill
	"$CKPT" restore "$T/img" >"$T/restore.out" 2>&1 &
	local rpid=$!
	PIDS+=("$rpid")
	for i in $(seq 300); do
		[ "$(readlink "/proc/$TPID/fd/3" 2>/dev/null)" = "$W/log" ] &&
			ls -l "/proc/$TPID/fd" 2>/dev/null | grep -q "anon_inode:inotify" && break
		sleep 0.1
	done
	echo "after" >>"$W/log"
	for i in $(seq 100); do
		[ "$(wc -l <"$T/out")" -ge 2 ] && break
		sleep 0.1
	done
	cat "$T/restore.out"
	[ "$(cat "$T/out")" = "before
after" ]
	kill "$TPID"
	wait "$rpid" || true
}

@test "pidfd: of itself (non-blocking, blocking) and of a reaped child: the same process after restore, signals go through, poll and ESRCH as before" {
	skip_unless_ptrace
	start_target fd_pidfd
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'fd_pidfd: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "pidfd of itself: restored under another PID (its own in use), it names the new PID" {
	restore_under_new_pid fd_pidfd
}

# bats test_tags=arch-independent
@test "pidfd in a tree: the parent's of its child and the child's of its parent name them again; kill and waitid through it" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_pidfd tree
	local c
	for c in $(cat "/proc/$TPID/task/$TPID/children"); do PIDS+=("$c"); done
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'fd_pidfd: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "pidfd in a tree restored into a new PID namespace (--pid-ns): the same; restore says a pidfd of an exited process now gives EINVAL" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_pidfd tree pidns
	local c
	for c in $(cat "/proc/$TPID/task/$TPID/children"); do PIDS+=("$c"); done
	dump_kill
	restore_go --pid-ns
	[ "$status" -eq 0 ]
	grep -qx 'fd_pidfd: ok' "$T/out"
	[[ "$output" == *"fd 12 (anon_inode:[pidfd], a pidfd of a process that has exited): with --pid-ns, signals sent through it give EINVAL, not ESRCH (the exited process is made outside the new PID namespace)"* ]]
}

# bats test_tags=arch-independent
@test "pidfd of a process outside the image: dump refuses, naming it" {
	skip_unless_ptrace
	start_target fd_pidfd outside
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: fd 15 ("*", a pidfd of PID "*", outside the image): cannot be restored: the process it names is not dumped with it (it may not exist at restore); --lose-fd 15 or --allow-lost-fds dumps without it" ]]
	[ ! -e "$T/img" ]
	kill -0 "$TPID"
}

# bats test_tags=arch-independent
@test "inspect: each pidfd, of itself or of a process that has exited" {
	skip_unless_ptrace
	start_target fd_pidfd
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"of PID $TPID (itself)"* ]]
	[[ "$output" == *"of a process that has exited"* ]]
	run "$CKPT" inspect --json "$T/img"
	[[ "$output" == *'"kind": "pidfd"'* ]]
	[[ "$output" == *'"self": true'* ]]
}

# bats test_tags=arch-independent
@test "a forged image: inotify watch descriptors out of order are refused as damage" {
	skip_unless_ptrace
	skip_unless_root
	watched_dir
	start_target fd_inotify "$W"
	dump_kill
	# the second watch's wd (after the 8-byte state and the first watch)
	local at=$((8 + 32 + ${#W}))
	"$CKPT_TARGETS/imgtool" set "$T/img" "fd.10.state32.$at=1"
	run --separate-stderr "$CKPT" restore --trust "$T/img"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore $T/img: image is corrupted: "*"malformed" ]]
}

# bats test_tags=arch-independent
@test "a forged image: a pidfd naming a process not in the image (PID 1) is refused by name, not opened" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_pidfd
	dump_kill
	"$CKPT_TARGETS/imgtool" set "$T/img" fd.10.state32.0=1
	run --separate-stderr "$CKPT" restore --trust "$T/img"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore $T/img: fd 10 ("*") is a pidfd of PID 1, which is not a process of the image" ]]
	! kill -0 "$TPID" 2>/dev/null || false
}

@test "its own /proc files (status at an offset, maps by PID, ns/net, /proc/self, fdinfo/N): opened again by the restored process, naming it" {
	skip_unless_ptrace
	start_target fd_proc
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'fd_proc: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "its own /proc files: restored under another PID (its own in use), they name the new PID" {
	restore_under_new_pid fd_proc
}

# bats test_tags=arch-independent
@test "a file of one of its threads' /proc/PID/task/TID: dump refuses, naming it" {
	skip_unless_ptrace
	start_target fd_proc task
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: fd 15 (/proc/$TPID/task/"*"/stat, its own /proc/$TPID/task/"*"/stat): cannot be restored: a file of one of its threads' /proc/PID/task/TID is not restored yet; --lose-fd 15 or --allow-lost-fds dumps without it" ]]
	kill -0 "$TPID"
}

@test "fanotify: file, mount and filesystem marks with their masks, an ignore mask and flags come back; events arrive as before" {
	skip_unless_ptrace
	skip_unless_root
	mount_tmpfs
	start_target fd_fanotify "$MNT"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'fd_fanotify: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "fanotify: a dump that does not kill changes no mark and consumes no event" {
	skip_unless_ptrace
	skip_unless_root
	mount_tmpfs
	start_target fd_fanotify "$MNT"
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

# bats test_tags=arch-independent
@test "inspect: each fanotify mark with its type, path and masks" {
	skip_unless_ptrace
	skip_unless_root
	mount_tmpfs
	start_target fd_fanotify "$MNT"
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"flags 0x2, event flags "*", 4 marks:"* ]]
	[[ "$output" == *"\"$MNT/d\" type 0 mask 0x8000008"* ]]
	[[ "$output" == *"\"$MNT\" type 0x10 mask 0x10"* ]]
	[[ "$output" == *"\"$MNT\" type 0x100 mask 0x1"* ]]
}
