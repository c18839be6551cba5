#!/usr/bin/env bats
# Real programs as process trees (issue 12): each dumped mid-work, with
# --kill and without (then killed), restored, and its output compared with
# what an uninterrupted run prints.  Sized for a busy machine; lighter
# under arm64 emulation.
#
# Tests tagged arch-independent (--stop variants and further programs; the
# guest restores bash jobs and a pipeline with bytes in flight) run on the
# host only: the arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

# descendants PID: every process below PID, one per line (one pass over
# /proc: the tree must not finish while we look).
descendants() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
		{ sub(/ \(.*\) /, " x "); parent[$1] = $4 }
		END {
			want[root] = 1
			do {
				more = 0
				for (p in parent)
					if (!(p in want) && (parent[p] in want)) { want[p] = 1; more = 1 }
			} while (more)
			for (p in want) if (p != root) print p
		}'
}

track_tree() {
	local p
	for p in $(descendants "$1"); do
		PIDS+=("$p")
	done
}

emulated() {
	[ "$(uname -m)" != x86_64 ]
}

# run_tree SCRIPT WANT MODE [ARGS]: the script as a target (its first
# argument its scratch directory $T/w), dumped when ready, then
#   kill:  ckpt dump --kill, restore with the same PIDs
#   stop:  ckpt dump --stop (the tree is left as it was, stopped: what it
#          writes after the dump would be written twice), then killed by
#          us; restore in a new PID namespace
# and its output compared with WANT.
run_tree() {
	local script=$1 want=$2 mode=$3
	shift 3
	mkdir -p "$T/w"
	CKPT_TARGETS=$CKPT_TOP/tests/targets start_target "$script" "$T/w" "$@"
	track_tree "$TPID"
	if [ "$mode" = kill ]; then
		dump_kill
		restore_go
	else
		dump_stop_kill
		restore_go --pid-ns
	fi
	[ "$status" -eq 0 ]
	diff <(echo "$want") "$T/out"
}

# sum of i % 7 for i = 1..n, and of i
sum_mod7() {
	awk -v n="$1" 'BEGIN { s = 0; for (i = 1; i <= n; i++) s += i % 7; print s }'
}

jobs_want() {
	local s
	s=$(sum_mod7 "$1")
	printf 'a %s\nb %s' "$s" "$s"
}

xargs_want() {
	awk -v n="$1" 'BEGIN { for (k = 1; k <= 6; k++) { m = k * n; printf "%d %.0f\n", k, m * (m + 1) / 2 } }' |
		head -c -1
}

@test "programs: a bash script with two background jobs and wait, dumped --kill at work: both totals" {
	skip_unless_ptrace
	skip_unless_root
	local n=150000
	emulated && n=20000
	run_tree jobs.sh "$(jobs_want $n)" kill "$n"
}

# bats test_tags=arch-independent
@test "programs: a bash script with two background jobs and wait, dumped --stop at work, killed: both totals" {
	skip_unless_ptrace
	skip_unless_root
	local n=150000
	emulated && n=20000
	run_tree jobs.sh "$(jobs_want $n)" stop "$n"
}

# bats test_tags=arch-independent
@test "programs: xargs -P2 of six sh jobs, dumped --kill mid-way: every result" {
	skip_unless_ptrace
	skip_unless_root
	[ -x /usr/bin/xargs ] || skip "no /usr/bin/xargs"
	local n=30000
	emulated && n=3000
	run_tree xargs.sh "$(xargs_want $n)" kill "$n"
}

# bats test_tags=arch-independent
@test "programs: xargs -P2 of six sh jobs, dumped --stop mid-way, killed: every result" {
	skip_unless_ptrace
	skip_unless_root
	[ -x /usr/bin/xargs ] || skip "no /usr/bin/xargs"
	local n=30000
	emulated && n=3000
	run_tree xargs.sh "$(xargs_want $n)" stop "$n"
}

# seq 1 N | awk: "N sum of i % 7"
pipeline_want() {
	printf '%s %s' "$1" "$(sum_mod7 "$1")"
}

@test "programs: bash -c 'seq | awk', dumped --kill with bytes in the pipe: every number counted once" {
	skip_unless_ptrace
	skip_unless_root
	local n=2000000
	emulated && n=200000
	run_tree pipeline.sh "$(pipeline_want $n)" kill "$n"
}

# bats test_tags=arch-independent
@test "programs: bash -c 'seq | awk', dumped --stop with bytes in the pipe, killed: every number counted once" {
	skip_unless_ptrace
	skip_unless_root
	local n=2000000
	emulated && n=200000
	run_tree pipeline.sh "$(pipeline_want $n)" stop "$n"
}

# sortgz_input DIR LINES: lines of random keys, the same every time
sortgz_input() {
	mkdir -p "$1"
	awk -v n="$2" 'BEGIN { srand(7); for (i = 0; i < n; i++) printf "%09d line %d\n", int(rand() * 1e9), i }' >"$1/in"
}

# bats test_tags=arch-independent
@test "programs: sort of a big file piping into gzip, dumped --kill mid-stream: output byte-identical" {
	skip_unless_ptrace
	skip_unless_root
	[ -x /usr/bin/gzip ] || skip "no /usr/bin/gzip"
	local n=600000
	emulated && n=60000
	sortgz_input "$T/w" "$n"
	run_tree sortgz.sh "$(LC_ALL=C sort "$T/w/in" | gzip -n -1 | cksum)" kill
}

# bats test_tags=arch-independent
@test "programs: make -j2 of a small C project, dumped --kill with compilers running: the build finishes, every object right" {
	skip_unless_ptrace
	skip_unless_root
	command -v make >/dev/null && command -v gcc >/dev/null || skip "no make or gcc"
	mkdir -p "$T/w"
	CKPT_TARGETS=$CKPT_TOP/tests/targets start_target make.sh "$T/w" 4 80
	track_tree "$TPID"
	"$CKPT" dump "$TPID" -o "$T/img" --kill
	reap "$TPID"
	"$CKPT" inspect "$T/img" | grep -q 'cc1' || echo "note: no compiler was running at the dump"
	restore_go
	[ "$status" -eq 0 ]
	diff <("$T/w/ref/prog") "$T/out"
}

# bats test_tags=arch-independent
@test "programs: python3 multiprocessing Pool, dumped --kill mid-work: the known sum" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "no python3"
	local n=6400000
	emulated && n=320000
	run_tree pool.py "$(python3 -c "print(sum(i * i % 1000 for i in range($n)))")" kill "$n"
}

# bats test_tags=arch-independent
@test "programs: python3 multiprocessing Pool, dumped --stop mid-work, killed: the known sum" {
	skip_unless_ptrace
	skip_unless_root
	command -v python3 >/dev/null || skip "no python3"
	local n=6400000
	emulated && n=320000
	run_tree pool.py "$(python3 -c "print(sum(i * i % 1000 for i in range($n)))")" stop "$n"
}
