#!/usr/bin/env bats
# Process trees (issue 12, docs/trees.md): PID and all its descendants
# dumped as one cut and restored together.
#
# Tests tagged arch-independent (tree logic in C (--single, refusals,
# sessions, full pages, --detach, SysV, shared fd tables' variants, ^C); the
# guest restores trees with --kill, through a pipe into a PID namespace,
# --fork, COW and shared memory, pipes, CLONE_FILES and a fork storm) run on
# the host only: the arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

eval "$(declare -f teardown | sed '1s/teardown/common_teardown/')"
teardown() {
	[ -z "${SHM_KEY:-}" ] || ipcrm -M "$SHM_KEY" 2>/dev/null || true
	common_teardown
}

# children PID: the PIDs of PID's children, one per line (from /proc: this
# kernel has no /proc/PID/task/TID/children).
children() {
	local f
	for f in /proc/[0-9]*/stat; do
		read -r -a st <"$f" 2>/dev/null || continue
		# comm has no spaces in our targets: field 4 is the ppid
		[ "${st[3]}" = "$1" ] && echo "${st[0]}"
	done
	return 0
}

# track_children PID: every child of PID into PIDS, so teardown kills them.
track_children() {
	local c
	for c in $(children "$1"); do
		PIDS+=("$c")
	done
}

@test "tree: a parent, two workers and a zombie, dumped with --kill: all back, their sums, parents and exit statuses right" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_basic
	track_children "$TPID"
	[ "$(children "$TPID" | wc -l)" -eq 3 ]
	dump_kill
	# --kill reaps the whole tree: every PID is free for the restore.
	for p in "${PIDS[@]}"; do
		[ "$p" = "$TPID" ] || ! kill -0 "$p" 2>/dev/null
	done
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_basic: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: dumped without --kill, the whole tree runs on untouched" {
	skip_unless_ptrace
	start_target tree_basic
	track_children "$TPID"
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_basic: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: --single dumps the process alone and names every child it leaves out" {
	skip_unless_ptrace
	start_target tree_basic
	track_children "$TPID"
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --single
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 3 ]
	for c in $(children "$TPID"); do
		printf '%s\n' "${stderr_lines[@]}" | grep -qx "ckpt: dump $TPID: --single: child $c (tree_basic) left out"
	done
	run "$CKPT" inspect "$T/img"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_basic: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: a child that cannot be dumped fails the dump in one line naming it; the tree runs on" {
	skip_unless_ptrace
	start_target tree_basic
	track_children "$TPID"
	local victim
	victim=$(children "$TPID" | head -1)
	"$CKPT_TARGETS/tracer" "$victim" "$T/traced" </dev/null >"$T/tracer.log" 2>&1 &
	PIDS+=("$!")
	wait_file "$T/traced" || { cat "$T/tracer.log"; false; }
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: process tree_basic (PID $victim) is traced by PID "*" (a debugger?)" ]]
	[ ! -e "$T/img" ]
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_basic: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: sessions and groups, also those whose leader has exited, a zombie-led group and a subreaper: all as they were" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_groups
	track_children "$TPID"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_groups: ok' "$T/out"
}

@test "tree: through a pipe (-o - | restore -) into a new PID namespace" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_basic
	track_children "$TPID"
	"$CKPT" dump "$TPID" -o - --kill >"$T/stream"
	reap "$TPID"
	touch "$T/go"
	run timeout 120 "$CKPT" restore --pid-ns - <"$T/stream"
	echo "$output"
	cat "$T/err"
	[ "$status" -eq 0 ]
	grep -qx 'tree_basic: ok' "$T/out"
}

@test "tree: --fork takes the whole tree from copy-on-write copies; the tree runs on; the image restores" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_basic
	track_children "$TPID"
	run "$CKPT" dump "$TPID" -o "$T/img" --fork
	echo "$output"
	[ "$status" -eq 0 ]
	run "$CKPT" inspect "$T/img"
	echo "$output" | grep -q '^tree      4 processes (3 live)$'
	echo "$output" | grep -q '(zombie, exit status 0x2100)'
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_basic: ok' "$T/out"
	# The same image again, the tree gone (its PIDs free: a new namespace).
	: >"$T/out"
	: >"$T/err"
	run timeout 120 "$CKPT" restore --pid-ns "$T/img"
	echo "$output"
	cat "$T/err"
	[ "$status" -eq 0 ]
	grep -qx 'tree_basic: ok' "$T/out"
}

