#!/usr/bin/env bats
# ckpt run and ckpt watch: periodic checkpoints, resume, preemption,
# restarts.  The job is tests/targets/steps.c: numbered steps, a state in
# memory, and a result that is a function of the step count alone.
#
# Tests tagged arch-independent (ckpt run's and watch's supervision is the
# same C on both (run/, no arch code); the guest runs a job to its end,
# preempts and resumes one, and a tree) run on the host only: the arm64 guest
# leaves them out (tests/run-checks.sh).

load test_helper

# Long (40 s) until a test creates $T/fast, then quick (STEPS_FAST_FILE):
# a busy machine has time for every checkpoint a test waits for.
STEPS_N=400
STEPS_MS=100

setup() {
	T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ckpt-test.XXXXXX")
	PIDS=()
	export STEPS_FAST_FILE=$T/fast
}

# The result of an uninterrupted run of N steps.
want_result() {
	"$CKPT_TARGETS/steps" "${1:-$STEPS_N}" 0 | sed -n 's/^result //p'
}

# ckpt ARGS...: ckpt with fds 0-2 only, as a job script would run it: the
# descriptors bats keeps must not become the job's.  In the background its
# PID is $! (the subshell execs ckpt).
ckpt() {
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$CKPT" "$@"
	)
}
# exec_clean CMD...: exec CMD with fds 0-2 only (in a subshell: ( ... ) &).
exec_clean() {
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
	exec "$@"
}

# wait_exec PID PROGRAM: PID runs PROGRAM (its output file exists from the
# fork on, before the exec: ckpt watch started then met the subshell, or a
# process in the middle of its execve whose command line reads empty:
# "no such process")
wait_exec() {
	local pid=$1 want
	want=$(readlink -f "$2")
	wait_for 120 eval '[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$want" ]'
}

# start_run OUT ARGS...: ckpt run ARGS in the background, its stdout (and
# the job's) in OUT, its log in $T/log; sets RPID and, once the job runs,
# JOB.  Both go into PIDS for teardown.
start_run() {
	local out=$1 n
	shift
	n=$(grep -c "PID [0-9]*$" "$T/log" 2>/dev/null || true)
	(exec_clean "$CKPT" run "$@") >"$out" 2>>"$T/log" &
	RPID=$!
	PIDS+=("$RPID")
	until [ "$(grep -c "PID [0-9]*$" "$T/log" 2>/dev/null || true)" -gt "${n:-0}" ]; do
		kill -0 "$RPID" 2>/dev/null || { cat "$T/log" >&2; return 1; }
		sleep 0.02
	done
	JOB=$(sed -n 's/.*, PID \([0-9]*\)$/\1/p' "$T/log" | tail -n 1)
	PIDS+=("$JOB")
}

# wait_log PATTERN [SECONDS]: until the log has a line matching PATTERN.
wait_log() {
	local i=0 max=$(( ${2:-60} * 50 ))
	until grep -q -- "$1" "$T/log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt $max ] || { echo "timed out waiting for \"$1\" in the log:" >&2; cat "$T/log" >&2; return 1; }
		sleep 0.02
	done
}

# until_step FILE N: until a step >= N is printed in FILE.
until_step() {
	local i=0
	until [ "$(last_step "$1")" -ge "$2" ] 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 3000 ] || { echo "timed out waiting for step $2 in $1" >&2; return 1; }
		sleep 0.02
	done
}

# wait_status PID: its exit status in $st (it is our child).
wait_status() {
	st=0
	wait "$1" || st=$?
}

# last_step FILE / first_step FILE: the step numbers a run printed.
last_step() {
	sed -n 's/^step \([0-9]*\) .*/\1/p' "$1" | tail -n 1
}
first_step() {
	sed -n 's/^step \([0-9]*\) .*/\1/p' "$1" | head -n 1
}
result_of() {
	sed -n 's/^result //p' "$1"
}

# resume_goes_on BEFORE COMMAND...: ckpt run resumes DIR's job quickly; it
# goes on from step BEFORE+1 and ends with the right result (in $output).
resume_goes_on() {
	local before=$1 first
	shift
	touch "$T/fast"
	run ckpt run --every 0.3s --dir "$T/d" -- "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	first=$(grep '^step ' <<<"$output" | head -n 1 | cut -d' ' -f2)
	echo "before: step $before; after: from step $first"
	[ "$first" -eq $((before + 1)) ]
	[ "$(grep '^result ' <<<"$output")" = "result $(want_result)" ]
}

