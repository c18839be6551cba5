#!/usr/bin/env bats
# ckpt verify: an intact image passes with one line on stdout; a damaged
# one fails with exit 1 and one line on stderr saying what is wrong.
#
# Arch-independent (ckpt verify's checks and messages: the image reader, the
# same C on both): the host runs it; the arm64 guest leaves this file out
# (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# The image of a running counter (left running) in $T/img.
dump_counter() {
	start_target counter
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
}

# section_offset FILE TYPE [N]: offset of the Nth (from 0) section of TYPE
# (image/format.h: a 256-byte header, then 24-byte section headers
# { u32 type, u32 proc, u64 size, ... } each followed by size bytes).
section_offset() {
	python3 - "$@" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
want, n, off = int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0, 256
while off + 24 <= len(data):
    typ, proc, size = struct.unpack_from("<IIQ", data, off)
    if typ == want:
        if n == 0:
            print(off)
            sys.exit(0)
        n -= 1
    off += 24 + size
sys.exit(1)
PY
}

# flip FILE OFFSET: invert one byte.
flip() {
	python3 - "$1" "$2" <<'PY'
import sys
f = open(sys.argv[1], "r+b")
off = int(sys.argv[2])
f.seek(off)
b = f.read(1)[0]
f.seek(off)
f.write(bytes([b ^ 0xff]))
PY
}

# patch FILE TYPE N AT FMT VALUE: in the Nth section of TYPE, overwrite the
# payload at byte AT with VALUE packed as struct FMT, and make both CRC32Cs
# right again, so that only ckpt's structure checks can object.
patch() {
	python3 - "$@" <<'PY'
import struct, sys
path, want, n, at, fmt, value = sys.argv[1:]
want, n, at, value = int(want), int(n), int(at), int(value, 0)
table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    table.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = (c >> 8) ^ table[(c ^ x) & 0xFF]
    return c ^ 0xFFFFFFFF
data = bytearray(open(path, "rb").read())
off = 256
while True:
    typ, proc, size = struct.unpack_from("<IIQ", data, off)
    if typ == want:
        if n == 0:
            break
        n -= 1
    off += 24 + size
struct.pack_into("<" + fmt, data, off + 24 + at, value)
struct.pack_into("<I", data, off + 16, crc32c(data[off + 24:off + 24 + size]))
struct.pack_into("<I", data, off + 20, crc32c(data[off:off + 20]))
open(path, "wb").write(data)
PY
}

# expect_bad FILE MESSAGE: verify fails with exactly one line, which
# contains MESSAGE.
expect_bad() {
	run --separate-stderr "$CKPT" verify "$1"
	echo "status $status, stdout: $output, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == "ckpt: verify $1: "*"$2"* ]]
}

@test "verify: an intact image, from a file and from stdin" {
	skip_unless_ptrace
	dump_counter
	run --separate-stderr "$CKPT" verify "$T/img"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" =~ ^"$T/img: ok ("[0-9]+" sections, "[0-9]+" pages; signed by this machine's key)"$ ]]
	want=${output#"$T/img"}
	run --separate-stderr "$CKPT" verify - <"$T/img"
	[ "$status" -eq 0 ]
	[ "$output" = "-$want" ]
	run bash -c 'cat "$1" | "$2" verify -' _ "$T/img" "$CKPT"
	[ "$status" -eq 0 ]
}

@test "verify: an incremental image and its parent" {
	skip_unless_ptrace
	"$CKPT" help dump | grep -q -- --parent || skip "dump has no --parent"
	start_target counter
	run "$CKPT" dump "$TPID" -o "$T/base" --track
	[ "$status" -eq 0 ] || skip "dump --track: $output"
	run "$CKPT" dump "$TPID" -o "$T/inc" --parent "$T/base"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$CKPT" verify "$T/base"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$CKPT" verify "$T/inc"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^"$T/inc: ok ("[0-9]+" sections, "[0-9]+" pages, "[0-9]+" in the parent image; signed by this machine's key)"$ ]]
}

