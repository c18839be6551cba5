#!/usr/bin/env bats
# Real programs whose event loops hold pipes, eventfds, epoll instances
# and unix sockets, dumped mid-work, killed, restored: the same result as
# an uninterrupted run.

load test_helper

# program_mid_work WANT CMD...: start CMD (it says READY at once), dump
# it at work, restore, and compare its one line of output with WANT.
program_mid_work() {
	local want=$1
	shift
	CKPT_TARGETS=$(dirname "$1") start_target "$(basename "$1")" "${@:2}"
	sleep 0.5
	dump_kill
	[ ! -s "$T/out" ]	# still at work when it was dumped
	restore_go
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "$want" ]
}

@test "node: timers, promises and a worker thread on its event loop (epoll, eventfd, pipes), dumped mid-work" {
	skip_unless_ptrace
	local node
	node=$(command -v node || command -v nodejs) || skip "no node (apt-get install nodejs; tests/deps.sh)"
	program_mid_work "node: 150 ticks, total 1136275, worker 150" \
		"$node" "$CKPT_TOP/tests/targets/loop_timers.js"
}

@test "python3: a selector loop (epoll) on a self-pipe fed by threads, signal wakeup fd, dumped mid-work" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	program_mid_work "python selector loop: 400 jobs, sum 64240200, alarms ok" \
		/usr/bin/python3 "$CKPT_TOP/tests/targets/loop_selector.py"
}

@test "python3: asyncio (its self-pipe a socketpair, streams over a unix socketpair, threads), dumped mid-work" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	program_mid_work "python asyncio: 300 lines, sum 45150, 400 thread results, sum 21413400" \
		/usr/bin/python3 "$CKPT_TOP/tests/targets/loop_asyncio.py"
}

# get URL: the body, or nothing (the server does not answer)
get() {
	python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode(), end="")' "$1" 2>/dev/null
}

# serve SED CMD...: start the server CMD as our child with fds 0-2 only
# (out and err in $T), and wait for the port SED finds in its output;
# sets TPID and PORT.
serve() {
	local sed=$1 i
	shift
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$@" </dev/null >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	PORT=
	for i in $(seq 300); do
		PORT=$(sed -n "$sed" "$T/out" 2>/dev/null || true)
		[ -n "$PORT" ] && break
		sleep 0.1
	done
	[ -n "$PORT" ]
}

# dump_kill_restore URL: once TPID holds its listener alone (the
# connections it served closed on its side too), dump it with --kill,
# check nobody serves URL, restore it in the background (RPID) and wait
# for URL to answer again; BODY is what it answered.
dump_kill_restore() {
	local i
	for i in $(seq 100); do
		[ "$(ls -l /proc/$TPID/fd | grep -c 'socket:')" -eq 1 ] && break
		sleep 0.1
	done
	dump_kill
	[ -z "$(get "$1")" ]	# nobody serves
	"$CKPT" restore "$T/img" >"$T/restore.out" 2>&1 &
	RPID=$!
	PIDS+=("$RPID")
	BODY=
	for i in $(seq 100); do
		BODY=$(get "$1") && [ -n "$BODY" ] && break
		sleep 0.2
	done
	cat "$T/restore.out" "$T/err"
}

@test "python3 http.server: dumped while serving, killed, restored: it answers again on its port" {
	skip_unless_ptrace
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	mkdir "$T/www"
	echo "hello from ckpt" >"$T/www/index.txt"
	serve 's/^Serving HTTP on 127.0.0.1 port \([0-9]*\).*/\1/p' \
		/usr/bin/python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$T/www"
	[ "$(get "http://127.0.0.1:$PORT/index.txt")" = "hello from ckpt" ]
	dump_kill_restore "http://127.0.0.1:$PORT/index.txt"
	[ "$BODY" = "hello from ckpt" ]
	kill "$TPID"
	wait "$RPID" || true
}

# node's HTTP server (libuv: epoll, an eventfd, its signal pipe, a thread
# pool) keeps a count in memory: the answer after restore is the next one.
@test "node http server: dumped while serving, killed, restored: it answers on its port, its count goes on" {
	skip_unless_ptrace
	[ -x /usr/bin/node ] || skip "no /usr/bin/node"
	serve 's/^port \([0-9]*\)$/\1/p' /usr/bin/node -e '
let n = 0;
const s = require("http").createServer((req, res) => {
	n++;
	res.setHeader("Connection", "close");
	res.end("request " + n + "\n");
});
s.listen(0, "127.0.0.1", () => console.log("port " + s.address().port));'
	[ "$(get "http://127.0.0.1:$PORT/")" = "request 1" ]
	[ "$(get "http://127.0.0.1:$PORT/")" = "request 2" ]
	dump_kill_restore "http://127.0.0.1:$PORT/"
	[ "$BODY" = "request 3" ]
	[ "$(get "http://127.0.0.1:$PORT/")" = "request 4" ]
	kill "$TPID"
	wait "$RPID" || true
}

@test "jshell: the shell and its agent JVM (a tree) talking over TCP, an IPv6 socket to an IPv4 one, dumped mid-script: the script ends with its result" {
	skip_unless_ptrace
	skip_unless_root
	command -v jshell >/dev/null || skip "no jshell (apt-get install openjdk-17-jdk-headless; tests/deps.sh)"
	cat >"$T/s.jsh" <<'JSH'
long t = 0;
for (int n = 0; n < 40; n++) { for (int i = 0; i < 3000000; i++) t += i % 5; System.out.println(n + " " + t); Thread.sleep(200); }
System.out.println("done " + t);
/exit
JSH
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		HOME=$T exec jshell -q <"$T/s.jsh" >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	# the JVM and its agent start slowly on a busy machine
	wait_for 600 grep -q "^5 " "$T/out"
	PIDS+=($(cat /proc/$TPID/task/*/children))
	dump_kill
	# jshell's end is IPv6 (::ffff:127.0.0.1), the agent's IPv4: one
	# connection, both ends in the image
	[[ "$output" != *"peer is outside"* ]]
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"tree      2 processes"* ]]
	run grep -q "done 2" "$T/out"
	[ "$status" -ne 0 ]	# dumped before its end
	restore_go
	[ "$status" -eq 0 ]
	cat "$T/out"
	grep -qx "jshell> done 240000000" "$T/out"
	# every step once, none lost or done twice
	[ "$(grep -oE '(^|> )[0-9]+ [0-9]+$' "$T/out" | sed 's/.*> //' | sort -u | wc -l)" = 40 ]
	[ "$(grep -cE '[0-9]+ [0-9]+$' "$T/out")" = 40 ]
}