# The PIDs of pid's children, one per line, from /proc (busybox's ps, in
# the arm64 guest, has no --ppid).
children_of() {
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep .
}

@test "run: the job runs to its end, checkpointed; ckpt run exits with its status" {
	skip_unless_ptrace
	run ckpt run --every 0.3s --dir "$T/d" -- "$CKPT_TARGETS/steps" 20 "$STEPS_MS"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep '^result ' <<<"$output")" = "result $(want_result 20)" ]
	# one line per checkpoint: time, image, size, kind, pause
	grep -qE '^ckpt run: [0-9-]+ [0-9:]+ checkpoint 1 .*/ckpt-000001\.img: [0-9.]+ [KMG]iB full, job paused [0-9.]+ ms$' <<<"$output"
	grep -qE '^ckpt run: .* checkpoint [0-9]+ .*: [0-9.]+ [KMG]iB incremental, job paused [0-9.]+ ms$' <<<"$output"
	grep -q 'the job exited with status 0$' <<<"$output"
	ls "$T/d"/ckpt-*.img
}

# bats test_tags=arch-independent
@test "run: the job's exit status, and death by a signal as 128+N" {
	skip_unless_ptrace
	run ckpt run --dir "$T/d" -- sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run ckpt run --dir "$T/d2" -- sh -c 'kill -USR1 $$'
	echo "$output"
	[ "$status" -eq 138 ]
	[[ "$output" == *"the job was killed by SIGUSR1"* ]]
}

# bats test_tags=arch-independent
@test "run: a command that cannot be run: 127, saying why" {
	run -127 ckpt run --dir "$T/d" -- "$T/no-such-command"
	echo "$output"
	[ "$status" -eq 127 ]
	[[ "$output" == *"cannot run \"$T/no-such-command\": No such file or directory"* ]]
}

# bats test_tags=arch-independent
@test "run: killed with SIGKILL, job and all (a node crash), a new ckpt run resumes from the last checkpoint" {
	skip_unless_ptrace
	start_run "$T/out1" --every 0.3s --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	wait_log "checkpoint 3 "
	kill -KILL "$RPID" "$JOB"
	reap "$RPID"
	before=$(last_step "$T/out1")
	touch "$T/fast"
	run ckpt run --every 0.3s --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"resumed from checkpoint "* ]]
	# it went on from the checkpoint, not from the start
	first=$(grep '^step ' <<<"$output" | head -n 1 | cut -d' ' -f2)
	echo "before the crash: step $before; after: from step $first"
	[ "$first" -gt 1 ] && [ "$first" -le $((before + 1)) ]
	[ "$(grep '^result ' <<<"$output")" = "result $(want_result)" ]
}

@test "run: SIGTERM to the job and to ckpt run: a final checkpoint, exit 85, and the resumed job loses no step" {
	skip_unless_ptrace
	start_run "$T/out1" --every 0.3s --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	wait_log "checkpoint 2 "
	# a batch system signals every process of the job
	kill -TERM "$JOB" "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	cat "$T/log"
	grep -q 'SIGTERM.*: final checkpoint, then the job stops$' "$T/log"
	grep -q 'final checkpoint [0-9]* .*incremental' "$T/log"
	grep -q 'exit status 85' "$T/log"
	before=$(last_step "$T/out1")
	resume_goes_on "$before" "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
}

# A job that is a tree: a shell waiting for its worker, as a batch script is.
TREE_JOB='"$@" & wait $!; s=$?; echo "worker status $s"; exit $s'

@test "run: a job that is a tree: every process held (a SIGTERM to each is kept from it), checkpointed whole, resumed whole" {
	skip_unless_ptrace
	start_run "$T/out1" --every 0.3s --dir "$T/d" -- sh -c "$TREE_JOB" sh "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	until_step "$T/out1" 2
	wait_log "checkpoint 2 "
	worker=$(children_of "$JOB")
	[ -n "$worker" ]
	PIDS+=("$worker")
	# a batch system signals every process of the job
	kill -TERM "$JOB" "$worker" "$RPID"
	wait_status "$RPID"
	cat "$T/log"
	cat "$T/out1"
	[ "$st" -eq 85 ]
	# incremental, as for one process (the tree's processes each found in
	# the parent image by PID and start time)
	grep -q 'final checkpoint [0-9]* .*incremental' "$T/log"
	grep -qE '^ckpt run: .* checkpoint 2 .*incremental' "$T/log"
	# neither the shell nor its worker saw the SIGTERM
	! grep -q 'worker status' "$T/out1" || false
	before=$(last_step "$T/out1")
	resume_goes_on "$before" sh -c "$TREE_JOB" sh "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	grep -q '^worker status 0$' <<<"$output"
}

