#!/usr/bin/env bats
# Bad input and failure: every refusal is one line on stderr,
#   ckpt: dump PID: <what>: <why>   or   ckpt: restore FILE: <what>: <why>
# with exit status 1 (2 for usage), never a crash (status >= 128), never a
# process left behind half-restored, never a target left stopped or
# harmed: after a refused dump the counter target still finishes with
# the right sum.
#
# Tests tagged arch-independent (refusals, image damage and forgery: checks in
# C; the guest keeps the dump interrupted at any moment (injection undone) and
# the stub's own failure) run on the host only: the arm64 guest leaves them
# out (tests/run-checks.sh).

load test_helper

COUNTER_SUM='counter: 4499798217088'

# One image of the counter target for the whole file, dumped with --kill
# and reaped, so its PID is free: a restore that wrongly went ahead would
# get that PID back, which is what no_leftover looks for.
setup_file() {
	local T=$BATS_FILE_TMPDIR PIDS=()

	[ -x "$CKPT_TARGETS/imgtool" ] || return 0
	start_target counter || return 0
	if "$CKPT" dump "$TPID" -o "$T/good.img" --kill >"$T/dump.log" 2>&1; then
		echo "$TPID" >"$T/pid"
		"$CKPT_TARGETS/imgtool" sections "$T/good.img" >"$T/sections"
	else
		kill -KILL "$TPID"	# the dump failed: it runs on
	fi
	reap "$TPID" || true
}

# A private copy of the shared image in $T/x.img; IMGPID its process.
need_image() {
	skip_unless_ptrace
	[ -s "$BATS_FILE_TMPDIR/sections" ] || {
		cat "$BATS_FILE_TMPDIR/dump.log" 2>/dev/null
		false
	}
	IMGPID=$(cat "$BATS_FILE_TMPDIR/pid")
	IMG=$T/x.img
	cp "$BATS_FILE_TMPDIR/good.img" "$IMG"
}

imgtool() {
	"$CKPT_TARGETS/imgtool" "$@"
}

# The state letter of /proc/PID/stat (after the command name).
proc_state() {
	local s
	s=$(cat "/proc/$1/stat") || return 1
	s=${s##*) }
	echo "${s%% *}"
}

# is_state PID STATE: PID is in STATE (one letter of /proc/PID/stat).
is_state() {
	[ "$(proc_state "$1" 2>/dev/null)" = "$2" ]
}

# Nothing of the image's process exists (neither it nor a restore stub).
no_leftover() {
	local comm
	[ -e "/proc/$IMGPID" ] || return 0
	comm=$(cat "/proc/$IMGPID/comm" 2>/dev/null) || return 0
	if [ "$comm" = counter ] || [ "$comm" = ckpt-stub ]; then
		echo "process $IMGPID ($comm) was left behind"
		kill -KILL "$IMGPID"
		return 1
	fi
}

# refused FILE [PATTERN]: restore FILE (with the option in $TRUST, if set)
# fails with status 1 and one line, "ckpt: restore FILE: ..." matching the
# glob PATTERN when given, and leaves no process.  Prints what went wrong
# and returns 1 otherwise.
refused() {
	local img=$1 pat=${2:-*}
	run --separate-stderr timeout 300 "$CKPT" restore "$img" ${TRUST:+"$TRUST"}
	if [ "$status" -ne 1 ] || [ "${#stderr_lines[@]}" -ne 1 ] ||
	   [[ "$stderr" != "ckpt: restore $img: "$pat ]]; then
		echo "status $status, stderr:"
		printf '%s\n' "${stderr_lines[@]}"
		return 1
	fi
	no_leftover
}

# The counter started with start_target is unharmed: not stopped, and
# once let go it finishes with the right sum.
target_unharmed() {
	local st
	st=$(proc_state "$TPID")
	[[ "$st" == [RSD] ]] || { echo "target is in state $st"; return 1; }
	touch "$T/go"
	wait "$TPID" || { echo "target failed:"; cat "$T/err"; return 1; }
	grep -qx "$COUNTER_SUM" "$T/out"
}

# --- dump ----------------------------------------------------------------

# bats test_tags=arch-independent
@test "dump of a PID that does not exist: one line, exit 1, no image" {
	true &
	pid=$!
	wait "$pid"
	[ ! -e "/proc/$pid" ] || skip "PID $pid reused already"
	run --separate-stderr "$CKPT" dump "$pid" -o "$T/img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: dump $pid: no such process" ]
	[ ! -e "$T/img" ]
}