@test "verify: a flipped byte in page data is found" {
	command -v python3 >/dev/null || skip "needs python3 (the arm64 guest has none)"
	skip_unless_ptrace
	dump_counter
	off=$(section_offset "$T/img" 16 1)
	flip "$T/img" $((off + 24 + 16))	# the first byte of its data
	expect_bad "$T/img" "image is corrupted: page data section at offset $off: checksum mismatch"
}

@test "verify: a flipped byte in metadata, a section header and the header" {
	command -v python3 >/dev/null || skip "needs python3 (the arm64 guest has none)"
	skip_unless_ptrace
	dump_counter
	cp "$T/img" "$T/a"
	off=$(section_offset "$T/a" 4 2)
	flip "$T/a" $((off + 24 + 3))
	expect_bad "$T/a" "image is corrupted: mapping section at offset $off: checksum mismatch"
	cp "$T/img" "$T/b"
	off=$(section_offset "$T/b" 3)
	flip "$T/b" $((off + 8))
	expect_bad "$T/b" "image is corrupted: bad section header at offset $off"
	cp "$T/img" "$T/c"
	flip "$T/c" 100
	expect_bad "$T/c" "image header is corrupted"
}

@test "verify: page data that does not fit the metadata, behind good checksums" {
	command -v python3 >/dev/null || skip "needs python3 (the arm64 guest has none)"
	skip_unless_ptrace
	dump_counter
	off=$(section_offset "$T/img" 16)
	cp "$T/img" "$T/a"
	patch "$T/a" 16 0 0 Q 0x1000		# ckpt_pages.addr: below every mapping
	expect_bad "$T/a" "page data at offset $off (0x1000, "
	cp "$T/img" "$T/b"
	patch "$T/b" 16 0 12 H 9		# ckpt_pages.codec
	expect_bad "$T/b" "page data at offset $off has unknown codec 9"
	cp "$T/img" "$T/c"
	patch "$T/c" 16 0 14 H 1		# ckpt_pages.flags: IN_PARENT, but no parent
	expect_bad "$T/c" "page data at offset $off is in the parent image but has"
	cp "$T/img" "$T/d"
	patch "$T/d" 255 0 16 Q 12345		# ckpt_end.raw_bytes
	expect_bad "$T/d" "end section says 12345 bytes for"
}

