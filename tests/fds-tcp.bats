#!/usr/bin/env bats
# Established TCP connections across dump and restore (TCP_REPAIR, root):
# a connection between two fds of the process with bytes in flight both
# ways (some not even sent), a connection to a peer outside the image that
# keeps running and sees the stream go on with no byte lost or doubled,
# and redis-server dumped with a client connected, which goes on using
# the same connection after the restore.
#
# Tests tagged arch-independent (IPv6 and dual-stack variants, credentials,
# refusals, damaged images, redis; the guest repairs a connection within the
# process and one to a peer outside) run on the host only: the arm64 guest
# leaves them out (tests/run-checks.sh).

load test_helper

setup_file() {
	export PORTS_BASE=$((20000 + RANDOM % 20000))
}

@test "tcp: a connection within the process, bytes in flight both ways (queued, unacknowledged, unsent), comes back whole" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_tcp loop
	dump_kill
	# both ends are in the image: nothing to say of a peer outside
	[[ "$output" != *"peer is outside"* ]]
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *" tcp "*"a IPv4 TCP connection 127.0.0.1:"*"bytes to read"*"not sent"* ]]
	restore_go
	[ "$status" -eq 0 ]
	grep -q "bytes client to server" "$T/err"
}

# bats test_tags=arch-independent
@test "tcp: the same over IPv6 (::1)" {
	skip_unless_ptrace
	skip_unless_root
	[ -e /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6 || skip "no IPv6 loopback here"
	start_target fd_tcp loop6
	dump_kill
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"a IPv6 TCP connection [::1]:"* ]]
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "tcp: an IPv6 listener on ::ffff:127.0.0.1 and its IPv4 client (a JVM's way): one connection within the image, not a peer outside" {
	skip_unless_ptrace
	skip_unless_root
	[ -e /proc/net/if_inet6 ] || skip "no IPv6 here"
	start_target fd_tcp mixed
	dump_kill
	# the two ends name each other in two families (::ffff:127.0.0.1
	# and 127.0.0.1): still one connection, both ends in the image
	[[ "$output" != *"peer is outside"* ]]
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"a IPv6 TCP connection [::ffff:127.0.0.1]:"* ]]
	[[ "$output" == *"a IPv4 TCP connection 127.0.0.1:"* ]]
	restore_go
	[ "$status" -eq 0 ]
	grep -q "bytes client to server" "$T/err"
}

# bats test_tags=arch-independent
@test "tcp: a process that is not root (nobody): root's signed image brings its connections back (ckpt lends CAP_NET_ADMIN to make them)" {
	skip_unless_ptrace
	skip_unless_root
	setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null || skip "no setpriv"
	start_target_as_nobody fd_tcp loop
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
	grep -q "bytes client to server" "$T/err"
}

# bats test_tags=arch-independent
@test "tcp: a dump that does not kill leaves the connections as they were" {
	skip_unless_ptrace
	skip_unless_root
	start_target fd_tcp loop
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

# start_peer: a python3 echo server outside the image on 127.0.0.1, that
# checks the stream it gets (fd_tcp's pattern) and, at its end, writes
# "BYTES ok" (or "BYTES bad AT") to $T/peer.result; its port in $PORT.
start_peer() {
	python3 -c '
import socket, sys
def pattern(i):
    return (i * 7 + i // 251) & 0xff
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
open(sys.argv[1] + ".port", "w").write(str(l.getsockname()[1]))
c, _ = l.accept()
got, bad = 0, None
while True:
    b = c.recv(65536)
    if not b:
        break
    for i, x in enumerate(b):
        if bad is None and x != pattern(got + i):
            bad = got + i
    got += len(b)
    c.sendall(b)
open(sys.argv[1] + ".tmp", "w").write("%d %s\n" % (got, "ok" if bad is None else "bad %d" % bad))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
' "$T/peer.result" </dev/null >"$T/peer.out" 2>&1 3>&- &
	PEER=$!
	PIDS+=("$PEER")
	wait_file "$T/peer.result.port"
	PORT=$(cat "$T/peer.result.port")
}

@test "tcp: a connection to a peer outside the image that keeps running: it sees a pause, no byte lost or doubled" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "needs python3"
	start_peer
	start_target fd_tcp peer "$PORT"
	dump_kill
	[[ "$output" == *"ckpt: dump $TPID: fd 10 of process $TPID (a IPv4 TCP connection 127.0.0.1:"*" to 127.0.0.1:$PORT): its peer is outside the image: its segments are held back until the restore (nftables table inet ckpt_"*"): it sees a pause"* ]]
	# the peer runs on meanwhile, its connection not reset
	kill -0 "$PEER"
	restore_go
	[ "$status" -eq 0 ]
	wait_file "$T/peer.result"
	cat "$T/peer.result"
	[ "$(cat "$T/peer.result")" = "262144 ok" ]
	[ "$(cat "$T/out")" = 262144 ]
}

# bats test_tags=arch-independent
@test "tcp: restore needs the connection's addresses free: with the dumped process still running it fails by name" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "needs python3"
	start_peer
	start_target fd_tcp peer "$PORT"
	run "$CKPT" dump "$TPID" -o "$T/img"
	[ "$status" -eq 0 ]
	run --separate-stderr "$CKPT" restore "$T/img"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore $T/img: fd 10 (socket:["*"]): cannot connect it from 127.0.0.1:"*" to 127.0.0.1:$PORT again (that connection exists: does the dumped process still run?): Cannot assign requested address" ]]
	# and the process and its peer go on untouched
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
	wait_file "$T/peer.result"
	[ "$(cat "$T/peer.result")" = "262144 ok" ]
}

