#!/usr/bin/env bats
# Terminals across dump and restore: pty pairs a process holds.
#
# Tests tagged arch-independent (a dump without --kill, inspect, refusals,
# controlling terminals outside and script/tmux sessions; the guest restores
# pty pairs, a pty of the image as controlling terminal and device nodes) run
# on the host only: the arm64 guest leaves them out (tests/run-checks.sh).

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

# bats test_tags=arch-independent
@test "pty pairs: a dump that does not kill leaves every queue, mode and line being typed as it was" {
	skip_unless_ptrace
	start_target fd_pty
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

# bats test_tags=arch-independent
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

# bats test_tags=arch-independent
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

# In a subshell about to exec: only 0-2, bats's own descriptors closed.
only_std_fds() {
	local fd
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
}

# start_in_pty NAME [sh]: target NAME as the session leader of a new pty
# made by script(1) (the pty's master outside the image), its input a
# FIFO that stays open; sets SPID (script) and TPID (the target).  With
# "sh": run by script's sh -c, which stays (SH) and leads the target's
# process group, the terminal's foreground one.
start_in_pty() {
	command -v script >/dev/null || skip "no script(1) (Debian package bsdutils)"
	local cmd="exec $CKPT_TARGETS/$1"
	[ "${2:-}" != sh ] || cmd="$CKPT_TARGETS/$1; :"
	mkfifo "$T/in"
	(
		only_std_fds
		export CKPT_READY=$T/ready CKPT_GO=$T/go SHELL=/bin/sh
		exec script -qfec "$cmd" /dev/null <>"$T/in" >"$T/out1" 2>&1
	) &
	SPID=$!
	PIDS+=("$SPID")
	wait_file "$T/ready" || { cat "$T/out1" >&2; return 1; }
	TPID=$(pgrep -P "$SPID")
	if [ "${2:-}" = sh ]; then
		SH=$TPID
		TPID=$(pgrep -P "$SH")
		PIDS+=("$SH")
	fi
	PIDS+=("$TPID")
}

# bats test_tags=arch-independent
@test "controlling terminal outside the image: restored from another terminal, a session leader leads a new session on it, foreground, in the raw mode it set, and gets SIGWINCH" {
	skip_unless_ptrace
	skip_unless_root
	start_in_pty tty_ctty
	run "$CKPT" dump "$TPID" -o "$T/img" --kill -v
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"controlling terminal 136:"*", foreground group $TPID"* ]]
	wait "$SPID" || true	# script ends with its child: the PID is free
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"terminal  device 136:"*", foreground group $TPID"* ]]
	touch "$T/go"
	# the restoring terminal: another pty of script's
	run timeout 300 script -qfec "exec $CKPT restore -v $T/img" /dev/null <>"$T/in"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"the terminal has its termios again (raw, no echo)"* ]]
	[[ "$output" == *"tty_ctty: now on /dev/pts/"* ]]
	[[ "$output" != *FAIL* ]]
}

# bats test_tags=arch-independent
@test "controlling terminal outside the image: restored without a terminal, it has none, and restore says so" {
	skip_unless_ptrace
	start_in_pty tty_ctty
	dump_kill
	wait "$SPID" || true
	touch "$T/go"
	run --separate-stderr timeout 300 "$CKPT" restore "$T/img" </dev/null
	echo "status $status, stderr: $stderr"
	# the target finds no terminal: it fails, and restore said why
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"process $TPID had a controlling terminal; ckpt restore has none: it has none now"* ]]
}

# tmux on a server of this test's; the panes' shells get ckpt's key.
tm() {
	tmux -S "$T/tmux.sock" "$@"
}

# pane_shows PANE TEXT: the pane's screen has a line TEXT
pane_shows() {
	tm capture-pane -p -t "$1" | grep -qxF -- "$2"
}

