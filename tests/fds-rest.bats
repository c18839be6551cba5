#!/usr/bin/env bats
# What was left of issue 10's fds: pidfds of threads and of any process
# of a tree, a terminal's foreground group led from outside the image,
# fanotify groups that report file ids.
#
# Tests tagged arch-independent (variants, refusals, forged images and
# inspect; the guest restores pidfds in a tree, fanotify with file ids and
# O_PATH fds) run on the host only: the arm64 guest leaves them out
# (tests/run-checks.sh).

load test_helper

eval "helper_$(declare -f teardown)"
teardown() {
	[ -z "${MNT:-}" ] || umount -l "$MNT" 2>/dev/null || true
	helper_teardown
}

# skip_unless_pidfd_thread: pidfds of threads need Linux 6.9 (PIDFD_THREAD)
skip_unless_pidfd_thread() {
	"$CKPT_TARGETS/fd_pidfd_rel" probe || skip "no PIDFD_THREAD here (Linux 6.9 has it)"
}

# start_tree: fd_pidfd_rel tree, its children and grandchild in PIDS
start_tree() {
	start_target fd_pidfd_rel tree
	local c g
	for c in $(cat "/proc/$TPID/task/$TPID/children"); do
		PIDS+=("$c")
		for g in $(cat "/proc/$c/task/$c/children"); do PIDS+=("$g"); done
	done
	[ "${#PIDS[@]}" -eq 4 ]
}

@test "pidfds of two threads (PIDFD_THREAD, one non-blocking, one copied): each names its thread after restore, signals reach that thread, poll tells its end" {
	skip_unless_ptrace
	skip_unless_pidfd_thread
	start_target fd_pidfd_rel thread
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'fd_pidfd_rel: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "pidfds of threads: restored under another PID (its own in use), they name the new threads" {
	skip_unless_pidfd_thread
	restore_under_new_pid fd_pidfd_rel thread
}

@test "pidfds in a tree: of a later sibling, of a grandchild (and a copy), of a grandchild's thread: the same processes after restore, signals and poll work" {
	skip_unless_ptrace
	skip_unless_root
	start_tree
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'fd_pidfd_rel: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "pidfds in a tree restored into a new PID namespace (--pid-ns): they name the same processes and thread" {
	skip_unless_ptrace
	skip_unless_root
	start_tree
	dump_kill
	restore_go --pid-ns
	[ "$status" -eq 0 ]
	grep -qx 'fd_pidfd_rel: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "inspect: a pidfd of a thread says so" {
	skip_unless_ptrace
	skip_unless_pidfd_thread
	start_target fd_pidfd_rel thread
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"of thread "* ]]
	run "$CKPT" inspect --json "$T/img"
	[[ "$output" == *'"thread": true'* ]]
}

# bats test_tags=arch-independent
@test "a forged image: a pidfd of a thread not in the image is refused by name, not opened" {
	skip_unless_ptrace
	skip_unless_root
	skip_unless_pidfd_thread
	start_target fd_pidfd_rel thread
	dump_kill
	"$CKPT_TARGETS/imgtool" set "$T/img" fd.10.state32.0=1
	run --separate-stderr "$CKPT" restore --trust "$T/img"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore $T/img: fd 10 ("*") is a pidfd of thread 1, which is not a thread of the image" ]]
	! kill -0 "$TPID" 2>/dev/null || false
}

# mount_fid_fs: a tmpfs of the test's own at $MNT (fanotify's filesystem
# marks see nobody else's events there), unmounted in teardown; skips
# where fanotify cannot report file ids on it (tmpfs gives file handles
# since Linux 6.6).
mount_fid_fs() {
	skip_unless_root
	MNT=$T/mnt
	mkdir "$MNT"
	mount -t tmpfs -o size=1m none "$MNT" || skip "cannot mount a tmpfs here"
	"$CKPT_TARGETS/fd_fanotify_fid" probe "$MNT" ||
		skip "fanotify cannot report file ids on a tmpfs here"
	rm -rf "${MNT:?}"/*
}

@test "fanotify groups reporting file ids (FAN_REPORT_FID, FAN_REPORT_DFID_NAME): flags and marks come back; events arrive with the directory's handle and name, the file's handle" {
	skip_unless_ptrace
	mount_fid_fs
	start_target fd_fanotify_fid "$MNT"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'fd_fanotify_fid: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "inspect: a fanotify group reporting file ids shows its flags" {
	skip_unless_ptrace
	mount_fid_fs
	start_target fd_fanotify_fid "$MNT"
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"FAN_REPORT_DFID_NAME"* ]]
	[[ "$output" == *"FAN_REPORT_FID"* ]]
}

@test "O_PATH descriptors of a file, a symbolic link (O_NOFOLLOW), a directory, a FIFO and a socket file: the same inodes after restore, each usable as before" {
	skip_unless_ptrace
	mkdir "$T/d"
	start_target fd_opath "$T/d"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'fd_opath: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "an O_PATH descriptor of a deleted file: dump refuses, naming it" {
	skip_unless_ptrace
	mkdir "$T/d"
	start_target fd_opath "$T/d" deleted
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: fd 14 ("*"gone (deleted)"*"): cannot be restored: the file it names was deleted; --lose-fd 14 or --allow-lost-fds dumps without it" ]]
	kill -0 "$TPID"
}

@test "O_ASYNC files with an owner (F_SETOWN: the process, its process group) and a signal (F_SETSIG): the same after restore; a write brings each its signal, si_fd the process's own fd" {
	skip_unless_ptrace
	start_target fd_owner
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx "fd_owner: ok" "$T/out"
}

@test "O_ASYNC files owned by the process: restored under another PID (its own in use), they name the new one" {
	restore_under_new_pid fd_owner pid
}

@test "O_ASYNC files owned by the process and by its group: restored under another PID (its own in use), they name the new process and its new group" {
	restore_under_new_pid fd_owner
}

# bats test_tags=arch-independent
@test "an O_ASYNC file whose owner is outside the image (its parent), or one thread (F_OWNER_TID): dump refuses, naming it; the process runs on" {
	skip_unless_ptrace
	local mode
	for mode in outside thread; do
		rm -f "$T/ready" "$T/go"
		start_target fd_owner "$mode"
		run "$CKPT" dump "$TPID" -o "$T/img" --kill
		echo "$output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"fd 10 ("*"its SIGIO owner"*"--lose-fd 10"* ]]
		kill -KILL "$TPID"
		reap "$TPID"
	done
}

# bats test_tags=arch-independent
@test "a forged image: a SIGIO owner with both owner bits, an owner without an ID, or signal 65 is a damaged image" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "needs python3"
	start_target fd_owner
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
	# the first pipe (kind 7: fd 10) and its fown (ckpt_file + 92)
	local sec file v
	read -r sec file _ < <(file_of_kind 7 "$T/img")
	[ -n "$file" ]
	for v in $(( (TPID << 10) | 0x300 )) 256 65; do
		cp "$T/img" "$T/bad"
		"$CKPT_TARGETS/imgtool" setfield "$T/bad" $((file + 92)) 4 "$v"
		run "$CKPT" restore "$T/bad"
		echo "$output"
		[ "$status" -eq 1 ]
		[ "$output" = "ckpt: restore $T/bad: image is corrupted: file section at offset $sec is malformed" ]
	done
}
