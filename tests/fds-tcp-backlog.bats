#!/usr/bin/env bats
# A TCP listener with connections the kernel completed and the process
# has not accepted yet.  No interface puts a connection back into an
# accept queue (TCP_REPAIR refuses listeners), so dump refuses such a
# listener by name; with --allow-lost-fds the listener comes back without
# them: the kill resets them (their clients get ECONNRESET) and restore
# says so, naming the listener.
#
# Arch-independent (a listener's accept queue is refused or dropped in C;
# fds-sockets.bats restores TCP listeners in the guest): the host runs it; the
# arm64 guest leaves this file out (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# start_listener kept|lost: fd_tcp_backlog's listener, with a client
# outside the image (fd_tcp_backlog client) waiting in its accept queue;
# the port in PORT, the client's verdict will be in $T/client.result.
start_listener() {
	(
		wait_file "$T/port" && exec "$CKPT_TARGETS/fd_tcp_backlog" client "$(cat "$T/port")" \
			"$T/client.result"
	) </dev/null >/dev/null 2>&1 3>&- &
	CLIENT=$!
	PIDS+=("$CLIENT")
	start_target fd_tcp_backlog listen "$T/port" "$1"
	PORT=$(cat "$T/port")
}

@test "tcp backlog: a listener with a connection waiting to be accepted is refused by name, and the process and its client go on untouched" {
	skip_unless_ptrace
	skip_unless_root
	start_listener kept
	for kill in "" --kill; do
		run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" $kill
		echo "$stderr"
		[ "$status" -eq 1 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "ckpt: dump $TPID: fd 10 (socket:["*"], a IPv4 TCP socket listening on 127.0.0.1:$PORT): cannot be restored: connections wait to be accepted on it (they would be lost); --allow-lost-fds dumps it without the connections waiting (their clients get a reset), --lose-fd 10 without it" ]]
		[ ! -e "$T/img" ]
	done
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
	wait "$CLIENT" || echo "client: status $?"
	cat "$T/client.result"
	[ "$(cat "$T/client.result")" = end ]
}

@test "tcp backlog: with --allow-lost-fds the listener comes back without them: the client gets a reset at the kill, restore names the listener, the process serves new clients" {
	skip_unless_ptrace
	skip_unless_root
	start_listener lost
	dump_kill --allow-lost-fds
	wait "$CLIENT"
	[ "$(cat "$T/client.result")" = reset ]
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"listening on 127.0.0.1:$PORT, options "*", backlog "*", the connections that waited to be accepted lost"* ]]
	restore_go
	[ "$status" -eq 0 ]
	[[ "$output" == *"ckpt: restore $T/img: warning: fd 10 (socket:["*"], a IPv4 TCP socket listening on 127.0.0.1:$PORT): the connections that waited to be accepted at the dump were not saved (--allow-lost-fds): they are lost, their clients got a reset"* ]]
	grep -q "fd_tcp_backlog: serving" "$T/err"
}

@test "tcp backlog: the lost-connections flag on a listener only: on a TCP socket that does not listen it is a damaged image" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "needs python3"
	start_target fd_tcp small
	dump_kill
	local sec file state
	read -r sec file state < <(file_of_kind 19 "$T/img")
	[ -n "$file" ]
	cp "$T/img" "$T/bad"
	"$CKPT_TARGETS/imgtool" setfield "$T/bad" $((file + 88)) 4 $((0x100000))
	# fd_tcp's listener (kind 19, LISTEN) may carry it (test 2); made a socket that
	# does not listen (state 7), it may not
	"$CKPT_TARGETS/imgtool" setfield "$T/bad" $((state + 12)) 4 7
	run "$CKPT" restore "$T/bad"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "ckpt: restore $T/bad: image is corrupted: file section at offset $sec is malformed" ]
}