# bats test_tags=arch-independent
@test "dump of a kernel thread (kthreadd, PID 2): one line, exit 1" {
	[ "$(cat /proc/2/comm 2>/dev/null)" = kthreadd ] || skip "PID 2 is not kthreadd here"
	run --separate-stderr "$CKPT" dump 2 -o "$T/img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: dump 2: process is a kernel thread" ]
	[ ! -e "$T/img" ]
}

# bats test_tags=arch-independent
@test "dump of a zombie: one line, exit 1" {
	# The child of a shell that then execs sleep: nobody reaps it.  It
	# exits after the exec, or bash would reap it first.
	bash -c 'sleep 0.3 & echo $! >"$1"; exec sleep 600' zombie-parent "$T/zpid" \
		</dev/null >/dev/null 2>&1 &
	PIDS+=("$!")
	wait_file "$T/zpid"
	z=$(cat "$T/zpid")
	wait_for 60 is_state "$z" Z
	run --separate-stderr "$CKPT" dump "$z" -o "$T/img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: dump $z: process is a zombie (it has exited and waits for its parent)" ]
	[ ! -e "$T/img" ]
}

# bats test_tags=arch-independent
@test "dump of a process already traced: one line, exit 1, tracer and target unharmed" {
	skip_unless_ptrace
	start_target counter
	"$CKPT_TARGETS/tracer" "$TPID" "$T/traced" </dev/null >"$T/tracer.log" 2>&1 &
	tracer=$!
	PIDS+=("$tracer")
	wait_file "$T/traced" || { cat "$T/tracer.log"; false; }
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: dump $TPID: process is already traced by PID $tracer (a debugger?)" ]
	[ ! -e "$T/img" ]
	# Still traced by the same tracer: ckpt did not detach anybody.
	grep -qx "TracerPid:	$tracer" "/proc/$TPID/status"
	kill "$tracer"
	wait "$tracer" || true
	target_unharmed
}

# bats test_tags=arch-independent
@test "dump of another user's process without privileges: one line, exit 1, target unharmed" {
	skip_unless_ptrace
	skip_unless_root
	start_target counter
	chmod 755 "$T"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$CKPT" --version >/dev/null 2>&1 ||
		skip "ckpt cannot run as nobody here ($CKPT)"
	mkdir -m 777 "$T/out.d"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$CKPT" dump "$TPID" -o "$T/out.d/img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: dump $TPID: cannot attach (are you root or its owner? see also /proc/sys/kernel/yama/ptrace_scope): Operation not permitted" ]
	[ -z "$(ls -A "$T/out.d")" ]
	target_unharmed
}

# bats test_tags=arch-independent
@test "dump to a directory that does not exist: one line, exit 1, target unharmed" {
	skip_unless_ptrace
	start_target counter
	for mode in "" --kill --stop; do
		run --separate-stderr "$CKPT" dump "$TPID" -o "$T/nodir/img" $mode
		[ "$status" -eq 1 ]
		[ "$stderr" = "ckpt: dump $TPID: cannot create \"$T/nodir/img\": No such file or directory" ]
		# Neither killed (--kill) nor left stopped (--stop) after a failure.
		[[ "$(proc_state "$TPID")" == [RSD] ]]
	done
	target_unharmed
}

# ENOSPC while the target is frozen (uncompressed: while writing pages)
# and at the end (compressed, all in the write buffer).  A private mount
# namespace holds the small tmpfs, so nothing is left mounted.
# bats test_tags=arch-independent
@test "dump to a full filesystem: one line, exit 1, no file left, target unharmed" {
	skip_unless_ptrace
	skip_unless_root
	unshare -m true 2>/dev/null || skip "no mount namespaces"
	start_target counter
	mkdir "$T/full"
	for mode in "" --kill "--compress none" "--compress none --kill"; do
		run --separate-stderr unshare -m sh -c \
			'mount -t tmpfs -o size=16k tmpfs "$1" || exit 99
			 "$2" dump "$3" -o "$1/img" $4; st=$?
			 ls -A "$1"; exit $st' - "$T/full" "$CKPT" "$TPID" "$mode"
		[ "$status" -eq 1 ] || { echo "$mode: status $status"; false; }
		[ "$stderr" = "ckpt: dump $TPID: cannot write \"$T/full/img\": No space left on device" ]
		# Neither the image nor its temporary file.
		[ -z "$output" ] || { echo "$mode: left $output"; false; }
		[[ "$(proc_state "$TPID")" == [RSD] ]]
	done
	target_unharmed
}