# bats test_tags=arch-independent
@test "python3 REPL in tmux: dumped in one pane, restored in another by ckpt restore run there; no double echo, its variables kept" {
	skip_unless_ptrace
	command -v tmux >/dev/null || skip "no tmux (Debian package tmux; tests/deps.sh test installs it)"
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	# (no history file: a shell ending with the server wrote $T/.bash_history
	# while teardown removed $T)
	local sh="env -i PATH=/usr/bin:/bin TERM=xterm HOME=$T HISTFILE=/dev/null CKPT_KEY_FILE=$CKPT_KEY_FILE PS1=ckpt$ /bin/bash --norc --noprofile"
	(
		only_std_fds
		exec tmux -S "$T/tmux.sock" new-session -d -x 120 -y 30 -s ckpt "$sh"
	)
	PIDS+=("$(tm display -p '#{pid}')")
	local p1 p2 py rs
	p1=$(tm display -p -t ckpt:0 '#{pane_pid}')
	tm send-keys -t ckpt:0 '/usr/bin/python3 -q' Enter
	wait_for 60 pane_shows ckpt:0 '>>>'
	tm send-keys -t ckpt:0 'x = 1234' Enter
	wait_for 60 pane_shows ckpt:0 '>>> x = 1234'
	py=$(pgrep -P "$p1")
	[ -n "$py" ]
	run "$CKPT" dump "$py" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	# the first pane's shell takes its terminal back
	wait_for 60 pane_shows ckpt:0 'ckpt$'
	tm new-window -t ckpt -n two "$sh"
	p2=$(tm display -p -t ckpt:two '#{pane_pid}')
	tm send-keys -t ckpt:two "$CKPT restore $T/img" Enter
	# ckpt restore, and python3 its child again
	wait_for 60 eval '[ -n "$(pgrep -P "$p2")" ] && [ -n "$(pgrep -P "$(pgrep -P "$p2")")" ]'
	rs=$(pgrep -P "$p2")
	PIDS+=("$rs" "$py")
	# and it runs: ckpt has let go of it (its terminal's modes are set
	# before that; keys typed earlier met a terminal still echoing)
	wait_for 60 eval '[ "$(awk "/^TracerPid:/{print \$2}" /proc/$py/status)" = 0 ]'
	tm send-keys -t ckpt:two 'print(x * 2)' Enter
	wait_for 60 pane_shows ckpt:two '2468' || { tm capture-pane -p -t ckpt:two; false; }
	tm send-keys -t ckpt:two 'print(6 * 7)' Enter
	wait_for 60 pane_shows ckpt:two '42' || { tm capture-pane -p -t ckpt:two; false; }
	run tm capture-pane -p -t ckpt:two
	echo "$output"
	# each line typed shows once (the terminal did not echo it besides
	# readline), each answer once
	[ "$(grep -c 'print(x \* 2)' <<<"$output")" -eq 1 ]
	[ "$(grep -c 'print(6 \* 7)' <<<"$output")" -eq 1 ]
	[ "$(grep -cx '2468' <<<"$output")" -eq 1 ]
	[ "$(grep -cx '42' <<<"$output")" -eq 1 ]
	tm send-keys -t ckpt:two 'exit()' Enter
	wait_for 60 eval '[ -z "$(pgrep -P "$p2")" ]'
	tm send-keys -t ckpt:two 'echo "restore said $?"' Enter
	wait_for 60 pane_shows ckpt:two 'restore said 0'
	local server
	server=$(tm display -p '#{pid}')
	tm kill-server
	wait_for 60 eval '! kill -0 "$server" 2>/dev/null && ! kill -0 "$p1" 2>/dev/null && ! kill -0 "$p2" 2>/dev/null'
}

@test "controlling terminal a pty of the image: the session leader takes the new pty's slave as its terminal again, and leads its foreground group" {
	skip_unless_ptrace
	start_target tty_ctty own
	dump_kill -v
	[[ "$output" == *"a pty of the image"* ]]
	restore_go -v
	[ "$status" -eq 0 ]
	[[ "$output" != *"is not restored"* ]]
}

