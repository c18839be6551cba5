#!/usr/bin/env bats
# Memory exclusion and what is stored by reference.
#
# Arch-independent (which pages dump leaves out (smaps flags, ranges) is the
# same C on both): the host runs it; the arm64 guest leaves this file out
# (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

@test "MADV_DONTDUMP and --exclude regions are not saved and come back as zeros" {
	skip_unless_ptrace
	start_target exclude
	range=$(sed -n 's/^exclude //p' "$T/out")
	[ -n "$range" ]
	"$CKPT" dump "$TPID" -o "$T/full.img" --compress none
	dump_kill --compress none --exclude "$range"
	full=$(stat -c %s "$T/full.img")
	part=$(stat -c %s "$T/img")
	echo "with DONTDUMP only: $full, also --exclude: $part"
	# the excluded 4 MiB are gone from the image
	[ $(( full - part )) -ge $(( 4 << 20 )) ]
	restore_go
	[ "$status" -eq 0 ]
}

@test "a plain dump keeps no disk space past its image: the room allocated before VmFlags are known (MADV_DONTDUMP and --exclude memory included) is given back" {
	skip_unless_ptrace
	start_target exclude
	range=$(sed -n 's/^exclude //p' "$T/out")
	[ -n "$range" ]
	# (the room is allocated before smaps's VmFlags say what is left
	# out: here 4 MiB under MADV_DONTDUMP and 4 MiB --exclude'd)
	run "$CKPT" -vv dump "$TPID" -o "$T/img" --compress none --no-fork --exclude "$range"
	echo "$output"
	[ "$status" -eq 0 ]
	size=$(stat -c %s "$T/img")
	used=$(( $(stat -c %b "$T/img") * $(stat -c %B "$T/img") ))
	echo "image $size bytes, $used allocated"
	[ "$used" -le $(( size + (1 << 20) )) ]
	kill "$TPID"
	reap "$TPID"
}

@test "without --exclude the user region keeps its data (the target can tell)" {
	skip_unless_ptrace
	start_target exclude
	dump_kill
	restore_go
	# the target expects zeros there: it must notice the data
	[ "$status" -eq 1 ]
	grep -q -- "--exclude region is not zero-filled" "$T/err"
}

@test "--exclude-mapping leaves out a mapping by name" {
	skip_unless_ptrace
	start_target exclude dontdump-only
	"$CKPT" dump "$TPID" -o "$T/a.img" --compress none
	"$CKPT" dump "$TPID" -o "$T/b.img" --compress none --exclude-mapping '[heap]'
	[ "$(stat -c %s "$T/b.img")" -lt "$(stat -c %s "$T/a.img")" ]
}

@test "unmodified pages of private file mappings are not stored" {
	skip_unless_ptrace
	start_target counter
	run "$CKPT" dump "$TPID" -o "$T/img" --compress none
	[ "$status" -eq 0 ]
	libc=$(awk '/libc.so/ && $2 ~ /^r.x/ {split($1, r, "-"); print r[1], r[2]; exit}' /proc/$TPID/maps)
	# A static program (all of the arm64 guest's are) has libc in its own text.
	[ -n "$libc" ] || libc=$(awk -v exe="$(readlink /proc/$TPID/exe)" \
		'$6 == exe && $2 ~ /^r.x/ {split($1, r, "-"); print r[1], r[2]; exit}' /proc/$TPID/maps)
	[ -n "$libc" ]
	# the whole image is smaller than libc's text alone
	set -- $libc
	text=$(( 0x$2 - 0x$1 ))
	echo "image $(stat -c %s "$T/img"), libc text $text"
	[ "$(stat -c %s "$T/img")" -lt "$text" ]
}

@test "--exclude with a bad range is a usage error" {
	run "$CKPT" dump 1 --exclude 1000
	[ "$status" -eq 2 ]
	run "$CKPT" dump 1 --exclude 2000-1000
	[ "$status" -eq 2 ]
}