# bats test_tags=arch-independent
@test "a stopped process stays stopped after a failed and after a good dump" {
	skip_unless_ptrace
	start_target counter
	kill -STOP "$TPID"
	wait_for 60 is_state "$TPID" T
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/nodir/img"
	[ "$status" -eq 1 ]
	[ "$(proc_state "$TPID")" = T ]
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 0 ]
	[ "$(proc_state "$TPID")" = T ]
	kill -CONT "$TPID"
	target_unharmed
}

# SIGTERM to ckpt dump at moments from before it attaches to after it
# is done (slow compression widens the frozen window), in each way of
# dumping (a forked copy, frozen throughout, a snapshot): ckpt dies of
# the signal or finishes; the target is left as it was either way.  Once
# ckpt catches SIGTERM (sigguard, SigCgt), dying of it means saying so
# in one line, whatever wait or call the signal broke off.
@test "dump interrupted by SIGTERM at any moment: target unharmed, no partial image" {
	skip_unless_ptrace
	start_target counter
	interrupted=0
	# The emulated guest: the copy's way alone, at fewer moments (each
	# dump there takes seconds).
	modes="--fork --no-fork --snapshot"
	moments="0 1 2 3 4 5 6 8 10 12 15 20 25 30 40 50 60 80 100 130 160 200 300"
	if [ -n "${CKPT_ARM64:-}" ]; then
		modes=--fork
		moments="0 2 4 6 8 10 15 20 30 40 60 80"
	fi
	for mode in $modes; do
		for ms in $moments; do
			rm -f "$T"/img*
			"$CKPT" dump "$TPID" -o "$T/img" --compress zstd:19 -j 1 $mode 2>"$T/dump.err" &
			d=$!
			sleep "$(printf '0.%03d' "$ms")"
			cgt=$(awk '/^SigCgt:/ { print $2 }' "/proc/$d/status" 2>/dev/null) || cgt=
			caught=$(( (0x${cgt:-0} >> 14) & 1 ))	# SIGTERM is bit 14
			kill -TERM "$d" 2>/dev/null || true	# it may be done already
			st=0
			wait "$d" || st=$?
			echo "$mode after ${ms} ms: caught $caught, status $st: $(cat "$T/dump.err")"
			[ "$(grep -c . "$T/dump.err")" -le 1 ]
			if [ "$st" -eq 143 ]; then
				# No image, no temporary file.
				[ -z "$(ls "$T" | grep '^img')" ]
				if [ -s "$T/dump.err" ] || [ "$caught" = 1 ]; then
					interrupted=$((interrupted + 1))
					[ "$(cat "$T/dump.err")" = "ckpt: dump $TPID: interrupted by signal 15: the process was left as it was" ]
				fi
			else
				[ "$st" -eq 0 ]
			fi
			[[ "$(proc_state "$TPID")" == [RSD] ]]
			grep -qx 'TracerPid:	0' "/proc/$TPID/status"
		done
	done
	echo "$interrupted interrupted while attached"
	target_unharmed
}

# bats test_tags=arch-independent
@test "dump usage errors: exit 2" {
	run --separate-stderr "$CKPT" dump 12ab
	[ "$status" -eq 2 ]
	[ "$stderr" = 'ckpt: dump: "12ab" is not a PID' ]
	run --separate-stderr "$CKPT" dump 0
	[ "$status" -eq 2 ]
	run --separate-stderr "$CKPT" dump 1 --kill --stop
	[ "$status" -eq 2 ]
	[ "$stderr" = 'ckpt: dump: --kill and --stop exclude each other' ]
}

# --- restore: not an image at all ----------------------------------------

# bats test_tags=arch-independent
@test "restore of a missing file: one line, exit 1" {
	run --separate-stderr "$CKPT" restore "$T/none.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: restore $T/none.img: cannot open image: No such file or directory" ]
}

# bats test_tags=arch-independent
@test "restore of an empty file: one line, exit 1" {
	: >"$T/empty.img"
	run --separate-stderr "$CKPT" restore "$T/empty.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: restore $T/empty.img: not a checkpoint image: too short" ]
}

# bats test_tags=arch-independent
@test "restore of a text file: not a checkpoint image" {
	echo "hello" >"$T/short.txt"
	run --separate-stderr "$CKPT" restore "$T/short.txt"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: restore $T/short.txt: not a checkpoint image: too short" ]
	# Longer than a header: the magic is what tells.
	cp "$CKPT_TOP/README.md" "$T/long.txt"
	run --separate-stderr "$CKPT" restore "$T/long.txt"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: restore $T/long.txt: not a checkpoint image: bad magic" ]
}

