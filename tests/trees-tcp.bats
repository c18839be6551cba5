#!/usr/bin/env bats
# A server that forks a child per client (issue 12: inetd, socat
# TCP-LISTEN,fork, preforking servers): the listener held by the parent
# (and by every child when preforking), each established connection by its
# child (and by the parent too when it keeps its copy: one open file
# description, one socket, made once at restore with TCP_REPAIR and
# installed in every process holding it).  Dumped with --kill in the middle
# of a conversation with bytes in flight; after the restore the same client
# connection goes on with the same child and a new client is served by a
# new child.  Root only (TCP_REPAIR).
#
# Tests tagged arch-independent (forking servers (python3) and a dump without
# --kill; the guest restores a tree holding both ends) run on the host only:
# the arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

# start_client PORT: a python3 client outside the image: it connects,
# sends 50000 bytes the server's child does not read before GO ($T/sent
# then), waits for $T/go2, checks their echo, sends 20000 more and checks
# theirs, then connects again (a new child) and checks an echo there; its
# verdict ("ok" or "bad WHY") in $T/result.
start_client() {
	python3 -c '
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
def pat(i, n):
    return bytes(((j * 7 + j // 251) & 0xff) for j in range(i, i + n))
def readn(s, n):
    b = b""
    while len(b) < n:
        x = s.recv(n - len(b))
        if not x:
            raise Exception("end of stream after %d of %d bytes" % (len(b), n))
        b += x
    return b
try:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(pat(0, 50000))
    open(d + "/sent", "w").close()
    while not os.path.exists(d + "/go2"):
        time.sleep(0.01)
    s.settimeout(120)
    if readn(s, 50000) != pat(0, 50000):
        raise Exception("the echo of the bytes sent before the dump differs")
    s.sendall(pat(50000, 20000))
    if readn(s, 20000) != pat(50000, 20000):
        raise Exception("the echo of the bytes sent after the restore differs")
    t = socket.create_connection(("127.0.0.1", port))
    t.settimeout(120)
    t.sendall(b"new client\n")
    if readn(t, 11) != b"new client\n":
        raise Exception("the new connection has a wrong echo")
    t.close()
    s.close()
    r = "ok"
except Exception as e:
    r = "bad %s" % e
open(d + "/result.tmp", "w").write(r + "\n")
os.rename(d + "/result.tmp", d + "/result")
' "$1" "$T" </dev/null >"$T/client.out" 2>&1 3>&- &
	CLIENT=$!
	PIDS+=("$CLIENT")
	wait_file "$T/sent"
}

# children PID: PID's children, one per line.
children() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$1" '{ sub(/ \(.*\) /, " x "); if ($4 == p) print $1 }'
}

# restore_bg: restore $T/img in the background (the server runs on until
# SIGTERM); its output in $T/rout, its PID in RPID.
restore_bg() {
	"$CKPT" restore "$T/img" </dev/null >"$T/rout" 2>&1 3>&- &
	RPID=$!
	PIDS+=("$RPID")
}

# finish: the client's verdict, then SIGTERM to the restored server, whose
# exit status (0) is ckpt restore's.
finish() {
	wait_file "$T/result" || true
	cat "$T/client.out" "$T/result" || true
	[ "$(cat "$T/result")" = ok ]
	kill -TERM "$TPID"
	local st=0
	wait "$RPID" || st=$?
	cat "$T/rout"
	echo "--- target stderr:"
	cat "$T/err"
	[ "$st" -eq 0 ]
	[ ! -s "$T/err" ]
}

# forksrv_case MODE...: the whole round with a client outside the image.
forksrv_case() {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "needs python3"
	start_target forksrv "$@"
	start_client "$(cat "$T/ready.port")"
	wait_for 120 test -n "$(children "$TPID")"
	local c
	for c in $(children "$TPID"); do PIDS+=("$c"); done
	# the child has not read the client's bytes: they are in flight
	dump_kill
	[[ "$output" == *"TCP connection 127.0.0.1:"*"its peer is outside the image"* ]]
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"a IPv4 TCP socket listening on 127.0.0.1:"* ]]
	[[ "$output" == *"a IPv4 TCP connection 127.0.0.1:"*"bytes to read"* ]]
	restore_bg
	touch "$T/go" "$T/go2"
	finish
}

