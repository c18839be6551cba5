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

# Trials per case.  A sixteenth (at least one) in the emulated arm64
# guest: a dump there is 10-30x slower (ptrace round trips 15-40x), a
# quarter of the host's trials took 35 minutes there on a busy machine,
# and make check runs the whole arm64 suite in one guest
# (tests/arm64-check.sh: 40 minutes at most).  The guest checks that the
# arm64 paths hold (the sigframe, the vdso gadget); the host, how often.
trials() {
	if [ -n "${CKPT_ARM64:-}" ]; then echo $(( ($1 + 15) / 16 )); else echo "$1"; fi
}

# Even so, two trials took 144 s in the guest on a busy machine: there
# only the cases whose code differs by architecture run (plain, --fork,
# --track and restore: the sigframe, the vdso gadget, the copy's exit
# frame, the uffd moves); these others test what is the same code on both.
host_only() {
	[ -z "${CKPT_ARM64:-}" ] ||
		skip "arch-independent, and too slow in the emulated guest: the host runs it"
}

# What a dump must leave as it was: threads, fds (with what they are),
# mappings, children (zombies included).  The userfaultfds ckpt keeps in
# the process for --track are counted apart: a killed dump may take one
# away (docs/kill-safety.md), never add one.  Three programs, not one per
# fd: settled() takes one of these per round, and in the loaded arm64
# guest, where the job keeps both CPUs busy, each program a round starts
# costs a second or more (a round of 30 took 15-300 s there).  A /proc
# file is read by one program, whole: the read builtin reads it in pieces,
# and status is made anew for each (lines shift between them).
snapshot() {
	local p=$1 t m
	t=(/proc/"$p"/task/*)
	echo "${#t[@]}"
	fd_links "$p" | while read -r t m; do
		[ "$m" = "anon_inode:[userfaultfd]" ] || echo "$t $m"
	done
	cat "/proc/$p/maps"
	cat /proc/"$p"/task/*/children
}

# fd_links PID: "FD TARGET" for each fd of PID, from one ls -l.
fd_links() {
	local line name
	ls -l "/proc/$1/fd/" 2>/dev/null | while IFS= read -r line; do
		[[ $line == *" -> "* ]] || continue
		name=${line%% -> *}
		echo "${name##* } ${line#* -> }"
	done
}

# tree_snapshot PID: snapshot of PID and of each of its children, and
# whether each child runs (neither stopped nor traced).
tree_snapshot() {
	local c st tr
	snapshot "$1"
	for c in $(cat /proc/$1/task/*/children); do
		st=$(awk '/^State:/{print $2}' "/proc/$c/status")
		tr=$(awk '/^TracerPid:/{print $2}' "/proc/$c/status")
		echo "child $c: state ${st/[RSD]/runs}, tracer $tr"
		snapshot "$c"
	done
}

# How long the test waits for what must end or settle before it calls it a
# hang and says where everything is (where_is): minutes, for a busy
# machine and the emulated arm64 guest, where one round of settled() alone
# takes 10-20 s.  Waits are bounded by time, not by rounds.  A wait that
# fails says so on fd 3 at once: the guest's console must not stay silent
# for 600 s (tests/arm64-check.sh stops it then, naming no test).
HANG_S=300
if [ -n "${CKPT_ARM64:-}" ]; then SETTLE_S=300; else SETTLE_S=120; fi

# where_is PID: each thread of PID and of its children (state, tracer,
# signals pending and blocked, wchan), and each ckpt (or its guardian)
# still there for PID: what a wait that does not end waits for.
where_is() {
	local p t k v line c
	for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		for t in /proc/"$p"/task/*; do
			line=
			while read -r k v; do
				case $k in
				Name: | State: | TracerPid: | SigPnd: | ShdPnd: | SigBlk:) line+="$k ${v%% *} " ;;
				esac
			done < <(cat "$t/status" 2>/dev/null)
			[ -n "$line" ] || continue
			v=
			# no newline: read says EOF (and would end the function:
			# set -e), v has it all the same
			read -r v 2>/dev/null <"$t/wchan" || true
			echo "  ${p}/${t##*/}: ${line}wchan ${v:-?}"
		done
	done
	for p in /proc/[0-9]*; do
		read -r c 2>/dev/null <"$p/comm" || continue
		case $c in ckpt | ckpt-guardian) ;; *) continue ;; esac
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q " $1 " || continue
		v=
		read -r v 2>/dev/null <"$p/wchan" || true
		echo "  ${p#/proc/} $c: $(grep -E '^(State|PPid|TracerPid):' "$p/status" | tr '\t\n' '  ')wchan ${v:-?}"
	done
}

# progress WHAT: in the guest, where one case can take minutes on a busy
# machine, each step says when it is done (on fd 3: the console is not
# silent while the test works; a wait that never ends is hung()'s).
progress() {
	[ -z "${CKPT_ARM64:-}" ] || echo "# killsafe: $* ($((SECONDS - t0)) s)" >&3
}

# hung WHAT: WHAT did not end or settle within its bound: said on fd 3 now
# (the console hears of it), and here with where everything is.
hung() {
	echo "# killsafe: $1" >&3
	echo "$1; where the job ($TPID) and ckpt are:"
	where_is "$TPID"
}

