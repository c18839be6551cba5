#!/usr/bin/env bats
# ckpt core: ELF core files from images, read back with gdb.
#
# Tests tagged arch-independent (a damaged image, usage errors) run on the
# host only: the arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

skip_unless_gdb() {
	command -v gdb >/dev/null || skip "gdb is not installed"
}

# Wait until every thread of $TPID is stopped (dump --stop): until then
# /proc/TID/syscall says "running" instead of giving the PC.
wait_stopped() {
	local i t
	for ((i = 0; i < 200; i++)); do
		for t in /proc/"$TPID"/task/*; do
			[ "$(awk '{print $3}' "$t/stat")" = T ] || continue 2
		done
		return 0
	done
	echo "target $TPID did not stop" >&2
	return 1
}

# thread_value TID: from gdb's $output of 'thread apply all CMD', the first
# line after thread TID's header that starts with WORD (default: "$N =").
thread_value() {
	awk -v h="(LWP $1))" -v w="${2:-}" '
		index($0, h) { on = 1; next }
		/^Thread / { on = 0 }
		on && w == "" && /^\$[0-9]+ = / { print $3; exit }
		on && w != "" && $1 == w { print $2; exit }' <<<"$output"
}

# gdb_core CORE CMD...: gdb in batch mode on core_target and CORE.
gdb_core() {
	local core=$1 args=() c
	shift
	for c in "$@"; do
		args+=(-ex "$c")
	done
	run timeout 300 gdb -nx -batch "${args[@]}" "$CKPT_TARGETS/core_target" "$core"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "core: gdb shows every thread in its function, with the registers and memory of the dump" {
	skip_unless_ptrace
	skip_unless_gdb
	start_target core_target
	# --stop: the threads stay where the dump found them, so /proc can
	# tell their PCs independently of the image.
	run "$CKPT" dump "$TPID" -o "$T/img" --stop
	echo "$output"
	[ "$status" -eq 0 ]
	wait_stopped
	run "$CKPT" core "$T/img" -o "$T/core"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$T/core")" = 600 ]

	gdb_core "$T/core" 'thread apply all bt'
	[[ $output == *" in wait_in_main_loop ()"* ]]
	[[ $output == *" in main ()"* ]]
	# One thread per task, with the task's TID as its LWP.
	want=$(ls /proc/"$TPID"/task | sort -n | tr '\n' ' ')
	got=$(grep -o '^Thread [0-9]* (.*LWP [0-9]*)' <<<"$output" | sed 's/.*LWP \([0-9]*\))/\1/' |
	      sort -n | tr '\n' ' ')
	echo "tasks: $want; gdb threads: $got"
	[ "$got" = "$want" ]
	# The spinning thread's innermost frame is worker_spin itself.
	grep -Eq '^#0  (0x[0-9a-f]+ in )?worker_spin \(\) at ' <<<"$output"

	# Each thread's PC (rip on x86-64) is the one the stopped task has.
	gdb_core "$T/core" 'thread apply all info registers pc'
	for t in /proc/"$TPID"/task/*; do
		tid=${t##*/}
		pc=$(awk '{print $NF}' "$t/syscall")
		got=$(thread_value "$tid" pc)
		echo "task $tid: /proc pc $pc, core pc $got"
		[ -n "$got" ] && [ $((got)) -eq $((pc)) ]
	done

	# Each thread's floating-point state is its own (its register notes
	# after the right NT_PRSTATUS): the worker rounds toward zero, the
	# main thread to nearest.  Rounding control: x86-64 MXCSR.RC (bits
	# 14:13), aarch64 FPCR.RMode (bits 23:22); 3 is toward zero on both.
	case $(uname -m) in
	x86_64) rc='($mxcsr >> 13) & 3' ;;
	aarch64|arm64) rc='($fpcr >> 22) & 3' ;;
	*) rc= ;;
	esac
	if [ -n "$rc" ]; then
		gdb_core "$T/core" "thread apply all print/x $rc"
		for t in /proc/"$TPID"/task/*; do
			tid=${t##*/}
			got=$(thread_value "$tid")
			echo "task $tid: rounding control $got"
			if [ "$tid" = "$TPID" ]; then [ "$got" = 0x0 ]; else [ "$got" = 0x3 ]; fi
		done
	fi

	# Memory: a global and a heap string set at run time.
	gdb_core "$T/core" 'print/x core_magic' 'print core_heap'
	[[ $output == *"= 0xc0ffee0ddba11"* ]]
	[[ $output == *'"a string on the heap"'* ]]
}