# bats test_tags=arch-independent
@test "trees-tcp: a server forking a child per client: the client's connection goes on with the same child, a new client gets a new child" {
	forksrv_case
}

# bats test_tags=arch-independent
@test "trees-tcp: the same when the parent keeps its copy of each connection (one socket held by parent and child)" {
	forksrv_case keep
}

# bats test_tags=arch-independent
@test "trees-tcp: a preforking server (every child holds the listener too, the parent its copy of the connection)" {
	forksrv_case prefork keep
}

@test "trees-tcp: the client in the tree too: both ends restored, the bytes in flight come back" {
	skip_unless_ptrace
	skip_unless_root
	start_target forksrv inside keep
	local c
	for c in $(children "$TPID"); do PIDS+=("$c"); done
	dump_kill
	[[ "$output" != *"peer is outside"* ]]
	restore_bg
	touch "$T/go"
	wait_file "$T/ready.inside" || true
	[ "$(cat "$T/ready.inside")" = ok ]
	kill -TERM "$TPID"
	local st=0
	wait "$RPID" || st=$?
	cat "$T/rout" "$T/err"
	[ "$st" -eq 0 ]
	[ ! -s "$T/err" ]
}

# bats test_tags=arch-independent
@test "trees-tcp: socat TCP-LISTEN,fork EXEC:cat (a real forking server, its child relaying to cat)" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "needs python3"
	command -v socat >/dev/null || skip "needs socat"
	local port=$((20000 + RANDOM % 20000)) c
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec socat TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork EXEC:cat </dev/null >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_for 120 grep -qi ":$(printf %04X $port) 00000000:0000 0A" /proc/net/tcp
	start_client "$port"
	# socat's child and its cat
	wait_for 120 test -n "$(children "$(children "$TPID")")"
	for c in $(children "$TPID") $(children "$(children "$TPID")"); do PIDS+=("$c"); done
	# cat echoes at once: dump only once the whole echo waits in the
	# client's receive queue (/proc/net/tcp rx_queue 50000), every byte
	# acknowledged; an ACK the client sent after the kill would get a
	# reset (README: a peer outside that sends before the restore)
	wait_for 120 grep -qi ":$(printf %04X $port) 01 00000000:0000C350 " /proc/net/tcp
	# and socat's side has nothing unacknowledged (a delayed ACK due)
	wait_for 120 grep -qi "^ *[0-9]*: 0100007F:$(printf %04X $port) 0100007F:[0-9A-F]* 01 00000000:" /proc/net/tcp
	local kid
	kid=$(children "$TPID")
	dump_kill
	restore_bg
	# the echo already waits at the client: it must not send before the
	# restored socat child runs (its socket out of repair mode)
	wait_for 120 grep -q "^TracerPid:[[:space:]]*0$" "/proc/$kid/status"
	touch "$T/go2"
	wait_file "$T/result" || true
	cat "$T/client.out" "$T/result" || true
	[ "$(cat "$T/result")" = ok ]
	# a new child served the new client: socat's parent is still there
	kill -0 "$TPID"
	kill -TERM "$TPID"
	local st=0
	wait "$RPID" || st=$?
	cat "$T/rout"
	# socat dies of the SIGTERM: ckpt restore says so as a shell would
	[ "$st" -eq 143 ]
}

# bats test_tags=arch-independent
@test "trees-tcp: a dump that does not kill leaves the server, its child and the client's connection as they were" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "needs python3"
	start_target forksrv keep
	start_client "$(cat "$T/ready.port")"
	wait_for 120 test -n "$(children "$TPID")"
	local c
	for c in $(children "$TPID"); do PIDS+=("$c"); done
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go" "$T/go2"
	wait_file "$T/result" || true
	cat "$T/client.out" "$T/result" || true
	[ "$(cat "$T/result")" = ok ]
	kill -TERM "$TPID"
	local st=0
	wait "$TPID" || st=$?
	cat "$T/err"
	[ "$st" -eq 0 ]
	[ ! -s "$T/err" ]
}