# bats test_tags=arch-independent
@test "restore of a directory: one line, exit 1" {
	run --separate-stderr "$CKPT" restore "$T"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: restore $T: cannot read image: Is a directory" ]
}

# bats test_tags=arch-independent
@test "restore usage errors: exit 2" {
	run --separate-stderr "$CKPT" restore
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = 'ckpt: restore: missing image file' ]
	run --separate-stderr "$CKPT" restore a.img b.img
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = 'ckpt: restore: too many arguments' ]
	run --separate-stderr "$CKPT" restore a.img --rollback-files --ignore-file-changes
	[ "$status" -eq 2 ]
}

# --- restore: a damaged or foreign image ---------------------------------

# bats test_tags=arch-independent
@test "restore of an image truncated at every section boundary and inside every section" {
	need_image
	size=$(stat -c %s "$IMG")
	n=0
	while read -r off type proc len; do
		[ "$off" = eof ] && continue
		# At the boundary, inside the section header, right after it,
		# in the middle of the payload, one byte short of the end.
		for cut in "$off" $((off + 10)) $((off + 24)) $((off + 24 + len / 2)) \
			   $((off + 24 + len - 1)); do
			[ "$cut" -lt "$size" ] || continue
			head -c "$cut" "$BATS_FILE_TMPDIR/good.img" >"$IMG"
			refused "$IMG" "image is truncated: *" ||
				{ echo "cut at $cut (section type $type at $off)"; false; }
			n=$((n + 1))
		done
	done <"$BATS_FILE_TMPDIR/sections"
	echo "$n truncations"
	[ "$n" -gt 20 ]
	# Shorter than the header.
	head -c 100 "$BATS_FILE_TMPDIR/good.img" >"$IMG"
	refused "$IMG" "not a checkpoint image: too short"
}

# flip_refused BYTE BIT [PATTERN]: flip it in $IMG, expect refusal, flip back.
flip_refused() {
	local bit=$(($1 * 8 + $2))
	imgtool flip "$IMG" "$bit"
	refused "$IMG" "${3:-*}" || { echo "bit $2 of byte $1"; return 1; }
	imgtool flip "$IMG" "$bit"
}

# bats test_tags=arch-independent
@test "restore with single bits flipped in the header: one line, exit 1" {
	need_image
	flip_refused 0 3 "not a checkpoint image: bad magic"
	flip_refused 7 0 "not a checkpoint image: bad magic"
	# the checksum is checked before the fields it covers: damage, not
	# an old version or an odd header size
	flip_refused 8 2 "image header is corrupted: checksum mismatch"	# version 4 -> 0
	flip_refused 9 0 "image header is corrupted, or from a newer ckpt*"	# version 257
	flip_refused 13 0 "image header is corrupted: checksum mismatch"	# header_size
	flip_refused 16 1 "image header is corrupted: checksum mismatch"	# machine
	flip_refused 21 4 "image header is corrupted: checksum mismatch"	# page_size
	flip_refused 44 0 "image header is corrupted: checksum mismatch"	# nprocs
	flip_refused 100 6 "image header is corrupted: checksum mismatch"	# kernel
	flip_refused 253 7 "image header is corrupted: checksum mismatch"	# crc
	cmp "$IMG" "$BATS_FILE_TMPDIR/good.img"
}

# bats test_tags=arch-independent
@test "restore with single bits flipped in section headers: one line, exit 1" {
	need_image
	# The first section (PROC at 256) and the last (END).
	last=$(grep -v '^eof' "$BATS_FILE_TMPDIR/sections" | tail -1 | cut -d' ' -f1)
	for at in 256 "$last"; do
		for field in 0 4 8 12 16 20; do
			flip_refused $((at + field)) 2 "image is corrupted: bad section header at offset $at"
		done
	done
	# The top bit of a size: oversized or bad header, never a huge read.
	flip_refused $((256 + 15)) 7 "image is corrupted: *"
}

