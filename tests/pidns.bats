#!/usr/bin/env bats
# restore --pid-ns: a new PID namespace (and a /proc of its own), where
# the process gets its original PID and thread IDs even while the
# original still has them.
#
# Tests tagged arch-independent (threads and signal forwarding in the
# namespace; the guest restores into one) run on the host only: the arm64
# guest leaves them out (tests/run-checks.sh).

load test_helper

skip_unless_pidns() {
	skip_unless_ptrace
	skip_unless_root
	unshare --pid --fork true 2>/dev/null || skip "no PID namespaces here (unshare --pid fails)"
}

@test "pid-ns: the original still has its PID and TIDs: restore gives new ones and says so, --pid-ns the originals" {
	skip_unless_pidns
	start_target ids
	run "$CKPT" dump "$TPID" -o "$T/img" --stop
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	# Without a namespace: new IDs, a warning for each, and the target
	# finds its PID changed (exit 1).
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img"
	echo "$stderr"
	cat "$T/err"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"PID $TPID is in use: the process gets a new PID"* ]]
	[[ "$stderr" == *"restored as thread"* ]]
	grep -q "FAIL: pid [0-9]*, was $TPID" "$T/err"
	: >"$T/err"
	: >"$T/out"
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img" --pid-ns
	echo "$stderr"
	cat "$T/err"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"new PID"* && "$stderr" != *"restored as thread"* ]]
	# Its parent, ckpt restore, is outside its namespace.
	grep -qx 'ppid 0' "$T/out"
	# The original is untouched.
	grep -q '^State:.*stopped' /proc/"$TPID"/status
}

# bats test_tags=arch-independent
@test "pid-ns: 8 threads at work, dumped and killed, restored in a namespace" {
	skip_unless_pidns
	start_target threads
	dump_kill
	restore_go --pid-ns
	[ "$status" -eq 0 ]
	grep -q '^threads: [0-9]* items$' "$T/out"
}

# bats test_tags=arch-independent
@test "pid-ns: ckpt restore forwards SIGTERM, SIGUSR1, SIGUSR2, SIGHUP and SIGINT; nothing of the namespace is left" {
	skip_unless_pidns
	start_target lifecycle record "$T/resumed"
	dump_kill
	touch "$T/go"
	"$CKPT" restore "$T/img" --pid-ns >"$T/restore.log" 2>&1 &
	local rpid=$! kids s st=0
	PIDS+=("$rpid")
	wait_file "$T/resumed" || { cat "$T/restore.log" "$T/err"; return 1; }
	# ckpt restore's children: the namespace's init and the process.
	kids=$(cat /proc/"$rpid"/task/*/children)
	PIDS+=($kids)
	for s in TERM USR1 USR2 HUP INT; do
		kill -"$s" "$rpid"
	done
	wait "$rpid" || st=$?
	cat "$T/restore.log" "$T/out" "$T/err"
	[ "$st" -eq 0 ]
	# The sender, ckpt restore, is outside the namespace: PID 0 there.
	for s in TERM USR1 USR2 HUP INT; do
		grep -qx "got $s 1 from 0" "$T/out"
	done
	for k in $kids; do
		! kill -0 "$k" 2>/dev/null || { echo "process $k of the namespace is left"; false; }
	done
}
