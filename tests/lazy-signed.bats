#!/usr/bin/env bats
# Root's signed images through userfaultfd (docs/image-format.md 5.29):
# MAC_ALL is checked over the DIGESTS table, not over the page data, and
# each block against its signed digest before a page of it reaches the
# process; a block that is not what was signed stops the job, by name.
# --lazy: the process runs at once.  Eager (the default): the blocks are
# checked as they are copied in, and the process runs only once every one
# of them passed: one that fails kills it before it ever ran.
#
# Arch-independent (the MAC and digest checks are C; lazy.bats runs the
# userfaultfd fill in the guest): the host runs it; the arm64 guest leaves
# this file out (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

skip_unless_uffd() {
	"$CKPT" check | grep -q "^userfaultfd restore *ok" || skip "no userfaultfd restore here"
}

need_signed() {
	skip_unless_root
	skip_unless_ptrace
	skip_unless_uffd
}

# The u32 at byte offset $2 of image $1's header (8: version, 24: flags).
header_u32() {
	od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' '
}

# The process restore kept the PID of must be gone (killed, reaped).
gone() {
	local i
	for i in $(seq 100); do
		[ -d "/proc/$1" ] && [ "$(proc_state "$1")" != Z ] || return 0
		sleep 0.05
	done
	echo "process $1 still there"
	kill -KILL "$1"
	return 1
}

# lazy_ok [OPTS]: restore --lazy (or as OPTS say) of $T/img checks its MAC
# over the digest table (ckpt -vv says so) and the restored target checks
# out: every page of its memory holds what it wrote there.
lazy_ok() {
	touch "$T/go"
	run --separate-stderr timeout 120 "$CKPT" -vv restore "${@---lazy}" "$T/img"
	echo "status $status"
	grep -E "digest|blocks to copy|every page" <<<"$stderr" || true
	cat "$T/err"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"image MAC checked over its digest table ("*" entries): each block is checked as it is read"* ]]
	[ -z "$(grep -E 'is wrong|FAIL' "$T/err")" ]
}

# refused_block WHAT [OPTS]: restore --lazy (or as OPTS say) of $T/img
# fails with the one line naming a block of WHAT ("image", or "parent
# image \"P\"") that is not what was signed; the process never got a page
# of it and is gone.
refused_block() {
	local what=$1
	shift
	run --separate-stderr timeout 120 "$CKPT" restore "${@---lazy}" "$T/img"
	echo "status $status, stderr: $stderr"
	cat "$T/err"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" =~ ^"ckpt: restore $T/img: $what was changed after it was signed: "(aligned\ )?"page data section at offset "[0-9]+" (memory 0x"[0-9a-f]+-0x[0-9a-f]+") does not match its signed digest; the process was killed before it could use those pages"$ ]]
	# it never saw the forged page, and it does not run on
	[ -z "$(grep -E 'is wrong|FAIL' "$T/err")" ]
	gone "$TPID"
}

@test "lazy, signed: a page block forged with its checksums kept is refused by name; the process never gets it" {
	# Before (main at 1666da3): the whole image was hashed for MAC_ALL
	# before the process ran, and the restore was refused with "image
	# does not match its MAC as a whole" (the process never ran at all).
	need_signed
	start_target lazy 32 4
	dump_kill --compress none
	run "$CKPT" verify "$T/img"
	[[ "$output" == *"; signed by this machine's key)" ]]
	# format 4 (3 and later: each block signed with Poly1305-AES,
	# image-format.md 5.29)
	[ "$(header_u32 "$T/img" 8)" = 4 ]
	[ $(( $(header_u32 "$T/img" 24) & 7 )) = 7 ]
	# the last bytes of the largest block, the 4 before them chosen so
	# that its CRC32C stays as it was: only its digest tells
	local crc0 crc1
	crc0=$("$CKPT_TARGETS/imgtool" sections "$T/img" | md5sum)
	"$CKPT_TARGETS/imgtool" set "$T/img" pagedata=forge
	crc1=$("$CKPT_TARGETS/imgtool" sections "$T/img" | md5sum)
	[ "$crc0" = "$crc1" ]
	touch "$T/go"
	refused_block "image"
	# eager: the same block refused by the copier that checks it (before
	# main at c0e08e8, the whole image was hashed first and the restore
	# refused with "image does not match its MAC as a whole"); the
	# half-made process never ran
	refused_block "image" --no-lazy
	run --separate-stderr "$CKPT" verify "$T/img"
	[ "$status" -eq 1 ]
}

