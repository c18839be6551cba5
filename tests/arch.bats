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

# Each XSAVE feature of this CPU (tests/targets/xsave_layout: "size N", then
# "feature offset size") moved past the end of the area, the last first,
# in every register set of $T/img: the layout of a CPU that is not this one.
move_xsave_features() {
	"$CKPT_TARGETS/xsave_layout" >"$T/layout"
	local at f off len
	at=$(awk '$1 == "size" { print $2 }' "$T/layout")
	while read -r f off len; do
		"$CKPT_TARGETS/imgtool" xmove "$T/img" "$f" "$off" "$at" "$len"
		at=$((at + len))
	done < <(awk '$1 != "size"' "$T/layout" | sort -rn)
	cat "$T/layout"
	echo "moved: the area now ends at $at"
}

@test "x86-64: an image from a CPU that lays out its XSAVE area otherwise gets every vector register back" {
	# Intel keeps the AVX-512 opmask at 1088, AMD's Zen 4 at 832: the
	# kernel takes a register set only in its own CPU's layout and reads
	# one laid out otherwise as it comes (main before arch/x86_64/xlayout.c:
	# zmm0-31 and k1-7 wrong in the restored process, restore "succeeded").
	skip_unless_ptrace
	[ "$(uname -m)" = x86_64 ] || skip "x86-64 only"
	start_target fpu_regs spin thread
	dump_kill
	move_xsave_features
	"$CKPT" sign "$T/img"
	restore_go
	cat "$T/out"
	[ "$status" -eq 0 ]
}

@test "x86-64: an image whose CPU had an XSAVE feature this one lacks is refused by name, before anything is made" {
	skip_unless_ptrace
	[ "$(uname -m)" = x86_64 ] || skip "x86-64 only"
	"$CKPT_TARGETS/xsave_layout" >"$T/layout"
	awk '$1 == 19' "$T/layout" | grep -q . && skip "this CPU has APX (XSAVE feature 19)"
	local size
	size=$(awk '$1 == "size" { print $2 }' "$T/layout")
	start_target fpu_regs spin
	dump_kill
	cp "$T/img" "$T/img0"
	# The process may use APX (glibc chose its functions by CPUID at start).
	"$CKPT_TARGETS/imgtool" xfeature "$T/img" 19 "$size" 128
	"$CKPT" sign "$T/img"
	touch "$T/go"	# if it is restored after all, it ends
	run --separate-stderr timeout 300 "$CKPT" restore "$T/img"
	echo "status $status: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "ckpt: restore $T/img: the process may use APX registers (XSAVE feature 19: the CPU it was dumped on had it), which this CPU does not have: cannot restore here" ]
	[ -z "$output" ]
	# Protection keys at the state a process has before it uses any
	# (XSTATE_BV clear: PKRU 0) are nothing lost on a CPU without them.
	if ! awk '$1 == 9' "$T/layout" | grep -q .; then
		cp "$T/img0" "$T/img"
		rm -f "$T/go"
		"$CKPT_TARGETS/imgtool" xfeature "$T/img" 9 "$size" 8
		"$CKPT" sign "$T/img"
		restore_go
		cat "$T/out"
		[ "$status" -eq 0 ]
	fi
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
