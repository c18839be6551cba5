#!/usr/bin/env bats
# Terminals across dump and restore: pty pairs a process holds.

load test_helper

@test "pty pairs held by the process: raw mode, window size, lock, packet mode, closed slave, the bytes buffered both ways" {
	skip_unless_ptrace
	start_target fd_pty
	dump_kill -v
	[[ "$output" == *"bytes buffered for the master"* ]]
	restore_go -v
	[ "$status" -eq 0 ]
	# the new pty's number is said
	[[ "$output" == *"pty "*" is pty "*" now: its slave /dev/pts/"* ]]
}

@test "pty pairs: a dump that does not kill leaves every queue, mode and line being typed as it was" {
	skip_unless_ptrace
	start_target fd_pty
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

@test "pty pairs: inspect shows each master and slave with its pty, mode and queues" {
	skip_unless_ptrace
	start_target fd_pty
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"132x40, raw"* ]]
	[[ "$output" == *"canonical echo"* ]]
	[[ "$output" == *"locked, packet mode"* ]]
	[[ "$output" == *"slave closed"* ]]
	[[ "$output" == *"9 bytes for the master, 8 for the slave"* ]]
}

@test "pty pairs: a pty whose slave a process outside the image holds is refused by name" {
	skip_unless_ptrace
	start_target fd_pty
	pts=$(head -1 "$T/out")
	[[ "$pts" == /dev/pts/* ]]
	sleep 1000 <"$pts" &
	HOLDER=$!
	PIDS+=("$HOLDER")
	# the holder has the slave open before the dump looks
	while [ "$(readlink /proc/$HOLDER/fd/0)" != "$pts" ]; do sleep 0.05; done
	run --separate-stderr "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"fd 10 (/dev/ptmx, the master of pty ${pts#/dev/pts/}, whose slave $pts sleep (PID $HOLDER) holds, outside the image): cannot be restored: the pty's slave is held by a process outside the image; --lose-fd 10 or --allow-lost-fds dumps without it"* ]]
	# the target runs on, its pty untouched
	kill "$HOLDER"
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}
