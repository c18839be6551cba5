#!/bin/bash
# make demo: start a long job, checkpoint it, kill it, restore it from the
# image, and watch it finish with the right result.
set -eu
O=${1:-build/$(uname -m)}
CKPT=$O/ckpt
dir=$(mktemp -d /tmp/ckpt-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
	echo "note: not root: the restored job gets a new PID" >&2
fi
say "starting a long job (a sum of squares that checks itself at the end)"
"$O/targets/longjob" &
job=$!
sleep 2
say "ckpt dump $job -o $dir/job.ckpt --kill"
"$CKPT" dump "$job" -o "$dir/job.ckpt" --kill
wait "$job" 2>/dev/null || true
ls -l "$dir/job.ckpt"
say "the job is gone ($(kill -0 "$job" 2>/dev/null && echo alive || echo dead)); restoring it"
sleep 1
"$CKPT" restore "$dir/job.ckpt"
status=$?
say "restored job exited with status $status"
exit $status
