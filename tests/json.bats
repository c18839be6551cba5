#!/usr/bin/env bats
# --json of dump, restore, verify and check (docs/json.md): one object on
# stdout with "schema", "command", "ok", and "error" when it failed.
#
# Arch-independent (--json output): the host runs it; the arm64 guest leaves
# this file out (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# valid_json: stdin is one JSON object (python3 where there is one; the
# greps below check the members either way).
valid_json() {
	if command -v python3 >/dev/null; then
		python3 -c 'import json, sys; o = json.load(sys.stdin); assert o["schema"] == 1, o'
	else
		cat >/dev/null
	fi
}

@test "json: dump --json: the image, its size and kind, the pause; an incremental one names its parent" {
	skip_unless_ptrace
	start_target counter 300000000
	run "$CKPT" dump "$TPID" -o "$T/a.img" --track --json
	echo "$output"
	[ "$status" -eq 0 ]
	valid_json <<<"$output"
	grep -q '^  "command": "dump",$' <<<"$output"
	grep -q "^  \"image\": \"$T/a.img\",$" <<<"$output"
	grep -q "^  \"pid\": $TPID,$" <<<"$output"
	grep -q "^  \"bytes\": $(stat -c %s "$T/a.img"),$" <<<"$output"
	grep -q '^  "kind": "full",$' <<<"$output"
	grep -qE '^  "frozen_ms": [0-9.e+-]+,$' <<<"$output"
	grep -q '^  "memory": "forked",$' <<<"$output"
	grep -q '^  "process": "running",$' <<<"$output"
	grep -q '^  "ok": true$' <<<"$output"
	run "$CKPT" dump "$TPID" -o "$T/b.img" --parent "$T/a.img" --kill --json
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^  "kind": "incremental",$' <<<"$output"
	grep -q "^  \"parent\": \"$T/a.img\",$" <<<"$output"
	grep -q '^  "memory": "frozen",$' <<<"$output"
	grep -q '^  "process": "killed",$' <<<"$output"
	reap "$TPID"
}

@test "json: dump --json of a process that is not there: ok false and the error line" {
	run --separate-stderr "$CKPT" dump x --json -o "$T/x.img"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	run --separate-stderr "$CKPT" dump 4000000 --json -o "$T/x.img"
	echo "$output"
	[ "$status" -eq 1 ]
	valid_json <<<"$output"
	grep -q '^  "ok": false,$' <<<"$output"
	grep -q '^  "error": "dump 4000000: no such process"$' <<<"$output"
	[ "$stderr" = "ckpt: dump 4000000: no such process" ]
	run "$CKPT" dump 1 --json -o -
	[ "$status" -eq 2 ]
}

@test "json: restore --json: the PID with --detach, the exit status without" {
	skip_unless_ptrace
	start_target counter 3000000
	"$CKPT" dump "$TPID" -o "$T/img" --kill
	reap "$TPID"
	touch "$T/go"
	run "$CKPT" restore "$T/img" --json
	echo "$output"
	[ "$status" -eq 0 ]
	json=$(sed -n '/^{$/,/^}$/p' <<<"$output")
	valid_json <<<"$json"
	grep -q '^  "command": "restore",$' <<<"$json"
	grep -q '^  "exit_status": 0,$' <<<"$json"
	grep -q '^  "signal": null,$' <<<"$json"
	grep -q '^  "ok": true$' <<<"$json"
	rm "$T/go"
	# (its stdout, a file, grew when it ran to its end: cut back)
	run "$CKPT" restore "$T/img" --detach --json --rollback-files
	echo "$output"
	[ "$status" -eq 0 ]
	pid=$(sed -n 's/^  "pid": \([0-9]*\),$/\1/p' <<<"$output")
	[ -n "$pid" ]
	PIDS+=("$pid")
	! grep -q exit_status <<<"$output" || false
	kill -KILL "$pid"
	run "$CKPT" restore "$T/nothing" --json
	[ "$status" -eq 1 ]
	grep -q '^  "ok": false,$' <<<"$output"
	grep -q "^  \"error\": \"restore $T/nothing: " <<<"$output"
}

@test "json: verify --json: counts of an intact image; ok false and why for a damaged one" {
	skip_unless_ptrace
	start_target counter 300000000
	"$CKPT" dump "$TPID" -o "$T/img" --kill
	reap "$TPID"
	run "$CKPT" verify "$T/img" --json
	echo "$output"
	[ "$status" -eq 0 ]
	valid_json <<<"$output"
	grep -q '^  "command": "verify",$' <<<"$output"
	grep -qE '^  "sections": [0-9]+,$' <<<"$output"
	grep -qE '^  "pages": [1-9][0-9]*,$' <<<"$output"
	grep -q '^  "parent": null,$' <<<"$output"
	grep -q '^  "ok": true$' <<<"$output"
	# (busybox truncate, in the arm64 guest, takes no relative size)
	truncate -s $(($(stat -c %s "$T/img") - 100)) "$T/img"
	run --separate-stderr "$CKPT" verify "$T/img" --json
	echo "$output"
	[ "$status" -eq 1 ]
	valid_json <<<"$output"
	grep -q '^  "ok": false,$' <<<"$output"
	[ "$(sed -n 's/^  "error": "\(.*\)"$/ckpt: \1/p' <<<"$output")" = "$stderr" ]
}

@test "json: check --json: every feature with its state, and the verdict" {
	run "$CKPT" check --json
	echo "$output"
	valid_json <<<"$output"
	grep -q '^  "command": "check",$' <<<"$output"
	[ "$(grep -c '^      "name": ' <<<"$output")" = "$("$CKPT" check | wc -l)" ]
	grep -q '^      "name": "ptrace attach",$' <<<"$output"
	grep -qE '^      "state": "(ok|limited|missing|error)",$' <<<"$output"
	if [ "$status" -eq 0 ]; then
		grep -q '^  "ok": true$' <<<"$output"
	else
		grep -q '^  "ok": false,$' <<<"$output"
	fi
}
