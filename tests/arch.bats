#!/usr/bin/env bats
# Images are per architecture: a real image made on another one (by
# make check-arm64: an x86-64 image restored in the arm64 guest, the
# guest's aarch64 image restored here) is refused in one line.

load test_helper

@test "restore of a real image from another architecture: one line naming both, exit 1" {
	local img n=0 here
	[ -n "${CKPT_FOREIGN:-}" ] || skip "no images from other architectures (make check-arm64 makes them)"
	here=$(uname -m | sed 's/^arm64$/aarch64/')
	for img in "$CKPT_FOREIGN"/*.img; do
		[ -e "$img" ] || continue
		n=$((n + 1))
		run --separate-stderr "$CKPT" restore "$img"
		echo "$img: status $status, stderr: $stderr"
		[ "$status" -eq 1 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[ "$stderr" = "ckpt: restore $img: image is for $(basename "$img" .img), this machine is $here" ]
	done
	[ "$n" -gt 0 ]
}

@test "vector registers of a process left running after a dump are as they were" {
	# The syscalls ckpt runs in the process must not cost it register
	# state: on arm64 a syscall discards SVE state beyond v0-v31.  Every
	# way a dump runs syscalls in it: frozen, the default (a fork: the
	# clone, then the copy reaped by a wait4 after the release), --fork,
	# --snapshot (its userfaultfd and mremaps, the shadows unmapped after).
	# Before ptrace/borrow.c put the SVE set back after each, --fork lost
	# the Z registers above bit 128 (guest, 512-bit vectors).
	skip_unless_ptrace
	local how st
	for how in --no-fork "" --fork --snapshot; do
		start_target fpu_regs spin
		run "$CKPT" dump "$TPID" -o "$T/img" $how
		echo "dump $how: $status $output"
		[ "$status" -eq 0 ] || [[ $how == --snapshot && $output == *"userfaultfd"* ]]
		touch "$T/go"
		st=0
		wait "$TPID" || st=$?
		cat "$T/out" "$T/err"
		[ "$st" -eq 0 ]
		rm -f "$T/go" "$T/ready" "$T/out" "$T/err"
	done
}

@test "pointer authentication: return addresses signed before the dump authenticate after restore" {
	skip_unless_ptrace
	[ -x "$CKPT_TARGETS/pac" ] || skip "arm64 only (tests/targets/aarch64/pac.c)"
	start_target pac
	dump_kill
	restore_go
	cat "$T/out"
	[ "$status" -eq 0 ]
}
