#!/usr/bin/env bats
# Credentials across dump and restore.

load test_helper

# run a target as an unprivileged user; its output files must be its own
start_target_as_nobody() {
	chmod 777 "$T"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		exec setpriv --reuid=65534 --regid=65534 --clear-groups sh -c \
			'exec "$0" >"$1/out" 2>"$1/err" </dev/null' "$CKPT_TARGETS/$1" "$T"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready"
}

@test "root restores a root process with its credentials" {
	skip_unless_root
	start_target creds
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "root restores another user's process as that user, and never more" {
	skip_unless_root
	command -v setpriv >/dev/null || skip "no setpriv"
	start_target_as_nobody creds
	dump_kill
	restore_go
	[ "$status" -eq 0 ]
}

@test "an unprivileged user cannot restore a root process" {
	skip_unless_root
	command -v setpriv >/dev/null || skip "no setpriv"
	start_target creds
	dump_kill
	chmod 755 "$T"
	chmod 644 "$T/img"
	touch "$T/go"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups "$CKPT" restore "$T/img"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"only root can restore it"* ]]
	! kill -0 "$TPID" 2>/dev/null || false
}