# all_running PID: no thread of PID stopped, traced or a zombie (the
# test's own job: its main thread may be the one a dump left so).  One grep
# for all, of the two lines wanted (State comes before TracerPid in each):
# the read builtin is slow on 1,000 threads' whole status files (1.9 s).
all_running() {
	local k v st=
	while read -r k v; do
		case $k in
		State:) st=$v ;;
		TracerPid:) [ "$v" = 0 ] && [[ $st != [TtZ]* ]] || return 1 ;;
		esac
	done < <(grep -h '^State:\|^TracerPid:' /proc/"$1"/task/*/status 2>/dev/null)
}

# settled PID BASE: the process is as BASE says, untraced, not stopped
# (no thread of it), and no temporary image file is left, within SETTLE_S
# (the guardian of a killed dump needs a moment, and more on a busy
# machine: the --fork copy it waits for exits at SCHED_IDLE).  On failure
# it says what differs and where everything is.
settled() {
	local p=$1 base=$2 left u f end=$((SECONDS + SETTLE_S))
	while :; do
		left=
		for f in "$T"/imgs/*; do
			if [ -e "$f" ] && [[ ! ${f##*/} =~ ^img[0-9]*$ ]]; then left+="${f##*/} "; fi
		done
		u=$(fd_links "$p" | grep -c ' anon_inode:\[userfaultfd\]$') || true
		if running_as "$p" "$base" && all_running "$p" && [ -z "$left" ] &&
		   [ "${u:-0}" -le "${BASE_UFFDS:-0}" ]; then
			return 0
		fi
		[ "$SECONDS" -lt "$end" ] || break
		sleep 0.05
	done
	hung "the job did not settle within $SETTLE_S s"
	echo "state ${ST:-gone}, tracer ${TR:-?}, files left: ${left:-none}, uffds $u (was $BASE_UFFDS)"
	diff <(echo "$base") <(echo "$NOW") | head -8
	return 1
}

# running_as PID BASE: the process runs (neither stopped, traced nor a
# zombie) and is as BASE says; ST, TR and NOW are what was seen.
running_as() {
	local k v
	ST= TR=
	while read -r k v; do
		case $k in State:) ST=${v%% *} ;; TracerPid:) TR=$v ;; esac
	done < <(cat "/proc/$1/status" 2>/dev/null)
	NOW=$(${SNAPSHOT:-snapshot} "$1" 2>/dev/null) || true
	[ "$TR" = 0 ] && [ "$ST" != T ] && [ "$ST" != t ] && [ "$ST" != Z ] && [ "$NOW" = "$2" ]
}

