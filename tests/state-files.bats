#!/usr/bin/env bats
# Open files across dump --kill and restore: offsets, flags, directories,
# devices, deleted files, and files that changed or vanished meanwhile.
#
# Tests tagged arch-independent (what restore does with files that changed,
# modes and names: C; the guest restores offsets, flags, deleted and O_TMPFILE
# files) run on the host only: the arm64 guest leaves them out
# (tests/run-checks.sh).

load test_helper

@test "fds: offsets, O_APPEND and other open flags, FD_CLOEXEC, directory, /dev/null" {
	skip_unless_ptrace
	start_target fd_files "$T"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "deleted open file: contents and offset back, \" (deleted)\", nothing left on disk" {
	skip_unless_ptrace
	start_target fd_deleted "$T"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	# The directory holds only what the test itself put there.
	[ -z "$(ls "$T" | grep -vx -e img -e out -e err -e ready -e go)" ]
}

# restore_fail ARGS...: restore, expecting ckpt itself to fail; the
# stderr is in $stderr.
restore_fail() {
	touch "$T/go"
	run --separate-stderr timeout 300 "$CKPT" restore "$T/img" "$@"
	echo "status $status, stdout: $output"
	echo "stderr: $stderr"
}

# bats test_tags=arch-independent
@test "a written file grew after the dump: restore refuses in one line naming it" {
	skip_unless_ptrace
	start_target fd_changed "$T/file"
	dump_kill
	echo extra >>"$T/file"
	restore_fail
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"\"$T/file\""* ]]
	[ -z "$output" ]
	# No restored process, and the file is as the test left it.
	! kill -0 "$TPID" 2>/dev/null || false
	[ "$(stat -c %s "$T/file")" -eq 3006 ]
}

# grown_file_restore OPTION SIZE: the job's file grows by 6 bytes after
# the dump; restore with OPTION; the job must see SIZE bytes, and its
# "after\n" lands at its own offset 3000 (over the appended bytes, if kept).
grown_file_restore() {
	start_target fd_changed "$T/file"
	sum=$(sha256sum <"$T/file")
	dump_kill
	echo extra >>"$T/file"
	restore_go "$1"
	[ "$status" -eq 0 ]
	grep -qx "size $2" "$T/out"
	[ "$(stat -c %s "$T/file")" -eq 3006 ]
	[ "$(head -c 3000 "$T/file" | sha256sum)" = "$sum" ]
	[ "$(tail -c 6 "$T/file")" = after ]
}

# bats test_tags=arch-independent
@test "a written file grew after the dump: --rollback-files truncates it back, the job goes on" {
	skip_unless_ptrace
	grown_file_restore --rollback-files 3000
}

# bats test_tags=arch-independent
@test "a written file grew after the dump: --ignore-file-changes carries on with it" {
	skip_unless_ptrace
	grown_file_restore --ignore-file-changes 3006
}

# bats test_tags=arch-independent
@test "an open file deleted after the dump: restore fails in one line naming it, no process left" {
	skip_unless_ptrace
	start_target fd_changed "$T/file"
	dump_kill
	rm "$T/file"
	for opt in "" --rollback-files --ignore-file-changes; do
		restore_fail $opt
		[ "$status" -eq 1 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == *"\"$T/file\""* ]]
		[ -z "$output" ]
		! kill -0 "$TPID" 2>/dev/null || false
		[ ! -e "$T/file" ]
	done
}

# bats test_tags=arch-independent
@test "deleted open file whose path was taken meanwhile: the new file is left alone" {
	skip_unless_ptrace
	start_target fd_deleted "$T" 0600 replaced
	dump_kill
	echo new >"$T/ghost"
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/ghost")" = new ]
	[ -z "$(ls "$T" | grep -vx -e img -e out -e err -e ready -e go -e ghost)" ]
}

# bats test_tags=arch-independent
@test "deleted open file with mode 0666: recreated with that mode whatever ckpt's umask" {
	skip_unless_ptrace
	start_target fd_deleted "$T" 0666
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "deleted open file (0640) whose path was taken meanwhile: mode kept under another name" {
	skip_unless_ptrace
	start_target fd_deleted "$T" 0640 replaced
	dump_kill
	echo new >"$T/ghost"
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/ghost")" = new ]
}

@test "dup'd fds stay one open file description (shared offset), a separate open does not" {
	skip_unless_ptrace
	start_target fd_dup "$T"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "directory read partway: the rest of its entries after restore, each once" {
	skip_unless_ptrace
	start_target fd_dirpos "$T"
	dump_kill
	restore_go
	cat "$T/out"
	[ "$status" -eq 0 ]
}

@test "file opened with O_TMPFILE: recreated, same contents and offset, nothing left in its directory" {
	skip_unless_ptrace
	mkdir "$T/dir"
	start_target fd_tmpfile "$T/dir"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$T/dir")" ]
}
