#!/usr/bin/env bats
# The image: codecs, parallel compression, streaming.
#
# Arch-independent (codecs, compression threads and streaming: the same C and
# libraries on both): the host runs it; the arm64 guest leaves this file out
# (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# stopped PID: PID is in a stop (state T).
stopped() {
	[ "$(awk '{print $3}' "/proc/$1/stat")" = T ]
}

@test "every codec round-trips text-like, random and zero pages" {
	skip_unless_ptrace
	for c in none zlib zstd lz4 zstd:3 lz4:8 zlib:6 auto; do
		rm -f "$T/ready" "$T/go"
		start_target pattern 4
		dump_kill --compress "$c"
		restore_go
		[ "$status" -eq 0 ] || { echo "codec $c failed"; false; }
	done
}

@test "compression shrinks text-like data and stores random data raw" {
	skip_unless_ptrace
	start_target pattern 8
	"$CKPT" dump "$TPID" -o "$T/none.img" --compress none
	"$CKPT" dump "$TPID" -o "$T/lz4.img" --compress lz4
	none=$(stat -c %s "$T/none.img")
	lz4=$(stat -c %s "$T/lz4.img")
	echo "none $none lz4 $lz4"
	# 8 MiB of text shrinks by more than half; 8 MiB of random bytes
	# cannot shrink at all
	[ "$lz4" -lt $(( none - (4 << 20) )) ]
	[ "$lz4" -gt $(( 8 << 20 )) ]
}

# lz4_bytes IMG: bytes of page data IMG stores lz4-compressed (before
# compression), from ckpt inspect's "lz4 N blocks, RAW bytes raw, ..." line.
lz4_bytes() {
	"$CKPT" inspect "$1" | awk '$1 == "lz4" && $3 == "blocks," { n = $4 } END { print n + 0 }'
}

# slow_reader IMG: stdin appended to IMG 64 KiB at a time, 5 ms apart: a
# few MB/s (one read(2) at a time: busybox head -c reads ahead and drops it).
slow_reader() {
	while :; do
		dd bs=65536 count=1 of="$T/chunk" 2>/dev/null
		[ -s "$T/chunk" ] || break
		cat "$T/chunk" >>"$1"
		sleep 0.005
	done
}

@test "--compress auto compresses the blocks a slow writer waits for" {
	skip_unless_ptrace
	# 16 MiB of random data, then 16 MiB of text (mappings are written in
	# address order, and the target maps the text last)
	start_target pattern 16
	# read a few MB/s: the writer waits, so compressing costs nothing
	"$CKPT" dump "$TPID" -o - --kill --no-fork --compress auto | slow_reader "$T/img"
	# (a failed dump leaves the target running: reap would wait for good)
	[ "${PIPESTATUS[0]}" -eq 0 ]
	reap "$TPID"
	lz=$(lz4_bytes "$T/img")
	echo "of 16 MiB of text, $lz bytes compressed"
	# most of the text: the random data before it (in the same mapping:
	# the kernel merges them) stops compression, but for a sample of every
	# other block, which finds the text within 2 MiB
	[ "$lz" -ge $(( 12 << 20 )) ]
	restore_go
	[ "$status" -eq 0 ]
}

@test "--compress auto: a forked dump to a fast file is written raw by none's path (its writer is SCHED_IDLE)" {
	skip_unless_ptrace
	command -v chrt >/dev/null || skip "no chrt (util-linux)"
	start_target pattern 16
	# ckpt runs as SCHED_IDLE, as a forked dump writes for its first 3 s
	# (dump/dump.c): no class is left below the writer for the
	# compressors, which would share its CPU as equals (a forked 1 GiB
	# dump to a file took 1.5-1.6x none's time).  To a regular file: no
	# compressor, every block raw, each written by the worker that read it.
	chrt --idle 0 "$CKPT" -v dump "$TPID" -o "$T/img" --kill --no-fork --compress auto 2>"$T/log" ||
		{ cat "$T/log"; kill -KILL "$TPID"; reap "$TPID"; false; }
	reap "$TPID"
	grep 'page data:' "$T/log"
	grep -q 'page data: .* written in place by the thread that read it' "$T/log"
	lz=$(lz4_bytes "$T/img")
	echo "$lz bytes compressed"
	[ "$lz" -eq 0 ]
	restore_go
	[ "$status" -eq 0 ]
}

