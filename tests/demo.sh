#!/bin/bash
# make demo: start a long job, checkpoint it, kill it, restore it from the
# image, and watch it finish with the right result.
#
# The job writes its progress to a log file of its own, which the demo shows
# as it grows: so the demo works whatever its own output is (a terminal, a
# pipe, a file: `make demo > demo.log 2>&1`), and the restored job gets its
# log reopened where it was, as a real job would.  Only descriptors 0-2 go to
# the job (stdin /dev/null).
# Usage: tests/demo.sh [BUILD_DIR [N]]   (N: squares to sum; the default
# takes about a minute on one core of a 2020s CPU).  CKPT_DEMO_LINES: the
# progress lines to wait for before the dump (3; tests/demo.bats: 1).
set -eu
O=${1:-build/$(uname -m)}
N=${2:-36000000000}
CKPT=$O/ckpt
dir=$(mktemp -d /tmp/ckpt-demo.XXXXXX)
log=$dir/job.log
shown=0
trap 'rm -rf "$dir"' EXIT
if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

# show: print what the job added to its log since the last call.
show() {
	local size
	size=$(stat -c %s "$log" 2>/dev/null) || return 0
	if [ "$size" -gt "$shown" ]; then
		tail -c +$((shown + 1)) "$log" | head -c $((size - shown))
		shown=$size
	fi
}

# follow FILE: show the log as it grows until FILE exists (or 30 minutes).
follow() {
	local i
	for ((i = 0; i < 9000; i++)); do
		[ -e "$1" ] && break
		show
		sleep 0.2
	done
	show
}

if [ "$(id -u)" != 0 ]; then
	echo "note: not root, so ckpt cannot choose PIDs: the restored job gets a new PID," \
	     "and ckpt restore warns about it (expected)"
fi
say "starting a long job: a sum of squares that checks itself at the end"
# In a subshell that waits for it: the job's death by the dump's SIGKILL is
# reported (a shell's "Killed") to that subshell's stderr, not to ours.
# With job control (set -m) the job leads a process group of its own, as
# one started with & from an interactive shell: in the script's group,
# whose leader is not in the image, ckpt restore would put it in its own
# group and say so.
(
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
	set -m
	"$O/targets/longjob" "$N" </dev/null >"$log" 2>&1 &
	echo $! >"$dir/pid"
	st=0; wait $! || st=$?
	echo "$st" >"$dir/job-status"
) 2>/dev/null &
sub=$!
while [ ! -s "$dir/pid" ]; do sleep 0.05; done
job=$(cat "$dir/pid")
echo "(job $job; its output goes to $log)"
# Some progress first (the job prints a line every half second).
for ((i = 0; i < 600; i++)); do
	show
	[ "$(grep -c '%' "$log")" -lt "${CKPT_DEMO_LINES:-3}" ] || break
	sleep 0.1
done

say "ckpt dump $job -o $dir/job.ckpt --kill   (save it, then kill it)"
if ! "$CKPT" dump "$job" -o "$dir/job.ckpt" --kill; then
	# Say what became of the job (a job that ended before its dump, or was
	# killed by something else, would otherwise leave only ckpt's line).
	wait "$sub"
	echo "demo: the dump failed; the job's wait status was $(cat "$dir/job-status" 2>/dev/null || echo "not known")" >&2
	tail -n 3 "$log" >&2
	exit 1
fi
wait "$sub"
show
ls -l "$dir/job.ckpt"
say "the job is gone ($(kill -0 "$job" 2>/dev/null && echo "still alive?!" || echo "killed by the dump, as asked")); restoring it"
echo "ckpt restore $dir/job.ckpt   (same PID when free, same memory and registers; its log reopened where it was)"
( st=0; "$CKPT" restore "$dir/job.ckpt" || st=$?; echo "$st" >"$dir/status.tmp"; mv "$dir/status.tmp" "$dir/status" ) &
follow "$dir/status"
wait $!
status=$(cat "$dir/status")
say "restored job exited with status $status"
exit "$status"
