#!/usr/bin/env bats
# Unix sockets across dump and restore: socketpairs of every type with
# their queues, listeners on paths and abstract names serving again,
# datagram sockets bound and connected, options; a socket whose peer is
# outside the image refused by name, one connected to a name outside
# connected to it again.
#
# Tests tagged arch-independent (a dump without --kill, inspect, refusals,
# names outside) run on the host only: the arm64 guest leaves them out
# (tests/run-checks.sh).

load test_helper

@test "unix sockets: queues, messages, shutdowns, closed peers, listeners, bound and connected datagram sockets, options" {
	skip_unless_ptrace
	mkdir "$T/d"
	start_target fd_unix "$T/d"
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "unix sockets: a dump that does not kill leaves every queue and peek offset as it was" {
	skip_unless_ptrace
	mkdir "$T/d"
	start_target fd_unix "$T/d"
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
	# the image restores the same state once the names are free again
	rm "$T/go"
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "inspect: each unix socket, its peer, names, queue and policy" {
	skip_unless_ptrace
	mkdir "$T/d"
	start_target fd_unix "$T/d"
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"a unix stream socket connected to fd 11 of the process; stream connected"*", 13 bytes queued"* ]]
	[[ "$output" == *"a unix datagram socket connected to fd 13 of the process; datagram connected"*", 3105 bytes queued in 3 messages"* ]]
	[[ "$output" == *"a unix stream socket whose peer is closed;"*"shut down both ways"* ]]
	[[ "$output" == *"a unix stream socket listening on \"@ckpt-fd-unix-"* ]]
	[[ "$output" == *"a unix datagram socket bound to \"$T/d/dgram.sock\"; "*"11 bytes queued in 2 messages"* ]]
	run "$CKPT" inspect --json "$T/img"
	[ "$status" -eq 0 ]
	command -v python3 >/dev/null || skip "the JSON half needs python3 (the arm64 guest has none)"
	python3 -c '
import json, sys
fds = {f["fd"]: f for f in json.load(sys.stdin)["files"]}
s = fds[12]
assert s["kind"] == "unix" and s["policy"] == "exact", s
assert s["state"]["type"] == "datagram" and s["state"]["messages"] == 3 and s["state"]["passcred"], s
assert s["data_bytes"] == 3105, s
assert fds[18]["state"]["name"].endswith("/listen.sock"), fds[18]
' <<<"$output"
}

# start_server NAME: a python3 datagram server at $T/NAME outside the
# image, which logs each message it gets to $T/NAME.log.
start_server() {
	python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[2], "a") as log:
    while True:
        log.write(s.recv(100).decode() + "\n")
        log.flush()
' "$T/$1" "$T/$1.log" </dev/null >/dev/null 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
	wait_file "$T/$1.ready"
}

# bats test_tags=arch-independent
@test "a datagram socket connected to a name outside the image is connected to it again (and said so if gone)" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "no python3"
	start_server log.sock
	start_target fd_unix_client dgram "$T/log.sock" 5
	run "$CKPT" -v dump "$TPID" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fd 5 (socket:["*"], a unix datagram socket connected to \"$T/log.sock\" of python3 (PID $SPID), outside the image)"* ]]
	reap "$TPID"
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"socket:["*"outside"* ]]
	# the server restarted meanwhile at the same name: the restored
	# client sends to the new one
	kill "$SPID"
	wait "$SPID" 2>/dev/null || true
	rm -f "$T/log.sock" "$T/log.sock.ready" "$T/log.sock.log"
	start_server log.sock
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "fd 5: sent" ]
	for i in $(seq 100); do [ -s "$T/log.sock.log" ] && break; sleep 0.1; done
	[ "$(cat "$T/log.sock.log")" = "after restore" ]
	# and with nobody at that name: restore says so, the client is unconnected
	kill "$SPID"
	wait "$SPID" 2>/dev/null || true
	rm -f "$T/log.sock"
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img" --ignore-file-changes
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"fd 5 (socket:["*"): cannot connect it to \"$T/log.sock\" again: "*"; it is left unconnected" ]]
	[ "$(tail -1 "$T/out")" = "fd 5: send: Transport endpoint is not connected" ]
}

@test "TCP and UDP sockets: listeners accept again on their ports, bound and connected UDP sockets, options" {
	skip_unless_ptrace
	start_target fd_inet
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"a IPv4 TCP socket listening on 127.0.0.1:"*", backlog 5"* ]]
	[[ "$output" == *"a IPv4 UDP socket bound to 127.0.0.1:"*" connected to 127.0.0.1:"* ]]
	restore_go
	[ "$status" -eq 0 ]
}

@test "socket options beyond the usual: keepalive timers, linger, timeouts, TOS, TTL, priority, congestion control, multicast TTL and loop: the same after restore, a receive timeout at work" {
	skip_unless_ptrace
	start_target fd_sockopts
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"TCP_KEEPIDLE 77 TCP_KEEPINTVL 11 TCP_KEEPCNT 3"* ]]
	[[ "$output" == *"SO_LINGER 1,5 SO_RCVTIMEO 3."*"TCP_CONGESTION reno"* ]]
	restore_go
	[ "$status" -eq 0 ]
}

@test "socket options on a TCP connection of its own and on the one it accepted (inherited from the listener): the same after restore" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_sockopts conn
	dump_kill $(netlock_or_skip)
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "a forged image: a socket option not in ckpt's list (SO_MARK), or one of the wrong length, is a damaged image, not set" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "needs python3"
	start_target fd_sockopts
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
	# the first INET file (kind 19, fd 10): its first ckpt_sockopt comes
	# after its ckpt_fd_inet (72 bytes); name at +4, len at +8
	local sec file state field
	read -r sec file state < <(file_of_kind 19 "$T/img")
	[ -n "$state" ]
	for field in "4 36" "8 5"; do
		cp "$T/img" "$T/bad"
		"$CKPT_TARGETS/imgtool" setfield "$T/bad" $((state + 72 + ${field% *})) 4 "${field#* }"
		run "$CKPT" restore "$T/bad"
		echo "$output"
		[ "$status" -eq 1 ]
		[ "$output" = "ckpt: restore $T/bad: image is corrupted: file section at offset $sec is malformed" ]
	done
}

# bats test_tags=arch-independent
@test "a socket filter (SO_ATTACH_FILTER) on a UDP socket: dump refuses it by name; the process runs on" {
	skip_unless_ptrace
	start_target fd_sockopts filter
	run "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"fd 11 ("*"a socket filter is attached to it"* ]]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

# bats test_tags=arch-independent
@test "a TCP connection: without CAP_NET_ADMIN (TCP_REPAIR) dump refuses it by name" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "no python3"
	command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec python3 -c '
import socket, sys, time
l = socket.create_server(("127.0.0.1", 0))
c = socket.create_connection(l.getsockname())
a, _ = l.accept()
open(sys.argv[1], "w").close()
time.sleep(600)
' "$T/ready" </dev/null >/dev/null 2>&1
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready"
	# root without CAP_NET_ADMIN, or anyone else
	local pre=()
	[ "$(id -u)" != 0 ] || pre=(setpriv --bounding-set=-net_admin --inh-caps=-net_admin)
	run --separate-stderr "${pre[@]}" "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"fd "*" (socket:["*"], a IPv4 TCP connection 127.0.0.1:"*" to 127.0.0.1:"*"): cannot be restored: TCP connections are restored with TCP_REPAIR, which needs CAP_NET_ADMIN: dump and restore as root; --lose-fd "* ]]
	kill -0 "$TPID"
}