# bats test_tags=arch-independent
@test "restore with single bits flipped in metadata and page data: one line, exit 1" {
	need_image
	while read -r off type proc len; do
		[ "$off" = eof ] && continue
		case $type in
		1) what=process ;; 2) what="signal actions" ;; 3) what=thread ;;
		4) what=mapping ;; 5) what="file descriptor" ;; 16) what="page data" ;;
		40) what="aligned page data" ;;
		255) what=end ;; *) continue ;;
		esac
		for at in $((off + 24)) $((off + 24 + len / 3)) $((off + 24 + len - 1)); do
			flip_refused "$at" 5 "image is corrupted: $what section at offset $off: checksum mismatch"
			# The caller vouching (--trust), root reads a signed image
			# only once, through userfaultfd: restore/lazy.c's own checks.
			TRUST=--trust flip_refused "$at" 5 \
				"image is corrupted: $what section at offset $off: checksum mismatch"
		done
	done <"$BATS_FILE_TMPDIR/sections"
	cmp "$IMG" "$BATS_FILE_TMPDIR/good.img"
}

# Compressed blocks are small: a restore of a signed image hashes them as
# it indexes the image, before any block's CRC is looked at, and a flip in
# one made the MAC as a whole fail ("changed after it was signed": a
# forgery) where its own CRC says it is damage (image/read.c).  Their own
# image (lz4), as the default's --compress auto compresses only what its
# compressors get to.
# bats test_tags=arch-independent
@test "restore with single bits flipped in compressed page data: checksum mismatch, one line, exit 1" {
	need_image
	local n=0
	start_target counter
	"$CKPT" dump "$TPID" -o "$T/lz.img" --kill --compress lz4
	reap "$TPID"
	IMG=$T/x.img
	IMGPID=$TPID
	cp "$T/lz.img" "$IMG"
	while read -r off type proc len; do
		[ "$type" = 16 ] || continue
		for at in $((off + 24 + len / 2)) $((off + 24 + len - 1)); do
			flip_refused "$at" 3 "image is corrupted: page data section at offset $off: checksum mismatch"
			n=$((n + 1))
		done
	done < <(imgtool sections "$IMG")
	echo "$n flips"
	[ "$n" -ge 10 ]
	cmp "$IMG" "$T/lz.img"
}

# bats test_tags=arch-independent
@test "restore with one bit flipped at 200 random places: one line, exit 1, no process" {
	need_image
	bits=$(( $(stat -c %s "$IMG") * 8 ))
	RANDOM=$$
	for i in $(seq 200); do
		bit=$(( (RANDOM * 32768 + RANDOM) % bits ))
		imgtool flip "$IMG" "$bit"
		refused "$IMG" || { echo "bit $bit (byte $((bit / 8)))"; false; }
		imgtool flip "$IMG" "$bit"
	done
	cmp "$IMG" "$BATS_FILE_TMPDIR/good.img"
}

# bats test_tags=arch-independent
@test "restore of an image with a wrong magic: not a checkpoint image" {
	need_image
	imgtool setfield "$IMG" 0 8 0x0a0d54504b434b89	# "\x89KCKPT\r\n"
	refused "$IMG" "not a checkpoint image: bad magic"
}

# bats test_tags=arch-independent
@test "restore of an image from a newer ckpt: says so" {
	need_image
	imgtool setfield "$IMG" 8 4 5
	refused "$IMG" "image format version 5 is newer than this ckpt understands (4): upgrade ckpt"
}

# bats test_tags=arch-independent
@test "restore of an image of format version 0: not supported" {
	need_image
	imgtool setfield "$IMG" 8 4 0
	refused "$IMG" "image format version 0 is not supported (this ckpt reads 1 to 4)"
}

# bats test_tags=arch-independent
@test "restore of an image from another architecture: names it" {
	need_image
	case $(uname -m) in
	x86_64) other=183 name=aarch64 here=x86_64 ;;
	aarch64|arm64) other=62 name=x86_64 here=aarch64 ;;
	*) skip "unknown machine" ;;
	esac
	imgtool setfield "$IMG" 16 4 "$other"
	refused "$IMG" "image is for $name, this machine is $here"
}

# bats test_tags=arch-independent
@test "restore of an image with another page size, or more processes than it holds: says which" {
	need_image
	imgtool setfield "$IMG" 20 4 65536
	refused "$IMG" "image has 65536-byte pages, this kernel uses $(getconf PAGESIZE)"
	cp "$BATS_FILE_TMPDIR/good.img" "$IMG"
	# A header that counts two processes where the image holds one (and
	# no process tree): damaged, not a tree (an image of a tree is restored).
	imgtool setfield "$IMG" 44 4 2
	refused "$IMG" "image is corrupted: metadata incomplete before offset *"
}

