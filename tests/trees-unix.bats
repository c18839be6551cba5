#!/usr/bin/env bats
# Unix sockets between processes of a tree connected through a listener,
# and datagram sockets connected to a name (issue 12, docs/trees.md 2.3):
# restored connected to the right process's socket, with the names each
# side saw and the bytes in flight, the listener still listening.
#
# Tests tagged arch-independent (threads, dumps without --kill, --single,
# python3 pools; the guest restores a tree connected through listeners) run on
# the host only: the arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

# track_children PID: every child of PID into PIDS, so teardown kills them.
track_children() {
	local f st
	for f in /proc/[0-9]*/stat; do
		read -r -a st 2>/dev/null <"$f" || continue
		[ "${st[3]}" = "$1" ] && PIDS+=("${st[0]}")
	done
	return 0
}

@test "tree unix: a server and its client connected through listeners (stream on a path, seqpacket on an abstract name) and a datagram socket connected to the server's name, bytes in flight: back connected, names and bytes exact, listeners listening" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_unix "$T"
	track_children "$TPID"
	dump_kill
	"$CKPT" inspect "$T/img" >"$T/insp"
	grep -q "accepted from the listener" "$T/insp"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_unix: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "unix: the same connections between two threads of one process (a server and its client thread): back connected, names and bytes exact, listeners listening" {
	skip_unless_ptrace
	start_target tree_unix "$T" thread
	dump_kill
	[ "$("$CKPT" inspect "$T/img" | grep -c 'accepted from the listener')" -eq 3 ]
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_unix: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree unix: dumped without --kill, the server and its client run on untouched" {
	skip_unless_ptrace
	start_target tree_unix "$T"
	track_children "$TPID"
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_unix: ok' "$T/out"
}

# bats test_tags=arch-independent
@test "tree unix: --single of the server refuses its accepted sockets by name: their peers are outside the image" {
	skip_unless_ptrace
	start_target tree_unix "$T"
	track_children "$TPID"
	run "$CKPT" dump "$TPID" --single -o "$T/img"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"a unix stream socket connected to a socket without a name of tree_unix (PID "*"), outside the image): cannot be restored: its peer is outside the image"* ]]
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_unix: ok' "$T/out"
}

# pool MODE: unix_pool.py (a master and 3 workers connected to its
# multiprocessing.connection Listener) dumped mid-work, with
#   kill:  ckpt dump --kill, restored with the same PIDs
#   stop:  ckpt dump --stop, killed by us, restored in a new PID namespace
# and its total compared with the known one.
pool() {
	local n=6400000
	mkdir -p "$T/w"
	CKPT_TARGETS=$CKPT_TOP/tests/targets start_target unix_pool.py "$T/w" "$n"
	track_children "$TPID"
	if [ "$1" = kill ]; then
		dump_kill
		restore_go
	else
		dump_stop_kill
		restore_go --pid-ns
	fi
	[ "$status" -eq 0 ]
	diff <(python3 -c "print(sum(i * i % 1000 for i in range($n)))") "$T/out"
}

# bats test_tags=arch-independent
@test "tree unix: python3 workers connected to their master's multiprocessing Listener, dumped --kill mid-work: the known total, and a late worker connects after restore" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "no python3"
	pool kill
}

# bats test_tags=arch-independent
@test "tree unix: python3 workers connected to their master's multiprocessing Listener, dumped --stop mid-work, killed, restored in a PID namespace: the known total" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "no python3"
	pool stop
}
