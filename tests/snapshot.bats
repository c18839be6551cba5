#!/usr/bin/env bats
# dump --snapshot: the process's memory moved aside while it is frozen,
# the image written from there while it runs, every page given back by
# userfaultfd (dump/snapshot.c, docs/snapshot.md).  The image must be the
# cut, and the process must never read a page that is not what it wrote.

load test_helper

# snap_dump TARGET [ARGS]: start it, dump it with -v --snapshot --single
# (its short-lived children are left out), the output in $dumped.
snap_dump() {
	start_target "$@"
	run "$CKPT" -vv dump "$TPID" --snapshot --single -o "$T/img"
	echo "$output" | grep -v "dump.c:91" | tail -20
	[ "$status" -eq 0 ]
	dumped=$output
	[[ "$dumped" == *"mappings moved aside"* ]]
}

# The original, told to stop, checks what it read meanwhile and its memory.
original_held() {
	touch "$T/go"
	local st=0
	wait "$TPID" || st=$?
	cat "$T/out" "$T/err"
	[ "$st" -eq 0 ]
}

# moved_guardian DPID N0: once dump DPID (--snapshot) has moved $TPID's
# memory aside (the shadow: a mapping more than N0), its guardian in
# $guardian (and PIDS).
moved_guardian() {
	while kill -0 "$1" 2>/dev/null && [ "$(wc -l <"/proc/$TPID/maps")" -le "$2" ]; do
		sleep 0.005
	done
	guardian=$(cat /proc/"$1"/task/*/children 2>/dev/null | head -n 1)
	echo "ckpt $1, its guardian ${guardian:-?}"
	[ -n "$guardian" ]
	PIDS+=("$guardian")
}

# stuck_snapshot N0: a --snapshot dump of $TPID (N0: the lines of its maps
# before) whose image goes into $T/fifo, which no one reads yet (fd 7 holds
# it open): the dump stays after the release, the process's memory moved
# aside.  Its PID in $dpid, its guardian's in $guardian (both in PIDS).
stuck_snapshot() {
	mkfifo "$T/fifo"
	exec 7<>"$T/fifo"
	"$CKPT" dump "$TPID" --snapshot --compress none -o - >"$T/fifo" 2>"$T/dumped" &
	dpid=$!
	PIDS+=("$dpid")
	moved_guardian "$dpid" "$1"
}

# lock_listener PID FULL [CMD...]: tests/targets/lockname, run through CMD
# (setpriv for another user), listening on PID's --snapshot lock name
# (dump/snaplock.c); FULL 1: its queue full.  Its PID in $hpid (and PIDS)
# once it listens.
lock_listener() {
	local pid=$1 full=$2 start
	shift 2
	start=$(sed 's/.*) //' /proc/"$pid"/stat | awk '{print $20}')
	rm -f "$T/held"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/held CKPT_GO=$T/held-go
		exec "$@" "$CKPT_TARGETS/lockname" "$pid $start" "$([ "$full" = 1 ] && echo full)"
	) &
	hpid=$!
	PIDS+=("$hpid")
	while [ ! -e "$T/held" ] && kill -0 "$hpid" 2>/dev/null; do sleep 0.01; done
	[ -e "$T/held" ]
}

@test "--snapshot: the image is one instant of memory written as fast as it can, and the process read nothing wrong meanwhile" {
	skip_unless_ptrace
	snap_dump snapcheck 64
	[[ "$dumped" == *"pages given back"* ]]
	original_held
	restore_go
	[ "$status" -eq 0 ]
}

@test "--snapshot: the process's own munmap, MADV_DONTNEED, mremap and fork during the dump" {
	skip_unless_ptrace
	start_target snapcheck 64 1
	local n0 dpid st=0
	n0=$(wc -l <"/proc/$TPID/maps")
	"$CKPT" -vv dump "$TPID" --snapshot --single -o "$T/img" 2>"$T/dumped" &
	dpid=$!
	PIDS+=("$dpid")
	# Once its memory is moved aside (the shadows are mappings more), the
	# job is told to change its own memory map while the dump runs.
	while kill -0 "$dpid" 2>/dev/null && [ "$(wc -l <"/proc/$TPID/maps")" -le "$n0" ]; do
		sleep 0.01
	done
	touch "$T/go.churn"
	wait "$dpid" || st=$?
	grep -v "dump.c:91" "$T/dumped" | tail -8
	[ "$st" -eq 0 ]
	# some of its changes came while the dump ran
	grep -Eq "snapshot: [0-9]+ faults served, [0-9]+ pages given back, [1-9][0-9]* memory map events" "$T/dumped"
	original_held
	restore_go
	[ "$status" -eq 0 ]
}

@test "--snapshot: forkcheck's memory, changing at random, is one instant in the image" {
	skip_unless_ptrace
	snap_dump forkcheck
	kill -KILL "$TPID"
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
}

@test "--snapshot: nothing of it is left in the process (mappings, fds)" {
	skip_unless_ptrace
	start_target snapcheck 16
	before=$(cat /proc/$TPID/maps; ls /proc/$TPID/fd)
	"$CKPT" dump "$TPID" --snapshot -o "$T/img"
	after=$(cat /proc/$TPID/maps; ls /proc/$TPID/fd)
	[ "$before" = "$after" ]
	original_held
}

# bats test_tags=arch-independent
@test "--snapshot: a tree is refused by name, and --kill, --fork, --track, --parent with it are usage errors" {
	skip_unless_ptrace
	setsid sh -c 'sleep 100 & wait' </dev/null >/dev/null 2>&1 &
	local tree=$!
	PIDS+=("$tree")
	sleep 0.2
	run "$CKPT" dump "$tree" --snapshot -o "$T/img"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"--snapshot dumps one process, and this is a tree of 2"* ]]
	# and it is left as it was: running, untraced
	grep -q '^TracerPid:.0' /proc/$tree/status
	start_target forkcheck
	for o in --kill --fork --track "--parent $T/x"; do
		run "$CKPT" dump "$TPID" --snapshot $o -o "$T/img"
		[ "$status" -eq 2 ]
	done
	kill $(cat /proc/"$tree"/task/*/children) "$tree" || true
	original_held
}

