#!/usr/bin/env bats
# ckpt run under a real Slurm (a private single node: tests/slurm-cluster.bash),
# through examples/slurm/job.sbatch: a computation of about a minute is
# requeued and preempted and must end with exactly the result of an
# uninterrupted run, resumed each time from where it was stopped.
#
# Arch-independent (ckpt run under Slurm): the host runs it; the arm64 guest
# leaves this file out (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper
load slurm-cluster

setup_file() {
	export SLURM_WHY_NOT SLURM_DIR
	SLURM_WHY_NOT=$(slurm_missing)
	[ -n "$SLURM_WHY_NOT" ] && return 0
	# munged wants o+x on every directory above its socket: not in bats's.
	SLURM_DIR=$(mktemp -d /tmp/ckpt-slurm.XXXXXX)
	if ! slurm_start "$SLURM_DIR" >"$BATS_FILE_TMPDIR/start.log" 2>&1; then
		SLURM_WHY_NOT=
		export SLURM_FAILED=1
	fi
	export SLURM_CONF
}

teardown_file() {
	[ -n "${SLURM_CONF:-}" ] && slurm_stop "$SLURM_DIR"
	[ -n "${SLURM_DIR:-}" ] && rm -rf "$SLURM_DIR"
	true
}

need_slurm() {
	[ -z "$SLURM_WHY_NOT" ] || skip "$SLURM_WHY_NOT"
	if [ -n "${SLURM_FAILED:-}" ]; then
		cat "$BATS_FILE_TMPDIR/start.log"
		false
	fi
	skip_unless_ptrace
}

# submit OUT [SBATCH_OPTION...] -- ARGS...: the example job script in
# partition low, alone on the node (a higher partition's job then has to
# preempt it); JOBID.
submit() {
	local out=$1 opts=()
	shift
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	JOBID=$(sbatch --parsable --exclusive -p low -o "$out" "${opts[@]}" \
		"$CKPT_TOP/examples/slurm/job.sbatch" "$@")
	[ -n "$JOBID" ]
}

# until_true SECONDS CMD...: poll CMD every 0.2 s.
until_true() {
	local max=$(( $1 * 5 ))
	shift
	for _ in $(seq "$max"); do
		"$@" && return 0
		sleep 0.2
	done
	echo "timed out after $((max / 5)) s: $*" >&2
	# what there is to see
	for f in "$W/out" "$W/run.log"; do
		echo "--- $f:" >&2
		cat "$f" >&2
	done
	squeue >&2
	scontrol show job -o "$JOBID" >&2
	tail -n 30 "$SLURM_DIR/log/slurmctld.log" "$SLURM_DIR/log/slurmd.log" >&2
	return 1
}

# In run K of the job (its Kth start, from 0), a step >= N was printed.
run_reached() {
	awk -v k="$1" -v n="$2" '
		/^ckpt job [0-9]+: run / { run = $5 }
		run == k && $1 == "step" && $2 + 0 >= n { found = 1 }
		END { exit !found }' "$W/out"
}

# The log has COUNT events of this kind.
log_has() {
	[ "$(grep -c "\"event\":\"$1\"" "$W/run.log" 2>/dev/null)" -ge "$2" ]
}

job_state() {
	scontrol show job -o "$JOBID" | grep -o 'JobState=[A-Z]*' | cut -d= -f2
}

job_done() {
	case $(job_state) in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL) return 0 ;; esac
	return 1
}

# The figures: per stop, the steps done before it, where the next run went
# on, and whether every step done twice was done after the stop's signal.
figures() {
	python3 - "$W/out" "$W/run.log" <<-'EOF'
	import datetime, json, sys
	runs, cur = [], None
	for line in open(sys.argv[1]):
	    w = line.split()
	    if line.startswith("ckpt job "):
	        cur = []
	        runs.append(cur)
	    elif w and w[0] == "step" and cur is not None:
	        cur.append((int(w[1]), float(w[2])))
	ev = [json.loads(l) for l in open(sys.argv[2])]
	t = lambda e: datetime.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
	    tzinfo=datetime.timezone.utc).timestamp()
	stops = [t(e) for e in ev if e["event"] == "preempt"]
	finals = [e for e in ev if e["event"] == "final"]
	print(f"runs {len(runs)} stops {len(stops)} final checkpoints {len(finals)}")
	ok = len(stops) == len(runs) - 1
	for k in range(1, len(runs)):
	    before, after = runs[k - 1], runs[k]
	    last, first = before[-1][0], after[0][0]
	    redone = [s for s in before if s[0] >= first]
	    late = all(ts >= stops[k - 1] - 0.001 for _, ts in redone) if k - 1 < len(stops) else False
	    print(f"stop {k}: last step before {last}, went on from step {first}, "
	          f"steps done twice {len(redone)}, all after the signal: {late}")
	    ok = ok and 1 < first <= last + 1 and late
	print(f"wall time {runs[-1][-1][1] - runs[0][0][1]:.1f} s")
	sys.exit(0 if ok else 1)
	EOF
}