# A pipeline whose awk works slowly (a loop every 50 numbers) until
# $T/fast exists (getline: 0 at the end of an empty file, -1 when there is
# none), saying where it is every 1000 numbers.  (The test of awk's
# system(), whose children vfork, is further down.)
pipeline_job() {
	cat >"$T/sum.awk" <<'EOF'
{ s += $1 % 7 }
NR % 50 == 0 && !quick {
	if ((getline x < fast) >= 0)
		quick = 1
	close(fast)
	for (j = 0; !quick && j < spin; j++)
		y += j
}
NR % 1000 == 0 { print "at", NR; fflush() }
END { print NR, s }
EOF
	# the slow part sized to the awk: busybox's under emulation (the
	# arm64 guest) did not reach "at 1000" in 120 s with 1,000,000
	local spin=20000
	case $(readlink -f "$(command -v awk)") in */mawk | */gawk | */original-awk) spin=1000000 ;; esac
	PIPELINE=(sh -c 'seq 1 "$1" | awk -v fast="$2" -v spin="$4" -f "$3"' sh 40000 "$T/fast" "$T/sum.awk" "$spin")
}

# bats test_tags=arch-independent
@test "run: a pipeline (seq | awk) gets incremental checkpoints; preempted, resumed, it goes on where it was and counts every number once" {
	skip_unless_ptrace
	pipeline_job
	start_run "$T/out1" --every 0.3s --dir "$T/d" -- "${PIPELINE[@]}" </dev/null
	wait_log "checkpoint 3 "
	wait_for 120 grep -q '^at ' "$T/out1"
	kill -TERM "$RPID"
	wait_status "$RPID"
	cat "$T/log"
	cat "$T/out1"
	[ "$st" -eq 85 ]
	# the periodic checkpoints after the first and the final one: incremental
	grep -qE '^ckpt run: .* checkpoint [2-9] .*incremental' "$T/log"
	grep -q 'final checkpoint [0-9]* .*incremental' "$T/log"
	local before first
	before=$(sed -n 's/^at //p' "$T/out1" | tail -n 1)
	touch "$T/fast"
	run ckpt run --every 0.3s --dir "$T/d" -- "${PIPELINE[@]}" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	first=$(sed -n 's/^at //p' <<<"$output" | head -n 1)
	echo "before: at $before; after: from $first"
	[ "$first" -eq $((before + 1000)) ]
	[ "$(grep -E '^[0-9]+ [0-9]+$' <<<"$output")" = "$(seq 1 40000 | awk '{ s += $1 % 7 } END { print NR, s }')" ]
}

# Processes in vfork() (docs/trees.md 2.1, step 4): the parent waits in
# the kernel for its child, held from birth, to exec; a checkpoint lets
# that child run on and waits for the parent (before: it waited forever).
# bats test_tags=arch-independent
@test "run: a job that vforks all the time gets its checkpoints, none hangs; preempted, resumed, it goes on (vforker)" {
	skip_unless_ptrace
	export CKPT_GO=$T/go VFORKER_FAST_FILE=$T/fast
	start_run "$T/out1" --every 0.2s --dir "$T/d" -- "$CKPT_TARGETS/vforker" 0
	wait_log "checkpoint 8 " 120
	kill -TERM "$RPID"
	wait_status "$RPID"
	cat "$T/log"
	[ "$st" -eq 85 ]
	! grep -q 'failed' "$T/log" || false
	local before after
	before=$(sed -n 's/^round //p' "$T/out1" | tail -n 1)
	touch "$T/fast" "$T/go"
	run ckpt run --every 0.2s --dir "$T/d" -- "$CKPT_TARGETS/vforker" 0
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"resumed from checkpoint "* ]]
	grep '^result ' <<<"$output" >"$T/out2"
	vforker_ok "$T/out2"
	after=$(cut -d' ' -f2 "$T/out2")
	echo "before: round ${before:-0}; at the end: $after"
	[ "$after" -ge "${before:-0}" ]
}

