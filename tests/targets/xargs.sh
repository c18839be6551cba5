#!/bin/bash
# xargs -P2 (issue 12): six items from a list file, two at a time, each a
# sh -c that sums i for i = 1..N*item in shell arithmetic and appends
# "item total" to DIR/results; then the sorted results.  $CKPT_READY once
# the third item has started (xargs has children at work and has reaped
# some), so a dump takes xargs and its children mid-way.
# Usage: xargs.sh DIR [N]
dir=$1 n=${2:-60000}
seq 1 6 >"$dir/list"
: >"$dir/results"
xargs -P2 -n1 -a "$dir/list" sh -c '
	i=0 s=0 m=$(($0 * '"$n"'))
	: >"'"$dir"'/started.$0"
	while [ $i -lt $m ]; do i=$((i + 1)); s=$((s + i)); done
	echo "$0 $s" >>"'"$dir"'/results"' &
x=$!
while [ ! -e "$dir/started.3" ]; do
	sleep 0.02
done
[ -z "$CKPT_READY" ] || : >"$CKPT_READY"
wait "$x" || { echo "xargs: exit status $?" >&2; exit 1; }
sort -n "$dir/results"
