#!/usr/bin/env bats
# File locks across dump and restore: flock, POSIX and OFD locks and a
# lease are held again by the restored process itself (another process
# finds them held, F_GETLK names the restored process) and it can unlock
# them; a dump leaves them held; a lock someone else took meanwhile makes
# restore fail by name and leave nothing behind.
#
# Tests tagged arch-independent (dumps without --kill, conflicts, damaged
# images, trees; the guest retakes every lock type) run on the host only: the
# arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

# The lease needs root (or the file's owner: the target runs as us).
lease_arg() {
	[ "$(id -u)" = 0 ] && echo lease
}

@test "file locks: flock, POSIX ranges, OFD and read and write leases are taken again by the restored process, which can unlock them" {
	skip_unless_ptrace
	mkdir "$T/d"
	start_target fd_locks "$T/d" $(lease_arg)
	dump_kill
	run "$CKPT" inspect "$T/img"
	[ "$status" -eq 0 ]
	[[ "$output" == *"locked: flock write lock on the whole file"* ]]
	[[ "$output" == *"locked: POSIX write lock on bytes 10-29"*"locked: POSIX read lock on bytes 100 to the end"* ]]
	[[ "$output" == *"locked: OFD write lock on bytes 0-4"* ]]
	[[ "$output" == *"locked: flock read lock on the whole file"* ]]
	[ -z "$(lease_arg)" ] || [[ "$output" == *"locked: read lease"*"locked: write lease"* ]]
	restore_go
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "file locks: a dump that does not kill leaves every lock held" {
	skip_unless_ptrace
	mkdir "$T/d"
	start_target fd_locks "$T/d" $(lease_arg)
	run "$CKPT" dump "$TPID" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait "$TPID" || { cat "$T/err"; false; }
}

# restore_refused PATTERN: restore fails with one line matching PATTERN,
# and no process of the image is left (its PID is free, nothing stopped).
restore_refused() {
	touch "$T/go"
	run --separate-stderr timeout 300 "$CKPT" restore "$T/img"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == $1 ]]
	! kill -0 "$TPID" 2>/dev/null || false
}

# bats test_tags=arch-independent
@test "file locks: a flock lock another process took meanwhile makes restore fail naming the file" {
	skip_unless_ptrace
	flock -n -F /dev/null true 2>/dev/null || skip "flock(1) without -F (--no-fork): busybox's"
	mkdir "$T/d"
	start_target fd_locks "$T/d"
	dump_kill
	# one process (no fork), without bats's fd 3 (bats would wait for it);
	# it waits for the lock: the killed target may still hold it a moment
	# (its files close as it exits; -n then gave up at once, under load,
	# and nobody held the lock: the CI of d44f159)
	flock -w 120 -F "$T/d/flock" sleep 600 3>&- &
	PIDS+=($!)
	# until it holds it (not the dying target): /proc/locks names it
	wait_for 120 grep -q "FLOCK .* $! " /proc/locks
	restore_refused "ckpt: restore $T/img: fd 10 (\"$T/d/flock\"): cannot take its flock write lock on the whole file again: another open of the file holds a flock lock on it"
}

# bats test_tags=arch-independent
@test "file locks: a POSIX lock another process took meanwhile makes restore fail naming the file and the process" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "needs python3"
	mkdir "$T/d"
	start_target fd_locks "$T/d"
	dump_kill
	python3 -c '
import fcntl, os, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 20)
open(sys.argv[1] + ".held", "w").close()
time.sleep(600)
' "$T/d/posix" 3>&- &
	local holder=$!
	PIDS+=($holder)
	wait_file "$T/d/posix.held"
	restore_refused "ckpt: restore $T/img: fd 11 (\"$T/d/posix\"): cannot take its POSIX write lock on bytes 10-29 again: process $holder holds a read lock there"
}

# bats test_tags=arch-independent
@test "file locks: a LOCKS section naming a file the process does not hold, or an unknown type, is a damaged image" {
	skip_unless_ptrace
	mkdir "$T/d"
	start_target fd_locks "$T/d"
	dump_kill
	# the LOCKS section (type 12): its first lock's file, then its type
	local off
	off=$("$CKPT_TARGETS/imgtool" sections "$T/img" | awk '$2 == 12 { print $1; exit }')
	[ -n "$off" ]
	for field in "0 999" "4 7"; do
		cp "$T/img" "$T/bad"
		"$CKPT_TARGETS/imgtool" setfield "$T/bad" $((off + 24 + ${field% *})) 4 "${field#* }"
		run "$CKPT" restore "$T/bad"
		echo "$output"
		[ "$status" -eq 1 ]
		[ "$output" = "ckpt: restore $T/bad: image is corrupted: file locks section at offset $off is malformed" ]
	done
}

# bats test_tags=arch-independent
@test "file locks in a tree: flock(1) holding a lock for its command, which holds a POSIX lock, both held again after restore" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "needs python3"
	command -v pgrep >/dev/null || skip "needs pgrep"
	mkdir "$T/d"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		# flock(1) forks its command, which inherits the locked open file
		exec flock "$T/d/flock" python3 -c '
import fcntl, os, sys, time
d = sys.argv[1]
fd = os.open(d + "/posix", os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX, 5, 10)	# bytes 10-14
open(d + "/ready", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.05)
fcntl.lockf(fd, fcntl.LOCK_UN, 5, 10)
print("unlocked")
' "$T/d" </dev/null >"$T/out" 2>&1
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/d/ready"
	local child
	child=$(pgrep -P "$TPID")
	[ -n "$child" ]
	dump_kill
	run "$CKPT" restore --detach "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	PIDS+=("$TPID" "$child")
	# another process finds both held, the POSIX one by the restored child
	! flock -n "$T/d/flock" true || false
	run python3 -c '
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
r = struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi", fcntl.F_RDLCK, 0, 12, 1, 0)))
print(r[0], r[4])
' "$T/d/posix"
	echo "$output"
	[ "$output" = "1 $child" ]	# F_WRLCK, the child
	touch "$T/d/go"
	wait_for 60 sh -c "! kill -0 $TPID 2>/dev/null"
	flock -n "$T/d/flock" true
	grep -q unlocked "$T/out"
}

@test "file locks: a process blocked waiting for a lock (F_SETLKW) its child holds waits again after restore, and gets it when the child lets go" {
	skip_unless_ptrace
	command -v python3 >/dev/null || skip "needs python3"
	mkdir "$T/d"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec python3 -c '
import fcntl, os, sys, time
d = sys.argv[1]
fd = os.open(d + "/w", os.O_RDWR | os.O_CREAT)
pid = os.fork()
if pid == 0:
    f2 = os.open(d + "/w", os.O_RDWR)
    fcntl.lockf(f2, fcntl.LOCK_EX)
    open(d + "/held", "w").close()
    while not os.path.exists(d + "/go"):
        time.sleep(0.05)
    os._exit(0)
while not os.path.exists(d + "/held"):
    time.sleep(0.01)
open(d + "/ready", "w").close()
fcntl.lockf(fd, fcntl.LOCK_EX)
print("got the lock", flush=True)
os.waitpid(pid, 0)
' "$T/d" </dev/null >"$T/out" 2>&1
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/d/ready"
	# until the parent sleeps in fcntl(F_SETLKW)
	wait_for 60 grep -q '^State:.*S (sleeping)' "/proc/$TPID/status"
	sleep 0.2
	dump_kill
	run "$CKPT" inspect "$T/img"
	[[ "$output" == *"locked: POSIX write lock on the whole file"* ]]
	touch "$T/d/go"
	run timeout 120 "$CKPT" restore "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out")" = "got the lock" ]
}
