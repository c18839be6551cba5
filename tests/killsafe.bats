#!/usr/bin/env bats
# A killed ckpt never harms the process it was dumping (issue 9,
# docs/kill-safety.md).  ckpt is killed with SIGKILL at random points of
# dumps of a job that checks itself all the time (targets/steady.c), many
# times over: half of the trials at a random kill point (CKPT_KILLPOINT:
# ckpt kills itself there, common/killpoint.h), half after a random delay.
# After each kill the job must be alive, neither stopped nor traced, with
# the same threads, fds, mappings and no child, and no temporary file may
# be left; at the end it must say that everything held.

load test_helper

# Trials per case: fewer in the emulated arm64 guest (10-30x slower).
trials() {
	if [ -n "${CKPT_ARM64:-}" ]; then echo $(( ($1 + 3) / 4 )); else echo "$1"; fi
}

# What a dump must leave as it was: threads, fds (with what they are),
# mappings, children (zombies included).  The userfaultfds ckpt keeps in
# the process for --track are counted apart: a killed dump may take one
# away (docs/kill-safety.md), never add one.
snapshot() {
	local p=$1 f l
	ls "/proc/$p/task" | wc -l
	for f in /proc/$p/fd/*; do
		l=$(readlink "$f")
		[ "$l" = "anon_inode:[userfaultfd]" ] || echo "${f##*/} $l"
	done
	cat "/proc/$p/maps"
	cat /proc/$p/task/*/children
}

uffds() {
	local f n=0
	for f in /proc/$1/fd/*; do
		[ "$(readlink "$f")" != "anon_inode:[userfaultfd]" ] || n=$((n + 1))
	done
	echo "$n"
}

# settled PID BASE: the process is as BASE says, untraced, not stopped, and
# no temporary image file is left, within 10 s (the guardian of a killed
# dump needs a moment).  On failure it says what differs.
settled() {
	local p=$1 base=$2 now st tr left i u
	for i in $(seq 200); do
		st=$(awk '/^State:/{print $2}' "/proc/$p/status" 2>/dev/null) || true
		tr=$(awk '/^TracerPid:/{print $2}' "/proc/$p/status" 2>/dev/null) || true
		now=$(snapshot "$p" 2>/dev/null) || true
		left=$(ls "$T/imgs" | grep -v '^img[0-9]*$') || true
		u=$(uffds "$p" 2>/dev/null) || true
		if [ "$tr" = 0 ] && [ "$st" != T ] && [ "$st" != t ] && [ "$now" = "$base" ] &&
		   [ -z "$left" ] && [ "${u:-0}" -le "${BASE_UFFDS:-0}" ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "state ${st:-gone}, tracer ${tr:-?}, files left: ${left:-none}, uffds $u (was $BASE_UFFDS)"
	diff <(echo "$base") <(echo "$now") | head -8
	return 1
}

# kill_trials N [DUMP ARGS]: N dumps of $TPID, each killed; counts harms.
# "--parent" in the args makes each dump's parent the last complete image.
kill_trials() {
	local n=$1 i k total ms base st harms=0 args
	shift
	mkdir -p "$T/imgs"
	args=("$@")
	[ "${1:-}" = --parent ] && args=(--parent "$T/imgs/img0" "${@:2}")
	"$CKPT" -vv dump "$TPID" "${args[@]}" -o "$T/imgs/img1" 2>"$T/cal"
	mv "$T/imgs/img1" "$T/imgs/img0"
	total=$(sed -n 's/.*kill points passed: //p' "$T/cal")
	ms=$(sed -n 's/.*dump took \([0-9]*\).*/\1/p' "$T/cal")
	[ -n "$ms" ] || { cat "$T/cal"; return 1; }
	base=$(snapshot "$TPID")
	BASE_UFFDS=$(uffds "$TPID")
	for i in $(seq "$n"); do
		if [ $((i % 2)) = 0 ] && [ -n "$total" ]; then
			k=$(( (RANDOM * 32768 + RANDOM) % total + 1 ))
			st=0
			{ CKPT_KILLPOINT=$k "$CKPT" dump "$TPID" "${args[@]}" -o "$T/imgs/img1"; } \
				2>/dev/null || st=$?
		else
			"$CKPT" dump "$TPID" "${args[@]}" -o "$T/imgs/img1" 2>/dev/null &
			k=$!
			sleep "$(printf '0.%03d' $(( RANDOM % (ms + 10) % 1000 )))"
			kill -KILL "$k" 2>/dev/null || true
			st=0
			wait "$k" 2>/dev/null || st=$?
			k="delay"
		fi
		if [ "$st" = 0 ]; then
			# A dump that completed: its image is the next parent, and
			# --track's userfaultfd is part of the process from now on.
			mv "$T/imgs/img1" "$T/imgs/img0"
			BASE_UFFDS=$(uffds "$TPID")
			settled "$TPID" "$(snapshot "$TPID")" >/dev/null
			base=$(snapshot "$TPID")
			continue
		fi
		if ! settled "$TPID" "$base"; then
			echo "harm after a kill (at $k) of: ckpt dump ${args[*]}"
			harms=$((harms + 1))
		fi
		rm -f "$T/imgs/img1"
		BASE_UFFDS=$(uffds "$TPID")	# one may have gone, never to come back
	done
	echo "# killsafe: ckpt dump $*: $n trials, $harms harmed the process" >&3
	[ "$harms" = 0 ]
}