@test "core: from stdin, uncompressed image, default name core.PID" {
	skip_unless_ptrace
	skip_unless_gdb
	start_target core_target
	run "$CKPT" dump "$TPID" -o "$T/img" --compress none
	[ "$status" -eq 0 ]
	cd "$T"
	run sh -c "'$CKPT' core - <'$T/img'"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -f "$T/core.$TPID" ]
	[ "$(ls "$T" | grep -c tmp)" -eq 0 ]
	gdb_core "$T/core.$TPID" 'thread apply all bt' 'print core_heap'
	[[ $output == *"wait_in_main_loop ()"* ]]
	[[ $output == *"worker_spin ()"* ]]
	[[ $output == *'"a string on the heap"'* ]]
}

# bats test_tags=arch-independent
@test "core: a damaged image fails with one line and leaves no file" {
	skip_unless_ptrace
	start_target core_target
	run "$CKPT" dump "$TPID" -o "$T/img" --compress none
	[ "$status" -eq 0 ]
	head -c $(( $(stat -c %s "$T/img") - 100 )) "$T/img" >"$T/short"
	run --separate-stderr "$CKPT" core "$T/short" -o "$T/core"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ $stderr == "ckpt: core $T/short: image is truncated"* ]]
	[ ! -e "$T/core" ]
	[ "$(ls "$T" | grep -c tmp)" -eq 0 ]
}

# bats test_tags=arch-independent
@test "core: usage errors exit 2" {
	run "$CKPT" core
	[ "$status" -eq 2 ]
	run "$CKPT" core img -o -
	[ "$status" -eq 2 ]
	[[ $output == *"cannot go to stdout"* ]]
	run "$CKPT" core img --pid x
	[ "$status" -eq 2 ]
}

# note CORE TYPE: the descriptor of the first note in CORE whose readelf line
# matches TYPE (NT_X86_XSTATE), as hex bytes, one per line; its size in $NOTE_SIZE.
note() {
	local line
	line=$(readelf -n "$1" | grep -F -A1 -m1 "$2") || return 1
	NOTE_SIZE=$(($(awk 'NR == 1 { print $2 }' <<<"$line")))
	awk 'NR == 2 { for (i = 3; i <= NF; i++) print $i }' <<<"$line"
}

# le64 FILE OFFSET: the little-endian u64 at OFFSET of a note() listing.
le64() {
	local v=0 i
	for ((i = 7; i >= 0; i--)); do
		v=$(((v << 8) | 0x$(sed -n "$(($2 + i + 1))p" "$1")))
	done
	printf '%#x\n' "$v"
}

skip_unless_xsave() {
	[ "$(uname -m)" = x86_64 ] || skip "XSAVE notes are x86-64's"
	grep -qw xsave /proc/cpuinfo || skip "this CPU has no XSAVE"
}