# bats test_tags=arch-independent
@test "restore of an image with impossible counts behind good checksums: malformed" {
	need_image
	# struct ckpt_proc at 280: nthreads at +16; checksums fixed by imgtool.
	imgtool setfield "$IMG" $((280 + 16)) 4 0
	refused "$IMG" "image is corrupted: process section at offset 256 is malformed"
	cp "$BATS_FILE_TMPDIR/good.img" "$IMG"
	# nvmas and nfds: far more than the file holds.  Their arrays would
	# take 3 GiB; refused before any is allocated, under a 1 GiB limit.
	imgtool setfield "$IMG" $((280 + 20)) 4 16777216
	imgtool setfield "$IMG" $((280 + 24)) 4 16777216
	(ulimit -v 1000000
	 refused "$IMG" "image is truncated: process section at offset 256 describes more than the rest of the file holds")
}

# bats test_tags=arch-independent
@test "restore of another user's image without privileges: one line, exit 1" {
	need_image
	skip_unless_root
	chmod 755 "$T"
	chmod 644 "$IMG"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$CKPT" --version >/dev/null 2>&1 ||
		skip "ckpt cannot run as nobody here ($CKPT)"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups "$CKPT" restore "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: restore $IMG: the process ran as uid 0 gid 0: only root can restore it as that user" ]
	no_leftover
	# And one it may not even read.
	chmod 600 "$IMG"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups "$CKPT" restore "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: restore $IMG: cannot open image: Permission denied" ]
}

# A stream cannot be checked before the process is created: damage found
# while filling its memory must still leave nothing behind.
# bats test_tags=arch-independent
@test "restore - of a stream damaged in its page data: one line, exit 1, no process" {
	need_image
	pages=$(awk '$2 == 16 { print $1 + 24 + 100; exit }' "$BATS_FILE_TMPDIR/sections")
	imgtool flip "$IMG" $((pages * 8))
	run --separate-stderr bash -c 'cat "$1" | timeout 300 "$2" restore -' - "$IMG" "$CKPT"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore -: image is corrupted: page data section at offset "*": checksum mismatch" ]]
	no_leftover
	# Cut in the middle of the page data.
	run --separate-stderr bash -c 'head -c "$3" "$1" | timeout 300 "$2" restore -' - \
		"$BATS_FILE_TMPDIR/good.img" "$CKPT" $((pages + 1000))
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore -: image is truncated: page data section at offset "*" is incomplete" ]]
	no_leftover
}

# The reader once refused command lines over 256 KiB as damage.
# bats test_tags=arch-independent
@test "a process with a 300 KiB command line is not mistaken for a damaged image" {
	skip_unless_ptrace
	arg=$(head -c 100000 /dev/zero | tr '\0' x)
	start_target counter 3000000 "$arg" "$arg" "$arg"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx "$COUNTER_SUM" "$T/out"
}

# restore_ended PID WHAT: ckpt restore PID (the restored process $TPID)
# ends within 60 s, its exit status in st.  Bounded: a signal lost would
# leave ckpt waiting for its process, and the process for go, for good;
# then WHAT is said, the process killed, and it fails.
restore_ended() {
	local i
	for i in $(seq 1200); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$1" 2>/dev/null; then
		echo "$2: ckpt restore still runs after 60 s"
		cat "$T/restore.err"
		kill -KILL "$TPID" 2>/dev/null || true
		return 1
	fi
	wait "$1" && st=0 || st=$?
}

