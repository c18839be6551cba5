#!/usr/bin/env bats
# make demo (tests/demo.sh) whatever its output is: a file, a pipe, a
# terminal.  It must finish with the job's right result and show a newcomer
# no line that looks like an error ("Killed", "cannot be restored", ...).
#
# Arch-independent (tests/demo.sh's output; what it dumps and restores, the
# guest's other tests cover): the host runs it; the arm64 guest leaves this
# file out (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# demo_n: a job size that takes about 3 s here and now (1 s at least after
# the dump, which comes after the first progress line, at 0.5 s).
demo_n() {
	local t0 t1 ms
	t0=${EPOCHREALTIME/[.,]/}
	"$CKPT_TARGETS/longjob" 200000000 >/dev/null
	t1=${EPOCHREALTIME/[.,]/}
	ms=$(((t1 - t0) / 1000 + 1))
	echo $((200000000 * 3000 / ms > 200000000 ? 200000000 * 3000 / ms : 200000000))
}

# demo OUTPUT: run the demo with a job of demo_n's size, its output (stdout
# and stderr) to OUTPUT: file, pipe or tty.  Its exit status goes to $st,
# what it printed to $T/demo.log.
demo() {
	local n cmd
	n=$(demo_n)
	cmd=("$CKPT_TOP/tests/demo.sh" "$(dirname "$CKPT")" "$n")
	st=0
	export CKPT_DEMO_LINES=1
	case $1 in
	file) timeout 600 "${cmd[@]}" </dev/null >"$T/demo.log" 2>&1 || st=$? ;;
	pipe) timeout 600 "${cmd[@]}" </dev/null 2>&1 | cat >"$T/demo.log"
	      st=${PIPESTATUS[0]} ;;
	tty) timeout 600 script -qec "${cmd[*]}" /dev/null </dev/null >"$T/demo.log" 2>&1 || st=$? ;;
	esac
	cat -v "$T/demo.log"
	echo "exit status $st"
}

# The job's result is right, and nothing in the demo's output looks like a
# failure.  Not root: ckpt restore's warning that the job gets a new PID,
# which the demo announces, is expected.
check_demo_log() {
	local bad='killed|cannot|error|fail|warning|^ckpt:|unexpected|denied'
	[ "$st" -eq 0 ]
	grep -q '^longjob [0-9]*: result [0-9]* OK' "$T/demo.log"
	grep -q '== restored job exited with status 0' "$T/demo.log"
	! grep -Ei "$bad" "$T/demo.log" | grep -v -e 'killed by the dump, as asked' \
		-e '^note: not root, so ckpt cannot choose PIDs' -e 'gets a new PID'
}

@test "demo: output to a file (make demo > demo.log 2>&1)" {
	skip_unless_ptrace
	demo file
	check_demo_log
}

@test "demo: output to a pipe (make demo | less)" {
	skip_unless_ptrace
	demo pipe
	check_demo_log
}

@test "demo: output to a terminal" {
	skip_unless_ptrace
	script -qec true /dev/null >/dev/null 2>&1 </dev/null ||
		skip "script(1) (util-linux) is not installed: no terminal to run the demo on"
	demo tty
	check_demo_log
}
