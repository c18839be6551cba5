#!/usr/bin/env bats
# TCP connections after a FIN (TCP_REPAIR, root): a server end the peer
# has shut (CLOSE_WAIT: the process has not read the end yet), a client
# that shut its own side (FIN_WAIT2, and FIN_WAIT1 with its FIN behind
# bytes not sent), both ends in the process or the peer outside the image
# (fd_tcp_fin peer, a process that keeps running): after restore the
# process reads the bytes queued and then the end, writes where it still
# may, and a write on a side it shut fails with EPIPE.
#
# Tests tagged arch-independent (variants of the half-closed states, peers
# outside, refusals; the guest restores every half-closed state within the
# process) run on the host only: the arm64 guest leaves them out
# (tests/run-checks.sh).

load test_helper

# start_peer MODE: fd_tcp_fin's peer outside the image on 127.0.0.1
# (closewait or finwait); its port in PORT, its verdict in $T/peer.out.
start_peer() {
	"$CKPT_TARGETS/fd_tcp_fin" peer "$T/peer.port" "$1" "$T/peer.go" \
		</dev/null >"$T/peer.out" 2>"$T/peer.err" 3>&- &
	PEER=$!
	PIDS+=("$PEER")
	wait_file "$T/peer.port"
	PORT=$(cat "$T/peer.port")
}

@test "tcp fin: within the process, CLOSE_WAIT, FIN_WAIT2, FIN_WAIT1, LAST_ACK and CLOSING (FINs behind unsent bytes) come back: the end after the bytes, writes only where allowed" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_tcp_fin loop
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"CLOSE_WAIT, 3000 bytes to read then the end"* ]]
	[[ "$output" == *"FIN_WAIT2, 0 bytes to read, 2000 written not acknowledged"* || "$output" == *"FIN_WAIT2, 2000 bytes to read"* ]]
	[[ "$output" == *"FIN_WAIT1, 0 bytes to read"*"then its FIN"* ]]
	[[ "$output" == *"LAST_ACK, 700 bytes to read then the end, "*"then its FIN"* ]]
	[[ "$output" == *"CLOSING, 0 bytes to read then the end, "*"then its FIN"* ]]
	restore_go
	[ "$status" -eq 0 ]
	grep -q "fd_tcp_fin: 3000 and [0-9]* bytes read to the end" "$T/err"
}

# bats test_tags=arch-independent
@test "tcp fin: the same over IPv6 (::1)" {
	skip_unless_ptrace
	skip_unless_root
	[ -e /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6 || skip "no IPv6 loopback here"
	start_target fd_tcp_fin loop6
	dump_kill
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"a IPv6 TCP connection [::1]:"*"CLOSE_WAIT, 3000 bytes to read then the end"* ]]
	restore_go
	[ "$status" -eq 0 ]
	grep -q "fd_tcp_fin: 3000 and [0-9]* bytes read to the end" "$T/err"
}

# bats test_tags=arch-independent
@test "tcp fin: the same between IPv6 sockets on ::ffff:127.0.0.1 (dual stack: their segments are IPv4)" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_tcp_fin mapped
	dump_kill
	[[ "$output" != *"peer is outside"* ]]
	restore_go
	[ "$status" -eq 0 ]
	grep -q "fd_tcp_fin: 3000 and [0-9]* bytes read to the end" "$T/err"
}

# bats test_tags=arch-independent
@test "tcp fin: a process that is not root (nobody): root's signed image brings its half-closed connections back (ckpt lends its CAP_NET_ADMIN and CAP_NET_RAW)" {
	skip_unless_ptrace
	skip_unless_root
	setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null || skip "no setpriv"
	start_target_as_nobody fd_tcp_fin loop
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -q "fd_tcp_fin: 3000 and [0-9]* bytes read to the end" "$T/err"
}

# bats test_tags=arch-independent
@test "tcp fin: CLOSE_WAIT with the peer outside (it sent its bytes and shut its side): the process reads them and the end after restore, then writes and closes; the peer gets every byte" {
	skip_unless_ptrace
	skip_unless_root
	start_peer closewait
	start_target fd_tcp_fin closewait "$PORT"
	dump_kill $(netlock_or_skip)
	[[ "$output" == *"its peer is outside the image"* ]]
	# the peer goes on, its connection not reset
	kill -0 "$PEER"
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "5000 7000" ]
	wait "$PEER"
	cat "$T/peer.out" "$T/peer.err"
	[ "$(cat "$T/peer.out")" = "7000 ok" ]
}