# exits_within SECONDS PID (by the clock: a round can take seconds in the
# guest)
exits_within() {
	local end=$((SECONDS + $1))
	while kill -0 "$2" 2>/dev/null; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# kill_trials N [DUMP ARGS]: N dumps of $TPID, each killed; counts harms.
# "--parent" in the args makes each dump's parent the last complete image.
# With KILLSIG=INT or TERM, that signal instead of SIGKILL: ckpt must then
# undo what it did and exit, within a minute even on a busy machine.
kill_trials() {
	local n=$1 i k total ms base st harms=0 finished=0 args where=() tally aims
	local sig=${KILLSIG:-KILL} signr t0=$SECONDS
	shift
	mkdir -p "$T/imgs"
	args=("$@")
	[ "${1:-}" = --parent ] && args=(--parent "$T/imgs/img0" "${@:2}")
	"$CKPT" -vv dump "$TPID" "${args[@]}" -o "$T/imgs/img1" 2>"$T/cal" &
	k=$!
	if ! exits_within "$HANG_S" "$k"; then
		hung "the whole dump (ckpt dump ${args[*]}) did not end within $HANG_S s"
		kill -KILL "$k"
		wait "$k" || true
		return 1
	fi
	wait "$k" || { cat "$T/cal"; return 1; }
	mv "$T/imgs/img1" "$T/imgs/img0"
	total=$(sed -n 's/.*kill points passed: //p' "$T/cal")
	ms=$(sed -n 's/.*dump took \([0-9]*\).*/\1/p' "$T/cal")
	[ -n "$ms" ] || { cat "$T/cal"; return 1; }
	progress "ckpt dump $*: the whole dump done"
	base=$(${SNAPSHOT:-snapshot} "$TPID")
	BASE_UFFDS=$(uffds "$TPID")
	signr=$(kill -l "$sig")
	# One kill point trial in two is aimed at a step that changes the
	# process other than the many injected syscalls.
	aims=("dump: frozen" "dump: tracer exits" "dump: a slot placed" "dump: written" "image: renamed" "give back: registers"
		"trip: signals blocked" "trip: signal sent" "trip: registers back")
	case " $* " in *" --fork "*) aims+=("fork: clone next" "fork: copy made" "fork: reaping") ;; esac
	case " $* " in *" --snapshot "*)
		aims+=("snapshot: uffd made" "snapshot: uffd taken" "snapshot: mremap next" "snapshot: moved"
		       "snapshot: filling" "snapshot: filled" "snapshot: uffd closed" "snapshot: unmapping"
		       "snapshot: freeing behind") ;;
	esac
	case " $* " in *" --track "* | *" --parent "*)
		aims+=("track: uffd made" "track: uffd at its slot" "track: uffd moved" "track: re-protecting") ;;
	esac
	for i in $(seq "$n"); do
		if [ $((i % 2)) = 0 ] && [ -n "$total" ]; then
			k=$(( (RANDOM * 32768 + RANDOM) % total + 1 ))
			[ $((i % 4)) != 0 ] || k=${aims[RANDOM % ${#aims[@]}]}
			st=0
			{ CKPT_KILLPOINT=$k CKPT_KILLSIG=$signr timeout -s KILL 60 \
				"$CKPT" -vv dump "$TPID" "${args[@]}" -o "$T/imgs/img1"; } \
				2>"$T/kerr" || st=$?
			[ "$st" != 137 ] || [ "$sig" = KILL ] || {
				echo "ckpt did not exit within 60 s of SIG$sig at kill point $k"
				harms=$((harms + 1))
			}
			# Where it died, for the tally: "inject", "borrow", "fork"...
			k=$(sed -n 's/.*killed at kill point \([0-9]*: [a-z ]*\).*/\1/p' "$T/kerr" | head -n 1)
			[ -z "$k" ] || where+=("${k#*: }")
		else
			"$CKPT" dump "$TPID" "${args[@]}" -o "$T/imgs/img1" 2>/dev/null &
			k=$!
			sleep "$(printf '0.%03d' $(( RANDOM % (ms + 10) % 1000 )))"
			kill -"$sig" "$k" 2>/dev/null || true
			exits_within 60 "$k" || {
				echo "ckpt did not exit within 60 s of SIG$sig"
				harms=$((harms + 1))
				kill -KILL "$k"
			}
			st=0
			wait "$k" 2>/dev/null || st=$?
			k="delay"
		fi
		if [ "$st" = 0 ]; then
			# A dump that completed: its image is the next parent, and
			# --track's userfaultfd is part of the process from now on.
			mv "$T/imgs/img1" "$T/imgs/img0"
			finished=$((finished + 1))
			BASE_UFFDS=$(uffds "$TPID")
			settled "$TPID" "$(${SNAPSHOT:-snapshot} "$TPID")" >/dev/null
			base=$(${SNAPSHOT:-snapshot} "$TPID")
			progress "ckpt dump $*: trial $i of $n done before the kill"
			continue
		fi
		if ! settled "$TPID" "$base"; then
			echo "harm after a kill (at $k) of: ckpt dump ${args[*]}"
			harms=$((harms + 1))
		fi
		progress "ckpt dump $*: trial $i of $n killed (at ${k:-?}): $harms harmed so far"
		rm -f "$T/imgs/img1"
		BASE_UFFDS=$(uffds "$TPID")	# one may have gone, never to come back
	done
	tally=$(printf '%s\n' "${where[@]}" | sort | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/\2 \1/' | paste -sd ,)
	echo "# killsafe: ckpt dump $*: $n trials (at kill points: ${tally:-none}; $finished done before the kill)," \
		"$harms harmed the process ($((SECONDS - t0)) s)" >&3
	[ "$harms" = 0 ]
}

# The job ran on unharmed all along: it says so when told to stop.
job_held() {
	touch "$T/go"
	local st=0
	if ! exits_within "$HANG_S" "$TPID"; then
		hung "the job did not end within $HANG_S s of being told to"
		cat "$T/out" "$T/err"
		return 1
	fi
	wait "$TPID" || st=$?
	cat "$T/out" "$T/err"
	[ "$st" = 0 ]
}

@test "killsafe: ckpt killed at random points of plain (frozen, --no-fork) dumps: the process runs on as before" {
	skip_unless_ptrace
	start_target steady
	kill_trials "$(trials 32)" --no-fork --compress none
	job_held
}

@test "killsafe: killed --fork dumps: no copy left running, no zombie" {
	skip_unless_ptrace
	start_target steady
	kill_trials "$(trials 32)" --fork
	job_held
}

# The guardian holds the userfaultfd and fills every page left in the
# shadows: the job (which checks every chunk it rewrites) reads no zero.
# The injected syscalls are --fork's and --track's (the guest runs those);
# what is new here is the same C on both: host only.
@test "killsafe: killed --snapshot dumps: every page given back, no shadow or userfaultfd left" {
	skip_unless_ptrace
	host_only
	start_target steady
	kill_trials "$(trials 32)" --snapshot
	job_held
}

@test "killsafe: killed --track dumps leave no userfaultfd behind" {
	skip_unless_ptrace
	start_target steady
	kill_trials "$(trials 24)" --track
	job_held
}

@test "killsafe: killed incremental dumps (--parent, tracking on) leave the parent's tracking as it was" {
	skip_unless_ptrace
	host_only
	start_target steady
	mkdir -p "$T/imgs"
	"$CKPT" dump "$TPID" --track -o "$T/imgs/img0"
	kill_trials "$(trials 24)" --parent
	job_held
}

@test "killsafe: killed compressed dumps (zstd on two threads, frozen)" {
	skip_unless_ptrace
	host_only
	start_target steady
	kill_trials "$(trials 16)" --no-fork --compress zstd -j 2
	job_held
}

@test "killsafe: killed dumps of a process with 1,000 threads" {
	skip_unless_ptrace
	host_only
	start_target steady 1000
	kill_trials "$(trials 12)"
	job_held
}

# A --no-fork dump's frozen part runs on a thread of ckpt's own, whose
# exit lets the job's threads go in one loop of the kernel
# (dump/tracer.c): killed right before that exit, with the threads
# forgotten but still traced by it, the job runs on; a SIGTERM or SIGINT
# (which lands on ckpt's main thread, which sends it on) while frozen is
# undone and ckpt exits of it, and after the release the dump ends either
# way.  200 threads (the guest: 20), each in its interrupt stop or a
# trip's end stop there.
@test "killsafe: killed or interrupted as the tracing thread exits to let the job go (--no-fork)" {
	skip_unless_ptrace
	local sig k st base t0=$SECONDS
	start_target steady "$([ -n "${CKPT_ARM64:-}" ] && echo 20 || echo 200)"
	mkdir -p "$T/imgs"
	base=$(snapshot "$TPID")
	for sig in KILL TERM INT; do
		for k in "dump: tracer exits" "dump: frozen"; do
			st=0
			{ CKPT_KILLPOINT=$k CKPT_KILLSIG=$(kill -l $sig) timeout -s KILL 300 \
				"$CKPT" -vv dump "$TPID" --no-fork --compress none -o "$T/imgs/img1"; } \
				2>"$T/kerr" || st=$?
			grep -q "killed at kill point [0-9]*: $k" "$T/kerr" || { cat "$T/kerr"; false; }
			# KILL: 137; TERM, INT: ckpt dies of it (undone) once frozen,
			# or completes when it came after the release
			case $sig:$k in
			KILL:*) [ "$st" = 137 ] ;;
			*:"dump: frozen") [ "$st" = $((128 + $(kill -l $sig))) ] ;;
			*) [ "$st" = 0 ] || [ "$st" = $((128 + $(kill -l $sig))) ] ;;
			esac || { echo "SIG$sig at $k: exit status $st"; cat "$T/kerr"; false; }
			settled "$TPID" "$base"
			progress "SIG$sig at $k: settled"
			rm -f "$T/imgs/img1"
		done
	done
	job_held
}

