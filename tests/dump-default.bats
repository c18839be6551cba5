#!/usr/bin/env bats
# A plain `ckpt dump PID` (no --kill, no --stop): memory read from a fork
# copy when that keeps every promise of the frozen path and its memory
# fits under the job's cgroup limits (dump/choose.c, dump/cgroup.c), the
# frozen path otherwise; -v says which and why.

load test_helper

eval "$(declare -f teardown | sed '1s/teardown/common_teardown/')"
teardown() {
	local d
	common_teardown
	# the cgroups this test made, once their processes are gone
	for d in "${CGROUPS[@]}"; do
		wait_for 30 rmdir "$d" 2>/dev/null || true
	done
}

# cg_make CTL: a new cgroup of controller CTL (memory, pids) under ckpt's
# own, in whichever hierarchy (v1 or v2) has CTL here, its path in $CG;
# skips the test where none can be made.
cg_make() {
	local ctl=$1 mnt="" v2=0 rel line
	skip_unless_root
	while read -r line; do
		set -- $line
		local fs=${line#* - }
		fs=${fs%% *}
		if [ "$fs" = cgroup ] && [[ ",${line##* }," == *",$ctl,"* ]]; then
			mnt=$5
		elif [ "$fs" = cgroup2 ] && grep -qw "$ctl" "$5/cgroup.controllers" 2>/dev/null; then
			mnt=$5 v2=1
		fi
	done </proc/self/mountinfo
	[ -n "$mnt" ] || skip "no cgroup hierarchy has the $ctl controller here"
	if [ "$v2" = 1 ]; then
		rel=$(sed -n 's/^0:://p' /proc/self/cgroup)
	else
		rel=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup)
	fi
	CG=$mnt${rel%/}/ckpt-test-$$-$BATS_TEST_NUMBER
	mkdir "$CG" 2>/dev/null || skip "cannot make a cgroup under $mnt$rel"
	CGROUPS+=("$CG")
	if [ "$v2" = 1 ] && [ "$ctl" = memory ] && ! grep -qw memory "$CG/cgroup.controllers"; then
		skip "the memory controller is not enabled for $mnt$rel's children"
	fi
	return 0
}

# start_in_cgroup DIR TARGET [ARGS]: start_target, the target born in DIR
# (so that its memory is charged there, as a job's in its cgroup).
start_in_cgroup() {
	TARGET_PREP="echo \$BASHPID >'$1/cgroup.procs'" start_target "${@:2}"
}

# pause_of CMD...: run CMD (a dump of $TPID, a pausing target) and print
# the longest pause the target saw while it ran (µs).
# The reset's own line waited for: a line of an earlier round is there
# already, and a USR1 still pending when the dump freezes the target is
# handled only after the release, so that the pause measured leaves the
# freeze out (--no-fork "paused" 1.2 ms at load 10).  A failed CMD fails.
pause_of() {
	local n
	n=$(grep -c gap_us "$T/out" || true)
	kill -USR1 "$TPID"	# start counting afresh
	wait_for 60 eval '[ "$(grep -c gap_us "$T/out")" -gt "$n" ]'
	n=$(grep -c gap_us "$T/out")
	"$@" >&2 || return 1
	kill -USR1 "$TPID"
	wait_for 60 eval '[ "$(grep -c gap_us "$T/out")" -gt "$n" ]'
	grep gap_us "$T/out" | tail -n 1 | cut -d' ' -f2
}

@test "default dump: from a forked copy, -v says so and why; --no-fork stays frozen and says so" {
	skip_unless_ptrace
	start_target pausing 16
	run "$CKPT" -v dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"memory is read from a forked copy"*"within every cgroup limit and MemAvailable"* ]]
	[[ "$output" == *"memory is read from the forked copy"* ]]
	run "$CKPT" -v dump "$TPID" -o "$T/img2" --no-fork
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"forked copy"* ]]
	# --stop: the process is left as the image has it, frozen throughout
	run "$CKPT" -v dump "$TPID" -o "$T/img3" --stop
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"not from a forked copy: --stop"* ]]
	[[ "$output" != *"memory is read from the forked copy"* ]]
	kill -CONT "$TPID"
}

@test "default dump: the job's pause is less than half --no-fork's (256 MiB); the image restores exactly" {
	skip_unless_ptrace
	local mib=256 a b
	[ "$(uname -m)" = x86_64 ] || mib=64
	start_target pausing "$mib"
	# interleaved, the shortest of each so far (a busy machine's
	# preemptions add to either: at load 10-20 two rounds each were not
	# enough), up to 6 rounds until the default's is under half; a
	# default that freezes the job for the copy never gets there
	local i a2 b2
	a=$(pause_of "$CKPT" dump "$TPID" -o "$T/img")
	b=$(pause_of "$CKPT" dump "$TPID" -o "$T/frozen" --no-fork)
	for i in 2 3 4 5 6; do
		[ "$((a * 2))" -lt "$b" ] && break
		a2=$(pause_of "$CKPT" dump "$TPID" -o "$T/img")
		b2=$(pause_of "$CKPT" dump "$TPID" -o "$T/frozen" --no-fork)
		[ "$a2" -lt "$a" ] && a=$a2
		[ "$b2" -gt "$b" ] || b=$b2
	done
	echo "pause: default $a us, --no-fork $b us"
	[ "$((a * 2))" -lt "$b" ]
	# the default's image, the job killed: every page as it was
	kill -KILL "$TPID"
	reap "$TPID"
	restore_go --ignore-file-changes
	[ "$status" -eq 0 ]
}