@test "slurm: a job requeued (scontrol requeue) and preempted (higher partition) resumes each time, loses nothing, ends with the exact result" {
	need_slurm
	command -v python3 >/dev/null || skip "python3 is not installed"
	W=$T/job
	mkdir -p "$W"
	cd "$W"
	export CKPT CKPT_DIR=$W/ckpt CKPT_EVERY=5s CKPT_GRACE=8 CKPT_OPTS="--json --log $W/run.log"
	t0=$SECONDS
	submit "$W/out" -- "$CKPT_TARGETS/steps" 60 1000
	# Requeued only once the script runs for real (SLURM-NOTES: a requeue
	# during the launch is lost) and a periodic checkpoint exists.
	until_true 120 run_reached 0 12
	until_true 60 log_has checkpoint 1
	scontrol requeue "$JOBID"
	until_true 120 log_has resume 1
	until_true 120 run_reached 1 30
	# A job of the higher partition takes the node: this one is requeued.
	sbatch --parsable --exclusive -p high -o /dev/null --wrap "sleep 3" >/dev/null
	until_true 120 log_has resume 2
	until_true 180 job_done
	cat "$W/out"
	cat "$W/run.log"
	[ "$(job_state)" = COMPLETED ]
	scontrol show job -o "$JOBID" | grep -q 'Restarts=2 '
	# the third run saw SLURM_RESTART_COUNT=2
	[ "$(grep '^ckpt job ' "$W/out" | tail -n 1 | cut -d' ' -f5)" = 2 ]
	[ "$(grep -c '^result ' "$W/out")" = 1 ]
	[ "$(result_of "$W/out")" = "$(want_result 60)" ]
	run figures
	echo "$output"
	echo "$output" | sed 's/^/# /' >&3
	echo "# slurm: $((SECONDS - t0)) s from sbatch to the end" >&3
	[ "$status" -eq 0 ]
}

@test "slurm: a job that reaches its time limit is warned (--signal=B:USR1), checkpointed, requeues itself and resumes" {
	need_slurm
	W=$T/job
	mkdir -p "$W"
	cd "$W"
	# Long enough to meet its limit; fast once the test has seen the resume.
	export CKPT CKPT_DIR=$W/ckpt CKPT_EVERY=1h CKPT_GRACE=8 CKPT_OPTS="--json --log $W/run.log" \
		STEPS_FAST_FILE=$W/fast
	t0=$SECONDS
	# The shortest limit Slurm has (1 min), the warning 50 s before it:
	# due 10 s in, sent up to ~30 s late (the controller checks limits
	# every 30 s), so it comes 20 s before the limit at the latest.
	submit "$W/out" --time=1 --signal=B:USR1@50 -- "$CKPT_TARGETS/steps" 400 500
	until_true 120 run_reached 0 3
	until_true 120 log_has resume 1
	touch "$W/fast"
	until_true 180 job_done
	cat "$W/out"
	cat "$W/run.log"
	[ "$(job_state)" = COMPLETED ]
	grep -q '"event":"preempt",.*SIGUSR1' "$W/run.log"
	grep -q '"event":"final"' "$W/run.log"
	scontrol show job -o "$JOBID" | grep -q 'Restarts=1 '
	[ "$(grep '^ckpt job ' "$W/out" | tail -n 1 | cut -d' ' -f5)" = 1 ]
	[ "$(result_of "$W/out")" = "$(want_result 400)" ]
	last=$(awk '/^ckpt job .*run 1/ { exit } $1 == "step" { s = $2 } END { print s }' "$W/out")
	first=$(awk '/^ckpt job .*run 1/ { f = 1; next } f && $1 == "step" { print $2; exit }' "$W/out")
	echo "before: step $last, after: from step $first"
	echo "# slurm: warned at step $last of 400 (0.5 s each), $((SECONDS - t0)) s from sbatch to the end" >&3
	[ "$first" -eq $((last + 1)) ]
}

want_result() {
	"$CKPT_TARGETS/steps" "$1" 0 | sed -n 's/^result //p'
}

result_of() {
	sed -n 's/^result //p' "$1"
}