@test "tree: pages shared copy-on-write are stored once and shared again after restore" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_cow "$T"
	track_children "$TPID"
	# The same tree dumped twice: each process's pages in full, then once.
	run "$CKPT" dump "$TPID" -o "$T/full.img" --per-process-pages
	[ "$status" -eq 0 ]
	dump_kill
	full=$("$CKPT" verify "$T/full.img" | sed -n 's/.* sections, \([0-9]*\) pages.*/\1/p')
	once=$("$CKPT" verify "$T/img" | sed -n 's/.* sections, \([0-9]*\) pages.*/\1/p')
	echo "pages: $full per process, $once shared"
	# 4096 pages of the region: 4 x 4096 stored in full, 4096 + 3 x 20 once
	[ "$full" -gt $((4 * 4096)) ]
	[ "$once" -lt $((4096 + 3 * 20 + 200)) ]
	"$CKPT" inspect "$T/img" | grep -q ' pages shared copy-on-write with its parent$'
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_cow: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: an image with every process's pages in full restores too (no page shared: the target says so)" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_cow "$T"
	track_children "$TPID"
	dump_kill --per-process-pages
	restore_go
	[ "$status" -eq 1 ]
	grep -q 'worker 0: status 0x100: 0 pages shared with the parent, want 4076' "$T/err"
}

@test "tree: shared anonymous memory and a POSIX semaphore inherited across fork are one object again after restore" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_shm
	track_children "$TPID"
	dump_kill
	# stored once: the children's mappings of the shared memory are
	# aliases; the semaphore's deleted file (/dev/shm/sem.XXXXXX), which
	# no process holds an fd of, is a file made again that the three map
	run "$CKPT" inspect "$T/img"
	[ "$(grep -c 'shm-alias' <<<"$output")" -eq 2 ]
	[ "$(grep -c 'shared,memfd /dev/shm/sem\..* (deleted)$' <<<"$output")" -eq 3 ]
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_shm: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: a dump without --kill leaves pages shared copy-on-write shared (read without pinning them)" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_cow "$T"
	track_children "$TPID"
	run "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 0 ]
	run "$CKPT" dump "$TPID" -o "$T/img2" --per-process-pages
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID"
	cat "$T/err"
	grep -qx 'tree_cow: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: --single of the parent, then of a worker, leaves the pages they share copy-on-write shared (smaps says which mappings to look at)" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_cow "$T"
	track_children "$TPID"
	run "$CKPT" dump "$TPID" -o "$T/img" --single
	[ "$status" -eq 0 ]
	run "$CKPT" dump "${PIDS[-1]}" -o "$T/img2" --single
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID"
	cat "$T/err"
	grep -qx 'tree_cow: ok' "$T/out"
}

@test "tree: a fork storm (hundreds of processes born and ending): each dump a whole cut or one line; --kill, then it restores and ends well" {
	skip_unless_ptrace
	skip_unless_root
	local live=100 k
	[ "$(uname -m)" = x86_64 ] || live=15
	start_target tree_storm "$live"
	for k in 1 2 3; do
		run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img$k"
		# (not $i: bats' run uses it)
		echo "dump $k: status $status: $stderr"
		if [ "$status" -eq 0 ]; then
			"$CKPT" verify "$T/img$k"
		else
			echo "dump $k: $stderr"
			[ "${#stderr_lines[@]}" -eq 1 ]
		fi
	done
	dump_kill
	"$CKPT" inspect "$T/img" | grep '^tree '
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_storm: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: a SIGINT to ckpt restore reaches the restored job's whole process group, as a terminal's ^C" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_intr
	track_children "$TPID"
	dump_kill
	touch "$T/go"
	"$CKPT" restore "$T/img" >"$T/restore.log" 2>&1 &
	local rpid=$! st=0 i
	PIDS+=("$rpid")
	# restored and let go: ckpt restore no longer traces the root
	for i in $(seq 200); do
		grep -q 'TracerPid:	0' "/proc/$TPID/status" 2>/dev/null && break
		sleep 0.05
	done
	sleep 0.2
	kill -INT "$rpid"
	wait "$rpid" || st=$?
	cat "$T/restore.log" "$T/err"
	[ "$st" -eq 0 ]
	grep -qx 'tree_intr: ok' "$T/out"
}

