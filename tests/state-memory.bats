#!/usr/bin/env bats
# Memory and register state across dump --kill and restore: each target
# sets up one kind of state, and after restore checks it and exits 0.
#
# Tests tagged arch-independent (a mapped file changed after the dump: refused
# in C) run on the host only: the arm64 guest leaves them out
# (tests/run-checks.sh).

load test_helper

# A keyed SysV segment a test made outlives its processes: removed here.
eval "$(declare -f teardown | sed '1s/teardown/common_teardown/')"
teardown() {
	[ -z "${SHM_KEY:-}" ] || ipcrm -M "$SHM_KEY" 2>/dev/null || true
	common_teardown
}

@test "brk heap: sbrk'd pattern, the break itself, and brk after restore" {
	skip_unless_ptrace
	start_target mem_brk
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "large anonymous mappings: sparse pattern, zero and writable elsewhere" {
	skip_unless_ptrace
	start_target mem_bigmap
	dump_kill
	# 64 pages of data in 80 MiB of mappings: untouched memory is not stored.
	[ "$(stat -c %s "$T/img")" -lt $((8 << 20)) ]
	restore_go
	[ "$status" -eq 0 ]
}

# dump_pagemap_reads: dump_kill under strace; $bytes: how much of the
# page map it read (pread64 on /proc/PID/pagemap).
dump_pagemap_reads() {
	run strace -f -y -e trace=pread64 -o "$T/strace" "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
	bytes=$(awk '/pread64\([0-9]+<[^>]*pagemap>/ { n += $NF } END { print n + 0 }' "$T/strace")
	echo "page map reads: $(grep -c 'pread64([0-9]*<[^>]*pagemap>' "$T/strace"), $bytes bytes"
}

@test "a 16 GiB reservation with little written: only that stored, page map scanned not read, rest left empty at restore" {
	skip_unless_ptrace
	start_target mem_reserve 16
	if command -v strace >/dev/null && "$CKPT" check | grep -q '^PAGEMAP_SCAN  *ok'; then
		# The kernel walks only the page tables there are (PAGEMAP_SCAN):
		# reading the page map would read 32 MiB of it here.  What is
		# read of it: a few entries (whether a present page is shared
		# copy-on-write, 8 bytes each), not the range.
		dump_pagemap_reads
		[ "$bytes" -lt $((64 << 10)) ]
	else
		echo "# no strace or no PAGEMAP_SCAN: the page map reads are not counted" >&3
		dump_kill
	fi
	# 257 pages and 1 MiB written in 16 GiB
	[ "$(stat -c %s "$T/img")" -lt $((4 << 20)) ]
	restore_go
	[ "$status" -eq 0 ]
}

@test "without PAGEMAP_SCAN (as before Linux 6.7, CKPT_NO_PAGEMAP_SCAN): a 16 GiB reservation, the page map read, only what was written stored, rest left empty at restore" {
	skip_unless_ptrace
	start_target mem_reserve 16
	export CKPT_NO_PAGEMAP_SCAN=1
	if command -v strace >/dev/null; then
		# The page map read whole: 8 bytes a page, 32 MiB here
		dump_pagemap_reads
		[ "$bytes" -ge $((32 << 20)) ]
	else
		dump_kill
	fi
	unset CKPT_NO_PAGEMAP_SCAN
	[ "$(stat -c %s "$T/img")" -lt $((4 << 20)) ]
	restore_go
	[ "$status" -eq 0 ]
}

@test "transparent huge pages: a MADV_NOHUGEPAGE mapping comes back without, a MADV_HUGEPAGE one with them (advice before the fill)" {
	skip_unless_ptrace
	start_target mem_thp
	dump_kill
	# From a stream: the pages are written in as the image is read
	# (process_vm_writev, where a fault may take a huge page), not copied
	# through userfaultfd (small pages only, UFFDIO_COPY)
	touch "$T/go"
	run timeout 300 bash -c 'cat "$1" | "$2" restore -' restore "$T/img" "$CKPT"
	echo "$output"
	echo "--- target stderr:"
	cat "$T/err"
	[ "$status" -eq 0 ]
}

@test "mprotect: ranges and perms as before, read-only and PROT_NONE enforced, data kept" {
	skip_unless_ptrace
	start_target mem_prot
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "MAP_SHARED anonymous: data kept, still shared with a child forked after restore" {
	skip_unless_ptrace
	start_target mem_shared
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "MAP_PRIVATE file mapping: written pages kept, others from the file, file unchanged" {
	skip_unless_ptrace
	start_target mem_filepriv "$T"
	sum=$(sha256sum <"$T/filepriv.dat")
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	[ "$(sha256sum <"$T/filepriv.dat")" = "$sum" ]
}

@test "mremap: region moved into a reservation and grown, shrunk region, old address gone" {
	skip_unless_ptrace
	start_target mem_mremap
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "x87, SSE, AVX, AVX-512 registers, MXCSR and x87 control word: caught spinning" {
	skip_unless_ptrace
	start_target fpu_regs spin
	dump_kill
	restore_go
	cat "$T/out"
	[ "$status" -eq 0 ]
}

@test "x87, SSE, AVX, AVX-512 registers, MXCSR and x87 control word: caught in nanosleep" {
	skip_unless_ptrace
	start_target fpu_regs sleep
	dump_kill
	restore_go
	cat "$T/out"
	[ "$status" -eq 0 ]
}

@test "TLS: __thread values, fs_base and %fs:0 of the main thread and two others" {
	skip_unless_ptrace
	start_target tls_threads
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "threads restored can be joined: the kernel clears their tid word at exit" {
	skip_unless_ptrace
	start_target tls_threads join
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "x87, SSE, AVX, AVX-512 registers of a second thread, caught spinning" {
	skip_unless_ptrace
	start_target fpu_regs spin thread
	dump_kill
	restore_go
	cat "$T/out"
	[ "$status" -eq 0 ]
}

@test "madvise and mlock state: VmFlags as before, DONTFORK and WIPEONFORK in a new child" {
	skip_unless_ptrace
	start_target mem_madv
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

# mlockall(MCL_FUTURE) is in mm->def_flags, which no file shows: only a
# mapping made in the process would tell, which a killed dump could leave
# there.  So dump maps nothing in the job (its maps are the same after a
# --no-fork dump) and warns by name; the locked mappings come back locked
# (ONFAULT as they were), a locked PROT_NONE guard page without a false
# "cannot lock" warning.
@test "mlockall(MCL_FUTURE), then with MCL_ONFAULT: dump maps nothing in the job and warns; locked mappings come back locked" {
	skip_unless_ptrace
	local before
	for how in "" onfault; do
		rm -f "$T/ready" "$T/go" "$T/img"
		start_target mem_lockall $how
		before=$(cat "/proc/$TPID/maps")
		run "$CKPT" dump "$TPID" -o "$T/img" --no-fork
		echo "$output"
		[ "$status" -eq 0 ]
		[ "$(cat "/proc/$TPID/maps")" = "$before" ]
		[ "$(grep -c 'mlockall(MCL_FUTURE)' <<<"$output")" -eq 1 ]
		kill -KILL "$TPID"
		reap "$TPID"
		if [ -n "$how" ]; then restore_go --lazy; else restore_go; fi
		[ "$status" -eq 0 ]
		[[ "$output" != *"cannot lock"* ]]
		[[ "$output" != *warning* ]]
		grep -qx 'mem_lockall: ok' "$T/out"
	done
}

# bats test_tags=arch-independent
@test "MAP_PRIVATE file mapping whose file changed or vanished after the dump: refused in one line" {
	skip_unless_ptrace
	start_target mem_filepriv "$T"
	dump_kill
	cp -p "$T/filepriv.dat" "$T/saved"
	# busybox's cp -p (the arm64 guest's) keeps whole seconds of mtime only
	[ "$(stat -c %y "$T/saved")" = "$(stat -c %y "$T/filepriv.dat")" ] ||
		skip "cp -p cannot copy an mtime exactly here (busybox: whole seconds)"
	for change in append rewrite remove; do
		# Back as at the dump, mtime included: only $change differs.
		cp -p "$T/saved" "$T/filepriv.dat"
		case $change in
		append) echo more >>"$T/filepriv.dat" ;;
		rewrite) printf 'XXXX' | dd of="$T/filepriv.dat" conv=notrunc status=none ;;
		remove) rm "$T/filepriv.dat" ;;
		esac
		touch "$T/go"
		run --separate-stderr timeout 300 "$CKPT" restore "$T/img"
		echo "$change: status $status, stderr: $stderr"
		[ "$status" -eq 1 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == *"\"$T/filepriv.dat\""* ]]
		! kill -0 "$TPID" 2>/dev/null || false
	done
	# Unchanged, it restores and the job is fine.
	cp -p "$T/saved" "$T/filepriv.dat"
	restore_go
	[ "$status" -eq 0 ]
}

@test "memfd mapped MAP_SHARED: fd and mapping still one memory, still a memfd" {
	skip_unless_ptrace
	start_target mem_memfd
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	[ -z "$(ls -d /memfd:* 2>/dev/null)" ]
}

@test "guard regions (MADV_GUARD_INSTALL) are dumped and installed again; the other pages keep their data" {
	skip_unless_ptrace
	"$CKPT_TARGETS/mem_guard" --probe || skip "this kernel has no guard regions (Linux >= 6.13)"
	start_target mem_guard
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'mem_guard: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "mseal: sealed mappings (read-write and read-only) come back sealed with their data, eagerly and --lazy" {
	skip_unless_ptrace
	"$CKPT_TARGETS/mem_seal" --probe || skip "this kernel has no mseal (Linux >= 6.10)"
	start_target mem_seal
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'mem_seal: ok' "$T/out"
	rm -f "$T/ready" "$T/go" "$T/img" "$T/out"
	start_target mem_seal
	dump_default_kill ""
	restore_go --lazy
	[ "$status" -eq 0 ]
	grep -qx 'mem_seal: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "SysV semaphore undo adjustments (SEM_UNDO): dump refuses by name, the process runs on; --lose-sem-undo dumps; plain semop is no reason" {
	skip_unless_ptrace
	start_target sysv_semundo undo
	run "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"process $TPID may hold SysV semaphore undo adjustments (semop SEM_UNDO; it changed set "*"--lose-sem-undo"* ]]
	touch "$T/go"
	wait "$TPID"
	grep -qx 'sysv_semundo: ok' "$T/out"
	for mode in lost plain; do
		rm -f "$T/ready" "$T/go" "$T/out" "$T/img"
		start_target sysv_semundo $mode
		dump_kill $([ $mode = lost ] && echo --lose-sem-undo)
		[ $mode = plain ] || [[ "$output" == *"warning: process $TPID: SysV semaphore undo adjustments (semop SEM_UNDO) it may hold"* ]]
		restore_go
		[ "$status" -eq 0 ]
		grep -qx 'sysv_semundo: ok' "$T/out"
	done
}

@test "SysV shared memory, the segment still there: attached again, both attaches one segment, same id, shmdt works" {
	skip_unless_ptrace
	command -v ipcrm >/dev/null || skip "no ipcrm here"
	SHM_KEY=$(printf '0x%x' $((0x0c4b0000 + $$ % 65536)))
	start_target sysv_shm keyed "$SHM_KEY"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'sysv_shm: ok' "$T/out"
}

@test "SysV shared memory, the segment removed after the dump: made again with its key, id and data" {
	skip_unless_ptrace
	skip_unless_root
	command -v ipcrm >/dev/null || skip "no ipcrm here"
	SHM_KEY=$(printf '0x%x' $((0x0c4c0000 + $$ % 65536)))
	start_target sysv_shm keyed "$SHM_KEY"
	dump_kill
	ipcrm -M "$SHM_KEY"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'sysv_shm: ok' "$T/out"
}

@test "SysV shared memory removed while attached (IPC_RMID): made again, removed again, gone when the process ends" {
	skip_unless_ptrace
	start_target sysv_shm private
	id=$(awk -v pid="$TPID" '$5 == pid { print $2 }' /proc/sysvipc/shm)
	dump_kill
	[ -z "$(awk -v id="$id" '$2 == id' /proc/sysvipc/shm)" ]
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'sysv_shm: ok' "$T/out"
	[ -z "$(awk -v id="$id" '$2 == id' /proc/sysvipc/shm)" ]
}

@test "MAP_SHARED read-only mapping of a file opened read-write: mprotect(PROT_WRITE) still works after restore, stores reach the file" {
	skip_unless_ptrace
	start_target mem_maywrite "$T"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'mem_maywrite: ok' "$T/out"
}
