#!/usr/bin/env bats
# The network lock (common/netlock.h): dump --kill of a process with a TCP
# connection to a peer outside the image drops that connection's segments
# (an nftables table named after the image) until the restore, so a peer
# that sends while the process is down sees a pause, not a reset.  The
# peer (fd_tcp_lock peer, C) sends 3000 bytes after the kill; after the
# restore the process reads them and answers on the same connection.
#
# Arch-independent (the network lock is nftables rules made in C; fds-tcp.bats
# runs TCP repair in the guest): the host runs it; the arm64 guest leaves this
# file out (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# start_peer 4|6: the peer outside, its port in PORT.
start_peer() {
	"$CKPT_TARGETS/fd_tcp_lock" peer "$T/peer.port" "$1" "$T/pause" "$T/sent" \
		</dev/null >"$T/peer.out" 2>"$T/peer.err" 3>&- &
	PEER=$!
	PIDS+=("$PEER")
	wait_file "$T/peer.port"
	PORT=$(cat "$T/peer.port")
}

# The peer sends while the process is down; a while for a reset to come.
send_in_pause() {
	touch "$T/pause"
	wait_file "$T/sent"
	sleep 1
}

peer_result() {
	wait "$PEER" || true
	echo "--- peer: $(cat "$T/peer.out") $(cat "$T/peer.err")"
}

# True when the tables are those there before the test (BEFORE), or not.
no_new_lock() {
	[ "$(lock_tables)" = "$BEFORE" ]
}
a_new_lock() {
	[ "$(lock_tables)" != "$BEFORE" ]
}

# pair 4|6 4|6|mapped: the peer and the process connected to it; the
# tables there before in BEFORE.
pair() {
	BEFORE=$(lock_tables)
	start_peer "$1"
	start_target fd_tcp_lock dial "$PORT" "$2"
}

# The process was not killed: it and its peer finish their exchange.
runs_on() {
	touch "$T/go" "$T/pause"
	wait "$TPID" || { cat "$T/err"; false; }
	[ "$(cat "$T/out")" = "4000 3500" ]
	peer_result
	[ "$(cat "$T/peer.out")" = "3500 ok" ]
}

lock_test() {
	skip_unless_ptrace
	skip_unless_root
	skip_unless_nft
	pair "$1" "$2"
	dump_kill
	[[ "$output" == *"ckpt: dump $TPID: fd 10 of process $TPID (a IPv"?" TCP connection "*"): its peer is outside the image: its segments are held back until the restore (nftables table inet ckpt_"*"): it sees a pause"* ]]
	a_new_lock
	send_in_pause
	kill -0 "$PEER"
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "4000 3500" ]
	peer_result
	[ "$(cat "$T/peer.out")" = "3500 ok" ]
	# the lock went with the restore
	no_new_lock
}

@test "netlock: a peer outside that sends while the process is down gets no reset: the bytes arrive after restore, on the same connection" {
	lock_test 4 4
}

@test "netlock: the same over IPv6 (::1)" {
	lock_test 6 6
}

@test "netlock: the same for an IPv6 socket talking to ::ffff:127.0.0.1 (IPv4 segments)" {
	lock_test 4 mapped
}

@test "netlock: --network-lock=skip: the peer that sends meanwhile gets a reset (what the lock prevents)" {
	skip_unless_ptrace
	skip_unless_root
	pair 4 4
	dump_kill --network-lock=skip
	[[ "$output" == *"ckpt: dump $TPID: fd 10 of process $TPID (a IPv4 TCP connection 127.0.0.1:"*" to 127.0.0.1:$PORT): its peer is outside the image and the network is not locked (--network-lock=skip): until the restore it sees a pause if it sends nothing, and a reset if it sends"* ]]
	send_in_pause
	peer_result
	[[ "$(cat "$T/peer.err")" == *"Connection reset by peer"* ]]
	restore_go
	[ "$status" -ne 0 ]
}

@test "netlock: without nft, dump --kill refuses by name and the process and its peer go on" {
	skip_unless_ptrace
	skip_unless_root
	pair 4 4
	run --separate-stderr env CKPT_NFT=/nonexistent/nft "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: fd 10 of process $TPID (a IPv4 TCP connection 127.0.0.1:"*" to 127.0.0.1:$PORT): its peer is outside the image, and its segments cannot be held back until the restore (nft not found: the network lock needs Debian's nftables): a peer that sent meanwhile would get a reset; not killed (--network-lock=skip kills it anyway)" ]]
	[ ! -e "$T/img" ]
	runs_on
}

@test "netlock: ckpt killed once the lock is in: the guardian removes it and the process runs on" {
	skip_unless_ptrace
	skip_unless_root
	skip_unless_nft
	pair 4 4
	run env CKPT_KILLPOINT="netlock: locked" "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status: $output"
	[ "$status" -eq 137 ]
	# the guardian is done once the table is gone (it removes it first thing)
	wait_for 60 no_new_lock
	runs_on
}

@test "netlock: a restore that fails leaves the lock, so that the next one still finds the connection; ckpt unlock removes it" {
	skip_unless_ptrace
	skip_unless_root
	skip_unless_nft
	pair 4 4
	dump_kill
	send_in_pause
	run env CKPT_KILLPOINT="restore: stub started" "$CKPT" restore "$T/img"
	echo "status $status: $output"
	[ "$status" -ne 0 ]
	a_new_lock
	kill -0 "$PEER"
	restore_go
	[ "$status" -eq 0 ]
	peer_result
	[ "$(cat "$T/peer.out")" = "3500 ok" ]
	no_new_lock
	# unlock of an image whose lock is gone says so, and is not an error
	run "$CKPT" unlock "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "$T/img: no network lock (nftables table inet ckpt_"*" is gone)" ]]
}

@test "netlock: ckpt unlock gives up the connections of an image not to be restored: the peer's next segment gets a reset" {
	skip_unless_ptrace
	skip_unless_root
	skip_unless_nft
	pair 4 4
	dump_kill
	run "$CKPT" unlock "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	no_new_lock
	send_in_pause
	peer_result
	[[ "$(cat "$T/peer.err")" == *"Connection reset by peer"* ]]
}

@test "netlock: dump -o - killed with its connection in repair mode: the guardian takes it out and the process and its peer go on" {
	skip_unless_ptrace
	skip_unless_root
	pair 4 4
	run bash -c "CKPT_KILLPOINT='tcp: in repair mode' '$CKPT' dump $TPID -o - >'$T/stream'"
	echo "status $status: $output"
	[ "$status" -eq 137 ]
	runs_on
}