# bats test_tags=arch-independent
@test "tcp: redis-server dumped with a client connected answers on the same connection after restore, with its data" {
	skip_unless_ptrace
	skip_unless_root
	command -v redis-server >/dev/null || skip "redis-server is not installed (tests/deps.sh installs it)"
	command -v python3 >/dev/null || skip "needs python3"
	local port=$PORTS_BASE rpid
	mkdir "$T/redis"
	(
		# only 0-2, as start_target: bats's own fds are not redis's
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		cd "$T/redis" && exec redis-server --port "$port" --bind 127.0.0.1 --save "" \
			--appendonly no --daemonize no </dev/null >"$T/redis.log" 2>&1
	) &
	rpid=$!
	PIDS+=("$rpid")
	# a client with one connection: SETs, then (after restore) GETs on it
	python3 -c '
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
for _ in range(600):
    try:
        s = socket.create_connection(("127.0.0.1", port))
        break
    except OSError:
        time.sleep(0.1)
f = s.makefile("rb")
def cmd(*a):
    s.sendall(("*%d\r\n" % len(a) + "".join("$%d\r\n%s\r\n" % (len(x), x) for x in a)).encode())
    line = f.readline()
    if not line:
        raise SystemExit("connection closed")
    if line.startswith(b"$") and int(line[1:]) >= 0:
        line += f.read(int(line[1:]) + 2)
    return line
for i in range(100):
    assert cmd("SET", "k%d" % i, "v%d" % (i * i)) == b"+OK\r\n"
me = s.getsockname()
open(d + "/set", "w").write("%s:%d\n" % me)
while not os.path.exists(d + "/go"):
    time.sleep(0.05)
for i in range(100):
    r = cmd("GET", "k%d" % i)
    assert r == b"$%d\r\nv%d\r\n" % (len("v%d" % (i * i)), i * i), r
assert s.getsockname() == me
print("100 keys read back on the same connection")
' "$port" "$T/redis" </dev/null >"$T/client.out" 2>&1 3>&- &
	local client=$!
	PIDS+=("$client")
	wait_file "$T/redis/set"
	TPID=$rpid
	dump_kill
	run "$CKPT" restore --detach "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	PIDS+=($(echo "$output" | grep -o '[0-9]\+' | tail -1))
	touch "$T/redis/go"
	wait "$client" || { cat "$T/client.out" "$T/redis.log"; false; }
	cat "$T/client.out"
	grep -q "100 keys read back on the same connection" "$T/client.out"
}

# bats test_tags=arch-independent
@test "tcp: a dump killed while a connection is in repair mode leaves it live (the guardian takes it out)" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "needs python3"
	local point
	for point in "tcp: in repair mode" "tcp: repaired for the kill"; do
		rm -f "$T/ready" "$T/go" "$T/peer.result"*
		start_peer
		start_target fd_tcp peer "$PORT"
		run env CKPT_KILLPOINT="$point" "$CKPT" dump "$TPID" -o "$T/img" --kill
		echo "$point: status $status: $output"
		[ "$status" -eq 137 ]
		# the guardian is done once the process runs on: it sends and gets its echo
		touch "$T/go"
		wait "$TPID" || { cat "$T/err"; false; }
		wait_file "$T/peer.result"
		[ "$(cat "$T/peer.result")" = "262144 ok" ]
	done
}

# bats test_tags=arch-independent
@test "tcp: a TCP file whose queues do not add up to its data, or whose unsent bytes exceed its send queue, is a damaged image" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "needs python3"
	start_target fd_tcp loop
	dump_kill
	# the first FILE section (type 11) of kind TCP (40): where its
	# ckpt_fd_tcp starts (after ckpt_file, the path and ckpt_fd_inet)
	local off sec file state
	read -r sec file state < <(file_of_kind 40 "$T/img")
	[ -n "$state" ]
	off=$((state + 72))
	# inq_len (+8) one more; unsent_len (+16) past outq_len
	for field in "8 1" "16 4294967295"; do
		cp "$T/img" "$T/bad"
		local at=$((off + ${field% *})) v=${field#* }
		[ "${field% *}" = 8 ] && v=$(( $(od -An -tu4 -j "$at" -N4 "$T/img") + 1 ))
		"$CKPT_TARGETS/imgtool" setfield "$T/bad" "$at" 4 "$v"
		run "$CKPT" restore "$T/bad"
		echo "$output"
		[ "$status" -eq 1 ]
		[ "$output" = "ckpt: restore $T/bad: image is corrupted: file section at offset $sec is malformed" ]
	done
}