# The job ran on unharmed all along: it says so when told to stop.
job_held() {
	touch "$T/go"
	local st=0
	wait "$TPID" || st=$?
	cat "$T/out" "$T/err"
	[ "$st" = 0 ]
}

@test "killsafe: ckpt killed at random points of plain dumps: the process runs on as before" {
	skip_unless_ptrace
	start_target steady
	kill_trials "$(trials 40)" --compress none
	job_held
}

@test "killsafe: killed --fork dumps: no copy left running, no zombie" {
	skip_unless_ptrace
	start_target steady
	kill_trials "$(trials 40)" --fork
	job_held
}

@test "killsafe: killed --track dumps leave no userfaultfd behind" {
	skip_unless_ptrace
	start_target steady
	kill_trials "$(trials 30)" --track
	job_held
}

@test "killsafe: killed incremental dumps (--parent, tracking on) leave the parent's tracking as it was" {
	skip_unless_ptrace
	start_target steady
	mkdir -p "$T/imgs"
	"$CKPT" dump "$TPID" --track -o "$T/imgs/img0"
	kill_trials "$(trials 30)" --parent
	job_held
}

@test "killsafe: killed compressed dumps (zstd on two threads)" {
	skip_unless_ptrace
	start_target steady
	kill_trials "$(trials 20)" --compress zstd -j 2
	job_held
}

@test "killsafe: killed dumps of a process with 1,000 threads" {
	skip_unless_ptrace
	# 1,000 threads that wake every 20-80 ms are too much for the
	# emulated guest: 250 there.
	start_target steady "$([ -n "${CKPT_ARM64:-}" ] && echo 250 || echo 1000)"
	kill_trials "$(trials 12)"
	job_held
}

@test "killsafe: SIGTERM or a failed --track dump leaves no userfaultfd (and the job as it was)" {
	skip_unless_ptrace
	start_target steady
	base=$(snapshot "$TPID")
	BASE_UFFDS=0
	mkdir -p "$T/imgs"
	run "$CKPT" dump "$TPID" --track -o /nonexistent/x
	[ "$status" = 1 ]
	[[ "$output" == *"/nonexistent"* ]]
	settled "$TPID" "$base"
	for i in 1 2 3 4 5 6 7 8; do
		"$CKPT" dump "$TPID" --track -o "$T/imgs/img" 2>/dev/null &
		k=$!
		sleep "0.0$((i * 11))"
		kill -TERM "$k" 2>/dev/null || true
		if wait "$k" 2>/dev/null; then	# done before the signal: tracking is on
			BASE_UFFDS=$(uffds "$TPID")
			rm "$T/imgs/img"
		fi
		settled "$TPID" "$base"
	done
	job_held
}