# Each mapping's shadow at the same offset as it in a PMD (2 MiB with
# 4 KiB pages), and in a PUD (1 GiB) when it covers a whole one: the
# mremap then moves whole page tables, not 262,144 entries per GiB one by
# one (7 ms per GiB, most of the pause).  snapalign's mappings start and
# end anywhere in those blocks (off a PMD boundary with or without a
# mapping below it in its PMD, across one, inside one, on boundaries,
# around a whole PUD); each must come back byte-exact, in the process and
# in the image, and read right while the dump runs.
@test "--snapshot: each shadow at its mapping's offset in a PMD (a PUD when it covers one), every byte back" {
	skip_unless_ptrace
	local ps pmd pud name start end orig shadow moved=0
	ps=$(getconf PAGESIZE)
	pmd=$((ps * ps / 8))
	pud=$((pmd * ps / 8))
	snap_dump snapalign
	while read -r _ name start end; do
		# its shadow, as -vv says: "ORIG (N MiB) to SHADOW"
		shadow=$(echo "$dumped" | sed -n "s/.*snapshot: $start ([0-9]* MiB) to \(0x[0-9a-f]*\) .*/\1/p")
		echo "$name $start-$end: shadow ${shadow:-none}"
		case $name in
		below-neighbour) continue ;;	# small: read while frozen
		esac
		[ -n "$shadow" ]
		moved=$((moved + 1))
		orig=$((start))
		shadow=$((shadow))
		# a mapping inside one PMD: anywhere will do
		[ "$name" = small-inside ] || [ $(((orig ^ shadow) & (pmd - 1))) -eq 0 ]
		[ "$name" != covers-a-pud ] || [ $(((orig ^ shadow) & (pud - 1))) -eq 0 ]
	done < <(grep '^region ' "$T/out")
	[ "$moved" -eq 6 ]
	original_held
	restore_go
	[ "$status" -eq 0 ]
}