# expect_both_refuse FILE MESSAGE: verify and restore (from the file, and
# for a full image from a stream) each fail with one line containing
# MESSAGE, the same after the command's prefix; restore makes nothing
# (the original, $TPID, is gone: its PID would come back).
expect_both_refuse() {
	local v
	expect_bad "$1" "$2"
	v=${stderr#"ckpt: verify $1: "}
	run --separate-stderr timeout 120 "$CKPT" restore "$1"
	echo "restore: status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "ckpt: restore $1: $v" ]
	! kill -0 "$TPID" 2>/dev/null || false
}

@test "verify and restore agree: unknown page flags or codec, a wrong END byte count, behind good checksums" {
	command -v python3 >/dev/null || skip "needs python3 (the arm64 guest has none)"
	skip_unless_ptrace
	start_target counter
	dump_kill
	off=$(section_offset "$T/img" 16)
	cp "$T/img" "$T/a"
	patch "$T/a" 16 0 14 H 2		# ckpt_pages.flags: a flag no ckpt knows
	expect_both_refuse "$T/a" "page data at offset $off has unknown flags 0x2"
	cp "$T/img" "$T/b"
	patch "$T/b" 16 0 12 H 9		# ckpt_pages.codec
	expect_both_refuse "$T/b" "page data at offset $off has unknown codec 9"
	cp "$T/img" "$T/c"
	patch "$T/c" 255 0 16 Q 12345		# ckpt_end.raw_bytes
	expect_both_refuse "$T/c" "end section says 12345 bytes for"
}

# A counter dumped with --track into base, then --parent base into inc,
# and killed.
dump_chain() {
	"$CKPT" help dump | grep -q -- --parent || skip "dump has no --parent"
	start_target counter
	run "$CKPT" dump "$TPID" -o "$T/base" --track
	[ "$status" -eq 0 ] || skip "dump --track: $output"
	run "$CKPT" dump "$TPID" -o "$T/inc" --parent "$T/base" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
}

@test "verify and restore agree: an incremental image whose parent is damaged, one line naming the parent" {
	command -v python3 >/dev/null || skip "needs python3 (the arm64 guest has none)"
	skip_unless_ptrace
	dump_chain
	cp "$T/base" "$T/base.good"
	off=$(section_offset "$T/base" 16)
	flip "$T/base" $((off + 24 + 16))
	expect_both_refuse "$T/inc" "parent image \"$T/base\": image is corrupted: page data section at offset $off: checksum mismatch"
	cp "$T/base.good" "$T/base"
	patch "$T/base" 16 0 14 H 2
	expect_both_refuse "$T/inc" "parent image \"$T/base\": image is corrupted: page data at offset $off has unknown flags 0x2"
	# through userfaultfd (lazy.c indexes the parent): the same line (it
	# once lacked the parent's name, and freed the parent's reader twice)
	if "$CKPT" check | grep -q "^userfaultfd restore *ok"; then
		run --separate-stderr timeout 120 "$CKPT" restore --lazy "$T/inc"
		echo "restore --lazy: status $status, stderr: $stderr"
		[ "$status" -eq 1 ]
		[ "$stderr" = "ckpt: restore $T/inc: parent image \"$T/base\": image is corrupted: page data at offset $off has unknown flags 0x2" ]
	fi
	cp "$T/base.good" "$T/base"
	flip "$T/base" 100			# its header
	expect_both_refuse "$T/inc" "parent image \"$T/base\": image header is corrupted: checksum mismatch"
	cp "$T/base.good" "$T/base"
	run "$CKPT" verify "$T/inc"
	[ "$status" -eq 0 ]
}

@test "restore: what a descriptor gets is said only when the restore goes ahead" {
	skip_unless_ptrace
	# stdin a pipe from a process outside the image (the test's child):
	# restore gives it its own fd 0, and says so
	local held
	exec {held}< <(exec sleep 600)
	PIDS+=("$!")
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && [ "$fd" != "$held" ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		eval "exec \"\$CKPT_TARGETS/mem_filepriv\" \"\$T\" <&$held $held<&- >\"\$T/out\" 2>\"\$T/err\""
	) &
	TPID=$!
	PIDS+=("$TPID")
	exec {held}<&-
	wait_file "$T/ready"
	dump_kill
	# Away and back: a rename keeps the file's mtime.
	mv "$T/filepriv.dat" "$T/saved"
	touch "$T/go"
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"mapped file \"$T/filepriv.dat\" cannot be opened"* ]]
	mv "$T/saved" "$T/filepriv.dat"
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img" </dev/null
	echo "status $status, stderr: $stderr"
	cat "$T/err"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"fd 0 (pipe:["*"], the read end of a pipe shared with sleep (PID "*"), outside the image) led outside the image: it gets ckpt restore's own fd 0"* ]]
}

@test "verify: truncated, extended, not an image" {
	command -v python3 >/dev/null || skip "needs python3 (the arm64 guest has none)"
	skip_unless_ptrace
	dump_counter
	head -c -1 "$T/img" >"$T/short"
	expect_bad "$T/short" "image is truncated"
	off=$(section_offset "$T/img" 255)
	head -c "$off" "$T/img" >"$T/noend"
	expect_bad "$T/noend" "image is truncated: section expected at offset $off"
	cp "$T/img" "$T/long"
	printf 'x' >>"$T/long"
	expect_bad "$T/long" "data after the end section"
	printf 'hello\n' >"$T/text"
	expect_bad "$T/text" "not a checkpoint image"
	expect_bad "$T/missing" "cannot open image"
}

@test "verify: usage errors exit 2" {
	run "$CKPT" verify
	[ "$status" -eq 2 ]
	run "$CKPT" verify a b
	[ "$status" -eq 2 ]
}