# bats test_tags=arch-independent
@test "run: a pipeline whose awk calls system() (sh -c: vfork, exec) is checkpointed throughout and ends with the right result" {
	skip_unless_ptrace
	# system() for every number until $T/fast exists; each child's status
	# checked
	cat >"$T/sys.awk" <<'EOF'
{ s += $1 }
!quick {
	r = system("exit " (NR % 5))
	if (r != NR % 5)
		print "bad status", r, "at", NR
	if ((getline x < fast) >= 0)
		quick = 1
	close(fast)
	if (NR % 20 == 0) { print "at", NR; fflush() }
}
END { print NR, s }
EOF
	start_run "$T/out1" --every 0.2s --dir "$T/d" -- sh -c 'seq 1 2000 | awk -v fast="$1" -f "$2"' sh "$T/fast" "$T/sys.awk"
	wait_log "checkpoint 6 " 120
	touch "$T/fast"
	wait_status "$RPID"
	cat "$T/log"
	[ "$st" -eq 0 ]
	! grep -q 'failed' "$T/log" || false
	# a process that exits right after its checkpoint (sh -c "exit N")
	# leaves its forked copy to its reaper: no warning (it said "cannot
	# reap the forked copy N: it stays a zombie of M" now and then)
	! grep -q 'cannot reap' "$T/log" || false
	! grep -q '^bad' "$T/out1" || false
	grep -qx '2000 2001000' "$T/out1"
}

# bats test_tags=arch-independent
@test "run: a vfork child that does not exec for long: those checkpoints are skipped, one line each saying why; the job runs on untouched" {
	skip_unless_ptrace
	export CKPT_GO=$T/go
	# round 1's child waits 8 s before its exec
	start_run "$T/out1" --every 0.2s --dir "$T/d" -- "$CKPT_TARGETS/vforker" 0 8000
	wait_log "checkpoint 1 failed: the job runs on" 120
	grep -q "^ckpt: run: checkpoint 1: process vforker (PID $JOB) is in vfork(): its child [0-9]* has not called exec or _exit in 2 s$" "$T/log"
	# waiting for its child, as without ckpt: not stopped
	[ "$(proc_state "$JOB")" = D ]
	# after the exec, checkpoints again
	wait_log "checkpoint [0-9]* /.*, job paused" 120
	touch "$T/go"
	wait_status "$RPID"
	cat "$T/log"
	[ "$st" -eq 0 ]
	# every failed checkpoint said why, in one line right before (other
	# lines may come: the arm64 guest's kernel has no userfaultfd
	# write-protect, and each dump warns about it)
	local failed
	failed=$(grep -c 'failed: the job runs on' "$T/log")
	[ "$(grep -c 'is in vfork(): its child' "$T/log")" -eq "$failed" ]
	[ "$(grep -B1 'failed: the job runs on' "$T/log" | grep -c '^ckpt: run: checkpoint [0-9]*: process vforker (PID [0-9]*) is in vfork()')" -eq "$failed" ]
	vforker_ok "$T/out1"
}

# bats test_tags=arch-independent
@test "run: a tree's process whose stdout is a file of its own keeps it after a resume; the shell keeps ckpt run's" {
	skip_unless_ptrace
	job='"$@" >"$OTHER" & wait $!; echo "worker status $?"'
	export OTHER=$T/other
	start_run "$T/out1" --every 0.3s --dir "$T/d" -- sh -c "$job" sh "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	until_step "$OTHER" 2
	wait_log "checkpoint 2 "
	kill -TERM "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	touch "$T/fast"
	run ckpt run --dir "$T/d"
	echo "$output"
	[ "$status" -eq 0 ]
	# the worker went on writing its own file, the shell to ckpt run's stdout
	sed -n 's/^step \([0-9]*\) .*/\1/p' "$OTHER" | diff - <(seq 1 "$STEPS_N")
	[ "$(result_of "$OTHER")" = "$(want_result)" ]
	! grep -q '^step ' <<<"$output" || false
	grep -q '^worker status 0$' <<<"$output"
}