# The uffd is made by the process (with its credentials); ckpt, root, asks
# for the fork events itself (UFFDIO_API checks the caller: it may).
# bats test_tags=arch-independent
@test "--snapshot: a process that may not make a full userfaultfd is refused by name, and runs on untouched" {
	skip_unless_ptrace
	skip_unless_root
	[ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 0 ] ||
		skip "vm.unprivileged_userfaultfd is not 0: any process may"
	chmod 777 "$T"	# the job, nobody, says it is ready there
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		exec setpriv --reuid=65534 --regid=65534 --clear-groups "$CKPT_TARGETS/snapcheck" 16 \
			</dev/null >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready"
	before=$(cat /proc/$TPID/maps; ls /proc/$TPID/fd)
	run "$CKPT" dump "$TPID" --snapshot -o "$T/img"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"may not make a userfaultfd that serves its kernel accesses"* ]]
	[ "$before" = "$(cat /proc/$TPID/maps; ls /proc/$TPID/fd)" ]
	original_held
}

# The late path: VmFlags read before the freeze (nothing locked, the
# mappings as maps shows them at the freeze), checked after the release,
# the moved mappings planned from their shadows.  mem_madv's madvised
# mappings (DONTFORK and WIPEONFORK moved aside among them) must come back
# with the VmFlags they had, and its forked child must not see them.
@test "--snapshot: VmFlags read before the freeze are the process's (madvise state, DONTFORK, WIPEONFORK)" {
	skip_unless_ptrace
	start_target mem_madv nolock
	run "$CKPT" -vv dump "$TPID" --snapshot -o "$T/img"
	echo "$output" | grep -v "dump.c:91" | grep -v "kill point" | tail -12
	[ "$status" -eq 0 ]
	# the late path was taken, and mappings were moved
	[[ "$output" == *"after the release: smaps checked, page map of the copies and metadata"* ]]
	echo "$output" | grep -Eq "snapshot: [1-9][0-9]* mappings moved aside"
	kill -KILL "$TPID"
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
}

# The shadow's pages are freed behind the writer, not held until the end:
# while the dump runs, the copy of the memory (the one mapping more than
# before the dump) is seen holding less memory (its Rss: the pieces are
# freed with MADV_DONTNEED, the mapping kept) while less than half of the
# image is written yet (without the freeing it stays whole until every
# page is written: the end unmaps it, 2 MiB at a time); the image must
# still be the cut, and nothing be left.
@test "--snapshot: the copy of the memory is freed behind the writer (not held twice until the end)" {
	skip_unless_ptrace
	# 32 MiB in the arm64 guest (emulated: slow enough to be seen, and
	# its memory is 1 GiB)
	local mib=128 before dpid st=0 seen size full
	[ "$(uname -m)" != aarch64 ] || mib=32
	full=$((mib << 20))
	start_target snapcheck "$mib"
	before=$(cut -d' ' -f1 /proc/$TPID/maps)
	echo "$before" >"$T/before"
	# the image written under a name (img.ckpt-tmp-PID), not O_TMPFILE:
	# how much of it is written can be seen
	CKPT_NO_O_TMPFILE=1 "$CKPT" -vv dump "$TPID" --snapshot --single -o "$T/img" 2>"$T/dumped" &
	dpid=$!
	PIDS+=("$dpid")
	# the memory (Rss) of each mapping not there before, and how much of
	# the image was written just before, as long as the dump runs
	while kill -0 "$dpid" 2>/dev/null; do
		size=$(stat -c %s "$T/img.ckpt-tmp-$dpid" 2>/dev/null || echo 0)
		awk -v size="$size" 'NR == FNR { b[$1]; next }
			/^[0-9a-f]+-[0-9a-f]+ / { split($1, r, " "); new = !(r[1] in b) }
			/^Rss:/ && new { print $2 * 1024, size }' "$T/before" /proc/$TPID/smaps 2>/dev/null
	done >"$T/lengths"
	wait "$dpid" || st=$?
	grep -v "dump.c:91" "$T/dumped" | grep -v "kill point" | tail -6
	[ "$st" -eq 0 ]
	awk '{ printf "%d MiB (image %d MiB), ", $1 / 1048576, $2 / 1048576 } END { print "" }' "$T/lengths" | head -c 2000
	# the copy (all of its memory) was seen smaller, not gone, with less
	# than half of the image written
	seen=$(awk -v f="$full" -v h="$(($(stat -c %s "$T/img") / 2))" '$1 > 0 && $1 < f && $2 < h' "$T/lengths" | wc -l)
	[ "$seen" -ge 1 ]
	grep -Eq "snapshot: [0-9.]+ MiB of the copies freed behind the writer" "$T/dumped"
	# nothing of it left
	[ "$(cut -d' ' -f1 /proc/$TPID/maps)" = "$before" ]
	original_held
	restore_go
	[ "$status" -eq 0 ]
}

