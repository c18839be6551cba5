#!/usr/bin/env bats
# The network lock of listeners (common/netlock.h): dump --kill of a
# server drops the SYNs that open a connection to its listeners (an
# nftables table named after the image) until the restore, so a client
# that connects while the server is down sends its SYN again (the kernel's
# retransmission, tcp_syn_retries) and connects to the restored server,
# where without the lock a port nobody listens on answers with a reset
# (connection refused).  Server and client: fd_tcp_listen_lock (C).
#
# Arch-independent (the network lock is nftables rules made in C; the guest
# has no nft): the host runs it; the arm64 guest leaves this file out
# (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# serve 4|6|any4|any6|any6only: the server (the job), its port in PORT;
# the lock tables there before in BEFORE.
serve() {
	BEFORE=$(lock_tables)
	start_target fd_tcp_listen_lock serve "$T/port" "$1"
	PORT=$(cat "$T/port")
}

# client NAME PORT 4|6: a client (not dumped) connecting; its PID in
# $T/NAME.pid, its result in $T/NAME.result once done.
client() {
	"$CKPT_TARGETS/fd_tcp_listen_lock" client "$2" "$3" "$T/$1.started" "$T/$1.result" \
		</dev/null >/dev/null 2>"$T/$1.err" 3>&- &
	echo $! >"$T/$1.pid"
	PIDS+=($!)
	wait_file "$T/$1.started"
}

# result NAME: the client's result, once it is done.
result() {
	wait_file "$T/$1.result" 300
	cat "$T/$1.result"
}

no_new_lock() {
	[ "$(lock_tables)" = "$BEFORE" ]
}

# The client started while the server was down still waits: its SYNs
# dropped, it sends them again (a reset would have ended its connect at
# once: 1 s is its first retransmission, RFC 6298's initial RTO).
still_connecting() {
	sleep 2
	[ ! -e "$T/$1.result" ]
	kill -0 "$(cat "$T/$1.pid")"
}

# listen_test WAY 4|6: the server listening WAY, killed by the dump; a
# client connecting over IPv4 or IPv6 meanwhile is answered by the
# restored server.
listen_test() {
	skip_unless_ptrace
	skip_unless_root
	skip_unless_nft
	serve "$1"
	dump_kill -v
	[[ "$output" == *"the TCP listener on "*":$PORT is locked until the restore (nftables table inet ckpt_"* ]]
	client c "$PORT" "$2"
	still_connecting c
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "served" ]
	[ "$(result c)" = "answer hello" ]
	# the lock went with the restore
	no_new_lock
}

@test "listener lock: a client that connects to 127.0.0.1 while the server is down connects to the restored server" {
	listen_test 4 4
}

@test "listener lock: the same on ::1" {
	listen_test 6 6
}

@test "listener lock: the same for a listener on 0.0.0.0" {
	listen_test any4 4
}

@test "listener lock: the same for a listener on :: (IPv6 and IPv4), its client on 127.0.0.1" {
	listen_test any6 4
}

@test "listener lock: the same for a listener on :: with IPV6_V6ONLY, its client on ::1" {
	listen_test any6only 6
}

@test "listener lock: --network-lock=skip: the client that connects while the server is down is refused (what the lock prevents)" {
	skip_unless_ptrace
	skip_unless_root
	serve 4
	dump_kill --network-lock=skip
	client c "$PORT" 4
	[ "$(result c)" = "refused" ]
}

@test "listener lock: only the job's listeners: a server outside the image answers at once meanwhile" {
	skip_unless_ptrace
	skip_unless_root
	skip_unless_nft
	# the other server, not dumped: on 127.0.0.1, while the job takes
	# every address (0.0.0.0) on its own port
	: >"$T/other.go"
	CKPT_READY=$T/other.ready CKPT_GO=$T/other.go "$CKPT_TARGETS/fd_tcp_listen_lock" serve \
		"$T/other.port" 4 </dev/null >"$T/other.out" 2>"$T/other.err" 3>&- &
	PIDS+=($!)
	wait_file "$T/other.ready"
	serve any4
	dump_kill
	client c "$PORT" 4
	client o "$(cat "$T/other.port")" 4
	[ "$(result o)" = "answer hello" ]
	still_connecting c
	restore_go
	[ "$status" -eq 0 ]
	[ "$(result c)" = "answer hello" ]
	no_new_lock
}

@test "listener lock: without nft, dump --kill of a server goes on (not refused): a client meanwhile is refused" {
	skip_unless_ptrace
	skip_unless_root
	serve 4
	run --separate-stderr env CKPT_NFT=/nonexistent/nft "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	reap "$TPID"
	client c "$PORT" 4
	[ "$(result c)" = "refused" ]
}

# True once process $1 is stopped (state T).
stopped() {
	[ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" = T ]
}

@test "listener lock: a client that connected while the image was written makes dump --kill refuse (the kill would reset it); the server runs on and answers it" {
	skip_unless_ptrace
	skip_unless_root
	skip_unless_nft
	serve 4
	# ckpt stops itself once the image is written, before the lock
	CKPT_KILLSIG=19 CKPT_KILLPOINT="image: renamed" "$CKPT" dump "$TPID" -o "$T/img" --kill \
		>"$T/dump.out" 2>"$T/dump.err" &
	local dpid=$! st=0
	PIDS+=("$dpid")
	wait_for 120 stopped "$dpid"
	# the kernel completes its handshake: it waits in the accept queue
	client c "$PORT" 4
	sleep 1
	kill -CONT "$dpid"
	wait "$dpid" || st=$?
	cat "$T/dump.err"
	[ "$st" -eq 1 ]
	[[ "$(cat "$T/dump.err")" == "ckpt: dump $TPID: fd 10 of process $TPID (a IPv4 TCP socket listening on 127.0.0.1:$PORT): a client connected while the image was written, which the image does not hold (the kill would reset it): not killed, dump again" ]]
	no_new_lock
	touch "$T/go"
	[ "$(result c)" = "answer hello" ]
	wait "$TPID"
	[ "$(cat "$T/out")" = "served" ]
}

@test "listener lock: dump -o - killed once the lock is in: its guardian removes the lock and the server runs on" {
	skip_unless_ptrace
	skip_unless_root
	skip_unless_nft
	serve 4
	run bash -c "CKPT_KILLPOINT='netlock: locked' '$CKPT' dump $TPID -o - --kill >'$T/stream'"
	echo "status $status: $output"
	[ "$status" -eq 137 ]
	# the guardian is done once the table is gone (it removes it first thing)
	wait_for 60 no_new_lock
	kill -0 "$TPID"
	client c "$PORT" 4
	touch "$T/go"
	[ "$(result c)" = "answer hello" ]
	wait "$TPID"
	[ "$(cat "$T/out")" = "served" ]
}
