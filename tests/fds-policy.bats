#!/usr/bin/env bats
# What cannot be restored exactly is never replaced silently: fds 0-2
# that lead outside the image get ckpt restore's own, saying so; other
# such fds make dump refuse by name unless the loss is accepted
# (--allow-lost-fds, --lose-fd), and then restore says what was lost.
#
# Arch-independent (which fds are refused, lost or replaced is policy in C;
# fds-*.bats dump and restore each kind in the guest): the host runs it; the
# arm64 guest leaves this file out (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# start_held FD FILE ARGS...: fd_hold ARGS whose fd FD is a pipe to a
# `cat >FILE` outside the image (FD "" for none): cat is the test's
# child, not the target's (a child of the target is in its image).
start_held() {
	local fd=$1 file=$2 held=
	shift 2
	if [ -n "$fd" ]; then
		exec {held}> >(exec cat >"$file")
		PIDS+=("$!")
	fi
	(
		for f in /proc/$BASHPID/fd/*; do
			f=${f##*/}
			[ "$f" -gt 2 ] && [ "$f" != "$held" ] && eval "exec $f>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		exec </dev/null >"$T/out" 2>"$T/err"
		[ -n "$fd" ] && eval "exec \"\$CKPT_TARGETS/fd_hold\" \"\$@\" $fd>&$held $held>&-"
		exec "$CKPT_TARGETS/fd_hold" "$@"
	) &
	TPID=$!
	PIDS+=("$TPID")
	[ -z "$held" ] || exec {held}>&-
	wait_file "$T/ready" || { cat "$T/err" >&2; return 1; }
}

# The process is running (not stopped, not gone).
running() {
	local s
	s=$(sed -n 's/^State:\t\(.\).*/\1/p' "/proc/$1/status")
	[ "$s" = S ] || [ "$s" = R ]
}

@test "fd 1 a pipe to a process outside: dump -v says so, restore gives it ckpt restore's own fd 1 in one line" {
	skip_unless_ptrace
	start_held 1 "$T/piped" 1
	run "$CKPT" -v dump "$TPID" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fd 1 (pipe:["*"], the write end of a pipe shared with cat (PID "*"), outside the image): outside the image: restore gives it its own fd 1"* ]]
	reap "$TPID"
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"outside the image: restore gives it its own fd 1"* ]]
	touch "$T/go"
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img"
	echo "status $status, stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "fd_hold: fd 1" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore $T/img: fd 1 (pipe:["*"], the write end of a pipe shared with cat (PID "*"), outside the image) led outside the image: it gets ckpt restore's own fd 1 (a pipe)" ]]
	# what was written before the dump reached cat, nothing after it
	[ ! -s "$T/piped" ]
}

@test "fd 5 a pipe to a process outside: dump refuses in one line naming it, the process runs on untouched" {
	skip_unless_ptrace
	start_held 5 "$T/five" 5
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: dump $TPID: fd 5 (pipe:["*"], the write end of a pipe shared with cat (PID "*"), outside the image): cannot be restored: the pipe is shared with a process outside the image; --lose-fd 5 or --allow-lost-fds dumps without it" ]]
	[ ! -e "$T/img" ]
	running "$TPID"
	touch "$T/go"
	wait "$TPID"
	for i in $(seq 100); do [ -s "$T/five" ] && break; sleep 0.05; done
	[ "$(cat "$T/five")" = "fd_hold: fd 5" ]
}

@test "--allow-lost-fds: fd 5 (a pipe to a process outside) is lost, restore says so and gives it /dev/null" {
	skip_unless_ptrace
	start_held 5 "$T/five" 5
	dump_kill --allow-lost-fds
	run "$CKPT" inspect --json "$T/img"
	[[ "$output" == *'"policy": "lost"'* ]]
	touch "$T/go"
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore $T/img: warning: fd 5 (pipe:["*"], the write end of a pipe shared with cat (PID "*"), outside the image) was not saved by the dump (--allow-lost-fds, --lose-fd): it is /dev/null" ]]
	[ ! -s "$T/five" ]
}

# start_stream_server: a python3 unix stream server at $T/srv.sock
# outside the image, holding every connection it accepts.
start_stream_server() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(8)
open(sys.argv[1] + ".ready", "w").close()
held = []
while True:
    held.append(s.accept()[0])
' "$T/srv.sock" </dev/null >/dev/null 2>&1 &
	PIDS+=("$!")
	wait_file "$T/srv.sock.ready"
}

@test "unix sockets connected to a process outside: dump refuses, naming both fds; --lose-fd for each lets it go on, and restore says so" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "no python3"
	start_stream_server
	start_target fd_unix_client stream "$T/srv.sock" 5 6
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"fd 5 (socket:["*"], a unix stream socket connected to \"$T/srv.sock\" of python3 (PID "*"), outside the image): cannot be restored: its peer is outside the image; --lose-fd 5 or --allow-lost-fds dumps without it (so do fds 6)" ]]
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill --lose-fd 5
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"fd 6 (socket:["*"], a unix stream socket connected to "*"): cannot be restored"* ]]
	running "$TPID"
	dump_kill --lose-fd 5 --lose-fd 6
	touch "$T/go"
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[[ "${stderr_lines[0]}" == *"fd 5 (socket:["*"], a unix stream socket connected to "*", outside the image) was not saved by the dump"*"it is /dev/null" ]]
	[[ "${stderr_lines[1]}" == *"fd 6 (socket:["*"]"* ]]
}

@test "--lose-fd on a restorable fd drops it too; on a missing fd, a warning" {
	skip_unless_ptrace
	start_target fd_pipe
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill --lose-fd 19 --lose-fd 99
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "ckpt: dump $TPID: warning: --lose-fd 99: the process has no fd 99" ]
	reap "$TPID"
	run "$CKPT" inspect --json "$T/img"
	[[ "$output" == *'"policy": "lost"'* ]]
}

@test "a pipe to another process of the image (a tree): restored connected, not apart in each" {
	skip_unless_ptrace
	skip_unless_root
	# cat is the target's child here: in its image (it was refused by
	# name until files shared across a tree were one FILE)
	(
		for f in /proc/$BASHPID/fd/*; do
			f=${f##*/}
			[ "$f" -gt 2 ] && eval "exec $f>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		exec </dev/null >"$T/out" 2>"$T/err"
		exec 9> >(exec cat >"$T/five")
		exec "$CKPT_TARGETS/fd_hold" 5 5>&9 9>&-
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready"
	PIDS+=($(cat /proc/"$TPID"/task/*/children))
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 0 ]
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
	# the restored cat got the line through the restored pipe, then EOF
	local i
	for i in $(seq 400); do
		[ "$(cat "$T/five")" = "fd_hold: fd 5" ] && break
		sleep 0.05
	done
	[ "$(cat "$T/five")" = "fd_hold: fd 5" ]
}
