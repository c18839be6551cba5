#!/usr/bin/env bats
# A process of an ordinary user, dumped by that user (who cannot stat
# /proc/PID/map_files): restored by the user, and by root.

load test_helper

eval "helper_$(declare -f teardown)"
teardown() {
	helper_teardown
	[ -z "${USERADDED:-}" ] || userdel "$USERADDED" 2>/dev/null || true
}

# A user for the test: made with useradd and removed in teardown; the
# arm64 guest's busybox has no useradd, so there a uid no one has (the
# guest's setpriv, tests/arm64-guest/setpriv.c, takes numeric ids).
make_user() {
	skip_unless_ptrace
	skip_unless_root
	# A path: busybox's timeout would run its own setpriv applet.
	SETPRIV=$(command -v setpriv) || skip "no setpriv"
	if command -v useradd >/dev/null; then
		USERADDED=ckpt-u$$
		useradd --no-create-home --home-dir /nonexistent --shell /bin/false --user-group "$USERADDED"
		TUID=$(id -u "$USERADDED") TGID=$(id -g "$USERADDED")
	else
		TUID=47011 TGID=47011
	fi
	chmod 777 "$T"
}

# Root restores a user's unsigned image with the owner's rights, which
# needs the owner in the user database (docs/security.md): without useradd
# (the arm64 guest) the test user is a bare number.
known_owner() {
	grep -q "^[^:]*:[^:]*:$TUID:" /etc/passwd ||
		skip "uid $TUID is not in the user database (no useradd here): root restores a user's unsigned image only for a known owner"
}

as_user() {
	"$SETPRIV" --reuid="$TUID" --regid="$TGID" --clear-groups "$@"
}

# start_target_as_user NAME [ARGS]: the target runs as the user, and its
# output files are the user's.
start_target_as_user() {
	local name=$1
	shift
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		exec "$SETPRIV" --reuid="$TUID" --regid="$TGID" --clear-groups sh -c \
			'exec "$0" "$@" >"$T/out" 2>"$T/err" </dev/null' "$CKPT_TARGETS/$name" "$@"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready"
}

# The user dumps their process (a private mapping of a file, the
# executable and libraries): dump --kill as the user.
user_dumps() {
	make_user
	export T
	start_target_as_user mem_filepriv "$T"
	run as_user "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
}

@test "unprivileged: a user dumps and restores their own process with its file mappings" {
	user_dumps
	touch "$T/go"
	run --separate-stderr timeout 120 "$SETPRIV" --reuid="$TUID" --regid="$TGID" --clear-groups \
		"$CKPT" restore "$T/img"
	echo "$stderr"
	cat "$T/err"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"changed since the dump"* ]]
}

@test "unprivileged: root restores a process a user dumped" {
	user_dumps
	known_owner
	restore_go
	[ "$status" -eq 0 ]
}

@test "unprivileged: a mapped file changed after a user's dump is still refused, by name" {
	user_dumps
	known_owner
	echo more >>"$T/filepriv.dat"
	touch "$T/go"
	run --separate-stderr timeout 120 "$CKPT" restore "$T/img"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"mapped file \"$T/filepriv.dat\" has changed since the dump"* ]]
}