@test "killsafe: -o onto a device or FIFO writes a stream and leaves it what it was; a directory is refused" {
	skip_unless_ptrace
	skip_unless_root
	start_target counter
	mknod "$T/null" c 1 3
	run "$CKPT" dump "$TPID" -o "$T/null"
	[ "$status" = 0 ]
	[ -c "$T/null" ]
	! ls "$T" | grep -q ckpt-tmp
	mkfifo "$T/fifo"
	cat "$T/fifo" >"$T/streamed" &
	run "$CKPT" dump "$TPID" -o "$T/fifo"
	[ "$status" = 0 ]
	wait $!
	[ -p "$T/fifo" ]
	"$CKPT" verify - <"$T/streamed"
	mkdir "$T/dir"
	run "$CKPT" dump "$TPID" -o "$T/dir"
	[ "$status" = 1 ]
	[[ "$output" == *"is a directory"* ]]
	# A symbolic link stands for what it points to.
	ln -s null "$T/link"
	run "$CKPT" dump "$TPID" -o "$T/link"
	[ "$status" = 0 ]
	[ -L "$T/link" ] && [ -c "$T/null" ]
}

@test "killsafe: the image has no name until complete; a dead ckpt's temporary file goes at the next dump" {
	skip_unless_ptrace
	start_target counter
	# A temporary file of a ckpt that is gone (no such PID can exist).
	touch "$T/img.ckpt-tmp-99999999" "$T/other.ckpt-tmp-99999999"
	"$CKPT" dump "$TPID" -o "$T/img"
	[ ! -e "$T/img.ckpt-tmp-99999999" ]
	[ -e "$T/other.ckpt-tmp-99999999" ]	# not of this destination
	"$CKPT" verify "$T/img"
	# Where the filesystem has no O_TMPFILE the file has a name from the
	# start: the guardian of a killed dump removes it.
	total=$("$CKPT" -vv dump "$TPID" -o "$T/img2" 2>&1 | sed -n 's/.*kill points passed: //p')
	for k in $((total / 4)) $((total / 2)) $((total * 3 / 4)) $((total - 1)); do
		CKPT_NO_O_TMPFILE=1 CKPT_KILLPOINT=$k "$CKPT" dump "$TPID" -o "$T/img2" 2>/dev/null || true
		for i in $(seq 100); do
			[ -z "$(ls "$T" | grep 'img2.ckpt-tmp')" ] && break
			sleep 0.05
		done
		[ -z "$(ls "$T" | grep 'img2.ckpt-tmp')" ]
	done
	CKPT_NO_O_TMPFILE=1 "$CKPT" dump "$TPID" -o "$T/img2"
	"$CKPT" verify "$T/img2"
}

@test "killsafe: after killed incremental dumps, the next one is still right (restored and checked)" {
	skip_unless_ptrace
	start_target dirty 16 1
	mkdir -p "$T/imgs"
	"$CKPT" dump "$TPID" --track -o "$T/imgs/img0"
	total=$("$CKPT" -vv dump "$TPID" --parent "$T/imgs/img0" -o "$T/imgs/img1" 2>&1 |
		sed -n 's/.*kill points passed: //p')
	parent=$T/imgs/img1 n=1
	for i in $(seq "$(trials 12)"); do
		# Aimed at the steps around arming the tracking, or anywhere.
		case $((i % 4)) in
		1) k="track: uffd moved" ;;
		2) k="track: re-protecting" ;;
		3) k="image: renamed" ;;
		*) k=$(( (RANDOM * 32768 + RANDOM) % total + 1 )) ;;
		esac
		if { CKPT_KILLPOINT=$k "$CKPT" dump "$TPID" --parent "$parent" -o "$T/imgs/img$((n + 1))"; } \
			2>/dev/null; then
			n=$((n + 1))
			parent=$T/imgs/img$n
		fi
		sleep 0.1
	done
	run "$CKPT" -v dump "$TPID" --parent "$parent" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
}