# bats test_tags=arch-independent
@test "run: --on SIGUSR1 preempts as SIGTERM does; other signals go on to the job" {
	skip_unless_ptrace
	start_run "$T/out1" --every 1h --on SIGUSR1 --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	wait_file "$T/out1"
	kill -USR1 "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	grep -q 'SIGUSR1: final checkpoint' "$T/log"
	grep -q 'final checkpoint 1 .*full' "$T/log"
	# resumed, a SIGUSR2 to ckpt run kills the job as it would without ckpt
	start_run "$T/out2" --every 1h --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	kill -USR2 "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 140 ]
	grep -q 'the job was killed by SIGUSR2' "$T/log"
}

# bats test_tags=arch-independent
@test "run: a second SIGTERM, or the grace running out, kills the job without a checkpoint; the last one stays intact" {
	skip_unless_ptrace
	# 128 MiB that do not compress: a full final checkpoint takes a while
	export STEPS_MIB=128
	job=("$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS")
	start_run "$T/out1" --every 1h --dir "$T/d" -- "${job[@]}"
	until_step "$T/out1" 1
	kill -TERM "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	grep -q 'final checkpoint 1 ' "$T/log"
	# resumed from it: the final checkpoint is full again (a new process)
	: >"$T/log"
	start_run "$T/out2" --every 1h --grace 0.01s --dir "$T/d" -- "${job[@]}"
	kill -TERM "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	cat "$T/log"
	grep -q 'killed without a final checkpoint (the grace ran out); the last complete checkpoint is .*ckpt-000001.img$' "$T/log"
	: >"$T/log"
	start_run "$T/out3" --every 1h --dir "$T/d" -- "${job[@]}"
	kill -TERM "$RPID"
	wait_log "final checkpoint, then the job stops"
	kill -TERM "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	cat "$T/log"
	grep -q 'killed without a final checkpoint (a second signal came)' "$T/log"
	[ "$(ls "$T/d"/*.img)" = "$T/d/ckpt-000001.img" ]
	"$CKPT" verify "$T/d/ckpt-000001.img"
	unset STEPS_MIB
	touch "$T/fast"
	run ckpt run --dir "$T/d" -- "${job[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep '^result ' <<<"$output")" = "result $(want_result)" ]
}

# bats test_tags=arch-independent
@test "run: a resumed job runs only once held: a SIGTERM sent to it as the restore ends is a final checkpoint" {
	skip_unless_ptrace
	job=("$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS")
	start_run "$T/out1" --every 1h --dir "$T/d" -- "${job[@]}"
	until_step "$T/out1" 1
	kill -TERM "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	# ckpt run stops itself (SIGSTOP at a kill point) once the restore
	# has made the job, before anything else: the job must not run
	# untraced meanwhile (a short one ended there in the arm64 guest, and
	# ckpt run could not hold it: "cannot hold the job ... Operation not
	# permitted")
	: >"$T/log"
	(export CKPT_KILLPOINT="restore: running" CKPT_KILLSIG=19
	 exec_clean "$CKPT" run --every 1h --dir "$T/d" -- "${job[@]}") >"$T/out2" 2>>"$T/log" &
	RPID=$!
	PIDS+=("$RPID")
	wait_for 300 grep -q '^State:	T' "/proc/$RPID/status"
	JOB=
	for p in $(children_of "$RPID"); do
		grep -q '^Name:	steps$' "/proc/$p/status" && JOB=$p
	done
	[ -n "$JOB" ]
	PIDS+=("$JOB")
	grep -E '^(State|TracerPid):' "/proc/$JOB/status"
	grep -q "^TracerPid:	$RPID$" "/proc/$JOB/status"
	# A batch system's SIGTERM to the job now reaches ckpt run first
	kill -TERM "$JOB"
	sleep 0.2
	kill -CONT "$RPID"
	wait_status "$RPID"
	cat "$T/log"
	[ "$st" -eq 85 ]
	grep -q 'SIGTERM to the job: final checkpoint, then the job stops' "$T/log"
	grep -q 'final checkpoint 2 ' "$T/log"
	touch "$T/fast"
	run ckpt run --dir "$T/d" -- "${job[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep '^result ' <<<"$output")" = "result $(want_result)" ]
}

