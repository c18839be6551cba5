#!/usr/bin/env bats
# A TCP connection being opened (SYN_SENT: a non-blocking connect(2) whose
# SYNs a listener with a full accept queue drops) across dump and restore:
# restore connects it again with the same port and the SYN's sequence
# number, and once the peer accepts, the process's connect completes and
# the two talk.  Target tests/targets/fd_tcp_syn.c (its peer is C).
#
# Tests tagged arch-independent (a blocked connect, a dump without --kill; the
# guest restores a connect in progress) run on the host only: the arm64 guest
# leaves them out (tests/run-checks.sh).

load test_helper

# start_peer: the listener outside, its queue full; its port in PORT.
start_peer() {
	"$CKPT_TARGETS/fd_tcp_syn" peer "$T/peer.port" "$T/accept" \
		</dev/null >"$T/peer.out" 2>"$T/peer.err" 3>&- &
	PEER=$!
	PIDS+=("$PEER")
	wait_file "$T/peer.port"
	PORT=$(cat "$T/peer.port")
}

peer_ok() {
	wait "$PEER" || true
	cat "$T/peer.out" "$T/peer.err"
	[ "$(cat "$T/peer.out")" = ok ]
}

# The peer accepts, the restored process's connect completes, they talk.
completes_after_restore() {
	touch "$T/accept"
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = ok ]
	peer_ok
}

@test "syn: a connect in progress (SYN_SENT) to a peer outside: after restore it completes once the peer accepts, same port, and the two talk" {
	skip_unless_ptrace
	skip_unless_root
	start_peer
	start_target fd_tcp_syn dial "$PORT"
	dump_kill $(netlock_or_skip)
	[[ "$output" == *"fd 10 of process $TPID (a IPv4 TCP connection 127.0.0.1:"*" to 127.0.0.1:$PORT, being opened (SYN_SENT)): its peer is outside the image"* ]]
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"being opened (SYN_SENT)"* ]]
	completes_after_restore
}

# bats test_tags=arch-independent
@test "syn: a thread blocked in connect (a blocking socket in SYN_SENT): after restore its connect returns 0 once the peer accepts" {
	skip_unless_ptrace
	skip_unless_root
	start_peer
	start_target fd_tcp_syn dialblock "$PORT"
	dump_kill $(netlock_or_skip)
	[[ "$output" == *"being opened (SYN_SENT)"* ]]
	completes_after_restore
}

# bats test_tags=arch-independent
@test "syn: a dump that does not kill leaves the connect in progress as it was" {
	skip_unless_ptrace
	skip_unless_root
	start_peer
	start_target fd_tcp_syn dial "$PORT"
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/accept" "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
	[ "$(cat "$T/out")" = ok ]
	peer_ok
}