# A job that dies while its memory is written: the dump fails, at once
# (ckpt waited for its guardian, which waits for ckpt's exit to be over
# before it takes over: both hung until the guardian's 300 s ran out),
# and neither ckpt nor its guardian warns about copies it could not unmap
# (the job and its copies are gone with it).
@test "--snapshot: the process killed during the dump: the dump fails at once, no warning about copies left" {
	skip_unless_ptrace
	start_target snapcheck 128
	local n0 dpid end guardian
	n0=$(wc -l <"/proc/$TPID/maps")
	"$CKPT" dump "$TPID" --snapshot --single -o "$T/img" 2>"$T/dumped" >/dev/null &
	dpid=$!
	PIDS+=("$dpid")
	moved_guardian "$dpid" "$n0"
	kill -KILL "$TPID"
	reap "$TPID"
	# ckpt and its guardian both gone, well within the guardian's 300 s
	end=$((SECONDS + 120))
	while { kill -0 "$dpid" || kill -0 "$guardian"; } 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.1
	done
	wait "$dpid" || true
	echo "ckpt and its guardian gone $((SECONDS - end + 120)) s after the kill"
	[ "$SECONDS" -lt "$end" ]
	! kill -0 "$guardian" 2>/dev/null || false
	cat "$T/dumped"
	! grep -q "cannot stop the process" "$T/dumped" || false
}

# One --snapshot at a time, and no dump of a process whose memory a
# --snapshot still gives back (dump/snaplock.c): its shadows would be
# dumped as mappings of the process, a --snapshot's registration refused,
# and a dump holding the process frozen would keep the guardian from
# unmapping the shadows.  A dump under way (its image stuck in a pipe no
# one reads yet, the process released), then its guardian (stopped so
# that it has not given everything back yet, ckpt killed): the dumps
# meanwhile are refused by name; once the guardian is done the process
# has all its memory and a dump goes through.  The same C on both
# architectures: host only.
# bats test_tags=arch-independent
@test "--snapshot: a dump while a --snapshot (or its guardian) still gives the memory back is refused by name" {
	skip_unless_ptrace
	start_target snapcheck 64
	local n0 dpid guardian end
	n0=$(wc -l <"/proc/$TPID/maps")
	stuck_snapshot "$n0"
	for o in --snapshot "--fork" "--no-fork --compress none"; do
		run "$CKPT" dump "$TPID" $o -o "$T/img2"
		echo "$o: $output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"a ckpt dump --snapshot of this process is under way, or its guardian"* ]]
	done
	# ckpt killed, its guardian stopped before it gave everything back
	kill -STOP "$guardian"
	kill -KILL "$dpid"
	wait "$dpid" 2>/dev/null || true
	exec 7>&-
	cat "$T/fifo" >/dev/null &
	PIDS+=("$!")
	run "$CKPT" dump "$TPID" --snapshot -o "$T/img2"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is still giving the process its memory back"* ]]
	# the guardian goes on, gives every page back, unmaps the shadow, ends
	kill -CONT "$guardian"
	end=$((SECONDS + 120))
	while kill -0 "$guardian" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.1
	done
	! kill -0 "$guardian" 2>/dev/null || false
	[ "$(wc -l <"/proc/$TPID/maps")" -eq "$n0" ]
	run "$CKPT" dump "$TPID" --snapshot -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	original_held
	restore_go
	[ "$status" -eq 0 ]
}