# bats test_tags=arch-independent
@test "tcp fin: FIN_WAIT2 with the peer outside: after restore the peer still sends and the process reads to the end; its own writes fail with EPIPE" {
	skip_unless_ptrace
	skip_unless_root
	start_peer finwait
	start_target fd_tcp_fin finwait "$PORT" "$T/peer.go"
	dump_kill $(netlock_or_skip)
	kill -0 "$PEER"
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "6000 4000" ]
	wait "$PEER"
	cat "$T/peer.out" "$T/peer.err"
	[ "$(cat "$T/peer.out")" = "4000 ok" ]
}

# bats test_tags=arch-independent
@test "tcp fin: a dump that does not kill leaves the half-closed connections as they were" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_tcp_fin loop
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

# closewait_image: $T/img of fd_tcp_fin closewait, its peer outside (for
# the tests that forge it; file_of_kind uses python3).
closewait_image() {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "needs python3"
	start_peer closewait
	start_target fd_tcp_fin closewait "$PORT"
	dump_kill $(netlock_or_skip)
}

# bats test_tags=arch-independent
@test "tcp fin: a TCP file whose FIN flags do not match its state is a damaged image" {
	closewait_image
	# the FILE section (type 11) of kind TCP (40): its fflags (+88)
	local sec file state at
	read -r sec file state < <(file_of_kind 40 "$T/img")
	[ -n "$file" ]
	at=$((file + 88))
	[ "$(od -An -tu4 -j "$at" -N4 "$T/img" | tr -d ' ')" = $((0x4000000)) ]
	for v in 0 $((0x8000000)) $((0xc000000)); do
		cp "$T/img" "$T/bad"
		"$CKPT_TARGETS/imgtool" setfield "$T/bad" "$at" 4 "$v"
		run "$CKPT" restore "$T/bad"
		echo "$output"
		[ "$status" -eq 1 ]
		[ "$output" = "ckpt: restore $T/bad: image is corrupted: file section at offset $sec is malformed" ]
	done
	kill "$PEER" 2>/dev/null || true
}

# bats test_tags=arch-independent
@test "tcp fin: an image whose connection's own address is not this machine's is refused by name before a raw segment is sent there" {
	closewait_image
	# the TCP file's ckpt_fd_inet: addr (+16), peer_addr (+32), opts (+56)
	# forged to 192.0.2.77 -> 192.0.2.78 (TEST-NET-1, RFC 5737: on this
	# test machine's own link, so the connect works) with IP_FREEBIND,
	# which lets the bind take an address not on this machine
	local sec file state
	read -r sec file state < <(file_of_kind 40 "$T/img")
	[ -n "$state" ]
	"$CKPT_TARGETS/imgtool" setfield "$T/img" $((state + 16)) 4 $((0x4d0200c0))
	"$CKPT_TARGETS/imgtool" setfield "$T/img" $((state + 32)) 4 $((0x4e0200c0))
	"$CKPT_TARGETS/imgtool" setfield "$T/img" $((state + 56)) 4 $((0x40))
	run --separate-stderr "$CKPT" restore --trust "$T/img"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"ckpt: restore $T/img: fd 10 (socket:["*"]): its address 192.0.2.77:"*" is not one of this machine's: restore gives its FIN segments from its peer's address only to a local one (a raw socket)" ]]
	kill "$PEER" 2>/dev/null || true
}

# bats test_tags=arch-independent
@test "tcp fin: a connection that has ended (CLOSE, the fd held, bytes unread) is refused by name, not restored unconnected; the process runs on" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_tcp_fin ended
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: fd 11 (socket:["*"], a IPv4 TCP socket bound to 127.0.0.1:"*"): cannot be restored: its connection has ended (its reads give the bytes left, then the end or an error), and ckpt would restore it as a socket never connected; --lose-fd 11 or --allow-lost-fds dumps without it (so do fds 12)" ]]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
	[ "$(cat "$T/out")" = "100 0" ]
}