@test "device nodes: /dev/console and /dev/ttyS0 reopened by path as the same devices; device nodes deleted while open made again (mknod) and deleted again" {
	skip_unless_ptrace
	skip_unless_root
	[ -c /dev/console ] && [ -c /dev/ttyS0 ] || skip "no /dev/console or /dev/ttyS0 here"
	mkdir "$T/nodes"
	start_target fd_devnode "$T/nodes"
	dump_kill
	run "$CKPT" inspect "$T/img"
	echo "$output"
	[[ "$output" == *"$T/nodes/null-node"* ]]
	[[ "$output" == *"a device node (1:3) deleted while open"* ]]
	restore_go
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$T/nodes")" ]
}

# bats test_tags=arch-independent
@test "device nodes: a deleted device node cannot be made again without CAP_MKNOD: restore refuses, naming it" {
	skip_unless_ptrace
	skip_unless_root
	command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
	setpriv --bounding-set -mknod -- true 2>/dev/null ||
		skip "setpriv cannot drop a capability from the bounding set here (busybox's)"
	[ -c /dev/console ] && [ -c /dev/ttyS0 ] || skip "no /dev/console or /dev/ttyS0 here"
	mkdir "$T/nodes"
	start_target fd_devnode "$T/nodes"
	dump_kill
	run --separate-stderr setpriv --bounding-set -mknod -- "$CKPT" restore "$T/img"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"fd 12 (\"$T/nodes/null-node\", a device node 1:3 deleted while open) cannot be made again (mknod needs CAP_MKNOD): Operation not permitted"* ]]
	[ -z "$(ls -A "$T/nodes")" ]
}

# start_script CMD: script(1) running CMD (through sh -c) on a new pty,
# its input the FIFO $T/in, which fd 5 of the test writes; output in
# $T/out.  Sets SPID.
start_script() {
	command -v script >/dev/null || skip "no script(1) (Debian package bsdutils)"
	mkfifo "$T/in"
	(
		only_std_fds
		export SHELL=/bin/sh
		exec script -qfec "$1" /dev/null <>"$T/in" >"$T/out" 2>&1
	) &
	SPID=$!
	PIDS+=("$SPID")
	exec 5>"$T/in"
}

# dump_restore_script LEAF: dump script's tree with --kill, restore it in
# the background (-v to $T/restore.out), once LEAF's parent has it again.
dump_restore_script() {
	local parent
	parent=$(ps -o ppid= -p "$1" | tr -d ' ')
	[ -n "$parent" ]
	run "$CKPT" dump "$SPID" -o "$T/img" --kill -v
	echo "$output"
	[ "$status" -eq 0 ]
	wait "$SPID" || true
	"$CKPT" restore -v "$T/img" >"$T/restore.out" 2>&1 &
	PIDS+=("$!")
	wait_for 60 eval '[ -n "$(pgrep -P "$parent")" ]'
}

# written LINE: it shows twice in script's output (the pty's echo, then
# cat's copy)
written() {
	local line=$1
	echo "$line" >&5
	wait_for 60 eval '[ "$(grep -c "$line" "$T/out")" -eq 2 ]' ||
		{ cat -v "$T/out" "$T/restore.out"; false; }
}

# bats test_tags=arch-independent
@test "script(1) running cat, dumped as a tree and restored: the new pty carries bytes both ways, and cat has it as its controlling terminal again" {
	skip_unless_ptrace
	start_script cat
	local sh cat
	written one
	sh=$(pgrep -P "$SPID")
	cat=$(pgrep -P "$sh")
	PIDS+=("$sh" "$cat")
	dump_restore_script "$cat"
	[[ "$output" == *"dump $cat: controlling terminal 136:"*", a pty of the image"* ]]
	written two
	exec 5>&-
	cat "$T/restore.out"
	! grep -q "is not restored" "$T/restore.out" || false
	# cat's terminal is the new pty, its group the foreground one
	read -r -a st < <(sed 's/.*) //' /proc/$cat/stat)
	[ "${st[4]}" -ne 0 ]
	[ "${st[5]}" -eq "$sh" ]
}