@test "eager, signed: the MAC over the digest table, each block checked as it is copied in; the process checks out" {
	need_signed
	start_target lazy 32 4
	dump_kill --compress none
	lazy_ok --no-lazy
	[[ "$stderr" == *"restore: "*" blocks copied in "* ]]
}

@test "eager, signed: one byte of a page block changed, its checksums not made again: refused by name, no process left" {
	need_signed
	start_target lazy 32 4
	dump_kill --compress none
	# a byte in the middle of the largest page data section
	local off size
	read -r off size < <("$CKPT_TARGETS/imgtool" sections "$T/img" |
			      awk '($2 == 16 || $2 == 40) && $4 > max { max = $4; o = $1; s = $4 } END { print o, s }')
	"$CKPT_TARGETS/imgtool" flip "$T/img" $(( (off + 24 + size / 2) * 8 ))
	touch "$T/go"
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img"
	echo "status $status, stderr: $stderr"
	cat "$T/err"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" =~ ^"ckpt: restore $T/img: image is corrupted: "(aligned\ )?"page data section at offset $off: checksum mismatch"$ ]]
	[ -z "$(grep -E 'is wrong|FAIL' "$T/err")" ]
	gone "$TPID"
}

@test "lazy, signed: an image signed as format 2 did (SHA-256 digests) still restores; a block of it forged is refused" {
	# Format 2's signed images (root's dumps before 2026-12-07) carry a
	# SHA-256 per block: sign_format2 re-signs an image as format 2 did
	# (the writer's format-2 signing checked against main's at c0e08e8:
	# a stopped process dumped by both gives the same sections in the
	# same order, and main's verify says this one is signed by this
	# machine's key, as ours says of main's).  ckpt itself writes only
	# the newest format (4), whatever its environment says: CKPT_SIGN_V2, the test
	# hook that once made it write format 2, does nothing now.
	need_signed
	start_target lazy 32 4
	CKPT_SIGN_V2=1 dump_kill --compress none
	[ "$(header_u32 "$T/img" 8)" = 4 ]
	[ $(( $(header_u32 "$T/img" 24) & 7 )) = 7 ]
	"$CKPT_TARGETS/sign_format2" "$T/img"
	[ "$(header_u32 "$T/img" 8)" = 2 ]
	[ $(( $(header_u32 "$T/img" 24) & 7 )) = 3 ]
	run "$CKPT" verify "$T/img"
	[[ "$output" == *"; signed by this machine's key)" ]]
	cp "$T/img" "$T/img.good"
	"$CKPT_TARGETS/imgtool" set "$T/img" pagedata=forge
	touch "$T/go"
	refused_block "image"
	# eager: each block checked against its digest as it is copied in
	# (restorefast), nothing run
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img"
	echo "eager: status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore $T/img: image was changed after it was signed: "* ]]
	gone "$TPID"
	run --separate-stderr "$CKPT" verify "$T/img"
	[ "$status" -eq 1 ]
	# the image as signed: restored lazily, every block checked
	mv "$T/img.good" "$T/img"
	: >"$T/err"
	lazy_ok
}

@test "lazy, signed: the image MAC is checked over the digest table and the process checks out" {
	need_signed
	start_target lazy 32 4
	dump_kill
	lazy_ok
}