@test "--compress auto: a default (forked) dump to a slow pipe is compressed" {
	skip_unless_ptrace
	start_target pattern 16
	# `ckpt dump PID -o - | ssh ...`: the forked dump writes as SCHED_IDLE
	# (the test above), but on a pipe its writer sleeps in write(2) while
	# the reader takes the data, and the compressors use that time.
	"$CKPT" -v dump "$TPID" -o - 2>"$T/log" | slow_reader "$T/img"
	st=${PIPESTATUS[0]}
	kill -9 "$TPID"
	reap "$TPID"
	grep 'forked copy\|--compress auto' "$T/log" || true
	[ "$st" -eq 0 ]
	grep -q 'memory is read from a forked copy' "$T/log"
	lz=$(lz4_bytes "$T/img")
	echo "of 16 MiB of text, $lz bytes compressed"
	# most of it (the test "... a slow writer waits for" says why not all)
	[ "$lz" -ge $(( 12 << 20 )) ]
	restore_go
	[ "$status" -eq 0 ]
}

@test "--compress auto: a default (forked) dump to a file whose disk is behind is compressed" {
	skip_unless_ptrace
	command -v cc >/dev/null || skip "no cc (the slow disk is an LD_PRELOAD built here)"
	ldd "$CKPT" >/dev/null 2>&1 || skip "ckpt is linked statically: no LD_PRELOAD"
	cc -O2 -shared -fPIC -o "$T/slowdisk.so" "$BATS_TEST_DIRNAME/preload/slowdisk.c" -ldl
	# 48 MiB of random data, then 48 MiB of text
	start_target pattern 48
	# A disk that stays 40 MiB behind the writing under a forked dump,
	# which waits for it as it writes (write-behind): the workers get
	# ahead of it by more than 32 MiB, and compress what they read from
	# then on (dump/pagepack.c pagepack_direct), text only (random data
	# does not shrink).  The lag is in bytes, not seconds: the test does
	# not depend on the CPU the SCHED_IDLE workers get (slowdisk.c).
	# -j 2: the disk holds up the worker that waits for it; another
	# writes on meanwhile, whatever the machine's CPU count.  Main's
	# ckpt wrote every block raw: 0 bytes compressed.
	SLOWDISK_LAG_MIB=40 LD_PRELOAD="$T/slowdisk.so" "$CKPT" -v dump "$TPID" -o "$T/img" -j 2 \
		2>"$T/log" && st=0 || st=$?
	kill -9 "$TPID"
	reap "$TPID"
	grep 'forked copy\|--compress auto\|page data:\|slowdisk' "$T/log" || true
	[ "$st" -eq 0 ] || { cat "$T/log"; false; }
	grep -q 'memory is read from a forked copy' "$T/log"
	grep -q 'page data: .* written in place by the thread that read it' "$T/log"
	lz=$(lz4_bytes "$T/img")
	echo "of 48 MiB of text, $lz bytes compressed"
	[ "$lz" -ge $(( 24 << 20 )) ]
	"$CKPT" verify "$T/img"
	restore_go
	[ "$status" -eq 0 ]
}