# Another tracer (a debugger for a moment, a tree dump that froze the
# process before it was refused) holds the process when the --snapshot
# ends: its shadow must be unmapped once that tracer lets go, not left in
# the process for good with exit 0 (the end gave up at its first refusal).
@test "--snapshot: another tracer holding the process at the end: the copies are unmapped once it lets go" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "no python3 (the tracer)"
	start_target snapcheck 64
	local n0 dpid guardian hold st=0
	n0=$(wc -l <"/proc/$TPID/maps")
	stuck_snapshot "$n0"
	python3 -c '
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
if libc.ptrace(0x4206, pid, None, None) != 0:	# PTRACE_SEIZE
	sys.exit("seize: errno %d" % ctypes.get_errno())
time.sleep(2)
libc.ptrace(17, pid, None, None)		# PTRACE_DETACH
' "$TPID" &
	hold=$!
	PIDS+=("$hold")
	while kill -0 "$hold" 2>/dev/null && ! grep -q "^TracerPid:[[:space:]]*$hold\$" "/proc/$TPID/status"; do
		sleep 0.01
	done
	grep "^TracerPid" "/proc/$TPID/status"
	exec 7>&-
	cat "$T/fifo" >/dev/null &
	PIDS+=("$!")
	wait "$dpid" || st=$?
	cat "$T/dumped"
	[ "$st" -eq 0 ]
	[[ "$(cat "$T/dumped")" != *"stay mapped"* ]]
	wait "$hold"
	[ "$(wc -l <"/proc/$TPID/maps")" -eq "$n0" ]
	original_held
}

