#!/bin/bash
# A bash script with two background jobs and `wait` (issue 12): each job
# sums i % 7 for i = 1..N in shell arithmetic and writes its total; the
# script waits for both and prints them.  $CKPT_READY once both jobs are a
# quarter through (so a dump finds them at work); after restore they go
# on, and the restored script's `wait` must still have them as children.
# Usage: jobs.sh DIR [N]
dir=$1 n=${2:-150000}
job() {
	local name=$1 s=0 i
	for ((i = 1; i <= n; i++)); do
		s=$((s + i % 7))
		((i != n / 4)) || : >"$dir/$name.started"
	done
	echo "$name $s" >"$dir/$name.total"
}
job a &
a=$!
job b &
b=$!
while [ ! -e "$dir/a.started" ] || [ ! -e "$dir/b.started" ]; do
	sleep 0.02
done
[ -z "$CKPT_READY" ] || : >"$CKPT_READY"
wait "$a" || { echo "jobs: wait for a failed ($?)" >&2; exit 1; }
wait "$b" || { echo "jobs: wait for b failed ($?)" >&2; exit 1; }
cat "$dir/a.total" "$dir/b.total"