@test "--compress auto stores raw what the compressor cannot keep up with" {
	skip_unless_ptrace
	[ -d /dev/shm ] || skip "no /dev/shm (tmpfs)"
	start_target pattern 16
	# The writer puts a MiB into tmpfs in a fraction of the time the one
	# worker (-j 1) takes to compress it: compressing would make it wait.
	shm=$(mktemp -d /dev/shm/ckpt-test.XXXXXX)
	run "$CKPT" dump "$TPID" -o "$shm/img" --kill --no-fork --compress auto -j 1
	echo "$output"
	# a failed dump leaves it running
	[ "$status" -eq 0 ] || kill -KILL "$TPID"
	reap "$TPID"
	mv "$shm/img" "$T/img"
	rmdir "$shm"
	[ "$status" -eq 0 ]
	lz=$(lz4_bytes "$T/img")
	echo "of 16 MiB of text, $lz bytes compressed"
	# Some blocks may be, when the writer lost its CPU for a while (a
	# busy machine: a descheduled writer looks slow); a policy that
	# compresses whatever the writer does stores all 16 MiB compressed.
	[ "$lz" -le $(( 12 << 20 )) ]
	restore_go
	[ "$status" -eq 0 ]
}

@test "--compress auto: a writer in bursts writes whole blocks, raw and compressed" {
	skip_unless_ptrace
	start_target pattern 16
	# A reader in bursts: while it sleeps the compressor packs the blocks
	# waiting in the ring; then it takes 4 MiB at once, and the writer
	# reaches blocks the compressor has not finished (or not reached):
	# those it writes raw at once (-v: "reached by the writer first",
	# when the timing has it), the compressor's half-done form left.
	"$CKPT" -v dump "$TPID" -o - --kill --no-fork --compress auto -j 1 2>"$T/log" | {
		while :; do
			dd bs=65536 count=64 iflag=fullblock of="$T/chunk" 2>/dev/null
			[ -s "$T/chunk" ] || break
			cat "$T/chunk" >>"$T/img"
			sleep 0.01
		done
	}
	st=${PIPESTATUS[0]}
	cat "$T/log"
	[ "$st" -eq 0 ]
	reap "$TPID"
	grep -q 'blocks written compressed' "$T/log"
	lz=$(lz4_bytes "$T/img")
	echo "$lz bytes compressed"
	# a mix: some blocks compressed, the first at least raw (the writer
	# takes it at once); every page where it belongs
	[ "$lz" -gt 0 ]
	[ "$lz" -lt $(( 32 << 20 )) ]
	"$CKPT" verify "$T/img"
	restore_go
	[ "$status" -eq 0 ]
}

@test "the image does not depend on the number of compression threads" {
	skip_unless_ptrace
	start_target pattern 4
	# Stopped, so that nothing in it changes between the two dumps; and
	# on one CPU, since the kernel rewrites the rseq area's cpu_id each
	# time a thread passes through user-return (also when we step it).
	taskset -a -p -c 0 "$TPID" >/dev/null
	kill -STOP "$TPID"
	# ...and stopped already: a SIGSTOP still pending would be in the
	# first image's pending signals and not in the second's
	wait_for 60 stopped "$TPID"
	"$CKPT" dump "$TPID" -o "$T/a.img" --compress zstd -j 1
	"$CKPT" dump "$TPID" -o "$T/b.img" --compress zstd -j 4
	# header: created time and image id differ; the rest must not, but
	# for the MACs, which cover the header too (docs/security.md)
	"$CKPT_TARGETS/imgtool" set "$T/a.img" mac=strip
	"$CKPT_TARGETS/imgtool" set "$T/b.img" mac=strip
	cmp <(tail -c +257 "$T/a.img") <(tail -c +257 "$T/b.img")
}