# Threads on stacks next to each other (user-level threads, goroutines):
# what a borrow writes below one thread's stack pointer (its frames, a few
# KiB) must never cover another's live stack, or a kill of ckpt before the
# bytes are put back leaves that thread corrupted (docs/kill-safety.md 1;
# 80 threads on 1 KiB stacks died of SIGSEGV after such a kill).  On 1 KiB
# stacks the dump refuses before writing anything; on 4 KiB ones the
# frames fit between the neighbours, and with every signal blocked in the
# threads (no trip: ptrace/trip.c) each of them is borrowed: killed at
# each step of a borrow and of giving back, the job runs on whole.  A kill
# point that a dump does not reach lets it complete; the job must be whole
# either way.
@test "killsafe: killed while borrowing threads on adjacent stacks: no stack written over" {
	skip_unless_ptrace
	local slot k st base points roomy refused=() killed=()
	points=("borrow: signals blocked#6" "borrow: frame written#2" "borrow: at the gadget#15"
		"borrow: signals blocked#40" "give back: mask#5" "give back: registers#30" "trip: frames written"
		"give back: stack#70")
	# The guest: the first two (every thread is borrowed there, slowly).
	[ -z "${CKPT_ARM64:-}" ] || points=("${points[@]:0:2}")
	mkdir -p "$T/imgs"
	# Roomy: stacks far enough apart for the frames (arm64's hold more
	# context: its extra records, SVE's registers where there are some).
	roomy=4096
	[ "$(uname -m)" != aarch64 ] || roomy=16384
	for slot in 1024 "$roomy"; do
		rm -f "$T/ready" "$T/go"
		if [ "$slot" = 1024 ]; then
			start_target adjacent_stacks 80 "$slot"
		else
			start_target adjacent_stacks 80 "$slot" blocked
		fi
		base=$(snapshot "$TPID")
		for k in "${points[@]}"; do
			st=0
			CKPT_KILLPOINT=$k timeout -s KILL 120 "$CKPT" dump "$TPID" --no-fork -o "$T/imgs/img1" \
				2>"$T/kerr" || st=$?
			if [ "$st" = 1 ] && grep -q "bytes ckpt writes below it to run syscalls in it" "$T/kerr"; then
				refused+=("$slot")
			elif [ "$st" = 137 ]; then
				killed+=("$slot")
			elif [ "$st" != 0 ]; then
				echo "$slot-byte stacks, at $k: exit $st"
				cat "$T/kerr"
				return 1
			fi
			rm -f "$T/imgs/img1"
			settled "$TPID" "$base" || { echo "$slot-byte stacks, killed at $k"; return 1; }
		done
		# Whole: its registers, its stack bytes, its counting.
		job_held || { echo "$slot-byte stacks: harmed"; return 1; }
		grep -qx "adjacent_stacks: ok" "$T/out"
	done
	echo "refused on: ${refused[*]}; killed on: ${killed[*]}"
	# 1 KiB: refused every time (nothing ever written); roomy: never
	# refused, and killed at most of the points.
	[ "$(printf '%s\n' "${refused[@]}" | grep -c '^1024$')" = "${#points[@]}" ]
	[ "$(printf '%s\n' "${refused[@]}" | grep -c "^$roomy\$")" = 0 ]
	[ "$(printf '%s\n' "${killed[@]}" | grep -c "^$roomy\$")" -ge $(( (${#points[@]} + 1) / 2 )) ]
}

# The first thread on a stack carved right above another thread's live
# stack (tests/targets/carved_leader.c: an M:N runtime's main thread on a
# user-level thread's stack).  After the release, --fork's reaping and
# --snapshot's freeing behind and end stop one thread and borrow it while
# the others run: a borrow of the first thread alone would write its frame
# over the worker's live stack and put back stale bytes under it
# (docs/kill-safety.md 1; ptrace/lone.c stops every thread instead).  The
# worker writes and reads back its bytes all the time: every word must be
# as it wrote it.  Three --fork dumps: one reaping stop each, which the
# worker on a loaded machine may miss; the --snapshot's end stops every
# thread.
@test "killsafe: stops after the release never borrow the first thread alone over a running thread's stack" {
	skip_unless_ptrace
	local i
	start_target carved_leader 16
	for i in 1 2 3; do
		"$CKPT" dump "$TPID" --fork -v -o "$T/img" 2>"$T/kerr" || { cat "$T/kerr"; return 1; }
		grep -q "the forked copy reaped" "$T/kerr" || { cat "$T/kerr"; return 1; }
		rm -f "$T/img"
	done
	"$CKPT" dump "$TPID" --snapshot -v -o "$T/img" 2>"$T/kerr" || { cat "$T/kerr"; return 1; }
	# The end's stop was made, with every thread frozen; freeing behind,
	# which cannot borrow the first thread alone here, is left to it
	# (a stop of every thread per 2 MiB would be worse for the job).
	grep -q "copies of memory unmapped in" "$T/kerr" || { cat "$T/kerr"; return 1; }
	grep -q "every thread stopped for it" "$T/kerr" || { cat "$T/kerr"; return 1; }
	! grep -q "freed behind the writer in [1-9]" "$T/kerr" || { cat "$T/kerr"; return 1; }
	job_held
	grep -qx "carved_leader: ok" "$T/out"
}

@test "killsafe: killed dumps of a tree of three processes: every one of them runs on as before" {
	skip_unless_ptrace
	host_only
	start_target steady 0 2
	SNAPSHOT=tree_snapshot kill_trials "$(trials 10)" --no-fork --compress none
	SNAPSHOT=tree_snapshot kill_trials "$(trials 10)" --fork
	SNAPSHOT=tree_snapshot KILLSIG=TERM kill_trials "$(trials 6)" --fork
	job_held
}

@test "killsafe: SIGTERM and SIGINT (Ctrl-C) at random points of plain, --fork and --track dumps: undone, and ckpt exits" {
	skip_unless_ptrace
	host_only
	start_target steady
	for sig in TERM INT; do
		for opts in "--no-fork --compress none" --fork --track; do
			# shellcheck disable=SC2086
			KILLSIG=$sig kill_trials "$(trials 10)" $opts
		done
	done
	job_held
}

@test "killsafe: SIGTERM or a failed --track dump leaves no userfaultfd (and the job as it was)" {
	skip_unless_ptrace
	host_only
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

# The --fork copy is killed and waited for at the end of every such dump
# (fork_reap, at SCHED_IDLE: slow on a busy machine).  A SIGTERM in that
# wait once ended it: the copy, a zombie still traced by ckpt, is its
# tracer's alone to see, so the wait4 run in the job found nothing, and
# once ckpt was gone it stayed a zombie of the job for good (test 10's
# "did not settle" on a busy machine).  The signal is sent when the copy
# has SIGKILL pending and has not died yet: in that wait or just before.
@test "killsafe: SIGTERM while ckpt waits for its killed --fork copy: no zombie left in the job" {
	skip_unless_ptrace
	host_only
	start_target dirty 128 20
	base=$(snapshot "$TPID")
	BASE_UFFDS=0
	mkdir -p "$T/imgs"
	hits=0
	for i in 1 2 3 4 5; do
		"$CKPT" dump "$TPID" --fork --compress none --no-sync -o "$T/imgs/img" 2>"$T/err" &
		k=$!
		hit=0 sent=0
		while kill -0 "$k" 2>/dev/null && [ "$hit" = 0 ]; do
			for c in $(cat /proc/"$TPID"/task/*/children 2>/dev/null); do
				case "$(grep -h '^State:\|^ShdPnd:' "/proc/$c/status" 2>/dev/null | tr '\t\n' '  ')" in
				"State: "[RSD]*"ShdPnd: "*0100" ")
					hit=1	# ckpt may be gone already
					kill -TERM "$k" 2>/dev/null && sent=1 ;;
				esac
			done
		done
		st=0
		wait "$k" || st=$?
		echo "dump $i: signal sent $sent, status $st: $(cat "$T/err")"
		[ "$st" = 0 ] || [ "$st" = 143 ]
		hits=$((hits + sent))
		rm -f "$T/imgs/img"
		settled "$TPID" "$base"
	done
	[ "$hits" -gt 0 ] || skip "each copy died before the signal could be sent"
}

# fork.c: the copy's first stop and its doom wait for the release
# (fork_settle), so that a copy that needs a CPU to reach that stop is not
# waited for in the job's pause.  ckpt killed there (by --fork and by the
# default, which forks here): the job runs again already, the copy, not
# run yet, exits into its exit frame and the guardian reaps it.
@test "killsafe: ckpt killed after the release, before its --fork copy stopped: the copy exits unrun, no zombie" {
	skip_unless_ptrace
	start_target steady
	base=$(snapshot "$TPID")
	BASE_UFFDS=0
	mkdir -p "$T/imgs"
	for opts in --fork --compress=none; do
		st=0
		CKPT_KILLPOINT="fork: copy to settle" "$CKPT" -vv dump "$TPID" "$opts" \
			-o "$T/imgs/img" 2>"$T/err" || st=$?
		echo "dump $opts: status $st"
		[ "$st" = 137 ] || { cat "$T/err"; false; }
		# killed after the release, from a copy
		grep -q "memory is read from the forked copy" "$T/err"
		grep -q ") release " "$T/err" || { cat "$T/err"; false; }
		rm -f "$T/imgs/img"
		settled "$TPID" "$base"
	done
	job_held
}

# A job's tracer, once ckpt is killed: the guardian (dump/guard.c), not
# the dead ckpt; 0 until it has seized the job.  Sets GUARDIAN.
guardian_holds() {
	GUARDIAN=$(awk '/^TracerPid:/{print $2}' "/proc/$1/status" 2>/dev/null)
	[ -n "$GUARDIAN" ] && [ "$GUARDIAN" != 0 ] && [ "$GUARDIAN" != "$2" ]
}

# The guardian's let_go_if_ours (dump/guard.c): ckpt killed while the
# injected clone of --fork runs, the guardian seizes the job before the
# kernel links the copy to a tracer, so the copy gets it (the clone's
# trace decision was made at its start, with ckpt's PTRACE_O_TRACECLONE)
# and waits in a stop before its first instruction: let go, it exits by
# itself (before, the guardian waited 600 s for it).  The window is held
# open here: the job's forks wait for a userfaultfd monitor's read of the
# fork event (targets/fork_uffd.c), given once the guardian holds the job.
@test "killsafe: ckpt killed in --fork's clone, the guardian holding the job before the copy is born: the copy is let go, nothing is left" {
	skip_unless_ptrace
	host_only
	local k
	start_target fork_uffd "$T"
	PIDS+=("$(cat "$T/monitor.pid")")
	base=$(snapshot "$TPID")
	BASE_UFFDS=0
	"$CKPT" -vv dump "$TPID" --fork -o "$T/img" 2>"$T/dump.err" &
	k=$!
	PIDS+=("$k")
	# the injected clone waits for the monitor: ckpt killed there
	wait_for 120 test -e "$T/fork-pending" || { cat "$T/dump.err"; false; }
	kill -KILL "$k"
	wait "$k" || true
	wait_for 60 guardian_holds "$TPID" "$k" || { where_is "$TPID"; false; }
	PIDS+=("$GUARDIAN")
	touch "$T/release"
	settled "$TPID" "$base"
	grep "guardian" "$T/dump.err"
	grep -q "guardian: the copy [0-9]* was born traced by us: let go" "$T/dump.err"
	job_held
}

@test "killsafe: a dump that runs out of space (ENOSPC) says so in one line and leaves the process and the directory as they were" {
	skip_unless_ptrace
	host_only
	skip_unless_root
	unshare -m true 2>/dev/null || skip "no mount namespaces here (unshare -m)"
	start_target steady
	base=$(snapshot "$TPID")
	BASE_UFFDS=0
	mkdir -p "$T/imgs" "$T/small"
	# A tmpfs of its own for each dump, in a mount namespace that ends
	# with it; the image (4.2-4.5 MB) fails in the metadata, in the
	# pages, or near the end.
	for opts in "--no-fork --compress none" "--fork --compress none" "--track" \
		    "--no-fork --compress zstd -j 2" \
		    "--fork --compress zstd"; do
		for size in 16k 1m 4m; do
			run unshare -m sh -c 'mount -t tmpfs -o size=$1 none "$2" &&
				"$3" dump "$4" $5 -o "$2/img"; st=$?; ls -A "$2"; exit $st' \
				sh "$size" "$T/small" "$CKPT" "$TPID" "$opts"
			echo "dump $opts into $size: status $status: $output"
			[ "$status" = 1 ]
			[ "${#lines[@]}" = 1 ]
			[[ "$output" == *"No space left on device" ]]
			settled "$TPID" "$base"
		done
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
	! ls "$T" | grep -q ckpt-tmp || false
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
	host_only
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

# whole_or_gone PID BASE: after a killed restore, within 10 s, process PID
# is either gone or whole: as BASE says (threads, fds, mappings), running
# and untraced.  Sets OUTCOME to "gone" or "whole"; on failure says why.
whole_or_gone() {
	local p=$1 base=$2 i
	for i in $(seq 200); do
		if [ ! -d "/proc/$p" ]; then
			OUTCOME=gone
			return 0
		fi
		if running_as "$p" "$base"; then
			OUTCOME=whole
			return 0
		fi
		sleep 0.05
	done
	echo "process $p: state ${ST:-gone}, tracer ${TR:-?}"
	diff <(echo "$base") <(echo "$NOW") | head -8
	return 1
}

# gone PID: kill a restored process (not our child) and wait for its end.
gone() {
	local i
	kill -KILL "$1" 2>/dev/null || true
	for i in $(seq 400); do
		[ -d "/proc/$1" ] || return 0
		sleep 0.05
	done
	echo "process $1 does not go away"
	return 1
}

# restore_trials N [RESTORE ARGS]: N restores of $T/img of $TPID, each
# killed; the process must be whole or gone after each.  Run under
# targets/reaper.
restore_trials() {
	local n=$1 i k r p made sig detach whole=0 none=0 moved=0 harms=0 t0 ms total base
	shift
	# A whole restore first: its kill points, how long it takes, and
	# what the process looks like.
	t0=$EPOCHREALTIME
	"$CKPT" -vv restore --detach "$@" "$T/img" >"$T/pid" 2>"$T/cal"
	ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
	total=$(sed -n 's/.*kill points passed: //p' "$T/cal")
	[ "$(cat "$T/pid")" = "$TPID" ] && [ -n "$total" ] || { cat "$T/cal"; return 1; }
	base=$(snapshot "$TPID")	# whole once --detach has printed its PID
	gone "$TPID" || return 1
	for i in $(seq "$n"); do
		# Alternately: --detach or staying its parent; at a kill point
		# or after a delay; SIGKILL, or (one trial in four) SIGTERM.
		detach=() sig=KILL
		[ $((i % 2)) = 0 ] || detach=(--detach)
		[ $((i % 4)) != 3 ] || sig=TERM
		if [ $((i % 4)) -lt 2 ]; then
			k=$(( (RANDOM * 32768 + RANDOM) % total + 1 ))
			CKPT_KILLPOINT=$k CKPT_KILLSIG=$(kill -l $sig) \
				"$CKPT" -vv restore "${detach[@]}" "$@" "$T/img" >/dev/null 2>"$T/kerr" &
			r=$!
		else
			"$CKPT" restore "${detach[@]}" "$@" "$T/img" >/dev/null 2>&1 &
			r=$! k=delay
			sleep "$(printf '0.%03d' $(( RANDOM % (ms + 10) % 1000 )))"
			kill -"$sig" "$r" 2>/dev/null || true
		fi
		# Staying its parent, ckpt waits for the process: not for us.
		exits_within 60 "$r" || kill -KILL "$r" 2>/dev/null || true
		wait "$r" 2>/dev/null || true
		[ "$k" = delay ] || k=$(sed -n 's/.*killed at kill point \([0-9]*: .*\) (signal.*/\1/p' "$T/kerr")
		# ckpt is gone: whatever it made is the reaper's child now, and
		# must be whole or going (it normally has the PID $TPID).
		made=gone
		for p in $(below "$PPID" $$ | cut -d' ' -f1); do
			if ! whole_or_gone "$p" "$base"; then
				echo "half-restored after SIG$sig (at ${k:-?}) of: ckpt restore ${detach[*]} $*"
				harms=$((harms + 1))
			elif [ "$OUTCOME" = whole ]; then
				made=whole
				[ "$p" = "$TPID" ] || moved=$((moved + 1))
			fi
			gone "$p" || return 1
		done
		[ "$made" = whole ] && whole=$((whole + 1)) || none=$((none + 1))
	done
	echo "# killsafe: ckpt restore $*: $n trials killed: $whole whole ($moved with a new PID)," \
		"$none not there, $harms half-restored ($SECONDS s)" >&3
	[ "$harms" = 0 ]
}

@test "killsafe: ckpt restore killed at random points: the process is whole and runs, or is not there at all" {
	skip_unless_ptrace
	# The restored process keeps its PID (root's clone3 set_tid): that
	# is how the test finds it.
	skip_unless_root
	start_target threads
	dump_kill
	export T CKPT TPID
	export -f restore_trials whole_or_gone running_as gone exits_within snapshot below
	# Orphans of a killed ckpt come to the reaper, which frees their
	# PIDs at once (PID 1 may take seconds, or never in the arm64 guest).
	"$CKPT_TARGETS/reaper" bash -c "restore_trials $(trials 32)"
	# And a restore after all that is whole: the process checks itself.
	restore_go
	[ "$status" -eq 0 ]
}

# below PID EXCEPT: the processes below PID (its children, theirs...), but
# not EXCEPT nor what is below it, one "PID COMM STATE TRACER" line each,
# STATE "runs" for R, S, D.  From /proc/PID/stat (ppid), which every
# kernel has (/proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN).
below() {
	local f line rest pid ppid p q tr
	local -A parent state comm
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		pid=${line%% *} rest=${line##*) }
		p=${line#*(}
		comm[$pid]=${p%)*}
		state[$pid]=${rest%% *}
		rest=${rest#* }
		parent[$pid]=${rest%% *}
	done
	local -a todo=("$1")
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		for q in "${!parent[@]}"; do
			[ "${parent[$q]}" = "$p" ] && [ "$q" != "$2" ] || continue
			todo+=("$q")
			tr=
			{ while read -r line rest; do
				[ "$line" != TracerPid: ] || { tr=$rest; break; }
			done <"/proc/$q/status"; } 2>/dev/null || true
			# gone (and reaped) since its stat was read: not there
			[ -n "$tr" ] || continue
			echo "$q ${comm[$q]} ${state[$q]/[RSD]/runs} $tr"
		done
	done
}

# tree_now: what the restore of the trials made, as it is: the processes
# below the reaper but this shell, without their PIDs (a tree in a PID
# namespace has new ones here), sorted.
tree_now() {
	below "$PPID" $$ | cut -d' ' -f2- | sort
}

# tree_settles BASE: within 30 s of the killed ckpt restore's end, what it
# made is either nothing (OUTCOME=gone) or the whole tree as BASE says,
# every process running and untraced, the guardian gone (OUTCOME=whole).
tree_settles() {
	local end=$((SECONDS + 30))
	while [ "$SECONDS" -le "$end" ]; do
		NOW=$(tree_now)
		[ -n "$NOW" ] || { OUTCOME=gone; return 0; }
		[ "$NOW" != "$1" ] || { OUTCOME=whole; return 0; }
		sleep 0.05
	done
	return 1
}

# tree_ends: the restored tree, told to go, ends by itself within 60 s and
# says it held (tree_basic: its sums, its parents, its children's exit
# statuses); else it is killed.
tree_ends() {
	local p end=$((SECONDS + 60))
	touch "$T/go"
	while [ "$SECONDS" -le "$end" ] && [ -n "$(tree_now)" ]; do
		sleep 0.05
	done
	rm -f "$T/go"
	for p in $(below "$PPID" $$ | cut -d' ' -f1); do
		kill -KILL "$p" 2>/dev/null || true
	done
	grep -qx 'tree_basic: ok' "$T/out" || { echo "the tree did not end well:"; cat "$T/out" "$T/err"; return 1; }
	: >"$T/out"
}

# tree_trials N [RESTORE ARGS]: N restores of the tree image $T/img, each
# killed: at a random kill point, at one of the detaches that let the
# processes go, or after a delay; SIGKILL, or SIGTERM with --detach.
# After each, what ckpt made must be all of the tree, which then ends
# well, or nothing.  Run under targets/reaper (orphans come to it).
tree_trials() {
	local n=$1 i k r sig detach whole=0 none=0 harms=0 t0 ms total base aims t1=$SECONDS
	local where=() tally
	shift
	t0=$EPOCHREALTIME
	"$CKPT" -vv restore --detach "$@" "$T/img" >/dev/null 2>"$T/cal"
	ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
	total=$(sed -n 's/.*kill points passed: //p' "$T/cal")
	[ -n "$total" ] || { cat "$T/cal"; return 1; }
	# what a whole restore leaves, once it stays so for 0.2 s (a process
	# seen as it went would make every later comparison fail)
	for i in $(seq 100); do
		base=$(tree_now)
		sleep 0.2
		[ "$base" != "$(tree_now)" ] || break
	done
	echo "$base"
	tree_ends || return 1
	# The detaches of three processes of one thread each; the last
	# register set before them.
	aims=("restore: thread let go#1" "restore: thread let go#2" "restore: thread let go#3"
	      "restore: registers set#3")
	for i in $(seq "$n"); do
		detach=() sig=KILL
		[ $((i % 2)) = 0 ] || detach=(--detach)
		[ $((i % 4)) != 3 ] || sig=TERM
		case $((i % 3)) in
		0) k="a delay" ;;
		1) k=${aims[RANDOM % ${#aims[@]}]} ;;
		*) k=$(( (RANDOM * 32768 + RANDOM) % total + 1 )) ;;
		esac
		if [ "$k" = "a delay" ]; then
			"$CKPT" restore "${detach[@]}" "$@" "$T/img" >/dev/null 2>&1 &
			r=$!
			sleep "$(printf '0.%03d' $(( RANDOM % (ms + 10) % 1000 )))"
			kill -"$sig" "$r" 2>/dev/null || true
		else
			CKPT_KILLPOINT=$k CKPT_KILLSIG=$(kill -l $sig) \
				"$CKPT" -vv restore "${detach[@]}" "$@" "$T/img" >/dev/null 2>"$T/kerr" &
			r=$!
		fi
		exits_within 60 "$r" || kill -KILL "$r" 2>/dev/null || true
		wait "$r" 2>/dev/null || true
		[ "$k" = "a delay" ] || k=$(sed -n 's/.*killed at kill point \([0-9]*: .*\) (signal.*/\1/p' "$T/kerr")
		[ -z "$k" ] || where+=("${k#*: }")
		if ! tree_settles "$base"; then
			echo "half a tree after SIG$sig (at ${k:-?}) of: ckpt restore ${detach[*]} $*"
			diff <(echo "$base") <(echo "$NOW")
			harms=$((harms + 1))
			for p in $(below "$PPID" $$ | cut -d' ' -f1); do
				kill -KILL "$p" 2>/dev/null || true
			done
			tree_settles "$base" || true
		elif [ "$OUTCOME" = whole ]; then
			whole=$((whole + 1))
			tree_ends || harms=$((harms + 1))
		else
			none=$((none + 1))
		fi
	done
	tally=$(printf '%s\n' "${where[@]}" | sort | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/\2 \1/' | paste -sd ,)
	echo "# killsafe: ckpt restore $* of a tree: $n trials killed (at ${tally:-none}): $whole whole and ended well," \
		"$none not there, $harms half a tree ($((SECONDS - t1)) s)" >&3
	[ "$harms" = 0 ]
}

@test "killsafe: ckpt restore of a tree killed at random points and while it lets the processes go: all of the tree runs and ends well, or none of it is there" {
	skip_unless_ptrace
	skip_unless_root	# a tree is restored with its own PIDs
	start_target tree_basic
	dump_kill
	export T CKPT
	export -f tree_trials tree_settles tree_ends tree_now below exits_within
	"$CKPT_TARGETS/reaper" bash -c "tree_trials $(trials 24)"
}

@test "killsafe: ckpt restore --pid-ns of a tree killed the same way: the namespace's init and all in it gone, or all of it runs and ends well" {
	skip_unless_ptrace
	skip_unless_root
	unshare -p true 2>/dev/null || skip "no PID namespaces here"
	start_target tree_basic
	dump_kill
	export T CKPT
	export -f tree_trials tree_settles tree_ends tree_now below exits_within
	"$CKPT_TARGETS/reaper" bash -c "tree_trials $(trials 12) --pid-ns"
}

# The same with --lazy (restore/fillguard.h): at the kill points before the
# process runs (its userfaultfd taken, the fill begun), at random delays
# (the command of --detach --lazy, or ckpt staying the parent that fills
# it), and with --detach the server killed at those points.  A process
# killed with ckpt mid-fill dies of EXITKILL (never runs on with zeros:
# tests/lazy.bats checks how it dies); whole means its fill was done.
@test "killsafe: ckpt restore --lazy killed at random points: the process is whole and runs, or is not there at all" {
	skip_unless_ptrace
	skip_unless_root
	"$CKPT" check | grep -q "^userfaultfd restore *ok" || skip "no userfaultfd restore here"
	start_target threads
	dump_kill
	export T CKPT TPID
	export -f restore_trials whole_or_gone running_as gone exits_within snapshot below
	"$CKPT_TARGETS/reaper" bash -c "restore_trials $(trials 32) --lazy"
	restore_go --lazy
	[ "$status" -eq 0 ]
}