@test "tree: pipes and socketpairs between parent and child with bytes in flight, and a file shared after fork (one offset, one set of flags)" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_fds "$T"
	track_children "$TPID"
	local child
	child=$(cat /proc/$TPID/task/*/children | tr -d " \n")
	dump_kill
	# inspect names the other process holding the same open file
	"$CKPT" inspect "$T/img" >"$T/insp"
	grep -A3 "$T/shared\$" "$T/insp" | grep -q "open file shared with PID $child (its fd [0-9]*)"
	! command -v python3 >/dev/null ||	# (the arm64 guest has none)
	"$CKPT" inspect --json "$T/img" | CHILD=$child python3 -c '
import json, os, sys
o = json.load(sys.stdin)
f = [f for f in o["files"] if f["path"].endswith("/shared")][0]
assert [s["pid"] for s in f["shared_with"]] == [int(os.environ["CHILD"])], f["shared_with"]'
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_fds: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: restore --detach --pid-ns returns and the tree runs on to its end in its namespace" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_basic
	track_children "$TPID"
	dump_kill
	touch "$T/go"
	run timeout 120 "$CKPT" restore --detach --pid-ns "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	PIDS+=("${lines[-1]}")
	local i
	# (init used to be killed right after the detach: the namespace with it)
	for i in $(seq 600); do
		grep -qx 'tree_basic: ok' "$T/out" && break
		sleep 0.05
	done
	cat "$T/err"
	grep -qx 'tree_basic: ok' "$T/out"
}

# stored_pages IMAGE_INSPECT PATH: the pages the image stores for every
# mapping of PATH (inspect's stored/present/total column), summed.
stored_pages() {
	awk -v path="$2" '$NF == "(deleted)" && $(NF-1) == path { split($(NF-3), n, "/"); s += n[1] }
		END { print s + 0 }' <<<"$1"
}

# bats test_tags=arch-independent
@test "tree: SysV shared memory attached by two processes (one segment removed with IPC_RMID): one segment each again, each page stored once" {
	skip_unless_ptrace
	skip_unless_root
	SHM_KEY=$(printf '0x%x' $((0x0c5d0000 + $$ % 65536)))
	start_target tree_sysv "$SHM_KEY"
	track_children "$TPID"
	dump_kill
	run "$CKPT" inspect "$T/img"
	[ "$status" -eq 0 ]
	# three pages each: the keyed one's are present in the parent (0, 1)
	# and the child (0, 2); the removed one's page 2 in no page table:
	# that segment is stored whole, once; the child's three attaches are
	# aliases
	[ "$(stored_pages "$output" "$(printf '/SYSV%08x' "$SHM_KEY")")" -eq 3 ]
	[ "$(stored_pages "$output" /SYSV00000000)" -eq 3 ]
	[ "$(grep -c 'shm-alias,sysv' <<<"$output")" -eq 3 ]
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_sysv: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: SysV shared memory attached by two processes, removed after the dump: made again once, with its key, id and every page" {
	skip_unless_ptrace
	skip_unless_root
	command -v ipcrm >/dev/null || skip "no ipcrm here"
	SHM_KEY=$(printf '0x%x' $((0x0c5e0000 + $$ % 65536)))
	start_target tree_sysv "$SHM_KEY"
	track_children "$TPID"
	id=$(awk -v key="$((SHM_KEY))" '$1 == key { print $2 }' /proc/sysvipc/shm)
	[ -n "$id" ]
	dump_kill
	ipcrm -M "$SHM_KEY"
	restore_go
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -qx 'tree_sysv: ok' "$T/out"
	# the same id again (root sets shm_next_id), still there after the job
	[ "$(awk -v key="$((SHM_KEY))" '$1 == key { print $2 }' /proc/sysvipc/shm)" = "$id" ]
}


@test "tree: a helper made with clone(CLONE_FILES) shares its parent's fd table again: fds opened and closed after restore are seen by both; a sibling keeps its own" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_files
	track_children "$TPID"
	dump_kill
	run "$CKPT" inspect "$T/img"
	[ "$status" -eq 0 ]
	[ "$(grep -c "shares the fd table of $TPID\$" <<<"$output")" -eq 1 ]
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_files: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: an fd table shared by a grandchild and its parent (CLONE_FILES), restored into a new PID namespace" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_files nested
	track_children "$TPID"
	dump_kill
	restore_go --pid-ns
	[ "$status" -eq 0 ]
	grep -qx 'tree_files: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: a CLONE_FILES helper with a CLONE_FILES helper of its own: one table for the three again" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_files chain
	track_children "$TPID"
	dump_kill
	run "$CKPT" inspect "$T/img"
	[ "$status" -eq 0 ]
	[ "$(grep -c "shares the fd table of" <<<"$output")" -eq 2 ]
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_files: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree: two children sharing an fd table their parent no longer shares: the dump says so in one line; the tree runs on" {
	skip_unless_ptrace
	start_target tree_files siblings
	track_children "$TPID"
	local kids
	kids=($(children "$TPID" | sort -n))
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: processes ${kids[0]} and ${kids[1]} share one fd table (clone with CLONE_FILES) and ${kids[0]} is not ${kids[1]}'s parent: not supported" ]]
	[ ! -e "$T/img" ]
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_files: ok' "$T/out"
}