# bats test_tags=arch-independent
@test "script(1) running an interactive bash with cat as its foreground job, dumped as a tree and restored: cat is the new pty's foreground job again" {
	skip_unless_ptrace
	start_script "env -i PATH=/usr/bin:/bin PS1='ckpt$ ' /bin/bash --norc --noprofile -i"
	local sh bash cat
	wait_for 60 eval 'grep -q "ckpt\\$" "$T/out"'
	# script's sh -c runs bash (not a session leader: sh is), bash runs cat
	sh=$(pgrep -P "$SPID")
	bash=$(pgrep -P "$sh")
	echo cat >&5
	wait_for 60 eval '[ -n "$(pgrep -P "$bash")" ]'
	cat=$(pgrep -P "$bash")
	PIDS+=("$sh" "$bash" "$cat")
	written one
	dump_restore_script "$cat"
	# cat leads its own group, the terminal's foreground one
	[[ "$output" == *"dump $cat: controlling terminal 136:"*", foreground group $cat, a pty of the image"* ]]
	written two
	exec 5>&-
	cat "$T/restore.out"
	! grep -q "is not restored\|foreground group is" "$T/restore.out" || false
	read -r -a st < <(sed 's/.*) //' /proc/$cat/stat)
	[ "${st[5]}" -eq "$cat" ]
}

# bats test_tags=arch-independent
@test "controlling terminal outside the image, its foreground group led by a process outside (sh -c without job control): in ckpt restore's group, the foreground job, and restore says so" {
	skip_unless_ptrace
	start_in_pty tty_fg sh
	run "$CKPT" dump "$TPID" -o "$T/img" --kill -v
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"controlling terminal 136:"*", foreground group $SH"* ]]
	wait "$SPID" || true
	touch "$T/go"
	exec 5<>"$T/in"
	echo typed >&5
	# the restoring terminal: another pty of script's, ckpt restore its
	# session's leader and foreground job
	run timeout 300 script -qfec "exec $CKPT restore -v $T/img" /dev/null <&5
	exec 5>&-
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"process $TPID was in process group $SH, whose leader is not in the image: it is in ckpt restore's group, the terminal's foreground job"* ]]
	[[ "$output" == *"tty_fg: read typed"* ]]
	[[ "$output" != *FAIL* ]]
}

# bats test_tags=arch-independent
@test "script(1) running an interactive bash whose foreground job is a pipeline whose first command has ended (true | cat <&2): cat's group is the new pty's foreground again" {
	skip_unless_ptrace
	start_script "env -i PATH=/usr/bin:/bin PS1='ckpt$ ' /bin/bash --norc --noprofile -i"
	local sh bash cat pgid
	wait_for 60 eval 'grep -q "ckpt\\$" "$T/out"'
	sh=$(pgrep -P "$SPID")
	bash=$(pgrep -P "$sh")
	echo 'true | cat <&2' >&5
	wait_for 60 eval '[ "$(pgrep -P "$bash" | wc -l)" -eq 1 ] && pgrep -P "$bash" -x cat >/dev/null'
	cat=$(pgrep -P "$bash")
	PIDS+=("$sh" "$bash" "$cat")
	pgid=$(ps -o pgid= -p "$cat" | tr -d ' ')
	# the group's leader (true) has ended: cat alone is in it
	[ "$pgid" -ne "$cat" ]
	! kill -0 "$pgid" 2>/dev/null || false
	written one
	dump_restore_script "$cat"
	[[ "$output" == *"dump $cat: controlling terminal 136:"*", foreground group $pgid, a pty of the image"* ]]
	written two
	exec 5>&-
	cat "$T/restore.out"
	! grep -q "is not restored\|foreground group is" "$T/restore.out" || false
	read -r -a st < <(sed 's/.*) //' /proc/$cat/stat)
	[ "${st[2]}" -eq "$pgid" ]
	[ "${st[5]}" -eq "$pgid" ]
}
