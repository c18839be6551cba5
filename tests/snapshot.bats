#!/usr/bin/env bats
# dump --snapshot: the process's memory moved aside while it is frozen,
# the image written from there while it runs, every page given back by
# userfaultfd (dump/snapshot.c, docs/snapshot.md).  The image must be the
# cut, and the process must never read a page that is not what it wrote.

load test_helper

# snap_dump TARGET [ARGS]: start it, dump it with -v --snapshot --single
# (its short-lived children are left out), the output in $dumped.
snap_dump() {
	start_target "$@"
	run "$CKPT" -vv dump "$TPID" --snapshot --single -o "$T/img"
	echo "$output" | grep -v "dump.c:91" | tail -20
	[ "$status" -eq 0 ]
	dumped=$output
	[[ "$dumped" == *"mappings moved aside"* ]]
}

# The original, told to stop, checks what it read meanwhile and its memory.
original_held() {
	touch "$T/go"
	local st=0
	wait "$TPID" || st=$?
	cat "$T/out" "$T/err"
	[ "$st" -eq 0 ]
}

@test "--snapshot: the image is one instant of memory written as fast as it can, and the process read nothing wrong meanwhile" {
	skip_unless_ptrace
	snap_dump snapcheck 64
	[[ "$dumped" == *"pages given back"* ]]
	original_held
	restore_go
	[ "$status" -eq 0 ]
}

@test "--snapshot: the process's own munmap, MADV_DONTNEED, mremap and fork during the dump" {
	skip_unless_ptrace
	start_target snapcheck 64 1
	local n0 dpid st=0
	n0=$(wc -l <"/proc/$TPID/maps")
	"$CKPT" -vv dump "$TPID" --snapshot --single -o "$T/img" 2>"$T/dumped" &
	dpid=$!
	PIDS+=("$dpid")
	# Once its memory is moved aside (the shadows are mappings more), the
	# job is told to change its own memory map while the dump runs.
	while kill -0 "$dpid" 2>/dev/null && [ "$(wc -l <"/proc/$TPID/maps")" -le "$n0" ]; do
		sleep 0.01
	done
	touch "$T/go.churn"
	wait "$dpid" || st=$?
	grep -v "dump.c:91" "$T/dumped" | tail -8
	[ "$st" -eq 0 ]
	# some of its changes came while the dump ran
	grep -Eq "snapshot: [0-9]+ faults served, [0-9]+ pages given back, [1-9][0-9]* memory map events" "$T/dumped"
	original_held
	restore_go
	[ "$status" -eq 0 ]
}

@test "--snapshot: forkcheck's memory, changing at random, is one instant in the image" {
	skip_unless_ptrace
	snap_dump forkcheck
	kill -KILL "$TPID"
	reap "$TPID"
	restore_go
	[ "$status" -eq 0 ]
}

@test "--snapshot: nothing of it is left in the process (mappings, fds)" {
	skip_unless_ptrace
	start_target snapcheck 16
	before=$(cat /proc/$TPID/maps; ls /proc/$TPID/fd)
	"$CKPT" dump "$TPID" --snapshot -o "$T/img"
	after=$(cat /proc/$TPID/maps; ls /proc/$TPID/fd)
	[ "$before" = "$after" ]
	original_held
}

# bats test_tags=arch-independent
@test "--snapshot: a tree is refused by name, and --kill, --fork, --track, --parent with it are usage errors" {
	skip_unless_ptrace
	setsid sh -c 'sleep 100 & wait' </dev/null >/dev/null 2>&1 &
	local tree=$!
	PIDS+=("$tree")
	sleep 0.2
	run "$CKPT" dump "$tree" --snapshot -o "$T/img"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"--snapshot dumps one process, and this is a tree of 2"* ]]
	# and it is left as it was: running, untraced
	grep -q '^TracerPid:.0' /proc/$tree/status
	start_target forkcheck
	for o in --kill --fork --track "--parent $T/x"; do
		run "$CKPT" dump "$TPID" --snapshot $o -o "$T/img"
		[ "$status" -eq 2 ]
	done
	kill $(cat /proc/"$tree"/task/*/children) "$tree" || true
	original_held
}

# The uffd is made by the process (with its credentials); ckpt, root, asks
# for the fork events itself (UFFDIO_API checks the caller: it may).
# bats test_tags=arch-independent
@test "--snapshot: a process that may not make a full userfaultfd is refused by name, and runs on untouched" {
	skip_unless_ptrace
	skip_unless_root
	[ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 0 ] ||
		skip "vm.unprivileged_userfaultfd is not 0: any process may"
	chmod 777 "$T"	# the job, nobody, says it is ready there
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		exec setpriv --reuid=65534 --regid=65534 --clear-groups "$CKPT_TARGETS/snapcheck" 16 \
			</dev/null >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready"
	before=$(cat /proc/$TPID/maps; ls /proc/$TPID/fd)
	run "$CKPT" dump "$TPID" --snapshot -o "$T/img"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"may not make a userfaultfd that serves its kernel accesses"* ]]
	[ "$before" = "$(cat /proc/$TPID/maps; ls /proc/$TPID/fd)" ]
	original_held
}