@test "core: XSAVE note in the kernel's layout (CPUID 0xD), the size and header of gcore's where gdb knows that layout; layout note as the kernel's" {
	skip_unless_ptrace
	skip_unless_gdb
	skip_unless_xsave
	start_target core_target
	run "$CKPT" dump "$TPID" -o "$T/img" --stop
	[ "$status" -eq 0 ]
	wait_stopped
	run timeout 300 gcore -o "$T/gcore" "$TPID"
	echo "$output"
	[ -s "$T/gcore.$TPID" ]
	run "$CKPT" core "$T/img" -o "$T/core"
	[ "$status" -eq 0 ]
	note "$T/gcore.$TPID" NT_X86_XSTATE >"$T/g.hex"
	local gsize=$NOTE_SIZE
	note "$T/core" NT_X86_XSTATE >"$T/c.hex"
	# The kernel's layout (CPUID leaf 0xD): its size is the note's.  gdb
	# 13's gcore writes Intel's layout whatever the CPU: on one whose
	# offsets are others (AMD Zen 4: AVX-512 and no MPX, the opmask at 832
	# where Intel has it at 1088) its note is bigger, and only the kernel's
	# (which its own core dumps write, with the layout note that says
	# where) is compared.
	"$CKPT_TARGETS/xsave_layout" >"$T/layout"
	local ksize
	ksize=$(awk '$1 == "size" { print $2 }' "$T/layout")
	echo "NT_X86_XSTATE: gcore $gsize bytes, ckpt $NOTE_SIZE, the kernel's layout $ksize"
	[ "$NOTE_SIZE" -eq "$ksize" ]
	if [ "$gsize" -eq "$ksize" ]; then
		[ "$(readelf -n "$T/core" | grep -m1 NT_X86_XSTATE | awk '{print $1}')" = \
		  "$(readelf -n "$T/gcore.$TPID" | grep -m1 NT_X86_XSTATE | awk '{print $1}')" ]
	fi
	echo "XCR0: gcore $(le64 "$T/g.hex" 464), ckpt $(le64 "$T/c.hex" 464)"
	[ "$(le64 "$T/c.hex" 464)" = "$(le64 "$T/g.hex" 464)" ]
	# NT_X86_XSAVE_LAYOUT (Linux 6.12): a record per feature of XCR0 from
	# AVX on (type, size, offset, flags; 16 bytes), at the CPU's offsets.
	if (($(le64 "$T/c.hex" 464) & 4)); then
		note "$T/core" "(0x00000205)" >"$T/l.hex"
		local -a b
		local r
		mapfile -t b <"$T/l.hex"
		for ((r = 0; r + 16 <= ${#b[@]}; r += 16)); do
			echo "$((0x${b[r + 2]}${b[r + 1]}${b[r]})) $((0x${b[r + 6]}${b[r + 5]}${b[r + 4]}))" \
			     "$((0x${b[r + 10]}${b[r + 9]}${b[r + 8]}))"
		done >"$T/l.txt"
		awk '$1 != "size" { print $1, $3, $2 }' "$T/layout" >"$T/k.txt"
		cat "$T/l.txt"
		diff "$T/k.txt" "$T/l.txt"
	fi
	gdb_core "$T/core" 'info registers xmm0'
	[[ $output != *"Unexpected size"* ]]
}

@test "core: a feature gdb cannot read (AMX tiles) is left out of the XSAVE note, as gcore does: no gdb warning" {
	skip_unless_ptrace
	skip_unless_gdb
	skip_unless_xsave
	start_target core_target
	dump_kill
	run "$CKPT" core "$T/img" -o "$T/core"
	[ "$status" -eq 0 ]
	note "$T/core" NT_X86_XSTATE >"$T/c.hex"
	local size=$NOTE_SIZE xcr0
	xcr0=$(le64 "$T/c.hex" 464)
	# As if this CPU had AMX (XTILECFG 17, XTILEDATA 18: Intel's offsets),
	# unless it has: an XSAVE area of 11008 bytes.
	if ! grep -qw amx_tile /proc/cpuinfo; then
		"$CKPT_TARGETS/imgtool" xfeature "$T/img" 17 2752 64
		"$CKPT_TARGETS/imgtool" xfeature "$T/img" 18 2816 8192
	fi
	run "$CKPT" core "$T/img" -o "$T/amx"
	[ "$status" -eq 0 ]
	note "$T/amx" NT_X86_XSTATE >"$T/a.hex"
	echo "NT_X86_XSTATE: $size bytes, with AMX in the image $NOTE_SIZE; XCR0 $xcr0, $(le64 "$T/a.hex" 464)"
	[ "$NOTE_SIZE" -eq "$size" ]
	[ "$(le64 "$T/a.hex" 464)" = "$xcr0" ]
	# The layout note has no record for them (types 0x11, 0x12).
	note "$T/amx" "(0x00000205)" >"$T/layout.hex"
	awk 'NR % 16 == 1' "$T/layout.hex" | tr '\n' ' '
	! awk 'NR % 16 == 1' "$T/layout.hex" | grep -qx -e 11 -e 12 || false
	gdb_core "$T/amx" 'info registers xmm1 ymm1'
	[[ $output != *"Unexpected size"* ]]
	[[ $output == *ymm1* ]]
}