# bats test_tags=arch-independent
@test "SIGTERM or SIGINT to ckpt restore before the process runs: nothing is left" {
	skip_unless_ptrace
	env --default-signal=INT true 2>/dev/null || skip "env has no --default-signal here (busybox)"
	# Not with SIGINT ignored, as bats starts background jobs: restored
	# so, the process would ignore a forwarded SIGINT too (as it should),
	# and a restore done before the signal came would wait for it forever.
	printf '#!/bin/sh\nexec env --default-signal %s "$@"\n' "$CKPT_TARGETS/pattern" >"$T/pattern"
	chmod +x "$T/pattern"
	CKPT_TARGETS=$T start_target pattern 64
	# (signals 1-31: under make, 32 and 33, glibc's own, come ignored
	# and no libc call can set them back)
	[ $((0x$(grep SigIgn "/proc/$TPID/status" | cut -f2) & 0x7fffffff)) -eq 0 ]
	dump_kill
	local ckpt i n said=0
	ckpt=$(readlink -f "$CKPT")
	# No go file: the restored process waits for it, so it dies only of
	# the forwarded signal (a fast restore used to let it finish first).
	for ms in 0 5 10 20 40 80 120; do
		for sig in TERM INT; do
			# background jobs of a script start with SIGINT ignored
			env --default-signal=INT "$CKPT" restore "$T/img" 2>"$T/restore.err" &
			r=$!
			# The signal is for ckpt: not for the shell's child
			# before env has run (SIGINT ignored there: lost, and
			# the restored process then waited forever for go)
			for i in $(seq 600); do
				[ "$(readlink "/proc/$r/exe" 2>/dev/null)" != "$ckpt" ] || break
				sleep 0.01
			done
			sleep "$(printf '0.%03d' "$ms")"
			kill -"$sig" "$r"
			restore_ended "$r" "after SIG$sig at $ms ms"
			# either it was already running the process (then it was
			# forwarded the signal and died of it), or it undid all
			sleep 0.1
			if kill -0 "$TPID" 2>/dev/null; then
				echo "after SIG$sig at $ms ms: PID $TPID still there (ckpt exit $st)"
				cat "$T/restore.err"
				kill -KILL "$TPID"
				false
			fi
			[ "$st" -ge 128 ] || { echo "exit $st after SIG$sig at $ms ms"; cat "$T/restore.err"; false; }
			# one line, the same wherever the restore was: before
			# the process ran, the interruption's; after, none (the
			# process had the signal)
			n=$(kill -l "$sig")
			if [ -s "$T/restore.err" ] &&
			   [ "$(cat "$T/restore.err")" != "ckpt: restore $T/img: interrupted by signal $n: nothing was restored" ]; then
				echo "after SIG$sig at $ms ms, not the one line:"
				cat "$T/restore.err"
				false
			fi
			[ -s "$T/restore.err" ] && said=$((said + 1))
		done
	done
	echo "$said of 14 said the interruption"
	# From a stream the pages are filled as they are read (restore/pages.c),
	# the process a stub until they all are: ckpt is kept waiting for the
	# second half of the image, told to stop meanwhile, then given the
	# rest.  It stops at the next block, undoes everything and says so,
	# once; nothing of the process is left.
	local half w
	half=$(( $(stat -c %s "$T/img") / 2 ))
	mkfifo "$T/stream"
	( head -c "$half" "$T/img"; until [ -e "$T/more" ]; do sleep 0.05; done
	  tail -c +$((half + 1)) "$T/img" ) >"$T/stream" &
	w=$!
	PIDS+=("$w")
	env --default-signal=INT "$CKPT" restore - <"$T/stream" 2>"$T/restore.err" &
	r=$!
	PIDS+=("$r")
	# (rchar: the bytes it has read, the half among them)
	for i in $(seq 2400); do
		n=$(sed -n 's/^rchar: //p' "/proc/$r/io" 2>/dev/null)
		[ "${n:-0}" -lt "$half" ] || break
		sleep 0.05
	done
	kill -TERM "$r"
	touch "$T/more"
	wait "$r" && st=0 || st=$?
	wait "$w" || true
	cat "$T/restore.err"
	[ "$st" -eq 143 ]
	[ "$(cat "$T/restore.err")" = "ckpt: restore -: interrupted by signal 15: nothing was restored" ]
	sleep 0.1
	if kill -0 "$TPID" 2>/dev/null; then
		echo "from a stream: PID $TPID still there"
		kill -KILL "$TPID"
		false
	fi
}

# undone_by SIG: ckpt restore (exit status $st, -vv stderr $T/restore.err)
# was told SIG before it let the process go: it died of it, said the one
# line among its debug lines ("(file.c:N) "), and left no process.
undone_by() {
	local n said
	n=$(kill -l "$1")
	[ "$st" -eq $((128 + n)) ] || { echo "exit $st, not $((128 + n))"; return 1; }
	said=$(grep -Ev "^ckpt: restore $T/img: \([a-z0-9_/.-]+\.c:[0-9]+\) " "$T/restore.err" || true)
	[ "$said" = "ckpt: restore $T/img: interrupted by signal $n: nothing was restored" ] ||
		{ echo "said, besides debug lines: $said"; return 1; }
	sleep 0.1
	if kill -0 "$TPID" 2>/dev/null; then
		echo "PID $TPID is still there"
		kill -KILL "$TPID"
		return 1
	fi
}