@test "lazy, signed: an image written to a pipe carries the table too; a changed table is refused before the process runs" {
	need_signed
	start_target lazy 32 4
	run bash -c '"$0" dump "$1" -o - --kill >"$2"' "$CKPT" "$TPID" "$T/img"
	[ "$status" -eq 0 ]
	reap "$TPID"
	lazy_ok
	# one byte of the table's last digest changed, its CRC made again:
	# MAC_ALL no longer holds, refused before anything runs
	"$CKPT_TARGETS/imgtool" set "$T/img" digests=flip
	run --separate-stderr timeout 120 "$CKPT" restore --lazy "$T/img"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: restore $T/img: image does not match its MAC as a whole (signed by this machine's key, but changed since): its page data was changed after it was signed" ]
	gone "$TPID"
}

@test "lazy, signed, incremental: each parent's MAC over its table; a parent's block forged with its checksums kept is refused by name" {
	# Before: a signed image with a parent was read whole, and every
	# parent too, before the process ran (no table: no way around it).
	need_signed
	start_target lazy 32 4
	run "$CKPT" dump "$TPID" -o "$T/base" --track --compress none
	[ "$status" -eq 0 ] || skip "dump --track: $output"
	dump_kill --parent "$T/base" --compress none
	lazy_ok
	# the pages are the parent's: a block of it forged, its CRC kept
	"$CKPT_TARGETS/imgtool" set "$T/base" pagedata=forge
	: >"$T/err"
	refused_block "parent image \"$T/base\""
	refused_block "parent image \"$T/base\"" --no-lazy
}

# Lazily, the newest image is indexed from its digest table (restore/lazy.c
# index_table): no section header of the page data is read before the
# process runs.  Each block's header in the file is still checked (against
# its entry, whose CRC was checked) before a page of it is used, signed or
# --trust, as the walk of the sections checked it before.
@test "lazy: indexed from the digest table; a block whose section header is damaged is refused by name" {
	need_signed
	start_target lazy 32 4
	dump_kill --compress none
	touch "$T/go"
	run --separate-stderr timeout 120 "$CKPT" -vv restore --lazy "$T/img"
	echo "status $status"
	grep -E "digest|blocks to copy" <<<"$stderr" || true
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"lazy restore: "*" blocks to copy through userfaultfd, indexed in "*" ms of CPU) (from its digest table)"* ]]
	# the CRC of the header of the middle page data section, its payload
	# as it was: only the header says it is damaged
	local secs off
	secs=$("$CKPT_TARGETS/imgtool" sections "$T/img" | awk '$2 == 16 || $2 == 40 { print $1 }')
	off=$(sed -n "$(( $(wc -l <<<"$secs") / 2 ))p" <<<"$secs")
	"$CKPT_TARGETS/imgtool" flip "$T/img" $(( (off + 20) * 8 ))
	local trust
	for trust in "" --trust; do
		: >"$T/err"
		touch "$T/go"
		run --separate-stderr timeout 120 "$CKPT" restore --lazy $trust "$T/img"
		echo "$trust: status $status, stderr: $stderr"
		cat "$T/err"
		[ "$status" -eq 1 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		# signed: a block not as signed; --trust: damage
		if [ -z "$trust" ]; then
			[[ "$stderr" =~ ^"ckpt: restore $T/img: image was changed after it was signed: "(aligned\ )?"page data section at offset $off (memory 0x"[0-9a-f]+-0x[0-9a-f]+") does not match its signed digest; the process was killed before it could use those pages"$ ]]
		else
			[[ "$stderr" =~ ^"ckpt: restore $T/img: image is corrupted: "(aligned\ )?"page data section at offset $off is not what the digest table says"$ ]]
		fi
		[ -z "$(grep -E 'is wrong|FAIL' "$T/err")" ]
		gone "$TPID"
	done
}

# The table is found from the end of the file: an image with a byte after
# its END is not laid out as the writer lays it out, and is walked as
# before, which names what is wrong; nothing runs.
@test "lazy: an image with data after its end is walked, refused with one line, and nothing runs" {
	need_signed
	start_target lazy 32 4
	dump_kill --compress none
	local size
	size=$(stat -c %s "$T/img")
	printf 'x' >>"$T/img"
	touch "$T/go"
	local trust
	for trust in "" --trust; do
		run --separate-stderr timeout 120 "$CKPT" restore --lazy $trust "$T/img"
		echo "$trust: status $status, stderr: $stderr"
		[ "$status" -eq 1 ]
		[ "$stderr" = "ckpt: restore $T/img: image is corrupted: data after the end section at offset $size" ]
		gone "$TPID"
	done
}

@test "signed: every signing write draws its own nonce, and so its own block keys" {
	# Poly1305-AES's masks are one-time pads per (image key, block index):
	# an image signed again (ckpt sign of an edited copy) with the same
	# nonce would give out a second tag set under the same masks.
	need_signed
	start_target lazy 32 4
	dump_kill --compress none
	local n1 n2
	n1=$(od -An -tx1 -j 216 -N 16 "$T/img" | tr -d ' \n')
	"$CKPT" sign "$T/img"
	n2=$(od -An -tx1 -j 216 -N 16 "$T/img" | tr -d ' \n')
	echo "nonce $n1, signed again $n2"
	[ "$n1" != 00000000000000000000000000000000 ]
	[ "$n2" != 00000000000000000000000000000000 ]
	[ "$n1" != "$n2" ]
	run "$CKPT" verify "$T/img"
	[[ "$output" == *"; signed by this machine's key)" ]]
	lazy_ok
}
