#!/usr/bin/env bats
# What was removed while the process held it (tests/targets/fd_removed.c):
# deleted files with holes, with several opens or names, still linked
# elsewhere, with their owner, mode and times; memfds; a removed working
# directory and removed open directories.  Each target checks its own
# state after dump --kill and restore.
#
# Tests tagged arch-independent (variants of deleted files, memfds and
# directories made again in C; the guest restores a sparse deleted file,
# memfds (open and only mapped), a deleted file only mapped and a removed cwd)
# run on the host only: the arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

# case NAME [ARGS]: the target's case NAME, dumped, killed, restored.
removed_case() {
	skip_unless_ptrace
	start_target fd_removed "$T" "$@"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "deleted 1 GiB file with 4 KiB written: holes kept, small image, sparse again" {
	removed_case holes
	# the image holds the data, not the gigabyte
	[ "$(stat -c %s "$T/img")" -lt $((8 << 20)) ]
}

# bats test_tags=arch-independent
@test "deleted file opened twice and mapped MAP_SHARED: one inode again, mapping included" {
	removed_case twofds
}

# bats test_tags=arch-independent
@test "file with two names, each open, both removed: one inode again" {
	removed_case twonames
}

# bats test_tags=arch-independent
@test "file removed under the name it was opened by, still linked under another: reopened there" {
	removed_case otherlink
	[ "$(cat "$T/otherlink.2")" = abcXY ]
}

# bats test_tags=arch-independent
@test "deleted setuid file owned by another user: owner, mode 04755 and times kept (root)" {
	skip_unless_root
	removed_case owner 65534 65534
}

# bats test_tags=arch-independent
@test "deleted setuid file of the process's own: mode 04755 and times kept" {
	removed_case owner "$(id -u)" "$(id -g)"
}

@test "memfd: name, mode 0640, seals, and its MAP_SHARED mapping one memory with it" {
	removed_case memfd
}

@test "removed working directory: made again, entered and removed (\" (deleted)\")" {
	removed_case cwd
}

# bats test_tags=arch-independent
@test "removed open directories (O_RDONLY and O_PATH): made again with mode and mtime, open, removed" {
	removed_case dir
}

# bats test_tags=arch-independent
@test "inspect: a deleted file's owner and extents" {
	skip_unless_ptrace
	start_target fd_removed "$T" holes
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"4096 bytes of data in 1 extents"* ]]
}

# bats test_tags=arch-independent
@test "deleted file opened twice, the first open given up (--lose-fd): the second carries the data" {
	skip_unless_ptrace
	start_target fd_removed "$T" twofds
	dump_kill --lose-fd 10
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *" 11 deleted "*"4096 bytes of data in 1 extents"* ]]
}

# bats test_tags=arch-independent
@test "python3: a sparse tempfile.TemporaryFile (O_TMPFILE) and a removed cwd, dumped, killed, restored" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	CKPT_TARGETS=/usr/bin start_target python3 "$CKPT_TOP/tests/targets/removed_files.py" "$T"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "python: sparse line, size 1073741824, hole True, sparse True, no file in the removed cwd, cwd True" ]
}

# bats test_tags=arch-independent
@test "bash in a removed working directory: restored there, still removed" {
	skip_unless_ptrace
	CKPT_TARGETS=/bin start_target bash -c '
		mkdir "$1/wd" && cd "$1/wd" && rmdir "$1/wd" && : >"$CKPT_READY"
		while [ ! -e "$CKPT_GO" ]; do sleep 0.05; done
		[ -d . ] && echo "in a directory"
		echo x >f 2>/dev/null || echo "cannot make a file here"
		readlink /proc/self/cwd' bash "$T"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "in a directory
cannot make a file here
$T/wd (deleted)" ]
}

# bats test_tags=arch-independent
@test "removed FIFO: made again with its mode (not what ckpt's umask leaves) and mtime, its bytes in it" {
	removed_case fifo
}

# bats test_tags=arch-independent
@test "deleted file open and mapped MAP_PRIVATE: still a private mapping of that file, its own copies kept" {
	removed_case private
}

# core_bytes CORE ADDR LEN: LEN bytes of memory at ADDR (hex) in an ELF
# core file, from its PT_LOAD segments, in hex.
core_bytes() {
	python3 - "$@" <<'PY'
import struct, sys
core, addr, n = open(sys.argv[1], "rb").read(), int(sys.argv[2], 16), int(sys.argv[3])
phoff, = struct.unpack_from("<Q", core, 32)
phentsize, phnum = struct.unpack_from("<HH", core, 54)
for i in range(phnum):
    t, _, off, va, _, fsz, _, _ = struct.unpack_from("<IIQQQQQQ", core, phoff + i * phentsize)
    if t == 1 and va <= addr < va + fsz:
        print(core[off + addr - va:off + addr - va + n].hex())
PY
}

