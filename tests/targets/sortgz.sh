#!/bin/bash
# sort of a big file piping into gzip (issue 12): DIR/in (made by the
# test) sorted, compressed by gzip -n -1 into DIR/out.gz.  $CKPT_READY
# once gzip has written its first bytes (sort is writing into the pipe,
# gzip compressing), so a dump takes both mid-stream; after restore the
# result must be byte-identical to an uninterrupted sort | gzip: its
# checksum is printed.
# Usage: sortgz.sh DIR
dir=$1
LC_ALL=C sort "$dir/in" | gzip -n -1 >"$dir/out.gz" &
p=$!
while [ ! -s "$dir/out.gz" ]; do
	sleep 0.02
done
[ -z "$CKPT_READY" ] || : >"$CKPT_READY"
wait "$p" || { echo "sortgz: exit status $?" >&2; exit 1; }
cksum <"$dir/out.gz"
