#!/usr/bin/env bats
# The progress line of long work: on a terminal (a pty from python3) one
# line redrawn in place with bytes done, rate and time left, cleared at
# the end; nothing with -q, nothing into a file or a pipe.

load test_helper

# on_pty CMD...: run CMD with stderr on a pseudo-terminal (stdout to
# /dev/null); prints what the terminal got, escaped (\r, \x1b).
on_pty() {
	python3 - "$@" <<-'EOF'
	import os, pty, select, sys
	pid, fd = pty.fork()
	if pid == 0:
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

# A job with 384 MiB that do not compress: dumps and restores of it take
# a second or more, past the half second before the line shows.
big_job() {
	command -v python3 >/dev/null || skip "python3 is not installed (the terminal is a pty from python3)"
	skip_unless_ptrace
	STEPS_MIB=384 start_target steps 100000 100
}

@test "progress: dump and restore on a terminal show bytes, rate and time left, then clear the line" {
	big_job
	run on_pty "$CKPT" dump "$TPID" -o "$T/img" --compress zstd --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
	# each redraw: back to the start of the line, erase it, write it
	[[ "$output" =~ '\r\x1b[Kckpt: dump '$TPID': '[0-9.]+' '[KMG]iB' of '[0-9.]+' MiB ('[0-9]+'%), '[0-9.]+' '[KMG]iB/s', '[0-9]+' s left' ]]
	# cleared at the end: the last thing written is "erase the line"
	[[ "$output" == *'\r\x1b[K' ]]
	run on_pty "$CKPT" restore "$T/img" --detach
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ckpt:\ restore\ $T/img:\ [0-9.]+\ [KMG]iB\ of\ [0-9.]+\ MiB ]]
	PIDS+=("$(grep -o '^[0-9]*' <<<"$output" | tail -n 1)")
}

@test "progress: nothing with -q, nothing when stderr is a file" {
	big_job
	run on_pty "$CKPT" -q dump "$TPID" -o "$T/img" --compress zstd
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run on_pty "$CKPT" dump -q "$TPID" -o "$T/img" --compress zstd
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	"$CKPT" dump "$TPID" -o "$T/img" --compress zstd 2>"$T/err"
	[ ! -s "$T/err" ]
}