@test "default dump: a job whose threads come and go, and one that forks all the time: images from copies that restore" {
	skip_unless_ptrace
	skip_unless_root
	start_target churn
	for k in 1 2 3; do
		run "$CKPT" -v dump "$TPID" -o "$T/img"
		[ "$status" -eq 0 ] || { echo "$output"; return 1; }
		[[ "$output" == *"memory is read from the forked copy"* ]]
	done
	kill -KILL "$TPID"
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'churn: ok' "$T/out"
	rm -f "$T/go" "$T/ready" "$T/img"
	: >"$T/out"
	: >"$T/err"
	start_target tree_storm 30
	run "$CKPT" -v dump "$TPID" -o "$T/img"
	echo "$output" | grep -v '^ckpt: dump [0-9]*: .*ms$' | tail -n 20
	[ "$status" -eq 0 ]
	[[ "$output" == *"memory is read from a forked copy"* ]]
	"$CKPT" verify "$T/img"
	kill -KILL "$TPID"
	reap "$TPID"
	touch "$T/go"
	run timeout 300 "$CKPT" restore --pid-ns "$T/img"
	echo "$output"
	cat "$T/err"
	[ "$status" -eq 0 ]
	grep -qx 'tree_storm: ok' "$T/out"
}

@test "default dump of a tree: every process from its copy; the tree runs on; the image restores" {
	skip_unless_ptrace
	skip_unless_root
	start_target tree_basic
	children_to_clean
	run "$CKPT" -v dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"memory is read from a forked copy"* ]]
	[ "$(grep -c 'the forked copy reaped' <<<"$output")" -eq 3 ]
	"$CKPT" inspect "$T/img" | grep -q '^tree      4 processes (3 live)$'
	touch "$T/go"
	wait "$TPID"
	grep -qx 'tree_basic: ok' "$T/out"
	: >"$T/out"
	run timeout 120 "$CKPT" restore --pid-ns "$T/img"
	echo "$output"
	cat "$T/err"
	[ "$status" -eq 0 ]
	grep -qx 'tree_basic: ok' "$T/out"
}

@test "default dump: a job near its memory cgroup's limit stays frozen (-v names the limit) and runs on; with room it forks" {
	skip_unless_ptrace
	cg_make memory
	local lim use cur
	if [ -e "$CG/memory.max" ]; then
		lim=memory.max use=memory.current
	else
		lim=memory.limit_in_bytes use=memory.usage_in_bytes
	fi
	start_in_cgroup "$CG" pausing 64
	cur=$(cat "$CG/$use")
	echo "$CG: $use $cur"
	# 64 MiB of anonymous memory: a fork could take as much again
	echo $((cur + (8 << 20))) >"$CG/$lim"
	run "$CKPT" -v dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"not from a forked copy: $CG/$lim is"* ]]
	[[ "$output" != *"memory is read from the forked copy"* ]]
	# no reclaim, no OOM kill: the job's memory is where it was
	[ ! -e "$CG/memory.failcnt" ] || [ "$(cat "$CG/memory.failcnt")" -eq 0 ]
	kill -0 "$TPID"
	echo $((cur + (256 << 20))) >"$CG/$lim"
	dump_forked_kill
	restore_go --ignore-file-changes
	[ "$status" -eq 0 ]
}

@test "default dump: a job at its pids cgroup's limit stays frozen (a fork would fail)" {
	skip_unless_ptrace
	cg_make pids
	start_in_cgroup "$CG" pausing 4
	cat "$CG/pids.current" >"$CG/pids.max"
	dump_default_kill "not from a forked copy: $CG/pids.max is 1, pids.current 1: a fork could add 1"
	restore_go --ignore-file-changes
	[ "$status" -eq 0 ]
}

@test "default dump: a fork the kernel refuses (RLIMIT_NPROC) means the frozen path, not a failed dump" {
	skip_unless_ptrace
	skip_unless_root
	# one process of its user at most: itself (a fork is refused
	# whatever else uid 65534 runs)
	TARGET_PREP='ulimit -u 1' start_target_as_nobody pausing 4
	run "$CKPT" -v dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"the kernel refused the fork (Resource temporarily unavailable)"* ]]
	[[ "$output" != *"memory is read from the forked copy"* ]]
	kill -KILL "$TPID"
	reap "$TPID"
	restore_go --ignore-file-changes
	[ "$status" -eq 0 ]
}

@test "default dump of a tree whose forks the kernel refuses: written frozen, and --json says frozen" {
	skip_unless_ptrace
	skip_unless_root
	# four processes of its user at most: the tree itself (parent, two
	# workers, a zombie), so each copy's fork is refused
	TARGET_PREP='ulimit -u 4' start_target_as_nobody tree_basic
	children_to_clean
	run --separate-stderr "$CKPT" -v dump "$TPID" -o "$T/img" --json
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"the kernel refused the fork"* ]]
	grep -q '^  "memory": "frozen",$' <<<"$output"
	touch "$T/go"
	wait "$TPID"
	grep -qx "tree_basic: ok" "$T/out"
}
