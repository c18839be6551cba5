#!/usr/bin/env bats
# The progress line of long work: on a terminal (a pty from python3) one
# line redrawn in place with bytes done, rate and time left, cleared at
# the end; nothing with -q, nothing into a file or a pipe.
#
# Arch-independent (the progress line): the host runs it; the arm64 guest
# leaves this file out (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# on_pty CMD...: run CMD with stderr on a pseudo-terminal (stdout to
# /dev/null, or the terminal too with PTY_STDOUT=1); prints what the
# terminal got, escaped (\r, \x1b).
on_pty() {
	python3 - "$@" <<-'EOF'
	import os, pty, select, sys
	pid, fd = pty.fork()
	if pid == 0:
	    if not os.environ.get("PTY_STDOUT"):
	        os.dup2(os.open("/dev/null", os.O_WRONLY), 1)
	    os.execvp(sys.argv[1], sys.argv[1:])
	out = b""
	while True:
	    try:
	        if not select.select([fd], [], [], 300)[0]:
	            break
	        d = os.read(fd, 65536)
	    except OSError:
	        break
	    if not d:
	        break
	    out += d
	_, st = os.waitpid(pid, 0)
	print(repr(out)[2:-1])
	sys.exit(os.waitstatus_to_exitcode(st))
	EOF
}

# A job with 64 MiB that do not compress.
big_job() {
	command -v python3 >/dev/null || skip "python3 is not installed (the terminal is a pty from python3)"
	skip_unless_ptrace
	STEPS_MIB=64 start_target steps 100000 100
}

# stall: stdin to stdout, holding it up for a second after the first MiB:
# work that takes more than half a second whatever the machine.
stall() {
	head -c 1048576
	sleep 1
	cat
}
export -f stall

@test "progress: dump and restore on a terminal show bytes, rate and time left, then clear the line" {
	big_job
	# (pipefail: a failed dump leaves it running, for reap to wait for)
	run on_pty bash -c "set -o pipefail; '$CKPT' dump $TPID -o - --kill | stall >'$T/img'"
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
	# each redraw: back to the start of the line, erase it, write it
	[[ "$output" =~ '\r\x1b[Kckpt: dump '$TPID': '[0-9.]+' '[KMG]iB' of '[0-9.]+' MiB ('[0-9]+'%), '[0-9.]+' '[KMG]iB/s', '[0-9]+' s left' ]]
	# cleared at the end: the last thing written is "erase the line"
	[[ "$output" == *'\r\x1b[K' ]]
	"$CKPT" verify "$T/img"
	run on_pty bash -c "stall <'$T/img' | '$CKPT' restore - --detach"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ '\r\x1b[Kckpt: restore -: '[0-9.]+' '[KMG]iB' of '[0-9.]+' MiB ('[0-9]+'%)' ]]
	[[ "$output" == *'\r\x1b[K' ]]
	PIDS+=("$(pgrep -n -x steps)")
}

@test "progress: nothing with -q, nothing when stderr is a file" {
	big_job
	run on_pty bash -c "'$CKPT' -q dump $TPID -o - | stall >'$T/img'"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run on_pty bash -c "'$CKPT' dump -q $TPID -o - | stall >'$T/img'"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	"$CKPT" dump "$TPID" -o - 2>"$T/err" | stall >"$T/img"
	[ ! -s "$T/err" ]
}

@test "dump -o - refuses to write an image to a terminal" {
	command -v python3 >/dev/null || skip "python3 is not installed (the terminal is a pty from python3)"
	skip_unless_ptrace
	start_target counter 300000000
	PTY_STDOUT=1 run on_pty "$CKPT" dump "$TPID" -o -
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"ckpt: dump $TPID: refusing to write an image to a terminal: use -o FILE, or a pipe"* ]]
	# it was left alone
	kill -0 "$TPID"
	[ "$(grep -c '^TracerPid:	0$' "/proc/$TPID/status")" = 1 ]
}