# bats test_tags=arch-independent
@test "SIGTERM while a restore copies pages in through userfaultfd: the copy stops, nothing is left" {
	skip_unless_ptrace
	# 256 MiB of page data: the copy takes a good part of a second
	start_target pattern 128
	[ $(( 0x$(grep SigIgn "/proc/$TPID/status" | cut -f2) & (1 << 14) )) -eq 0 ]
	dump_kill
	local r i st phase inside=0 tries=0
	# At a kill point half way through the copy (the signal from one
	# of the copiers, which block every signal: the main thread's).  A
	# process that ran would find go, check itself and end.
	touch "$T/go"
	CKPT_KILLSIG=15 CKPT_KILLPOINT="restore: half the pages copied in" \
		"$CKPT" -vv restore "$T/img" 2>"$T/restore.err" && st=0 || st=$?
	rm "$T/go"
	grep -q "blocks to copy through userfaultfd" "$T/restore.err" ||
		skip "not restored through userfaultfd here"
	undone_by TERM || { cat "$T/restore.err"; false; }
	grep -q "the copy stopped by signal 15" "$T/restore.err"
	! grep -q "blocks copied in" "$T/restore.err" || false
	# From outside, sent when the copy starts: ckpt is stopped there
	# (SIGSTOP), so its -vv lines say which side of the copy's end, and
	# of the last point a signal means undo, it is on; the SIGTERM comes
	# first when it goes on (a pending one is taken as it leaves the
	# stop).  Up to 4 tries, until one lands in the copy.
	while [ "$inside" -eq 0 ] && [ "$tries" -lt 4 ]; do
		tries=$((tries + 1))
		"$CKPT" -vv restore "$T/img" 2>"$T/restore.err" &
		r=$!
		PIDS+=("$r")
		for i in $(seq 12000); do
			[[ "$(<"$T/restore.err")" != *"blocks to copy through userfaultfd"* ]] || break
			kill -0 "$r" 2>/dev/null || break
			sleep 0.01
		done
		kill -STOP "$r"
		if [[ "$(<"$T/restore.err")" == *"letting them go"* ]]; then
			phase=after
		elif [[ "$(<"$T/restore.err")" == *"blocks copied in"* ]]; then
			phase=made
		else
			phase=copy
		fi
		kill -TERM "$r"
		kill -CONT "$r"
		restore_ended "$r" "try $tries ($phase)"
		echo "try $tries: stopped $phase the copy's end, exit $st"
		case $phase in
		copy)
			inside=1
			undone_by TERM || { cat "$T/restore.err"; false; }
			grep -q "the copy stopped by signal 15" "$T/restore.err" ||
				{ cat "$T/restore.err"; false; }
			;;
		made)
			undone_by TERM || { cat "$T/restore.err"; false; }
			;;
		after)
			# the process's now: it died of it, or ckpt undid all
			[ "$st" -eq 143 ]
			sleep 0.1
			! kill -0 "$TPID" 2>/dev/null || { kill -KILL "$TPID"; false; }
			;;
		esac
	done
	echo "$tries tries, the signal in the copy: $inside"
}

# The tests' own reap (test_helper.bash): bounded, so that a test whose
# dump --kill failed does not wait for good for a target that runs on.
# bats test_tags=arch-independent
@test "reap: a target a failed dump --kill left running is killed by PID within REAP_S, and reap fails" {
	skip_unless_ptrace
	local st
	start_target counter
	run "$CKPT" dump "$TPID" -o "$T/nodir/img" --kill
	[ "$status" -eq 1 ]
	kill -0 "$TPID"
	REAP_S=2 reap "$TPID" 2>"$T/reap.err" && st=0 || st=$?
	cat "$T/reap.err"
	[ "$st" -eq 1 ]
	grep -qx "reap: PID $TPID still runs after 2 s (was it killed?): killed now" "$T/reap.err"
	# (bounded itself: teardown kills it by PID if reap did not)
	wait_for 30 not_running "$TPID"
}

@test "restore under a descriptor limit below the process's fds: the stub's failure names the fd and the limit" {
	skip_unless_ptrace
	start_target fd_high 1000 "$T/file"
	dump_kill
	touch "$T/go"
	run timeout 120 bash -c 'ulimit -n 64 && ulimit -Hn 64 && exec "$@"' - "$CKPT" restore "$T/img"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "ckpt: restore $T/img: the restore stub did not start: fd 1000: "*"(ulimit -Hn 64): Too many open files" ]]
	# and under no lower limit than the process had, it is restored
	run timeout 120 "$CKPT" restore "$T/img"
	echo "$output"
	cat "$T/err"
	[ "$status" -eq 0 ]
}