# bats test_tags=arch-independent
@test "core of a deleted file's private mapping: the file's bytes where the process has no copy" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "no python3"
	start_target fd_removed "$T" private
	dump_kill
	run "$CKPT" core "$T/img" -o "$T/core"
	[ "$status" -eq 0 ]
	a=$(sed -n 's/^map //p' "$T/out")
	[ "$(core_bytes "$T/core" "$a" 4)" = 6f776e68 ]			# "ownh": its copy
	[ "$(core_bytes "$T/core" "$(printf %x $((0x$a + 4096)))" 2)" = 6868 ]	# "hh": the file's
	[ "$(core_bytes "$T/core" "$(printf %x $((0x$a + 8192)))" 2)" = 0000 ]	# its zeroed copy
}

# bats test_tags=arch-independent
@test "removed working directory held open as an fd too: one directory again" {
	removed_case cwdfd
}

# mapped_case CASE [DUMP ARGS]: tests/targets/fd_mapped.c's case, its
# files only mapped (no fd left), dumped, killed, restored.
mapped_case() {
	skip_unless_ptrace
	start_target fd_mapped "$T" "$1"
	shift
	dump_kill "$@"
	restore_go
	[ "$status" -eq 0 ]
}

@test "memfd only mapped (MAP_SHARED twice, no fd): one memfd again, name, mode, seals, may write (root)" {
	skip_unless_root
	mapped_case memfd
	# inspect names it among the files it maps and holds no fd of
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"- memfd    mode 0640, 12288 bytes /memfd:ckpt-mapped"*"only mapped (no fd)"* ]]
	run "$CKPT" inspect --json "$T/img"
	grep -A8 '"mapped_files"' <<<"$output" | tr -d ' \n' |
		grep -q '"kind":"memfd","path":"/memfd:ckpt-mapped","size":12288,"mode":33184,"seals":"0x7","data_bytes":12288,'
}

@test "deleted file only mapped (MAP_SHARED and MAP_PRIVATE, no fd): one file again, holes, mode, mtime (root)" {
	skip_unless_root
	mapped_case deleted
}

# bats test_tags=arch-independent
@test "memfd sealed F_SEAL_FUTURE_WRITE after a writable MAP_SHARED mapping, only mapped: still writable there, the seals hold (root)" {
	skip_unless_root
	mapped_case future
}

# bats test_tags=arch-independent
@test "memfd sealed F_SEAL_FUTURE_WRITE after a writable MAP_SHARED mapping, held at fd 10: still writable there, the seals hold" {
	mapped_case futurefd
}

# bats test_tags=arch-independent
@test "memfd and deleted file only mapped, dumped by a user (no CAP_CHECKPOINT_RESTORE): anonymous memory with their bytes, dump names them" {
	skip_unless_ptrace
	skip_unless_root
	# A path: busybox's timeout would run its own setpriv applet.
	SETPRIV=$(command -v setpriv) || skip "no setpriv"
	chmod 1777 "$T"
	# the user's, for restore to reopen them as the user
	touch "$T/out" "$T/err"
	chown 65534:65534 "$T/out" "$T/err"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		exec "$SETPRIV" --reuid=65534 --regid=65534 --clear-groups \
			"$CKPT_TARGETS/fd_mapped" "$T" both anon </dev/null >>"$T/out" 2>>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready"
	run "$SETPRIV" --reuid=65534 --regid=65534 --clear-groups "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
	# once per file, by name, saying why
	[ "$(grep -c 'restored as anonymous memory' <<<"$output")" -eq 2 ]
	[[ "$output" == *"of \"/memfd:ckpt-mapped (deleted)\" (no fd of the process holds it): restored as anonymous memory"*"CAP_CHECKPOINT_RESTORE"* ]]
	[[ "$output" == *"of \"$T/gone (deleted)\" (no fd of the process holds it): restored as anonymous memory"* ]]
	touch "$T/go"
	run timeout 300 "$SETPRIV" --reuid=65534 --regid=65534 --clear-groups "$CKPT" restore "$T/img"
	echo "$output"
	cat "$T/err"
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "memfd only mapped, by a parent and its child (a tree): one memfd again, a store by the child seen by the parent (root)" {
	skip_unless_root
	mapped_case fork
	# made once, for the parent's mappings; the child's map it too
	run "$CKPT" inspect "$T/img"
	[ "$(grep -c 'memfd /memfd:ckpt-mapped (deleted)$' <<<"$output")" -eq 4 ]
}

# bats test_tags=arch-independent
@test "python3: a multiprocessing.Lock held (a POSIX semaphore only mapped: sem_open, sem_unlink), dumped, killed, restored (root)" {
	skip_unless_ptrace
	skip_unless_root
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	CKPT_TARGETS=/usr/bin start_target python3 "$CKPT_TOP/tests/targets/mapped_sem.py"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "python: lock held True, taken again once released True, still a mapping of its deleted file True" ]
}

# bats test_tags=arch-independent
@test "memfd only mapped by a parent, held at fd 10 by its child (a tree): one memfd again, a write through the child's fd seen in the parent's mapping (root)" {
	skip_unless_root
	mapped_case forkfd
}