# The lock is the named process's; a dump of a tree takes its children
# too, and a child under a --snapshot of its own (its memory in shadows
# its guardian gives back) must refuse the tree's dump as well, by the
# child's PID.  The lock's holder stands in here: a root socket listening
# on the child's name (dump/snaplock.c), which counts as a ckpt's.
# bats test_tags=arch-independent
@test "--snapshot lock: a dump of a tree is refused by name when one of its children is under a --snapshot" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_basic
	children_to_clean
	local child hpid o
	child=$(cat /proc/"$TPID"/task/*/children | tr ' ' '\n' | while read -r c; do
		[ -n "$c" ] && [ "$(awk '{print $3}' /proc/"$c"/stat 2>/dev/null)" != Z ] && echo "$c"
	done | head -n 1)
	[ -n "$child" ]
	lock_listener "$child" 0
	for o in "" --no-fork; do
		run "$CKPT" dump "$TPID" $o -o "$T/img"
		echo "dump $o ($status): $output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"a ckpt dump --snapshot of process $child is under way"* ]]
		[ ! -e "$T/img" ]
	done
	kill "$hpid"
	wait "$hpid" 2>/dev/null || true
	run "$CKPT" dump "$TPID" --no-fork -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_basic: ok' "$T/out"
}

# Another user may bind a process's lock name (it is public: PID and start
# time) and fill its listener's queue; a connect to it then fails with
# EAGAIN and tells nothing of who listens.  The owner comes from the
# kernel's unix_diag instead: nobody's listener is not counted (a warning,
# the dump goes through); root's is, its queue full or not.
# bats test_tags=arch-independent
@test "--snapshot lock: another user's listener on the name, its queue full, does not block a dump; root's does" {
	skip_unless_ptrace
	skip_unless_root
	command -v setpriv >/dev/null || skip "no setpriv"
	start_target snapcheck 16
	local hpid o
	chmod 1777 "$T"
	lock_listener "$TPID" 1 setpriv --reuid=65534 --regid=65534 --clear-groups
	for o in --no-fork --snapshot; do
		rm -f "$T/img"
		run "$CKPT" dump "$TPID" $o --compress none -o "$T/img"
		echo "dump $o ($status): $output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"warning: the name of this process's --snapshot lock is taken by a socket of uid 65534, neither root nor ckpt's user: not counted"* ]]
		"$CKPT" verify "$T/img"
	done
	kill "$hpid"
	wait "$hpid" 2>/dev/null || true
	# root's, with a full queue: counted (no PID known: the connect failed)
	lock_listener "$TPID" 1
	rm -f "$T/img"
	run "$CKPT" dump "$TPID" --no-fork -o "$T/img"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "ckpt: dump $TPID: a ckpt dump --snapshot of this process is under way, or its guardian (the dump was killed) is still giving the process its memory back: dump again once it is done" ]
	[ ! -e "$T/img" ]
	kill "$hpid"
	wait "$hpid" 2>/dev/null || true
	original_held
}

# A plain dump looks at the lock before it freezes the process, a while
# before (its preparations: tens of ms under load).  A --snapshot that
# takes the process in that while, moves its memory aside and lets it run
# would leave the plain dump to freeze a process whose memory is in
# shadows: so it looks again once the process is frozen.  The plain dump
# is stopped here at its kill point before the freeze (SIGSTOP) while the
# --snapshot goes by.
# bats test_tags=arch-independent
@test "--snapshot lock: a --snapshot that overtakes a plain dump between its look and its freeze: the plain dump is refused by name" {
	skip_unless_ptrace
	start_target snapcheck 64
	local n0 dpid ppid guardian st i quiet
	n0=$(wc -l <"/proc/$TPID/maps")
	CKPT_KILLSIG=19 CKPT_KILLPOINT="dump: before the freeze" \
		"$CKPT" dump "$TPID" --no-fork --compress none -o "$T/img2" 2>"$T/plain" &
	ppid=$!
	PIDS+=("$ppid")
	for i in $(seq 1200); do
		[ "$(sed 's/.*) //' "/proc/$ppid/stat" 2>/dev/null | cut -d' ' -f1)" != T ] || break
		sleep 0.05
	done
	[ "$(sed 's/.*) //' "/proc/$ppid/stat" | cut -d' ' -f1)" = T ]
	# the --snapshot: frozen, moved aside, released; its image stuck in
	# a FIFO no one reads yet
	stuck_snapshot "$n0"
	# released: no longer traced by it (once its pipe is full it frees
	# nothing behind, which stops a thread), for half a second running
	quiet=0
	for i in $(seq 2400); do
		if [ "$(awk '/^TracerPid:/ {print $2}' "/proc/$TPID/status")" = 0 ]; then
			quiet=$((quiet + 1))
			[ "$quiet" -lt 10 ] || break
		else
			quiet=0
		fi
		sleep 0.05
	done
	kill -CONT "$ppid"
	wait "$ppid" && st=0 || st=$?
	cat "$T/plain"
	[ "$st" -eq 1 ]
	[ "$(cat "$T/plain")" = "ckpt: dump $TPID: a ckpt dump --snapshot of this process is under way, or its guardian (the dump was killed) is still giving the process its memory back (its lock taken by ckpt PID $dpid): dump again once it is done" ]
	[ ! -e "$T/img2" ]
	# the --snapshot ends well: its image whole, every page back
	cat "$T/fifo" 7>&- >"$T/img" &
	PIDS+=("$!")
	exec 7>&-
	wait "$dpid" && st=0 || st=$?
	cat "$T/dumped"
	[ "$st" -eq 0 ]
	wait "$!" 2>/dev/null || true
	"$CKPT" verify "$T/img"
	[ "$(wc -l <"/proc/$TPID/maps")" -eq "$n0" ]
	original_held
	restore_go
	[ "$status" -eq 0 ]
}