# A plain dump to a file writes each block of page data from the thread
# that read it, at the place the blocks before it leave (pwrite), in
# whatever order the threads finish (dump/pagewrite.c, direct);
# CKPT_PAGES_ORDER=in-order takes the one writer thread of streams and
# codecs, CKPT_PAGES_ORDER=swapped writes every other block after the one
# after it.
@test "page data written out of order makes the image the in-order writer makes, and restores" {
	skip_unless_ptrace
	start_target pattern 4
	taskset -a -p -c 0 "$TPID" >/dev/null
	kill -STOP "$TPID"
	wait_for 60 stopped "$TPID"
	CKPT_PAGES_ORDER=in-order "$CKPT" dump "$TPID" -o "$T/a.img" --compress none --no-fork
	run --separate-stderr env CKPT_PAGES_ORDER=swapped "$CKPT" -v dump "$TPID" -o "$T/b.img" \
		--compress none --no-fork -j 2
	echo "$stderr"
	[ "$status" -eq 0 ]
	# 12 MiB, a third of it zero pages: some 40 blocks, 8 written first
	# by the same thread
	n=$(sed -n 's/.* pages, each written in place .*, \([0-9]*\) ahead of an earlier one$/\1/p' <<<"$stderr")
	echo "written ahead: $n"
	[ "${n:-0}" -ge 8 ]
	"$CKPT_TARGETS/imgtool" set "$T/a.img" mac=strip
	"$CKPT_TARGETS/imgtool" set "$T/b.img" mac=strip
	cmp <(tail -c +257 "$T/a.img") <(tail -c +257 "$T/b.img")
	kill -CONT "$TPID"
	CKPT_PAGES_ORDER=swapped dump_kill --compress none --no-fork -j 2
	run "$CKPT" verify "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	restore_go
	[ "$status" -eq 0 ]
}

# released PID: PID runs (not stopped) and nothing traces it.
released() {
	local s
	s=$(proc_state "$1")
	[ "$s" = S ] || [ "$s" = R ] || return 1
	grep -qx 'TracerPid:[[:space:]]*0' "/proc/$1/status"
}

@test "a dump killed while its threads write page data leaves the job running and no file" {
	skip_unless_ptrace
	start_target pattern 4
	maps=$(cat "/proc/$TPID/maps")
	for at in "dump: a slot placed#1" "dump: a slot placed#7"; do
		run env CKPT_KILLPOINT="$at" "$CKPT" -vv dump "$TPID" -o "$T/img" --compress none --no-fork -j 2
		echo "$output"
		[ "$status" -eq 137 ]
		[[ "$output" == *"killed at kill point"*"dump: a slot placed"* ]]
		# the guardian lets it go (dump/guard.c)
		wait_for 60 released "$TPID"
		[ "$(cat "/proc/$TPID/maps")" = "$maps" ]
		[ ! -e "$T/img" ]
		! ls "$T" | grep -q ckpt-tmp || false
	done
	# and it is whole: it checks its memory and exits 0
	touch "$T/go"
	wait "$TPID"
}

@test "dump -o - | restore -: streaming both ways" {
	skip_unless_ptrace
	start_target pattern 4
	"$CKPT" dump "$TPID" -o - --kill --compress zstd >"$T/stream" 2>"$T/dump.err"
	reap "$TPID"
	[ -s "$T/stream" ]
	touch "$T/go"
	run timeout 300 sh -c "cat '$T/stream' | '$CKPT' restore -"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "streamed restore of a truncated stream fails and leaves nothing" {
	skip_unless_ptrace
	start_target pattern 4
	"$CKPT" dump "$TPID" -o "$T/img" --kill
	reap "$TPID"
	size=$(stat -c %s "$T/img")
	touch "$T/go"
	run --separate-stderr timeout 300 sh -c "head -c $((size - 5000)) '$T/img' | '$CKPT' restore -"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -ge 1 ]
	[[ "${stderr_lines[-1]}" == *truncated* ]]
	! kill -0 "$TPID" 2>/dev/null || false
}

@test "dump --compress rejects unknown codecs and bad levels (usage, exit 2)" {
	run "$CKPT" dump 1 --compress brotli
	[ "$status" -eq 2 ]
	run "$CKPT" dump 1 --compress zlib:42
	[ "$status" -eq 2 ]
}