# bats test_tags=arch-independent
@test "run: a resume puts ckpt run's own RLIMIT_NOFILE back (raised for the restore); the job has its own" {
	skip_unless_ptrace
	local soft
	# a soft limit below the hard one, for ckpt run and its job
	ulimit -Sn 300
	[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -gt 300 ] || skip "hard limit $(ulimit -Hn)"
	job=("$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS")
	start_run "$T/out1" --every 0.3s --dir "$T/d" -- "${job[@]}"
	wait_log "checkpoint 2 "
	kill -KILL "$RPID" "$JOB"
	reap "$RPID"
	start_run "$T/out2" --every 1h --dir "$T/d" -- "${job[@]}"
	grep -q "resumed from checkpoint" "$T/log"
	# the job is held and runs: the restore is over
	until_step "$T/out2" "$(( $(last_step "$T/out1") + 1 ))"
	for p in "$RPID" "$JOB"; do
		soft=$(sed -n 's/^Max open files *\([0-9a-z]*\) .*/\1/p' "/proc/$p/limits")
		echo "PID $p: soft RLIMIT_NOFILE $soft"
		[ "$soft" = 300 ]
	done
}

# bats test_tags=arch-independent
@test "run: a preemption signal pending in the job at its checkpoint is not restored with it" {
	skip_unless_ptrace
	start_run "$T/out1" --every 1h --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	until_step "$T/out1" 2
	# stopped, it keeps a SIGTERM pending (it acts on signals once continued)
	kill -STOP "$JOB"
	until grep -q '^State:	[tT]' "/proc/$JOB/status"; do sleep 0.02; done
	kill -TERM "$JOB"
	sleep 0.2
	grep -q '^ShdPnd:	0*4000$' "/proc/$JOB/status"
	kill -TERM "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	grep -q 'final checkpoint 1 ' "$T/log"
	# resumed, stopped as it was, then continued: it runs to its end
	start_run "$T/out2" --every 1h --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	until grep -q '^State:	[tT]' "/proc/$JOB/status"; do sleep 0.02; done
	touch "$T/fast"
	kill -CONT "$JOB"
	wait_status "$RPID"
	cat "$T/log"
	[ "$st" -eq 0 ]
	[ "$(result_of "$T/out2")" = "$(want_result)" ]
}

# bats test_tags=arch-independent
@test "run: --keep 1 keeps the newest checkpoint and the images it needs; full ones now and then" {
	skip_unless_ptrace
	start_run "$T/out1" --every 0.2s --keep 1 --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	wait_log "checkpoint 12 "
	kill -TERM "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	cat "$T/log"
	[ "$(grep -c ' full, job paused' "$T/log")" -ge 2 ]
	# far fewer images than checkpoints: a chain back to one full image,
	# at most 8 long (MAX_CHAIN), and the final checkpoint, incremental if
	# at all possible, may add one more (a 13th periodic one can begin
	# before the SIGTERM: chain 6-13, final 14 seen on a loaded machine)
	n=$(ls "$T/d"/*.img | wc -l)
	echo "$n images"
	[ "$n" -le 9 ]
	for f in "$T/d"/*.img; do "$CKPT" verify "$f"; done
	touch "$T/fast"
	run ckpt run --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	[ "$status" -eq 0 ]
	[ "$(grep '^result ' <<<"$output")" = "result $(want_result)" ]
}

# bats test_tags=arch-independent
@test "run: a damaged newest checkpoint is passed over, saying so, for the one before" {
	skip_unless_ptrace
	start_run "$T/out1" --every 0.3s --keep 3 --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	wait_log "checkpoint 3 "
	kill -KILL "$RPID" "$JOB"
	reap "$RPID"
	newest=$(ls "$T/d"/*.img | tail -n 1)
	# cut it short, as a disk that lost its tail would
	truncate -s 1000 "$newest"
	touch "$T/fast"
	run ckpt run --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"($newest) cannot be used: falling back to the one before"* ]]
	[ "$(grep '^result ' <<<"$output")" = "result $(want_result)" ]
}

# bats test_tags=arch-independent
@test "run: --restarts rolls a crashed job back to its last checkpoint, files too with --rollback-files" {
	skip_unless_ptrace
	export STEPS_CRASH_AT=2 STEPS_CRASH_FILE=$T/crash
	start_run "$T/out" --every 0.3s --dir "$T/d" --restarts 1 --rollback-files -- \
		"$CKPT_TARGETS/steps" 30 "$STEPS_MS" "$T/data"
	# a crash once a checkpoint exists: it dies at its next step
	wait_log "checkpoint 1 "
	touch "$T/crash"
	wait_log "rolled back to checkpoint "
	touch "$T/fast"
	wait_status "$RPID"
	cat "$T/log"
	[ "$st" -eq 0 ]
	grep -q "the job was killed by SIGSEGV: restart 1 of 1$" "$T/log"
	[ "$(result_of "$T/out")" = "$(want_result 30)" ]
	# the steps the rollback undid were cut from the file, then done again
	seq 1 30 | sed 's/^/step /' | diff - "$T/data"
}

# bats test_tags=arch-independent
@test "run: without --rollback-files a file the job went on writing stops the restart, saying which" {
	skip_unless_ptrace
	export STEPS_CRASH_AT=2 STEPS_CRASH_FILE=$T/crash
	start_run "$T/out" --every 0.3s --dir "$T/d" --restarts 1 -- \
		"$CKPT_TARGETS/steps" 30 "$STEPS_MS" "$T/data"
	wait_log "checkpoint 1 "
	touch "$T/crash"
	wait_status "$RPID"
	cat "$T/log"
	[ "$st" -eq 139 ]
	grep -q "file \"$T/data\" (fd 3) has changed size since the dump" "$T/log"
	grep -q "the job could not be restarted" "$T/log"
}

# bats test_tags=arch-independent
@test "run: --json: one JSON object per line, every checkpoint with its numbers" {
	skip_unless_ptrace
	run ckpt run --every 0.3s --json --log "$T/log.json" --dir "$T/d" -- \
		"$CKPT_TARGETS/steps" 12 "$STEPS_MS"
	[ "$status" -eq 0 ]
	cat "$T/log.json"
	! grep -qv '^{"time":"[0-9T:.-]*Z","event":"[a-z-]*",.*"message":".*"}$' "$T/log.json" || false
	grep -qE '"event":"checkpoint","pid":[0-9]+,"checkpoint":1,"image":"[^"]*ckpt-000001.img","kind":"full","bytes":[0-9]+,"pause_ms":[0-9.e-]+,"took_ms":[0-9.e-]+' "$T/log.json"
	grep -q '"event":"exit",.*"status":0' "$T/log.json"
	if command -v python3 >/dev/null; then
		python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/log.json"
	fi
}

# bats test_tags=arch-independent
@test "run: a DIR belongs to one job, and to one ckpt run at a time" {
	skip_unless_ptrace
	start_run "$T/out1" --every 1h --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	run ckpt run --dir "$T/d" -- "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS"
	[ "$status" -eq 1 ]
	[[ "$output" == *"\"$T/d\" is in use by another ckpt run or watch"* ]]
	# (not SIGINT: "&" has the job ignore it)
	kill -HUP "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 129 ]
	run ckpt run --dir "$T/d" -- "$CKPT_TARGETS/steps" 5 0
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"\"$T/d\" holds the checkpoints of another job"* ]]
	run ckpt run --dir "$T/empty"
	[ "$status" -eq 1 ]
	[[ "$output" == *"holds no checkpoint to resume, and no COMMAND was given"* ]]
}

# bats test_tags=arch-independent
@test "run, watch: usage errors" {
	for args in "--every 10x -- true" "--every 0 -- true" "--keep 0 -- true" "--on SIGNOPE -- true" \
		"--on SIGKILL -- true" "--restart-on bogus -- true"; do
		run ckpt run $args
		echo "$args: $output"
		[ "$status" -eq 2 ]
	done
	run ckpt watch
	[ "$status" -eq 2 ]
	run ckpt watch 1 --restarts 2
	[ "$status" -eq 2 ]
	run ckpt watch notapid
	[ "$status" -eq 2 ]
}

# bats test_tags=arch-independent
@test "watch: a job started without ckpt, checkpointed from outside; preempted, then resumed by ckpt run" {
	skip_unless_ptrace
	(exec_clean "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS") >"$T/wout" 2>"$T/werr" &
	TPID=$!
	PIDS+=("$TPID")
	wait_exec "$TPID" "$CKPT_TARGETS/steps"
	(exec_clean "$CKPT" watch "$TPID" --every 0.3s --dir "$T/d") 2>"$T/log" &
	RPID=$!
	PIDS+=("$RPID")
	wait_log "checkpoint 2 "
	kill -TERM "$RPID"
	wait_status "$RPID"
	[ "$st" -eq 85 ]
	cat "$T/log"
	# after checkpoint 2 (a third periodic one may have begun before the SIGTERM)
	grep -Eq 'final checkpoint ([3-9]|[1-9][0-9]+) .*incremental' "$T/log"
	# killed once its final checkpoint was on disk
	wait_status "$TPID"
	[ "$st" -eq 137 ]
	before=$(last_step "$T/wout")
	touch "$T/fast"
	run ckpt run --dir "$T/d"
	echo "$output"
	[ "$status" -eq 0 ]
	# its stdout was its own file: it goes on writing there
	sed -n 's/^step \([0-9]*\) .*/\1/p' "$T/wout" | diff - <(seq 1 "$STEPS_N")
	[ "$(result_of "$T/wout")" = "$(want_result)" ]
}

# bats test_tags=arch-independent
@test "watch: a tree started without ckpt: its processes held from outside, checkpointed whole; resumed by ckpt run" {
	skip_unless_ptrace
	# Appending: the shell and its worker share one open file (one offset),
	# which a restore of a tree does not make shared again yet (issue 12).
	(exec_clean sh -c "$TREE_JOB" sh "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS") >>"$T/wout" 2>"$T/werr" &
	TPID=$!
	PIDS+=("$TPID")
	until_step "$T/wout" 2
	worker=$(children_of "$TPID")
	[ -n "$worker" ]
	PIDS+=("$worker")
	(exec_clean "$CKPT" watch "$TPID" --every 0.3s --dir "$T/d") 2>"$T/log" &
	RPID=$!
	PIDS+=("$RPID")
	wait_log "checkpoint 2 "
	kill -TERM "$TPID" "$worker" "$RPID"
	wait_status "$RPID"
	cat "$T/log"
	[ "$st" -eq 85 ]
	# incremental, for a tree too
	grep -q 'final checkpoint [0-9]* .*incremental' "$T/log"
	wait_status "$TPID"
	[ "$st" -eq 137 ]
	! grep -q 'worker status' "$T/wout" || false
	touch "$T/fast"
	run ckpt run --dir "$T/d"
	echo "$output"
	[ "$status" -eq 0 ]
	sed -n 's/^step \([0-9]*\) .*/\1/p' "$T/wout" | diff - <(seq 1 "$STEPS_N")
	[ "$(result_of "$T/wout")" = "$(want_result)" ]
	grep -q '^worker status 0$' "$T/wout"
}

# bats test_tags=arch-independent
@test "watch: ends when the job ends, with its status" {
	skip_unless_ptrace
	(exec_clean "$CKPT_TARGETS/steps" 10 "$STEPS_MS") >"$T/wout" 2>"$T/werr" &
	TPID=$!
	PIDS+=("$TPID")
	wait_exec "$TPID" "$CKPT_TARGETS/steps"
	run ckpt watch "$TPID" --every 0.3s --dir "$T/d"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"the job exited with status 0"* ]]
	[ "$(result_of "$T/wout")" = "$(want_result 10)" ]
}

# bats test_tags=arch-independent
@test "watch: SIGINT or SIGHUP ends the watch, not the job, which runs on untraced" {
	skip_unless_ptrace
	(exec_clean "$CKPT_TARGETS/steps" "$STEPS_N" "$STEPS_MS") >"$T/wout" 2>"$T/werr" &
	TPID=$!
	PIDS+=("$TPID")
	wait_exec "$TPID" "$CKPT_TARGETS/steps"
	(exec_clean "$CKPT" watch "$TPID" --every 0.3s --dir "$T/d") 2>"$T/log" &
	RPID=$!
	PIDS+=("$RPID")
	wait_log "checkpoint 1 "
	kill -HUP "$RPID"
	wait_status "$RPID"
	cat "$T/log"
	[ "$st" -eq 129 ]
	grep -q 'SIGHUP: no longer watching; the job runs on$' "$T/log"
	grep -q '^TracerPid:	0$' "/proc/$TPID/status"
	touch "$T/fast"
	wait_status "$TPID"
	[ "$st" -eq 0 ]
	[ "$(result_of "$T/wout")" = "$(want_result)" ]
}
